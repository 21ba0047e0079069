//! Pages.

use axum::Router;

use crate::app::AppState;

pub fn page_router() -> Router<AppState> {
    Router::new()
}
