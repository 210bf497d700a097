-- Rebound run history, PostgreSQL dialect.
--
-- Append-only: once released, this file never changes (sqlx checks its
-- checksum); later changes go in 0002_*.sql and onwards.
--
-- Unqualified names: the tables go in the first schema of the connection's
-- search_path, which is how one database can hold several isolated
-- histories (see PostgresStore::connect_with_schema).
--
-- Table and column names are a contract shared with the SQLite backend and
-- docs/queries.md. Times are timestamptz, stored and read with millisecond
-- precision by the backend so both backends return the same instants.
-- params is text, not jsonb: last_payload compares it byte for byte, and
-- jsonb would normalise it (operators can still cast: params::jsonb).
-- Names that are sorted or compared use COLLATE "C": byte order, the same
-- order SQLite gives, and cheaper index comparisons.

CREATE TABLE workflow_executions (
    execution_id       text COLLATE "C" PRIMARY KEY,
    workflow_name      text COLLATE "C" NOT NULL,
    target_date        date        NOT NULL,
    execution_time     timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL,
    status             text        NOT NULL,
    scrapers_requested bigint      NOT NULL,
    scrapers_succeeded bigint      NOT NULL,
    scrapers_failed    bigint      NOT NULL,
    scrapers_no_data   bigint      NOT NULL,
    scrapers_skipped   bigint      NOT NULL,
    error_message      text,
    duration_ms        bigint      NOT NULL,
    params             text        NOT NULL
);

-- "Recent runs", newest first, with a stable order among equal times.
CREATE INDEX workflow_executions_by_time
    ON workflow_executions (execution_time, execution_id);

CREATE TABLE scraper_execution_log (
    id            bigserial   PRIMARY KEY,
    execution_id  text COLLATE "C",
    workflow_name text COLLATE "C",
    scraper_name  text COLLATE "C" NOT NULL,
    source_name   text        NOT NULL,
    params        text COLLATE "C" NOT NULL,
    target_date   date        NOT NULL,
    status        text        NOT NULL,
    attempts      bigint      NOT NULL,
    http_status   integer,
    error_kind    text COLLATE "C",
    error_message text,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    duration_ms   bigint      NOT NULL,
    bytes         bigint,
    output_uri    text,
    content_hash  text,
    unchanged     boolean     NOT NULL
);

-- The calls of one run, in id order.
CREATE INDEX scraper_execution_log_by_execution
    ON scraper_execution_log (execution_id, id);

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

CREATE TABLE scraper_attempts (
    scraper_execution_id bigint NOT NULL
        REFERENCES scraper_execution_log (id) ON DELETE CASCADE,
    attempt         bigint      NOT NULL CHECK (attempt >= 1),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    http_status     integer,
    outcome         text        NOT NULL,
    error_kind      text COLLATE "C",
    error_message   text,
    delay_before_ms bigint      NOT NULL,
    PRIMARY KEY (scraper_execution_id, attempt)
);
