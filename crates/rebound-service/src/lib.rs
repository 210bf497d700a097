//! `rebound serve` and friends: the parts of Rebound that run on their own.
//!
//! Data flow: the [`scheduler`] evaluates each scheduled workflow when its
//! answer may change (the pure rules live in `rebound-schedule`), records
//! one decision per evaluation in `workflow_decisions`, and for a RUN claims
//! the slot by inserting a row into `scheduled_runs` (unique per workflow,
//! target date and slot). [`worker`]s claim queued runs under a lease, renew
//! it while the engine works, and mark the run done. A reaper, run by both,
//! requeues runs whose lease expired because their worker died. [`backfill`]
//! runs a workflow over a range of past dates, idempotently. [`alerts`]
//! builds the health reports the alert loops of `rebound-alerts` evaluate,
//! through the [`observe`] adapters (the engine's calendars, the fetcher's
//! probes) that keep `rebound-health` free of the run path.
//! [`retention`] purges history older than `[pipeline] retention`, in
//! small batches. [`service`] wires them, with the `/metrics` endpoint of
//! `http`, into the runtime of `rebound serve` behind one start/stop API
//! ([`Service::start`], [`Handle::stop`]), which the CLI and in-process
//! tests start alike.
//!
//! Everything takes the [`Clock`](rebound_domain::clock::Clock) the engine
//! uses for timestamps and decisions, so tests drive whole days by calling
//! [`scheduler::Scheduler::tick`] and [`worker::Worker::run_one`] with a
//! manual clock. Only liveness (lease renewal, idle polling) uses real time:
//! it is about real processes, not about the schedule. Nothing here reads
//! the environment: the host name comes in from the CLI.

pub mod alerts;
pub mod api;
pub mod backfill;
mod cache;
mod dashboard;
pub mod handoff;
mod http;
pub mod observe;
pub mod reconcile;
pub mod retention;
pub mod scheduler;
pub mod service;
pub mod worker;

pub use http::MAX_CONNECTIONS;
pub use service::{Handle, Role, Service, ServiceConfig, StartError, StopSignal};

/// How many times a run may be claimed before the reaper gives up on it
/// (marks it `abandoned`): a run that kills its worker every time must not
/// loop forever.
pub const MAX_CLAIMS: u32 = 3;

/// The pseudo-workflow name under which a calendar refresh is decided and
/// queued, e.g. `calendar:nba_games`.
pub const CALENDAR_PREFIX: &str = "calendar:";

/// A name for this process in decisions and leases: `host:pid:role`. The
/// host comes from the caller (the CLI reads `HOSTNAME`), so this crate
/// never reads the environment.
pub fn instance_name(host: &str, role: &str) -> String {
    format!("{host}:{}:{role}", std::process::id())
}

/// The reaper's sweep, shared by the scheduler's tick and idle workers:
/// requeues runs whose lease expired (their worker died), records a failed
/// run row (kind `internal`, the lease note as its message) for each run
/// abandoned after [`MAX_CLAIMS`] claims, so it shows in `status`, `health`
/// and alerts, and closes run rows whose process died
/// ([`rebound_engine::liveness`]). Returns the runs requeued or abandoned.
pub(crate) async fn reap(
    store: &dyn rebound_storage::Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, rebound_storage::StoreError> {
    let requeued = store.requeue_expired(now, MAX_CLAIMS).await?;
    if !requeued.is_empty() {
        // Abandoned runs are few and recent; the newest 1000 cover any sweep.
        for run in store
            .scheduled_runs(Some("abandoned"), 1000)
            .await?
            .into_iter()
            .filter(|r| requeued.contains(&r.run_id))
            .filter(|r| !r.workflow_name.starts_with(CALENDAR_PREFIX))
        {
            let message = run
                .last_error
                .clone()
                .unwrap_or_else(|| format!("abandoned after {} claims", run.claims));
            store
                .record_run_failure(&rebound_storage::RunFailure {
                    execution_id: run.execution_id.clone(),
                    workflow_name: run.workflow_name.clone(),
                    target_date: run.target_date,
                    at: now,
                    error_kind: rebound_domain::outcome::ErrorKind::Internal,
                    message,
                    params: run.params.clone(),
                    only_running_owner: None,
                })
                .await?;
            tracing::error!(run_id = %run.run_id, workflow = %run.workflow_name,
                execution_id = %run.execution_id, "Run abandoned: recorded as failed.");
        }
    }
    rebound_engine::liveness::close_dead_runs(store, now).await?;
    Ok(requeued)
}
