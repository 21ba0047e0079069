//! A whole project replayed through the API — goods and money pledged, received, matched,
//! bought, delivered with a shortfall, subsidies and transport paid, the budget adjusted —
//! and then every figure of the closing report (page, workbook, CSV), of the donor feedback
//! and of the public page checked to the unit and the fen.

use calamine::Reader;
use serde_json::{json, Value};
use weave::auth::Role;

use crate::{
    common::{body, expect_problem, TestUser},
    stock::{goods_pledge_with, keyed, receive, stock_world, Stock},
};

const PROJECT: &str = "社区防疫应急项目";

struct Replay {
    s: Stock,
    staff: TestUser,
    project: i64,
    goods: i64,
    general: i64,
    restricted: i64,
}

async fn ok(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let value = body(response).await;
    assert_eq!(got, status, "{value}");
    value
}

async fn need(s: &Stock, quantity: i64, urgency: &str, group: &str, count: i64, mode: &str) -> i64 {
    let response = s
        .app
        .post("/api/v1/needs", Some(&s.secretary.token))
        .json(&json!({"community_id": s.community, "item_id": s.mask, "quantity": quantity, "urgency": urgency,
                      "beneficiary_group": group, "beneficiary_count": count, "delivery_mode": mode}))
        .send()
        .await
        .unwrap();
    ok(response, 201).await["id"].as_i64().unwrap()
}

