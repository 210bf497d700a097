//! `[handoff]`: where completion events go (docs/handoff.md).

use super::RawDuration;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[handoff]`: the sinks that receive one completion event per recorded
/// call. The outbox table `completion_events` is always a sink too.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHandoff {
    /// How long `rebound run`, `scrape` and `backfill` wait at their end
    /// for the events they recorded to be published. Default: "10s".
    /// Whatever is left is sent by `rebound serve` or `rebound events publish`.
    pub publish_wait: Option<RawDuration>,
    /// Whether consumers acknowledge events they processed. Default: false
    /// (published means done). When true, the reconciler in `rebound serve`
    /// redelivers events unacknowledged `redeliver_after` after publication.
    pub ack_required: Option<bool>,
    /// How long after publication an event may stay unacknowledged before
    /// it is sent again. Default: "30m".
    pub redeliver_after: Option<RawDuration>,
    /// Redeliveries of one event before it is marked `unacknowledged`. Default: 1.
    pub max_redeliveries: Option<i64>,
    /// Storm guard: above this share of unacknowledged events among those
    /// that came due in the last hour, nothing is redelivered and an alert
    /// opens. Default: 0.8.
    pub storm_ratio: Option<f64>,
    /// Storm guard: the fewest events due in the last hour for the ratio
    /// to count. Default: 50.
    pub storm_min: Option<i64>,
    /// Destinations, by name.
    #[serde(default)]
    pub sinks: BTreeMap<String, RawHandoffSink>,
}

/// `[handoff.sinks.NAME]`: one destination for completion events.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHandoffSink {
    /// "webhook": an HTTP POST of the JSON message with an
    /// `Idempotency-Key` header (the event id). "nats": a JetStream publish
    /// with a `Nats-Msg-Id` header (the event id).
    #[schemars(example = &"webhook")]
    pub kind: String,
    /// Where to POST (webhook) or the NATS server (`nats://host:4222`,
    /// several separated by commas); usually a secret, so write it as
    /// "${HANDOFF_URL}". Never logged or stored.
    #[schemars(example = &"${HANDOFF_URL}")]
    pub url: String,
    /// When set, each POST carries `X-Rebound-Signature: sha256=<hex>`, the
    /// HMAC-SHA256 of the body under this key. Write it as "${VAR}".
    pub signing_secret: Option<String>,
    /// Dataset names or globs (`*`, `?`) sent to this sink. Default: all.
    pub datasets: Option<Vec<String>>,
    /// Call statuses sent: any of "success", "no_data", "failed",
    /// "overdue". Default: all four.
    pub statuses: Option<Vec<String>>,
    /// How long one delivery may take. Default: "10s".
    pub timeout: Option<RawDuration>,
    /// NATS only: the subject template; fields in braces, each value made
    /// one safe token (dots become `_`). Default: "rebound.{dataset}.{status}".
    #[schemars(example = &"rebound.{dataset}.{status}")]
    pub subject: Option<String>,
    /// NATS only: the JetStream stream holding the subjects, created when
    /// missing. Default: "REBOUND".
    pub stream: Option<String>,
    /// NATS only: how long the stream keeps a message, when Rebound creates
    /// it. Default: "7d".
    pub max_age: Option<RawDuration>,
    /// NATS only: the stream's duplicate window (same `Nats-Msg-Id` within
    /// it is stored once), when Rebound creates it. Default: "15m".
    pub dedupe_window: Option<RawDuration>,
    /// NATS only: the subject `rebound serve` listens on for
    /// acknowledgements (an event id, or a JSON list of them). Default:
    /// "rebound.ack".
    pub ack_subject: Option<String>,
}
