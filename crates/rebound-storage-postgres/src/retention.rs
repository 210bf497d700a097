//! [`RetentionStore`] for PostgreSQL: each purge batch is one statement (or
//! one short transaction for calls and their attempts), so row locks are
//! held for one batch only and concurrent writers (which only insert new
//! rows) never wait on them. Lists travel as arrays (`= ANY`, `UNNEST`);
//! the bulk insert of `rebound generate-history` uses `COPY … FROM STDIN`.

use crate::Within;
use crate::{PostgresStore, ms};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_storage::{
    DeletedCalls, ExpiredCall, KeptPayload, NewWorkflowExecution, NumberedCall, PurgeTable,
    RetentionStore, StoreError,
};
use sqlx::{AssertSqlSafe, Row};
use std::fmt::Write as _;

/// Which rows of a table are "older than the cutoff" (`$1`), the order a
/// batch takes them in, and the key that names a row.
fn expired_rule(table: PurgeTable) -> (&'static str, &'static str, &'static str) {
    match table {
        PurgeTable::WorkflowExecutions => ("execution_time < $1", "execution_time", "execution_id"),
        PurgeTable::WorkflowDecisions => ("decided_at < $1", "decided_at", "decision_id"),
        // created_at first so the scheduled_runs_by_created index finds
        // the candidates; a run cannot finish before it was created.
        PurgeTable::ScheduledRuns => (
            "created_at < $1 AND state IN ('done', 'abandoned') \
             AND COALESCE(finished_at, started_at, created_at) < $1",
            "created_at",
            "run_id",
        ),
        // Appended in time order: the oldest ids are the oldest rows.
        PurgeTable::BreakerTransitions => ("at < $1", "id", "id"),
        PurgeTable::EntityLockouts => ("released_at IS NOT NULL AND released_at < $1", "id", "id"),
        PurgeTable::QuotaUsage => (
            "period_end < $1",
            "period_end",
            "(source_name, period_start)",
        ),
    }
}

/// Calls per `COPY` chunk sent to the server.
const COPY_CHUNK: usize = 20_000;

/// COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
struct CopyText(String);

impl CopyText {
    fn field_sep(&mut self, first: bool) {
        if !first {
            self.0.push('\t');
        }
    }

    fn text(&mut self, first: bool, value: &str) {
        self.field_sep(first);
        for c in value.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '\t' => self.0.push_str("\\t"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                c => self.0.push(c),
            }
        }
    }

    fn opt_text(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.text(false, v),
            None => self.0.push_str("\t\\N"),
        }
    }

    fn num(&mut self, value: impl std::fmt::Display) {
        // Writing to a String cannot fail.
        let _ = write!(self.0, "\t{value}");
    }

    fn opt_num(&mut self, value: Option<impl std::fmt::Display>) {
        match value {
            Some(v) => self.num(v),
            None => self.0.push_str("\t\\N"),
        }
    }

    fn time(&mut self, value: DateTime<Utc>) {
        let _ = write!(self.0, "\t{}", ms(value).format("%Y-%m-%d %H:%M:%S%.3f+00"));
    }

    fn end(&mut self) {
        self.0.push('\n');
    }
}

impl PostgresStore {
    async fn copy(
        &self,
        conn: &mut sqlx::PgConnection,
        statement: &str,
        data: String,
    ) -> Result<(), StoreError> {
        let mut copy = conn
            .copy_in_raw(statement)
            .within(self, "insert_history")
            .await?;
        copy.send(data.into_bytes())
            .within(self, "insert_history")
            .await?;
        copy.finish().within(self, "insert_history").await?;
        Ok(())
    }
}

