//! The dashboard's reads (the `Dashboard` block of `Store`, issue 16), the
//! SQLite backend's queries in PostgreSQL's dialect. Hours are truncated
//! in UTC (`date_trunc`'s zone argument), whatever the session's
//! `TimeZone`, so both backends bucket alike.

use crate::{PostgresStore, execution_row, ms};
use chrono::{DateTime, Utc};
use rebound_storage::{
    CallHourRow, DecisionRow, RunFilter, RunHourRow, StoreError, WorkflowExecutionRow,
};
use sqlx::Row;

pub(crate) async fn run_hours(
    store: &PostgresStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RunHourRow>, StoreError> {
    let what = |e| store.error("run_hours", e);
    let rows = sqlx::query(
        "SELECT date_trunc('hour', execution_time, 'UTC') AS hour, status, COUNT(*) AS runs \
         FROM workflow_executions WHERE execution_time >= $1 AND execution_time < $2 \
         GROUP BY 1, status ORDER BY 1, status COLLATE \"C\"",
    )
    .bind(ms(from))
    .bind(ms(to))
    .fetch_all(&store.pool)
    .await
    .map_err(what)?;
    rows.iter()
        .map(|row| {
            Ok(RunHourRow {
                hour: row.try_get("hour").map_err(what)?,
                status: row.try_get("status").map_err(what)?,
                runs: row.try_get("runs").map_err(what)?,
            })
        })
        .collect()
}

pub(crate) async fn call_hours(
    store: &PostgresStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CallHourRow>, StoreError> {
    let what = |e| store.error("call_hours", e);
    let rows = sqlx::query(
        "SELECT date_trunc('hour', started_at, 'UTC') AS hour, source_name, COUNT(*) AS calls, \
                COUNT(*) FILTER (WHERE status = 'failed') AS failed \
         FROM scraper_execution_log WHERE started_at >= $1 AND started_at < $2 \
         GROUP BY 1, source_name ORDER BY 1, source_name COLLATE \"C\"",
    )
    .bind(ms(from))
    .bind(ms(to))
    .fetch_all(&store.pool)
    .await
    .map_err(what)?;
    rows.iter()
        .map(|row| {
            Ok(CallHourRow {
                hour: row.try_get("hour").map_err(what)?,
                source_name: row.try_get("source_name").map_err(what)?,
                calls: row.try_get("calls").map_err(what)?,
                failed: row.try_get("failed").map_err(what)?,
            })
        })
        .collect()
}

pub(crate) async fn filtered_runs(
    store: &PostgresStore,
    filter: &RunFilter,
    limit: u32,
) -> Result<Vec<WorkflowExecutionRow>, StoreError> {
    let what = |e| store.error("filtered_runs", e);
    const SQL: &str = concat!(
        "SELECT ",
        execution_columns!(),
        " FROM workflow_executions \
          WHERE ($1::text IS NULL OR workflow_name = $1) AND ($2::text IS NULL OR status = $2) \
            AND ($3::timestamptz IS NULL OR execution_time >= $3) \
            AND ($4::timestamptz IS NULL OR execution_time < $4) \
          ORDER BY execution_time DESC, execution_id DESC LIMIT $5",
    );
    sqlx::query(SQL)
        .bind(filter.workflow.as_deref())
        .bind(filter.status.as_deref())
        .bind(filter.from.map(ms))
        .bind(filter.to.map(ms))
        .bind(i64::from(limit))
        .fetch_all(&store.pool)
        .await
        .map_err(what)?
        .iter()
        .map(|row| execution_row(row).map_err(what))
        .collect()
}

pub(crate) async fn workflow_execution(
    store: &PostgresStore,
    execution_id: &str,
) -> Result<Option<WorkflowExecutionRow>, StoreError> {
    let what = |e| store.error("workflow_execution", e);
    const SQL: &str = concat!(
        "SELECT ",
        execution_columns!(),
        " FROM workflow_executions WHERE execution_id = $1",
    );
    sqlx::query(SQL)
        .bind(execution_id)
        .fetch_optional(&store.pool)
        .await
        .map_err(what)?
        .as_ref()
        .map(|row| execution_row(row).map_err(what))
        .transpose()
}

pub(crate) async fn decisions_between(
    store: &PostgresStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DecisionRow>, StoreError> {
    let what = |e| store.error("decisions_between", e);
    sqlx::query(
        "SELECT decision_id, workflow_name, decided_at, slot, target_date, action, reason, \
                entities, alert_level, execution_id, decided_by \
         FROM workflow_decisions WHERE decided_at >= $1 AND decided_at < $2 \
         ORDER BY decided_at, decision_id",
    )
    .bind(ms(from))
    .bind(ms(to))
    .fetch_all(&store.pool)
    .await
    .map_err(what)?
    .iter()
    .map(|row| crate::scheduler::decision_row(row).map_err(what))
    .collect()
}
