-- The newest stored payload of a few scrapers across every target date
-- (`latest_payload` without a date: the calendar read by `rebound serve`,
-- `rebound health` and `rebound freshness`).
--
-- Append-only, like 0001. "Newest" means latest `finished_at` (rows can be
-- recorded out of time order), which no earlier index has in its key: on
-- a history of 10 million calls the query read every successful call of
-- the scraper (about 170,000 rows, half a second) three times per report.
-- With this index each scraper is one seek. Partial, with the query's WHERE
-- terms word for word, so only rows that can answer it are kept.
CREATE INDEX scraper_execution_log_latest_payload
    ON scraper_execution_log (scraper_name, finished_at, id)
    WHERE status = 'success' AND output_uri IS NOT NULL AND content_hash IS NOT NULL;
