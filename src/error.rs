//! One error type for the whole service, rendered as RFC 9457 `application/problem+json`.
//! Every variant has a stable machine-readable `type`; 500s are logged in full and sent generic.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, so errors and audit events can carry it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// One offending input field.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `name_zh` or `contacts.phone`.
    pub field: String,
    /// Stable code: `required`, `too_long`, `invalid`, `out_of_range`, `unknown_value` …
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    #[error("no such record")]
    NotFound,
    #[error("no such page or endpoint")]
    RouteNotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("send an Idempotency-Key header so a retry never counts twice")]
    MissingIdempotencyKey,
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("{rejected} rows of the sheet have errors; nothing was created")]
    SheetRejected {
        rejected: usize,
        report: serde_json::Value,
    },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("the database is not answering")]
    Unavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The problem document every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `urn:weave:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For a rejected sheet: the result of every row.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

impl AppError {
    pub fn validation(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) | AppError::SheetRejected { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::BadRequest { .. } | AppError::MissingIdempotencyKey => {
                StatusCode::BAD_REQUEST
            }
            AppError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound | AppError::RouteNotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::SheetRejected { .. } => "sheet_rejected",
            AppError::BadRequest { code, .. } | AppError::Conflict { code, .. } => code,
            AppError::MissingIdempotencyKey => "idempotency_key_required",
            AppError::IdempotencyKeyReused => "idempotency_key_reused",
            AppError::Unauthenticated => "unauthenticated",
            AppError::BadCredentials => "bad_credentials",
            AppError::Forbidden => "forbidden",
            AppError::Csrf => "csrf_failed",
            AppError::NotFound => "not_found",
            AppError::RouteNotFound => "route_not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: format!("urn:weave:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            request_id: current_request_id(),
            report: match self {
                AppError::SheetRejected { report, .. } => Some(report.clone()),
                _ => None,
            },
            errors: match self {
                AppError::Validation(errors) => errors.clone(),
                AppError::MissingIdempotencyKey => {
                    vec![FieldError::new(
                        "Idempotency-Key",
                        "required",
                        "header missing",
                    )]
                }
                _ => Vec::new(),
            },
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => AppError::NotFound,
            // The database is away (restarting, unreachable): 503, and the client retries
            // with the same Idempotency-Key.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => AppError::Unavailable,
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                AppError::Unavailable
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(error) = &self {
            tracing::error!(error = format!("{error:#}"), "internal error");
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).expect("problem serialises");
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let AppError::RateLimited { retry_after_secs } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if let AppError::Unavailable = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        response
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Turns a named database constraint into a clean 409 instead of a 500.
pub fn on_constraint<'a>(
    constraint: &'a str,
    to_error: impl FnOnce() -> AppError + 'a,
) -> impl FnOnce(sqlx::Error) -> AppError + 'a {
    move |error| {
        let is_it = match &error {
            sqlx::Error::Database(db) => {
                db.constraint() == Some(constraint)
                    || db.message().contains(constraint_columns(constraint))
            }
            _ => false,
        };
        if is_it {
            to_error()
        } else {
            AppError::from(error)
        }
    }
}

/// SQLite reports a unique violation by columns (`users.email`), not by constraint name.
fn constraint_columns(constraint: &str) -> &str {
    match constraint {
        "users_email_key" => "users.email",
        "api_tokens_hash_key" => "api_tokens.token_hash",
        "items_code_key" => "items.code",
        "kits_code_key" => "kits.code",
        "projects_name_key" => "projects.name_zh",
        "stock_movements_reversed_once" => "stock_movements.reverses_id",
        other => other,
    }
}

pub type AppResult<T> = Result<T, AppError>;
