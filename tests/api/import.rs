//! Posting the day's needs from a sheet (CSV or XLSX) and the template for it.

use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{body, expect_problem, TestApp},
};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn template(app: &TestApp, query: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/needs/import/template?{query}"), None)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_downloaded_template_imports_as_it_is() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    create_item(&app, &hub.token, &mask_json()).await;
    let duowen = app.seed_org("community", "多闻社区").await;
    let secretary = app
        .user_with_orgs(Role::CommunitySecretary, &[duowen])
        .await;

    let csv_zh = template(&app, "format=csv").await;
    assert_eq!(csv_zh.status(), 200);
    assert!(csv_zh.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let text = csv_zh.text().await.unwrap();
    assert!(
        text.starts_with('\u{feff}'),
        "a BOM so spreadsheet programs read UTF-8"
    );
    assert!(text.contains("社区,物资或物资包,数量"));
    let csv_en = template(&app, "format=csv&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv_en.contains("Community,Item or kit,Quantity"));
    expect_problem(template(&app, "format=pdf").await, 422, "validation").await;

    for lang in ["zh-CN", "en"] {
        let xlsx = template(&app, &format!("lang={lang}")).await;
        assert_eq!(xlsx.headers()["content-type"], XLSX);
        let bytes = xlsx.bytes().await.unwrap();
        assert!(bytes.starts_with(b"PK"), "an XLSX is a zip file");
        let imported = app
            .post("/api/v1/needs/import", Some(&secretary.token))
            .header("content-type", XLSX)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(imported.status(), 201);
        let report = body(imported).await;
        assert_eq!(report["created"], 1, "{report}");
        assert_eq!(report["rows"][0]["row"], 2);
        assert_eq!(report["rows"][0]["need"]["quantity"], 500);
        assert_eq!(report["rows"][0]["need"]["community_id"], duowen);
    }
    assert_eq!(app.count("needs").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_with_bad_rows_creates_nothing_unless_asked() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    create_item(&app, &hub.token, &mask_json()).await;
    let duowen = app.seed_org("community", "多闻社区").await;
    let minyi = app.seed_org("community", "民意社区").await;
    let secretary = app
        .user_with_orgs(Role::CommunitySecretary, &[duowen])
        .await;
    let sheet = "物资或物资包,数量,紧急程度,受益人群,受益人数,配送方式,社区\n\
                 mask,500,特急,独居老人,220,送货上门,\n\
                 mask,lots,紧急,残障人士,12,自提,\n\
                 rope,10,一般,居民,5,自提,\n\
                 mask,80,一般,居民,40,自提,民意社区\n\
                 一次性医用口罩,300,紧急,残障人士,30,送货上门,\n";
    let post = |mode: &str| {
        app.post(
            &format!("/api/v1/needs/import?mode={mode}"),
            Some(&secretary.token),
        )
        .header("content-type", "text/csv")
        .body(sheet)
        .send()
    };
    let rejected = post("all_or_nothing").await.unwrap();
    let problem = expect_problem(rejected, 422, "sheet_rejected").await;
    let rows = problem["report"]["rows"].as_array().unwrap();
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["valid", "error", "error", "error", "valid"]);
    assert_eq!(rows[1]["row"], 3);
    assert_eq!(rows[1]["errors"][0]["field"], "quantity");
    assert_eq!(rows[2]["errors"][0]["field"], "item");
    assert_eq!(
        rows[3]["errors"][0]["code"], "forbidden",
        "another community's row"
    );
    assert_eq!(app.count("needs").await, 0, "nothing created");

    let partial = post("good_rows").await.unwrap();
    assert_eq!(partial.status(), 201);
    let report = body(partial).await;
    assert_eq!(report["created"], 2);
    assert_eq!(report["rejected"], 3);
    assert_eq!(app.count("needs").await, 2);
    let _ = minyi;

    let wrong_type = app
        .post("/api/v1/needs/import", Some(&secretary.token))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(wrong_type, 415, "unsupported_media_type").await;
    let garbage = app
        .post("/api/v1/needs/import", Some(&secretary.token))
        .header("content-type", XLSX)
        .body("not a zip")
        .send()
        .await
        .unwrap();
    expect_problem(garbage, 400, "unreadable_sheet").await;
    let headless = app
        .post("/api/v1/needs/import", Some(&secretary.token))
        .header("content-type", "text/csv")
        .body("a,b\n1,2\n")
        .send()
        .await
        .unwrap();
    expect_problem(headless, 422, "validation").await;
    let donor = app.user(Role::Donor).await;
    let refused = app
        .post("/api/v1/needs/import", Some(&donor.token))
        .header("content-type", "text/csv")
        .body(sheet)
        .send()
        .await
        .unwrap();
    expect_problem(refused, 403, "forbidden").await;
}
