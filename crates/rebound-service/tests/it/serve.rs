//! The runtime of `rebound serve` started in-process with
//! [`Service::start`]: roles, shutdown grace, `/metrics` and `/healthz`,
//! the alert loops, a port in use. History goes to a real SQLite file or a
//! PostgreSQL schema of the test's own, requests to the simulated upstream
//! over loopback.
//!
//! These tests were `rebound serve` processes in rebound-cli's tests; what
//! they check is the wiring, which needs no process. What does (SIGTERM and
//! Ctrl-C, SIGKILL, several processes claiming from one database, the log
//! format on stderr) stays there.
//!
//! Time is real here, on a clock that starts at a chosen instant (local
//! noon in New York, so a 06:00–18:00 window is open whatever the hour of
//! the test run) and ticks at wall-clock pace: the shutdown grace, lease
//! renewal and the alert and endpoint loops are about live timing, and a
//! manual clock, whose sleeps return at once, would let the scheduler's and
//! purger's loops race through hours of schedule. The last test runs the
//! service on a `VirtualClock` instead, whose sleeps wait until the test
//! moves time: the way a simulation drives it.

use chrono::{DateTime, TimeZone, Utc};
use prometheus_parse::Scrape;
use rebound_domain::clock::{Clock, SleepFuture};
use rebound_domain::plan::{DatabaseLocation, Plan};
use rebound_service::{Handle, Role, Service, ServiceConfig, StartError};
use rebound_storage::Store;
use rebound_storage_postgres::PostgresStore;
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::{prometheus, webhook};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Wall-clock pace from a chosen start.
struct PacedClock {
    start: DateTime<Utc>,
    began: Instant,
}

