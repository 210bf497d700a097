//! `/metrics` on real `rebound serve` processes: scraped over HTTP, parsed
//! as Prometheus text, and checked against what the simulated upstream
//! served; `/healthz`; a port in use; `--log-format json`.

use super::serve::{TestDb, count_once_migrated, logs, midday_zone, terminate, wait_exit};
use prometheus_parse::Scrape;
use rebound_testkit::prometheus;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "metrics_secret_51f0";

fn spawn(config: &Path, args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["-c", config.to_str().expect("utf-8 path")])
        .args(args)
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "info")
        .env("METRICS_KEY", SECRET)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("rebound serve starts")
}

/// The address a process announced on stderr (`[server] listen` is port 0,
/// so the system picked it).
fn metrics_addr(log: &Path, dir: &Path) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("metrics at http://").nth(1) {
            let addr = rest.split('/').next().unwrap_or_default();
            return addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
        }
        assert!(
            Instant::now() < deadline,
            "no metrics address announced\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
async fn scrape_until(
    addr: SocketAddr,
    dir: &Path,
    what: &str,
    done: impl Fn(&Page) -> bool,
) -> Page {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = scrape(addr).await;
        if done(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {what}\n{}\n{}",
            page.text,
            logs(dir)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn write_config(dir: &Path, database: &str, sim: &str, listen: &str) -> PathBuf {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[pipeline]
name = "metrics"
timezone = "{zone}"
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
"#,
            zone = midday_zone()
        ),
    )
    .expect("write config");
    path
}

fn script(sim: &UpstreamSim) {
    let ok = || Reply::json(200, serde_json::json!({"data": [1, 2, 3]}));
    // daily and easy both call flaky: one 503 then successes.
    sim.script("/m/flaky", vec![Reply::status(503), ok(), ok()]);
    sim.script("/m/missing", vec![Reply::status(404)]);
    sim.script("/m/down", vec![Reply::status(503), Reply::status(503)]);
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
    for leak in ["http", "/m/", "?", SECRET, "503", "404", "key="] {
        assert!(!page.text.contains(leak), "{leak:?} in\n{}", page.text);
    }
}

/// A scheduler process and a worker process on one PostgreSQL database,
/// each with its own `/metrics`: the scheduler's shows the due runs it
/// queued (queue depth, shared state); the worker's shows what it did
/// (per-process counters) and the breaker it opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exposes_metrics_that_match_what_the_upstream_served() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let db = TestDb::create("metrics").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &db.url, &sim.base_url(), "127.0.0.1:0");

    let scheduler_log = dir.path().join("scheduler.log");
    let mut scheduler = spawn(&config, &["serve", "--role", "scheduler"], &scheduler_log);
    let scheduler_addr = metrics_addr(&scheduler_log, dir.path());
    let health = reqwest::get(format!("http://{scheduler_addr}/healthz"))
        .await
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("body"), "ok\n");

    // No worker yet: the three due slots wait in the queue.
    let page = scrape_until(scheduler_addr, dir.path(), "three due runs", |p| {
        p.value("rebound_queue_depth", &[]) == Some(3.0)
    })
    .await;
    assert_eq!(
        page.value("rebound_runs_total", &[]),
        None,
        "a scheduler runs nothing"
    );
    assert_eq!(sim.request_count("/m/flaky"), 0);

    let worker_log = dir.path().join("worker.log");
    let mut worker = spawn(
        &config,
        &["serve", "--role", "worker", "--workers", "1"],
        &worker_log,
    );
    let worker_addr = metrics_addr(&worker_log, dir.path());
    let mut conn = db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_once_migrated(
        &mut conn,
        "SELECT count(*) FROM scheduled_runs WHERE state = 'done'",
    )
    .await
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "runs not done\n{}",
            logs(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(conn);

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

    // Counters are per process: the scheduler's page still has no runs.
    let page = scrape(scheduler_addr).await;
    assert_eq!(page.value("rebound_attempts_total", &[]), None);
    assert_bounded_labels(&page);

    for child in [&mut scheduler, &mut worker] {
        terminate(child);
    }
    for child in [&mut scheduler, &mut worker] {
        let status = wait_exit(child, Duration::from_secs(15)).expect("serve exits on SIGTERM");
        assert!(status.success(), "{status}\n{}", logs(dir.path()));
    }
    assert!(
        reqwest::get(format!("http://{worker_addr}/healthz"))
            .await
            .is_err(),
        "the endpoint stops with the service"
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_stops_serve_at_start_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "sqlite://rebound.db",
        "http://127.0.0.1:9",
        &addr.to_string(),
    );
    let log = dir.path().join("serve.log");
    let mut child = spawn(&config, &["serve"], &log);
    let status = wait_exit(&mut child, Duration::from_secs(20)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("serve kept running on a port in use\n{}", logs(dir.path()))
    });
    assert!(!status.success());
    let text = std::fs::read_to_string(&log).expect("log");
    let want = format!("cannot listen on {addr} ([server] listen in ");
    assert!(text.contains(&want), "{text}");
    assert!(
        text.contains("is another process using that port?"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    drop(taken);
}

/// `--log-format json`: every stderr line of `rebound serve` is one JSON
/// object, and the main events carry their facts as fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "sqlite://rebound.db",
        &sim.base_url(),
        "127.0.0.1:0",
    );
    let log = dir.path().join("serve.log");
    let mut child = spawn(&config, &["--log-format", "json", "serve"], &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("Run finished.").count() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "runs not finished\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    terminate(&mut child);
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("serve exits");
    assert!(status.success(), "{status}");

    let text = std::fs::read_to_string(&log).expect("log");
    let mut events: Vec<serde_json::Value> = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}\n{text}"));
        assert!(value.is_object(), "{line}");
        events.push(value);
    }
    let find = |message: &str| {
        events
            .iter()
            .find(|e| e["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} event in\n{text}"))
    };
    let claimed = find("Run claimed.");
    for field in ["run_id", "workflow", "target_date", "slot"] {
        assert!(claimed["fields"][field].is_string(), "{field}: {claimed}");
    }
    let finished = find("Run finished.");
    for field in ["run_id", "workflow", "status"] {
        assert!(finished["fields"][field].is_string(), "{field}: {finished}");
    }
    assert!(
        finished["fields"]["schedule_to_start_ms"].is_number(),
        "{finished}"
    );
    let opened = find("Circuit breaker opened.");
    assert_eq!(opened["fields"]["source"], "down", "{opened}");
    assert!(opened["fields"]["reason"].is_string(), "{opened}");
    assert!(find("rebound serve: stopped")["level"] == "INFO");
    assert!(!text.contains(SECRET), "secrets never reach the logs");
}
