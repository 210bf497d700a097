//! The SQLite backend of the history [`Store`]: one file, no server, the
//! default for a single machine.
//!
//! Concurrency is shaped around SQLite's one-writer rule rather than
//! fought with retries:
//! - the file is in WAL mode, so readers never block the writer nor the
//!   writer them; `synchronous = NORMAL` is the usual WAL pairing (a commit
//!   survives a crash of the process; only a power loss can undo the last
//!   few);
//! - all writes go through one pooled connection, so writers inside this
//!   process queue in Tokio instead of sleeping in SQLite's busy handler,
//!   and scraper calls are group-committed by a single task ([`writer`]);
//! - the scheduler's writes (decisions, claims, leases: [`scheduler`]) are
//!   short `BEGIN IMMEDIATE` transactions on that same connection, which is
//!   what makes a claim exclusive without row locks;
//! - write transactions begin `IMMEDIATE` with a 10 s busy timeout, so a
//!   second process (a `rebound scrape` next to the scheduler) waits for
//!   the lock instead of failing;
//! - reads use a separate small pool; the previous-payload lookup that
//!   every recorded call makes is batched by one task ([`lookup`]).
//!
//! The schema lives in `migrations/` and is applied on [`SqliteStore::open`],
//! under an exclusive lock on a file beside the database ([`setup_lock`]),
//! so processes opening a new file at once do not race to create it.
//! Encodings are described in [`codec`].

mod alerts;
mod breakers;
mod codec;
mod events;
mod health;
mod limits;
mod lockouts;
mod lookup;
mod metrics;
mod quota;
mod retention;
mod runs;
mod scheduler;
mod setup_lock;
mod writer;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use codec::{column, date_column, encode_date, store_error, time_column};
use rebound_storage::{
    AttemptRow, BreakerChange, BreakerRow, BreakerState, BreakerTransitionRow, CallFilter,
    CallHourRow, CallOutput, CollectedAsk, DateClaim, DecisionOutcome, DecisionRow, LatestPayload,
    LockoutRow, NewCompletionEvent, NewDecision, NewLockout, NewScheduledRun, NewScraperCall,
    NewWorkflowExecution, OutputRole, PayloadRef, RunFailure, RunFilter, RunHourRow, RunStart,
    RunningExecution, ScheduledRunRow, ScraperCallRow, SlotRow, Store, StoreError, Validators,
    WorkflowExecutionRow,
};
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

static MIGRATOR: Migrator = sqlx::migrate!();

/// How long a write waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

// Macros rather than consts so that `concat!` can build each query as one
// `&'static str` (which sqlx accepts as safe SQL without wrapping).
macro_rules! call_columns {
    () => {
        "id, execution_id, workflow_name, scraper_name, source_name, params, target_date, \
         status, attempts, http_status, error_kind, error_message, started_at, finished_at, \
         duration_ms, bytes, output_uri, content_hash, unchanged, pages, record_count"
    };
}

macro_rules! execution_columns {
    () => {
        "execution_id, workflow_name, target_date, execution_time, finished_at, status, \
         scrapers_requested, scrapers_succeeded, scrapers_failed, scrapers_no_data, \
         scrapers_skipped, error_message, duration_ms, error_kind"
    };
}

// After the column macros, which it uses.
mod dashboard;

/// The history in one SQLite file. Cheap to share behind an `Arc`; every
/// method may be called from many tasks at once.
#[derive(Debug)]
pub struct SqliteStore {
    /// Exactly one connection: every write of this process queues here.
    writer: SqlitePool,
    readers: SqlitePool,
    calls: mpsc::Sender<writer::Pending>,
    lookups: mpsc::Sender<lookup::Pending>,
    /// Wakes idle workers after a write that queues a run: SQLite serves one
    /// process, so the in-process signal is all a worker needs.
    due: rebound_storage::DueSignal,
}

