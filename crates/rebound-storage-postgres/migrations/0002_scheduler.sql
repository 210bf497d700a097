-- Scheduler: its decisions (an audit trail a person reads) and its job
-- table (the queue workers claim from), PostgreSQL dialect.
--
-- Append-only, like 0001. Same conventions as 0001: unqualified names (the
-- connection's search_path decides the schema), timestamptz read and written
-- with millisecond precision, date for target dates, JSON kept as text, and
-- names that are sorted or compared in COLLATE "C" (SQLite's byte order).
--
-- Table and column names are a contract shared with the SQLite backend and
-- docs/queries.md.

-- One row per decision the scheduler took about a slot, RUN or not, so
-- "why did (or didn't) this run?" has an answer in SQL.
CREATE TABLE workflow_decisions (
    decision_id   text COLLATE "C" PRIMARY KEY,
    workflow_name text COLLATE "C" NOT NULL,
    decided_at    timestamptz NOT NULL,
    slot          text COLLATE "C" NOT NULL,
    target_date   date        NOT NULL,
    action        text        NOT NULL CHECK (action IN ('RUN', 'SKIP', 'ABORT')),
    reason        text        NOT NULL,
    -- JSON array of entity ids.
    entities      text        NOT NULL,
    alert_level   text        NOT NULL
        CHECK (alert_level IN ('NONE', 'INFO', 'WARNING', 'CRITICAL')),
    -- The execution a RUN queued; NULL otherwise.
    execution_id  text COLLATE "C",
    decided_by    text        NOT NULL
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
    run_id           text COLLATE "C" PRIMARY KEY,
    workflow_name    text COLLATE "C" NOT NULL,
    target_date      date        NOT NULL,
    slot             text COLLATE "C" NOT NULL,
    -- JSON object of extra parameters.
    params           text        NOT NULL,
    -- JSON array of entity ids, or `null` for all.
    entities         text        NOT NULL,
    state            text COLLATE "C" NOT NULL
        CHECK (state IN ('queued', 'running', 'done', 'abandoned')),
    run_at           timestamptz NOT NULL,
    scheduled_for    timestamptz NOT NULL,
    execution_id     text COLLATE "C" NOT NULL,
    decision_id      text COLLATE "C",
    created_at       timestamptz NOT NULL,
    claims           bigint      NOT NULL DEFAULT 0 CHECK (claims >= 0),
    lease_owner      text COLLATE "C",
    lease_expires_at timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    result_status    text,
    last_error       text,
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
