//! Reads behind `rebound health` and `rebound freshness` (`HealthStore`).
//!
//! Two kinds of query, both bounded so the report stays fast on a history
//! of tens of millions of calls:
//! - aggregates over a period (`since`), which read only the rows of that
//!   period through the time indexes (`started_at`, `execution_time`,
//!   `target_date`);
//! - per-name lookups ("last success", "last error", "newest fresh
//!   payload", streaks), each an index seek on a partial index of
//!   migration 0006 that holds only the rows the lookup wants, so a
//!   scraper that never failed costs one probe, not a scan of its history.
//!
//! Meanings (what counts as a failure, an answer, a fresh payload) are
//! written down in `docs/health.md`; the backends implement exactly these.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::proxy::ProxyExchange;

/// Call statuses that mean the upstream answered (whatever it said): a
/// source that gives them is up, even when it has no data.
pub const ANSWERED_STATUSES: [&str; 4] = ["success", "no_data", "not_yet_available", "overdue"];

/// Calls of one scraper (and its source) with one status in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCountRow {
    pub scraper_name: String,
    pub source_name: String,
    pub status: String,
    pub calls: i64,
    /// Of those calls, the ones that made a request (at least one
    /// attempt): not a skipped call, nor one deferred before its request
    /// because its source was paused.
    pub requested: i64,
    /// Of those calls, the ones held back before their request by their
    /// source's limits: `failed` with no attempt and kind `throttled` (a
    /// pause a 429's `Retry-After` asked for, the source's own `rate`, a
    /// pause longer than `max_retry_after`). Such a call says the source
    /// made Rebound wait, not that the scraper failed: the source's figures
    /// leave it out (it made no request), and a scraper counts it apart
    /// from its failures. A `failed` call with no attempt of another kind
    /// (a fan-out that could not read its items) is a failure of its
    /// scraper.
    pub deferred: i64,
    /// Attempts those calls made.
    pub attempts: i64,
    /// Of those calls, the ones that were retried: more attempts than
    /// pages requested (see [`crate::ScraperCallRow::retried`]).
    pub retried: i64,
}

/// The newest notable calls of one scraper (over all history).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScraperLast {
    /// Finish time of the newest `success` call.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Finish time of the newest `failed` or `overdue` call, one held back
    /// by its source's limits passed over (it is not the scraper's failure,
    /// and the streak it would date does not count it).
    pub last_error_at: Option<DateTime<Utc>>,
    /// Its message.
    pub last_error: Option<String>,
    /// Newest calls that ended failed or overdue in a row (skipped and
    /// deferred ones passed over, see [`CallCountRow::deferred`]): the
    /// calls after the newest call with any other status.
    pub consecutive_failures: i64,
    /// Start time of the newest call that made a request (at least one
    /// attempt), whatever it got: a dataset's "last checked". A skipped
    /// call, or one held back before its request, asked the upstream
    /// nothing, so an outage's refusals used to move "last checked" while
    /// nothing was checked. Newest by id (the order calls are recorded,
    /// about their finish order), walking back over the calls that made
    /// no request: the cost of a breaker's refusals in a row.
    pub last_call_at: Option<DateTime<Utc>>,
}

/// The newest notable calls of one source (over all history). Skipped
/// calls (breaker open, quota, lockout, dependency) are ignored: no
/// request was made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceLast {
    /// Finish time of the newest call the upstream answered
    /// ([`ANSWERED_STATUSES`]).
    pub last_answer_at: Option<DateTime<Utc>>,
    /// Finish time of the newest `failed` call.
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// While the newest non-skipped call failed: start time of the first
    /// failed call after the newest answered one (or of the first failed
    /// call ever, when it never answered).
    pub failing_since: Option<DateTime<Utc>>,
}

/// One workflow, one target date: the original's daily failure-rate row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowDayRow {
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub runs: i64,
    pub failed: i64,
    pub partial: i64,
}

/// The newest runs of one workflow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkflowStreak {
    pub last_status: Option<String>,
    /// `execution_time` of the newest run.
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Newest runs that ended failed or partial, in a row.
    pub consecutive_failed: i64,
    /// `execution_time` of the oldest run of that streak.
    pub failing_since: Option<DateTime<Utc>>,
}

