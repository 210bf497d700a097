//! Retention (`[pipeline] retention`): purges history older than the
//! retention period, and the raw payloads only that history references,
//! in small batches. `rebound purge` runs [`Purger::run`] once; `rebound
//! serve` runs [`Purger::run_loop`], once an hour.
//!
//! **Batches.** Each batch reads at most `batch` old rows and deletes them
//! in one short transaction (see `rebound_storage::RetentionStore`), then
//! yields, so the engine's and scheduler's writes get in between and no
//! lock is held for long; a purge of months of history is many such steps.
//!
//! **Raw payloads.** A call row points (`output_uri`) at its payload. A row
//! with `unchanged = 1` points at the payload an earlier call of the same
//! scraper and params stored, because the engine reuses the URI of the
//! newest call of that (scraper, params) that has one
//! (`Store::last_payload`). So in one (scraper, params) sequence by id, the
//! rows pointing at one URI form a contiguous run: once a newer payload is
//! stored, nothing points at the older one again. A payload of a purged row
//! is therefore still in use exactly when the oldest surviving row of its
//! (scraper, params) that has a URI points at the same one. A purged row
//! whose id is above that survivor's (its start time and its id disagree,
//! which only calls racing at the cutoff do) is checked exactly instead.
//!
//! A transform's document (a secondary output in `call_outputs`) is
//! written by its call alone (its path holds the call's finish time and
//! hash), so it is deleted with its row, whatever the primary's fate.
//!
//! **Order.** For each batch, files are deleted first and rows second: a
//! crash in between leaves rows pointing at a missing file (they are
//! older than the cutoff and go in the next purge), never a file nothing
//! points at. A missing file is not an error.

use chrono::{DateTime, Utc};
use rebound_domain::clock::Clock;
use rebound_raw::{RawDeletion, RawStore};
use rebound_storage::{ExpiredCall, PurgeTable, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows per batch: small enough that one batch's transaction is a few
/// milliseconds, large enough that a purge of millions of rows is not
/// dominated by round trips.
pub const DEFAULT_BATCH: u32 = 5_000;

/// How often `rebound serve` purges.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Rows one table gave up (or would give up, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCount {
    pub table: &'static str,
    pub rows: u64,
}

/// What a purge did, or in a dry run would do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    /// Rows that started (or happened) before this are purged.
    pub cutoff: DateTime<Utc>,
    pub tables: Vec<TableCount>,
    /// Raw payload objects deleted (dry run: that would be).
    pub raw_objects: u64,
    pub raw_bytes: u64,
    /// Objects some purged row pointed at that were already gone.
    pub raw_missing: u64,
    /// Objects outside the configured raw store, left alone.
    pub raw_foreign: u64,
    /// Alert incidents resolved before the cutoff and their notifications
    /// (`alerts`), removed by `AlertStore::purge_alerts_before` (a dry run
    /// counts them with `count_alerts_before`). Always `Some` after `run`.
    pub alert_rows: Option<u64>,
    /// Batches of calls (dry run: pages read): each at most the batch size.
    pub call_batches: u64,
    /// Batches of all tables, calls included.
    pub batches: u64,
}

impl PurgeReport {
    /// Rows of all tables (alerts included).
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum::<u64>() + self.alert_rows.unwrap_or(0)
    }

    /// Rows of one table.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .map_or(0, |t| t.rows)
    }

    fn add(&mut self, table: &'static str, rows: u64) {
        match self.tables.iter_mut().find(|t| t.table == table) {
            Some(t) => t.rows += rows,
            None => self.tables.push(TableCount { table, rows }),
        }
    }
}

/// Why a purge stopped.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Raw(#[from] rebound_raw::RawStoreError),
}

/// Purges history older than `retention`.
pub struct Purger {
    store: Arc<dyn Store>,
    raw: RawStore,
    clock: Arc<dyn Clock>,
    retention: Duration,
    batch: u32,
}

/// The oldest kept call with a payload, per (scraper, params).
type Survivors = HashMap<(String, String), Option<(i64, String)>>;

