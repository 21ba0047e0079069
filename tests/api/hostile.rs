//! Hostile requests: a 100,000-row spreadsheet, JSON nested thousands deep, invalid UTF-8. Each
//! gets a problem document and a 4xx, writes nothing, and the service goes on answering.

use weave::auth::Role;

use crate::common::{expect_problem, TestApp};

fn sheet(rows: usize) -> String {
    let mut csv = String::from("社区,物资或物资包,数量,紧急程度,服务对象,人数,配送方式\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "多闻社区,一次性医用口罩,{},特急,独居老人,1,送货上门\n",
            i + 1
        ));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_sheets_deep_json_and_invalid_utf8_are_refused_cleanly() {
    // With a body limit large enough to let the sheet in, the row limit refuses it.
    let app = TestApp::builder()
        .settings(|s| s.max_body_bytes = 16 * 1024 * 1024)
        .build()
        .await;
    let hub = app.user(Role::HubCoordinator).await;
    let huge = sheet(100_000);
    assert!(huge.len() > 5_000_000);
    let refused = app
        .post("/api/v1/needs/import", Some(&hub.token))
        .header("content-type", "text/csv")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    let problem = expect_problem(refused, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "file");
    assert_eq!(app.count("needs").await, 0);

    // With the default 1 MiB limit the same sheet never reaches the parser.
    let small = TestApp::new().await;
    let hub2 = small.user(Role::HubCoordinator).await;
    let too_big = small
        .post("/api/v1/needs/import", Some(&hub2.token))
        .header("content-type", "text/csv")
        .header("connection", "close")
        .body(huge)
        .send()
        .await;
    if let Ok(response) = too_big {
        assert_eq!(response.status(), 413);
    }

    // JSON nested 100,000 deep.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let nested = app
        .post("/api/v1/organisations", Some(&hub.token))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert!(nested.status().is_client_error(), "{}", nested.status());

    // Bytes that are not UTF-8, as JSON and as a form.
    let invalid = app
        .post("/api/v1/organisations", Some(&hub.token))
        .header("content-type", "application/json")
        .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    assert_eq!(
        invalid.headers()["content-type"],
        "application/problem+json"
    );
    let csv = app
        .post("/api/v1/needs/import", Some(&hub.token))
        .header("content-type", "text/csv")
        .body(vec![0xff, 0xfe, 0xfd, b'\n', 0xc3, 0x28])
        .send()
        .await
        .unwrap();
    assert!(csv.status().is_client_error(), "{}", csv.status());

    // And the service still answers.
    let ready = app.get("/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
