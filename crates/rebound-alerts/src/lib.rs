//! Alerts: one message per incident, not one per failure.
//!
//! Data flow: a [`HealthReport`](rebound_health::HealthReport) →
//! [`conditions::observe`] (which conditions hold, about what, how badly)
//! → [`incident::step`], a pure state machine over the open incidents that
//! decides openings, reminders, escalations and recoveries and applies the
//! rate limits → [`evaluate::Evaluator`] writes the changes and one
//! `pending` (or `suppressed`) row per sink into `alert_incidents` /
//! `alerts` → [`deliver::Deliverer`], a separate task, posts due rows to
//! their webhook or Slack sink and retries failures with backoff.
//! [`group`] decides which observations a down source explains, so one
//! cause makes one message (the rest stored with `caused_by`, suppressed).
//! [`service::AlertService`] runs both loops in `rebound serve`.
//!
//! Time comes from the report (`generated_at`) and the injected clock, so
//! tests run days of incidents on a manual clock.

pub mod conditions;
pub mod deliver;
pub mod evaluate;
pub mod format;
pub mod group;
pub mod incident;
pub mod payload;
pub mod service;

pub use evaluate::{Evaluation, Evaluator, open_incident_summaries};
pub use service::{AlertService, ReportSource};
