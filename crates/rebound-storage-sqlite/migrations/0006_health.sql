-- Indexes for `rebound health` and `rebound freshness` (docs/health.md),
-- SQLite dialect.
--
-- Append-only, like 0001. No new tables: the health report only reads.
--
-- Each "newest X of one scraper/source" lookup of the report is one seek
-- on a partial index holding only the rows that can answer it, so the
-- cost does not grow with history (a scraper that never failed costs one
-- probe of an empty range, not a walk over its million calls). The
-- queries repeat each index's WHERE term word for word: SQLite uses a
-- partial index only when the query's WHERE contains that term.

-- Newest success of a scraper.
CREATE INDEX scraper_execution_log_scraper_success
    ON scraper_execution_log (scraper_name, id)
    WHERE status = 'success';

-- Newest failure (failed or overdue) of a scraper.
CREATE INDEX scraper_execution_log_scraper_failed
    ON scraper_execution_log (scraper_name, id)
    WHERE status IN ('failed', 'overdue');

-- Newest payload that brought new data: records present (success), not
-- empty, not identical to the previous one. Freshness is measured here.
CREATE INDEX scraper_execution_log_fresh
    ON scraper_execution_log (scraper_name, id)
    WHERE status = 'success' AND unchanged = 0 AND bytes > 0;

-- Newest answer of a source (the upstream replied, with or without data).
CREATE INDEX scraper_execution_log_source_answered
    ON scraper_execution_log (source_name, id)
    WHERE status IN ('success', 'no_data', 'not_yet_available', 'overdue');

-- Newest failure of a source, and the first one of its current streak.
CREATE INDEX scraper_execution_log_source_failed
    ON scraper_execution_log (source_name, id)
    WHERE status = 'failed';

-- The daily failure-rate table: runs per target date over the last days.
CREATE INDEX workflow_executions_by_target
    ON workflow_executions (target_date, workflow_name, status);

-- A workflow's newest runs, for its failed/partial streak.
CREATE INDEX workflow_executions_by_workflow
    ON workflow_executions (workflow_name, execution_time);
