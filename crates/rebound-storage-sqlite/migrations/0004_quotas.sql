-- Request quotas per source and period (issue 4, rate limits and quotas),
-- SQLite dialect. Append-only, same encodings as 0001: times are ISO-8601
-- UTC TEXT with three decimals and a `Z`.
--
-- One row per source and quota period (a day or month of the pipeline's
-- zone); every process using this database counts into the same row.
CREATE TABLE source_quota_usage (
    source_name        TEXT NOT NULL,
    period             TEXT NOT NULL CHECK (period IN ('day', 'month')),
    period_start       TEXT NOT NULL,
    -- When the quota resets: the next period's start.
    period_end         TEXT NOT NULL,
    -- Requests Rebound counted in the period.
    requests           INTEGER NOT NULL DEFAULT 0 CHECK (requests >= 0),
    -- What the upstream last reported as left (quota.remaining_header).
    remaining_reported INTEGER,
    -- When the 80 % warning was raised (once per period).
    warned_at          TEXT,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (source_name, period_start)
);
