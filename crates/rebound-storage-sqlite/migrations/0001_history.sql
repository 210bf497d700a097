-- Rebound run history, SQLite dialect.
--
-- Append-only: once released, this file never changes (sqlx checks its
-- checksum); later changes go in 0002_*.sql and onwards.
--
-- Encodings, chosen so that plain SQL over the file stays readable and
-- sortable: times are ISO-8601 UTC TEXT with exactly three decimals and a
-- `Z` ("2026-11-28T15:04:05.123Z"), so text order is time order and range
-- filters can compare strings; dates are TEXT "YYYY-MM-DD"; booleans are
-- INTEGER 0/1; params are JSON object TEXT compared byte for byte.
--
-- Table and column names are a contract shared with the PostgreSQL backend
-- and docs/queries.md.

CREATE TABLE workflow_executions (
    execution_id       TEXT    NOT NULL PRIMARY KEY,
    workflow_name      TEXT    NOT NULL,
    target_date        TEXT    NOT NULL,
    execution_time     TEXT    NOT NULL,
    finished_at        TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    scrapers_requested INTEGER NOT NULL,
    scrapers_succeeded INTEGER NOT NULL,
    scrapers_failed    INTEGER NOT NULL,
    scrapers_no_data   INTEGER NOT NULL,
    scrapers_skipped   INTEGER NOT NULL,
    error_message      TEXT,
    duration_ms        INTEGER NOT NULL,
    params             TEXT    NOT NULL
);

-- "Recent runs", newest first, with a stable order among equal times.
CREATE INDEX workflow_executions_by_time
    ON workflow_executions (execution_time, execution_id);

-- AUTOINCREMENT: ids are never reused, even after the newest rows are
-- deleted, because "newest" in last_payload means highest id.
CREATE TABLE scraper_execution_log (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    execution_id  TEXT,
    workflow_name TEXT,
    scraper_name  TEXT    NOT NULL,
    source_name   TEXT    NOT NULL,
    params        TEXT    NOT NULL,
    target_date   TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    attempts      INTEGER NOT NULL,
    http_status   INTEGER,
    error_kind    TEXT,
    error_message TEXT,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT    NOT NULL,
    duration_ms   INTEGER NOT NULL,
    bytes         INTEGER,
    output_uri    TEXT,
    content_hash  TEXT,
    unchanged     INTEGER NOT NULL CHECK (unchanged IN (0, 1))
);

-- The calls of one run, in id order (SQLite appends the rowid to the key).
CREATE INDEX scraper_execution_log_by_execution
    ON scraper_execution_log (execution_id);

-- last_payload: newest call of a scraper with exactly these params.
CREATE INDEX scraper_execution_log_last_payload
    ON scraper_execution_log (scraper_name, params, id DESC);

-- History of one workflow's calls over time.
CREATE INDEX scraper_execution_log_by_workflow
    ON scraper_execution_log (workflow_name, started_at);

-- Operator queries over "the last 24 hours / 7 days".
CREATE INDEX scraper_execution_log_by_start
    ON scraper_execution_log (started_at);

-- "Recent standalone calls": partial, so calls of workflow runs (the bulk)
-- cost nothing to maintain here.
CREATE INDEX scraper_execution_log_standalone
    ON scraper_execution_log (started_at, id)
    WHERE execution_id IS NULL;

-- WITHOUT ROWID: rows are stored in key order, so the attempts of one call
-- sit together and come back in attempt order from one range read.
CREATE TABLE scraper_attempts (
    scraper_execution_id INTEGER NOT NULL
        REFERENCES scraper_execution_log (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL CHECK (attempt >= 1),
    started_at      TEXT    NOT NULL,
    finished_at     TEXT    NOT NULL,
    http_status     INTEGER,
    outcome         TEXT    NOT NULL,
    error_kind      TEXT,
    error_message   TEXT,
    delay_before_ms INTEGER NOT NULL,
    PRIMARY KEY (scraper_execution_id, attempt)
) WITHOUT ROWID;
