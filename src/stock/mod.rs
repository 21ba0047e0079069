//! Stock: locations, lots and the append-only movement ledger, the balances derived from it,
//! lots nearing expiry, and stocktakes. Owns `/api/v1/locations`, `/api/v1/stock`,
//! `/api/v1/stock-movements` and `/api/v1/stocktakes`.

mod handlers;
pub mod ledger;
mod pages;
pub mod views;

pub use handlers::api_router;
pub use pages::page_router;

use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Permission, Principal},
    db::{self, Tx},
    error::AppError,
    idempotency,
    validate::Fields,
};
use ledger::{Bucket, Key, Movement, MovementKind};

text_enum!(
    LocationKind { Warehouse = "warehouse", Station = "station", Pickup = "pickup" }
);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Location {
    pub id: i64,
    pub kind: LocationKind,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub organisation_id: Option<i64>,
    pub district: String,
    pub address: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    /// `warehouse` (hub), `station` (community) or `pickup` (supplier).
    pub kind: LocationKind,
    pub name_zh: String,
    pub name_en: Option<String>,
    /// The hub, community or supplier that runs it.
    pub organisation_id: Option<i64>,
    pub district: String,
    pub address: Option<String>,
}

pub async fn create_location(
    state: &AppState,
    actor: &Principal,
    input: LocationInput,
) -> Result<Location, AppError> {
    authorize(Some(actor), Permission::ManageStock)?;
    let mut fields = Fields::new();
    let name_zh = fields.required_text("name_zh", &input.name_zh, 200);
    let name_en = fields.optional_text("name_en", input.name_en.as_deref(), 200);
    let district = fields.required_text("district", &input.district, 100);
    let address = fields.optional_text("address", input.address.as_deref(), 300);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    if let Some(org) = input.organisation_id {
        let found = sqlx::query("SELECT id FROM organisations WHERE id = $1 AND status = 'active'")
            .bind(org)
            .fetch_optional(tx.conn())
            .await?;
        if found.is_none() {
            return Err(AppError::validation(
                "organisation_id",
                "unknown_value",
                "no active organisation with this id",
            ));
        }
    }
    let id: i64 = sqlx::query(
        "INSERT INTO locations (kind, name_zh, name_en, organisation_id, district, address, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(input.kind.as_str())
    .bind(&name_zh)
    .bind(&name_en)
    .bind(input.organisation_id)
    .bind(&district)
    .bind(&address)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    let created = location(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "create",
        "location",
        id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

fn location_from(r: &sqlx::any::AnyRow) -> Location {
    Location {
        id: r.get("id"),
        kind: LocationKind::parse(&r.get::<String, _>("kind")).unwrap_or(LocationKind::Warehouse),
        name_zh: r.get("name_zh"),
        name_en: r.get("name_en"),
        organisation_id: r.get("organisation_id"),
        district: r.get("district"),
        address: r.get("address"),
        status: r.get("status"),
    }
}

const LOCATION_COLUMNS: &str =
    "id, kind, name_zh, name_en, organisation_id, district, address, status";

pub async fn location(conn: &mut AnyConnection, id: i64) -> Result<Location, AppError> {
    let row = sqlx::query(&format!(
        "SELECT {LOCATION_COLUMNS} FROM locations WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(location_from(&row))
}

pub async fn locations(conn: &mut AnyConnection) -> Result<Vec<Location>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {LOCATION_COLUMNS} FROM locations WHERE status = 'active' ORDER BY kind DESC, id"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(location_from).collect())
}

/// A movement asked for through the API or a page. Deliveries post `deliver`, `return` and
/// write-offs through their receipt; stocktakes post their differences.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MovementInput {
    /// Goods arrive: from an in-kind pledge (`pledge_id`) or a purchase (`allocation_id`). A new
    /// lot is opened; a pledge's confirmed allocations are reserved from it at once.
    Receive {
        location_id: i64,
        quantity: i64,
        pledge_id: Option<i64>,
        allocation_id: Option<i64>,
        expires_on: Option<NaiveDate>,
        lot_code: Option<String>,
    },
    Transfer {
        lot_id: i64,
        from_location_id: i64,
        to_location_id: i64,
        quantity: i64,
    },
    /// Holds free units of a lot for a confirmed allocation of the same item.
    Reserve {
        lot_id: i64,
        location_id: i64,
        allocation_id: i64,
        quantity: i64,
    },
    Release {
        lot_id: i64,
        location_id: i64,
        allocation_id: i64,
        quantity: i64,
    },
    /// Units leave on a run: from an allocation's reservation, or from free stock.
    Dispatch {
        lot_id: i64,
        location_id: i64,
        quantity: i64,
        allocation_id: Option<i64>,
    },
    /// Units out on a run come back into free stock.
    Return {
        lot_id: i64,
        from_location_id: i64,
        to_location_id: i64,
        quantity: i64,
        allocation_id: Option<i64>,
    },
    /// Loss, damage, expiry (negative) or units found (positive), with the reason.
    Adjust {
        lot_id: i64,
        location_id: i64,
        quantity: i64,
        reason: String,
    },
    /// Corrects a mistake: posts the exact opposite of an earlier movement, once.
    Reversal { movement_id: i64, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StockMovement {
    pub id: i64,
    pub kind: MovementKind,
    pub lot_id: i64,
    pub lot_code: String,
    pub item_id: i64,
    pub item_name: String,
    /// Signed for adjustments and stocktake differences.
    pub quantity: i64,
    pub from_location_id: Option<i64>,
    pub to_location_id: Option<i64>,
    pub allocation_id: Option<i64>,
    pub delivery_id: Option<i64>,
    pub stocktake_id: Option<i64>,
    pub reverses_id: Option<i64>,
    pub reason: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: String,
}

/// What one request posted: the movement asked for, then any it caused (reservations for
/// allocations waiting on a received pledge).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Posted {
    pub movements: Vec<StockMovement>,
}

const MOVE_SCOPE: &str = "POST /api/v1/stock-movements";

/// Posts a movement once per `Idempotency-Key`.
pub async fn post_movement(
    state: &AppState,
    actor: &Principal,
    key: &str,
    input: MovementInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(Some(actor), Permission::ManageStock)?;
    check_input(&input)?;
    let hash = idempotency::request_hash(&input);
    idempotency::once(&state.db, actor.user_id, MOVE_SCOPE, key, &hash, |tx| {
        Box::pin(apply_and_record(tx, actor.clone(), input.clone()))
    })
    .await
}

async fn apply_and_record(
    tx: &mut Tx,
    actor: Principal,
    input: MovementInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let ids = apply(tx, Some(actor.user_id), &input).await?;
    let mut movements = Vec::with_capacity(ids.len());
    for id in ids {
        movements.push(views::movement(tx.conn(), id).await?);
    }
    let first = movements.first().map(|m| m.id).unwrap_or(0);
    audit::record(
        tx.conn(),
        Actor::User(&actor),
        "post",
        "stock_movement",
        first,
        None::<&()>,
        Some(&movements),
    )
    .await?;
    let body = serde_json::to_value(Posted { movements }).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, body))
}

fn check_input(input: &MovementInput) -> Result<(), AppError> {
    let mut fields = Fields::new();
    let positive = |fields: &mut Fields, q: i64| {
        if q <= 0 {
            fields.push("quantity", "out_of_range", "must be a whole number above 0");
        }
    };
    match input {
        MovementInput::Receive {
            quantity,
            pledge_id,
            allocation_id,
            lot_code,
            ..
        } => {
            positive(&mut fields, *quantity);
            if pledge_id.is_some() == allocation_id.is_some() {
                fields.push(
                    "pledge_id",
                    "required",
                    "give either the goods pledge or the purchase allocation the goods come from",
                );
            }
            fields.optional_text("lot_code", lot_code.as_deref(), 60);
        }
        MovementInput::Transfer {
            quantity,
            from_location_id,
            to_location_id,
            ..
        } => {
            positive(&mut fields, *quantity);
            if from_location_id == to_location_id {
                fields.push(
                    "to_location_id",
                    "same_location",
                    "must differ from the location the goods leave",
                );
            }
        }
        MovementInput::Reserve { quantity, .. }
        | MovementInput::Release { quantity, .. }
        | MovementInput::Dispatch { quantity, .. }
        | MovementInput::Return { quantity, .. } => positive(&mut fields, *quantity),
        MovementInput::Adjust {
            quantity, reason, ..
        } => {
            if *quantity == 0 {
                fields.push(
                    "quantity",
                    "out_of_range",
                    "must not be 0: negative for loss, damage or expiry, positive for units found",
                );
            }
            fields.required_text("reason", reason, 500);
        }
        MovementInput::Reversal { reason, .. } => {
            fields.required_text("reason", reason, 500);
        }
    }
    fields.finish()
}

/// Applies a checked movement input inside `tx`; returns the ids of the movements posted.
pub async fn apply(
    tx: &mut Tx,
    actor: Option<i64>,
    input: &MovementInput,
) -> Result<Vec<i64>, AppError> {
    let movement = match input {
        MovementInput::Receive {
            location_id,
            quantity,
            pledge_id,
            allocation_id,
            expires_on,
            lot_code,
        } => {
            active_location(tx, *location_id, "location_id").await?;
            return receive(
                tx,
                actor,
                Receipt {
                    location: *location_id,
                    quantity: *quantity,
                    pledge: *pledge_id,
                    allocation: *allocation_id,
                    expires_on: *expires_on,
                    lot_code: lot_code.clone(),
                },
            )
            .await;
        }
        MovementInput::Transfer {
            lot_id,
            from_location_id,
            to_location_id,
            quantity,
        } => {
            known_lot(tx, *lot_id).await?;
            active_location(tx, *from_location_id, "from_location_id").await?;
            active_location(tx, *to_location_id, "to_location_id").await?;
            Movement::transfer(*lot_id, *from_location_id, *to_location_id, *quantity)
        }
        MovementInput::Reserve {
            lot_id,
            location_id,
            allocation_id,
            quantity,
        } => {
            let item = known_lot(tx, *lot_id).await?;
            let outstanding = allocation_outstanding(tx, *allocation_id, item).await?;
            if *quantity > outstanding {
                return Err(AppError::validation(
                    "quantity",
                    "out_of_range",
                    format!("allocation {allocation_id} still needs {outstanding} units held"),
                ));
            }
            Movement::reserve(*lot_id, *location_id, *allocation_id, *quantity)
        }
        MovementInput::Release {
            lot_id,
            location_id,
            allocation_id,
            quantity,
        } => {
            known_lot(tx, *lot_id).await?;
            Movement::release(*lot_id, *location_id, *allocation_id, *quantity)
        }
        MovementInput::Dispatch {
            lot_id,
            location_id,
            quantity,
            allocation_id,
        } => {
            known_lot(tx, *lot_id).await?;
            Movement::dispatch(*lot_id, *location_id, *allocation_id, *quantity)
        }
        MovementInput::Return {
            lot_id,
            from_location_id,
            to_location_id,
            quantity,
            allocation_id,
        } => {
            known_lot(tx, *lot_id).await?;
            active_location(tx, *to_location_id, "to_location_id").await?;
            Movement::give_back(
                *lot_id,
                *from_location_id,
                *to_location_id,
                *allocation_id,
                *quantity,
            )
        }
        MovementInput::Adjust {
            lot_id,
            location_id,
            quantity,
            reason,
        } => {
            known_lot(tx, *lot_id).await?;
            active_location(tx, *location_id, "location_id").await?;
            Movement::adjust(
                MovementKind::Adjust,
                Key::available(*location_id, *lot_id),
                *quantity,
                reason.trim().to_owned(),
            )
        }
        MovementInput::Reversal {
            movement_id,
            reason,
        } => reversal(tx, *movement_id, reason.trim()).await?,
    };
    let id = ledger::post(tx, &movement, actor)
        .await
        .map_err(|e| match e {
            // Two reversals of one movement at the same moment: the second meets the unique key.
            AppError::Internal(error) => match error.downcast::<sqlx::Error>() {
                Ok(db) => crate::error::on_constraint("stock_movements_reversed_once", || {
                    AppError::Conflict {
                        code: "already_reversed",
                        detail: "the movement has already been reversed".into(),
                    }
                })(db),
                Err(other) => AppError::Internal(other),
            },
            other => other,
        })?;
    Ok(vec![id])
}

async fn reversal(tx: &mut Tx, movement_id: i64, reason: &str) -> Result<Movement, AppError> {
    let row = sqlx::query(
        "SELECT m.kind, m.lot_id, m.quantity, m.from_location_id, m.to_location_id, m.allocation_id, \
                (SELECT COUNT(*) FROM stock_movements r WHERE r.reverses_id = m.id) AS reversed \
         FROM stock_movements m WHERE m.id = $1",
    )
    .bind(movement_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| {
        AppError::validation("movement_id", "unknown_value", "no movement with this id")
    })?;
    let kind = MovementKind::parse(&row.get::<String, _>("kind"));
    if matches!(
        kind,
        Some(MovementKind::Reversal | MovementKind::Deliver | MovementKind::Stocktake)
    ) {
        return Err(AppError::Conflict {
            code: "not_reversible",
            detail: "reversals, deliveries and stocktake differences are not reversed; post a new movement instead"
                .into(),
        });
    }
    if row.get::<i64, _>("reversed") > 0 {
        return Err(AppError::Conflict {
            code: "already_reversed",
            detail: format!("movement {movement_id} has already been reversed"),
        });
    }
    let entries = ledger::entries_of(tx, movement_id)
        .await?
        .into_iter()
        .map(|e| ledger::Entry {
            key: e.key,
            delta: -e.delta,
        })
        .collect();
    Ok(Movement {
        kind: MovementKind::Reversal,
        lot: row.get("lot_id"),
        quantity: row.get("quantity"),
        from: row.get("to_location_id"),
        to: row.get("from_location_id"),
        allocation: row.get("allocation_id"),
        delivery: None,
        stocktake: None,
        reverses: Some(movement_id),
        reason: Some(reason.to_owned()),
        entries,
    })
}

async fn active_location(tx: &mut Tx, id: i64, field: &str) -> Result<(), AppError> {
    let found = sqlx::query("SELECT id FROM locations WHERE id = $1 AND status = 'active'")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(AppError::validation(
            field,
            "unknown_value",
            "no active location with this id",
        )),
    }
}

/// The lot's item; 422 naming `lot_id` when there is no such lot.
async fn known_lot(tx: &mut Tx, id: i64) -> Result<i64, AppError> {
    let row = sqlx::query("SELECT item_id FROM lots WHERE id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(|r| r.get(0))
        .ok_or_else(|| AppError::validation("lot_id", "unknown_value", "no lot with this id"))
}

/// Units of an allocation still to be held in stock: its quantity, less what did not reach
/// the community, less what was ever reserved for it (dispatching a reservation does not
/// free the allocation to be reserved again).
pub async fn outstanding(conn: &mut AnyConnection, allocation: i64) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT a.quantity - a.returned - a.written_off - CAST(COALESCE((\
             SELECT SUM(e.delta) FROM stock_entries e JOIN stock_movements m ON m.id = e.movement_id \
             LEFT JOIN stock_movements r ON r.id = m.reverses_id \
             WHERE e.allocation_id = a.id AND e.bucket = 'reserved' AND m.kind <> 'dispatch' \
               AND NOT (m.kind = 'reversal' AND r.kind = 'dispatch')), 0) AS BIGINT) AS outstanding \
         FROM allocations a WHERE a.id = $1",
    )
    .bind(allocation)
    .fetch_one(conn)
    .await?;
    Ok(row.get::<i64, _>(0).max(0))
}

