//! The `full-season` scenario end to end (issue 17 item 5): about 175
//! simulated days of the reference pipeline with every call recorded in
//! SQLite, timed on the wall clock. Prints the time, where it went, and the
//! report's figures, and fails when a target of the scenario is missed.
//!
//! `cargo bench -p rebound-simulate --bench full_season` (release profile);
//! `-- --days N` simulates only the first N days, `--alert-every-minutes M`
//! evaluates alerts every M minutes away from faults, `--keep DIR` keeps
//! the history in DIR, `--log-queries` logs every statement with its time
//! to stderr, `--multi-thread` runs it on a two-worker runtime instead of
//! the one thread `rebound simulate` uses, `--no-pin` lets its threads run
//! on any CPU (as `rebound simulate --no-pin`), `--floors` also measures, in the
//! same process after the simulation, the two costs this design cannot go
//! below (see [`floors`]). The figures are in `docs/benchmarks.md`.

use rebound_simulate::{Options, builtin, simulate};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `println!` panics when stdout is closed (`$B | head -1`); the bench
/// stops instead, with the status a shell gives a process ended by SIGPIPE,
/// as `rebound` does.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(141);
        }
    }};
}

fn main() -> ExitCode {
    let mut days = None;
    let mut keep = None;
    let mut floors = false;
    let mut multi_thread = false;
    let mut pin = true;
    let mut log_queries = false;
    let mut alert_every = rebound_simulate::runner::DEFAULT_ALERT_EVERY;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--days" => days = args.next().and_then(|d| d.parse().ok()),
            // Keeps the history, to read the queries' plans against it.
            "--keep" => keep = args.next().map(PathBuf::from),
            // Every statement with its time on stderr (sqlx's query log),
            // to count what a simulated day costs.
            "--log-queries" => log_queries = true,
            "--floors" => floors = true,
            "--multi-thread" => multi_thread = true,
            "--no-pin" => pin = false,
            // Alert rounds away from faults every N minutes (default 30):
            // shows what the rounds cost.
            "--alert-every-minutes" => {
                if let Some(m) = args.next().and_then(|m| m.parse::<u64>().ok()) {
                    alert_every = Duration::from_secs(m * 60);
                }
            }
            _ => {}
        }
    }
    let statements = Arc::new(Counted::default());
    if log_queries {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("sqlx::query=debug"))
            .with_writer(std::io::stderr)
            .init();
    } else if floors {
        use tracing_subscriber::prelude::*;
        let only_statements = tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG);
        tracing_subscriber::registry()
            .with(CountStatements(statements.clone()).with_filter(only_statements))
            .init();
    }
    // `--floors` reads the history afterwards: keep it somewhere.
    let floors_folder = (floors && keep.is_none()).then(|| {
        // Where the season would have written it without `--floors`.
        scratch()
            .unwrap_or_else(std::env::temp_dir)
            .join(format!("rebound-full-season-{}", std::process::id()))
    });
    let keep = keep.or_else(|| floors_folder.clone());
    // As `rebound simulate` does, before any thread it should take along.
    let _pinned = if pin {
        match rebound_simulate::pin::pin_to_a_free_cpu() {
            Ok(Some(pinned)) => {
                say!(
                    "pinned to CPU {}{}",
                    pinned.cpu,
                    if pinned.claimed {
                        ""
                    } else {
                        " (shared: no CPU was free)"
                    }
                );
                Some(pinned)
            }
            Ok(None) => {
                say!("not pinned: not supported here");
                None
            }
            Err(e) => {
                say!("not pinned: {e}");
                None
            }
        }
    } else {
        None
    };
    // `rebound simulate` runs on one thread (see the CLI's `main`);
    // `--multi-thread` measures the two-worker runtime it replaced.
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("a runtime");
    let scenario = match builtin::load("full-season") {
        Some(Ok(s)) => s,
        _ => {
            eprintln!("the built-in full-season scenario does not load");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        days,
        alert_every,
        keep: keep.clone(),
        scratch: scratch(),
        transform_env: transform_env(),
        ..Options::default()
    };
    let started = Instant::now();
    let report = match runtime.block_on(simulate(scenario, &options)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("full-season: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed();
    say!(
        "full-season: {} days, {} runs, {} calls, {} attempts, {} alerts sent in {:.1}s ({:.1} ms per simulated day)",
        report.days,
        report.runs.total,
        report.calls.total,
        report.calls.attempts,
        report.alerts.opened + report.alerts.reminders + report.alerts.recovered,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / f64::from(report.days.max(1)),
    );
    let p = report.phases;
    say!(
        "where the time went: runs {:.1}s, alert rounds {:.1}s ({} rounds, {:.2} ms each), ticks {:.1}s, publishing {:.1}s, the rest {:.1}s",
        p.runs.as_secs_f64(),
        p.alert_rounds.as_secs_f64(),
        p.alert_round_count,
        p.alert_rounds.as_secs_f64() * 1000.0 / p.alert_round_count.max(1) as f64,
        p.ticks.as_secs_f64(),
        p.publishing.as_secs_f64(),
        (elapsed - (p.runs + p.alert_rounds + p.ticks + p.publishing)).as_secs_f64(),
    );
    say!(
        "failure rate {:.4}, completeness {:.5} ({} of {} entities)",
        report.failure_rate,
        report.completeness.completeness_rate,
        report.completeness.collected,
        report.completeness.expected
    );
    let mut met = true;
    for target in &report.targets {
        say!(
            "target {}: wanted {}, measured {}: {}",
            target.target,
            target.wanted,
            target.measured,
            if target.met { "met" } else { "MISSED" }
        );
        met &= target.met;
    }
    if elapsed.as_secs_f64() >= 10.0 {
        say!("speed target (under 10 s): MISSED");
    }
    if floors && let Some(dir) = &keep {
        let counted = statements.statements.load(Ordering::Relaxed);
        let executing = Duration::from_nanos(statements.executing_ns.load(Ordering::Relaxed));
        if let Err(e) = runtime.block_on(floors::report(dir, counted, executing, elapsed)) {
            eprintln!("floors: {e}");
            met = false;
        }
    }
    if let Some(dir) = floors_folder {
        let _ = std::fs::remove_dir_all(dir);
    }
    if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Counts sqlx's per-statement log events and adds up the time each
/// statement took on sqlx's SQLite thread (its `elapsed_secs` field),
/// without formatting anything.
struct CountStatements(Arc<Counted>);

#[derive(Default)]
struct Counted {
    statements: AtomicU64,
    /// Nanoseconds inside SQLite, summed.
    executing_ns: AtomicU64,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountStatements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Elapsed(f64);
        impl tracing::field::Visit for Elapsed {
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                if field.name() == "elapsed_secs" {
                    self.0 = value;
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut elapsed = Elapsed(0.0);
        event.record(&mut elapsed);
        self.0.statements.fetch_add(1, Ordering::Relaxed);
        self.0
            .executing_ns
            .fetch_add((elapsed.0 * 1e9) as u64, Ordering::Relaxed);
    }
}

/// The costs a simulated season cannot go below in this design, measured
/// on this machine right after the season: every SQL statement is a
/// hand-off from the runtime to sqlx's SQLite thread and back, and every
/// transformed payload is one process of the config's `transform.command`
/// (a `keep_running` one: every scraper's).
/// Statements × the hand-off of a trivial read, plus transforms × the
/// start of one transform process, is what the season would cost if
/// everything else were free.
mod floors {
    use super::*;
    use rebound_storage::Store;

    pub async fn report(
        dir: &Path,
        statements: u64,
        executing: Duration,
        wall: Duration,
    ) -> Result<(), String> {
        let hand_off = statement_round_trip().await?;
        let commands = transform_commands(&dir.join("rebound.toml"))?;
        let runs = transform_runs(&dir.join("history.db"), &commands).await?;
        let mut spawn_total = 0.0;
        say!(
            "floor: {statements} statements x {:.1} us (median round trip of a trivial read) = {:.1}s",
            hand_off.as_secs_f64() * 1e6,
            statements as f64 * hand_off.as_secs_f64()
        );
        for (command, scrapers, keep_running) in &commands {
            // A `keep_running` command is one process per scraper that
            // transformed anything (a restart after a failed document is
            // not counted); otherwise one per stored payload.
            let n: u64 = scrapers
                .iter()
                .map(|s| runs.get(s).copied().unwrap_or(0))
                .map(|stored| if *keep_running { stored.min(1) } else { stored })
                .sum();
            let start = process_start(dir, command)?;
            spawn_total += n as f64 * start.as_secs_f64();
            // The scrapers, not the command line: a command's arguments
            // may carry a secret.
            say!(
                "floor: {n} transform processes (of {}) x {:.1} ms (median start with empty input) = {:.1}s",
                scrapers.join(", "),
                start.as_secs_f64() * 1e3,
                n as f64 * start.as_secs_f64()
            );
        }
        let floor = statements as f64 * hand_off.as_secs_f64() + spawn_total;
        say!(
            "floors together: {floor:.1}s of {:.1}s wall ({:.0}%); beyond them: {:.1}s",
            wall.as_secs_f64(),
            100.0 * floor / wall.as_secs_f64(),
            wall.as_secs_f64() - floor
        );
        // Not a floor of the design but of the work it records: what the
        // statements cost inside SQLite, with no hand-off at all.
        say!(
            "inside SQLite: {:.1}s ({:.0} us per statement on average), of the {:.1}s beyond the floors",
            executing.as_secs_f64(),
            executing.as_secs_f64() * 1e6 / statements.max(1) as f64,
            wall.as_secs_f64() - floor
        );
        Ok(())
    }

    /// Median time of `next_run_at` (one indexed read) on a fresh store,
    /// over 9 batches of 1,000 after a warm-up.
    async fn statement_round_trip() -> Result<Duration, String> {
        let dir = std::env::temp_dir().join(format!("rebound-hand-off-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = rebound_storage_sqlite::SqliteStore::open(&dir.join("h.db"))
            .await
            .map_err(|e| e.to_string())?;
        // Any fixed instant: the read only has to find nothing.
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let mut batches = Vec::new();
        for batch in 0..10 {
            let t = Instant::now();
            for _ in 0..1000 {
                store.next_run_at(at).await.map_err(|e| e.to_string())?;
            }
            if batch > 0 {
                batches.push(t.elapsed() / 1000);
            }
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        batches.sort();
        Ok(batches[batches.len() / 2])
    }

    /// A transform's command line, the scrapers that run it, and whether
    /// it is `keep_running`.
    type Transform = (Vec<String>, Vec<String>, bool);

    /// Each distinct `transform.command` of the simulated config, with the
    /// scrapers that use it.
    fn transform_commands(config: &Path) -> Result<Vec<Transform>, String> {
        let text =
            std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
        let value: toml::Value = toml::from_str(&text).map_err(|e| e.to_string())?;
        let mut out: Vec<Transform> = Vec::new();
        let scrapers = value.get("scrapers").and_then(|s| s.as_table());
        for (name, scraper) in scrapers.into_iter().flatten() {
            let transform = scraper.get("transform");
            let Some(command) = transform
                .and_then(|t| t.get("command"))
                .and_then(|c| c.as_array())
            else {
                continue;
            };
            let keep_running = transform
                .and_then(|t| t.get("keep_running"))
                .and_then(|k| k.as_bool())
                .unwrap_or(false);
            let command: Vec<String> = command
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            match out
                .iter_mut()
                .find(|(c, _, k)| *c == command && *k == keep_running)
            {
                Some((_, names, _)) => names.push(name.clone()),
                None => out.push((command, vec![name.clone()], keep_running)),
            }
        }
        Ok(out)
    }

    /// Stored payloads per transformed scraper: each went through its
    /// transform once. Read through the store's call pages, as the API
    /// does (this crate knows no SQL).
    async fn transform_runs(
        db: &Path,
        commands: &[Transform],
    ) -> Result<std::collections::BTreeMap<String, u64>, String> {
        let store = rebound_storage_sqlite::SqliteStore::open(db)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = std::collections::BTreeMap::new();
        for name in commands.iter().flat_map(|(_, names, _)| names) {
            let mut filter = rebound_storage::CallFilter {
                scraper: Some(name.clone()),
                ..Default::default()
            };
            let mut stored = 0;
            loop {
                let page = store
                    .scraper_calls_page(&filter, 500)
                    .await
                    .map_err(|e| e.to_string())?;
                stored += page.iter().filter(|c| c.content_hash.is_some()).count() as u64;
                match page.last() {
                    Some(last) if page.len() == 500 => {
                        filter.before = Some((last.started_at, last.id));
                    }
                    _ => break,
                }
            }
            out.insert(name.clone(), stored);
        }
        Ok(out)
    }

    /// Median wall time of 15 runs of `command` in `dir` with empty input
    /// (the interpreter's start and the script's imports; a real payload
    /// adds its parsing on top).
    fn process_start(dir: &Path, command: &[String]) -> Result<Duration, String> {
        let (program, args) = command.split_first().ok_or("an empty transform command")?;
        let mut times = Vec::new();
        for _ in 0..15 {
            let t = Instant::now();
            std::process::Command::new(program)
                .args(args)
                .current_dir(dir)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .map_err(|e| format!("{program}: {e}"))?;
            times.push(t.elapsed());
        }
        times.sort();
        Ok(times[times.len() / 2])
    }
}

/// What `rebound simulate` passes a transform (`PATH`, `HOME`, `LANG`):
/// this bench stands in for the CLI, the one reader of the environment, so
/// the season's transforms start the interpreter the user's shell would.
#[allow(clippy::disallowed_methods)] // the bench is the season's CLI
fn transform_env() -> Vec<(String, String)> {
    rebound_domain::document::Transform::PASSED_ENV
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .collect()
}

/// Where `rebound simulate` makes a temporary history: a memory-backed
/// folder with room, unless `TMPDIR` names one (so `TMPDIR=/tmp` measures
/// the season on disk beside it).
#[allow(clippy::disallowed_methods)] // the bench is the season's CLI
fn scratch() -> Option<PathBuf> {
    rebound_simulate::scratch::choose(std::env::var_os("TMPDIR").as_deref())
}
