//! Shared per-source admission state (`source_limits`,
//! `source_retry_budget`): the `rate_limit`'s GCRA, source-wide pauses a
//! server asked for, and the retry budget's counts. With these in the
//! database, every process using it (three `rebound serve --role worker`
//! on one PostgreSQL) keeps one source to one rate, one pause and one
//! budget, instead of each process getting the whole of each.
//!
//! The GCRA state is one instant per source, the "theoretical arrival
//! time" (TAT): when the next request may start. A take reads and moves it
//! in one transaction, so concurrent takers in any number of processes get
//! distinct slots spaced one interval apart. Kept apart from
//! [`crate::Store`]'s own methods so the fetcher's limiter has one small
//! surface (it knows no SQL and reaches the store only through this trait).

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_domain::retry_budget::RetryBudgetConfig;
use std::time::Duration;

/// The answer to [`LimitsStore::limits_take_slot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotTake {
    /// A slot was taken: the request may be sent at `at` (now or later).
    Taken { at: DateTime<Utc> },
    /// The next free slot starts after the caller's longest wait; nothing
    /// was taken.
    Busy { next_at: DateTime<Utc> },
    /// The source is paused until `until` (for `reason`); nothing was taken.
    Paused {
        until: DateTime<Utc>,
        reason: String,
    },
}

/// A source's stored pause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePauseRow {
    pub source_name: String,
    pub paused_until: DateTime<Utc>,
    pub reason: String,
}

/// A source's retry-budget counts in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetCounts {
    /// Calls counted in the window.
    pub calls: u32,
    /// Retries counted in the window (the one just granted included).
    pub retries: u32,
    /// True when [`LimitsStore::limits_take_retry`] counted a retry.
    pub granted: bool,
}

/// Shared rate limits, pauses and retry budgets. Every method is one
/// statement or one short transaction, atomic across processes.
#[async_trait]
pub trait LimitsStore: Send + Sync {
    /// Takes the next GCRA slot of `source`: the slot starts at the later
    /// of the stored TAT and `now`, and the TAT moves one `interval` past
    /// it. Nothing is taken when the source is paused past `now`
    /// ([`SlotTake::Paused`]) or when the slot would start more than
    /// `max_wait` after `now` ([`SlotTake::Busy`]). PostgreSQL: `SELECT …
    /// FOR UPDATE`; SQLite: one `BEGIN IMMEDIATE` transaction.
    async fn limits_take_slot(
        &self,
        source: &str,
        interval: Duration,
        now: DateTime<Utc>,
        max_wait: Duration,
    ) -> Result<SlotTake, StoreError>;

    /// Pauses `source` until `until` for `reason`, unless a pause ending
    /// at or after `until` is already stored (a pause is never shortened).
    /// Returns the pause in force afterwards.
    async fn limits_pause(
        &self,
        source: &str,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<SourcePauseRow, StoreError>;

    /// The stored pause of `source` if it ends after `now`.
    async fn limits_paused(
        &self,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SourcePauseRow>, StoreError>;

    /// Counts `calls` calls of `source` in the slice of `budget`'s window
    /// that `now` falls in ([`RetryBudgetConfig::slice_at`]), and forgets
    /// the slices that left the window. (A process counts its calls
    /// locally and adds them here in batches, so a source's calls cost no
    /// round trip each.)
    async fn limits_record_calls(
        &self,
        source: &str,
        budget: &RetryBudgetConfig,
        now: DateTime<Utc>,
        calls: u32,
    ) -> Result<(), StoreError>;

    /// Adds `new_calls` calls as [`LimitsStore::limits_record_calls`]
    /// does, then counts one retry of `source` if the window's counts allow
    /// it ([`RetryBudgetConfig::allows`]); one transaction. Atomic:
    /// concurrent takers never pass the budget together. Returns the
    /// window's counts.
    async fn limits_take_retry(
        &self,
        source: &str,
        budget: &RetryBudgetConfig,
        now: DateTime<Utc>,
        new_calls: u32,
    ) -> Result<BudgetCounts, StoreError>;
}
