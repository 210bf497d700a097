//! Run rows while they run (migration 0010): `workflow_executions` gets
//! its row with status `running` when a run starts, the owner renews a
//! heartbeat on it, and the row is finished in place at the end. A process
//! killed mid-run leaves a `running` row that the next process closes as
//! failed ([`rebound_storage::Store::record_run_failure`]). Each statement
//! is one transaction; the guarded ones re-check their condition under the
//! row lock, so a renewal and a close never both win.

use crate::Within;
use crate::{PostgresStore, ms};
use chrono::{DateTime, Utc};
use rebound_storage::{
    DateClaim, NewWorkflowExecution, RunFailure, RunStart, RunningExecution, StoreError,
};
use sqlx::Row;
use sqlx::postgres::PgArguments;

/// The counts of an execution's call rows, as `workflow_executions`
/// columns, for a run closed without the engine's own tally. Same mapping
/// as the engine's: overdue is a failure, not_yet_available a no_data.
/// `$1` is the execution id.
macro_rules! call_counts {
    () => {
        "SELECT COUNT(*) AS n, \
                COUNT(*) FILTER (WHERE status = 'success') AS ok, \
                COUNT(*) FILTER (WHERE status IN ('failed', 'overdue')) AS bad, \
                COUNT(*) FILTER (WHERE status IN ('no_data', 'not_yet_available')) AS nd, \
                COUNT(*) FILTER (WHERE status = 'skipped') AS sk \
         FROM scraper_execution_log WHERE execution_id = $1"
    };
}

/// Run time in milliseconds from the row's `execution_time` to `$4`.
macro_rules! elapsed_ms {
    () => {
        "GREATEST(0, ROUND(EXTRACT(EPOCH FROM ($4 - workflow_executions.execution_time)) \
            * 1000))::bigint"
    };
}

pub(crate) async fn record_workflow_execution(
    store: &PostgresStore,
    execution: &NewWorkflowExecution,
) -> Result<(), StoreError> {
    // A rescue or follow-up of the same execution finishes the existing row:
    // its first start is kept, so the run reads as one execution.
    sqlx::query(
        "INSERT INTO workflow_executions (execution_id, workflow_name, target_date, \
            execution_time, finished_at, status, scrapers_requested, \
            scrapers_succeeded, scrapers_failed, scrapers_no_data, scrapers_skipped, \
            error_message, duration_ms, params) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (execution_id) DO UPDATE SET \
            execution_time = LEAST(workflow_executions.execution_time, excluded.execution_time), \
            finished_at = excluded.finished_at, status = excluded.status, \
            scrapers_requested = excluded.scrapers_requested, \
            scrapers_succeeded = excluded.scrapers_succeeded, \
            scrapers_failed = excluded.scrapers_failed, \
            scrapers_no_data = excluded.scrapers_no_data, \
            scrapers_skipped = excluded.scrapers_skipped, \
            error_message = excluded.error_message, \
            duration_ms = GREATEST(excluded.duration_ms, ROUND(EXTRACT(EPOCH FROM \
                (excluded.finished_at - LEAST(workflow_executions.execution_time, \
                excluded.execution_time))) * 1000)::bigint), \
            error_kind = NULL, run_owner = NULL, heartbeat_until = NULL",
    )
    .bind(execution.execution_id.as_str())
    .bind(execution.workflow_name.as_str())
    .bind(execution.target_date)
    .bind(ms(execution.execution_time))
    .bind(ms(execution.finished_at))
    .bind(execution.status.as_str())
    .bind(i64::from(execution.scrapers_requested))
    .bind(i64::from(execution.scrapers_succeeded))
    .bind(i64::from(execution.scrapers_failed))
    .bind(i64::from(execution.scrapers_no_data))
    .bind(i64::from(execution.scrapers_skipped))
    .bind(execution.error_message.as_deref())
    .bind(execution.duration_ms)
    .bind(execution.params.as_str())
    .execute(&store.pool)
    .within(store, "record_workflow_execution")
    .await?;
    Ok(())
}

/// The row of a run that starts (see [`begin_workflow_execution`]).
fn begin_query(start: &RunStart) -> sqlx::query::Query<'_, sqlx::Postgres, PgArguments> {
    sqlx::query(
        "INSERT INTO workflow_executions (execution_id, workflow_name, target_date, \
            execution_time, finished_at, status, scrapers_requested, \
            scrapers_succeeded, scrapers_failed, scrapers_no_data, scrapers_skipped, \
            error_message, duration_ms, params, run_owner, heartbeat_until) \
         VALUES ($1, $2, $3, $4, $4, 'running', 0, 0, 0, 0, 0, NULL, 0, $5, $6, $7) \
         ON CONFLICT (execution_id) DO UPDATE SET \
            status = 'running', error_kind = NULL, error_message = NULL, \
            run_owner = excluded.run_owner, heartbeat_until = excluded.heartbeat_until",
    )
    .bind(start.execution_id.as_str())
    .bind(start.workflow_name.as_str())
    .bind(start.target_date)
    .bind(ms(start.started_at))
    .bind(start.params.as_str())
    .bind(start.owner.as_str())
    .bind(ms(start.heartbeat_until))
}

