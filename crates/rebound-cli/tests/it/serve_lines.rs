//! `rebound serve` at its default log level: one line per finished run
//! (workflow, target date, status, counts, duration), and after a clean
//! stop the SQLite file alone holds the history (the WAL is truncated).

use super::serve::{midday_zone, terminate, wait_exit};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_one_line_per_finished_run_and_leaves_a_complete_file() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/l/ok",
        vec![Reply::json(200, serde_json::json!({"data": [1, 2]}))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "lines"
timezone = "{zone}"

[scheduler]
max_idle = "1s"

[sources.up]
base_url = "{base}"
timeout = "5s"

[scrapers.ok]
source = "up"
path = "/l/ok"
records = "/data"

[workflows.daily]
scrapers = ["ok"]
schedule = {{ kind = "window", start = "06:00", end = "18:00" }}
"#,
            zone = midday_zone(),
            base = sim.base_url()
        ),
    )
    .expect("config");
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["-c", config.to_str().unwrap(), "serve"])
        .env_remove("REBOUND_CONFIG")
        .env_remove("RUST_LOG") // the default level
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("Run finished.")) {
            break line.to_string();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no run line\n{text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    terminate(&mut child);
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("serve exits");
    assert!(status.success(), "{status}");
    for field in [
        "workflow=daily",
        "target_date=",
        "status=success",
        "succeeded=1",
        "failed=0",
        "duration_ms=",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("Run claimed."),
        "info lines stay off: {text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour into a file: {text:?}");
    // A scheduled workflow: nothing to warn about.
    assert!(
        !text.contains("nothing will run on its own"),
        "scheduled: {text}"
    );
    let wal = std::fs::metadata(dir.path().join("rebound.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(wal, 0, "the WAL is checkpointed on a clean stop");
}

/// Before: "role all, 0 scheduled workflows, …" and then silence, which
/// read as a service waiting for its first slot; with no schedule there is
/// none.
#[test]
fn serve_with_no_scheduled_workflow_says_nothing_will_run_on_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = super::one_workflow(dir.path(), "rebound.db");
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["-c", config.to_str().unwrap(), "serve"])
        .env_remove("REBOUND_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("0 scheduled workflows") && text.lines().count() >= 2 {
            break text;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no start lines\n{text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    terminate(&mut child);
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("serve exits");
    assert!(status.success(), "{status}");
    let line = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("a second line: {text}"));
    assert_eq!(
        line,
        "rebound serve: no workflow has a schedule, so nothing will run on its own; give one a `schedule = { kind = \"cron\", cron = \"0 5 * * *\" }` (or window, every, at, discovery: docs/scheduling.md), or run one now with `rebound run WORKFLOW`"
    );
}
