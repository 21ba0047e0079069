//! A donor pledging through the pages: a resubmitted form counts once, and the hub marks the
//! gift received.

use weave::auth::Role;

use crate::{
    catalogue::{create_item, mask_json},
    common::{hidden_value, TestApp},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_donor_pledges_once_even_when_the_form_is_sent_twice() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let donor = app.user(Role::Donor).await;
    create_item(&app, &hub.token, &mask_json()).await;
    let browser = app.browser();
    app.sign_in(&browser, &donor.email, &donor.password).await;

    let form = browser
        .get(app.url("/pledges/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&form, "csrf");
    let key = hidden_value(&form, "key");
    let donor_id = donor.orgs[0].to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("donor_id", donor_id.as_str()),
        ("kind", "money"),
        ("amount", "20000.00"),
        ("districts", "江汉区，武昌区"),
        ("categories", "protective"),
        ("categories", "disinfection"),
        ("groups", "elders_living_alone"),
    ];
    let body = serde_urlencoded::to_string(fields).unwrap();
    let send = || {
        browser
            .post(app.url("/pledges"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 303);
    let second = send().await.unwrap();
    assert_eq!(
        second.headers()["location"],
        first.headers()["location"],
        "the same pledge"
    );
    assert_eq!(app.count("pledges").await, 1);

    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let page = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("¥20000.00")
            && page.contains("江汉区、武昌区")
            && page.contains("防护用品")
            && page.contains("独居长者")
    );
    assert!(page.contains("取消捐赠") && !page.contains("确认到账"));
    let list = browser
        .get(app.url("/pledges"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(&location) && list.contains("定向"));

    let hub_browser = app.browser();
    let hub_csrf = app.sign_in(&hub_browser, &hub.email, &hub.password).await;
    let received = hub_browser
        .post(app.url(&format!("{location}/status")))
        .form(&[("csrf", hub_csrf.as_str()), ("status", "received")])
        .send()
        .await
        .unwrap();
    assert_eq!(received.status(), 303);
    let page = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已到账"));

    let other = app.user(Role::Donor).await;
    let other_browser = app.browser();
    app.sign_in(&other_browser, &other.email, &other.password)
        .await;
    assert_eq!(
        other_browser
            .get(app.url(&location))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let secretary = app.user(Role::CommunitySecretary).await;
    let secretary_browser = app.browser();
    app.sign_in(&secretary_browser, &secretary.email, &secretary.password)
        .await;
    assert_eq!(
        secretary_browser
            .get(app.url("/pledges/new"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}
