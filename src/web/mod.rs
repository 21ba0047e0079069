//! The server-rendered web UI: templates and translations embedded in the binary, the page
//! context every template gets (language, account, navigation, CSRF token), and error pages.

use std::collections::BTreeMap;

use axum::{
    body::Body,
    extract::{FromRequestParts, Path, Query, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use minijinja::{context, Environment, Value};
use serde::{Deserialize, Serialize};

use crate::{
    app::AppState,
    auth::{Auth, Permission, Principal},
    error::{AppError, FieldError, PROBLEM_JSON},
};

/// Templates are embedded in the binary: no runtime reads relative to the working directory.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../frontend/templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    "home.html",
    "error.html",
    "login.html",
    "account.html",
    "catalogue.html",
    "board.html",
    "needs/list.html",
    "needs/form.html",
    "needs/show.html",
    "needs/import.html",
    "pledges/list.html",
    "pledges/form.html",
    "pledges/show.html",
    "supply.html",
    "plans/list.html",
    "plans/show.html",
    "stock/overview.html",
    "stock/lot.html",
    "stock/stocktake_form.html",
    "stock/stocktake.html",
    "dispatch/day.html",
    "dispatch/run.html",
    "projects/list.html",
    "projects/show.html",
    "projects/ledger.html",
    "reports/gift_body.html",
    "reports/feedback.html",
    "reports/shared.html",
    "reports/closing.html",
    "reports/public.html",
    "reports/outbox.html",
    "search.html",
    "email/feedback.html",
    "email/feedback.txt",
    "organisations/list.html",
    "organisations/show.html",
    "organisations/form.html",
    "audit/list.html",
    "audit/table.html",
];

const STYLESHEET: &str = include_str!("../../frontend/static/app.css");
/// The one script: search suggestions as you type. Every page works without it.
const SCRIPT: &str = include_str!("../../frontend/static/app.js");

pub const TRANSLATIONS: &[(&str, &str)] = &[
    ("zh-CN", include_str!("../../frontend/i18n/zh-CN.json")),
    ("en", include_str!("../../frontend/i18n/en.json")),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "zh-CN" | "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// zh-CN unless the visitor chose English (the `lang` cookie).
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix("lang="))
            .find_map(Lang::parse)
            .unwrap_or(Lang::ZhCn)
    }
}

/// Templates and translation tables, loaded once.
pub struct Pages {
    env: Environment<'static>,
    translations: BTreeMap<&'static str, BTreeMap<String, String>>,
}

impl Pages {
    pub fn load() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let mut translations = BTreeMap::new();
        for (code, source) in TRANSLATIONS {
            translations.insert(*code, serde_json::from_str(source)?);
        }
        Ok(Pages { env, translations })
    }

    pub fn text(&self, lang: Lang, key: &str) -> String {
        self.translations[lang.code()]
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// Renders a template outside a request (email), with the translations of `lang`.
    pub fn render_in(&self, lang: Lang, name: &str, values: Value) -> Result<String, AppError> {
        let common = context! {
            t => Value::from_serialize(&self.translations[lang.code()]),
            lang => lang.code(),
        };
        Ok(self.render(name, context! { ..values, ..common })?.0)
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<Html<String>, AppError> {
        let template = self.env.get_template(name).map_err(anyhow::Error::from)?;
        Ok(Html(template.render(ctx).map_err(anyhow::Error::from)?))
    }
}

/// What every page knows about its request.
pub struct PageCtx {
    pub lang: Lang,
    pub principal: Option<Principal>,
    pub path: String,
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Auth(principal) = Auth::from_request_parts(parts, state).await?;
        Ok(PageCtx {
            lang: Lang::from_headers(&parts.headers),
            principal,
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        })
    }
}

#[derive(Serialize)]
struct NavLink {
    href: &'static str,
    label: &'static str,
}

