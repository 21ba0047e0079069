//! API handlers for `/api/v1/needs`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    model::{Need, NeedInput, NeedStatus},
    store::{self, NeedFilter, NeedPage, NeedVersion},
};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::{ApiJson, ApiQuery},
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_needs, create_need))
        .routes(routes!(get_need, update_need))
        .routes(routes!(change_status))
        .routes(routes!(need_versions))
}

/// Needs, most urgent first, with filters.
#[utoipa::path(get, path = "/api/v1/needs", tag = "needs", params(NeedFilter), security(("bearer" = [])),
    responses((status = 200, body = NeedPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn list_needs(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<NeedFilter>,
) -> Result<Json<NeedPage>, AppError> {
    authorize(actor.as_ref(), Permission::ReadNeeds)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::list(&mut conn, &filter).await?))
}

/// Posts a need for a community. A community secretary posts for their own communities; a hub
/// coordinator may post on a community's behalf.
#[utoipa::path(post, path = "/api/v1/needs", tag = "needs", request_body = NeedInput, security(("bearer" = [])),
    responses((status = 201, body = Need), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn create_need(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<NeedInput>,
) -> Result<(StatusCode, Json<Need>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadNeeds)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create(&state, actor, input).await?),
    ))
}

/// One need.
#[utoipa::path(get, path = "/api/v1/needs/{id}", tag = "needs", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Need), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_need(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Need>, AppError> {
    authorize(actor.as_ref(), Permission::ReadNeeds)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::get(&mut conn, id).await?))
}

/// Changes what a need asks for, until it is in delivery. The previous record is kept as a version.
#[utoipa::path(put, path = "/api/v1/needs/{id}", tag = "needs", request_body = NeedInput,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Need), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_need(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<NeedInput>,
) -> Result<Json<Need>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadNeeds)?;
    Ok(Json(super::update(&state, actor, id, input).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `cancelled`, `expired`, `in_delivery`, `delivered` or `closed`; the matched statuses
    /// follow from confirming a matching plan.
    pub status: NeedStatus,
    /// Required when cancelling or expiring.
    pub reason: Option<String>,
}

/// Moves a need along its lifecycle. Secretaries may cancel their community's needs and confirm
/// delivery; hub coordinators and admins may make every manual change.
#[utoipa::path(post, path = "/api/v1/needs/{id}/status", tag = "needs", request_body = StatusChange,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Need), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn change_status(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(change): ApiJson<StatusChange>,
) -> Result<Json<Need>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadNeeds)?;
    Ok(Json(
        super::change_status(&state, actor, id, change.status, change.reason).await?,
    ))
}

/// Earlier versions of a need, oldest first.
#[utoipa::path(get, path = "/api/v1/needs/{id}/versions", tag = "needs", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = [NeedVersion]), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn need_versions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<NeedVersion>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadNeeds)?;
    let mut conn = state.db.pool().acquire().await?;
    store::get(&mut conn, id).await?;
    Ok(Json(store::versions(&mut conn, id).await?))
}