impl Purger {
    pub fn new(
        store: Arc<dyn Store>,
        raw: RawStore,
        clock: Arc<dyn Clock>,
        retention: Duration,
    ) -> Purger {
        Purger {
            store,
            raw,
            clock,
            retention,
            batch: DEFAULT_BATCH,
        }
    }

    /// Rows per batch (at least 1).
    pub fn with_batch(mut self, batch: u32) -> Purger {
        self.batch = batch.max(1);
        self
    }

    /// The instant before which history goes, now.
    pub fn cutoff(&self) -> DateTime<Utc> {
        rebound_domain::duration::sub_saturating(self.clock.now(), self.retention)
    }

    /// Purges once (or, with `dry_run`, only counts what would go).
    pub async fn run(&self, dry_run: bool) -> Result<PurgeReport, PurgeError> {
        let cutoff = self.cutoff();
        let mut report = PurgeReport {
            dry_run,
            cutoff,
            tables: Vec::new(),
            raw_objects: 0,
            raw_bytes: 0,
            raw_missing: 0,
            raw_foreign: 0,
            alert_rows: None,
            call_batches: 0,
            batches: 0,
        };
        self.purge_calls(cutoff, dry_run, &mut report).await?;
        for table in PurgeTable::ALL {
            if dry_run {
                let rows = self.store.count_expired(table, cutoff).await?;
                report.add(table.name(), rows);
                continue;
            }
            report.add(table.name(), 0);
            loop {
                let rows = self
                    .store
                    .purge_table_batch(table, cutoff, self.batch)
                    .await?;
                report.add(table.name(), rows);
                report.batches += 1;
                tokio::task::yield_now().await;
                if rows < u64::from(self.batch) {
                    break;
                }
            }
        }
        if dry_run {
            report.alert_rows = Some(self.store.count_alerts_before(cutoff).await?);
        } else {
            // Its own batches: incidents (with their notifications) per
            // call, until none is left.
            let mut rows = 0;
            loop {
                let n = self.store.purge_alerts_before(cutoff, self.batch).await?;
                report.batches += 1;
                rows += n;
                tokio::task::yield_now().await;
                if n == 0 {
                    break;
                }
            }
            report.alert_rows = Some(rows);
        }
        Ok(report)
    }

    async fn purge_calls(
        &self,
        cutoff: DateTime<Utc>,
        dry_run: bool,
        report: &mut PurgeReport,
    ) -> Result<(), PurgeError> {
        report.add("scraper_execution_log", 0);
        report.add("scraper_attempts", 0);
        let mut survivors: Survivors = HashMap::new();
        // URIs already dealt with in this purge (a payload is usually
        // pointed at by several old rows, across batches).
        let mut settled: HashSet<String> = HashSet::new();
        let mut after = None;
        loop {
            let calls = self.store.expired_calls(cutoff, after, self.batch).await?;
            if calls.is_empty() {
                break;
            }
            report.batches += 1;
            report.call_batches += 1;
            self.learn_survivors(cutoff, &calls, &mut survivors).await?;
            for call in &calls {
                // A transform's document is written by its call alone.
                for uri in &call.documents {
                    self.drop_object(uri, dry_run, report).await?;
                }
                let Some(uri) = &call.output_uri else {
                    continue;
                };
                if settled.contains(uri) {
                    continue;
                }
                settled.insert(uri.clone());
                if self.still_used(cutoff, call, uri, &survivors).await? {
                    continue;
                }
                self.drop_object(uri, dry_run, report).await?;
            }
            let ids: Vec<i64> = calls.iter().map(|c| c.id).collect();
            if dry_run {
                let attempts = self.store.count_attempts(&ids).await?;
                report.add("scraper_execution_log", ids.len() as u64);
                report.add("scraper_attempts", attempts);
                let last = &calls[calls.len() - 1];
                after = Some((last.started_at, last.id));
            } else {
                let deleted = self.store.delete_calls(&ids).await?;
                report.add("scraper_execution_log", deleted.calls);
                report.add("scraper_attempts", deleted.attempts);
            }
            tokio::task::yield_now().await;
            if calls.len() < self.batch as usize {
                break;
            }
        }
        Ok(())
    }