impl SqliteStore {
    /// Opens (creating it and its parent folders if needed) the database
    /// file at `path` and brings its schema up to date.
    ///
    /// Must be called inside a Tokio runtime: it starts the writer task
    /// there, and the store must be used on that same runtime.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let unavailable =
            |e: &dyn std::fmt::Display| StoreError::Unavailable(format!("{}: {e}", path.display()));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| unavailable(&format!("cannot create {}: {e}", parent.display())))?;
        }
        let setup = setup_lock::acquire(path).await?;
        // Another application's database is refused before anything here
        // touches it: the pools below switch a file to WAL mode as they
        // connect, which rewrote the header of a file the message then
        // said was "left as it is". Nor is a lock file left beside it.
        if tokio::fs::metadata(path).await.is_ok_and(|m| m.len() > 0) {
            let look = SqliteConnectOptions::new()
                .filename(path)
                .read_only(true)
                .busy_timeout(BUSY_TIMEOUT);
            let refused =
                match <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&look).await {
                    Ok(mut connection) => {
                        let refused = refuse_a_foreign_database(&mut connection, path).await;
                        let _ = sqlx::Connection::close(connection).await;
                        refused
                    }
                    Err(e) => Err(unavailable(&e)),
                };
            if let Err(refused) = refused {
                setup.release_and_remove_if_created();
                return Err(refused);
            }
        }
        // Held until the schema is up to date and both pools are open;
        // released when dropped (or by the OS if this process dies).
        let _setup = setup;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);

        // The connections are local files, so a liveness ping before each
        // use would only add a round trip to every call; a writer that is
        // never closed for idleness keeps its prepared statements warm.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| migration_error(&path.display().to_string(), e))?;

        let readers = SqlitePoolOptions::new()
            .max_connections(reader_count())
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| unavailable(&e))?;

        let calls = writer::spawn(writer.clone());
        let lookups = lookup::spawn(readers.clone());
        Ok(SqliteStore {
            writer,
            readers,
            calls,
            lookups,
            due: rebound_storage::DueSignal::new(),
        })
    }

    /// The write pool (one connection), for tests and tools that need raw
    /// SQL. Holding its connection blocks every write of this store.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }
}

/// A failed migration; a database whose schema is ahead of this binary's
/// says so ([`rebound_storage::newer_schema`]).
fn migration_error(database: &str, error: sqlx::migrate::MigrateError) -> StoreError {
    let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    if let sqlx::migrate::MigrateError::VersionMissing(found) = error
        && let Some(newer) = rebound_storage::newer_schema(database, found, known)
    {
        return newer;
    }
    StoreError::Migration(format!("{database}: {error}"))
}

/// Refuses a file that holds tables but no migration record: another
/// application's database, named by mistake. Migrating it added some 70
/// tables to it, even from a report command.
async fn refuse_a_foreign_database(
    connection: &mut sqlx::SqliteConnection,
    path: &Path,
) -> Result<(), StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
    if tables.is_empty() || tables.iter().any(|t| t == "_sqlx_migrations") {
        return Ok(());
    }
    let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    let more = match tables.len() - shown.len() {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Err(StoreError::Migration(format!(
        "{} is not a Rebound history: it holds other tables ({}{more}) and no record of Rebound's schema, so it was left as it is; point `database` at a new file",
        path.display(),
        shown.join(", "),
    )))
}

/// WAL lets readers run in parallel; more than a few gains nothing for the
/// short lookups the engine and CLI make.
fn reader_count() -> u32 {
    // Each sqlx SQLite connection is a thread that mostly waits on its
    // channel, so readers are cheap; with dozens of calls in flight, a pool
    // sized to the CPU count made lookups queue (measured in the bench).
    8
}

fn lookup_stopped() -> StoreError {
    StoreError::Unavailable("the SQLite lookup task has stopped".to_string())
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer task has stopped".to_string())
}

