//! Request extractors that turn every kind of bad input into a problem document naming the
//! field: wrong content type (415), oversize body (413), malformed JSON (400), wrong or unknown
//! values (422).

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, FromRequest, Request},
    http::{header, HeaderMap},
};
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

/// A JSON body, deserialised with the path of any offending field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "send the body as application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A URL-encoded form body from a browser page, with the same error handling.
pub struct FormBody<T>(pub T);

impl<S, T> FromRequest<S> for FormBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = content_type(req.headers())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::UnsupportedMediaType(
                "send the form as application/x-www-form-urlencoded".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        serde_path_to_error::deserialize(deserializer)
            .map(FormBody)
            .map_err(|e| {
                AppError::Validation(vec![FieldError::new(
                    field_path(e.path()),
                    "invalid",
                    e.inner().to_string(),
                )])
            })
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            AppError::BadRequest {
                code: "malformed_json",
                detail: format!("the body is not valid JSON: {inner}"),
            }
        } else {
            let message = inner.to_string();
            let field = match missing_field_name(&message) {
                Some(name) if field_path(e.path()).is_empty() => name.to_owned(),
                Some(name) => format!("{}.{name}", field_path(e.path())),
                None => field_path(e.path()),
            };
            let code = if message.starts_with("unknown variant") {
                "unknown_value"
            } else if message.starts_with("missing field") {
                "required"
            } else {
                "invalid"
            };
            AppError::Validation(vec![FieldError::new(field, code, strip_position(&message))])
        }
    })
}

/// serde reports `missing field` at the parent's path; name the field itself.
fn missing_field_name(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn field_path(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." {
        String::new()
    } else {
        text
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn is_json(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|ct| {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

fn body_error(rejection: BytesRejection) -> AppError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::BadRequest {
            code: "unreadable_body",
            detail: rejection.body_text(),
        }
    }
}

/// A query string, with the offending parameter named on error.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|e| {
                AppError::Validation(vec![FieldError::new(
                    field_path(e.path()),
                    "invalid",
                    strip_position(&e.inner().to_string()),
                )])
            })
    }
}

/// For query strings and forms: an empty parameter (`?kind=`) means "not given".
pub fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// A form's fields by name, for forms with optional, repeated or numbered fields
/// (`count_{lot}`, `received_{line}`).
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    /// The field's value, or "" when the form did not send it.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The trimmed value, absent when empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim().to_owned()).filter(|v| !v.is_empty())
    }
}
