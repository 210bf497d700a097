//! [`LimitsStore`] on SQLite: `source_limits` and `source_retry_budget`,
//! written on the one writer connection in short `BEGIN IMMEDIATE`
//! transactions, which also serialise processes sharing the file.

use crate::SqliteStore;
use crate::codec::{begin_immediate, column, encode_time, opt_time_column, store_error};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_domain::retry_budget::RetryBudgetConfig;
use rebound_storage::{BudgetCounts, LimitsStore, SlotTake, SourcePauseRow, StoreError};
use sqlx::{Sqlite, Transaction};
use std::time::Duration;

/// Microseconds, saturating (a wait of `Duration::MAX` means "any").
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Creates the source's row if missing.
async fn ensure(
    tx: &mut Transaction<'static, Sqlite>,
    source: &str,
    what: &'static str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO source_limits (source_name) VALUES (?1) ON CONFLICT DO NOTHING")
        .bind(source)
        .execute(&mut **tx)
        .await
        .map_err(|e| store_error(what, e))?;
    Ok(())
}

/// The source's pause, whether or not it has ended.
async fn pause_of(
    tx: &mut Transaction<'static, Sqlite>,
    source: &str,
    what: &'static str,
) -> Result<(Option<i64>, Option<DateTime<Utc>>, Option<String>), StoreError> {
    let row = sqlx::query(
        "SELECT tat_us, paused_until, pause_reason FROM source_limits WHERE source_name = ?1",
    )
    .bind(source)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| store_error(what, e))?;
    Ok((
        column(&row, "tat_us")?,
        opt_time_column(&row, "paused_until")?,
        column(&row, "pause_reason")?,
    ))
}

/// Adds `calls` calls to the slice `(start, oldest)` names and forgets the
/// slices that started before `oldest`.
async fn record_calls(
    tx: &mut Transaction<'static, Sqlite>,
    source: &str,
    (start, oldest): (i64, i64),
    calls: u32,
    what: &'static str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM source_retry_budget WHERE source_name = ?1 AND slice_start < ?2")
        .bind(source)
        .bind(oldest)
        .execute(&mut **tx)
        .await
        .map_err(|e| store_error(what, e))?;
    sqlx::query(
        "INSERT INTO source_retry_budget (source_name, slice_start, calls) VALUES (?1, ?2, ?3) \
         ON CONFLICT (source_name, slice_start) DO UPDATE SET calls = calls + ?3",
    )
    .bind(source)
    .bind(start)
    .bind(i64::from(calls))
    .execute(&mut **tx)
    .await
    .map_err(|e| store_error(what, e))?;
    Ok(())
}

#[async_trait]
impl LimitsStore for SqliteStore {
    async fn limits_take_slot(
        &self,
        source: &str,
        interval: Duration,
        now: DateTime<Utc>,
        max_wait: Duration,
    ) -> Result<SlotTake, StoreError> {
        const WHAT: &str = "limits_take_slot";
        let now_us = now.timestamp_micros();
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        ensure(&mut tx, source, WHAT).await?;
        let (tat, paused, reason) = pause_of(&mut tx, source, WHAT).await?;
        // Stored times keep milliseconds: compare with `now` cut the same way.
        let now_ms = now
            - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos() % 1_000_000));
        let answer = match paused {
            Some(until) if until > now_ms => SlotTake::Paused {
                until,
                reason: reason.unwrap_or_default(),
            },
            _ => {
                let slot = tat.unwrap_or(now_us).max(now_us);
                if slot > now_us.saturating_add(micros(max_wait)) {
                    SlotTake::Busy {
                        next_at: from_micros(slot),
                    }
                } else {
                    sqlx::query("UPDATE source_limits SET tat_us = ?2 WHERE source_name = ?1")
                        .bind(source)
                        .bind(slot.saturating_add(micros(interval)))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| store_error(WHAT, e))?;
                    SlotTake::Taken {
                        at: from_micros(slot),
                    }
                }
            }
        };
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(answer)
    }

    async fn limits_pause(
        &self,
        source: &str,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<SourcePauseRow, StoreError> {
        const WHAT: &str = "limits_pause";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        ensure(&mut tx, source, WHAT).await?;
        // Fixed-width times compare as text in time order.
        sqlx::query(
            "UPDATE source_limits SET paused_until = ?2, pause_reason = ?3 \
             WHERE source_name = ?1 AND (paused_until IS NULL OR paused_until < ?2)",
        )
        .bind(source)
        .bind(encode_time(until))
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let (_, paused, reason) = pause_of(&mut tx, source, WHAT).await?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(SourcePauseRow {
            source_name: source.to_string(),
            paused_until: paused
                .ok_or_else(|| StoreError::Query(format!("{WHAT}: pause vanished")))?,
            reason: reason.unwrap_or_default(),
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
             WHERE source_name = ?1 AND paused_until > ?2",
        )
        .bind(source)
        .bind(encode_time(now))
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        found
            .map(|row| {
                Ok(SourcePauseRow {
                    source_name: source.to_string(),
                    paused_until: opt_time_column(&row, "paused_until")?
                        .ok_or_else(|| StoreError::Query(format!("{WHAT}: no pause")))?,
                    reason: column::<Option<String>>(&row, "pause_reason")?.unwrap_or_default(),
                })
            })
            .transpose()
    }

    async fn limits_record_calls(
        &self,
        source: &str,
        budget: &RetryBudgetConfig,
        now: DateTime<Utc>,
        calls: u32,
    ) -> Result<(), StoreError> {
        const WHAT: &str = "limits_record_calls";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        record_calls(&mut tx, source, budget.slice_at(now), calls, WHAT).await?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
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
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        record_calls(&mut tx, source, (start, oldest), new_calls, WHAT).await?;
        let (calls, retries): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(retries), 0) \
             FROM source_retry_budget WHERE source_name = ?1 AND slice_start >= ?2",
        )
        .bind(source)
        .bind(oldest)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let calls = u32::try_from(calls).unwrap_or(u32::MAX);
        let retries = u32::try_from(retries).unwrap_or(u32::MAX);
        let granted = budget.allows(calls, retries);
        if granted {
            sqlx::query(
                "INSERT INTO source_retry_budget (source_name, slice_start, retries) \
                 VALUES (?1, ?2, 1) ON CONFLICT (source_name, slice_start) \
                 DO UPDATE SET retries = retries + 1",
            )
            .bind(source)
            .bind(start)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        }
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(BudgetCounts {
            calls,
            retries: retries + u32::from(granted),
            granted,
        })
    }
}
