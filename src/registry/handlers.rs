//! API handlers for `/api/v1/organisations`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    model::{Organisation, OrganisationInput},
    store::{self, OrganisationFilter, OrganisationPage},
};
use crate::{
    app::AppState,
    audit::{self, AuditEvent, AuditFilter},
    auth::{authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::{ApiJson, ApiQuery},
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_organisations, create_organisation))
        .routes(routes!(get_organisation, update_organisation))
        .routes(routes!(archive_organisation))
        .routes(routes!(organisation_audit))
}

/// Organisations, filtered and paginated.
#[utoipa::path(get, path = "/api/v1/organisations", tag = "registry", params(OrganisationFilter),
    security(("bearer" = [])),
    responses((status = 200, body = OrganisationPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn list_organisations(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<OrganisationFilter>,
) -> Result<Json<OrganisationPage>, AppError> {
    authorize(actor.as_ref(), Permission::ReadRegistry)?;
    check_status_filter(&filter)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::list(&mut conn, &filter).await?))
}

pub fn check_status_filter(filter: &OrganisationFilter) -> Result<(), AppError> {
    match filter.status.as_deref() {
        None | Some("" | "active" | "archived" | "all") => Ok(()),
        Some(_) => Err(AppError::validation(
            "status",
            "unknown_value",
            "use active, archived or all",
        )),
    }
}

/// Registers an organisation. Admins and hub coordinators.
#[utoipa::path(post, path = "/api/v1/organisations", tag = "registry", request_body = OrganisationInput,
    security(("bearer" = [])),
    responses((status = 201, body = Organisation), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn create_organisation(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<OrganisationInput>,
) -> Result<(StatusCode, Json<Organisation>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::CreateOrganisation)?;
    let created = super::create(&state, actor, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One organisation.
#[utoipa::path(get, path = "/api/v1/organisations/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Organisation), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_organisation(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Organisation>, AppError> {
    authorize(actor.as_ref(), Permission::ReadRegistry)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::get(&mut conn, id, "").await?))
}

/// Replaces an organisation's record. Admins and hub coordinators; a secretary, donor or
/// supplier for the organisation their account is bound to.
#[utoipa::path(put, path = "/api/v1/organisations/{id}", tag = "registry", request_body = OrganisationInput,
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Organisation), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_organisation(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<OrganisationInput>,
) -> Result<Json<Organisation>, AppError> {
    Ok(Json(
        super::update(&state, actor.as_ref(), id, input).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    /// Why the organisation leaves the network (kept in the record and the audit trail).
    pub reason: String,
}

/// Archives an organisation with a reason. Admins and hub coordinators.
#[utoipa::path(post, path = "/api/v1/organisations/{id}/archive", tag = "registry", request_body = ArchiveRequest,
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Organisation), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn archive_organisation(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ArchiveRequest>,
) -> Result<Json<Organisation>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ArchiveOrganisation)?;
    Ok(Json(super::archive(&state, actor, id, &req.reason).await?))
}

/// The audit trail of one organisation. Admins only.
#[utoipa::path(get, path = "/api/v1/organisations/{id}/audit", tag = "audit", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = [AuditEvent]), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn organisation_audit(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<AuditEvent>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadAudit)?;
    let filter = AuditFilter {
        entity_type: Some("organisation".into()),
        entity_id: Some(id),
        limit: Some(500),
    };
    Ok(Json(audit::list(state.db.pool(), &filter).await?))
}
