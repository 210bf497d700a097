//! An idle worker starts a run queued after it went idle because the store
//! woke it (`Store::due_wakeups`), not because its poll came round: the
//! poll is set to an hour, and the run still starts. On PostgreSQL the run
//! is queued through a second store on the same schema, as another process
//! would, so the wake-up travels by `NOTIFY`. A run queued for later is
//! started by the worker's timer (`Store::next_run_at`), again with the
//! hour-long poll.

use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_service::worker::Worker;
use rebound_storage::{NewScheduledRun, ScheduledRunRow, Store};
use rebound_storage_postgres::PostgresStore;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::UpstreamSim;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Far longer than any test may take: a run started within the guard was
/// not started by the poll.
const POLL: Duration = Duration::from_secs(3600);

/// Only against hanging: a test fails here when the worker was not woken.
const GUARD: Duration = Duration::from_secs(30);

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "wake"
timezone = "UTC"
database = "sqlite://unused.db"
raw_store = "file://raw"

[sources.sim]
base_url = "{base_url}"
timeout = "5s"

[scrapers.item]
source = "sim"
path = "/bench/item"
query = {{ run = "{{run}}" }}

[workflows.w]
scrapers = ["item"]
"#
    )
}

/// The worker's store, the store runs are queued through (the same one on
/// SQLite, a second connection pool on PostgreSQL), and the schema to drop.
#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
async fn stores(
    postgres: bool,
    dir: &std::path::Path,
) -> (Arc<dyn Store>, Arc<dyn Store>, Option<String>) {
    if postgres {
        let url = std::env::var("REBOUND_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let open = || async {
            PostgresStore::connect_with_schema(&url, &schema).await.expect(
                "PostgreSQL must be running for this test: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            )
        };
        let worker_store: Arc<dyn Store> = Arc::new(open().await);
        let other_process: Arc<dyn Store> = Arc::new(open().await);
        (worker_store, other_process, Some(schema))
    } else {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.join("history.db"))
                .await
                .expect("sqlite"),
        );
        (store.clone(), store, None)
    }
}

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
async fn drop_schema(schema: Option<String>) {
    let Some(schema) = schema else { return };
    let url = std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
        let _ = sqlx::Executor::execute(
            &mut conn,
            sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")),
        )
        .await;
    }
}

