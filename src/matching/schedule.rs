//! The daily matching run: at the hub's cut-off time a plan is prepared for review. With
//! several replicas on one database, the first to claim the day's row in `job_runs` runs it;
//! the claim and the plan commit together, so a failed run is retried on the next tick.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    engine, load,
    plans::{self, PlanOrigin},
};
use crate::{app::AppState, audit, db, error::AppError};

const JOB: &str = "daily_matching";

/// Runs the day's matching if the cut-off has passed and no replica has run it yet. Returns
/// the plan made, if this call made one.
pub async fn run_if_due(state: &AppState, now: DateTime<Utc>) -> Result<Option<i64>, AppError> {
    let local = now.with_timezone(&state.settings.timezone);
    if local.time() < state.settings.matching_cutoff {
        return Ok(None);
    }
    let day = local.date_naive();
    let run_key = day.format("%Y-%m-%d").to_string();
    let already = sqlx::query("SELECT 1 FROM job_runs WHERE job = $1 AND run_key = $2")
        .bind(JOB)
        .bind(&run_key)
        .fetch_optional(state.db.pool())
        .await?;
    if already.is_some() {
        return Ok(None);
    }
    let loaded = {
        let mut conn = state.db.pool().acquire().await?;
        load::load(&mut conn, day).await?
    };
    let (plan, loaded) =
        tokio::task::spawn_blocking(move || (engine::plan_explained(&loaded.instance), loaded))
            .await
            .map_err(anyhow::Error::from)?;
    let plan = plan.map_err(|e| anyhow::anyhow!("the database holds an invalid instance: {e}"))?;
    let mut tx = state.db.begin().await?;
    // The claim: on PostgreSQL a second replica's insert waits for the first to commit and
    // then inserts nothing; on SQLite the write transaction serialises them.
    let claimed = sqlx::query(
        "INSERT INTO job_runs (job, run_key, started_at) VALUES ($1, $2, $3) ON CONFLICT (job, run_key) DO NOTHING",
    )
    .bind(JOB)
    .bind(&run_key)
    .bind(db::now())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(None);
    }
    let id = plans::insert(&mut tx, &plan, &loaded, None, PlanOrigin::Scheduled, day).await?;
    sqlx::query("UPDATE job_runs SET plan_id = $1 WHERE job = $2 AND run_key = $3")
        .bind(id)
        .bind(JOB)
        .bind(&run_key)
        .execute(tx.conn())
        .await?;
    let summary = plans::get_summary(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        audit::Actor::System("daily matching"),
        "create",
        "plan",
        id,
        None::<&()>,
        Some(&summary),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(plan = id, day = %run_key, "daily matching prepared a plan for review");
    Ok(Some(id))
}

/// Checks once a minute, for as long as the service runs.
pub fn spawn(state: AppState) {
    if !state.settings.daily_matching {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(error) = run_if_due(&state, Utc::now()).await {
                tracing::warn!(%error, "daily matching failed; retrying at the next tick");
            }
        }
    });
}
