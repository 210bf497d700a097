//! The health report model. Every section is computed for one instant
//! (`generated_at`) and one look-back period (`since`); levels order as
//! `ok < warning < critical`, and the report's level is the worst of its
//! parts (which is also the exit code of `rebound health`: 0, 1, 2).

use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::outcome::ErrorKind;
use serde::Serialize;

/// How bad something is. Ordered: `Ok < Warning < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Ok,
    Warning,
    Critical,
}

impl Level {
    /// `ok`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    /// The exit code of `rebound health`: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    pub generated_at: DateTime<Utc>,
    /// Start of the look-back period (`--since`).
    pub since: DateTime<Utc>,
    /// Worst level of all sections.
    pub level: Level,
    pub sources: Vec<SourceHealth>,
    pub scrapers: Vec<ScraperHealth>,
    pub workflows: Vec<WorkflowHealth>,
    pub error_coverage: ErrorCoverage,
    pub retries: Retries,
    pub datasets: Vec<DatasetHealth>,
    /// The hand-off to downstream consumers (completion events).
    pub handoff: HandoffHealth,
    /// Open alert incidents (filled by the alerts layer; empty when none).
    pub alerts: Vec<IncidentSummary>,
}

/// Result of a source's configured health probe.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProbeResult {
    pub ok: bool,
    /// HTTP status, when a response came back.
    pub http_status: Option<u16>,
    /// Answered 429: the host is up and throttles us (we met its rate
    /// limit), which is not an outage. The source is then WARNING, not
    /// CRITICAL, and `source_unhealthy` does not fire for it; the breaker
    /// takes it as an answer (`rebound_engine::breaker`). On New Year's
    /// Eve the Odds API's probes, throttled at random, opened and recovered
    /// `source_unhealthy` a dozen times in one evening.
    pub throttled: bool,
    /// Why it failed (redacted), when it did.
    pub error: Option<String>,
    /// What kind of failure it was, when it was one, named as a call's
    /// failure kinds are (`protocol`, `timeout`, `connect`, `server`, …):
    /// the fetcher's classification of the probe's answer, not a guess from
    /// the message. A probe without an HTTP status (a malformed answer, a
    /// redirect loop) once read `connect` in the breaker whatever it was.
    /// `None` when it is ok, or when the prober did not say.
    #[serde(serialize_with = "kind_name")]
    #[schema(value_type = Option<String>, example = "protocol")]
    pub failure_kind: Option<ErrorKind>,
    pub duration_ms: i64,
}

fn kind_name<S: serde::Serializer>(kind: &Option<ErrorKind>, out: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(kind) => out.serialize_some(kind.as_str()),
        None => out.serialize_none(),
    }
}

impl ProbeResult {
    /// A probe's result; `throttled` follows from `ok` and the status, and
    /// so does `failure_kind` of a wrong status (by its class, as for a
    /// call); a failure without a status has no kind until
    /// [`ProbeResult::with_failure_kind`] gives it the prober's.
    pub fn new(
        ok: bool,
        http_status: Option<u16>,
        error: Option<String>,
        duration_ms: i64,
    ) -> ProbeResult {
        ProbeResult {
            ok,
            http_status,
            throttled: !ok && http_status == Some(429),
            error,
            failure_kind: match ok {
                true => None,
                false => http_status.map(ErrorKind::of_probe_status),
            },
            duration_ms,
        }
    }

    /// The result with the failure kind its prober classified (kept only
    /// for a failure).
    pub fn with_failure_kind(mut self, kind: Option<ErrorKind>) -> ProbeResult {
        if !self.ok {
            self.failure_kind = kind.or(self.failure_kind);
        }
        self
    }

    /// Failing as an outage does: not the expected answer, and not a 429.
    pub fn failing(&self) -> bool {
        !self.ok && !self.throttled
    }
}

/// A source's request quota, as used in its current period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QuotaHealth {
    pub period_start: DateTime<Utc>,
    pub resets_at: DateTime<Utc>,
    pub used: i64,
    pub limit: i64,
    /// `used / limit`, a fraction 0.0..=1.0 (or the upstream's own figure
    /// when it reported fewer remaining); `*_rate` like every fraction in
    /// JSON (docs/output.md).
    pub used_rate: f64,
}

