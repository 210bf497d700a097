//! [`LimitsStore`] on PostgreSQL: `source_limits` and
//! `source_retry_budget`, shared by every process using the database.
//!
//! A slot is taken by one `INSERT … ON CONFLICT DO UPDATE … WHERE`: the
//! conflicting row is locked and the `WHERE` (not paused, slot within the
//! caller's wait) is evaluated on its newest version, so concurrent takers
//! queue on the row lock and each moves the TAT one interval further. The
//! retry budget, which sums several slice rows, locks the source's
//! `source_limits` row (`SELECT … FOR UPDATE`) for its short transaction.

use crate::Within;
use crate::{PostgresStore, ms};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_domain::retry_budget::RetryBudgetConfig;
use rebound_storage::{BudgetCounts, LimitsStore, SlotTake, SourcePauseRow, StoreError};
use sqlx::Row;
use std::time::Duration;

/// Epoch microseconds, saturating (a wait of `Duration::MAX` means "any").
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Adds `$4` calls to the slice starting at `$2` and forgets the slices
/// that started before `$3`.
const RECORD_CALLS: &str = "WITH gone AS ( \
        DELETE FROM source_retry_budget WHERE source_name = $1 AND slice_start < $3) \
    INSERT INTO source_retry_budget (source_name, slice_start, calls) VALUES ($1, $2, $4) \
    ON CONFLICT (source_name, slice_start) \
    DO UPDATE SET calls = source_retry_budget.calls + $4";

#[async_trait]
impl LimitsStore for PostgresStore {
    async fn limits_take_slot(
        &self,
        source: &str,
        interval: Duration,
        now: DateTime<Utc>,
        max_wait: Duration,
    ) -> Result<SlotTake, StoreError> {
        const WHAT: &str = "limits_take_slot";
        let now_us = now.timestamp_micros();
        let step = micros(interval);
        let latest = now_us.saturating_add(micros(max_wait));
        let taken: Option<i64> = sqlx::query_scalar(
            "INSERT INTO source_limits (source_name, tat_us) VALUES ($1, $2 + $3) \
             ON CONFLICT (source_name) DO UPDATE \
                SET tat_us = GREATEST(COALESCE(source_limits.tat_us, $2), $2) + $3 \
             WHERE (source_limits.paused_until IS NULL OR source_limits.paused_until <= $5) \
               AND GREATEST(COALESCE(source_limits.tat_us, $2), $2) <= $4 \
             RETURNING tat_us",
        )
        .bind(source)
        .bind(now_us)
        .bind(step)
        .bind(latest)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .within(self, WHAT)
        .await?;
        if let Some(tat) = taken {
            return Ok(SlotTake::Taken {
                at: from_micros(tat.saturating_sub(step)),
            });
        }
        // Refused: say why from the row as it is now.
        let found = sqlx::query(
            "SELECT tat_us, paused_until, pause_reason FROM source_limits WHERE source_name = $1",
        )
        .bind(source)
        .fetch_one(&self.pool)
        .within(self, WHAT)
        .await?;
        let tat: Option<i64> = found.try_get("tat_us").map_err(|e| self.error(WHAT, e))?;
        let paused: Option<DateTime<Utc>> = found
            .try_get("paused_until")
            .map_err(|e| self.error(WHAT, e))?;
        let reason: Option<String> = found
            .try_get("pause_reason")
            .map_err(|e| self.error(WHAT, e))?;
        Ok(match paused {
            Some(until) if until > ms(now) => SlotTake::Paused {
                until,
                reason: reason.unwrap_or_default(),
            },
            _ => SlotTake::Busy {
                next_at: from_micros(tat.unwrap_or(now_us).max(now_us)),
            },
        })
    }

