//! The completion event of a call: the one message every consumer reads
//! (`docs/handoff.md`), built here because the engine is where a call's
//! row is decided, and written with that row in one transaction
//! ([`rebound_storage::Store::record_call_with_event`]).
//!
//! One schema serves first deliveries, redeliveries and replays; the
//! `delivery` field says which. The JSON Schema that `rebound events
//! schema` prints is generated from [`CompletionMessage`], so the document
//! and the wire format cannot drift apart. Texts in it (params, error
//! message) are redacted with the plan's `Redactor`, like the call's row.

use rebound_domain::handoff::Trigger;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_storage::{NewCompletionEvent, NewScraperCall};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `schema_version` of [`CompletionMessage`]: raised only when a field
/// changes meaning or goes away; added fields keep it.
pub const SCHEMA_VERSION: u32 = 1;

/// The message of one completed call (`kind` = `"call.completed"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "Rebound completion event")]
pub struct CompletionMessage {
    /// UUIDv7; the idempotency key: a consumer processes each event_id once.
    pub event_id: String,
    pub kind: MessageKind,
    /// 1 for this layout.
    pub schema_version: u32,
    /// `[pipeline] name`.
    pub pipeline: String,
    /// The workflow the call ran in; null for `rebound scrape`.
    pub workflow: Option<String>,
    /// The workflow run (`workflow_executions.execution_id`); null for `rebound scrape`.
    pub execution_id: Option<String>,
    pub scraper: String,
    pub source: String,
    pub dataset: String,
    /// `YYYY-MM-DD`, in the pipeline's time zone.
    pub target_date: String,
    /// The parameters the scraper used, secrets masked as `***`.
    pub params: BTreeMap<String, String>,
    pub status: MessageStatus,
    /// Records in the payload (the scraper's `records` pointer), when known.
    pub record_count: Option<u64>,
    /// The object a consumer should load: null when the call stored none
    /// (failed, or no body).
    pub primary_output: Option<OutputRef>,
    /// Every object the call stored, the primary first.
    pub outputs: Vec<OutputRef>,
    /// True when the payload equals the previous one and was not written
    /// again: `primary_output.uri` is then the earlier object's.
    pub unchanged: bool,
    /// RFC 3339, UTC, milliseconds.
    pub started_at: String,
    /// RFC 3339, UTC, milliseconds.
    pub finished_at: String,
    pub duration_ms: i64,
    /// HTTP attempts made.
    pub attempts: u32,
    /// Why it failed (`server`, `timeout`, `client`, ...); null unless failed or overdue.
    pub error_kind: Option<String>,
    /// What happened, in words (secrets masked).
    pub error_message: Option<String>,
    pub trigger: MessageTrigger,
    pub delivery: MessageDelivery,
    /// For a replay (`delivery = "replay"`): the `event_id` of the event it
    /// re-emits; null otherwise. A replay has an `event_id` of its own.
    #[serde(default)]
    pub replay_of: Option<String>,
}

/// The message kind; one value today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MessageKind {
    #[serde(rename = "call.completed")]
    CallCompleted,
}

/// The call's status: only outcomes make events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Success,
    NoData,
    Failed,
    Overdue,
}

/// What started the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageTrigger {
    Schedule,
    Manual,
    Backfill,
    Api,
}

/// Which sending this is: `first` as written; `redelivery` and `replay`
/// are sent by the reconciler and `rebound events replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageDelivery {
    First,
    Redelivery,
    Replay,
}

/// One stored object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutputRef {
    /// Where the object is (`file://`, `s3://`, `gs://`).
    pub uri: String,
    /// BLAKE3, hex.
    pub content_hash: Option<String>,
    /// Size in bytes.
    pub bytes: Option<i64>,
    /// The response's `Content-Type`, when it sent one.
    pub content_type: Option<String>,
}

/// The JSON Schema of [`CompletionMessage`], for `rebound events schema`.
///
/// schemars lists an `Option` field as optional, but the message always
/// carries every field (`null` when there is no value), and a consumer may
/// rely on that: every property is marked required, here and in the
/// output objects.
pub fn message_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(CompletionMessage).to_value();
    require_every_property(&mut schema);
    schema
}

fn require_every_property(value: &mut serde_json::Value) {
    if let serde_json::Value::Object(map) = value {
        if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
            let names: Vec<serde_json::Value> = properties
                .keys()
                .map(|k| serde_json::Value::String(k.clone()))
                .collect();
            map.insert("required".into(), serde_json::Value::Array(names));
        }
        map.values_mut().for_each(require_every_property);
    }
}

