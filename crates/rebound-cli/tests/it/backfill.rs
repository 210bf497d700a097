//! `rebound backfill`: one run per date, plain progress lines off a
//! terminal, idempotent on rerun (only dates without a good run run again).

use rebound_upstream_sim::{Reply, UpstreamSim};
use std::path::Path;
use std::process::{Command, Output};

fn backfill(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["-c", config.to_str().expect("utf-8"), "backfill"])
        .args(args)
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "error")
        .output()
        .expect("rebound runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_runs_each_date_once_and_reruns_only_failures() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "bf"
timezone = "America/New_York"

[retry]
max_attempts = 2
initial_delay = "10ms"
max_delay = "20ms"

[sources.up]
base_url = "{}"

[scrapers.item]
source = "up"
path = "/bench/item"
query = {{ d = "{{date}}" }}

[workflows.daily]
scrapers = ["item"]
"#,
            sim.base_url()
        ),
    )
    .expect("config");
    // The first date's call fails (503 on both attempts).
    sim.script("/bench/item", vec![Reply::status(503), Reply::status(503)]);

    let first = backfill(
        &config,
        &["daily", "--from", "2026-11-01", "--to", "2026-11-03"],
    );
    let out = text(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(1),
        "a failed date fails the command\n{out}{}",
        text(&first.stderr)
    );
    assert!(
        out.contains("[1/3] 2026-11-01: failed: item: HTTP 503"),
        "{out}"
    );
    assert!(out.contains("[2/3] 2026-11-02: success"), "{out}");
    assert!(out.contains("[3/3] 2026-11-03: success"), "{out}");
    assert!(
        out.contains("3 dates, 3 ran, 0 already done, 1 not ok"),
        "{out}"
    );
    assert_eq!(sim.request_count("/bench/item"), 4);

    let second = backfill(
        &config,
        &[
            "daily",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-03",
            "--json",
        ],
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&second.stdout).expect("JSON");
    let actions: Vec<&str> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["ran", "skipped", "skipped"], "{rows:#}");
    assert_eq!(rows[0]["status"], "success");
    assert_eq!(
        sim.request_count("/bench/item"),
        5,
        "only the failed date called again"
    );

    let bad = backfill(
        &config,
        &["daily", "--from", "2026-11-03", "--to", "2026-11-01"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("--from 2026-11-03 is after --to 2026-11-01"),
        "{}",
        text(&bad.stderr)
    );
    let unknown = backfill(
        &config,
        &["nightly", "--from", "2026-11-01", "--to", "2026-11-01"],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    sim.shutdown().await;
}
