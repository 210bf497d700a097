-- Documents and conditional requests (issue 13, items 4 and 5), SQLite
-- dialect. Append-only, like 0001.
--
-- `etag`, `last_modified`: the validators of a `conditional` scraper's
-- response, sent back as `If-None-Match` / `If-Modified-Since` by its next
-- call with the same parameters; NULL for every other scraper.
--
-- `call_outputs`: the outputs of a call that stored more than one (a
-- `transform`'s output, position 1, role 'primary', which the call row's
-- `output_uri` / `content_hash` also name; the document it read, position
-- 2, 'secondary'), written in the call's transaction. A call with one
-- payload has no rows here: its row is its only output. Rows go with
-- their call (ON DELETE CASCADE), so retention purges calls as before.

ALTER TABLE scraper_execution_log ADD COLUMN etag TEXT;

ALTER TABLE scraper_execution_log ADD COLUMN last_modified TEXT;

CREATE TABLE call_outputs (
    execution_log_id INTEGER NOT NULL
        REFERENCES scraper_execution_log (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 1),
    role TEXT NOT NULL CHECK (role IN ('primary', 'secondary')),
    uri TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    content_type TEXT,
    PRIMARY KEY (execution_log_id, position)
);
