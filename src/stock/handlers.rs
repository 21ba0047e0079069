//! API handlers for locations, stock balances, movements and stocktakes.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    views::{self, LotRow, MovementFilter, MovementPage, StockFilter, StockRow},
    Location, LocationInput, MovementInput, Posted, StockMovement, Stocktake, StocktakeInput,
};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::{ApiJson, ApiQuery},
    idempotency::IdempotencyKey,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_locations, create_location))
        .routes(routes!(stock_balances))
        .routes(routes!(stock_lots))
        .routes(routes!(list_movements, post_movement))
        .routes(routes!(get_movement))
        .routes(routes!(create_stocktake))
        .routes(routes!(get_stocktake))
}

/// Hub warehouses, community stations and supplier pickup points.
#[utoipa::path(get, path = "/api/v1/locations", tag = "stock", security(("bearer" = [])),
    responses((status = 200, body = Vec<Location>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_locations(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<Location>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(super::locations(&mut conn).await?))
}

#[utoipa::path(post, path = "/api/v1/locations", tag = "stock", request_body = LocationInput,
    security(("bearer" = [])),
    responses((status = 201, body = Location), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn create_location(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<LocationInput>,
) -> Result<(StatusCode, Json<Location>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageStock)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_location(&state, actor, input).await?),
    ))
}

/// Stock by item and location: free, reserved for allocations, and out on runs — all derived
/// from the movements.
#[utoipa::path(get, path = "/api/v1/stock", tag = "stock", params(StockFilter), security(("bearer" = [])),
    responses((status = 200, body = Vec<StockRow>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn stock_balances(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<StockFilter>,
) -> Result<Json<Vec<StockRow>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(views::balances(&mut conn, &filter).await?))
}

#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotFilter {
    /// Only lots expiring within this many days of today (hub time).
    pub expiring_within_days: Option<i64>,
    pub location_id: Option<i64>,
}

/// Lots holding stock, soonest expiry first; with `expiring_within_days`, the lots nearing
/// expiry.
#[utoipa::path(get, path = "/api/v1/stock/lots", tag = "stock", params(LotFilter), security(("bearer" = [])),
    responses((status = 200, body = Vec<LotRow>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn stock_lots(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<LotFilter>,
) -> Result<Json<Vec<LotRow>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadStock)?;
    let before = match filter.expiring_within_days {
        Some(days) if !(0..=3650).contains(&days) => {
            return Err(AppError::validation(
                "expiring_within_days",
                "out_of_range",
                "must be between 0 and 3650",
            ))
        }
        Some(days) => Some(
            (state.settings.today() + chrono::Days::new(days as u64 + 1))
                .format("%Y-%m-%d")
                .to_string(),
        ),
        None => None,
    };
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(
        views::lots(&mut conn, before.as_deref(), filter.location_id).await?,
    ))
}

/// The movement ledger, newest first, filtered by lot, item, location, allocation, delivery
/// or kind: the history of any record.
#[utoipa::path(get, path = "/api/v1/stock-movements", tag = "stock", params(MovementFilter), security(("bearer" = [])),
    responses((status = 200, body = MovementPage), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_movements(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<MovementFilter>,
) -> Result<Json<MovementPage>, AppError> {
    authorize(actor.as_ref(), Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(views::movements(&mut conn, &filter).await?))
}

/// Posts a movement (receive, transfer, reserve, release, dispatch, return, adjust, reversal).
/// Nothing is edited or deleted: a mistake is corrected by a reversal. A movement that would
/// take a bucket below zero is refused with 409 `insufficient_stock`. Requires an
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/stock-movements", tag = "stock", request_body = MovementInput,
    params(("Idempotency-Key" = String, Header, description = "unique per intended movement")),
    security(("bearer" = [])),
    responses((status = 201, body = Posted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn post_movement(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<MovementInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageStock)?;
    let (status, body) = super::post_movement(&state, actor, &key, input).await?;
    Ok((status, Json(body)))
}

#[utoipa::path(get, path = "/api/v1/stock-movements/{id}", tag = "stock", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = StockMovement), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_movement(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<StockMovement>, AppError> {
    authorize(actor.as_ref(), Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(views::movement(&mut conn, id).await?))
}

/// Records a stocktake at one location: counted against the books for each lot, every
/// difference posted as a stocktake adjustment. Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/stocktakes", tag = "stock", request_body = StocktakeInput,
    params(("Idempotency-Key" = String, Header, description = "unique per count")),
    security(("bearer" = [])),
    responses((status = 201, body = Stocktake), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_stocktake(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<StocktakeInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageStock)?;
    let (status, body) = super::stocktake(&state, actor, &key, input).await?;
    Ok((status, Json(body)))
}

/// A stocktake's report: book, counted and difference per lot.
#[utoipa::path(get, path = "/api/v1/stocktakes/{id}", tag = "stock", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Stocktake), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_stocktake(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Stocktake>, AppError> {
    authorize(actor.as_ref(), Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(views::stocktake(&mut conn, id).await?))
}
