//! The fund ledger through the API, on the shape of seed 003's closing report: a 500,000-yuan
//! project with nine budget lines, an unrestricted and a restricted gift received, subsidy
//! batches and payments against lines, budget adjustments with reasons, overdraws refused
//! unless an admin overrides them, purchases paid for their allocations once, and parallel
//! disbursements against one line that never overdraw it.

use serde_json::{json, Value};
use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem, race, TestApp, TestUser},
    stock::{books_are_sound, keyed},
};

const PROJECT: &str = "融心益慧心理援助项目";

struct Funds {
    app: TestApp,
    staff: TestUser,
    admin: TestUser,
    hub: TestUser,
    donor: TestUser,
}

async fn funds_world() -> Funds {
    let app = TestApp::new().await;
    Funds {
        staff: app.user(Role::FoundationStaff).await,
        admin: app.user(Role::Admin).await,
        hub: app.user(Role::HubCoordinator).await,
        donor: app.user(Role::Donor).await,
        app,
    }
}

fn seed_003_project() -> Value {
    let line = |category: &str, amount: &str| json!({"category": category, "amount": amount});
    json!({
        "name_zh": PROJECT, "name_en": "Rongxin psychological support", "implementers": "逸飞社工",
        "funders": "湖北省志愿者协会", "area": "湖北省", "starts_on": "2020-02-01", "ends_on": "2020-05-15",
        "goals": "为社区居民提供心理支持", "direct_beneficiaries": 10072,
        "budget_lines": [
            line("防护用品类", "100000"), line("生活用品类", "30000"), line("药品类", "30000"),
            {"category": "孤寡、残疾、独居老人餐费", "unit_price": "30", "quantity": 1000, "unit": "份", "amount": "30000"},
            line("线下服务交通费用", "10000"),
            {"category": "志愿者补贴", "unit_price": "50", "unit": "元/人/天", "amount": "180000"},
            line("抚恤、救助", "100000"), line("其他", "2500"), line("税费", "17500")
        ],
        "indicators": [{"name": "咨询服务", "target": 10000, "unit": "条"}, {"name": "服务个案成果", "target": 30, "unit": "例"}]
    })
}

async fn create_project(f: &Funds, input: &Value) -> Value {
    let response = f
        .app
        .post("/api/v1/projects", Some(&f.staff.token))
        .json(input)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value = body(response).await;
    assert_eq!(status, 201, "{value}");
    value
}

async fn money_pledge(f: &Funds, amount: &str, earmark: Value) -> i64 {
    let response = keyed(
        &f.app,
        "/api/v1/pledges",
        &f.staff.token,
        &json!({"donor_id": f.donor.orgs[0], "kind": "money", "amount": amount, "earmark": earmark}),
    )
    .await;
    assert_eq!(response.status(), 201);
    body(response).await["id"].as_i64().unwrap()
}

async fn post(f: &Funds, path: &str, token: &str, input: Value) -> reqwest::Response {
    keyed(&f.app, path, token, &input).await
}

async fn created(response: reqwest::Response) -> Value {
    let status = response.status();
    let value = body(response).await;
    assert_eq!(status, 201, "{value}");
    value
}

