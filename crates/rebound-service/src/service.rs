//! `rebound serve` as one start/stop API: [`Service::start`] wires the
//! tasks a role runs, [`Handle`] stops them and waits for them.
//!
//! The CLI, the tests and a simulator start the same runtime: the CLI only
//! parses arguments, opens the store, picks the system clock, turns
//! SIGTERM/Ctrl-C into [`Handle::stop`] and prints; tests start it
//! in-process on a database of their own and learn the bound address of
//! `[server] listen = "127.0.0.1:0"` from [`Handle::local_addr`].
//!
//! Everything that can fail (the engine's raw store and HTTP client, the
//! alert prober, binding the endpoint) is done before the first task is
//! spawned, so a failed start leaves nothing running. Once started, the
//! tasks of a role are:
//!
//! - roles all and scheduler: the [`Scheduler`] loop; the retention
//!   [`Purger`] (hourly, with `[pipeline] retention`); the alert evaluator
//!   and deliverer (`[alerts]`);
//! - roles all and worker: the [`Worker`] loop, `workers` runs at once;
//! - every role: the hand-off [`crate::handoff::Publisher`], which sends
//!   pending completion events to `[handoff.sinks]` (claims in the store
//!   keep several publishers from posting one event at once), the NATS
//!   acknowledgement listeners of its `kind = "nats"` sinks, and, with
//!   `[handoff] ack_required`, the [`crate::reconcile::Reconciler`], which
//!   redelivers unacknowledged events once a minute;
//! - every role, with `[server] listen`: `/metrics`, `/healthz`, the
//!   JSON API under `/api/v1/` and the dashboard ([`crate::http`]).
//!
//! Stopping tells every task at once; workers let in-flight runs finish
//! within `[scheduler] shutdown_grace` and release the rest.

use crate::alerts::alert_service;
use crate::retention::Purger;
use crate::scheduler::Scheduler;
use crate::worker::Worker;
use rebound_domain::clock::Clock;
use rebound_domain::plan::{DatabaseLocation, Plan};
use rebound_engine::Engine;
use rebound_fetch::{Fetcher, FetcherSetupError};
use rebound_metrics::Metrics;
use rebound_metrics::exporter::{DatasetAges, Exporter};
use rebound_raw::{RawStore, RawStoreError};
use rebound_storage::{LimitsStore, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// What one `rebound serve` process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Scheduler and workers in one process (SQLite or PostgreSQL).
    All,
    /// Only evaluate schedules, queue runs, purge and alert (PostgreSQL).
    Scheduler,
    /// Only execute queued runs (PostgreSQL).
    Worker,
    /// Only serve `[server] listen` (dashboard, API, metrics) and run
    /// nothing: `rebound demo --serve` on the demo's finished history.
    Web,
}

impl Role {
    /// The name of the role as `--role` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Scheduler => "scheduler",
            Role::Worker => "worker",
            Role::Web => "web",
        }
    }

    fn schedules(self) -> bool {
        matches!(self, Role::All | Role::Scheduler)
    }

    fn works(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// Everything [`Service::start`] needs besides the store and the clock.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The validated config.
    pub plan: Plan,
    pub role: Role,
    /// Runs executed at once (roles all and worker); 0 counts as 1.
    pub workers: usize,
    /// This machine's name, for decision and lease owners
    /// (`host:pid:role`, see [`crate::instance_name`]). Passed in because
    /// only the CLI reads the environment.
    pub host: String,
}

/// Why the service did not start. Nothing is left running after one.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Roles scheduler and worker split one deployment across processes,
    /// which only a database shared by all of them allows.
    #[error(
        "role {} needs a PostgreSQL database shared by all processes; this config uses {database}",
        .role.name()
    )]
    NeedsSharedDatabase { role: Role, database: String },
    /// Role web serves `[server] listen` and nothing else: without it, the
    /// process would do nothing at all.
    #[error("role web serves [server] listen, which this config does not set")]
    WebWithoutListen,
    /// `[server] listen` could not be bound (usually: the port is taken).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    RawStore(#[from] RawStoreError),
    #[error(transparent)]
    Fetcher(#[from] FetcherSetupError),
}

