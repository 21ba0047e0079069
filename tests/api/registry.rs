//! The registry through the API: create, read, update, archive, list and filter, and the audit
//! trail each write leaves.

use serde_json::json;
use weave::auth::Role;

use crate::common::{body, community_json, expect_problem, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_community_is_registered_updated_and_archived_with_its_audit_trail() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let admin = app.user(Role::Admin).await;
    let token = Some(hub.token.as_str());

    let created = app
        .post("/api/v1/organisations", token)
        .json(&community_json("多闻社区"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["kind"], "community");
    assert_eq!(created["headcounts"]["elders_living_alone"], 220);
    assert_eq!(
        created["location"],
        json!({ "lat": 30.5868, "lon": 114.2736 })
    );
    assert_eq!(created["status"], "active");

    let read = body(
        app.get(&format!("/api/v1/organisations/{id}"), token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(read, created);

    let mut changed = community_json("多闻社区");
    changed["headcounts"]["elders_living_alone"] = json!(230);
    let updated = app
        .put(&format!("/api/v1/organisations/{id}"), token)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    assert_eq!(
        body(updated).await["headcounts"]["elders_living_alone"],
        230
    );

    let mut donor = changed.clone();
    donor["kind"] = json!("donor");
    donor["donor_type"] = json!("individual");
    donor["headcounts"] = json!({});
    let problem = expect_problem(
        app.put(&format!("/api/v1/organisations/{id}"), token)
            .json(&donor)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "kind");

    let no_reason = app
        .post(&format!("/api/v1/organisations/{id}/archive"), token)
        .json(&json!({"reason": " "}))
        .send()
        .await
        .unwrap();
    expect_problem(no_reason, 422, "validation").await;
    let archived = app
        .post(&format!("/api/v1/organisations/{id}/archive"), token)
        .json(&json!({"reason": "merged with Minyi"}))
        .send()
        .await
        .unwrap();
    let archived = body(archived).await;
    assert_eq!(archived["status"], "archived");
    assert_eq!(archived["archived_reason"], "merged with Minyi");
    let again = app
        .post(&format!("/api/v1/organisations/{id}/archive"), token)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(again, 409, "already_archived").await;
    let edit_archived = app
        .put(&format!("/api/v1/organisations/{id}"), token)
        .json(&changed)
        .send()
        .await
        .unwrap();
    expect_problem(edit_archived, 409, "archived").await;

    // Still there: nothing is deleted.
    assert_eq!(
        app.get(&format!("/api/v1/organisations/{id}"), token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let trail = body(
        app.get(
            &format!("/api/v1/organisations/{id}/audit"),
            Some(&admin.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["archive", "update", "create"], "newest first");
    let update = &trail[1];
    assert_eq!(update["before"]["headcounts"]["elders_living_alone"], 220);
    assert_eq!(update["after"]["headcounts"]["elders_living_alone"], 230);
    assert!(update["actor_user_id"].as_i64().is_some());
    assert!(update["actor"].as_str().unwrap().contains(&hub.email));
    assert!(update["request_id"].as_str().is_some());
    assert!(trail[2]["before"].is_null());

    let all = body(
        app.get(
            &format!("/api/v1/audit?entity_type=organisation&entity_id={id}"),
            Some(&admin.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_by_kind_district_status_and_name_and_paginate() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await; // also seeds nothing: hubs are unbound
    let token = Some(hub.token.as_str());
    for i in 0..7 {
        let mut c = community_json(&format!("江汉社区{i}"));
        c["name_en"] = json!(format!("Jianghan {i}"));
        assert_eq!(
            app.post("/api/v1/organisations", token)
                .json(&c)
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    for i in 0..3 {
        let mut c = community_json(&format!("武昌社区{i}"));
        c["district"] = json!("武昌区");
        c["name_en"] = json!(format!("Wuchang {i}"));
        assert_eq!(
            app.post("/api/v1/organisations", token)
                .json(&c)
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let supplier = json!({"kind": "supplier", "name_zh": "汉阳防护用品", "district": "汉阳区"});
    assert_eq!(
        app.post("/api/v1/organisations", token)
            .json(&supplier)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );

    let page = |q: &str| {
        let url = format!("/api/v1/organisations?{q}");
        let request = app.get(&url, token);
        async move { body(request.send().await.unwrap()).await }
    };
    let communities = page("kind=community&per_page=4").await;
    assert_eq!(communities["total"], 10);
    assert_eq!(communities["items"].as_array().unwrap().len(), 4);
    let last = page("kind=community&per_page=4&page=3").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 2);
    assert_eq!(last["page"], 3);

    let wuchang = page("district=%E6%AD%A6%E6%98%8C%E5%8C%BA").await;
    assert_eq!(wuchang["total"], 3);
    let by_name = page("q=jianghan%203").await;
    assert_eq!(by_name["total"], 1);
    assert_eq!(by_name["items"][0]["name_zh"], "江汉社区3");
    let by_chinese = page("q=%E6%B1%89%E9%98%B3").await;
    assert_eq!(by_chinese["items"][0]["kind"], "supplier");

    let id = wuchang["items"][0]["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/organisations/{id}/archive"), token)
        .json(&json!({"reason": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page("district=%E6%AD%A6%E6%98%8C%E5%8C%BA").await["total"],
        2
    );
    assert_eq!(
        page("district=%E6%AD%A6%E6%98%8C%E5%8C%BA&status=archived").await["total"],
        1
    );
    assert_eq!(
        page("district=%E6%AD%A6%E6%98%8C%E5%8C%BA&status=all").await["total"],
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donors_need_a_type_and_only_communities_have_headcounts() {
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;
    let donor = json!({"kind": "donor", "name_zh": "王女士", "district": "江汉区"});
    let problem = expect_problem(
        app.post("/api/v1/organisations", Some(&hub.token))
            .json(&donor)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "donor_type");
    let partner = json!({"kind": "partner", "name_zh": "美好社工", "district": "江汉区", "headcounts": {"households": 3}});
    let problem = expect_problem(
        app.post("/api/v1/organisations", Some(&hub.token))
            .json(&partner)
            .send()
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "headcounts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secretary_of_two_communities_edits_both_and_no_other() {
    let app = TestApp::new().await;
    let a = app.seed_org("community", "多闻社区").await;
    let b = app.seed_org("community", "民意社区").await;
    let c = app.seed_org("community", "友谊社区").await;
    let secretary = app.user_with_orgs(Role::CommunitySecretary, &[a, b]).await;
    for (id, expected) in [(a, 200), (b, 200), (c, 403)] {
        let status = app
            .put(
                &format!("/api/v1/organisations/{id}"),
                Some(&secretary.token),
            )
            .json(&community_json("改名社区"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, expected, "community {id}");
    }
}
