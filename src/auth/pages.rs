//! Browser sign-in and sign-out, and the account page where tokens are listed and revoked.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use axum_extra::extract::{
    cookie::{Cookie, Key, SameSite},
    SignedCookieJar,
};
use minijinja::{context, Value};
use serde::Deserialize;

use super::{check_login_rate, handlers, store, Permission, SESSION_COOKIE};
use crate::{
    app::AppState,
    audit::{self, Actor},
    error::AppError,
    extract::{ApiQuery, FormBody},
    web::{constant_time_eq, safe_next, PageCtx},
};

const LOGIN_CSRF_COOKIE: &str = "weave_login_csrf";

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/account", get(account))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

fn cookie<'a>(state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies)
        .path("/")
        .build()
}

/// The sign-in form carries a token bound to a signed cookie, so a foreign site cannot post it.
async fn login_form(
    State(state): State<AppState>,
    page: PageCtx,
    jar: SignedCookieJar<Key>,
    ApiQuery(q): ApiQuery<NextQuery>,
) -> Result<(SignedCookieJar<Key>, Html<String>), AppError> {
    let (jar, csrf) = login_csrf(&state, jar);
    let html = render_login(&state, &page, &csrf, q.next.as_deref(), None, "")?;
    Ok((jar, html))
}

fn login_csrf(state: &AppState, jar: SignedCookieJar<Key>) -> (SignedCookieJar<Key>, String) {
    match jar.get(LOGIN_CSRF_COOKIE) {
        Some(c) => {
            let value = c.value().to_owned();
            (jar, value)
        }
        None => {
            let value = store::random_secret();
            (
                jar.add(cookie(state, LOGIN_CSRF_COOKIE, value.clone())),
                value,
            )
        }
    }
}

fn render_login(
    state: &AppState,
    page: &PageCtx,
    csrf: &str,
    next: Option<&str>,
    error: Option<String>,
    email: &str,
) -> Result<Html<String>, AppError> {
    page.render(
        state,
        "login.html",
        context! { login_csrf => csrf, next => safe_next(next), error, email },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    page: PageCtx,
    jar: SignedCookieJar<Key>,
    FormBody(form): FormBody<LoginForm>,
) -> Result<Response, AppError> {
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(AppError::Csrf);
    }
    let failure = |key: &str| -> Result<Response, AppError> {
        let html = render_login(
            &state,
            &page,
            &expected,
            form.next.as_deref(),
            Some(page.text(&state, key)),
            &form.email,
        )?;
        let status = if key == "login_rate_limited" {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::UNAUTHORIZED
        };
        Ok((status, html).into_response())
    };
    if check_login_rate(&state, &form.email).is_err() {
        return failure("login_rate_limited");
    }
    let user_id = match handlers::verify_credentials(&state, &form.email, &form.password).await {
        Ok(id) => id,
        Err(AppError::BadCredentials | AppError::Unauthenticated) => {
            return failure("login_failed")
        }
        Err(other) => return Err(other),
    };

    let mut tx = state.db.begin().await?;
    let (session_id, _csrf) =
        store::create_session(tx.conn(), user_id, state.settings.session_ttl_hours).await?;
    let principal = store::principal(tx.conn(), user_id, None)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    audit::record(
        tx.conn(),
        Actor::User(&principal),
        "sign_in",
        "user",
        user_id,
        None::<&()>,
        None::<&()>,
    )
    .await?;
    tx.commit().await?;

    let mut session = cookie(&state, SESSION_COOKIE, session_id);
    session.set_max_age(time_hours(state.settings.session_ttl_hours));
    let jar = jar.remove(Cookie::from(LOGIN_CSRF_COOKIE)).add(session);
    Ok((jar, Redirect::to(&safe_next(form.next.as_deref()))).into_response())
}

fn time_hours(hours: i64) -> time::Duration {
    time::Duration::hours(hours)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    page: PageCtx,
    jar: SignedCookieJar<Key>,
    FormBody(form): FormBody<CsrfForm>,
) -> Result<Response, AppError> {
    let principal = page.check_csrf(&form.csrf)?;
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let mut tx = state.db.begin().await?;
        store::end_session(tx.conn(), c.value()).await?;
        audit::record(
            tx.conn(),
            Actor::User(principal),
            "sign_out",
            "user",
            principal.user_id,
            None::<&()>,
            None::<&()>,
        )
        .await?;
        tx.commit().await?;
    }
    let jar = jar.remove(Cookie::from(SESSION_COOKIE));
    Ok((jar, Redirect::to("/login")).into_response())
}

async fn account(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    render_account(&state, &page, None).await
}

async fn render_account(
    state: &AppState,
    page: &PageCtx,
    new_token: Option<String>,
) -> Result<Html<String>, AppError> {
    let principal = page.authorize(Permission::OwnAccount)?;
    let tokens = store::list_tokens(state.db.pool(), principal.user_id).await?;
    let organisations =
        crate::registry::names(state.db.pool(), &principal.organisation_ids).await?;
    page.render(
        state,
        "account.html",
        context! {
            tokens => Value::from_serialize(&tokens),
            new_token,
            organisations => Value::from_serialize(&organisations),
        },
    )
}

#[derive(Deserialize)]
struct NewTokenForm {
    csrf: String,
    name: String,
}

/// Creates a token from the account page; it is shown once, on the page that answers.
async fn create_token(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<NewTokenForm>,
) -> Result<Html<String>, AppError> {
    let principal = page.check_csrf(&form.csrf)?;
    let mut fields = crate::validate::Fields::new();
    let name = fields.required_text("name", &form.name, 100);
    fields.finish()?;
    let (_id, token) = handlers::issue_token(&state, principal.user_id, &name).await?;
    render_account(&state, &page, Some(token)).await
}

async fn revoke_token(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<CsrfForm>,
) -> Result<Redirect, AppError> {
    let principal = page.check_csrf(&form.csrf)?;
    handlers::revoke(&state, principal, id).await?;
    Ok(Redirect::to("/account"))
}
