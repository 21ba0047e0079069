//! The hub's board: open needs by item and district against pledged and received supply.

use serde_json::json;
use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem},
    needs::{mask_need, post_need, world},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_asked_pledged_in_stock_and_shortfall() {
    let w = world().await;
    let app = &w.app;
    let mut alcohol = mask_json();
    alcohol["code"] = json!("alcohol_75");
    alcohol["name_zh"] = json!("75% 酒精");
    alcohol["category"] = json!("disinfection");
    let alcohol = create_item(app, &w.hub.token, &alcohol).await;
    let kit = body(
        app.post("/api/v1/kits", Some(&w.hub.token))
            .json(&json!({"code": "pack", "name_zh": "防疫包", "items": [{"item_id": w.mask, "quantity": 10}, {"item_id": alcohol, "quantity": 1}]}))
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_i64()
        .unwrap();

    // 500 masks (critical) in the secretary's community, 300 in another district's community,
    // and 20 epidemic packs = 200 masks + 20 alcohol.
    post_need(&w, &w.secretary.token, &mask_need(w.community, w.mask)).await;
    let wuchang = app.seed_org("community", "首义社区").await;
    sqlx::query("UPDATE organisations SET district = '武昌区' WHERE id = $1")
        .bind(wuchang)
        .execute(app.db.pool())
        .await
        .unwrap();
    let mut other = mask_need(wuchang, w.mask);
    other["quantity"] = json!(300);
    other["urgency"] = json!("normal");
    other["beneficiary_group"] = json!("residents");
    post_need(&w, &w.hub.token, &other).await;
    let mut packs = mask_need(w.community, w.mask);
    packs.as_object_mut().unwrap().remove("item_id");
    packs["kit_id"] = json!(kit);
    packs["quantity"] = json!(20);
    post_need(&w, &w.hub.token, &packs).await;
    // A cancelled need does not count.
    let gone = post_need(&w, &w.hub.token, &mask_need(w.community, w.mask)).await["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/v1/needs/{gone}/status"), Some(&w.hub.token))
        .json(&json!({"status": "cancelled", "reason": "重复"}))
        .send()
        .await
        .unwrap();

    let donor = app.user(Role::Donor).await;
    let pledge = |key: &str, v: serde_json::Value| {
        app.post("/api/v1/pledges", Some(&donor.token))
            .header("Idempotency-Key", key)
            .json(&v)
            .send()
    };
    let d = donor.orgs[0];
    pledge(
        "a",
        json!({"donor_id": d, "kind": "goods", "item_id": w.mask, "quantity": 400}),
    )
    .await
    .unwrap();
    let received = body(
        pledge(
            "b",
            json!({"donor_id": d, "kind": "goods", "item_id": w.mask, "quantity": 250}),
        )
        .await
        .unwrap(),
    )
    .await;
    app.post(
        &format!("/api/v1/pledges/{}/status", received["id"]),
        Some(&w.hub.token),
    )
    .json(&json!({"status": "received"}))
    .send()
    .await
    .unwrap();
    pledge(
        "c",
        json!({"donor_id": d, "kind": "money", "amount": "20000.00"}),
    )
    .await
    .unwrap();

    let board = body(
        app.get("/api/v1/board", Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(board["open_needs"], 3);
    assert_eq!(board["money_available"], "20000.00");
    let masks = &board["by_item"][0];
    assert_eq!(masks["item"], "一次性医用口罩");
    assert_eq!(masks["asked"], 500 + 300 + 200);
    assert_eq!(masks["pledged"], 400);
    assert_eq!(masks["in_stock"], 250);
    assert_eq!(masks["shortfall"], 1000 - 400 - 250);
    assert_eq!(masks["needs"], 3);
    assert_eq!(masks["critical_needs"], 2);
    let alcohol_line = &board["by_item"][1];
    assert_eq!(alcohol_line["asked"], 20);
    assert_eq!(alcohol_line["shortfall"], 20);

    let districts: Vec<(String, i64)> = board["by_district"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["item_id"] == w.mask)
        .map(|l| {
            (
                l["district"].as_str().unwrap().to_owned(),
                l["asked"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        districts,
        [("武昌区".to_owned(), 300), ("江汉区".to_owned(), 700)]
    );

    let critical = body(
        app.get(
            "/api/v1/board?urgency=critical&category=protective",
            Some(&w.hub.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(critical["by_item"].as_array().unwrap().len(), 1);
    assert_eq!(critical["by_item"][0]["asked"], 700);
    let wuchang_only = body(
        app.get(
            "/api/v1/board?district=%E6%AD%A6%E6%98%8C%E5%8C%BA",
            Some(&w.hub.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(wuchang_only["by_item"][0]["asked"], 300);
    let problem = expect_problem(
        app.get("/api/v1/board?beneficiary_group=all", Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "beneficiary_group");
    expect_problem(
        app.get("/api/v1/board", Some(&w.secretary.token))
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;

    let browser = app.browser();
    app.sign_in(&browser, &w.hub.email, &w.hub.password).await;
    let page = browser
        .get(app.url("/board?urgency=critical"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("缺口看板") && page.contains("一次性医用口罩") && page.contains("700"));
}
