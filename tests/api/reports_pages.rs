//! The report pages as people use them: foundation staff read the closing report and send a
//! feedback batch from the project page and follow it in the outbox; a donor reads a gift's
//! feedback, shares it and revokes the link; anyone reads the public page.

use serde_json::json;
use weave::auth::Role;

use crate::{
    common::{body, hidden_value, page, submit, TestApp},
    stock::keyed,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_feedback_and_sharing_work_on_the_pages() {
    let app = TestApp::new().await;
    let staff = app.user(Role::FoundationStaff).await;
    let donor = app.user(Role::Donor).await;
    sqlx::query("UPDATE organisations SET contact_email = 'gift@example.org' WHERE id = $1")
        .bind(donor.orgs[0])
        .execute(app.db.pool())
        .await
        .unwrap();
    let project = body(
        app.post("/api/v1/projects", Some(&staff.token))
            .json(&json!({"name_zh": "爱心菜项目", "name_en": "Vegetables for families", "starts_on": "2026-11-01",
                          "ends_on": "2027-01-31", "budget_lines": [{"category": "爱心菜", "amount": "1000"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = project["id"].as_i64().unwrap();
    let pledge = body(
        keyed(
            &app,
            "/api/v1/pledges",
            &staff.token,
            &json!({"donor_id": donor.orgs[0], "kind": "money", "amount": "500"}),
        )
        .await,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let receipt = keyed(
        &app,
        "/api/v1/receipts",
        &staff.token,
        &json!({"project_id": id, "pledge_id": pledge, "amount": "500"}),
    )
    .await;
    assert_eq!(receipt.status(), 201);

    let browser = app.browser();
    let csrf = app.sign_in(&browser, &staff.email, &staff.password).await;
    let (status, report) = page(&browser, &app, &format!("/projects/{id}/report")).await;
    assert_eq!(status, 200);
    assert!(
        report.contains("结项报告") && report.contains("<svg"),
        "{report}"
    );
    assert!(report.contains("format=xlsx"));
    let (_, project_page) = page(&browser, &app, &format!("/projects/{id}")).await;
    let key = format!("{}-f", hidden_value(&project_page, "key"));
    let sent = submit(
        &browser,
        &app,
        &format!("/projects/{id}/feedback-batch"),
        &[("csrf", &csrf), ("key", &key), ("lang", "zh-CN")],
    )
    .await;
    assert_eq!(sent.status(), 303);
    let location = sent.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/outbox?batch_id="));
    let (_, outbox) = page(&browser, &app, &location).await;
    assert!(
        outbox.contains("gift@example.org") && outbox.contains("待发送"),
        "{outbox}"
    );

    let donor_browser = app.browser();
    let donor_csrf = app
        .sign_in(&donor_browser, &donor.email, &donor.password)
        .await;
    let (status, feedback) =
        page(&donor_browser, &app, &format!("/pledges/{pledge}/feedback")).await;
    assert_eq!(status, 200);
    assert!(feedback.contains("¥500.00") && feedback.contains("生成分享链接"));
    let shared = submit(
        &donor_browser,
        &app,
        &format!("/pledges/{pledge}/share"),
        &[("csrf", &donor_csrf), ("days", "7")],
    )
    .await;
    assert_eq!(shared.status(), 200);
    let shown = shared.text().await.unwrap().replace("&#x2f;", "/");
    let start = shown.find("/shared/").unwrap_or_else(|| panic!("{shown}"));
    let end = start + shown[start..].find(['<', '"']).unwrap();
    let path = shown[start..end].to_owned();
    let anonymous = reqwest::Client::new();
    let opened = anonymous.get(app.url(&path)).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    assert!(opened
        .text()
        .await
        .unwrap()
        .contains("捐赠人分享的只读反馈页"));
    let link: i64 = sqlx::query_scalar("SELECT id FROM share_links")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let revoked = submit(
        &donor_browser,
        &app,
        &format!("/share-links/{link}/revoke"),
        &[("csrf", &donor_csrf)],
    )
    .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(
        anonymous.get(app.url(&path)).send().await.unwrap().status(),
        404
    );

    let public = anonymous
        .get(app.url(&format!("/public/projects/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    let public = public.text().await.unwrap();
    assert!(public.contains("爱心菜项目") && public.contains("¥500.00"));
    assert!(!public.contains("gift@example.org"), "no personal data");
}
