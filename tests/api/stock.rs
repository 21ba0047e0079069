//! The stock ledger and the daily cycle through the API: goods received from a pledge into a
//! warehouse, held for a confirmed plan, put on runs (home delivery apart from pickup), sent,
//! delivered and confirmed by the community with a shortfall and damage that flow back into
//! stock and the need; stocktakes; corrections by reversal; and parallel dispatches that never
//! overdraw a lot.

use serde_json::{json, Value};
use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem, race, TestApp, TestUser},
};

pub struct Stock {
    pub app: TestApp,
    pub hub: TestUser,
    pub secretary: TestUser,
    pub donor: TestUser,
    pub admin: TestUser,
    pub community: i64,
    pub mask: i64,
    pub warehouse: i64,
    pub station: i64,
}

pub async fn stock_world() -> Stock {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let secretary = app.user(Role::CommunitySecretary).await;
    let donor = app.user(Role::Donor).await;
    let admin = app.user(Role::Admin).await;
    let community = secretary.orgs[0];
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let warehouse = location(&app, &hub, json!({"kind": "warehouse", "name_zh": "江汉区枢纽仓库", "name_en": "Jianghan hub warehouse", "district": "江汉区"})).await;
    let station = location(&app, &hub, json!({"kind": "station", "name_zh": "多闻社区服务站", "district": "江汉区", "organisation_id": community})).await;
    Stock {
        app,
        hub,
        secretary,
        donor,
        admin,
        community,
        mask,
        warehouse,
        station,
    }
}

async fn location(app: &TestApp, hub: &TestUser, input: Value) -> i64 {
    let response = app
        .post("/api/v1/locations", Some(&hub.token))
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await["id"].as_i64().unwrap()
}

/// POST with a fresh Idempotency-Key.
pub async fn keyed(app: &TestApp, path: &str, token: &str, input: &Value) -> reqwest::Response {
    app.post(path, Some(token))
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(input)
        .send()
        .await
        .unwrap()
}

pub async fn goods_pledge(s: &Stock, item: i64, quantity: i64) -> i64 {
    goods_pledge_with(s, item, quantity, json!({})).await
}

pub async fn goods_pledge_with(s: &Stock, item: i64, quantity: i64, earmark: Value) -> i64 {
    let response = keyed(
        &s.app,
        "/api/v1/pledges",
        &s.hub.token,
        &json!({"donor_id": s.donor.orgs[0], "kind": "goods", "item_id": item, "quantity": quantity,
                "earmark": earmark}),
    )
    .await;
    assert_eq!(response.status(), 201);
    body(response).await["id"].as_i64().unwrap()
}

/// Receives goods of a pledge into a location; returns the new lot.
pub async fn receive(s: &Stock, pledge: i64, at: i64, quantity: i64, expires: &str) -> i64 {
    let response = keyed(
        &s.app,
        "/api/v1/stock-movements",
        &s.hub.token,
        &json!({"kind": "receive", "pledge_id": pledge, "location_id": at, "quantity": quantity, "expires_on": expires}),
    )
    .await;
    assert_eq!(response.status(), 201);
    body(response).await["movements"][0]["lot_id"]
        .as_i64()
        .unwrap()
}

pub async fn movement(s: &Stock, input: Value) -> reqwest::Response {
    keyed(&s.app, "/api/v1/stock-movements", &s.hub.token, &input).await
}

