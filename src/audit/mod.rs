//! The audit trail: every write records who did what to which record, before and after, and
//! when, in the same transaction as the write. Admins read it per record or across the hub.

use axum::{extract::State, response::Html, routing::get, Json, Router};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool, Row};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission, Principal},
    db,
    error::{current_request_id, AppError},
    extract::{empty_as_none, ApiQuery},
    web::PageCtx,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub actor_user_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: i64,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub at: String,
}

/// Who acted: a signed-in account, or the command line / system.
pub enum Actor<'a> {
    User(&'a Principal),
    System(&'a str),
}

pub async fn record<B: Serialize, A: Serialize>(
    conn: &mut AnyConnection,
    actor: Actor<'_>,
    action: &str,
    entity_type: &str,
    entity_id: i64,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), AppError> {
    let (user_id, label) = match actor {
        Actor::User(p) => (Some(p.user_id), p.label()),
        Actor::System(name) => (None, name.to_owned()),
    };
    sqlx::query(
        "INSERT INTO audit_events (actor_user_id, actor_label, action, entity_type, entity_id, \
         before_json, after_json, request_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(user_id)
    .bind(label)
    .bind(action)
    .bind(entity_type)
    .bind(entity_id)
    .bind(before.map(to_json))
    .bind(after.map(to_json))
    .bind(current_request_id())
    .bind(db::now())
    .execute(conn)
    .await?;
    Ok(())
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Record type, e.g. `organisation`, `user`, `api_token`.
    pub entity_type: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub entity_id: Option<i64>,
    /// Most recent first; at most 500.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub limit: Option<i64>,
}

pub async fn list(pool: &AnyPool, filter: &AuditFilter) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 500);
    let rows = sqlx::query(
        "SELECT id, actor_user_id, actor_label, action, entity_type, entity_id, before_json, \
         after_json, request_id, at FROM audit_events \
         WHERE (CAST($1 AS TEXT) IS NULL OR entity_type = $1) \
         AND (CAST($2 AS BIGINT) IS NULL OR entity_id = $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(filter.entity_type.clone())
    .bind(filter.entity_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let parse = |col: &str| {
                r.get::<Option<String>, _>(col)
                    .and_then(|s| serde_json::from_str(&s).ok())
            };
            AuditEvent {
                id: r.get("id"),
                actor_user_id: r.get("actor_user_id"),
                actor: r.get("actor_label"),
                action: r.get("action"),
                entity_type: r.get("entity_type"),
                entity_id: r.get("entity_id"),
                before: parse("before_json"),
                after: parse("after_json"),
                request_id: r.get("request_id"),
                at: r.get("at"),
            }
        })
        .collect())
}

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

pub fn page_router() -> Router<AppState> {
    Router::new().route("/audit", get(audit_page))
}

/// The audit trail, newest first, optionally of one record. Admins only.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditFilter),
    security(("bearer" = [])),
    responses((status = 200, body = [AuditEvent]), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
async fn list_events(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Json<Vec<AuditEvent>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadAudit)?;
    Ok(Json(list(state.db.pool(), &filter).await?))
}

async fn audit_page(
    State(state): State<AppState>,
    page: PageCtx,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ReadAudit)?;
    let events = list(state.db.pool(), &filter).await?;
    page.render(
        &state,
        "audit/list.html",
        context! { events => Value::from_serialize(&events), filter_type => filter.entity_type, filter_id => filter.entity_id },
    )
}