async fn allocation_outstanding(tx: &mut Tx, allocation: i64, item: i64) -> Result<i64, AppError> {
    let row = sqlx::query("SELECT item_id, status FROM allocations WHERE id = $1")
        .bind(allocation)
        .fetch_optional(tx.conn())
        .await?;
    match row {
        Some(r) if r.get::<String, _>(1) == "reserved" && r.get::<i64, _>(0) == item => {
            outstanding(tx.conn(), allocation).await
        }
        Some(_) => Err(AppError::validation(
            "allocation_id",
            "mismatch",
            "the allocation is released or is for another item than the lot",
        )),
        None => Err(AppError::validation(
            "allocation_id",
            "unknown_value",
            "no allocation with this id",
        )),
    }
}

struct Receipt {
    location: i64,
    quantity: i64,
    pledge: Option<i64>,
    allocation: Option<i64>,
    expires_on: Option<NaiveDate>,
    lot_code: Option<String>,
}

/// Receives goods into a new lot: from a goods pledge (which becomes received, and whose
/// waiting allocations are then reserved) or for a purchase allocation (held for it at once).
async fn receive(tx: &mut Tx, actor: Option<i64>, r: Receipt) -> Result<Vec<i64>, AppError> {
    let lock = tx.for_update();
    let (item, pledge, allocation) = if let Some(pledge) = r.pledge {
        let row = sqlx::query(&format!(
            "SELECT kind, status, item_id, quantity FROM pledges WHERE id = $1{lock}"
        ))
        .bind(pledge)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| AppError::validation("pledge_id", "unknown_value", "no such pledge"))?;
        let status: String = row.get("status");
        if row.get::<String, _>("kind") != "goods"
            || !["pledged", "received", "allocated"].contains(&status.as_str())
        {
            return Err(AppError::validation(
                "pledge_id",
                "not_receivable",
                format!("only goods pledges not cancelled or used up are received into stock (this one is {status})"),
            ));
        }
        let received: i64 = sqlx::query(
            "SELECT CAST(COALESCE(SUM(m.quantity), 0) AS BIGINT) FROM stock_movements m JOIN lots l ON l.id = m.lot_id \
             WHERE l.pledge_id = $1 AND l.allocation_id IS NULL AND m.kind = 'receive'",
        )
        .bind(pledge)
        .fetch_one(tx.conn())
        .await?
        .get(0);
        let left = row.get::<Option<i64>, _>("quantity").unwrap_or(0) - received;
        if r.quantity > left {
            return Err(AppError::validation(
                "quantity",
                "out_of_range",
                format!("the pledge has {left} units still to receive"),
            ));
        }
        if status == "pledged" {
            crate::pledges::store::set_status(
                tx.conn(),
                pledge,
                crate::pledges::model::PledgeStatus::Received,
                None,
            )
            .await?;
        }
        (row.get::<i64, _>("item_id"), Some(pledge), None)
    } else {
        let allocation = r.allocation.expect("checked: one of the two");
        let row = sqlx::query(&format!(
            "SELECT item_id, offer_id, status FROM allocations WHERE id = $1{lock}"
        ))
        .bind(allocation)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| {
            AppError::validation("allocation_id", "unknown_value", "no such allocation")
        })?;
        if row.get::<Option<i64>, _>("offer_id").is_none()
            || row.get::<String, _>("status") != "reserved"
        {
            return Err(AppError::validation(
                "allocation_id",
                "not_a_purchase",
                "goods are received for purchase allocations still reserved",
            ));
        }
        let left = outstanding(tx.conn(), allocation).await?;
        if r.quantity > left {
            return Err(AppError::validation(
                "quantity",
                "out_of_range",
                format!("the purchase still expects {left} units"),
            ));
        }
        (row.get::<i64, _>("item_id"), None, Some(allocation))
    };
    let lot = open_lot(tx, item, pledge, allocation, r.expires_on, r.lot_code).await?;
    let mut posted = vec![
        ledger::post(
            tx,
            &Movement::receive(lot, r.location, r.quantity, allocation),
            actor,
        )
        .await?,
    ];
    if let Some(pledge) = pledge {
        posted.extend(reserve_waiting(tx, pledge, actor).await?);
    }
    Ok(posted)
}

