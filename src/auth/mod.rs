//! Accounts, browser sessions, API tokens and the permission check.
//! Browsers sign in with a form and get an HttpOnly session cookie (forms carry a CSRF token);
//! scripts exchange email and password for a bearer token.

mod handlers;
mod model;
mod pages;
pub mod password;
pub mod store;

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use axum_extra::extract::{cookie::Key, SignedCookieJar};

pub use handlers::api_router;
pub use model::{allows, authorize, Permission, Principal, Role};
pub use pages::page_router;

use crate::{app::AppState, error::AppError};

pub const SESSION_COOKIE: &str = "weave_session";

/// The caller, if signed in: by `Authorization: Bearer` token or by session cookie.
/// A bearer token that is wrong or revoked is refused outright rather than treated as anonymous.
pub struct Auth(pub Option<Principal>);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(AppError::Unauthenticated)?;
            return principal_for_token(state, token.trim())
                .await
                .map(|p| Auth(Some(p)));
        }
        let jar = match SignedCookieJar::<Key>::from_request_parts(parts, state).await {
            Ok(jar) => jar,
            Err(never) => match never {},
        };
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Ok(Auth(None));
        };
        let Some((user_id, csrf)) = store::session_user(state.db.pool(), cookie.value()).await?
        else {
            return Ok(Auth(None));
        };
        let mut conn = state.db.pool().acquire().await?;
        Ok(Auth(
            store::principal(&mut conn, user_id, Some(csrf)).await?,
        ))
    }
}

async fn principal_for_token(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let (token_id, user_id, last_used) = store::token_user(state.db.pool(), token)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if needs_touch(last_used.as_deref()) {
        let mut tx = state.db.begin().await?;
        store::touch_token(tx.conn(), token_id).await?;
        tx.commit().await?;
    }
    let mut conn = state.db.pool().acquire().await?;
    store::principal(&mut conn, user_id, None)
        .await?
        .ok_or(AppError::Unauthenticated)
}

/// `last_used_at` is kept to the minute, so a busy script does not write on every request.
fn needs_touch(last_used: Option<&str>) -> bool {
    let Some(last) = last_used.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return true;
    };
    chrono::Utc::now().signed_duration_since(last) > chrono::Duration::seconds(60)
}

/// Login attempts per account per minute; the error says when to try again.
pub fn check_login_rate(state: &AppState, email: &str) -> Result<(), AppError> {
    let key = email.trim().to_lowercase();
    state.login_limiter.check_key(&key).map_err(|not_until| {
        use governor::clock::{Clock, DefaultClock};
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        AppError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        }
    })
}
