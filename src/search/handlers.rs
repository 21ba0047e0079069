//! API handlers for `/api/v1/search` and its suggestions.

use axum::{extract::State, http::HeaderMap, Json};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Query, SearchHit, SearchPage};
use crate::{
    app::AppState,
    auth::Auth,
    error::{AppError, Problem},
    extract::ApiQuery,
    web::Lang,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(suggest))
}

/// One search over organisations, needs, pledges, supplier offers and items, ranked, typed,
/// with a snippet and a link, in pages; filters by kind, district, category and status. Each
/// reader finds only what they may see (a donor their own pledges; the public only public
/// records). Titles in English with `Accept-Language: en` or the `lang=en` cookie.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(Query),
    responses((status = 200, body = SearchPage), (status = 422, body = Problem)))]
async fn search(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<Query>,
) -> Result<Json<SearchPage>, AppError> {
    let lang = lang_of(&headers);
    Ok(Json(
        super::search(&state, actor.as_ref(), &query, lang).await?,
    ))
}

#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    /// What has been typed so far.
    #[serde(default)]
    pub q: String,
}

/// Names starting with what has been typed, for suggestions as you type.
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "search", params(SuggestQuery),
    responses((status = 200, body = Vec<SearchHit>)))]
async fn suggest(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SuggestQuery>,
) -> Result<Json<Vec<SearchHit>>, AppError> {
    let grants = super::grants(actor.as_ref());
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(
        state
            .search
            .suggest(&mut conn, &query.q, &grants, lang_of(&headers))
            .await?,
    ))
}

fn lang_of(headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.starts_with("en") {
        Lang::En
    } else {
        Lang::from_headers(headers)
    }
}
