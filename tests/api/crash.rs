//! A crash in the middle of writes: a real `weave serve` process takes parallel stock
//! dispatches and disbursements and is killed with SIGKILL while they are in flight. After a
//! restart on the same database every acknowledged write is there, a retry of an unanswered
//! request with its key counts at most once, and the books still balance to the unit and fen.

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{
    common::body,
    stock::{books_are_sound, goods_pledge, keyed, receive, stock_world},
};

fn serve(url: &str, data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_weave"))
        .env("WEAVE_DATABASE_URL", url)
        .env("WEAVE_DATA_DIR", data_dir)
        .env("WEAVE_LOG", "error")
        .env("WEAVE_DAILY_MATCHING", "false")
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start weave serve")
}

async fn wait_ready(child: &mut Child, port: u16) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "weave serve did not become ready"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "weave serve exited early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One write: its key and body, and the id the server acknowledged (if it answered 201).
struct Write {
    path: &'static str,
    key: String,
    input: Value,
    acknowledged: Option<i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_kill_and_the_books_still_balance() {
    let s = stock_world().await;
    let pledge = goods_pledge(&s, s.mask, 100_000).await;
    let lot = receive(&s, pledge, s.warehouse, 100_000, "2027-06-30").await;
    let staff = s.app.user(weave::auth::Role::FoundationStaff).await;
    let project = body(
        s.app
            .post("/api/v1/projects", Some(&staff.token))
            .json(
                &json!({"name_zh": "封城应急", "starts_on": "2026-01-01", "ends_on": "2026-12-31",
                          "budget_lines": [{"category": "应急支出", "amount": "1000000"}]}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let project_id = project["id"].as_i64().unwrap();
    let line = project["budget_lines"][0]["id"].as_i64().unwrap();
    let money = body(
        keyed(
            &s.app,
            "/api/v1/pledges",
            &staff.token,
            &json!({"donor_id": s.donor.orgs[0], "kind": "money", "amount": "1000000"}),
        )
        .await,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let receipt = keyed(
        &s.app,
        "/api/v1/receipts",
        &staff.token,
        &json!({"project_id": project_id, "pledge_id": money, "amount": "1000000"}),
    )
    .await;
    assert_eq!(receipt.status(), 201);

    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(&s.app.database_url, data_dir.path(), port);
    wait_ready(&mut child, port).await;

    let writes: Arc<Mutex<Vec<Write>>> = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for worker in 0..4 {
        let writes = writes.clone();
        let hub = s.hub.token.clone();
        let staff = staff.token.clone();
        let warehouse = s.warehouse;
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let (path, token, input) = if n % 2 == 0 {
                    ("/api/v1/stock-movements", &hub,
                     json!({"kind": "dispatch", "lot_id": lot, "location_id": warehouse, "quantity": 3}))
                } else {
                    ("/api/v1/disbursements", &staff,
                     json!({"project_id": project_id, "budget_line_id": line, "kind": "other", "fund": "general",
                            "amount": "12.34", "payee": format!("worker {worker}")}))
                };
                let key = uuid::Uuid::new_v4().to_string();
                let sent = client
                    .post(format!("http://127.0.0.1:{port}{path}"))
                    .bearer_auth(token)
                    .header("Idempotency-Key", &key)
                    .json(&input)
                    .send()
                    .await;
                let acknowledged = match sent {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = r.json().await.unwrap_or_default();
                        v["id"].as_i64().or(v["movements"][0]["id"].as_i64())
                    }
                    Ok(r) => panic!("unexpected {} for {path}", r.status()),
                    Err(_) => None,
                };
                let failed = acknowledged.is_none();
                writes.lock().unwrap().push(Write { path, key, input, acknowledged });
                if failed {
                    return; // the server is gone
                }
            }
        }));
    }
    // Let the writes run, then kill the server mid-flight.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let writes = std::mem::take(&mut *writes.lock().unwrap());
    let acknowledged = writes.iter().filter(|w| w.acknowledged.is_some()).count();
    assert!(
        acknowledged >= 10,
        "only {acknowledged} writes before the kill"
    );
    eprintln!(
        "crash test: {acknowledged} writes acknowledged before SIGKILL, {} in flight",
        writes.len() - acknowledged
    );

    let port = free_port();
    let mut child = serve(&s.app.database_url, data_dir.path(), port);
    wait_ready(&mut child, port).await;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for w in writes.iter().filter(|w| w.acknowledged.is_some()) {
        let id = w.acknowledged.unwrap();
        let (path, token) = if w.path.contains("stock") {
            (format!("/api/v1/stock-movements/{id}"), &s.hub.token)
        } else {
            (
                format!("/api/v1/disbursements?project_id={project_id}"),
                &staff.token,
            )
        };
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "acknowledged {path} is gone");
        if !w.path.contains("stock") {
            let list: Value = response.json().await.unwrap();
            assert!(
                list.as_array().unwrap().iter().any(|d| d["id"] == id),
                "disbursement {id} is gone"
            );
        }
    }
    // The requests that got no answer are retried with their keys: each counts at most once.
    for w in writes.iter().filter(|w| w.acknowledged.is_none()) {
        let token = if w.path.contains("stock") {
            &s.hub.token
        } else {
            &staff.token
        };
        for _ in 0..2 {
            let retried = client
                .post(format!("{base}{}", w.path))
                .bearer_auth(token)
                .header("Idempotency-Key", &w.key)
                .json(&w.input)
                .send()
                .await
                .unwrap();
            assert_eq!(retried.status(), 201);
        }
    }
    let dispatches = writes.iter().filter(|w| w.path.contains("stock")).count() as i64;
    let payments = writes.len() as i64 - dispatches;
    let stock: Value = client
        .get(format!("{base}/api/v1/stock?item_id={}", s.mask))
        .bearer_auth(&s.hub.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stock[0]["available"], 100_000 - 3 * dispatches, "{stock}");
    assert_eq!(stock[0]["in_transit"], 3 * dispatches);
    let project: Value = client
        .get(format!("{base}/api/v1/projects/{project_id}"))
        .bearer_auth(&staff.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spent_fen = 1234 * payments;
    assert_eq!(
        project["spent"],
        format!("{}.{:02}", spent_fen / 100, spent_fen % 100)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    books_are_sound(&s.app, &s.admin).await;
}
