//! Dispatch and delivery, the daily cycle: from stock held for confirmed allocations, the next
//! day's pick lists per warehouse and delivery runs per community (home deliveries apart from
//! station pickups); runs leave (stock goes in transit), volunteers mark them delivered, and the
//! community confirms what actually arrived. Shortfalls go back to stock and to the need;
//! damage is written off with its reason. Owns `/api/v1/dispatch` and `/api/v1/deliveries`.

mod handlers;
mod pages;

pub use handlers::api_router;
pub use pages::page_router;

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Permission, Principal, Role},
    db::{self, Tx},
    error::AppError,
    idempotency,
    needs::model::{DeliveryMode, NeedStatus},
    stock::ledger::{self, Key, Movement, MovementKind},
    validate::Fields,
};

text_enum!(
    DeliveryStatus {
        Planned = "planned",
        Dispatched = "dispatched",
        Delivered = "delivered",
        Confirmed = "confirmed",
    }
);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryLine {
    pub id: i64,
    pub allocation_id: i64,
    pub need_id: i64,
    pub item_id: i64,
    pub item_name_zh: String,
    pub item_name_en: Option<String>,
    pub unit_zh: String,
    pub lot_id: i64,
    pub lot_code: String,
    pub expires_on: Option<String>,
    pub location_id: i64,
    pub location_name: String,
    pub quantity: i64,
    /// Confirmed by the community: units that arrived in good order.
    pub received: Option<i64>,
    /// Confirmed by the community: units that arrived damaged (written off).
    pub damaged: Option<i64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub run_date: String,
    pub community_id: i64,
    pub community_name: String,
    pub district: String,
    pub address: Option<String>,
    /// `home_delivery` (special groups) or `pickup` (at the community station).
    pub mode: DeliveryMode,
    pub status: DeliveryStatus,
    pub delivered_at: Option<String>,
    pub confirmed_at: Option<String>,
    pub note: Option<String>,
    pub lines: Vec<DeliveryLine>,
}

