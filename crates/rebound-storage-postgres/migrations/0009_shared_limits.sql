-- Shared rate limits, source pauses and retry budgets (issue 11, item 14),
-- PostgreSQL dialect. Append-only.
--
-- One row per source: the GCRA's theoretical arrival time (when the next
-- request may start) and the pause a server asked for. Every process using
-- this database takes its request slots from, and pauses, the same row.
CREATE TABLE source_limits (
    source_name  text COLLATE "C" PRIMARY KEY,
    -- The GCRA's theoretical arrival time: when the next request may start,
    -- epoch microseconds (a rate above 1000/s still keeps its spacing);
    -- NULL before the first request.
    tat_us       bigint,
    -- Until when the whole source is paused (429 + Retry-After, RateLimit
    -- headers), and which header said so.
    paused_until timestamptz,
    pause_reason text
);

-- The retry budget's counts, per source and slice of its window (a tenth
-- of `retry_budget.window`), so the budget is one across processes.
CREATE TABLE source_retry_budget (
    source_name text COLLATE "C" NOT NULL,
    -- Start of the slice, epoch seconds.
    slice_start bigint NOT NULL,
    calls       bigint NOT NULL DEFAULT 0 CHECK (calls >= 0),
    retries     bigint NOT NULL DEFAULT 0 CHECK (retries >= 0),
    PRIMARY KEY (source_name, slice_start)
);
