//! Matching in the service: a coordinator runs it on what the database holds, reviews the plan
//! (grouped, with reasons, kits put back together), changes lines, and confirms it into
//! allocations in one transaction; concurrent confirmations never allocate a unit twice; the
//! daily run at the cut-off happens once across replicas.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use weave::{auth::Role, matching::schedule};

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem, TestApp, TestUser},
};

struct World {
    app: TestApp,
    hub: TestUser,
    secretary: TestUser,
    donor: TestUser,
    community: i64,
    other: i64,
    mask: i64,
    allowance: i64,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let secretary = app.user(Role::CommunitySecretary).await;
    let donor = app.user(Role::Donor).await;
    let community = secretary.orgs[0];
    let other = app.seed_org("community", "民意社区").await;
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let allowance = create_item(
        &app,
        &hub.token,
        &json!({"code": "volunteer_allowance", "name_zh": "志愿者补贴", "category": "subsidy", "unit_zh": "人天", "reference_price": "50.00"}),
    )
    .await;
    World {
        app,
        hub,
        secretary,
        donor,
        community,
        other,
        mask,
        allowance,
    }
}

async fn need(w: &World, input: Value) -> i64 {
    let response = w
        .app
        .post("/api/v1/needs", Some(&w.hub.token))
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await["id"].as_i64().unwrap()
}

fn masks(community: i64, mask: i64, quantity: i64, urgency: &str, group: &str) -> Value {
    json!({"community_id": community, "item_id": mask, "quantity": quantity, "urgency": urgency,
           "beneficiary_group": group, "beneficiary_count": 100, "delivery_mode": "home_delivery"})
}