impl Clock for PacedClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::TimeDelta::from_std(self.began.elapsed()).unwrap_or_default();
        self.start + elapsed
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Local noon in New York (the configs' zone), ticking from now on.
fn noon_clock() -> Arc<dyn Clock> {
    Arc::new(PacedClock {
        start: Utc
            .with_ymd_and_hms(2026, 11, 28, 17, 0, 0)
            .single()
            .expect("valid instant"),
        began: Instant::now(),
    })
}

/// Loads `toml` as if from `dir/rebound.toml` (relative paths land in
/// `dir`), with `vars` as the only `${VAR}` values.
fn plan(dir: &Path, toml: &str, vars: &[(&str, &str)]) -> Plan {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    rebound_config::load_str(toml, &dir.join("rebound.toml"), &lookup).expect("config is valid")
}

/// The SQLite file the plan names, as `rebound serve` opens it.
async fn sqlite_store(plan: &Plan) -> Arc<dyn Store> {
    let DatabaseLocation::Sqlite { path } = &plan.pipeline.database else {
        panic!("a SQLite config");
    };
    Arc::new(SqliteStore::open(path).await.expect("sqlite"))
}

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
fn pg_url() -> String {
    std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A PostgreSQL schema of its own, dropped by [`Schema::drop_schema`].
struct Schema {
    name: String,
    pool: sqlx::PgPool,
}

impl Schema {
    /// A new schema with the migrations applied, and its store.
    async fn create() -> (Schema, Arc<dyn Store>) {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let store = PostgresStore::connect_with_schema(&pg_url(), &name)
            .await
            .expect(
                "PostgreSQL must be running for this test: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            );
        let pool = store.pool().clone();
        (Schema { name, pool }, Arc::new(store))
    }

    /// Another store on the same schema: another process's pool.
    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(
            PostgresStore::connect_with_schema(&pg_url(), &self.name)
                .await
                .expect("second pool"),
        )
    }

    async fn drop_schema(self) {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&self.pool)
        .await;
    }
}

async fn start(plan: Plan, role: Role, workers: usize, store: Arc<dyn Store>) -> Handle {
    let config = ServiceConfig {
        plan,
        role,
        workers,
        host: "test-host".to_string(),
    };
    Service::start(config, store, noon_clock())
        .await
        .expect("service starts")
}

async fn wait_for(what: &str, within: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn runs_in(store: &dyn Store, state: &str) -> usize {
    store
        .scheduled_runs(Some(state), 1000)
        .await
        .expect("runs")
        .len()
}

// ---- shutdown -----------------------------------------------------------

/// A SQLite config with one slow scheduled workflow, for shutdown tests.
fn slow_sqlite_config(base_url: &str, grace: &str) -> String {
    format!(
        r#"
[pipeline]
name = "shutdown"
timezone = "America/New_York"

[scheduler]
shutdown_grace = "{grace}"

[sources.up]
base_url = "{base_url}"
timeout = "60s"

[scrapers.slow]
source = "up"
path = "/slow/item"

[workflows.slow]
scrapers = ["slow"]
schedule = {{ kind = "window", start = "06:00", end = "18:00" }}
"#
    )
}

/// Starts role all, waits for the slow call to begin, stops the service;
/// returns the store and how long the stop took.
async fn serve_and_stop_mid_call(
    sim: &UpstreamSim,
    dir: &Path,
    grace: &str,
) -> (Arc<dyn Store>, Duration) {
    let plan = plan(dir, &slow_sqlite_config(&sim.base_url(), grace), &[]);
    let store = sqlite_store(&plan).await;
    let handle = start(plan, Role::All, 2, store.clone()).await;
    wait_for("the call started", Duration::from_secs(30), async || {
        sim.request_count("/slow/item") > 0
    })
    .await;
    let stopped_at = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), handle.stop())
        .await
        .expect("the service stops");
    (store, stopped_at.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_lets_an_in_flight_run_finish_within_the_grace_period() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/slow/item",
        vec![Reply::json(200, serde_json::json!({"ok": true})).delay(Duration::from_secs(2))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, took) = serve_and_stop_mid_call(&sim, dir.path(), "15s").await;
    assert!(
        took < Duration::from_secs(12),
        "waited for the run, not the whole grace: {took:?}"
    );
    let runs = store.scheduled_runs(None, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].state, "done");
    let executions = store.recent_workflow_executions(10).await.expect("runs");
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].status, "success");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_releases_a_run_that_outlasts_the_grace_period() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/slow/item",
        vec![Reply::json(200, serde_json::json!({"ok": true})).delay(Duration::from_secs(30))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, took) = serve_and_stop_mid_call(&sim, dir.path(), "1s").await;
    assert!(
        took < Duration::from_secs(10),
        "did not wait for the 30 s call: {took:?}"
    );
    let runs = store.scheduled_runs(None, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].state, "queued");
    let note = runs[0].last_error.clone().unwrap_or_default();
    assert!(note.contains("released at shutdown"), "{note}");
    // The run row is written when the run starts (issue 11, item 12) and
    // stays `running` under the released run's execution id, which the
    // next claim reuses and finishes in place.
    let executions = store.recent_workflow_executions(10).await.expect("runs");
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].status, "running");
    sim.shutdown().await;
}

const GRACE_TOKEN: &str = "grace_token_5e21c0";

/// A service with a 2 s `shutdown_grace` whose worker is in a call that
/// hangs 30 s (`/slow/item`), and a workflow `by_hand` for the API whose
/// call hangs as long (`/slow/api`): its handle and base URL.
async fn hanging_service(sim: &UpstreamSim, dir: &Path) -> (Handle, String) {
    let hang =
        || vec![Reply::json(200, serde_json::json!({"ok": true})).delay(Duration::from_secs(30))];
    sim.script("/slow/item", hang());
    sim.script("/slow/api", hang());
    let toml = format!(
        r#"{}
[server]
listen = "127.0.0.1:0"
token = "${{API_TOKEN}}"

[scrapers.slow_api]
source = "up"
path = "/slow/api"

[workflows.by_hand]
scrapers = ["slow_api"]
"#,
        slow_sqlite_config(&sim.base_url(), "2s")
    );
    let plan = plan(dir, &toml, &[("API_TOKEN", GRACE_TOKEN)]);
    let store = sqlite_store(&plan).await;
    let handle = start(plan, Role::All, 2, store).await;
    let base = format!("http://{}", handle.local_addr().expect("listening"));
    (handle, base)
}

/// Stops `handle` once both slow calls are out; how long the stop took,
/// checked to be one grace of 2 s (with 1.5 s of slack).
async fn stop_takes_one_grace(sim: &UpstreamSim, handle: Handle) {
    wait_for("both calls started", Duration::from_secs(30), async || {
        sim.request_count("/slow/item") > 0 && sim.request_count("/slow/api") > 0
    })
    .await;
    let stopped_at = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), handle.stop())
        .await
        .expect("the service stops");
    let took = stopped_at.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "the runs had their grace: {took:?}"
    );
    assert!(
        took < Duration::from_millis(3_500),
        "one grace of 2 s for everything in flight: {took:?}"
    );
}

