//! The history store: one trait, two backends (`rebound-storage-sqlite`,
//! `rebound-storage-postgres`), one conformance suite (`rebound-testkit`).
//!
//! This crate knows no SQL and no driver. Records are plain values; every
//! text in them has already been redacted by the caller (the engine), so a
//! backend never sees a secret.
//!
//! Contract tables (columns may be added, never renamed):
//! `workflow_executions`, `scraper_execution_log`, `scraper_attempts`,
//! `workflow_decisions`; the scheduler's job table `scheduled_runs`; and
//! the hand-off outbox `completion_events` with `completion_acks`.

mod alerts;
mod dashboard;
mod due;
mod events;
mod health;
mod limits;
mod metrics;
mod quota;
mod retention;

pub use alerts::{
    AlertIncidentRow, AlertIncidentUpdate, AlertRow, AlertStamp, AlertStore, CAUSED_BY_PREFIX,
    DELIVERY_STATUSES, DeliveryOutcome, NewAlert, NewAlertIncident,
};
pub use dashboard::{CallHourRow, RunHourRow};
pub use due::{DueSignal, DueWakeups};
pub use events::{
    AckResult, AckWindowRow, CompletionEventRow, EVENT_STATES, EventDelivery, EventStore,
    HandoffSummary, NewCompletionEvent, ReconcileOutcome, ReconcilePolicy, as_redelivery,
    decode_sink_names, encode_sink_names,
};
pub use health::{
    ANSWERED_STATUSES, CallCountRow, ErrorCoverageRow, HealthStore, RetryStatsRow, ScraperLast,
    SourceLast, WorkflowDayRow, WorkflowStreak, exchanges_by_proxy,
};
pub use limits::{BudgetCounts, LimitsStore, SlotTake, SourcePauseRow};
pub use metrics::MetricsStore;
pub use quota::{QuotaKey, QuotaTake, QuotaUsageRow};
pub use retention::{
    DeletedCalls, ExpiredCall, KeptPayload, NumberedCall, PurgeTable, RetentionStore,
};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
pub use rebound_domain::breaker::{BreakerState, Transition};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus, WorkflowStatus};

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or opened.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Schema migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(String),
}

/// The SQL condition on a `scraper_execution_log` row for a call held back
/// before its request by its source's limits ([`CallCountRow::deferred`]):
/// `failed`, no attempt, kind `throttled`. One text for both backends' health
/// queries (the scraper counts, streak and last error), which must agree on
/// which calls are the source's story and not the scraper's failures. Use it
/// inside parentheses, in `concat!`.
#[macro_export]
macro_rules! deferred_call_sql {
    () => {
        "status = 'failed' AND attempts = 0 AND COALESCE(error_kind, '') = 'throttled'"
    };
}

/// A count stored as a signed integer (`trips`, `streak`, …) read back as
/// the `u32` it was written from. A value a hand edit or another tool left
/// negative or too large is brought into range (0, or `u32::MAX`) with a
/// warning naming the row (`row`, e.g. `circuit_breaker_state of source
/// "api"`) and the column. Read wrapped, `trips = -2` showed 4294967294 and
/// a negative `streak` doubled the open period; refused as an error, one
/// bad row failed every read of the breakers (`rebound health` UNKNOWN,
/// every call of the source), and no command could repair the row.
pub fn stored_count(value: i64, row: &str, column: &str) -> u32 {
    u32::try_from(value).unwrap_or_else(|_| {
        let clamped = if value < 0 { 0 } else { u32::MAX };
        tracing::warn!(
            row,
            column,
            value,
            read_as = clamped,
            "A stored count is out of range; read as the nearest count, which the row's next change writes back."
        );
        clamped
    })
}

/// Why a database cannot be used when its schema records a migration
/// `found` beyond the newest this binary knows (`known`): a newer Rebound
/// wrote it. sqlx says "migration N was previously applied but is missing
/// in the resolved migrations", which reads as a broken install.
/// `None` for a missing migration at or below `known` (a real gap).
pub fn newer_schema(database: &str, found: i64, known: i64) -> Option<StoreError> {
    (found > known).then(|| {
        StoreError::Migration(format!(
            "{database} was written by a newer Rebound: its schema is at migration {found}, and this rebound knows migrations up to {known}; upgrade rebound, or point `database` at another database"
        ))
    })
}

/// One HTTP attempt of a scraper call.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttempt {
    /// 1-based, counted over the whole call (every page's attempts).
    pub attempt: u32,
    /// The page this request fetched, 1-based; 1 for a call without
    /// pagination.
    pub page: u32,
    /// The proxy this request went through, 1-based (its place in the
    /// source's `proxies`); `None` for a source without proxies.
    pub proxy: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub outcome: AttemptOutcome,
    pub error_kind: Option<ErrorKind>,
    pub error_message: Option<String>,
    /// The wait before this attempt (0 for the first).
    pub delay_before_ms: i64,
}

