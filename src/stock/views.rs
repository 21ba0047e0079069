//! Reading the stock books: balances by item and location, lots nearing expiry, a record's
//! movement history, and a stocktake's report.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::{IntoParams, ToSchema};

use super::{ledger::MovementKind, StockMovement, Stocktake, StocktakeLine};
use crate::{error::AppError, paging::Window};

const MOVEMENT_SELECT: &str = "SELECT m.id, m.kind, m.lot_id, l.code AS lot_code, m.item_id, i.name_zh, i.name_en, \
     m.quantity, m.from_location_id, m.to_location_id, m.allocation_id, m.delivery_id, m.stocktake_id, \
     m.reverses_id, m.reason, m.created_by, m.created_at \
     FROM stock_movements m JOIN lots l ON l.id = m.lot_id JOIN items i ON i.id = m.item_id";

fn movement_from(r: &sqlx::any::AnyRow) -> StockMovement {
    StockMovement {
        id: r.get("id"),
        kind: MovementKind::parse(&r.get::<String, _>("kind")).unwrap_or(MovementKind::Adjust),
        lot_id: r.get("lot_id"),
        lot_code: r.get("lot_code"),
        item_id: r.get("item_id"),
        item_name: r.get("name_zh"),
        quantity: r.get("quantity"),
        from_location_id: r.get("from_location_id"),
        to_location_id: r.get("to_location_id"),
        allocation_id: r.get("allocation_id"),
        delivery_id: r.get("delivery_id"),
        stocktake_id: r.get("stocktake_id"),
        reverses_id: r.get("reverses_id"),
        reason: r.get("reason"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
    }
}

pub async fn movement(conn: &mut AnyConnection, id: i64) -> Result<StockMovement, AppError> {
    let row = sqlx::query(&format!("{MOVEMENT_SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(movement_from(&row))
}

#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovementFilter {
    pub lot_id: Option<i64>,
    pub item_id: Option<i64>,
    pub location_id: Option<i64>,
    pub allocation_id: Option<i64>,
    pub delivery_id: Option<i64>,
    pub kind: Option<MovementKind>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementPage {
    pub items: Vec<StockMovement>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Movements, newest first.
pub async fn movements(
    conn: &mut AnyConnection,
    filter: &MovementFilter,
) -> Result<MovementPage, AppError> {
    let window = Window::new(filter.page, filter.per_page);
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut add = |clause: &str, value: String| {
        binds.push(value);
        clauses.push(clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(v) = filter.lot_id {
        add("m.lot_id = CAST(? AS BIGINT)", v.to_string());
    }
    if let Some(v) = filter.item_id {
        add("m.item_id = CAST(? AS BIGINT)", v.to_string());
    }
    if let Some(v) = filter.location_id {
        add(
            "(m.from_location_id = CAST(? AS BIGINT) OR m.to_location_id = CAST(? AS BIGINT))",
            v.to_string(),
        );
    }
    if let Some(v) = filter.allocation_id {
        add("m.allocation_id = CAST(? AS BIGINT)", v.to_string());
    }
    if let Some(v) = filter.delivery_id {
        add("m.delivery_id = CAST(? AS BIGINT)", v.to_string());
    }
    if let Some(v) = filter.kind {
        add("m.kind = ?", v.as_str().to_owned());
    }
    let filter_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM stock_movements m{filter_sql}");
    let mut count = sqlx::query(&count_sql);
    for b in &binds {
        count = count.bind(b);
    }
    let total: i64 = count.fetch_one(&mut *conn).await?.get(0);
    let list_sql = format!(
        "{MOVEMENT_SELECT}{filter_sql} ORDER BY m.id DESC LIMIT {} OFFSET {}",
        window.per_page,
        window.offset()
    );
    let mut list = sqlx::query(&list_sql);
    for b in &binds {
        list = list.bind(b);
    }
    let rows = list.fetch_all(&mut *conn).await?;
    Ok(MovementPage {
        items: rows.iter().map(movement_from).collect(),
        total,
        page: window.page,
        per_page: window.per_page,
    })
}

/// What one item holds at one location.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StockRow {
    pub item_id: i64,
    pub item_name_zh: String,
    pub item_name_en: Option<String>,
    pub unit_zh: String,
    pub unit_en: Option<String>,
    pub location_id: i64,
    pub location_name_zh: String,
    pub location_name_en: Option<String>,
    /// Free to allocate or move.
    pub available: i64,
    /// Held for confirmed allocations.
    pub reserved: i64,
    /// Out on delivery runs from this location.
    pub in_transit: i64,
    pub lots: i64,
    pub next_expiry: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StockFilter {
    pub item_id: Option<i64>,
    pub location_id: Option<i64>,
}

pub async fn balances(
    conn: &mut AnyConnection,
    filter: &StockFilter,
) -> Result<Vec<StockRow>, AppError> {
    let rows = sqlx::query(
        "SELECT i.id AS item_id, i.name_zh, i.name_en, i.unit_zh, i.unit_en, loc.id AS location_id, \
                loc.name_zh AS location_name_zh, loc.name_en AS location_name_en, \
                CAST(SUM(CASE WHEN b.bucket = 'available' THEN b.quantity ELSE 0 END) AS BIGINT) AS available, \
                CAST(SUM(CASE WHEN b.bucket = 'reserved' THEN b.quantity ELSE 0 END) AS BIGINT) AS reserved, \
                CAST(SUM(CASE WHEN b.bucket = 'in_transit' THEN b.quantity ELSE 0 END) AS BIGINT) AS in_transit, \
                CAST(COUNT(DISTINCT CASE WHEN b.quantity > 0 THEN l.id END) AS BIGINT) AS lots, \
                MIN(CASE WHEN b.quantity > 0 AND b.bucket <> 'in_transit' THEN l.expires_on END) AS next_expiry \
         FROM stock_balances b JOIN lots l ON l.id = b.lot_id JOIN items i ON i.id = l.item_id \
         JOIN locations loc ON loc.id = b.location_id \
         WHERE ($1 = 0 OR i.id = $1) AND ($2 = 0 OR loc.id = $2) \
         GROUP BY i.id, i.name_zh, i.name_en, i.unit_zh, i.unit_en, loc.id, loc.name_zh, loc.name_en \
         HAVING SUM(b.quantity) > 0 ORDER BY i.id, loc.id",
    )
    .bind(filter.item_id.unwrap_or(0))
    .bind(filter.location_id.unwrap_or(0))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| StockRow {
            item_id: r.get("item_id"),
            item_name_zh: r.get("name_zh"),
            item_name_en: r.get("name_en"),
            unit_zh: r.get("unit_zh"),
            unit_en: r.get("unit_en"),
            location_id: r.get("location_id"),
            location_name_zh: r.get("location_name_zh"),
            location_name_en: r.get("location_name_en"),
            available: r.get("available"),
            reserved: r.get("reserved"),
            in_transit: r.get("in_transit"),
            lots: r.get("lots"),
            next_expiry: r.get("next_expiry"),
        })
        .collect())
}

/// A lot at a location, with what it holds there.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LotRow {
    pub lot_id: i64,
    pub code: String,
    pub item_id: i64,
    pub item_name_zh: String,
    pub item_name_en: Option<String>,
    pub expires_on: Option<String>,
    pub location_id: i64,
    pub location_name_zh: String,
    pub available: i64,
    pub reserved: i64,
    pub pledge_id: Option<i64>,
}

/// Lots holding free or reserved units, soonest expiry first; `expiring_before` keeps those
/// expiring before that date (YYYY-MM-DD), `location_id` one location's.
pub async fn lots(
    conn: &mut AnyConnection,
    expiring_before: Option<&str>,
    location_id: Option<i64>,
) -> Result<Vec<LotRow>, AppError> {
    let rows = sqlx::query(
        "SELECT l.id, l.code, l.item_id, i.name_zh, i.name_en, l.expires_on, loc.id AS location_id, \
                loc.name_zh AS location_name_zh, l.pledge_id, \
                CAST(SUM(CASE WHEN b.bucket = 'available' THEN b.quantity ELSE 0 END) AS BIGINT) AS available, \
                CAST(SUM(CASE WHEN b.bucket = 'reserved' THEN b.quantity ELSE 0 END) AS BIGINT) AS reserved \
         FROM stock_balances b JOIN lots l ON l.id = b.lot_id JOIN items i ON i.id = l.item_id \
         JOIN locations loc ON loc.id = b.location_id \
         WHERE b.bucket IN ('available', 'reserved') AND ($1 = '' OR (l.expires_on IS NOT NULL AND l.expires_on < $1)) \
           AND ($2 = 0 OR loc.id = $2) \
         GROUP BY l.id, l.code, l.item_id, i.name_zh, i.name_en, l.expires_on, loc.id, loc.name_zh, l.pledge_id \
         HAVING SUM(b.quantity) > 0 \
         ORDER BY CASE WHEN l.expires_on IS NULL THEN 1 ELSE 0 END, l.expires_on, l.id, loc.id",
    )
    .bind(expiring_before.unwrap_or(""))
    .bind(location_id.unwrap_or(0))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| LotRow {
            lot_id: r.get("id"),
            code: r.get("code"),
            item_id: r.get("item_id"),
            item_name_zh: r.get("name_zh"),
            item_name_en: r.get("name_en"),
            expires_on: r.get("expires_on"),
            location_id: r.get("location_id"),
            location_name_zh: r.get("location_name_zh"),
            available: r.get("available"),
            reserved: r.get("reserved"),
            pledge_id: r.get("pledge_id"),
        })
        .collect())
}

pub async fn stocktake(conn: &mut AnyConnection, id: i64) -> Result<Stocktake, AppError> {
    let head = sqlx::query(
        "SELECT s.id, s.location_id, loc.name_zh, s.note, s.created_at FROM stocktakes s \
         JOIN locations loc ON loc.id = s.location_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "SELECT sl.lot_id, l.code, l.item_id, i.name_zh, sl.book, sl.counted, sl.movement_id \
         FROM stocktake_lines sl JOIN lots l ON l.id = sl.lot_id JOIN items i ON i.id = l.item_id \
         WHERE sl.stocktake_id = $1 ORDER BY i.id, l.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let lines: Vec<StocktakeLine> = rows
        .iter()
        .map(|r| {
            let (book, counted): (i64, i64) = (r.get("book"), r.get("counted"));
            StocktakeLine {
                lot_id: r.get("lot_id"),
                lot_code: r.get("code"),
                item_id: r.get("item_id"),
                item_name: r.get("name_zh"),
                book,
                counted,
                difference: counted - book,
                movement_id: r.get("movement_id"),
            }
        })
        .collect();
    Ok(Stocktake {
        id: head.get("id"),
        location_id: head.get("location_id"),
        location_name: head.get("name_zh"),
        note: head.get("note"),
        created_at: head.get("created_at"),
        units_short: lines.iter().map(|l| (-l.difference).max(0)).sum(),
        units_over: lines.iter().map(|l| l.difference.max(0)).sum(),
        lines,
    })
}
