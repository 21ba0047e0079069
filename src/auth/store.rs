//! Queries for accounts, sessions and API tokens.

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AnyPool, Row};

use super::model::{Principal, Role};
use crate::{db, error::AppError};

/// A fresh random secret (256 bits), URL-safe.
pub fn random_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Only hashes of session ids and tokens are stored, so a database leak signs nobody in.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub struct UserCredentials {
    pub id: i64,
    pub password_hash: String,
}

pub async fn credentials_by_email(
    pool: &AnyPool,
    email: &str,
) -> Result<Option<UserCredentials>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, password_hash FROM users WHERE email = $1 AND status = 'active'")
            .bind(email.trim().to_lowercase())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| UserCredentials {
        id: r.get("id"),
        password_hash: r.get("password_hash"),
    }))
}

pub async fn principal(
    conn: &mut AnyConnection,
    user_id: i64,
    csrf_token: Option<String>,
) -> Result<Option<Principal>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT id, email, display_name, role FROM users WHERE id = $1 AND status = 'active'",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let organisation_ids = sqlx::query_scalar::<_, i64>(
        "SELECT organisation_id FROM user_organisations WHERE user_id = $1 ORDER BY organisation_id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let role: String = row.get("role");
    Ok(Some(Principal {
        user_id: row.get("id"),
        email: row.get("email"),
        display_name: row.get("display_name"),
        role: Role::parse(&role).ok_or_else(|| sqlx::Error::Decode("unknown role".into()))?,
        organisation_ids,
        csrf_token,
    }))
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub organisation_ids: &'a [i64],
}

/// Creates an account bound to its organisations; checks that each binding fits the role.
pub async fn create_user(conn: &mut AnyConnection, user: NewUser<'_>) -> Result<i64, AppError> {
    for &org in user.organisation_ids {
        let kind: Option<String> =
            sqlx::query_scalar("SELECT kind FROM organisations WHERE id = $1")
                .bind(org)
                .fetch_optional(&mut *conn)
                .await?;
        match (kind, user.role.bound_kind()) {
            (None, _) => {
                return Err(AppError::validation(
                    "org",
                    "unknown_value",
                    format!("no organisation {org}"),
                ))
            }
            (Some(kind), Some(expected)) if kind != expected => {
                return Err(AppError::validation(
                    "org",
                    "invalid",
                    format!(
                        "a {} must be bound to a {expected}, not a {kind}",
                        user.role.as_str()
                    ),
                ))
            }
            _ => {}
        }
    }
    if user.role.bound_kind().is_some() && user.organisation_ids.is_empty() {
        return Err(AppError::validation(
            "org",
            "required",
            format!(
                "a {} account must be bound to an organisation",
                user.role.as_str()
            ),
        ));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, display_name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user.email.trim().to_lowercase())
    .bind(user.display_name)
    .bind(user.role.as_str())
    .bind(user.password_hash)
    .bind(db::now())
    .fetch_one(&mut *conn)
    .await
    .map_err(crate::error::on_constraint("users_email_key", || {
        AppError::Conflict {
            code: "email_taken",
            detail: "an account with this email already exists".into(),
        }
    }))?;
    for &org in user.organisation_ids {
        sqlx::query("INSERT INTO user_organisations (user_id, organisation_id) VALUES ($1, $2)")
            .bind(id)
            .bind(org)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

pub async fn create_session(
    conn: &mut AnyConnection,
    user_id: i64,
    ttl_hours: i64,
) -> Result<(String, String), sqlx::Error> {
    let session_id = random_secret();
    let csrf = random_secret();
    let now = chrono::Utc::now();
    let expires = now + chrono::Duration::hours(ttl_hours);
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_secret(&session_id))
    .bind(user_id)
    .bind(&csrf)
    .bind(db::now())
    .bind(expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    .execute(&mut *conn)
    .await?;
    Ok((session_id, csrf))
}

/// The user and CSRF token of a live session.
pub async fn session_user(
    pool: &AnyPool,
    session_id: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_id, csrf_token FROM sessions \
         WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2",
    )
    .bind(hash_secret(session_id))
    .bind(db::now())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get("user_id"), r.get("csrf_token"))))
}

pub async fn end_session(conn: &mut AnyConnection, session_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL")
        .bind(db::now())
        .bind(hash_secret(session_id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn create_token(
    conn: &mut AnyConnection,
    user_id: i64,
    name: &str,
) -> Result<(i64, String), sqlx::Error> {
    let token = format!("wv_{}", random_secret());
    let id = sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(hash_secret(&token))
    .bind(db::now())
    .fetch_one(conn)
    .await?;
    Ok((id, token))
}

/// Token id, owner and last use of a live (not revoked) token.
pub async fn token_user(
    pool: &AnyPool,
    token: &str,
) -> Result<Option<(i64, i64, Option<String>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash_secret(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get("id"), r.get("user_id"), r.get("last_used_at"))))
}

pub async fn touch_token(conn: &mut AnyConnection, token_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(db::now())
        .bind(token_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

pub async fn list_tokens(pool: &AnyPool, user_id: i64) -> Result<Vec<TokenInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TokenInfo {
            id: r.get("id"),
            name: r.get("name"),
            created_at: r.get("created_at"),
            last_used_at: r.get("last_used_at"),
            revoked_at: r.get("revoked_at"),
        })
        .collect())
}

/// Revokes one of the user's own tokens; false when it is not theirs or already revoked.
pub async fn revoke_token(
    conn: &mut AnyConnection,
    user_id: i64,
    token_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(db::now())
    .bind(token_id)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
