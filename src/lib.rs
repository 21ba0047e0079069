//! Weave: the resource network of a community foundation or hub organisation.
//! The binary (`main.rs`) and the tests both build the service through this library.

#[macro_use]
mod text_enum;

pub mod allocator;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod board;
pub mod catalogue;
pub mod cli;
pub mod config;
pub mod db;
pub mod deliveries;
pub mod demo;
pub mod error;
pub mod extract;
pub mod funds;
pub mod health;
pub mod idempotency;
pub mod matching;
pub mod money;
pub mod needs;
pub mod notify;
pub mod observe;
pub mod paging;
pub mod pledges;
pub mod registry;
pub mod reports;
pub mod search;
pub mod stock;
pub mod suppliers;
pub mod telemetry;
pub mod validate;
pub mod web;

pub use app::{build_router, serve, AppState};
