//! Run rows while they run (migration 0010): `workflow_executions` gets
//! its row with status `running` when a run starts, the owner renews a
//! heartbeat on it, and the row is finished in place at the end. A process
//! killed mid-run leaves a `running` row that the next process closes as
//! failed ([`rebound_storage::Store::record_run_failure`]).
//!
//! Every statement is a single write on the writer connection, so each is
//! its own transaction and queues behind the group commits of this process;
//! a backfill's claim of a date (a read, then the write) is one `BEGIN
//! IMMEDIATE` transaction.

use crate::codec::{
    begin_immediate, column, date_column, encode_date, encode_time, opt_time_column, store_error,
    time_column,
};
use chrono::{DateTime, Utc};
use rebound_storage::{
    DateClaim, NewWorkflowExecution, RunFailure, RunStart, RunningExecution, StoreError,
};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteArguments;

/// The counts of an execution's call rows, as `workflow_executions`
/// columns, for a run closed without the engine's own tally. Same mapping
/// as the engine's: overdue is a failure, not_yet_available a no_data.
/// `?1` is the execution id.
macro_rules! call_counts {
    () => {
        "SELECT COUNT(*) AS n, \
                COALESCE(SUM(status = 'success'), 0) AS ok, \
                COALESCE(SUM(status IN ('failed', 'overdue')), 0) AS bad, \
                COALESCE(SUM(status IN ('no_data', 'not_yet_available')), 0) AS nd, \
                COALESCE(SUM(status = 'skipped'), 0) AS sk \
         FROM scraper_execution_log WHERE execution_id = ?1"
    };
}

/// Run time in milliseconds from the row's `execution_time` to `?4`.
macro_rules! elapsed_ms {
    () => {
        "MAX(0, CAST(ROUND((julianday(?4) - julianday(execution_time)) * 86400000) AS INTEGER))"
    };
}

pub(crate) async fn record_workflow_execution(
    writer: &SqlitePool,
    execution: &NewWorkflowExecution,
) -> Result<(), StoreError> {
    // A rescue or follow-up of the same execution finishes the existing row:
    // its first start is kept, so the run reads as one execution, and its
    // duration runs from that start (a follow-up hours later is not "0ms").
    sqlx::query(
        "INSERT INTO workflow_executions (execution_id, workflow_name, target_date, \
            execution_time, finished_at, status, scrapers_requested, \
            scrapers_succeeded, scrapers_failed, scrapers_no_data, scrapers_skipped, \
            error_message, duration_ms, params) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT (execution_id) DO UPDATE SET \
            execution_time = MIN(execution_time, excluded.execution_time), \
            finished_at = excluded.finished_at, status = excluded.status, \
            scrapers_requested = excluded.scrapers_requested, \
            scrapers_succeeded = excluded.scrapers_succeeded, \
            scrapers_failed = excluded.scrapers_failed, \
            scrapers_no_data = excluded.scrapers_no_data, \
            scrapers_skipped = excluded.scrapers_skipped, \
            error_message = excluded.error_message, \
            duration_ms = MAX(excluded.duration_ms, CAST(ROUND((julianday(excluded.finished_at) \
                - julianday(MIN(execution_time, excluded.execution_time))) * 86400000) AS INTEGER)), \
            error_kind = NULL, run_owner = NULL, heartbeat_until = NULL",
    )
    .bind(execution.execution_id.as_str())
    .bind(execution.workflow_name.as_str())
    .bind(encode_date(execution.target_date))
    .bind(encode_time(execution.execution_time))
    .bind(encode_time(execution.finished_at))
    .bind(execution.status.as_str())
    .bind(i64::from(execution.scrapers_requested))
    .bind(i64::from(execution.scrapers_succeeded))
    .bind(i64::from(execution.scrapers_failed))
    .bind(i64::from(execution.scrapers_no_data))
    .bind(i64::from(execution.scrapers_skipped))
    .bind(execution.error_message.as_deref())
    .bind(execution.duration_ms)
    .bind(execution.params.as_str())
    .execute(writer)
    .await
    .map_err(|e| store_error("record_workflow_execution", e))?;
    Ok(())
}

/// The row of a run that starts (see [`begin_workflow_execution`]).
fn begin_query(start: &RunStart) -> sqlx::query::Query<'_, sqlx::Sqlite, SqliteArguments> {
    sqlx::query(
        "INSERT INTO workflow_executions (execution_id, workflow_name, target_date, \
            execution_time, finished_at, status, scrapers_requested, \
            scrapers_succeeded, scrapers_failed, scrapers_no_data, scrapers_skipped, \
            error_message, duration_ms, params, run_owner, heartbeat_until) \
         VALUES (?1, ?2, ?3, ?4, ?4, 'running', 0, 0, 0, 0, 0, NULL, 0, ?5, ?6, ?7) \
         ON CONFLICT (execution_id) DO UPDATE SET \
            status = 'running', error_kind = NULL, error_message = NULL, \
            run_owner = excluded.run_owner, heartbeat_until = excluded.heartbeat_until",
    )
    .bind(start.execution_id.as_str())
    .bind(start.workflow_name.as_str())
    .bind(encode_date(start.target_date))
    .bind(encode_time(start.started_at))
    .bind(start.params.as_str())
    .bind(start.owner.as_str())
    .bind(encode_time(start.heartbeat_until))
}