async fn project(f: &Funds, id: i64) -> Value {
    body(
        f.app
            .get(&format!("/api/v1/projects/{id}"), Some(&f.staff.token))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn line_id(project: &Value, position: i64) -> i64 {
    project["budget_lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["position"] == position)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_is_funded_spent_and_adjusted_to_the_fen() {
    let f = funds_world().await;
    let p = create_project(&f, &seed_003_project()).await;
    let id = p["id"].as_i64().unwrap();
    assert_eq!(p["budget"], "500000.00");
    let general = money_pledge(&f, "320000", json!({})).await;
    let restricted = money_pledge(
        &f,
        "180000",
        json!({"project": PROJECT, "groups": ["volunteers"], "categories": ["subsidy"]}),
    )
    .await;

    // Receipts, once per key; never more than was pledged; only into the earmarked project.
    let receipt = json!({"project_id": id, "pledge_id": general, "amount": "320000", "received_on": "2020-02-10"});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = f
            .app
            .post("/api/v1/receipts", Some(&f.staff.token))
            .header("Idempotency-Key", "receipt-general")
            .json(&receipt)
            .send()
            .await
            .unwrap();
        ids.push(created(response).await["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    let over = post(
        &f,
        "/api/v1/receipts",
        &f.staff.token,
        json!({"project_id": id, "pledge_id": general, "amount": "0.01"}),
    )
    .await;
    assert_eq!(
        expect_problem(over, 422, "validation").await["errors"][0]["field"],
        "amount"
    );
    let unknown = f
        .app
        .post("/api/v1/projects", Some(&f.staff.token))
        .json(&json!({"name_zh": "无名基金会项目", "foundation_id": 0, "starts_on": "2020-01-01", "ends_on": "2020-12-31"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_problem(unknown, 422, "validation").await["errors"][0]["field"],
        "foundation_id"
    );
    let twice = f
        .app
        .post("/api/v1/projects", Some(&f.staff.token))
        .json(&seed_003_project())
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_problem(twice, 422, "validation").await["errors"][0]["field"],
        "name_zh"
    );
    let other = create_project(
        &f,
        &json!({"name_zh": "另一个项目", "starts_on": "2020-01-01", "ends_on": "2020-12-31"}),
    )
    .await;
    let elsewhere = post(
        &f,
        "/api/v1/receipts",
        &f.staff.token,
        json!({"project_id": other["id"], "pledge_id": restricted, "amount": "180000"}),
    )
    .await;
    let problem = expect_problem(elsewhere, 422, "validation").await;
    assert_eq!(problem["errors"][0]["code"], "earmark_mismatch");
    let r = created(
        post(
            &f,
            "/api/v1/receipts",
            &f.staff.token,
            json!({"project_id": id, "pledge_id": restricted, "amount": "180000"}),
        )
        .await,
    )
    .await;
    assert_eq!(r["fund"], format!("pledge:{restricted}"));
    let missing_key = f
        .app
        .post("/api/v1/receipts", Some(&f.staff.token))
        .json(&receipt)
        .send()
        .await
        .unwrap();
    expect_problem(missing_key, 400, "idempotency_key_required").await;

    let p = project(&f, id).await;
    let (protective, daily, medicine, meals, transport, volunteers) = (
        line_id(&p, 1),
        line_id(&p, 2),
        line_id(&p, 3),
        line_id(&p, 4),
        line_id(&p, 5),
        line_id(&p, 6),
    );
    let fund = format!("pledge:{restricted}");

    // Volunteer subsidies from the restricted gift: 31 people × 50 yuan × 100 days.
    let subsidy = |headcount: i64, days: i64| {
        json!({"project_id": id, "budget_line_id": volunteers, "kind": "subsidy", "fund": fund, "payee": "志愿者",
               "subsidy": {"beneficiary_group": "volunteers", "headcount": headcount, "rate": "50", "days": days}})
    };
    let paid = created(
        post(
            &f,
            "/api/v1/disbursements",
            &f.staff.token,
            subsidy(31, 100),
        )
        .await,
    )
    .await;
    assert_eq!(paid["amount"], "155000.00");
    // The gift has 25,000 left: a batch of 30,000 would overdraw it.
    let overdraw = post(&f, "/api/v1/disbursements", &f.staff.token, subsidy(20, 30)).await;
    let problem = expect_problem(overdraw, 409, "overdrawn").await;
    assert!(
        problem["detail"].as_str().unwrap().contains(&fund),
        "{problem}"
    );
    // Restricted to subsidies: no transport from it.
    let transport_from_gift = post(&f, "/api/v1/disbursements", &f.staff.token,
        json!({"project_id": id, "budget_line_id": transport, "kind": "transport", "fund": fund, "amount": "100", "payee": "出租车"})).await;
    let unknown_supplier = post(&f, "/api/v1/disbursements", &f.staff.token,
        json!({"project_id": id, "budget_line_id": transport, "kind": "transport", "fund": "general", "amount": "1",
               "payee": "x", "supplier_id": 999_999})).await;
    assert_eq!(
        expect_problem(unknown_supplier, 422, "validation").await["errors"][0]["field"],
        "supplier_id"
    );
    let problem = expect_problem(transport_from_gift, 422, "validation").await;
    assert_eq!(problem["errors"][0]["code"], "restricted");
    // A batch whose amount disagrees with headcount × rate × days is refused.
    let mut wrong = subsidy(2, 2);
    wrong["amount"] = json!("201");
    let problem = expect_problem(
        post(&f, "/api/v1/disbursements", &f.staff.token, wrong).await,
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "amount");

    // Budget adjustments, as in seed 003: daily necessities, medicine, meals and 20,000 of the
    // volunteer line become 爱心菜 (vegetables for vulnerable households).
    let added = f
        .app
        .post(
            &format!("/api/v1/projects/{id}/budget-lines"),
            Some(&f.staff.token),
        )
        .json(&json!({"category": "给困难弱势群体送爱心菜", "amount": "0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let vegetables = line_id(&body(added).await, 10);
    for (from, amount, reason) in [
        (daily, "30000", "调整为给困难弱势群体送爱心菜"),
        (medicine, "30000", "调整为给困难弱势群体送菜"),
        (meals, "30000", "调整为给困难弱势群体送爱心菜"),
        (volunteers, "20000", "2万元调整为给困难弱势群体送爱心菜"),
    ] {
        created(post(&f, "/api/v1/budget-adjustments", &f.staff.token,
            json!({"project_id": id, "from_line_id": from, "to_line_id": vegetables, "amount": amount, "reason": reason})).await).await;
    }
    // The volunteer line has 5,000 left: moving 5,000.01 is refused.
    let too_much = post(&f, "/api/v1/budget-adjustments", &f.staff.token,
        json!({"project_id": id, "from_line_id": volunteers, "to_line_id": vegetables, "amount": "5000.01", "reason": "再调"})).await;
    expect_problem(too_much, 409, "overdrawn").await;
    let no_reason = post(&f, "/api/v1/budget-adjustments", &f.staff.token,
        json!({"project_id": id, "from_line_id": volunteers, "to_line_id": vegetables, "amount": "1", "reason": ""})).await;
    assert_eq!(
        expect_problem(no_reason, 422, "validation").await["errors"][0]["field"],
        "reason"
    );

    let pay = |line: i64, kind: &str, amount: &str, payee: &str| json!({"project_id": id, "budget_line_id": line, "kind": kind, "fund": "general", "amount": amount, "payee": payee});
    created(
        post(
            &f,
            "/api/v1/disbursements",
            &f.staff.token,
            pay(vegetables, "other", "110000", "爱心菜"),
        )
        .await,
    )
    .await;
    created(
        post(
            &f,
            "/api/v1/disbursements",
            &f.staff.token,
            pay(protective, "other", "47000", "防护物资"),
        )
        .await,
    )
    .await;
    created(
        post(
            &f,
            "/api/v1/disbursements",
            &f.staff.token,
            pay(transport, "transport", "7900", "线下服务交通"),
        )
        .await,
    )
    .await;
    // The transport line has 2,100 left; 3,000 more is refused, unless an admin overrides it.
    let over_line = post(
        &f,
        "/api/v1/disbursements",
        &f.staff.token,
        pay(transport, "transport", "3000", "交通"),
    )
    .await;
    let problem = expect_problem(over_line, 409, "overdrawn").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("2100.00 left"),
        "{problem}"
    );
    let mut with_override = pay(transport, "transport", "3000", "交通");
    with_override["override_reason"] = json!("封城期间临时增加接送车次");
    expect_problem(
        post(
            &f,
            "/api/v1/disbursements",
            &f.staff.token,
            with_override.clone(),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let overridden =
        created(post(&f, "/api/v1/disbursements", &f.admin.token, with_override).await).await;
    assert_eq!(overridden["override_reason"], "封城期间临时增加接送车次");

    let p = project(&f, id).await;
    let line = |position: i64| {
        p["budget_lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["position"] == position)
            .unwrap()
            .clone()
    };
    assert_eq!(line(6)["adjusted_out"], "20000.00");
    assert_eq!(line(6)["spent"], "155000.00");
    assert_eq!(line(6)["remaining"], "5000.00");
    assert_eq!(line(10)["adjusted_in"], "110000.00");
    assert_eq!(line(10)["remaining"], "0.00");
    assert_eq!(line(5)["overdrawn"], true);
    assert_eq!(line(5)["remaining_fen"], -90000);
    assert_eq!(p["received"], "500000.00");
    assert_eq!(p["spent"], "322900.00");
    let funds: Vec<(String, String)> = p["funds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["fund"].as_str().unwrap().to_owned(),
                f["balance"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        funds.contains(&("general".into(), "152100.00".into())),
        "{funds:?}"
    );
    assert!(
        funds.contains(&(fund.clone(), "25000.00".into())),
        "{funds:?}"
    );

    // Indicators planned vs achieved.
    let indicator = p["indicators"][1]["id"].as_i64().unwrap();
    let updated = body(
        f.app
            .client
            .patch(
                f.app
                    .url(&format!("/api/v1/projects/{id}/indicators/{indicator}")),
            )
            .bearer_auth(&f.staff.token)
            .json(&json!({"achieved": 76}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(updated["indicators"][1]["percent"], "253.3%");

    // The ledger: every entry balances and the trial balance's debits equal its credits.
    let ledger = body(
        f.app
            .get(
                &format!("/api/v1/ledger?project_id={id}&per_page=200"),
                Some(&f.hub.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ledger["total"], 7);
    let fen = |v: &Value| v.as_str().unwrap().replace('.', "").parse::<i64>().unwrap();
    for entry in ledger["entries"].as_array().unwrap() {
        let lines = entry["lines"].as_array().unwrap();
        let debit: i64 = lines.iter().map(|l| fen(&l["debit"])).sum();
        let credit: i64 = lines.iter().map(|l| fen(&l["credit"])).sum();
        assert_eq!(debit, credit, "{entry}");
    }
    let accounts = ledger["trial_balance"].as_array().unwrap();
    let total: i64 = accounts
        .iter()
        .map(|a| a["balance_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 0);
    let adjustments = body(
        f.app
            .get(
                &format!("/api/v1/budget-adjustments?project_id={id}"),
                Some(&f.staff.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(adjustments.as_array().unwrap().len(), 4);
    // Donors and secretaries do not read the books; the hub reads but does not write.
    let refused = f
        .app
        .get(&format!("/api/v1/projects/{id}"), Some(&f.donor.token))
        .send()
        .await
        .unwrap();
    expect_problem(refused, 403, "forbidden").await;
    let refused = post(
        &f,
        "/api/v1/disbursements",
        &f.hub.token,
        pay(protective, "other", "1", "x"),
    )
    .await;
    expect_problem(refused, 403, "forbidden").await;
    books_are_sound(&f.app, &f.admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_disbursements_against_one_line_never_overdraw_it() {
    let f = funds_world().await;
    let p = create_project(
        &f,
        &json!({"name_zh": "并发测试", "starts_on": "2026-01-01", "ends_on": "2026-12-31",
        "budget_lines": [{"category": "防护用品类", "amount": "100000"}]}),
    )
    .await;
    let id = p["id"].as_i64().unwrap();
    let line = line_id(&p, 1);
    let pledge = money_pledge(&f, "500000", json!({})).await;
    created(
        post(
            &f,
            "/api/v1/receipts",
            &f.staff.token,
            json!({"project_id": id, "pledge_id": pledge, "amount": "500000"}),
        )
        .await,
    )
    .await;
    let input = json!({"project_id": id, "budget_line_id": line, "kind": "other", "fund": "general",
                       "amount": "10000", "payee": "供应商"});
    let (ok, _) = race(&f.app, "/api/v1/disbursements", &f.staff.token, &input, 24).await;
    assert_eq!(ok, 10);
    let p = project(&f, id).await;
    assert_eq!(p["budget_lines"][0]["spent"], "100000.00");
    assert_eq!(p["budget_lines"][0]["remaining"], "0.00");
    books_are_sound(&f.app, &f.admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_is_received_into_stock_and_paid_once_for_its_allocation() {
    let f = funds_world().await;
    let app = &f.app;
    let mask = create_item(app, &f.hub.token, &mask_json()).await;
    let supplier = app.user(Role::Supplier).await;
    let secretary = app.user(Role::CommunitySecretary).await;
    let offer = app
        .post("/api/v1/supplier-offers", Some(&f.hub.token))
        .json(&json!({"supplier_id": supplier.orgs[0], "item_id": mask, "unit_price": "0.80", "weekly_capacity": 5000,
                      "lead_days": 1, "valid_from": "2020-01-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(offer.status(), 201);
    let need = app
        .post("/api/v1/needs", Some(&secretary.token))
        .json(&json!({"community_id": secretary.orgs[0], "item_id": mask, "quantity": 500, "urgency": "high",
                      "beneficiary_group": "community_workers", "beneficiary_count": 40, "delivery_mode": "pickup"}))
        .send()
        .await
        .unwrap();
    assert_eq!(need.status(), 201);
    let pledge = money_pledge(&f, "1000", json!({"categories": ["protective"]})).await;
    let plan = body(
        app.post("/api/v1/plans", Some(&f.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let plan_id = plan["id"].as_i64().unwrap();
    let confirmed = app
        .post(
            &format!("/api/v1/plans/{plan_id}/confirm"),
            Some(&f.hub.token),
        )
        .header("Idempotency-Key", "confirm")
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let full = body(
        app.get(&format!("/api/v1/plans/{plan_id}"), Some(&f.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(full["lines"][0]["quantity"], 500, "{full}");
    assert_eq!(full["lines"][0]["cost"], "400.00");
    let allocation: i64 = sqlx::query_scalar("SELECT id FROM allocations WHERE plan_id = $1")
        .bind(plan_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();

    // The supplier delivers to the warehouse: the units arrive held for the allocation.
    let warehouse = body(
        app.post("/api/v1/locations", Some(&f.hub.token))
            .json(&json!({"kind": "warehouse", "name_zh": "枢纽仓库", "district": "江汉区"}))
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let arrived = post(&f, "/api/v1/stock-movements", &f.hub.token,
        json!({"kind": "receive", "allocation_id": allocation, "location_id": warehouse, "quantity": 500})).await;
    assert_eq!(arrived.status(), 201);
    let more = post(&f, "/api/v1/stock-movements", &f.hub.token,
        json!({"kind": "receive", "allocation_id": allocation, "location_id": warehouse, "quantity": 1})).await;
    assert_eq!(
        expect_problem(more, 422, "validation").await["errors"][0]["field"],
        "quantity"
    );
    let stock = body(
        app.get(&format!("/api/v1/stock?item_id={mask}"), Some(&f.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(stock[0]["reserved"], 500);
    assert_eq!(stock[0]["available"], 0);

    // The foundation receives the gift and pays the supplier for exactly that allocation.
    let p = create_project(
        &f,
        &json!({"name_zh": "口罩采购", "starts_on": "2026-01-01", "ends_on": "2026-12-31",
        "budget_lines": [{"category": "防护用品类", "amount": "1000"}]}),
    )
    .await;
    let id = p["id"].as_i64().unwrap();
    created(
        post(
            &f,
            "/api/v1/receipts",
            &f.staff.token,
            json!({"project_id": id, "pledge_id": pledge, "amount": "1000"}),
        )
        .await,
    )
    .await;
    let purchase = json!({"project_id": id, "budget_line_id": line_id(&p, 1), "kind": "purchase", "fund": format!("pledge:{pledge}"),
                          "payee": "口罩厂", "supplier_id": supplier.orgs[0], "allocation_ids": [allocation]});
    let paid = created(
        post(
            &f,
            "/api/v1/disbursements",
            &f.staff.token,
            purchase.clone(),
        )
        .await,
    )
    .await;
    assert_eq!(paid["amount"], "400.00");
    let twice = post(&f, "/api/v1/disbursements", &f.staff.token, purchase).await;
    expect_problem(twice, 409, "already_paid").await;
    let ledger = body(
        app.get(
            &format!("/api/v1/ledger?project_id={id}"),
            Some(&f.staff.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let payable = ledger["trial_balance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == format!("payable:{}", supplier.orgs[0]))
        .cloned()
        .unwrap();
    assert_eq!(payable["debit"], "400.00");
    assert_eq!(payable["balance_fen"], 0);
    books_are_sound(app, &f.admin).await;
}
