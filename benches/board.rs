//! The hub's board with 100,000 open needs: seeded, reproducible data in a fresh database
//! (SQLite by default, or PostgreSQL with `WEAVE_BENCH_DATABASE_URL`), timed over repeated
//! runs. Prints one table row per scale.
//!
//!     cargo bench --bench board

use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};
use weave::{board::BoardFilter, db::Db};

const ITEMS: i64 = 20;
const COMMUNITIES: i64 = 6_000;
const DISTRICTS: [&str; 13] = [
    "江汉区",
    "江岸区",
    "武昌区",
    "硚口区",
    "汉阳区",
    "洪山区",
    "青山区",
    "东西湖区",
    "蔡甸区",
    "江夏区",
    "黄陂区",
    "新洲区",
    "汉南区",
];

async fn seed(db: &Db, needs: i64, rng: &mut StdRng) -> anyhow::Result<()> {
    let now = weave::db::now();
    let mut tx = db.begin().await?;
    let categories = [
        "protective",
        "disinfection",
        "food",
        "meals",
        "daily_necessities",
        "medicine",
        "equipment",
    ];
    for i in 1..=ITEMS {
        sqlx::query("INSERT INTO items (code, name_zh, category, unit_zh, created_at, updated_at) VALUES ($1, $2, $3, '个', $4, $4)")
            .bind(format!("item_{i}"))
            .bind(format!("物资{i}"))
            .bind(categories[i as usize % categories.len()])
            .bind(&now)
            .execute(tx.conn())
            .await?;
    }
    for c in 1..=COMMUNITIES {
        sqlx::query("INSERT INTO organisations (kind, name_zh, district, created_at, updated_at) VALUES ('community', $1, $2, $3, $3)")
            .bind(format!("社区{c}"))
            .bind(DISTRICTS[c as usize % DISTRICTS.len()])
            .bind(&now)
            .execute(tx.conn())
            .await?;
    }
    let urgencies = ["critical", "high", "normal", "normal"];
    let groups = [
        "elders_living_alone",
        "disabled",
        "low_income",
        "residents",
        "residents",
        "volunteers",
    ];
    // Multi-row inserts of 500 needs keep seeding to seconds.
    let mut written = 0;
    while written < needs {
        let batch = (needs - written).min(500);
        let mut sql = String::from(
            "INSERT INTO needs (community_id, district, item_id, quantity, urgency, beneficiary_group, \
             beneficiary_count, delivery_mode, created_at, updated_at) VALUES ",
        );
        for n in 0..batch {
            let community = rng.gen_range(1..=COMMUNITIES);
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({community}, '{}', {}, {}, '{}', '{}', {}, 'pickup', '{now}', '{now}')",
                DISTRICTS[community as usize % DISTRICTS.len()],
                rng.gen_range(1..=ITEMS),
                rng.gen_range(1..=2_000),
                urgencies[rng.gen_range(0..urgencies.len())],
                groups[rng.gen_range(0..groups.len())],
                rng.gen_range(1..=300),
            ));
        }
        sqlx::query(&sql).execute(tx.conn()).await?;
        written += batch;
    }
    tx.commit().await?;
    Ok(())
}

async fn time_board(db: &Db, filter: &BoardFilter, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut conn = db.pool().acquire().await?;
        let start = Instant::now();
        let board = weave::board::board(&mut conn, filter).await?;
        times.push(start.elapsed());
        assert!(!board.by_item.is_empty());
    }
    times.sort();
    Ok(times)
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
    println!("| backend | open needs | filter | p50 ms | p95 ms | runs |");
    println!("|---|---|---|---|---|---|");
    let db = Db::connect(&url, 4).await?;
    db.migrate().await?;
    let mut rng = StdRng::seed_from_u64(20_200_123);
    seed(&db, 100_000, &mut rng).await?;
    let filters = [
        ("none", BoardFilter::default()),
        (
            "urgency=critical",
            BoardFilter {
                urgency: "critical".parse().ok(),
                ..Default::default()
            },
        ),
        (
            "district=江汉区",
            BoardFilter {
                district: Some("江汉区".into()),
                ..Default::default()
            },
        ),
    ];
    for (name, filter) in &filters {
        let times = time_board(&db, filter, 20).await?;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {backend} | 100000 | {name} | {:.1} | {:.1} | {} |",
            ms(times[times.len() / 2]),
            ms(times[times.len() * 95 / 100]),
            times.len()
        );
    }
    Ok(())
}
