//! Derived parameters through the binary (issue 13, item 3): `rebound
//! check` refusing a parameter a scheduled workflow cannot supply, with its
//! place in the file; `--slot` on `scrape` and `run`; every example config
//! still passing `check`.

use super::{rebound, text};
use rebound_upstream_sim::UpstreamSim;
use std::path::Path;

fn write(dir: &Path, body: &str) -> String {
    let path = dir.join("rebound.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

fn config(base_url: &str) -> String {
    format!(
        r#"[pipeline]
name = "p"
timezone = "America/New_York"
season_start = "10-01"

[sources.up]
base_url = "{base_url}"
timeout = "2s"

[scrapers.injury_report]
source = "up"
path = "/echo/injury/Injury-Report_{{date}}_{{slot_hour12}}{{slot_ampm}}.pdf"
query = {{ season = "{{season}}" }}

[workflows.injuries]
scrapers = ["injury_report"]
"#
    )
}

#[test]
fn check_refuses_a_parameter_no_run_of_a_scheduled_workflow_supplies() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"[pipeline]
name = "p"

[sources.espn]
base_url = "https://espn.example"

[scrapers.espn_roster]
source = "espn"
path = "/teams/{team_abbr}/roster"

[workflows.morning_operations]
scrapers = ["espn_roster"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
    let config = write(dir.path(), body);
    let out = rebound(&["-c", &config, "check"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    // Line 9, column 8: the path's value.
    let expected = format!(
        "{config}:9:8: scrapers.espn_roster.path: {{team_abbr}} is not supplied by workflow morning_operations (it supplies: date, date_compact, target_date, day_start_utc, day_end_utc, slot_hour, slot_hour12, slot_ampm, slot_minute)"
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The same scraper only run by hand (`rebound scrape --param`) is fine.
    let by_hand = body.replace(
        "schedule = { kind = \"window\", start = \"06:00\", end = \"10:00\" }\n",
        "",
    );
    let config = write(dir.path(), &by_hand);
    let out = rebound(&["-c", &config, "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn scrape_and_run_take_the_slot_time_for_slot_parameters() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), &config(&sim.base_url()));

    let out = rebound(
        &[
            "-c",
            &config,
            "scrape",
            "injury_report",
            "--date",
            "2025-12-23",
            "--slot",
            "14:00",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = rebound(
        &[
            "-c",
            &config,
            "run",
            "injuries",
            "--date",
            "2026-01-05",
            "--slot",
            "00:30",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sent: Vec<String> = sim
        .requests()
        .into_iter()
        .map(|r| format!("{}?{}", r.path, r.query.unwrap_or_default()))
        .collect();
    assert_eq!(
        sent,
        vec![
            "/echo/injury/Injury-Report_2025-12-23_02PM.pdf?season=2025-26",
            "/echo/injury/Injury-Report_2026-01-05_12AM.pdf?season=2025-26",
        ]
    );

    // Without a slot: nothing is sent, and the error says what to pass.
    let out = rebound(
        &[
            "-c",
            &config,
            "scrape",
            "injury_report",
            "--date",
            "2025-12-23",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "scraper injury_report needs parameters {slot_ampm}, {slot_hour12}: pass --slot HH:MM"
        ),
        "{stderr}"
    );
    // A slot that is no time of day is refused before anything runs.
    for bad in ["25:00", "2pm", "14:00:00"] {
        let out = rebound(
            &["-c", &config, "scrape", "injury_report", "--slot", bad],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "expected a time of day as HH:MM (24-hour), e.g. 14:00, found \"{bad}\""
            )),
            "{bad}: {stderr}"
        );
    }
    assert_eq!(sim.requests().len(), 2);

    // A backfill gives every date the same slot.
    let out = rebound(
        &[
            "-c",
            &config,
            "backfill",
            "injuries",
            "--from",
            "2026-01-06",
            "--to",
            "2026-01-07",
            "--slot",
            "09:15",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sent: Vec<String> = sim.requests().into_iter().skip(2).map(|r| r.path).collect();
    assert_eq!(
        sent,
        vec![
            "/echo/injury/Injury-Report_2026-01-06_09AM.pdf",
            "/echo/injury/Injury-Report_2026-01-07_09AM.pdf",
        ]
    );
}

#[test]
fn every_example_config_passes_check() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    let mut pending = vec![examples];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                let out = rebound(&["-c", path.to_str().unwrap(), "check"], &[]);
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{}: {}",
                    path.display(),
                    text(&out.stderr)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "found {checked} example configs");
}

/// Before: a 70,000-character `--param` failed each attempt with hyper's
/// "Parsed Url is not a valid Uri", naming neither the scraper nor why.
#[test]
fn a_parameter_too_long_for_a_url_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "[pipeline]\nname = \"p\"\ndatabase = \"sqlite://h.db\"\n\n\
         [sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n\
         [scrapers.lookup]\nsource = \"up\"\npath = \"/find\"\nquery = { q = \"{term}\" }\n",
    );
    let long = format!("term={}", "x".repeat(70_000));
    let out = rebound(
        &[
            "-c", &config, "scrape", "lookup", "--param", &long, "--json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("not a valid Uri"), "{all}");
    assert!(
        all.contains("scraper lookup: the request URL would be 70")
            && all.contains("over the 65534 an HTTP request can carry"),
        "{all}"
    );
}

/// `--slot` supplies only the slot parameters; given to a scraper or
/// workflow that uses none, it changed nothing, silently (exit 0, the
/// request the same as without it), where an unused `--param` is refused.
#[test]
fn a_slot_no_template_uses_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{}\n[scrapers.schedule]\nsource = \"up\"\npath = \"/schedule\"\n\n[workflows.daily]\nscrapers = [\"schedule\"]\n",
        config("http://127.0.0.1:9")
    );
    let config = write(dir.path(), &body);
    for (args, says) in [
        (
            vec!["scrape", "schedule", "--slot", "14:00"],
            "error: --slot 14:00: scraper \"schedule\" uses none of {slot_hour}, {slot_hour12}, {slot_ampm}, {slot_minute}, which is all --slot supplies; leave --slot out",
        ),
        (
            vec!["run", "daily", "--slot", "09:05"],
            "error: --slot 09:05: workflow \"daily\" uses none of {slot_hour}, {slot_hour12}, {slot_ampm}, {slot_minute}, which is all --slot supplies; leave --slot out",
        ),
        (
            vec![
                "backfill",
                "daily",
                "--from",
                "2026-01-06",
                "--to",
                "2026-01-07",
                "--slot",
                "09:15",
            ],
            "error: --slot 09:15: workflow \"daily\" uses none of {slot_hour}, {slot_hour12}, {slot_ampm}, {slot_minute}, which is all --slot supplies; leave --slot out",
        ),
    ] {
        let mut all = vec!["-c", config.as_str()];
        all.extend(args);
        let out = rebound(&all, &[]);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr).trim(), says, "{all:?}");
    }
    assert!(!dir.path().join("rebound.db").exists(), "nothing ran");
}
