//! Entity lockouts (`entity_lockouts`, migration 0005).

use crate::Within;
use crate::{PostgresStore, ms};
use chrono::{DateTime, Utc};
use rebound_storage::{LockoutRow, NewLockout, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// Statuses that extend an entity's no_data/failure streak.
fn extends_streak(status: &str) -> bool {
    matches!(status, "no_data" | "failed" | "overdue")
}

pub(crate) async fn entity_streak(
    store: &PostgresStore,
    scraper_name: &str,
    param: &str,
    entity: &str,
    limit: u32,
) -> Result<u32, StoreError> {
    // Skipped and throttled calls are passed over (see the SQLite store).
    let statuses: Vec<String> = sqlx::query_scalar(
        "SELECT status FROM scraper_execution_log \
         WHERE scraper_name = $1 AND params::jsonb ->> $2 = $3 AND status <> 'skipped' \
           AND COALESCE(error_kind, '') <> 'throttled' \
           AND started_at >= COALESCE((SELECT MAX(released_at) FROM entity_lockouts \
                WHERE scraper_name = $1 AND entity = $3), '-infinity'::timestamptz) \
         ORDER BY id DESC LIMIT $4",
    )
    .bind(scraper_name)
    .bind(param)
    .bind(entity)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .within(store, "entity_streak")
    .await?;
    Ok(statuses.iter().take_while(|s| extends_streak(s)).count() as u32)
}

pub(crate) async fn lock_entity(
    store: &PostgresStore,
    lock: &NewLockout,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO entity_lockouts \
           (scraper_name, entity, locked_at, until, consecutive, reason, source_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&lock.scraper_name)
    .bind(&lock.entity)
    .bind(ms(lock.locked_at))
    .bind(ms(lock.until))
    .bind(i64::from(lock.consecutive))
    .bind(&lock.reason)
    .bind(lock.source_hash.as_deref())
    .execute(&store.pool)
    .within(store, "lock_entity")
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn open_lockouts(
    store: &PostgresStore,
    scraper_name: Option<&str>,
) -> Result<Vec<LockoutRow>, StoreError> {
    const WHAT: &str = "open_lockouts";
    let rows = sqlx::query(
        "SELECT id, scraper_name, entity, locked_at, until, consecutive, reason, source_hash, \
                released_at, released_reason \
         FROM entity_lockouts \
         WHERE released_at IS NULL AND ($1::text IS NULL OR scraper_name = $1) \
         ORDER BY scraper_name, entity",
    )
    .bind(scraper_name)
    .fetch_all(&store.pool)
    .within(store, WHAT)
    .await?;
    rows.iter()
        .map(lockout_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| store.error(WHAT, e))
}

pub(crate) async fn release_lockouts(
    store: &PostgresStore,
    scraper_name: &str,
    entity: Option<&str>,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<u32, StoreError> {
    let done = sqlx::query(
        "UPDATE entity_lockouts SET released_at = $3, released_reason = $4 \
         WHERE released_at IS NULL AND scraper_name = $1 AND ($2::text IS NULL OR entity = $2)",
    )
    .bind(scraper_name)
    .bind(entity)
    .bind(ms(at))
    .bind(reason)
    .execute(&store.pool)
    .within(store, "release_lockouts")
    .await?;
    Ok(done.rows_affected() as u32)
}

fn lockout_row(row: &PgRow) -> Result<LockoutRow, sqlx::Error> {
    Ok(LockoutRow {
        id: row.try_get("id")?,
        scraper_name: row.try_get("scraper_name")?,
        entity: row.try_get("entity")?,
        locked_at: row.try_get("locked_at")?,
        until: row.try_get("until")?,
        consecutive: row.try_get("consecutive")?,
        reason: row.try_get("reason")?,
        source_hash: row.try_get("source_hash")?,
        released_at: row.try_get("released_at")?,
        released_reason: row.try_get("released_reason")?,
    })
}
