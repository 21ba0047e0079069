//! The ceiling for the load test: the smallest axum service on this machine, one handler
//! answering "ok", served the way `weave serve` serves. Whatever Weave reaches is measured
//! against what the framework and machine allow.
//!
//!     cargo run --release --example ceiling -- 127.0.0.1:18080

use axum::{routing::get, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("ceiling serving on http://{address}");
    axum::serve(listener, Router::new().route("/", get(|| async { "ok" }))).await
}
