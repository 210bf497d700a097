//! The dashboard's reads (the `Dashboard` block of `Store`, issue 16).
//!
//! Hours are cut from the stored text itself (`2026-11-28T15` is the first
//! 13 characters of every instant of that hour, see `codec`), so grouping
//! needs no date functions and the range stays on the time index, named
//! as in `health.rs` for the same reason: left alone, SQLite may walk the
//! table in another index's order to save the sort.

use crate::SqliteStore;
use crate::codec::{column, encode_time, store_error, time_column};
use chrono::{DateTime, Utc};
use rebound_storage::{CallHourRow, RunHourRow, StoreError};

pub(crate) async fn run_hours(
    store: &SqliteStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RunHourRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT substr(execution_time, 1, 13) || ':00:00.000Z' AS hour, status, \
                COUNT(*) AS runs \
         FROM workflow_executions INDEXED BY workflow_executions_by_time \
         WHERE execution_time >= ?1 AND execution_time < ?2 \
         GROUP BY 1, status ORDER BY 1, status",
    )
    .bind(encode_time(from))
    .bind(encode_time(to))
    .fetch_all(&store.readers)
    .await
    .map_err(|e| store_error("run_hours", e))?;
    rows.iter()
        .map(|row| {
            Ok(RunHourRow {
                hour: time_column(row, "hour")?,
                status: column(row, "status")?,
                runs: column(row, "runs")?,
            })
        })
        .collect()
}

pub(crate) async fn call_hours(
    store: &SqliteStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CallHourRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT substr(started_at, 1, 13) || ':00:00.000Z' AS hour, source_name, \
                COUNT(*) AS calls, SUM(attempts > 0) AS requested, \
                SUM(status = 'failed' AND attempts > 0) AS failed \
         FROM scraper_execution_log INDEXED BY scraper_execution_log_by_start \
         WHERE started_at >= ?1 AND started_at < ?2 \
         GROUP BY 1, source_name ORDER BY 1, source_name",
    )
    .bind(encode_time(from))
    .bind(encode_time(to))
    .fetch_all(&store.readers)
    .await
    .map_err(|e| store_error("call_hours", e))?;
    rows.iter()
        .map(|row| {
            Ok(CallHourRow {
                hour: time_column(row, "hour")?,
                source_name: column(row, "source_name")?,
                calls: column(row, "calls")?,
                requested: column(row, "requested")?,
                failed: column(row, "failed")?,
            })
        })
        .collect()
}
