//! One simulation: the simulated upstream with the scenario's faults, the
//! prepared config, a SQLite history in the run's folder, and `rebound
//! serve`'s scheduler, worker and alert rounds stepped on a manual clock
//! from the first simulated midnight to the last.
//!
//! Stepping, not running the service's loops: each step ticks the
//! scheduler, drains the queue with the worker (retry waits jump the
//! clock), publishes the completion events, runs the alert rounds that
//! fall before the next step, then
//! jumps the clock to the next instant anything is due. The parts are
//! `serve`'s own (`Scheduler::tick`, `Worker::run_one`, the alert
//! evaluator and deliverer of `rebound_service::alerts`), so the history
//! is what `serve` would have written.

use crate::inject::Injector;
use crate::prepare::{
    Endpoints, Environment, Policy, PrepareError, Prepared, prepare, write_reference,
};
use crate::report::{AlertSent, Observed, Report, build};
use crate::scenario::{Scenario, ScenarioError};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use rebound_domain::clock::{Clock, ManualClock};
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_service::scheduler::{RecordedDecision, Scheduler};
use rebound_service::worker::Worker;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{UpstreamSim, WebhookReceiver};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How a simulation runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The config to simulate; `None`: the reference pipeline.
    pub config: Option<PathBuf>,
    pub policy: Policy,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Overrides the scenario's first date (faults move with it).
    pub from: Option<NaiveDate>,
    /// Overrides the scenario's length.
    pub days: Option<u32>,
    /// Keep the history (and the config it ran with) in this folder.
    pub keep: Option<PathBuf>,
    /// Without `keep`: the folder to make the temporary history in (see
    /// [`crate::scratch`]); `None`: the system's temporary folder.
    pub scratch: Option<PathBuf>,
    /// How often alerts are evaluated on the simulated clock away from
    /// faults: the config's `evaluate_every`, but at least this (each
    /// round costs real time). Within [`FAULT_WATCH`] of a fault's start
    /// or end they are evaluated every [`FAULT_ALERT_EVERY`].
    pub alert_every: Duration,
    /// What a transform inherits (`PATH`, `HOME`, `LANG`), as the caller
    /// read them from its environment; empty: nothing (this crate reads no
    /// environment).
    pub transform_env: Vec<(String, String)>,
    /// Where a `${VAR}` in a field a placeholder cannot stand in for (a
    /// time zone, a duration) is read; `None`: nowhere, and such a
    /// variable is an error.
    pub environment: Option<Environment>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            config: None,
            policy: Policy::AsWritten,
            seed: None,
            from: None,
            days: None,
            keep: None,
            scratch: None,
            alert_every: DEFAULT_ALERT_EVERY,
            transform_env: Vec::new(),
            environment: None,
        }
    }
}

/// Alert rounds away from faults.
pub const DEFAULT_ALERT_EVERY: Duration = Duration::from_secs(30 * 60);

/// Alert rounds near a fault's start or end: the resolution of the
/// report's time to the first alert.
pub const FAULT_ALERT_EVERY: Duration = Duration::from_secs(5 * 60);

/// How long after a fault starts or ends alerts are evaluated every
/// [`FAULT_ALERT_EVERY`].
pub const FAULT_WATCH: TimeDelta = TimeDelta::hours(3);

/// The simulated time before the scenario's first date, without faults,
/// so every dataset has been collected once before anything is measured
/// (a dataset with data behaves as it will all season, rather than as
/// one that never changed, aged from its first call). Nothing from
/// it is counted in the report.
pub const WARM_UP: TimeDelta = TimeDelta::days(1);

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {reason}")]
    Failed { context: String, reason: String },
}

fn failed(context: &str) -> impl Fn(String) -> SimulateError + '_ {
    move |reason| SimulateError::Failed {
        context: context.to_string(),
        reason,
    }
}

