//! Needs through the API: posting (one item, a kit, a subsidy), who may post for which
//! community, every lifecycle transition including the refused ones, and versions of edits.

use serde_json::{json, Value};
use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem, TestApp, TestUser},
};

pub struct NeedWorld {
    pub app: TestApp,
    pub hub: TestUser,
    pub secretary: TestUser,
    pub community: i64,
    pub other_community: i64,
    pub mask: i64,
    pub allowance: i64,
}

pub async fn world() -> NeedWorld {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let secretary = app.user(Role::CommunitySecretary).await;
    let community = secretary.orgs[0];
    let other_community = app.seed_org("community", "民意社区").await;
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    let allowance = create_item(
        &app,
        &hub.token,
        &json!({"code": "volunteer_allowance", "name_zh": "志愿者补贴", "category": "subsidy", "unit_zh": "人天", "reference_price": "50.00"}),
    )
    .await;
    NeedWorld {
        app,
        hub,
        secretary,
        community,
        other_community,
        mask,
        allowance,
    }
}

pub fn mask_need(community: i64, mask: i64) -> Value {
    json!({
        "community_id": community, "item_id": mask, "quantity": 500, "urgency": "critical",
        "beneficiary_group": "elders_living_alone", "beneficiary_count": 220,
        "needed_by": "2099-02-12", "delivery_mode": "home_delivery", "note": "独居老人每户 2 个"
    })
}

