//! Closing runs whose process is gone: what the closed row says.

use chrono::{TimeDelta, TimeZone, Utc};
use rebound_engine::liveness::{close_dead_runs, host_name, this_process};
use rebound_storage::{HEARTBEAT_LAPSED, PROCESS_EXITED, RunStart, Store};
use rebound_storage_sqlite::SqliteStore;

fn start(id: &str, owner: String) -> RunStart {
    let t0 = Utc
        .with_ymd_and_hms(2026, 3, 1, 10, 0, 0)
        .single()
        .expect("time");
    RunStart {
        execution_id: id.to_string(),
        workflow_name: "wf".to_string(),
        target_date: t0.date_naive(),
        started_at: t0,
        params: "{}".to_string(),
        owner,
        heartbeat_until: t0 + TimeDelta::seconds(60),
    }
}

/// A run whose heartbeat lapsed while its process still runs (a worker
/// cut off from the database stops renewing) is closed, but not as
/// "process exited": that was false, and said so of a run the same worker
/// then finished. A run whose pid is gone still reads "process exited".
#[tokio::test]
async fn a_lapsed_heartbeat_of_a_live_process_is_not_called_an_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("history.db"))
        .await
        .expect("sqlite");
    let alive = start("alive", this_process());
    // Above the kernel's pid_max (at most 2^22): never a live process.
    let gone = start("gone", format!("{}:999999999", host_name()));
    for run in [&alive, &gone] {
        store.begin_workflow_execution(run).await.expect("begin");
    }
    let now = alive.heartbeat_until + TimeDelta::seconds(1);
    let mut closed = close_dead_runs(&store, now).await.expect("close");
    closed.sort();
    assert_eq!(closed, ["alive", "gone"]);
    let rows = store
        .executions_for_date("wf", alive.target_date)
        .await
        .expect("rows");
    let message = |id: &str| {
        rows.iter()
            .find(|r| r.execution_id == id)
            .and_then(|r| r.error_message.clone())
            .expect("a message")
    };
    let lapsed = message("alive");
    assert!(lapsed.starts_with(HEARTBEAT_LAPSED), "{lapsed}");
    assert!(
        lapsed.contains(&this_process()),
        "names the owner: {lapsed}"
    );
    assert_eq!(message("gone"), PROCESS_EXITED);
}
