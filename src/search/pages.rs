//! The search page: the same search as the API, with filters and pages, in the reader's
//! language.

use axum::{
    extract::{Query as UrlQuery, State},
    response::Html,
    routing::get,
    Router,
};
use minijinja::{context, Value};
use serde::Deserialize;

use super::{Kind, Query};
use crate::{app::AppState, error::AppError, web::PageCtx};

pub fn page_router() -> Router<AppState> {
    Router::new().route("/search", get(search))
}

/// The form sends empty fields for unused filters.
#[derive(Deserialize, Default)]
struct Form {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    status: String,
    page: Option<i64>,
}

async fn search(
    State(state): State<AppState>,
    page: PageCtx,
    UrlQuery(form): UrlQuery<Form>,
) -> Result<Html<String>, AppError> {
    let some = |v: String| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let query = Query {
        q: form.q.trim().to_owned(),
        kind: Kind::parse(&form.kind),
        district: some(form.district),
        category: some(form.category),
        status: some(form.status),
        page: form.page,
        per_page: Some(20),
    };
    let results = if query.q.is_empty() {
        None
    } else {
        Some(super::search(&state, page.principal.as_ref(), &query, page.lang).await?)
    };
    let pages = results
        .as_ref()
        .map(|r| (r.total + r.per_page - 1) / r.per_page)
        .unwrap_or(0);
    page.render(
        &state,
        "search.html",
        context! {
            search_q => &query.q,
            query => Value::from_serialize(&query),
            results => Value::from_serialize(&results),
            pages,
            kinds => Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        },
    )
}
