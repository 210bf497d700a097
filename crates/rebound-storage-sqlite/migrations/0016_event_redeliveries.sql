-- The hand-off reconciler (docs/handoff.md, "Acknowledgement and
-- redelivery"), SQLite dialect. Append-only, like 0013.
--
-- redeliveries counts the times the reconciler sent an event again (at
-- most `[handoff] max_redeliveries`); the index finds published events by
-- their last delivery, which is when they come due for acknowledgement
-- and what the storm guard's hour is counted on.
ALTER TABLE completion_events ADD COLUMN redeliveries INTEGER NOT NULL DEFAULT 0;

CREATE INDEX completion_events_by_delivery
    ON completion_events (last_delivery_at) WHERE last_delivery_at IS NOT NULL;