/// One grace period for the whole stop: a run the worker claimed and one
/// started over the API, both outlasting it, are stopped together once
/// `shutdown_grace` has passed since the stop, not one grace after the
/// other (the API's runs used to get a grace of their own only after the
/// workers had used up theirs: twice `shutdown_grace`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::disallowed_methods)] // the test's own client, posing as an API user
async fn stop_gives_scheduled_and_api_started_runs_one_grace_period_together() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let (handle, base) = hanging_service(&sim, dir.path()).await;
    let accepted = reqwest::Client::new()
        .post(format!("{base}/api/v1/workflows/by_hand/runs"))
        .bearer_auth(GRACE_TOKEN)
        .send()
        .await
        .expect("POST");
    assert_eq!(
        accepted.status().as_u16(),
        202,
        "the run outlasts the request"
    );
    stop_takes_one_grace(&sim, handle).await;
    sim.shutdown().await;
}

/// A request still open at the stop (a run's client waiting with
/// `?wait=5m`) does not hold the stop either: the HTTP server gets the
/// same grace (it used to wait for the request, so for the run's 30 s),
/// then the run is stopped and its client told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::disallowed_methods)] // the test's own client, posing as an API user
async fn a_request_open_at_the_stop_is_answered_within_the_same_grace() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let (handle, base) = hanging_service(&sim, dir.path()).await;
    let waiting = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{base}/api/v1/workflows/by_hand/runs?wait=5m"))
            .bearer_auth(GRACE_TOKEN)
            .send(),
    );
    stop_takes_one_grace(&sim, handle).await;
    let answer = waiting.await.expect("the client task").expect("an answer");
    assert_eq!(answer.status().as_u16(), 500);
    let body = answer.text().await.expect("body");
    assert!(body.contains("the service is stopping"), "{body}");
    sim.shutdown().await;
}

// ---- /metrics and /healthz ----------------------------------------------

const SECRET: &str = "metrics_secret_51f0";

fn metrics_config(database: &str, sim: &str, listen: &str) -> String {
    format!(
        r#"
[pipeline]
name = "metrics"
timezone = "America/New_York"
database = "{database}"
raw_store = "file://raw"

[retry]
max_attempts = 2
initial_delay = "10ms"
max_delay = "20ms"

[scheduler]
max_idle = "1s"

[server]
listen = "{listen}"

[sources.up]
base_url = "{sim}"
timeout = "5s"
query = {{ key = "${{METRICS_KEY}}" }}

[sources.down]
base_url = "{sim}"
timeout = "5s"

[sources.down.breaker]
consecutive_failures = 1
open_for = "1h"

[scrapers.flaky]
source = "up"
path = "/m/flaky"
dataset = "up/flaky"

[scrapers.missing]
source = "up"
path = "/m/missing"
query = {{ day = "{{date}}" }}

[scrapers.ping]
source = "down"
path = "/m/down"

[workflows.daily]
scrapers = ["flaky", "missing"]
schedule = {{ kind = "window", start = "06:00", end = "18:00" }}

[workflows.probe]
scrapers = ["ping"]
schedule = {{ kind = "window", start = "06:00", end = "18:00" }}

[workflows.easy]
scrapers = ["flaky"]
schedule = {{ kind = "window", start = "06:00", end = "18:00" }}
"#
    )
}

fn script(sim: &UpstreamSim) {
    let ok = || Reply::json(200, serde_json::json!({"data": [1, 2, 3]}));
    // daily and easy both call flaky: one 503 then successes.
    sim.script("/m/flaky", vec![Reply::status(503), ok(), ok()]);
    sim.script("/m/missing", vec![Reply::status(404)]);
    sim.script("/m/down", vec![Reply::status(503), Reply::status(503)]);
}

struct Page {
    text: String,
    scrape: Scrape,
}

impl Page {
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        prometheus::value(&self.scrape, metric, labels)
    }
}

/// GET `/metrics`, checking the content type and that every line is
/// Prometheus text.
async fn scrape(addr: SocketAddr) -> Page {
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.expect("body");
    let scrape = prometheus::parse(&text);
    Page { text, scrape }
}

