-- Entity lockouts (docs/resilience-late-data-lockouts.md), PostgreSQL dialect.
--
-- Append-only, like 0001. Table and column names are a contract shared
-- with the SQLite backend.
--
-- One row per lock of one entity (a fan-out item value, e.g. a game id) of
-- one scraper. A lock is open while released_at is NULL; it ends when it
-- expires (`until`), when the dataset the fan-out reads gets a payload with
-- a hash other than source_hash, or by `rebound lockouts reset`. Released
-- rows stay, as history.
CREATE TABLE entity_lockouts (
    id              bigserial   PRIMARY KEY,
    scraper_name    text COLLATE "C" NOT NULL,
    entity          text COLLATE "C" NOT NULL,
    locked_at       timestamptz NOT NULL,
    until           timestamptz NOT NULL,
    consecutive     bigint      NOT NULL CHECK (consecutive >= 1),
    reason          text        NOT NULL,
    source_hash     text,
    released_at     timestamptz,
    released_reason text
);

-- At most one open lock per scraper and entity.
CREATE UNIQUE INDEX entity_lockouts_open
    ON entity_lockouts (scraper_name, entity) WHERE released_at IS NULL;

-- The newest release of an entity (its no_data/failure streak restarts there).
CREATE INDEX entity_lockouts_by_entity
    ON entity_lockouts (scraper_name, entity, released_at);

-- A scraper's calls newest first, for the streak of one entity.
CREATE INDEX scraper_execution_log_by_scraper
    ON scraper_execution_log (scraper_name, id);