fn nav_for(principal: Option<&Principal>) -> Vec<NavLink> {
    let mut links = vec![NavLink {
        href: "/",
        label: "nav_home",
    }];
    if let Some(p) = principal {
        if crate::auth::allows(p, Permission::ReadRegistry) {
            links.push(NavLink {
                href: "/organisations",
                label: "nav_organisations",
            });
        }
        if crate::auth::allows(p, Permission::ReadCatalogue) {
            links.push(NavLink {
                href: "/catalogue",
                label: "nav_catalogue",
            });
        }
        if crate::auth::allows(p, Permission::ReadNeeds) {
            links.push(NavLink {
                href: "/needs",
                label: "nav_needs",
            });
        }
        if crate::auth::allows(p, Permission::ReadPledges) {
            links.push(NavLink {
                href: "/pledges",
                label: "nav_pledges",
            });
        }
        if crate::auth::allows(p, Permission::ReadBoard) {
            links.push(NavLink {
                href: "/board",
                label: "nav_board",
            });
        }
        if crate::auth::allows(p, Permission::ReadPlans) {
            links.push(NavLink {
                href: "/plans",
                label: "nav_plans",
            });
        }
        if crate::auth::allows(p, Permission::ReadStock) {
            links.push(NavLink {
                href: "/stock",
                label: "nav_stock",
            });
        }
        if crate::auth::allows(p, Permission::ReadDeliveries) {
            links.push(NavLink {
                href: "/dispatch",
                label: "nav_dispatch",
            });
        }
        if crate::auth::allows(p, Permission::ReadFunds) {
            links.push(NavLink {
                href: "/projects",
                label: "nav_projects",
            });
        }
        if crate::auth::allows(p, Permission::ReadSupply) {
            links.push(NavLink {
                href: "/supply",
                label: "nav_supply",
            });
        }
        if crate::auth::allows(p, Permission::ReadAudit) {
            links.push(NavLink {
                href: "/audit",
                label: "nav_audit",
            });
        }
        links.push(NavLink {
            href: "/account",
            label: "nav_account",
        });
    }
    links
}

impl PageCtx {
    /// Renders a page: the template's own values merged with the common layout values.
    pub fn render(
        &self,
        state: &AppState,
        name: &str,
        values: Value,
    ) -> Result<Html<String>, AppError> {
        let common = context! {
            t => Value::from_serialize(&state.pages.translations[self.lang.code()]),
            lang => self.lang.code(),
            user => self.principal.as_ref().map(|p| context! {
                display_name => p.display_name.clone(),
                email => p.email.clone(),
                role => p.role.as_str(),
            }),
            csrf => self.principal.as_ref().and_then(|p| p.csrf_token.clone()),
            nav => Value::from_serialize(nav_for(self.principal.as_ref())),
            path => self.path.clone(),
        };
        state.pages.render(name, context! { ..values, ..common })
    }

    pub fn text(&self, state: &AppState, key: &str) -> String {
        state.pages.text(self.lang, key)
    }

    /// The signed-in principal allowed to do this, for pages (anonymous → login page).
    pub fn authorize(&self, permission: Permission) -> Result<&Principal, AppError> {
        crate::auth::authorize(self.principal.as_ref(), permission)
    }

    /// Forms posted by a signed-in browser must carry the session's CSRF token.
    pub fn check_csrf(&self, submitted: &str) -> Result<&Principal, AppError> {
        let principal = self.principal.as_ref().ok_or(AppError::Unauthenticated)?;
        match &principal.csrf_token {
            Some(expected) if constant_time_eq(expected.as_bytes(), submitted.as_bytes()) => {
                Ok(principal)
            }
            _ => Err(AppError::Csrf),
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/lang/{code}", get(switch_language))
        .route("/static/app.css", get(stylesheet))
        .route("/static/app.js", get(script))
}

async fn home(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    let role_intro = page
        .principal
        .as_ref()
        .map(|p| format!("intro_{}", p.role.as_str()));
    page.render(&state, "home.html", context! { role_intro })
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn switch_language(
    Path(code): Path<String>,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let lang = Lang::parse(&code).ok_or_else(|| {
        AppError::validation("code", "unknown_value", "language must be zh-CN or en")
    })?;
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    let mut response = Redirect::to(&safe_next(q.next.as_deref())).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ascii"),
    );
    Ok(response)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        SCRIPT,
    )
}

/// Only same-site relative paths are followed after login or a language switch.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/healthz" || path == "/readyz"
}

