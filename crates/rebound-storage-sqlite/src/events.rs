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
    AckResult, AckWindowRow, CompletionEventRow, EventDelivery, EventStore, HandoffSummary,
    ReconcileOutcome, ReconcilePolicy, StoreError, as_redelivery, decode_sink_names,
    encode_sink_names,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Sqlite, Transaction};

const EVENT_COLUMNS: &str = "event_id, scraper_execution_id, created_at, dataset, status, \
     payload, state, deliveries, last_delivery_at, last_error, acknowledged_at, \
     next_attempt_at, sinks_done, redeliveries";

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
        redeliveries: column(row, "redeliveries")?,
        last_error: column(row, "last_error")?,
        acknowledged_at: opt_time_column(row, "acknowledged_at")?,
        next_attempt_at: time_column(row, "next_attempt_at")?,
        sinks_done: decode_sink_names(&sinks),
    })
}

/// The storm guard's sample: events last delivered in `(?1, ?2]` that are
/// not pending (a pending one is being sent again), by dataset, and how
/// many of them no acknowledgement covers (applied or still waiting in
/// `completion_acks`).
const ACK_WINDOW: &str = "SELECT e.dataset AS dataset, COUNT(*) AS due, \
        SUM(CASE WHEN e.state <> 'acknowledged' AND NOT EXISTS \
            (SELECT 1 FROM completion_acks AS a WHERE a.event_id = e.event_id) \
            THEN 1 ELSE 0 END) AS unacknowledged \
     FROM completion_events AS e \
     WHERE e.last_delivery_at > ?1 AND e.last_delivery_at <= ?2 AND e.state <> 'pending' \
     GROUP BY e.dataset ORDER BY e.dataset";

fn window_row(row: &SqliteRow) -> Result<AckWindowRow, StoreError> {
    let due: i64 = column(row, "due")?;
    let unacknowledged: i64 = column(row, "unacknowledged")?;
    Ok(AckWindowRow {
        dataset: column(row, "dataset")?,
        due: u64::try_from(due).unwrap_or(0),
        unacknowledged: u64::try_from(unacknowledged).unwrap_or(0),
    })
}

