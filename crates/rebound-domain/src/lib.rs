//! The vocabulary of Rebound and its pure policies.
//!
//! Nothing in this crate does I/O, reads the clock or draws random numbers:
//! time and randomness are parameters, so every rule here is tested with
//! plain tables of data. Modules are listed in data-flow order:
//! a validated [`plan`] (with [`duration`]s, [`template`]s and secrets that the
//! [`redact`] module hides), the [`retry`] policy that guards each call, the
//! [`outcome`] of each attempt and call, and the human [`message`]s and safe
//! raw-store [`paths`] derived from them.

pub mod alerts;
pub mod breaker;
pub mod calendar;
pub mod clock;
pub mod decision;
pub mod document;
pub mod duration;
pub mod handoff;
pub mod late;
pub mod message;
pub mod outbound;
pub mod outcome;
pub mod paginate;
pub mod params;
pub mod paths;
pub mod plan;
pub mod proxy;
pub mod quota;
pub mod ratelimit;
pub mod redact;
pub mod retry;
pub mod retry_budget;
pub mod template;
mod unescape;
