-- The hand-off outbox (docs/handoff.md), SQLite dialect.
--
-- Append-only, like 0001. Same encodings: times are ISO-8601 UTC TEXT with
-- exactly three decimals and a `Z`. Table and column names are a contract
-- shared with the PostgreSQL backend and with consumers that poll it.
-- (0012 is taken by another change; the number is kept free for it.)
--
-- One event per recorded call with status success, no_data, failed or
-- overdue, inserted in the call's own transaction (UNIQUE: never two).
-- dataset and status copy the message's fields, for ordering and filters;
-- next_attempt_at is when a publisher may (re)try it; sinks_done is a JSON
-- array of the sink names that accepted it already.
CREATE TABLE completion_events (
    event_id             TEXT    PRIMARY KEY,
    scraper_execution_id INTEGER NOT NULL UNIQUE
        REFERENCES scraper_execution_log (id) ON DELETE CASCADE,
    created_at           TEXT    NOT NULL,
    dataset              TEXT    NOT NULL,
    status               TEXT    NOT NULL,
    payload              TEXT    NOT NULL,
    state                TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'published', 'acknowledged', 'unacknowledged')),
    deliveries           INTEGER NOT NULL DEFAULT 0,
    last_delivery_at     TEXT,
    last_error           TEXT,
    acknowledged_at      TEXT,
    next_attempt_at      TEXT    NOT NULL,
    sinks_done           TEXT    NOT NULL DEFAULT '[]'
);

-- The publisher's queue: pending events by dataset in call order.
CREATE INDEX completion_events_pending
    ON completion_events (dataset, scraper_execution_id) WHERE state = 'pending';
-- `rebound events --state S`.
CREATE INDEX completion_events_by_state
    ON completion_events (state, scraper_execution_id);

-- Acknowledgements a consumer writes with plain SQL (or `rebound events
-- ack`): `INSERT INTO completion_acks (event_id) VALUES (?) ON CONFLICT DO
-- NOTHING`. The event must exist.
CREATE TABLE completion_acks (
    event_id TEXT PRIMARY KEY REFERENCES completion_events (event_id) ON DELETE CASCADE,
    acked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