/// One scraper call with all its attempts, written in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScraperCall {
    /// The workflow run; `None` for `rebound scrape`.
    pub execution_id: Option<String>,
    pub workflow_name: Option<String>,
    pub scraper_name: String,
    pub source_name: String,
    /// Parameters as a JSON object text, keys sorted.
    pub params: String,
    pub target_date: NaiveDate,
    pub status: ScraperStatus,
    /// Attempts made (0 when skipped).
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error_kind: Option<ErrorKind>,
    /// Non-empty for failed and skipped calls.
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// Body size of the final response, when there was one.
    pub bytes: Option<i64>,
    /// Where the payload is (for unchanged payloads: where it already was).
    pub output_uri: Option<String>,
    /// BLAKE3 hex of the payload.
    pub content_hash: Option<String>,
    /// True when the payload equals the previous one of the same scraper and
    /// params and was therefore not stored again.
    pub unchanged: bool,
    /// Pages fetched (the failing one included) by a paginated scraper;
    /// `None` for a scraper without `paginate`.
    pub pages: Option<u32>,
    /// Records in the stored payload (every page's, for a paginated
    /// call): the length of the array at the scraper's `records` pointer,
    /// 0 when it is missing, null or empty; `None` without a `records`
    /// pointer, a payload, or a JSON payload.
    pub record_count: Option<i64>,
    pub attempt_rows: Vec<NewAttempt>,
    // Documents and conditional requests (issue 13, items 4 and 5).
    /// The response's `ETag` and `Last-Modified`, kept for a `conditional`
    /// scraper's next request (`None` for other scrapers).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Every output of a call that has more than one (a `transform`: its
    /// output first, the document second), written to `call_outputs` in
    /// the call's transaction; empty when the row's `output_uri` is the
    /// call's only output.
    pub outputs: Vec<NewCallOutput>,
}

/// Which of a call's outputs: the one the row's `output_uri` names, or
/// another (the document a `transform` read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputRole {
    Primary,
    Secondary,
}

impl OutputRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputRole::Primary => "primary",
            OutputRole::Secondary => "secondary",
        }
    }

    pub fn parse(text: &str) -> Option<OutputRole> {
        match text {
            "primary" => Some(OutputRole::Primary),
            "secondary" => Some(OutputRole::Secondary),
            _ => None,
        }
    }
}

/// One stored output of a call (`call_outputs`); its position is its
/// place in [`NewScraperCall::outputs`], from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallOutput {
    pub role: OutputRole,
    pub uri: String,
    /// BLAKE3 hex of the stored bytes.
    pub content_hash: String,
    pub bytes: i64,
    pub content_type: Option<String>,
}

/// One output of a recorded call, as [`Store::call_outputs`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutput {
    /// From 1, the primary first.
    pub position: i64,
    pub role: OutputRole,
    pub uri: String,
    pub content_hash: String,
    pub bytes: Option<i64>,
    /// `None` for a call with one output (its row records none).
    pub content_type: Option<String>,
}

/// What a `conditional` scraper's next request revalidates: the newest
/// successful call of the scraper with the same parameters that stored a
/// payload, its validators (either may be `None`) and that payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub output_uri: String,
    pub content_hash: String,
    pub record_count: Option<i64>,
}

/// One finished workflow run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflowExecution {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    /// When the run started.
    pub execution_time: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: WorkflowStatus,
    /// Scraper calls planned (fan-out counted per call).
    pub scrapers_requested: u32,
    pub scrapers_succeeded: u32,
    pub scrapers_failed: u32,
    pub scrapers_no_data: u32,
    pub scrapers_skipped: u32,
    /// `scraper: message | scraper: message`, at most 1000 characters.
    pub error_message: Option<String>,
    pub duration_ms: i64,
    /// Parameters of the run as a JSON object text.
    pub params: String,
}

/// A workflow run as it starts (see [`Store::begin_workflow_execution`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub started_at: DateTime<Utc>,
    /// Parameters of the run as a JSON object text.
    pub params: String,
    /// The process running it, `host:pid`.
    pub owner: String,
    /// The owner renews before this; past it, nobody is running it.
    pub heartbeat_until: DateTime<Utc>,
}

/// What [`Store::claim_target_date`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateClaim {
    /// The run's row was written: the date is this run's.
    Claimed,
    /// A run of the date already ended `success` or `no_data`.
    Collected {
        execution_id: String,
        status: String,
    },
    /// A run of the date is `running` (in another process, or one that
    /// died and whose row is not closed yet).
    Running { execution_id: String },
}