/// One upstream source.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SourceHealth {
    pub name: String,
    pub level: Level,
    /// `None` when the source has no `health` probe configured.
    pub probe: Option<ProbeResult>,
    /// `closed`, `open` or `half_open`.
    pub breaker: String,
    /// Since when it is in its state: an open breaker since it opened after
    /// it was last closed (a failed trial re-opening it keeps that), a
    /// half-open or closed one since its newest transition.
    pub breaker_since: Option<DateTime<Utc>>,
    /// While the breaker is open or half-open: when it opened after it was
    /// last closed, which neither a failed trial re-opening it nor its
    /// going half-open moves; `None` while closed. The outage's start as
    /// the breaker saw it, from which `source_unhealthy` dates an outage
    /// (`breaker_since` of a half-open breaker says when it went half-open).
    pub breaker_opened_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When the current run of failures started (the first failed call
    /// after the last successful one), while the newest call failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Calls in the period (not counting skipped ones).
    pub calls: i64,
    pub failed: i64,
    /// `failed / calls`, 0.0 when there were no calls.
    pub failure_rate: f64,
    pub quota: Option<QuotaHealth>,
    /// The source's proxies in config order (empty without `proxy` /
    /// `proxies`), each named by its place, never by its URL.
    pub proxies: Vec<ProxyHealth>,
    /// Since when the health probe has been failing, as the source's
    /// circuit breaker recorded it (`follow_health`); `None` while it
    /// answers, or when no probe result reached the breaker.
    pub probe_failing_since: Option<DateTime<Utc>>,
}

/// One proxy of a source: its breaker as its recorded attempts leave it
/// (the live breakers are per process; see `docs/resilience.md`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProxyHealth {
    /// 1-based: its place in the source's `proxies` (the `proxy` column of
    /// `scraper_attempts`).
    pub index: u32,
    /// `closed` or `open` (skipped until `open_until`).
    pub state: String,
    /// Failures of this proxy in a row, up to its newest attempt.
    pub consecutive_failures: u32,
    pub open_until: Option<DateTime<Utc>>,
    /// When its newest recorded attempt finished.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// One scraper.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScraperHealth {
    pub name: String,
    pub source: String,
    pub dataset: String,
    pub level: Level,
    /// Calls in the period (all statuses).
    pub runs: i64,
    /// Calls that ended `failed` (a call that succeeded after retries is
    /// not a failure; no_data and not-yet-available are not failures).
    pub failures: i64,
    /// Of those failures, the calls held back before their request by
    /// their source's limits (a pause a 429's `Retry-After` asked for, the
    /// source's `rate`): the source made Rebound wait, the scraper did not
    /// fail. They neither raise the scraper's level nor count in its
    /// streak; the source's figures and the source's level say it.
    pub deferred: i64,
    pub no_data: i64,
    pub not_yet_available: i64,
    pub overdue: i64,
    pub skipped: i64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Newest calls that failed (or were overdue) in a row, skipped and
    /// deferred ones passed over.
    pub consecutive_failures: i64,
    /// Open (unreleased) entity lockouts of this scraper.
    pub locked_out: i64,
    /// Distinct entities (fan-out parameter values) called in the period;
    /// 0 for scrapers without `for_each`.
    pub entities: i64,
}

/// One workflow: its current streak and its daily table.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkflowHealth {
    pub name: String,
    pub level: Level,
    pub last_status: Option<String>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Newest runs that ended failed or partial, in a row.
    pub consecutive_failed: i64,
    /// Start of the oldest run of that streak.
    pub failing_since: Option<DateTime<Utc>>,
    /// Per target date over the last 7 days, newest first.
    pub days: Vec<WorkflowDay>,
    /// The sources of the calls that failed (or were skipped) in the newest
    /// run, when it ended failed or partial; sorted, each once. Alerts
    /// group a workflow that fails only on a down source under that
    /// source's incident (docs/alerts.md).
    pub failing_sources: Vec<String>,
}

/// The original's daily failure-rate table: one workflow, one target date.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkflowDay {
    pub target_date: NaiveDate,
    pub runs: i64,
    pub failed: i64,
    pub partial: i64,
    /// `(failed + partial) / runs`, 0.0..=1.0 to three decimals (0.0
    /// without runs). A fraction like every `*_rate` of the report.
    pub failure_rate: f64,
}

