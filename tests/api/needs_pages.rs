//! A secretary on a phone: posting a need through the form, following it, cancelling it, and
//! uploading the day's sheet — all without JavaScript.

use weave::auth::Role;

use crate::{common::hidden_value, needs::world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secretary_posts_follows_and_cancels_a_need_through_the_pages() {
    let w = world().await;
    let app = &w.app;
    let browser = app.browser();
    app.sign_in(&browser, &w.secretary.email, &w.secretary.password)
        .await;

    let form = browser
        .get(app.url("/needs/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&form, "csrf");
    assert!(form.contains("一次性医用口罩") && form.contains("独居长者"));
    assert!(
        !form.contains("民意社区"),
        "only the secretary's own community is offered"
    );

    let community = w.community.to_string();
    let what = format!("item:{}", w.mask);
    let rejected = browser
        .post(app.url("/needs"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("community_id", community.as_str()),
            ("what", what.as_str()),
            ("quantity", "0"),
            ("urgency", "critical"),
            ("beneficiary_group", ""),
            ("delivery_mode", "home_delivery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 422);
    let html = rejected.text().await.unwrap();
    assert!(html.contains("beneficiary_group") && html.contains("class=\"invalid\""));
    assert_eq!(app.count("needs").await, 0);

    let created = browser
        .post(app.url("/needs"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("community_id", community.as_str()),
            ("what", what.as_str()),
            ("quantity", "500"),
            ("urgency", "critical"),
            ("beneficiary_group", "elders_living_alone"),
            ("beneficiary_count", "220"),
            ("needed_by", "2099-02-12"),
            ("delivery_mode", "home_delivery"),
            ("note", "每户 2 个"),
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
    assert!(
        page.contains("一次性医用口罩 × 500") && page.contains("特急") && page.contains("取消需求")
    );
    assert!(!page.contains("开始配送"), "only the hub starts delivery");

    let list = browser
        .get(app.url("/needs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(&location));

    let cancelled = browser
        .post(app.url(&format!("{location}/status")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("status", "cancelled"),
            ("reason", "街道已送达"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 303);
    let page = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已取消") && page.contains("街道已送达"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secretary_uploads_the_days_sheet() {
    let w = world().await;
    let app = &w.app;
    let browser = app.browser();
    let csrf = app
        .sign_in(&browser, &w.secretary.email, &w.secretary.password)
        .await;
    let page = browser
        .get(app.url("/needs/import"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/api/v1/needs/import/template?format=xlsx"));

    let upload = |sheet: &'static str, good_rows: bool| {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(sheet.as_bytes()).file_name("today.csv"),
            );
        if good_rows {
            form = form.text("mode", "good_rows");
        }
        browser
            .post(app.url("/needs/import"))
            .multipart(form)
            .send()
    };
    let sheet = "item,quantity,urgency,beneficiary_group,delivery_mode\nmask,100,high,disabled,pickup\nmask,x,high,disabled,pickup\n";
    let rejected = upload(sheet, false).await.unwrap();
    assert_eq!(rejected.status(), 422);
    let html = rejected.text().await.unwrap();
    assert!(html.contains("未创建任何需求") && html.contains("quantity"));
    assert_eq!(app.count("needs").await, 0);

    let partial = upload(sheet, true).await.unwrap();
    assert_eq!(partial.status(), 200);
    assert!(partial.text().await.unwrap().contains("已创建"));
    assert_eq!(app.count("needs").await, 1);

    let donor = app.user(Role::Donor).await;
    let donor_browser = app.browser();
    app.sign_in(&donor_browser, &donor.email, &donor.password)
        .await;
    assert_eq!(
        donor_browser
            .get(app.url("/needs/import"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}
