//! API handlers for `/api/v1/dispatch` (the day's pick lists and runs) and
//! `/api/v1/deliveries` (each run, its dispatch, delivery and the community's receipt).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{DeliveredInput, Delivery, DeliveryFilter, DispatchDay, PrepareInput, ReceiptInput};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission, Role},
    error::{AppError, Problem},
    extract::{ApiJson, ApiQuery},
    idempotency::IdempotencyKey,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dispatch_day, prepare_runs))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(dispatch_run))
        .routes(routes!(mark_delivered))
        .routes(routes!(confirm_receipt))
}

#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// The day of the runs (default: tomorrow, hub time).
    pub date: Option<NaiveDate>,
}

/// One day's work: pick lists per location for the runs not yet gone, and the runs per
/// community, home deliveries first. A secretary sees only their own communities' runs.
#[utoipa::path(get, path = "/api/v1/dispatch", tag = "dispatch", params(DayQuery), security(("bearer" = [])),
    responses((status = 200, body = DispatchDay), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn dispatch_day(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(query): ApiQuery<DayQuery>,
) -> Result<Json<DispatchDay>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadDeliveries)?;
    let date = query
        .date
        .unwrap_or_else(|| state.settings.today() + chrono::Days::new(1));
    let only =
        (actor.role == Role::CommunitySecretary).then_some(actor.organisation_ids.as_slice());
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(super::day(&mut conn, date, only).await?))
}

/// Puts all stock held for confirmed allocations and not yet on a run onto runs for the day:
/// one per community and delivery mode. Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/dispatch", tag = "dispatch", request_body = PrepareInput,
    params(("Idempotency-Key" = String, Header, description = "unique per preparation")),
    security(("bearer" = [])),
    responses((status = 201, body = DispatchDay), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn prepare_runs(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<PrepareInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageStock)?;
    let (status, body) = super::prepare(&state, actor, &key, input).await?;
    Ok((status, Json(body)))
}

/// Delivery runs, newest first, filtered by day, status or community; each with its lines and,
/// once confirmed, what arrived. A secretary sees only their own communities' runs.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "dispatch", params(DeliveryFilter), security(("bearer" = [])),
    responses((status = 200, body = Vec<Delivery>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<DeliveryFilter>,
) -> Result<Json<Vec<Delivery>>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadDeliveries)?;
    let only =
        (actor.role == Role::CommunitySecretary).then_some(actor.organisation_ids.as_slice());
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(super::list(&mut conn, &filter, only).await?))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "dispatch", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Delivery), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_delivery(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Delivery>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadDeliveries)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(super::visible(&mut conn, actor, id).await?))
}

/// The run leaves the warehouse: its units go from reserved to in transit.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/dispatch", tag = "dispatch", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Delivery), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn dispatch_run(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Delivery>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageStock)?;
    Ok(Json(super::dispatch(&state, actor, id).await?))
}

/// A volunteer marks the run handed over.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/delivered", tag = "dispatch", params(("id" = i64, Path)),
    request_body = DeliveredInput, security(("bearer" = [])),
    responses((status = 200, body = Delivery), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn mark_delivered(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<DeliveredInput>,
) -> Result<Json<Delivery>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadDeliveries)?;
    Ok(Json(super::mark_delivered(&state, actor, id, input).await?))
}

/// The community secretary confirms what arrived, line by line (lines not listed arrived
/// whole). Shortfalls return to stock and to the need; damage is written off.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/receipt", tag = "dispatch", params(("id" = i64, Path)),
    request_body = ReceiptInput, security(("bearer" = [])),
    responses((status = 200, body = Delivery), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn confirm_receipt(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ReceiptInput>,
) -> Result<Json<Delivery>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadDeliveries)?;
    Ok(Json(
        super::confirm_receipt(&state, actor, id, input).await?,
    ))
}