/// The run's folder: a temporary one, or `--keep DIR` (created; refused
/// when it already holds a history).
enum Folder {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Folder {
    fn path(&self) -> &Path {
        match self {
            Folder::Temp(dir) => dir.path(),
            Folder::Kept(dir) => dir,
        }
    }
}

/// Refuses a `--keep` folder that holds anything, or is not a folder: a
/// simulation writes `history.db`, `rebound.toml`, `raw/` and `scripts/`
/// there. Only a history was refused before; a user's own `rebound.toml`
/// was overwritten without a word, and a file named `raw` failed the run
/// after the history and config were already written. Nothing is created.
pub fn check_keep(dir: &Path) -> Result<(), SimulateError> {
    let refuse = |why: String| {
        Err(SimulateError::Usage(format!(
            "--keep {}: {why}; choose an empty or new folder (a simulation writes history.db, rebound.toml, raw/ and scripts/ there)",
            dir.display()
        )))
    };
    // The kept config names the history as `sqlite://DIR/history.db`,
    // where a `?` starts SQLite's options: the run failed after writing
    // the config, blaming `pipeline.database`.
    if dir.to_string_lossy().contains('?') {
        return Err(SimulateError::Usage(format!(
            "--keep {}: the kept config could not name a history in a folder whose path holds `?` (in `sqlite://…` it starts SQLite's options); choose another folder",
            dir.display()
        )));
    }
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(entry) => {
                let held = entry.map_or_else(
                    |_| "files".to_string(),
                    |e| e.file_name().to_string_lossy().into_owned(),
                );
                if dir.join("history.db").exists() {
                    refuse("the folder already holds a simulation's history.db".to_string())
                } else {
                    refuse(format!("the folder is not empty (it holds {held})"))
                }
            }
        },
        // Not there yet: it must be possible to make. A name longer than
        // a folder name can be passed here (its parent was missing, which
        // the system reports first) and failed a later run, after earlier
        // ones had finished, with "File name too long".
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match dir
                .components()
                .map(|c| c.as_os_str().len())
                .find(|&n| n > MAX_NAME_BYTES)
            {
                Some(n) => refuse(format!(
                    "a folder name in it is {n} bytes long, more than the {MAX_NAME_BYTES} a name may have; choose a shorter one (with several runs, each gets a subfolder named SCENARIO-VARIANT)"
                )),
                None => Ok(()),
            }
        }
        Err(_) if dir.exists() && !dir.is_dir() => refuse("it is a file, not a folder".to_string()),
        Err(e) => refuse(format!("cannot read the folder: {e}")),
    }
}

/// The longest name of one folder (Linux's and most file systems'
/// `NAME_MAX`).
const MAX_NAME_BYTES: usize = 255;

fn folder(keep: Option<&Path>, scratch: Option<&Path>) -> Result<Folder, SimulateError> {
    match keep {
        // A scratch folder that refuses a new folder (read-only, full) is
        // passed over, not an error: the system's is as good, only slower.
        None => scratch
            .and_then(|dir| tempfile::tempdir_in(dir).ok())
            .map_or_else(tempfile::tempdir, Ok)
            .map(Folder::Temp)
            .map_err(|e| failed("cannot create a temporary folder")(e.to_string())),
        Some(dir) => {
            check_keep(dir)?;
            // A folder that cannot be made is the argument's fault (a file
            // in the way, no permission), not a failed simulation.
            std::fs::create_dir_all(dir).map_err(|e| {
                SimulateError::Usage(format!(
                    "--keep {}: cannot create the folder: {e}",
                    dir.display()
                ))
            })?;
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            Ok(Folder::Kept(dir))
        }
    }
}

/// A loopback address where nothing listens: bound, then released.
async fn closed_port() -> Result<String, SimulateError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| failed("cannot find a free loopback port")(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| failed("cannot find a free loopback port")(e.to_string()))?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

/// Local midnight of `date` in `tz` (the first instant of the day, also
/// on a day that starts in a DST gap).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    rebound_domain::calendar::local_instant(tz, date, NaiveTime::MIN)
}

/// Loads (and checks) the config the scenario runs with.
async fn config_for(
    options: &Options,
    at: &Endpoints,
) -> Result<(Prepared, PathBuf), SimulateError> {
    let path = match &options.config {
        Some(path) => path.clone(),
        None => write_reference(&at.dir)
            .map_err(|e| failed("cannot write the reference config")(e.to_string()))?,
    };
    // Read off the runtime's thread: a FIFO with no writer blocks in
    // `open`, and on `simulate`'s one-thread runtime its stop signal then
    // went unheard until a writer came.
    let read = path.clone();
    let text = tokio::task::spawn_blocking(move || rebound_config::read_config(&read))
        .await
        .map_err(|e| failed("reading the config")(e.to_string()))?
        .map_err(PrepareError::Config)?;
    let prepared = prepare(
        &text,
        &path,
        at,
        options.policy,
        &options.transform_env,
        options.environment,
    )?;
    Ok((prepared, path))
}

