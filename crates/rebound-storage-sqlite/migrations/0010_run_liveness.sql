-- A run row from the start: `workflow_executions` gets a row with status
-- `running` when a run starts, renewed while it works, finished when it
-- ends, so a run whose process was killed is still visible and can be
-- closed as failed by the next process that opens the store.
--
-- Append-only, like 0001. Same encodings: times are ISO-8601 UTC TEXT with
-- exactly three decimals and a `Z`, so comparing strings compares instants.
--
-- error_kind: the run-level kind of a run that failed without any call to
--   blame (`config` when the engine refused to start it, `internal` for a
--   panic, an abandoned lease or a process that died); NULL otherwise.
-- run_owner: `host:pid` of the process running it, while it runs.
-- heartbeat_until: the owner promises to renew before then; a running row
--   past it has no live owner.
ALTER TABLE workflow_executions ADD COLUMN error_kind TEXT;
ALTER TABLE workflow_executions ADD COLUMN run_owner TEXT;
ALTER TABLE workflow_executions ADD COLUMN heartbeat_until TEXT;

-- running_executions: only running rows, so it stays as small as the
-- number of runs in flight.
CREATE INDEX workflow_executions_running
    ON workflow_executions (heartbeat_until)
    WHERE status = 'running';
