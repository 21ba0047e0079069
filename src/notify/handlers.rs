//! API handler for `/api/v1/outbox`: the status of every message.

use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{OutboxMessage, OutboxStatus};
use crate::{
    app::AppState,
    auth::{authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::ApiQuery,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_outbox))
}

#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxFilter {
    pub status: Option<OutboxStatus>,
    pub batch_id: Option<i64>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Messages in the outbox with their status (pending, sending, sent, failed), attempts, the
/// next attempt and the last error.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "reports", params(OutboxFilter), security(("bearer" = [])),
    responses((status = 200, body = Vec<OutboxMessage>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_outbox(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<OutboxFilter>,
) -> Result<Json<Vec<OutboxMessage>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadOutbox)?;
    let mut conn = state.db.pool().acquire().await?;
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        super::list(&mut conn, filter.status, filter.batch_id, limit).await?,
    ))
}