impl DateClaim {
    /// From the holding run's `(execution_id, status)`, as the backends
    /// read it; none means the date was free and is now claimed.
    pub fn held_by(holder: Option<(String, String)>) -> DateClaim {
        match holder {
            None => DateClaim::Claimed,
            Some((execution_id, status)) if status == "running" => {
                DateClaim::Running { execution_id }
            }
            Some((execution_id, status)) => DateClaim::Collected {
                execution_id,
                status,
            },
        }
    }
}

/// A run that failed as a whole (see [`Store::record_run_failure`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunFailure {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    /// When it was found failed; also its start when it has no row yet.
    pub at: DateTime<Utc>,
    /// `config` (the engine refused to start it) or `internal` (a panic,
    /// an abandoned lease, a process that died).
    pub error_kind: ErrorKind,
    pub message: String,
    /// Parameters of the run as a JSON object text (for a new row).
    pub params: String,
    /// Only close a row still `running` under this owner.
    pub only_running_owner: Option<String>,
}

/// A `workflow_executions` row still `running`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningExecution {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub execution_time: DateTime<Utc>,
    /// `host:pid` of the process running it.
    pub owner: Option<String>,
    pub heartbeat_until: Option<DateTime<Utc>>,
}

/// The message of a run closed because its process died.
pub const PROCESS_EXITED: &str = "process exited during the run";

/// The start of the message of a run closed because its heartbeat lapsed
/// while its process could not be seen to have died (it runs on another
/// host, or runs here but stopped renewing: stuck, or cut off from the
/// database). The owner follows.
pub const HEARTBEAT_LAPSED: &str = "the run's heartbeat lapsed";

/// A stored workflow run, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowExecutionRow {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub execution_time: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: String,
    pub scrapers_requested: i64,
    pub scrapers_succeeded: i64,
    pub scrapers_failed: i64,
    pub scrapers_no_data: i64,
    pub scrapers_skipped: i64,
    pub error_message: Option<String>,
    pub duration_ms: i64,
    /// The run-level kind of a run that failed as a whole (`config`,
    /// `internal`); `None` otherwise.
    pub error_kind: Option<String>,
}

/// A stored scraper call, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ScraperCallRow {
    pub id: i64,
    pub execution_id: Option<String>,
    pub workflow_name: Option<String>,
    pub scraper_name: String,
    pub source_name: String,
    pub params: String,
    pub target_date: NaiveDate,
    pub status: String,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub bytes: Option<i64>,
    pub output_uri: Option<String>,
    pub content_hash: Option<String>,
    pub unchanged: bool,
    pub pages: Option<i64>,
    pub record_count: Option<i64>,
}

impl ScraperCallRow {
    /// Whether a request of this call was retried: it made more attempts
    /// than it requested pages. Every page of a paginated call is an
    /// attempt of its own, so "more than one attempt" counted a call that
    /// read three pages without a single failure as retried (`rebound
    /// simulate`'s "retries that paid off" showed 28 on a scenario without
    /// faults). The health queries count the same way in SQL.
    pub fn retried(&self) -> bool {
        self.attempts > self.pages.unwrap_or(1).max(1)
    }
}

/// A stored attempt, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub scraper_execution_id: i64,
    pub attempt: i64,
    pub page: i64,
    pub proxy: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub delay_before_ms: i64,
}

/// The last stored payload of a scraper with given params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRef {
    pub content_hash: String,
    pub output_uri: String,
}

