//! The health report's reads (`HealthStore`, indexes of migration 0006).
//!
//! Same queries as the SQLite backend, in PostgreSQL's dialect; per-name
//! lookups repeat the WHERE term of their partial index so the planner can
//! prove it applies.

use crate::Within;
use crate::{PostgresStore, ms};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::outcome::ErrorKind;
use rebound_domain::proxy::ProxyExchange;
use rebound_storage::{
    CallCountRow, ErrorCoverageRow, HealthStore, RetryStatsRow, ScraperLast, SourceLast,
    StoreError, WorkflowDayRow, WorkflowStreak, exchanges_by_proxy,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn get<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Query(format!("reading column {name}: {e}")))
}

#[async_trait]
impl HealthStore for PostgresStore {
    async fn call_counts(&self, since: DateTime<Utc>) -> Result<Vec<CallCountRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT scraper_name, source_name, status, COUNT(*) AS calls, \
                    COUNT(*) FILTER (WHERE attempts > 0) AS requested, \
                    COUNT(*) FILTER (WHERE ",
            rebound_storage::deferred_call_sql!(),
            ") AS deferred, \
                    COALESCE(SUM(attempts), 0)::bigint AS attempts, \
                    COUNT(*) FILTER (WHERE attempts > COALESCE(pages, 1)) AS retried \
             FROM scraper_execution_log WHERE started_at >= $1 \
             GROUP BY scraper_name, source_name, status \
             ORDER BY scraper_name, source_name COLLATE \"C\", status COLLATE \"C\""
        ))
        .bind(ms(since))
        .fetch_all(&self.pool)
        .within(self, "call_counts")
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CallCountRow {
                    scraper_name: get(row, "scraper_name")?,
                    source_name: get(row, "source_name")?,
                    status: get(row, "status")?,
                    calls: get(row, "calls")?,
                    requested: get(row, "requested")?,
                    deferred: get(row, "deferred")?,
                    attempts: get(row, "attempts")?,
                    retried: get(row, "retried")?,
                })
            })
            .collect()
    }

    async fn distinct_params(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT scraper_name, COUNT(DISTINCT params) AS n \
             FROM scraper_execution_log WHERE started_at >= $1 \
             GROUP BY scraper_name ORDER BY scraper_name",
        )
        .bind(ms(since))
        .fetch_all(&self.pool)
        .within(self, "distinct_params")
        .await?;
        rows.iter()
            .map(|row| Ok((get(row, "scraper_name")?, get(row, "n")?)))
            .collect()
    }

    async fn scraper_last(&self, scraper_name: &str) -> Result<ScraperLast, StoreError> {
        let what = "scraper_last";
        // Newest by finish time, ties by id (see migration 0011): ids
        // follow the order calls were recorded, not the order they ended.
        let last_success_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT finished_at FROM scraper_execution_log \
             WHERE scraper_name = $1 AND status = 'success' \
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(scraper_name)
        .fetch_optional(&self.pool)
        .within(self, what)
        .await?;
        let error = sqlx::query(concat!(
            "SELECT finished_at, error_message FROM scraper_execution_log \
             WHERE scraper_name = $1 AND status IN ('failed', 'overdue') \
               AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
             ORDER BY finished_at DESC, id DESC LIMIT 1"
        ))
        .bind(scraper_name)
        .fetch_optional(&self.pool)
        .within(self, what)
        .await?;
        // The streak: failed/overdue calls that finished strictly after the
        // newest call that ended any other way (skipped ones, and calls
        // deferred before their request by the source's limits, neither
        // count nor break it): two seeks and one range on the failed index.
        let streak = sqlx::query(concat!(
            "SELECT \
               (SELECT started_at FROM scraper_execution_log WHERE scraper_name = $1 \
                  AND attempts > 0 ORDER BY id DESC LIMIT 1) AS last_call_at, \
               (SELECT COUNT(*) FROM scraper_execution_log \
                  WHERE scraper_name = $1 AND status IN ('failed', 'overdue') \
                    AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
                    AND finished_at > COALESCE(GREATEST( \
                      (SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = $1 AND status = 'success' \
                        ORDER BY finished_at DESC LIMIT 1), \
                      (SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = $1 AND status IN ('no_data', 'not_yet_available') \
                        ORDER BY finished_at DESC LIMIT 1)), \
                      '-infinity'::timestamptz)) AS streak"
        ))
        .bind(scraper_name)
        .fetch_one(&self.pool)
        .within(self, what)
        .await?;
        let (last_error_at, last_error) = match &error {
            Some(row) => (Some(get(row, "finished_at")?), get(row, "error_message")?),
            None => (None, None),
        };
        Ok(ScraperLast {
            last_success_at,
            last_error_at,
            last_error,
            consecutive_failures: get(&streak, "streak")?,
            last_call_at: get(&streak, "last_call_at")?,
        })
    }

    async fn source_last(&self, source_name: &str) -> Result<SourceLast, StoreError> {
        let what = "source_last";
        // Finish times throughout, so what the report says holds against
        // the table: failing since T means no answer finished at or after T.
        let last_answer_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT finished_at FROM scraper_execution_log \
             WHERE source_name = $1 \
               AND status IN ('success', 'no_data', 'not_yet_available', 'overdue') \
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(source_name)
        .fetch_optional(&self.pool)
        .within(self, what)
        .await?;
        let error = sqlx::query(
            "SELECT finished_at, error_message FROM scraper_execution_log \
             WHERE source_name = $1 AND status = 'failed' \
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(source_name)
        .fetch_optional(&self.pool)
        .within(self, what)
        .await?;
        let mut last = SourceLast {
            last_answer_at,
            ..SourceLast::default()
        };
        if let Some(row) = &error {
            let error_at: DateTime<Utc> = get(row, "finished_at")?;
            last.last_error_at = Some(error_at);
            last.last_error = get(row, "error_message")?;
            if last_answer_at.is_none_or(|answer| error_at > answer) {
                // Strictly after the newest answer: a failure that finished
                // at the same instant is not "since" it.
                last.failing_since = sqlx::query_scalar(
                    "SELECT finished_at FROM scraper_execution_log \
                     WHERE source_name = $1 AND status = 'failed' \
                       AND finished_at > COALESCE($2, '-infinity'::timestamptz) \
                     ORDER BY finished_at, id LIMIT 1",
                )
                .bind(source_name)
                .bind(last_answer_at)
                .fetch_optional(&self.pool)
                .within(self, what)
                .await?;
            }
        }
        Ok(last)
    }

    async fn first_calls_at(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<Option<DateTime<Utc>>>, StoreError> {
        // One seek per name on (scraper_name, started_at, id).
        let rows: Vec<Option<DateTime<Utc>>> = sqlx::query_scalar(
            "SELECT (SELECT started_at FROM scraper_execution_log \
                       WHERE scraper_name = s.name ORDER BY started_at LIMIT 1) \
             FROM unnest($1::text[]) WITH ORDINALITY AS s(name, k) ORDER BY s.k",
        )
        .bind(scraper_names)
        .fetch_all(&self.pool)
        .within(self, "first_calls_at")
        .await?;
        Ok(rows)
    }

    async fn last_fresh_payload(
        &self,
        scraper_name: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let what = "last_fresh_payload";
        // As in the SQLite backend: newest candidate first, passing over one
        // whose content equals the scraper's previous non-empty payload.
        let mut before = i64::MAX;
        loop {
            let Some(candidate) = sqlx::query(
                "SELECT id, finished_at, content_hash FROM scraper_execution_log \
                 WHERE scraper_name = $1 AND status = 'success' AND NOT unchanged AND bytes > 0 \
                   AND id < $2 \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(scraper_name)
            .bind(before)
            .fetch_optional(&self.pool)
            .within(self, what)
            .await?
            else {
                return Ok(None);
            };
            let id: i64 = get(&candidate, "id")?;
            let hash: Option<String> = get(&candidate, "content_hash")?;
            let previous: Option<Option<String>> = sqlx::query_scalar(
                "SELECT content_hash FROM scraper_execution_log \
                 WHERE scraper_name = $1 AND status = 'success' AND bytes > 0 AND id < $2 \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(scraper_name)
            .bind(id)
            .fetch_optional(&self.pool)
            .within(self, what)
            .await?;
            if hash.is_none() || previous.flatten() != hash {
                return Ok(Some(get(&candidate, "finished_at")?));
            }
            before = id;
        }
    }

    async fn workflow_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<WorkflowDayRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT workflow_name, target_date, COUNT(*) AS runs, \
                    COUNT(*) FILTER (WHERE status = 'failed') AS failed, \
                    COUNT(*) FILTER (WHERE status = 'partial') AS partial \
             FROM workflow_executions WHERE target_date BETWEEN $1 AND $2 \
             GROUP BY workflow_name, target_date ORDER BY workflow_name, target_date",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .within(self, "workflow_days")
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WorkflowDayRow {
                    workflow_name: get(row, "workflow_name")?,
                    target_date: get(row, "target_date")?,
                    runs: get(row, "runs")?,
                    failed: get(row, "failed")?,
                    partial: get(row, "partial")?,
                })
            })
            .collect()
    }

    async fn workflow_streak(&self, workflow_name: &str) -> Result<WorkflowStreak, StoreError> {
        let what = "workflow_streak";
        let newest = sqlx::query(
            // Of runs started at the same instant, one that did not fail
            // counts as the newest: the streak below is of runs started
            // strictly after the newest good one, and the two must agree.
            "SELECT status, execution_time, error_message FROM workflow_executions \
             WHERE workflow_name = $1 AND status <> 'running' \
             ORDER BY execution_time DESC, status IN ('failed', 'partial'), execution_id DESC \
             LIMIT 1",
        )
        .bind(workflow_name)
        .fetch_optional(&self.pool)
        .within(self, what)
        .await?;
        let Some(newest) = newest else {
            return Ok(WorkflowStreak::default());
        };
        let streak = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(execution_time) AS since FROM workflow_executions \
             WHERE workflow_name = $1 AND status IN ('failed', 'partial') \
               AND execution_time > COALESCE((SELECT execution_time FROM workflow_executions \
                   WHERE workflow_name = $1 AND status NOT IN ('failed', 'partial', 'running') \
                   ORDER BY execution_time DESC LIMIT 1), '-infinity'::timestamptz)",
        )
        .bind(workflow_name)
        .fetch_one(&self.pool)
        .within(self, what)
        .await?;
        let consecutive_failed: i64 = get(&streak, "n")?;
        Ok(WorkflowStreak {
            last_status: Some(get(&newest, "status")?),
            last_run_at: Some(get(&newest, "execution_time")?),
            last_error: get(&newest, "error_message")?,
            consecutive_failed,
            failing_since: if consecutive_failed > 0 {
                get(&streak, "since")?
            } else {
                None
            },
        })
    }

    async fn scrapers_last(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<ScraperLast>, StoreError> {
        // scraper_last's statements as correlated subqueries, one row per
        // name: the same index seeks, one round trip.
        let rows = sqlx::query(concat!(
            "SELECT \
               (SELECT finished_at FROM scraper_execution_log \
                  WHERE scraper_name = s.name AND status = 'success' \
                  ORDER BY finished_at DESC, id DESC LIMIT 1) AS last_success_at, \
               e.finished_at AS last_error_at, e.error_message AS last_error, \
               (SELECT started_at FROM scraper_execution_log WHERE scraper_name = s.name \
                  AND attempts > 0 ORDER BY id DESC LIMIT 1) AS last_call_at, \
               (SELECT COUNT(*) FROM scraper_execution_log \
                  WHERE scraper_name = s.name AND status IN ('failed', 'overdue') \
                    AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
                    AND finished_at > COALESCE(GREATEST( \
                      (SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = s.name AND status = 'success' \
                        ORDER BY finished_at DESC LIMIT 1), \
                      (SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = s.name \
                          AND status IN ('no_data', 'not_yet_available') \
                        ORDER BY finished_at DESC LIMIT 1)), \
                      '-infinity'::timestamptz)) AS streak \
             FROM unnest($1::text[]) WITH ORDINALITY AS s(name, k) \
             LEFT JOIN LATERAL ( \
               SELECT finished_at, error_message FROM scraper_execution_log \
               WHERE scraper_name = s.name AND status IN ('failed', 'overdue') \
                 AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
               ORDER BY finished_at DESC, id DESC LIMIT 1) AS e ON true \
             ORDER BY s.k"
        ))
        .bind(scraper_names)
        .fetch_all(&self.pool)
        .within(self, "scrapers_last")
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ScraperLast {
                    last_success_at: get(row, "last_success_at")?,
                    last_error_at: get(row, "last_error_at")?,
                    last_error: get(row, "last_error")?,
                    consecutive_failures: get(row, "streak")?,
                    last_call_at: get(row, "last_call_at")?,
                })
            })
            .collect()
    }

    async fn sources_last(&self, source_names: &[String]) -> Result<Vec<SourceLast>, StoreError> {
        // source_last's statements, one row per name.
        let rows = sqlx::query(
            "SELECT a.answer AS last_answer_at, e.finished_at AS last_error_at, \
                    e.error_message AS last_error, \
                    CASE WHEN e.finished_at IS NOT NULL \
                              AND (a.answer IS NULL OR e.finished_at > a.answer) \
                    THEN (SELECT finished_at FROM scraper_execution_log \
                            WHERE source_name = s.name AND status = 'failed' \
                              AND finished_at > COALESCE(a.answer, '-infinity'::timestamptz) \
                            ORDER BY finished_at, id LIMIT 1) END AS failing_since \
             FROM unnest($1::text[]) WITH ORDINALITY AS s(name, k) \
             CROSS JOIN LATERAL (SELECT \
               (SELECT finished_at FROM scraper_execution_log \
                  WHERE source_name = s.name \
                    AND status IN ('success', 'no_data', 'not_yet_available', 'overdue') \
                  ORDER BY finished_at DESC, id DESC LIMIT 1) AS answer) AS a \
             LEFT JOIN LATERAL ( \
               SELECT finished_at, error_message FROM scraper_execution_log \
               WHERE source_name = s.name AND status = 'failed' \
               ORDER BY finished_at DESC, id DESC LIMIT 1) AS e ON true \
             ORDER BY s.k",
        )
        .bind(source_names)
        .fetch_all(&self.pool)
        .within(self, "sources_last")
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SourceLast {
                    last_answer_at: get(row, "last_answer_at")?,
                    last_error_at: get(row, "last_error_at")?,
                    last_error: get(row, "last_error")?,
                    failing_since: get(row, "failing_since")?,
                })
            })
            .collect()
    }

    async fn workflow_streaks(
        &self,
        workflow_names: &[String],
    ) -> Result<Vec<WorkflowStreak>, StoreError> {
        // workflow_streak's two statements, one row per name.
        let rows = sqlx::query(
            "SELECT n.status, n.execution_time, n.error_message, f.n, f.since \
             FROM unnest($1::text[]) WITH ORDINALITY AS s(name, k) \
             LEFT JOIN LATERAL ( \
               SELECT status, execution_time, error_message FROM workflow_executions \
               WHERE workflow_name = s.name AND status <> 'running' \
               ORDER BY execution_time DESC, status IN ('failed', 'partial'), execution_id DESC \
               LIMIT 1) AS n ON true \
             CROSS JOIN LATERAL ( \
               SELECT COUNT(*) AS n, MIN(execution_time) AS since FROM workflow_executions \
               WHERE workflow_name = s.name AND status IN ('failed', 'partial') \
                 AND execution_time > COALESCE((SELECT execution_time FROM workflow_executions \
                     WHERE workflow_name = s.name \
                       AND status NOT IN ('failed', 'partial', 'running') \
                     ORDER BY execution_time DESC LIMIT 1), '-infinity'::timestamptz)) AS f \
             ORDER BY s.k",
        )
        .bind(workflow_names)
        .fetch_all(&self.pool)
        .within(self, "workflow_streaks")
        .await?;
        rows.iter()
            .map(|row| {
                let status: Option<String> = get(row, "status")?;
                if status.is_none() {
                    return Ok(WorkflowStreak::default());
                }
                let consecutive_failed: i64 = get(row, "n")?;
                Ok(WorkflowStreak {
                    last_status: status,
                    last_run_at: get(row, "execution_time")?,
                    last_error: get(row, "error_message")?,
                    consecutive_failed,
                    failing_since: if consecutive_failed > 0 {
                        get(row, "since")?
                    } else {
                        None
                    },
                })
            })
            .collect()
    }

    async fn error_coverage(&self, since: DateTime<Utc>) -> Result<ErrorCoverageRow, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, \
                    COUNT(*) FILTER (WHERE btrim(COALESCE(error_message, '')) <> '') \
                      AS with_message \
             FROM workflow_executions \
             WHERE execution_time >= $1 AND status IN ('failed', 'partial')",
        )
        .bind(ms(since))
        .fetch_one(&self.pool)
        .within(self, "error_coverage")
        .await?;
        Ok(ErrorCoverageRow {
            failed_or_partial: get(&row, "n")?,
            with_message: get(&row, "with_message")?,
        })
    }

    async fn retry_stats(&self, since: DateTime<Utc>) -> Result<RetryStatsRow, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS calls, COALESCE(SUM(attempts), 0)::bigint AS attempts, \
                    COUNT(*) FILTER (WHERE attempts > COALESCE(pages, 1)) AS retried, \
                    COUNT(*) FILTER (WHERE attempts > COALESCE(pages, 1) \
                                     AND status IN ('success', 'no_data')) \
                      AS ok \
             FROM scraper_execution_log WHERE started_at >= $1 AND attempts > 0",
        )
        .bind(ms(since))
        .fetch_one(&self.pool)
        .within(self, "retry_stats")
        .await?;
        Ok(RetryStatsRow {
            calls: get(&row, "calls")?,
            attempts: get(&row, "attempts")?,
            retried: get(&row, "retried")?,
            retried_then_succeeded: get(&row, "ok")?,
        })
    }

    async fn proxies_exchanges(
        &self,
        source_name: &str,
        proxies: &[i64],
        limit: i64,
    ) -> Result<Vec<Vec<ProxyExchange>>, StoreError> {
        if proxies.is_empty() {
            return Ok(Vec::new());
        }
        // One index seek per proxy, each with its own LIMIT, through
        // LATERAL: one round trip for the source.
        let asked: Vec<i32> = proxies
            .iter()
            .map(|p| i32::try_from(*p).unwrap_or(i32::MAX))
            .collect();
        let rows = sqlx::query(
            "SELECT (p.ord - 1)::bigint AS asked, e.finished_at, e.http_status, e.error_kind \
             FROM unnest($1::integer[]) WITH ORDINALITY AS p(proxy, ord) \
             CROSS JOIN LATERAL ( \
               SELECT a.finished_at, a.http_status, a.error_kind \
               FROM scraper_attempts a \
               JOIN scraper_execution_log c ON c.id = a.scraper_execution_id \
               WHERE a.proxy IS NOT NULL AND a.proxy = p.proxy AND c.source_name = $2 \
               ORDER BY a.finished_at DESC LIMIT $3) e",
        )
        .bind(&asked)
        .bind(source_name)
        .bind(limit)
        .fetch_all(&self.pool)
        .within(self, "proxies_exchanges")
        .await?;
        exchanges_by_proxy(
            proxies.len(),
            rows.iter().map(|row| {
                let status: Option<i32> = get(row, "http_status")?;
                let kind: Option<String> = get(row, "error_kind")?;
                Ok((
                    get(row, "asked")?,
                    ProxyExchange {
                        finished_at: get(row, "finished_at")?,
                        http_status: status.and_then(|s| u16::try_from(s).ok()),
                        error_kind: kind.as_deref().and_then(ErrorKind::parse),
                    },
                ))
            }),
        )
    }
}