pub async fn post_need(w: &NeedWorld, token: &str, need: &Value) -> Value {
    let response = w
        .app
        .post("/api/v1/needs", Some(token))
        .json(need)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "posting {need}");
    body(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secretary_posts_needs_for_their_own_community_only() {
    let w = world().await;
    let need = post_need(&w, &w.secretary.token, &mask_need(w.community, w.mask)).await;
    assert_eq!(need["status"], "open");
    assert_eq!(need["quantity"], 500);
    assert_eq!(need["what"], "一次性医用口罩");
    assert_eq!(need["district"], "江汉区");
    assert_eq!(need["version"], 1);

    let elsewhere = w
        .app
        .post("/api/v1/needs", Some(&w.secretary.token))
        .json(&mask_need(w.other_community, w.mask))
        .send()
        .await
        .unwrap();
    expect_problem(elsewhere, 403, "forbidden").await;
    // The hub posts on a community's behalf.
    post_need(&w, &w.hub.token, &mask_need(w.other_community, w.mask)).await;
    let donor = w.app.user(Role::Donor).await;
    let refused = w
        .app
        .post("/api/v1/needs", Some(&donor.token))
        .json(&mask_need(w.community, w.mask))
        .send()
        .await
        .unwrap();
    expect_problem(refused, 403, "forbidden").await;
    assert_eq!(w.app.count("needs").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subsidy_needs_carry_headcount_days_and_rate() {
    let w = world().await;
    let mut subsidy = mask_need(w.community, w.allowance);
    subsidy.as_object_mut().unwrap().remove("quantity");
    subsidy["beneficiary_group"] = json!("volunteers");
    subsidy["subsidy"] = json!({"headcount": 120, "days": 5, "rate": "50.00"});
    let need = post_need(&w, &w.secretary.token, &subsidy).await;
    assert_eq!(need["quantity"], 600);
    assert_eq!(need["subsidy_total"], "30000.00");
    let fen: i64 = sqlx::query_scalar("SELECT subsidy_rate_fen FROM needs WHERE id = $1")
        .bind(need["id"].as_i64().unwrap())
        .fetch_one(w.app.db.pool())
        .await
        .unwrap();
    assert_eq!(fen, 5000);

    // A subsidy item without headcount × days × rate, or a goods item with one, is refused.
    let mut missing = subsidy.clone();
    missing.as_object_mut().unwrap().remove("subsidy");
    missing["quantity"] = json!(600);
    let problem = expect_problem(
        w.app
            .post("/api/v1/needs", Some(&w.hub.token))
            .json(&missing)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "subsidy");
    let mut goods = subsidy.clone();
    goods["item_id"] = json!(w.mask);
    let problem = expect_problem(
        w.app
            .post("/api/v1/needs", Some(&w.hub.token))
            .json(&goods)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "subsidy");
    assert_eq!(w.app.count("needs").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_needs_name_the_field_and_write_nothing() {
    let w = world().await;
    let audit_before = w.app.count("audit_events").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"urgency": "whenever"}), "urgency"),
        (
            json!({"beneficiary_group": "everyone"}),
            "beneficiary_group",
        ),
        (json!({"delivery_mode": "drone"}), "delivery_mode"),
        (json!({"quantity": 0}), "quantity"),
        (json!({"quantity": -5}), "quantity"),
        (json!({"needed_by": "2020-01-01"}), "needed_by"),
        (json!({"needed_by": "next week"}), "needed_by"),
        (json!({"item_id": 99999}), "item_id"),
        (json!({"community_id": 99999}), "community_id"),
        (json!({"note": "长".repeat(1001)}), "note"),
    ];
    for (change, field) in cases {
        let mut need = mask_need(w.community, w.mask);
        for (k, v) in change.as_object().unwrap() {
            need[k] = v.clone();
        }
        let response = w
            .app
            .post("/api/v1/needs", Some(&w.hub.token))
            .json(&need)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    assert_eq!(w.app.count("needs").await, 0);
    assert_eq!(w.app.count("audit_events").await, audit_before);
}

async fn set_status(
    w: &NeedWorld,
    token: &str,
    id: i64,
    status: &str,
    reason: Option<&str>,
) -> reqwest::Response {
    w.app
        .post(&format!("/api/v1/needs/{id}/status"), Some(token))
        .json(&json!({"status": status, "reason": reason}))
        .send()
        .await
        .unwrap()
}

/// Moves a need's status in the database, as confirming a matching plan will.
async fn force_status(w: &NeedWorld, id: i64, status: &str) {
    sqlx::query("UPDATE needs SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(id)
        .execute(w.app.db.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_through_the_api() {
    let w = world().await;
    let new_need = || async {
        post_need(&w, &w.secretary.token, &mask_need(w.community, w.mask)).await["id"]
            .as_i64()
            .unwrap()
    };

    // open → cancelled by the secretary, with a reason; then nothing more.
    let id = new_need().await;
    let no_reason = set_status(&w, &w.secretary.token, id, "cancelled", None).await;
    expect_problem(no_reason, 422, "validation").await;
    let cancelled = body(
        set_status(
            &w,
            &w.secretary.token,
            id,
            "cancelled",
            Some("已由街道解决"),
        )
        .await,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["status_reason"], "已由街道解决");
    expect_problem(
        set_status(&w, &w.hub.token, id, "closed", None).await,
        409,
        "invalid_transition",
    )
    .await;

    // open → expired: the hub only.
    let id = new_need().await;
    expect_problem(
        set_status(&w, &w.secretary.token, id, "expired", Some("过期")).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        body(set_status(&w, &w.hub.token, id, "expired", Some("过期")).await).await["status"],
        "expired"
    );

    // Matched statuses are set by matching, never by hand.
    let id = new_need().await;
    expect_problem(
        set_status(&w, &w.hub.token, id, "matched", None).await,
        409,
        "set_by_matching",
    )
    .await;
    // open cannot jump to in delivery or delivered.
    expect_problem(
        set_status(&w, &w.hub.token, id, "in_delivery", None).await,
        409,
        "invalid_transition",
    )
    .await;
    expect_problem(
        set_status(&w, &w.secretary.token, id, "delivered", None).await,
        409,
        "invalid_transition",
    )
    .await;

    // matched → in delivery (hub) → delivered (secretary confirms) → closed (hub).
    force_status(&w, id, "matched").await;
    expect_problem(
        set_status(&w, &w.secretary.token, id, "in_delivery", None).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        body(set_status(&w, &w.hub.token, id, "in_delivery", None).await).await["status"],
        "in_delivery"
    );
    expect_problem(
        set_status(&w, &w.secretary.token, id, "cancelled", Some("x")).await,
        409,
        "invalid_transition",
    )
    .await;
    assert_eq!(
        body(set_status(&w, &w.secretary.token, id, "delivered", None).await).await["status"],
        "delivered"
    );
    expect_problem(
        set_status(&w, &w.secretary.token, id, "closed", None).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        body(set_status(&w, &w.hub.token, id, "closed", None).await).await["status"],
        "closed"
    );

    // partially matched → expired; matched → cancelled.
    let id = new_need().await;
    force_status(&w, id, "partially_matched").await;
    assert_eq!(
        body(set_status(&w, &w.hub.token, id, "expired", Some("截止")).await).await["status"],
        "expired"
    );
    let id = new_need().await;
    force_status(&w, id, "matched").await;
    expect_problem(
        set_status(&w, &w.hub.token, id, "expired", Some("x")).await,
        409,
        "invalid_transition",
    )
    .await;
    assert_eq!(
        body(set_status(&w, &w.hub.token, id, "cancelled", Some("重复")).await).await["status"],
        "cancelled"
    );

    // Another community's secretary can do nothing to this community's needs.
    let stranger = w.app.user(Role::CommunitySecretary).await;
    let id = new_need().await;
    expect_problem(
        set_status(&w, &stranger.token, id, "cancelled", Some("x")).await,
        403,
        "forbidden",
    )
    .await;

    let transitions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE entity_type = 'need' AND action IN ('cancelled','expired','in_delivery','delivered','closed')",
    )
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        transitions, 7,
        "every accepted change is audited, refused ones are not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_keep_versions_and_stop_at_delivery() {
    let w = world().await;
    let need = post_need(&w, &w.secretary.token, &mask_need(w.community, w.mask)).await;
    let id = need["id"].as_i64().unwrap();
    force_status(&w, id, "matched").await;

    let mut more = mask_need(w.community, w.mask);
    more["quantity"] = json!(800);
    let edited = body(
        w.app
            .put(&format!("/api/v1/needs/{id}"), Some(&w.secretary.token))
            .json(&more)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(edited["quantity"], 800);
    assert_eq!(edited["version"], 2);
    assert_eq!(
        edited["status"], "matched",
        "an edit does not undo matching by itself"
    );

    let versions = body(
        w.app
            .get(&format!("/api/v1/needs/{id}/versions"), Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["record"]["quantity"], 500);

    let moved = w
        .app
        .put(&format!("/api/v1/needs/{id}"), Some(&w.secretary.token))
        .json(&mask_need(w.other_community, w.mask))
        .send()
        .await
        .unwrap();
    expect_problem(moved, 403, "forbidden").await;

    force_status(&w, id, "in_delivery").await;
    let late = w
        .app
        .put(&format!("/api/v1/needs/{id}"), Some(&w.secretary.token))
        .json(&more)
        .send()
        .await
        .unwrap();
    expect_problem(late, 409, "need_not_editable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_put_the_most_urgent_first_and_filter() {
    let w = world().await;
    for (urgency, group) in [
        ("normal", "residents"),
        ("critical", "elders_living_alone"),
        ("high", "disabled"),
    ] {
        let mut need = mask_need(w.community, w.mask);
        need["urgency"] = json!(urgency);
        need["beneficiary_group"] = json!(group);
        post_need(&w, &w.hub.token, &need).await;
    }
    post_need(&w, &w.hub.token, &mask_need(w.other_community, w.mask)).await;
    let list = body(
        w.app
            .get(
                &format!("/api/v1/needs?community_id={}", w.community),
                Some(&w.secretary.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let urgencies: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["urgency"].as_str().unwrap())
        .collect();
    assert_eq!(urgencies, ["critical", "high", "normal"]);
    let disabled = body(
        w.app
            .get(
                "/api/v1/needs?beneficiary_group=disabled&open=true",
                Some(&w.hub.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(disabled["total"], 1);
    let all = body(
        w.app
            .get("/api/v1/needs?status=open&per_page=2", Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all["total"], 4);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let problem = expect_problem(
        w.app
            .get("/api/v1/needs?urgency=asap", Some(&w.hub.token))
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "urgency");
    expect_problem(
        w.app.get("/api/v1/needs", None).send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
}
