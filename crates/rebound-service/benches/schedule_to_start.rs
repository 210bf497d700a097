//! Schedule-to-start benchmark: how long a due run waits before a worker
//! starts it, with 4 workers against the in-process simulated upstream, on
//! SQLite and on PostgreSQL, in one process run.
//!
//! Two shapes of load, 1,000 runs each:
//! - **steady**: runs come due one every `--interval-ms` (default 20 ms,
//!   50 runs/s), as slots do in service; the delay is mostly how quickly an
//!   idle worker notices a due run.
//! - **burst**: all 1,000 due at the same instant; the delay is queueing,
//!   i.e. throughput (reported for honesty, not against the target).
//!
//! Delay of a run = `started_at − run_at` as recorded in `scheduled_runs`.
//! Run: `cargo bench -p rebound-service --bench schedule_to_start`
//! (options: `-- --runs 1000 --interval-ms 20`; PostgreSQL from
//! `REBOUND_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//! Not a test: nothing here asserts a speed.

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

struct Figures {
    p50: f64,
    p99: f64,
    max: f64,
    wall: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    runs: u64,
    interval: Duration,
) -> Figures {
    let store = engine.store().clone();
    let t0 = clock.now() + chrono::Duration::milliseconds(300);
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
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..WORKERS {
        let worker = Arc::new(Worker::new(
            engine.clone(),
            clock.clone(),
            format!("bench:{n}"),
            wake.clone(),
        ));
        tasks.spawn(worker.run_loop(1, stopped.clone()));
    }
    let started = Instant::now();
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
    let wall = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    let mut delays: Vec<f64> = store
        .scheduled_runs(Some("done"), (runs * 2) as u32)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.slot.starts_with(&tag))
        .map(|r| {
            let started = r.started_at.expect("started");
            (started - r.run_at).num_microseconds().unwrap_or(0) as f64 / 1000.0
        })
        .collect();
    delays.sort_by(|a, b| a.total_cmp(b));
    Figures {
        p50: percentile(&delays, 0.50),
        p99: percentile(&delays, 0.99),
        max: *delays.last().unwrap_or(&f64::NAN),
        wall,
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

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
fn main() {
    let runs = arg("--runs", 1000);
    let interval = Duration::from_millis(arg("--interval-ms", 20));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let sim = UpstreamSim::start().await.expect("sim");
        let base = sim.base_url();
        println!("{runs} runs, {WORKERS} workers; steady = one due every {interval:?}, burst = all due at once");
        println!("{:<11} {:<7} {:>9} {:>9} {:>9} {:>8}", "backend", "load", "p50 ms", "p99 ms", "max ms", "wall s");

        let pg_url = std::env::var("REBOUND_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        for backend in ["sqlite", "postgresql"] {
            for (load, every) in [("steady", interval), ("burst", Duration::ZERO)] {
                let dir = tempfile::tempdir().expect("tempdir");
                let store: Arc<dyn Store> = match backend {
                    "sqlite" => Arc::new(
                        rebound_storage_sqlite::SqliteStore::open(&dir.path().join("bench.db"))
                            .await
                            .expect("sqlite"),
                    ),
                    _ => {
                        let schema = format!("bench_{}", std::process::id());
                        let store = rebound_storage_postgres::PostgresStore::connect_with_schema(
                            &pg_url, &schema,
                        )
                        .await
                        .expect("postgres");
                        Arc::new(store)
                    }
                };
                let engine = engine_on(store.clone(), &base, dir.path()).await;
                let clock: Arc<dyn Clock> = Arc::new(SystemClock);
                let f = measure(engine, clock, runs, every).await;
                println!(
                    "{backend:<11} {load:<7} {:>9.1} {:>9.1} {:>9.1} {:>8.1}",
                    f.p50, f.p99, f.max, f.wall
                );
                if backend == "postgresql" {
                    drop(store);
                    if let Ok(mut conn) =
                        <sqlx::PgConnection as sqlx::Connection>::connect(&pg_url).await
                    {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            sqlx::AssertSqlSafe(format!(
                                "DROP SCHEMA IF EXISTS bench_{} CASCADE",
                                std::process::id()
                            )),
                        )
                        .await;
                    }
                }
            }
        }
        sim.shutdown().await;
    });
}
