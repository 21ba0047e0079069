//! Search, the same suite against both backends: the embedded index always, and Meilisearch
//! when `WEAVE_TEST_MEILI_URL` points at a real server (skipped with a notice otherwise).
//! Chinese words and single characters, mixed text, typos, prefixes, filters, pages,
//! permissions, changes found at once; and the service answering from the embedded index
//! while Meilisearch is down.

use serde_json::{json, Value};
use weave::{app::AppState, auth::Role};

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem, TestApp, TestUser},
    stock::keyed,
};

struct World {
    app: TestApp,
    hub: TestUser,
    secretary: TestUser,
    donor_a: TestUser,
    donor_b: TestUser,
    supplier: TestUser,
    need: i64,
    /// Set for the Meilisearch run: the state whose sync sends changes before each query.
    meili: Option<(AppState, String)>,
}

impl World {
    async fn find(&self, token: Option<&str>, query: &str) -> Value {
        if let Some((state, url)) = &self.meili {
            weave::search::meili::sync(state, url)
                .await
                .expect("Meilisearch sync");
        }
        let response = self
            .app
            .get(&format!("/api/v1/search?{query}"), token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let value = body(response).await;
        assert_eq!(status, 200, "{query}: {value}");
        value
    }

    async fn kinds(&self, token: Option<&str>, q: &str) -> Vec<String> {
        let found = self
            .find(token, &format!("q={}&per_page=50", urlencode(q)))
            .await;
        let mut kinds: Vec<String> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["kind"].as_str().unwrap().to_owned())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    async fn titles(&self, token: Option<&str>, query: &str) -> Vec<String> {
        self.find(token, query).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["title"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn world(app: TestApp, meili: Option<(AppState, String)>) -> World {
    let hub = app.user(Role::HubCoordinator).await;
    let secretary = app.user(Role::CommunitySecretary).await;
    let donor_a = app.user(Role::Donor).await;
    let donor_b = app.user(Role::Donor).await;
    let supplier = app.user(Role::Supplier).await;
    sqlx::query(
        "UPDATE organisations SET name_zh = '多闻社区', name_en = 'Duowen Community' WHERE id = $1",
    )
    .bind(secretary.orgs[0])
    .execute(app.db.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE organisations SET name_zh = '汉口商会', name_en = 'Hankou Chamber of Commerce' WHERE id = $1")
        .bind(donor_b.orgs[0])
        .execute(app.db.pool())
        .await
        .unwrap();
    let mask = create_item(&app, &hub.token, &mask_json()).await;
    create_item(
        &app,
        &hub.token,
        &json!({"code": "disinfectant_84", "name_zh": "84消毒液", "name_en": "84 disinfectant",
        "category": "disinfection", "unit_zh": "瓶"}),
    )
    .await;
    create_item(
        &app,
        &hub.token,
        &json!({"code": "n95", "name_zh": "N95口罩", "name_en": "N95 respirator",
        "category": "protective", "unit_zh": "个"}),
    )
    .await;
    let need = body(
        app.post("/api/v1/needs", Some(&secretary.token))
            .json(&json!({"community_id": secretary.orgs[0], "item_id": mask, "quantity": 300, "urgency": "critical",
                          "beneficiary_group": "elders_living_alone", "beneficiary_count": 60,
                          "delivery_mode": "home_delivery", "note": "楼栋长代领"}))
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    for (donor, input) in [
        (
            &donor_a,
            json!({"donor_id": donor_a.orgs[0], "kind": "goods", "item_id": mask, "quantity": 500}),
        ),
        (
            &donor_b,
            json!({"donor_id": donor_b.orgs[0], "kind": "money", "amount": "20000"}),
        ),
    ] {
        assert_eq!(
            keyed(&app, "/api/v1/pledges", &donor.token, &input)
                .await
                .status(),
            201
        );
    }
    let offer = app
        .post("/api/v1/supplier-offers", Some(&supplier.token))
        .json(&json!({"supplier_id": supplier.orgs[0], "item_id": mask, "unit_price": "1.10", "weekly_capacity": 2000,
                      "lead_days": 1, "valid_from": "2020-01-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(offer.status(), 201);
    World {
        app,
        hub,
        secretary,
        donor_a,
        donor_b,
        supplier,
        need,
        meili,
    }
}

/// The suite both backends pass.
async fn suite(w: &World) {
    let hub = Some(w.hub.token.as_str());
    // Chinese as a Chinese reader expects: words, single characters, mixed text.
    assert_eq!(
        w.kinds(hub, "口罩").await,
        ["item", "need", "offer", "pledge"]
    );
    assert_eq!(
        w.kinds(hub, "罩").await,
        ["item", "need", "offer", "pledge"]
    );
    assert_eq!(
        w.titles(hub, "q=%E6%B6%88%E6%AF%92").await,
        ["84消毒液"],
        "消毒"
    );
    assert_eq!(w.kinds(hub, "独居").await, ["need"]);
    assert_eq!(
        w.titles(hub, &format!("q={}", urlencode("N95口罩"))).await,
        ["N95口罩"]
    );
    // Latin: a typo, and a name by its prefix while typing.
    assert_eq!(w.titles(hub, "q=disinfectnt").await, ["84消毒液"]);
    assert_eq!(
        w.titles(hub, "q=Duow&kind=organisation").await,
        ["多闻社区"]
    );
    // Filters and pages.
    let needs = w
        .find(
            hub,
            &format!(
                "q={}&kind=need&status=open&district={}",
                urlencode("口罩"),
                urlencode("江汉区")
            ),
        )
        .await;
    assert_eq!(needs["total"], 1);
    assert_eq!(needs["items"][0]["id"], w.need);
    assert_eq!(needs["items"][0]["link"], format!("/needs/{}", w.need));
    assert!(needs["items"][0]["snippet"]
        .as_str()
        .unwrap()
        .contains("口罩"));
    let none = w
        .find(
            hub,
            &format!("q={}&kind=need&status=cancelled", urlencode("口罩")),
        )
        .await;
    assert_eq!(none["total"], 0);
    let protective = w
        .find(
            hub,
            &format!("q={}&kind=item&category=protective", urlencode("口罩")),
        )
        .await;
    assert_eq!(protective["total"], 2);
    let page2 = w
        .find(hub, &format!("q={}&per_page=2&page=2", urlencode("口罩")))
        .await;
    assert_eq!(page2["page"], 2);
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert!(page2["total"].as_i64().unwrap() >= 4);

    // Permissions: a donor finds their own pledge, never another donor's; a supplier its own
    // offers; the public nothing private.
    let a = Some(w.donor_a.token.as_str());
    assert_eq!(w.kinds(a, "口罩").await, ["item", "need", "pledge"]);
    assert!(
        w.find(a, &format!("q={}&kind=pledge", urlencode("汉口商会")))
            .await["total"]
            == 0
    );
    let b = Some(w.donor_b.token.as_str());
    assert_eq!(
        w.find(b, &format!("q={}&kind=pledge", urlencode("汉口商会")))
            .await["total"],
        1
    );
    assert_eq!(w.kinds(b, "口罩").await, ["item", "need"]);
    assert_eq!(
        w.kinds(Some(w.supplier.token.as_str()), "口罩").await,
        ["item", "need", "offer"]
    );
    assert_eq!(w.kinds(None, "口罩").await, ["item"]);
    assert_eq!(w.kinds(None, "多闻").await, ["organisation"]);

    // A change is found at once: the need is cancelled.
    let cancel = w
        .app
        .post(
            &format!("/api/v1/needs/{}/status", w.need),
            Some(&w.secretary.token),
        )
        .json(&json!({"status": "cancelled", "reason": "已由街道送达"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let cancelled = w
        .find(
            hub,
            &format!("q={}&kind=need&status=cancelled", urlencode("口罩")),
        )
        .await;
    assert_eq!(
        cancelled["total"], 1,
        "the status change is searchable at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_what_a_reader_may_see_in_the_embedded_index() {
    let w = world(TestApp::new().await, None).await;
    suite(&w).await;
    let found = w.find(Some(&w.hub.token), "q=%E5%8F%A3%E7%BD%A9").await;
    assert_eq!(found["backend"], "embedded");
    // Suggestions as you type, and bad input.
    let suggestions = body(
        w.app
            .get(
                &format!("/api/v1/search/suggest?q={}", urlencode("多闻")),
                Some(&w.hub.token),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(suggestions[0]["title"], "多闻社区");
    let english = body(
        w.app
            .get("/api/v1/search/suggest?q=Duo", Some(&w.hub.token))
            .header("accept-language", "en")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(english[0]["title"], "Duowen Community");
    let long = "口".repeat(201);
    let problem = expect_problem(
        w.app
            .get(&format!("/api/v1/search?q={}", urlencode(&long)), None)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "q");
    let bad_kind = w
        .app
        .get("/api/v1/search?q=x&kind=person", None)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_problem(bad_kind, 422, "validation").await["errors"][0]["field"],
        "kind"
    );
    // The page: a search box on every page, results without JavaScript.
    let home = w
        .app
        .client
        .get(w.app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("action=\"/search\"") && home.contains("/static/app.js"));
    let page = w
        .app
        .client
        .get(w.app.url(&format!("/search?q={}", urlencode("口罩"))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("一次性医用口罩") && page.contains("找到 2 条结果"),
        "{page}"
    );
    let script = w
        .app
        .client
        .get(w.app.url("/static/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_the_same_in_meilisearch() {
    let Some(url) = std::env::var("WEAVE_TEST_MEILI_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("NOTICE: WEAVE_TEST_MEILI_URL is not set; the Meilisearch run of the search suite is skipped");
        return;
    };
    let index = format!("weave_test_{}", uuid::Uuid::new_v4().simple());
    let (u, i) = (url.clone(), index.clone());
    let app = TestApp::builder()
        .settings(move |s| {
            s.meili_url = Some(u);
            s.meili_index = i;
        })
        .build()
        .await;
    let (u, i) = (url.clone(), index.clone());
    let state = app
        .replica(move |s| {
            s.meili_url = Some(u);
            s.meili_index = i;
        })
        .await;
    let w = world(app, Some((state, url))).await;
    suite(&w).await;
    let found = w.find(Some(&w.hub.token), "q=%E5%8F%A3%E7%BD%A9").await;
    assert_eq!(found["backend"], "meilisearch");
    // `weave search reindex` rebuilds the whole index from the database.
    let (state, url) = w.meili.as_ref().unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let total = weave::search::meili::reindex(state, url, &|done, total| {
        seen.lock().unwrap().push((done, total))
    })
    .await
    .unwrap();
    assert!(total >= 10, "{total}");
    assert_eq!(seen.lock().unwrap().last(), Some(&(total, total)));
    assert_eq!(
        w.kinds(Some(&w.hub.token), "口罩").await,
        ["item", "need", "offer", "pledge"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_from_the_embedded_index_while_meilisearch_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::builder()
        .settings(move |s| s.meili_url = Some(format!("http://127.0.0.1:{port}")))
        .build()
        .await;
    let w = world(app, None).await;
    let found = w
        .find(Some(&w.hub.token), &format!("q={}", urlencode("口罩")))
        .await;
    assert_eq!(found["backend"], "embedded");
    assert!(found["total"].as_i64().unwrap() >= 4);
    // The notes wait in the outbox for Meilisearch to return.
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_outbox")
        .fetch_one(w.app.db.pool())
        .await
        .unwrap();
    assert!(waiting > 0);
    let state = w
        .app
        .replica(move |s| s.meili_url = Some(format!("http://127.0.0.1:{port}")))
        .await;
    assert!(
        weave::search::meili::sync(&state, &format!("http://127.0.0.1:{port}"))
            .await
            .is_err()
    );
    let cursor: Option<i64> =
        sqlx::query_scalar("SELECT last_id FROM search_cursors WHERE backend = 'meilisearch'")
            .fetch_optional(w.app.db.pool())
            .await
            .unwrap();
    assert_eq!(
        cursor, None,
        "nothing is marked sent while Meilisearch is down"
    );
}
