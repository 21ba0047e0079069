//! `/metrics` in the Prometheus text format: requests by route and status with their latency,
//! the database pool, the email outbox (depth and age), the search outbox, matching run time,
//! and the last check of the stock and fund books. Served on the main listener, or on its own
//! (`WEAVE_METRICS_BIND`) so it need not be public.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::Row;

use crate::app::AppState;

/// The process's recorder: installed once, shared by every app in the process.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test process); ours still renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts every request by its route pattern (never the raw path), method and status.
pub async fn track(request: Request, next: Next) -> Response {
    handle();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("weave_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("weave_http_request_duration_seconds", "route" => route, "method" => method)
        .record(start.elapsed().as_secs_f64());
    response
}

/// Records how long a matching run took.
pub fn matching_run(seconds: f64) {
    handle();
    metrics::histogram!("weave_matching_run_seconds").record(seconds);
}

/// Records the result of a check of the books.
pub fn books_checked(stock_problems: usize, fund_problems: usize) {
    handle();
    metrics::gauge!("weave_books_problems", "book" => "stock").set(stock_problems as f64);
    metrics::gauge!("weave_books_problems", "book" => "funds").set(fund_problems as f64);
    metrics::gauge!("weave_books_checked_timestamp_seconds")
        .set(chrono::Utc::now().timestamp() as f64);
}

/// Gauges read at scrape time: pool and outboxes.
async fn refresh(state: &AppState) {
    let pool = state.db.pool();
    let idle = pool.num_idle() as f64;
    metrics::gauge!("weave_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("weave_db_pool_connections", "state" => "in_use")
        .set(pool.size() as f64 - idle);
    let outbox = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT), MIN(created_at) FROM outbox WHERE status IN ('pending', 'sending')",
    )
    .fetch_one(pool)
    .await;
    if let Ok(row) = outbox {
        metrics::gauge!("weave_outbox_pending").set(row.get::<i64, _>(0) as f64);
        let oldest: Option<String> = row.get(1);
        let age = oldest
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .num_seconds()
                    .max(0)
            })
            .unwrap_or(0);
        metrics::gauge!("weave_outbox_oldest_pending_seconds").set(age as f64);
    }
    if let Ok(row) =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE status = 'failed'")
            .fetch_one(pool)
            .await
    {
        metrics::gauge!("weave_outbox_failed").set(row.get::<i64, _>(0) as f64);
    }
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let handle = handle();
    refresh(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// The `/metrics` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

/// Checks the books every ten minutes and keeps the result in the gauges.
pub fn spawn_books_check(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let Ok(mut conn) = state.db.pool().acquire().await else {
                continue;
            };
            let stock = crate::stock::ledger::verify(&mut conn).await;
            let funds = crate::funds::store::verify(&mut conn).await;
            match (stock, funds) {
                (Ok(s), Ok(f)) => {
                    if !s.is_empty() || !f.is_empty() {
                        tracing::error!(stock = ?s, funds = ?f, "the books do not balance");
                    }
                    books_checked(s.len(), f.len());
                }
                (s, f) => tracing::warn!(stock = ?s.err(), funds = ?f.err(), "books check failed"),
            }
        }
    })
}
