//! Tokens, browser sessions, CSRF, expiry and the login rate limit.

use reqwest::StatusCode;
use serde_json::json;
use weave::auth::Role;

use crate::common::{body, expect_problem, hidden_value, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_issued_listed_and_revoked() {
    let app = TestApp::new().await;
    let donor = app.user(Role::Donor).await;

    let me = body(
        app.get("/api/v1/auth/me", Some(&donor.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["email"], donor.email);
    assert_eq!(me["role"], "donor");
    assert_eq!(me["organisation_ids"], json!(donor.orgs));

    let second = app.token(&donor.email, &donor.password).await;
    let tokens = body(
        app.get("/api/v1/auth/tokens", Some(&second))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let tokens = tokens.as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t["revoked_at"].is_null()));
    assert!(
        !tokens[0].to_string().contains(&donor.token),
        "the secret is never listed"
    );

    let first_id = tokens[0]["id"].as_i64().unwrap();
    let revoked = app
        .delete(&format!("/api/v1/auth/tokens/{first_id}"), Some(&second))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = app
        .get("/api/v1/auth/me", Some(&donor.token))
        .send()
        .await
        .unwrap();
    expect_problem(refused, 401, "unauthenticated").await;
    let still = app
        .get("/api/v1/auth/me", Some(&second))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);

    // Revoking twice, or another account's token, finds nothing.
    let again = app
        .delete(&format!("/api/v1/auth/tokens/{first_id}"), Some(&second))
        .send()
        .await
        .unwrap();
    expect_problem(again, 404, "not_found").await;
    let other = app.user(Role::Supplier).await;
    let others = body(
        app.get("/api/v1/auth/tokens", Some(&other.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let other_id = others[0]["id"].as_i64().unwrap();
    let foreign = app
        .delete(&format!("/api/v1/auth/tokens/{other_id}"), Some(&second))
        .send()
        .await
        .unwrap();
    expect_problem(foreign, 404, "not_found").await;
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&other.token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE entity_type = 'api_token' AND action = 'revoke'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(audit, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_garbage_tokens_are_401() {
    let app = TestApp::new().await;
    let admin = app.user(Role::Admin).await;
    let wrong = app
        .post("/api/v1/auth/token", None)
        .json(&json!({ "email": admin.email, "password": "not it" }))
        .send()
        .await
        .unwrap();
    expect_problem(wrong, 401, "bad_credentials").await;
    let nobody = app
        .post("/api/v1/auth/token", None)
        .json(&json!({ "email": "nobody@test.weave", "password": "whatever" }))
        .send()
        .await
        .unwrap();
    expect_problem(nobody, 401, "bad_credentials").await;
    let garbage = app
        .get("/api/v1/auth/me", Some("wv_not-a-token"))
        .send()
        .await
        .unwrap();
    expect_problem(garbage, 401, "unauthenticated").await;
    let basic = app
        .get("/api/v1/auth/me", None)
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    expect_problem(basic, 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_rate_limited_per_account() {
    let app = TestApp::builder()
        .settings(|s| s.login_attempts_per_minute = 3)
        .build()
        .await;
    let admin = app.user(Role::Admin).await; // uses one attempt
    for _ in 0..2 {
        let r = app
            .post("/api/v1/auth/token", None)
            .json(&json!({ "email": admin.email, "password": "bad" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let limited = app
        .post("/api/v1/auth/token", None)
        .json(&json!({ "email": admin.email, "password": admin.password }))
        .send()
        .await
        .unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    expect_problem(limited, 429, "rate_limited").await;
    // Another account is not affected.
    let other = app.user(Role::Donor).await;
    assert!(!other.token.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sessions_use_safe_cookies_and_csrf() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let browser = app.browser();

    let page = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let login_csrf = hidden_value(&page, "csrf");

    // A login post without the form's token (a cross-site post) is refused.
    let forged = browser
        .post(app.url("/login"))
        .form(&[
            ("email", hub.email.as_str()),
            ("password", hub.password.as_str()),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let wrong = browser
        .post(app.url("/login"))
        .form(&[
            ("email", hub.email.as_str()),
            ("password", "nope"),
            ("csrf", login_csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("邮箱或密码不正确"));

    let ok = browser
        .post(app.url("/login"))
        .form(&[
            ("email", hub.email.as_str()),
            ("password", hub.password.as_str()),
            ("csrf", login_csrf.as_str()),
            ("next", "/organisations"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/organisations");
    let cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("weave_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains(&hub.token));

    let account = browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), 200);
    let account = account.text().await.unwrap();
    let csrf = hidden_value(&account, "csrf");

    // A form post with a wrong CSRF token changes nothing.
    let orgs_before = app.count("organisations").await;
    let forged = browser
        .post(app.url("/organisations"))
        .form(&[
            ("csrf", "forged"),
            ("kind", "community"),
            ("name_zh", "伪造社区"),
            ("district", "江汉区"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(app.count("organisations").await, orgs_before);

    // Sign out ends the session server-side.
    let out = browser
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(after.status(), 303);
    assert!(after.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?next="));
    let ended: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE ended_at IS NOT NULL")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(ended, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire() {
    let app = TestApp::builder()
        .settings(|s| s.session_ttl_hours = 0)
        .build()
        .await;
    let hub = app.user(Role::HubCoordinator).await;
    let browser = app.browser();
    let page = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&page, "csrf");
    let ok = browser
        .post(app.url("/login"))
        .form(&[
            ("email", hub.email.as_str()),
            ("password", hub.password.as_str()),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let expired = browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(expired.status(), 303, "an expired session is not signed in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_redirects_are_not_followed_after_login() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let browser = app.browser();
    let page = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&page, "csrf");
    let ok = browser
        .post(app.url("/login"))
        .form(&[
            ("email", hub.email.as_str()),
            ("password", hub.password.as_str()),
            ("csrf", csrf.as_str()),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.headers()["location"], "/");
}
