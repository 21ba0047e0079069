//! The matrix of roles × endpoints: every refusal (401 for the anonymous public, 403 for a
//! role or ownership that does not allow it) and every allowance.

use reqwest::Method;
use serde_json::{json, Value};
use weave::auth::Role;

use crate::common::{community_json, TestApp, TestUser};

/// Who may call an endpoint in a case.
fn allowed(roles: &[Role]) -> Vec<Option<Role>> {
    roles.iter().copied().map(Some).collect()
}

/// Everyone, the anonymous public included.
fn everyone() -> Vec<Option<Role>> {
    let mut all = allowed(&Role::ALL);
    all.insert(0, None);
    all
}

struct Case {
    name: &'static str,
    method: Method,
    /// Path for the n-th actor (so writes that can succeed only once get their own record).
    path: Box<dyn Fn(usize) -> String>,
    body: Option<Box<dyn Fn(usize) -> Value>>,
    allowed: Vec<Option<Role>>,
    success: u16,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_meets_every_endpoint() {
    let app = TestApp::new().await;
    let mut users: Vec<(Option<Role>, Option<TestUser>)> = vec![(None, None)];
    for role in Role::ALL {
        users.push((Some(role), Some(app.user(role).await)));
    }
    let secretary_community = users[3].1.as_ref().unwrap().orgs[0];
    let donor_org = users[4].1.as_ref().unwrap().orgs[0];
    let supplier_org = users[5].1.as_ref().unwrap().orgs[0];
    let other_community = app.seed_org("community", "别的社区").await;
    let mut archivable = Vec::new();
    for i in 0..users.len() {
        archivable.push(app.seed_org("partner", &format!("伙伴机构 {i}")).await);
    }
    let hub_token = users[2].1.as_ref().unwrap().token.clone();
    let mask =
        crate::catalogue::create_item(&app, &hub_token, &crate::catalogue::mask_json()).await;
    let all_roles = Role::ALL.to_vec();
    let staff_token = users[6].1.as_ref().unwrap().token.clone();
    let project = crate::common::body(
        app.post("/api/v1/projects", Some(&staff_token))
            .json(
                &json!({"name_zh": "公开项目", "starts_on": "2026-01-01", "ends_on": "2026-12-31"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    use Role::*;

    let cases = vec![
        Case {
            name: "list organisations",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/organisations".into()),
            body: None,
            allowed: allowed(&all_roles),
            success: 200,
        },
        Case {
            name: "read an organisation",
            method: Method::GET,
            path: Box::new(move |_| format!("/api/v1/organisations/{other_community}")),
            body: None,
            allowed: allowed(&all_roles),
            success: 200,
        },
        Case {
            name: "register an organisation",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/organisations".into()),
            body: Some(Box::new(|i| community_json(&format!("新社区 {i}")))),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 201,
        },
        Case {
            name: "update the secretary's own community",
            method: Method::PUT,
            path: Box::new(move |_| format!("/api/v1/organisations/{secretary_community}")),
            body: Some(Box::new(|i| community_json(&format!("多闻社区 v{i}")))),
            allowed: allowed(&[Admin, HubCoordinator, CommunitySecretary]),
            success: 200,
        },
        Case {
            name: "update a community the secretary does not serve",
            method: Method::PUT,
            path: Box::new(move |_| format!("/api/v1/organisations/{other_community}")),
            body: Some(Box::new(|i| community_json(&format!("别的社区 v{i}")))),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 200,
        },
        Case {
            name: "update the donor's own record",
            method: Method::PUT,
            path: Box::new(move |_| format!("/api/v1/organisations/{donor_org}")),
            body: Some(Box::new(
                |i| json!({"kind": "donor", "donor_type": "institution", "name_zh": format!("捐赠机构 v{i}"), "district": "江汉区"}),
            )),
            allowed: allowed(&[Admin, HubCoordinator, Donor]),
            success: 200,
        },
        Case {
            name: "update the supplier's own record",
            method: Method::PUT,
            path: Box::new(move |_| format!("/api/v1/organisations/{supplier_org}")),
            body: Some(Box::new(
                |i| json!({"kind": "supplier", "name_zh": format!("供应商 v{i}"), "district": "汉阳区"}),
            )),
            allowed: allowed(&[Admin, HubCoordinator, Supplier]),
            success: 200,
        },
        Case {
            name: "archive an organisation",
            method: Method::POST,
            path: Box::new(move |i| format!("/api/v1/organisations/{}/archive", archivable[i])),
            body: Some(Box::new(
                |_| json!({"reason": "merged into another partner"}),
            )),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 200,
        },
        Case {
            name: "list catalogue items",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/items".into()),
            body: None,
            allowed: allowed(&all_roles),
            success: 200,
        },
        Case {
            name: "add a catalogue item",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/items".into()),
            body: Some(Box::new(
                |i| json!({"code": format!("item_{i}"), "name_zh": "口罩", "category": "protective", "unit_zh": "个"}),
            )),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 201,
        },
        Case {
            name: "list kits",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/kits".into()),
            body: None,
            allowed: allowed(&all_roles),
            success: 200,
        },
        Case {
            name: "list needs",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/needs".into()),
            body: None,
            allowed: allowed(&all_roles),
            success: 200,
        },
        Case {
            name: "post a need for the secretary's community",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/needs".into()),
            body: Some(Box::new(move |_| {
                crate::needs::mask_need(secretary_community, mask)
            })),
            allowed: allowed(&[Admin, HubCoordinator, CommunitySecretary]),
            success: 201,
        },
        Case {
            name: "post a need for another community",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/needs".into()),
            body: Some(Box::new(move |_| {
                crate::needs::mask_need(other_community, mask)
            })),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 201,
        },
        Case {
            name: "list pledges",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/pledges".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, Donor, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "pledge money for the donor's own organisation",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/pledges".into()),
            body: Some(Box::new(
                move |_| json!({"donor_id": donor_org, "kind": "money", "amount": "100.00"}),
            )),
            allowed: allowed(&[Admin, HubCoordinator, Donor, FoundationStaff]),
            success: 201,
        },
        Case {
            name: "list supplier offers",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/supplier-offers".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff, Supplier]),
            success: 200,
        },
        Case {
            name: "offer for the supplier's own organisation",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/supplier-offers".into()),
            body: Some(Box::new(
                move |_| json!({"supplier_id": supplier_org, "item_id": mask, "unit_price": "1.20", "weekly_capacity": 100, "lead_days": 1}),
            )),
            allowed: allowed(&[Admin, HubCoordinator, Supplier]),
            success: 201,
        },
        Case {
            name: "record a framework agreement",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/agreements".into()),
            body: Some(Box::new(
                move |_| json!({"supplier_id": supplier_org, "title": "协议", "offers": [{"item_id": mask, "unit_price": "1.00", "weekly_capacity": 100, "lead_days": 1}]}),
            )),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 201,
        },
        Case {
            name: "read the board",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/board".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "list matching plans",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/plans".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "run matching",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/plans".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 201,
        },
        Case {
            name: "read stock",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/stock".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "read the stock movements",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/stock-movements".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "add a location",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/locations".into()),
            body: Some(Box::new(
                |i| json!({"kind": "warehouse", "name_zh": format!("仓库 {i}"), "district": "江汉区"}),
            )),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 201,
        },
        Case {
            name: "read the day's dispatch",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/dispatch".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff, CommunitySecretary]),
            success: 200,
        },
        Case {
            name: "prepare the day's runs",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/dispatch".into()),
            body: Some(Box::new(|_| json!({}))),
            allowed: allowed(&[Admin, HubCoordinator]),
            success: 201,
        },
        Case {
            name: "list delivery runs",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/deliveries".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff, CommunitySecretary]),
            success: 200,
        },
        Case {
            name: "list projects",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/projects".into()),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "open a project",
            method: Method::POST,
            path: Box::new(|_| "/api/v1/projects".into()),
            body: Some(Box::new(
                |i| json!({"name_zh": format!("项目 {i}"), "starts_on": "2026-01-01", "ends_on": "2026-12-31"}),
            )),
            allowed: allowed(&[Admin, FoundationStaff]),
            success: 201,
        },
        Case {
            name: "check the books",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/books/check".into()),
            body: None,
            allowed: allowed(&[Admin]),
            success: 200,
        },
        Case {
            name: "read the email outbox",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/outbox".into()),
            body: None,
            allowed: allowed(&[Admin, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "read a donor's feedback",
            method: Method::GET,
            path: Box::new(move |_| format!("/api/v1/donors/{donor_org}/feedback")),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff, Donor]),
            success: 200,
        },
        Case {
            name: "read the public project page",
            method: Method::GET,
            path: Box::new(move |_| format!("/api/v1/public/projects/{project}")),
            body: None,
            allowed: everyone(),
            success: 200,
        },
        Case {
            name: "read the closing report",
            method: Method::GET,
            path: Box::new(move |_| {
                format!("/api/v1/projects/{project}/closing-report?format=csv&table=budget")
            }),
            body: None,
            allowed: allowed(&[Admin, HubCoordinator, FoundationStaff]),
            success: 200,
        },
        Case {
            name: "send feedback to a project's donors",
            method: Method::POST,
            path: Box::new(move |_| format!("/api/v1/projects/{project}/feedback-batch")),
            body: Some(Box::new(|_| json!({}))),
            allowed: allowed(&[Admin, FoundationStaff]),
            success: 201,
        },
        Case {
            name: "search",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/search?q=%E5%8F%A3%E7%BD%A9".into()),
            body: None,
            allowed: everyone(),
            success: 200,
        },
        Case {
            name: "read the audit trail",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/audit".into()),
            body: None,
            allowed: allowed(&[Admin]),
            success: 200,
        },
        Case {
            name: "read one record's audit trail",
            method: Method::GET,
            path: Box::new(move |_| format!("/api/v1/organisations/{other_community}/audit")),
            body: None,
            allowed: allowed(&[Admin]),
            success: 200,
        },
        Case {
            name: "list own tokens",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/auth/tokens".into()),
            body: None,
            allowed: allowed(&all_roles),
            success: 200,
        },
        Case {
            name: "who am I",
            method: Method::GET,
            path: Box::new(|_| "/api/v1/auth/me".into()),
            body: None,
            allowed: allowed(&all_roles),
            success: 200,
        },
    ];

    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        for (i, (role, user)) in users.iter().enumerate() {
            let mut request = app
                .client
                .request(case.method.clone(), app.url(&(case.path)(i)));
            if let Some(user) = user {
                request = request.bearer_auth(&user.token);
            }
            request = request.header("Idempotency-Key", format!("{}-{i}", case.name));
            if let Some(body) = &case.body {
                request = request.json(&body(i));
            }
            let status = request.send().await.unwrap().status().as_u16();
            let expected = if case.allowed.contains(role) {
                case.success
            } else if role.is_none() {
                401
            } else {
                403
            };
            checked += 1;
            if status != expected {
                failures.push(format!(
                    "{} as {:?}: expected {expected}, got {status}",
                    case.name, role
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission matrix broken:\n{}",
        failures.join("\n")
    );
    assert_eq!(checked, cases.len() * 7);
}
