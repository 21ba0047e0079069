//! `Idempotency-Key` for creates that must never count twice (pledges, receipts,
//! disbursements, allocations). The key, a hash of the request and the response are stored in
//! the same transaction as the write; a retry with the same key and body gets the stored
//! response, a retry with another body is refused.

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, StatusCode},
};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::{db, error::AppError};

pub const HEADER: &str = "idempotency-key";

/// The client's key for this request; required on the endpoints that take one.
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let value = parts
            .headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        match value {
            Some(key) if !key.is_empty() && key.len() <= 200 => Ok(IdempotencyKey(key.to_owned())),
            Some(_) => Err(AppError::validation(
                "Idempotency-Key",
                "invalid",
                "must be 1 to 200 characters",
            )),
            None => Err(AppError::MissingIdempotencyKey),
        }
    }
}

pub fn request_hash(body: &impl serde::Serialize) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(body).unwrap_or_default()))
}

pub struct Stored {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

/// The stored response of an earlier request with this key, if any. Refuses a key reused for
/// a different request.
pub async fn lookup(
    conn: &mut AnyConnection,
    user_id: i64,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<Option<Stored>, AppError> {
    let row = sqlx::query(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys \
         WHERE user_id = $1 AND scope = $2 AND idempotency_key = $3",
    )
    .bind(user_id)
    .bind(scope)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.get::<String, _>("request_hash") != hash {
        return Err(AppError::IdempotencyKeyReused);
    }
    let status =
        StatusCode::from_u16(row.get::<i64, _>("response_status") as u16).unwrap_or(StatusCode::OK);
    let body = serde_json::from_str(&row.get::<String, _>("response_body")).unwrap_or_default();
    Ok(Some(Stored { status, body }))
}

pub async fn remember(
    conn: &mut AnyConnection,
    user_id: i64,
    scope: &str,
    key: &str,
    hash: &str,
    status: StatusCode,
    body: &impl serde::Serialize,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, scope, idempotency_key, request_hash, response_status, \
         response_body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user_id)
    .bind(scope)
    .bind(key)
    .bind(hash)
    .bind(i64::from(status.as_u16()))
    .bind(serde_json::to_string(body).unwrap_or_default())
    .bind(db::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether an error is the unique violation of a concurrent request with the same key.
pub fn is_concurrent_duplicate(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.constraint() == Some("idempotency_keys_key")
                || db.message().contains("idempotency_keys.")
        }
        _ => false,
    }
}

/// The future of one attempt at an idempotent write, borrowing the transaction.
pub type Attempt<'t> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<(StatusCode, serde_json::Value), AppError>>
            + Send
            + 't,
    >,
>;

/// Runs `write` in one transaction, once per `key`: the first answer is stored with the write
/// and returned to every retry. On PostgreSQL a concurrent request with the same key makes our
/// insert of the key fail; the second attempt then finds and returns its answer.
pub async fn once<F>(
    db: &db::Db,
    user_id: i64,
    scope: &str,
    key: &str,
    hash: &str,
    mut write: F,
) -> Result<(StatusCode, serde_json::Value), AppError>
where
    F: for<'t> FnMut(&'t mut db::Tx) -> Attempt<'t>,
{
    if key.trim().is_empty() {
        return Err(AppError::MissingIdempotencyKey);
    }
    for _ in 0..2 {
        let mut tx = db.begin().await?;
        if let Some(stored) = lookup(tx.conn(), user_id, scope, key, hash).await? {
            return Ok((stored.status, stored.body));
        }
        let (status, body) = write(&mut tx).await?;
        match remember(tx.conn(), user_id, scope, key, hash, status, &body).await {
            Err(e) if is_concurrent_duplicate(&e) => continue,
            other => other?,
        }
        tx.commit().await?;
        return Ok((status, body));
    }
    Err(AppError::Conflict {
        code: "idempotency_conflict",
        detail: "a request with this key is in progress".into(),
    })
}
