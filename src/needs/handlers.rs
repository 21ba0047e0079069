//! API handlers for `/api/v1/needs`.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    import::{self, ImportMode, ImportReport},
    model::{Need, NeedInput, NeedStatus},
    store::{self, NeedFilter, NeedPage, NeedVersion},
};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::{empty_as_none, ApiJson, ApiQuery},
    web::Lang,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_needs, create_need))
        .routes(routes!(get_need, update_need))
        .routes(routes!(change_status))
        .routes(routes!(need_versions))
        .routes(routes!(import_needs))
        .routes(routes!(import_template))
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `all_or_nothing` (default) or `good_rows`.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub mode: Option<ImportMode>,
    /// The community for rows without a community column (default: a secretary's only community).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub community_id: Option<i64>,
}

/// Posts the day's sheet of needs, one row per need. Send the file itself as the body with
/// `Content-Type: text/csv` or the XLSX type. Headers may be Chinese or English (see the
/// template). With any bad row nothing is created (422 with every row's result) unless
/// `mode=good_rows`.
#[utoipa::path(post, path = "/api/v1/needs/import", tag = "needs", params(ImportQuery),
    request_body(content = String, content_type = "text/csv"), security(("bearer" = [])),
    responses((status = 201, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn import_needs(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportReport>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ImportNeeds)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let xlsx = if content_type.starts_with(XLSX) {
        true
    } else if content_type.starts_with("text/csv") {
        false
    } else {
        return Err(AppError::UnsupportedMediaType(format!(
            "send the sheet as text/csv or {XLSX}"
        )));
    };
    let mode = query.mode.unwrap_or(ImportMode::AllOrNothing);
    let report = super::import_sheet(&state, actor, &body, xlsx, mode, query.community_id).await?;
    Ok((StatusCode::CREATED, Json(report)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// `xlsx` (default) or `csv`.
    pub format: Option<String>,
    /// `zh-CN` (default) or `en`.
    pub lang: Option<String>,
}

/// The blank needs sheet, with headers in Chinese or English and one example row.
#[utoipa::path(get, path = "/api/v1/needs/import/template", tag = "needs", params(TemplateQuery),
    responses((status = 200, description = "the sheet file"), (status = 422, body = Problem)))]
async fn import_template(ApiQuery(query): ApiQuery<TemplateQuery>) -> Result<Response, AppError> {
    let lang = match query.lang.as_deref() {
        None | Some("") => Lang::ZhCn,
        Some(code) => Lang::parse(code)
            .ok_or_else(|| AppError::validation("lang", "unknown_value", "zh-CN or en"))?,
    };
    let xlsx = match query.format.as_deref() {
        None | Some("" | "xlsx") => true,
        Some("csv") => false,
        Some(_) => {
            return Err(AppError::validation(
                "format",
                "unknown_value",
                "xlsx or csv",
            ))
        }
    };
    let bytes = import::template(lang, xlsx, super::today())?;
    let (content_type, extension) = if xlsx {
        (XLSX, "xlsx")
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    let name = if lang == Lang::En {
        "weave-needs-template"
    } else {
        "weave-needs-template-zh"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{extension}\""),
            ),
        ],
        bytes,
    )
        .into_response())
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