/// Scrapes until `done` holds (shared-state gauges are cached for 5 s).
async fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&Page) -> bool) -> Page {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = scrape(addr).await;
        if done(&page) {
            return page;
        }
        assert!(Instant::now() < deadline, "never saw {what}\n{}", page.text);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every label value is a configured name or a closed-set value: never a
/// URL, a parameter value, a secret or an error text.
fn assert_bounded_labels(page: &Page) {
    let allowed: BTreeSet<&str> = [
        "up",
        "down",
        "daily",
        "probe",
        "easy",
        "up/flaky",
        "ping",
        "missing",
        "success",
        "no_data",
        "retryable",
        "permanent",
        "failed",
        "skipped",
        "not_yet_available",
        "overdue",
        "partial",
        "closed",
        "open",
        "half_open",
    ]
    .into_iter()
    .collect();
    for sample in &page.scrape.samples {
        for (key, value) in sample.labels.iter() {
            if key == "le" {
                continue;
            }
            assert!(
                allowed.contains(value.as_str()),
                "label {key}={value:?} of {} is not from a bounded set\n{}",
                sample.metric,
                page.text
            );
        }
    }
    let read = without_values(&page.text);
    for leak in ["http", "/m/", "?", SECRET, "503", "404", "key="] {
        assert!(!read.contains(leak), "{leak:?} in\n{}", page.text);
    }
}

/// The exposition text without its sample values: names, labels and help
/// only. A value's digits may spell a status code (an age of 0.15034 s
/// holds "503"), which is no leak. The whole-text check failed once under
/// the full suite's load; only a value can explain that, as every other
/// part of the page is the same on each run.
fn without_values(text: &str) -> String {
    text.lines()
        .map(|line| match line.starts_with('#') {
            true => line,
            false => line.rsplit_once(' ').map_or(line, |(series, _)| series),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_sample_value_is_not_read_as_a_leaked_status() {
    let text = "# HELP rebound_x An age.\n\
                rebound_dataset_age_seconds{dataset=\"up/flaky\"} 0.15034\n\
                rebound_calls_total{status=\"503\"} 1\n";
    let read = without_values(text);
    assert!(!read.contains("0.15034"), "{read}");
    assert!(read.contains("status=\"503\""), "{read}");
    assert!(read.contains("# HELP rebound_x An age."), "{read}");
}

/// A scheduler service and a worker service on one PostgreSQL schema, each
/// with its own store pool and its own `/metrics`: the scheduler's shows
/// the due runs it queued (queue depth, shared state); the worker's shows
/// what it did (counters of its own registry) and the breaker it opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exposes_metrics_that_match_what_the_upstream_served() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let (schema, scheduler_store) = Schema::create().await;
    let worker_store = schema.store().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = metrics_config(&pg_url(), &sim.base_url(), "127.0.0.1:0");
    let plan = plan(dir.path(), &toml, &[("METRICS_KEY", SECRET)]);

    let scheduler = start(plan.clone(), Role::Scheduler, 4, scheduler_store).await;
    let scheduler_addr = scheduler.local_addr().expect("a bound address");
    assert_ne!(scheduler_addr.port(), 0, "the port the system picked");
    let health = reqwest::get(format!("http://{scheduler_addr}/healthz"))
        .await
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("body"), "ok\n");

    // No worker yet: the three due slots wait in the queue.
    let page = scrape_until(scheduler_addr, "three due runs", |p| {
        p.value("rebound_queue_depth", &[]) == Some(3.0)
    })
    .await;
    assert_eq!(
        page.value("rebound_runs_total", &[]),
        None,
        "a scheduler runs nothing"
    );
    assert_eq!(sim.request_count("/m/flaky"), 0);

    let worker = start(plan, Role::Worker, 1, worker_store.clone()).await;
    let worker_addr = worker.local_addr().expect("a bound address");
    wait_for("three runs done", Duration::from_secs(60), async || {
        runs_in(worker_store.as_ref(), "done").await >= 3
    })
    .await;

    let page = scrape(worker_addr).await;
    let attempts = |source, outcome| {
        page.value(
            "rebound_attempts_total",
            &[("source", source), ("outcome", outcome)],
        )
    };
    // flaky: 503 then 200 (one of its two calls), then 200; missing: 404;
    // ping: 503 twice (max_attempts = 2), which opens the breaker.
    assert_eq!(attempts("up", "retryable"), Some(1.0), "{}", page.text);
    assert_eq!(attempts("up", "success"), Some(2.0));
    assert_eq!(attempts("up", "permanent"), Some(1.0));
    assert_eq!(attempts("down", "retryable"), Some(2.0));
    assert_eq!(attempts("down", "success"), None);
    assert_eq!(
        sim.request_count("/m/flaky")
            + sim.request_count("/m/missing")
            + sim.request_count("/m/down"),
        6,
        "the sim served exactly the attempts counted"
    );
    let calls = |source, status| {
        page.value(
            "rebound_calls_total",
            &[("source", source), ("status", status)],
        )
    };
    assert_eq!(calls("up", "success"), Some(2.0));
    assert_eq!(calls("up", "failed"), Some(1.0));
    assert_eq!(calls("down", "failed"), Some(1.0));
    assert_eq!(
        page.value("rebound_call_duration_seconds", &[("source", "up")]),
        Some(3.0),
        "three calls to up made requests: the +Inf bucket counts them"
    );
    let runs = |workflow, status| {
        page.value(
            "rebound_runs_total",
            &[("workflow", workflow), ("status", status)],
        )
    };
    assert_eq!(runs("daily", "partial"), Some(1.0), "{}", page.text);
    assert_eq!(runs("easy", "success"), Some(1.0));
    assert_eq!(runs("probe", "failed"), Some(1.0));
    assert_eq!(
        page.value("rebound_schedule_to_start_seconds", &[]),
        Some(3.0)
    );
    let breaker = |source, state| {
        page.value(
            "rebound_breaker_state",
            &[("source", source), ("state", state)],
        )
    };
    assert_eq!(breaker("down", "open"), Some(1.0), "{}", page.text);
    assert_eq!(breaker("down", "closed"), Some(0.0));
    assert_eq!(breaker("up", "closed"), Some(1.0));
    assert_eq!(page.value("rebound_queue_depth", &[]), Some(0.0));
    // up/flaky got a new, non-empty payload moments ago: the same rule as
    // `rebound freshness`. The failing sources' data never got fresh, so
    // they have no sample rather than a made-up age.
    let age = page
        .value("rebound_dataset_age_seconds", &[("dataset", "up/flaky")])
        .unwrap_or_else(|| panic!("no age for up/flaky\n{}", page.text));
    assert!((0.0..120.0).contains(&age), "age {age}");
    assert_eq!(
        page.scrape
            .samples
            .iter()
            .filter(|s| s.metric == "rebound_dataset_age_seconds")
            .count(),
        1,
        "{}",
        page.text
    );
    assert_bounded_labels(&page);

    // Counters are per service (per process under the CLI): the
    // scheduler's page still has no runs.
    let page = scrape(scheduler_addr).await;
    assert_eq!(page.value("rebound_attempts_total", &[]), None);
    assert_bounded_labels(&page);

    for handle in [scheduler, worker] {
        tokio::time::timeout(Duration::from_secs(15), handle.stop())
            .await
            .expect("the service stops");
    }
    assert!(
        reqwest::get(format!("http://{worker_addr}/healthz"))
            .await
            .is_err(),
        "the endpoint stops with the service"
    );
    schema.drop_schema().await;
    sim.shutdown().await;
}

/// The endpoint is bound before anything is scheduled: a port in use stops
/// the start with an error naming the address, and nothing was decided or
/// queued. (The CLI's message naming `[server] listen` and the file, and
/// its exit code, are checked on the binary.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_stops_the_start_before_anything_is_scheduled() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = metrics_config("sqlite://rebound.db", &sim.base_url(), &addr.to_string());
    let plan = plan(dir.path(), &toml, &[("METRICS_KEY", SECRET)]);
    let store = sqlite_store(&plan).await;
    let config = ServiceConfig {
        plan,
        role: Role::All,
        workers: 1,
        host: "test-host".to_string(),
    };
    let error = match Service::start(config, store.clone(), noon_clock()).await {
        Ok(_) => panic!("started on a port in use"),
        Err(error) => error,
    };
    match &error {
        StartError::Listen { addr: failed, .. } => assert_eq!(*failed, addr),
        other => panic!("not a listen error: {other}"),
    }
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on {addr}: ")),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.scheduled_runs(None, 10).await.expect("runs").len(),
        0,
        "nothing queued"
    );
    let since = Utc
        .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("t");
    assert_eq!(
        store
            .decisions_since(None, since)
            .await
            .expect("decisions")
            .len(),
        0,
        "nothing decided"
    );
    assert_eq!(sim.requests().len(), 0, "no request sent");
    drop(taken);
    sim.shutdown().await;
}

