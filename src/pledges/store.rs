//! Queries for pledges.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{any::AnyRow, AnyConnection, Row};
use utoipa::{IntoParams, ToSchema};

use super::model::{Earmark, Pledge, PledgeKind, PledgeStatus, ValidPledge};
use crate::{db, extract::empty_as_none, money::Money};

const SELECT: &str = "SELECT p.id, p.donor_id, o.name_zh AS donor_name, p.kind, p.amount_fen, p.currency, p.item_id, \
    i.name_zh AS item_name, p.quantity, p.expires_on, p.available_from, p.pickup_location, p.earmark_json, p.note, \
    p.status, p.status_reason, p.created_at, p.updated_at \
    FROM pledges p JOIN organisations o ON o.id = p.donor_id LEFT JOIN items i ON i.id = p.item_id";

fn date(text: Option<String>) -> Option<NaiveDate> {
    text.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
}

fn from_row(r: &AnyRow) -> Result<Pledge, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(Pledge {
        id: r.try_get("id")?,
        donor_id: r.try_get("donor_id")?,
        donor_name: r.try_get("donor_name")?,
        kind: PledgeKind::parse(&kind).ok_or_else(|| sqlx::Error::Decode("unknown kind".into()))?,
        amount: r
            .try_get::<Option<i64>, _>("amount_fen")?
            .map(Money::from_fen),
        currency: r.try_get("currency")?,
        item_id: r.try_get("item_id")?,
        item_name: r.try_get("item_name")?,
        quantity: r.try_get("quantity")?,
        expires_on: date(r.try_get("expires_on")?),
        available_from: date(r.try_get("available_from")?),
        pickup_location: r.try_get("pickup_location")?,
        earmark: serde_json::from_str(&r.try_get::<String, _>("earmark_json")?).unwrap_or_default(),
        note: r.try_get("note")?,
        status: PledgeStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode("unknown status".into()))?,
        status_reason: r.try_get("status_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(
    conn: &mut AnyConnection,
    p: &ValidPledge,
    created_by: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO pledges (donor_id, kind, amount_fen, item_id, quantity, expires_on, available_from, \
         pickup_location, earmark_json, note, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
    )
    .bind(p.donor_id)
    .bind(p.kind.as_str())
    .bind(p.amount.map(Money::fen))
    .bind(p.item_id)
    .bind(p.quantity)
    .bind(p.expires_on.map(|d| d.to_string()))
    .bind(p.available_from.map(|d| d.to_string()))
    .bind(p.pickup_location.clone())
    .bind(serde_json::to_string(&p.earmark).unwrap_or_else(|_| "{}".into()))
    .bind(p.note.clone())
    .bind(created_by)
    .bind(db::now())
    .fetch_one(conn)
    .await
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<Pledge, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    from_row(&row)
}

pub async fn lock(conn: &mut AnyConnection, id: i64, lock: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("SELECT id FROM pledges WHERE id = $1{lock}"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    status: PledgeStatus,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE pledges SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(db::now())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PledgeFilter {
    #[serde(default, deserialize_with = "empty_as_none")]
    pub donor_id: Option<i64>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub kind: Option<PledgeKind>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub status: Option<PledgeStatus>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page: Option<i64>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PledgePage {
    pub items: Vec<Pledge>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Pledges matching the filter; `only_donors`, when given, limits them to those donors
/// (a donor account sees its own gifts and nobody else's).
pub async fn list(
    conn: &mut AnyConnection,
    filter: &PledgeFilter,
    only_donors: Option<&[i64]>,
) -> Result<PledgePage, sqlx::Error> {
    let window = crate::paging::Window::new(filter.page, filter.per_page);
    // Organisation ids are integers from the session, never user text, so they are inlined.
    let donors = match only_donors {
        Some([]) => " AND 1 = 0".to_owned(),
        Some(ids) => format!(
            " AND p.donor_id IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
        None => String::new(),
    };
    let condition = format!(
        "(CAST($1 AS BIGINT) IS NULL OR p.donor_id = $1) AND (CAST($2 AS TEXT) IS NULL OR p.kind = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR p.status = $3){donors}"
    );
    let total: i64 =
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM pledges p WHERE {condition}"))
            .bind(filter.donor_id)
            .bind(filter.kind.map(PledgeKind::as_str))
            .bind(filter.status.map(PledgeStatus::as_str))
            .fetch_one(&mut *conn)
            .await?;
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE {condition} ORDER BY p.id DESC LIMIT $4 OFFSET $5"
    ))
    .bind(filter.donor_id)
    .bind(filter.kind.map(PledgeKind::as_str))
    .bind(filter.status.map(PledgeStatus::as_str))
    .bind(window.per_page)
    .bind(window.offset())
    .fetch_all(&mut *conn)
    .await?;
    Ok(PledgePage {
        items: rows.iter().map(from_row).collect::<Result<_, _>>()?,
        total,
        page: window.page,
        per_page: window.per_page,
    })
}

/// Earmarked communities that are not active communities.
pub async fn unknown_communities(
    conn: &mut AnyConnection,
    earmark: &Earmark,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut unknown = Vec::new();
    for &id in &earmark.communities {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM organisations WHERE id = $1 AND kind = 'community'",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if n == 0 {
            unknown.push(id);
        }
    }
    Ok(unknown)
}

pub async fn organisation_kind(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT kind, status FROM organisations WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn item_is_active(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM items WHERE id = $1 AND status = 'active'")
            .bind(id)
            .fetch_one(conn)
            .await?;
    Ok(n > 0)
}
