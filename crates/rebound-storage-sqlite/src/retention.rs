//! [`RetentionStore`] for SQLite: purges in short `BEGIN IMMEDIATE`
//! transactions on the one writer connection (so each batch queues behind
//! the engine's group commits and they behind it, never for long), reads on
//! the reader pool, and the bulk insert of `rebound generate-history`.
//!
//! Lists of ids travel as one JSON array parameter (`json_each`), so each
//! statement has one text and is prepared once, whatever the batch size.

use crate::SqliteStore;
use crate::codec::{begin_immediate, column, encode_date, encode_time, store_error, time_column};
use crate::writer::{EncodedCall, INSERT_ATTEMPTS, INSERT_CALLS, LAST_ID, Row};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{
    DeletedCalls, ExpiredCall, KeptPayload, NewWorkflowExecution, NumberedCall, PurgeTable,
    RetentionStore, StoreError,
};
use sqlx::AssertSqlSafe;

/// Which rows of a table are "older than the cutoff" (`?1`), and the
/// order a batch takes them in. Every table here has a rowid, which
/// identifies the batch's rows.
fn expired_rule(table: PurgeTable) -> (&'static str, &'static str) {
    match table {
        PurgeTable::WorkflowExecutions => ("execution_time < ?1", "execution_time"),
        PurgeTable::WorkflowDecisions => ("decided_at < ?1", "decided_at"),
        // created_at first so the scheduled_runs_by_created index finds
        // the candidates; a run cannot finish before it was created.
        PurgeTable::ScheduledRuns => (
            "created_at < ?1 AND state IN ('done', 'abandoned') \
             AND COALESCE(finished_at, started_at, created_at) < ?1",
            "created_at",
        ),
        // Appended in time order, so the oldest ids are the oldest rows
        // and a batch stops scanning once it has its rows.
        PurgeTable::BreakerTransitions => ("at < ?1", "id"),
        PurgeTable::EntityLockouts => ("released_at IS NOT NULL AND released_at < ?1", "id"),
        PurgeTable::QuotaUsage => ("period_end < ?1", "period_end"),
    }
}

/// A JSON array of integers, for `json_each`.
fn id_array(ids: &[i64]) -> String {
    let mut text = String::with_capacity(ids.len() * 8 + 2);
    text.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&id.to_string());
    }
    text.push(']');
    text
}

const INSERT_EXECUTIONS: &str = "WITH rows (v) AS MATERIALIZED (SELECT jsonb(value) FROM json_each(?1)) \
    INSERT INTO workflow_executions (execution_id, workflow_name, target_date, \
        execution_time, finished_at, status, scrapers_requested, scrapers_succeeded, \
        scrapers_failed, scrapers_no_data, scrapers_skipped, error_message, duration_ms, params) \
    SELECT v ->> 0, v ->> 1, v ->> 2, v ->> 3, v ->> 4, v ->> 5, v ->> 6, v ->> 7, \
        v ->> 8, v ->> 9, v ->> 10, v ->> 11, v ->> 12, v ->> 13 \
    FROM rows";

fn encode_execution(e: &NewWorkflowExecution) -> String {
    let mut row = Row::with_capacity(256);
    row.str(&e.execution_id);
    row.str(&e.workflow_name);
    row.str(&encode_date(e.target_date));
    row.str(&encode_time(e.execution_time));
    row.str(&encode_time(e.finished_at));
    row.str(e.status.as_str());
    row.int(e.scrapers_requested);
    row.int(e.scrapers_succeeded);
    row.int(e.scrapers_failed);
    row.int(e.scrapers_no_data);
    row.int(e.scrapers_skipped);
    row.opt_str(e.error_message.as_deref());
    row.int(e.duration_ms);
    row.str(&e.params);
    let mut text = String::from("[");
    text.push_str(&row.tail());
    text
}