/// Roles that split a deployment across processes need the shared
/// database: refused on SQLite, before anything starts.
#[tokio::test]
async fn roles_scheduler_and_worker_are_refused_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan(
        dir.path(),
        &slow_sqlite_config("http://127.0.0.1:9", "1s"),
        &[],
    );
    for role in [Role::Scheduler, Role::Worker] {
        let error = Service::check_role(&plan, role).expect_err("refused");
        assert!(
            matches!(error, StartError::NeedsSharedDatabase { role: r, .. } if r == role),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("needs a PostgreSQL database shared by all processes"),
            "{error}"
        );
    }
    Service::check_role(&plan, Role::All).expect("role all serves SQLite");
}

// ---- alerts -------------------------------------------------------------

/// Everything logged at info and above on this thread, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// The service evaluates and delivers alerts on its own: a source whose
/// health probe fails is reported to a webhook on a loopback port, once.
/// On a current-thread runtime every task of the service runs on this
/// thread, so the subscriber set here sees all of their logs.
#[tokio::test]
async fn serve_notifies_a_webhook_when_a_source_probe_fails() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let sim = UpstreamSim::start().await.expect("sim");
    let sink = webhook::start().await;
    let hook = format!("{}/hook", sink.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        r#"
[pipeline]
name = "served"

[sources.up]
base_url = "{}"
# No such path on the simulation: the probe answers 404.
health = {{ path = "/no-such-status" }}

[scrapers.s]
source = "up"
path = "/c/s"

[workflows.w]
scrapers = ["s"]

[alerts]
evaluate_every = "1s"

[alerts.conditions]
source_unhealthy = {{ grace = "0s" }}

[alerts.sinks.hook]
kind = "webhook"
url = "${{HOOK_URL}}"
"#,
        sim.base_url()
    );
    let plan = plan(dir.path(), &toml, &[("HOOK_URL", &hook)]);
    let store = sqlite_store(&plan).await;
    let handle = start(plan, Role::All, 4, store.clone()).await;
    wait_for("a notification", Duration::from_secs(30), async || {
        !sink.all().is_empty()
    })
    .await;
    // A few more evaluations (one a second): still one message.
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::time::timeout(Duration::from_secs(15), handle.stop())
        .await
        .expect("the service stops");
    let logged = logs.text();
    let got = sink.all();
    assert_eq!(got.len(), 1, "{got:#?}\n{logged}");
    assert_eq!(got[0]["event"], "opened");
    assert_eq!(got[0]["condition"], "source_unhealthy");
    assert_eq!(got[0]["subject"], "up");
    assert_eq!(got[0]["pipeline"], "served");
    assert!(
        got[0]["summary"]
            .as_str()
            .expect("summary")
            .contains("health probe failing"),
        "{}",
        got[0]
    );
    let rows = store.recent_alerts(10).await.expect("alerts");
    assert_eq!(rows.len(), 1, "one notification row: {rows:#?}");
    assert!(
        !logged.contains(&hook),
        "the sink URL is a secret: {logged}"
    );
    sim.shutdown().await;
}