#[async_trait]
impl RetentionStore for PostgresStore {
    async fn expired_calls(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u32,
    ) -> Result<Vec<ExpiredCall>, StoreError> {
        const WHAT: &str = "expired_calls";
        // Two texts rather than `$2 IS NULL OR …`, so each plan can use the
        // by_start index.
        let query = match after {
            Some((time, id)) => sqlx::query(
                "SELECT id, started_at, scraper_name, params, output_uri, \
                 ARRAY(SELECT uri FROM call_outputs o \
                       WHERE o.execution_log_id = l.id AND o.role = 'secondary') AS documents \
                 FROM scraper_execution_log l \
                 WHERE started_at < $1 AND (started_at, id) > ($2, $3) \
                 ORDER BY started_at, id LIMIT $4",
            )
            .bind(cutoff)
            .bind(time)
            .bind(id)
            .bind(i64::from(limit)),
            None => sqlx::query(
                "SELECT id, started_at, scraper_name, params, output_uri, \
                 ARRAY(SELECT uri FROM call_outputs o \
                       WHERE o.execution_log_id = l.id AND o.role = 'secondary') AS documents \
                 FROM scraper_execution_log l \
                 WHERE started_at < $1 \
                 ORDER BY started_at, id LIMIT $2",
            )
            .bind(cutoff)
            .bind(i64::from(limit)),
        };
        let rows = query.fetch_all(&self.pool).within(self, WHAT).await?;
        rows.iter()
            .map(|row| {
                Ok(ExpiredCall {
                    id: row.try_get("id")?,
                    started_at: row.try_get("started_at")?,
                    scraper_name: row.try_get("scraper_name")?,
                    params: row.try_get("params")?,
                    output_uri: row.try_get("output_uri")?,
                    documents: row.try_get("documents")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.error(WHAT, e))
    }

    async fn oldest_kept_payloads(
        &self,
        cutoff: DateTime<Utc>,
        groups: &[(String, String)],
    ) -> Result<Vec<KeptPayload>, StoreError> {
        const WHAT: &str = "oldest_kept_payloads";
        let (scrapers, params): (Vec<&str>, Vec<&str>) =
            groups.iter().map(|(s, p)| (s.as_str(), p.as_str())).unzip();
        // One round trip for the whole batch: a LATERAL lookup per group on
        // scraper_execution_log_last_payload. COLLATE "C" matches the
        // columns, so the index applies.
        let rows = sqlx::query(
            "SELECT g.scraper_name, g.params, k.id, k.output_uri \
             FROM UNNEST($1::text[], $2::text[]) AS g(scraper_name, params) \
             CROSS JOIN LATERAL ( \
                 SELECT id, output_uri FROM scraper_execution_log s \
                 WHERE s.scraper_name = g.scraper_name COLLATE \"C\" \
                   AND s.params = g.params COLLATE \"C\" \
                   AND s.started_at >= $3 AND s.output_uri IS NOT NULL \
                 ORDER BY s.id LIMIT 1) k",
        )
        .bind(&scrapers)
        .bind(&params)
        .bind(cutoff)
        .fetch_all(&self.pool)
        .within(self, WHAT)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KeptPayload {
                    scraper_name: row.try_get("scraper_name")?,
                    params: row.try_get("params")?,
                    id: row.try_get("id")?,
                    output_uri: row.try_get("output_uri")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.error(WHAT, e))
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
             WHERE scraper_name = $1 AND params = $2 AND output_uri = $3 AND started_at >= $4)",
        )
        .bind(scraper_name)
        .bind(params)
        .bind(output_uri)
        .bind(cutoff)
        .fetch_one(&self.pool)
        .within(self, "payload_kept")
        .await
    }

    async fn count_attempts(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM scraper_attempts WHERE scraper_execution_id = ANY($1)",
        )
        .bind(ids)
        .fetch_one(&self.pool)
        .within(self, "count_attempts")
        .await?;
        Ok(count.max(0) as u64)
    }

    async fn delete_calls(&self, ids: &[i64]) -> Result<DeletedCalls, StoreError> {
        const WHAT: &str = "delete_calls";
        let mut tx = self.pool.begin().within(self, WHAT).await?;
        // Attempts first and explicitly, to count them.
        let attempts =
            sqlx::query("DELETE FROM scraper_attempts WHERE scraper_execution_id = ANY($1)")
                .bind(ids)
                .execute(&mut *tx)
                .within(self, WHAT)
                .await?
                .rows_affected();
        let calls = sqlx::query("DELETE FROM scraper_execution_log WHERE id = ANY($1)")
            .bind(ids)
            .execute(&mut *tx)
            .within(self, WHAT)
            .await?
            .rows_affected();
        tx.commit().within(self, WHAT).await?;
        Ok(DeletedCalls { calls, attempts })
    }

