//! A `rebound run` killed mid-run: its run row exists from the start
//! (`running` in `status` while it works) and the next command that opens
//! the store closes it as failed, "process exited during the run", with the
//! calls it had finished.

use super::{rebound, text};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn status_json(config: &str) -> serde_json::Value {
    let out = rebound(&["-c", config, "status", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn a_killed_run_shows_as_running_then_failed_with_its_calls() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/k/fast",
        vec![Reply::json(200, serde_json::json!({"data": [1]}))],
    );
    // The second step hangs long enough to be killed while it waits.
    sim.script(
        "/k/slow",
        vec![Reply::json(200, serde_json::json!({"data": [2]})).delay(Duration::from_secs(30))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "killed"
timezone = "UTC"

[sources.up]
base_url = "{}"
timeout = "60s"

[scrapers.fast]
source = "up"
path = "/k/fast"

[scrapers.slow]
source = "up"
path = "/k/slow"

[workflows.two]
steps = [{{ scrapers = ["fast"] }}, {{ scrapers = ["slow"], after = ["fast"] }}]
"#,
            sim.base_url()
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8 path");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["-c", config, "run", "two"])
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rebound run starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.request_count("/k/slow") == 0 {
        assert!(Instant::now() < deadline, "the slow call never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // While it works, `status` shows it running (and does not close it:
    // its process is alive).
    let live = status_json(config);
    let runs = live["workflow_executions"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{live:#}");
    assert_eq!(runs[0]["status"], "running", "{live:#}");
    assert_eq!(runs[0]["workflow_name"], "two");

    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    child.wait().expect("reaped");

    let after = status_json(config);
    let runs = after["workflow_executions"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{after:#}");
    let run = &runs[0];
    assert_eq!(run["status"], "failed", "{after:#}");
    assert_eq!(run["error_message"], "process exited during the run");
    assert_eq!(run["error_kind"], "internal");
    // The call that finished before the kill is the run's; the cut-off one
    // left no row.
    assert_eq!(run["scrapers_requested"], 1, "{after:#}");
    assert_eq!(run["scrapers_succeeded"], 1, "{after:#}");
    assert_eq!(sim.request_count("/k/fast"), 1);
    sim.shutdown().await;
}
