//! Supplier offers and framework agreements: who records what, who sees what, and the
//! activation of a dormant agreement when an emergency starts.

use serde_json::{json, Value};
use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem},
};

fn offer(supplier: i64, item: i64) -> Value {
    json!({"supplier_id": supplier, "item_id": item, "unit_price": "1.20", "weekly_capacity": 5000,
           "lead_days": 2, "min_order": 100, "valid_from": "2020-01-01"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppliers_record_their_own_offers_and_see_only_those() {
    let app = crate::common::TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let supplier = app.user(Role::Supplier).await;
    let rival = app.user(Role::Supplier).await;
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let mine = supplier.orgs[0];

    let created = app
        .post("/api/v1/supplier-offers", Some(&supplier.token))
        .json(&offer(mine, mask))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(created["unit_price"], "1.20");
    assert_eq!(created["available"], true);
    assert_eq!(created["min_order"], 100);

    let for_rival = app
        .post("/api/v1/supplier-offers", Some(&supplier.token))
        .json(&offer(rival.orgs[0], mask))
        .send()
        .await
        .unwrap();
    expect_problem(for_rival, 403, "forbidden").await;
    let theirs = body(
        app.post("/api/v1/supplier-offers", Some(&hub.token))
            .json(&offer(rival.orgs[0], mask))
            .send()
            .await
            .unwrap(),
    )
    .await;

    let mut bad = offer(mine, mask);
    bad["lead_days"] = json!(-1);
    bad["weekly_capacity"] = json!(0);
    let problem = expect_problem(
        app.post("/api/v1/supplier-offers", Some(&supplier.token))
            .json(&bad)
            .send()
            .await
            .unwrap(),
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
    assert_eq!(fields, ["weekly_capacity", "lead_days"]);
    let mut not_a_supplier = offer(mine, mask);
    not_a_supplier["supplier_id"] = json!(app.seed_org("community", "多闻社区").await);
    let problem = expect_problem(
        app.post("/api/v1/supplier-offers", Some(&hub.token))
            .json(&not_a_supplier)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "supplier_id");

    let seen = body(
        app.get("/api/v1/supplier-offers", Some(&supplier.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seen.as_array().unwrap().len(), 1);
    let all = body(
        app.get(
            &format!("/api/v1/supplier-offers?item_id={mask}"),
            Some(&hub.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let other = app
        .get(
            &format!("/api/v1/supplier-offers/{}", theirs["id"]),
            Some(&supplier.token),
        )
        .send()
        .await
        .unwrap();
    expect_problem(other, 404, "not_found").await;

    let id = created["id"].as_i64().unwrap();
    let withdrawn = body(
        app.post(
            &format!("/api/v1/supplier-offers/{id}/withdraw"),
            Some(&supplier.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(withdrawn["available"], false);
    let again = app
        .post(
            &format!("/api/v1/supplier-offers/{id}/withdraw"),
            Some(&supplier.token),
        )
        .send()
        .await
        .unwrap();
    expect_problem(again, 409, "already_withdrawn").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dormant_agreement_is_activated_when_the_emergency_starts() {
    let app = crate::common::TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let supplier = app.user(Role::Supplier).await;
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let agreement = json!({
        "supplier_id": supplier.orgs[0], "title": "应急防护用品框架协议", "valid_until": "2099-12-31",
        "offers": [{"item_id": mask, "unit_price": "1.10", "weekly_capacity": 20000, "lead_days": 1}]
    });
    let refused = app
        .post("/api/v1/agreements", Some(&supplier.token))
        .json(&agreement)
        .send()
        .await
        .unwrap();
    expect_problem(refused, 403, "forbidden").await;
    let mut empty = agreement.clone();
    empty["offers"] = json!([]);
    expect_problem(
        app.post("/api/v1/agreements", Some(&hub.token))
            .json(&empty)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;

    let created = app
        .post("/api/v1/agreements", Some(&hub.token))
        .json(&agreement)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(created["status"], "dormant");
    assert_eq!(
        created["offers"][0]["available"], false,
        "dormant terms are not bought through"
    );
    let id = created["id"].as_i64().unwrap();

    let by_supplier = app
        .post(
            &format!("/api/v1/agreements/{id}/activate"),
            Some(&supplier.token),
        )
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(by_supplier, 403, "forbidden").await;
    let no_reason = app
        .post(
            &format!("/api/v1/agreements/{id}/activate"),
            Some(&hub.token),
        )
        .json(&json!({"reason": ""}))
        .send()
        .await
        .unwrap();
    expect_problem(no_reason, 422, "validation").await;
    let active = body(
        app.post(
            &format!("/api/v1/agreements/{id}/activate"),
            Some(&hub.token),
        )
        .json(&json!({"reason": "1 月 23 日起全市封控"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(active["status"], "active");
    assert_eq!(active["activation_reason"], "1 月 23 日起全市封控");
    assert!(active["activated_at"].is_string());
    assert_eq!(active["offers"][0]["available"], true);
    let twice = app
        .post(
            &format!("/api/v1/agreements/{id}/activate"),
            Some(&hub.token),
        )
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(twice, 409, "invalid_transition").await;

    // The supplier sees the activation on its own page and in the API.
    let mine = body(
        app.get("/api/v1/agreements", Some(&supplier.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(mine[0]["status"], "active");
    let browser = app.browser();
    app.sign_in(&browser, &supplier.email, &supplier.password)
        .await;
    let page = browser
        .get(app.url("/supply"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("应急防护用品框架协议")
            && page.contains("已启用")
            && page.contains("全市封控")
    );

    let ended = body(
        app.post(&format!("/api/v1/agreements/{id}/end"), Some(&hub.token))
            .json(&json!({"reason": "疫情结束"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["offers"][0]["available"], false);
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE entity_type = 'agreement' ORDER BY id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(actions, ["create", "activate", "end"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_activates_an_agreement_from_its_page() {
    let app = crate::common::TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let supplier = app.user(Role::Supplier).await;
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let agreement = json!({"supplier_id": supplier.orgs[0], "title": "口罩协议",
        "offers": [{"item_id": mask, "unit_price": "1.10", "weekly_capacity": 20000, "lead_days": 1}]});
    let id = body(
        app.post("/api/v1/agreements", Some(&hub.token))
            .json(&agreement)
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let browser = app.browser();
    let csrf = app.sign_in(&browser, &hub.email, &hub.password).await;
    let page = browser
        .get(app.url("/supply"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("/supply/agreements/{id}/activate")));
    let done = browser
        .post(app.url(&format!("/supply/agreements/{id}/activate")))
        .form(&[("csrf", csrf.as_str()), ("reason", "启动应急响应")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let agreement = body(
        app.get(&format!("/api/v1/agreements/{id}"), Some(&hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(agreement["status"], "active");
}
