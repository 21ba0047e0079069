//! The matching engine against MATCHING.md: hard constraints, determinism and no idle supply on
//! random instances (proptest), rules 2-4 against an exact LP reference, the difference
//! fairness makes, and `weave plan` on the command line.

mod check;
mod reference;

mod exactness;
mod fairness;
mod plan_cli;
mod properties;
