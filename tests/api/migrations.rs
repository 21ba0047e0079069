//! Migrations only add: data written under an older schema (here: up to matching, before the
//! ledgers, reports and search) is all there after `migrate`, with the new columns at their
//! defaults, and the service reads it.

use sqlx::Row;
use weave::db::Db;

use crate::common::fresh_database_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_an_older_database_keeps_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fresh_database_url(tmp.path()).await;
    let db = Db::connect(&url, 2).await.unwrap();
    db.migrate_to(6).await.unwrap();
    let now = weave::db::now();
    let mut tx = db.begin().await.unwrap();
    let conn = tx.conn();
    let org = |kind: &'static str, name: &'static str| {
        sqlx::query("INSERT INTO organisations (kind, name_zh, district, created_at, updated_at) VALUES ($1, $2, '江汉区', $3, $3) RETURNING id")
            .bind(kind)
            .bind(name)
            .bind(now.clone())
    };
    let community: i64 = org("community", "多闻社区")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    let donor: i64 = org("donor", "汉口商会")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    let item: i64 = sqlx::query("INSERT INTO items (code, name_zh, category, unit_zh, created_at, updated_at) VALUES ('mask', '口罩', 'protective', '个', $1, $1) RETURNING id")
        .bind(&now).fetch_one(&mut *conn).await.unwrap().get(0);
    let need: i64 = sqlx::query("INSERT INTO needs (community_id, district, item_id, quantity, urgency, beneficiary_group, beneficiary_count, delivery_mode, status, created_at, updated_at) VALUES ($1, '江汉区', $2, 500, 'critical', 'elders_living_alone', 60, 'home_delivery', 'partially_matched', $3, $3) RETURNING id")
        .bind(community).bind(item).bind(&now).fetch_one(&mut *conn).await.unwrap().get(0);
    let pledge: i64 = sqlx::query("INSERT INTO pledges (donor_id, kind, item_id, quantity, status, created_at, updated_at) VALUES ($1, 'goods', $2, 300, 'received', $3, $3) RETURNING id")
        .bind(donor).bind(item).bind(&now).fetch_one(&mut *conn).await.unwrap().get(0);
    let plan: i64 = sqlx::query("INSERT INTO plans (status, origin, planned_for, needs_count, asked, allocated, money_spent_fen, created_at) VALUES ('confirmed', 'manual', '2026-11-22', 1, 500, 300, 0, $1) RETURNING id")
        .bind(&now).fetch_one(&mut *conn).await.unwrap().get(0);
    let line: i64 = sqlx::query("INSERT INTO plan_lines (plan_id, need_id, item_id, pledge_id, proposed_quantity, quantity, reason) VALUES ($1, $2, $3, $4, 300, 300, 'r') RETURNING id")
        .bind(plan).bind(need).bind(item).bind(pledge).fetch_one(&mut *conn).await.unwrap().get(0);
    sqlx::query("INSERT INTO allocations (plan_id, plan_line_id, need_id, item_id, pledge_id, quantity, reason, created_at) VALUES ($1, $2, $3, $4, $5, 300, 'r', $6)")
        .bind(plan).bind(line).bind(need).bind(item).bind(pledge).bind(&now).execute(&mut *conn).await.unwrap();
    tx.commit().await.unwrap();

    db.migrate().await.unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    for (table, expected) in [
        ("organisations", 2),
        ("items", 1),
        ("needs", 1),
        ("pledges", 1),
        ("plans", 1),
        ("plan_lines", 1),
        ("allocations", 1),
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(count, expected, "{table}");
    }
    let allocation =
        sqlx::query("SELECT quantity, returned, written_off, disbursement_id FROM allocations")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(allocation.get::<i64, _>(0), 300);
    assert_eq!(allocation.get::<i64, _>(1), 0);
    assert_eq!(allocation.get::<i64, _>(2), 0);
    assert_eq!(allocation.get::<Option<i64>, _>(3), None);
    // The service reads the old rows: the board nets the allocation off the need.
    let board = weave::board::board(&mut conn, &Default::default())
        .await
        .unwrap();
    let masks = &board.by_item[0];
    assert_eq!(masks.asked, 500 - 300);
    // Migrating again changes nothing.
    db.migrate().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM needs")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
}
