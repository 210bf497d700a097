-- The hand-off outbox (docs/handoff.md), PostgreSQL dialect.
--
-- Append-only, like 0001. Times are timestamptz stored with millisecond
-- precision. Table and column names are a contract shared with the SQLite
-- backend and with consumers that poll it. (0012 is taken by another
-- change; the number is kept free for it.)
--
-- One event per recorded call with status success, no_data, failed or
-- overdue, inserted in the call's own statement (UNIQUE: never two).
-- dataset and status copy the message's fields, for ordering and filters;
-- next_attempt_at is when a publisher may (re)try it; sinks_done is a JSON
-- array of the sink names that accepted it already.
CREATE TABLE completion_events (
    event_id             text        PRIMARY KEY,
    scraper_execution_id bigint      NOT NULL UNIQUE
        REFERENCES scraper_execution_log (id) ON DELETE CASCADE,
    created_at           timestamptz NOT NULL,
    dataset              text        NOT NULL,
    status               text        NOT NULL,
    payload              text        NOT NULL,
    state                text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'published', 'acknowledged', 'unacknowledged')),
    deliveries           bigint      NOT NULL DEFAULT 0,
    last_delivery_at     timestamptz,
    last_error           text,
    acknowledged_at      timestamptz,
    next_attempt_at      timestamptz NOT NULL,
    sinks_done           text        NOT NULL DEFAULT '[]'
);

-- The publisher's queue: pending events by dataset in call order.
CREATE INDEX completion_events_pending
    ON completion_events (dataset, scraper_execution_id) WHERE state = 'pending';
-- `rebound events --state S`.
CREATE INDEX completion_events_by_state
    ON completion_events (state, scraper_execution_id);

-- Acknowledgements a consumer writes with plain SQL (or `rebound events
-- ack`): `INSERT INTO completion_acks (event_id) VALUES ($1) ON CONFLICT DO
-- NOTHING`. The event must exist.
CREATE TABLE completion_acks (
    event_id text        PRIMARY KEY REFERENCES completion_events (event_id) ON DELETE CASCADE,
    acked_at timestamptz NOT NULL DEFAULT now()
);
