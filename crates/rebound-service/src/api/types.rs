//! The documents of the JSON API, one typed struct each, with their OpenAPI
//! schema derived beside them (utoipa) so the description cannot drift from
//! what is served.
//!
//! They are also what the CLI's `--json` prints (`rebound status`,
//! `breakers`, `quotas`, `lockouts`, `alerts`, `plan`, `run`, `scrape`,
//! `freshness`): the rows were `serde_json::json!` literals in the CLI, and
//! moved here so a field added to one is added to both. Field names and
//! value formats are those the CLI always printed (a contract for users'
//! scripts): instants RFC 3339 in UTC, at seconds or milliseconds as each
//! field always was, enum values lowercase.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rebound_domain::breaker::{BreakerState, Phase};
use rebound_domain::plan::Source;
use rebound_engine::{CallReport, FanoutSummary, RunReport};
use rebound_health::{DatasetHealth, Level, ProxyHealth, SourceHealth};
use rebound_storage::{
    AlertIncidentRow, AlertRow, AttemptRow, DecisionRow, LockoutRow, ScraperCallRow,
    WorkflowExecutionRow,
};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Instants as `2026-11-28T07:56:00Z` (RFC 3339, UTC, whole seconds).
pub(crate) mod secs {
    use super::*;

    pub(crate) fn text(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    pub(crate) fn serialize<S: serde::Serializer>(
        t: &DateTime<Utc>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(t))
    }

    pub(crate) mod option {
        use super::*;

        pub(crate) fn serialize<S: serde::Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&text(t)),
                None => s.serialize_none(),
            }
        }
    }
}

/// Instants as `2026-11-28T07:56:00.123Z` (milliseconds): run and call
/// start times, where order within a second matters.
pub(crate) mod millis {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(
        t: &DateTime<Utc>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

/// An RFC 9457 problem document: every error the API answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase, e.g. "Not Found".
    pub title: String,
    /// The HTTP status code, repeated.
    pub status: u16,
    /// What went wrong with this request and how to fix it.
    pub detail: String,
}

/// `GET /api/v1/freshness` and `rebound freshness --json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FreshnessReport {
    /// Whole seconds, like every time in JSON (docs/output.md).
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: DateTime<Utc>,
    /// The worst level of the datasets.
    pub level: Level,
    pub datasets: Vec<DatasetHealth>,
}

/// One source's breaker, as `rebound breakers --json` prints it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakerView {
    pub source: String,
    /// False when the source's breaker is switched off in the config.
    pub enabled: bool,
    /// `closed`, `open` or `half_open`.
    pub state: String,
    /// When it took its current state: an open breaker when it opened
    /// after it was last closed (kept when a failed trial re-opens it), a
    /// half-open one when it went half-open; null while closed. (A
    /// half-open breaker read the time it had opened, days earlier after
    /// a long outage, while `rebound health` said when it went half-open.)
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<DateTime<Utc>>,
    /// When the outage's breaker opened: kept while it moves between open
    /// and half-open; null while closed.
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub opened_at: Option<DateTime<Utc>>,
    pub open_reason: Option<String>,
    pub trips: i64,
    pub consecutive_failures: i64,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_failure_kind: Option<String>,
    pub last_failure_message: Option<String>,
    /// When an open breaker lets a probe call through.
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_probe: Option<DateTime<Utc>>,
    /// Since when the source's health probe has been failing, while it
    /// fails (`follow_health`): an open breaker lets no trial call through
    /// until the probe answers.
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub probe_failing_since: Option<DateTime<Utc>>,
    pub proxies: Vec<BreakerProxyView>,
}

/// One proxy of a source in [`BreakerView`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakerProxyView {
    /// 1-based place in the source's `proxies`.
    pub index: u32,
    /// `closed` or `open`.
    pub state: String,
    pub consecutive_failures: u32,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub open_until: Option<DateTime<Utc>>,
}

