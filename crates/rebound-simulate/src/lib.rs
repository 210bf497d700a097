//! `rebound simulate`: replays scripted incidents (scenarios) against a
//! config on a simulated clock and reports what its policies did.
//!
//! - [`scenario`]: scenario files (TOML) and their checks, errors with
//!   file:line:col;
//! - [`builtin`]: the scenarios shipped in the binary (`scenarios/`);
//! - [`prepare`]: the config as the simulation runs it (base URLs on the
//!   simulated upstream, alert sinks on a loopback receiver, `--policy
//!   original`);
//! - [`inject`]: the faults, as the simulated upstream's fault hook, on the
//!   simulated clock;
//! - [`runner`]: `serve`'s scheduler, worker and alert rounds stepped on a
//!   manual clock through the scenario's days;
//! - [`report`]: the figures, from the history the run wrote;
//! - [`pin`]: keeps a simulation's threads on one CPU;
//! - [`scratch`]: where a simulation that keeps nothing writes its history.
//!
//! See `docs/simulate.md`.

pub mod builtin;
pub mod inject;
pub mod pin;
pub mod prepare;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod scratch;

pub use prepare::Policy;
pub use report::Report;
pub use runner::{Options, SimulateError, check, check_config, check_keep, simulate};
pub use scenario::{Scenario, ScenarioError};
