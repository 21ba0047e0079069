//! The web pages through plain HTTP, as a browser without JavaScript uses them.

use weave::auth::Role;

use crate::common::{hidden_value, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_registers_a_community_through_the_forms() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let browser = app.browser();
    app.sign_in(&browser, &hub.email, &hub.password).await;

    let form = browser
        .get(app.url("/organisations/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&form, "csrf");
    assert!(form.contains("中文名称"), "zh-CN by default");

    // A bad form comes back with the fields marked and the typed values kept.
    let rejected = browser
        .post(app.url("/organisations"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "community"),
            ("name_zh", ""),
            ("district", "江汉区"),
            ("households", "lots"),
            ("contact_phone", "027-85550101"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 422);
    let html = rejected.text().await.unwrap();
    assert!(html.contains("headcounts.households"), "{html}");
    assert!(html.contains("class=\"invalid\""));
    assert!(html.contains("027-85550101"), "typed values are kept");
    assert_eq!(app.count("organisations").await, 0);

    let created = browser
        .post(app.url("/organisations"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "community"),
            ("name_zh", "多闻社区"),
            ("name_en", "Duowen"),
            ("district", "江汉区"),
            ("lat", "30.5868"),
            ("lon", "114.2736"),
            ("households", "1900"),
            ("residents", "4700"),
            ("residents_over_60", "1200"),
            ("elders_living_alone", "220"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let page = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("多闻社区") && page.contains("1900") && page.contains("220"));

    // Edit through the form, then archive with a reason.
    let id = location.rsplit('/').next().unwrap();
    let edit = browser
        .get(app.url(&format!("/organisations/{id}/edit")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(edit.contains("value=\"1900\""));
    let saved = browser
        .post(app.url(&format!("/organisations/{id}/edit")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "community"),
            ("name_zh", "多闻社区"),
            ("district", "江汉区"),
            ("households", "1950"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
    let archived = browser
        .post(app.url(&format!("/organisations/{id}/archive")))
        .form(&[("csrf", csrf.as_str()), ("reason", "并入民意社区")])
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), 303);
    let page = browser
        .get(app.url(&format!("/organisations/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("并入民意社区") && page.contains("1950"));
    assert!(
        !page.contains("操作记录</h2>"),
        "only admins see the audit trail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_the_audit_trail_on_pages_and_english_is_one_click_away() {
    let app = TestApp::new().await;
    let admin = app.user(Role::Admin).await;
    let id = app.seed_org("community", "多闻社区").await;
    app.put(&format!("/api/v1/organisations/{id}"), Some(&admin.token))
        .json(&crate::common::community_json("多闻社区（新）"))
        .send()
        .await
        .unwrap();
    let browser = app.browser();
    app.sign_in(&browser, &admin.email, &admin.password).await;

    let page = browser
        .get(app.url(&format!("/organisations/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("操作记录"));
    assert!(page.contains("多闻社区（新）"));
    let audit = browser
        .get(app.url("/audit?entity_type=organisation&entity_id="))
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), 200);
    assert!(audit.text().await.unwrap().contains("update"));

    let switch = browser
        .get(app.url("/lang/en?next=/organisations"))
        .send()
        .await
        .unwrap();
    assert_eq!(switch.status(), 303);
    assert_eq!(switch.headers()["location"], "/organisations");
    let english = browser
        .get(app.url("/organisations"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("Organisations") && english.contains("Sign out"));
    assert!(!english.contains("组织名录"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_send_the_public_to_login_and_errors_are_html() {
    let app = TestApp::new().await;
    let home = app.get("/", None).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("登录"));

    let private = app
        .get("/organisations?kind=community", None)
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 303);
    assert_eq!(
        private.headers()["location"],
        "/login?next=%2Forganisations%3Fkind%3Dcommunity"
    );

    let missing = app.get("/no-such-page", None).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(missing.text().await.unwrap().contains("找不到页面"));

    let donor = app.user(Role::Donor).await;
    let browser = app.browser();
    app.sign_in(&browser, &donor.email, &donor.password).await;
    let forbidden = browser
        .get(app.url("/organisations/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert!(forbidden.text().await.unwrap().contains("没有权限"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_creates_and_revokes_tokens() {
    let app = TestApp::new().await;
    let supplier = app.user(Role::Supplier).await;
    let browser = app.browser();
    let csrf = app
        .sign_in(&browser, &supplier.email, &supplier.password)
        .await;
    let created = browser
        .post(app.url("/account/tokens"))
        .form(&[("csrf", csrf.as_str()), ("name", "库存脚本")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = created.find("<code id=\"new-token\">").unwrap() + "<code id=\"new-token\">".len();
    let token = &created[start..start + created[start..].find('<').unwrap()];
    assert_eq!(
        app.get("/api/v1/auth/me", Some(token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let tokens = crate::common::body(
        app.get("/api/v1/auth/tokens", Some(token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "库存脚本")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let revoked = browser
        .post(app.url(&format!("/account/tokens/{id}/revoke")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 303);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(token))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}
