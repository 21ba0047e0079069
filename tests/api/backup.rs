//! `weave backup` while writes keep coming, then `weave restore` elsewhere: every write
//! acknowledged before the backup began is in the copy, and the books of the copy balance.

use std::{
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use weave::db::Db;

use crate::{
    common::fresh_database_url,
    stock::{goods_pledge, receive, stock_world},
};

fn weave(url: &str, data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weave"))
        .env("WEAVE_DATABASE_URL", url)
        .env("WEAVE_DATA_DIR", data)
        .env("WEAVE_LOG", "error")
        .args(args)
        .output()
        .expect("run weave")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_acknowledged_write() {
    let s = stock_world().await;
    let pledge = goods_pledge(&s, s.mask, 100_000).await;
    let lot = receive(&s, pledge, s.warehouse, 100_000, "2027-06-30").await;
    let acknowledged: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..2 {
        let (client, url, token) = (
            s.app.client.clone(),
            s.app.url("/api/v1/stock-movements"),
            s.hub.token.clone(),
        );
        let (acknowledged, stop, warehouse) = (acknowledged.clone(), stop.clone(), s.warehouse);
        writers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                    .json(&json!({"kind": "adjust", "lot_id": lot, "location_id": warehouse, "quantity": -1, "reason": "发放"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                let body: Value = response.json().await.unwrap();
                let id = body["movements"][0]["id"].as_i64().unwrap();
                acknowledged.lock().unwrap().push((id, Instant::now()));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("weave.backup");
    let began = Instant::now();
    let (url, data, target) = (
        s.app.database_url.clone(),
        tmp.path().to_owned(),
        file.clone(),
    );
    let out = tokio::task::spawn_blocking(move || {
        weave(&url, &data, &["backup", target.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let before: Vec<i64> = acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at < began)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        before.len() >= 5,
        "only {} writes before the backup",
        before.len()
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let restored_url = fresh_database_url(elsewhere.path()).await;
    let (url, data, source) = (
        restored_url.clone(),
        elsewhere.path().to_owned(),
        file.clone(),
    );
    let out = tokio::task::spawn_blocking(move || {
        weave(&url, &data, &["restore", source.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = Db::connect(&restored_url, 2).await.unwrap();
    let mut conn = restored.pool().acquire().await.unwrap();
    let present: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM stock_movements WHERE kind = 'adjust'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    for id in &before {
        assert!(
            present.contains(id),
            "acknowledged movement {id} is missing from the backup"
        );
    }
    assert!(weave::stock::ledger::verify(&mut conn)
        .await
        .unwrap()
        .is_empty());
    assert!(weave::funds::store::verify(&mut conn)
        .await
        .unwrap()
        .is_empty());
    let available: i64 = sqlx::query_scalar(
        "SELECT quantity FROM stock_balances WHERE lot_id = $1 AND bucket = 'available'",
    )
    .bind(lot)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        available,
        100_000 - present.len() as i64,
        "the copy is consistent with itself"
    );
    // A second restore onto the same SQLite file is refused without --force.
    if restored_url.starts_with("sqlite") {
        let again = weave(
            &restored_url,
            elsewhere.path(),
            &["restore", file.to_str().unwrap()],
        );
        assert!(!again.status.success());
    }
}
