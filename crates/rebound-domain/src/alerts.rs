//! `[alerts]`: when Rebound pages a person, and where it sends the message.
//!
//! These are the resolved settings; the conditions and the incident state
//! machine that use them live in the `rebound-alerts` crate. Defaults are
//! chosen from the original system's notification router (which sent at
//! most 5 messages per error signature per hour after a 600-email flood)
//! and are documented in `docs/alerts.md`.

use std::collections::BTreeMap;
use std::time::Duration;

/// Default `renotify`: a reminder per open incident at most every 6 hours.
pub const DEFAULT_RENOTIFY: Duration = Duration::from_secs(6 * 3600);
/// Default `evaluate_every`.
pub const DEFAULT_EVALUATE_EVERY: Duration = Duration::from_secs(60);
/// Default `max_per_incident_per_hour`.
pub const DEFAULT_MAX_PER_INCIDENT_PER_HOUR: u32 = 2;
/// Default `max_per_hour` (all incidents together).
pub const DEFAULT_MAX_PER_HOUR: u32 = 30;
/// Default `workflow_failed.after`: consecutive failed or partial runs.
pub const DEFAULT_WORKFLOW_FAILED_AFTER: u32 = 3;
/// Default `source_unhealthy.grace`.
pub const DEFAULT_SOURCE_GRACE: Duration = Duration::from_secs(15 * 60);
/// Default `quota_share`: the same 80 % at which quotas warn.
pub const DEFAULT_QUOTA_SHARE: f64 = 0.8;
/// Default `lockout_share`: a fifth of a scraper's entities locked out.
pub const DEFAULT_LOCKOUT_SHARE: f64 = 0.2;
/// Default sink `timeout`.
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);

/// The resolved `[alerts]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// Reminder interval while an incident stays open.
    pub renotify: Duration,
    /// Notifications per incident signature (condition + subject) per hour.
    pub max_per_incident_per_hour: u32,
    /// Notifications per hour, all incidents together.
    pub max_per_hour: u32,
    /// How often `rebound serve` evaluates the conditions.
    pub evaluate_every: Duration,
    pub conditions: AlertConditions,
    /// `[alerts.sinks.NAME]`, by name.
    pub sinks: BTreeMap<String, AlertSink>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            renotify: DEFAULT_RENOTIFY,
            max_per_incident_per_hour: DEFAULT_MAX_PER_INCIDENT_PER_HOUR,
            max_per_hour: DEFAULT_MAX_PER_HOUR,
            evaluate_every: DEFAULT_EVALUATE_EVERY,
            conditions: AlertConditions::default(),
            sinks: BTreeMap::new(),
        }
    }
}

/// `[alerts.conditions]`: which conditions raise incidents, and their thresholds.
/// A disabled condition is `None` (or `false`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConditions {
    /// Consecutive failed or partial runs of a workflow that open an incident.
    pub workflow_failed_after: Option<u32>,
    /// How long a source's breaker may be open (or its probe fail) before it is an incident.
    pub source_unhealthy_grace: Option<Duration>,
    pub dataset_stale: bool,
    pub completeness_shortfall: bool,
    /// Share (0..=1) of a quota in use that opens an incident.
    pub quota_share: Option<f64>,
    pub data_overdue: bool,
    /// Share (0..=1) of a fanned-out scraper's entities locked out that opens an incident.
    pub lockout_share: Option<f64>,
}

impl Default for AlertConditions {
    fn default() -> Self {
        AlertConditions {
            workflow_failed_after: Some(DEFAULT_WORKFLOW_FAILED_AFTER),
            source_unhealthy_grace: Some(DEFAULT_SOURCE_GRACE),
            dataset_stale: true,
            completeness_shortfall: true,
            quota_share: Some(DEFAULT_QUOTA_SHARE),
            data_overdue: true,
            lockout_share: Some(DEFAULT_LOCKOUT_SHARE),
        }
    }
}

/// What a sink speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// A generic JSON object (documented in `docs/alerts.md`).
    Webhook,
    /// Slack's incoming-webhook format, `{"text": ...}`.
    Slack,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::Slack => "slack",
        }
    }
}

/// The least severe level a sink is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MinLevel {
    Warning,
    Critical,
}

impl MinLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            MinLevel::Warning => "warning",
            MinLevel::Critical => "critical",
        }
    }
}

/// One `[alerts.sinks.NAME]`.
#[derive(Clone, PartialEq)]
pub struct AlertSink {
    pub name: String,
    pub kind: SinkKind,
    /// Usually a secret (`${SLACK_URL}`): never printed; `Debug` hides it.
    pub url: String,
    pub min_level: MinLevel,
    pub timeout: Duration,
}

impl std::fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSink")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"***")
            .field("min_level", &self.min_level)
            .field("timeout", &self.timeout)
            .finish()
    }
}