/// (available, reserved, in transit) of an item at a location.
pub async fn held(s: &Stock, item: i64, at: i64) -> (i64, i64, i64) {
    let rows = body(
        s.app
            .get(
                &format!("/api/v1/stock?item_id={item}&location_id={at}"),
                Some(&s.hub.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    match rows.as_array().unwrap().first() {
        Some(r) => (
            r["available"].as_i64().unwrap(),
            r["reserved"].as_i64().unwrap(),
            r["in_transit"].as_i64().unwrap(),
        ),
        None => (0, 0, 0),
    }
}

pub async fn books_are_sound(app: &TestApp, admin: &TestUser) {
    let check = body(
        app.get("/api/v1/books/check", Some(&admin.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(check["sound"], true, "{check}");
}

async fn need(s: &Stock, quantity: i64, mode: &str) -> i64 {
    let response = s
        .app
        .post("/api/v1/needs", Some(&s.secretary.token))
        .json(&json!({"community_id": s.community, "item_id": s.mask, "quantity": quantity, "urgency": "critical",
                      "beneficiary_group": "elders_living_alone", "beneficiary_count": 60, "delivery_mode": mode}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await["id"].as_i64().unwrap()
}

async fn need_status(s: &Stock, id: i64) -> String {
    body(
        s.app
            .get(&format!("/api/v1/needs/{id}"), Some(&s.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post_ok(s: &Stock, path: &str, token: &str, input: Value) -> Value {
    let response = s
        .app
        .post(path, Some(token))
        .json(&input)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value = body(response).await;
    assert_eq!(status, 200, "{path}: {value}");
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_cycle_moves_every_unit_from_pledge_to_community() {
    let s = stock_world().await;
    let pledge = goods_pledge(&s, s.mask, 1000).await;
    let lot = receive(&s, pledge, s.warehouse, 1000, "2027-06-30").await;
    assert_eq!(held(&s, s.mask, s.warehouse).await, (1000, 0, 0));
    let pledge_now = body(
        s.app
            .get(&format!("/api/v1/pledges/{pledge}"), Some(&s.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(pledge_now["status"], "received");

    let home = need(&s, 600, "home_delivery").await;
    let pickup = need(&s, 300, "pickup").await;
    let plan = body(
        s.app
            .post("/api/v1/plans", Some(&s.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let plan_id = plan["id"].as_i64().unwrap();
    assert_eq!(plan["allocated"], 900, "{plan}");
    let confirmed = s
        .app
        .post(
            &format!("/api/v1/plans/{plan_id}/confirm"),
            Some(&s.hub.token),
        )
        .header("Idempotency-Key", "confirm-1")
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    // Confirming held the units in the warehouse for the allocations.
    assert_eq!(held(&s, s.mask, s.warehouse).await, (100, 900, 0));

    // The next day's work: one run per delivery mode, home delivery first.
    let prepared = keyed(
        &s.app,
        "/api/v1/dispatch",
        &s.hub.token,
        &json!({"date": "2026-11-24"}),
    )
    .await;
    assert_eq!(prepared.status(), 201);
    let day = body(prepared).await;
    let runs = day["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{day}");
    assert_eq!(runs[0]["mode"], "home_delivery");
    assert_eq!(runs[0]["lines"][0]["quantity"], 600);
    assert_eq!(runs[1]["mode"], "pickup");
    assert_eq!(day["pick_lists"][0]["units"], 900);
    assert_eq!(day["units_waiting"], 0);
    let home_run = runs[0]["id"].as_i64().unwrap();
    let pickup_run = runs[1]["id"].as_i64().unwrap();
    // Preparing again puts nothing twice on a run.
    let again = body(
        keyed(
            &s.app,
            "/api/v1/dispatch",
            &s.hub.token,
            &json!({"date": "2026-11-24"}),
        )
        .await,
    )
    .await;
    assert_eq!(again["runs"].as_array().unwrap().len(), 2);

    // The secretary sees the day's runs of their community and cannot dispatch.
    let theirs = body(
        s.app
            .get("/api/v1/dispatch?date=2026-11-24", Some(&s.secretary.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs["runs"].as_array().unwrap().len(), 2);
    let refused = s
        .app
        .post(
            &format!("/api/v1/deliveries/{home_run}/dispatch"),
            Some(&s.secretary.token),
        )
        .send()
        .await
        .unwrap();
    expect_problem(refused, 403, "forbidden").await;

    post_ok(
        &s,
        &format!("/api/v1/deliveries/{home_run}/dispatch"),
        &s.hub.token,
        json!(null),
    )
    .await;
    assert_eq!(held(&s, s.mask, s.warehouse).await, (100, 300, 600));
    assert_eq!(need_status(&s, home).await, "in_delivery");
    let twice = s
        .app
        .post(
            &format!("/api/v1/deliveries/{home_run}/dispatch"),
            Some(&s.hub.token),
        )
        .send()
        .await
        .unwrap();
    expect_problem(twice, 409, "invalid_transition").await;

    post_ok(
        &s,
        &format!("/api/v1/deliveries/{home_run}/delivered"),
        &s.hub.token,
        json!({"note": "交给楼栋长"}),
    )
    .await;
    let run = body(
        s.app
            .get(
                &format!("/api/v1/deliveries/{home_run}"),
                Some(&s.hub.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let line = run["lines"][0]["id"].as_i64().unwrap();
    // More than was sent is refused, naming the field; nothing changes.
    let too_many = s
        .app
        .post(
            &format!("/api/v1/deliveries/{home_run}/receipt"),
            Some(&s.secretary.token),
        )
        .json(&json!({"lines": [{"line_id": line, "received": 590, "damaged": 20}]}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(too_many, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "lines[0].received");
    // The hub cannot confirm for the community.
    let not_theirs = s
        .app
        .post(
            &format!("/api/v1/deliveries/{home_run}/receipt"),
            Some(&s.hub.token),
        )
        .json(&json!({"lines": []}))
        .send()
        .await
        .unwrap();
    expect_problem(not_theirs, 403, "forbidden").await;

    // 590 arrived, 5 damaged, 5 never handed over.
    let confirmed = post_ok(
        &s,
        &format!("/api/v1/deliveries/{home_run}/receipt"),
        &s.secretary.token,
        json!({"lines": [{"line_id": line, "received": 590, "damaged": 5, "note": "5个破损"}]}),
    )
    .await;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(held(&s, s.mask, s.warehouse).await, (105, 300, 0));
    // The 10 that did not arrive go back to the need, which asks for them again.
    assert_eq!(need_status(&s, home).await, "partially_matched");
    let board = body(
        s.app
            .get("/api/v1/board", Some(&s.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let masks = &board["by_item"][0];
    assert_eq!(masks["in_stock"], 105, "{masks}");

    // The pickup run arrives whole.
    post_ok(
        &s,
        &format!("/api/v1/deliveries/{pickup_run}/dispatch"),
        &s.hub.token,
        json!(null),
    )
    .await;
    post_ok(
        &s,
        &format!("/api/v1/deliveries/{pickup_run}/receipt"),
        &s.secretary.token,
        json!({}),
    )
    .await;
    assert_eq!(need_status(&s, pickup).await, "delivered");
    assert_eq!(held(&s, s.mask, s.warehouse).await, (105, 0, 0));

    // The lot's history tells the whole story, newest first.
    let history = body(
        s.app
            .get(
                &format!("/api/v1/stock-movements?lot_id={lot}&per_page=100"),
                Some(&s.hub.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let kinds: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "receive", "reserve", "reserve", "dispatch", "deliver", "adjust", "return", "dispatch",
            "deliver"
        ]
    );
    books_are_sound(&s.app, &s.admin).await;
    let confirmed_runs = body(
        s.app
            .get(
                "/api/v1/deliveries?status=confirmed",
                Some(&s.secretary.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(confirmed_runs.as_array().unwrap().len(), 2);
    assert_eq!(confirmed_runs[1]["lines"][0]["received"], 590);
    let stranger = s.app.user(Role::CommunitySecretary).await;
    let none = body(
        s.app
            .get("/api/v1/deliveries", Some(&stranger.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    let hidden = s
        .app
        .get(
            &format!("/api/v1/deliveries/{home_run}"),
            Some(&stranger.token),
        )
        .send()
        .await
        .unwrap();
    expect_problem(hidden, 404, "not_found").await;

    // A count finds 100 on the shelf: the 5 missing are posted as a stocktake difference.
    let count = keyed(
        &s.app,
        "/api/v1/stocktakes",
        &s.hub.token,
        &json!({"location_id": s.warehouse, "lines": [{"lot_id": lot, "counted": 100}], "note": "月末盘点"}),
    )
    .await;
    assert_eq!(count.status(), 201);
    let report = body(count).await;
    assert_eq!(report["lines"][0]["book"], 105);
    assert_eq!(report["lines"][0]["difference"], -5);
    assert_eq!(report["units_short"], 5);
    let id = report["id"].as_i64().unwrap();
    let again = body(
        s.app
            .get(&format!("/api/v1/stocktakes/{id}"), Some(&s.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["lines"][0]["counted"], 100);
    assert_eq!(held(&s, s.mask, s.warehouse).await, (100, 0, 0));
    books_are_sound(&s.app, &s.admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn movements_never_overdraw_and_mistakes_are_reversed_not_edited() {
    let s = stock_world().await;
    let pledge = goods_pledge(&s, s.mask, 50).await;
    let lot = receive(&s, pledge, s.warehouse, 50, "2026-12-01").await;

    let too_many = movement(&s, json!({"kind": "transfer", "lot_id": lot, "from_location_id": s.warehouse, "to_location_id": s.station, "quantity": 51})).await;
    let problem = expect_problem(too_many, 409, "insufficient_stock").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("50 available"),
        "{problem}"
    );

    let no_reason = movement(&s, json!({"kind": "adjust", "lot_id": lot, "location_id": s.warehouse, "quantity": -3, "reason": " "})).await;
    let problem = expect_problem(no_reason, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "reason");

    let unknown = movement(&s, json!({"kind": "transfer", "lot_id": lot, "from_location_id": s.warehouse, "to_location_id": 9999, "quantity": 1})).await;
    let problem = expect_problem(unknown, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "to_location_id");

    let more_than_pledged = movement(
        &s,
        json!({"kind": "receive", "pledge_id": pledge, "location_id": s.warehouse, "quantity": 1}),
    )
    .await;
    let problem = expect_problem(more_than_pledged, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "quantity");

    let missing_key = s
        .app
        .post("/api/v1/stock-movements", Some(&s.hub.token))
        .json(&json!({"kind": "adjust", "lot_id": lot, "location_id": s.warehouse, "quantity": -3, "reason": "破损"}))
        .send()
        .await
        .unwrap();
    expect_problem(missing_key, 400, "idempotency_key_required").await;
    assert_eq!(held(&s, s.mask, s.warehouse).await, (50, 0, 0));

    // A transfer to the station, posted twice with one key, moves once.
    let transfer = json!({"kind": "transfer", "lot_id": lot, "from_location_id": s.warehouse, "to_location_id": s.station, "quantity": 20});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = s
            .app
            .post("/api/v1/stock-movements", Some(&s.hub.token))
            .header("Idempotency-Key", "transfer-once")
            .json(&transfer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        ids.push(body(response).await["movements"][0]["id"].as_i64().unwrap());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(held(&s, s.mask, s.warehouse).await, (30, 0, 0));
    assert_eq!(held(&s, s.mask, s.station).await, (20, 0, 0));

    // Expired stock written off, then the transfer found to be a mistake and reversed.
    let expired = movement(&s, json!({"kind": "adjust", "lot_id": lot, "location_id": s.station, "quantity": -4, "reason": "过期"})).await;
    assert_eq!(expired.status(), 201);
    let reversal = movement(
        &s,
        json!({"kind": "reversal", "movement_id": ids[0], "reason": "调错了仓库"}),
    )
    .await;
    // The station no longer holds all 20 it received, so the reversal cannot take them back.
    expect_problem(reversal, 409, "insufficient_stock").await;
    let found = movement(&s, json!({"kind": "adjust", "lot_id": lot, "location_id": s.station, "quantity": 4, "reason": "找到了"})).await;
    assert_eq!(found.status(), 201);
    let reversal = movement(
        &s,
        json!({"kind": "reversal", "movement_id": ids[0], "reason": "调错了仓库"}),
    )
    .await;
    assert_eq!(reversal.status(), 201);
    assert_eq!(held(&s, s.mask, s.warehouse).await, (50, 0, 0));
    let again = movement(
        &s,
        json!({"kind": "reversal", "movement_id": ids[0], "reason": "再来一次"}),
    )
    .await;
    expect_problem(again, 409, "already_reversed").await;

    // Lots nearing expiry, and the roles that may not move stock.
    let soon = body(
        s.app
            .get(
                "/api/v1/stock/lots?expiring_within_days=3650",
                Some(&s.hub.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(soon[0]["lot_id"], lot);
    let refused = keyed(
        &s.app,
        "/api/v1/stock-movements",
        &s.secretary.token,
        &transfer,
    )
    .await;
    expect_problem(refused, 403, "forbidden").await;
    let refused = keyed(&s.app, "/api/v1/stock-movements", &s.donor.token, &transfer).await;
    expect_problem(refused, 403, "forbidden").await;
    books_are_sound(&s.app, &s.admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_dispatches_against_one_lot_never_overdraw_it() {
    let s = stock_world().await;
    let pledge = goods_pledge(&s, s.mask, 100).await;
    let lot = receive(&s, pledge, s.warehouse, 100, "2027-01-01").await;
    let input =
        json!({"kind": "dispatch", "lot_id": lot, "location_id": s.warehouse, "quantity": 7});
    let (ok, refused) = race(&s.app, "/api/v1/stock-movements", &s.hub.token, &input, 24).await;
    assert_eq!(refused, 10);
    // 100 units, 7 at a time: exactly 14 leave, 2 stay.
    assert_eq!(ok, 14);
    assert_eq!(held(&s, s.mask, s.warehouse).await, (2, 0, 98));
    books_are_sound(&s.app, &s.admin).await;
}