/// Loads and checks the config `options` names (with its policy), as a
/// simulation would, without running anything: so a caller running
/// several simulations can refuse a bad config before the first one
/// spends its time.
pub async fn check_config(options: &Options) -> Result<(), SimulateError> {
    check_with(None, options).await
}

/// [`check_config`], and `scenario` against it as [`simulate`] would
/// check it (`--from`/`--days`, names, contradictions, times the zone
/// skips): a caller running several scenarios refuses a bad one before
/// the first spends its time (a contradiction in the second scenario was
/// found after the first had run, and its report was thrown away).
pub async fn check(scenario: &Scenario, options: &Options) -> Result<(), SimulateError> {
    check_with(Some(scenario.clone()), options).await
}

async fn check_with(scenario: Option<Scenario>, options: &Options) -> Result<(), SimulateError> {
    let dir = tempfile::tempdir()
        .map_err(|e| failed("cannot create a temporary folder")(e.to_string()))?;
    let nowhere = "http://127.0.0.1:9".to_string();
    let at = Endpoints {
        upstream: nowhere.clone(),
        receiver: nowhere.clone(),
        closed: nowhere,
        dir: dir.path().to_path_buf(),
    };
    let (prepared, path) = config_for(options, &at).await?;
    // The simulation runs the config's transform commands here, as `serve`
    // would: a missing or non-executable program is refused as `check`
    // refuses it, rather than failing every transformed call. Checked with
    // the PATH the transforms get (`Options::transform_env`), so only here,
    // where a caller asks for the checks before its runs.
    if options.config.is_some() {
        rebound_config::check_commands(&path, &prepared.plan).map_err(PrepareError::Config)?;
    }
    let Some(mut scenario) = scenario else {
        return Ok(());
    };
    reframe(&mut scenario, options)?;
    ready(&mut scenario, &prepared)
}

/// `--from`/`--days` applied to `scenario`; returns the warnings for
/// faults left outside.
fn reframe(scenario: &mut Scenario, options: &Options) -> Result<Vec<String>, SimulateError> {
    scenario
        .reframe(options.from, options.days)
        .map_err(|e| SimulateError::Usage(format!("{}: --from/--days: {e}", scenario.name)))
}

/// The checks of `scenario` that need the config: its names, and its
/// days and times in the pipeline's zone.
fn ready(scenario: &mut Scenario, prepared: &Prepared) -> Result<(), SimulateError> {
    let tz = prepared.plan.pipeline.timezone;
    let names = scenario.check_against(&prepared.names);
    let first = local_midnight(tz, scenario.from);
    if scenario
        .from
        .succ_opt()
        .map(|next| local_midnight(tz, next))
        == Some(first)
    {
        names?;
        return Err(SimulateError::Usage(format!(
            "the first simulated day, {}, does not exist in {tz}: its clocks skip it whole; start on another day",
            scenario.from
        )));
    }
    // Both checks, then all their problems at once: an unknown name and a
    // time the zone skips used to take two runs to find.
    match (names, scenario.check_zone(tz)) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e.into()),
        (Err(mut a), Err(b)) => {
            a.problems.extend(b.problems);
            a.problems.sort_by_key(|p| (p.line, p.column));
            Err(a.into())
        }
    }
}