pub(crate) async fn begin_workflow_execution(
    store: &PostgresStore,
    start: &RunStart,
) -> Result<(), StoreError> {
    begin_query(start)
        .execute(&store.pool)
        .within(store, "begin_workflow_execution")
        .await?;
    Ok(())
}

/// The read and the write in one transaction that first takes an advisory
/// lock on the workflow and date: under READ COMMITTED two claimers would
/// both read "no run" before either inserted, and no row exists yet to
/// lock. The lock goes with the transaction.
pub(crate) async fn claim_target_date(
    store: &PostgresStore,
    start: &RunStart,
) -> Result<DateClaim, StoreError> {
    const WHAT: &str = "claim_target_date";
    // The date comes last and has a fixed length, so two keys are the same
    // text only for the same workflow and date.
    let key = format!(
        "rebound claim_target_date {}/{}",
        start.workflow_name, start.target_date
    );
    let mut tx = store.pool.begin().within(store, WHAT).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(&mut *tx)
        .within(store, WHAT)
        .await?;
    let holder: Option<(String, String)> = sqlx::query_as(
        "SELECT execution_id, status FROM workflow_executions \
         WHERE workflow_name = $1 AND target_date = $2 \
           AND status IN ('success', 'no_data', 'running') \
         ORDER BY status = 'running', execution_time DESC, execution_id DESC LIMIT 1",
    )
    .bind(start.workflow_name.as_str())
    .bind(start.target_date)
    .fetch_optional(&mut *tx)
    .within(store, WHAT)
    .await?;
    let claim = DateClaim::held_by(holder);
    if claim == DateClaim::Claimed {
        begin_query(start)
            .execute(&mut *tx)
            .within(store, WHAT)
            .await?;
    }
    tx.commit().within(store, WHAT).await?;
    Ok(claim)
}

pub(crate) async fn renew_workflow_execution(
    store: &PostgresStore,
    execution_id: &str,
    owner: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE workflow_executions SET heartbeat_until = $3 \
         WHERE execution_id = $1 AND status = 'running' AND run_owner = $2",
    )
    .bind(execution_id)
    .bind(owner)
    .bind(ms(until))
    .execute(&store.pool)
    .within(store, "renew_workflow_execution")
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn running_executions(
    store: &PostgresStore,
) -> Result<Vec<RunningExecution>, StoreError> {
    const WHAT: &str = "running_executions";
    sqlx::query(
        "SELECT execution_id, workflow_name, target_date, execution_time, run_owner, \
                heartbeat_until \
         FROM workflow_executions WHERE status = 'running' ORDER BY heartbeat_until",
    )
    .fetch_all(&store.pool)
    .within(store, WHAT)
    .await?
    .iter()
    .map(|row| {
        Ok(RunningExecution {
            execution_id: row.try_get("execution_id")?,
            workflow_name: row.try_get("workflow_name")?,
            target_date: row.try_get("target_date")?,
            execution_time: row.try_get("execution_time")?,
            owner: row.try_get("run_owner")?,
            heartbeat_until: row.try_get("heartbeat_until")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()
    .map_err(|e| store.error(WHAT, e))
}

pub(crate) async fn record_run_failure(
    store: &PostgresStore,
    failure: &RunFailure,
) -> Result<bool, StoreError> {
    const WHAT: &str = "record_run_failure";
    let done = match &failure.only_running_owner {
        Some(owner) => sqlx::query(concat!(
            "UPDATE workflow_executions SET status = 'failed', finished_at = $4, \
                scrapers_requested = c.n, scrapers_succeeded = c.ok, scrapers_failed = c.bad, \
                scrapers_no_data = c.nd, scrapers_skipped = c.sk, \
                error_message = $5, error_kind = $6, duration_ms = ",
            elapsed_ms!(),
            ", run_owner = NULL, heartbeat_until = NULL \
             FROM (",
            call_counts!(),
            ") AS c \
             WHERE execution_id = $1 AND status = 'running' AND run_owner = $2 \
               AND $3::bigint IS NOT NULL" // $3 only keeps the numbering of the insert
        ))
        .bind(failure.execution_id.as_str())
        .bind(owner.as_str())
        .bind(0_i64)
        .bind(ms(failure.at))
        .bind(failure.message.as_str())
        .bind(failure.error_kind.as_str()),
        None => sqlx::query(concat!(
            "INSERT INTO workflow_executions (execution_id, workflow_name, target_date, \
                execution_time, finished_at, status, scrapers_requested, \
                scrapers_succeeded, scrapers_failed, scrapers_no_data, scrapers_skipped, \
                error_message, duration_ms, params, error_kind) \
             SELECT $1, $2, $3, $4, $4, 'failed', c.n, c.ok, c.bad, c.nd, c.sk, $5, 0, $7, $6 \
             FROM (",
            call_counts!(),
            ") AS c \
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
        .bind(failure.target_date)
        .bind(ms(failure.at))
        .bind(failure.message.as_str())
        .bind(failure.error_kind.as_str())
        .bind(failure.params.as_str()),
    }
    .execute(&store.pool)
    .within(store, WHAT)
    .await?;
    Ok(done.rows_affected() > 0)
}
