//! Queries for offers and agreements.

use chrono::NaiveDate;
use sqlx::{any::AnyRow, AnyConnection, Row};

use super::model::{is_available, Agreement, AgreementStatus, Offer, OfferStatus, OfferTerms};
use crate::{db, money::Money};

const OFFER_SELECT: &str = "SELECT s.id, s.supplier_id, o.name_zh AS supplier_name, s.agreement_id, s.item_id, \
    i.name_zh AS item_name, i.unit_zh AS unit, s.unit_price_fen, s.weekly_capacity, s.lead_days, s.min_order, \
    s.valid_from, s.valid_until, s.status, a.status AS agreement_status, s.created_at \
    FROM supplier_offers s JOIN organisations o ON o.id = s.supplier_id JOIN items i ON i.id = s.item_id \
    LEFT JOIN agreements a ON a.id = s.agreement_id";

fn date(text: Option<String>) -> Option<NaiveDate> {
    text.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
}

fn offer_from_row(r: &AnyRow, today: NaiveDate) -> Result<Offer, sqlx::Error> {
    let status = OfferStatus::parse(&r.try_get::<String, _>("status")?)
        .ok_or_else(|| sqlx::Error::Decode("unknown offer status".into()))?;
    let agreement = r
        .try_get::<Option<String>, _>("agreement_status")?
        .as_deref()
        .and_then(AgreementStatus::parse);
    let valid_from = date(r.try_get("valid_from")?);
    let valid_until = date(r.try_get("valid_until")?);
    Ok(Offer {
        id: r.try_get("id")?,
        supplier_id: r.try_get("supplier_id")?,
        supplier_name: r.try_get("supplier_name")?,
        agreement_id: r.try_get("agreement_id")?,
        item_id: r.try_get("item_id")?,
        item_name: r.try_get("item_name")?,
        unit: r.try_get("unit")?,
        unit_price: Money::from_fen(r.try_get("unit_price_fen")?),
        weekly_capacity: r.try_get("weekly_capacity")?,
        lead_days: r.try_get("lead_days")?,
        min_order: r.try_get("min_order")?,
        valid_from,
        valid_until,
        status,
        available: is_available(status, valid_from, valid_until, agreement, today),
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_offer(
    conn: &mut AnyConnection,
    supplier_id: i64,
    agreement_id: Option<i64>,
    t: &OfferTerms,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO supplier_offers (supplier_id, agreement_id, item_id, unit_price_fen, weekly_capacity, \
         lead_days, min_order, valid_from, valid_until, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(supplier_id)
    .bind(agreement_id)
    .bind(t.item_id)
    .bind(t.unit_price.fen())
    .bind(t.weekly_capacity)
    .bind(t.lead_days)
    .bind(t.min_order.unwrap_or(1))
    .bind(t.valid_from.map(|d| d.to_string()))
    .bind(t.valid_until.map(|d| d.to_string()))
    .bind(db::now())
    .fetch_one(conn)
    .await
}

pub async fn get_offer(
    conn: &mut AnyConnection,
    id: i64,
    today: NaiveDate,
) -> Result<Offer, sqlx::Error> {
    let row = sqlx::query(&format!("{OFFER_SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    offer_from_row(&row, today)
}

/// Offers, optionally of one supplier, item or agreement.
pub async fn list_offers(
    conn: &mut AnyConnection,
    supplier_id: Option<i64>,
    item_id: Option<i64>,
    agreement_id: Option<i64>,
    today: NaiveDate,
) -> Result<Vec<Offer>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{OFFER_SELECT} WHERE (CAST($1 AS BIGINT) IS NULL OR s.supplier_id = $1) \
         AND (CAST($2 AS BIGINT) IS NULL OR s.item_id = $2) AND (CAST($3 AS BIGINT) IS NULL OR s.agreement_id = $3) \
         ORDER BY i.name_zh, s.unit_price_fen, s.id"
    ))
    .bind(supplier_id)
    .bind(item_id)
    .bind(agreement_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| offer_from_row(r, today)).collect()
}

pub async fn withdraw_offer(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE supplier_offers SET status = 'withdrawn', updated_at = $1 WHERE id = $2")
        .bind(db::now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_agreement(
    conn: &mut AnyConnection,
    supplier_id: i64,
    title: &str,
    valid_until: Option<NaiveDate>,
    note: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO agreements (supplier_id, title, valid_until, note, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(supplier_id)
    .bind(title)
    .bind(valid_until.map(|d| d.to_string()))
    .bind(note)
    .bind(db::now())
    .fetch_one(conn)
    .await
}

pub async fn get_agreement(
    conn: &mut AnyConnection,
    id: i64,
    today: NaiveDate,
) -> Result<Agreement, sqlx::Error> {
    let r = sqlx::query(
        "SELECT a.id, a.supplier_id, o.name_zh AS supplier_name, a.title, a.status, a.valid_until, a.note, \
         a.activated_at, a.activated_by, a.activation_reason, a.ended_at, a.end_reason, a.created_at \
         FROM agreements a JOIN organisations o ON o.id = a.supplier_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let offers = list_offers(conn, None, None, Some(id), today).await?;
    Ok(Agreement {
        id: r.try_get("id")?,
        supplier_id: r.try_get("supplier_id")?,
        supplier_name: r.try_get("supplier_name")?,
        title: r.try_get("title")?,
        status: AgreementStatus::parse(&r.try_get::<String, _>("status")?)
            .ok_or_else(|| sqlx::Error::Decode("unknown agreement status".into()))?,
        valid_until: date(r.try_get("valid_until")?),
        note: r.try_get("note")?,
        activated_at: r.try_get("activated_at")?,
        activated_by: r.try_get("activated_by")?,
        activation_reason: r.try_get("activation_reason")?,
        ended_at: r.try_get("ended_at")?,
        end_reason: r.try_get("end_reason")?,
        offers,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn list_agreements(
    conn: &mut AnyConnection,
    supplier_id: Option<i64>,
    today: NaiveDate,
) -> Result<Vec<Agreement>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM agreements WHERE CAST($1 AS BIGINT) IS NULL OR supplier_id = $1 ORDER BY id DESC",
    )
    .bind(supplier_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut agreements = Vec::with_capacity(ids.len());
    for id in ids {
        agreements.push(get_agreement(conn, id, today).await?);
    }
    Ok(agreements)
}

pub async fn lock_agreement(
    conn: &mut AnyConnection,
    id: i64,
    lock: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("SELECT id FROM agreements WHERE id = $1{lock}"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(())
}

pub async fn activate(
    conn: &mut AnyConnection,
    id: i64,
    user_id: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let now = db::now();
    sqlx::query(
        "UPDATE agreements SET status = 'active', activated_at = $1, activated_by = $2, activation_reason = $3, \
         updated_at = $1 WHERE id = $4",
    )
    .bind(now)
    .bind(user_id)
    .bind(reason)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn end(conn: &mut AnyConnection, id: i64, reason: &str) -> Result<(), sqlx::Error> {
    let now = db::now();
    sqlx::query("UPDATE agreements SET status = 'ended', ended_at = $1, end_reason = $2, updated_at = $1 WHERE id = $3")
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
