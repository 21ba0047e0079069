//! The ledgers through the pages, as people use them: the hub receives goods and prepares the
//! day's runs on the stock and dispatch pages and sends a run out; the community secretary
//! confirms receipt on a phone-sized form; foundation staff open a project and record money in
//! and out. In Chinese by default and in English.

use serde_json::json;
use weave::auth::Role;

use crate::{
    common::{self, hidden_value, submit, TestApp},
    stock::{goods_pledge, held, keyed, stock_world},
};

/// A page that must answer 200.
async fn page(browser: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let (status, text) = common::page(browser, app, path).await;
    assert_eq!(status, 200, "{path}");
    text
}

fn location_of(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_and_community_run_the_daily_cycle_on_the_pages() {
    let s = stock_world().await;
    let app = &s.app;
    let pledge = goods_pledge(&s, s.mask, 200).await;
    let need = app
        .post("/api/v1/needs", Some(&s.secretary.token))
        .json(&json!({"community_id": s.community, "item_id": s.mask, "quantity": 120, "urgency": "critical",
                      "beneficiary_group": "elders_living_alone", "beneficiary_count": 12, "delivery_mode": "home_delivery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(need.status(), 201);

    let hub = app.browser();
    app.sign_in(&hub, &s.hub.email, &s.hub.password).await;
    let stock = page(&hub, app, "/stock").await;
    assert!(stock.contains("入库（捐赠物资）"));
    let csrf = hidden_value(&stock, "csrf");
    let key = hidden_value(&stock, "key");
    let (pledge_text, warehouse) = (pledge.to_string(), s.warehouse.to_string());
    let received = submit(
        &hub,
        app,
        "/stock/movements",
        &[
            ("csrf", &csrf),
            ("key", &key),
            ("kind", "receive"),
            ("pledge_id", &pledge_text),
            ("location_id", &warehouse),
            ("quantity", "200"),
            ("expires_on", "2026-12-10"),
        ],
    )
    .await;
    assert_eq!(received.status(), 303);
    let lot_page = page(&hub, app, &location_of(&received)).await;
    assert!(lot_page.contains("入库"), "{lot_page}");
    // Lots nearing expiry show on the stock page.
    let stock = page(&hub, app, "/stock").await;
    assert!(stock.contains("2026-12-10"));

    // Matching and confirming hold 120 for the need; the dispatch page prepares the run.
    let plan = crate::common::body(
        app.post("/api/v1/plans", Some(&s.hub.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let confirm = app
        .post(
            &format!("/api/v1/plans/{}/confirm", plan["id"]),
            Some(&s.hub.token),
        )
        .header("Idempotency-Key", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let dispatch = page(&hub, app, "/dispatch?date=2026-11-24").await;
    assert!(dispatch.contains("需求截止 16:00"), "{dispatch}");
    assert!(dispatch.contains("配送 13:00–16:00"));
    let key = hidden_value(&dispatch, "key");
    let prepared = submit(
        &hub,
        app,
        "/dispatch",
        &[("csrf", &csrf), ("key", &key), ("date", "2026-11-24")],
    )
    .await;
    assert_eq!(prepared.status(), 303);
    let dispatch = page(&hub, app, &location_of(&prepared)).await;
    assert!(dispatch.contains("拣货单"));
    assert!(dispatch.contains("送货上门"), "{dispatch}");
    let run: i64 = sqlx::query_scalar("SELECT id FROM deliveries")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let sent = submit(
        &hub,
        app,
        &format!("/deliveries/{run}/dispatch"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(held(&s, s.mask, s.warehouse).await, (80, 0, 120));

    // The secretary confirms on the run page: 118 arrived, 2 damaged.
    let phone = app.browser();
    let secretary_csrf = app
        .sign_in(&phone, &s.secretary.email, &s.secretary.password)
        .await;
    let run_page = page(&phone, app, &format!("/deliveries/{run}")).await;
    assert!(run_page.contains("确认收货"));
    let line: i64 = sqlx::query_scalar("SELECT id FROM delivery_lines")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let (received_field, damaged_field) = (format!("received_{line}"), format!("damaged_{line}"));
    let confirmed = submit(
        &phone,
        app,
        &format!("/deliveries/{run}/receipt"),
        &[
            ("csrf", &secretary_csrf),
            (&received_field, "118"),
            (&damaged_field, "2"),
            ("note", "两个破损"),
        ],
    )
    .await;
    assert_eq!(confirmed.status(), 303);
    let run_page = page(&phone, app, &format!("/deliveries/{run}")).await;
    assert!(run_page.contains("社区已确认"), "{run_page}");
    assert_eq!(held(&s, s.mask, s.warehouse).await, (80, 0, 0));

    // In English too.
    hub.get(app.url("/lang/en?next=/stock"))
        .send()
        .await
        .unwrap();
    let stock = page(&hub, app, "/stock").await;
    assert!(stock.contains("Lots expiring within 30 days"), "{stock}");
    let dispatch = page(&hub, app, "/dispatch?date=2026-11-24").await;
    assert!(dispatch.contains("Needs cut-off 16:00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_staff_keep_a_project_on_the_pages() {
    let app = TestApp::new().await;
    let staff = app.user(Role::FoundationStaff).await;
    let donor = app.user(Role::Donor).await;
    let browser = app.browser();
    let csrf = app.sign_in(&browser, &staff.email, &staff.password).await;
    let list = page(&browser, &app, "/projects").await;
    assert!(list.contains("新建项目"));
    let created = submit(
        &browser,
        &app,
        "/projects",
        &[
            ("csrf", &csrf),
            ("name_zh", "社区防疫物资项目"),
            ("name_en", "Community protection"),
            ("starts_on", "2026-11-01"),
            ("ends_on", "2027-01-31"),
            ("direct_beneficiaries", "798"),
        ],
    )
    .await;
    assert_eq!(created.status(), 303);
    let path = location_of(&created);
    let id = path.rsplit('/').next().unwrap().to_owned();
    let added = submit(
        &browser,
        &app,
        &format!("/projects/{id}/budget-lines"),
        &[
            ("csrf", &csrf),
            ("category", "孤寡、残疾、独居老人餐费"),
            ("unit_price", "30"),
            ("quantity", "1000"),
            ("unit", "份"),
            ("amount", "30000"),
        ],
    )
    .await;
    assert_eq!(added.status(), 303);
    let pledge = keyed(
        &app,
        "/api/v1/pledges",
        &staff.token,
        &json!({"donor_id": donor.orgs[0], "kind": "money", "amount": "20000"}),
    )
    .await;
    let pledge = crate::common::body(pledge).await["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let project = page(&browser, &app, &path).await;
    let key = hidden_value(&project, "key");
    let receipt_key = format!("{key}-r");
    let received = submit(
        &browser,
        &app,
        &format!("/projects/{id}/receipts"),
        &[
            ("csrf", &csrf),
            ("key", &receipt_key),
            ("pledge_id", &pledge),
            ("amount", "20000"),
        ],
    )
    .await;
    assert_eq!(received.status(), 303);
    let line: i64 = sqlx::query_scalar("SELECT id FROM budget_lines")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let line = line.to_string();
    let pay_key = format!("{key}-d");
    let payment = [
        ("csrf", csrf.as_str()),
        ("key", &pay_key),
        ("budget_line_id", &line),
        ("kind", "other"),
        ("fund", "general"),
        ("payee", "爱心餐厅"),
        ("amount", "9000"),
        ("headcount", ""),
    ];
    let paid = submit(
        &browser,
        &app,
        &format!("/projects/{id}/disbursements"),
        &payment,
    )
    .await;
    assert_eq!(paid.status(), 303);
    // The same form sent twice pays once.
    let again = submit(
        &browser,
        &app,
        &format!("/projects/{id}/disbursements"),
        &payment,
    )
    .await;
    assert_eq!(again.status(), 303);
    assert_eq!(app.count("disbursements").await, 1);
    let project = page(&browser, &app, &path).await;
    assert!(project.contains("¥21000.00"), "{project}");
    assert!(project.contains("爱心餐厅"));
    let ledger = page(&browser, &app, &format!("/projects/{id}/ledger")).await;
    assert!(ledger.contains("试算平衡"));
    assert!(ledger.contains("cash:general"));
    browser
        .get(app.url(&format!("/lang/en?next={path}")))
        .send()
        .await
        .unwrap();
    let project = page(&browser, &app, &path).await;
    assert!(project.contains("Budget lines"));
    assert!(project.contains("Community protection"));
}
