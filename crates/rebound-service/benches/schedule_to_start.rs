//! Schedule-to-start benchmark: how long a due run waits before a worker
//! starts it, with 4 workers against the in-process simulated upstream, on
//! SQLite, PostgreSQL with the default URL (TLS negotiated, also on
//! loopback) and PostgreSQL with `sslmode=disable`, in one process run.
//!
//! Two shapes of load, 1,000 runs each:
//! - **steady**: runs come due one every `--interval-ms` (default 20 ms,
//!   50 runs/s), as slots do in service; the delay is mostly how quickly an
//!   idle worker notices a due run.
//! - **burst**: all 1,000 due at the same instant; reported as throughput,
//!   runs started per second (1,000 / the delay of the last one).
//!
//! Delay of a run = `started_at − run_at` as recorded in `scheduled_runs`.
//! Every case runs `--reps` times (default 3), backends interleaved within
//! a repetition so machine noise hits them alike; the summary gives the
//! median of each figure over the repetitions.
//!
//! All runs are queued before the first is due: runs are due from
//! `--lead-ms` (default 3,000 ms) after queueing starts, and a case whose
//! queueing took longer says so, since its first runs were late before any
//! worker could see them (the bench before 2026-12-02 allowed 300 ms, which
//! 1,000 PostgreSQL inserts over TLS did not fit in).
//!
//! With `--compare 1`, every case also runs with workers that find due
//! runs by their 50 ms poll alone (`Worker::polling_only`, the behaviour
//! before wake-ups), marked `poll only`, so before and after share one run.
//!
//! Run: `cargo bench -p rebound-service --bench schedule_to_start`
//! (options: `-- --runs 1000 --interval-ms 20 --reps 3 --lead-ms 3000
//! --compare 0`;
//! PostgreSQL from `REBOUND_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, to which `sslmode=disable` is
//! added for the third case). Not a test: nothing here asserts a speed.

use chrono::{DateTime, Utc};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_service::worker::Worker;
use rebound_storage::{NewScheduledRun, Store};
use rebound_upstream_sim::UpstreamSim;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

const WORKERS: usize = 4;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(base_url: &str, dir: &std::path::Path) -> String {
    format!(
        r#"
[pipeline]
name = "bench"
timezone = "UTC"
database = "sqlite://{db}"
raw_store = "file://{raw}"

[sources.sim]
base_url = "{base_url}"
timeout = "10s"
max_concurrency = 64

[scrapers.item]
source = "sim"
path = "/bench/item"
query = {{ run = "{{run}}" }}

[workflows.w]
scrapers = ["item"]
"#,
        db = dir.join("bench.db").display(),
        raw = dir.join("raw").display(),
    )
}

/// One case's figures, in milliseconds unless named otherwise.
#[derive(Debug, Clone, Copy)]
struct Figures {
    p50: f64,
    p99: f64,
    max: f64,
    /// Runs started per second: runs / the delay of the last one (burst).
    rate: f64,
    /// How long a run took once started (claim to done), median and p99.
    run_p50: f64,
    run_p99: f64,
    /// Queueing all runs, and whether it ended after the first was due.
    enqueue: f64,
    late_start: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn millis(d: chrono::Duration) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

async fn measure(
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    runs: u64,
    interval: Duration,
    lead: Duration,
    polling_only: bool,
) -> Figures {
    let store = engine.store().clone();
    let queueing = Instant::now();
    let t0 = clock.now() + chrono::Duration::from_std(lead).expect("small lead");
    let tag = uuid::Uuid::now_v7().to_string();
    for i in 0..runs {
        let at: DateTime<Utc> =
            t0 + chrono::Duration::from_std(interval * i as u32).expect("small");
        let run = NewScheduledRun {
            run_id: uuid::Uuid::now_v7().to_string(),
            workflow_name: "w".into(),
            target_date: at.date_naive(),
            slot: format!("{tag}-{i}"),
            params: format!("{{\"run\":\"{tag}-{i}\"}}"),
            entities: "null".into(),
            run_at: at,
            scheduled_for: at,
            execution_id: uuid::Uuid::now_v7().to_string(),
            decision_id: None,
            created_at: clock.now(),
        };
        assert!(store.enqueue_run(&run).await.expect("enqueue"));
    }
    let enqueue = queueing.elapsed();
    let late_start = clock.now() > t0;
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..WORKERS {
        let mut worker = Worker::new(
            engine.clone(),
            clock.clone(),
            format!("bench:{n}"),
            wake.clone(),
        );
        if polling_only {
            worker = worker.polling_only();
        }
        let worker = Arc::new(worker);
        tasks.spawn(worker.run_loop(1, stopped.clone()));
    }
    loop {
        let done = store
            .scheduled_runs(Some("done"), (runs * 2) as u32)
            .await
            .expect("runs")
            .into_iter()
            .filter(|r| r.slot.starts_with(&tag))
            .count() as u64;
        if done >= runs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    let rows: Vec<_> = store
        .scheduled_runs(Some("done"), (runs * 2) as u32)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.slot.starts_with(&tag))
        .collect();
    let mut delays: Vec<f64> = rows
        .iter()
        .map(|r| millis(r.started_at.expect("started") - r.run_at))
        .collect();
    let mut durations: Vec<f64> = rows
        .iter()
        .map(|r| millis(r.finished_at.expect("finished") - r.started_at.expect("started")))
        .collect();
    delays.sort_by(|a, b| a.total_cmp(b));
    durations.sort_by(|a, b| a.total_cmp(b));
    let max = *delays.last().unwrap_or(&f64::NAN);
    Figures {
        p50: percentile(&delays, 0.50),
        p99: percentile(&delays, 0.99),
        max,
        rate: runs as f64 / (max / 1000.0),
        run_p50: percentile(&durations, 0.50),
        run_p99: percentile(&durations, 0.99),
        enqueue: enqueue.as_secs_f64() * 1000.0,
        late_start,
    }
}

async fn engine_on(store: Arc<dyn Store>, base_url: &str, dir: &std::path::Path) -> Arc<Engine> {
    let plan =
        rebound_config::load_str(&config(base_url, dir), &dir.join("rebound.toml"), &|_| None)
            .expect("bench config");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let raw = RawStore::open(&plan.pipeline.raw_store).expect("raw store");
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).expect("fetcher"));
    Arc::new(Engine::new(Arc::new(plan), store, raw, fetcher, clock))
}

