//! API: exchange credentials for a bearer token, list and revoke one's tokens, who am I.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{authorize, check_login_rate, password, store, Auth, Permission, Principal};
use crate::{
    app::AppState,
    audit::{self, Actor},
    error::{AppError, Problem},
    extract::ApiJson,
    validate::Fields,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token))
        .routes(routes!(list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
    /// A label to recognise the token by, e.g. "nightly import script".
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewToken {
    pub id: i64,
    pub name: String,
    /// Shown once; send it as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Signs in with email and password and returns a new API token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 201, body = NewToken), (status = 401, body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn create_token(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<NewToken>), AppError> {
    let mut fields = Fields::new();
    let email = fields.required_text("email", &req.email, 254);
    fields.required_text("password", &req.password, 1024);
    let name = fields
        .optional_text("name", req.name.as_deref(), 100)
        .unwrap_or_else(|| "api".into());
    fields.finish()?;
    check_login_rate(&state, &email)?;
    let user_id = verify_credentials(&state, &email, &req.password).await?;

    let (id, token) = issue_token(&state, user_id, &name).await?;
    Ok((StatusCode::CREATED, Json(NewToken { id, name, token })))
}

/// Creates a token for the account, audited, in one transaction.
pub async fn issue_token(
    state: &AppState,
    user_id: i64,
    name: &str,
) -> Result<(i64, String), AppError> {
    let mut tx = state.db.begin().await?;
    let (id, token) = store::create_token(tx.conn(), user_id, name).await?;
    let principal = store::principal(tx.conn(), user_id, None)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let after = serde_json::json!({ "name": name, "user_id": user_id });
    audit::record(
        tx.conn(),
        Actor::User(&principal),
        "create",
        "api_token",
        id,
        None::<&()>,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// The account id for a correct email and password; 401 otherwise, without saying which was wrong.
pub async fn verify_credentials(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<i64, AppError> {
    let creds = store::credentials_by_email(state.db.pool(), email).await?;
    let (id, hash) = match creds {
        Some(c) => (Some(c.id), Some(c.password_hash)),
        None => (None, None),
    };
    if password::verify(password.to_owned(), hash).await? {
        id.ok_or(AppError::Unauthenticated)
    } else {
        Err(AppError::BadCredentials)
    }
}

/// The tokens of the signed-in account, revoked ones included.
#[utoipa::path(get, path = "/api/v1/auth/tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [store::TokenInfo]), (status = 401, body = Problem)))]
async fn list_tokens(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<store::TokenInfo>>, AppError> {
    let principal = authorize(actor.as_ref(), Permission::OwnAccount)?;
    Ok(Json(
        store::list_tokens(state.db.pool(), principal.user_id).await?,
    ))
}

/// Revokes one of the signed-in account's tokens.
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "token id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let principal = authorize(actor.as_ref(), Permission::OwnAccount)?;
    revoke(&state, principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revoke(
    state: &AppState,
    principal: &Principal,
    token_id: i64,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    if !store::revoke_token(tx.conn(), principal.user_id, token_id).await? {
        return Err(AppError::NotFound);
    }
    let after = serde_json::json!({ "revoked": true });
    audit::record(
        tx.conn(),
        Actor::User(principal),
        "revoke",
        "api_token",
        token_id,
        None::<&()>,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The signed-in account: role and the organisations it acts for.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Principal), (status = 401, body = Problem)))]
async fn me(Auth(actor): Auth) -> Result<Json<Principal>, AppError> {
    Ok(Json(
        authorize(actor.as_ref(), Permission::OwnAccount)?.clone(),
    ))
}
