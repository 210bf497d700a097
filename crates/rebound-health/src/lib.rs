//! The health report behind `rebound health`, `rebound freshness` and the
//! alert conditions: what is broken, since when, how badly and why.
//!
//! [`report`] holds the model (a plain, serialisable value whose JSON keys
//! are a contract: `sources`, `scrapers`, `workflows`, `error_coverage`,
//! `retries`, `datasets`, `alerts`). Building it reads only the history
//! store and the plan, at an instant taken from a clock, so tests build
//! reports for simulated days.

mod assemble;
pub mod report;

pub use assemble::*;
pub use report::*;
