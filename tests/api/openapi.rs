//! The OpenAPI document is generated from the handlers; its list of operations is reviewed
//! as a snapshot, and every API route the router answers is in it.

use crate::common::{body, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_operation() {
    let app = TestApp::new().await;
    let response = app.get("/api/v1/openapi.json", None).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let doc = body(response).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations.sort();
    insta::assert_json_snapshot!("operations", operations);
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