/// What one warehouse (or station) hands out for a day's runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PickList {
    pub location_id: i64,
    pub location_name: String,
    pub lines: Vec<PickLine>,
    pub units: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PickLine {
    pub item_name_zh: String,
    pub item_name_en: Option<String>,
    pub unit_zh: String,
    pub lot_code: String,
    pub expires_on: Option<String>,
    pub quantity: i64,
    pub delivery_id: i64,
    pub community_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DispatchDay {
    pub date: String,
    pub pick_lists: Vec<PickList>,
    /// Home deliveries first, then station pickups, by community.
    pub runs: Vec<Delivery>,
    /// Units held for allocations and not yet on any run.
    pub units_waiting: i64,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.run_date, d.community_id, o.name_zh AS community_name, o.district, o.address, \
     d.mode, d.status, d.delivered_at, d.confirmed_at, d.note FROM deliveries d JOIN organisations o ON o.id = d.community_id";

fn delivery_from(r: &sqlx::any::AnyRow) -> Delivery {
    Delivery {
        id: r.get("id"),
        run_date: r.get("run_date"),
        community_id: r.get("community_id"),
        community_name: r.get("community_name"),
        district: r.get("district"),
        address: r.get("address"),
        mode: DeliveryMode::parse(&r.get::<String, _>("mode")).unwrap_or(DeliveryMode::Pickup),
        status: DeliveryStatus::parse(&r.get::<String, _>("status"))
            .unwrap_or(DeliveryStatus::Planned),
        delivered_at: r.get("delivered_at"),
        confirmed_at: r.get("confirmed_at"),
        note: r.get("note"),
        lines: Vec::new(),
    }
}

async fn with_lines(
    conn: &mut AnyConnection,
    mut deliveries: Vec<Delivery>,
) -> Result<Vec<Delivery>, AppError> {
    if deliveries.is_empty() {
        return Ok(deliveries);
    }
    let ids: Vec<String> = deliveries.iter().map(|d| d.id.to_string()).collect();
    let rows = sqlx::query(&format!(
        "SELECT dl.id, dl.delivery_id, dl.allocation_id, dl.need_id, dl.item_id, i.name_zh, i.name_en, i.unit_zh, \
                dl.lot_id, l.code, l.expires_on, dl.location_id, loc.name_zh AS location_name, dl.quantity, \
                dl.received, dl.damaged, dl.note \
         FROM delivery_lines dl JOIN items i ON i.id = dl.item_id JOIN lots l ON l.id = dl.lot_id \
         JOIN locations loc ON loc.id = dl.location_id \
         WHERE dl.delivery_id IN ({}) ORDER BY dl.delivery_id, i.id, dl.id",
        ids.join(",")
    ))
    .fetch_all(conn)
    .await?;
    let index: HashMap<i64, usize> = deliveries
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id, i))
        .collect();
    for r in rows {
        let delivery: i64 = r.get("delivery_id");
        deliveries[index[&delivery]].lines.push(DeliveryLine {
            id: r.get("id"),
            allocation_id: r.get("allocation_id"),
            need_id: r.get("need_id"),
            item_id: r.get("item_id"),
            item_name_zh: r.get("name_zh"),
            item_name_en: r.get("name_en"),
            unit_zh: r.get("unit_zh"),
            lot_id: r.get("lot_id"),
            lot_code: r.get("code"),
            expires_on: r.get("expires_on"),
            location_id: r.get("location_id"),
            location_name: r.get("location_name"),
            quantity: r.get("quantity"),
            received: r.get("received"),
            damaged: r.get("damaged"),
            note: r.get("note"),
        });
    }
    Ok(deliveries)
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<Delivery, AppError> {
    let row = sqlx::query(&format!("{DELIVERY_SELECT} WHERE d.id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let mut list = with_lines(conn, vec![delivery_from(&row)]).await?;
    Ok(list.remove(0))
}

/// The delivery, if this account may see it: a secretary sees only their own communities'.
pub async fn visible(
    conn: &mut AnyConnection,
    actor: &Principal,
    id: i64,
) -> Result<Delivery, AppError> {
    authorize(Some(actor), Permission::ReadDeliveries)?;
    let delivery = get(conn, id).await?;
    if actor.role == Role::CommunitySecretary && !actor.acts_for(delivery.community_id) {
        return Err(AppError::NotFound);
    }
    Ok(delivery)
}

#[derive(Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    pub date: Option<NaiveDate>,
    pub status: Option<DeliveryStatus>,
    pub community_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Runs, newest first, with their lines; `only` keeps those of the given communities.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &DeliveryFilter,
    only: Option<&[i64]>,
) -> Result<Vec<Delivery>, AppError> {
    let window = crate::paging::Window::new(filter.page, filter.per_page);
    let only_sql = match only {
        Some([]) => " AND 1 = 0".to_owned(),
        Some(ids) => format!(
            " AND d.community_id IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
        None => String::new(),
    };
    let rows = sqlx::query(&format!(
        "{DELIVERY_SELECT} WHERE ($1 = '' OR d.run_date = $1) AND ($2 = '' OR d.status = $2) \
         AND ($3 = 0 OR d.community_id = $3){only_sql} ORDER BY d.run_date DESC, d.id DESC LIMIT {} OFFSET {}",
        window.per_page,
        window.offset()
    ))
    .bind(
        filter
            .date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
    )
    .bind(filter.status.map(|s| s.as_str()).unwrap_or(""))
    .bind(filter.community_id.unwrap_or(0))
    .fetch_all(&mut *conn)
    .await?;
    with_lines(conn, rows.iter().map(delivery_from).collect()).await
}

/// The runs of one day (all, or those of the given communities), with the pick lists per
/// location for the runs not yet gone.
pub async fn day(
    conn: &mut AnyConnection,
    date: NaiveDate,
    only: Option<&[i64]>,
) -> Result<DispatchDay, AppError> {
    let date_text = date.format("%Y-%m-%d").to_string();
    let rows = sqlx::query(&format!(
        "{DELIVERY_SELECT} WHERE d.run_date = $1 ORDER BY CASE WHEN d.mode = 'home_delivery' THEN 0 ELSE 1 END, \
         o.district, o.name_zh, d.id"
    ))
    .bind(&date_text)
    .fetch_all(&mut *conn)
    .await?;
    let runs: Vec<Delivery> = rows
        .iter()
        .map(delivery_from)
        .filter(|d| only.is_none_or(|ids| ids.contains(&d.community_id)))
        .collect();
    let runs = with_lines(conn, runs).await?;
    let mut lists: BTreeMap<i64, PickList> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.status == DeliveryStatus::Planned) {
        for line in &run.lines {
            let list = lists.entry(line.location_id).or_insert_with(|| PickList {
                location_id: line.location_id,
                location_name: line.location_name.clone(),
                lines: Vec::new(),
                units: 0,
            });
            list.units += line.quantity;
            list.lines.push(PickLine {
                item_name_zh: line.item_name_zh.clone(),
                item_name_en: line.item_name_en.clone(),
                unit_zh: line.unit_zh.clone(),
                lot_code: line.lot_code.clone(),
                expires_on: line.expires_on.clone(),
                quantity: line.quantity,
                delivery_id: run.id,
                community_name: run.community_name.clone(),
            });
        }
    }
    let units_waiting = if only.is_none() {
        waiting(conn).await?.iter().map(|w| w.quantity).sum()
    } else {
        0
    };
    let mut pick_lists: Vec<PickList> = lists.into_values().collect();
    for list in &mut pick_lists {
        list.lines.sort_by(|a, b| {
            (&a.item_name_zh, &a.lot_code, a.delivery_id).cmp(&(
                &b.item_name_zh,
                &b.lot_code,
                b.delivery_id,
            ))
        });
    }
    Ok(DispatchDay {
        date: date_text,
        pick_lists,
        runs,
        units_waiting,
    })
}

/// Reserved stock not yet on a run that has not left.
struct Waiting {
    location: i64,
    lot: i64,
    allocation: i64,
    quantity: i64,
    need: i64,
    item: i64,
    community: i64,
    mode: String,
}

async fn waiting(conn: &mut AnyConnection) -> Result<Vec<Waiting>, AppError> {
    let rows = sqlx::query(
        "SELECT b.location_id, b.lot_id, b.allocation_id, b.quantity - CAST(COALESCE((\
                  SELECT SUM(dl.quantity) FROM delivery_lines dl JOIN deliveries d ON d.id = dl.delivery_id \
                  WHERE d.status = 'planned' AND dl.allocation_id = b.allocation_id AND dl.lot_id = b.lot_id \
                    AND dl.location_id = b.location_id), 0) AS BIGINT) AS quantity, \
                a.need_id, a.item_id, n.community_id, n.delivery_mode \
         FROM stock_balances b JOIN allocations a ON a.id = b.allocation_id JOIN needs n ON n.id = a.need_id \
         WHERE b.bucket = 'reserved' AND b.quantity > 0 AND a.status = 'reserved' \
         ORDER BY n.community_id, n.delivery_mode, a.id, b.lot_id, b.location_id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Waiting {
            location: r.get("location_id"),
            lot: r.get("lot_id"),
            allocation: r.get("allocation_id"),
            quantity: r.get("quantity"),
            need: r.get("need_id"),
            item: r.get("item_id"),
            community: r.get("community_id"),
            mode: r.get("delivery_mode"),
        })
        .filter(|w| w.quantity > 0)
        .collect())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareInput {
    /// The day the runs go out (default: tomorrow, hub time).
    pub date: Option<NaiveDate>,
}

const PREPARE_SCOPE: &str = "POST /api/v1/dispatch";

/// Puts every unit held for allocations and not yet on a run onto runs for `date`: one run per
/// community and delivery mode. Once per `Idempotency-Key`.
pub async fn prepare(
    state: &AppState,
    actor: &Principal,
    key: &str,
    input: PrepareInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(Some(actor), Permission::ManageStock)?;
    let date = input
        .date
        .unwrap_or_else(|| state.settings.today() + chrono::Days::new(1));
    let hash = idempotency::request_hash(&date);
    idempotency::once(&state.db, actor.user_id, PREPARE_SCOPE, key, &hash, |tx| {
        Box::pin(prepare_in(tx, actor.clone(), date))
    })
    .await
}

async fn prepare_in(
    tx: &mut Tx,
    actor: Principal,
    date: NaiveDate,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let date_text = date.format("%Y-%m-%d").to_string();
    let now = db::now();
    let mut current: Option<(i64, String, i64)> = None;
    let mut created = Vec::new();
    for w in waiting(tx.conn()).await? {
        let run = match &current {
            Some((community, mode, id)) if *community == w.community && *mode == w.mode => *id,
            _ => {
                let id: i64 = sqlx::query(
                    "INSERT INTO deliveries (run_date, community_id, mode, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&date_text)
                .bind(w.community)
                .bind(&w.mode)
                .bind(actor.user_id)
                .bind(&now)
                .fetch_one(tx.conn())
                .await?
                .get(0);
                current = Some((w.community, w.mode.clone(), id));
                created.push(id);
                id
            }
        };
        sqlx::query(
            "INSERT INTO delivery_lines (delivery_id, allocation_id, need_id, item_id, lot_id, location_id, quantity) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(run)
        .bind(w.allocation)
        .bind(w.need)
        .bind(w.item)
        .bind(w.lot)
        .bind(w.location)
        .bind(w.quantity)
        .execute(tx.conn())
        .await?;
    }
    audit::record(
        tx.conn(),
        Actor::User(&actor),
        "prepare_runs",
        "dispatch",
        0,
        None::<&()>,
        Some(&serde_json::json!({ "date": date_text, "deliveries": created })),
    )
    .await?;
    let body =
        serde_json::to_value(day(tx.conn(), date, None).await?).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, body))
}

async fn lock_delivery(tx: &mut Tx, id: i64) -> Result<Delivery, AppError> {
    let lock = tx.for_update();
    sqlx::query(&format!("SELECT id FROM deliveries WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    get(tx.conn(), id).await
}

fn wrong_status(delivery: &Delivery, wanted: &str) -> AppError {
    AppError::Conflict {
        code: "invalid_transition",
        detail: format!(
            "run {} is {}; {wanted}",
            delivery.id,
            delivery.status.as_str()
        ),
    }
}

/// The run leaves: its units go from reserved to in transit, its needs into delivery.
pub async fn dispatch(state: &AppState, actor: &Principal, id: i64) -> Result<Delivery, AppError> {
    authorize(Some(actor), Permission::ManageStock)?;
    let mut tx = state.db.begin().await?;
    let before = lock_delivery(&mut tx, id).await?;
    if before.status != DeliveryStatus::Planned {
        return Err(wrong_status(&before, "only a planned run is dispatched"));
    }
    for line in &before.lines {
        let mut movement = Movement::dispatch(
            line.lot_id,
            line.location_id,
            Some(line.allocation_id),
            line.quantity,
        );
        movement.delivery = Some(id);
        ledger::post(&mut tx, &movement, Some(actor.user_id)).await?;
    }
    let mut needs: Vec<i64> = before.lines.iter().map(|l| l.need_id).collect();
    needs.sort_unstable();
    needs.dedup();
    for need in needs {
        let status = need_status(tx.conn(), need).await?;
        if status.can_become(NeedStatus::InDelivery) {
            crate::needs::store::set_status(tx.conn(), need, NeedStatus::InDelivery, None).await?;
        }
    }
    finish(tx, actor, &before, "dispatch", DeliveryStatus::Dispatched).await
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveredInput {
    pub note: Option<String>,
}

/// A volunteer marks the run handed over at the community.
pub async fn mark_delivered(
    state: &AppState,
    actor: &Principal,
    id: i64,
    input: DeliveredInput,
) -> Result<Delivery, AppError> {
    let mut fields = Fields::new();
    let note = fields.optional_text("note", input.note.as_deref(), 500);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    let before = lock_delivery(&mut tx, id).await?;
    authorize(
        Some(actor),
        Permission::MarkDelivered {
            community_id: before.community_id,
        },
    )?;
    if before.status != DeliveryStatus::Dispatched {
        return Err(wrong_status(
            &before,
            "only a dispatched run is marked delivered",
        ));
    }
    sqlx::query("UPDATE deliveries SET note = COALESCE($1, note) WHERE id = $2")
        .bind(note)
        .bind(id)
        .execute(tx.conn())
        .await?;
    finish(tx, actor, &before, "delivered", DeliveryStatus::Delivered).await
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptInput {
    /// Lines not listed arrived whole.
    #[serde(default)]
    pub lines: Vec<ReceivedLine>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    pub line_id: i64,
    /// Units that arrived in good order.
    pub received: i64,
    /// Units that arrived damaged; the rest of the line (neither received nor damaged) was not
    /// handed over and goes back to stock.
    #[serde(default)]
    pub damaged: i64,
    pub note: Option<String>,
}

/// The community confirms what arrived. Received units leave the books as delivered, damaged
/// ones are written off, the rest returns to the stock it came from; what did not arrive is
/// taken off the allocation, so the need asks for it again.
pub async fn confirm_receipt(
    state: &AppState,
    actor: &Principal,
    id: i64,
    input: ReceiptInput,
) -> Result<Delivery, AppError> {
    let mut fields = Fields::new();
    fields.optional_text("note", input.note.as_deref(), 500);
    for (i, line) in input.lines.iter().enumerate() {
        if line.received < 0 {
            fields.push(
                &format!("lines[{i}].received"),
                "out_of_range",
                "must not be negative",
            );
        }
        if line.damaged < 0 {
            fields.push(
                &format!("lines[{i}].damaged"),
                "out_of_range",
                "must not be negative",
            );
        }
        fields.optional_text(&format!("lines[{i}].note"), line.note.as_deref(), 500);
    }
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    let before = lock_delivery(&mut tx, id).await?;
    authorize(
        Some(actor),
        Permission::ConfirmReceipt {
            community_id: before.community_id,
        },
    )?;
    if !matches!(
        before.status,
        DeliveryStatus::Dispatched | DeliveryStatus::Delivered
    ) {
        return Err(wrong_status(
            &before,
            "receipt is confirmed once, for a run that has left",
        ));
    }
    let counts = receipt_counts(&before, &input)?;
    for (line, (received, damaged, note)) in before.lines.iter().zip(counts) {
        settle_line(&mut tx, actor, id, line, received, damaged).await?;
        sqlx::query(
            "UPDATE delivery_lines SET received = $1, damaged = $2, note = $3 WHERE id = $4",
        )
        .bind(received)
        .bind(damaged)
        .bind(note)
        .bind(line.id)
        .execute(tx.conn())
        .await?;
    }
    let mut needs: Vec<i64> = before.lines.iter().map(|l| l.need_id).collect();
    needs.sort_unstable();
    needs.dedup();
    for need in needs {
        settle_need(&mut tx, need).await?;
    }
    if let Some(note) = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        sqlx::query("UPDATE deliveries SET note = $1 WHERE id = $2")
            .bind(note)
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    finish(
        tx,
        actor,
        &before,
        "confirm_receipt",
        DeliveryStatus::Confirmed,
    )
    .await
}

type Counts = (i64, i64, Option<String>);

/// Received and damaged units of every line of the run, from the confirmation.
fn receipt_counts(delivery: &Delivery, input: &ReceiptInput) -> Result<Vec<Counts>, AppError> {
    let mut fields = Fields::new();
    for (i, given) in input.lines.iter().enumerate() {
        match delivery.lines.iter().find(|l| l.id == given.line_id) {
            None => fields.push(
                &format!("lines[{i}].line_id"),
                "unknown_value",
                "no such line on this run",
            ),
            Some(line) if given.received + given.damaged > line.quantity => fields.push(
                &format!("lines[{i}].received"),
                "out_of_range",
                format!(
                    "received and damaged together must not exceed the {} sent",
                    line.quantity
                ),
            ),
            Some(_) => {}
        }
    }
    fields.finish()?;
    Ok(delivery
        .lines
        .iter()
        .map(
            |line| match input.lines.iter().find(|g| g.line_id == line.id) {
                Some(g) => (
                    g.received,
                    g.damaged,
                    g.note
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                ),
                None => (line.quantity, 0, None),
            },
        )
        .collect())
}

async fn settle_line(
    tx: &mut Tx,
    actor: &Principal,
    delivery: i64,
    line: &DeliveryLine,
    received: i64,
    damaged: i64,
) -> Result<(), AppError> {
    let missing = line.quantity - received - damaged;
    let allocation = Some(line.allocation_id);
    let mut movements = Vec::new();
    if received > 0 {
        movements.push(Movement::deliver(
            line.lot_id,
            line.location_id,
            allocation,
            received,
        ));
    }
    if damaged > 0 {
        movements.push(Movement::adjust(
            MovementKind::Adjust,
            Key::in_transit(line.location_id, line.lot_id, line.allocation_id),
            -damaged,
            format!("damaged on delivery run {delivery}"),
        ));
    }
    if missing > 0 {
        movements.push(Movement::give_back(
            line.lot_id,
            line.location_id,
            line.location_id,
            allocation,
            missing,
        ));
    }
    for mut movement in movements {
        movement.delivery = Some(delivery);
        ledger::post(tx, &movement, Some(actor.user_id)).await?;
    }
    if missing > 0 || damaged > 0 {
        sqlx::query(
            "UPDATE allocations SET returned = returned + $1, written_off = written_off + $2 WHERE id = $3",
        )
        .bind(missing)
        .bind(damaged)
        .bind(line.allocation_id)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

async fn need_status(conn: &mut AnyConnection, need: i64) -> Result<NeedStatus, AppError> {
    let status: String = sqlx::query("SELECT status FROM needs WHERE id = $1")
        .bind(need)
        .fetch_one(conn)
        .await?
        .get(0);
    Ok(NeedStatus::parse(&status).unwrap_or(NeedStatus::Open))
}

/// After a receipt: a need whose every part has arrived is delivered; one that lost units on
/// the way goes back to partially matched, so matching fills it again.
async fn settle_need(tx: &mut Tx, need: i64) -> Result<(), AppError> {
    let rows = sqlx::query(
        "SELECT n.quantity * COALESCE(ki.quantity, 1) AS asked, \
                CAST((SELECT COALESCE(SUM(dl.received), 0) FROM delivery_lines dl \
                      WHERE dl.need_id = n.id AND dl.item_id = COALESCE(n.item_id, ki.item_id)) AS BIGINT) AS arrived, \
                CAST((SELECT COALESCE(SUM(a.returned + a.written_off), 0) FROM allocations a \
                      WHERE a.need_id = n.id AND a.item_id = COALESCE(n.item_id, ki.item_id)) AS BIGINT) AS lost \
         FROM needs n LEFT JOIN kit_items ki ON ki.kit_id = n.kit_id WHERE n.id = $1",
    )
    .bind(need)
    .fetch_all(tx.conn())
    .await?;
    let all_arrived = rows
        .iter()
        .all(|r| r.get::<i64, _>("arrived") >= r.get::<i64, _>("asked"));
    let lost: i64 = rows.iter().map(|r| r.get::<i64, _>("lost")).sum();
    let current = need_status(tx.conn(), need).await?;
    let next = if all_arrived {
        NeedStatus::Delivered
    } else if lost > 0 {
        NeedStatus::PartiallyMatched
    } else {
        return Ok(());
    };
    if current != next && current.can_become(next) {
        crate::needs::store::set_status(tx.conn(), need, next, None).await?;
    }
    Ok(())
}

/// Moves the run to `next` (stamping who and when for delivered and confirmed), audits,
/// commits.
async fn finish(
    mut tx: Tx,
    actor: &Principal,
    before: &Delivery,
    action: &str,
    next: DeliveryStatus,
) -> Result<Delivery, AppError> {
    let stamp = match next {
        DeliveryStatus::Delivered => Some(("delivered_by", "delivered_at")),
        DeliveryStatus::Confirmed => Some(("confirmed_by", "confirmed_at")),
        _ => None,
    };
    match stamp {
        Some((by, at)) => {
            sqlx::query(&format!(
                "UPDATE deliveries SET status = $1, {by} = $2, {at} = $3 WHERE id = $4"
            ))
            .bind(next.as_str())
            .bind(actor.user_id)
            .bind(db::now())
            .bind(before.id)
            .execute(tx.conn())
            .await?;
        }
        None => {
            sqlx::query("UPDATE deliveries SET status = $1 WHERE id = $2")
                .bind(next.as_str())
                .bind(before.id)
                .execute(tx.conn())
                .await?;
        }
    }
    let after = get(tx.conn(), before.id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        action,
        "delivery",
        before.id,
        Some(before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