pub(crate) async fn begin_workflow_execution(
    writer: &SqlitePool,
    start: &RunStart,
) -> Result<(), StoreError> {
    begin_query(start)
        .execute(writer)
        .await
        .map_err(|e| store_error("begin_workflow_execution", e))?;
    Ok(())
}

/// The run that holds a workflow's date: a collected one before a running
/// one, the newest of each first (`status = 'running'` sorts false first).
const DATE_HOLDER: &str = "SELECT execution_id, status FROM workflow_executions \
     WHERE workflow_name = ?1 AND target_date = ?2 \
       AND status IN ('success', 'no_data', 'running') \
     ORDER BY status = 'running', execution_time DESC, execution_id DESC LIMIT 1";

/// The read and the write in one `BEGIN IMMEDIATE` transaction: holding
/// the write lock, no other connection (nor process) can begin a run of
/// the date between them.
pub(crate) async fn claim_target_date(
    writer: &SqlitePool,
    start: &RunStart,
) -> Result<DateClaim, StoreError> {
    const WHAT: &str = "claim_target_date";
    let mut tx = begin_immediate(writer, WHAT).await?;
    let holder: Option<(String, String)> = sqlx::query_as(DATE_HOLDER)
        .bind(start.workflow_name.as_str())
        .bind(encode_date(start.target_date))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
    let claim = DateClaim::held_by(holder);
    if claim == DateClaim::Claimed {
        begin_query(start)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(WHAT, e))?;
    }
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(claim)
}

pub(crate) async fn renew_workflow_execution(
    writer: &SqlitePool,
    execution_id: &str,
    owner: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE workflow_executions SET heartbeat_until = ?3 \
         WHERE execution_id = ?1 AND status = 'running' AND run_owner = ?2",
    )
    .bind(execution_id)
    .bind(owner)
    .bind(encode_time(until))
    .execute(writer)
    .await
    .map_err(|e| store_error("renew_workflow_execution", e))?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn running_executions(
    readers: &SqlitePool,
) -> Result<Vec<RunningExecution>, StoreError> {
    sqlx::query(
        "SELECT execution_id, workflow_name, target_date, execution_time, run_owner, \
                heartbeat_until \
         FROM workflow_executions INDEXED BY workflow_executions_running \
         WHERE status = 'running' ORDER BY heartbeat_until",
    )
    .fetch_all(readers)
    .await
    .map_err(|e| store_error("running_executions", e))?
    .iter()
    .map(|row| {
        Ok(RunningExecution {
            execution_id: column(row, "execution_id")?,
            workflow_name: column(row, "workflow_name")?,
            target_date: date_column(row, "target_date")?,
            execution_time: time_column(row, "execution_time")?,
            owner: column(row, "run_owner")?,
            heartbeat_until: opt_time_column(row, "heartbeat_until")?,
        })
    })
    .collect()
}

pub(crate) async fn record_run_failure(
    writer: &SqlitePool,
    failure: &RunFailure,
) -> Result<bool, StoreError> {
    const WHAT: &str = "record_run_failure";
    let done = match &failure.only_running_owner {
        Some(owner) => sqlx::query(concat!(
            "UPDATE workflow_executions SET status = 'failed', finished_at = ?4, \
                scrapers_requested = c.n, scrapers_succeeded = c.ok, scrapers_failed = c.bad, \
                scrapers_no_data = c.nd, scrapers_skipped = c.sk, \
                error_message = ?5, error_kind = ?6, duration_ms = ",
            elapsed_ms!(),
            ", run_owner = NULL, heartbeat_until = NULL \
             FROM (",
            call_counts!(),
            ") AS c \
             WHERE execution_id = ?1 AND status = 'running' AND run_owner = ?2"
        ))
        .bind(failure.execution_id.as_str())
        .bind(owner.as_str())
        .bind(0)
        .bind(encode_time(failure.at))
        .bind(failure.message.as_str())
        .bind(failure.error_kind.as_str()),
        None => sqlx::query(concat!(
            "INSERT INTO workflow_executions (execution_id, workflow_name, target_date, \
                execution_time, finished_at, status, scrapers_requested, \
                scrapers_succeeded, scrapers_failed, scrapers_no_data, scrapers_skipped, \
                error_message, duration_ms, params, error_kind) \
             SELECT ?1, ?2, ?3, ?4, ?4, 'failed', c.n, c.ok, c.bad, c.nd, c.sk, ?5, 0, ?7, ?6 \
             FROM (",
            call_counts!(),
            ") AS c WHERE true \
             ON CONFLICT (execution_id) DO UPDATE SET status = 'failed', \
                finished_at = excluded.finished_at, \
                scrapers_requested = excluded.scrapers_requested, \
                scrapers_succeeded = excluded.scrapers_succeeded, \
                scrapers_failed = excluded.scrapers_failed, \
                scrapers_no_data = excluded.scrapers_no_data, \
                scrapers_skipped = excluded.scrapers_skipped, \
                error_message = excluded.error_message, error_kind = excluded.error_kind, \
                duration_ms = ",
            elapsed_ms!(),
            ", run_owner = NULL, heartbeat_until = NULL"
        ))
        .bind(failure.execution_id.as_str())
        .bind(failure.workflow_name.as_str())
        .bind(encode_date(failure.target_date))
        .bind(encode_time(failure.at))
        .bind(failure.message.as_str())
        .bind(failure.error_kind.as_str())
        .bind(failure.params.as_str()),
    }
    .execute(writer)
    .await
    .map_err(|e| store_error(WHAT, e))?;
    Ok(done.rows_affected() > 0)
}
