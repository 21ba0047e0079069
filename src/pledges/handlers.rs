//! API handlers for `/api/v1/pledges`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    model::{Pledge, PledgeInput, PledgeStatus},
    store::{self, PledgeFilter, PledgePage},
};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission, Role},
    error::{AppError, Problem},
    extract::{ApiJson, ApiQuery},
    idempotency::IdempotencyKey,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pledges, create_pledge))
        .routes(routes!(get_pledge))
        .routes(routes!(change_status))
}

/// Pledges. A donor sees only their own; hub coordinators, foundation staff and admins see all.
#[utoipa::path(get, path = "/api/v1/pledges", tag = "pledges", params(PledgeFilter), security(("bearer" = [])),
    responses((status = 200, body = PledgePage), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_pledges(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<PledgeFilter>,
) -> Result<Json<PledgePage>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    let only = (actor.role == Role::Donor).then_some(actor.organisation_ids.as_slice());
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::list(&mut conn, &filter, only).await?))
}

/// Pledges money or goods, optionally earmarked. Requires an `Idempotency-Key` header: a retry
/// with the same key and body returns the first answer and creates nothing more.
#[utoipa::path(post, path = "/api/v1/pledges", tag = "pledges", request_body = PledgeInput,
    params(("Idempotency-Key" = String, Header, description = "unique per intended pledge")),
    security(("bearer" = [])),
    responses((status = 201, body = Pledge), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_pledge(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<PledgeInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    let (status, body) = super::create(&state, actor, &key, input).await?;
    Ok((status, Json(body)))
}

/// One pledge (a donor's own, or any for the hub and foundation).
#[utoipa::path(get, path = "/api/v1/pledges/{id}", tag = "pledges", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Pledge), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_pledge(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Pledge>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    Ok(Json(super::visible(&state, actor, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PledgeStatusChange {
    /// `received` (hub or foundation) or `cancelled` (the donor, the hub or the foundation).
    pub status: PledgeStatus,
    /// Required when cancelling.
    pub reason: Option<String>,
}

/// Marks a pledge received, or cancels a pledge not yet received.
#[utoipa::path(post, path = "/api/v1/pledges/{id}/status", tag = "pledges", request_body = PledgeStatusChange,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Pledge), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn change_status(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(change): ApiJson<PledgeStatusChange>,
) -> Result<Json<Pledge>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    Ok(Json(
        super::change_status(&state, actor, id, change.status, change.reason).await?,
    ))
}
