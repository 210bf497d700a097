-- Per-source circuit breakers: the shared state every worker consults
-- before calling a source, and the log of its state changes.
--
-- Append-only, like 0001 and 0002. Same conventions: times as RFC 3339
-- text with milliseconds in UTC. Table and column names are a contract
-- shared with the PostgreSQL backend and docs/resilience-breakers.md.

CREATE TABLE circuit_breaker_state (
    source_name          TEXT PRIMARY KEY,
    state                TEXT NOT NULL DEFAULT 'closed'
        CHECK (state IN ('closed', 'open', 'half_open')),
    opened_at            TEXT,
    -- When the open period ends: the next probe's earliest time.
    open_until           TEXT,
    -- Why it last opened, e.g. "5 consecutive failures".
    open_reason          TEXT,
    trips                INTEGER NOT NULL DEFAULT 0,
    -- Trips since it last closed; the open period doubles with each.
    streak               INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    -- Totals of window_buckets, for SQL readers.
    window_calls         INTEGER NOT NULL DEFAULT 0,
    window_failures      INTEGER NOT NULL DEFAULT 0,
    -- The sliding window: "start_epoch_secs:calls:failures" slices, comma-separated.
    window_buckets       TEXT NOT NULL DEFAULT '',
    last_failure_at      TEXT,
    last_failure_kind    TEXT,
    last_failure_message TEXT,
    probe_in_flight      INTEGER NOT NULL DEFAULT 0,
    probe_started_at     TEXT,
    updated_at           TEXT NOT NULL
);

CREATE TABLE circuit_breaker_transitions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source_name TEXT NOT NULL,
    at          TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    reason      TEXT NOT NULL
);

CREATE INDEX circuit_breaker_transitions_by_source
    ON circuit_breaker_transitions (source_name, at);
