//! The closing report of a large project: 1,000,000 ledger lines (500,000 disbursements over
//! 30 budget lines from 2,000 received gifts), seeded reproducibly in a fresh database (SQLite
//! by default, PostgreSQL with `WEAVE_BENCH_DATABASE_URL`). Times the figures, the HTML page,
//! the XLSX workbook and one CSV table. Prints one table.
//!
//!     cargo bench --bench reports

use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};
use weave::{app::AppState, config::Settings, db::Db, reports::closing, web::Lang};

const LINES: i64 = 30;
const GIFTS: i64 = 2_000;
const DONORS: i64 = 200;
const PAYMENTS: i64 = 500_000;
const BATCH: i64 = 500;

async fn seed(db: &Db, rng: &mut StdRng) -> anyhow::Result<i64> {
    let now = weave::db::now();
    let mut tx = db.begin().await?;
    let project: i64 = sqlx::query_scalar(
        "INSERT INTO projects (name_zh, starts_on, ends_on, created_at) VALUES ('全市应急项目', '2026-01-01', '2026-12-31', $1) RETURNING id",
    )
    .bind(&now)
    .fetch_one(tx.conn())
    .await?;
    for line in 1..=LINES {
        sqlx::query("INSERT INTO budget_lines (project_id, position, category, amount_fen) VALUES ($1, $2, $3, $4)")
            .bind(project)
            .bind(line)
            .bind(format!("科目{line}"))
            .bind(rng.gen_range(1_000_000..50_000_000i64))
            .execute(tx.conn())
            .await?;
    }
    for d in 1..=DONORS {
        sqlx::query("INSERT INTO organisations (kind, donor_type, name_zh, district, created_at, updated_at) VALUES ('donor', 'individual', $1, '江汉区', $2, $2)")
            .bind(format!("捐赠人{d}"))
            .bind(&now)
            .execute(tx.conn())
            .await?;
    }
    let mut entry = 0i64;
    for gift in 1..=GIFTS {
        let amount = rng.gen_range(100_000..10_000_000i64);
        sqlx::query("INSERT INTO pledges (donor_id, kind, amount_fen, status, created_at, updated_at) VALUES ($1, 'money', $2, 'received', $3, $3)")
            .bind(gift % DONORS + 1)
            .bind(amount)
            .bind(&now)
            .execute(tx.conn())
            .await?;
        entry += 1;
        sqlx::query("INSERT INTO ledger_entries (project_id, kind, memo, created_at) VALUES ($1, 'receipt', 'receipt', $2)")
            .bind(project)
            .bind(&now)
            .execute(tx.conn())
            .await?;
        sqlx::query("INSERT INTO ledger_lines (entry_id, project_id, account, amount_fen) VALUES ($1, $2, 'cash:general', $3), ($1, $2, 'donations:general', $4)")
            .bind(entry)
            .bind(project)
            .bind(amount)
            .bind(-amount)
            .execute(tx.conn())
            .await?;
        sqlx::query("INSERT INTO receipts (project_id, pledge_id, amount_fen, fund, received_on, entry_id, created_at) VALUES ($1, $2, $3, 'general', '2026-02-01', $4, $5)")
            .bind(project)
            .bind(gift)
            .bind(amount)
            .bind(entry)
            .bind(&now)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    let mut written = 0;
    while written < PAYMENTS {
        let mut tx = db.begin().await?;
        let (mut entries, mut lines, mut payments) = (String::new(), String::new(), String::new());
        for n in 0..BATCH {
            entry += 1;
            let line = rng.gen_range(1..=LINES);
            let amount = rng.gen_range(1_000..500_000i64);
            let subsidy = rng.gen_ratio(1, 10);
            let sep = if n > 0 { "," } else { "" };
            entries.push_str(&format!(
                "{sep}({entry}, {project}, 'disbursement', 'payment', '{now}')"
            ));
            lines.push_str(&format!(
                "{sep}({entry}, {project}, 'line:{line}', {amount}), ({entry}, {project}, 'cash:general', {})",
                -amount
            ));
            let (kind, headcount, rate, days) = if subsidy {
                ("subsidy", "1", amount.to_string(), "1")
            } else {
                ("other", "NULL", "NULL".to_owned(), "NULL")
            };
            payments.push_str(&format!(
                "{sep}({project}, {line}, '{kind}', 'general', {amount}, '收款方', {}, {headcount}, {rate}, {days}, '2026-03-01', {entry}, '{now}')",
                if subsidy { "'volunteers'" } else { "NULL" }
            ));
        }
        sqlx::query(&format!(
            "INSERT INTO ledger_entries (id, project_id, kind, memo, created_at) VALUES {entries}"
        ))
        .execute(tx.conn())
        .await?;
        sqlx::query(&format!(
            "INSERT INTO ledger_lines (entry_id, project_id, account, amount_fen) VALUES {lines}"
        ))
        .execute(tx.conn())
        .await?;
        sqlx::query(&format!(
            "INSERT INTO disbursements (project_id, budget_line_id, kind, fund, amount_fen, payee, beneficiary_group, headcount, \
             rate_fen, days, paid_on, entry_id, created_at) VALUES {payments}"
        ))
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        written += BATCH;
    }
    // The balances the service keeps entry by entry, computed once for the seeded lines.
    sqlx::query(
        "INSERT INTO ledger_balances (project_id, account, debit_fen, credit_fen) \
         SELECT project_id, account, SUM(CASE WHEN amount_fen > 0 THEN amount_fen ELSE 0 END), \
                SUM(CASE WHEN amount_fen < 0 THEN -amount_fen ELSE 0 END) FROM ledger_lines GROUP BY project_id, account",
    )
    .execute(db.pool())
    .await?;
    Ok(project)
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (url, backend) = match std::env::var("WEAVE_BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, "postgres"),
        _ => (
            format!("sqlite://{}", tmp.path().join("bench.db").display()),
            "sqlite",
        ),
    };
    let db = Db::connect(&url, 4).await?;
    db.migrate().await?;
    let mut rng = StdRng::seed_from_u64(20_200_515);
    let started = Instant::now();
    let project = seed(&db, &mut rng).await?;
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_lines")
        .fetch_one(db.pool())
        .await?;
    eprintln!(
        "seeded {lines} ledger lines in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let settings = Settings::for_database(&url, tmp.path().to_path_buf());
    let state = AppState::new(
        db.clone(),
        settings,
        "bench-secret-bench-secret-bench-secret-0123",
    )?;
    let text = |key: &str| state.pages.text(Lang::ZhCn, key);

    println!("| backend | ledger lines | output | p50 ms | runs |");
    println!("|---|---|---|---|---|");
    let runs = 5;
    let mut figures_t = Vec::new();
    let mut html_t = Vec::new();
    let mut xlsx_t = Vec::new();
    let mut csv_t = Vec::new();
    for _ in 0..runs {
        let mut conn = db.pool().acquire().await?;
        let start = Instant::now();
        let figures = closing::figures(&mut conn, project).await?;
        figures_t.push(start.elapsed());
        let tables = closing::tables(&figures, &text);
        let html = weave::reports::render_closing(&state, Lang::ZhCn, &figures, &tables, None)?;
        html_t.push(start.elapsed());
        assert!(html.contains("<svg"));
        let start = Instant::now();
        let figures = closing::figures(&mut conn, project).await?;
        let tables = closing::tables(&figures, &text);
        let book = closing::xlsx(&tables)?;
        xlsx_t.push(start.elapsed());
        assert!(!book.is_empty());
        let start = Instant::now();
        let figures = closing::figures(&mut conn, project).await?;
        let tables = closing::tables(&figures, &text);
        let budget = closing::csv(
            tables
                .iter()
                .find(|t| t.key == "budget")
                .expect("budget table"),
        )?;
        csv_t.push(start.elapsed());
        assert!(!budget.is_empty());
    }
    for (output, times) in [
        ("figures only", figures_t),
        ("html page", html_t),
        ("xlsx workbook", xlsx_t),
        ("csv (budget)", csv_t),
    ] {
        println!(
            "| {backend} | {lines} | {output} | {:.0} | {runs} |",
            median(times)
        );
    }
    Ok(())
}
