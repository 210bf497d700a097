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

/// Default `redeliver_after`: how long after its publication an event may
/// stay unacknowledged before the reconciler sends it again. Half an hour
/// is longer than a consumer's normal processing of one file and short
/// enough that a lost message is noticed within the hour.
pub const DEFAULT_REDELIVER_AFTER: Duration = Duration::from_secs(30 * 60);
/// Default `max_redeliveries`: one more try, then `unacknowledged` and a
/// person decides (a consumer that ignored two sendings will ignore more).
pub const DEFAULT_MAX_REDELIVERIES: u32 = 1;
/// Default `storm_ratio`: above this share of unacknowledged events among
/// those that came due in the last hour, the consumer is broken, not lossy.
pub const DEFAULT_STORM_RATIO: f64 = 0.8;
/// Default `storm_min`: below this many events due in the hour, a ratio
/// says too little to stop redelivering (two of two is not a storm).
pub const DEFAULT_STORM_MIN: u32 = 50;
/// The storm guard's look-back: events that came due in the last hour.
pub const STORM_WINDOW: Duration = Duration::from_secs(3600);

/// The acknowledgement settings of `[handoff]` (`ack_required`,
/// `redeliver_after`, `max_redeliveries`, `storm_ratio`, `storm_min`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AckSettings {
    /// `false` (the default): published means done, nothing is redelivered.
    pub ack_required: bool,
    pub redeliver_after: Duration,
    pub max_redeliveries: u32,
    pub storm_ratio: f64,
    pub storm_min: u32,
}

impl Default for AckSettings {
    fn default() -> Self {
        AckSettings {
            ack_required: false,
            redeliver_after: DEFAULT_REDELIVER_AFTER,
            max_redeliveries: DEFAULT_MAX_REDELIVERIES,
            storm_ratio: DEFAULT_STORM_RATIO,
            storm_min: DEFAULT_STORM_MIN,
        }
    }
}

impl AckSettings {
    /// The storm guard: of `due` events that came due in the last hour,
    /// `unacknowledged` are still not acknowledged. A storm is more than
    /// `storm_ratio` of at least `storm_min`: then redelivering would only
    /// repeat the original system's flood of republished messages to a
    /// consumer that is not processing them.
    pub fn is_storm(&self, due: u64, unacknowledged: u64) -> bool {
        due >= u64::from(self.storm_min)
            && due > 0
            && unacknowledged as f64 > self.storm_ratio * due as f64
    }
}

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
    /// Acknowledgement, redelivery and the storm guard.
    pub ack: AckSettings,
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            sinks: BTreeMap::new(),
            publish_wait: DEFAULT_PUBLISH_WAIT,
            ack: AckSettings::default(),
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
    fn a_storm_is_more_than_the_ratio_of_at_least_the_minimum() {
        let s = AckSettings::default();
        assert!(s.is_storm(200, 200));
        assert!(s.is_storm(50, 41));
        assert!(!s.is_storm(50, 40), "exactly 80% is not more than 80%");
        assert!(!s.is_storm(49, 49), "fewer than storm_min events");
        assert!(!s.is_storm(200, 20));
        let zero = AckSettings { storm_min: 0, ..s };
        assert!(!zero.is_storm(0, 0));
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
