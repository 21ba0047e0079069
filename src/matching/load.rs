//! The engine's instance built from the database: open needs (kits broken into their items,
//! minus what is already allocated), goods and money pledges with what is left of them, and
//! the supplier offers available today with their remaining weekly capacity.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

use super::engine::instance::{
    EarmarkIn, Instance, NeedIn, OfferIn, Policy, SourceIn, DEFAULT_VULNERABLE,
};
use crate::{
    money::Money,
    pledges::model::Earmark,
    suppliers::model::{is_available, AgreementStatus, OfferStatus},
};

/// What an instance id stands for in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedPart {
    pub need_id: i64,
    pub item_id: i64,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub instance: Instance,
    pub needs: HashMap<String, NeedPart>,
}

fn point(lat: Option<i64>, lon: Option<i64>) -> Option<[f64; 2]> {
    Some([lat? as f64 / 1e6, lon? as f64 / 1e6])
}

pub fn need_key(part: NeedPart, kit: bool) -> String {
    if kit {
        format!("need{}/item{}", part.need_id, part.item_id)
    } else {
        format!("need{}", part.need_id)
    }
}

pub fn parse_source(id: &str) -> Option<i64> {
    id.strip_prefix("pledge")?.parse().ok()
}

pub fn parse_offer(id: &str) -> Option<i64> {
    id.strip_prefix("offer")?.parse().ok()
}

/// Loads everything the engine needs for a run on `today`.
pub async fn load(conn: &mut AnyConnection, today: NaiveDate) -> Result<Loaded, sqlx::Error> {
    let mut loaded = Loaded::default();
    load_needs(conn, &mut loaded).await?;
    let sources = load_pledges(conn).await?;
    let offers = load_offers(conn, today).await?;
    loaded.instance = Instance {
        today: today.format("%Y-%m-%d").to_string(),
        policy: Some(Policy {
            vulnerable_groups: DEFAULT_VULNERABLE.iter().map(|g| g.to_string()).collect(),
        }),
        needs: std::mem::take(&mut loaded.instance.needs),
        sources,
        offers,
    };
    Ok(loaded)
}

async fn load_needs(conn: &mut AnyConnection, loaded: &mut Loaded) -> Result<(), sqlx::Error> {
    // One row per need and item: a kit need yields one row per item of the kit.
    let rows = sqlx::query(
        "SELECT n.id, n.community_id, n.district, n.quantity, n.urgency, n.beneficiary_group, n.needed_by, \
                n.subsidy_rate_fen, n.kit_id, i.id AS item_id, i.category, COALESCE(ki.quantity, 1) AS per_kit, \
                o.lat_e6, o.lon_e6, \
                CAST((SELECT COALESCE(SUM(a.quantity - a.returned - a.written_off), 0) FROM allocations a \
                      WHERE a.need_id = n.id AND a.item_id = i.id AND a.status = 'reserved') AS BIGINT) AS allocated \
         FROM needs n \
         JOIN organisations o ON o.id = n.community_id \
         LEFT JOIN kit_items ki ON ki.kit_id = n.kit_id \
         JOIN items i ON i.id = COALESCE(n.item_id, ki.item_id) \
         WHERE n.status IN ('open', 'partially_matched') \
         ORDER BY n.id, i.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let need_id: i64 = row.try_get("id")?;
        let item_id: i64 = row.try_get("item_id")?;
        let kit = row.try_get::<Option<i64>, _>("kit_id")?.is_some();
        let asked = row.try_get::<i64, _>("quantity")? * row.try_get::<i64, _>("per_kit")?;
        let left = asked - row.try_get::<i64, _>("allocated")?;
        let rate: Option<i64> = row.try_get("subsidy_rate_fen")?;
        if left <= 0 || rate == Some(0) {
            continue;
        }
        let part = NeedPart { need_id, item_id };
        let id = need_key(part, kit);
        loaded.needs.insert(id.clone(), part);
        loaded.instance.needs.push(NeedIn {
            id,
            community: format!("community{}", row.try_get::<i64, _>("community_id")?),
            district: Some(row.try_get("district")?),
            item: format!("item{item_id}"),
            category: Some(row.try_get("category")?),
            quantity: left,
            urgency: row.try_get("urgency")?,
            group: Some(row.try_get("beneficiary_group")?),
            location: point(row.try_get("lat_e6")?, row.try_get("lon_e6")?),
            needed_by: row.try_get("needed_by")?,
            rate: rate.map(|fen| Money::from_fen(fen).to_string()),
        });
    }
    Ok(())
}