impl BreakerView {
    /// A source's breaker from its stored state (closed when none is);
    /// `half_open_since` is its newest transition's time, for a half-open
    /// one (the stored state keeps only when it opened).
    pub fn new(
        source: &Source,
        stored: Option<&BreakerState>,
        half_open_since: Option<DateTime<Utc>>,
        proxies: &[ProxyHealth],
    ) -> Self {
        let state = stored.cloned().unwrap_or_default();
        let (since, opened_at) = match state.phase {
            Phase::Closed => (None, None),
            Phase::Open => (state.opened_at, state.opened_at),
            Phase::HalfOpen => (half_open_since.or(state.opened_at), state.opened_at),
        };
        BreakerView {
            source: source.name.clone(),
            enabled: source.breaker.enabled,
            state: state.phase.as_str().to_string(),
            since,
            opened_at,
            next_probe: state.next_probe(&source.breaker),
            probe_failing_since: state.health_failing_since,
            open_reason: state.open_reason,
            trips: i64::from(state.trips),
            consecutive_failures: i64::from(state.consecutive_failures),
            last_failure_at: state.last_failure_at,
            last_failure_kind: state.last_failure_kind.map(|k| k.as_str().to_string()),
            last_failure_message: state.last_failure_message,
            proxies: proxies
                .iter()
                .map(|p| BreakerProxyView {
                    index: p.index,
                    state: p.state.clone(),
                    consecutive_failures: p.consecutive_failures,
                    open_until: p.open_until,
                })
                .collect(),
        }
    }
}

/// One source's request quota in its current period, as `rebound quotas
/// --json` prints it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaView {
    pub source: String,
    /// `day`, `month`, …: the period the limit is per.
    pub per: String,
    pub limit: u64,
    /// Requests used in the period (the upstream's own count when it
    /// reported a lower remaining).
    pub used: u64,
    /// Requests this pipeline counted itself.
    pub counted: u64,
    pub remaining: u64,
    pub remaining_reported: Option<u64>,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub period_start: DateTime<Utc>,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub resets_at: DateTime<Utc>,
    /// `ok`, `warning` or `exhausted`.
    pub state: String,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub warned_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/sources`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourcesReport {
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: DateTime<Utc>,
    /// Start of the period the call counts and failure rates cover.
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub since: DateTime<Utc>,
    pub sources: Vec<SourceView>,
}

/// One source: its health (calls, failure rate, proxies, quota share), its
/// breaker and its quota.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    pub name: String,
    pub health: SourceHealth,
    pub breaker: BreakerView,
    /// Null for a source without `quota`.
    pub quota: Option<QuotaView>,
}

/// One entity lockout, as `rebound lockouts --json` prints it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockoutView {
    pub scraper: String,
    pub entity: String,
    /// `locked` until `until`, then `expired`.
    pub state: String,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub locked_at: DateTime<Utc>,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub until: DateTime<Utc>,
    pub consecutive: i64,
    pub reason: String,
    pub source_hash: Option<String>,
}

impl LockoutView {
    pub fn new(row: &LockoutRow, now: DateTime<Utc>) -> Self {
        LockoutView {
            scraper: row.scraper_name.clone(),
            entity: row.entity.clone(),
            state: if row.until > now { "locked" } else { "expired" }.to_string(),
            locked_at: row.locked_at,
            until: row.until,
            consecutive: row.consecutive,
            reason: row.reason.clone(),
            source_hash: row.source_hash.clone(),
        }
    }
}

/// `GET /api/v1/lockouts` and `rebound lockouts --json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockoutsReport {
    /// Per scraper with a `lockout` rule: entities locked now.
    pub counts: BTreeMap<String, usize>,
    pub lockouts: Vec<LockoutView>,
}

/// An alert incident, as `rebound alerts --json` prints it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentView {
    pub id: i64,
    pub condition: String,
    pub subject: String,
    pub level: String,
    pub peak_level: String,
    pub summary: String,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub opened_at: DateTime<Utc>,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: DateTime<Utc>,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_notified_at: Option<DateTime<Utc>>,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The incident this one is caused by (`source_unhealthy balldontlie`)
    /// while it is grouped under it, its notices suppressed; `null` for an
    /// incident announced on its own (docs/alerts.md).
    pub caused_by: Option<String>,
}

impl From<&AlertIncidentRow> for IncidentView {
    fn from(i: &AlertIncidentRow) -> Self {
        IncidentView {
            id: i.id,
            condition: i.condition.clone(),
            subject: i.subject.clone(),
            level: i.level.clone(),
            peak_level: i.peak_level.clone(),
            summary: i.summary.clone(),
            opened_at: i.opened_at,
            last_seen_at: i.last_seen_at,
            last_notified_at: i.last_notified_at,
            resolved_at: i.resolved_at,
            caused_by: i.caused_by.clone(),
        }
    }
}

