//! The shared state and the router: every capability's routes, the OpenAPI document, and the
//! layers every request goes through (request id, tracing, body limit, error rendering).

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    extract::{FromRef, Request},
    http::HeaderName,
    middleware::{self, Next},
    response::Response,
    routing::get,
    Json, Router,
};
use axum_extra::extract::cookie::Key;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha512};
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    audit, auth, board, catalogue, config::Settings, db::Db, deliveries, error::AppError, funds,
    matching, needs, notify, pledges, registry, reports, search, stock, suppliers, web,
};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub cookie_key: Key,
    pub login_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub pages: Arc<web::Pages>,
    pub search: Arc<search::Search>,
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Key {
        state.cookie_key.clone()
    }
}

impl AppState {
    pub fn new(db: Db, settings: Settings, session_secret: &str) -> anyhow::Result<Self> {
        let per_minute =
            NonZeroU32::new(settings.login_attempts_per_minute.max(1)).expect("non-zero");
        Ok(AppState {
            db,
            cookie_key: Key::from(&Sha512::digest(session_secret.as_bytes())),
            login_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            pages: Arc::new(web::Pages::load()?),
            search: Arc::new(search::Search::default()),
            settings: Arc::new(settings),
        })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Weave API", description = "Resource network and donation matching for community foundations and hubs."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "API tokens and the signed-in account"),
        (name = "registry", description = "Communities, partners, hubs, suppliers, donors, foundations"),
        (name = "catalogue", description = "Items and kits that can be asked for, pledged and bought"),
        (name = "needs", description = "What communities ask for, and each need's lifecycle"),
        (name = "pledges", description = "What donors promise, money or goods, with earmarks"),
        (name = "suppliers", description = "Supplier offers and framework agreements activated in an emergency"),
        (name = "matching", description = "Matching plans: run, review, change, confirm into allocations"),
        (name = "stock", description = "Locations, lots, the stock movement ledger, balances and stocktakes"),
        (name = "dispatch", description = "The day's pick lists and delivery runs, delivery and receipt confirmation"),
        (name = "funds", description = "Projects, budget lines, indicators, receipts, disbursements, budget adjustments and the ledger"),
        (name = "reports", description = "Donor feedback, share links, closing reports, the public project page and the email outbox"),
        (name = "search", description = "One search over organisations, needs, pledges, offers and items"),
        (name = "audit", description = "Who changed what, when"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and their OpenAPI document, generated from the same handler annotations.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::router())
        .merge(auth::api_router())
        .merge(registry::api_router())
        .merge(catalogue::api_router())
        .merge(needs::api_router())
        .merge(board::api_router())
        .merge(pledges::api_router())
        .merge(suppliers::api_router())
        .merge(matching::api_router())
        .merge(stock::api_router())
        .merge(deliveries::api_router())
        .merge(funds::api_router())
        .merge(reports::api_router())
        .merge(notify::api_router())
        .merge(search::api_router())
        .merge(audit::api_router())
}

pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

pub fn build_router(state: AppState) -> Router {
    let (api_routes, openapi) = api().split_for_parts();
    let openapi = Arc::new(openapi);
    let max_body = state.settings.max_body_bytes;
    let x_request_id = HeaderName::from_static("x-request-id");

    Router::new()
        .merge(api_routes)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { Json((*doc).clone()) }
            }),
        )
        .merge(web::router())
        .merge(auth::page_router())
        .merge(registry::page_router())
        .merge(catalogue::page_router())
        .merge(board::page_router())
        .merge(needs::page_router())
        .merge(pledges::page_router())
        .merge(suppliers::page_router())
        .merge(matching::page_router())
        .merge(stock::page_router())
        .merge(deliveries::page_router())
        .merge(funds::page_router())
        .merge(reports::page_router())
        .merge(search::page_router())
        .merge(audit::page_router())
        .merge(if state.settings.metrics_bind.is_none() {
            crate::observe::router()
        } else {
            Router::new()
        })
        .route_layer(middleware::from_fn(crate::observe::track))
        .fallback(|| async { AppError::RouteNotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::render_errors,
        ))
        .layer(middleware::from_fn(scope_request_id))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_request_span)
                .on_request(())
                .on_response(log_response),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

/// Spans carry the matched route (few distinct values), never the raw path with ids.
fn make_request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned();
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

fn log_response(response: &Response, latency: Duration, _span: &tracing::Span) {
    let status = response.status().as_u16();
    let ms = latency.as_millis() as u64;
    if response.status().is_server_error() {
        tracing::error!(status, ms, "response");
    } else {
        tracing::info!(status, ms, "response");
    }
}

/// Makes the request id available to error bodies and audit events of this request.
async fn scope_request_id(request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned();
    crate::error::REQUEST_ID.scope(id, next.run(request)).await
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = build_router(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
