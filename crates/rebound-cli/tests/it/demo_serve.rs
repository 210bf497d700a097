//! `rebound demo --serve`: after the story, the dashboard answers on the
//! printed URL with the story's verdict and runs, and SIGTERM stops it
//! with exit code 0; a `--port` without `--serve` is a usage error.

use super::serve::{terminate, wait_exit};
use super::text;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serve_keeps_the_dashboard_open_until_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .current_dir(dir.path())
        .args(["demo", "--serve"])
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("rebound demo --serve starts");
    let stdout = child.stdout.take().expect("stdout");
    // The URL is the last line the story prints; read until it.
    let url = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                let rest = line.strip_prefix("Dashboard:")?.trim();
                Some(rest.split_whitespace().next()?.to_string())
            })
    })
    .await
    .expect("reader")
    .expect("a Dashboard: line with the URL");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );

    let overview = reqwest::get(&url).await.expect("overview");
    assert_eq!(overview.status().as_u16(), 200);
    let html = overview.text().await.expect("body");
    assert!(html.contains("Health: <span id=\"level\">"), "{html}");
    assert!(
        html.contains("nba-demo") || html.contains("Overview"),
        "{html}"
    );
    let runs = reqwest::get(format!("{url}runs")).await.expect("runs");
    let html = runs.text().await.expect("body");
    assert!(html.contains("live_box_scores"), "the story's runs: {html}");
    assert!(html.matches("data-execution-id=").count() >= 7, "{html}");

    terminate(&mut child);
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("stops on SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn demo_port_without_serve_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .current_dir(dir.path())
        .args(["demo", "--port", "8080"])
        .env_remove("REBOUND_CONFIG")
        .output()
        .expect("rebound runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--serve"),
        "{}",
        text(&out.stderr)
    );
}

/// A `--port` in use fails the command before the story: it ran the whole
/// story, replacing the folder's history, and only then failed on the port.
#[test]
fn a_port_in_use_fails_before_the_story_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = taken.local_addr().expect("its address").port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .current_dir(dir.path())
        .args(["demo", "--serve", "--port", &port, "--dir", "story"])
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "error")
        .output()
        .expect("rebound runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--port {port}: cannot listen on 127.0.0.1:{port}: is another process using that port?"
        )),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout), "", "nothing of the story is told");
    assert!(
        !dir.path().join("story").exists(),
        "nothing of the story is written"
    );
    drop(taken);
}
