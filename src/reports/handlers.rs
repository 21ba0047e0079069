//! API handlers for donor feedback, share links, feedback batches, the closing report and the
//! public project figures.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    closing,
    feedback::{DonorFeedback, GiftFeedback},
    Batch, BatchInput, PublicProject, ShareInput, ShareLink,
};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission, Role},
    error::{AppError, Problem},
    extract::{ApiJson, ApiQuery},
    idempotency::IdempotencyKey,
    web::Lang,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pledge_feedback))
        .routes(routes!(donor_feedback))
        .routes(routes!(list_share_links, create_share_link))
        .routes(routes!(revoke_share_link))
        .routes(routes!(feedback_batch))
        .routes(routes!(closing_report))
        .routes(routes!(public_project))
}

/// What one gift did: where it went, the deliveries confirmed, the money spent by budget line
/// and what is left. A donor sees only their own gifts.
#[utoipa::path(get, path = "/api/v1/pledges/{id}/feedback", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = GiftFeedback), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
async fn pledge_feedback(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<GiftFeedback>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(super::visible_gift(&mut conn, actor, id).await?))
}

/// Every gift of a donor with its feedback.
#[utoipa::path(get, path = "/api/v1/donors/{id}/feedback", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = DonorFeedback), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
async fn donor_feedback(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<DonorFeedback>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    if actor.role == Role::Donor && !actor.acts_for(id) {
        return Err(AppError::NotFound);
    }
    authorize(Some(actor), Permission::ReadFeedback { donor_id: id })?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(super::feedback::donor(&mut conn, id).await?))
}

#[utoipa::path(get, path = "/api/v1/pledges/{id}/share-links", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ShareLink>), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn list_share_links(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ShareLink>>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    let mut conn = state.db.pool().acquire().await?;
    super::visible_gift(&mut conn, actor, id).await?;
    Ok(Json(super::links(&mut conn, id).await?))
}

/// Creates a read-only link to this gift's feedback that anyone holding it may open until it
/// expires or is revoked. The URL is shown once.
#[utoipa::path(post, path = "/api/v1/pledges/{id}/share-links", tag = "reports", params(("id" = i64, Path)),
    request_body = ShareInput, security(("bearer" = [])),
    responses((status = 201, body = ShareLink), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
async fn create_share_link(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ShareInput>,
) -> Result<(StatusCode, Json<ShareLink>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    Ok((
        StatusCode::CREATED,
        Json(super::share(&state, actor, id, input).await?),
    ))
}

#[utoipa::path(post, path = "/api/v1/share-links/{id}/revoke", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ShareLink), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn revoke_share_link(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ShareLink>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadPledges)?;
    Ok(Json(super::revoke(&state, actor, id).await?))
}

/// Queues one feedback email per donor of the project in the outbox (donors without an email
/// address are listed as skipped). Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/projects/{id}/feedback-batch", tag = "reports", params(("id" = i64, Path),
    ("Idempotency-Key" = String, Header, description = "unique per batch")),
    request_body = BatchInput, security(("bearer" = [])),
    responses((status = 201, body = Batch), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn feedback_batch(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(input): ApiJson<BatchInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::Report)?;
    let (status, body) = super::feedback_batch(&state, actor, &key, id, input).await?;
    Ok((status, Json(body)))
}

#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `html` (default), `xlsx` or `csv`.
    pub format: Option<String>,
    /// `zh-CN` (default) or `en`.
    pub lang: Option<String>,
    /// For CSV: which table (facts, services, communities, groups, budget, adjustments,
    /// indicators, funding, subsidies).
    pub table: Option<String>,
}

/// The closing report (结项报告): a print-ready page, an XLSX workbook with one sheet per table,
/// or one table as CSV.
#[utoipa::path(get, path = "/api/v1/projects/{id}/closing-report", tag = "reports", params(("id" = i64, Path), ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "text/html, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet or text/csv"),
              (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
async fn closing_report(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, AppError> {
    authorize(actor.as_ref(), Permission::ReadFunds)?;
    let lang = Lang::parse(query.lang.as_deref().unwrap_or("zh-CN"))
        .ok_or_else(|| AppError::validation("lang", "unknown_value", "must be zh-CN or en"))?;
    let mut conn = state.db.pool().acquire().await?;
    let figures = closing::figures(&mut conn, id).await?;
    let text = |key: &str| state.pages.text(lang, key);
    let tables = closing::tables(&figures, &text);
    let file = format!("closing-report-{id}");
    let attachment = |name: String| format!("attachment; filename=\"{name}\"");
    match query.format.as_deref().unwrap_or("html") {
        "html" => {
            let html = super::pages::render_closing(&state, lang, &figures, &tables, None)?;
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
        }
        "xlsx" => Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    attachment(format!("{file}.xlsx")),
                ),
            ],
            Body::from(closing::xlsx(&tables)?),
        )
            .into_response()),
        "csv" => {
            let wanted = query.table.as_deref().unwrap_or("");
            let table = tables.iter().find(|t| t.key == wanted).ok_or_else(|| {
                AppError::validation(
                    "table",
                    "unknown_value",
                    format!("choose one of {}", closing::TABLES.join(", ")),
                )
            })?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        attachment(format!("{file}-{wanted}.csv")),
                    ),
                ],
                Body::from(closing::csv(table)?),
            )
                .into_response())
        }
        _ => Err(AppError::validation(
            "format",
            "unknown_value",
            "must be html, xlsx or csv",
        )),
    }
}

/// A project's public figures, for anyone: money raised and spent by line, units delivered
/// by category, communities reached. No personal data.
#[utoipa::path(get, path = "/api/v1/public/projects/{id}", tag = "reports", params(("id" = i64, Path)),
    responses((status = 200, body = PublicProject), (status = 404, body = Problem)))]
async fn public_project(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<PublicProject>, AppError> {
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(super::public_project(&mut conn, id).await?))
}
