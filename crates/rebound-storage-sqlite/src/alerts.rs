//! `alert_incidents` and `alerts` (migration 0007). Writes go through the
//! one writer connection in short `BEGIN IMMEDIATE` transactions, so an
//! incident change and its notification rows land together or not at all.

use crate::SqliteStore;
use crate::codec::{
    begin_immediate, column, encode_time, opt_time_column, store_error, time_column,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{
    AlertIncidentRow, AlertIncidentUpdate, AlertRow, AlertStamp, AlertStore, CAUSED_BY_PREFIX,
    DeliveryOutcome, NewAlert, NewAlertIncident, StoreError,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};

const INCIDENT_COLUMNS: &str = "id, condition, subject, level, peak_level, summary, opened_at, \
     last_seen_at, last_notified_at, resolved_at, caused_by";

const ALERT_COLUMNS: &str = "a.id, a.incident_id, i.condition, i.subject, a.sink, a.event, \
     a.level, a.message, a.payload, a.created_at, a.delivery_status, a.attempts, \
     a.next_attempt_at, a.delivered_at, a.last_error";

fn incident(row: &SqliteRow) -> Result<AlertIncidentRow, StoreError> {
    Ok(AlertIncidentRow {
        id: column(row, "id")?,
        condition: column(row, "condition")?,
        subject: column(row, "subject")?,
        level: column(row, "level")?,
        peak_level: column(row, "peak_level")?,
        summary: column(row, "summary")?,
        opened_at: time_column(row, "opened_at")?,
        last_seen_at: time_column(row, "last_seen_at")?,
        last_notified_at: opt_time_column(row, "last_notified_at")?,
        resolved_at: opt_time_column(row, "resolved_at")?,
        caused_by: column(row, "caused_by")?,
    })
}

fn alert(row: &SqliteRow) -> Result<AlertRow, StoreError> {
    Ok(AlertRow {
        id: column(row, "id")?,
        incident_id: column(row, "incident_id")?,
        condition: column(row, "condition")?,
        subject: column(row, "subject")?,
        sink: column(row, "sink")?,
        event: column(row, "event")?,
        level: column(row, "level")?,
        message: column(row, "message")?,
        payload: column(row, "payload")?,
        created_at: time_column(row, "created_at")?,
        delivery_status: column(row, "delivery_status")?,
        attempts: column(row, "attempts")?,
        next_attempt_at: opt_time_column(row, "next_attempt_at")?,
        delivered_at: opt_time_column(row, "delivered_at")?,
        last_error: column(row, "last_error")?,
    })
}

async fn insert_alerts(
    tx: &mut Transaction<'static, Sqlite>,
    incident_id: i64,
    alerts: &[NewAlert],
    what: &'static str,
) -> Result<(), StoreError> {
    for a in alerts {
        sqlx::query(
            "INSERT INTO alerts (incident_id, sink, event, level, message, payload, created_at, \
                delivery_status, next_attempt_at, last_error) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(incident_id)
        .bind(&a.sink)
        .bind(&a.event)
        .bind(&a.level)
        .bind(&a.message)
        .bind(&a.payload)
        .bind(encode_time(a.created_at))
        .bind(&a.delivery_status)
        .bind(a.next_attempt_at.map(encode_time))
        .bind(a.last_error.as_deref())
        .execute(&mut **tx)
        .await
        .map_err(|e| store_error(what, e))?;
    }
    Ok(())
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn open_alert_incidents(&self) -> Result<Vec<AlertIncidentRow>, StoreError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM alert_incidents WHERE resolved_at IS NULL \
             ORDER BY opened_at, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("open_alert_incidents", e))?
            .iter()
            .map(incident)
            .collect()
    }

    async fn recent_alert_incidents(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertIncidentRow>, StoreError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM alert_incidents \
             WHERE opened_at >= ?1 OR resolved_at >= ?1 OR resolved_at IS NULL \
             ORDER BY COALESCE(resolved_at, opened_at) DESC, id DESC LIMIT ?2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(encode_time(since))
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("recent_alert_incidents", e))?
            .iter()
            .map(incident)
            .collect()
    }

    async fn open_alert_incident(
        &self,
        new: &NewAlertIncident,
        alerts: &[NewAlert],
    ) -> Result<Option<AlertIncidentRow>, StoreError> {
        const WHAT: &str = "open_alert_incident";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        let sql = format!(
            "INSERT INTO alert_incidents (condition, subject, level, peak_level, summary, \
                opened_at, last_seen_at, last_notified_at, caused_by) \
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?5, ?6, ?7) ON CONFLICT DO NOTHING \
             RETURNING {INCIDENT_COLUMNS}"
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&new.condition)
            .bind(&new.subject)
            .bind(&new.level)
            .bind(&new.summary)
            .bind(encode_time(new.opened_at))
            .bind(new.last_notified_at.map(encode_time))
            .bind(&new.caused_by)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| store_error(WHAT, e))?;
        let Some(row) = inserted else {
            return Ok(None);
        };
        let row = incident(&row)?;
        insert_alerts(&mut tx, row.id, alerts, WHAT).await?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(Some(row))
    }

    async fn update_alert_incident(
        &self,
        update: &AlertIncidentUpdate,
        alerts: &[NewAlert],
    ) -> Result<bool, StoreError> {
        const WHAT: &str = "update_alert_incident";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        let (check, expected, notified_at) = match update.notified {
            Some((previous, now)) => (1_i64, previous.map(encode_time), Some(encode_time(now))),
            None => (0, None, None),
        };
        let changed = sqlx::query(
            "UPDATE alert_incidents SET level = ?2, peak_level = ?3, summary = ?4, \
                last_seen_at = ?5, last_notified_at = COALESCE(?6, last_notified_at), \
                caused_by = ?9 \
             WHERE id = ?1 AND resolved_at IS NULL \
               AND (?7 = 0 OR last_notified_at IS ?8)",
        )
        .bind(update.id)
        .bind(&update.level)
        .bind(&update.peak_level)
        .bind(&update.summary)
        .bind(encode_time(update.last_seen_at))
        .bind(notified_at)
        .bind(check)
        .bind(expected)
        .bind(&update.caused_by)
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?
        .rows_affected()
            == 1;
        if !changed {
            return Ok(false);
        }
        insert_alerts(&mut tx, update.id, alerts, WHAT).await?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(true)
    }

    async fn resolve_alert_incident(
        &self,
        id: i64,
        resolved_at: DateTime<Utc>,
        alerts: &[NewAlert],
    ) -> Result<bool, StoreError> {
        const WHAT: &str = "resolve_alert_incident";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        let changed = sqlx::query(
            "UPDATE alert_incidents SET resolved_at = ?2 WHERE id = ?1 AND resolved_at IS NULL",
        )
        .bind(id)
        .bind(encode_time(resolved_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?
        .rows_affected()
            == 1;
        if !changed {
            return Ok(false);
        }
        insert_alerts(&mut tx, id, alerts, WHAT).await?;
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(true)
    }

    async fn alert_stamps_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertStamp>, StoreError> {
        const WHAT: &str = "alert_stamps_since";
        let rows = sqlx::query(
            "SELECT i.condition, i.subject, a.created_at, \
                MIN(a.delivery_status = 'suppressed') AS suppressed \
             FROM alerts AS a JOIN alert_incidents AS i ON i.id = a.incident_id \
             WHERE a.created_at >= ?1 \
               AND NOT (a.delivery_status = 'suppressed' \
                        AND substr(COALESCE(a.last_error, ''), 1, length(?2)) = ?2) \
             GROUP BY a.incident_id, a.event, a.created_at, i.condition, i.subject \
             ORDER BY a.created_at, a.incident_id",
        )
        .bind(encode_time(since))
        .bind(CAUSED_BY_PREFIX)
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        rows.iter()
            .map(|row| {
                Ok(AlertStamp {
                    condition: column(row, "condition")?,
                    subject: column(row, "subject")?,
                    created_at: time_column(row, "created_at")?,
                    suppressed: column::<i64>(row, "suppressed")? == 1,
                })
            })
            .collect()
    }

    async fn claim_due_alerts(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError> {
        const WHAT: &str = "claim_due_alerts";
        // Every alert round asks, and nearly every time nothing is due: one
        // read on a reader connection instead of a write transaction that
        // would queue behind every other writer. An alert that comes due
        // just after it is claimed by the next round.
        let due: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM alerts \
             WHERE delivery_status = 'pending' AND next_attempt_at <= ?1)",
        )
        .bind(encode_time(now))
        .fetch_one(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        if !due {
            return Ok(Vec::new());
        }
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE alerts SET attempts = attempts + 1, next_attempt_at = ?2 \
             WHERE id IN (SELECT id FROM alerts WHERE delivery_status = 'pending' \
                AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?3) \
             RETURNING id",
        )
        .bind(encode_time(now))
        .bind(encode_time(lease_until))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let mut claimed = Vec::with_capacity(ids.len());
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts AS a \
             JOIN alert_incidents AS i ON i.id = a.incident_id WHERE a.id = ?1"
        );
        for id in ids {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
            claimed.push(alert(&row)?);
        }
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        claimed.sort_by_key(|a| (a.created_at, a.id));
        Ok(claimed)
    }

    async fn record_alert_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
    ) -> Result<(), StoreError> {
        const WHAT: &str = "record_alert_delivery";
        let (status, next, delivered, error) = match outcome {
            DeliveryOutcome::Delivered { at } => ("delivered", None, Some(encode_time(*at)), None),
            DeliveryOutcome::Retry {
                error,
                next_attempt_at,
            } => (
                "pending",
                Some(encode_time(*next_attempt_at)),
                None,
                Some(error.as_str()),
            ),
            DeliveryOutcome::Failed { error } => ("failed", None, None, Some(error.as_str())),
        };
        sqlx::query(
            "UPDATE alerts SET delivery_status = ?2, next_attempt_at = ?3, delivered_at = ?4, \
                last_error = COALESCE(?5, last_error) \
             WHERE id = ?1 AND delivery_status = 'pending'",
        )
        .bind(id)
        .bind(status)
        .bind(next)
        .bind(delivered)
        .bind(error)
        .execute(&self.writer)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        Ok(())
    }

    async fn recent_alerts(&self, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts AS a \
             JOIN alert_incidents AS i ON i.id = a.incident_id \
             ORDER BY a.created_at DESC, a.id DESC LIMIT ?1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("recent_alerts", e))?
            .iter()
            .map(alert)
            .collect()
    }

    async fn purge_alerts_before(
        &self,
        cutoff: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        const WHAT: &str = "purge_alerts_before";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM alert_incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1 \
             ORDER BY resolved_at, id LIMIT ?2",
        )
        .bind(encode_time(cutoff))
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        let mut deleted = 0;
        for id in ids {
            // Notifications first, explicitly: the count is part of the answer.
            deleted += sqlx::query("DELETE FROM alerts WHERE incident_id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?
                .rows_affected();
            deleted += sqlx::query("DELETE FROM alert_incidents WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?
                .rows_affected();
        }
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(deleted)
    }

    async fn count_alerts_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        const WHAT: &str = "count_alerts_before";
        let count: i64 = sqlx::query_scalar(
            "WITH doomed AS ( \
                SELECT id FROM alert_incidents \
                WHERE resolved_at IS NOT NULL AND resolved_at < ?1) \
             SELECT (SELECT COUNT(*) FROM doomed) \
                  + (SELECT COUNT(*) FROM alerts WHERE incident_id IN (SELECT id FROM doomed))",
        )
        .bind(encode_time(cutoff))
        .fetch_one(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