/// One notification of an incident, as `rebound alerts --json` prints it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub incident_id: i64,
    pub condition: String,
    pub subject: String,
    pub sink: String,
    /// `opened`, `escalated`, `reminder` or `resolved`.
    pub event: String,
    pub level: String,
    pub message: String,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub delivery_status: String,
    pub attempts: i64,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl From<&AlertRow> for NotificationView {
    fn from(a: &AlertRow) -> Self {
        NotificationView {
            id: a.id,
            incident_id: a.incident_id,
            condition: a.condition.clone(),
            subject: a.subject.clone(),
            sink: a.sink.clone(),
            event: a.event.clone(),
            level: a.level.clone(),
            message: a.message.clone(),
            created_at: a.created_at,
            delivery_status: a.delivery_status.clone(),
            attempts: a.attempts,
            next_attempt_at: a.next_attempt_at,
            delivered_at: a.delivered_at,
            last_error: a.last_error.clone(),
        }
    }
}

/// `GET /api/v1/alerts` and `rebound alerts --json` (redacted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertsReport {
    pub open: Vec<IncidentView>,
    /// Incidents resolved in the last 7 days.
    pub recent_incidents: Vec<IncidentView>,
    /// The newest notifications, newest first.
    pub notifications: Vec<NotificationView>,
}

/// One decision of `rebound plan` (what the schedule would decide).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlannedDecisionView {
    pub workflow: String,
    #[serde(with = "secs")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// `run`, `skip` or `abort`.
    pub action: String,
    pub reason: String,
    pub target_date: NaiveDate,
    pub entities: Vec<String>,
    pub slot: String,
    pub alert_level: String,
    /// When the retries of this slot would run if it failed.
    #[schema(value_type = Vec<String>)]
    pub retries_if_failed: Vec<String>,
}

impl From<&rebound_schedule::PlannedDecision> for PlannedDecisionView {
    fn from(d: &rebound_schedule::PlannedDecision) -> Self {
        PlannedDecisionView {
            workflow: d.workflow.clone(),
            at: d.at.with_timezone(&Utc),
            action: d.action.as_str().to_ascii_lowercase(),
            reason: d.reason.clone(),
            target_date: d.target_date,
            entities: d.entities.clone(),
            slot: d.slot.clone(),
            alert_level: d.alert_level.as_str().to_ascii_lowercase(),
            retries_if_failed: d
                .retries_if_failed
                .iter()
                .map(|at| secs::text(&at.with_timezone(&Utc)))
                .collect(),
        }
    }
}

/// `GET /api/v1/plan`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanReport {
    pub date: NaiveDate,
    pub decisions: Vec<PlannedDecisionView>,
    /// Calendars without a stored payload, planned as if they had no events.
    pub calendars_without_data: Vec<String>,
}

/// One decision the scheduler recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionView {
    pub decision_id: String,
    pub workflow: String,
    pub decided_at: DateTime<Utc>,
    pub slot: String,
    pub target_date: NaiveDate,
    /// `run`, `skip` or `abort`.
    pub action: String,
    pub reason: String,
    pub entities: Vec<String>,
    pub alert_level: String,
    /// The run it queued, for a RUN.
    pub execution_id: Option<String>,
    pub decided_by: String,
}

impl DecisionView {
    /// A stored decision. Its `entities` is the JSON array of ids the
    /// scheduler writes; anything else is an error naming the decision and
    /// what it holds (it read as no entities at all, as if the RUN had
    /// covered none).
    pub fn from_row(d: &DecisionRow) -> Result<DecisionView, String> {
        let entities = serde_json::from_str(&d.entities).map_err(|e| {
            format!(
                "decision {}: column entities holds {:?}, not a JSON array of entity ids ({e})",
                d.decision_id,
                rebound_domain::message::truncate_chars(&d.entities, 200)
            )
        })?;
        Ok(DecisionView {
            decision_id: d.decision_id.clone(),
            workflow: d.workflow_name.clone(),
            decided_at: d.decided_at,
            slot: d.slot.clone(),
            target_date: d.target_date,
            action: d.action.to_ascii_lowercase(),
            reason: d.reason.clone(),
            entities,
            alert_level: d.alert_level.to_ascii_lowercase(),
            execution_id: d.execution_id.clone(),
            decided_by: d.decided_by.clone(),
        })
    }
}

/// `GET /api/v1/decisions` and `POST /api/v1/evaluate`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionsReport {
    pub decisions: Vec<DecisionView>,
}

