//! `source_quota_usage`: request quotas, written on the one writer
//! connection in short `BEGIN IMMEDIATE` transactions.

use crate::codec::{
    begin_immediate, column, encode_time, opt_time_column, store_error, time_column,
};
use chrono::{DateTime, Utc};
use rebound_storage::{QuotaKey, QuotaTake, QuotaUsageRow, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, SqlitePool, Transaction};

const SELECT: &str = "SELECT source_name, period, period_start, period_end, requests, \
     remaining_reported, warned_at, updated_at FROM source_quota_usage \
     WHERE source_name = ?1 AND period_start = ?2";

fn row(row: &SqliteRow) -> Result<QuotaUsageRow, StoreError> {
    Ok(QuotaUsageRow {
        source_name: column(row, "source_name")?,
        period: column(row, "period")?,
        period_start: time_column(row, "period_start")?,
        period_end: time_column(row, "period_end")?,
        requests: column(row, "requests")?,
        remaining_reported: column(row, "remaining_reported")?,
        warned_at: opt_time_column(row, "warned_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

async fn ensure(
    tx: &mut Transaction<'static, Sqlite>,
    key: &QuotaKey,
    now: DateTime<Utc>,
    what: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO source_quota_usage (source_name, period, period_start, period_end, \
            requests, updated_at) VALUES (?1, ?2, ?3, ?4, 0, ?5) \
         ON CONFLICT (source_name, period_start) DO NOTHING",
    )
    .bind(key.source_name.as_str())
    .bind(key.period.as_str())
    .bind(encode_time(key.period_start))
    .bind(encode_time(key.period_end))
    .bind(encode_time(now))
    .execute(&mut **tx)
    .await
    .map_err(|e| store_error(what, e))?;
    Ok(())
}

async fn read(
    tx: &mut Transaction<'static, Sqlite>,
    key: &QuotaKey,
    what: &'static str,
) -> Result<QuotaUsageRow, StoreError> {
    let found = sqlx::query(SELECT)
        .bind(key.source_name.as_str())
        .bind(encode_time(key.period_start))
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| store_error(what, e))?;
    row(&found)
}

pub(crate) async fn take(
    writer: &SqlitePool,
    key: &QuotaKey,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<QuotaTake, StoreError> {
    const WHAT: &str = "quota_take";
    let mut tx = begin_immediate(writer, WHAT).await?;
    ensure(&mut tx, key, now, WHAT).await?;
    let counted = sqlx::query(
        "UPDATE source_quota_usage SET requests = requests + 1, updated_at = ?3 \
         WHERE source_name = ?1 AND period_start = ?2 AND requests < ?4 \
           AND (remaining_reported IS NULL OR remaining_reported > 0)",
    )
    .bind(key.source_name.as_str())
    .bind(encode_time(key.period_start))
    .bind(encode_time(now))
    .bind(limit)
    .execute(&mut *tx)
    .await
    .map_err(|e| store_error(WHAT, e))?
    .rows_affected()
        == 1;
    let usage = read(&mut tx, key, WHAT).await?;
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(if counted {
        QuotaTake::Granted(usage)
    } else {
        QuotaTake::Refused(usage)
    })
}

pub(crate) async fn settle(
    writer: &SqlitePool,
    key: &QuotaKey,
    extra: i64,
    remaining: Option<i64>,
    now: DateTime<Utc>,
) -> Result<QuotaUsageRow, StoreError> {
    const WHAT: &str = "quota_settle";
    let mut tx = begin_immediate(writer, WHAT).await?;
    ensure(&mut tx, key, now, WHAT).await?;
    sqlx::query(
        "UPDATE source_quota_usage SET requests = MAX(0, requests + ?3), \
            remaining_reported = COALESCE(?4, remaining_reported), updated_at = ?5 \
         WHERE source_name = ?1 AND period_start = ?2",
    )
    .bind(key.source_name.as_str())
    .bind(encode_time(key.period_start))
    .bind(extra)
    .bind(remaining)
    .bind(encode_time(now))
    .execute(&mut *tx)
    .await
    .map_err(|e| store_error(WHAT, e))?;
    let usage = read(&mut tx, key, WHAT).await?;
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(usage)
}

pub(crate) async fn mark_warned(
    writer: &SqlitePool,
    key: &QuotaKey,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const WHAT: &str = "quota_mark_warned";
    let mut tx = begin_immediate(writer, WHAT).await?;
    ensure(&mut tx, key, now, WHAT).await?;
    let marked = sqlx::query(
        "UPDATE source_quota_usage SET warned_at = ?3 \
         WHERE source_name = ?1 AND period_start = ?2 AND warned_at IS NULL",
    )
    .bind(key.source_name.as_str())
    .bind(encode_time(key.period_start))
    .bind(encode_time(now))
    .execute(&mut *tx)
    .await
    .map_err(|e| store_error(WHAT, e))?
    .rows_affected()
        == 1;
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(marked)
}

pub(crate) async fn usage(
    readers: &SqlitePool,
    source_name: &str,
    period_start: DateTime<Utc>,
) -> Result<Option<QuotaUsageRow>, StoreError> {
    sqlx::query(SELECT)
        .bind(source_name)
        .bind(encode_time(period_start))
        .fetch_optional(readers)
        .await
        .map_err(|e| store_error("quota_usage", e))?
        .as_ref()
        .map(row)
        .transpose()
}