// ---- simulated time -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_virtual_clock_the_service_runs_a_slot_only_when_time_reaches_it() {
    // The simulator's way of running the service: its loops sleep on a
    // clock that moves only when told, so an hour passes in one call and
    // every timestamp is the simulated one.
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/t/item",
        vec![Reply::json(200, serde_json::json!({"records": [1]}))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        r#"
[pipeline]
name = "virtual"
timezone = "America/New_York"

[sources.up]
base_url = "{}"

[scrapers.item]
source = "up"
path = "/t/item"

[workflows.morning]
scrapers = ["item"]
schedule = {{ kind = "window", start = "06:00", end = "10:00" }}
"#,
        sim.base_url()
    );
    let plan = plan(dir.path(), &toml, &[]);
    let store = sqlite_store(&plan).await;
    // 05:00 in New York: the window opens in an hour.
    let five = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
    let clock = rebound_domain::clock::VirtualClock::new(five);
    let config = ServiceConfig {
        plan,
        role: Role::All,
        workers: 1,
        host: "test-host".to_string(),
    };
    let handle = Service::start(config, store.clone(), Arc::new(clock.clone()))
        .await
        .expect("service starts");

    // The scheduler evaluates at start and then sleeps until 06:00.
    let six = five + chrono::TimeDelta::hours(1);
    wait_for(
        "the scheduler sleeps until 06:00",
        Duration::from_secs(20),
        async || clock.next_wake().is_some_and(|at| at <= six),
    )
    .await;
    assert_eq!(runs_in(store.as_ref(), "queued").await, 0);
    assert_eq!(sim.request_count("/t/item"), 0, "nothing ran before 06:00");

    clock.advance_to(six);
    wait_for(
        "the 06:00 run finished",
        Duration::from_secs(20),
        async || {
            store
                .recent_workflow_executions(10)
                .await
                .expect("runs")
                .iter()
                .any(|e| e.status == "success")
        },
    )
    .await;
    let executions = store.recent_workflow_executions(10).await.expect("runs");
    assert_eq!(executions.len(), 1, "{executions:#?}");
    assert_eq!(
        executions[0].execution_time, six,
        "stamped with the simulated time, not the wall clock"
    );
    assert_eq!(sim.request_count("/t/item"), 1);
    tokio::time::timeout(Duration::from_secs(20), handle.stop())
        .await
        .expect("the service stops while its loops sleep on the virtual clock");
    sim.shutdown().await;
}