/// `url` with `sslmode=disable` added to its query.
fn without_tls(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(|a, b| a.total_cmp(b));
    percentile(&values, 0.5)
}

fn print_row(backend: &str, load: &str, f: &Figures) {
    println!(
        "{backend:<28} {load:<7} {:>8.1} {:>8.1} {:>8.1} {:>9.0} {:>8.1} {:>8.1} {:>9.0}{}",
        f.p50,
        f.p99,
        f.max,
        f.rate,
        f.run_p50,
        f.run_p99,
        f.enqueue,
        if f.late_start {
            "  (queueing ended after the first run was due)"
        } else {
            ""
        }
    );
}

fn header() {
    println!(
        "{:<28} {:<7} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9}",
        "backend", "load", "p50 ms", "p99 ms", "max ms", "runs/s", "run p50", "run p99", "queue ms"
    );
}

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
fn main() {
    let runs = arg("--runs", 1000);
    let interval = Duration::from_millis(arg("--interval-ms", 20));
    let reps = arg("--reps", 3).max(1);
    let lead = Duration::from_millis(arg("--lead-ms", 3000));
    let modes: &[bool] = if arg("--compare", 0) == 1 {
        &[false, true]
    } else {
        &[false]
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let sim = UpstreamSim::start().await.expect("sim");
        let base = sim.base_url();
        let pg_url = std::env::var("REBOUND_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let backends: Vec<(&str, Option<String>, bool)> = [
            ("SQLite", None),
            ("PostgreSQL default URL", Some(pg_url.clone())),
            ("PostgreSQL no TLS", Some(without_tls(&pg_url))),
        ]
        .into_iter()
        .flat_map(|(name, url)| {
            modes.iter().map(move |&poll| {
                let name: &str = match (name, poll) {
                    ("SQLite", true) => "SQLite, poll only",
                    ("PostgreSQL default URL", true) => "PostgreSQL TLS, poll only",
                    ("PostgreSQL no TLS", true) => "PostgreSQL no TLS, poll only",
                    (name, _) => name,
                };
                (name, url.clone(), poll)
            })
        })
        .collect();
        println!(
            "{runs} runs, {WORKERS} workers, {reps} repetitions; steady = one due every {interval:?}, burst = all due at once"
        );
        header();
        let mut results: Vec<(String, &str, Figures)> = Vec::new();
        for rep in 0..reps {
            for (backend, url, polling_only) in &backends {
                for (load, every) in [("steady", interval), ("burst", Duration::ZERO)] {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let schema = format!("bench_{}_{rep}", std::process::id());
                    let store: Arc<dyn Store> = match url {
                        None => Arc::new(
                            rebound_storage_sqlite::SqliteStore::open(
                                &dir.path().join("bench.db"),
                            )
                            .await
                            .expect("sqlite"),
                        ),
                        Some(url) => Arc::new(
                            rebound_storage_postgres::PostgresStore::connect_with_schema(
                                url, &schema,
                            )
                            .await
                            .expect("postgres"),
                        ),
                    };
                    let engine = engine_on(store.clone(), &base, dir.path()).await;
                    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
                    let f = measure(engine, clock, runs, every, lead, *polling_only).await;
                    print_row(backend, load, &f);
                    results.push((backend.to_string(), load, f));
                    drop(store);
                    if let Some(url) = url
                        && let Ok(mut conn) =
                            <sqlx::PgConnection as sqlx::Connection>::connect(url).await
                    {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            sqlx::AssertSqlSafe(format!(
                                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                            )),
                        )
                        .await;
                    }
                }
            }
        }
        println!("\nmedians of {reps} repetitions");
        header();
        for (backend, _, _) in &backends {
            for load in ["steady", "burst"] {
                let mine: Vec<Figures> = results
                    .iter()
                    .filter(|(b, l, _)| b == backend && *l == load)
                    .map(|(_, _, f)| *f)
                    .collect();
                let m = |pick: fn(&Figures) -> f64| median(mine.iter().map(pick));
                let f = Figures {
                    p50: m(|f| f.p50),
                    p99: m(|f| f.p99),
                    max: m(|f| f.max),
                    rate: m(|f| f.rate),
                    run_p50: m(|f| f.run_p50),
                    run_p99: m(|f| f.run_p99),
                    enqueue: m(|f| f.enqueue),
                    late_start: mine.iter().any(|f| f.late_start),
                };
                print_row(backend, load, &f);
            }
        }
        sim.shutdown().await;
    });
}
