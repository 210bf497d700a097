-- Request quotas per source and period (issue 4, rate limits and quotas),
-- PostgreSQL dialect. Append-only.
--
-- One row per source and quota period (a day or month of the pipeline's
-- zone); every process using this database counts into the same row.
CREATE TABLE source_quota_usage (
    source_name        text COLLATE "C" NOT NULL,
    period             text COLLATE "C" NOT NULL CHECK (period IN ('day', 'month')),
    period_start       timestamptz NOT NULL,
    -- When the quota resets: the next period's start.
    period_end         timestamptz NOT NULL,
    -- Requests Rebound counted in the period.
    requests           bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
    -- What the upstream last reported as left (quota.remaining_header).
    remaining_reported bigint,
    -- When the 80 % warning was raised (once per period).
    warned_at          timestamptz,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (source_name, period_start)
);
