//! Bad input of every kind gets a clear 4xx problem document and writes nothing.

use serde_json::json;
use weave::auth::Role;

use crate::common::{community_json, expect_problem, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::new().await;
    expect_problem(
        app.get("/api/v1/no-such-thing", None).send().await.unwrap(),
        404,
        "route_not_found",
    )
    .await;
    expect_problem(
        app.delete("/api/v1/organisations", None)
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    expect_problem(
        app.put("/api/v1/auth/token", None).send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_and_nothing_is_written() {
    // A small limit, so the oversize body fits in the socket buffers and the client reads the
    // 413 instead of racing the server's close.
    let app = TestApp::builder()
        .settings(|s| s.max_body_bytes = 16 * 1024)
        .build()
        .await;
    let hub = app.user(Role::HubCoordinator).await;
    let token = Some(hub.token.as_str());
    let before = app.count("organisations").await;
    let audit_before = app.count("audit_events").await;
    let post = || app.post("/api/v1/organisations", token);

    let malformed = post()
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .await
        .unwrap();
    expect_problem(malformed, 400, "malformed_json").await;

    let wrong_type = post()
        .header("content-type", "text/plain")
        .body("kind=community")
        .send()
        .await
        .unwrap();
    expect_problem(wrong_type, 415, "unsupported_media_type").await;

    let no_type = post()
        .body(community_json("多闻社区").to_string())
        .send()
        .await
        .unwrap();
    expect_problem(no_type, 415, "unsupported_media_type").await;

    let huge = "x".repeat(40 * 1024);
    // The server answers 413 without reading the body and drops the connection: ask the client
    // not to reuse it, or the next request may be written into a closed socket.
    let oversize = post()
        .header("content-type", "application/json")
        .header("connection", "close")
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_problem(oversize, 413, "payload_too_large").await;

    let mut unknown_kind = community_json("多闻社区");
    unknown_kind["kind"] = json!("dragon");
    let problem = expect_problem(
        post().json(&unknown_kind).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "kind");
    assert_eq!(problem["errors"][0]["code"], "unknown_value");

    let mut too_long = community_json("多闻社区");
    too_long["name_zh"] = json!("长".repeat(121));
    let problem = expect_problem(
        post().json(&too_long).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "name_zh");
    assert_eq!(problem["errors"][0]["code"], "too_long");

    let mut missing = community_json("多闻社区");
    missing.as_object_mut().unwrap().remove("district");
    let problem = expect_problem(
        post().json(&missing).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "district");
    assert_eq!(problem["errors"][0]["code"], "required");

    let mut wrong_number = community_json("多闻社区");
    wrong_number["headcounts"]["households"] = json!("many");
    let problem = expect_problem(
        post().json(&wrong_number).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "headcounts.households");

    let mut unknown_field = community_json("多闻社区");
    unknown_field["colour"] = json!("red");
    expect_problem(
        post().json(&unknown_field).send().await.unwrap(),
        422,
        "validation",
    )
    .await;

    let mut several = community_json("");
    several["location"] = json!({ "lat": 120.0, "lon": 114.0 });
    several["headcounts"]["elders_living_alone"] = json!(5000);
    let problem = expect_problem(
        post().json(&several).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["name_zh", "location.lat", "headcounts.elders_living_alone"]
    );

    assert_eq!(
        app.count("organisations").await,
        before,
        "no organisation written"
    );
    assert_eq!(
        app.count("audit_events").await,
        audit_before,
        "no audit event written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_and_queries_name_the_problem() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let token = Some(hub.token.as_str());
    expect_problem(
        app.get("/api/v1/organisations/abc", token)
            .send()
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    expect_problem(
        app.get("/api/v1/organisations/999999", token)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    let problem = expect_problem(
        app.get("/api/v1/organisations?page=first", token)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "page");
    let problem = expect_problem(
        app.get("/api/v1/organisations?kind=dragon", token)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "kind");
    let problem = expect_problem(
        app.get("/api/v1/organisations?status=deleted", token)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problem_body_shape_is_stable() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let mut input = community_json("");
    input["headcounts"]["residents_over_60"] = json!(9000);
    let response = app
        .post("/api/v1/organisations", Some(&hub.token))
        .json(&input)
        .send()
        .await
        .unwrap();
    let mut problem = expect_problem(response, 422, "validation").await;
    problem["request_id"] = json!("[request-id]");
    insta::assert_json_snapshot!("validation_problem", problem);
}