/// Every error leaves in the right shape: API paths get problem+json (also for the plain-text
/// rejections of axum and tower-http), pages get an HTML page, and a page that needs an
/// account sends the visitor to the login form.
pub async fn render_errors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let lang = Lang::from_headers(request.headers());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("text/html") || (is_api_path(&path) && content_type == PROBLEM_JSON)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let problem = if content_type == PROBLEM_JSON {
        serde_json::from_slice::<serde_json::Value>(&bytes).ok()
    } else {
        None
    };
    if is_api_path(&path) {
        let detail = String::from_utf8_lossy(&bytes).into_owned();
        return error_for_status(parts.status, detail).into_response();
    }
    if parts.status == StatusCode::UNAUTHORIZED {
        let target = format!("/login?next={}", urlencode(&path_and_query));
        return Redirect::to(&target).into_response();
    }
    let page = PageCtx {
        lang,
        principal: None,
        path: path_and_query,
    };
    let (detail, errors) = match &problem {
        Some(p) => (
            p["detail"].as_str().unwrap_or_default().to_owned(),
            serde_json::from_value::<Vec<ErrorField>>(p["errors"].clone()).unwrap_or_default(),
        ),
        None => (String::from_utf8_lossy(&bytes).into_owned(), Vec::new()),
    };
    let title_key = format!("error_{}", parts.status.as_u16());
    let values = context! {
        status => parts.status.as_u16(),
        title => page.text(&state, &title_key),
        detail,
        errors => Value::from_serialize(&errors),
        request_id => problem.as_ref().and_then(|p| p["request_id"].as_str().map(str::to_owned)),
    };
    match page.render(&state, "error.html", values) {
        Ok(html) => (parts.status, html).into_response(),
        Err(_) => (parts.status, Body::from("error")).into_response(),
    }
}

#[derive(Serialize, Deserialize)]
struct ErrorField {
    field: String,
    message: String,
}

fn error_for_status(status: StatusCode, detail: String) -> AppError {
    match status.as_u16() {
        404 => AppError::RouteNotFound,
        405 => AppError::MethodNotAllowed,
        413 => AppError::PayloadTooLarge,
        415 => AppError::UnsupportedMediaType(detail),
        422 => AppError::Validation(vec![FieldError::new("", "invalid", detail)]),
        400..=499 => AppError::BadRequest {
            code: "bad_request",
            detail,
        },
        _ => AppError::Internal(anyhow::anyhow!("{status}: {detail}")),
    }
}

pub fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(
                        path.strip_prefix(root)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend/templates");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        files.sort();
        let mut embedded: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(files, embedded);
        Pages::load().expect("every template compiles");
    }

    #[test]
    fn page_titles_are_plain_text() {
        for (name, source) in TEMPLATES {
            if let Some(start) = source.find("{% block title %}") {
                let rest = &source[start..];
                let title = &rest[..rest.find("{% endblock %}").unwrap()];
                assert!(!title.contains('<'), "{name}: markup in the title block");
            }
        }
    }

    #[test]
    fn both_languages_have_the_same_keys() {
        let pages = Pages::load().unwrap();
        let zh: Vec<_> = pages.translations["zh-CN"].keys().collect();
        let en: Vec<_> = pages.translations["en"].keys().collect();
        assert_eq!(zh, en);
    }
}
