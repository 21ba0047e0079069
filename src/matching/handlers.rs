//! API handlers for `/api/v1/plans`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::plans::{self, Plan, PlanOrigin, PlanSummary};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::ApiJson,
    idempotency::IdempotencyKey,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, run_matching))
        .routes(routes!(get_plan))
        .routes(routes!(change_line))
        .routes(routes!(confirm_plan))
        .routes(routes!(discard_plan))
}

/// The latest 100 plans, newest first (hub coordinators, foundation staff, admins).
#[utoipa::path(get, path = "/api/v1/plans", tag = "matching", security(("bearer" = [])),
    responses((status = 200, body = Vec<PlanSummary>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_plans(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<PlanSummary>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadPlans)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(plans::list(&mut conn, 100).await?))
}

/// Runs matching on the open needs and the supply left today and keeps the result as a draft
/// plan to review: lines with their reasons, and what stays unmet.
#[utoipa::path(post, path = "/api/v1/plans", tag = "matching", security(("bearer" = [])),
    responses((status = 201, body = Plan), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn run_matching(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<(StatusCode, Json<Plan>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::RunMatching)?;
    let id = plans::run(&state, Some(actor), PlanOrigin::Manual).await?;
    let mut conn = state.db.pool().acquire().await?;
    Ok((StatusCode::CREATED, Json(plans::get(&mut conn, id).await?)))
}

/// One plan with its lines (by community, then item) and what it leaves unmet.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "matching", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Plan), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
async fn get_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Plan>, AppError> {
    authorize(actor.as_ref(), Permission::ReadPlans)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(plans::get(&mut conn, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineChange {
    /// The new quantity; 0 removes the line.
    pub quantity: i64,
}

/// Changes a line of a draft plan (0 removes it). Refused when the plan would no longer fit
/// what is left of a need, a pledge or an offer.
#[utoipa::path(patch, path = "/api/v1/plans/{id}/lines/{line_id}", tag = "matching", request_body = LineChange,
    params(("id" = i64, Path), ("line_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Plan), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn change_line(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, line_id)): Path<(i64, i64)>,
    ApiJson(change): ApiJson<LineChange>,
) -> Result<Json<Plan>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::RunMatching)?;
    Ok(Json(
        plans::change_line(&state, actor, id, line_id, change.quantity).await?,
    ))
}

/// Confirms a draft plan: its lines become reserved allocations and its needs matched or
/// partially matched, in one transaction. 409 when another confirmation took what a line
/// needs. Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/plans/{id}/confirm", tag = "matching", params(("id" = i64, Path),
        ("Idempotency-Key" = String, Header, description = "unique per intended confirmation")),
    security(("bearer" = [])),
    responses((status = 200, body = PlanSummary), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn confirm_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::RunMatching)?;
    let (status, body) = plans::confirm(&state, actor, id, &key).await?;
    Ok((status, Json(body)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Discard {
    pub reason: String,
}

/// Discards a draft plan, with a reason. Nothing is allocated.
#[utoipa::path(post, path = "/api/v1/plans/{id}/discard", tag = "matching", request_body = Discard,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = PlanSummary), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn discard_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(discard): ApiJson<Discard>,
) -> Result<Json<PlanSummary>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::RunMatching)?;
    Ok(Json(
        plans::discard(&state, actor, id, &discard.reason).await?,
    ))
}