/// The history store. Implementations must be safe to share across tasks;
/// each method is one transaction.
#[async_trait]
pub trait Store:
    Send + Sync + AlertStore + EventStore + HealthStore + LimitsStore + MetricsStore + RetentionStore
{
    /// Which backend this is (`"sqlite"` or `"postgres"`), for messages.
    fn backend(&self) -> &'static str;

    /// Records a call and its attempts atomically; returns the call's `id`.
    async fn record_scraper_call(&self, call: &NewScraperCall) -> Result<i64, StoreError>;

    /// Records a call, its attempts and, when given, its completion event
    /// (`completion_events`, state `pending`, linked to the call's id) in
    /// one transaction: either all of them are stored or none is. Returns
    /// the call's `id`.
    async fn record_call_with_event(
        &self,
        call: &NewScraperCall,
        event: Option<&NewCompletionEvent>,
    ) -> Result<i64, StoreError>;

    /// Records a finished workflow run. When the run's row exists (written
    /// `running` at its start, or by an earlier run of the same execution:
    /// a rescue, a follow-up), it is finished in place: the earlier start
    /// time is kept, everything else (status, counts, message) replaced, and
    /// the owner and heartbeat cleared.
    async fn record_workflow_execution(
        &self,
        execution: &NewWorkflowExecution,
    ) -> Result<(), StoreError>;

    /// Writes the row of a run that starts: status `running`, owned by
    /// `start.owner` until `start.heartbeat_until`. An existing row of the
    /// same execution (a rescue, a follow-up) is set running again, keeping
    /// its start time and counts.
    async fn begin_workflow_execution(&self, start: &RunStart) -> Result<(), StoreError>;

    /// Writes the row of a run that starts, as
    /// [`Store::begin_workflow_execution`] does, only when no run of the
    /// same workflow and target date is `running` or ended `success` or
    /// `no_data`; otherwise writes nothing and says which run holds the
    /// date (a collected one before a running one, newest first). The check
    /// and the write are one transaction under a lock two claimers of the
    /// same date both take (SQLite's write lock; a PostgreSQL advisory lock
    /// on the workflow and date), so of two `rebound backfill`s started at
    /// the same instant only one runs a date. A failed run does not hold
    /// its date, and a run whose process died holds it until its row is
    /// closed (its heartbeat, [`Store::record_run_failure`]).
    async fn claim_target_date(&self, start: &RunStart) -> Result<DateClaim, StoreError>;

    /// Extends the heartbeat of a running run owned by `owner`; false when
    /// the row is no longer running under that owner (finished, or closed
    /// by someone who believed its process dead).
    async fn renew_workflow_execution(
        &self,
        execution_id: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Every run row still `running`, oldest first.
    async fn running_executions(&self) -> Result<Vec<RunningExecution>, StoreError>;

    /// Ends a run as `failed` with a run-level kind and message: inserts its
    /// row, or updates the existing one. With `failure.only_running_owner`,
    /// only a row still `running` under exactly that owner is touched (a
    /// dead process's run; a row finished or re-owned meanwhile is left
    /// alone). The counts are those of the execution's call rows. Returns
    /// whether a row was written.
    async fn record_run_failure(&self, failure: &RunFailure) -> Result<bool, StoreError>;

    /// The newest call of `scraper_name` with exactly these `params` that
    /// has a content hash and output URI (success or no_data), if any.
    async fn last_payload(
        &self,
        scraper_name: &str,
        params: &str,
    ) -> Result<Option<PayloadRef>, StoreError>;

    /// The newest `success` call of `scraper_name` with exactly these
    /// `params` that stored a payload, with the `ETag` / `Last-Modified`
    /// its response carried: what a `conditional` request revalidates.
    async fn last_validators(
        &self,
        scraper_name: &str,
        params: &str,
    ) -> Result<Option<Validators>, StoreError>;

    /// Every output of call `execution_log_id`, by position: its
    /// `call_outputs` rows (a `transform`'s output and document), or, for
    /// a call that stored one payload, that payload as the primary. Empty
    /// for a call without a payload or an unknown id.
    async fn call_outputs(&self, execution_log_id: i64) -> Result<Vec<CallOutput>, StoreError>;

    /// The newest workflow runs, newest first.
    async fn recent_workflow_executions(
        &self,
        limit: u32,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError>;

    /// The calls of one workflow run, in id order.
    async fn scraper_calls_for_execution(
        &self,
        execution_id: &str,
    ) -> Result<Vec<ScraperCallRow>, StoreError>;

    /// The newest calls made outside any workflow (`rebound scrape`), newest first.
    async fn recent_standalone_calls(&self, limit: u32) -> Result<Vec<ScraperCallRow>, StoreError>;

    /// The attempts of one call, in attempt order.
    async fn attempts_for_call(
        &self,
        scraper_execution_id: i64,
    ) -> Result<Vec<AttemptRow>, StoreError>;
    // ----- Scheduler: decisions, slots, jobs, leases -----

    /// Records one decision and, for a RUN, claims its slot by inserting
    /// `run` (state `queued`) in the same transaction. The slot key
    /// `(workflow_name, target_date, slot)` is unique: when it is already
    /// taken, nothing is queued and the decision is stored as a SKIP whose
    /// reason says the slot was already claimed (and by which execution).
    /// Returns what was stored.
    async fn record_decision(
        &self,
        decision: &NewDecision,
        run: Option<&NewScheduledRun>,
    ) -> Result<DecisionOutcome, StoreError>;

    /// Decisions decided at or after `since`, oldest first; only those of
    /// `workflow` when given.
    async fn decisions_since(
        &self,
        workflow: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<Vec<DecisionRow>, StoreError>;

    /// What is known about the slots of `workflow` for target dates in
    /// `from..=to`: every slot with a decision or a run.
    async fn slot_history(
        &self,
        workflow: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SlotRow>, StoreError>;

    /// What is known about the named slots of `workflow`, each key a target
    /// date and a slot name: the rows [`Store::slot_history`] gives for
    /// those keys (a key with neither a decision nor a run has no row), in
    /// the same order. The scheduler asks for a `cron` or `every`
    /// schedule's current and missed slots
    /// (`rebound_schedule::fact_slots`), a handful where a minutely cron's
    /// dates hold thousands.
    async fn slot_facts(
        &self,
        workflow: &str,
        keys: &[(NaiveDate, String)],
    ) -> Result<Vec<SlotRow>, StoreError>;

    /// The times of the oldest and the newest decision for `workflow`, in
    /// one read: the scheduler's catch-up looks after the newest, and a
    /// slot before the oldest is one a first start passed over.
    async fn decision_span(&self, workflow: &str) -> Result<DecisionSpan, StoreError>;

    /// Claims the oldest due queued run (`run_at <= now`), marking it
    /// `running` with `lease_owner = worker` and `lease_expires_at = now + lease`,
    /// and incrementing `claims`. PostgreSQL: one `UPDATE … WHERE run_id =
    /// (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`; SQLite: one write transaction.
    async fn claim_run(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Option<ScheduledRunRow>, StoreError>;

    /// Extends the lease of a run this worker holds; false when the lease
    /// was lost (expired and requeued, or taken by another worker).
    async fn renew_lease(
        &self,
        run_id: &str,
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks a held run `done` (state) with the workflow status it ended
    /// with, and `error` as `last_error` when the run could not start
    /// (otherwise an earlier note, such as a requeue, is kept); false when
    /// this worker no longer held it.
    async fn finish_run(
        &self,
        run_id: &str,
        worker: &str,
        finished_at: DateTime<Utc>,
        status: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Puts a held run back in the queue, due at `run_at` (shutdown, or a
    /// long wait stored as scheduled work), with `note` as `last_error`.
    async fn release_run(
        &self,
        run_id: &str,
        worker: &str,
        run_at: DateTime<Utc>,
        note: &str,
    ) -> Result<bool, StoreError>;

    /// Requeues every `running` run whose lease expired before `now`
    /// (its worker died); a run that already used `max_claims` claims is
    /// marked `abandoned` instead. Returns the run ids requeued or abandoned.
    async fn requeue_expired(
        &self,
        now: DateTime<Utc>,
        max_claims: u32,
    ) -> Result<Vec<String>, StoreError>;

    /// Runs by state (`queued`, `running`, `done`, `abandoned`), or all when
    /// `None`, oldest first, at most `limit`.
    async fn scheduled_runs(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ScheduledRunRow>, StoreError>;

    /// Inserts a run without a decision (follow-up of a stored wait, or a
    /// backfill) unless its slot exists; returns false when it existed.
    async fn enqueue_run(&self, run: &NewScheduledRun) -> Result<bool, StoreError>;

    /// The earliest `run_at` of a queued run strictly after `after`, if any:
    /// when an idle worker should look again for a run queued for later.
    async fn next_run_at(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Subscribes to wake-ups sent whenever this store (or, on PostgreSQL,
    /// any process sharing the database) queues a run: a RUN decision that
    /// claimed its slot, `enqueue_run`, `release_run`, and runs requeued by
    /// `requeue_expired`. See [`DueWakeups`].
    async fn due_wakeups(&self) -> Result<Box<dyn DueWakeups>, StoreError>;

    // ----- Facts the scheduler and fan-out read -----

    /// The values of parameter `param` in calls of any of `scrapers` for
    /// `target_date` whose status is `success`, deduplicated.
    async fn collected_values(
        &self,
        scrapers: &[String],
        param: &str,
        target_date: NaiveDate,
    ) -> Result<Vec<String>, StoreError>;

    /// [`Store::collected_values`] of each ask, one answer per ask in the
    /// order given. The health report asks for every dataset's scrapers
    /// and both of its dates in every alert round; a backend answers them
    /// in one statement (the round trip per statement is what costs). The
    /// default asks one by one.
    async fn collected_values_many(
        &self,
        asks: &[CollectedAsk],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let mut out = Vec::with_capacity(asks.len());
        for ask in asks {
            out.push(
                self.collected_values(&ask.scrapers, &ask.param, ask.target_date)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Runs of `workflow` for `target_date`, oldest first.
    async fn executions_for_date(
        &self,
        workflow: &str,
        target_date: NaiveDate,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError>;

    /// The newest `success` call of any of `scrapers` (for `target_date`
    /// when given) that has an output URI: the payload a calendar or a
    /// fan-out reads. Unchanged calls count (they point at the stored
    /// identical payload), so the time is that of the newest confirmation.
    async fn latest_payload(
        &self,
        scrapers: &[String],
        target_date: Option<NaiveDate>,
    ) -> Result<Option<LatestPayload>, StoreError>;

    // ----- Entity lockouts (`entity_lockouts`) -----

    /// How many of the newest calls of `scraper_name` whose parameter
    /// `param` is `entity` ended in a row as no_data, failed or overdue,
    /// counting back from the newest and stopping at any other status but
    /// `skipped` (which is passed over), at most `limit`. Only calls that
    /// started after the newest release of a lock of that entity count, so
    /// a released entity starts afresh.
    async fn entity_streak(
        &self,
        scraper_name: &str,
        param: &str,
        entity: &str,
        limit: u32,
    ) -> Result<u32, StoreError>;

    /// Locks an entity unless it already has an unreleased lock; returns
    /// whether a lock was stored.
    async fn lock_entity(&self, lock: &NewLockout) -> Result<bool, StoreError>;

    /// Unreleased locks (also those whose `until` has passed but that
    /// nobody released yet), of one scraper or of all, by scraper then
    /// entity.
    async fn open_lockouts(
        &self,
        scraper_name: Option<&str>,
    ) -> Result<Vec<LockoutRow>, StoreError>;

    /// Releases the unreleased locks of `scraper_name` (of one entity, or
    /// all) at `at` with `reason`; returns how many were released.
    async fn release_lockouts(
        &self,
        scraper_name: &str,
        entity: Option<&str>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<u32, StoreError>;

    // ----- Request quotas (`source_quota_usage`) -----

    /// Counts one request against `key`'s period, creating its row, unless
    /// the quota is used up: `requests >= limit`, or the upstream reported
    /// 0 remaining. Atomic: concurrent takes never count past `limit`.
    async fn quota_take(
        &self,
        key: &QuotaKey,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<QuotaTake, StoreError>;

    /// After a call: adds `extra_requests` (may be negative: a take whose
    /// call sent nothing gives it back; never below zero) and records the
    /// upstream's `remaining_reported` when given.
    async fn quota_settle(
        &self,
        key: &QuotaKey,
        extra_requests: i64,
        remaining_reported: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<QuotaUsageRow, StoreError>;

    /// Marks the period's warning as raised; true only for the one caller
    /// that marked it (warn once per period, across processes).
    async fn quota_mark_warned(
        &self,
        key: &QuotaKey,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The usage row of `source_name` for the period starting at `period_start`.
    async fn quota_usage(
        &self,
        source_name: &str,
        period_start: DateTime<Utc>,
    ) -> Result<Option<QuotaUsageRow>, StoreError>;

    // ----- Circuit breakers (circuit_breaker_state, _transitions) -----

    /// The stored breaker of `source`, if it has one (a plain read: the
    /// fast path before each call).
    async fn breaker_state(&self, source: &str) -> Result<Option<BreakerRow>, StoreError>;

    /// Applies `change` to the breaker of `source` atomically, across every
    /// worker sharing the database: the row (created closed if missing) is
    /// read and locked, `change` runs on it, and the new state and the
    /// transitions `change` returns are written, all in one transaction.
    /// PostgreSQL: `SELECT … FOR UPDATE`; SQLite: one `BEGIN IMMEDIATE`
    /// transaction. Returns the new state.
    async fn update_breaker(
        &self,
        source: &str,
        now: DateTime<Utc>,
        change: BreakerChange<'_>,
    ) -> Result<BreakerState, StoreError>;

    /// Every stored breaker, by source name.
    async fn breaker_states(&self) -> Result<Vec<BreakerRow>, StoreError>;

    /// The newest transitions (of `source` when given), newest first.
    async fn breaker_transitions(
        &self,
        source: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BreakerTransitionRow>, StoreError>;

    /// The newest transition of each of `sources`, in the order given
    /// (`None`: it has none): what the health report shows as a closed
    /// breaker's "since", for every source in one statement. The default
    /// asks source by source.
    async fn newest_breaker_transitions(
        &self,
        sources: &[String],
    ) -> Result<Vec<Option<BreakerTransitionRow>>, StoreError> {
        let mut out = Vec::with_capacity(sources.len());
        for source in sources {
            out.push(
                self.breaker_transitions(Some(source), 1)
                    .await?
                    .into_iter()
                    .next(),
            );
        }
        Ok(out)
    }

    /// Closes the breaker of `source` by hand, recording a transition with
    /// `reason` when it was not closed. Returns the transitions made.
    async fn reset_breaker(
        &self,
        source: &str,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<Vec<Transition>, StoreError> {
        let mut made = Vec::new();
        let mut change = |state: &mut BreakerState| {
            let t = state.reset(now, reason);
            made = t.clone();
            t
        };
        self.update_breaker(source, now, &mut change).await?;
        Ok(made)
    }

    /// Makes the database's own file(s) hold everything committed, for a
    /// process about to exit cleanly. SQLite: a `TRUNCATE` checkpoint, so
    /// the `-wal` file is left empty and a copy of the main file alone has
    /// the whole history (without it, an 856 KB WAL beside a 4 KB file was
    /// all a file-copy backup missed). Best effort when another process is
    /// reading: what it cannot move now stays in the WAL, as before.
    /// PostgreSQL: nothing to do (the server owns its files).
    async fn checkpoint(&self) -> Result<(), StoreError>;

    /// Writes a consistent copy of the whole database to the new file
    /// `path` while others may keep writing (SQLite: `VACUUM INTO`, which
    /// refuses an existing non-empty file). PostgreSQL has no file of its
    /// own to copy: an error saying to use `pg_dump`.
    async fn backup_into(&self, path: &std::path::Path) -> Result<(), StoreError>;

    // --- Dashboard (issue 16) ---

    /// Runs started (`execution_time`) in `from..to`, counted per UTC hour
    /// and status, by hour then status. One range over the time index.
    async fn run_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RunHourRow>, StoreError>;

    /// Calls started in `from..to`, counted per UTC hour and source with
    /// their failures, by hour then source. One range over the
    /// `started_at` index.
    async fn call_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CallHourRow>, StoreError>;

    // --- API (issue 16) ---

    /// One page of workflow runs matching `filter`, newest first (by start
    /// time, then execution id, descending), at most `limit`. Keyset
    /// pagination: `filter.before` is the last row of the previous page, so
    /// a page costs the same however deep it is.
    async fn workflow_executions_page(
        &self,
        filter: &RunFilter,
        limit: u32,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError>;

    /// One workflow run by its execution id.
    async fn workflow_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<WorkflowExecutionRow>, StoreError>;

    /// One page of calls matching `filter`, newest first (by start time,
    /// then id, descending), at most `limit`; `filter.before` is the last
    /// call of the previous page.
    async fn scraper_calls_page(
        &self,
        filter: &CallFilter,
        limit: u32,
    ) -> Result<Vec<ScraperCallRow>, StoreError>;

    /// Decisions decided in `from..to`, oldest first; only those of
    /// `workflow` when given.
    async fn decisions_between(
        &self,
        workflow: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRow>, StoreError>;
}

/// What [`Store::workflow_executions_page`] returns; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub workflow: Option<String>,
    pub status: Option<String>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    /// Only runs after this one in newest-first order: `(started at,
    /// execution id)` of the previous page's last run.
    pub before: Option<(DateTime<Utc>, String)>,
}

/// What [`Store::scraper_calls_page`] returns; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFilter {
    pub scraper: Option<String>,
    pub status: Option<String>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    /// Only calls after this one in newest-first order: `(started at,
    /// id)` of the previous page's last call.
    pub before: Option<(DateTime<Utc>, i64)>,
}

/// The change [`Store::update_breaker`] applies inside its transaction:
/// it edits the state and returns the transitions to record.
pub type BreakerChange<'a> = &'a mut (dyn FnMut(&mut BreakerState) -> Vec<Transition> + Send);

/// A `circuit_breaker_state` row.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerRow {
    pub source_name: String,
    pub state: BreakerState,
    pub updated_at: DateTime<Utc>,
}

/// A `circuit_breaker_transitions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerTransitionRow {
    pub source_name: String,
    pub at: DateTime<Utc>,
    /// `closed`, `open` or `half_open`.
    pub from_state: String,
    pub to_state: String,
    pub reason: String,
}

/// One row for `entity_lockouts`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLockout {
    pub scraper_name: String,
    /// The fan-out item value (e.g. a game id).
    pub entity: String,
    pub locked_at: DateTime<Utc>,
    /// When the lock expires unless released sooner.
    pub until: DateTime<Utc>,
    /// Consecutive no_data/failures that tripped it.
    pub consecutive: u32,
    pub reason: String,
    /// The fan-out dataset's payload hash when the lock was taken: a
    /// different one releases the lock.
    pub source_hash: Option<String>,
}

/// An `entity_lockouts` row.
#[derive(Debug, Clone, PartialEq)]
pub struct LockoutRow {
    pub id: i64,
    pub scraper_name: String,
    pub entity: String,
    pub locked_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub consecutive: i64,
    pub reason: String,
    pub source_hash: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    pub released_reason: Option<String>,
}

/// The reason stored when a RUN finds its slot already claimed. Shared by
/// both backends so the words operators search for are the same.
pub fn claimed_reason(slot: &str, date: NaiveDate, holder: &str) -> String {
    format!(
        "slot {slot} for {} already claimed (execution {holder})",
        date.format("%Y-%m-%d")
    )
}

// The decision vocabulary is the domain's: the pure scheduler names it
// without a storage dependency, and the record types below carry it.
pub use rebound_domain::decision::{AlertLevel, DecisionAction};

/// One row for `workflow_decisions`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    pub decision_id: String,
    pub workflow_name: String,
    pub decided_at: DateTime<Utc>,
    /// The slot's name, e.g. `05:00`, `window`, `backfill`.
    pub slot: String,
    pub target_date: NaiveDate,
    pub action: DecisionAction,
    pub reason: String,
    /// JSON array of entity ids (e.g. game ids) the run is for; `[]` when none.
    pub entities: String,
    pub alert_level: AlertLevel,
    /// For RUN: the execution id the run will carry.
    pub execution_id: Option<String>,
    /// The scheduler instance that decided (host:pid).
    pub decided_by: String,
}

/// What `record_decision` stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionOutcome {
    pub action: DecisionAction,
    pub reason: String,
    /// True when the run was queued.
    pub queued: bool,
}

/// A `workflow_decisions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    pub decision_id: String,
    pub workflow_name: String,
    pub decided_at: DateTime<Utc>,
    pub slot: String,
    pub target_date: NaiveDate,
    pub action: String,
    pub reason: String,
    pub entities: String,
    pub alert_level: String,
    pub execution_id: Option<String>,
    pub decided_by: String,
}

/// One row for `scheduled_runs`: a claimed slot waiting for a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScheduledRun {
    pub run_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub slot: String,
    /// JSON object of extra parameters.
    pub params: String,
    /// JSON array of entity ids to restrict fan-out to; `null` for all.
    pub entities: String,
    /// Earliest time a worker may start it.
    pub run_at: DateTime<Utc>,
    /// When it was scheduled for (the slot time), for schedule-to-start delay.
    pub scheduled_for: DateTime<Utc>,
    pub execution_id: String,
    pub decision_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A `scheduled_runs` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledRunRow {
    pub run_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub slot: String,
    pub params: String,
    pub entities: String,
    /// `queued`, `running`, `done` or `abandoned`.
    pub state: String,
    pub run_at: DateTime<Utc>,
    pub scheduled_for: DateTime<Utc>,
    pub execution_id: String,
    pub decision_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// How many times a worker claimed it.
    pub claims: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When the latest claim started it.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The workflow status it finished with.
    pub result_status: Option<String>,
    pub last_error: Option<String>,
}

/// When a workflow was first and last decided about ([`Store::decision_span`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecisionSpan {
    /// The oldest decision's time; `None` when the workflow has none.
    pub first: Option<DateTime<Utc>>,
    /// The newest decision's time; `None` when the workflow has none.
    pub last: Option<DateTime<Utc>>,
}

/// One slot of a workflow as the scheduler's facts see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotRow {
    pub target_date: NaiveDate,
    pub slot: String,
    /// Newest decision time for this slot, if any.
    pub decided_at: Option<DateTime<Utc>>,
    /// Run state when the slot was claimed (`queued`, `running`, `done`, `abandoned`).
    pub run_state: Option<String>,
    pub run_created_at: Option<DateTime<Utc>>,
    /// The claimed run's execution id.
    pub execution_id: Option<String>,
    /// The finished run's workflow status.
    pub result_status: Option<String>,
    /// When the claimed run finished (`scheduled_runs.finished_at`).
    pub run_finished_at: Option<DateTime<Utc>>,
}

/// One question of [`Store::collected_values_many`]: the values of `param`
/// in successful calls of any of `scrapers` for `target_date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedAsk {
    pub scrapers: Vec<String>,
    pub param: String,
    pub target_date: NaiveDate,
}

/// [`Store::collected_values_many`], checked to answer each ask once: the
/// callers pair answers with asks by position, so a backend that answered
/// fewer would otherwise shift every answer after the gap.
pub async fn collected_values_checked(
    store: &dyn Store,
    asks: &[CollectedAsk],
) -> Result<Vec<Vec<String>>, StoreError> {
    let answers = store.collected_values_many(asks).await?;
    if answers.len() != asks.len() {
        return Err(StoreError::Query(format!(
            "collected_values_many answered {} of {} asks",
            answers.len(),
            asks.len()
        )));
    }
    Ok(answers)
}

/// The payload a calendar or a fan-out reads.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestPayload {
    pub scraper_name: String,
    pub target_date: NaiveDate,
    pub output_uri: String,
    pub content_hash: String,
    /// When the call that produced or confirmed it finished.
    pub fetched_at: DateTime<Utc>,
}
