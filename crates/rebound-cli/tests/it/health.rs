//! `rebound health` and `rebound freshness` through the binary: exit codes
//! 0 / 1 / 2, the JSON keys scripts read, the verdict line, and secrets
//! kept out of every output.

use super::{rebound, text};
use rebound_upstream_sim::{Reply, UpstreamSim};

const KEY: &str = "health_secret_3b9a";

fn config(dir: &std::path::Path, base_url: &str) -> String {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[pipeline]
name = "health"
timezone = "America/New_York"

[retry]
max_attempts = 1

[sources.up]
base_url = "{base_url}"
timeout = "2s"
query = {{ key = "${{HEALTH_KEY}}" }}
health = {{ path = "/c/status", expect_status = 200, timeout = "2s" }}

[scrapers.injuries]
source = "up"
path = "/c/injuries"
records = "/records"
dataset = "nba/injuries"

[scrapers.props]
source = "up"
path = "/c/props"
records = "/records"

[workflows.injuries]
scrapers = ["injuries"]

[workflows.props]
scrapers = ["props"]

[datasets."nba/injuries"]
fresh_warn = "26h"
fresh_error = "50h"
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn health_exit_codes_json_and_verdict() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &sim.base_url());
    let env = [("HEALTH_KEY", KEY)];
    let health = |extra: &[&str]| {
        let mut args = vec!["-c", c.as_str(), "health"];
        args.extend_from_slice(extra);
        rebound(&args, &env)
    };

    // Nothing has run yet: a dataset that never changed is not stale
    // before its limit has passed since its first call, and with no
    // history at all there is nothing to judge (it was critical at once,
    // so a new pipeline's first `serve` alerted within a minute).
    let out = health(&["--json", "--no-probe"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(
        json["datasets"][0]["freshness"]["watched_since"],
        serde_json::Value::Null
    );

    // Both workflows get data: healthy, exit 0.
    let data = || Reply::json(200, serde_json::json!({"records": [{"id": 1}]}));
    sim.script("/c/injuries", vec![data()]);
    sim.script("/c/props", vec![data()]);
    for w in ["injuries", "props"] {
        let out = rebound(&["-c", &c, "run", w], &env);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = health(&["--json", "--no-probe"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in [
        "sources",
        "scrapers",
        "workflows",
        "error_coverage",
        "retries",
        "datasets",
        "alerts",
        "level",
        "generated_at",
        "since",
    ] {
        assert!(json.get(key).is_some(), "{key} missing: {json}");
    }
    assert_eq!(json["level"], "ok");
    // Whole seconds, like every time in JSON (they had nanoseconds).
    for key in ["generated_at", "since"] {
        let at = json[key].as_str().unwrap_or_default();
        assert!(at.len() == 20 && at.ends_with('Z'), "{key}: {at}");
    }
    assert_eq!(json["retries"]["calls"], 2);
    assert!(json["sources"][0]["probe"].is_null(), "--no-probe");
    let out = health(&["--no-probe"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("HEALTHY: nothing is broken"), "{stdout}");

    // props fails once, with the key echoed by the upstream: warning, exit 1,
    // and the verdict names what broke and why.
    sim.script("/c/props", vec![Reply::echo_query(503)]);
    let out = rebound(&["-c", &c, "run", "props"], &env);
    assert_eq!(out.status.code(), Some(1));
    let out = health(&["--no-probe"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap();
    assert!(first.starts_with("WARNING: 0 critical,"), "{stdout}");
    assert!(
        stdout.contains("scraper props: 1 failed call in a row"),
        "{stdout}"
    );
    assert!(
        stdout.contains("workflow props: the last run failed or partial since"),
        "{stdout}"
    );
    assert!(!stdout.contains(KEY), "secret on stdout: {stdout}");

    // The probe: the upstream's status page answers 500: critical, exit 2.
    sim.script("/c/status", vec![Reply::text(500, "maintenance")]);
    let out = health(&["--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["sources"][0]["probe"]["ok"], false);
    assert_eq!(json["sources"][0]["probe"]["http_status"], 500);
    assert_eq!(json["sources"][0]["level"], "critical");
    assert!(!text(&out.stdout).contains(KEY));
    let requests = sim.requests();
    assert!(requests.iter().any(|r| r.path == "/c/status"), "probe sent");

    // A bad --since is a usage error naming the argument.
    let out = health(&["--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--since \"yesterday\""), "{stderr}");
    // A period past any history is a usage error, not a panic.
    let out = health(&["--since", "18446744073709551615s"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--since \"18446744073709551615s\": expected a period of at most 3650d"),
        "{stderr}"
    );
    // A zero period counted nothing and reported it (0 calls, 0 failed).
    let out = health(&["--since", "0s"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--since \"0s\": expected a period longer than zero"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_shows_age_thresholds_and_last_change() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &sim.base_url());
    let env = [("HEALTH_KEY", KEY)];

    let out = rebound(&["-c", &c, "freshness"], &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no history yet, nothing to judge"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("nba/injuries"), "{stdout}");
    assert!(stdout.contains("never changed"), "{stdout}");
    assert!(stdout.contains("1d 2h / 2d 2h"), "thresholds: {stdout}");

    sim.script(
        "/c/injuries",
        vec![Reply::json(
            200,
            serde_json::json!({"records": [{"id": 1}]}),
        )],
    );
    let out = rebound(&["-c", &c, "run", "injuries"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // An empty answer afterwards changes nothing.
    sim.script(
        "/c/injuries",
        vec![Reply::json(200, serde_json::json!({"records": []}))],
    );
    rebound(&["-c", &c, "run", "injuries"], &env);

    let out = rebound(&["-c", &c, "freshness", "--json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["level"], "ok");
    // Whole seconds in UTC, like every time in JSON (had nanoseconds).
    let generated = json["generated_at"].as_str().unwrap();
    assert!(
        generated.len() == 20 && generated.ends_with('Z'),
        "{generated}"
    );
    let datasets = json["datasets"].as_array().unwrap();
    let injuries = datasets
        .iter()
        .find(|d| d["name"] == "nba/injuries")
        .expect("dataset listed");
    let f = &injuries["freshness"];
    assert_eq!(f["fresh_warn_seconds"], 26 * 3600);
    assert_eq!(f["fresh_error_seconds"], 50 * 3600);
    assert!(f["age_seconds"].as_i64().unwrap() < 60);
    assert!(f["last_change_at"].is_string());
    assert_ne!(
        f["last_change_at"], f["last_checked_at"],
        "the empty answer was a check, not a change"
    );
    // A dataset without thresholds is listed, ok whatever its age.
    let props = datasets.iter().find(|d| d["name"] == "props").unwrap();
    assert_eq!(props["level"], "ok");
    assert!(props["freshness"]["last_change_at"].is_null());
}

/// A scraper's calls its source's limits held back before their request
/// are named apart in its failures and do not warn about the scraper: the
/// source made Rebound wait. A throttled evening read "WARNING scraper
/// oddsa_game_lines: 56 failed …" where none of the 56 had been sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_held_back_by_the_source_are_named_apart_from_failures() {
    use rebound_domain::outcome::{ErrorKind, ScraperStatus};
    use rebound_storage::{NewScraperCall, Store};
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), "http://127.0.0.1:9");
    let env = [("HEALTH_KEY", KEY), ("COLUMNS", "400")];
    // Creates the history.
    let out = rebound(&["-c", &c, "health", "--no-probe"], &env);
    assert!(
        out.status.code().is_some_and(|c| c <= 2),
        "{}",
        text(&out.stderr)
    );
    let store = rebound_storage_sqlite::SqliteStore::open(&dir.path().join("rebound.db"))
        .await
        .unwrap();
    let now = rebound_domain::clock::Clock::now(&rebound_clock::SystemClock);
    for i in 0..12 {
        let at = now - chrono::TimeDelta::minutes(60 - i);
        let call = NewScraperCall {
            execution_id: None,
            workflow_name: None,
            scraper_name: "props".into(),
            source_name: "up".into(),
            params: "{}".into(),
            target_date: at.date_naive(),
            status: ScraperStatus::Failed,
            attempts: 0,
            http_status: None,
            error_kind: Some(ErrorKind::Throttled),
            error_message: Some("source up paused until later (HTTP 429 with Retry-After)".into()),
            started_at: at,
            finished_at: at,
            duration_ms: 0,
            bytes: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
            pages: None,
            record_count: None,
            attempt_rows: Vec::new(),
            etag: None,
            last_modified: None,
            outputs: Vec::new(),
        };
        store.record_scraper_call(&call).await.unwrap();
    }
    drop(store);
    let out = rebound(&["-c", &c, "health", "--no-probe"], &env);
    let table = text(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.contains("│ props "))
        .unwrap_or_else(|| panic!("a props row: {table}"));
    assert!(row.contains("12 (12 deferred)"), "{row}");
    assert!(row.contains("┆ ok "), "{row}");
    assert!(!table.contains("WARNING  scraper props"), "{table}");
    let out = rebound(&["-c", &c, "health", "--no-probe", "--json"], &env);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let props = json["scrapers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "props")
        .unwrap();
    assert_eq!(
        (props["failures"].as_i64(), props["deferred"].as_i64()),
        (Some(12), Some(12))
    );
    assert_eq!(props["level"], "ok", "{props}");
}
