-- Issue 17 item 4 (a host down for five days): the health probe feeds the
-- circuit breaker, and an alert caused by a source's outage is grouped
-- under that source's incident (docs/resilience.md, docs/alerts.md).
--
-- Append-only, like the rest. Same encodings: times are ISO-8601 UTC TEXT
-- with exactly three decimals and a `Z`. Column names are a contract
-- shared with the PostgreSQL backend.

-- Since when the source's health probe has been failing (NULL while it
-- answers, or when no probe has failed since the breaker last closed).
ALTER TABLE circuit_breaker_state ADD COLUMN health_failing_since TEXT;

-- The incident this one is caused by, as "condition subject" (e.g.
-- "source_unhealthy balldontlie"): its notices are stored suppressed with
-- that reason. NULL for an incident announced on its own.
ALTER TABLE alert_incidents ADD COLUMN caused_by TEXT;
