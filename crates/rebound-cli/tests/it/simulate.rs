//! `rebound simulate` through the binary: the built-in list, a real
//! virtual-clock run of a built-in scenario on the reference pipeline with
//! its history kept, and bad input (scenario errors with file:line:col, a
//! config source the simulated upstream does not serve).

use super::{rebound, text};

#[test]
fn without_a_scenario_it_lists_the_built_ins() {
    let out = rebound(&["simulate"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for name in [
        "new-years-eve",
        "host-down-5-days",
        "late-play-by-play",
        "empty-after-url-change",
        "dst-spring-forward",
        "dst-fall-back",
        "stale-schedule",
        "full-season",
    ] {
        assert!(stdout.contains(name), "{name} listed: {stdout}");
    }
}

#[test]
fn host_down_reports_runs_failures_and_the_first_alert_from_a_kept_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = dir.path().join("kept");
    let keep_arg = keep.to_string_lossy().into_owned();
    // Two of the scenario's days (the outage starts on the second).
    let out = rebound(
        &[
            "simulate",
            "host-down-5-days",
            "--days",
            "2",
            "--json",
            "--keep",
            &keep_arg,
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}\n{stdout}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["scenario"], "host-down-5-days");
    assert_eq!(report["days"], 2);
    let runs = &report["runs"];
    let total = runs["total"].as_i64().expect("runs.total");
    assert!(total > 0, "{runs}");
    let by_status: i64 = ["success", "partial", "failed", "no_data", "other"]
        .iter()
        .map(|k| runs[k].as_i64().expect("a count"))
        .sum();
    assert_eq!(by_status, total, "{runs}");
    for rate in [
        "failure_rate",
        "partial_rate",
        "error_message_coverage_rate",
    ] {
        let r = report[rate].as_f64().expect(rate);
        assert!((0.0..=1.0).contains(&r), "{rate} = {r}");
    }
    // The outage was met (refused connections) and alerted on within the hour.
    let fault = &report["faults"][0];
    assert!(fault["requests_hit"].as_u64().expect("hits") > 0, "{fault}");
    let first = report["alerts"]["first_alert_seconds"]
        .as_i64()
        .expect("an alert after the outage started");
    assert!((0..=3600).contains(&first), "{first}");
    assert!(report["alerts"]["opened"].as_i64().expect("opened") >= 1);
    // The outage's calls failed, or (once the health probe had opened the
    // source's breaker) were skipped by it without a request.
    let by_status = &report["calls"]["by_status"];
    let count = |k: &str| by_status[k].as_i64().unwrap_or(0);
    assert!(count("failed") + count("skipped") > 0, "{by_status}");

    // The kept history opens with the ordinary report commands.
    let config = keep.join("rebound.toml");
    let config_arg = config.to_string_lossy().into_owned();
    let status = rebound(&["-c", &config_arg, "status", "--json"], &[]);
    assert!(
        status.status.code().is_some_and(|c| c <= 1),
        "{}",
        text(&status.stderr)
    );
    assert!(
        text(&status.stdout).contains("bdl_"),
        "{}",
        text(&status.stdout)
    );

    // The table names the same figures.
    let again = rebound(&["simulate", "host-down-5-days", "--days", "2"], &[]);
    let table = text(&again.stdout);
    for figure in [
        "runs",
        "failure rate",
        "first alert after fault",
        "down on balldontlie",
    ] {
        assert!(table.contains(figure), "{figure}: {table}");
    }
}

#[test]
fn scenario_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "from = \"2026-01-01\"\ndays = 2\n\n[[faults]]\nkind = \"down\"\nsource = \"nba_cdnn\"\nstart = \"2026-01-01T10:00\"\nfor = \"1h\"\n\n[[faults]]\nkind = \"slow\"\nsource = \"espn\"\ndelay = \"-3s\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n",
    )
    .expect("write");
    let arg = path.to_string_lossy().into_owned();
    let out = rebound(&["simulate", &arg], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{arg}:13:9: faults[1].delay: a negative duration")),
        "{stderr}"
    );

    std::fs::write(
        &path,
        "from = \"2026-01-01\"\ndays = 2\n\n[[faults]]\nkind = \"down\"\nsource = \"nba_cdnn\"\nstart = \"2026-01-01T10:00\"\nfor = \"1h\"\n\n[[faults]]\nkind = \"down\"\nsource = \"espn\"\nstart = \"2026-01-01T10:00\"\nfor = \"2h\"\n\n[[faults]]\nkind = \"empty\"\nscraper = \"espn_roster\"\nstart = \"2026-01-01T11:00\"\nfor = \"1h\"\n",
    )
    .expect("write");
    let out = rebound(&["simulate", &arg], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{arg}:6:10: faults[0].source: unknown source \"nba_cdnn\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{arg}:19:9: faults[2].start: faults[1] (down on espn) and faults[2] (empty on scraper espn_roster)")),
        "{stderr}"
    );
    assert!(stderr.contains("contradict"), "{stderr}");

    let out = rebound(&["simulate", "no-such-scenario"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no built-in scenario or file named \"no-such-scenario\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_source_without_a_simulated_route_is_named_per_scraper() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        r#"
[pipeline]
name = "own"
timezone = "America/New_York"

[sources.own_api]
base_url = "https://api.example.com"
query = { key = "${OWN_API_KEY}" }

[scrapers.own_items]
source = "own_api"
path = "/items"
records = "/items"

[workflows.daily]
scrapers = ["own_items"]
schedule = { kind = "window", start = "06:00", end = "08:00" }
"#,
    )
    .expect("write config");
    let scenario = dir.path().join("quiet.toml");
    std::fs::write(&scenario, "from = \"2026-01-10\"\ndays = 1\n").expect("write scenario");
    let config_arg = config.to_string_lossy().into_owned();
    let scenario_arg = scenario.to_string_lossy().into_owned();
    let out = rebound(
        &["-c", &config_arg, "simulate", &scenario_arg, "--json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    assert_eq!(
        report["warnings"],
        serde_json::json!([
            "no simulated route for scrapers.own_items: its calls are counted as connect failures"
        ])
    );
    assert!(
        report["runs"]["failed"].as_i64().expect("failed") >= 1,
        "{report}"
    );
    assert_eq!(report["error_message_coverage_rate"], 1.0);
    // No real secret was needed, none was sent anywhere.
    assert!(!text(&out.stdout).contains("OWN_API_KEY="));
}

#[test]
fn policy_original_runs_beside_the_config_with_the_differences() {
    let out = rebound(
        &[
            "simulate",
            "new-years-eve",
            "--days",
            "1",
            "--policy",
            "original",
            "--json",
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    // The exit code judges the config's run only.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    let both: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(both["scenario"], "new-years-eve");
    assert_eq!(both["baseline"]["policy"], "as written");
    assert_eq!(both["comparison"]["policy"], "original");
    let differences = both["differences"].as_array().expect("differences");
    // One alert per failure: the original sends more notifications.
    let alerts = differences
        .iter()
        .find(|d| d["figure"] == "alerts_sent")
        .expect("alerts differ");
    assert!(
        alerts["comparison"].as_f64() > alerts["baseline"].as_f64(),
        "{alerts}"
    );
}
