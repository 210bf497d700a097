//! The hand-off outbox (`completion_events`, `completion_acks`, migration
//! 0013): one completion event per recorded call, written in the call's
//! own transaction by [`crate::Store::record_call_with_event`], then
//! published to the configured sinks and acknowledged by consumers.
//!
//! An event is `pending` until every sink that wants it accepted it, then
//! `published`; a consumer's acknowledgement (a `completion_acks` row,
//! `rebound events ack`) makes it `acknowledged`, whatever it was before,
//! and nothing moves it back. `unacknowledged` belongs to the reconciler
//! ([`EventStore::reconcile_events`], migration 0016): with `[handoff]
//! ack_required`, a `published` event still unacknowledged
//! `redeliver_after` after its last delivery goes back to `pending` (its
//! message's `delivery` now `"redelivery"`, every sink again) at most
//! `max_redeliveries` times, and then becomes `unacknowledged`. The storm
//! guard runs in the same transaction: when too many of the events that
//! came due in the last hour are unacknowledged, nothing is sent again.
//!
//! Publishing keeps the order of a dataset's events: an event is claimed
//! only when no earlier pending event of its dataset is waiting for a
//! retry or held by another publisher ([`EventStore::claim_pending_events`]),
//! so one failing event holds back the later ones of its dataset, and no
//! other dataset.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The states of an event, as stored in `completion_events.state`.
pub const EVENT_STATES: [&str; 4] = ["pending", "published", "acknowledged", "unacknowledged"];

/// The event of one call, written with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCompletionEvent {
    /// UUIDv7 text: the key consumers dedupe on.
    pub event_id: String,
    pub created_at: DateTime<Utc>,
    /// The call's dataset (publishing keeps order per dataset).
    pub dataset: String,
    /// The call's status (`success`, `no_data`, `failed`, `overdue`).
    pub status: String,
    /// The message, a JSON object text (already redacted).
    pub payload: String,
}

/// A `completion_events` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionEventRow {
    pub event_id: String,
    /// The call's `scraper_execution_log.id`.
    pub scraper_execution_id: i64,
    pub created_at: DateTime<Utc>,
    pub dataset: String,
    pub status: String,
    pub payload: String,
    /// One of [`EVENT_STATES`].
    pub state: String,
    /// Delivery rounds tried (each posts to every sink still missing it).
    pub deliveries: i64,
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// Times the reconciler sent it again (migration 0016).
    pub redeliveries: i64,
    /// Why the last round did not publish it, naming sinks, never URLs.
    pub last_error: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When a publisher may (re)try it: a retry's backoff, or the end of
    /// another publisher's claim.
    pub next_attempt_at: DateTime<Utc>,
    /// The sinks that accepted it already, by name, so a retry posts only
    /// to the others.
    pub sinks_done: Vec<String>,
}

/// What one delivery round did to a claimed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDelivery {
    /// Every sink that wants it accepted it: `published`.
    Published {
        at: DateTime<Utc>,
        sinks_done: Vec<String>,
    },
    /// Some sink refused it: still `pending`, tried again at `next_attempt_at`.
    Retry {
        at: DateTime<Utc>,
        sinks_done: Vec<String>,
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// Not tried this round, because an earlier event of its dataset
    /// failed: its claim ends at `next_attempt_at` and nothing else changes.
    Held { next_attempt_at: DateTime<Utc> },
}

/// What `ack_events` found for one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckResult {
    /// Acknowledged now.
    Acknowledged,
    /// It was acknowledged before; nothing changed.
    AlreadyAcknowledged,
    /// No event has this id (reported, not an error).
    Unknown,
}

/// What the reconciler is told to do in one round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconcilePolicy {
    /// The round's instant.
    pub now: DateTime<Utc>,
    /// `now - redeliver_after`: a published event last delivered at or
    /// before this is due.
    pub due_before: DateTime<Utc>,
    /// `due_before - 1h`: events that came due after this are the storm
    /// guard's sample.
    pub window_start: DateTime<Utc>,
    /// `max_redeliveries` and the storm guard's settings.
    pub ack: rebound_domain::handoff::AckSettings,
    /// Events changed per round at most (the rest wait for the next one).
    pub limit: u32,
}

impl ReconcilePolicy {
    /// The policy of `ack` at `now`.
    pub fn at(
        now: DateTime<Utc>,
        ack: rebound_domain::handoff::AckSettings,
        limit: u32,
    ) -> ReconcilePolicy {
        let due_before = rebound_domain::duration::sub_saturating(now, ack.redeliver_after);
        let window_start = rebound_domain::duration::sub_saturating(
            due_before,
            rebound_domain::handoff::STORM_WINDOW,
        );
        ReconcilePolicy {
            now,
            due_before,
            window_start,
            ack,
            limit,
        }
    }
}

/// One dataset's events that came due in the storm guard's hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckWindowRow {
    pub dataset: String,
    /// Events last delivered in `(window_start, due_before]`, whatever
    /// their state now.
    pub due: u64,
    /// Of those, the ones not acknowledged.
    pub unacknowledged: u64,
}

/// What one reconciler round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileOutcome {
    /// The storm guard's sample, by dataset.
    pub window: Vec<AckWindowRow>,
    /// The storm guard tripped: nothing was sent again.
    pub storm: bool,
    /// Events sent back to `pending` as redeliveries (ids).
    pub redelivered: Vec<String>,
    /// Events marked `unacknowledged` (ids): out of redeliveries, or held
    /// back by the storm guard.
    pub unacknowledged: Vec<String>,
}

