//! The catalogue through the API: items with exact prices, kits of items, and the page.

use serde_json::{json, Value};
use weave::auth::Role;

use crate::common::{body, expect_problem, TestApp};

pub fn mask_json() -> Value {
    json!({"code": "mask", "name_zh": "一次性医用口罩", "name_en": "Medical mask", "category": "protective",
           "unit_zh": "个", "unit_en": "piece", "reference_price": "1.20"})
}

pub async fn create_item(app: &TestApp, token: &str, input: &Value) -> i64 {
    let response = app
        .post("/api/v1/items", Some(token))
        .json(input)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_keep_exact_prices_and_unique_codes() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let token = Some(hub.token.as_str());

    let created = body(
        app.post("/api/v1/items", token)
            .json(&mask_json())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created["reference_price"], "1.20");
    assert_eq!(created["category"], "protective");
    let fen: i64 = sqlx::query_scalar("SELECT reference_price_fen FROM items WHERE code = 'mask'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(fen, 120, "stored as whole fen");

    let again = app
        .post("/api/v1/items", token)
        .json(&mask_json())
        .send()
        .await
        .unwrap();
    expect_problem(again, 409, "code_taken").await;

    let mut float_price = mask_json();
    float_price["code"] = json!("mask2");
    float_price["reference_price"] = json!(1.2);
    let problem = expect_problem(
        app.post("/api/v1/items", token)
            .json(&float_price)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reference_price");
    float_price["reference_price"] = json!("1.205");
    let problem = expect_problem(
        app.post("/api/v1/items", token)
            .json(&float_price)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reference_price");

    let mut meal = mask_json();
    meal["code"] = json!("boxed_meal");
    meal["category"] = json!("meals");
    meal["shelf_life_days"] = json!(1);
    create_item(&app, &hub.token, &meal).await;

    let meals = body(
        app.get("/api/v1/items?category=meals", token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(meals.as_array().unwrap().len(), 1);
    assert_eq!(meals[0]["shelf_life_days"], 1);
    let all = body(
        app.get("/api/v1/items?category=", token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    let id = created["id"].as_i64().unwrap();
    let mut cheaper = mask_json();
    cheaper["reference_price"] = json!("0.90");
    let updated = body(
        app.put(&format!("/api/v1/items/{id}"), token)
            .json(&cheaper)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(updated["reference_price"], "0.90");
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE entity_type = 'item' AND entity_id = $1",
    )
    .bind(id)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(audit, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kit_bundles_existing_items() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let token = Some(hub.token.as_str());
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let mut alcohol = mask_json();
    alcohol["code"] = json!("alcohol_75");
    alcohol["name_zh"] = json!("75% 酒精");
    alcohol["category"] = json!("disinfection");
    alcohol["unit_zh"] = json!("瓶");
    let alcohol = create_item(&app, &hub.token, &alcohol).await;

    let unknown = json!({"code": "pack", "name_zh": "防疫包", "items": [{"item_id": mask, "quantity": 10}, {"item_id": 9999, "quantity": 1}]});
    let problem = expect_problem(
        app.post("/api/v1/kits", token)
            .json(&unknown)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "items[1].item_id");
    let zero =
        json!({"code": "pack", "name_zh": "防疫包", "items": [{"item_id": mask, "quantity": 0}]});
    expect_problem(
        app.post("/api/v1/kits", token)
            .json(&zero)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(app.count("kits").await, 0);

    let pack = json!({"code": "epidemic_pack", "name_zh": "防疫包", "items": [{"item_id": mask, "quantity": 10}, {"item_id": alcohol, "quantity": 1}]});
    let created = app
        .post("/api/v1/kits", token)
        .json(&pack)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let kit = body(created).await;
    let lines: Vec<(String, i64)> = kit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["code"].as_str().unwrap().to_owned(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [("alcohol_75".to_owned(), 1), ("mask".to_owned(), 10)]
    );
    let listed = body(app.get("/api/v1/kits", token).send().await.unwrap()).await;
    assert_eq!(listed[0]["code"], "epidemic_pack");
    let again = app
        .post("/api/v1/kits", token)
        .json(&pack)
        .send()
        .await
        .unwrap();
    expect_problem(again, 409, "code_taken").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_page_lists_items_in_both_languages() {
    let app = TestApp::new().await;
    let secretary = app.user(Role::CommunitySecretary).await;
    let hub = app.user(Role::HubCoordinator).await;
    create_item(&app, &hub.token, &mask_json()).await;
    let browser = app.browser();
    app.sign_in(&browser, &secretary.email, &secretary.password)
        .await;
    let zh = browser
        .get(app.url("/catalogue"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zh.contains("一次性医用口罩") && zh.contains("防护用品") && zh.contains("¥1.20"));
    browser.get(app.url("/lang/en")).send().await.unwrap();
    let en = browser
        .get(app.url("/catalogue?category=protective"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("Medical mask") && en.contains("Protective"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_adds_an_item_from_the_catalogue_page() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let browser = app.browser();
    let csrf = app.sign_in(&browser, &hub.email, &hub.password).await;
    let bad = browser
        .post(app.url("/catalogue/items"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "Hand Warmer"),
            ("name_zh", "暖宝宝"),
            ("category", "daily_necessities"),
            ("unit_zh", "片"),
            ("reference_price", "1.005"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("reference_price") && html.contains("value=\"暖宝宝\""));
    let good = browser
        .post(app.url("/catalogue/items"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "hand_warmer"),
            ("name_zh", "暖宝宝"),
            ("category", "daily_necessities"),
            ("unit_zh", "片"),
            ("reference_price", "1.00"),
            ("shelf_life_days", "730"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 303);
    let items = body(
        app.get("/api/v1/items", Some(&hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(items[0]["code"], "hand_warmer");
    assert_eq!(items[0]["shelf_life_days"], 730);

    let secretary = app.user(Role::CommunitySecretary).await;
    let other = app.browser();
    let csrf = app
        .sign_in(&other, &secretary.email, &secretary.password)
        .await;
    let page = other
        .get(app.url("/catalogue"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("/catalogue/items"),
        "only the hub manages the catalogue"
    );
    let refused = other
        .post(app.url("/catalogue/items"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "x"),
            ("name_zh", "x"),
            ("category", "food"),
            ("unit_zh", "个"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}