/// Whether a claim would do anything: an event due, or an acknowledgement
/// not yet applied. A superset of what the claim takes (it also keeps a
/// dataset's order), read on a reader connection.
const CLAIM_HAS_WORK: &str = "SELECT EXISTS (SELECT 1 FROM completion_events \
        WHERE state = 'pending' AND next_attempt_at <= ?1) \
     OR EXISTS (SELECT 1 FROM completion_events WHERE state <> 'acknowledged' \
        AND event_id IN (SELECT event_id FROM completion_acks))";

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
        // Publishers poll: most polls find nothing, and a write transaction
        // for nothing would queue behind every other writer (and, in a
        // simulation, cost four hand-offs a step). One read says whether
        // there is anything to do; an event that lands just after it is
        // claimed by the next poll, as if this one had run a moment sooner.
        let has_work: bool = sqlx::query_scalar(CLAIM_HAS_WORK)
            .bind(encode_time(now))
            .fetch_one(&self.readers)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        if !has_work {
            return Ok(Vec::new());
        }
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
                    deliveries = deliveries + ?4, last_delivery_at = ?2, last_error = NULL, \
                    sinks_done = ?3, next_attempt_at = ?2 \
                 WHERE event_id = ?1",
            )
            .bind(event_id)
            .bind(encode_time(*at))
            .bind(encode_sink_names(sinks_done))
            // Published to no sink (none wants it): nothing was delivered.
            .bind(i64::from(!sinks_done.is_empty())),
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

    async fn reconcile_events(
        &self,
        policy: &ReconcilePolicy,
    ) -> Result<ReconcileOutcome, StoreError> {
        const WHAT: &str = "reconcile_events";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        apply_acks(&mut tx, WHAT).await?;
        let rows = sqlx::query(ACK_WINDOW)
            .bind(encode_time(policy.window_start))
            .bind(encode_time(policy.due_before))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        let window = rows.iter().map(window_row).collect::<Result<Vec<_>, _>>()?;
        let due: u64 = window.iter().map(|w| w.due).sum();
        let unacked: u64 = window.iter().map(|w| w.unacknowledged).sum();
        let storm = policy.ack.is_storm(due, unacked);
        let candidates = sqlx::query(
            "SELECT event_id, payload, redeliveries FROM completion_events \
             WHERE state = 'published' AND last_delivery_at <= ?1 \
             ORDER BY scraper_execution_id LIMIT ?2",
        )
        .bind(encode_time(policy.due_before))
        .bind(i64::from(policy.limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let mut outcome = ReconcileOutcome {
            window,
            storm,
            ..ReconcileOutcome::default()
        };
        for row in &candidates {
            let event_id: String = column(row, "event_id")?;
            let payload: String = column(row, "payload")?;
            let redeliveries: i64 = column(row, "redeliveries")?;
            if !storm && redeliveries < i64::from(policy.ack.max_redeliveries) {
                sqlx::query(
                    "UPDATE completion_events SET state = 'pending', \
                        redeliveries = redeliveries + 1, sinks_done = '[]', \
                        next_attempt_at = ?2, payload = ?3 \
                     WHERE event_id = ?1 AND state = 'published'",
                )
                .bind(&event_id)
                .bind(encode_time(policy.now))
                .bind(as_redelivery(&payload))
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
                outcome.redelivered.push(event_id);
            } else {
                sqlx::query(
                    "UPDATE completion_events SET state = 'unacknowledged' \
                     WHERE event_id = ?1 AND state = 'published'",
                )
                .bind(&event_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
                outcome.unacknowledged.push(event_id);
            }
        }
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(outcome)
    }

    async fn ack_window(&self, policy: &ReconcilePolicy) -> Result<Vec<AckWindowRow>, StoreError> {
        const WHAT: &str = "ack_window";
        let rows = sqlx::query(ACK_WINDOW)
            .bind(encode_time(policy.window_start))
            .bind(encode_time(policy.due_before))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        rows.iter().map(window_row).collect()
    }

    async fn handoff_summary(&self) -> Result<HandoffSummary, StoreError> {
        const WHAT: &str = "handoff_summary";
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM completion_events WHERE state = 'pending'")
                .fetch_one(&self.readers)
                .await
                .map_err(|e| store_error(WHAT, e))?;
        let oldest = sqlx::query(
            "SELECT created_at FROM completion_events WHERE state = 'pending' \
             ORDER BY created_at LIMIT 1",
        )
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let oldest_pending_at = match oldest {
            Some(row) => Some(time_column(&row, "created_at")?),
            None => None,
        };
        let rows = sqlx::query(
            "SELECT dataset, COUNT(*) AS n FROM completion_events \
             WHERE state = 'unacknowledged' GROUP BY dataset ORDER BY dataset",
        )
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let mut unacknowledged = Vec::with_capacity(rows.len());
        for row in &rows {
            let n: i64 = column(row, "n")?;
            unacknowledged.push((column(row, "dataset")?, u64::try_from(n).unwrap_or(0)));
        }
        let rows = sqlx::query(
            "SELECT last_delivery_at, last_error FROM completion_events \
             WHERE state = 'pending' AND last_error IS NOT NULL \
               AND last_delivery_at IS NOT NULL \
             ORDER BY last_delivery_at DESC LIMIT 100",
        )
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let mut pending_errors = Vec::with_capacity(rows.len());
        for row in &rows {
            pending_errors.push((
                time_column(row, "last_delivery_at")?,
                column(row, "last_error")?,
            ));
        }
        Ok(HandoffSummary {
            pending: u64::try_from(pending).unwrap_or(0),
            oldest_pending_at,
            unacknowledged,
            pending_errors,
        })
    }

    async fn events_for_dates(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        status: Option<&str>,
    ) -> Result<Vec<CompletionEventRow>, StoreError> {
        const WHAT: &str = "events_for_dates";
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM completion_events \
             WHERE scraper_execution_id IN (SELECT id FROM scraper_execution_log \
                 WHERE target_date >= ?1 AND target_date <= ?2) \
               AND (?3 IS NULL OR status = ?3) \
             ORDER BY scraper_execution_id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(crate::codec::encode_date(from))
            .bind(crate::codec::encode_date(to))
            .bind(status)
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        rows.iter().map(event).collect()
    }
}
