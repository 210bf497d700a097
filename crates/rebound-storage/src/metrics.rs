//! Reads for the Prometheus endpoint of `rebound serve`: shared state
//! (the run queue) that every serve process exposes the same way, read at
//! scrape time. Kept apart from [`crate::Store`]'s own methods so that the
//! metrics code has one small surface to read from.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Store reads behind the `/metrics` gauges.
#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// How many `scheduled_runs` are `queued` with `run_at <= now`: runs a
    /// worker could start right now but has not. A count, not a list, so a
    /// scrape costs one indexed query however long the queue is.
    async fn count_due_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}