/// Runs `scenario` and returns its report.
pub async fn simulate(mut scenario: Scenario, options: &Options) -> Result<Report, SimulateError> {
    let real_start = std::time::Instant::now();
    let outside = reframe(&mut scenario, options)?;
    let seed = options.seed.unwrap_or(scenario.seed);
    let folder = folder(options.keep.as_deref(), options.scratch.as_deref())?;
    let sim = UpstreamSim::start()
        .await
        .map_err(|e| failed("cannot start the simulated upstream")(e.to_string()))?;
    sim.set_recording(false);
    let receiver = WebhookReceiver::start_on(0)
        .await
        .map_err(|e| failed("cannot start the alert receiver")(e.to_string()))?;
    let at = Endpoints {
        upstream: sim.base_url(),
        receiver: receiver.base_url(),
        closed: closed_port().await?,
        dir: folder.path().to_path_buf(),
    };
    let (prepared, _) = config_for(options, &at).await?;
    ready(&mut scenario, &prepared)?;
    let shared = scenario.shared_requests(&prepared.names);
    let Prepared {
        plan,
        mut warnings,
        text,
        names,
        ..
    } = prepared;
    warnings.extend(outside);
    warnings.extend(scenario.repeated_times(plan.pipeline.timezone));
    warnings.extend(shared);
    if options.keep.is_some() {
        // Its base URLs name the simulated upstream's loopback port, gone
        // with the simulation: `health` probing them read CRITICAL for
        // every source.
        let kept = format!(
            "# Written by `rebound simulate` beside the history it ran with.\n\
             # Its sources point at the simulated upstream, which ended with the\n\
             # simulation: read this history with `rebound -c THIS_FILE health\n\
             # --no-probe` (or status, alerts, the dashboard); a probe would find\n\
             # nothing listening.\n\n{text}"
        );
        std::fs::write(at.dir.join("rebound.toml"), kept)
            .map_err(|e| failed("cannot write the simulated config")(e.to_string()))?;
    }
    let tz = plan.pipeline.timezone;
    let start = local_midnight(tz, scenario.from);
    let warm_start = local_midnight(tz, scenario.from - WARM_UP);
    let mut boundaries: Vec<DateTime<Utc>> = scenario
        .faults
        .iter()
        .flat_map(|f| [f.start, f.end])
        .map(|t| crate::report::utc(tz, t))
        .collect();
    boundaries.sort();
    boundaries.dedup();
    let end = local_midnight(
        tz,
        scenario.from + TimeDelta::days(i64::from(scenario.days)),
    );

    let manual = Arc::new(ManualClock::new(warm_start));
    let clock: Arc<dyn Clock> = manual.clone();
    let timeouts: BTreeMap<String, Duration> = plan
        .sources
        .iter()
        .map(|(name, s)| (name.clone(), s.timeout))
        .collect();
    // A fault outside the simulated days is warned of as having no effect:
    // armed, it still answered the last round's probes at the end instant
    // and showed "requests hit 1" beside that warning.
    let armed: Vec<_> = scenario
        .faults
        .iter()
        .filter(|f| !scenario.is_outside(f))
        .cloned()
        .collect();
    let injector = Arc::new(Injector::new(&armed, &timeouts, clock.clone(), tz, seed));
    sim.set_fault_hook(Some(injector.clone()));
    sim.set_reference_anchor(scenario.from - WARM_UP);

    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&at.dir.join("history.db"))
            .await
            .map_err(|e| failed("cannot open the simulation's database")(e.to_string()))?,
    );
    let raw = RawStore::open(&plan.pipeline.raw_store)
        .map_err(|e| failed("cannot open the simulation's raw store")(e.to_string()))?;
    let evaluate_every = plan.alerts.evaluate_every.max(options.alert_every);
    let plan = Arc::new(plan);
    let fetcher = Arc::new(
        Fetcher::new(&plan, clock.clone())
            .map_err(|e| failed("cannot set up the fetcher")(e.to_string()))?
            .with_seed(seed),
    );
    // Calls in order: the same seed replays the same history.
    let engine = Arc::new(
        Engine::new(plan.clone(), store.clone(), raw, fetcher, clock.clone()).with_calls_in_order(),
    );
    let wake = Arc::new(Notify::new());
    let scheduler = Scheduler::new(
        engine.clone(),
        clock.clone(),
        "simulate:scheduler".into(),
        wake.clone(),
    );
    let worker = Worker::new(
        engine.clone(),
        clock.clone(),
        "simulate:worker".into(),
        wake,
    );
    let alerts = rebound_service::alerts::alert_service(engine.clone(), clock.clone())
        .map_err(|e| failed("cannot set up the alert loops")(e.to_string()))?;
    // `serve` runs the hand-off publisher in every role: without it every
    // completion event would stay pending, which no real pipeline sees
    // (and the outbox's pending queries would slow down day after day).
    let publisher = rebound_service::handoff::publisher(store.clone(), &plan, clock.clone())
        .map_err(|e| failed("cannot set up the hand-off publisher")(e.to_string()))?;

    let mut observed = Observed::default();
    // Each decision with the simulated instant it was made.
    let mut decisions: Vec<(DateTime<Utc>, RecordedDecision)> = Vec::new();
    let mut next_round = warm_start;
    let mut last_round: Option<DateTime<Utc>> = None;
    let mut seen = 0usize;
    let mut stalled = 0u32;
    let coarse = TimeDelta::from_std(evaluate_every).unwrap_or(TimeDelta::minutes(30));
    let fine = TimeDelta::from_std(FAULT_ALERT_EVERY.max(plan.alerts.evaluate_every))
        .unwrap_or(TimeDelta::minutes(5))
        .min(coarse);
    // The next round after one at `t`: fine while a fault started or
    // ended within FAULT_WATCH, never stepping over a fault's boundary.
    let after = |t: DateTime<Utc>| {
        let near = boundaries.iter().any(|b| *b <= t && t < *b + FAULT_WATCH);
        let next = t + if near { fine } else { coarse };
        boundaries
            .iter()
            .find(|b| **b > t)
            .map_or(next, |b| next.min(*b))
    };
    let mut phases = crate::report::Phases::default();
    loop {
        let now = manual.now();
        if now >= end {
            break;
        }
        let step = std::time::Instant::now();
        sim.set_reference_anchor(now.with_timezone(&tz).date_naive());
        let tick = scheduler
            .tick()
            .await
            .map_err(|e| failed("the scheduler failed")(e.to_string()))?;
        decisions.extend(tick.decisions.into_iter().map(|d| (now, d)));
        phases.ticks += step.elapsed();
        let step = std::time::Instant::now();
        while let Some(_run) = worker
            .run_one()
            .await
            .map_err(|e| failed("the worker failed")(e.to_string()))?
        {}
        phases.runs += step.elapsed();
        let step = std::time::Instant::now();
        loop {
            let round = publisher
                .publish_due()
                .await
                .map_err(|e| failed("publishing completion events")(e.to_string()))?;
            if round.claimed == 0 || round.published == 0 {
                break;
            }
        }
        phases.publishing += step.elapsed();
        let mut next = tick.next_check.unwrap_or(end);
        if let Some(due) = store
            .next_run_at(manual.now())
            .await
            .map_err(|e| failed("reading the run queue")(e.to_string()))?
        {
            next = next.min(due);
        }
        let step = std::time::Instant::now();
        while next_round <= manual.now() {
            phases.alert_round_count += 1;
            let measured = (manual.now() >= start).then_some(last_round).flatten();
            round(
                &alerts,
                &receiver,
                &manual,
                &mut observed,
                &mut seen,
                measured,
                start,
            )
            .await?;
            last_round = Some(manual.now());
            next_round = after(next_round).max(next_round + TimeDelta::seconds(1));
        }
        phases.alert_rounds += step.elapsed();
        let target = next.min(next_round).min(end);
        let now = manual.now();
        if target > now {
            stalled = 0;
            manual.advance((target - now).to_std().unwrap_or_default());
        } else {
            // Something says "now" again and again: move on rather than
            // spin (a minute is below every schedule's resolution).
            stalled += 1;
            if stalled > 20 {
                manual.advance(Duration::from_secs(60));
                stalled = 0;
            }
        }
    }
    round(
        &alerts,
        &receiver,
        &manual,
        &mut observed,
        &mut seen,
        last_round,
        start,
    )
    .await?;

    let mut report = build(
        &scenario,
        &names.scrapers,
        &engine,
        &observed,
        &decisions,
        &injector.hits(),
        start,
        end,
    )
    .await
    .map_err(|e| failed("reading the simulation's history")(e.to_string()))?;
    report.policy = options.policy.name().to_string();
    report.config = options.config.as_ref().map_or(
        "the reference pipeline (examples/nba/rebound.toml)".to_string(),
        |p| p.display().to_string(),
    );
    report.seed = seed;
    // The report's own warnings (nothing ran, alerts open from the
    // warm-up) after those of the setup.
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    report.alert_resolution_seconds = coarse.num_seconds();
    report.fault_alert_resolution_seconds = fine.num_seconds();
    report.kept = options.keep.as_ref().map(|_| at.dir.display().to_string());
    store
        .checkpoint()
        .await
        .map_err(|e| failed("checkpointing the simulation's database")(e.to_string()))?;
    sim.set_fault_hook(None);
    sim.shutdown().await;
    receiver.shutdown().await;
    report.elapsed_seconds = real_start.elapsed().as_secs_f64();
    report.phases = phases;
    drop(folder);
    Ok(report)
}