async fn open_lot(
    tx: &mut Tx,
    item: i64,
    pledge: Option<i64>,
    allocation: Option<i64>,
    expires_on: Option<NaiveDate>,
    code: Option<String>,
) -> Result<i64, AppError> {
    let id: i64 = sqlx::query(
        "INSERT INTO lots (item_id, pledge_id, allocation_id, code, expires_on, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(item)
    .bind(pledge)
    .bind(allocation)
    .bind(code.as_deref().map(str::trim).unwrap_or(""))
    .bind(expires_on.map(|d| d.format("%Y-%m-%d").to_string()))
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    if code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        sqlx::query("UPDATE lots SET code = $1 WHERE id = $2")
            .bind(format!("L{id:05}"))
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    Ok(id)
}

/// Holds free units of a goods pledge's lots for its confirmed allocations that are not yet
/// fully held, oldest allocation first, soonest-expiring lot first.
pub async fn reserve_waiting(
    tx: &mut Tx,
    pledge: i64,
    actor: Option<i64>,
) -> Result<Vec<i64>, AppError> {
    let allocations: Vec<i64> = sqlx::query(
        "SELECT id FROM allocations WHERE pledge_id = $1 AND offer_id IS NULL AND status = 'reserved' ORDER BY id",
    )
    .bind(pledge)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut posted = Vec::new();
    for allocation in allocations {
        let mut wanted = outstanding(tx.conn(), allocation).await?;
        if wanted == 0 {
            continue;
        }
        let free = sqlx::query(
            "SELECT b.location_id, b.lot_id, b.quantity FROM stock_balances b JOIN lots l ON l.id = b.lot_id \
             WHERE l.pledge_id = $1 AND l.allocation_id IS NULL AND b.bucket = 'available' AND b.quantity > 0 \
             ORDER BY CASE WHEN l.expires_on IS NULL THEN 1 ELSE 0 END, l.expires_on, l.id, b.location_id",
        )
        .bind(pledge)
        .fetch_all(tx.conn())
        .await?;
        for row in free {
            if wanted == 0 {
                break;
            }
            let take = wanted.min(row.get::<i64, _>(2));
            let movement = Movement::reserve(row.get(1), row.get(0), allocation, take);
            posted.push(ledger::post(tx, &movement, actor).await?);
            wanted -= take;
        }
    }
    Ok(posted)
}

/// After a plan is confirmed: hold stock for its allocations from pledges already received.
pub async fn reserve_for_plan(tx: &mut Tx, plan: i64, actor: Option<i64>) -> Result<(), AppError> {
    let pledges: Vec<i64> = sqlx::query(
        "SELECT DISTINCT pledge_id FROM allocations WHERE plan_id = $1 AND offer_id IS NULL ORDER BY pledge_id",
    )
    .bind(plan)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    for pledge in pledges {
        reserve_waiting(tx, pledge, actor).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StocktakeInput {
    pub location_id: i64,
    pub note: Option<String>,
    /// The count of each lot on the shelves of this location (free and reserved units).
    pub lines: Vec<CountInput>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountInput {
    pub lot_id: i64,
    pub counted: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StocktakeLine {
    pub lot_id: i64,
    pub lot_code: String,
    pub item_id: i64,
    pub item_name: String,
    pub book: i64,
    pub counted: i64,
    pub difference: i64,
    /// The adjustment posted for a difference.
    pub movement_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Stocktake {
    pub id: i64,
    pub location_id: i64,
    pub location_name: String,
    pub note: Option<String>,
    pub created_at: String,
    pub lines: Vec<StocktakeLine>,
    pub units_short: i64,
    pub units_over: i64,
}

const STOCKTAKE_SCOPE: &str = "POST /api/v1/stocktakes";

/// Records a count: for each lot the book quantity on the shelves (free and reserved), the
/// count, and the difference posted as a stocktake adjustment of the free units.
pub async fn stocktake(
    state: &AppState,
    actor: &Principal,
    key: &str,
    input: StocktakeInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(Some(actor), Permission::ManageStock)?;
    let mut fields = Fields::new();
    if input.lines.is_empty() {
        fields.push("lines", "required", "count at least one lot");
    }
    for (i, line) in input.lines.iter().enumerate() {
        if line.counted < 0 {
            fields.push(
                &format!("lines[{i}].counted"),
                "out_of_range",
                "must not be negative",
            );
        }
        if input.lines[..i].iter().any(|l| l.lot_id == line.lot_id) {
            fields.push(
                &format!("lines[{i}].lot_id"),
                "duplicate",
                "each lot is counted once",
            );
        }
    }
    fields.optional_text("note", input.note.as_deref(), 500);
    fields.finish()?;
    let hash = idempotency::request_hash(&input);
    idempotency::once(
        &state.db,
        actor.user_id,
        STOCKTAKE_SCOPE,
        key,
        &hash,
        |tx| Box::pin(record_stocktake(tx, actor.clone(), input.clone())),
    )
    .await
}

async fn record_stocktake(
    tx: &mut Tx,
    actor: Principal,
    input: StocktakeInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    active_location(tx, input.location_id, "location_id").await?;
    let id: i64 = sqlx::query(
        "INSERT INTO stocktakes (location_id, note, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(input.location_id)
    .bind(input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()))
    .bind(actor.user_id)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    let lock = tx.for_update();
    for (i, line) in input.lines.iter().enumerate() {
        if sqlx::query("SELECT id FROM lots WHERE id = $1")
            .bind(line.lot_id)
            .fetch_optional(tx.conn())
            .await?
            .is_none()
        {
            return Err(AppError::validation(
                &format!("lines[{i}].lot_id"),
                "unknown_value",
                "no lot with this id",
            ));
        }
        let shelf = sqlx::query(&format!(
            "SELECT bucket, quantity FROM stock_balances WHERE location_id = $1 AND lot_id = $2 \
             AND bucket IN ('available', 'reserved') ORDER BY bucket, allocation_id{lock}"
        ))
        .bind(input.location_id)
        .bind(line.lot_id)
        .fetch_all(tx.conn())
        .await?;
        let book: i64 = shelf.iter().map(|r| r.get::<i64, _>(1)).sum();
        let free: i64 = shelf
            .iter()
            .filter(|r| r.get::<String, _>(0) == Bucket::Available.as_str())
            .map(|r| r.get::<i64, _>(1))
            .sum();
        let difference = line.counted - book;
        if difference < 0 && -difference > free {
            return Err(AppError::validation(
                &format!("lines[{i}].counted"),
                "below_reserved",
                format!(
                    "the count is below the {} units held for allocations; release them before posting the count",
                    book - free
                ),
            ));
        }
        let movement_id = if difference != 0 {
            let mut movement = Movement::adjust(
                MovementKind::Stocktake,
                Key::available(input.location_id, line.lot_id),
                difference,
                format!(
                    "stocktake {id}: counted {} against {book} on the books",
                    line.counted
                ),
            );
            movement.stocktake = Some(id);
            Some(ledger::post(tx, &movement, Some(actor.user_id)).await?)
        } else {
            None
        };
        sqlx::query(
            "INSERT INTO stocktake_lines (stocktake_id, lot_id, book, counted, movement_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(line.lot_id)
        .bind(book)
        .bind(line.counted)
        .bind(movement_id)
        .execute(tx.conn())
        .await?;
    }
    let report = views::stocktake(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(&actor),
        "create",
        "stocktake",
        id,
        None::<&()>,
        Some(&report),
    )
    .await?;
    let body = serde_json::to_value(&report).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, body))
}
