//! Retention: the store side of `rebound purge` (issue 5, item 6), and the
//! bulk insert behind `rebound generate-history`.
//!
//! Every purge method touches at most `limit` rows in one short
//! transaction, so a purge of months of history is many small steps
//! between which the service's own writes get in; nothing here holds a
//! lock for longer than one batch. The rule for raw payloads (which file
//! may go) is the caller's: this trait only answers the questions it needs.

use crate::{NewScraperCall, NewWorkflowExecution, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The history tables a purge removes old rows from, other than the calls
/// (which come with their payloads and attempts, see
/// [`RetentionStore::expired_calls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurgeTable {
    /// Runs whose `execution_time` is before the cutoff.
    WorkflowExecutions,
    /// Decisions whose `decided_at` is before the cutoff.
    WorkflowDecisions,
    /// Runs in state `done` or `abandoned` that finished (or, never
    /// started, were created) before the cutoff; queued and running ones
    /// always stay.
    ScheduledRuns,
    /// Transitions whose `at` is before the cutoff (the current state, in
    /// `circuit_breaker_state`, always stays).
    BreakerTransitions,
    /// Released locks whose `released_at` is before the cutoff; open ones
    /// always stay.
    EntityLockouts,
    /// Quota periods that ended (`period_end`) before the cutoff.
    QuotaUsage,
}

impl PurgeTable {
    /// Every table, in the order a purge goes through them.
    pub const ALL: [PurgeTable; 6] = [
        PurgeTable::WorkflowExecutions,
        PurgeTable::WorkflowDecisions,
        PurgeTable::ScheduledRuns,
        PurgeTable::BreakerTransitions,
        PurgeTable::EntityLockouts,
        PurgeTable::QuotaUsage,
    ];

    /// The table's name, as in SQL and in `rebound purge` output.
    pub fn name(self) -> &'static str {
        match self {
            PurgeTable::WorkflowExecutions => "workflow_executions",
            PurgeTable::WorkflowDecisions => "workflow_decisions",
            PurgeTable::ScheduledRuns => "scheduled_runs",
            PurgeTable::BreakerTransitions => "circuit_breaker_transitions",
            PurgeTable::EntityLockouts => "entity_lockouts",
            PurgeTable::QuotaUsage => "source_quota_usage",
        }
    }
}

/// A `scraper_execution_log` row older than the cutoff, with what the
/// raw-payload rule needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredCall {
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub scraper_name: String,
    pub params: String,
    pub output_uri: Option<String>,
    /// The URIs of its secondary outputs (a transform's document, in
    /// `call_outputs`): written by this call alone, so they go with it.
    pub documents: Vec<String>,
}

/// The oldest call of one `(scraper_name, params)` that a purge keeps and
/// that has a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPayload {
    pub scraper_name: String,
    pub params: String,
    pub id: i64,
    pub output_uri: String,
}

/// What [`RetentionStore::delete_calls`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletedCalls {
    pub calls: u64,
    pub attempts: u64,
}

/// One call for [`RetentionStore::insert_history`], with the id it gets.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberedCall {
    pub id: i64,
    pub call: NewScraperCall,
}

/// Store methods for retention and bulk history. A supertrait of
/// [`crate::Store`], so every backend has them.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Up to `limit` calls that started before `cutoff`, oldest first
    /// (by `started_at`, then `id`), after the keyset position `after`
    /// when given (a dry run pages with it; a real purge deletes what it
    /// read, so it passes `None`).
    async fn expired_calls(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u32,
    ) -> Result<Vec<ExpiredCall>, StoreError>;

    /// For each `(scraper_name, params)` in `groups`: its oldest call (by
    /// id) that started at or after `cutoff` and has an output URI, if any.
    async fn oldest_kept_payloads(
        &self,
        cutoff: DateTime<Utc>,
        groups: &[(String, String)],
    ) -> Result<Vec<KeptPayload>, StoreError>;

    /// Whether any call of `(scraper_name, params)` that started at or after
    /// `cutoff` points at `output_uri` (the exact, slower check, for the
    /// rare call whose id and start time disagree about its age).
    async fn payload_kept(
        &self,
        cutoff: DateTime<Utc>,
        scraper_name: &str,
        params: &str,
        output_uri: &str,
    ) -> Result<bool, StoreError>;

    /// How many attempts the calls `ids` have (dry run).
    async fn count_attempts(&self, ids: &[i64]) -> Result<u64, StoreError>;

    /// Deletes the calls `ids` and their attempts, in one transaction.
    async fn delete_calls(&self, ids: &[i64]) -> Result<DeletedCalls, StoreError>;

    /// Deletes at most `limit` rows of `table` that are older than `cutoff`
    /// (see [`PurgeTable`] for what "older" means per table), oldest first,
    /// in one transaction; returns how many went.
    async fn purge_table_batch(
        &self,
        table: PurgeTable,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// How many rows of `table` a purge with `cutoff` would remove (dry run).
    async fn count_expired(
        &self,
        table: PurgeTable,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Whether any run or call is stored (the generator refuses to mix its
    /// synthetic rows into real history).
    async fn has_history(&self) -> Result<bool, StoreError>;

    /// The id the next bulk-inserted call should get: above every stored one.
    async fn next_call_id(&self) -> Result<i64, StoreError>;

    /// Inserts many runs and calls (with their attempts) at once, in one
    /// transaction, as fast as the backend allows: for benchmarks and
    /// demos (`rebound generate-history`), not for the engine.
    async fn insert_history(
        &self,
        executions: &[NewWorkflowExecution],
        calls: &[NumberedCall],
    ) -> Result<(), StoreError>;
}