// ---- hand-off -----------------------------------------------------------

/// An event left pending by a process that died before publishing it (the
/// call and its event committed, the post never made) is sent by the next
/// `serve`, with no run needed: nothing pending is lost across a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_publishes_events_left_pending_by_an_earlier_process() {
    let sink = webhook::start().await;
    let hook = format!("{}/events", sink.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = r#"
[pipeline]
name = "handoff"

[sources.up]
base_url = "http://127.0.0.1:9"

[scrapers.s]
source = "up"
path = "/s"

[handoff.sinks.wh]
kind = "webhook"
url = "${HOOK_URL}"
"#;
    let plan = plan(dir.path(), toml, &[("HOOK_URL", &hook)]);
    let store = sqlite_store(&plan).await;
    let t = noon_clock().now();
    let call = rebound_storage::NewScraperCall {
        execution_id: None,
        workflow_name: None,
        scraper_name: "s".into(),
        source_name: "up".into(),
        params: "{}".into(),
        target_date: t.date_naive(),
        status: rebound_domain::outcome::ScraperStatus::Failed,
        attempts: 0,
        http_status: None,
        error_kind: None,
        error_message: Some("left over".into()),
        started_at: t,
        finished_at: t,
        duration_ms: 0,
        bytes: None,
        output_uri: None,
        content_hash: None,
        unchanged: false,
        pages: None,
        record_count: None,
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        attempt_rows: vec![],
    };
    let event = rebound_storage::NewCompletionEvent {
        event_id: "0193a6f4-0000-7000-8000-000000000001".into(),
        created_at: t,
        dataset: "s".into(),
        status: "failed".into(),
        payload: r#"{"event_id":"0193a6f4-0000-7000-8000-000000000001","kind":"call.completed"}"#
            .into(),
    };
    store
        .record_call_with_event(&call, Some(&event))
        .await
        .expect("a pending event");

    let handle = start(plan, Role::All, 1, store.clone()).await;
    wait_for(
        "the leftover event posted",
        Duration::from_secs(20),
        async || !sink.received("/events").is_empty(),
    )
    .await;
    wait_for(
        "the event marked published",
        Duration::from_secs(10),
        async || {
            store
                .completion_events(Some("published"), 10)
                .await
                .expect("events")
                .len()
                == 1
        },
    )
    .await;
    tokio::time::timeout(Duration::from_secs(15), handle.stop())
        .await
        .expect("the service stops");
    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("idempotency-key"),
        Some("0193a6f4-0000-7000-8000-000000000001")
    );
}