/// One alert round as `serve` does it: the health report at now, the
/// evaluator, the deliverer; then what reached the receiver, stamped with
/// the simulated time, and the freshness figures of the report.
async fn round(
    alerts: &rebound_alerts::AlertService,
    receiver: &WebhookReceiver,
    clock: &ManualClock,
    observed: &mut Observed,
    seen: &mut usize,
    last_round: Option<DateTime<Utc>>,
    measured_from: DateTime<Utc>,
) -> Result<(), SimulateError> {
    let now = clock.now();
    let health = alerts
        .source
        .report(now)
        .await
        .map_err(failed("building the health report"))?;
    if let Some(previous) = last_round {
        let since = (now - previous.max(measured_from)).num_seconds().max(0);
        for dataset in &health.datasets {
            let f = &dataset.freshness;
            // Past its SLA exactly when the report grades it stale (its
            // first threshold passed, or, never changed, that long since
            // its first call), so the figure and the alerts agree.
            if f.level > rebound_health::Level::Ok {
                *observed
                    .past_sla_seconds
                    .entry(dataset.name.clone())
                    .or_insert(0) += since;
            } else if f.fresh_warn_seconds.or(f.fresh_error_seconds).is_some() {
                observed
                    .past_sla_seconds
                    .entry(dataset.name.clone())
                    .or_insert(0);
            }
        }
    }
    alerts
        .evaluator
        .evaluate(&health)
        .await
        .map_err(|e| failed("evaluating the alert conditions")(e.to_string()))?;
    alerts
        .deliverer
        .deliver_due()
        .await
        .map_err(|e| failed("delivering alerts")(e.to_string()))?;
    let received = receiver.received();
    // Notifications of the warm-up are not the scenario's.
    let counted = now >= measured_from;
    if counted && observed.open_at_start.is_none() {
        observed.open_at_start = Some(observed.warm_up_open.clone());
    }
    let before = observed.alerts.len();
    // One notification goes to every sink that wants it: counted once, as
    // an alert sent, not once per sink (a second sink doubled the counts).
    let mut notified = std::collections::BTreeSet::new();
    for message in received
        .iter()
        .skip(*seen)
        .filter(|m| m.path.starts_with("/alerts/"))
    {
        let body: serde_json::Value = serde_json::from_str(&message.body).unwrap_or_default();
        let field = |k: &str| {
            body.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let incident = (field("condition"), field("subject"));
        let event = field("event");
        // An incident the warm-up opened is the warm-up's to the end: its
        // recovery used to be counted, so "recovered" could exceed
        // "opened".
        if !counted {
            match event.as_str() {
                "opened" => observed.warm_up_open.insert(incident),
                "recovered" => observed.warm_up_open.remove(&incident),
                _ => false,
            };
            continue;
        }
        if observed.warm_up_open.contains(&incident) {
            if event == "recovered" {
                observed.warm_up_open.remove(&incident);
            }
            continue;
        }
        if !notified.insert((event, incident.0, incident.1)) {
            continue;
        }
        observed.alerts.push(AlertSent {
            at: now,
            event: field("event"),
            condition: field("condition"),
            subject: field("subject"),
            level: field("level"),
            message: field("message"),
        });
    }
    // The deliverer posts a round's notifications side by side, so they
    // arrive in any order: sorted, a seed replays the same report.
    observed.alerts[before..].sort_by(|a, b| {
        (&a.condition, &a.subject, &a.event).cmp(&(&b.condition, &b.subject, &b.event))
    });
    *seen = received.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Folder, folder};

    #[test]
    fn a_temporary_history_goes_into_the_scratch_folder_when_it_can() {
        let scratch = tempfile::tempdir().unwrap();
        let made = folder(None, Some(scratch.path())).unwrap();
        assert!(matches!(made, Folder::Temp(_)));
        assert!(made.path().starts_with(scratch.path()));
        assert!(made.path().is_dir());
        // One that cannot hold it is passed over for the system's.
        let missing = scratch.path().join("missing");
        let made = folder(None, Some(&missing)).unwrap();
        assert!(!made.path().starts_with(&missing));
        assert!(made.path().is_dir());
        // `--keep` wins over it.
        let kept = scratch.path().join("kept");
        let made = folder(Some(&kept), Some(scratch.path())).unwrap();
        assert_eq!(made.path(), std::path::absolute(&kept).unwrap());
    }

    /// Before: passed (its parent was missing, which the system reports
    /// before the name's length), and the run that made it failed after
    /// the earlier runs of the command had finished.
    #[test]
    fn a_keep_folder_whose_name_is_too_long_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("missing").join("x".repeat(256));
        let error = super::check_keep(&long).unwrap_err().to_string();
        assert!(
            error.contains("a folder name in it is 256 bytes long, more than the 255"),
            "{error}"
        );
        assert!(super::check_keep(&dir.path().join("missing").join("x".repeat(255))).is_ok());
    }
}