/// A workflow run as stored, as `rebound status --json` prints it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionView {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    /// When it started.
    #[serde(with = "millis")]
    #[schema(value_type = String, format = DateTime)]
    pub execution_time: DateTime<Utc>,
    #[serde(with = "millis")]
    #[schema(value_type = String, format = DateTime)]
    pub finished_at: DateTime<Utc>,
    /// `running`, `success`, `partial`, `failed`, `no_data`, …
    pub status: String,
    pub scrapers_requested: i64,
    pub scrapers_succeeded: i64,
    pub scrapers_failed: i64,
    pub scrapers_no_data: i64,
    pub scrapers_skipped: i64,
    pub error_message: Option<String>,
    pub error_kind: Option<String>,
    pub duration_ms: i64,
}

impl From<&WorkflowExecutionRow> for ExecutionView {
    fn from(row: &WorkflowExecutionRow) -> Self {
        ExecutionView {
            execution_id: row.execution_id.clone(),
            workflow_name: row.workflow_name.clone(),
            target_date: row.target_date,
            execution_time: row.execution_time,
            finished_at: row.finished_at,
            status: row.status.clone(),
            scrapers_requested: row.scrapers_requested,
            scrapers_succeeded: row.scrapers_succeeded,
            scrapers_failed: row.scrapers_failed,
            scrapers_no_data: row.scrapers_no_data,
            scrapers_skipped: row.scrapers_skipped,
            error_message: row.error_message.clone(),
            error_kind: row.error_kind.clone(),
            duration_ms: row.duration_ms,
        }
    }
}

/// A call as stored, as `rebound status --json` prints it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallView {
    pub id: i64,
    pub scraper_name: String,
    pub source_name: String,
    /// The call's parameters (an object of strings).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub target_date: NaiveDate,
    pub status: String,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    #[serde(with = "millis")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub output_uri: Option<String>,
}

impl From<&ScraperCallRow> for CallView {
    fn from(row: &ScraperCallRow) -> Self {
        CallView {
            id: row.id,
            scraper_name: row.scraper_name.clone(),
            source_name: row.source_name.clone(),
            params: serde_json::from_str(&row.params)
                .unwrap_or_else(|_| serde_json::Value::String(row.params.clone())),
            target_date: row.target_date,
            status: row.status.clone(),
            attempts: row.attempts,
            http_status: row.http_status,
            error_kind: row.error_kind.clone(),
            error_message: row.error_message.clone(),
            started_at: row.started_at,
            duration_ms: row.duration_ms,
            output_uri: row.output_uri.clone(),
        }
    }
}

/// `rebound status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub workflow_executions: Vec<ExecutionView>,
    pub standalone_calls: Vec<CallView>,
}

/// One attempt (one HTTP request) of a call.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i64,
    /// The page of a paginated call (1 for the first).
    pub page: i64,
    /// 1-based place of the proxy it went through, if any.
    pub proxy: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// The wait before it (backoff or Retry-After).
    pub delay_before_ms: i64,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        AttemptView {
            attempt: a.attempt,
            page: a.page,
            proxy: a.proxy,
            started_at: a.started_at,
            finished_at: a.finished_at,
            duration_ms: (a.finished_at - a.started_at).num_milliseconds().max(0),
            delay_before_ms: a.delay_before_ms,
            http_status: a.http_status,
            outcome: a.outcome.clone(),
            error_kind: a.error_kind.clone(),
            error_message: a.error_message.clone(),
        }
    }
}

/// A call with its attempts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: CallView,
    pub workflow_name: Option<String>,
    pub execution_id: Option<String>,
    #[serde(with = "millis")]
    #[schema(value_type = String, format = DateTime)]
    pub finished_at: DateTime<Utc>,
    pub attempts_detail: Vec<AttemptView>,
}

/// `GET /api/v1/runs/{execution_id}`: the run, its calls and every attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunDetail {
    pub run: ExecutionView,
    pub calls: Vec<CallDetail>,
}

