//! `[handoff]`: where completion events go after the outbox (see
//! `docs/handoff.md`).
//!
//! Every recorded call with an outcome (`success`, `no_data`, `failed`,
//! `overdue`) gets one completion event in the outbox table, in the call's
//! own transaction; the publisher then posts it to each sink that wants
//! it. These are the resolved settings; the message is built by the
//! engine and sent by the service's publisher.

use crate::outcome::ScraperStatus;
pub use nats::NatsSink;

pub mod nats;
use std::collections::BTreeMap;
use std::time::Duration;

/// Default sink `timeout`.
pub const DEFAULT_HANDOFF_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `publish_wait`: how long `rebound run`, `scrape` and `backfill`
/// wait at their end for the publisher to send what they recorded.
pub const DEFAULT_PUBLISH_WAIT: Duration = Duration::from_secs(10);

/// The statuses that make an event, in the order they are documented.
pub const EVENT_STATUSES: [ScraperStatus; 4] = [
    ScraperStatus::Success,
    ScraperStatus::NoData,
    ScraperStatus::Failed,
    ScraperStatus::Overdue,
];

/// Whether a call with `status` gets a completion event: outcomes only,
/// not `skipped` or `not_yet_available`, which are not outcomes yet.
pub fn makes_event(status: ScraperStatus) -> bool {
    EVENT_STATUSES.contains(&status)
}

/// What started the run a call belongs to, as the message's `trigger` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trigger {
    /// A slot `rebound serve`'s scheduler claimed.
    Schedule,
    /// A person: `rebound run`, `rebound scrape`.
    #[default]
    Manual,
    /// `rebound backfill`, or a backfill run a worker took from the queue.
    Backfill,
    /// A request to an API (reserved: nothing starts runs that way yet).
    Api,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Backfill => "backfill",
            Trigger::Api => "api",
        }
    }
}

/// The resolved `[handoff]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffSettings {
    /// `[handoff.sinks.NAME]`, by name. The outbox is always a sink besides these.
    pub sinks: BTreeMap<String, HandoffSink>,
    /// How long commands a person runs wait at their end for publishing.
    pub publish_wait: Duration,
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            sinks: BTreeMap::new(),
            publish_wait: DEFAULT_PUBLISH_WAIT,
        }
    }
}

/// What a hand-off sink speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffSinkKind {
    /// An HTTP POST of the JSON message.
    Webhook,
    /// A JetStream publish of the JSON message (`Nats-Msg-Id: event_id`).
    Nats,
}

impl HandoffSinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffSinkKind::Webhook => "webhook",
            HandoffSinkKind::Nats => "nats",
        }
    }
}

/// One `[handoff.sinks.NAME]`.
#[derive(Clone, PartialEq)]
pub struct HandoffSink {
    pub name: String,
    pub kind: HandoffSinkKind,
    /// A secret: never printed; `Debug` hides it.
    pub url: String,
    /// Key of the HMAC-SHA256 signature header, when set. A secret too.
    pub signing_secret: Option<String>,
    /// Dataset globs (`*`, `?`); empty means every dataset.
    pub datasets: Vec<String>,
    /// The statuses sent; by default all four of [`EVENT_STATUSES`].
    pub statuses: Vec<ScraperStatus>,
    pub timeout: Duration,
    /// Subject, stream and acknowledgements of a `kind = "nats"` sink;
    /// `None` for webhooks.
    pub nats: Option<NatsSink>,
}

impl HandoffSink {
    /// Whether an event of `dataset` with `status` goes to this sink.
    pub fn wants(&self, dataset: &str, status: &str) -> bool {
        let status_ok = self.statuses.iter().any(|s| s.as_str() == status);
        let dataset_ok =
            self.datasets.is_empty() || self.datasets.iter().any(|g| glob_match(g, dataset));
        status_ok && dataset_ok
    }
}

impl std::fmt::Debug for HandoffSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoffSink")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"***")
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "***"),
            )
            .field("datasets", &self.datasets)
            .field("statuses", &self.statuses)
            .field("timeout", &self.timeout)
            .field("nats", &self.nats)
            .finish()
    }
}

/// Matches `text` against a glob where `*` is any run of characters
/// (also none) and `?` one character; everything else is literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point (the last `*`): linear
    // enough for config globs, and no recursion to blow the stack.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_stars_and_question_marks() {
        let cases = [
            ("*", "", true),
            ("*", "boxscores", true),
            ("box*", "boxscores", true),
            ("box*", "odds", false),
            ("*.props", "odds.props", true),
            ("*.props", "odds.propsx", false),
            ("odds.?vents", "odds.events", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                glob_match(pattern, text),
                expected,
                "{pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn only_outcomes_make_events() {
        assert!(makes_event(ScraperStatus::Success));
        assert!(makes_event(ScraperStatus::Overdue));
        assert!(!makes_event(ScraperStatus::Skipped));
        assert!(!makes_event(ScraperStatus::NotYetAvailable));
    }

    #[test]
    fn a_sink_filters_by_dataset_glob_and_status() {
        let sink = HandoffSink {
            name: "hook".into(),
            kind: HandoffSinkKind::Webhook,
            url: "https://secret.example/x".into(),
            signing_secret: Some("key".into()),
            datasets: vec!["box*".into()],
            statuses: vec![ScraperStatus::Success],
            timeout: DEFAULT_HANDOFF_TIMEOUT,
            nats: None,
        };
        assert!(sink.wants("boxscores", "success"));
        assert!(!sink.wants("boxscores", "failed"));
        assert!(!sink.wants("odds", "success"));
        let debug = format!("{sink:?}");
        assert!(
            !debug.contains("secret.example") && !debug.contains("\"key\""),
            "{debug}"
        );
    }
}
