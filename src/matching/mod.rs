//! Matching: the engine (pure), the seeded instance generator, and around them the plans hub
//! coordinators run, review, change and confirm, and the daily run at the cut-off.

pub mod engine;
pub mod generate;
mod handlers;
pub mod load;
mod pages;
pub mod plans;
pub mod schedule;

pub use handlers::api_router;
pub use pages::page_router;