/// `GET /api/v1/runs`: one page, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunsPage {
    pub runs: Vec<ExecutionView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/calls`: one page, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallsPage {
    pub calls: Vec<CallView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One call as `rebound scrape --json` prints it, and `POST /api/v1/scrape`
/// answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallReportView {
    pub id: i64,
    pub scraper: String,
    pub source: String,
    pub params: BTreeMap<String, String>,
    pub status: String,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error_kind: Option<String>,
    pub message: Option<String>,
    pub duration_ms: i64,
    pub bytes: Option<i64>,
    pub records: Option<usize>,
    pub pages: Option<u32>,
    pub output_uri: Option<String>,
    pub content_hash: Option<String>,
    pub unchanged: bool,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deferred_until: Option<DateTime<Utc>>,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recheck_at: Option<DateTime<Utc>>,
}

impl From<&CallReport> for CallReportView {
    fn from(call: &CallReport) -> Self {
        CallReportView {
            id: call.id,
            scraper: call.scraper.clone(),
            source: call.source.clone(),
            params: call.params.clone(),
            status: call.status.as_str().to_string(),
            attempts: call.attempts,
            http_status: call.http_status,
            error_kind: call.error_kind.map(|k| k.as_str().to_string()),
            message: call.message.clone(),
            duration_ms: call.duration_ms,
            bytes: call.bytes,
            records: call.records,
            pages: call.pages,
            output_uri: call.output_uri.clone(),
            content_hash: call.content_hash.clone(),
            unchanged: call.unchanged,
            deferred_until: call.deferred_until,
            recheck_at: call.recheck_at,
        }
    }
}

/// A fan-out's tally in [`RunReportView`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FanoutView {
    pub scraper: String,
    pub total: u32,
    pub succeeded: u32,
    pub no_data: u32,
    pub failed: u32,
    pub skipped: u32,
    pub note: Option<String>,
}

impl From<&FanoutSummary> for FanoutView {
    fn from(f: &FanoutSummary) -> Self {
        FanoutView {
            scraper: f.scraper.clone(),
            total: f.total,
            succeeded: f.succeeded,
            no_data: f.no_data,
            failed: f.failed,
            skipped: f.skipped,
            note: f.note.clone(),
        }
    }
}

/// A finished workflow run as `rebound run --json` prints it, and `POST
/// /api/v1/workflows/{name}/runs` answers when it finished in time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunReportView {
    pub execution_id: String,
    pub workflow: String,
    pub target_date: NaiveDate,
    pub status: String,
    pub scrapers_requested: usize,
    pub scrapers_succeeded: u32,
    pub scrapers_no_data: u32,
    pub scrapers_failed: u32,
    pub scrapers_skipped: u32,
    pub scrapers_not_yet_available: u32,
    pub scrapers_overdue: u32,
    pub scrapers_locked_out: u32,
    pub error_message: Option<String>,
    #[serde(with = "millis")]
    #[schema(value_type = String, format = DateTime)]
    pub execution_time: DateTime<Utc>,
    pub duration_ms: i64,
    pub scrapers: Vec<CallReportView>,
    pub fanout: Vec<FanoutView>,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub retry_at: Option<DateTime<Utc>>,
    #[serde(with = "secs::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recheck_at: Option<DateTime<Utc>>,
    pub recheck_entities: Option<Vec<String>>,
}

impl From<&RunReport> for RunReportView {
    fn from(report: &RunReport) -> Self {
        RunReportView {
            execution_id: report.execution_id.clone(),
            workflow: report.workflow.clone(),
            target_date: report.target_date,
            status: report.status.as_str().to_string(),
            scrapers_requested: report.calls.len(),
            scrapers_succeeded: report.counts.succeeded,
            scrapers_no_data: report.counts.no_data,
            scrapers_failed: report.counts.failed,
            scrapers_skipped: report.counts.skipped,
            scrapers_not_yet_available: report.counts.not_yet_available,
            scrapers_overdue: report.counts.overdue,
            scrapers_locked_out: report.counts.locked_out,
            error_message: report.error_message.clone(),
            execution_time: report.started_at,
            duration_ms: report.duration_ms,
            scrapers: report.calls.iter().map(CallReportView::from).collect(),
            fanout: report.fanout.iter().map(FanoutView::from).collect(),
            retry_at: report.retry_at,
            recheck_at: report.recheck_at,
            recheck_entities: report.recheck_entities.clone(),
        }
    }
}

/// `202 Accepted` of a run still going: poll `Location`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunAccepted {
    pub execution_id: String,
    /// `/api/v1/runs/{execution_id}`, also in the `Location` header.
    pub location: String,
    pub workflow: String,
    pub target_date: NaiveDate,
}

/// `POST /api/v1/breakers/{source}/reset`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakerReset {
    pub source: String,
    /// False when the breaker was already closed.
    pub reset: bool,
    /// The state it was in: `closed`, `open` or `half_open`.
    pub was: String,
}

/// `POST /api/v1/lockouts/reset`, and `rebound lockouts reset --json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockoutsReleased {
    pub scraper: String,
    /// The entity named, or null for every entity of the scraper.
    pub entity: Option<String>,
    /// How many locks were released. The API answers 0 only when no
    /// entity was named (an entity named without a lock is a 404); the
    /// CLI's `--json` prints 0 for it too, and exits 1.
    pub released: u32,
}
