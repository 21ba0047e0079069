//! Integration tests through HTTP against a real database. Run on SQLite by default and on
//! PostgreSQL with `WEAVE_TEST_DATABASE_URL=postgres://...` (see `.ci/run`).

mod auth;
mod backup;
mod board;
mod browser;
mod catalogue;
mod cli;
mod common;
mod crash;
mod email;
mod errors;
mod funds;
mod health;
mod hostile;
mod import;
mod injection;
mod ledger_pages;
mod ledger_properties;
mod matching;
mod metrics;
mod migrations;
mod needs;
mod needs_pages;
mod openapi;
mod pages;
mod permissions;
mod pledges;
mod pledges_pages;
mod registry;
mod replicas;
mod reports;
mod reports_pages;
mod search;
mod stock;
mod suppliers;