/// A call's outputs: its `call_outputs` rows, or else its one payload as
/// the primary (most calls store one payload and have no rows there).
const CALL_OUTPUTS: &str = "SELECT position, role, uri, content_hash, bytes, content_type \
    FROM call_outputs WHERE execution_log_id = ?1 \
    UNION ALL \
    SELECT 1, 'primary', output_uri, content_hash, bytes, NULL \
    FROM scraper_execution_log \
    WHERE id = ?1 AND output_uri IS NOT NULL AND content_hash IS NOT NULL \
      AND NOT EXISTS (SELECT 1 FROM call_outputs WHERE execution_log_id = ?1) \
    ORDER BY 1";

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn record_scraper_call(&self, call: &NewScraperCall) -> Result<i64, StoreError> {
        self.record_call_with_event(call, None).await
    }

    async fn record_call_with_event(
        &self,
        call: &NewScraperCall,
        event: Option<&NewCompletionEvent>,
    ) -> Result<i64, StoreError> {
        let (ack, answer) = oneshot::channel();
        let pending = writer::Pending {
            call: writer::EncodedCall::with_event(call, event),
            ack,
        };
        self.calls
            .send(pending)
            .await
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn record_workflow_execution(
        &self,
        execution: &NewWorkflowExecution,
    ) -> Result<(), StoreError> {
        runs::record_workflow_execution(&self.writer, execution).await
    }

    async fn begin_workflow_execution(&self, start: &RunStart) -> Result<(), StoreError> {
        runs::begin_workflow_execution(&self.writer, start).await
    }

    async fn claim_target_date(&self, start: &RunStart) -> Result<DateClaim, StoreError> {
        runs::claim_target_date(&self.writer, start).await
    }

    async fn renew_workflow_execution(
        &self,
        execution_id: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        runs::renew_workflow_execution(&self.writer, execution_id, owner, until).await
    }

    async fn running_executions(&self) -> Result<Vec<RunningExecution>, StoreError> {
        runs::running_executions(&self.readers).await
    }

    async fn record_run_failure(&self, failure: &RunFailure) -> Result<bool, StoreError> {
        runs::record_run_failure(&self.writer, failure).await
    }

    async fn last_payload(
        &self,
        scraper_name: &str,
        params: &str,
    ) -> Result<Option<PayloadRef>, StoreError> {
        let (answer, found) = oneshot::channel();
        let pending = lookup::Pending {
            scraper_name: scraper_name.to_string(),
            params: params.to_string(),
            answer,
        };
        self.lookups
            .send(pending)
            .await
            .map_err(|_| lookup_stopped())?;
        found.await.map_err(|_| lookup_stopped())?
    }

    async fn last_validators(
        &self,
        scraper_name: &str,
        params: &str,
    ) -> Result<Option<Validators>, StoreError> {
        // On the last-payload index (scraper, params, id DESC), walking
        // back past no_data rows to the newest success.
        let row: Option<(Option<String>, Option<String>, String, String, Option<i64>)> =
            sqlx::query_as(
                "SELECT etag, last_modified, output_uri, content_hash, record_count \
                 FROM scraper_execution_log \
                 WHERE scraper_name = ?1 AND params = ?2 AND status = 'success' \
                   AND content_hash IS NOT NULL AND output_uri IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(scraper_name)
            .bind(params)
            .fetch_optional(&self.readers)
            .await
            .map_err(|e| store_error("last_validators", e))?;
        Ok(row.map(
            |(etag, last_modified, output_uri, content_hash, record_count)| Validators {
                etag,
                last_modified,
                output_uri,
                content_hash,
                record_count,
            },
        ))
    }

    async fn call_outputs(&self, execution_log_id: i64) -> Result<Vec<CallOutput>, StoreError> {
        let rows: Vec<(i64, String, String, String, Option<i64>, Option<String>)> =
            sqlx::query_as(CALL_OUTPUTS)
                .bind(execution_log_id)
                .fetch_all(&self.readers)
                .await
                .map_err(|e| store_error("call_outputs", e))?;
        rows.into_iter()
            .map(|(position, role, uri, content_hash, bytes, content_type)| {
                Ok(CallOutput {
                    position,
                    role: OutputRole::parse(&role).ok_or_else(|| {
                        StoreError::Query(format!(
                            "call_outputs: unknown role \"{role}\" of call {execution_log_id}"
                        ))
                    })?,
                    uri,
                    content_hash,
                    bytes,
                    content_type,
                })
            })
            .collect()
    }

    async fn recent_workflow_executions(
        &self,
        limit: u32,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            execution_columns!(),
            " FROM workflow_executions ORDER BY execution_time DESC, execution_id DESC LIMIT ?1",
        );
        sqlx::query(SQL)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("recent_workflow_executions", e))?
            .iter()
            .map(execution_row)
            .collect()
    }

    async fn scraper_calls_for_execution(
        &self,
        execution_id: &str,
    ) -> Result<Vec<ScraperCallRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            call_columns!(),
            " FROM scraper_execution_log WHERE execution_id = ?1 ORDER BY id",
        );
        sqlx::query(SQL)
            .bind(execution_id)
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("scraper_calls_for_execution", e))?
            .iter()
            .map(call_row)
            .collect()
    }

    async fn recent_standalone_calls(&self, limit: u32) -> Result<Vec<ScraperCallRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            call_columns!(),
            // Without statistics the planner prefers the execution_id index
            // and then sorts every standalone call; the partial index is
            // already in the wanted order, so the LIMIT stops the scan early.
            " FROM scraper_execution_log INDEXED BY scraper_execution_log_standalone \
              WHERE execution_id IS NULL ORDER BY started_at DESC, id DESC LIMIT ?1",
        );
        sqlx::query(SQL)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("recent_standalone_calls", e))?
            .iter()
            .map(call_row)
            .collect()
    }

    async fn attempts_for_call(
        &self,
        scraper_execution_id: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        sqlx::query(
            "SELECT scraper_execution_id, attempt, page, proxy, started_at, finished_at, \
                http_status, outcome, error_kind, error_message, delay_before_ms \
             FROM scraper_attempts WHERE scraper_execution_id = ?1 ORDER BY attempt",
        )
        .bind(scraper_execution_id)
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("attempts_for_call", e))?
        .iter()
        .map(attempt_row)
        .collect()
    }

    // ----- Scheduler (see `scheduler` for how writes are serialized) -----

    async fn record_decision(
        &self,
        decision: &NewDecision,
        run: Option<&NewScheduledRun>,
    ) -> Result<DecisionOutcome, StoreError> {
        let outcome = scheduler::record_decision(&self.writer, decision, run).await?;
        if outcome.queued {
            self.due.send();
        }
        Ok(outcome)
    }

    async fn decisions_since(
        &self,
        workflow: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        scheduler::decisions_since(&self.readers, workflow, since).await
    }

    async fn slot_history(
        &self,
        workflow: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SlotRow>, StoreError> {
        scheduler::slot_history(&self.readers, workflow, from, to).await
    }

    async fn slot_facts(
        &self,
        workflow: &str,
        keys: &[(NaiveDate, String)],
    ) -> Result<Vec<SlotRow>, StoreError> {
        scheduler::slot_facts(&self.readers, workflow, keys).await
    }

    async fn decision_span(
        &self,
        workflow: &str,
    ) -> Result<rebound_storage::DecisionSpan, StoreError> {
        scheduler::decision_span(&self.readers, workflow).await
    }

    async fn claim_run(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<ScheduledRunRow>, StoreError> {
        scheduler::claim_run(&self.writer, worker, now, lease).await
    }

    async fn renew_lease(
        &self,
        run_id: &str,
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        scheduler::renew_lease(&self.writer, run_id, worker, until).await
    }

    async fn finish_run(
        &self,
        run_id: &str,
        worker: &str,
        finished_at: DateTime<Utc>,
        status: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        scheduler::finish_run(&self.writer, run_id, worker, finished_at, status, error).await
    }

    async fn release_run(
        &self,
        run_id: &str,
        worker: &str,
        run_at: DateTime<Utc>,
        note: &str,
    ) -> Result<bool, StoreError> {
        let released = scheduler::release_run(&self.writer, run_id, worker, run_at, note).await?;
        if released {
            self.due.send();
        }
        Ok(released)
    }

    async fn requeue_expired(
        &self,
        now: DateTime<Utc>,
        max_claims: u32,
    ) -> Result<Vec<String>, StoreError> {
        let requeued = scheduler::requeue_expired(&self.writer, now, max_claims).await?;
        // Abandoned runs are in the list too; a spurious wake-up is harmless.
        if !requeued.is_empty() {
            self.due.send();
        }
        Ok(requeued)
    }

    async fn scheduled_runs(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ScheduledRunRow>, StoreError> {
        scheduler::scheduled_runs(&self.readers, state, limit).await
    }

    async fn enqueue_run(&self, run: &NewScheduledRun) -> Result<bool, StoreError> {
        let queued = scheduler::enqueue_run(&self.writer, run).await?;
        if queued {
            self.due.send();
        }
        Ok(queued)
    }

    async fn next_run_at(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        scheduler::next_run_at(&self.readers, after).await
    }

    async fn due_wakeups(&self) -> Result<Box<dyn rebound_storage::DueWakeups>, StoreError> {
        Ok(self.due.subscribe())
    }

    // ----- Facts -----

    async fn collected_values(
        &self,
        scrapers: &[String],
        param: &str,
        target_date: NaiveDate,
    ) -> Result<Vec<String>, StoreError> {
        scheduler::collected_values(&self.readers, scrapers, param, target_date).await
    }

    async fn collected_values_many(
        &self,
        asks: &[CollectedAsk],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        scheduler::collected_values_many(&self.readers, asks).await
    }

    async fn executions_for_date(
        &self,
        workflow: &str,
        target_date: NaiveDate,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            execution_columns!(),
            " FROM workflow_executions WHERE workflow_name = ?1 AND target_date = ?2 \
              ORDER BY execution_time, execution_id",
        );
        sqlx::query(SQL)
            .bind(workflow)
            .bind(encode_date(target_date))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("executions_for_date", e))?
            .iter()
            .map(execution_row)
            .collect()
    }

    async fn latest_payload(
        &self,
        scrapers: &[String],
        target_date: Option<NaiveDate>,
    ) -> Result<Option<LatestPayload>, StoreError> {
        scheduler::latest_payload(&self.readers, scrapers, target_date).await
    }

    // ----- Entity lockouts -----

    async fn entity_streak(
        &self,
        scraper_name: &str,
        param: &str,
        entity: &str,
        limit: u32,
    ) -> Result<u32, StoreError> {
        lockouts::entity_streak(&self.readers, scraper_name, param, entity, limit).await
    }

    async fn lock_entity(&self, lock: &NewLockout) -> Result<bool, StoreError> {
        lockouts::lock_entity(&self.writer, lock).await
    }

    async fn open_lockouts(
        &self,
        scraper_name: Option<&str>,
    ) -> Result<Vec<LockoutRow>, StoreError> {
        lockouts::open_lockouts(&self.readers, scraper_name).await
    }

    async fn release_lockouts(
        &self,
        scraper_name: &str,
        entity: Option<&str>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<u32, StoreError> {
        lockouts::release_lockouts(&self.writer, scraper_name, entity, at, reason).await
    }

    // ----- Request quotas -----

    async fn quota_take(
        &self,
        key: &rebound_storage::QuotaKey,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<rebound_storage::QuotaTake, StoreError> {
        quota::take(&self.writer, key, limit, now).await
    }

    async fn quota_settle(
        &self,
        key: &rebound_storage::QuotaKey,
        extra_requests: i64,
        remaining_reported: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<rebound_storage::QuotaUsageRow, StoreError> {
        quota::settle(&self.writer, key, extra_requests, remaining_reported, now).await
    }

    async fn quota_mark_warned(
        &self,
        key: &rebound_storage::QuotaKey,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        quota::mark_warned(&self.writer, key, now).await
    }

    async fn quota_usage(
        &self,
        source_name: &str,
        period_start: DateTime<Utc>,
    ) -> Result<Option<rebound_storage::QuotaUsageRow>, StoreError> {
        quota::usage(&self.readers, source_name, period_start).await
    }

    // ----- Circuit breakers -----

    async fn breaker_state(&self, source: &str) -> Result<Option<BreakerRow>, StoreError> {
        breakers::breaker_state(&self.readers, source).await
    }

    async fn update_breaker(
        &self,
        source: &str,
        now: DateTime<Utc>,
        change: BreakerChange<'_>,
    ) -> Result<BreakerState, StoreError> {
        breakers::update_breaker(&self.writer, source, now, change).await
    }

    async fn breaker_states(&self) -> Result<Vec<BreakerRow>, StoreError> {
        breakers::breaker_states(&self.readers).await
    }

    async fn breaker_transitions(
        &self,
        source: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BreakerTransitionRow>, StoreError> {
        breakers::breaker_transitions(&self.readers, source, limit).await
    }

    async fn newest_breaker_transitions(
        &self,
        sources: &[String],
    ) -> Result<Vec<Option<BreakerTransitionRow>>, StoreError> {
        breakers::newest_breaker_transitions(&self.readers, sources).await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        // On the writer's one connection: queued behind this process's own
        // writes, so nothing committed before the call stays in the WAL.
        // Another process's reader or writer makes it return busy instead
        // of failing; the WAL then keeps what it could not move, and a
        // later command moves it. Without waiting: the busy timeout here
        // made a command that had just failed on another process's write
        // lock wait for it a second time (10 s, then 10 s more) on its way
        // out.
        let mut connection = self
            .writer
            .acquire()
            .await
            .map_err(|e| store_error("checkpoint", e))?;
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&mut *connection)
            .await
            .map_err(|e| store_error("checkpoint", e))?;
        let checkpointed = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| store_error("checkpoint", e));
        // The writer's other statements keep their wait.
        let restore = format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis());
        sqlx::query(sqlx::AssertSqlSafe(restore))
            .execute(&mut *connection)
            .await
            .map_err(|e| store_error("checkpoint", e))?;
        checkpointed?;
        Ok(())
    }

    async fn backup_into(&self, path: &Path) -> Result<(), StoreError> {
        let Some(target) = path.to_str() else {
            return Err(StoreError::Query(format!(
                "backup: {} is not a UTF-8 path",
                path.display()
            )));
        };
        // `VACUUM INTO` reads its target as SQLite reads a file name: a
        // relative `:memory:` or `file:…` would be an in-memory database or
        // a URI, written nowhere or elsewhere while the backup "succeeded".
        // `./` makes it the file the user named.
        let target = if path.is_absolute() {
            target.to_string()
        } else {
            format!("./{target}")
        };
        // A reader: `VACUUM INTO` reads one snapshot and writes a new,
        // compact file without the WAL, so writers are not held up.
        sqlx::query("VACUUM INTO ?1")
            .bind(target)
            .execute(&self.readers)
            .await
            .map_err(|e| store_error("backup", e))?;
        Ok(())
    }

    // --- Dashboard (issue 16) ---

    async fn run_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RunHourRow>, StoreError> {
        dashboard::run_hours(self, from, to).await
    }

    async fn call_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CallHourRow>, StoreError> {
        dashboard::call_hours(self, from, to).await
    }

    // --- API (issue 16) ---

    async fn workflow_executions_page(
        &self,
        filter: &RunFilter,
        limit: u32,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError> {
        // Only the filters given become conditions, so SQLite can pick
        // the index that fits (by time, or by workflow and date).
        let mut sql = format!(
            "SELECT {} FROM workflow_executions WHERE 1 = 1",
            execution_columns!()
        );
        let mut binds: Vec<String> = Vec::new();
        let mut push = |sql: &mut String, condition: &str, value: String| {
            binds.push(value);
            sql.push_str(&condition.replace('?', &format!("?{}", binds.len())));
        };
        if let Some(workflow) = &filter.workflow {
            push(&mut sql, " AND workflow_name = ?", workflow.clone());
        }
        if let Some(status) = &filter.status {
            push(&mut sql, " AND status = ?", status.clone());
        }
        if let Some(from) = filter.from {
            push(
                &mut sql,
                " AND execution_time >= ?",
                codec::encode_time(from),
            );
        }
        if let Some(to) = filter.to {
            push(&mut sql, " AND execution_time < ?", codec::encode_time(to));
        }
        if let Some((at, id)) = &filter.before {
            let at = codec::encode_time(*at);
            push(&mut sql, " AND (execution_time < ?", at.clone());
            push(&mut sql, " OR (execution_time = ?", at);
            push(&mut sql, " AND execution_id < ?))", id.clone());
        }
        sql.push_str(&format!(
            " ORDER BY execution_time DESC, execution_id DESC LIMIT {}",
            limit
        ));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in binds {
            query = query.bind(value);
        }
        query
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("workflow_executions_page", e))?
            .iter()
            .map(execution_row)
            .collect()
    }

    async fn workflow_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<WorkflowExecutionRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            execution_columns!(),
            " FROM workflow_executions WHERE execution_id = ?1",
        );
        sqlx::query(SQL)
            .bind(execution_id)
            .fetch_optional(&self.readers)
            .await
            .map_err(|e| store_error("workflow_execution", e))?
            .as_ref()
            .map(execution_row)
            .transpose()
    }

    async fn scraper_calls_page(
        &self,
        filter: &CallFilter,
        limit: u32,
    ) -> Result<Vec<ScraperCallRow>, StoreError> {
        let mut sql = format!(
            "SELECT {} FROM scraper_execution_log WHERE 1 = 1",
            call_columns!()
        );
        let mut binds: Vec<String> = Vec::new();
        let mut push = |sql: &mut String, condition: &str, value: String| {
            binds.push(value);
            sql.push_str(&condition.replace('?', &format!("?{}", binds.len())));
        };
        if let Some(scraper) = &filter.scraper {
            push(&mut sql, " AND scraper_name = ?", scraper.clone());
        }
        if let Some(status) = &filter.status {
            push(&mut sql, " AND status = ?", status.clone());
        }
        if let Some(from) = filter.from {
            push(&mut sql, " AND started_at >= ?", codec::encode_time(from));
        }
        if let Some(to) = filter.to {
            push(&mut sql, " AND started_at < ?", codec::encode_time(to));
        }
        if let Some((at, id)) = filter.before {
            let at = codec::encode_time(at);
            push(&mut sql, " AND (started_at < ?", at.clone());
            push(&mut sql, " OR (started_at = ?", at);
            // The id is an integer, from the store itself: written as one.
            sql.push_str(&format!(" AND id < {id}))"));
        }
        sql.push_str(&format!(" ORDER BY started_at DESC, id DESC LIMIT {limit}"));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in binds {
            query = query.bind(value);
        }
        query
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("scraper_calls_page", e))?
            .iter()
            .map(call_row)
            .collect()
    }

    async fn decisions_between(
        &self,
        workflow: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        scheduler::decisions_between(&self.readers, workflow, from, to).await
    }
}

