//! Plans in the service: run the engine on what the database holds, keep the proposal as a
//! draft a hub coordinator reviews and may change, and confirm it into allocations in one
//! transaction that re-checks every line against what is left, so two plans confirmed at the
//! same moment can never allocate the same unit twice.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::{
    engine,
    load::{self, parse_offer, parse_source},
};
use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::Principal,
    db::{self, Tx},
    error::AppError,
    idempotency,
    money::Money,
    needs::model::NeedStatus,
};

text_enum!(
    PlanStatus { Draft = "draft", Confirmed = "confirmed", Discarded = "discarded" }
);

text_enum!(
    PlanOrigin { Manual = "manual", Scheduled = "scheduled" }
);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanSummary {
    pub id: i64,
    pub status: PlanStatus,
    pub origin: PlanOrigin,
    /// The day the plan was made for (hub time).
    pub planned_for: String,
    pub needs: i64,
    pub asked: i64,
    pub allocated: i64,
    pub money_spent: Money,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub discard_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanLine {
    pub id: i64,
    pub need_id: i64,
    pub community_id: i64,
    pub community_name: String,
    pub district: String,
    pub item_id: i64,
    pub item_name: String,
    /// Set when the need asked for a kit: this line is one of its items.
    pub kit_id: Option<i64>,
    pub kit_name: Option<String>,
    pub pledge_id: i64,
    /// Set for a purchase: money from the pledge buys through this offer.
    pub offer_id: Option<i64>,
    pub quantity: i64,
    pub proposed_quantity: i64,
    /// What the line costs (purchases and subsidies), quantity × unit cost.
    pub cost: Option<Money>,
    /// Great-circle distance from the source (or the supplier) to the community.
    pub distance_km: Option<f64>,
    /// The reason in English, as the engine writes it.
    pub reason: String,
    /// The reason as data, for any language.
    pub why: Option<engine::Why>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnmetPart {
    pub need_id: i64,
    pub item_id: i64,
    pub quantity: i64,
}

/// A kit need put back together: how many whole kits the plan's lines make.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KitProgress {
    pub need_id: i64,
    pub kit_id: i64,
    pub kit_name: String,
    pub kits_asked: i64,
    /// Whole kits the plan's lines (with what was allocated before) complete.
    pub kits_complete: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    #[serde(flatten)]
    pub summary: PlanSummary,
    pub lines: Vec<PlanLine>,
    pub kits: Vec<KitProgress>,
    pub unmet: Vec<UnmetPart>,
}

/// Runs the engine on the open needs and the supply left today, and keeps the result as a
/// draft plan. Returns its id.
pub async fn run(
    state: &AppState,
    actor: Option<&Principal>,
    origin: PlanOrigin,
) -> Result<i64, AppError> {
    let today = state.settings.today();
    let started = std::time::Instant::now();
    let loaded = {
        let mut conn = state.db.pool().acquire().await?;
        load::load(&mut conn, today).await?
    };
    let (plan, loaded) = tokio::task::spawn_blocking(move || {
        let plan = engine::plan_explained(&loaded.instance);
        (plan, loaded)
    })
    .await
    .map_err(anyhow::Error::from)?;
    let plan = plan.map_err(|e| anyhow::anyhow!("the database holds an invalid instance: {e}"))?;
    let mut tx = state.db.begin().await?;
    let id = insert(&mut tx, &plan, &loaded, actor, origin, today).await?;
    let summary = get_summary(tx.conn(), id).await?;
    let actor = actor.map_or(Actor::System("daily matching"), Actor::User);
    audit::record(
        tx.conn(),
        actor,
        "create",
        "plan",
        id,
        None::<&()>,
        Some(&summary),
    )
    .await?;
    tx.commit().await?;
    crate::observe::matching_run(started.elapsed().as_secs_f64());
    Ok(id)
}

pub(super) async fn insert(
    tx: &mut Tx,
    (plan, whys): &(engine::Plan, Vec<engine::Why>),
    loaded: &load::Loaded,
    actor: Option<&Principal>,
    origin: PlanOrigin,
    today: chrono::NaiveDate,
) -> Result<i64, AppError> {
    let unmet: Vec<UnmetPart> = plan
        .unmet
        .iter()
        .filter_map(|u| {
            let part = loaded.needs.get(&*u.need)?;
            Some(UnmetPart {
                need_id: part.need_id,
                item_id: part.item_id,
                quantity: u.quantity,
            })
        })
        .collect();
    let row = sqlx::query(
        "INSERT INTO plans (status, origin, planned_for, needs_count, asked, allocated, money_spent_fen, unmet_json, \
         created_by, created_at) VALUES ('draft', $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(origin.as_str())
    .bind(today.format("%Y-%m-%d").to_string())
    .bind(plan.summary.needs as i64)
    .bind(plan.summary.asked)
    .bind(plan.summary.allocated)
    .bind(plan.summary.money_spent.fen())
    .bind(serde_json::to_string(&unmet).map_err(anyhow::Error::from)?)
    .bind(actor.map(|a| a.user_id))
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?;
    let id: i64 = row.try_get("id")?;
    for (line, why) in plan.allocations.iter().zip(whys) {
        let part = loaded
            .needs
            .get(&*line.need)
            .ok_or_else(|| anyhow::anyhow!("unknown need {}", line.need))?;
        let pledge = parse_source(&line.source)
            .ok_or_else(|| anyhow::anyhow!("unknown source {}", line.source))?;
        let offer = line.offer.as_deref().and_then(parse_offer);
        let unit_cost = line.cost.map(|c| c.fen() / line.quantity.max(1));
        sqlx::query(
            "INSERT INTO plan_lines (plan_id, need_id, item_id, pledge_id, offer_id, proposed_quantity, quantity, \
             unit_cost_fen, distance_m, reason, why_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(part.need_id)
        .bind(part.item_id)
        .bind(pledge)
        .bind(offer)
        .bind(line.quantity)
        .bind(line.quantity)
        .bind(unit_cost)
        .bind(line.distance_km.map(|km| (km * 1000.0).round() as i64))
        .bind(line.reason.to_string())
        .bind(serde_json::to_string(why).map_err(anyhow::Error::from)?)
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}

const SUMMARY: &str =
    "SELECT id, status, origin, planned_for, needs_count, asked, allocated, money_spent_fen, \
    created_at, decided_at, discard_reason, unmet_json FROM plans";

fn summary_from(row: &sqlx::any::AnyRow) -> Result<PlanSummary, sqlx::Error> {
    Ok(PlanSummary {
        id: row.try_get("id")?,
        status: PlanStatus::parse(&row.try_get::<String, _>("status")?)
            .unwrap_or(PlanStatus::Draft),
        origin: PlanOrigin::parse(&row.try_get::<String, _>("origin")?)
            .unwrap_or(PlanOrigin::Manual),
        planned_for: row.try_get("planned_for")?,
        needs: row.try_get("needs_count")?,
        asked: row.try_get("asked")?,
        allocated: row.try_get("allocated")?,
        money_spent: Money::from_fen(row.try_get("money_spent_fen")?),
        created_at: row.try_get("created_at")?,
        decided_at: row.try_get("decided_at")?,
        discard_reason: row.try_get("discard_reason")?,
    })
}

pub async fn get_summary(conn: &mut AnyConnection, id: i64) -> Result<PlanSummary, AppError> {
    let row = sqlx::query(&format!("{SUMMARY} WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(summary_from(&row)?)
}

/// The most recent plans, newest first.
pub async fn list(conn: &mut AnyConnection, limit: i64) -> Result<Vec<PlanSummary>, AppError> {
    let rows = sqlx::query(&format!("{SUMMARY} ORDER BY id DESC LIMIT $1"))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(summary_from).collect::<Result<_, _>>()?)
}

/// A plan with its lines (by community, then item) and what it left unmet.
pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<Plan, AppError> {
    let row = sqlx::query(&format!("{SUMMARY} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let summary = summary_from(&row)?;
    let unmet = serde_json::from_str(&row.try_get::<String, _>("unmet_json")?).unwrap_or_default();
    let rows = sqlx::query(
        "SELECT l.id, l.need_id, n.community_id, o.name_zh AS community_name, n.district, l.item_id, \
                i.name_zh AS item_name, n.kit_id, k.name_zh AS kit_name, l.pledge_id, l.offer_id, l.quantity, \
                l.proposed_quantity, l.unit_cost_fen, l.distance_m, l.reason, l.why_json \
         FROM plan_lines l JOIN needs n ON n.id = l.need_id JOIN organisations o ON o.id = n.community_id \
         JOIN items i ON i.id = l.item_id LEFT JOIN kits k ON k.id = n.kit_id \
         WHERE l.plan_id = $1 ORDER BY o.name_zh, n.community_id, l.item_id, l.need_id, l.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut lines = Vec::with_capacity(rows.len());
    for r in rows {
        let quantity: i64 = r.try_get("quantity")?;
        let unit_cost: Option<i64> = r.try_get("unit_cost_fen")?;
        lines.push(PlanLine {
            id: r.try_get("id")?,
            need_id: r.try_get("need_id")?,
            community_id: r.try_get("community_id")?,
            community_name: r.try_get("community_name")?,
            district: r.try_get("district")?,
            item_id: r.try_get("item_id")?,
            item_name: r.try_get("item_name")?,
            kit_id: r.try_get("kit_id")?,
            kit_name: r.try_get("kit_name")?,
            pledge_id: r.try_get("pledge_id")?,
            offer_id: r.try_get("offer_id")?,
            quantity,
            proposed_quantity: r.try_get("proposed_quantity")?,
            cost: unit_cost.map(|c| Money::from_fen(c * quantity)),
            distance_km: r
                .try_get::<Option<i64>, _>("distance_m")?
                .map(|m| (m / 100) as f64 / 10.0),
            reason: r.try_get("reason")?,
            why: serde_json::from_str(&r.try_get::<String, _>("why_json")?).ok(),
        });
    }
    let kits = kit_progress(conn, id).await?;
    Ok(Plan {
        summary,
        lines,
        kits,
        unmet,
    })
}

async fn kit_progress(
    conn: &mut AnyConnection,
    plan_id: i64,
) -> Result<Vec<KitProgress>, AppError> {
    let rows = sqlx::query(
        "SELECT n.id AS need_id, n.kit_id, k.name_zh, n.quantity AS kits_asked, ki.quantity AS per_kit,                 CAST((SELECT COALESCE(SUM(l.quantity), 0) FROM plan_lines l WHERE l.plan_id = $1                       AND l.need_id = n.id AND l.item_id = ki.item_id) AS BIGINT) AS planned,                 CAST((SELECT COALESCE(SUM(a.quantity - a.returned - a.written_off), 0) FROM allocations a WHERE a.need_id = n.id                       AND a.item_id = ki.item_id AND a.status = 'reserved' AND a.plan_id <> $1) AS BIGINT) AS before          FROM needs n JOIN kits k ON k.id = n.kit_id JOIN kit_items ki ON ki.kit_id = n.kit_id          WHERE n.id IN (SELECT need_id FROM plan_lines WHERE plan_id = $1) ORDER BY n.id",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await?;
    let mut kits: Vec<KitProgress> = Vec::new();
    for r in rows {
        let need_id: i64 = r.try_get("need_id")?;
        let complete = (r.try_get::<i64, _>("planned")? + r.try_get::<i64, _>("before")?)
            / r.try_get::<i64, _>("per_kit")?.max(1);
        match kits.last_mut() {
            Some(kit) if kit.need_id == need_id => {
                kit.kits_complete = kit.kits_complete.min(complete)
            }
            _ => kits.push(KitProgress {
                need_id,
                kit_id: r.try_get("kit_id")?,
                kit_name: r.try_get("name_zh")?,
                kits_asked: r.try_get("kits_asked")?,
                kits_complete: complete,
            }),
        }
    }
    Ok(kits)
}

/// Locks a plan and checks it is still a draft.
async fn lock_draft(tx: &mut Tx, id: i64) -> Result<PlanSummary, AppError> {
    let lock = tx.for_update();
    sqlx::query(&format!("SELECT id FROM plans WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    let summary = get_summary(tx.conn(), id).await?;
    if summary.status != PlanStatus::Draft {
        return Err(AppError::Conflict {
            code: "plan_not_draft",
            detail: format!(
                "plan {id} is {} and can no longer change",
                summary.status.as_str()
            ),
        });
    }
    Ok(summary)
}

/// Changes how much a line of a draft plan gives (0 removes it). The whole plan must still fit
/// what is left of every need, pledge and offer.
pub async fn change_line(
    state: &AppState,
    actor: &Principal,
    plan_id: i64,
    line_id: i64,
    quantity: i64,
) -> Result<Plan, AppError> {
    if !(0..=1_000_000_000).contains(&quantity) {
        return Err(AppError::validation(
            "quantity",
            "out_of_range",
            "quantity must be between 0 and 1,000,000,000",
        ));
    }
    let mut tx = state.db.begin().await?;
    lock_draft(&mut tx, plan_id).await?;
    let before: Option<i64> =
        sqlx::query("SELECT quantity FROM plan_lines WHERE id = $1 AND plan_id = $2")
            .bind(line_id)
            .bind(plan_id)
            .fetch_optional(tx.conn())
            .await?
            .map(|r| r.get("quantity"));
    let before = before.ok_or(AppError::NotFound)?;
    sqlx::query("UPDATE plan_lines SET quantity = $1 WHERE id = $2")
        .bind(quantity)
        .bind(line_id)
        .execute(tx.conn())
        .await?;
    if let Err(problem) = check(tx.conn(), plan_id, state.settings.today()).await? {
        return Err(AppError::validation("quantity", "does_not_fit", problem));
    }
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "change_line",
        "plan",
        plan_id,
        Some(&serde_json::json!({"line": line_id, "quantity": before})),
        Some(&serde_json::json!({"line": line_id, "quantity": quantity})),
    )
    .await?;
    tx.commit().await?;
    let mut conn = state.db.pool().acquire().await?;
    get(&mut conn, plan_id).await
}

/// Whether the plan's lines still fit what is left: each need part's shortfall, each goods
/// pledge's units, each money pledge's amount, each offer's weekly capacity. `Ok(Err(why))`
/// names the first thing that does not fit.
async fn check(
    conn: &mut AnyConnection,
    plan_id: i64,
    today: chrono::NaiveDate,
) -> Result<Result<(), String>, AppError> {
    let needs = sqlx::query(
        "SELECT l.need_id, l.item_id, n.status, CAST(SUM(l.quantity) AS BIGINT) AS planned, \
                MAX(n.quantity * COALESCE(ki.quantity, 1)) AS asked, \
                CAST((SELECT COALESCE(SUM(a.quantity - a.returned - a.written_off), 0) FROM allocations a WHERE a.need_id = l.need_id \
                      AND a.item_id = l.item_id AND a.status = 'reserved') AS BIGINT) AS allocated \
         FROM plan_lines l JOIN needs n ON n.id = l.need_id \
         LEFT JOIN kit_items ki ON ki.kit_id = n.kit_id AND ki.item_id = l.item_id \
         WHERE l.plan_id = $1 AND l.quantity > 0 GROUP BY l.need_id, l.item_id, n.status",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    for r in needs {
        let need: i64 = r.get("need_id");
        let status = NeedStatus::parse(&r.get::<String, _>("status")).unwrap_or(NeedStatus::Closed);
        if !status.is_open() {
            return Ok(Err(format!(
                "need {need} is {} and takes no more supply",
                status.as_str()
            )));
        }
        let (planned, asked, allocated): (i64, i64, i64) =
            (r.get("planned"), r.get("asked"), r.get("allocated"));
        if planned > asked - allocated {
            return Ok(Err(format!(
                "need {need} (item {}) is short {} but the plan gives {planned}",
                r.get::<i64, _>("item_id"),
                asked - allocated
            )));
        }
    }
    let pledges = sqlx::query(
        "SELECT l.pledge_id, p.kind, p.status, MAX(p.quantity) AS quantity, MAX(p.amount_fen) AS amount_fen, \
                CAST(SUM(l.quantity) AS BIGINT) AS planned_units, \
                CAST(SUM(l.quantity * COALESCE(l.unit_cost_fen, 0)) AS BIGINT) AS planned_fen, \
                CAST((SELECT COALESCE(SUM(a.quantity - a.returned), 0) FROM allocations a WHERE a.pledge_id = l.pledge_id \
                      AND a.status = 'reserved') AS BIGINT) AS used_units, \
                CAST((SELECT COALESCE(SUM(a.cost_fen), 0) FROM allocations a WHERE a.pledge_id = l.pledge_id \
                      AND a.status = 'reserved') AS BIGINT) AS used_fen \
         FROM plan_lines l JOIN pledges p ON p.id = l.pledge_id \
         WHERE l.plan_id = $1 AND l.quantity > 0 GROUP BY l.pledge_id, p.kind, p.status",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    for r in pledges {
        let pledge: i64 = r.get("pledge_id");
        let status: String = r.get("status");
        if status != "pledged" && status != "received" {
            return Ok(Err(format!("pledge {pledge} is {status}")));
        }
        if r.get::<String, _>("kind") == "money" {
            let left =
                r.get::<Option<i64>, _>("amount_fen").unwrap_or(0) - r.get::<i64, _>("used_fen");
            let planned: i64 = r.get("planned_fen");
            if planned > left {
                return Ok(Err(format!(
                    "pledge {pledge} has {} left but the plan spends {}",
                    Money::from_fen(left),
                    Money::from_fen(planned)
                )));
            }
        } else {
            let left =
                r.get::<Option<i64>, _>("quantity").unwrap_or(0) - r.get::<i64, _>("used_units");
            let planned: i64 = r.get("planned_units");
            if planned > left {
                return Ok(Err(format!(
                    "pledge {pledge} has {left} units left but the plan gives {planned}"
                )));
            }
        }
    }
    let week_ago = (today - chrono::Days::new(6))
        .format("%Y-%m-%d")
        .to_string();
    let offers = sqlx::query(
        "SELECT l.offer_id, MAX(s.weekly_capacity) AS capacity, CAST(SUM(l.quantity) AS BIGINT) AS planned, \
                CAST((SELECT COALESCE(SUM(a.quantity), 0) FROM allocations a WHERE a.offer_id = l.offer_id \
                      AND a.status = 'reserved' AND a.created_at >= $2) AS BIGINT) AS bought \
         FROM plan_lines l JOIN supplier_offers s ON s.id = l.offer_id \
         WHERE l.plan_id = $1 AND l.quantity > 0 AND l.offer_id IS NOT NULL GROUP BY l.offer_id",
    )
    .bind(plan_id)
    .bind(week_ago)
    .fetch_all(&mut *conn)
    .await?;
    for r in offers {
        let left = r.get::<i64, _>("capacity") - r.get::<i64, _>("bought");
        let planned: i64 = r.get("planned");
        if planned > left {
            return Ok(Err(format!(
                "offer {} can still deliver {left} this week but the plan buys {planned}",
                r.get::<i64, _>("offer_id")
            )));
        }
    }
    Ok(Ok(()))
}

const CONFIRM_SCOPE: &str = "POST /api/v1/plans/{id}/confirm";

/// Confirms a draft plan: its lines become reserved allocations and its needs move to matched
/// or partially matched, all in one transaction. The needs, pledges and offers it touches are
/// locked first and every line re-checked, so a plan confirmed a moment earlier by someone
/// else is seen and nothing is allocated twice. Once per `Idempotency-Key`.
pub async fn confirm(
    state: &AppState,
    actor: &Principal,
    plan_id: i64,
    key: &str,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let hash = idempotency::request_hash(&plan_id);
    for _ in 0..2 {
        let mut tx = state.db.begin().await?;
        if let Some(stored) =
            idempotency::lookup(tx.conn(), actor.user_id, CONFIRM_SCOPE, key, &hash).await?
        {
            return Ok((stored.status, stored.body));
        }
        let before = lock_draft(&mut tx, plan_id).await?;
        lock_touched(&mut tx, plan_id).await?;
        if let Err(problem) = check(tx.conn(), plan_id, state.settings.today()).await? {
            return Err(AppError::Conflict {
                code: "plan_no_longer_fits",
                detail: problem,
            });
        }
        let now = db::now();
        sqlx::query(
            "INSERT INTO allocations (plan_id, plan_line_id, need_id, item_id, pledge_id, offer_id, quantity, cost_fen, \
             status, reason, created_by, created_at) \
             SELECT plan_id, id, need_id, item_id, pledge_id, offer_id, quantity, quantity * COALESCE(unit_cost_fen, 0), \
             'reserved', reason, $2, $3 FROM plan_lines WHERE plan_id = $1 AND quantity > 0",
        )
        .bind(plan_id)
        .bind(actor.user_id)
        .bind(&now)
        .execute(tx.conn())
        .await?;
        update_need_statuses(&mut tx, plan_id).await?;
        crate::stock::reserve_for_plan(&mut tx, plan_id, Some(actor.user_id)).await?;
        sqlx::query(
            "UPDATE plans SET status = 'confirmed', decided_by = $1, decided_at = $2 WHERE id = $3",
        )
        .bind(actor.user_id)
        .bind(&now)
        .bind(plan_id)
        .execute(tx.conn())
        .await?;
        let after = get_summary(tx.conn(), plan_id).await?;
        audit::record(
            tx.conn(),
            Actor::User(actor),
            "confirm",
            "plan",
            plan_id,
            Some(&before),
            Some(&after),
        )
        .await?;
        let body = serde_json::to_value(&after).map_err(anyhow::Error::from)?;
        match idempotency::remember(
            tx.conn(),
            actor.user_id,
            CONFIRM_SCOPE,
            key,
            &hash,
            StatusCode::OK,
            &body,
        )
        .await
        {
            Err(e) if idempotency::is_concurrent_duplicate(&e) => continue,
            other => other?,
        }
        tx.commit().await?;
        return Ok((StatusCode::OK, body));
    }
    Err(AppError::Conflict {
        code: "concurrent_retry",
        detail: "the same request is being processed; retry".into(),
    })
}

/// Row locks (PostgreSQL) on everything the plan draws on, in a fixed order, so concurrent
/// confirmations queue instead of both passing the check.
async fn lock_touched(tx: &mut Tx, plan_id: i64) -> Result<(), AppError> {
    let lock = tx.for_update();
    if lock.is_empty() {
        return Ok(()); // SQLite: the write transaction already holds the database.
    }
    for (table, column) in [
        ("needs", "need_id"),
        ("pledges", "pledge_id"),
        ("supplier_offers", "offer_id"),
    ] {
        sqlx::query(&format!(
            "SELECT id FROM {table} WHERE id IN (SELECT {column} FROM plan_lines WHERE plan_id = $1) ORDER BY id{lock}"
        ))
        .bind(plan_id)
        .fetch_all(tx.conn())
        .await?;
    }
    Ok(())
}

/// Each need the plan touched is matched when every item of it is fully allocated, else
/// partially matched.
async fn update_need_statuses(tx: &mut Tx, plan_id: i64) -> Result<(), AppError> {
    let rows = sqlx::query(
        "SELECT n.id, n.status, \
                CAST(SUM(CASE WHEN parts.allocated >= parts.asked THEN 0 ELSE 1 END) AS BIGINT) AS short_parts, \
                CAST(SUM(parts.allocated) AS BIGINT) AS allocated \
         FROM needs n JOIN ( \
             SELECT n2.id AS need_id, n2.quantity * COALESCE(ki.quantity, 1) AS asked, \
                    CAST((SELECT COALESCE(SUM(a.quantity - a.returned - a.written_off), 0) FROM allocations a WHERE a.need_id = n2.id \
                          AND a.item_id = COALESCE(n2.item_id, ki.item_id) AND a.status = 'reserved') AS BIGINT) AS allocated \
             FROM needs n2 LEFT JOIN kit_items ki ON ki.kit_id = n2.kit_id \
             WHERE n2.id IN (SELECT need_id FROM plan_lines WHERE plan_id = $1)) parts ON parts.need_id = n.id \
         GROUP BY n.id, n.status",
    )
    .bind(plan_id)
    .fetch_all(tx.conn())
    .await?;
    let mut changes: HashMap<i64, NeedStatus> = HashMap::new();
    for r in rows {
        let current = NeedStatus::parse(&r.get::<String, _>("status")).unwrap_or(NeedStatus::Open);
        let next = match (r.get::<i64, _>("short_parts"), r.get::<i64, _>("allocated")) {
            (0, _) => NeedStatus::Matched,
            (_, 0) => continue, // only removed lines: nothing reserved for it
            _ => NeedStatus::PartiallyMatched,
        };
        if current != next && current.can_become(next) {
            changes.insert(r.get("id"), next);
        }
    }
    let mut ids: Vec<i64> = changes.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        crate::needs::store::set_status(tx.conn(), id, changes[&id], None).await?;
    }
    Ok(())
}

/// Discards a draft plan with a reason; nothing is allocated.
pub async fn discard(
    state: &AppState,
    actor: &Principal,
    plan_id: i64,
    reason: &str,
) -> Result<PlanSummary, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::validation(
            "reason",
            "required",
            "say why the plan is discarded (at most 500 characters)",
        ));
    }
    let mut tx = state.db.begin().await?;
    let before = lock_draft(&mut tx, plan_id).await?;
    sqlx::query("UPDATE plans SET status = 'discarded', decided_by = $1, decided_at = $2, discard_reason = $3 WHERE id = $4")
        .bind(actor.user_id)
        .bind(db::now())
        .bind(reason)
        .bind(plan_id)
        .execute(tx.conn())
        .await?;
    let after = get_summary(tx.conn(), plan_id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "discard",
        "plan",
        plan_id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