/// The runtime of `rebound serve`; see the module docs.
pub struct Service;

impl Service {
    /// Refuses a role the plan's database cannot serve; [`Service::start`]
    /// checks it too, this lets a caller refuse before opening the store.
    pub fn check_role(plan: &Plan, role: Role) -> Result<(), StartError> {
        if role == Role::Web && plan.server.listen.is_none() {
            return Err(StartError::WebWithoutListen);
        }
        if matches!(role, Role::Scheduler | Role::Worker)
            && matches!(plan.pipeline.database, DatabaseLocation::Sqlite { .. })
        {
            return Err(StartError::NeedsSharedDatabase {
                role,
                database: plan.database_display(),
            });
        }
        Ok(())
    }

    /// Builds the engine on `store`, binds `[server] listen` (before
    /// anything is scheduled, so a port in use stops the start), then
    /// spawns the role's tasks on the current tokio runtime.
    pub async fn start(
        config: ServiceConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Handle, StartError> {
        let ServiceConfig {
            plan,
            role,
            workers,
            host,
        } = config;
        Service::check_role(&plan, role)?;
        let summary = Summary {
            role,
            scheduled_workflows: plan
                .workflows
                .values()
                .filter(|w| w.schedule.is_some())
                .count(),
            database: plan.database_display(),
            purge_older_than: plan.pipeline.retention.filter(|_| role.schedules()),
        };
        let listen = plan.server.listen;
        let metrics = Arc::new(Metrics::for_plan(&plan));
        let engine = Arc::new(
            serve_engine(plan, store.clone(), clock.clone())?.with_metrics(metrics.clone()),
        );

        // Every fallible step before the first spawn.
        let listener = match listen {
            Some(addr) => Some(
                crate::http::bind(addr).map_err(|source| StartError::Listen { addr, source })?,
            ),
            None => None,
        };
        // The bound address, which differs from the configured one for port 0.
        let local_addr = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok().or(listen));
        let purger = match summary.purge_older_than {
            Some(retention) => Some(Purger::new(
                store.clone(),
                RawStore::open(&engine.plan().pipeline.raw_store)?,
                clock.clone(),
                retention,
            )),
            None => None,
        };
        let publisher = crate::handoff::publisher(store.clone(), engine.plan(), clock.clone())?
            .with_metrics(metrics.clone());
        let alerts = if role.schedules() {
            Some(alert_service(engine.clone(), clock.clone())?)
        } else {
            None
        };

        let (stop, stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let api_runs = crate::http::ApiRuns::default();
        let mut tasks = JoinSet::new();
        if let Some(listener) = listener {
            let exporter = Arc::new(
                Exporter::new(metrics, store.clone(), clock.clone())
                    .with_dataset_ages(Arc::new(FreshnessAges(engine.clone()))),
            );
            let web = Arc::new(crate::http::Web {
                engine: engine.clone(),
                clock: clock.clone(),
                exporter,
                host: host.clone(),
                wake: wake.clone(),
                api_runs: api_runs.clone(),
                health: Default::default(),
                runs_nothing: role == Role::Web,
            });
            tasks.spawn(crate::http::serve(
                listener,
                crate::http::router(web),
                stopped.clone(),
                engine.plan().scheduler.shutdown_grace,
                crate::http::Patience::default(),
                api_runs.clone(),
            ));
        }
        if role.schedules() {
            let scheduler = Arc::new(Scheduler::new(
                engine.clone(),
                clock.clone(),
                crate::instance_name(&host, "scheduler"),
                wake.clone(),
            ));
            tasks.spawn(scheduler.run_loop(stopped.clone()));
        }
        // The purge runs next to the scheduler (one per deployment, not one
        // per worker); its batches keep it out of the workers' way.
        if let Some(purger) = purger {
            tasks.spawn(Arc::new(purger).run_loop(stopped.clone()));
        }
        // Alerts are evaluated where schedules are: with several schedulers
        // on one database, the unique open incident and the claimed
        // deliveries keep each notification single.
        if let Some(alerts) = alerts {
            tasks.spawn(Arc::new(alerts).run(stopped.clone()));
        }
        if role == Role::Web {
            // Serves the history as it is: nothing is sent or scheduled.
            // Only the runs of processes that died are closed, as any
            // command that opens the history does: when every worker is
            // down, nothing else would, and the pages would show those
            // runs `running` for as long as the outage lasts.
            tasks.spawn(close_dead_runs_loop(
                store.clone(),
                clock.clone(),
                stopped.clone(),
            ));
            return Ok(Handle {
                stop: StopSignal::new(stop),
                tasks,
                local_addr,
                summary,
                engine,
                api_runs,
            });
        }
        tasks.spawn(Arc::new(publisher).run_loop(crate::handoff::PUBLISH_POLL, stopped.clone()));
        // Only with acknowledgements on: otherwise published means done.
        // Every role runs it (like the publisher); rounds in several
        // processes change each event once.
        let ack = engine.plan().handoff.ack;
        if ack.ack_required {
            let reconciler = crate::reconcile::Reconciler::new(store.clone(), clock.clone(), ack);
            tasks.spawn(
                Arc::new(reconciler).run_loop(crate::reconcile::RECONCILE_EVERY, stopped.clone()),
            );
        }
        // Acknowledgements over NATS, one subscription per (server, subject);
        // a queue group keeps several serve processes from each taking one.
        for listener in crate::handoff::nats::ack_listeners(
            store.clone(),
            &engine.plan().handoff.sinks,
            clock.clone(),
        ) {
            tasks.spawn(listener.run(stopped.clone()));
        }
        if role.works() {
            let worker = Arc::new(Worker::new(
                engine.clone(),
                clock.clone(),
                crate::instance_name(&host, "worker"),
                wake.clone(),
            ));
            tasks.spawn(worker.run_loop(workers.max(1), stopped.clone()));
        }
        Ok(Handle {
            stop: StopSignal::new(stop),
            tasks,
            local_addr,
            summary,
            engine,
            api_runs,
        })
    }
}

/// How often `serve --role web` closes the runs of processes that died.
const CLOSE_DEAD_RUNS_EVERY: Duration = Duration::from_secs(30);

/// Closes dead processes' runs now and every [`CLOSE_DEAD_RUNS_EVERY`]
/// until shutdown ([`rebound_engine::liveness::close_dead_runs`]).
async fn close_dead_runs_loop(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        if let Err(error) =
            rebound_engine::liveness::close_dead_runs(store.as_ref(), clock.now()).await
        {
            tracing::warn!(%error, "Could not close the runs of processes that exited; trying again shortly.");
        }
        // Real time, not the clock's: a manual clock's sleep moves its
        // time on, which this bookkeeping must not do.
        tokio::select! {
            _ = tokio::time::sleep(CLOSE_DEAD_RUNS_EVERY) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// What a started service runs, for the lines the CLI prints at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub role: Role,
    pub scheduled_workflows: usize,
    /// The database, its password masked.
    pub database: String,
    /// The retention purge's horizon, when this process purges.
    pub purge_older_than: Option<Duration>,
}

/// Asks a running service to stop; cheap to clone and send to a signal
/// handler while the [`Handle`] waits.
#[derive(Debug, Clone)]
pub struct StopSignal {
    flag: Arc<watch::Sender<bool>>,
    /// When the first stop was asked for: `shutdown_grace` counts from
    /// there for every kind of run, so the whole stop takes one grace.
    at: Arc<std::sync::OnceLock<tokio::time::Instant>>,
}

impl StopSignal {
    fn new(flag: watch::Sender<bool>) -> StopSignal {
        StopSignal {
            flag: Arc::new(flag),
            at: Arc::default(),
        }
    }

    /// Stops claiming and scheduling; returns at once (the tasks wind down
    /// in the background, see [`Handle::wait`]).
    pub fn stop(&self) {
        self.at.get_or_init(tokio::time::Instant::now);
        self.flag.send_replace(true);
    }
}

/// A started service. Dropping it without [`Handle::stop`] or
/// [`Handle::wait`] aborts its tasks without the shutdown grace.
pub struct Handle {
    stop: StopSignal,
    tasks: JoinSet<()>,
    local_addr: Option<SocketAddr>,
    summary: Summary,
    engine: Arc<Engine>,
    api_runs: crate::http::ApiRuns,
}

impl Handle {
    /// The address `/metrics` and `/healthz` answer on (`[server] listen`
    /// with the port the system picked for port 0); `None` without
    /// `listen`.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The engine the workers run: its plan, store and metrics registry.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A way to stop the service from elsewhere (a signal handler).
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    /// Waits until every task has ended: after a stop, in-flight runs (the
    /// workers' and those started over the API) have finished or, past
    /// `[scheduler] shutdown_grace`, been released or stopped.
    pub async fn wait(mut self) {
        while let Some(ended) = self.tasks.join_next().await {
            if let Err(error) = ended {
                tracing::error!(%error, "A service task panicked.");
            }
        }
        // The HTTP server has stopped: no new run can start over the API.
        // The API's runs went on while the workers drained theirs; they get
        // what is left of the same grace, counted from the stop (from now
        // if the tasks ended without one).
        let grace = self.engine.plan().scheduler.shutdown_grace;
        let stopped = self
            .stop
            .at
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now);
        // `shutdown_grace` is at most an hour (the config's bounds), so the
        // sum cannot overflow.
        self.api_runs.finish(stopped + grace).await;
    }

    /// Stops the service and waits for it (see [`Handle::wait`]); the
    /// grace period for in-flight runs is the plan's
    /// `[scheduler] shutdown_grace`.
    pub async fn stop(self) {
        self.stop.stop();
        self.wait().await;
    }
}

/// The engine of `rebound serve`: on PostgreSQL, where several serve
/// processes share one database, its fetcher keeps every source's rate
/// limit, pauses and retry budget in that database, so three workers
/// together keep a source to its `rate_limit` instead of three times it.
/// On SQLite serve is one process, whose own limiter already sees every
/// request.
fn serve_engine(
    plan: Plan,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Result<Engine, StartError> {
    let share = matches!(plan.pipeline.database, DatabaseLocation::Postgres { .. });
    let raw = RawStore::open(&plan.pipeline.raw_store)?;
    let mut fetcher = Fetcher::new(&plan, clock.clone())?;
    if share {
        let limits: Arc<dyn LimitsStore> = store.clone();
        fetcher = fetcher.with_shared_limits(limits);
    }
    Ok(Engine::new(
        Arc::new(plan),
        store,
        raw,
        Arc::new(fetcher),
        clock,
    ))
}

/// Feeds `rebound_dataset_age_seconds` from the same freshness rule as
/// `rebound freshness` (only payloads that carried new, non-empty records
/// count), so the gauge and the report never disagree.
struct FreshnessAges(Arc<Engine>);

#[async_trait::async_trait]
impl DatasetAges for FreshnessAges {
    async fn dataset_ages(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, Duration)>, String> {
        let engine = &*self.0;
        let datasets = rebound_health::freshness(
            engine.plan(),
            &**engine.store(),
            &crate::observe::EngineCalendars(engine),
            now,
        )
        .await
        .map_err(|error| error.to_string())?;
        Ok(datasets
            .into_iter()
            .filter_map(|d| {
                let age = u64::try_from(d.freshness.age_seconds?).ok()?;
                Some((d.name, Duration::from_secs(age)))
            })
            .collect())
    }
}
