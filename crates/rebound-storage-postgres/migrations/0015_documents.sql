-- Documents and conditional requests (issue 13, items 4 and 5),
-- PostgreSQL dialect. Append-only, like 0001.
--
-- `etag`, `last_modified`: the validators of a `conditional` scraper's
-- response, sent back as `If-None-Match` / `If-Modified-Since` by its next
-- call with the same parameters; NULL for every other scraper (nullable
-- columns without a default: no table rewrite).
--
-- `call_outputs`: the outputs of a call that stored more than one (a
-- `transform`'s output, position 1, role 'primary', which the call row's
-- `output_uri` / `content_hash` also name; the document it read, position
-- 2, 'secondary'), written in the call's statement. A call with one
-- payload has no rows here: its row is its only output. Rows go with
-- their call (ON DELETE CASCADE), so retention purges calls as before.

ALTER TABLE scraper_execution_log
    ADD COLUMN etag text,
    ADD COLUMN last_modified text;

CREATE TABLE call_outputs (
    execution_log_id bigint NOT NULL
        REFERENCES scraper_execution_log (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 1),
    role text NOT NULL CHECK (role IN ('primary', 'secondary')),
    uri text NOT NULL,
    content_hash text NOT NULL,
    bytes bigint NOT NULL CHECK (bytes >= 0),
    content_type text,
    PRIMARY KEY (execution_log_id, position)
);
