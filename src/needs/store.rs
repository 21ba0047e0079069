//! Queries for needs and their versions.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{any::AnyRow, AnyConnection, Row};
use utoipa::{IntoParams, ToSchema};

use super::model::{BeneficiaryGroup, DeliveryMode, Need, NeedStatus, Subsidy, Urgency, ValidNeed};
use crate::{db, extract::empty_as_none, money::Money};

const SELECT: &str = "SELECT n.id, n.community_id, o.name_zh AS community_name, n.district, n.item_id, n.kit_id, \
    COALESCE(i.name_zh, k.name_zh) AS what, COALESCE(i.unit_zh, '包') AS unit, i.category, n.quantity, \
    n.subsidy_headcount, n.subsidy_days, n.subsidy_rate_fen, n.urgency, n.beneficiary_group, n.beneficiary_count, \
    n.needed_by, n.delivery_mode, n.note, n.status, n.status_reason, n.version, n.created_at, n.updated_at \
    FROM needs n JOIN organisations o ON o.id = n.community_id \
    LEFT JOIN items i ON i.id = n.item_id LEFT JOIN kits k ON k.id = n.kit_id";

fn decode<T>(value: Option<T>, what: &str) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::Decode(format!("unknown {what}").into()))
}

fn from_row(r: &AnyRow) -> Result<Need, sqlx::Error> {
    let subsidy = match (
        r.try_get::<Option<i64>, _>("subsidy_headcount")?,
        r.try_get::<Option<i64>, _>("subsidy_days")?,
        r.try_get::<Option<i64>, _>("subsidy_rate_fen")?,
    ) {
        (Some(headcount), Some(days), Some(rate)) => Some(Subsidy {
            headcount,
            days,
            rate: Money::from_fen(rate),
        }),
        _ => None,
    };
    let needed_by: Option<String> = r.try_get("needed_by")?;
    Ok(Need {
        id: r.try_get("id")?,
        community_id: r.try_get("community_id")?,
        community_name: r.try_get("community_name")?,
        district: r.try_get("district")?,
        item_id: r.try_get("item_id")?,
        kit_id: r.try_get("kit_id")?,
        what: r.try_get("what")?,
        unit: r.try_get("unit")?,
        category: r.try_get("category")?,
        quantity: r.try_get("quantity")?,
        subsidy_total: subsidy.and_then(Subsidy::total),
        subsidy,
        urgency: decode(
            Urgency::parse(&r.try_get::<String, _>("urgency")?),
            "urgency",
        )?,
        beneficiary_group: decode(
            BeneficiaryGroup::parse(&r.try_get::<String, _>("beneficiary_group")?),
            "group",
        )?,
        beneficiary_count: r.try_get("beneficiary_count")?,
        needed_by: needed_by.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        delivery_mode: decode(
            DeliveryMode::parse(&r.try_get::<String, _>("delivery_mode")?),
            "delivery mode",
        )?,
        note: r.try_get("note")?,
        status: decode(
            NeedStatus::parse(&r.try_get::<String, _>("status")?),
            "status",
        )?,
        status_reason: r.try_get("status_reason")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(
    conn: &mut AnyConnection,
    need: &ValidNeed,
    district: &str,
    created_by: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let now = db::now();
    sqlx::query_scalar(
        "INSERT INTO needs (community_id, district, item_id, kit_id, quantity, subsidy_headcount, subsidy_days, \
         subsidy_rate_fen, urgency, beneficiary_group, beneficiary_count, needed_by, delivery_mode, note, \
         created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id",
    )
    .bind(need.community_id)
    .bind(district)
    .bind(need.item_id)
    .bind(need.kit_id)
    .bind(need.quantity)
    .bind(need.subsidy.map(|s| s.headcount))
    .bind(need.subsidy.map(|s| s.days))
    .bind(need.subsidy.map(|s| s.rate.fen()))
    .bind(need.urgency.as_str())
    .bind(need.beneficiary_group.as_str())
    .bind(need.beneficiary_count)
    .bind(need.needed_by.map(|d| d.to_string()))
    .bind(need.delivery_mode.as_str())
    .bind(need.note.clone())
    .bind(created_by)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Replaces the request of a need, keeping the record as it was in `need_versions`.
pub async fn update(
    conn: &mut AnyConnection,
    before: &Need,
    need: &ValidNeed,
    district: &str,
    user_id: i64,
) -> Result<(), sqlx::Error> {
    let now = db::now();
    sqlx::query(
        "INSERT INTO need_versions (need_id, version, snapshot_json, replaced_by_user_id, replaced_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(before.id)
    .bind(before.version)
    .bind(serde_json::to_string(before).unwrap_or_default())
    .bind(user_id)
    .bind(now.clone())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE needs SET community_id = $1, district = $2, item_id = $3, kit_id = $4, quantity = $5, \
         subsidy_headcount = $6, subsidy_days = $7, subsidy_rate_fen = $8, urgency = $9, beneficiary_group = $10, \
         beneficiary_count = $11, needed_by = $12, delivery_mode = $13, note = $14, version = version + 1, \
         updated_at = $15 WHERE id = $16",
    )
    .bind(need.community_id)
    .bind(district)
    .bind(need.item_id)
    .bind(need.kit_id)
    .bind(need.quantity)
    .bind(need.subsidy.map(|s| s.headcount))
    .bind(need.subsidy.map(|s| s.days))
    .bind(need.subsidy.map(|s| s.rate.fen()))
    .bind(need.urgency.as_str())
    .bind(need.beneficiary_group.as_str())
    .bind(need.beneficiary_count)
    .bind(need.needed_by.map(|d| d.to_string()))
    .bind(need.delivery_mode.as_str())
    .bind(need.note.clone())
    .bind(now)
    .bind(before.id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    status: NeedStatus,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE needs SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4")
        .bind(status.as_str())
        .bind(reason)
        .bind(db::now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<Need, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE n.id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    from_row(&row)
}

/// Locks the need's row for the rest of the transaction (PostgreSQL), so two edits or status
/// changes of one need queue instead of overwriting each other.
pub async fn lock(conn: &mut AnyConnection, id: i64, lock: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("SELECT id FROM needs WHERE id = $1{lock}"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NeedFilter {
    #[serde(default, deserialize_with = "empty_as_none")]
    pub community_id: Option<i64>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub status: Option<NeedStatus>,
    /// Only needs still waiting for supply (open or partially matched).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub open: Option<bool>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub urgency: Option<Urgency>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub beneficiary_group: Option<BeneficiaryGroup>,
    pub district: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub item_id: Option<i64>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page: Option<i64>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NeedPage {
    pub items: Vec<Need>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

pub async fn list(conn: &mut AnyConnection, filter: &NeedFilter) -> Result<NeedPage, sqlx::Error> {
    let window = crate::paging::Window::new(filter.page, filter.per_page);
    let condition = "(CAST($1 AS BIGINT) IS NULL OR n.community_id = $1) \
        AND (CAST($2 AS TEXT) IS NULL OR n.status = $2) \
        AND (CAST($3 AS BIGINT) IS NULL OR n.status IN ('open', 'partially_matched')) \
        AND (CAST($4 AS TEXT) IS NULL OR n.urgency = $4) \
        AND (CAST($5 AS TEXT) IS NULL OR n.beneficiary_group = $5) \
        AND (CAST($6 AS TEXT) IS NULL OR n.district = $6) \
        AND (CAST($7 AS BIGINT) IS NULL OR n.item_id = $7)";
    let district = filter
        .district
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let open = filter.open.filter(|o| *o).map(|_| 1_i64);
    macro_rules! bind_filter {
        ($q:expr) => {
            $q.bind(filter.community_id)
                .bind(filter.status.map(NeedStatus::as_str))
                .bind(open)
                .bind(filter.urgency.map(Urgency::as_str))
                .bind(filter.beneficiary_group.map(BeneficiaryGroup::as_str))
                .bind(district)
                .bind(filter.item_id)
        };
    }
    let total: i64 = bind_filter!(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM needs n WHERE {condition}"
    )))
    .fetch_one(&mut *conn)
    .await?;
    // Most urgent first, then the earliest deadline, then the oldest request.
    let sql = format!(
        "{SELECT} WHERE {condition} ORDER BY CASE n.urgency WHEN 'critical' THEN 0 WHEN 'high' THEN 1 ELSE 2 END, \
         COALESCE(n.needed_by, '9999-12-31'), n.id LIMIT $8 OFFSET $9"
    );
    let rows = bind_filter!(sqlx::query(&sql))
        .bind(window.per_page)
        .bind(window.offset())
        .fetch_all(&mut *conn)
        .await?;
    Ok(NeedPage {
        items: rows.iter().map(from_row).collect::<Result<_, _>>()?,
        total,
        page: window.page,
        per_page: window.per_page,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NeedVersion {
    pub version: i64,
    pub replaced_by_user_id: Option<i64>,
    pub replaced_at: String,
    /// The need as it was in this version.
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
}

pub async fn versions(
    conn: &mut AnyConnection,
    need_id: i64,
) -> Result<Vec<NeedVersion>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT version, replaced_by_user_id, replaced_at, snapshot_json FROM need_versions \
         WHERE need_id = $1 ORDER BY version",
    )
    .bind(need_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| NeedVersion {
            version: r.get("version"),
            replaced_by_user_id: r.get("replaced_by_user_id"),
            replaced_at: r.get("replaced_at"),
            record: serde_json::from_str(&r.get::<String, _>("snapshot_json")).unwrap_or_default(),
        })
        .collect())
}

/// What the catalogue says about the thing a need asks for.
pub struct Requested {
    pub category: Option<String>,
    pub active: bool,
}

pub async fn requested(
    conn: &mut AnyConnection,
    item_id: Option<i64>,
    kit_id: Option<i64>,
) -> Result<Option<Requested>, sqlx::Error> {
    let row = match (item_id, kit_id) {
        (Some(item), _) => {
            sqlx::query("SELECT category, status FROM items WHERE id = $1")
                .bind(item)
                .fetch_optional(conn)
                .await?
        }
        (None, Some(kit)) => {
            sqlx::query("SELECT CAST(NULL AS TEXT) AS category, status FROM kits WHERE id = $1")
                .bind(kit)
                .fetch_optional(conn)
                .await?
        }
        (None, None) => None,
    };
    Ok(row.map(|r| Requested {
        category: r.get("category"),
        active: r.get::<String, _>("status") == "active",
    }))
}

/// Names a sheet may use, resolved to ids.
pub async fn lookup(conn: &mut AnyConnection) -> Result<super::import::Lookup, sqlx::Error> {
    let mut lookup = super::import::Lookup::default();
    for r in sqlx::query(
        "SELECT id, name_zh FROM organisations WHERE kind = 'community' AND status = 'active'",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        lookup.communities.insert(r.get("name_zh"), r.get("id"));
    }
    for r in sqlx::query("SELECT id, code, name_zh, name_en FROM items WHERE status = 'active'")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: i64 = r.get("id");
        for name in [
            Some(r.get::<String, _>("code")),
            Some(r.get("name_zh")),
            r.get::<Option<String>, _>("name_en"),
        ]
        .into_iter()
        .flatten()
        {
            lookup.items.insert(name.to_lowercase(), id);
        }
    }
    for r in sqlx::query("SELECT id, code, name_zh FROM kits WHERE status = 'active'")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: i64 = r.get("id");
        lookup
            .kits
            .insert(r.get::<String, _>("code").to_lowercase(), id);
        lookup
            .kits
            .insert(r.get::<String, _>("name_zh").to_lowercase(), id);
    }
    Ok(lookup)
}
