-- Alert incidents and their notifications (docs/alerts.md), SQLite dialect.
--
-- Append-only, like 0001. Same encodings: times are ISO-8601 UTC TEXT with
-- exactly three decimals and a `Z`. Table and column names are a contract
-- shared with the PostgreSQL backend.
--
-- One row per incident: a condition (e.g. source_unhealthy) about a subject
-- (e.g. a source name), open while resolved_at is NULL.
CREATE TABLE alert_incidents (
    id               INTEGER PRIMARY KEY,
    condition        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    level            TEXT    NOT NULL CHECK (level IN ('warning', 'critical')),
    peak_level       TEXT    NOT NULL CHECK (peak_level IN ('warning', 'critical')),
    summary          TEXT    NOT NULL,
    opened_at        TEXT    NOT NULL,
    last_seen_at     TEXT    NOT NULL,
    last_notified_at TEXT,
    resolved_at      TEXT
);

-- At most one open incident per condition and subject: two evaluators
-- (schedulers) seeing the same problem open it once.
CREATE UNIQUE INDEX alert_incidents_open
    ON alert_incidents (condition, subject) WHERE resolved_at IS NULL;

-- Purging resolved incidents and listing recent ones.
CREATE INDEX alert_incidents_by_resolved ON alert_incidents (resolved_at);

-- One row per notification per sink. The sink is named, never its URL.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES alert_incidents (id) ON DELETE CASCADE,
    sink            TEXT    NOT NULL,
    event           TEXT    NOT NULL CHECK (event IN ('opened', 'renotify', 'recovered')),
    level           TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    delivery_status TEXT    NOT NULL
        CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at    TEXT,
    last_error      TEXT
);

-- The deliverer's queue: pending rows by due time.
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE delivery_status = 'pending';
-- Rate limits look back an hour or a day; `rebound alerts` lists the newest.
CREATE INDEX alerts_by_created ON alerts (created_at);
CREATE INDEX alerts_by_incident ON alerts (incident_id);
