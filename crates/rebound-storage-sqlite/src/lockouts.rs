//! Entity lockouts (`entity_lockouts`, migration 0005).

use crate::codec::{column, encode_time, opt_time_column, store_error, time_column};
use chrono::{DateTime, Utc};
use rebound_storage::{LockoutRow, NewLockout, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;

/// Statuses that extend an entity's no_data/failure streak.
pub(crate) fn extends_streak(status: &str) -> bool {
    matches!(status, "no_data" | "failed" | "overdue")
}

pub(crate) async fn entity_streak(
    readers: &SqlitePool,
    scraper_name: &str,
    param: &str,
    entity: &str,
    limit: u32,
) -> Result<u32, StoreError> {
    // json_each, as in collected_values: fan-out values are JSON strings.
    // Skipped calls and throttled ones (a 429, or the source paused after
    // one: a deferral, about the source's rate, not the entity) are passed
    // over.
    let statuses: Vec<String> = sqlx::query_scalar(
        "SELECT l.status FROM scraper_execution_log AS l, json_each(l.params) AS p \
         WHERE l.scraper_name = ?1 AND p.key = ?2 AND p.type = 'text' AND p.value = ?3 \
           AND l.status <> 'skipped' AND COALESCE(l.error_kind, '') <> 'throttled' \
           AND l.started_at >= COALESCE((SELECT MAX(released_at) FROM entity_lockouts \
                WHERE scraper_name = ?1 AND entity = ?3), '') \
         ORDER BY l.id DESC LIMIT ?4",
    )
    .bind(scraper_name)
    .bind(param)
    .bind(entity)
    .bind(i64::from(limit))
    .fetch_all(readers)
    .await
    .map_err(|e| store_error("entity_streak", e))?;
    Ok(statuses.iter().take_while(|s| extends_streak(s)).count() as u32)
}

pub(crate) async fn lock_entity(
    writer: &SqlitePool,
    lock: &NewLockout,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO entity_lockouts \
           (scraper_name, entity, locked_at, until, consecutive, reason, source_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )
    .bind(&lock.scraper_name)
    .bind(&lock.entity)
    .bind(encode_time(lock.locked_at))
    .bind(encode_time(lock.until))
    .bind(i64::from(lock.consecutive))
    .bind(&lock.reason)
    .bind(lock.source_hash.as_deref())
    .execute(writer)
    .await
    .map_err(|e| store_error("lock_entity", e))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn open_lockouts(
    readers: &SqlitePool,
    scraper_name: Option<&str>,
) -> Result<Vec<LockoutRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, scraper_name, entity, locked_at, until, consecutive, reason, source_hash, \
                released_at, released_reason \
         FROM entity_lockouts \
         WHERE released_at IS NULL AND (?1 IS NULL OR scraper_name = ?1) \
         ORDER BY scraper_name, entity",
    )
    .bind(scraper_name)
    .fetch_all(readers)
    .await
    .map_err(|e| store_error("open_lockouts", e))?;
    rows.iter().map(lockout_row).collect()
}

pub(crate) async fn release_lockouts(
    writer: &SqlitePool,
    scraper_name: &str,
    entity: Option<&str>,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<u32, StoreError> {
    let done = sqlx::query(
        "UPDATE entity_lockouts SET released_at = ?3, released_reason = ?4 \
         WHERE released_at IS NULL AND scraper_name = ?1 AND (?2 IS NULL OR entity = ?2)",
    )
    .bind(scraper_name)
    .bind(entity)
    .bind(encode_time(at))
    .bind(reason)
    .execute(writer)
    .await
    .map_err(|e| store_error("release_lockouts", e))?;
    Ok(done.rows_affected() as u32)
}

fn lockout_row(row: &SqliteRow) -> Result<LockoutRow, StoreError> {
    Ok(LockoutRow {
        id: column(row, "id")?,
        scraper_name: column(row, "scraper_name")?,
        entity: column(row, "entity")?,
        locked_at: time_column(row, "locked_at")?,
        until: time_column(row, "until")?,
        consecutive: column(row, "consecutive")?,
        reason: column(row, "reason")?,
        source_hash: column(row, "source_hash")?,
        released_at: opt_time_column(row, "released_at")?,
        released_reason: column(row, "released_reason")?,
    })
}
