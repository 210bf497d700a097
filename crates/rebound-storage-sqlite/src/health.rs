//! The health report's reads (`HealthStore`, indexes of migration 0006).
//!
//! Period aggregates filter on the text-encoded times, which compare like
//! the instants (see `codec`), and name the `started_at` index: left to
//! itself, SQLite walks the whole table in `(scraper_name, id)` order to
//! save the GROUP BY sort, which on a 1M-row history took 3 s instead of
//! 0.2 s. Per-name lookups repeat the WHERE term of
//! their partial index word for word, since SQLite only uses a partial
//! index whose condition appears in the query.

use crate::SqliteStore;
use crate::codec::{
    column, date_column, encode_date, encode_time, opt_time_column, store_error, time_column,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::outcome::ErrorKind;
use rebound_domain::proxy::ProxyExchange;
use rebound_storage::{
    CallCountRow, ErrorCoverageRow, HealthStore, RetryStatsRow, ScraperLast, SourceLast,
    StoreError, WorkflowDayRow, WorkflowStreak, exchanges_by_proxy,
};

#[async_trait]
impl HealthStore for SqliteStore {
    async fn call_counts(&self, since: DateTime<Utc>) -> Result<Vec<CallCountRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT scraper_name, source_name, status, COUNT(*) AS calls, \
                    SUM(attempts > 0) AS requested, \
                    SUM(",
            rebound_storage::deferred_call_sql!(),
            ") \
                      AS deferred, \
                    SUM(attempts) AS attempts, SUM(attempts > COALESCE(pages, 1)) AS retried \
             FROM scraper_execution_log INDEXED BY scraper_execution_log_by_start \
             WHERE started_at >= ?1 \
             GROUP BY scraper_name, source_name, status \
             ORDER BY scraper_name, source_name, status"
        ))
        .bind(encode_time(since))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("call_counts", e))?;
        rows.iter()
            .map(|row| {
                Ok(CallCountRow {
                    scraper_name: column(row, "scraper_name")?,
                    source_name: column(row, "source_name")?,
                    status: column(row, "status")?,
                    calls: column(row, "calls")?,
                    requested: column(row, "requested")?,
                    deferred: column(row, "deferred")?,
                    attempts: column(row, "attempts")?,
                    retried: column(row, "retried")?,
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
             FROM scraper_execution_log INDEXED BY scraper_execution_log_by_start \
             WHERE started_at >= ?1 \
             GROUP BY scraper_name ORDER BY scraper_name",
        )
        .bind(encode_time(since))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("distinct_params", e))?;
        rows.iter()
            .map(|row| Ok((column(row, "scraper_name")?, column(row, "n")?)))
            .collect()
    }

    async fn scraper_last(&self, scraper_name: &str) -> Result<ScraperLast, StoreError> {
        let what = |e| store_error("scraper_last", e);
        // Newest by finish time, ties by id (see migration 0011): ids
        // follow the order calls were recorded, not the order they ended.
        let success: Option<String> = sqlx::query_scalar(
            "SELECT finished_at FROM scraper_execution_log \
             WHERE scraper_name = ?1 AND status = 'success' \
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(scraper_name)
        .fetch_optional(&self.readers)
        .await
        .map_err(what)?;
        let error = sqlx::query(concat!(
            "SELECT finished_at, error_message FROM scraper_execution_log \
             WHERE scraper_name = ?1 AND status IN ('failed', 'overdue') \
               AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
             ORDER BY finished_at DESC, id DESC LIMIT 1"
        ))
        .bind(scraper_name)
        .fetch_optional(&self.readers)
        .await
        .map_err(what)?;
        // The streak: failed/overdue calls that finished strictly after the
        // newest call that ended any other way (skipped ones, and calls
        // deferred before their request by the source's limits, neither
        // count nor break it). Two seeks find that call, one range on the failed
        // index counts the streak, so it costs the length of the streak.
        // Scalar MAX() is NULL when an argument is, hence the COALESCEs
        // ('' sorts before every time).
        let streak = sqlx::query(concat!(
            "SELECT \
               (SELECT started_at FROM scraper_execution_log WHERE scraper_name = ?1 \
                  AND attempts > 0 ORDER BY id DESC LIMIT 1) AS last_call_at, \
               (SELECT COUNT(*) FROM scraper_execution_log \
                  WHERE scraper_name = ?1 AND status IN ('failed', 'overdue') \
                    AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
                    AND finished_at > MAX( \
                      COALESCE((SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = ?1 AND status = 'success' \
                        ORDER BY finished_at DESC LIMIT 1), ''), \
                      COALESCE((SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = ?1 AND status IN ('no_data', 'not_yet_available') \
                        ORDER BY finished_at DESC LIMIT 1), ''))) AS streak"
        ))
        .bind(scraper_name)
        .fetch_one(&self.readers)
        .await
        .map_err(what)?;
        let (last_error_at, last_error) = match &error {
            Some(row) => (
                opt_time_column(row, "finished_at")?,
                column::<Option<String>>(row, "error_message")?,
            ),
            None => (None, None),
        };
        Ok(ScraperLast {
            last_success_at: parse_opt_time(success.as_deref(), "finished_at")?,
            last_error_at,
            last_error,
            consecutive_failures: column(&streak, "streak")?,
            last_call_at: opt_time_column(&streak, "last_call_at")?,
        })
    }

    async fn source_last(&self, source_name: &str) -> Result<SourceLast, StoreError> {
        let what = |e| store_error("source_last", e);
        // Finish times throughout, so what the report says holds against
        // the table: failing since T means no answer finished at or after T.
        let answer: Option<String> = sqlx::query_scalar(
            "SELECT finished_at FROM scraper_execution_log \
             WHERE source_name = ?1 \
               AND status IN ('success', 'no_data', 'not_yet_available', 'overdue') \
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(source_name)
        .fetch_optional(&self.readers)
        .await
        .map_err(what)?;
        let error = sqlx::query(
            "SELECT finished_at, error_message FROM scraper_execution_log \
             WHERE source_name = ?1 AND status = 'failed' \
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(source_name)
        .fetch_optional(&self.readers)
        .await
        .map_err(what)?;
        let mut last = SourceLast {
            last_answer_at: parse_opt_time(answer.as_deref(), "finished_at")?,
            ..SourceLast::default()
        };
        if let Some(row) = &error {
            last.last_error_at = opt_time_column(row, "finished_at")?;
            last.last_error = column(row, "error_message")?;
            let failing = match (last.last_error_at, last.last_answer_at) {
                (Some(error), Some(answer)) => error > answer,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if failing {
                // Strictly after the newest answer: a failure that finished
                // at the same instant is not "since" it.
                let first: Option<String> = sqlx::query_scalar(
                    "SELECT finished_at FROM scraper_execution_log \
                     WHERE source_name = ?1 AND status = 'failed' AND finished_at > ?2 \
                     ORDER BY finished_at, id LIMIT 1",
                )
                .bind(source_name)
                .bind(answer.as_deref().unwrap_or(""))
                .fetch_optional(&self.readers)
                .await
                .map_err(what)?;
                last.failing_since = parse_opt_time(first.as_deref(), "finished_at")?;
            }
        }
        Ok(last)
    }

    async fn first_calls_at(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<Option<DateTime<Utc>>>, StoreError> {
        // One seek per name on (scraper_name, started_at, id).
        let rows: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT (SELECT started_at FROM scraper_execution_log \
                       INDEXED BY scraper_execution_log_by_scraper_start \
                       WHERE scraper_name = s.value ORDER BY started_at LIMIT 1) \
             FROM json_each(?1) AS s ORDER BY s.key",
        )
        .bind(crate::scheduler::name_list(scraper_names))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("first_calls_at", e))?;
        rows.iter()
            .map(|t| parse_opt_time(t.as_deref(), "started_at"))
            .collect()
    }

    async fn last_fresh_payload(
        &self,
        scraper_name: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let what = |e| store_error("last_fresh_payload", e);
        // Newest first over the candidates (partial index `fresh`); a
        // candidate whose content equals the scraper's previous non-empty
        // payload (same data fetched for another date) is passed over.
        let mut before = i64::MAX;
        loop {
            let Some(candidate) = sqlx::query(
                "SELECT id, finished_at, content_hash FROM scraper_execution_log \
                 WHERE scraper_name = ?1 AND status = 'success' AND unchanged = 0 AND bytes > 0 \
                   AND id < ?2 \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(scraper_name)
            .bind(before)
            .fetch_optional(&self.readers)
            .await
            .map_err(what)?
            else {
                return Ok(None);
            };
            let id: i64 = column(&candidate, "id")?;
            let hash: Option<String> = column(&candidate, "content_hash")?;
            let previous: Option<Option<String>> = sqlx::query_scalar(
                "SELECT content_hash FROM scraper_execution_log \
                 WHERE scraper_name = ?1 AND status = 'success' AND bytes > 0 AND id < ?2 \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(scraper_name)
            .bind(id)
            .fetch_optional(&self.readers)
            .await
            .map_err(what)?;
            if hash.is_none() || previous.flatten() != hash {
                return opt_time_column(&candidate, "finished_at");
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
                    SUM(status = 'failed') AS failed, SUM(status = 'partial') AS partial \
             FROM workflow_executions WHERE target_date BETWEEN ?1 AND ?2 \
             GROUP BY workflow_name, target_date ORDER BY workflow_name, target_date",
        )
        .bind(encode_date(from))
        .bind(encode_date(to))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("workflow_days", e))?;
        rows.iter()
            .map(|row| {
                Ok(WorkflowDayRow {
                    workflow_name: column(row, "workflow_name")?,
                    target_date: date_column(row, "target_date")?,
                    runs: column(row, "runs")?,
                    failed: column(row, "failed")?,
                    partial: column(row, "partial")?,
                })
            })
            .collect()
    }

    async fn workflow_streak(&self, workflow_name: &str) -> Result<WorkflowStreak, StoreError> {
        let what = |e| store_error("workflow_streak", e);
        let newest = sqlx::query(
            // Of runs started at the same instant, one that did not fail
            // counts as the newest: the streak below is of runs started
            // strictly after the newest good one, and the two must agree.
            "SELECT status, execution_time, error_message FROM workflow_executions \
             WHERE workflow_name = ?1 AND status <> 'running' \
             ORDER BY execution_time DESC, status IN ('failed', 'partial'), execution_id DESC \
             LIMIT 1",
        )
        .bind(workflow_name)
        .fetch_optional(&self.readers)
        .await
        .map_err(what)?;
        let Some(newest) = newest else {
            return Ok(WorkflowStreak::default());
        };
        let streak = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(execution_time) AS since FROM workflow_executions \
             WHERE workflow_name = ?1 AND status IN ('failed', 'partial') \
               AND execution_time > COALESCE((SELECT execution_time FROM workflow_executions \
                   WHERE workflow_name = ?1 AND status NOT IN ('failed', 'partial', 'running') \
                   ORDER BY execution_time DESC LIMIT 1), '')",
        )
        .bind(workflow_name)
        .fetch_one(&self.readers)
        .await
        .map_err(what)?;
        let consecutive_failed: i64 = column(&streak, "n")?;
        Ok(WorkflowStreak {
            last_status: column(&newest, "status")?,
            last_run_at: opt_time_column(&newest, "execution_time")?,
            last_error: column(&newest, "error_message")?,
            consecutive_failed,
            failing_since: if consecutive_failed > 0 {
                opt_time_column(&streak, "since")?
            } else {
                None
            },
        })
    }

    async fn error_coverage(&self, since: DateTime<Utc>) -> Result<ErrorCoverageRow, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, \
                    COALESCE(SUM(TRIM(COALESCE(error_message, '')) <> ''), 0) AS with_message \
             FROM workflow_executions \
             WHERE execution_time >= ?1 AND status IN ('failed', 'partial')",
        )
        .bind(encode_time(since))
        .fetch_one(&self.readers)
        .await
        .map_err(|e| store_error("error_coverage", e))?;
        Ok(ErrorCoverageRow {
            failed_or_partial: column(&row, "n")?,
            with_message: column(&row, "with_message")?,
        })
    }

    async fn retry_stats(&self, since: DateTime<Utc>) -> Result<RetryStatsRow, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS calls, COALESCE(SUM(attempts), 0) AS attempts, \
                    COALESCE(SUM(attempts > COALESCE(pages, 1)), 0) AS retried, \
                    COALESCE(SUM(attempts > COALESCE(pages, 1) \
                                 AND status IN ('success', 'no_data')), 0) AS ok \
             FROM scraper_execution_log WHERE started_at >= ?1 AND attempts > 0",
        )
        .bind(encode_time(since))
        .fetch_one(&self.readers)
        .await
        .map_err(|e| store_error("retry_stats", e))?;
        Ok(RetryStatsRow {
            calls: column(&row, "calls")?,
            attempts: column(&row, "attempts")?,
            retried: column(&row, "retried")?,
            retried_then_succeeded: column(&row, "ok")?,
        })
    }

    async fn scrapers_last(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<ScraperLast>, StoreError> {
        // scraper_last's statements as correlated subqueries, one row per
        // name: the same partial-index seeks, one round trip.
        let rows = sqlx::query(concat!(
            "SELECT \
               (SELECT finished_at FROM scraper_execution_log \
                  WHERE scraper_name = s.value AND status = 'success' \
                  ORDER BY finished_at DESC, id DESC LIMIT 1) AS last_success_at, \
               e.finished_at AS last_error_at, e.error_message AS last_error, \
               (SELECT started_at FROM scraper_execution_log WHERE scraper_name = s.value \
                  AND attempts > 0 ORDER BY id DESC LIMIT 1) AS last_call_at, \
               (SELECT COUNT(*) FROM scraper_execution_log \
                  WHERE scraper_name = s.value AND status IN ('failed', 'overdue') \
                    AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
                    AND finished_at > MAX( \
                      COALESCE((SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = s.value AND status = 'success' \
                        ORDER BY finished_at DESC LIMIT 1), ''), \
                      COALESCE((SELECT finished_at FROM scraper_execution_log \
                        WHERE scraper_name = s.value \
                          AND status IN ('no_data', 'not_yet_available') \
                        ORDER BY finished_at DESC LIMIT 1), ''))) AS streak \
             FROM json_each(?1) AS s \
             LEFT JOIN scraper_execution_log AS e ON e.id = ( \
               SELECT id FROM scraper_execution_log \
               WHERE scraper_name = s.value AND status IN ('failed', 'overdue') \
                 AND NOT (",
            rebound_storage::deferred_call_sql!(),
            ") \
               ORDER BY finished_at DESC, id DESC LIMIT 1) \
             ORDER BY s.key"
        ))
        .bind(crate::scheduler::name_list(scraper_names))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("scrapers_last", e))?;
        rows.iter()
            .map(|row| {
                Ok(ScraperLast {
                    last_success_at: opt_time_column(row, "last_success_at")?,
                    last_error_at: opt_time_column(row, "last_error_at")?,
                    last_error: column(row, "last_error")?,
                    consecutive_failures: column(row, "streak")?,
                    last_call_at: opt_time_column(row, "last_call_at")?,
                })
            })
            .collect()
    }

    async fn sources_last(&self, source_names: &[String]) -> Result<Vec<SourceLast>, StoreError> {
        // source_last's statements, one row per name. MATERIALIZED: each
        // source's newest answer is looked up once, then used three times.
        let rows = sqlx::query(
            "WITH a AS MATERIALIZED ( \
               SELECT s.key AS k, s.value AS name, \
                 (SELECT finished_at FROM scraper_execution_log \
                    WHERE source_name = s.value \
                      AND status IN ('success', 'no_data', 'not_yet_available', 'overdue') \
                    ORDER BY finished_at DESC, id DESC LIMIT 1) AS answer, \
                 (SELECT id FROM scraper_execution_log \
                    WHERE source_name = s.value AND status = 'failed' \
                    ORDER BY finished_at DESC, id DESC LIMIT 1) AS error_id \
               FROM json_each(?1) AS s) \
             SELECT a.answer AS last_answer_at, e.finished_at AS last_error_at, \
                    e.error_message AS last_error, \
                    CASE WHEN e.finished_at IS NOT NULL \
                              AND (a.answer IS NULL OR e.finished_at > a.answer) \
                    THEN (SELECT finished_at FROM scraper_execution_log \
                            WHERE source_name = a.name AND status = 'failed' \
                              AND finished_at > COALESCE(a.answer, '') \
                            ORDER BY finished_at, id LIMIT 1) END AS failing_since \
             FROM a LEFT JOIN scraper_execution_log AS e ON e.id = a.error_id \
             ORDER BY a.k",
        )
        .bind(crate::scheduler::name_list(source_names))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("sources_last", e))?;
        rows.iter()
            .map(|row| {
                Ok(SourceLast {
                    last_answer_at: opt_time_column(row, "last_answer_at")?,
                    last_error_at: opt_time_column(row, "last_error_at")?,
                    last_error: column(row, "last_error")?,
                    failing_since: opt_time_column(row, "failing_since")?,
                })
            })
            .collect()
    }

    async fn last_fresh_payloads(
        &self,
        scraper_names: &[String],
    ) -> Result<Vec<Option<DateTime<Utc>>>, StoreError> {
        // Each scraper's newest candidate with the hash of the success
        // before it. A candidate that repeats that hash is passed over by
        // last_fresh_payload's walk, name by name (rare: the same data
        // fetched again for a new date).
        let rows = sqlx::query(
            "WITH c AS MATERIALIZED ( \
               SELECT s.key AS k, s.value AS name, \
                 (SELECT id FROM scraper_execution_log \
                    WHERE scraper_name = s.value \
                      AND status = 'success' AND unchanged = 0 AND bytes > 0 \
                    ORDER BY id DESC LIMIT 1) AS id \
               FROM json_each(?1) AS s) \
             SELECT c.name, l.finished_at, l.content_hash, \
               (SELECT p.content_hash FROM scraper_execution_log AS p \
                  WHERE p.scraper_name = c.name AND p.status = 'success' AND p.bytes > 0 \
                    AND p.id < c.id \
                  ORDER BY p.id DESC LIMIT 1) AS previous_hash \
             FROM c LEFT JOIN scraper_execution_log AS l ON l.id = c.id \
             ORDER BY c.k",
        )
        .bind(crate::scheduler::name_list(scraper_names))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("last_fresh_payloads", e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let finished: Option<DateTime<Utc>> = opt_time_column(row, "finished_at")?;
            let hash: Option<String> = column(row, "content_hash")?;
            let previous: Option<String> = column(row, "previous_hash")?;
            out.push(match finished {
                None => None,
                Some(_) if hash.is_none() || previous != hash => finished,
                Some(_) => {
                    self.last_fresh_payload(&column::<String>(row, "name")?)
                        .await?
                }
            });
        }
        Ok(out)
    }

    async fn workflow_streaks(
        &self,
        workflow_names: &[String],
    ) -> Result<Vec<WorkflowStreak>, StoreError> {
        // workflow_streak's two statements, one row per name.
        let rows = sqlx::query(
            "WITH w AS MATERIALIZED ( \
               SELECT s.key AS k, s.value AS name, \
                 COALESCE((SELECT execution_time FROM workflow_executions \
                   WHERE workflow_name = s.value \
                     AND status NOT IN ('failed', 'partial', 'running') \
                   ORDER BY execution_time DESC LIMIT 1), '') AS good \
               FROM json_each(?1) AS s) \
             SELECT n.status, n.execution_time, n.error_message, \
               (SELECT COUNT(*) FROM workflow_executions \
                  WHERE workflow_name = w.name AND status IN ('failed', 'partial') \
                    AND execution_time > w.good) AS n, \
               (SELECT MIN(execution_time) FROM workflow_executions \
                  WHERE workflow_name = w.name AND status IN ('failed', 'partial') \
                    AND execution_time > w.good) AS since \
             FROM w LEFT JOIN workflow_executions AS n ON n.execution_id = ( \
               SELECT execution_id FROM workflow_executions \
               WHERE workflow_name = w.name AND status <> 'running' \
               ORDER BY execution_time DESC, status IN ('failed', 'partial'), \
                        execution_id DESC \
               LIMIT 1) \
             ORDER BY w.k",
        )
        .bind(crate::scheduler::name_list(workflow_names))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| store_error("workflow_streaks", e))?;
        rows.iter()
            .map(|row| {
                let status: Option<String> = column(row, "status")?;
                if status.is_none() {
                    return Ok(WorkflowStreak::default());
                }
                let consecutive_failed: i64 = column(row, "n")?;
                Ok(WorkflowStreak {
                    last_status: status,
                    last_run_at: opt_time_column(row, "execution_time")?,
                    last_error: column(row, "error_message")?,
                    consecutive_failed,
                    failing_since: if consecutive_failed > 0 {
                        opt_time_column(row, "since")?
                    } else {
                        None
                    },
                })
            })
            .collect()
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
        // One seek on the partial index per proxy, each with its own LIMIT
        // (which a window over all of a source's proxied attempts could
        // not be), joined by UNION ALL. `proxy IS NOT NULL` repeats the
        // partial index's term, so SQLite may use it (see migration
        // 0011's note). The text depends only on how many proxies there
        // are (a config's few), so the prepared statements stay few.
        let sql = (0..proxies.len())
            .map(|i| {
                format!(
                    "SELECT {i} AS asked, * FROM (\
                     SELECT a.finished_at, a.http_status, a.error_kind \
                     FROM scraper_attempts a INDEXED BY scraper_attempts_by_proxy \
                     JOIN scraper_execution_log c ON c.id = a.scraper_execution_id \
                     WHERE a.proxy IS NOT NULL AND a.proxy = ?{} AND c.source_name = ?1 \
                     ORDER BY a.finished_at DESC LIMIT ?2)",
                    i + 3
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        // Safe: the text holds only this loop's own integers; every value
        // is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(source_name)
            .bind(limit);
        for proxy in proxies {
            query = query.bind(*proxy);
        }
        let rows = query
            .fetch_all(&self.readers)
            .await
            .map_err(|e| store_error("proxies_exchanges", e))?;
        exchanges_by_proxy(
            proxies.len(),
            rows.iter().map(|row| {
                let status: Option<i64> = column(row, "http_status")?;
                let kind: Option<String> = column(row, "error_kind")?;
                Ok((
                    column(row, "asked")?,
                    ProxyExchange {
                        finished_at: time_column(row, "finished_at")?,
                        http_status: status.and_then(|s| u16::try_from(s).ok()),
                        error_kind: kind.as_deref().and_then(ErrorKind::parse),
                    },
                ))
            }),
        )
    }
}

fn parse_opt_time(text: Option<&str>, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Query(format!("column {name}: bad time {text:?}: {e}")))
    })
    .transpose()
}
