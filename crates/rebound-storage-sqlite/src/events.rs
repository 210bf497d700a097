//! The hand-off outbox, `completion_events` and `completion_acks`
//! (migration 0013). Events are inserted by the call writer (`writer.rs`),
//! in the call's own transaction; everything here runs on the writer
//! connection in short `BEGIN IMMEDIATE` transactions, so a claim, a
//! delivery and an acknowledgement never interleave.

use crate::SqliteStore;
use crate::codec::{
    begin_immediate, column, encode_time, opt_time_column, store_error, time_column,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{
    AckResult, CompletionEventRow, EventDelivery, EventStore, StoreError, decode_sink_names,
    encode_sink_names,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Sqlite, Transaction};

const EVENT_COLUMNS: &str = "event_id, scraper_execution_id, created_at, dataset, status, \
     payload, state, deliveries, last_delivery_at, last_error, acknowledged_at, \
     next_attempt_at, sinks_done";

/// Acknowledgements inserted by consumers, applied to their events.
const APPLY_ACKS: &str = "UPDATE completion_events SET state = 'acknowledged', \
     acknowledged_at = (SELECT a.acked_at FROM completion_acks AS a \
        WHERE a.event_id = completion_events.event_id) \
     WHERE state <> 'acknowledged' \
       AND event_id IN (SELECT event_id FROM completion_acks)";

fn event(row: &SqliteRow) -> Result<CompletionEventRow, StoreError> {
    let sinks: String = column(row, "sinks_done")?;
    Ok(CompletionEventRow {
        event_id: column(row, "event_id")?,
        scraper_execution_id: column(row, "scraper_execution_id")?,
        created_at: time_column(row, "created_at")?,
        dataset: column(row, "dataset")?,
        status: column(row, "status")?,
        payload: column(row, "payload")?,
        state: column(row, "state")?,
        deliveries: column(row, "deliveries")?,
        last_delivery_at: opt_time_column(row, "last_delivery_at")?,
        last_error: column(row, "last_error")?,
        acknowledged_at: opt_time_column(row, "acknowledged_at")?,
        next_attempt_at: time_column(row, "next_attempt_at")?,
        sinks_done: decode_sink_names(&sinks),
    })
}

async fn apply_acks(tx: &mut Transaction<'static, Sqlite>, what: &str) -> Result<u64, StoreError> {
    let done = sqlx::query(APPLY_ACKS)
        .execute(&mut **tx)
        .await
        .map_err(|e| store_error(what, e))?;
    Ok(done.rows_affected())
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn claim_pending_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<CompletionEventRow>, StoreError> {
        const WHAT: &str = "claim_pending_events";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        apply_acks(&mut tx, WHAT).await?;
        // An event waits while an earlier pending event of its dataset is
        // not yet due (in backoff or claimed): that keeps a dataset's order.
        let sql = format!(
            "UPDATE completion_events SET next_attempt_at = ?2 \
             WHERE event_id IN (\
                SELECT e.event_id FROM completion_events AS e \
                WHERE e.state = 'pending' AND e.next_attempt_at <= ?1 \
                  AND NOT EXISTS (SELECT 1 FROM completion_events AS h \
                      WHERE h.state = 'pending' AND h.dataset = e.dataset \
                        AND h.scraper_execution_id < e.scraper_execution_id \
                        AND h.next_attempt_at > ?1) \
                ORDER BY e.scraper_execution_id LIMIT ?3) \
             RETURNING {EVENT_COLUMNS}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(encode_time(now))
            .bind(encode_time(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        let mut claimed = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
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
                    deliveries = deliveries + 1, last_delivery_at = ?2, last_error = NULL, \
                    sinks_done = ?3, next_attempt_at = ?2 \
                 WHERE event_id = ?1",
            )
            .bind(event_id)
            .bind(encode_time(*at))
            .bind(encode_sink_names(sinks_done)),
            EventDelivery::Retry {
                at,
                sinks_done,
                error,
                next_attempt_at,
            } => sqlx::query(
                "UPDATE completion_events SET deliveries = deliveries + 1, \
                    last_delivery_at = ?2, sinks_done = ?3, last_error = ?4, \
                    next_attempt_at = ?5 \
                 WHERE event_id = ?1",
            )
            .bind(event_id)
            .bind(encode_time(*at))
            .bind(encode_sink_names(sinks_done))
            .bind(error.as_str())
            .bind(encode_time(*next_attempt_at)),
            EventDelivery::Held { next_attempt_at } => {
                sqlx::query("UPDATE completion_events SET next_attempt_at = ?2 WHERE event_id = ?1")
                    .bind(event_id)
                    .bind(encode_time(*next_attempt_at))
            }
        };
        query
            .execute(&self.writer)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        Ok(())
    }

    async fn completion_events(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CompletionEventRow>, StoreError> {
        const WHAT: &str = "completion_events";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        apply_acks(&mut tx, WHAT).await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM completion_events \
             WHERE (?1 IS NULL OR state = ?1) ORDER BY scraper_execution_id LIMIT ?2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(state)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        rows.iter().map(event).collect()
    }

    async fn ack_events(
        &self,
        event_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<AckResult>, StoreError> {
        const WHAT: &str = "ack_events";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        let mut results = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            let state: Option<String> =
                sqlx::query_scalar("SELECT state FROM completion_events WHERE event_id = ?1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| store_error(WHAT, e))?;
            let result = match state.as_deref() {
                None => AckResult::Unknown,
                Some("acknowledged") => AckResult::AlreadyAcknowledged,
                Some(_) => AckResult::Acknowledged,
            };
            if result == AckResult::Acknowledged {
                sqlx::query(
                    "INSERT INTO completion_acks (event_id, acked_at) VALUES (?1, ?2) \
                     ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(id)
                .bind(encode_time(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
                sqlx::query(
                    "UPDATE completion_events SET state = 'acknowledged', acknowledged_at = ?2 \
                     WHERE event_id = ?1",
                )
                .bind(id)
                .bind(encode_time(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
            }
            results.push(result);
        }
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(results)
    }

    async fn apply_acks(&self) -> Result<u64, StoreError> {
        const WHAT: &str = "apply_acks";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        let changed = apply_acks(&mut tx, WHAT).await?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(changed)
    }
}
