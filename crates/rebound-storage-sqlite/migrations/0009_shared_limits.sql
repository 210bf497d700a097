-- Shared rate limits, source pauses and retry budgets (issue 11, item 14),
-- SQLite dialect. Append-only, same encodings as 0001: times are ISO-8601
-- UTC TEXT with three decimals and a `Z`.
--
-- One row per source: the GCRA's theoretical arrival time (when the next
-- request may start) and the pause a server asked for. Every process using
-- this database takes its request slots from, and pauses, the same row.
CREATE TABLE source_limits (
    source_name  TEXT PRIMARY KEY,
    -- The GCRA's theoretical arrival time: when the next request may start,
    -- epoch microseconds (a rate above 1000/s still keeps its spacing);
    -- NULL before the first request.
    tat_us       INTEGER,
    -- Until when the whole source is paused (429 + Retry-After, RateLimit
    -- headers), and which header said so.
    paused_until TEXT,
    pause_reason TEXT
);

-- The retry budget's counts, per source and slice of its window (a tenth
-- of `retry_budget.window`), so the budget is one across processes.
CREATE TABLE source_retry_budget (
    source_name TEXT NOT NULL,
    -- Start of the slice, epoch seconds.
    slice_start INTEGER NOT NULL,
    calls       INTEGER NOT NULL DEFAULT 0 CHECK (calls >= 0),
    retries     INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
    PRIMARY KEY (source_name, slice_start)
);
