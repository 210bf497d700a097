//! Whether the process running a workflow run is still alive, so a run
//! whose process was killed (`SIGKILL`, a crash, a power loss) does not
//! stay `running` forever and is not invisible in `status` and `health`.
//!
//! A run row carries its owner (`host:pid`) and a heartbeat: the owner
//! renews `heartbeat_until` every third of `[scheduler] lease` while it
//! works. A row is dead when either
//! - its heartbeat has expired: that works across machines (several
//!   `serve` processes sharing PostgreSQL) and needs no OS support, but
//!   only notices a death a lease after it; or
//! - its owner is on this host and that pid no longer runs (read from
//!   `/proc`): immediate, so the `rebound status` right after a killed
//!   `rebound run` already says what happened. A pid reused by another
//!   process looks alive, which only delays the close to the heartbeat's
//!   expiry; without `/proc` (not Linux) only the heartbeat decides.
//!
//! Both rules are needed: pid liveness alone cannot see other hosts, a
//! heartbeat alone leaves a killed run `running` for a whole lease.

use chrono::{DateTime, Utc};
use rebound_domain::outcome::ErrorKind;
use rebound_storage::{HEARTBEAT_LAPSED, PROCESS_EXITED, RunFailure, Store, StoreError};

/// This machine's name, as run owners spell it.
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// This process as the owner of the runs it makes: `host:pid`.
pub fn this_process() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

/// Closes as `failed` (kind `internal`) every `running` run whose owner is
/// dead at `now`, saying "process exited during the run" when its pid is
/// seen gone and that its heartbeat lapsed otherwise; returns their
/// execution ids. The close is guarded by the owner, so a run renewed or
/// finished meanwhile is left alone.
pub async fn close_dead_runs(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let host = host_name();
    let mut closed = Vec::new();
    for run in store.running_executions().await? {
        let Some(owner) = run.owner.clone() else {
            continue;
        };
        let expired = run.heartbeat_until.is_none_or(|until| until < now);
        let exited = owner_exited(&owner, &host);
        if !expired && !exited {
            continue;
        }
        // Only a pid seen gone is said to have exited: a live worker cut off
        // from the database also stops renewing, and its run is rescued,
        // not lost with its process.
        let message = if exited {
            PROCESS_EXITED.to_string()
        } else {
            format!(
                "{HEARTBEAT_LAPSED}: its process {owner} did not renew it for longer than the lease"
            )
        };
        let failure = RunFailure {
            execution_id: run.execution_id.clone(),
            workflow_name: run.workflow_name.clone(),
            target_date: run.target_date,
            at: now,
            error_kind: ErrorKind::Internal,
            message,
            params: "{}".to_string(),
            only_running_owner: Some(owner.clone()),
        };
        if store.record_run_failure(&failure).await? {
            tracing::warn!(execution_id = %run.execution_id, workflow = %run.workflow_name,
                %owner, why = %failure.message, "Closed a run whose process is gone.");
            closed.push(run.execution_id);
        }
    }
    Ok(closed)
}

/// True when `owner` (`host:pid`) is a process of `host` that no longer
/// runs. Unknown (another host, no `/proc`, an unreadable owner) is false:
/// the heartbeat decides then.
fn owner_exited(owner: &str, host: &str) -> bool {
    let Some((owner_host, pid)) = owner.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if owner_host != host || !std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and
        // may itself contain spaces or parentheses: read after the last ')'.
        // A zombie (Z) or dead (X) process is not running the run.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_gone_pid_is_not() {
        let host = host_name();
        assert!(!owner_exited(&this_process(), &host));
        // Above the kernel's pid_max (at most 2^22): never a live process.
        assert!(owner_exited(&format!("{host}:999999999"), &host));
        // Another host, or an owner that is no pid: the heartbeat decides.
        assert!(!owner_exited("elsewhere.example:999999999", &host));
        assert!(!owner_exited("garbage", &host));
    }
}
