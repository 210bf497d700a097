//! `rebound health` and `freshness` follow the monitoring-plugin
//! convention: 0 ok, 1 warning, 2 critical, and 3 UNKNOWN when they cannot
//! look at all, so a broken check is never taken for a critical pipeline.

use super::{rebound, text};

fn assert_unknown(args: &[&str], needle: &str) {
    let out = rebound(args, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert!(stderr.contains("UNKNOWN: "), "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn health_and_freshness_exit_3_when_the_config_cannot_be_read() {
    let missing = "/nonexistent/rebound.toml";
    assert_unknown(
        &["-c", missing, "health", "--no-probe"],
        "config file not found",
    );
    assert_unknown(&["-c", missing, "freshness"], "config file not found");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("rebound.toml");
    std::fs::write(&bad, "[pipeline]\nname = 3\n").unwrap();
    let bad = bad.to_str().unwrap();
    assert_unknown(&["-c", bad, "health", "--no-probe"], "rebound.toml:2:");
    assert_unknown(&["-c", bad, "freshness"], "rebound.toml:2:");
}

#[test]
fn health_and_freshness_exit_3_when_the_database_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the database's folder should be: it cannot be created.
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        r#"
[pipeline]
name = "x"
database = "sqlite://blocker/rebound.db"

[sources.up]
base_url = "http://127.0.0.1:9/"

[scrapers.s]
source = "up"
path = "/s"

[workflows.w]
scrapers = ["s"]
"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    assert_unknown(
        &["-c", config, "health", "--no-probe"],
        "cannot open history database",
    );
    assert_unknown(&["-c", config, "freshness"], "cannot open history database");
}

#[test]
fn other_commands_keep_exit_2_for_a_bad_config() {
    let out = rebound(&["-c", "/nonexistent/rebound.toml", "status"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