    async fn purge_table_batch(
        &self,
        table: PurgeTable,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let (expired, order, key) = expired_rule(table);
        let name = table.name();
        // A composite key is a row value on the left, a column list inside.
        let columns = key.trim_start_matches('(').trim_end_matches(')');
        let sql = format!(
            "DELETE FROM {name} WHERE {key} IN \
             (SELECT {columns} FROM {name} WHERE {expired} ORDER BY {order} LIMIT $2)"
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(cutoff)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .within(self, "purge_table_batch")
            .await?;
        Ok(done.rows_affected())
    }

    async fn count_expired(
        &self,
        table: PurgeTable,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (expired, _, _) = expired_rule(table);
        let sql = format!("SELECT COUNT(*) FROM {} WHERE {expired}", table.name());
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(cutoff)
            .fetch_one(&self.pool)
            .within(self, "count_expired")
            .await?;
        Ok(count.max(0) as u64)
    }

    async fn has_history(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM scraper_execution_log) \
                 OR EXISTS (SELECT 1 FROM workflow_executions)",
        )
        .fetch_one(&self.pool)
        .within(self, "has_history")
        .await
    }

    async fn next_call_id(&self) -> Result<i64, StoreError> {
        // Above both the sequence (which remembers deleted ids) and the
        // stored rows.
        sqlx::query_scalar(
            "SELECT GREATEST( \
                 (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END \
                  FROM scraper_execution_log_id_seq), \
                 COALESCE((SELECT MAX(id) FROM scraper_execution_log), 0)) + 1",
        )
        .fetch_one(&self.pool)
        .within(self, "next_call_id")
        .await
    }

    async fn insert_history(
        &self,
        executions: &[NewWorkflowExecution],
        calls: &[NumberedCall],
    ) -> Result<(), StoreError> {
        const WHAT: &str = "insert_history";
        let mut tx = self.pool.begin().within(self, WHAT).await?;
        for chunk in executions.chunks(COPY_CHUNK) {
            let mut out = CopyText(String::with_capacity(chunk.len() * 200));
            for e in chunk {
                out.text(true, &e.execution_id);
                out.text(false, &e.workflow_name);
                out.num(e.target_date.format("%Y-%m-%d"));
                out.time(e.execution_time);
                out.time(e.finished_at);
                out.text(false, e.status.as_str());
                out.num(e.scrapers_requested);
                out.num(e.scrapers_succeeded);
                out.num(e.scrapers_failed);
                out.num(e.scrapers_no_data);
                out.num(e.scrapers_skipped);
                out.opt_text(e.error_message.as_deref());
                out.num(e.duration_ms);
                out.text(false, &e.params);
                out.end();
            }
            self.copy(
                &mut tx,
                "COPY workflow_executions (execution_id, workflow_name, target_date, \
                 execution_time, finished_at, status, scrapers_requested, scrapers_succeeded, \
                 scrapers_failed, scrapers_no_data, scrapers_skipped, error_message, \
                 duration_ms, params) FROM STDIN",
                out.0,
            )
            .await?;
        }
        for chunk in calls.chunks(COPY_CHUNK) {
            let mut out = CopyText(String::with_capacity(chunk.len() * 300));
            let mut attempts = CopyText(String::new());
            for numbered in chunk {
                let c = &numbered.call;
                let _ = write!(out.0, "{}", numbered.id);
                out.opt_text(c.execution_id.as_deref());
                out.opt_text(c.workflow_name.as_deref());
                out.text(false, &c.scraper_name);
                out.text(false, &c.source_name);
                out.text(false, &c.params);
                out.num(c.target_date.format("%Y-%m-%d"));
                out.text(false, c.status.as_str());
                out.num(c.attempts);
                out.opt_num(c.http_status);
                out.opt_text(c.error_kind.map(|k| k.as_str()));
                out.opt_text(c.error_message.as_deref());
                out.time(c.started_at);
                out.time(c.finished_at);
                out.num(c.duration_ms);
                out.opt_num(c.bytes);
                out.opt_text(c.output_uri.as_deref());
                out.opt_text(c.content_hash.as_deref());
                out.text(false, if c.unchanged { "t" } else { "f" });
                out.opt_num(c.pages);
                out.opt_num(c.record_count);
                out.end();
                for a in &c.attempt_rows {
                    let _ = write!(attempts.0, "{}", numbered.id);
                    attempts.num(a.attempt);
                    attempts.time(a.started_at);
                    attempts.time(a.finished_at);
                    attempts.opt_num(a.http_status);
                    attempts.text(false, a.outcome.as_str());
                    attempts.opt_text(a.error_kind.map(|k| k.as_str()));
                    attempts.opt_text(a.error_message.as_deref());
                    attempts.num(a.delay_before_ms);
                    attempts.num(a.page);
                    attempts.opt_num(a.proxy);
                    attempts.end();
                }
            }
            self.copy(
                &mut tx,
                "COPY scraper_execution_log (id, execution_id, workflow_name, scraper_name, \
                 source_name, params, target_date, status, attempts, http_status, error_kind, \
                 error_message, started_at, finished_at, duration_ms, bytes, output_uri, \
                 content_hash, unchanged, pages, record_count) FROM STDIN",
                out.0,
            )
            .await?;
            if !attempts.0.is_empty() {
                self.copy(
                    &mut tx,
                    "COPY scraper_attempts (scraper_execution_id, attempt, started_at, \
                     finished_at, http_status, outcome, error_kind, error_message, \
                     delay_before_ms, page, proxy) FROM STDIN",
                    attempts.0,
                )
                .await?;
            }
        }
        // Explicit ids do not move the sequence; the engine's next call
        // must still get a fresh id.
        sqlx::query(
            "SELECT setval('scraper_execution_log_id_seq', \
                 GREATEST((SELECT MAX(id) FROM scraper_execution_log), 1))",
        )
        .execute(&mut *tx)
        .within(self, WHAT)
        .await?;
        tx.commit().within(self, WHAT).await
    }
}
