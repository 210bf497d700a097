//! [`MetricsStore`] on SQLite: scrape-time reads on the reader pool, so a
//! scrape never waits behind the single writer.

use crate::SqliteStore;
use crate::codec::{encode_time, store_error};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{MetricsStore, StoreError};

#[async_trait]
impl MetricsStore for SqliteStore {
    async fn count_due_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // Served by the index scheduled_runs_claim (state, run_at, …).
        const SQL: &str =
            "SELECT COUNT(*) FROM scheduled_runs WHERE state = 'queued' AND run_at <= ?1";
        let count: i64 = sqlx::query_scalar(SQL)
            .bind(encode_time(now))
            .fetch_one(&self.readers)
            .await
            .map_err(|e| store_error("count_due_runs", e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
