//! [`MetricsStore`] on PostgreSQL: scrape-time reads.

use crate::PostgresStore;
use crate::Within;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{MetricsStore, StoreError};

#[async_trait]
impl MetricsStore for PostgresStore {
    async fn count_due_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // Served by the index scheduled_runs_claim (state, run_at, …).
        const SQL: &str =
            "SELECT COUNT(*) FROM scheduled_runs WHERE state = 'queued' AND run_at <= $1";
        let count: i64 = sqlx::query_scalar(SQL)
            .bind(now)
            .fetch_one(&self.pool)
            .within(self, "count_due_runs")
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
