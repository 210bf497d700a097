-- Alert incidents and their notifications (docs/alerts.md), PostgreSQL dialect.
--
-- Append-only, like 0001. Table and column names are a contract shared
-- with the SQLite backend.
--
-- One row per incident: a condition (e.g. source_unhealthy) about a subject
-- (e.g. a source name), open while resolved_at is NULL.
CREATE TABLE alert_incidents (
    id               bigserial   PRIMARY KEY,
    condition        text COLLATE "C" NOT NULL,
    subject          text COLLATE "C" NOT NULL,
    level            text        NOT NULL CHECK (level IN ('warning', 'critical')),
    peak_level       text        NOT NULL CHECK (peak_level IN ('warning', 'critical')),
    summary          text        NOT NULL,
    opened_at        timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    last_notified_at timestamptz,
    resolved_at      timestamptz
);

-- At most one open incident per condition and subject: two schedulers
-- sharing this database seeing the same problem open it once.
CREATE UNIQUE INDEX alert_incidents_open
    ON alert_incidents (condition, subject) WHERE resolved_at IS NULL;

-- Purging resolved incidents and listing recent ones.
CREATE INDEX alert_incidents_by_resolved ON alert_incidents (resolved_at);

-- One row per notification per sink. The sink is named, never its URL.
CREATE TABLE alerts (
    id              bigserial   PRIMARY KEY,
    incident_id     bigint      NOT NULL REFERENCES alert_incidents (id) ON DELETE CASCADE,
    sink            text COLLATE "C" NOT NULL,
    event           text        NOT NULL CHECK (event IN ('opened', 'renotify', 'recovered')),
    level           text        NOT NULL,
    message         text        NOT NULL,
    payload         text        NOT NULL,
    created_at      timestamptz NOT NULL,
    delivery_status text        NOT NULL
        CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'suppressed')),
    attempts        bigint      NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    delivered_at    timestamptz,
    last_error      text
);

-- The deliverer's queue: pending rows by due time.
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE delivery_status = 'pending';
-- Rate limits look back an hour or a day; `rebound alerts` lists the newest.
CREATE INDEX alerts_by_created ON alerts (created_at);
CREATE INDEX alerts_by_incident ON alerts (incident_id);