/// Share of failed or partial runs in the period that say why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ErrorCoverage {
    pub failed_or_partial: i64,
    pub with_message: i64,
    /// `with_message / failed_or_partial`, 0.0..=1.0 to three decimals;
    /// 1.0 when there was nothing to cover.
    pub coverage_rate: f64,
}

/// How retries did in the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Retries {
    pub calls: i64,
    pub attempts: i64,
    /// Calls that made more than one attempt.
    pub retried: i64,
    /// Of those, the ones that ended success or no_data.
    pub retried_then_succeeded: i64,
    pub attempts_per_call: f64,
}

/// Freshness and completeness of one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DatasetHealth {
    pub name: String,
    /// Worst of freshness and completeness.
    pub level: Level,
    pub freshness: Freshness,
    pub completeness: Option<Completeness>,
}

/// Age of a dataset's newest real change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Freshness {
    pub level: Level,
    /// When the newest payload that carried records, was not empty and
    /// differed from the previous one was fetched.
    pub last_change_at: Option<DateTime<Utc>>,
    /// When a call of the dataset's scrapers last made a request
    /// (whatever it got); a call a breaker, quota or lockout skipped, or
    /// one its source's limits held back, checked nothing.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Seconds since `last_change_at`; `None` when it never changed.
    pub age_seconds: Option<i64>,
    pub fresh_warn_seconds: Option<i64>,
    pub fresh_error_seconds: Option<i64>,
    /// When its scrapers were first called (their oldest call kept);
    /// `None` with none. A dataset that never changed is graded by the
    /// time since then, so a new pipeline's datasets, or one added to an
    /// old pipeline, are not stale before they could have changed (a
    /// first `serve` sent critical "never changed" alerts within a
    /// minute), and one whose scrapers never ran is not graded.
    pub watched_since: Option<DateTime<Utc>>,
}

/// Expected against collected entities of a fanned-out dataset for one target date.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Completeness {
    pub level: Level,
    pub target_date: NaiveDate,
    pub expected: i64,
    pub collected: i64,
    /// Expected ids without a successful call.
    pub missing: Vec<String>,
    /// The earliest deadline among the missing ones (event start + `after_event_start`).
    pub deadline: Option<DateTime<Utc>>,
    /// The missing ids whose deadline has passed.
    pub overdue: Vec<String>,
    /// Why expected entities are unknown (calendar without data or
    /// unreadable); `None` when the calendar was read.
    pub error: Option<String>,
}

/// An open alert incident, as shown in the report's `alerts` section.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IncidentSummary {
    /// e.g. `source_unhealthy`, `dataset_stale`.
    pub condition: String,
    /// What it is about: a source, dataset, workflow or scraper name.
    pub subject: String,
    pub level: Level,
    pub opened_at: DateTime<Utc>,
    pub summary: String,
}

/// The hand-off section: completion events still to send, events no
/// consumer acknowledged, and the storm guard.
#[derive(Debug, Clone, PartialEq, Serialize, Default, utoipa::ToSchema)]
pub struct HandoffHealth {
    pub level: Level,
    /// `[handoff] ack_required`.
    pub ack_required: bool,
    /// Events not yet accepted by every sink that wants them.
    pub pending: u64,
    /// Seconds since the oldest pending event's call finished.
    pub oldest_pending_age_seconds: Option<i64>,
    /// Events in state `unacknowledged`, by dataset.
    pub unacknowledged: Vec<DatasetCount>,
    /// Every configured sink, with the newest error of a pending event
    /// that names it (none when it takes everything).
    pub sinks: Vec<HandoffSinkHealth>,
    /// Set while the storm guard holds redeliveries back.
    pub not_acknowledging: Option<NotAcknowledging>,
}

/// A count for one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DatasetCount {
    pub dataset: String,
    pub count: u64,
}

/// One `[handoff.sinks.NAME]`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HandoffSinkHealth {
    pub name: String,
    pub kind: String,
    /// The newest publish error naming this sink among pending events.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The storm guard's finding: of `due` events that came due in the last
/// hour, `unacknowledged` were not acknowledged (more than `storm_ratio`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NotAcknowledging {
    pub due: u64,
    pub unacknowledged: u64,
    /// Datasets with unacknowledged events in that hour.
    pub datasets: Vec<String>,
    /// The sinks that take those datasets' events.
    pub sinks: Vec<String>,
}
