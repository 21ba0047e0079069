//! API handlers for projects, receipts, disbursements, budget adjustments and the ledger.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{model::*, store};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::{ApiJson, ApiQuery},
    idempotency::IdempotencyKey,
    paging::Window,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project))
        .routes(routes!(add_budget_line))
        .routes(routes!(add_indicator))
        .routes(routes!(update_indicator))
        .routes(routes!(list_receipts, create_receipt))
        .routes(routes!(list_disbursements, create_disbursement))
        .routes(routes!(list_adjustments, create_adjustment))
        .routes(routes!(ledger))
        .routes(routes!(check_books))
}

#[utoipa::path(get, path = "/api/v1/projects", tag = "funds", security(("bearer" = [])),
    responses((status = 200, body = Vec<ProjectSummary>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_projects(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<ProjectSummary>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::projects(&mut conn).await?))
}

/// Creates a project with its budget lines and indicators.
#[utoipa::path(post, path = "/api/v1/projects", tag = "funds", request_body = ProjectInput, security(("bearer" = [])),
    responses((status = 201, body = Project), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn create_project(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<ProjectInput>,
) -> Result<(StatusCode, Json<Project>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageFunds)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_project(&state, actor, input).await?),
    ))
}

/// A project: budget lines (planned, adjusted, spent, remaining), indicators (target vs
/// achieved) and fund balances, all derived from the ledger and the adjustment records.
#[utoipa::path(get, path = "/api/v1/projects/{id}", tag = "funds", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Project), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_project(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Project>, AppError> {
    authorize(actor.as_ref(), Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::project(&mut conn, id).await?))
}

#[utoipa::path(post, path = "/api/v1/projects/{id}/budget-lines", tag = "funds", params(("id" = i64, Path)),
    request_body = BudgetLineInput, security(("bearer" = [])),
    responses((status = 200, body = Project), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn add_budget_line(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<BudgetLineInput>,
) -> Result<Json<Project>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageFunds)?;
    Ok(Json(super::add_line(&state, actor, id, input).await?))
}

#[utoipa::path(post, path = "/api/v1/projects/{id}/indicators", tag = "funds", params(("id" = i64, Path)),
    request_body = IndicatorInput, security(("bearer" = [])),
    responses((status = 200, body = Project), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn add_indicator(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<IndicatorInput>,
) -> Result<Json<Project>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageFunds)?;
    Ok(Json(super::add_indicator(&state, actor, id, input).await?))
}

/// Records what an indicator has achieved.
#[utoipa::path(patch, path = "/api/v1/projects/{id}/indicators/{indicator_id}", tag = "funds",
    params(("id" = i64, Path), ("indicator_id" = i64, Path)), request_body = IndicatorUpdate, security(("bearer" = [])),
    responses((status = 200, body = Project), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_indicator(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, indicator)): Path<(i64, i64)>,
    ApiJson(input): ApiJson<IndicatorUpdate>,
) -> Result<Json<Project>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageFunds)?;
    Ok(Json(
        super::update_indicator(&state, actor, id, indicator, input).await?,
    ))
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    pub project_id: i64,
}

#[utoipa::path(get, path = "/api/v1/receipts", tag = "funds", params(ProjectQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Receipt>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_receipts(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(query): ApiQuery<ProjectQuery>,
) -> Result<Json<Vec<Receipt>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::receipts(&mut conn, query.project_id).await?))
}

/// Money received on a pledge into a project: cash of the pledge's fund (its own when
/// earmarked, else `general`). Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/receipts", tag = "funds", request_body = ReceiptInput,
    params(("Idempotency-Key" = String, Header, description = "unique per receipt")), security(("bearer" = [])),
    responses((status = 201, body = Receipt), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_receipt(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<ReceiptInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageFunds)?;
    let (status, body) = super::receive(&state, actor, &key, input).await?;
    Ok((status, Json(body)))
}

#[utoipa::path(get, path = "/api/v1/disbursements", tag = "funds", params(ProjectQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Disbursement>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_disbursements(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(query): ApiQuery<ProjectQuery>,
) -> Result<Json<Vec<Disbursement>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(
        store::disbursements(&mut conn, query.project_id).await?,
    ))
}

/// Pays from one fund against one budget line: purchases (for confirmed purchase
/// allocations), subsidy batches (headcount × rate × days), care grants, transport, fees and
/// taxes. Overdrawing the fund or the line is refused (409 `overdrawn`) unless an admin gives
/// an `override_reason`. Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/disbursements", tag = "funds", request_body = DisbursementInput,
    params(("Idempotency-Key" = String, Header, description = "unique per payment")), security(("bearer" = [])),
    responses((status = 201, body = Disbursement), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_disbursement(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<DisbursementInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageFunds)?;
    let (status, body) = super::disburse(&state, actor, &key, input).await?;
    Ok((status, Json(body)))
}

#[utoipa::path(get, path = "/api/v1/budget-adjustments", tag = "funds", params(ProjectQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<BudgetAdjustment>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_adjustments(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(query): ApiQuery<ProjectQuery>,
) -> Result<Json<Vec<BudgetAdjustment>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::adjustments(&mut conn, query.project_id).await?))
}

/// Moves budget between two lines of a project, with the reason. Requires an
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/budget-adjustments", tag = "funds", request_body = AdjustmentInput,
    params(("Idempotency-Key" = String, Header, description = "unique per adjustment")), security(("bearer" = [])),
    responses((status = 201, body = BudgetAdjustment), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_adjustment(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<AdjustmentInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageFunds)?;
    let (status, body) = super::adjust(&state, actor, &key, input).await?;
    Ok((status, Json(body)))
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    pub project_id: i64,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// A project's ledger: entries oldest first, each with its debit and credit lines, and the
/// trial balance of every account.
#[utoipa::path(get, path = "/api/v1/ledger", tag = "funds", params(LedgerQuery), security(("bearer" = [])),
    responses((status = 200, body = Ledger), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn ledger(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> Result<Json<Ledger>, AppError> {
    authorize(actor.as_ref(), Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    let window = Window::new(query.page, query.per_page);
    Ok(Json(
        store::ledger(&mut conn, query.project_id, window).await?,
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BooksCheck {
    pub sound: bool,
    /// Each broken invariant, in words.
    pub problems: Vec<String>,
}

/// Checks the books: every stock balance equals the recount of its movements and none is
/// negative; every ledger entry sums to zero; no fund is overdrawn without an override.
#[utoipa::path(get, path = "/api/v1/books/check", tag = "funds", security(("bearer" = [])),
    responses((status = 200, body = BooksCheck), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn check_books(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<BooksCheck>, AppError> {
    authorize(actor.as_ref(), Permission::CheckBooks)?;
    let mut conn = state.db.pool().acquire().await?;
    let mut problems = crate::stock::ledger::verify(&mut conn).await?;
    let funds = store::verify(&mut conn).await?;
    crate::observe::books_checked(problems.len(), funds.len());
    problems.extend(funds);
    Ok(Json(BooksCheck {
        sound: problems.is_empty(),
        problems,
    }))
}