impl MessageStatus {
    fn of(status: ScraperStatus) -> Option<MessageStatus> {
        match status {
            ScraperStatus::Success => Some(MessageStatus::Success),
            ScraperStatus::NoData => Some(MessageStatus::NoData),
            ScraperStatus::Failed => Some(MessageStatus::Failed),
            ScraperStatus::Overdue => Some(MessageStatus::Overdue),
            ScraperStatus::Skipped | ScraperStatus::NotYetAvailable => None,
        }
    }
}

impl From<Trigger> for MessageTrigger {
    fn from(trigger: Trigger) -> Self {
        match trigger {
            Trigger::Schedule => MessageTrigger::Schedule,
            Trigger::Manual => MessageTrigger::Manual,
            Trigger::Backfill => MessageTrigger::Backfill,
            Trigger::Api => MessageTrigger::Api,
        }
    }
}

/// What the call's row does not hold but its message does.
pub(crate) struct EventFacts<'a> {
    pub pipeline: &'a str,
    pub dataset: &'a str,
    /// The used params, already redacted.
    pub params: BTreeMap<String, String>,
    pub record_count: Option<usize>,
    pub content_type: Option<&'a str>,
    pub trigger: Trigger,
}

/// The event of `call`, or `None` when its status is no outcome
/// (`skipped`, `not_yet_available`).
pub(crate) fn completion_event(
    call: &NewScraperCall,
    facts: EventFacts<'_>,
) -> Option<NewCompletionEvent> {
    let status = MessageStatus::of(call.status)?;
    let event_id = uuid::Uuid::now_v7().to_string();
    let primary = call.output_uri.as_ref().map(|uri| OutputRef {
        uri: uri.clone(),
        content_hash: call.content_hash.clone(),
        bytes: call.bytes,
        content_type: facts.content_type.map(str::to_string),
    });
    let message = CompletionMessage {
        event_id: event_id.clone(),
        kind: MessageKind::CallCompleted,
        schema_version: SCHEMA_VERSION,
        pipeline: facts.pipeline.to_string(),
        workflow: call.workflow_name.clone(),
        execution_id: call.execution_id.clone(),
        scraper: call.scraper_name.clone(),
        source: call.source_name.clone(),
        dataset: facts.dataset.to_string(),
        target_date: call.target_date.format("%Y-%m-%d").to_string(),
        params: facts.params,
        status,
        record_count: facts.record_count.map(|n| n as u64),
        // Today a call stores one object, so it is the primary one.
        outputs: primary.iter().cloned().collect(),
        primary_output: primary,
        unchanged: call.unchanged,
        started_at: rfc3339(call.started_at),
        finished_at: rfc3339(call.finished_at),
        duration_ms: call.duration_ms,
        attempts: call.attempts,
        error_kind: call.error_kind.map(ErrorKind::as_str).map(str::to_string),
        error_message: call.error_message.clone(),
        trigger: facts.trigger.into(),
        delivery: MessageDelivery::First,
        replay_of: None,
    };
    // Serializing plain strings, numbers and maps cannot fail; should it,
    // the call is still recorded, without an event, and the log says so.
    let payload = match serde_json::to_string(&message) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(%error, scraper = %call.scraper_name, "Completion event not serialized.");
            return None;
        }
    };
    Some(NewCompletionEvent {
        event_id,
        created_at: call.finished_at,
        dataset: facts.dataset.to_string(),
        status: call.status.as_str().to_string(),
        payload,
    })
}

/// The replay of a stored message: a new `event_id` (UUIDv7), `delivery =
/// "replay"` and `replay_of` naming the original; every other field as
/// stored. Returns the new id and the message. `Err` names what is wrong
/// with a stored payload that does not read as a message.
pub fn replay_message(payload: &str, original_event_id: &str) -> Result<(String, String), String> {
    let mut message: CompletionMessage = serde_json::from_str(payload)
        .map_err(|e| format!("event {original_event_id}: stored message unreadable: {e}"))?;
    message.event_id = uuid::Uuid::now_v7().to_string();
    message.delivery = MessageDelivery::Replay;
    message.replay_of = Some(original_event_id.to_string());
    let text = serde_json::to_string(&message)
        .map_err(|e| format!("event {original_event_id}: replay not serialized: {e}"))?;
    Ok((message.event_id, text))
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
