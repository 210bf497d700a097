//! What a scrape of `/metrics` does: refresh the shared-state gauges from
//! the store (unless they were read moments ago), then encode.
//!
//! Breaker state, queue depth, dataset age and pending completion events
//! (`rebound_events_pending`, `rebound_events_oldest_pending_seconds`) are the same for every
//! process sharing a database, so they are read, not counted. The reads are
//! cached for [`DEFAULT_CACHE`] on the injected clock: several Prometheus
//! servers scraping several processes every few seconds then cost the
//! database a handful of small queries, and concurrent scrapes of one
//! process share one read (the second waits for the first).

use crate::{Format, Metrics};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::breaker::Phase;
use rebound_domain::clock::Clock;
use rebound_storage::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long shared-state gauges are reused before the store is read again.
pub const DEFAULT_CACHE: Duration = Duration::from_secs(5);

/// Where dataset ages come from: the freshness rule (an empty payload, a
/// no_data answer or an unchanged payload never makes data fresh) belongs
/// to the health report, so the exporter only asks for the result.
#[async_trait]
pub trait DatasetAges: Send + Sync {
    /// For each dataset that has fresh data at all, how old its newest
    /// fresh data is at `now`. Datasets left out get no sample.
    async fn dataset_ages(&self, now: DateTime<Utc>) -> Result<Vec<(String, Duration)>, String>;
}

/// Renders `/metrics` for one process.
pub struct Exporter {
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cache_for: TimeDelta,
    ages: Option<Arc<dyn DatasetAges>>,
    /// When the shared state was last read; the lock also makes concurrent
    /// scrapes share one read.
    last_read: Mutex<Option<DateTime<Utc>>>,
}

impl Exporter {
    pub fn new(metrics: Arc<Metrics>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Exporter {
        Exporter {
            metrics,
            store,
            clock,
            cache_for: TimeDelta::from_std(DEFAULT_CACHE).unwrap_or(TimeDelta::zero()),
            ages: None,
            last_read: Mutex::new(None),
        }
    }

    /// Reuses shared-state reads for `cache_for` (zero: read every scrape).
    pub fn with_cache(mut self, cache_for: Duration) -> Exporter {
        self.cache_for = rebound_domain::duration::to_chrono_saturating(cache_for);
        self
    }

    /// Fills `rebound_dataset_age_seconds` from `ages` at each refresh.
    pub fn with_dataset_ages(mut self, ages: Arc<dyn DatasetAges>) -> Exporter {
        self.ages = Some(ages);
        self
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The page for one scrape.
    pub async fn render(&self, format: Format) -> String {
        self.refresh().await;
        self.metrics.encode(format)
    }

    /// Reads the shared state into the gauges unless it was read less than
    /// the cache period ago; true when it read. A failed read keeps the
    /// previous values, counts `rebound_metrics_refresh_errors_total` and
    /// is not retried before the cache period is over, so a struggling
    /// database is not hammered by scrapes either.
    pub async fn refresh(&self) -> bool {
        let mut last = self.last_read.lock().await;
        let now = self.clock.now();
        if last.is_some_and(|at| now - at < self.cache_for) {
            return false;
        }
        *last = Some(now);
        let mut failed = false;
        match self.store.breaker_states().await {
            Ok(rows) => {
                let phases: BTreeMap<&str, Phase> = rows
                    .iter()
                    .map(|row| (row.source_name.as_str(), row.state.phase))
                    .collect();
                // Every configured source gets its gauges: one without a
                // stored breaker has never failed, so it is closed.
                for source in self.metrics.sources() {
                    let phase = phases.get(source).copied().unwrap_or(Phase::Closed);
                    self.metrics.set_breaker(source, phase);
                }
            }
            Err(error) => {
                failed = true;
                tracing::warn!(%error, "Metrics: could not read breaker states.");
            }
        }
        match self.store.count_due_runs(now).await {
            Ok(depth) => self.metrics.set_queue_depth(depth),
            Err(error) => {
                failed = true;
                tracing::warn!(%error, "Metrics: could not count due runs.");
            }
        }
        match self.store.handoff_summary().await {
            Ok(summary) => {
                let oldest = summary
                    .oldest_pending_at
                    .map(|t| (now - t).to_std().unwrap_or_default());
                self.metrics.set_events_pending(summary.pending, oldest);
            }
            Err(error) => {
                failed = true;
                tracing::warn!(%error, "Metrics: could not read pending completion events.");
            }
        }
        if let Some(ages) = &self.ages {
            match ages.dataset_ages(now).await {
                Ok(ages) => {
                    for (dataset, age) in ages {
                        self.metrics.set_dataset_age(&dataset, age);
                    }
                }
                Err(error) => {
                    failed = true;
                    tracing::warn!(%error, "Metrics: could not read dataset ages.");
                }
            }
        }
        if failed {
            self.metrics.refresh_failed();
        }
        true
    }
}