    async fn limits_pause(
        &self,
        source: &str,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<SourcePauseRow, StoreError> {
        const WHAT: &str = "limits_pause";
        let found = sqlx::query(
            "WITH paused AS ( \
                INSERT INTO source_limits (source_name, paused_until, pause_reason) \
                VALUES ($1, $2, $3) \
                ON CONFLICT (source_name) DO UPDATE \
                   SET paused_until = EXCLUDED.paused_until, \
                       pause_reason = EXCLUDED.pause_reason \
                WHERE source_limits.paused_until IS NULL \
                   OR source_limits.paused_until < EXCLUDED.paused_until \
                RETURNING paused_until, pause_reason) \
             SELECT paused_until, pause_reason FROM paused \
             UNION ALL \
             SELECT paused_until, pause_reason FROM source_limits \
             WHERE source_name = $1 AND NOT EXISTS (SELECT 1 FROM paused)",
        )
        .bind(source)
        .bind(ms(until))
        .bind(reason)
        .fetch_one(&self.pool)
        .within(self, WHAT)
        .await?;
        Ok(SourcePauseRow {
            source_name: source.to_string(),
            paused_until: found
                .try_get("paused_until")
                .map_err(|e| self.error(WHAT, e))?,
            reason: found
                .try_get::<Option<String>, _>("pause_reason")
                .map_err(|e| self.error(WHAT, e))?
                .unwrap_or_default(),
        })
    }

    async fn limits_paused(
        &self,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SourcePauseRow>, StoreError> {
        const WHAT: &str = "limits_paused";
        let found = sqlx::query(
            "SELECT paused_until, pause_reason FROM source_limits \
             WHERE source_name = $1 AND paused_until > $2",
        )
        .bind(source)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .within(self, WHAT)
        .await?;
        found
            .map(|row| {
                Ok(SourcePauseRow {
                    source_name: source.to_string(),
                    paused_until: row.try_get("paused_until")?,
                    reason: row
                        .try_get::<Option<String>, _>("pause_reason")?
                        .unwrap_or_default(),
                })
            })
            .transpose()
            .map_err(|e| self.error(WHAT, e))
    }

    async fn limits_record_calls(
        &self,
        source: &str,
        budget: &RetryBudgetConfig,
        now: DateTime<Utc>,
        calls: u32,
    ) -> Result<(), StoreError> {
        let (start, oldest) = budget.slice_at(now);
        sqlx::query(RECORD_CALLS)
            .bind(source)
            .bind(start)
            .bind(oldest)
            .bind(i64::from(calls))
            .execute(&self.pool)
            .within(self, "limits_record_calls")
            .await?;
        Ok(())
    }

    async fn limits_take_retry(
        &self,
        source: &str,
        budget: &RetryBudgetConfig,
        now: DateTime<Utc>,
        new_calls: u32,
    ) -> Result<BudgetCounts, StoreError> {
        const WHAT: &str = "limits_take_retry";
        let (start, oldest) = budget.slice_at(now);
        let mut tx = self.pool.begin().within(self, WHAT).await?;
        // The source's limits row is the budget's lock: takers of one
        // source queue here, so two cannot both see the last free retry.
        sqlx::query(
            "INSERT INTO source_limits (source_name) VALUES ($1) \
             ON CONFLICT (source_name) DO NOTHING",
        )
        .bind(source)
        .execute(&mut *tx)
        .within(self, WHAT)
        .await?;
        sqlx::query("SELECT 1 FROM source_limits WHERE source_name = $1 FOR UPDATE")
            .bind(source)
            .execute(&mut *tx)
            .within(self, WHAT)
            .await?;
        sqlx::query(RECORD_CALLS)
            .bind(source)
            .bind(start)
            .bind(oldest)
            .bind(i64::from(new_calls))
            .execute(&mut *tx)
            .within(self, WHAT)
            .await?;
        let (calls, retries): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(calls), 0)::bigint, COALESCE(SUM(retries), 0)::bigint \
             FROM source_retry_budget WHERE source_name = $1 AND slice_start >= $2",
        )
        .bind(source)
        .bind(oldest)
        .fetch_one(&mut *tx)
        .within(self, WHAT)
        .await?;
        let calls = u32::try_from(calls).unwrap_or(u32::MAX);
        let retries = u32::try_from(retries).unwrap_or(u32::MAX);
        let granted = budget.allows(calls, retries);
        if granted {
            sqlx::query(
                "INSERT INTO source_retry_budget (source_name, slice_start, retries) \
                 VALUES ($1, $2, 1) ON CONFLICT (source_name, slice_start) \
                 DO UPDATE SET retries = source_retry_budget.retries + 1",
            )
            .bind(source)
            .bind(start)
            .execute(&mut *tx)
            .within(self, WHAT)
            .await?;
        }
        tx.commit().within(self, WHAT).await?;
        Ok(BudgetCounts {
            calls,
            retries: retries + u32::from(granted),
            granted,
        })
    }
}
