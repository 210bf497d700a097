-- Per-source circuit breakers: the shared state every worker consults
-- before calling a source, and the log of its state changes, PostgreSQL
-- dialect.
--
-- Append-only, like 0001 and 0002. Same conventions: timestamptz with
-- millisecond precision, names compared in COLLATE "C". Table and column
-- names are a contract shared with the SQLite backend and
-- docs/resilience-breakers.md.

CREATE TABLE circuit_breaker_state (
    source_name          text COLLATE "C" PRIMARY KEY,
    state                text        NOT NULL DEFAULT 'closed'
        CHECK (state IN ('closed', 'open', 'half_open')),
    opened_at            timestamptz,
    -- When the open period ends: the next probe's earliest time.
    open_until           timestamptz,
    -- Why it last opened, e.g. "5 consecutive failures".
    open_reason          text,
    trips                bigint      NOT NULL DEFAULT 0,
    -- Trips since it last closed; the open period doubles with each.
    streak               bigint      NOT NULL DEFAULT 0,
    consecutive_failures bigint      NOT NULL DEFAULT 0,
    -- Totals of window_buckets, for SQL readers.
    window_calls         bigint      NOT NULL DEFAULT 0,
    window_failures      bigint      NOT NULL DEFAULT 0,
    -- The sliding window: "start_epoch_secs:calls:failures" slices, comma-separated.
    window_buckets       text        NOT NULL DEFAULT '',
    last_failure_at      timestamptz,
    last_failure_kind    text,
    last_failure_message text,
    probe_in_flight      boolean     NOT NULL DEFAULT false,
    probe_started_at     timestamptz,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE circuit_breaker_transitions (
    id          bigserial PRIMARY KEY,
    source_name text COLLATE "C" NOT NULL,
    at          timestamptz NOT NULL,
    from_state  text        NOT NULL,
    to_state    text        NOT NULL,
    reason      text        NOT NULL
);

CREATE INDEX circuit_breaker_transitions_by_source
    ON circuit_breaker_transitions (source_name, at);