/// Rows per statement of the bulk insert: big enough that statement
/// overhead vanishes, small enough that one JSON text stays a few MB.
const BULK_ROWS: usize = 10_000;

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn expired_calls(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u32,
    ) -> Result<Vec<ExpiredCall>, StoreError> {
        const WHAT: &str = "expired_calls";
        // Row values compare (started_at, id) lexicographically; the
        // by_start index holds both (SQLite appends the rowid).
        let (after_time, after_id) = match after {
            Some((time, id)) => (Some(encode_time(time)), id),
            None => (None, 0),
        };
        let rows = sqlx::query(
            "SELECT id, started_at, scraper_name, params, output_uri, \
             (SELECT json_group_array(uri) FROM call_outputs o \
              WHERE o.execution_log_id = l.id AND o.role = 'secondary') AS documents \
             FROM scraper_execution_log l \
             WHERE started_at < ?1 AND (?2 IS NULL OR (started_at, id) > (?2, ?3)) \
             ORDER BY started_at, id LIMIT ?4",
        )
        .bind(encode_time(cutoff))
        .bind(after_time)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error(WHAT, e))?;
        rows.iter()
            .map(|row| {
                Ok(ExpiredCall {
                    id: column(row, "id")?,
                    started_at: time_column(row, "started_at")?,
                    scraper_name: column(row, "scraper_name")?,
                    params: column(row, "params")?,
                    output_uri: column(row, "output_uri")?,
                    documents: {
                        let list: String = column(row, "documents")?;
                        serde_json::from_str(&list).map_err(|e| {
                            StoreError::Query(format!("{WHAT}: documents of call: {e}"))
                        })?
                    },
                })
            })
            .collect()
    }

    async fn oldest_kept_payloads(
        &self,
        cutoff: DateTime<Utc>,
        groups: &[(String, String)],
    ) -> Result<Vec<KeptPayload>, StoreError> {
        const WHAT: &str = "oldest_kept_payloads";
        let cutoff = encode_time(cutoff);
        let mut conn = self
            .readers
            .acquire()
            .await
            .map_err(|e| store_error(WHAT, e))?;
        let mut kept = Vec::new();
        // One indexed lookup per group (scraper_execution_log_last_payload,
        // walked upwards from the group's oldest id), on one connection.
        for (scraper_name, params) in groups {
            let found: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, output_uri FROM scraper_execution_log \
                 WHERE scraper_name = ?1 AND params = ?2 AND started_at >= ?3 \
                   AND output_uri IS NOT NULL \
                 ORDER BY id LIMIT 1",
            )
            .bind(scraper_name.as_str())
            .bind(params.as_str())
            .bind(cutoff.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| store_error(WHAT, e))?;
            if let Some((id, output_uri)) = found {
                kept.push(KeptPayload {
                    scraper_name: scraper_name.clone(),
                    params: params.clone(),
                    id,
                    output_uri,
                });
            }
        }
        Ok(kept)
    }

    async fn payload_kept(
        &self,
        cutoff: DateTime<Utc>,
        scraper_name: &str,
        params: &str,
        output_uri: &str,
    ) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM scraper_execution_log \
             WHERE scraper_name = ?1 AND params = ?2 AND output_uri = ?3 AND started_at >= ?4)",
        )
        .bind(scraper_name)
        .bind(params)
        .bind(output_uri)
        .bind(encode_time(cutoff))
        .fetch_one(&self.readers)
        .await
        .map_err(|e| store_error("payload_kept", e))
    }

    async fn count_attempts(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM scraper_attempts \
             WHERE scraper_execution_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(id_array(ids))
        .fetch_one(&self.readers)
        .await
        .map_err(|e| store_error("count_attempts", e))?;
        Ok(count.max(0) as u64)
    }

    async fn delete_calls(&self, ids: &[i64]) -> Result<DeletedCalls, StoreError> {
        const WHAT: &str = "delete_calls";
        let ids = id_array(ids);
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        // Attempts first and explicitly, to count them (the cascade would
        // delete them silently).
        let attempts = sqlx::query(
            "DELETE FROM scraper_attempts \
             WHERE scraper_execution_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(ids.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?
        .rows_affected();
        let calls = sqlx::query(
            "DELETE FROM scraper_execution_log WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(ids.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?
        .rows_affected();
        tx.commit().await.map_err(|e| store_error(WHAT, e))?;
        Ok(DeletedCalls { calls, attempts })
    }

    async fn purge_table_batch(
        &self,
        table: PurgeTable,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let (expired, order) = expired_rule(table);
        let name = table.name();
        let sql = format!(
            "DELETE FROM {name} WHERE rowid IN \
             (SELECT rowid FROM {name} WHERE {expired} ORDER BY {order} LIMIT ?2)"
        );
        // One statement is one transaction; on the writer connection it
        // takes the write lock for this batch only.
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(encode_time(cutoff))
            .bind(i64::from(limit))
            .execute(&self.writer)
            .await
            .map_err(|e| store_error("purge_table_batch", e))?;
        Ok(done.rows_affected())
    }

    async fn count_expired(
        &self,
        table: PurgeTable,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (expired, _) = expired_rule(table);
        let sql = format!("SELECT COUNT(*) FROM {} WHERE {expired}", table.name());
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(encode_time(cutoff))
            .fetch_one(&self.readers)
            .await
            .map_err(|e| store_error("count_expired", e))?;
        Ok(count.max(0) as u64)
    }

    async fn has_history(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM scraper_execution_log) \
                 OR EXISTS (SELECT 1 FROM workflow_executions)",
        )
        .fetch_one(&self.readers)
        .await
        .map_err(|e| store_error("has_history", e))
    }

    async fn next_call_id(&self) -> Result<i64, StoreError> {
        let last: i64 = sqlx::query_scalar(LAST_ID)
            .fetch_one(&self.writer)
            .await
            .map_err(|e| store_error("next_call_id", e))?;
        Ok(last + 1)
    }

    async fn insert_history(
        &self,
        executions: &[NewWorkflowExecution],
        calls: &[NumberedCall],
    ) -> Result<(), StoreError> {
        const WHAT: &str = "insert_history";
        let mut tx = begin_immediate(&self.writer, WHAT).await?;
        for chunk in executions.chunks(BULK_ROWS) {
            let mut rows = String::with_capacity(chunk.len() * 256);
            rows.push('[');
            for (i, execution) in chunk.iter().enumerate() {
                if i > 0 {
                    rows.push(',');
                }
                rows.push_str(&encode_execution(execution));
            }
            rows.push(']');
            sqlx::query(INSERT_EXECUTIONS)
                .bind(rows)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
        }
        for chunk in calls.chunks(BULK_ROWS) {
            let mut call_rows = String::with_capacity(chunk.len() * 360);
            let mut attempt_rows = String::new();
            call_rows.push('[');
            attempt_rows.push('[');
            for (i, numbered) in chunk.iter().enumerate() {
                let encoded = EncodedCall::new(&numbered.call);
                if i > 0 {
                    call_rows.push(',');
                }
                call_rows.push('[');
                call_rows.push_str(&numbered.id.to_string());
                call_rows.push(',');
                call_rows.push_str(&encoded.call_tail);
                for tail in &encoded.attempt_tails {
                    if attempt_rows.len() > 1 {
                        attempt_rows.push(',');
                    }
                    attempt_rows.push('[');
                    attempt_rows.push_str(&numbered.id.to_string());
                    attempt_rows.push(',');
                    attempt_rows.push_str(tail);
                }
            }
            call_rows.push(']');
            attempt_rows.push(']');
            sqlx::query(INSERT_CALLS)
                .bind(call_rows)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
            if attempt_rows.len() > 2 {
                sqlx::query(INSERT_ATTEMPTS)
                    .bind(attempt_rows)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| store_error(WHAT, e))?;
            }
        }
        tx.commit().await.map_err(|e| store_error(WHAT, e))
    }
}