    /// Deletes the object at `uri` (a dry run: measures it) and counts it.
    async fn drop_object(
        &self,
        uri: &str,
        dry_run: bool,
        report: &mut PurgeReport,
    ) -> Result<(), PurgeError> {
        if dry_run {
            // Counted as the real purge counts it: a payload outside this
            // store is foreign, not missing.
            if !self.raw.holds_uri(uri) {
                report.raw_foreign += 1;
                return Ok(());
            }
            match self.raw.size_of_uri(uri).await? {
                Some(bytes) => {
                    report.raw_objects += 1;
                    report.raw_bytes += bytes;
                }
                None => report.raw_missing += 1,
            }
            return Ok(());
        }
        match self.raw.delete_uri(uri).await? {
            RawDeletion::Deleted { bytes } => {
                report.raw_objects += 1;
                report.raw_bytes += bytes;
            }
            RawDeletion::Missing => report.raw_missing += 1,
            RawDeletion::Foreign => report.raw_foreign += 1,
        }
        Ok(())
    }

    /// Looks up the oldest surviving payload of each (scraper, params) of
    /// `calls` not looked up yet in this purge.
    async fn learn_survivors(
        &self,
        cutoff: DateTime<Utc>,
        calls: &[ExpiredCall],
        survivors: &mut Survivors,
    ) -> Result<(), PurgeError> {
        let mut wanted: Vec<(String, String)> = Vec::new();
        let mut asked: HashSet<(&str, &str)> = HashSet::new();
        for call in calls.iter().filter(|c| c.output_uri.is_some()) {
            let key = (call.scraper_name.as_str(), call.params.as_str());
            if asked.insert(key)
                && !survivors.contains_key(&(call.scraper_name.clone(), call.params.clone()))
            {
                wanted.push((call.scraper_name.clone(), call.params.clone()));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let found = self.store.oldest_kept_payloads(cutoff, &wanted).await?;
        for group in wanted {
            survivors.insert(group, None);
        }
        for kept in found {
            survivors.insert(
                (kept.scraper_name, kept.params),
                Some((kept.id, kept.output_uri)),
            );
        }
        Ok(())
    }

    /// Whether a row that stays points at `uri` (see the module docs).
    async fn still_used(
        &self,
        cutoff: DateTime<Utc>,
        call: &ExpiredCall,
        uri: &str,
        survivors: &Survivors,
    ) -> Result<bool, PurgeError> {
        let group = (call.scraper_name.clone(), call.params.clone());
        match survivors.get(&group).cloned().flatten() {
            None => Ok(false),
            Some((_, kept_uri)) if kept_uri == uri => Ok(true),
            Some((kept_id, _)) if call.id < kept_id => Ok(false),
            Some(_) => Ok(self
                .store
                .payload_kept(cutoff, &call.scraper_name, &call.params, uri)
                .await?),
        }
    }

    /// Purges every `PURGE_EVERY` until `shutdown`, logging what each
    /// purge did; an error is logged and the next purge tries again.
    pub async fn run_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let started = std::time::Instant::now();
            match self.run(false).await {
                Ok(report) => tracing::info!(
                    cutoff = %report.cutoff,
                    rows = report.total_rows(),
                    calls = report.rows("scraper_execution_log"),
                    runs = report.rows("workflow_executions"),
                    raw_objects = report.raw_objects,
                    raw_bytes = report.raw_bytes,
                    batches = report.batches,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "Retention purge: removed {} history rows and {} raw payloads older than {}.",
                    report.total_rows(),
                    report.raw_objects,
                    report.cutoff.format("%Y-%m-%dT%H:%M:%SZ"),
                ),
                Err(error) => tracing::error!(
                    %error,
                    "Retention purge failed; the next one is in an hour."
                ),
            }
            tokio::select! {
                _ = self.clock.sleep(PURGE_EVERY) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