fn execution_row(row: &SqliteRow) -> Result<WorkflowExecutionRow, StoreError> {
    Ok(WorkflowExecutionRow {
        execution_id: column(row, "execution_id")?,
        workflow_name: column(row, "workflow_name")?,
        target_date: date_column(row, "target_date")?,
        execution_time: time_column(row, "execution_time")?,
        finished_at: time_column(row, "finished_at")?,
        status: column(row, "status")?,
        scrapers_requested: column(row, "scrapers_requested")?,
        scrapers_succeeded: column(row, "scrapers_succeeded")?,
        scrapers_failed: column(row, "scrapers_failed")?,
        scrapers_no_data: column(row, "scrapers_no_data")?,
        scrapers_skipped: column(row, "scrapers_skipped")?,
        error_message: column(row, "error_message")?,
        duration_ms: column(row, "duration_ms")?,
        error_kind: column(row, "error_kind")?,
    })
}

fn call_row(row: &SqliteRow) -> Result<ScraperCallRow, StoreError> {
    Ok(ScraperCallRow {
        id: column(row, "id")?,
        execution_id: column(row, "execution_id")?,
        workflow_name: column(row, "workflow_name")?,
        scraper_name: column(row, "scraper_name")?,
        source_name: column(row, "source_name")?,
        params: column(row, "params")?,
        target_date: date_column(row, "target_date")?,
        status: column(row, "status")?,
        attempts: column(row, "attempts")?,
        http_status: column(row, "http_status")?,
        error_kind: column(row, "error_kind")?,
        error_message: column(row, "error_message")?,
        started_at: time_column(row, "started_at")?,
        finished_at: time_column(row, "finished_at")?,
        duration_ms: column(row, "duration_ms")?,
        bytes: column(row, "bytes")?,
        output_uri: column(row, "output_uri")?,
        content_hash: column(row, "content_hash")?,
        unchanged: column::<i64>(row, "unchanged")? != 0,
        pages: column(row, "pages")?,
        record_count: column(row, "record_count")?,
    })
}

fn attempt_row(row: &SqliteRow) -> Result<AttemptRow, StoreError> {
    Ok(AttemptRow {
        scraper_execution_id: column(row, "scraper_execution_id")?,
        attempt: column(row, "attempt")?,
        page: column(row, "page")?,
        proxy: column(row, "proxy")?,
        started_at: time_column(row, "started_at")?,
        finished_at: time_column(row, "finished_at")?,
        http_status: column(row, "http_status")?,
        outcome: column(row, "outcome")?,
        error_kind: column(row, "error_kind")?,
        error_message: column(row, "error_message")?,
        delay_before_ms: column(row, "delay_before_ms")?,
    })
}

/// The query plan SQLite chooses for `sql` on `store`, its steps joined
/// by "; " (the unit tests that pin a statement to its index).
#[cfg(test)]
pub(crate) async fn query_plan(store: &SqliteStore, sql: &str) -> String {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("; ")
}
