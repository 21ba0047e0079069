//! Matching: the engine (pure) and, around it, the plans hub coordinators review and confirm.

pub mod engine;
pub mod generate;
