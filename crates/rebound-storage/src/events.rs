//! The hand-off outbox (`completion_events`, `completion_acks`, migration
//! 0013): one completion event per recorded call, written in the call's
//! own transaction by [`crate::Store::record_call_with_event`], then
//! published to the configured sinks and acknowledged by consumers.
//!
//! An event is `pending` until every sink that wants it accepted it, then
//! `published`; a consumer's acknowledgement (a `completion_acks` row,
//! `rebound events ack`) makes it `acknowledged`, whatever it was before,
//! and nothing moves it back. `unacknowledged` belongs to the reconciler
//! (not written yet by anything in this crate's callers).
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
