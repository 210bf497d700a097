//! `rebound serve` processes with `[server] listen`: a port in use stops
//! the binary with a message naming the key and the file (exit 1), and
//! `--log-format json` makes every stderr line one JSON object, SIGTERM
//! included. `/metrics` and `/healthz` themselves are checked against what
//! the simulated upstream served in rebound-service's in-process tests
//! (`tests/it/serve.rs`).

use super::serve::{logs, midday_zone, terminate, wait_exit};
use rebound_upstream_sim::{Reply, UpstreamSim};
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
    // SIGTERM is announced, then the service stops.
    assert!(
        find(
            "rebound serve: stopping (in-flight runs get the shutdown grace period; Ctrl-C again to exit now)"
        )["level"]
            == "INFO"
    );
    assert!(find("rebound serve: stopped")["level"] == "INFO");
    // The start says where the dashboard and the API answer.
    let urls = events
        .iter()
        .filter_map(|e| e["fields"]["message"].as_str())
        .find(|m| m.contains("dashboard at http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no dashboard URL in\n{text}"));
    assert!(urls.contains("/api/v1/"), "{urls}");
    assert!(!text.contains(SECRET), "secrets never reach the logs");
}