/// Failed or partial runs in the period, and how many carry a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorCoverageRow {
    pub failed_or_partial: i64,
    /// Of those, the ones whose trimmed `error_message` is not empty.
    pub with_message: i64,
}

/// Attempts of the calls in the period that made at least one (skipped
/// calls, and calls deferred before their request, made none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryStatsRow {
    pub calls: i64,
    pub attempts: i64,
    /// Calls that were retried: more attempts than pages requested (see
    /// [`crate::ScraperCallRow::retried`]).
    pub retried: i64,
    /// Of those, the ones that ended `success` or `no_data`.
    pub retried_then_succeeded: i64,
}

/// The health report's reads. A supertrait of [`crate::Store`], so every
/// backend has them.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Calls started at or after `since`, counted per scraper, source and
    /// status (with their attempts), ordered by scraper, source, status.
    /// One pass over the period's rows, through the `started_at` index.
    async fn call_counts(&self, since: DateTime<Utc>) -> Result<Vec<CallCountRow>, StoreError>;

    /// Per scraper with calls started at or after `since`: how many
    /// distinct parameter sets it was called with (for a fan-out, the
    /// entities), by scraper name.
    async fn distinct_params(&self, since: DateTime<Utc>)
    -> Result<Vec<(String, i64)>, StoreError>;

    /// The newest success, error and failure streak of `scraper_name`.
    async fn scraper_last(&self, scraper_name: &str) -> Result<ScraperLast, StoreError>;

    /// The newest answer and error of `source_name`, and since when it fails.
    async fn source_last(&self, source_name: &str) -> Result<SourceLast, StoreError>;

    /// Finish time of the newest call of `scraper_name` that brought new
    /// data: status `success` (records present), `bytes > 0`, not
    /// `unchanged` (same params, same payload) and with a content hash
    /// other than the scraper's previous non-empty successful payload (the
    /// same data fetched again for a new date). An empty, no-data or
    /// identical payload never counts.
    async fn last_fresh_payload(
        &self,
        scraper_name: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Runs per workflow and target date for target dates in `from..=to`,
    /// with how many ended failed and partial; by workflow, then date.
    async fn workflow_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<WorkflowDayRow>, StoreError>;

    /// The newest finished run of `workflow_name` and its current
    /// failed/partial streak; runs still `running` are left out of both.
    async fn workflow_streak(&self, workflow_name: &str) -> Result<WorkflowStreak, StoreError>;

    /// Start time of the oldest call kept of each of `scraper_names`, in
    /// the order given (`None`: it has none, or retention purged them
    /// all). A dataset that never changed is aged from its scrapers' first
    /// call, so a new pipeline's datasets, or one added to an old
    /// pipeline, are not stale before they could have changed.
    async fn first_calls_at(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<Option<DateTime<Utc>>>, StoreError>;

    /// Runs started (`execution_time`) at or after `since` that ended failed
    /// or partial, and how many of them say why.
    async fn error_coverage(&self, since: DateTime<Utc>) -> Result<ErrorCoverageRow, StoreError>;

    /// Attempts of the non-skipped calls started at or after `since`.
    async fn retry_stats(&self, since: DateTime<Utc>) -> Result<RetryStatsRow, StoreError>;

    /// The newest `limit` attempts made through proxy `proxy` (1-based) of
    /// source `source_name`, oldest first: what `rebound health` and
    /// `rebound breakers` replay through the proxy breaker (the live
    /// breakers are per process). Through the partial index of migration
    /// 0014, which holds only attempts made through a proxy.
    async fn proxy_exchanges(
        &self,
        source_name: &str,
        proxy: i64,
        limit: i64,
    ) -> Result<Vec<ProxyExchange>, StoreError> {
        let mut one = self.proxies_exchanges(source_name, &[proxy], limit).await?;
        Ok(one.pop().unwrap_or_default())
    }

    /// [`HealthStore::proxy_exchanges`] of each of `proxies` of
    /// `source_name`, at most `limit` each, one answer per proxy asked in
    /// the order asked: an alert round replays every proxy's breaker, and
    /// a backend reads a source's proxies in one statement (each with its
    /// own index seek and LIMIT). [`exchanges_by_proxy`] shapes the rows.
    async fn proxies_exchanges(
        &self,
        source_name: &str,
        proxies: &[i64],
        limit: i64,
    ) -> Result<Vec<Vec<ProxyExchange>>, StoreError>;

    // ----- The same reads for many names at once -----
    //
    // A health report asks the same question of every scraper, source and
    // workflow. Each answer is a few index seeks; what costs is the round
    // trip per statement (a hand-off to SQLite's thread, or the network to
    // PostgreSQL), so a backend answers for all names in one statement.
    // Each returns one answer per name, in the order given, equal to the
    // single-name read (the conformance checks compare them). The default
    // asks name by name.

    /// [`HealthStore::scraper_last`] of each of `scraper_names`.
    async fn scrapers_last(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<ScraperLast>, StoreError> {
        let mut out = Vec::with_capacity(scraper_names.len());
        for name in scraper_names {
            out.push(self.scraper_last(name).await?);
        }
        Ok(out)
    }

    /// [`HealthStore::source_last`] of each of `source_names`.
    async fn sources_last(&self, source_names: &[String]) -> Result<Vec<SourceLast>, StoreError> {
        let mut out = Vec::with_capacity(source_names.len());
        for name in source_names {
            out.push(self.source_last(name).await?);
        }
        Ok(out)
    }

    /// [`HealthStore::last_fresh_payload`] of each of `scraper_names`.
    async fn last_fresh_payloads(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<Option<DateTime<Utc>>>, StoreError> {
        let mut out = Vec::with_capacity(scraper_names.len());
        for name in scraper_names {
            out.push(self.last_fresh_payload(name).await?);
        }
        Ok(out)
    }

    /// [`HealthStore::workflow_streak`] of each of `workflow_names`.
    async fn workflow_streaks(
        &self,
        workflow_names: &[String],
    ) -> Result<Vec<WorkflowStreak>, StoreError> {
        let mut out = Vec::with_capacity(workflow_names.len());
        for name in workflow_names {
            out.push(self.workflow_streak(name).await?);
        }
        Ok(out)
    }
}

/// The rows of [`HealthStore::proxies_exchanges`], each the place in
/// `proxies` it answers (0-based) and an exchange, newest first within a
/// place, as one oldest-first list per proxy asked (`asked` of them).
pub fn exchanges_by_proxy(
    asked: usize,
    rows: impl IntoIterator<Item = Result<(i64, ProxyExchange), StoreError>>,
) -> Result<Vec<Vec<ProxyExchange>>, StoreError> {
    let mut out = vec![Vec::new(); asked];
    for row in rows {
        let (place, exchange) = row?;
        usize::try_from(place)
            .ok()
            .and_then(|i| out.get_mut(i))
            .ok_or_else(|| {
                StoreError::Query(format!(
                    "proxies_exchanges: a row for place {place} of {asked}"
                ))
            })?
            .push(exchange);
    }
    // Reversed, then sorted stably: equal times keep the order the single
    // read always gave them.
    for exchanges in &mut out {
        exchanges.reverse();
        exchanges.sort_by_key(|e| e.finished_at);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u32) -> ProxyExchange {
        ProxyExchange {
            finished_at: DateTime::from_timestamp(i64::from(second), 0).expect("a time"),
            http_status: Some(200),
            error_kind: None,
        }
    }

    #[test]
    fn rows_go_to_their_place_oldest_first() {
        let rows = [(1, at(9)), (1, at(4)), (0, at(7)), (1, at(2))];
        let grouped = exchanges_by_proxy(3, rows.into_iter().map(Ok)).expect("grouped");
        assert_eq!(
            grouped,
            vec![vec![at(7)], vec![at(2), at(4), at(9)], vec![]]
        );
    }

    #[test]
    fn a_row_for_no_place_asked_is_an_error_not_a_panic() {
        for place in [3, -1] {
            let error = exchanges_by_proxy(3, [Ok((place, at(1)))]).expect_err("refused");
            assert!(
                error.to_string().contains(&format!("place {place} of 3")),
                "{error}"
            );
        }
    }
}
