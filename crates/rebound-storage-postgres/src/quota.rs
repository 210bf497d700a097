//! `source_quota_usage`: request quotas. Each write is one statement (or
//! two in a transaction); the row lock taken by `UPDATE` serialises
//! concurrent takes, and its `WHERE requests < limit` is re-checked after
//! the lock, so takes never count past the limit.

use crate::Within;
use crate::{PostgresStore, ms};
use chrono::{DateTime, Utc};
use rebound_storage::{QuotaKey, QuotaTake, QuotaUsageRow, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;

const COLUMNS: &str = "source_name, period, period_start, period_end, requests, \
     remaining_reported, warned_at, updated_at";

fn row(row: &PgRow) -> Result<QuotaUsageRow, sqlx::Error> {
    Ok(QuotaUsageRow {
        source_name: row.try_get("source_name")?,
        period: row.try_get("period")?,
        period_start: row.try_get("period_start")?,
        period_end: row.try_get("period_end")?,
        requests: row.try_get("requests")?,
        remaining_reported: row.try_get("remaining_reported")?,
        warned_at: row.try_get("warned_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn ensure(
    store: &PostgresStore,
    key: &QuotaKey,
    now: DateTime<Utc>,
    what: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO source_quota_usage (source_name, period, period_start, period_end, \
            requests, updated_at) VALUES ($1, $2, $3, $4, 0, $5) \
         ON CONFLICT (source_name, period_start) DO NOTHING",
    )
    .bind(key.source_name.as_str())
    .bind(key.period.as_str())
    .bind(ms(key.period_start))
    .bind(ms(key.period_end))
    .bind(ms(now))
    .execute(&store.pool)
    .within(store, what)
    .await?;
    Ok(())
}

async fn read(
    store: &PostgresStore,
    key: &QuotaKey,
    what: &str,
) -> Result<QuotaUsageRow, StoreError> {
    usage(store, &key.source_name, key.period_start)
        .await?
        .ok_or_else(|| StoreError::Query(format!("{what}: quota row vanished")))
}

pub(crate) async fn take(
    store: &PostgresStore,
    key: &QuotaKey,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<QuotaTake, StoreError> {
    const WHAT: &str = "quota_take";
    ensure(store, key, now, WHAT).await?;
    let sql = format!(
        "UPDATE source_quota_usage SET requests = requests + 1, updated_at = $3 \
         WHERE source_name = $1 AND period_start = $2 AND requests < $4 \
           AND (remaining_reported IS NULL OR remaining_reported > 0) \
         RETURNING {COLUMNS}"
    );
    let counted = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key.source_name.as_str())
        .bind(ms(key.period_start))
        .bind(ms(now))
        .bind(limit)
        .fetch_optional(&store.pool)
        .within(store, WHAT)
        .await?;
    match counted {
        Some(found) => Ok(QuotaTake::Granted(
            row(&found).map_err(|e| store.error(WHAT, e))?,
        )),
        None => Ok(QuotaTake::Refused(read(store, key, WHAT).await?)),
    }
}

pub(crate) async fn settle(
    store: &PostgresStore,
    key: &QuotaKey,
    extra: i64,
    remaining: Option<i64>,
    now: DateTime<Utc>,
) -> Result<QuotaUsageRow, StoreError> {
    const WHAT: &str = "quota_settle";
    ensure(store, key, now, WHAT).await?;
    let sql = format!(
        "UPDATE source_quota_usage SET requests = GREATEST(0, requests + $3), \
            remaining_reported = COALESCE($4, remaining_reported), updated_at = $5 \
         WHERE source_name = $1 AND period_start = $2 RETURNING {COLUMNS}"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key.source_name.as_str())
        .bind(ms(key.period_start))
        .bind(extra)
        .bind(remaining)
        .bind(ms(now))
        .fetch_one(&store.pool)
        .within(store, WHAT)
        .await?;
    row(&found).map_err(|e| store.error(WHAT, e))
}

pub(crate) async fn mark_warned(
    store: &PostgresStore,
    key: &QuotaKey,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const WHAT: &str = "quota_mark_warned";
    ensure(store, key, now, WHAT).await?;
    let result = sqlx::query(
        "UPDATE source_quota_usage SET warned_at = $3 \
         WHERE source_name = $1 AND period_start = $2 AND warned_at IS NULL",
    )
    .bind(key.source_name.as_str())
    .bind(ms(key.period_start))
    .bind(ms(now))
    .execute(&store.pool)
    .within(store, WHAT)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn usage(
    store: &PostgresStore,
    source_name: &str,
    period_start: DateTime<Utc>,
) -> Result<Option<QuotaUsageRow>, StoreError> {
    const WHAT: &str = "quota_usage";
    let sql = format!(
        "SELECT {COLUMNS} FROM source_quota_usage WHERE source_name = $1 AND period_start = $2"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(source_name)
        .bind(ms(period_start))
        .fetch_optional(&store.pool)
        .within(store, WHAT)
        .await?
        .as_ref()
        .map(|r| row(r).map_err(|e| store.error(WHAT, e)))
        .transpose()
}
