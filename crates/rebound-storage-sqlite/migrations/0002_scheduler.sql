-- Scheduler: its decisions (an audit trail a person reads) and its job
-- table (the queue workers claim from), SQLite dialect.
--
-- Append-only, like 0001. Same encodings as 0001: times are ISO-8601 UTC
-- TEXT with exactly three decimals and a `Z`, so comparing strings compares
-- instants (claims and the reaper filter on run_at and lease_expires_at that
-- way); dates are TEXT "YYYY-MM-DD"; JSON is TEXT.
--
-- Table and column names are a contract shared with the PostgreSQL backend
-- and docs/queries.md.

-- One row per decision the scheduler took about a slot, RUN or not, so
-- "why did (or didn't) this run?" has an answer in SQL.
CREATE TABLE workflow_decisions (
    decision_id   TEXT NOT NULL PRIMARY KEY,
    workflow_name TEXT NOT NULL,
    decided_at    TEXT NOT NULL,
    slot          TEXT NOT NULL,
    target_date   TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('RUN', 'SKIP', 'ABORT')),
    reason        TEXT NOT NULL,
    -- JSON array of entity ids.
    entities      TEXT NOT NULL,
    alert_level   TEXT NOT NULL
        CHECK (alert_level IN ('NONE', 'INFO', 'WARNING', 'CRITICAL')),
    -- The execution a RUN queued; NULL otherwise.
    execution_id  TEXT,
    decided_by    TEXT NOT NULL
);

-- slot_history: the decisions of one workflow's slots over a date range.
CREATE INDEX workflow_decisions_by_slot
    ON workflow_decisions (workflow_name, target_date, slot);

-- last_decision_at and decisions_since for one workflow.
CREATE INDEX workflow_decisions_by_time
    ON workflow_decisions (workflow_name, decided_at);

-- decisions_since for every workflow ("today's decisions").
CREATE INDEX workflow_decisions_by_decided_at
    ON workflow_decisions (decided_at);

-- One row per claimed slot. The UNIQUE slot key is what makes a slot run at
-- most once, however many schedulers decide it concurrently.
CREATE TABLE scheduled_runs (
    run_id           TEXT    NOT NULL PRIMARY KEY,
    workflow_name    TEXT    NOT NULL,
    target_date      TEXT    NOT NULL,
    slot             TEXT    NOT NULL,
    -- JSON object of extra parameters.
    params           TEXT    NOT NULL,
    -- JSON array of entity ids, or `null` for all.
    entities         TEXT    NOT NULL,
    state            TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'done', 'abandoned')),
    run_at           TEXT    NOT NULL,
    scheduled_for    TEXT    NOT NULL,
    execution_id     TEXT    NOT NULL,
    decision_id      TEXT,
    created_at       TEXT    NOT NULL,
    claims           INTEGER NOT NULL DEFAULT 0 CHECK (claims >= 0),
    lease_owner      TEXT,
    lease_expires_at TEXT,
    started_at       TEXT,
    finished_at      TEXT,
    result_status    TEXT,
    last_error       TEXT,
    UNIQUE (workflow_name, target_date, slot)
);

-- claim_run: the oldest due queued run.
CREATE INDEX scheduled_runs_claim
    ON scheduled_runs (state, run_at, created_at);

-- requeue_expired: only running rows hold a lease, so the partial index
-- stays as small as the number of runs in flight.
CREATE INDEX scheduled_runs_lease
    ON scheduled_runs (lease_expires_at)
    WHERE state = 'running';

-- scheduled_runs listing, oldest first.
CREATE INDEX scheduled_runs_by_created
    ON scheduled_runs (created_at, run_id);

-- executions_for_date: the runs of one workflow for one target date, in
-- the order it lists them (no sort).
CREATE INDEX workflow_executions_by_date
    ON workflow_executions (workflow_name, target_date, execution_time, execution_id);

-- collected_values and latest_payload read successful calls of a few
-- scrapers for one date. Partial, so failed and no_data calls cost nothing
-- to maintain here.
CREATE INDEX scraper_execution_log_success
    ON scraper_execution_log (scraper_name, target_date, id)
    WHERE status = 'success';
