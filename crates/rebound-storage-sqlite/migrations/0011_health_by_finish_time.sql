-- The health report's "newest X" lookups, ordered by finish time instead of
-- id (docs/health.md), SQLite dialect.
--
-- Append-only, like 0001. Ids are handed out when a call is recorded, and
-- concurrent calls are recorded in whatever order they finish their
-- writes, so "the newest call by id" can be older than another one. The
-- report put a failure that started before a success (and was recorded
-- after it) as "every call fails since" a time before that success. Every
-- statement the report makes is now about finish times, ties broken by id,
-- so these partial indexes of 0006 are rebuilt on (name, finished_at, id):
-- still one seek each, still only the rows the lookup wants. The queries
-- repeat each index's WHERE term word for word, so SQLite uses a partial index only when the query's WHERE contains that term.

DROP INDEX scraper_execution_log_scraper_success;
DROP INDEX scraper_execution_log_scraper_failed;
DROP INDEX scraper_execution_log_source_answered;
DROP INDEX scraper_execution_log_source_failed;

-- Newest success of a scraper.
CREATE INDEX scraper_execution_log_scraper_success
    ON scraper_execution_log (scraper_name, finished_at, id)
    WHERE status = 'success';

-- Newest failure (failed or overdue) of a scraper, and its current streak.
CREATE INDEX scraper_execution_log_scraper_failed
    ON scraper_execution_log (scraper_name, finished_at, id)
    WHERE status IN ('failed', 'overdue');

-- Newest no_data or not_yet_available call of a scraper: with the newest
-- success, where its failure streak starts.
CREATE INDEX scraper_execution_log_scraper_waiting
    ON scraper_execution_log (scraper_name, finished_at, id)
    WHERE status IN ('no_data', 'not_yet_available');

-- Newest answer of a source (the upstream replied, with or without data).
CREATE INDEX scraper_execution_log_source_answered
    ON scraper_execution_log (source_name, finished_at, id)
    WHERE status IN ('success', 'no_data', 'not_yet_available', 'overdue');

-- Newest failure of a source, and the first one after its newest answer.
CREATE INDEX scraper_execution_log_source_failed
    ON scraper_execution_log (source_name, finished_at, id)
    WHERE status = 'failed';
