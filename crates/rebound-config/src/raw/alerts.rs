//! Serde mirror of `[alerts]` (see `docs/alerts.md`). Kept in its own file
//! so the alert keys read as one unit next to the rest of the config.

use super::RawDuration;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[alerts]`: when to page a person and where to send the message. One
/// message when an incident opens, a reminder at most every `renotify`,
/// one when it resolves. Every key is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    /// Reminder interval while an incident stays open. Default: "6h".
    pub renotify: Option<RawDuration>,
    /// Most notifications one incident signature (condition + subject) may
    /// send per hour; the rest are recorded as suppressed. Default: 2.
    pub max_per_incident_per_hour: Option<i64>,
    /// Most notifications per hour, all incidents together; the rest are
    /// recorded as suppressed and counted in the next message. Default: 30.
    pub max_per_hour: Option<i64>,
    /// How often `rebound serve` evaluates the conditions. Default: "1m".
    pub evaluate_every: Option<RawDuration>,
    /// Which conditions open incidents, and their thresholds.
    #[serde(default)]
    pub conditions: RawAlertConditions,
    /// Where notifications go, by name.
    #[serde(default)]
    pub sinks: BTreeMap<String, RawAlertSink>,
}

/// `[alerts.conditions]`. Every condition is on by default.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlertConditions {
    /// A workflow's newest runs failed or were partial, `after` in a row.
    pub workflow_failed: Option<RawWorkflowFailed>,
    /// A source's breaker is open or its health probe fails, for longer than `grace`.
    pub source_unhealthy: Option<RawSourceUnhealthy>,
    /// A dataset is older than its `fresh_warn` / `fresh_error`. Default: true.
    pub dataset_stale: Option<bool>,
    /// A fanned-out dataset misses entities past its deadline. Default: true.
    pub completeness_shortfall: Option<bool>,
    /// A source's request quota is in use above `quota_share`. Default: true.
    pub quota_high: Option<bool>,
    /// Share of a quota (0 to 1) in use that opens an incident. Default: 0.8.
    pub quota_share: Option<f64>,
    /// A scraper's data is still missing at its deadline (`overdue`). Default: true.
    pub data_overdue: Option<bool>,
    /// A fanned-out scraper has more than `lockout_share` of its entities locked out. Default: true.
    pub lockouts_high: Option<bool>,
    /// Share of entities (0 to 1) locked out that opens an incident. Default: 0.2.
    pub lockout_share: Option<f64>,
}

/// `workflow_failed = { after = 3 }`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflowFailed {
    /// Turn the condition off with `false`. Default: true.
    pub enabled: Option<bool>,
    /// Consecutive failed or partial runs. Default: 3.
    pub after: Option<i64>,
}

/// `source_unhealthy = { grace = "15m" }`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSourceUnhealthy {
    /// Turn the condition off with `false`. Default: true.
    pub enabled: Option<bool>,
    /// How long the source must have been unhealthy. Default: "15m".
    pub grace: Option<RawDuration>,
}

/// `[alerts.sinks.NAME]`: one destination for notifications.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlertSink {
    /// "webhook" (a JSON object, see docs/alerts.md) or "slack" (Slack's
    /// incoming-webhook format).
    #[schemars(example = &"slack")]
    pub kind: String,
    /// Where to POST; usually a secret, so write it as "${SLACK_URL}". Never
    /// logged or stored.
    #[schemars(example = &"${SLACK_WEBHOOK_URL}")]
    pub url: String,
    /// Least severe level sent to this sink: "warning" (default) or "critical".
    pub min_level: Option<String>,
    /// How long one delivery may take. Default: "10s".
    pub timeout: Option<RawDuration>,
}