async fn load_pledges(conn: &mut AnyConnection) -> Result<Vec<SourceIn>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.kind, p.status, p.amount_fen, p.item_id, p.quantity, p.expires_on, p.available_from, \
                p.earmark_json, o.lat_e6, o.lon_e6, \
                CAST((SELECT COALESCE(SUM(a.quantity - a.returned), 0) FROM allocations a \
                      WHERE a.pledge_id = p.id AND a.status = 'reserved' AND a.offer_id IS NULL AND p.kind = 'goods') AS BIGINT) AS units, \
                CAST((SELECT SUM(b.quantity) FROM stock_balances b JOIN lots l ON l.id = b.lot_id \
                      WHERE l.pledge_id = p.id AND l.allocation_id IS NULL AND b.bucket = 'available') AS BIGINT) AS free_stock, \
                CAST((SELECT COALESCE(SUM(a.cost_fen), 0) FROM allocations a \
                      WHERE a.pledge_id = p.id AND a.status = 'reserved') AS BIGINT) AS spent \
         FROM pledges p JOIN organisations o ON o.id = p.donor_id \
         WHERE p.status IN ('pledged', 'received') ORDER BY p.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut sources = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let earmark: Earmark =
            serde_json::from_str(&row.try_get::<String, _>("earmark_json")?).unwrap_or_default();
        let earmark = EarmarkIn {
            districts: earmark.districts,
            communities: earmark
                .communities
                .iter()
                .map(|c| format!("community{c}"))
                .collect(),
            items: Vec::new(),
            categories: earmark
                .categories
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            groups: earmark
                .groups
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
        };
        let earmark = (earmark != EarmarkIn::default()).then_some(earmark);
        let location = point(row.try_get("lat_e6")?, row.try_get("lon_e6")?);
        let source = if row.try_get::<String, _>("kind")? == "money" {
            let left = row.try_get::<Option<i64>, _>("amount_fen")?.unwrap_or(0)
                - row.try_get::<i64, _>("spent")?;
            if left <= 0 {
                continue;
            }
            SourceIn {
                id: format!("pledge{id}"),
                kind: "money".into(),
                item: None,
                quantity: None,
                amount: Some(Money::from_fen(left).to_string()),
                location: None,
                expires: None,
                available_from: row.try_get("available_from")?,
                earmark,
            }
        } else {
            // Received into stock: what its lots hold free. Else the promise less what is
            // allocated from it.
            let left = match row.try_get::<Option<i64>, _>("free_stock")? {
                Some(free) => free,
                None => {
                    row.try_get::<Option<i64>, _>("quantity")?.unwrap_or(0)
                        - row.try_get::<i64, _>("units")?
                }
            };
            if left <= 0 {
                continue;
            }
            let received = row.try_get::<String, _>("status")? == "received";
            SourceIn {
                id: format!("pledge{id}"),
                kind: if received { "stock" } else { "pledge" }.into(),
                item: Some(format!("item{}", row.try_get::<i64, _>("item_id")?)),
                quantity: Some(left),
                amount: None,
                location,
                expires: row.try_get("expires_on")?,
                available_from: if received {
                    None
                } else {
                    row.try_get("available_from")?
                },
                earmark,
            }
        };
        sources.push(source);
    }
    Ok(sources)
}

async fn load_offers(
    conn: &mut AnyConnection,
    today: NaiveDate,
) -> Result<Vec<OfferIn>, sqlx::Error> {
    let week_ago = (today - chrono::Days::new(6))
        .format("%Y-%m-%d")
        .to_string();
    let rows = sqlx::query(
        "SELECT s.id, s.supplier_id, s.item_id, s.unit_price_fen, s.weekly_capacity, s.lead_days, s.valid_from, \
                s.valid_until, s.status, ag.status AS agreement_status, o.lat_e6, o.lon_e6, \
                CAST((SELECT COALESCE(SUM(a.quantity), 0) FROM allocations a \
                      WHERE a.offer_id = s.id AND a.status = 'reserved' AND a.created_at >= $1) AS BIGINT) AS bought \
         FROM supplier_offers s JOIN organisations o ON o.id = s.supplier_id \
         LEFT JOIN agreements ag ON ag.id = s.agreement_id \
         WHERE s.status = 'active' AND s.unit_price_fen > 0 ORDER BY s.id",
    )
    .bind(week_ago)
    .fetch_all(&mut *conn)
    .await?;
    let date =
        |text: Option<String>| text.and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok());
    let mut offers = Vec::with_capacity(rows.len());
    for row in rows {
        let agreement = row
            .try_get::<Option<String>, _>("agreement_status")?
            .and_then(|s| AgreementStatus::parse(&s));
        let status = OfferStatus::parse(&row.try_get::<String, _>("status")?)
            .unwrap_or(OfferStatus::Withdrawn);
        if !is_available(
            status,
            date(row.try_get("valid_from")?),
            date(row.try_get("valid_until")?),
            agreement,
            today,
        ) {
            continue;
        }
        let capacity =
            row.try_get::<i64, _>("weekly_capacity")? - row.try_get::<i64, _>("bought")?;
        if capacity <= 0 {
            continue;
        }
        offers.push(OfferIn {
            id: format!("offer{}", row.try_get::<i64, _>("id")?),
            supplier: format!("supplier{}", row.try_get::<i64, _>("supplier_id")?),
            item: format!("item{}", row.try_get::<i64, _>("item_id")?),
            unit_price: Money::from_fen(row.try_get("unit_price_fen")?).to_string(),
            capacity,
            lead_days: row.try_get("lead_days")?,
            location: point(row.try_get("lat_e6")?, row.try_get("lon_e6")?),
        });
    }
    Ok(offers)
}
