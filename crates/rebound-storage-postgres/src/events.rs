//! The hand-off outbox, `completion_events` and `completion_acks`
//! (migration 0013). Events are inserted with their call (`INSERT_CALL`
//! in `lib.rs`, one statement). Claims take rows `FOR UPDATE SKIP LOCKED`,
//! so publishers in several processes never claim the same event at once.

use crate::{PostgresStore, ms};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{
    AckResult, CompletionEventRow, EventDelivery, EventStore, StoreError, decode_sink_names,
    encode_sink_names,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

const EVENT_COLUMNS: &str = "event_id, scraper_execution_id, created_at, dataset, status, \
     payload, state, deliveries, last_delivery_at, last_error, acknowledged_at, \
     next_attempt_at, sinks_done";

/// Acknowledgements inserted by consumers, applied to their events (at
/// millisecond precision, like every stored time).
const APPLY_ACKS: &str = "UPDATE completion_events AS e SET state = 'acknowledged', \
     acknowledged_at = date_trunc('milliseconds', a.acked_at) \
     FROM completion_acks AS a \
     WHERE a.event_id = e.event_id AND e.state <> 'acknowledged'";

fn event(row: &PgRow) -> Result<CompletionEventRow, sqlx::Error> {
    let sinks: String = row.try_get("sinks_done")?;
    Ok(CompletionEventRow {
        event_id: row.try_get("event_id")?,
        scraper_execution_id: row.try_get("scraper_execution_id")?,
        created_at: row.try_get("created_at")?,
        dataset: row.try_get("dataset")?,
        status: row.try_get("status")?,
        payload: row.try_get("payload")?,
        state: row.try_get("state")?,
        deliveries: row.try_get("deliveries")?,
        last_delivery_at: row.try_get("last_delivery_at")?,
        last_error: row.try_get("last_error")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        sinks_done: decode_sink_names(&sinks),
    })
}

impl PostgresStore {
    async fn apply_acks_in(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        what: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(APPLY_ACKS)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.error(what, e))?;
        Ok(done.rows_affected())
    }

    fn rows(&self, rows: &[PgRow], what: &str) -> Result<Vec<CompletionEventRow>, StoreError> {
        rows.iter()
            .map(|r| event(r).map_err(|e| self.error(what, e)))
            .collect()
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn claim_pending_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<CompletionEventRow>, StoreError> {
        const WHAT: &str = "claim_pending_events";
        let mut tx = self.pool.begin().await.map_err(|e| self.error(WHAT, e))?;
        self.apply_acks_in(&mut tx, WHAT).await?;
        // An event waits while an earlier pending event of its dataset is
        // not yet due (in backoff or claimed): that keeps a dataset's order.
        let sql = format!(
            "UPDATE completion_events SET next_attempt_at = $2 \
             WHERE event_id IN (\
                SELECT e.event_id FROM completion_events AS e \
                WHERE e.state = 'pending' AND e.next_attempt_at <= $1 \
                  AND NOT EXISTS (SELECT 1 FROM completion_events AS h \
                      WHERE h.state = 'pending' AND h.dataset = e.dataset \
                        AND h.scraper_execution_id < e.scraper_execution_id \
                        AND h.next_attempt_at > $1) \
                ORDER BY e.scraper_execution_id LIMIT $3 \
                FOR UPDATE SKIP LOCKED) \
             RETURNING {EVENT_COLUMNS}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(ms(now))
            .bind(ms(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.error(WHAT, e))?;
        tx.commit().await.map_err(|e| self.error(WHAT, e))?;
        let mut claimed = self.rows(&rows, WHAT)?;
        // RETURNING gives no order guarantee.
        claimed.sort_by_key(|e| e.scraper_execution_id);
        Ok(claimed)
    }

    async fn record_event_delivery(
        &self,
        event_id: &str,
        delivery: &EventDelivery,
    ) -> Result<(), StoreError> {
        const WHAT: &str = "record_event_delivery";
        let query = match delivery {
            EventDelivery::Published { at, sinks_done } => sqlx::query(
                "UPDATE completion_events SET \
                    state = CASE WHEN state = 'pending' THEN 'published' ELSE state END, \
                    deliveries = deliveries + 1, last_delivery_at = $2, last_error = NULL, \
                    sinks_done = $3, next_attempt_at = $2 \
                 WHERE event_id = $1",
            )
            .bind(event_id)
            .bind(ms(*at))
            .bind(encode_sink_names(sinks_done)),
            EventDelivery::Retry {
                at,
                sinks_done,
                error,
                next_attempt_at,
            } => sqlx::query(
                "UPDATE completion_events SET deliveries = deliveries + 1, \
                    last_delivery_at = $2, sinks_done = $3, last_error = $4, \
                    next_attempt_at = $5 \
                 WHERE event_id = $1",
            )
            .bind(event_id)
            .bind(ms(*at))
            .bind(encode_sink_names(sinks_done))
            .bind(error.as_str())
            .bind(ms(*next_attempt_at)),
            EventDelivery::Held { next_attempt_at } => {
                sqlx::query("UPDATE completion_events SET next_attempt_at = $2 WHERE event_id = $1")
                    .bind(event_id)
                    .bind(ms(*next_attempt_at))
            }
        };
        query
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(WHAT, e))?;
        Ok(())
    }

    async fn completion_events(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CompletionEventRow>, StoreError> {
        const WHAT: &str = "completion_events";
        let mut tx = self.pool.begin().await.map_err(|e| self.error(WHAT, e))?;
        self.apply_acks_in(&mut tx, WHAT).await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM completion_events \
             WHERE ($1::text IS NULL OR state = $1) ORDER BY scraper_execution_id LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(state)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.error(WHAT, e))?;
        tx.commit().await.map_err(|e| self.error(WHAT, e))?;
        self.rows(&rows, WHAT)
    }

    async fn ack_events(
        &self,
        event_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<AckResult>, StoreError> {
        const WHAT: &str = "ack_events";
        let mut tx = self.pool.begin().await.map_err(|e| self.error(WHAT, e))?;
        let mut results = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            let state: Option<String> = sqlx::query_scalar(
                "SELECT state FROM completion_events WHERE event_id = $1 FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.error(WHAT, e))?;
            let result = match state.as_deref() {
                None => AckResult::Unknown,
                Some("acknowledged") => AckResult::AlreadyAcknowledged,
                Some(_) => AckResult::Acknowledged,
            };
            if result == AckResult::Acknowledged {
                sqlx::query(
                    "INSERT INTO completion_acks (event_id, acked_at) VALUES ($1, $2) \
                     ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(id)
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(WHAT, e))?;
                sqlx::query(
                    "UPDATE completion_events SET state = 'acknowledged', acknowledged_at = $2 \
                     WHERE event_id = $1",
                )
                .bind(id)
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(WHAT, e))?;
            }
            results.push(result);
        }
        tx.commit().await.map_err(|e| self.error(WHAT, e))?;
        Ok(results)
    }

    async fn apply_acks(&self) -> Result<u64, StoreError> {
        const WHAT: &str = "apply_acks";
        let mut tx = self.pool.begin().await.map_err(|e| self.error(WHAT, e))?;
        let changed = self.apply_acks_in(&mut tx, WHAT).await?;
        tx.commit().await.map_err(|e| self.error(WHAT, e))?;
        Ok(changed)
    }
}