/// The hand-off figures of `rebound health` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandoffSummary {
    pub pending: u64,
    /// `created_at` of the oldest pending event.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// Events in state `unacknowledged`, by dataset (acknowledgements not
    /// yet applied do not count).
    pub unacknowledged: Vec<(String, u64)>,
    /// The newest `last_error`s of pending events with their
    /// `last_delivery_at`, newest first (at most 100): each names its sinks.
    pub pending_errors: Vec<(DateTime<Utc>, String)>,
}

/// Reads and writes of the outbox; see the module doc.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Claims up to `limit` pending events due at `now`, oldest call first,
    /// holding each until `lease_until` (another publisher skips it until
    /// then). An event is due when its `next_attempt_at <= now` and no
    /// earlier pending event of the same dataset is not yet due. Events
    /// acknowledged meanwhile are never claimed.
    async fn claim_pending_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<CompletionEventRow>, StoreError>;

    /// Records a delivery round of a claimed event. A `Published` or
    /// `Retry` counts one delivery; an event acknowledged meanwhile stays
    /// acknowledged (only its delivery columns change).
    async fn record_event_delivery(
        &self,
        event_id: &str,
        delivery: &EventDelivery,
    ) -> Result<(), StoreError>;

    /// Events in `state` (all when `None`), oldest call first, at most
    /// `limit`; acknowledgements waiting in `completion_acks` are applied
    /// first, so the states are current.
    async fn completion_events(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CompletionEventRow>, StoreError>;

    /// Acknowledges events by id at `now`: each known one gets a
    /// `completion_acks` row and the state `acknowledged`. One answer per
    /// id, in order.
    async fn ack_events(
        &self,
        event_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<AckResult>, StoreError>;

    /// Applies the acknowledgements consumers inserted into
    /// `completion_acks` themselves (SQL on the same database): events not
    /// yet acknowledged become `acknowledged`, at the ack row's time.
    /// Returns how many changed.
    async fn apply_acks(&self) -> Result<u64, StoreError>;

    /// One reconciler round at `policy.now`, in one transaction: applies
    /// acknowledgements; counts the storm guard's sample; then, unless the
    /// guard trips, sends due events that have redeliveries left back to
    /// `pending` (`redeliveries + 1`, `sinks_done` emptied, the message's
    /// `delivery` set to `"redelivery"`, due at once) and marks due events
    /// without any left `unacknowledged`. When it trips, every due event is
    /// marked `unacknowledged` and nothing is sent. Safe to run in several
    /// processes at once: each event changes once.
    async fn reconcile_events(
        &self,
        policy: &ReconcilePolicy,
    ) -> Result<ReconcileOutcome, StoreError>;

    /// The storm guard's sample at `policy` without changing anything
    /// (`rebound health`); acknowledgements waiting in `completion_acks`
    /// count as acknowledged.
    async fn ack_window(&self, policy: &ReconcilePolicy) -> Result<Vec<AckWindowRow>, StoreError>;

    /// Pending count and age, unacknowledged events per dataset, and the
    /// errors of pending events; read only.
    async fn handoff_summary(&self) -> Result<HandoffSummary, StoreError>;

    /// The events of calls whose `target_date` is in `from..=to`, with
    /// `status` when given, oldest call first (`rebound events replay`).
    async fn events_for_dates(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        status: Option<&str>,
    ) -> Result<Vec<CompletionEventRow>, StoreError>;
}

/// `payload` with its `"delivery":"first"` made `"delivery":"redelivery"`.
/// The message is compact JSON that Rebound wrote, in which that text can
/// only be the `delivery` field (a quote inside a string value is always
/// escaped); the last occurrence is taken since `delivery` comes last. A
/// payload without it (already a redelivery) is returned unchanged.
pub fn as_redelivery(payload: &str) -> String {
    const FIRST: &str = "\"delivery\":\"first\"";
    match payload.rfind(FIRST) {
        Some(at) => format!(
            "{}\"delivery\":\"redelivery\"{}",
            &payload[..at],
            &payload[at + FIRST.len()..]
        ),
        None => payload.to_string(),
    }
}

/// `sinks_done` as stored: a JSON array of sink names. Sink names are
/// config names (ASCII letters, digits, `_` and `-`), so they need no
/// escaping; a name with any other character is left out rather than
/// written as broken JSON.
pub fn encode_sink_names(names: &[String]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .map(|n| format!("\"{n}\""))
        .collect();
    format!("[{}]", quoted.join(","))
}

/// The names [`encode_sink_names`] wrote; anything unreadable reads as no
/// name (the sink is then posted to again, which at-least-once allows).
pub fn decode_sink_names(text: &str) -> Vec<String> {
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or("");
    inner
        .split(',')
        .filter_map(|item| {
            let name = item.trim().strip_prefix('"')?.strip_suffix('"')?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redelivery_changes_only_the_delivery_field() {
        let first = r#"{"event_id":"e","params":{"q":"\"delivery\":\"first\""},"delivery":"first","replay_of":null}"#;
        assert_eq!(
            as_redelivery(first),
            r#"{"event_id":"e","params":{"q":"\"delivery\":\"first\""},"delivery":"redelivery","replay_of":null}"#
        );
        assert_eq!(as_redelivery(&as_redelivery(first)), as_redelivery(first));
        assert_eq!(as_redelivery("{}"), "{}");
    }

    #[test]
    fn sink_names_round_trip_and_bad_ones_are_left_out() {
        let names = vec!["hook-a".to_string(), "b_2".to_string()];
        assert_eq!(encode_sink_names(&names), r#"["hook-a","b_2"]"#);
        assert_eq!(decode_sink_names(&encode_sink_names(&names)), names);
        assert_eq!(encode_sink_names(&[]), "[]");
        assert!(decode_sink_names("[]").is_empty());
        assert!(decode_sink_names("garbage").is_empty());
        assert_eq!(
            encode_sink_names(&["ok".into(), "x\"y".into()]),
            r#"["ok"]"#
        );
    }
}
