//! The dashboard's reads (the `Dashboard` block of `Store`, issue 16), the
//! SQLite backend's queries in PostgreSQL's dialect. Hours are truncated
//! in UTC (`date_trunc`'s zone argument), whatever the session's
//! `TimeZone`, so both backends bucket alike.

use crate::Within;
use crate::{PostgresStore, ms};
use chrono::{DateTime, Utc};
use rebound_storage::{CallHourRow, RunHourRow, StoreError};
use sqlx::Row;

pub(crate) async fn run_hours(
    store: &PostgresStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RunHourRow>, StoreError> {
    let what = "run_hours";
    let rows = sqlx::query(
        "SELECT date_trunc('hour', execution_time, 'UTC') AS hour, status, COUNT(*) AS runs \
         FROM workflow_executions WHERE execution_time >= $1 AND execution_time < $2 \
         GROUP BY 1, status ORDER BY 1, status COLLATE \"C\"",
    )
    .bind(ms(from))
    .bind(ms(to))
    .fetch_all(&store.pool)
    .within(store, what)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RunHourRow {
                hour: row.try_get("hour").map_err(|e| store.error(what, e))?,
                status: row.try_get("status").map_err(|e| store.error(what, e))?,
                runs: row.try_get("runs").map_err(|e| store.error(what, e))?,
            })
        })
        .collect()
}

pub(crate) async fn call_hours(
    store: &PostgresStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CallHourRow>, StoreError> {
    let what = "call_hours";
    let rows = sqlx::query(
        "SELECT date_trunc('hour', started_at, 'UTC') AS hour, source_name, COUNT(*) AS calls, \
                COUNT(*) FILTER (WHERE attempts > 0) AS requested, \
                COUNT(*) FILTER (WHERE status = 'failed' AND attempts > 0) AS failed \
         FROM scraper_execution_log WHERE started_at >= $1 AND started_at < $2 \
         GROUP BY 1, source_name ORDER BY 1, source_name COLLATE \"C\"",
    )
    .bind(ms(from))
    .bind(ms(to))
    .fetch_all(&store.pool)
    .within(store, what)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CallHourRow {
                hour: row.try_get("hour").map_err(|e| store.error(what, e))?,
                source_name: row
                    .try_get("source_name")
                    .map_err(|e| store.error(what, e))?,
                calls: row.try_get("calls").map_err(|e| store.error(what, e))?,
                requested: row.try_get("requested").map_err(|e| store.error(what, e))?,
                failed: row.try_get("failed").map_err(|e| store.error(what, e))?,
            })
        })
        .collect()
}
