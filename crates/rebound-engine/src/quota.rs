//! Request quotas around a call: count it in the database before the
//! request (refusing it when the period's quota is used up), settle the
//! count afterwards (retries, calls that sent nothing, the upstream's own
//! remaining count) and warn once per period at 80 %.
//!
//! Counting happens in `source_quota_usage`, so every worker and every
//! `rebound run` sharing the database shares the quota. The take before
//! the call is atomic, so concurrent calls cannot all slip under the
//! limit; a call's retries are counted after it, so a quota can be passed
//! by at most the retries of the calls in flight when it ran out.

use crate::Engine;
use crate::EngineError;
use rebound_domain::outcome::ErrorKind;
use rebound_domain::plan::Source;
use rebound_domain::quota::{
    QuotaState, WARN_PERCENT, effective_used, exhausted_message, local_time, period_at,
};
use rebound_fetch::CallResult;
use rebound_storage::{QuotaKey, QuotaTake, QuotaUsageRow};

impl Engine {
    /// The quota key of `source` now, when it has a quota.
    pub(crate) fn quota_key(&self, source: &Source) -> Option<QuotaKey> {
        let quota = source.quota.as_ref()?;
        let window = period_at(quota.per, self.plan.pipeline.timezone, self.clock.now());
        Some(QuotaKey {
            source_name: source.name.clone(),
            period: quota.per.as_str().to_string(),
            period_start: window.start,
            period_end: window.end,
        })
    }

    /// Counts one request of `source` against its quota. `Ok(Ok(None))`:
    /// no quota; `Ok(Ok(Some(key)))`: counted; `Ok(Err(message))`: used up.
    pub(crate) async fn quota_take(
        &self,
        source: &Source,
    ) -> Result<Result<Option<QuotaKey>, String>, EngineError> {
        let (Some(quota), Some(key)) = (source.quota.as_ref(), self.quota_key(source)) else {
            return Ok(Ok(None));
        };
        let limit = i64::try_from(quota.requests).unwrap_or(i64::MAX);
        match self.store.quota_take(&key, limit, self.clock.now()).await? {
            QuotaTake::Granted(_) => Ok(Ok(Some(key))),
            QuotaTake::Refused(row) => {
                let tz = self.plan.pipeline.timezone;
                let window = period_at(quota.per, tz, key.period_start);
                let message = exhausted_message(
                    &source.name,
                    quota,
                    row.requests.max(0) as u64,
                    row.remaining_reported.map(|r| r.max(0) as u64),
                    window,
                    tz,
                );
                tracing::warn!(source = %source.name, reason = %message, "Quota used up; call refused.");
                Ok(Err(message))
            }
        }
    }

    /// After the call: counts its retries (or gives the take back when
    /// nothing was sent), records the upstream's remaining count, and warns
    /// once per period at 80 %. `pages_counted`: later pages of a
    /// paginated call already counted in `key`'s period when admitted.
    pub(crate) async fn quota_settle(
        &self,
        source: &Source,
        key: QuotaKey,
        pages_counted: i64,
        result: &CallResult,
    ) -> Result<(), EngineError> {
        let Some(quota) = source.quota.as_ref() else {
            return Ok(());
        };
        let sent = result
            .attempts
            .iter()
            .filter(|a| a.http_status.is_some() || a.error_kind == Some(ErrorKind::Timeout))
            .count() as i64;
        let remaining = result
            .quota_remaining
            .map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        let now = self.clock.now();
        let row = self
            .store
            .quota_settle(&key, sent - 1 - pages_counted, remaining, now)
            .await?;
        let used = usage(quota.requests, &row);
        if QuotaState::of(quota.requests, used) != QuotaState::Ok
            && self.store.quota_mark_warned(&key, now).await?
        {
            tracing::warn!(
                source = %source.name,
                used,
                limit = quota.requests,
                resets_at = %local_time(key.period_end, self.plan.pipeline.timezone),
                "Quota of {} requests per {} for {} is {}% used ({used} requests); \
                 warning at {WARN_PERCENT}%, calls are refused at 100%.",
                quota.requests,
                quota.per.as_str(),
                source.name,
                used.saturating_mul(100) / quota.requests.max(1),
            );
        }
        Ok(())
    }
}

/// Requests used in the row's period: our count or the upstream's, the larger.
pub(crate) fn usage(limit: u64, row: &QuotaUsageRow) -> u64 {
    effective_used(
        limit,
        row.requests.max(0) as u64,
        row.remaining_reported.map(|r| r.max(0) as u64),
    )
}