async fn pledge(w: &World, input: Value, received: bool) -> i64 {
    let key = uuid::Uuid::new_v4().to_string();
    let response = w
        .app
        .post("/api/v1/pledges", Some(&w.hub.token))
        .header("Idempotency-Key", key)
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = body(response).await["id"].as_i64().unwrap();
    if received {
        let response = w
            .app
            .post(&format!("/api/v1/pledges/{id}/status"), Some(&w.hub.token))
            .json(&json!({"status": "received"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    id
}

async fn run(w: &World) -> Value {
    let response = w
        .app
        .post("/api/v1/plans", Some(&w.hub.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await
}

async fn confirm(w: &World, plan: i64, key: &str) -> reqwest::Response {
    w.app
        .post(&format!("/api/v1/plans/{plan}/confirm"), Some(&w.hub.token))
        .header("Idempotency-Key", key)
        .send()
        .await
        .unwrap()
}

async fn need_status(w: &World, id: i64) -> String {
    let need = body(
        w.app
            .get(&format!("/api/v1/needs/{id}"), Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    need["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_serves_the_vulnerable_first_shares_fairly_and_explains_each_line() {
    let w = world().await;
    let elders = need(
        &w,
        masks(w.community, w.mask, 300, "critical", "elders_living_alone"),
    )
    .await;
    let residents_a = need(&w, masks(w.community, w.mask, 400, "normal", "residents")).await;
    let residents_b = need(&w, masks(w.other, w.mask, 400, "normal", "residents")).await;
    let donor = w.donor.orgs[0];
    pledge(
        &w,
        json!({"donor_id": donor, "kind": "goods", "item_id": w.mask, "quantity": 700}),
        true,
    )
    .await;

    let plan = run(&w).await;
    assert_eq!(plan["status"], "draft");
    assert_eq!(plan["origin"], "manual");
    let given = |id: i64| -> i64 {
        plan["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["need_id"] == id)
            .map(|l| l["quantity"].as_i64().unwrap())
            .sum()
    };
    // 300 to the critical elders, the other 400 shared equally by the two normal needs.
    assert_eq!(
        (given(elders), given(residents_a), given(residents_b)),
        (300, 200, 200)
    );
    for line in plan["lines"].as_array().unwrap() {
        assert!(!line["reason"].as_str().unwrap().is_empty());
        assert!(line["community_name"].is_string() && line["item_name"].is_string());
    }
    let unmet: i64 = plan["unmet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(unmet, 400);
    assert_eq!(plan["allocated"], 700);
    assert_eq!(
        w.app.count("allocations").await,
        0,
        "a draft allocates nothing"
    );
    // A secretary or a donor may not run matching; the foundation may read plans.
    let secretary = w
        .app
        .post("/api/v1/plans", Some(&w.secretary.token))
        .send()
        .await
        .unwrap();
    expect_problem(secretary, 403, "forbidden").await;
    let donor_reads = w
        .app
        .get("/api/v1/plans", Some(&w.donor.token))
        .send()
        .await
        .unwrap();
    expect_problem(donor_reads, 403, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_reserves_supply_moves_needs_and_counts_once() {
    let w = world().await;
    let full = need(
        &w,
        masks(w.community, w.mask, 200, "critical", "elders_living_alone"),
    )
    .await;
    let partial = need(&w, masks(w.other, w.mask, 500, "high", "residents")).await;
    let subsidy = need(
        &w,
        json!({"community_id": w.community, "item_id": w.allowance, "urgency": "high", "beneficiary_group": "volunteers",
               "beneficiary_count": 6, "delivery_mode": "pickup", "subsidy": {"headcount": 6, "days": 10, "rate": "50.00"}}),
    )
    .await;
    let donor = w.donor.orgs[0];
    let goods = pledge(
        &w,
        json!({"donor_id": donor, "kind": "goods", "item_id": w.mask, "quantity": 400}),
        true,
    )
    .await;
    pledge(
        &w,
        json!({"donor_id": donor, "kind": "money", "amount": "1500.00"}),
        false,
    )
    .await;

    let plan = run(&w).await;
    let id = plan["id"].as_i64().unwrap();
    let subsidy_paid: i64 = plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["need_id"] == subsidy)
        .map(|l| l["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(subsidy_paid, 30, "1,500 yuan pays 30 person-days at 50");

    expect_problem(
        w.app
            .post(&format!("/api/v1/plans/{id}/confirm"), Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
        400,
        "idempotency_key_required",
    )
    .await;
    let first = confirm(&w, id, "confirm-1").await;
    assert_eq!(first.status(), 200);
    let first = body(first).await;
    assert_eq!(first["status"], "confirmed");
    let allocations = w.app.count("allocations").await;
    assert!(allocations >= 3);
    // A retry answers the same and allocates nothing more.
    let again = confirm(&w, id, "confirm-1").await;
    assert_eq!(again.status(), 200);
    assert_eq!(body(again).await, first);
    assert_eq!(w.app.count("allocations").await, allocations);
    // A confirmed plan no longer changes.
    let line = plan["lines"][0]["id"].as_i64().unwrap();
    let late = w
        .app
        .client
        .patch(w.app.url(&format!("/api/v1/plans/{id}/lines/{line}")))
        .bearer_auth(&w.hub.token)
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    expect_problem(late, 409, "plan_not_draft").await;

    // The board counts what is still asked and what is still free.
    let board = body(
        w.app
            .get("/api/v1/board", Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let masks_line = board["by_item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item_id"] == w.mask)
        .unwrap()
        .clone();
    assert_eq!(
        (
            masks_line["asked"].as_i64(),
            masks_line["in_stock"].as_i64()
        ),
        (Some(300), Some(0)),
        "{masks_line}"
    );
    assert_eq!(need_status(&w, full).await, "matched");
    assert_eq!(need_status(&w, partial).await, "partially_matched");
    assert_eq!(need_status(&w, subsidy).await, "partially_matched");
    // The next run sees what is left: the goods pledge is used up.
    let next = run(&w).await;
    assert!(
        next["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["pledge_id"] != goods),
        "{next}"
    );
    let unmet_partial: i64 = next["unmet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["need_id"] == partial)
        .map(|u| u["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(unmet_partial, 300, "500 asked, 200 allocated before");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_changes_and_removes_lines_within_what_is_left() {
    let w = world().await;
    let a = need(&w, masks(w.community, w.mask, 100, "high", "residents")).await;
    need(&w, masks(w.other, w.mask, 100, "high", "residents")).await;
    pledge(
        &w,
        json!({"donor_id": w.donor.orgs[0], "kind": "goods", "item_id": w.mask, "quantity": 120}),
        true,
    )
    .await;
    let plan = run(&w).await;
    let id = plan["id"].as_i64().unwrap();
    let line = plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["need_id"] == a)
        .unwrap()
        .clone();
    let line_id = line["id"].as_i64().unwrap();
    let patch = |quantity: Value| {
        w.app
            .client
            .patch(w.app.url(&format!("/api/v1/plans/{id}/lines/{line_id}")))
            .bearer_auth(&w.hub.token)
            .json(&json!({"quantity": quantity}))
            .send()
    };
    // More than the pledge has left once the other line is counted: refused, nothing changes.
    let too_much = expect_problem(patch(json!(100)).await.unwrap(), 422, "validation").await;
    assert_eq!(too_much["errors"][0]["field"], "quantity");
    assert!(
        too_much["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("pledge"),
        "{too_much}"
    );
    let negative = expect_problem(patch(json!(-1)).await.unwrap(), 422, "validation").await;
    assert_eq!(negative["errors"][0]["field"], "quantity");
    let changed = body(patch(json!(40)).await.unwrap()).await;
    let now = changed["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == line_id)
        .unwrap()
        .clone();
    assert_eq!(
        (now["quantity"].as_i64(), now["proposed_quantity"].as_i64()),
        (Some(40), line["quantity"].as_i64())
    );
    // 0 removes the line: confirming then allocates only the other.
    body(patch(json!(0)).await.unwrap()).await;
    assert_eq!(confirm(&w, id, "k").await.status(), 200);
    let allocated_to_a: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM allocations WHERE need_id = $1")
            .bind(a)
            .fetch_one(w.app.db.pool())
            .await
            .unwrap();
    assert_eq!(allocated_to_a, 0);
    assert_eq!(need_status(&w, a).await, "open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_plans_confirmed_at_once_never_allocate_a_unit_twice() {
    let w = world().await;
    for community in [w.community, w.other] {
        need(
            &w,
            masks(community, w.mask, 300, "critical", "elders_living_alone"),
        )
        .await;
    }
    let goods = pledge(
        &w,
        json!({"donor_id": w.donor.orgs[0], "kind": "goods", "item_id": w.mask, "quantity": 500}),
        true,
    )
    .await;
    // Two coordinators each run matching before either confirms: both plans use all 500.
    let first = run(&w).await["id"].as_i64().unwrap();
    let second = run(&w).await["id"].as_i64().unwrap();
    let (a, b) = tokio::join!(confirm(&w, first, "a"), confirm(&w, second, "b"));
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    assert!(
        statuses.contains(&200) && statuses.contains(&409),
        "{statuses:?}"
    );
    let loser = if a.status() == 409 { a } else { b };
    let problem = expect_problem(loser, 409, "plan_no_longer_fits").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("pledge")
            || problem["detail"].as_str().unwrap().contains("need")
    );
    let allocated: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM allocations WHERE pledge_id = $1",
    )
    .bind(goods)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    assert_eq!(allocated, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kits_are_broken_into_items_and_put_back_together() {
    let w = world().await;
    let alcohol = create_item(&w.app, &w.hub.token, &json!({"code": "alcohol", "name_zh": "75%酒精", "category": "disinfection", "unit_zh": "瓶"})).await;
    let kit = body(
        w.app.post("/api/v1/kits", Some(&w.hub.token))
            .json(&json!({"code": "pack", "name_zh": "防疫包", "items": [{"item_id": w.mask, "quantity": 10}, {"item_id": alcohol, "quantity": 1}]}))
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let need_id = need(
        &w,
        json!({"community_id": w.community, "kit_id": kit, "quantity": 20, "urgency": "critical",
               "beneficiary_group": "elders_living_alone", "beneficiary_count": 20, "delivery_mode": "home_delivery"}),
    )
    .await;
    let donor = w.donor.orgs[0];
    pledge(
        &w,
        json!({"donor_id": donor, "kind": "goods", "item_id": w.mask, "quantity": 150}),
        true,
    )
    .await;
    pledge(
        &w,
        json!({"donor_id": donor, "kind": "goods", "item_id": alcohol, "quantity": 30}),
        true,
    )
    .await;
    let plan = run(&w).await;
    let per_item = |item: i64| -> i64 {
        plan["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["item_id"] == item)
            .map(|l| l["quantity"].as_i64().unwrap())
            .sum()
    };
    assert_eq!((per_item(w.mask), per_item(alcohol)), (150, 20));
    assert_eq!(
        plan["kits"],
        json!([{"need_id": need_id, "kit_id": kit, "kit_name": "防疫包", "kits_asked": 20, "kits_complete": 15}])
    );
    assert!(plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["kit_name"] == "防疫包"));
    assert_eq!(
        confirm(&w, plan["id"].as_i64().unwrap(), "kit")
            .await
            .status(),
        200
    );
    assert_eq!(
        need_status(&w, need_id).await,
        "partially_matched",
        "masks for 15 kits of 20"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_run_happens_once_after_the_cut_off_across_replicas() {
    let w = world().await;
    need(&w, masks(w.community, w.mask, 100, "high", "residents")).await;
    pledge(
        &w,
        json!({"donor_id": w.donor.orgs[0], "kind": "goods", "item_id": w.mask, "quantity": 60}),
        true,
    )
    .await;
    let one = w.app.replica(|_| ()).await;
    let two = w.app.replica(|_| ()).await;
    // 15:59 and 16:00 in Shanghai are 07:59 and 08:00 UTC.
    let before = Utc.with_ymd_and_hms(2026, 11, 23, 7, 59, 0).unwrap();
    let after = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
    assert_eq!(schedule::run_if_due(&one, before).await.unwrap(), None);
    let (a, b) = tokio::join!(
        schedule::run_if_due(&one, after),
        schedule::run_if_due(&two, after)
    );
    let made: Vec<i64> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(made.len(), 1, "one replica runs it");
    assert_eq!(
        schedule::run_if_due(&two, after).await.unwrap(),
        None,
        "and only once that day"
    );
    let plan = body(
        w.app
            .get(&format!("/api/v1/plans/{}", made[0]), Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (
            plan["origin"].as_str(),
            plan["status"].as_str(),
            plan["allocated"].as_i64()
        ),
        (Some("scheduled"), Some("draft"), Some(60))
    );
    let next_day = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
    assert!(schedule::run_if_due(&two, next_day)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_pages_group_lines_and_confirm_from_a_phone() {
    let w = world().await;
    need(
        &w,
        masks(w.community, w.mask, 100, "critical", "elders_living_alone"),
    )
    .await;
    pledge(
        &w,
        json!({"donor_id": w.donor.orgs[0], "kind": "goods", "item_id": w.mask, "quantity": 80}),
        true,
    )
    .await;
    let browser = w.app.browser();
    let csrf = w.app.sign_in(&browser, &w.hub.email, &w.hub.password).await;
    let list = browser
        .get(w.app.url("/plans"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("立即运行匹配"), "{list}");
    let ran = browser
        .post(w.app.url("/plans"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status(), 303);
    let location = ran.headers()["location"].to_str().unwrap().to_owned();
    let page = browser
        .get(w.app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("一次性医用口罩 × 80")
            && page.contains("特急 + 弱势群体；平均分配：得到所需的 80%"),
        "{page}"
    );
    let key = crate::common::hidden_value(&page, "key");
    let confirmed = browser
        .post(w.app.url(&format!("{location}/confirm")))
        .form(&[("csrf", csrf.as_str()), ("key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 303);
    let page = browser
        .get(w.app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("已确认") && !page.contains("确认方案"),
        "{page}"
    );
    let english = browser
        .get(w.app.url("/lang/en?next=/plans"))
        .send()
        .await
        .unwrap();
    assert_eq!(english.status(), 303);
    let list = browser
        .get(w.app.url("/plans"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("Confirmed") && list.contains("Run matching now"),
        "{list}"
    );
    let page = browser
        .get(w.app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("critical + vulnerable; equal share: 80% of asked"),
        "{page}"
    );
}
