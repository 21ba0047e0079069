//! The hub's board: every open need aggregated by item and by district — asked, pledged, in
//! stock, shortfall — what the field notes call seeing what the communities lack. Kits are
//! counted as the items they are made of.

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
    /// Units asked by open needs (open or partially matched).
    pub asked: i64,
    pub needs: i64,
    pub critical_needs: i64,
    /// Units promised in goods pledges not yet received.
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

/// Open needs, one row per item they ask for (a kit need contributes each of its items).
const OPEN_LINES: &str = "SELECT n.id AS need_id, n.community_id, n.district, n.urgency, n.beneficiary_group, \
        n.item_id, n.quantity AS qty FROM needs n \
        WHERE n.item_id IS NOT NULL AND n.status IN ('open', 'partially_matched') \
    UNION ALL \
    SELECT n.id, n.community_id, n.district, n.urgency, n.beneficiary_group, ki.item_id, n.quantity * ki.quantity \
        FROM needs n JOIN kit_items ki ON ki.kit_id = n.kit_id \
        WHERE n.status IN ('open', 'partially_matched')";

const FILTER: &str = "(CAST($1 AS TEXT) IS NULL OR i.category = $1) AND (CAST($2 AS TEXT) IS NULL OR x.urgency = $2) \
    AND (CAST($3 AS TEXT) IS NULL OR x.beneficiary_group = $3) AND (CAST($4 AS TEXT) IS NULL OR x.district = $4)";

pub async fn board(conn: &mut AnyConnection, filter: &BoardFilter) -> Result<Board, sqlx::Error> {
    let district = filter
        .district
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    macro_rules! bind_filter {
        ($q:expr) => {
            $q.bind(filter.category.map(Category::as_str))
                .bind(filter.urgency.map(Urgency::as_str))
                .bind(filter.beneficiary_group.map(BeneficiaryGroup::as_str))
                .bind(district)
        };
    }
    let item_rows = bind_filter!(sqlx::query(&format!(
        "SELECT x.item_id, i.name_zh, i.unit_zh, i.category, CAST(SUM(x.qty) AS BIGINT) AS asked, \
         COUNT(DISTINCT x.need_id) AS needs, \
         COUNT(DISTINCT CASE WHEN x.urgency = 'critical' THEN x.need_id END) AS critical_needs \
         FROM ({OPEN_LINES}) x JOIN items i ON i.id = x.item_id WHERE {FILTER} \
         GROUP BY x.item_id, i.name_zh, i.unit_zh, i.category"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let supply_rows = sqlx::query(
        "SELECT item_id, CAST(SUM(CASE WHEN status = 'pledged' THEN quantity ELSE 0 END) AS BIGINT) AS pledged, \
         CAST(SUM(CASE WHEN status = 'received' THEN quantity ELSE 0 END) AS BIGINT) AS in_stock \
         FROM pledges WHERE kind = 'goods' AND status IN ('pledged', 'received') GROUP BY item_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let supply: std::collections::HashMap<i64, (i64, i64)> = supply_rows
        .iter()
        .map(|r| {
            (
                r.get::<i64, _>("item_id"),
                (r.get::<i64, _>("pledged"), r.get::<i64, _>("in_stock")),
            )
        })
        .collect();
    let mut by_item: Vec<ItemLine> = item_rows
        .iter()
        .map(|r| {
            let item_id: i64 = r.get("item_id");
            let asked: i64 = r.get("asked");
            let (pledged, in_stock) = supply.get(&item_id).copied().unwrap_or((0, 0));
            ItemLine {
                item_id,
                item: r.get("name_zh"),
                unit: r.get("unit_zh"),
                category: Category::parse(&r.get::<String, _>("category"))
                    .unwrap_or(Category::Service),
                asked,
                needs: r.get("needs"),
                critical_needs: r.get("critical_needs"),
                pledged,
                in_stock,
                shortfall: (asked - pledged - in_stock).max(0),
            }
        })
        .collect();
    // The largest shortfall first: that is where the hub must look.
    by_item.sort_by(|a, b| {
        b.shortfall
            .cmp(&a.shortfall)
            .then(b.asked.cmp(&a.asked))
            .then(a.item_id.cmp(&b.item_id))
    });

    let district_rows = bind_filter!(sqlx::query(&format!(
        "SELECT x.district, x.item_id, i.name_zh, i.unit_zh, CAST(SUM(x.qty) AS BIGINT) AS asked, \
         COUNT(DISTINCT x.need_id) AS needs, COUNT(DISTINCT x.community_id) AS communities, \
         COUNT(DISTINCT CASE WHEN x.urgency = 'critical' THEN x.need_id END) AS critical_needs \
         FROM ({OPEN_LINES}) x JOIN items i ON i.id = x.item_id WHERE {FILTER} \
         GROUP BY x.district, x.item_id, i.name_zh, i.unit_zh ORDER BY x.district, asked DESC, x.item_id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let by_district = district_rows
        .iter()
        .map(|r| DistrictLine {
            district: r.get("district"),
            item_id: r.get("item_id"),
            item: r.get("name_zh"),
            unit: r.get("unit_zh"),
            asked: r.get("asked"),
            needs: r.get("needs"),
            communities: r.get("communities"),
            critical_needs: r.get("critical_needs"),
        })
        .collect();
    let money_fen: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM pledges WHERE kind = 'money' AND status IN ('pledged', 'received')",
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
