//! `rebound serve`: the long-running service, started through
//! `rebound_service::Service` (which wires the roles, tasks, endpoint and
//! shutdown); this file is the glue around it.
//!
//! `--role all` (default) runs the scheduler and workers in one process, on
//! SQLite or PostgreSQL. `--role scheduler` and `--role worker` split them
//! across processes and machines, which needs the shared PostgreSQL
//! database. Roles all and scheduler also evaluate the alert conditions and
//! deliver notifications (`[alerts]`, docs/alerts.md). SIGTERM or Ctrl-C
//! stops claiming, lets in-flight runs finish within `[scheduler]
//! shutdown_grace`, and releases the rest.
//!
//! With `[server] listen`, it also answers `/metrics` and `/healthz` over
//! HTTP until it stops.

use crate::{Failure, setup};
use anyhow::anyhow;
use clap::{Args, ValueEnum};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_service::{Service, ServiceConfig, StartError, StopSignal};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Scheduler and workers in one process.
    All,
    /// Only evaluate schedules and queue runs (PostgreSQL).
    Scheduler,
    /// Only execute queued runs (PostgreSQL).
    Worker,
    /// Only serve `[server] listen` (dashboard, API, metrics); runs nothing.
    Web,
}

impl From<Role> for rebound_service::Role {
    fn from(role: Role) -> rebound_service::Role {
        match role {
            Role::All => rebound_service::Role::All,
            Role::Scheduler => rebound_service::Role::Scheduler,
            Role::Worker => rebound_service::Role::Worker,
            Role::Web => rebound_service::Role::Web,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// What this process does.
    #[arg(long, value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// Runs this process executes at once (roles all and worker).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
}

pub async fn serve(config: &Path, args: ServeArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_plan(config)?;
    let role = rebound_service::Role::from(args.role);
    // Refused before the store is opened: a usage error, not a start failure.
    Service::check_role(&plan, role).map_err(|e| start_failure(e, config))?;
    let store = setup::open_store(&plan).await?;
    let _one_serve = one_serve_per_sqlite_file(&plan.pipeline.database)?;
    // Off loopback without `public_read`, reads need the token the API
    // guard compares with; with none configured, every request is refused.
    let refuses_everything = plan.server.reads_need_token() && plan.server.token.is_none();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = ServiceConfig {
        plan,
        role,
        workers: usize::from(args.workers),
        host: setup::host_name(),
    };
    let handle = Service::start(service, store, clock)
        .await
        .map_err(|e| start_failure(e, config))?;
    tokio::spawn(wait_for_signal(handle.stop_signal()));

    let summary = handle.summary();
    setup::say(&format!(
        "rebound serve: role {}, {}, database {}; Ctrl-C or SIGTERM stops it",
        summary.role.name(),
        rebound_domain::message::plural(
            summary.scheduled_workflows as u64,
            "scheduled workflow",
            "scheduled workflows"
        ),
        crate::output::printable(&summary.database)
    ));
    // "0 scheduled workflows" and then silence read as a service waiting
    // for its first slot; with no schedule there is none, ever. Roles all
    // and scheduler are the ones that would start runs.
    if summary.scheduled_workflows == 0 && matches!(args.role, Role::All | Role::Scheduler) {
        setup::say(
            "rebound serve: no workflow has a schedule, so nothing will run on its own; give one a `schedule = { kind = \"cron\", cron = \"0 5 * * *\" }` (or window, every, at, discovery: docs/scheduling.md), or run one now with `rebound run WORKFLOW`",
        );
    }
    if let Some(addr) = handle.local_addr() {
        setup::say(&format!(
            "rebound serve: dashboard at http://{addr}/, API at http://{addr}/api/v1/ (docs/api.md), metrics at http://{addr}/metrics"
        ));
        if refuses_everything {
            tracing::warn!(
                "[server] listen {addr} is reachable from other machines and no [server] token is set: every API and dashboard request will be refused with 403; set token = \"${{REBOUND_API_TOKEN}}\" (and public_read = true to read without it), or listen on 127.0.0.1"
            );
        }
    }
    if let Some(retention) = summary.purge_older_than {
        setup::say(&format!(
            "rebound serve: purging history older than {} every hour",
            rebound_domain::duration::format_duration(retention)
        ));
    }
    handle.wait().await;
    setup::say("rebound serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// On SQLite, an exclusive lock on `PATH-serve-lock`, held while `serve`
/// runs (the OS drops it when the process dies). SQLite serves one process:
/// the rate limits, source pauses and run wake-ups live in its memory, and
/// a second `serve` on the same file ran beside the first, each with its
/// own. `run`, `scrape` and the reports take no such lock.
fn one_serve_per_sqlite_file(
    database: &rebound_domain::plan::DatabaseLocation,
) -> Result<Option<std::fs::File>, Failure> {
    let rebound_domain::plan::DatabaseLocation::Sqlite { path } = database else {
        return Ok(None);
    };
    let mut name = path.as_os_str().to_owned();
    name.push("-serve-lock");
    let lock = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|e| Failure::Runtime(anyhow!("cannot open {}: {e}", lock.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Failure::Runtime(anyhow!(
            "another `rebound serve` is running on {}: SQLite serves one process (its rate limits, pauses and wake-ups live in that process); stop it first, or share a PostgreSQL database to run several",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Failure::Runtime(anyhow!(
            "cannot lock {}: {e}",
            lock.display()
        ))),
    }
}

/// The messages and exit codes `rebound serve` has always given: a role
/// the database cannot serve is a usage error (2), naming the flag; a port
/// in use names the config key and file (1).
fn start_failure(error: StartError, config: &Path) -> Failure {
    match error {
        StartError::NeedsSharedDatabase { role, database } => Failure::Usage(anyhow!(
            "--role {} needs a PostgreSQL database shared by all processes; this config uses {database} (SQLite serves one process: use --role all)",
            role.name()
        )),
        StartError::WebWithoutListen => Failure::Usage(anyhow!(
            "--role web serves the dashboard, the API and /metrics on [server] listen, which {} does not set (add listen = \"127.0.0.1:8080\" under [server])",
            config.display()
        )),
        StartError::Listen { addr, source } => Failure::Runtime(anyhow::Error::new(source).context(
            format!(
                "cannot listen on {addr} ([server] listen in {}): is another process using that port?",
                config.display()
            ),
        )),
        other => Failure::Runtime(other.into()),
    }
}

/// Turns the first SIGTERM or Ctrl-C into a shutdown request; a second
/// Ctrl-C exits at once.
async fn wait_for_signal(stop: StopSignal) {
    setup::stop_signal().await;
    setup::say(
        "rebound serve: stopping (in-flight runs get the shutdown grace period; Ctrl-C again to exit now)",
    );
    stop.stop();
    if tokio::signal::ctrl_c().await.is_ok() {
        setup::say(
            "rebound serve: exiting now; unfinished runs are requeued when their leases expire",
        );
        std::process::exit(130);
    }
}
