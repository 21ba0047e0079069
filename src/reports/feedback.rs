//! Donor feedback: for each gift, what was given, where it went (communities, items,
//! quantities, beneficiary groups and how many people), the deliveries the communities
//! confirmed, the money spent from it by budget line, and what is left — all read from the
//! allocations, the delivery receipts and the fund ledger.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::{error::AppError, money::Money, pledges::model::Earmark};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GiftFeedback {
    pub pledge_id: i64,
    pub donor_id: i64,
    pub donor_name: String,
    /// `money` or `goods`.
    pub kind: String,
    pub status: String,
    pub pledged_on: String,
    pub amount: Option<Money>,
    pub item_name: Option<String>,
    pub unit: Option<String>,
    pub quantity: Option<i64>,
    /// Earmarked gifts are kept as a restricted fund of their own.
    pub restricted: bool,
    /// Where it went, by community, item and beneficiary group.
    pub reached: Vec<ReachedLine>,
    pub communities: i64,
    pub units_allocated: i64,
    pub units_delivered: i64,
    /// People in the beneficiary counts of the needs the gift served.
    pub beneficiaries: i64,
    /// Receipts the communities confirmed.
    pub deliveries: Vec<DeliveryConfirmation>,
    /// For money: received, spent by budget line, left.
    pub money: Option<MoneyUse>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReachedLine {
    pub community_id: i64,
    pub community_name: String,
    pub district: String,
    pub item_name: String,
    pub unit: String,
    pub beneficiary_group: String,
    pub allocated: i64,
    pub delivered: i64,
    pub beneficiaries: i64,
    /// What buying these cost the gift (purchases and subsidies).
    pub cost: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryConfirmation {
    pub delivery_id: i64,
    pub community_name: String,
    pub confirmed_at: String,
    pub item_name: String,
    pub received: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoneyUse {
    pub received: Money,
    pub not_yet_received: Money,
    pub spent: Vec<SpentLine>,
    pub spent_total: Money,
    /// Received less spent.
    pub balance: Money,
    /// Unrestricted money is pooled in a project's general fund: what it paid for is its share
    /// of the general fund's spending on each line.
    pub pooled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SpentLine {
    pub project_id: i64,
    pub project_name: String,
    pub budget_line: String,
    pub amount: Money,
    /// For pooled money: the gift's share of the general fund, e.g. "12.5%".
    pub share: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DonorFeedback {
    pub donor_id: i64,
    pub donor_name: String,
    pub gifts: Vec<GiftFeedback>,
    pub money_given: Money,
    pub units_delivered: i64,
    pub communities: i64,
}

/// The feedback on one gift.
pub async fn gift(conn: &mut AnyConnection, pledge: i64) -> Result<GiftFeedback, AppError> {
    let row = sqlx::query(
        "SELECT p.id, p.donor_id, o.name_zh AS donor_name, p.kind, p.status, p.created_at, p.amount_fen, p.quantity, \
                p.earmark_json, i.name_zh AS item_name, i.unit_zh FROM pledges p JOIN organisations o ON o.id = p.donor_id \
         LEFT JOIN items i ON i.id = p.item_id WHERE p.id = $1",
    )
    .bind(pledge)
    .fetch_one(&mut *conn)
    .await?;
    let earmark: Earmark =
        serde_json::from_str(&row.get::<String, _>("earmark_json")).unwrap_or_default();
    let kind: String = row.get("kind");
    let (reached, units_allocated, beneficiaries) = reached(conn, pledge).await?;
    let deliveries = deliveries(conn, pledge).await?;
    let money = if kind == "money" {
        let amount = row.get::<Option<i64>, _>("amount_fen").unwrap_or(0);
        Some(money_use(conn, pledge, amount, !earmark.is_unrestricted()).await?)
    } else {
        None
    };
    let communities: BTreeSet<i64> = reached.iter().map(|r| r.community_id).collect();
    Ok(GiftFeedback {
        pledge_id: pledge,
        donor_id: row.get("donor_id"),
        donor_name: row.get("donor_name"),
        status: row.get("status"),
        pledged_on: row
            .get::<String, _>("created_at")
            .chars()
            .take(10)
            .collect(),
        amount: row.get::<Option<i64>, _>("amount_fen").map(Money::from_fen),
        item_name: row.get("item_name"),
        unit: row.get("unit_zh"),
        quantity: row.get("quantity"),
        restricted: !earmark.is_unrestricted(),
        communities: communities.len() as i64,
        units_allocated,
        units_delivered: deliveries.iter().map(|d| d.received).sum(),
        beneficiaries,
        reached,
        deliveries,
        money,
        kind,
    })
}

/// Allocations of the gift by community, item and group, with what arrived.
async fn reached(
    conn: &mut AnyConnection,
    pledge: i64,
) -> Result<(Vec<ReachedLine>, i64, i64), AppError> {
    let rows = sqlx::query(
        "SELECT a.need_id, n.community_id, o.name_zh AS community_name, o.district, i.name_zh AS item_name, i.unit_zh, \
                n.beneficiary_group, n.beneficiary_count, a.quantity - a.returned - a.written_off AS allocated, a.cost_fen, \
                CAST((SELECT COALESCE(SUM(dl.received), 0) FROM delivery_lines dl WHERE dl.allocation_id = a.id) AS BIGINT) AS delivered \
         FROM allocations a JOIN needs n ON n.id = a.need_id JOIN organisations o ON o.id = n.community_id \
         JOIN items i ON i.id = a.item_id WHERE a.pledge_id = $1 AND a.status = 'reserved' ORDER BY o.name_zh, i.name_zh, a.id",
    )
    .bind(pledge)
    .fetch_all(conn)
    .await?;
    let mut lines: BTreeMap<(String, String, String), ReachedLine> = BTreeMap::new();
    let mut counted: BTreeSet<i64> = BTreeSet::new();
    let mut needs_of_line: BTreeMap<(String, String, String), BTreeSet<i64>> = BTreeMap::new();
    for r in &rows {
        let key = (
            r.get::<String, _>("community_name"),
            r.get::<String, _>("item_name"),
            r.get::<String, _>("beneficiary_group"),
        );
        let line = lines.entry(key.clone()).or_insert_with(|| ReachedLine {
            community_id: r.get("community_id"),
            community_name: key.0.clone(),
            district: r.get("district"),
            item_name: key.1.clone(),
            unit: r.get("unit_zh"),
            beneficiary_group: key.2.clone(),
            allocated: 0,
            delivered: 0,
            beneficiaries: 0,
            cost: Money::ZERO,
        });
        line.allocated += r.get::<i64, _>("allocated");
        line.delivered += r.get::<i64, _>("delivered");
        line.cost = Money::from_fen(line.cost.fen() + r.get::<i64, _>("cost_fen"));
        let need: i64 = r.get("need_id");
        if needs_of_line.entry(key).or_default().insert(need) {
            line.beneficiaries += r.get::<i64, _>("beneficiary_count");
        }
        counted.insert(need);
    }
    let beneficiaries = rows
        .iter()
        .filter(|r| counted.remove(&r.get::<i64, _>("need_id")))
        .map(|r| r.get::<i64, _>("beneficiary_count"))
        .sum();
    let allocated = lines.values().map(|l| l.allocated).sum();
    Ok((lines.into_values().collect(), allocated, beneficiaries))
}

async fn deliveries(
    conn: &mut AnyConnection,
    pledge: i64,
) -> Result<Vec<DeliveryConfirmation>, AppError> {
    let rows = sqlx::query(
        "SELECT d.id, o.name_zh AS community_name, d.confirmed_at, i.name_zh AS item_name, \
                CAST(SUM(dl.received) AS BIGINT) AS received \
         FROM delivery_lines dl JOIN deliveries d ON d.id = dl.delivery_id JOIN allocations a ON a.id = dl.allocation_id \
         JOIN organisations o ON o.id = d.community_id JOIN items i ON i.id = dl.item_id \
         WHERE a.pledge_id = $1 AND d.status = 'confirmed' \
         GROUP BY d.id, o.name_zh, d.confirmed_at, i.name_zh ORDER BY d.confirmed_at, d.id",
    )
    .bind(pledge)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| DeliveryConfirmation {
            delivery_id: r.get("id"),
            community_name: r.get("community_name"),
            confirmed_at: r.get("confirmed_at"),
            item_name: r.get("item_name"),
            received: r.get("received"),
        })
        .collect())
}

/// Money received from the pledge and what it paid for: a restricted gift's own fund; an
/// unrestricted gift's share of each project's general fund.
async fn money_use(
    conn: &mut AnyConnection,
    pledge: i64,
    amount: i64,
    restricted: bool,
) -> Result<MoneyUse, AppError> {
    let receipts = sqlx::query(
        "SELECT r.project_id, p.name_zh, CAST(SUM(r.amount_fen) AS BIGINT) AS received FROM receipts r \
         JOIN projects p ON p.id = r.project_id WHERE r.pledge_id = $1 GROUP BY r.project_id, p.name_zh ORDER BY r.project_id",
    )
    .bind(pledge)
    .fetch_all(&mut *conn)
    .await?;
    let received: i64 = receipts.iter().map(|r| r.get::<i64, _>("received")).sum();
    let mut spent = Vec::new();
    for r in &receipts {
        let (project, name, mine): (i64, String, i64) =
            (r.get("project_id"), r.get("name_zh"), r.get("received"));
        let fund = if restricted {
            format!("pledge:{pledge}")
        } else {
            "general".to_owned()
        };
        let pool: i64 = if restricted {
            mine
        } else {
            sqlx::query(
                "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM receipts WHERE project_id = $1 AND fund = 'general'",
            )
            .bind(project)
            .fetch_one(&mut *conn)
            .await?
            .get(0)
        };
        let lines = sqlx::query(
            "SELECT b.category, CAST(SUM(d.amount_fen) AS BIGINT) AS spent FROM disbursements d \
             JOIN budget_lines b ON b.id = d.budget_line_id WHERE d.project_id = $1 AND d.fund = $2 \
             GROUP BY b.position, b.category ORDER BY b.position",
        )
        .bind(project)
        .bind(&fund)
        .fetch_all(&mut *conn)
        .await?;
        for line in lines {
            let total: i64 = line.get("spent");
            // The gift's share, rounded down to the fen: never more than it paid.
            let amount = if restricted || pool == 0 {
                total
            } else {
                (i128::from(total) * i128::from(mine) / i128::from(pool)) as i64
            };
            spent.push(SpentLine {
                project_id: project,
                project_name: name.clone(),
                budget_line: line.get("category"),
                amount: Money::from_fen(amount),
                share: (!restricted && pool > 0).then(|| crate::funds::store::percent(mine, pool)),
            });
        }
    }
    let spent_total: i64 = spent.iter().map(|s| s.amount.fen()).sum();
    Ok(MoneyUse {
        received: Money::from_fen(received),
        not_yet_received: Money::from_fen((amount - received).max(0)),
        spent_total: Money::from_fen(spent_total),
        balance: Money::from_fen((received - spent_total).max(0)),
        pooled: !restricted,
        spent,
    })
}

/// The feedback on every gift of a donor (cancelled ones left out).
pub async fn donor(conn: &mut AnyConnection, donor: i64) -> Result<DonorFeedback, AppError> {
    let name: String =
        sqlx::query("SELECT name_zh FROM organisations WHERE id = $1 AND kind = 'donor'")
            .bind(donor)
            .fetch_one(&mut *conn)
            .await?
            .get(0);
    let pledges: Vec<i64> = sqlx::query(
        "SELECT id FROM pledges WHERE donor_id = $1 AND status <> 'cancelled' ORDER BY id",
    )
    .bind(donor)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut gifts = Vec::with_capacity(pledges.len());
    for pledge in pledges {
        gifts.push(gift(conn, pledge).await?);
    }
    let communities: BTreeSet<i64> = gifts
        .iter()
        .flat_map(|g| g.reached.iter().map(|r| r.community_id))
        .collect();
    Ok(DonorFeedback {
        donor_id: donor,
        donor_name: name,
        money_given: Money::from_fen(
            gifts
                .iter()
                .filter_map(|g| g.money.as_ref())
                .map(|m| m.received.fen())
                .sum(),
        ),
        units_delivered: gifts.iter().map(|g| g.units_delivered).sum(),
        communities: communities.len() as i64,
        gifts,
    })
}
