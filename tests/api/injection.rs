//! Hostile text in every kind of text field: SQL and HTML injection attempts are stored as the
//! text they are, found by search as text, and rendered escaped on every page that shows them.

use serde_json::json;
use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, page, TestApp},
    stock::keyed,
};

const NASTY: &str = "<script>alert('x')</script>'; DROP TABLE needs; -- \" onmouseover=\"alert(1)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_attempts_are_stored_as_text_and_rendered_escaped() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let staff = app.user(Role::FoundationStaff).await;
    let donor = app.user(Role::Donor).await;
    let mask = create_item(&app, &hub.token, &mask_json()).await;

    let mut community = crate::common::community_json(&format!("社区{NASTY}"));
    community["address"] = json!(NASTY);
    let org = body(
        app.post("/api/v1/organisations", Some(&hub.token))
            .json(&community)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let org_id = org["id"].as_i64().unwrap();
    assert_eq!(org["name_zh"], format!("社区{NASTY}"));
    let need = body(
        app.post("/api/v1/needs", Some(&hub.token))
            .json(&json!({"community_id": org_id, "item_id": mask, "quantity": 10, "urgency": "high",
                          "beneficiary_group": "residents", "beneficiary_count": 5, "delivery_mode": "pickup", "note": NASTY}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let need_id = need["id"].as_i64().unwrap();
    assert_eq!(need["note"], NASTY);
    let pledge = keyed(
        &app,
        "/api/v1/pledges",
        &donor.token,
        &json!({"donor_id": donor.orgs[0], "kind": "money", "amount": "10", "note": NASTY}),
    )
    .await;
    assert_eq!(pledge.status(), 201);
    let project = body(
        app.post("/api/v1/projects", Some(&staff.token))
            .json(&json!({"name_zh": format!("项目{NASTY}"), "goals": NASTY, "starts_on": "2026-01-01", "ends_on": "2026-12-31",
                          "budget_lines": [{"category": NASTY, "amount": "100"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let project_id = project["id"].as_i64().unwrap();
    let needs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM needs")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(needs, 1, "the table is still there");

    let hub_browser = app.browser();
    app.sign_in(&hub_browser, &hub.email, &hub.password).await;
    let staff_browser = app.browser();
    app.sign_in(&staff_browser, &staff.email, &staff.password)
        .await;
    for (browser, path) in [
        (&hub_browser, format!("/organisations/{org_id}")),
        (&hub_browser, format!("/needs/{need_id}")),
        (&hub_browser, "/needs".to_owned()),
        (&hub_browser, "/search?q=%E7%A4%BE%E5%8C%BA".to_owned()),
        (&staff_browser, format!("/projects/{project_id}")),
        (&staff_browser, format!("/projects/{project_id}/report")),
        (&staff_browser, format!("/public/projects/{project_id}")),
    ] {
        let (status, html) = page(browser, &app, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains("<script>alert"),
            "{path} shows the script unescaped"
        );
        assert!(
            !html.contains("\" onmouseover=\"alert"),
            "{path} breaks out of an attribute"
        );
        assert!(
            html.contains("&lt;script&gt;"),
            "{path} does not show the text at all"
        );
    }
}
