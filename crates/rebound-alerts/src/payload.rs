//! What sinks receive.
//!
//! `webhook` sinks get one JSON object per notification (the contract,
//! documented in docs/alerts.md):
//!
//! ```json
//! {"event": "recovered", "condition": "source_unhealthy", "subject": "nba_stats",
//!  "level": "critical", "summary": "source nba_stats: breaker open since …",
//!  "message": "[nba] RECOVERED source_unhealthy nba_stats: recovered after 3h 12m …",
//!  "opened_at": "2026-01-15T04:00:00Z", "resolved_at": "2026-01-15T07:12:00Z",
//!  "duration_seconds": 11520, "pipeline": "nba"}
//! ```
//!
//! `slack` sinks get Slack's incoming-webhook body, `{"text": message}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// The webhook document.
#[derive(Debug, Clone, Serialize)]
pub struct Payload<'a> {
    /// `opened`, `renotify` or `recovered`.
    pub event: &'a str,
    pub condition: &'a str,
    pub subject: &'a str,
    /// `warning` or `critical` (for `recovered`: the worst it reached).
    pub level: &'a str,
    pub summary: &'a str,
    /// The human line (what Slack shows).
    pub message: &'a str,
    #[serde(serialize_with = "rfc3339")]
    pub opened_at: DateTime<Utc>,
    #[serde(serialize_with = "opt_rfc3339")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Set on `recovered`: how long the incident lasted.
    pub duration_seconds: Option<i64>,
    pub pipeline: &'a str,
}

impl Payload<'_> {
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn opt_rfc3339<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// Slack's incoming-webhook body for `message`.
pub fn slack_body(message: &str) -> String {
    serde_json::json!({ "text": message }).to_string()
}