async fn replay() -> Replay {
    let s = stock_world().await;
    let staff = s.app.user(Role::FoundationStaff).await;
    let supplier = s.app.user(Role::Supplier).await;
    let project = ok(
        s.app
            .post("/api/v1/projects", Some(&staff.token))
            .json(&json!({"name_zh": PROJECT, "name_en": "Community emergency", "implementers": "江汉区社区支持枢纽",
                "funders": "汉口商会", "area": "武汉市江汉区", "starts_on": "2026-11-01", "ends_on": "2027-01-31",
                "goals": "送口罩和补贴", "direct_beneficiaries": 100,
                "budget_lines": [{"category": "防护用品", "amount": "1000"}, {"category": "志愿者补贴", "amount": "5000"},
                                 {"category": "交通费", "amount": "500"}],
                "indicators": [{"name": "送防疫包", "target": 10, "unit": "户"}]}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let project_id = project["id"].as_i64().unwrap();
    let line = |i: usize| project["budget_lines"][i]["id"].as_i64().unwrap();
    let donor = s.donor.orgs[0];

    let goods = goods_pledge_with(&s, s.mask, 300, json!({"project": PROJECT})).await;
    receive(&s, goods, s.warehouse, 300, "2027-05-01").await;
    let (app, token) = (&s.app, &staff.token);
    let money = |amount: &str, earmark: Value| {
        let input =
            json!({"donor_id": donor, "kind": "money", "amount": amount, "earmark": earmark});
        async move { keyed(app, "/api/v1/pledges", token, &input).await }
    };
    let general = ok(money("2000", json!({})).await, 201).await["id"]
        .as_i64()
        .unwrap();
    let restricted = ok(
        money(
            "3000",
            json!({"project": PROJECT, "groups": ["volunteers"], "categories": ["subsidy"]}),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    for (pledge, amount) in [(general, "2000"), (restricted, "3000")] {
        ok(
            keyed(
                &s.app,
                "/api/v1/receipts",
                &staff.token,
                &json!({"project_id": project_id, "pledge_id": pledge, "amount": amount}),
            )
            .await,
            201,
        )
        .await;
    }
    ok(
        s.app
            .post("/api/v1/supplier-offers", Some(&s.hub.token))
            .json(
                &json!({"supplier_id": supplier.orgs[0], "item_id": s.mask, "unit_price": "0.80",
                          "weekly_capacity": 5000, "lead_days": 1, "valid_from": "2020-01-01"}),
            )
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;

    // 200 for elders living alone (home delivery), 200 for residents (pickup): the 300 masks
    // serve the elders first, the money buys the last 100.
    need(
        &s,
        200,
        "critical",
        "elders_living_alone",
        60,
        "home_delivery",
    )
    .await;
    need(&s, 200, "high", "residents", 40, "pickup").await;
    let plan = ok(
        s.app
            .post("/api/v1/plans", Some(&s.hub.token))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(plan["allocated"], 400, "{plan}");
    let plan_id = plan["id"].as_i64().unwrap();
    let confirmed = s
        .app
        .post(
            &format!("/api/v1/plans/{plan_id}/confirm"),
            Some(&s.hub.token),
        )
        .header("Idempotency-Key", "confirm")
        .send()
        .await
        .unwrap();
    ok(confirmed, 200).await;
    let purchase: i64 = sqlx::query_scalar("SELECT id FROM allocations WHERE offer_id IS NOT NULL")
        .fetch_one(s.app.db.pool())
        .await
        .unwrap();
    ok(keyed(&s.app, "/api/v1/stock-movements", &s.hub.token,
        &json!({"kind": "receive", "allocation_id": purchase, "location_id": s.warehouse, "quantity": 100})).await, 201).await;

    let day = ok(
        keyed(
            &s.app,
            "/api/v1/dispatch",
            &s.hub.token,
            &json!({"date": "2026-11-24"}),
        )
        .await,
        201,
    )
    .await;
    for run in day["runs"].as_array().unwrap() {
        let id = run["id"].as_i64().unwrap();
        ok(
            s.app
                .post(
                    &format!("/api/v1/deliveries/{id}/dispatch"),
                    Some(&s.hub.token),
                )
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        let receipt = if run["mode"] == "home_delivery" {
            json!({"lines": [{"line_id": run["lines"][0]["id"], "received": 198, "damaged": 2}]})
        } else {
            json!({})
        };
        ok(
            s.app
                .post(
                    &format!("/api/v1/deliveries/{id}/receipt"),
                    Some(&s.secretary.token),
                )
                .json(&receipt)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
    }

    let pay =
        |input: Value| async move { keyed(app, "/api/v1/disbursements", token, &input).await };
    ok(pay(json!({"project_id": project_id, "budget_line_id": line(0), "kind": "purchase", "fund": "general",
        "payee": "口罩厂", "supplier_id": supplier.orgs[0], "allocation_ids": [purchase]})).await, 201).await;
    ok(pay(json!({"project_id": project_id, "budget_line_id": line(1), "kind": "subsidy", "fund": format!("pledge:{restricted}"),
        "payee": "志愿者", "paid_on": "2026-11-30",
        "subsidy": {"beneficiary_group": "volunteers", "headcount": 10, "rate": "50", "days": 4}})).await, 201).await;
    ok(pay(json!({"project_id": project_id, "budget_line_id": line(2), "kind": "transport", "fund": "general",
        "amount": "120.50", "payee": "志愿车队"})).await, 201).await;
    ok(keyed(&s.app, "/api/v1/budget-adjustments", &staff.token,
        &json!({"project_id": project_id, "from_line_id": line(2), "to_line_id": line(0), "amount": "300",
                "reason": "交通费结余调整为防护用品"})).await, 201).await;
    let indicator = project["indicators"][0]["id"].as_i64().unwrap();
    let updated = s
        .app
        .client
        .patch(s.app.url(&format!(
            "/api/v1/projects/{project_id}/indicators/{indicator}"
        )))
        .bearer_auth(&staff.token)
        .json(&json!({"achieved": 12}))
        .send()
        .await
        .unwrap();
    ok(updated, 200).await;
    Replay {
        s,
        staff,
        project: project_id,
        goods,
        general,
        restricted,
    }
}

async fn csv_rows(r: &Replay, table: &str, lang: &str) -> Vec<Vec<String>> {
    let response =
        r.s.app
            .get(
                &format!(
                    "/api/v1/projects/{}/closing-report?format=csv&table={table}&lang={lang}",
                    r.project
                ),
                Some(&r.staff.token),
            )
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().await.unwrap();
    let text = text.trim_start_matches('\u{feff}');
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == first || r.get(1).is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closing_report_reconciles_with_the_ledgers_to_the_fen() {
    let r = replay().await;

    let facts = csv_rows(&r, "facts", "zh-CN").await;
    assert_eq!(row(&facts, "预算")[1], "6500.00");
    assert_eq!(row(&facts, "已到账")[1], "5000.00");
    assert_eq!(row(&facts, "已支出")[1], "2200.50");
    assert_eq!(row(&facts, "送达数量")[1], "398");
    assert_eq!(row(&facts, "服务人数")[1], "100");

    let budget = csv_rows(&r, "budget", "zh-CN").await;
    assert_eq!(
        row(&budget, "防护用品")[4..],
        ["1000.00", "300.00", "0.00", "1300.00", "80.00", "1220.00"]
    );
    assert_eq!(
        row(&budget, "志愿者补贴")[4..],
        ["5000.00", "0.00", "0.00", "5000.00", "2000.00", "3000.00"]
    );
    assert_eq!(
        row(&budget, "交通费")[4..],
        ["500.00", "0.00", "300.00", "200.00", "120.50", "79.50"]
    );
    assert_eq!(
        row(&budget, "合计")[4..],
        ["6500.00", "300.00", "300.00", "6500.00", "2200.50", "4299.50"]
    );

    let services = csv_rows(&r, "services", "zh-CN").await;
    // The pickup need arrived whole; the home delivery lost 2 units and asks for them again.
    assert_eq!(row(&services, "防护用品")[1..], ["1", "398"]);
    let communities = csv_rows(&r, "communities", "zh-CN").await;
    assert_eq!(communities.len(), 1);
    assert_eq!(communities[0][2..], ["2", "398"]);
    let groups = csv_rows(&r, "groups", "zh-CN").await;
    assert_eq!(row(&groups, "独居长者")[1..], ["1", "60"]);
    assert_eq!(row(&groups, "普通居民")[1..], ["1", "40"]);
    let adjustments = csv_rows(&r, "adjustments", "zh-CN").await;
    assert_eq!(
        adjustments[0][..4],
        ["交通费", "防护用品", "300.00", "交通费结余调整为防护用品"]
    );
    let indicators = csv_rows(&r, "indicators", "zh-CN").await;
    assert_eq!(indicators[0][3..], ["12", "120.0%"]);
    let funding = csv_rows(&r, "funding", "zh-CN").await;
    let received: i64 = funding
        .iter()
        .map(|f| f[3].replace('.', "").parse::<i64>().unwrap())
        .sum();
    assert_eq!(received, 500_000);
    let subsidies = csv_rows(&r, "subsidies", "zh-CN").await;
    assert_eq!(subsidies[0], ["志愿者", "50.00", "1", "40", "2000.00"]);

    // The workbook: one sheet per table, numbers as numbers.
    let response =
        r.s.app
            .get(
                &format!("/api/v1/projects/{}/closing-report?format=xlsx", r.project),
                Some(&r.staff.token),
            )
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let mut book =
        calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "facts",
            "services",
            "communities",
            "groups",
            "budget",
            "adjustments",
            "indicators",
            "funding",
            "subsidies"
        ]
    );
    let sheet = book.worksheet_range("budget").unwrap();
    let total = sheet.rows().next_back().unwrap().to_vec();
    assert_eq!(total[4], calamine::Data::Float(6500.0));
    assert_eq!(total[8], calamine::Data::Float(2200.5));
    let sheet = book.worksheet_range("indicators").unwrap();
    assert_eq!(sheet.rows().nth(1).unwrap()[4], calamine::Data::Float(1.2));

    // The page: print-ready, with the two charts drawn as SVG; in English on request.
    let html =
        r.s.app
            .get(
                &format!("/api/v1/projects/{}/closing-report", r.project),
                Some(&r.staff.token),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(html.contains("结项报告"));
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "spending and deliveries charts"
    );
    assert!(html.contains("80 / 1,300"), "bar labels: spent / budget");
    let english = csv_rows(&r, "budget", "en").await;
    assert_eq!(row(&english, "Total")[9], "4299.50");
    let html =
        r.s.app
            .get(
                &format!("/api/v1/projects/{}/closing-report?lang=en", r.project),
                Some(&r.staff.token),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(html.contains("Spending and budget by line"));
    let bad =
        r.s.app
            .get(
                &format!(
                    "/api/v1/projects/{}/closing-report?format=csv&table=nope",
                    r.project
                ),
                Some(&r.staff.token),
            )
            .send()
            .await
            .unwrap();
    assert_eq!(
        expect_problem(bad, 422, "validation").await["errors"][0]["field"],
        "table"
    );
    let refused =
        r.s.app
            .get(
                &format!("/api/v1/projects/{}/closing-report", r.project),
                Some(&r.s.donor.token),
            )
            .send()
            .await
            .unwrap();
    expect_problem(refused, 403, "forbidden").await;

    // The public page: totals only, for anyone.
    let public = ok(
        r.s.app
            .get(&format!("/api/v1/public/projects/{}", r.project), None)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(public["raised"], "5000.00");
    assert_eq!(public["spent"], "2200.50");
    assert_eq!(public["delivered"][0]["units"], 398);
    assert_eq!(public["communities_reached"], 1);
    let page =
        r.s.app
            .get(&format!("/public/projects/{}", r.project), None)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(page.contains("¥5000.00") && page.contains("本页不含任何个人信息"));
    assert!(!page.contains(&r.s.secretary.email));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donors_see_what_each_gift_did_and_may_share_it() {
    let r = replay().await;
    let feedback = |pledge: i64, token: String| {
        let app = &r.s.app;
        async move {
            app.get(&format!("/api/v1/pledges/{pledge}/feedback"), Some(&token))
                .send()
                .await
                .unwrap()
        }
    };
    let goods = ok(feedback(r.goods, r.s.donor.token.clone()).await, 200).await;
    assert_eq!(goods["communities"], 1);
    assert_eq!(
        goods["units_allocated"], 298,
        "2 damaged are no longer allocated"
    );
    assert_eq!(goods["units_delivered"], 298);
    assert_eq!(goods["beneficiaries"], 100);
    assert_eq!(goods["deliveries"].as_array().unwrap().len(), 2);

    let general = ok(feedback(r.general, r.s.donor.token.clone()).await, 200).await;
    let money = &general["money"];
    assert_eq!(money["received"], "2000.00");
    assert_eq!(money["pooled"], true);
    assert_eq!(money["spent_total"], "200.50");
    assert_eq!(money["balance"], "1799.50");
    assert_eq!(general["reached"][0]["cost"], "80.00");
    assert_eq!(general["units_delivered"], 100);

    let restricted = ok(feedback(r.restricted, r.s.donor.token.clone()).await, 200).await;
    assert_eq!(restricted["money"]["spent"][0]["budget_line"], "志愿者补贴");
    assert_eq!(restricted["money"]["spent"][0]["amount"], "2000.00");
    assert_eq!(restricted["money"]["balance"], "1000.00");

    let all = ok(
        r.s.app
            .get(
                &format!("/api/v1/donors/{}/feedback", r.s.donor.orgs[0]),
                Some(&r.s.donor.token),
            )
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(all["gifts"].as_array().unwrap().len(), 3);
    assert_eq!(all["money_given"], "5000.00");
    // Another donor finds nothing.
    let stranger = r.s.app.user(Role::Donor).await;
    expect_problem(
        feedback(r.goods, stranger.token.clone()).await,
        404,
        "not_found",
    )
    .await;

    // A share link opens the gift's page for anyone, until revoked.
    let link = ok(
        r.s.app
            .post(
                &format!("/api/v1/pledges/{}/share-links", r.general),
                Some(&r.s.donor.token),
            )
            .json(&json!({"expires_in_days": 7}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let url = link["url"].as_str().unwrap();
    let path = &url[url.find("/shared/").unwrap()..];
    assert!(path.len() > "/shared/".len() + 40, "an unguessable token");
    let public = r.s.app.get(path, None).send().await.unwrap();
    assert_eq!(public.status(), 200);
    let text = public.text().await.unwrap();
    assert!(text.contains("¥1799.50"), "{text}");
    let listed = ok(
        r.s.app
            .get(
                &format!("/api/v1/pledges/{}/share-links", r.general),
                Some(&r.s.donor.token),
            )
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed[0]["active"], true);
    assert!(listed[0]["url"].is_null(), "the token is never shown again");
    let id = link["id"].as_i64().unwrap();
    expect_problem(
        r.s.app
            .post(
                &format!("/api/v1/share-links/{id}/revoke"),
                Some(&stranger.token),
            )
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    ok(
        r.s.app
            .post(
                &format!("/api/v1/share-links/{id}/revoke"),
                Some(&r.s.donor.token),
            )
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(r.s.app.get(path, None).send().await.unwrap().status(), 404);
    // An expired link opens nothing either.
    let other = ok(
        r.s.app
            .post(
                &format!("/api/v1/pledges/{}/share-links", r.goods),
                Some(&r.s.donor.token),
            )
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    sqlx::query("UPDATE share_links SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(other["id"].as_i64().unwrap())
        .execute(r.s.app.db.pool())
        .await
        .unwrap();
    let url = other["url"].as_str().unwrap();
    assert_eq!(
        r.s.app
            .get(&url[url.find("/shared/").unwrap()..], None)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let too_long =
        r.s.app
            .post(
                &format!("/api/v1/pledges/{}/share-links", r.goods),
                Some(&r.s.donor.token),
            )
            .json(&json!({"expires_in_days": 1000}))
            .send()
            .await
            .unwrap();
    assert_eq!(
        expect_problem(too_long, 422, "validation").await["errors"][0]["field"],
        "expires_in_days"
    );
}
