use crate::common::{body, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_and_readiness_answer_with_a_request_id() {
    let app = TestApp::new().await;
    let live = app.get("/healthz", None).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.headers().contains_key("x-request-id"));
    assert_eq!(body(live).await["status"], "ok");

    let ready = app.get("/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(body(ready).await["status"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_request_id_is_kept() {
    let app = TestApp::new().await;
    let response = app
        .get("/api/v1/nothing-here", None)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    assert_eq!(body(response).await["request_id"], "trace-me-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::new().await;
    app.db.pool().close().await;
    let response = app.get("/readyz", None).send().await.unwrap();
    crate::common::expect_problem(response, 503, "unavailable").await;
}