fn run(name: &str, at: chrono::DateTime<chrono::Utc>) -> NewScheduledRun {
    NewScheduledRun {
        run_id: uuid::Uuid::now_v7().to_string(),
        workflow_name: "w".into(),
        target_date: at.date_naive(),
        slot: name.into(),
        params: format!(r#"{{"run":"{name}"}}"#),
        entities: "null".into(),
        run_at: at,
        scheduled_for: at,
        execution_id: uuid::Uuid::now_v7().to_string(),
        decision_id: None,
        created_at: at,
    }
}

/// Waits until the worker has gone idle `n` times in all.
async fn idle_for_the(idle: &mut watch::Receiver<u64>, n: u64, what: &str) {
    tokio::time::timeout(GUARD, idle.wait_for(|count| *count >= n))
        .await
        .unwrap_or_else(|_| panic!("{what}: the worker did not go idle a {n}th time"))
        .expect("worker alive");
}

async fn done_run(store: &dyn Store, run_id: &str) -> ScheduledRunRow {
    let rows = store
        .scheduled_runs(Some("done"), 100)
        .await
        .expect("scheduled_runs");
    rows.into_iter()
        .find(|row| row.run_id == run_id)
        .unwrap_or_else(|| panic!("run {run_id} is not done"))
}

async fn a_run_queued_while_idle_starts_without_the_poll(postgres: bool) {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let (worker_store, other_process, schema) = stores(postgres, dir.path()).await;
    let plan = rebound_config::load_str(
        &config(&sim.base_url()),
        &dir.path().join("rebound.toml"),
        &|_| None,
    )
    .expect("config");
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .expect("time")
            .to_utc(),
    ));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let raw = RawStore::open(&plan.pipeline.raw_store).expect("raw");
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).expect("fetcher"));
    let engine = Arc::new(Engine::new(
        Arc::new(plan),
        worker_store.clone(),
        raw,
        fetcher,
        dyn_clock.clone(),
    ));
    let worker = Arc::new(
        Worker::new(
            engine,
            dyn_clock.clone(),
            "test:worker".into(),
            Arc::new(Notify::new()),
        )
        .with_idle_poll(POLL),
    );
    let mut idle = worker.idle_waits();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker.clone().run_loop(1, stopped));

    // Nothing queued: the worker goes idle, for an hour unless woken.
    idle_for_the(&mut idle, 1, "empty queue").await;
    let queued = run("queued-while-idle", clock.now());
    assert!(other_process.enqueue_run(&queued).await.expect("enqueue"));
    // Woken, it claims and runs the run, then finds nothing and waits again.
    idle_for_the(&mut idle, 2, "after queueing a due run").await;
    let row = done_run(worker_store.as_ref(), &queued.run_id).await;
    assert_eq!(row.result_status.as_deref(), Some("success"));
    assert_eq!(row.claims, 1);
    assert_eq!(
        row.started_at,
        Some(queued.run_at),
        "started at once on the manual clock"
    );
    assert_eq!(*idle.borrow(), 2, "one wait, ended by the wake-up");

    let _ = stop.send(true);
    task.await.expect("worker loop");
    sim.shutdown().await;
    drop(other_process);
    drop(worker_store);
    drop_schema(schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_run_queued_while_idle_starts_without_the_poll() {
    a_run_queued_while_idle_starts_without_the_poll(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_run_queued_by_another_process_wakes_the_idle_worker() {
    a_run_queued_while_idle_starts_without_the_poll(true).await;
}

/// A run queued for 300 ms from now wakes the idle worker, which finds it
/// not yet due and sleeps until its `run_at`: it starts then, not before,
/// and not an hour later. Real time (the timer is about real time), briefly.
async fn a_run_queued_for_later_starts_on_the_timer(postgres: bool) {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let (worker_store, other_process, schema) = stores(postgres, dir.path()).await;
    let plan = rebound_config::load_str(
        &config(&sim.base_url()),
        &dir.path().join("rebound.toml"),
        &|_| None,
    )
    .expect("config");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let raw = RawStore::open(&plan.pipeline.raw_store).expect("raw");
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).expect("fetcher"));
    let engine = Arc::new(Engine::new(
        Arc::new(plan),
        worker_store.clone(),
        raw,
        fetcher,
        clock.clone(),
    ));
    let worker = Arc::new(
        Worker::new(
            engine,
            clock.clone(),
            "test:worker".into(),
            Arc::new(Notify::new()),
        )
        .with_idle_poll(POLL),
    );
    let mut idle = worker.idle_waits();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker.clone().run_loop(1, stopped));

    idle_for_the(&mut idle, 1, "empty queue").await;
    let later = run(
        "queued-for-later",
        clock.now() + chrono::Duration::milliseconds(300),
    );
    assert!(other_process.enqueue_run(&later).await.expect("enqueue"));
    // Woken by the enqueue: nothing due yet, so it waits for the timer;
    // then it runs the run and goes idle a third time.
    idle_for_the(&mut idle, 3, "after queueing a run for later").await;
    let row = done_run(worker_store.as_ref(), &later.run_id).await;
    let started = row.started_at.expect("started");
    assert!(
        started >= row.run_at,
        "started at {started}, before its run_at {}",
        row.run_at
    );
    assert_eq!(*idle.borrow(), 3, "woken once, timer once, idle again");

    let _ = stop.send(true);
    task.await.expect("worker loop");
    sim.shutdown().await;
    drop(other_process);
    drop(worker_store);
    drop_schema(schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_run_queued_for_later_starts_on_the_timer() {
    a_run_queued_for_later_starts_on_the_timer(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_run_queued_for_later_starts_on_the_timer() {
    a_run_queued_for_later_starts_on_the_timer(true).await;
}
