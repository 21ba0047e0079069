//! The hub's board: every open need aggregated by item and by district — asked, pledged, in
//! stock, shortfall — what the field notes call seeing what the communities lack. Kits are
//! counted as the items they are made of.

use std::collections::{BTreeMap, HashMap};

use axum::{extract::State, response::Html, routing::get, Json, Router};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission},
    catalogue::model::Category,
    error::{AppError, Problem},
    extract::{empty_as_none, ApiQuery},
    money::Money,
    needs::model::{BeneficiaryGroup, Urgency},
    web::PageCtx,
};

#[derive(Debug, Default, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardFilter {
    #[serde(default, deserialize_with = "empty_as_none")]
    pub category: Option<Category>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub urgency: Option<Urgency>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub beneficiary_group: Option<BeneficiaryGroup>,
    pub district: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemLine {
    pub item_id: i64,
    pub item: String,
    pub unit: String,
    pub category: Category,
    /// Units open needs (open or partially matched) still ask for: asked less what confirmed
    /// plans reserved for them.
    pub asked: i64,
    pub needs: i64,
    pub critical_needs: i64,
    /// Units promised in goods pledges not yet received, less what plans reserved from them.
    pub pledged: i64,
    /// Units received from goods pledges and not yet allocated.
    pub in_stock: i64,
    /// asked − pledged − in stock, never below zero.
    pub shortfall: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DistrictLine {
    pub district: String,
    pub item_id: i64,
    pub item: String,
    pub unit: String,
    pub asked: i64,
    pub needs: i64,
    pub communities: i64,
    pub critical_needs: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Board {
    pub by_item: Vec<ItemLine>,
    pub by_district: Vec<DistrictLine>,
    /// Money pledged or received and not yet allocated, in yuan.
    pub money_available: Money,
    pub open_needs: i64,
}

/// Open needs grouped by district and item, from the covering index alone. Needs for kits are
/// grouped by kit here and expanded into their items in code (kit needs are few).
const GROUPED: &str =
    "SELECT n.district, n.item_id, n.kit_id, CAST(SUM(n.quantity) AS BIGINT) AS asked, \
    COUNT(*) AS needs, COUNT(DISTINCT n.community_id) AS communities, \
    CAST(SUM(CASE WHEN n.urgency = 'critical' THEN 1 ELSE 0 END) AS BIGINT) AS critical_needs \
    FROM needs n WHERE n.status IN ('open', 'partially_matched') \
    AND (CAST($1 AS TEXT) IS NULL OR n.urgency = $1) \
    AND (CAST($2 AS TEXT) IS NULL OR n.beneficiary_group = $2) \
    AND (CAST($3 AS TEXT) IS NULL OR n.district = $3) \
    GROUP BY n.district, n.item_id, n.kit_id";

/// What confirmed plans already reserved for the same needs, by district and item.
const ALLOCATED: &str =
    "SELECT n.district, a.item_id, CAST(SUM(a.quantity - a.returned - a.written_off) AS BIGINT) AS allocated \
    FROM allocations a JOIN needs n ON n.id = a.need_id \
    WHERE a.status = 'reserved' AND n.status IN ('open', 'partially_matched') \
    AND (CAST($1 AS TEXT) IS NULL OR n.urgency = $1) \
    AND (CAST($2 AS TEXT) IS NULL OR n.beneficiary_group = $2) \
    AND (CAST($3 AS TEXT) IS NULL OR n.district = $3) \
    GROUP BY n.district, a.item_id";

struct ItemInfo {
    name: String,
    unit: String,
    category: Category,
}

pub async fn board(conn: &mut AnyConnection, filter: &BoardFilter) -> Result<Board, sqlx::Error> {
    let district = filter
        .district
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let rows = sqlx::query(GROUPED)
        .bind(filter.urgency.map(Urgency::as_str))
        .bind(filter.beneficiary_group.map(BeneficiaryGroup::as_str))
        .bind(district)
        .fetch_all(&mut *conn)
        .await?;
    let items: HashMap<i64, ItemInfo> =
        sqlx::query("SELECT id, name_zh, unit_zh, category FROM items")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                let category =
                    Category::parse(&r.get::<String, _>("category")).unwrap_or(Category::Service);
                (
                    r.get("id"),
                    ItemInfo {
                        name: r.get("name_zh"),
                        unit: r.get("unit_zh"),
                        category,
                    },
                )
            })
            .collect();
    let mut kit_lines: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for r in sqlx::query("SELECT kit_id, item_id, quantity FROM kit_items")
        .fetch_all(&mut *conn)
        .await?
    {
        kit_lines
            .entry(r.get("kit_id"))
            .or_default()
            .push((r.get("item_id"), r.get("quantity")));
    }
    // Goods pledges minus what confirmed plans reserved from them.
    let supply_rows = sqlx::query(
        "SELECT item_id, CAST(SUM(pledged) AS BIGINT) AS pledged, CAST(SUM(in_stock) AS BIGINT) AS in_stock FROM ( \
           SELECT p.item_id, \
             CASE WHEN p.status = 'pledged' THEN p.quantity - COALESCE(a.reserved, 0) ELSE 0 END AS pledged, \
             CASE WHEN p.status = 'received' THEN p.quantity - COALESCE(a.reserved, 0) ELSE 0 END AS in_stock \
           FROM pledges p LEFT JOIN (SELECT pledge_id, SUM(quantity - returned) AS reserved FROM allocations \
                WHERE status = 'reserved' GROUP BY pledge_id) a ON a.pledge_id = p.id \
           WHERE p.kind = 'goods' AND p.status IN ('pledged', 'received') \
             AND NOT EXISTS (SELECT 1 FROM lots l WHERE l.pledge_id = p.id AND l.allocation_id IS NULL) \
           UNION ALL \
           SELECT l.item_id, 0 AS pledged, b.quantity AS in_stock FROM stock_balances b JOIN lots l ON l.id = b.lot_id \
           WHERE b.bucket = 'available') s GROUP BY item_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let supply: HashMap<i64, (i64, i64)> = supply_rows
        .iter()
        .map(|r| {
            (
                r.get::<i64, _>("item_id"),
                (r.get::<i64, _>("pledged"), r.get::<i64, _>("in_stock")),
            )
        })
        .collect();

    // (district, item) → line; a kit need adds to each of its items.
    let mut districts: BTreeMap<(String, i64), DistrictLine> = BTreeMap::new();
    for r in &rows {
        let district: String = r.get("district");
        let parts: Vec<(i64, i64)> = match (
            r.get::<Option<i64>, _>("item_id"),
            r.get::<Option<i64>, _>("kit_id"),
        ) {
            (Some(item), _) => vec![(item, 1)],
            (None, Some(kit)) => kit_lines.get(&kit).cloned().unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        for (item_id, per_unit) in parts {
            let Some(info) = items.get(&item_id) else {
                continue;
            };
            if filter.category.is_some_and(|c| c != info.category) {
                continue;
            }
            let line = districts
                .entry((district.clone(), item_id))
                .or_insert_with(|| DistrictLine {
                    district: district.clone(),
                    item_id,
                    item: info.name.clone(),
                    unit: info.unit.clone(),
                    asked: 0,
                    needs: 0,
                    communities: 0,
                    critical_needs: 0,
                });
            line.asked += r.get::<i64, _>("asked") * per_unit;
            line.needs += r.get::<i64, _>("needs");
            // Counted per row: a community asking for an item and for a kit holding it counts twice.
            line.communities += r.get::<i64, _>("communities");
            line.critical_needs += r.get::<i64, _>("critical_needs");
        }
    }
    let allocated = sqlx::query(ALLOCATED)
        .bind(filter.urgency.map(Urgency::as_str))
        .bind(filter.beneficiary_group.map(BeneficiaryGroup::as_str))
        .bind(district)
        .fetch_all(&mut *conn)
        .await?;
    for r in allocated {
        if let Some(line) =
            districts.get_mut(&(r.get::<String, _>("district"), r.get::<i64, _>("item_id")))
        {
            line.asked = (line.asked - r.get::<i64, _>("allocated")).max(0);
        }
    }
    let mut by_district: Vec<DistrictLine> = districts.into_values().collect();
    let mut totals: BTreeMap<i64, ItemLine> = BTreeMap::new();
    for line in &by_district {
        let info = &items[&line.item_id];
        let total = totals.entry(line.item_id).or_insert_with(|| ItemLine {
            item_id: line.item_id,
            item: info.name.clone(),
            unit: info.unit.clone(),
            category: info.category,
            asked: 0,
            needs: 0,
            critical_needs: 0,
            pledged: 0,
            in_stock: 0,
            shortfall: 0,
        });
        total.asked += line.asked;
        total.needs += line.needs;
        total.critical_needs += line.critical_needs;
    }
    let mut by_item: Vec<ItemLine> = totals
        .into_values()
        .map(|mut line| {
            let (pledged, in_stock) = supply.get(&line.item_id).copied().unwrap_or((0, 0));
            line.pledged = pledged;
            line.in_stock = in_stock;
            line.shortfall = (line.asked - pledged - in_stock).max(0);
            line
        })
        .collect();
    // The largest shortfall first: that is where the hub must look.
    by_item.sort_by(|a, b| {
        b.shortfall
            .cmp(&a.shortfall)
            .then(b.asked.cmp(&a.asked))
            .then(a.item_id.cmp(&b.item_id))
    });
    by_district.sort_by(|a, b| {
        a.district
            .cmp(&b.district)
            .then(b.asked.cmp(&a.asked))
            .then(a.item_id.cmp(&b.item_id))
    });

    let money_fen: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(p.amount_fen - COALESCE(a.spent, 0)) AS BIGINT) FROM pledges p \
         LEFT JOIN (SELECT pledge_id, SUM(cost_fen) AS spent FROM allocations WHERE status = 'reserved' \
              GROUP BY pledge_id) a ON a.pledge_id = p.id \
         WHERE p.kind = 'money' AND p.status IN ('pledged', 'received')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let open_needs: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM needs WHERE status IN ('open', 'partially_matched')",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Board {
        by_item,
        by_district,
        money_available: Money::from_fen(money_fen.unwrap_or(0)),
        open_needs,
    })
}

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_board))
}

pub fn page_router() -> Router<AppState> {
    Router::new().route("/board", get(board_page))
}

/// Open needs by item and by district with what is pledged and in stock, and the shortfall.
#[utoipa::path(get, path = "/api/v1/board", tag = "needs", params(BoardFilter), security(("bearer" = [])),
    responses((status = 200, body = Board), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn get_board(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<BoardFilter>,
) -> Result<Json<Board>, AppError> {
    authorize(actor.as_ref(), Permission::ReadBoard)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(board(&mut conn, &filter).await?))
}

async fn board_page(
    State(state): State<AppState>,
    page: PageCtx,
    ApiQuery(filter): ApiQuery<BoardFilter>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ReadBoard)?;
    let mut conn = state.db.pool().acquire().await?;
    let board = board(&mut conn, &filter).await?;
    let districts = crate::registry::store::districts(&mut conn).await?;
    page.render(
        &state,
        "board.html",
        context! {
            board => Value::from_serialize(&board),
            filter => Value::from_serialize(&filter),
            categories => Category::ALL.map(Category::as_str).to_vec(),
            urgencies => Urgency::ALL.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            groups => BeneficiaryGroup::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            districts,
        },
    )
}
