//! Pledges through the API: money and goods, earmarks, idempotent creation (also under
//! concurrent retries), who sees which gifts, and the lifecycle.

use serde_json::{json, Value};
use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem, TestApp, TestUser},
};

struct World {
    app: TestApp,
    hub: TestUser,
    donor: TestUser,
    other_donor: TestUser,
    mask: i64,
    community: i64,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let donor = app.user(Role::Donor).await;
    let other_donor = app.user(Role::Donor).await;
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let community = app.seed_org("community", "多闻社区").await;
    World {
        app,
        hub,
        donor,
        other_donor,
        mask,
        community,
    }
}

fn money(donor: i64, amount: &str) -> Value {
    json!({"donor_id": donor, "kind": "money", "amount": amount,
           "earmark": {"categories": ["protective", "disinfection"], "districts": ["江汉区"]}})
}

async fn pledge(w: &World, user: &TestUser, key: &str, input: &Value) -> reqwest::Response {
    w.app
        .post("/api/v1/pledges", Some(&user.token))
        .header("Idempotency-Key", key)
        .json(input)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_pledge_counts_once() {
    let w = world().await;
    let input = money(w.donor.orgs[0], "20000.00");
    let first = pledge(&w, &w.donor, "gift-2020-02-10-a", &input).await;
    assert_eq!(first.status(), 201);
    let first = body(first).await;
    assert_eq!(first["amount"], "20000.00");
    assert_eq!(first["currency"], "CNY");
    assert_eq!(first["status"], "pledged");
    assert_eq!(
        first["earmark"]["categories"],
        json!(["protective", "disinfection"])
    );

    let retry = pledge(&w, &w.donor, "gift-2020-02-10-a", &input).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(body(retry).await, first, "the retry gets the first answer");
    assert_eq!(w.app.count("pledges").await, 1);

    let changed = pledge(
        &w,
        &w.donor,
        "gift-2020-02-10-a",
        &money(w.donor.orgs[0], "30000.00"),
    )
    .await;
    expect_problem(changed, 422, "idempotency_key_reused").await;

    let no_key = w
        .app
        .post("/api/v1/pledges", Some(&w.donor.token))
        .json(&input)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(no_key, 400, "idempotency_key_required").await;
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(w.app.count("pledges").await, 1);

    // Keys belong to an account: another donor's same key is another pledge.
    let theirs = pledge(
        &w,
        &w.other_donor,
        "gift-2020-02-10-a",
        &money(w.other_donor.orgs[0], "20000.00"),
    )
    .await;
    assert_eq!(theirs.status(), 201);
    assert_eq!(w.app.count("pledges").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_key_create_one_pledge() {
    let w = world().await;
    let input = money(w.donor.orgs[0], "500.00");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let request = w
            .app
            .post("/api/v1/pledges", Some(&w.donor.token))
            .header("Idempotency-Key", "same-click-eight-times")
            .json(&input);
        tasks.push(tokio::spawn(async move { request.send().await.unwrap() }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status(), 201);
        ids.push(body(response).await["id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same pledge");
    assert_eq!(w.app.count("pledges").await, 1);
    let audits: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE entity_type = 'pledge'")
            .fetch_one(w.app.db.pool())
            .await
            .unwrap();
    assert_eq!(audits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goods_pledges_and_bad_pledges() {
    let w = world().await;
    let goods = json!({"donor_id": w.donor.orgs[0], "kind": "goods", "item_id": w.mask, "quantity": 10000,
        "expires_on": "2099-06-01", "available_from": "2099-02-11", "pickup_location": "汉口商会仓库",
        "earmark": {"communities": [w.community], "groups": ["elders_living_alone"]}});
    let created = body(pledge(&w, &w.donor, "goods-1", &goods).await).await;
    assert_eq!(created["kind"], "goods");
    assert_eq!(created["item_name"], "一次性医用口罩");
    assert_eq!(created["quantity"], 10000);
    assert_eq!(created["expires_on"], "2099-06-01");
    assert_eq!(created["earmark"]["communities"], json!([w.community]));

    let donor_id = w.donor.orgs[0];
    let cases: Vec<(Value, &str)> = vec![
        (json!({"donor_id": donor_id, "kind": "money"}), "amount"),
        (
            json!({"donor_id": donor_id, "kind": "money", "amount": 100.5}),
            "amount",
        ),
        (
            json!({"donor_id": donor_id, "kind": "money", "amount": "0"}),
            "amount",
        ),
        (
            json!({"donor_id": donor_id, "kind": "money", "amount": "10", "currency": "USD"}),
            "currency",
        ),
        (
            json!({"donor_id": donor_id, "kind": "goods", "item_id": w.mask}),
            "quantity",
        ),
        (
            json!({"donor_id": donor_id, "kind": "goods", "item_id": 9999, "quantity": 1}),
            "item_id",
        ),
        (
            json!({"donor_id": donor_id, "kind": "cash", "amount": "10"}),
            "kind",
        ),
        (
            json!({"donor_id": donor_id, "kind": "money", "amount": "10", "earmark": {"communities": [9999]}}),
            "earmark.communities",
        ),
        (
            json!({"donor_id": donor_id, "kind": "money", "amount": "10", "earmark": {"groups": ["everyone"]}}),
            "earmark.groups[0]",
        ),
    ];
    for (i, (input, field)) in cases.into_iter().enumerate() {
        let problem = expect_problem(
            pledge(&w, &w.donor, &format!("bad-{i}"), &input).await,
            422,
            "validation",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{input}: {problem}");
    }
    assert_eq!(w.app.count("pledges").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_donor_sees_only_their_own_gifts() {
    let w = world().await;
    let mine = body(pledge(&w, &w.donor, "k1", &money(w.donor.orgs[0], "100")).await).await;
    let theirs = body(
        pledge(
            &w,
            &w.other_donor,
            "k1",
            &money(w.other_donor.orgs[0], "200"),
        )
        .await,
    )
    .await;
    // Pledging in another donor's name is refused; the hub may record a pledge for any donor.
    expect_problem(
        pledge(&w, &w.donor, "k2", &money(w.other_donor.orgs[0], "1")).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        pledge(&w, &w.hub, "k3", &money(w.other_donor.orgs[0], "300"))
            .await
            .status(),
        201
    );

    let list = body(
        w.app
            .get("/api/v1/pledges", Some(&w.donor.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], mine["id"]);
    let probing = body(
        w.app
            .get(
                &format!("/api/v1/pledges?donor_id={}", w.other_donor.orgs[0]),
                Some(&w.donor.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(probing["total"], 0);
    let other = w
        .app
        .get(
            &format!("/api/v1/pledges/{}", theirs["id"]),
            Some(&w.donor.token),
        )
        .send()
        .await
        .unwrap();
    expect_problem(other, 404, "not_found").await;

    let all = body(
        w.app
            .get("/api/v1/pledges", Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all["total"], 3);
    let secretary = w.app.user(Role::CommunitySecretary).await;
    expect_problem(
        w.app
            .get("/api/v1/pledges", Some(&secretary.token))
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pledge_lifecycle() {
    let w = world().await;
    let status = |user: &TestUser, id: i64, status: &str, reason: Option<&str>| {
        w.app
            .post(&format!("/api/v1/pledges/{id}/status"), Some(&user.token))
            .json(&json!({"status": status, "reason": reason}))
            .send()
    };
    let a = body(pledge(&w, &w.donor, "a", &money(w.donor.orgs[0], "100")).await).await["id"]
        .as_i64()
        .unwrap();
    expect_problem(
        status(&w.donor, a, "cancelled", None).await.unwrap(),
        422,
        "validation",
    )
    .await;
    let cancelled = body(
        status(&w.donor, a, "cancelled", Some("改为捐物资"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    expect_problem(
        status(&w.hub, a, "received", None).await.unwrap(),
        409,
        "invalid_transition",
    )
    .await;

    let b = body(pledge(&w, &w.donor, "b", &money(w.donor.orgs[0], "100")).await).await["id"]
        .as_i64()
        .unwrap();
    expect_problem(
        status(&w.donor, b, "received", None).await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    expect_problem(
        status(&w.other_donor, b, "cancelled", Some("x"))
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        body(status(&w.hub, b, "received", None).await.unwrap()).await["status"],
        "received"
    );
    expect_problem(
        status(&w.donor, b, "cancelled", Some("x")).await.unwrap(),
        409,
        "invalid_transition",
    )
    .await;
    expect_problem(
        status(&w.hub, b, "cancelled", Some("x")).await.unwrap(),
        409,
        "invalid_transition",
    )
    .await;
    expect_problem(
        status(&w.hub, b, "allocated", None).await.unwrap(),
        409,
        "set_by_matching",
    )
    .await;
}
