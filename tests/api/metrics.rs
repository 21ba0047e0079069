//! `/metrics` in the Prometheus text format: requests by route pattern and status, the pool,
//! the outbox, matching run time and the last check of the books.

use weave::auth::Role;

use crate::common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_show_the_queues() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let admin = app.user(Role::Admin).await;
    for _ in 0..3 {
        let response = app
            .get("/api/v1/needs", Some(&hub.token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let missing = app
        .get("/api/v1/needs/999999", Some(&hub.token))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let plan = app
        .post("/api/v1/plans", Some(&hub.token))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 201);
    let check = app
        .get("/api/v1/books/check", Some(&admin.token))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);

    let response = app.get("/metrics", None).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let count = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with("weave_http_requests_total") && l.contains(needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(
        count(r#"route="/api/v1/needs",method="GET",status="200""#) >= 3.0,
        "{text}"
    );
    assert!(
        count(r#"route="/api/v1/needs/{id}",method="GET",status="404""#) >= 1.0,
        "the pattern, never the raw path"
    );
    assert!(!text.contains("/api/v1/needs/999999"));
    for name in [
        "weave_http_request_duration_seconds_bucket",
        "weave_db_pool_connections{state=\"idle\"}",
        "weave_outbox_pending",
        "weave_outbox_oldest_pending_seconds",
        "weave_matching_run_seconds",
        "weave_books_problems{book=\"stock\"} 0",
        "weave_books_problems{book=\"funds\"} 0",
    ] {
        assert!(text.contains(name), "missing {name}:\n{text}");
    }
}
