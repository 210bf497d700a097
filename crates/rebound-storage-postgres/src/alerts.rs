//! `alert_incidents` and `alerts` (migration 0007). Several schedulers may
//! share the database: an incident is opened by `INSERT … ON CONFLICT DO
//! NOTHING` against the unique index on open (condition, subject); a
//! reminder is recorded only while `last_notified_at` is still what the
//! evaluator read; deliverers claim due rows with `FOR UPDATE SKIP LOCKED`.

use crate::Within;
use crate::{PostgresStore, ms};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{
    AlertIncidentRow, AlertIncidentUpdate, AlertRow, AlertStamp, AlertStore, CAUSED_BY_PREFIX,
    DeliveryOutcome, NewAlert, NewAlertIncident, StoreError,
};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

const INCIDENT_COLUMNS: &str = "id, condition, subject, level, peak_level, summary, opened_at, \
     last_seen_at, last_notified_at, resolved_at, caused_by";

const ALERT_COLUMNS: &str = "a.id, a.incident_id, i.condition, i.subject, a.sink, a.event, \
     a.level, a.message, a.payload, a.created_at, a.delivery_status, a.attempts, \
     a.next_attempt_at, a.delivered_at, a.last_error";

fn incident(row: &PgRow) -> Result<AlertIncidentRow, sqlx::Error> {
    Ok(AlertIncidentRow {
        id: row.try_get("id")?,
        condition: row.try_get("condition")?,
        subject: row.try_get("subject")?,
        level: row.try_get("level")?,
        peak_level: row.try_get("peak_level")?,
        summary: row.try_get("summary")?,
        opened_at: row.try_get("opened_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        last_notified_at: row.try_get("last_notified_at")?,
        resolved_at: row.try_get("resolved_at")?,
        caused_by: row.try_get("caused_by")?,
    })
}

fn alert(row: &PgRow) -> Result<AlertRow, sqlx::Error> {
    Ok(AlertRow {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        condition: row.try_get("condition")?,
        subject: row.try_get("subject")?,
        sink: row.try_get("sink")?,
        event: row.try_get("event")?,
        level: row.try_get("level")?,
        message: row.try_get("message")?,
        payload: row.try_get("payload")?,
        created_at: row.try_get("created_at")?,
        delivery_status: row.try_get("delivery_status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        delivered_at: row.try_get("delivered_at")?,
        last_error: row.try_get("last_error")?,
    })
}

impl PostgresStore {
    async fn begin_alerts(&self, what: &str) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().within(self, what).await
    }

    async fn insert_alerts(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        incident_id: i64,
        alerts: &[NewAlert],
        what: &str,
    ) -> Result<(), StoreError> {
        for a in alerts {
            sqlx::query(
                "INSERT INTO alerts (incident_id, sink, event, level, message, payload, \
                    created_at, delivery_status, next_attempt_at, last_error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(incident_id)
            .bind(&a.sink)
            .bind(&a.event)
            .bind(&a.level)
            .bind(&a.message)
            .bind(&a.payload)
            .bind(ms(a.created_at))
            .bind(&a.delivery_status)
            .bind(a.next_attempt_at.map(ms))
            .bind(a.last_error.as_deref())
            .execute(&mut **tx)
            .within(self, what)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl AlertStore for PostgresStore {
    async fn open_alert_incidents(&self) -> Result<Vec<AlertIncidentRow>, StoreError> {
        const WHAT: &str = "open_alert_incidents";
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM alert_incidents WHERE resolved_at IS NULL \
             ORDER BY opened_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?;
        rows.iter()
            .map(|r| incident(r).map_err(|e| self.error(WHAT, e)))
            .collect()
    }

    async fn recent_alert_incidents(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertIncidentRow>, StoreError> {
        const WHAT: &str = "recent_alert_incidents";
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM alert_incidents \
             WHERE opened_at >= $1 OR resolved_at >= $1 OR resolved_at IS NULL \
             ORDER BY COALESCE(resolved_at, opened_at) DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(since))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?;
        rows.iter()
            .map(|r| incident(r).map_err(|e| self.error(WHAT, e)))
            .collect()
    }

    async fn open_alert_incident(
        &self,
        new: &NewAlertIncident,
        alerts: &[NewAlert],
    ) -> Result<Option<AlertIncidentRow>, StoreError> {
        const WHAT: &str = "open_alert_incident";
        let mut tx = self.begin_alerts(WHAT).await?;
        let sql = format!(
            "INSERT INTO alert_incidents (condition, subject, level, peak_level, summary, \
                opened_at, last_seen_at, last_notified_at, caused_by) \
             VALUES ($1, $2, $3, $3, $4, $5, $5, $6, $7) \
             ON CONFLICT (condition, subject) WHERE resolved_at IS NULL DO NOTHING \
             RETURNING {INCIDENT_COLUMNS}"
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&new.condition)
            .bind(&new.subject)
            .bind(&new.level)
            .bind(&new.summary)
            .bind(ms(new.opened_at))
            .bind(new.last_notified_at.map(ms))
            .bind(&new.caused_by)
            .fetch_optional(&mut *tx)
            .within(self, WHAT)
            .await?;
        let Some(row) = inserted else {
            return Ok(None);
        };
        let row = incident(&row).map_err(|e| self.error(WHAT, e))?;
        self.insert_alerts(&mut tx, row.id, alerts, WHAT).await?;
        tx.commit().within(self, WHAT).await?;
        Ok(Some(row))
    }

    async fn update_alert_incident(
        &self,
        update: &AlertIncidentUpdate,
        alerts: &[NewAlert],
    ) -> Result<bool, StoreError> {
        const WHAT: &str = "update_alert_incident";
        let mut tx = self.begin_alerts(WHAT).await?;
        let (check, expected, notified_at) = match update.notified {
            Some((previous, now)) => (true, previous.map(ms), Some(ms(now))),
            None => (false, None, None),
        };
        let changed = sqlx::query(
            "UPDATE alert_incidents SET level = $2, peak_level = $3, summary = $4, \
                last_seen_at = $5, last_notified_at = COALESCE($6, last_notified_at), \
                caused_by = $9 \
             WHERE id = $1 AND resolved_at IS NULL \
               AND (NOT $7 OR last_notified_at IS NOT DISTINCT FROM $8)",
        )
        .bind(update.id)
        .bind(&update.level)
        .bind(&update.peak_level)
        .bind(&update.summary)
        .bind(ms(update.last_seen_at))
        .bind(notified_at)
        .bind(check)
        .bind(expected)
        .bind(&update.caused_by)
        .execute(&mut *tx)
        .within(self, WHAT)
        .await?
        .rows_affected()
            == 1;
        if !changed {
            return Ok(false);
        }
        self.insert_alerts(&mut tx, update.id, alerts, WHAT).await?;
        tx.commit().within(self, WHAT).await?;
        Ok(true)
    }

    async fn resolve_alert_incident(
        &self,
        id: i64,
        resolved_at: DateTime<Utc>,
        alerts: &[NewAlert],
    ) -> Result<bool, StoreError> {
        const WHAT: &str = "resolve_alert_incident";
        let mut tx = self.begin_alerts(WHAT).await?;
        let changed = sqlx::query(
            "UPDATE alert_incidents SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL",
        )
        .bind(id)
        .bind(ms(resolved_at))
        .execute(&mut *tx)
        .within(self, WHAT)
        .await?
        .rows_affected()
            == 1;
        if !changed {
            return Ok(false);
        }
        self.insert_alerts(&mut tx, id, alerts, WHAT).await?;
        tx.commit().within(self, WHAT).await?;
        Ok(true)
    }

    async fn alert_stamps_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertStamp>, StoreError> {
        const WHAT: &str = "alert_stamps_since";
        let rows = sqlx::query(
            "SELECT i.condition, i.subject, a.created_at, \
                bool_and(a.delivery_status = 'suppressed') AS suppressed \
             FROM alerts AS a JOIN alert_incidents AS i ON i.id = a.incident_id \
             WHERE a.created_at >= $1 \
               AND NOT (a.delivery_status = 'suppressed' \
                        AND starts_with(COALESCE(a.last_error, ''), $2)) \
             GROUP BY a.incident_id, a.event, a.created_at, i.condition, i.subject \
             ORDER BY a.created_at, a.incident_id",
        )
        .bind(ms(since))
        .bind(CAUSED_BY_PREFIX)
        .fetch_all(&self.pool)
        .within(self, WHAT)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AlertStamp {
                    condition: row.try_get("condition")?,
                    subject: row.try_get("subject")?,
                    created_at: row.try_get("created_at")?,
                    suppressed: row.try_get("suppressed")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.error(WHAT, e))
    }

    async fn claim_due_alerts(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError> {
        const WHAT: &str = "claim_due_alerts";
        let sql = format!(
            "WITH claimed AS ( \
                UPDATE alerts SET attempts = attempts + 1, next_attempt_at = $2 \
                WHERE id IN (SELECT id FROM alerts WHERE delivery_status = 'pending' \
                    AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $3 \
                    FOR UPDATE SKIP LOCKED) \
                RETURNING *) \
             SELECT {ALERT_COLUMNS} FROM claimed AS a \
             JOIN alert_incidents AS i ON i.id = a.incident_id \
             ORDER BY a.created_at, a.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(now))
            .bind(ms(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?;
        rows.iter()
            .map(|r| alert(r).map_err(|e| self.error(WHAT, e)))
            .collect()
    }

    async fn record_alert_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
    ) -> Result<(), StoreError> {
        const WHAT: &str = "record_alert_delivery";
        let (status, next, delivered, error) = match outcome {
            DeliveryOutcome::Delivered { at } => ("delivered", None, Some(ms(*at)), None),
            DeliveryOutcome::Retry {
                error,
                next_attempt_at,
            } => (
                "pending",
                Some(ms(*next_attempt_at)),
                None,
                Some(error.as_str()),
            ),
            DeliveryOutcome::Failed { error } => ("failed", None, None, Some(error.as_str())),
        };
        sqlx::query(
            "UPDATE alerts SET delivery_status = $2, next_attempt_at = $3, delivered_at = $4, \
                last_error = COALESCE($5, last_error) \
             WHERE id = $1 AND delivery_status = 'pending'",
        )
        .bind(id)
        .bind(status)
        .bind(next)
        .bind(delivered)
        .bind(error)
        .execute(&self.pool)
        .within(self, WHAT)
        .await?;
        Ok(())
    }

    async fn recent_alerts(&self, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        const WHAT: &str = "recent_alerts";
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts AS a \
             JOIN alert_incidents AS i ON i.id = a.incident_id \
             ORDER BY a.created_at DESC, a.id DESC LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?;
        rows.iter()
            .map(|r| alert(r).map_err(|e| self.error(WHAT, e)))
            .collect()
    }

    async fn purge_alerts_before(
        &self,
        cutoff: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        const WHAT: &str = "purge_alerts_before";
        let counts = sqlx::query(
            "WITH doomed AS ( \
                SELECT id FROM alert_incidents \
                WHERE resolved_at IS NOT NULL AND resolved_at < $1 \
                ORDER BY resolved_at, id LIMIT $2 FOR UPDATE SKIP LOCKED), \
             gone_alerts AS ( \
                DELETE FROM alerts WHERE incident_id IN (SELECT id FROM doomed) RETURNING 1), \
             gone_incidents AS ( \
                DELETE FROM alert_incidents WHERE id IN (SELECT id FROM doomed) RETURNING 1) \
             SELECT (SELECT count(*) FROM gone_alerts) + (SELECT count(*) FROM gone_incidents) \
                AS deleted",
        )
        .bind(ms(cutoff))
        .bind(i64::from(batch))
        .fetch_one(&self.pool)
        .within(self, WHAT)
        .await?;
        let deleted: i64 = counts.try_get("deleted").map_err(|e| self.error(WHAT, e))?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }

    async fn count_alerts_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        const WHAT: &str = "count_alerts_before";
        let count: i64 = sqlx::query_scalar(
            "WITH doomed AS ( \
                SELECT id FROM alert_incidents \
                WHERE resolved_at IS NOT NULL AND resolved_at < $1) \
             SELECT (SELECT count(*) FROM doomed) \
                  + (SELECT count(*) FROM alerts WHERE incident_id IN (SELECT id FROM doomed))",
        )
        .bind(ms(cutoff))
        .fetch_one(&self.pool)
        .within(self, WHAT)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
