//! `source_quota_usage`: request quotas, written on the one writer
//! connection. A take and a settle, made around every call to a source
//! with a quota, are each one UPSERT … RETURNING (atomic on its own): as
//! `BEGIN IMMEDIATE`, insert-if-missing, update, read back and `COMMIT`
//! they were five hand-offs to SQLite's thread each. The rare warning mark
//! keeps its short transaction.

use crate::codec::{
    begin_immediate, column, encode_time, opt_time_column, store_error, time_column,
};
use chrono::{DateTime, Utc};
use rebound_storage::{QuotaKey, QuotaTake, QuotaUsageRow, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, SqlitePool, Transaction};

/// The columns [`row`] reads, for the SELECT and both RETURNING clauses.
macro_rules! columns {
    () => {
        "source_name, period, period_start, period_end, requests, \
         remaining_reported, warned_at, updated_at"
    };
}

const SELECT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM source_quota_usage WHERE source_name = ?1 AND period_start = ?2"
);

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

pub(crate) async fn take(
    writer: &SqlitePool,
    key: &QuotaKey,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<QuotaTake, StoreError> {
    const WHAT: &str = "quota_take";
    // A new period's row starts at this take (or at 0 when no take can
    // be granted); an existing row counts it only below the limit and
    // while the upstream has not said none are left. RETURNING gives the
    // row only when it was inserted or counted.
    let counted = sqlx::query(concat!(
        "INSERT INTO source_quota_usage (source_name, period, period_start, period_end, \
            requests, updated_at) VALUES (?1, ?2, ?3, ?4, CASE WHEN ?6 > 0 THEN 1 ELSE 0 END, ?5) \
         ON CONFLICT (source_name, period_start) DO UPDATE \
            SET requests = requests + 1, updated_at = ?5 \
            WHERE requests < ?6 AND (remaining_reported IS NULL OR remaining_reported > 0) \
         RETURNING ",
        columns!()
    ))
    .bind(key.source_name.as_str())
    .bind(key.period.as_str())
    .bind(encode_time(key.period_start))
    .bind(encode_time(key.period_end))
    .bind(encode_time(now))
    .bind(limit)
    .fetch_optional(writer)
    .await
    .map_err(|e| store_error(WHAT, e))?;
    match counted {
        // Inserted at 0 when the limit grants nothing: refused.
        Some(counted) if limit > 0 => Ok(QuotaTake::Granted(row(&counted)?)),
        Some(counted) => Ok(QuotaTake::Refused(row(&counted)?)),
        // Not counted: the row exists (the INSERT conflicted) and is read
        // on the writer, so the answer is as of this take.
        None => usage(writer, &key.source_name, key.period_start)
            .await?
            .map(QuotaTake::Refused)
            .ok_or_else(|| {
                StoreError::Query(format!(
                    "{WHAT}: the quota row of {} vanished",
                    key.source_name
                ))
            }),
    }
}

pub(crate) async fn settle(
    writer: &SqlitePool,
    key: &QuotaKey,
    extra: i64,
    remaining: Option<i64>,
    now: DateTime<Utc>,
) -> Result<QuotaUsageRow, StoreError> {
    const WHAT: &str = "quota_settle";
    let settled = sqlx::query(concat!(
        "INSERT INTO source_quota_usage (source_name, period, period_start, period_end, \
            requests, remaining_reported, updated_at) \
         VALUES (?1, ?2, ?3, ?4, MAX(0, ?5), ?6, ?7) \
         ON CONFLICT (source_name, period_start) DO UPDATE \
            SET requests = MAX(0, requests + ?5), \
                remaining_reported = COALESCE(?6, remaining_reported), updated_at = ?7 \
         RETURNING ",
        columns!()
    ))
    .bind(key.source_name.as_str())
    .bind(key.period.as_str())
    .bind(encode_time(key.period_start))
    .bind(encode_time(key.period_end))
    .bind(extra)
    .bind(remaining)
    .bind(encode_time(now))
    .fetch_one(writer)
    .await
    .map_err(|e| store_error(WHAT, e))?;
    row(&settled)
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

/// A period's row, read on `pool` (the readers for a lookup; the writer
/// where the answer must follow the write just made).
pub(crate) async fn usage(
    pool: &SqlitePool,
    source_name: &str,
    period_start: DateTime<Utc>,
) -> Result<Option<QuotaUsageRow>, StoreError> {
    sqlx::query(SELECT)
        .bind(source_name)
        .bind(encode_time(period_start))
        .fetch_optional(pool)
        .await
        .map_err(|e| store_error("quota_usage", e))?
        .as_ref()
        .map(row)
        .transpose()
}
