//! The hand-off outbox, `completion_events` and `completion_acks`
//! (migration 0013). Events are inserted with their call (`INSERT_CALL`
//! in `lib.rs`, one statement). Claims take rows `FOR UPDATE SKIP LOCKED`,
//! so publishers in several processes never claim the same event at once.

use crate::Within;
use crate::{PostgresStore, ms};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{
    AckResult, AckWindowRow, CompletionEventRow, EventDelivery, EventStore, HandoffSummary,
    ReconcileOutcome, ReconcilePolicy, StoreError, as_redelivery, decode_sink_names,
    encode_sink_names,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

const EVENT_COLUMNS: &str = "event_id, scraper_execution_id, created_at, dataset, status, \
     payload, state, deliveries, last_delivery_at, last_error, acknowledged_at, \
     next_attempt_at, sinks_done, redeliveries";

/// Acknowledgements inserted by consumers, applied to their events (at
/// millisecond precision, like every stored time).
const APPLY_ACKS: &str = "UPDATE completion_events AS e SET state = 'acknowledged', \
     acknowledged_at = date_trunc('milliseconds', a.acked_at) \
     FROM completion_acks AS a \
     WHERE a.event_id = e.event_id AND e.state <> 'acknowledged'";

/// The storm guard's sample: events last delivered in `($1, $2]` that are
/// not pending (a pending one is being sent again), by dataset, and how
/// many of them no acknowledgement covers (applied or still waiting in
/// `completion_acks`).
const ACK_WINDOW: &str = "SELECT e.dataset AS dataset, COUNT(*) AS due, \
        COUNT(*) FILTER (WHERE e.state <> 'acknowledged' AND NOT EXISTS \
            (SELECT 1 FROM completion_acks AS a WHERE a.event_id = e.event_id)) \
            AS unacknowledged \
     FROM completion_events AS e \
     WHERE e.last_delivery_at > $1 AND e.last_delivery_at <= $2 AND e.state <> 'pending' \
     GROUP BY e.dataset ORDER BY e.dataset";

fn window_row(row: &PgRow) -> Result<AckWindowRow, sqlx::Error> {
    let due: i64 = row.try_get("due")?;
    let unacknowledged: i64 = row.try_get("unacknowledged")?;
    Ok(AckWindowRow {
        dataset: row.try_get("dataset")?,
        due: u64::try_from(due).unwrap_or(0),
        unacknowledged: u64::try_from(unacknowledged).unwrap_or(0),
    })
}

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
        redeliveries: row.try_get("redeliveries")?,
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
            .within(self, what)
            .await?;
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
        let mut tx = self.pool.begin().within(self, WHAT).await?;
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
            .within(self, WHAT)
            .await?;
        tx.commit().within(self, WHAT).await?;
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
                    deliveries = deliveries + $4, last_delivery_at = $2, last_error = NULL, \
                    sinks_done = $3, next_attempt_at = $2 \
                 WHERE event_id = $1",
            )
            .bind(event_id)
            .bind(ms(*at))
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
        query.execute(&self.pool).within(self, WHAT).await?;
        Ok(())
    }

    async fn completion_events(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CompletionEventRow>, StoreError> {
        const WHAT: &str = "completion_events";
        let mut tx = self.pool.begin().within(self, WHAT).await?;
        self.apply_acks_in(&mut tx, WHAT).await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM completion_events \
             WHERE ($1::text IS NULL OR state = $1) ORDER BY scraper_execution_id LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(state)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .within(self, WHAT)
            .await?;
        tx.commit().within(self, WHAT).await?;
        self.rows(&rows, WHAT)
    }

    async fn ack_events(
        &self,
        event_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<AckResult>, StoreError> {
        const WHAT: &str = "ack_events";
        let mut tx = self.pool.begin().within(self, WHAT).await?;
        let mut results = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            let state: Option<String> = sqlx::query_scalar(
                "SELECT state FROM completion_events WHERE event_id = $1 FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .within(self, WHAT)
            .await?;
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
                .within(self, WHAT)
                .await?;
                sqlx::query(
                    "UPDATE completion_events SET state = 'acknowledged', acknowledged_at = $2 \
                     WHERE event_id = $1",
                )
                .bind(id)
                .bind(ms(now))
                .execute(&mut *tx)
                .within(self, WHAT)
                .await?;
            }
            results.push(result);
        }
        tx.commit().within(self, WHAT).await?;
        Ok(results)
    }

    async fn apply_acks(&self) -> Result<u64, StoreError> {
        const WHAT: &str = "apply_acks";
        let mut tx = self.pool.begin().within(self, WHAT).await?;
        let changed = self.apply_acks_in(&mut tx, WHAT).await?;
        tx.commit().within(self, WHAT).await?;
        Ok(changed)
    }

    async fn reconcile_events(
        &self,
        policy: &ReconcilePolicy,
    ) -> Result<ReconcileOutcome, StoreError> {
        const WHAT: &str = "reconcile_events";
        let mut tx = self.pool.begin().within(self, WHAT).await?;
        self.apply_acks_in(&mut tx, WHAT).await?;
        let rows = sqlx::query(ACK_WINDOW)
            .bind(ms(policy.window_start))
            .bind(ms(policy.due_before))
            .fetch_all(&mut *tx)
            .within(self, WHAT)
            .await?;
        let window = rows
            .iter()
            .map(|r| window_row(r).map_err(|e| self.error(WHAT, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let due: u64 = window.iter().map(|w| w.due).sum();
        let unacked: u64 = window.iter().map(|w| w.unacknowledged).sum();
        let storm = policy.ack.is_storm(due, unacked);
        // Rows another reconciler holds are left to it (SKIP LOCKED); the
        // state check in each UPDATE makes a change happen once anyway.
        let candidates = sqlx::query(
            "SELECT event_id, payload, redeliveries FROM completion_events \
             WHERE state = 'published' AND last_delivery_at <= $1 \
             ORDER BY scraper_execution_id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(ms(policy.due_before))
        .bind(i64::from(policy.limit))
        .fetch_all(&mut *tx)
        .within(self, WHAT)
        .await?;
        let mut outcome = ReconcileOutcome {
            window,
            storm,
            ..ReconcileOutcome::default()
        };
        for row in &candidates {
            let event_id: String = row.try_get("event_id").map_err(|e| self.error(WHAT, e))?;
            let payload: String = row.try_get("payload").map_err(|e| self.error(WHAT, e))?;
            let redeliveries: i64 = row
                .try_get("redeliveries")
                .map_err(|e| self.error(WHAT, e))?;
            if !storm && redeliveries < i64::from(policy.ack.max_redeliveries) {
                sqlx::query(
                    "UPDATE completion_events SET state = 'pending', \
                        redeliveries = redeliveries + 1, sinks_done = '[]', \
                        next_attempt_at = $2, payload = $3 \
                     WHERE event_id = $1 AND state = 'published'",
                )
                .bind(&event_id)
                .bind(ms(policy.now))
                .bind(as_redelivery(&payload))
                .execute(&mut *tx)
                .within(self, WHAT)
                .await?;
                outcome.redelivered.push(event_id);
            } else {
                sqlx::query(
                    "UPDATE completion_events SET state = 'unacknowledged' \
                     WHERE event_id = $1 AND state = 'published'",
                )
                .bind(&event_id)
                .execute(&mut *tx)
                .within(self, WHAT)
                .await?;
                outcome.unacknowledged.push(event_id);
            }
        }
        tx.commit().within(self, WHAT).await?;
        Ok(outcome)
    }

    async fn ack_window(&self, policy: &ReconcilePolicy) -> Result<Vec<AckWindowRow>, StoreError> {
        const WHAT: &str = "ack_window";
        let rows = sqlx::query(ACK_WINDOW)
            .bind(ms(policy.window_start))
            .bind(ms(policy.due_before))
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?;
        rows.iter()
            .map(|r| window_row(r).map_err(|e| self.error(WHAT, e)))
            .collect()
    }

    async fn handoff_summary(&self) -> Result<HandoffSummary, StoreError> {
        const WHAT: &str = "handoff_summary";
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM completion_events \
             WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .within(self, WHAT)
        .await?;
        let pending: i64 = row.try_get("n").map_err(|e| self.error(WHAT, e))?;
        let oldest_pending_at: Option<DateTime<Utc>> =
            row.try_get("oldest").map_err(|e| self.error(WHAT, e))?;
        let rows = sqlx::query(
            "SELECT dataset, COUNT(*) AS n FROM completion_events \
             WHERE state = 'unacknowledged' GROUP BY dataset ORDER BY dataset",
        )
        .fetch_all(&self.pool)
        .within(self, WHAT)
        .await?;
        let mut unacknowledged = Vec::with_capacity(rows.len());
        for row in &rows {
            let n: i64 = row.try_get("n").map_err(|e| self.error(WHAT, e))?;
            let dataset: String = row.try_get("dataset").map_err(|e| self.error(WHAT, e))?;
            unacknowledged.push((dataset, u64::try_from(n).unwrap_or(0)));
        }
        let rows = sqlx::query(
            "SELECT last_delivery_at, last_error FROM completion_events \
             WHERE state = 'pending' AND last_error IS NOT NULL \
               AND last_delivery_at IS NOT NULL \
             ORDER BY last_delivery_at DESC LIMIT 100",
        )
        .fetch_all(&self.pool)
        .within(self, WHAT)
        .await?;
        let mut pending_errors = Vec::with_capacity(rows.len());
        for row in &rows {
            let at: DateTime<Utc> = row
                .try_get("last_delivery_at")
                .map_err(|e| self.error(WHAT, e))?;
            let error: String = row.try_get("last_error").map_err(|e| self.error(WHAT, e))?;
            pending_errors.push((at, error));
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
                 WHERE target_date >= $1 AND target_date <= $2) \
               AND ($3::text IS NULL OR status = $3) \
             ORDER BY scraper_execution_id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(from)
            .bind(to)
            .bind(status)
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?;
        self.rows(&rows, WHAT)
    }
}
