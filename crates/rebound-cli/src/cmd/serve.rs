//! `rebound serve`: the long-running service.
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
//! HTTP (`crate::http`) until it stops.

use crate::{Failure, http, setup};
use anyhow::anyhow;
use clap::{Args, ValueEnum};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::plan::DatabaseLocation;
use rebound_metrics::Metrics;
use rebound_metrics::exporter::Exporter;
use rebound_service::retention::Purger;
use rebound_service::scheduler::Scheduler;
use rebound_service::worker::Worker;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::{Notify, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Scheduler and workers in one process.
    All,
    /// Only evaluate schedules and queue runs (PostgreSQL).
    Scheduler,
    /// Only execute queued runs (PostgreSQL).
    Worker,
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
    if args.role != Role::All && matches!(plan.pipeline.database, DatabaseLocation::Sqlite { .. }) {
        return Err(Failure::Usage(anyhow!(
            "--role {} needs a PostgreSQL database shared by all processes; this config uses {} (SQLite serves one process: use --role all)",
            role_name(args.role),
            plan.pipeline.database.display_safe()
        )));
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let database = plan.pipeline.database.display_safe();
    let scheduled = plan
        .workflows
        .values()
        .filter(|w| w.schedule.is_some())
        .count();
    let retention = plan.pipeline.retention;
    let raw_store = plan.pipeline.raw_store.clone();
    let listen = plan.server.listen;
    let metrics = Arc::new(Metrics::for_plan(&plan));
    let engine = Arc::new(
        setup::serve_engine(plan, clock.clone())
            .await?
            .with_metrics(metrics.clone()),
    );
    // Bound before anything is scheduled: a port in use stops the start.
    let listener = match listen {
        Some(addr) => Some(http::bind(addr, config).await?),
        None => None,
    };
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(wait_for_signal(stop));
    let wake = Arc::new(Notify::new());

    setup::say(&format!(
        "rebound serve: role {}, {scheduled} scheduled workflows, database {database}; Ctrl-C or SIGTERM stops it",
        role_name(args.role)
    ));
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(listener) = listener {
        // The bound address, which differs from the configured one for port 0.
        let bound = listener.local_addr().ok().or(listen);
        if let Some(addr) = bound {
            setup::say(&format!("rebound serve: metrics at http://{addr}/metrics"));
        }
        let exporter = Arc::new(
            Exporter::new(metrics, engine.store().clone(), clock.clone())
                .with_dataset_ages(Arc::new(FreshnessAges(engine.clone()))),
        );
        tasks.spawn(http::serve(listener, exporter, stopped.clone()));
    }
    if matches!(args.role, Role::All | Role::Scheduler) {
        let scheduler = Arc::new(Scheduler::new(
            engine.clone(),
            clock.clone(),
            rebound_service::instance_name("scheduler"),
            wake.clone(),
        ));
        tasks.spawn(scheduler.run_loop(stopped.clone()));
        // The purge runs next to the scheduler (one per deployment, not one
        // per worker); its batches keep it out of the workers' way.
        if let Some(retention) = retention {
            let purger = Arc::new(Purger::new(
                engine.store().clone(),
                rebound_raw::RawStore::open(&raw_store)?,
                clock.clone(),
                retention,
            ));
            setup::say(&format!(
                "rebound serve: purging history older than {} every hour",
                rebound_domain::duration::format_duration(retention)
            ));
            tasks.spawn(purger.run_loop(stopped.clone()));
        }
    }
    if matches!(args.role, Role::All | Role::Scheduler) {
        // Alerts are evaluated where schedules are: with several schedulers
        // on one database, the unique open incident and the claimed
        // deliveries keep each notification single.
        let alerts = rebound_service::alerts::alert_service(engine.clone(), clock.clone())?;
        tasks.spawn(Arc::new(alerts).run(stopped.clone()));
    }
    if matches!(args.role, Role::All | Role::Worker) {
        let worker = Arc::new(Worker::new(
            engine.clone(),
            clock.clone(),
            rebound_service::instance_name("worker"),
            wake.clone(),
        ));
        tasks.spawn(worker.run_loop(usize::from(args.workers), stopped.clone()));
    }
    while tasks.join_next().await.is_some() {}
    setup::say("rebound serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Feeds `rebound_dataset_age_seconds` from the same freshness rule as
/// `rebound freshness` (only payloads that carried new, non-empty records
/// count), so the gauge and the report never disagree.
struct FreshnessAges(Arc<rebound_engine::Engine>);

#[async_trait::async_trait]
impl rebound_metrics::exporter::DatasetAges for FreshnessAges {
    async fn dataset_ages(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, std::time::Duration)>, String> {
        let engine = &*self.0;
        let datasets = rebound_health::freshness(
            engine.plan(),
            &**engine.store(),
            &rebound_service::observe::EngineCalendars(engine),
            now,
        )
        .await
        .map_err(|error| error.to_string())?;
        Ok(datasets
            .into_iter()
            .filter_map(|d| {
                let age = u64::try_from(d.freshness.age_seconds?).ok()?;
                Some((d.name, std::time::Duration::from_secs(age)))
            })
            .collect())
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::All => "all",
        Role::Scheduler => "scheduler",
        Role::Worker => "worker",
    }
}

/// Turns the first SIGTERM or Ctrl-C into a shutdown request; a second
/// Ctrl-C exits at once.
async fn wait_for_signal(stop: watch::Sender<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(error) => {
                tracing::error!(%error, "Cannot listen for SIGTERM; only Ctrl-C stops the service.");
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop.send(true);
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    setup::say(
        "rebound serve: stopping (in-flight runs get the shutdown grace period; Ctrl-C again to exit now)",
    );
    let _ = stop.send(true);
    if tokio::signal::ctrl_c().await.is_ok() {
        setup::say(
            "rebound serve: exiting now; unfinished runs are requeued when their leases expire",
        );
        std::process::exit(130);
    }
}
