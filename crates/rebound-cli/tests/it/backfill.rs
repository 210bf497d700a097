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

/// A config of one workflow `daily` of one scraper at `/bench/item`, in
/// `zone`.
fn one_daily(dir: &Path, base_url: &str, zone: &str) -> std::path::PathBuf {
    let config = dir.join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            "[pipeline]\nname = \"bf\"\ntimezone = \"{zone}\"\n\n[sources.up]\nbase_url = \"{base_url}\"\n\n\
             [scrapers.item]\nsource = \"up\"\npath = \"/bench/item\"\nquery = {{ d = \"{{date}}\" }}\n\n\
             [workflows.daily]\nscrapers = [\"item\"]\n"
        ),
    )
    .expect("config");
    config
}

/// Before: a second backfill started while the first ran a date ran it
/// too (two `success` rows, every request sent twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_running_in_another_backfill_is_not_run_again() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = one_daily(dir.path(), &sim.base_url(), "America/New_York");
    // Real time: the first backfill's call is held while the second starts.
    sim.script(
        "/bench/item",
        vec![Reply::text(200, "{}").delay(std::time::Duration::from_secs(3))],
    );
    let args = ["daily", "--from", "2026-11-01", "--to", "2026-11-01"];
    let first = {
        let config = config.clone();
        std::thread::spawn(move || backfill(&config, &args))
    };
    let db = dir.path().join("rebound.db");
    let mut waited = 0;
    while sim.request_count("/bench/item") == 0 {
        assert!(waited < 100, "the first backfill never called");
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    assert!(db.exists());
    let second = backfill(&config, &args);
    let out = text(&second.stdout);
    assert_eq!(
        second.status.code(),
        Some(0),
        "{out}{}",
        text(&second.stderr)
    );
    assert!(
        out.contains("2026-11-01: running in another process (execution ")
            && out.contains("); not run again"),
        "{out}"
    );
    assert!(
        out.contains("1 date, 0 ran, 0 already done, 1 running in another process, 0 not ok"),
        "{out}"
    );
    let first = first.join().expect("first backfill");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(sim.request_count("/bench/item"), 1, "the date ran once");
}

/// Before: Samoa's skipped 2011-12-30 was run, its calls sent a
/// `{day_start_utc}` after their `{day_end_utc}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_the_zone_skips_is_not_run() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = one_daily(dir.path(), &sim.base_url(), "Pacific/Apia");
    sim.script("/bench/item", vec![Reply::text(200, "{}"); 2]);
    let out = backfill(
        &config,
        &["daily", "--from", "2011-12-29", "--to", "2011-12-31"],
    );
    let text_out = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text_out}{}",
        text(&out.stderr)
    );
    assert!(
        text_out.contains(
            "2011-12-30: does not exist in Pacific/Apia (its clocks skip it whole); nothing to run"
        ),
        "{text_out}"
    );
    assert!(
        text_out.contains(
            "3 dates, 2 ran, 0 already done, 1 not a day in the pipeline's zone, 0 not ok"
        ),
        "{text_out}"
    );
    assert_eq!(sim.request_count("/bench/item"), 2);
    let run = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args([
            "-c",
            config.to_str().expect("utf-8"),
            "run",
            "daily",
            "--date",
            "2011-12-30",
        ])
        .env_remove("REBOUND_CONFIG")
        .output()
        .expect("rebound runs");
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("2011-12-30 does not exist in Pacific/Apia: its clocks skip it whole, so nothing runs on it"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(sim.request_count("/bench/item"), 2, "nothing was sent");
}

/// Before: `--from 0001-01-01 --to 2099-12-31` started 766,644 dates one
/// after the other. A range of more than 3,660 dates is refused before
/// anything runs, naming the bound and how to split it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_longer_than_ten_years_is_refused_naming_how_to_split_it() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = one_daily(dir.path(), &sim.base_url(), "UTC");
    let out = backfill(
        &config,
        &["daily", "--from", "0001-01-01", "--to", "2099-12-31"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--from 0001-01-01 --to 2099-12-31 is 766644 dates; a backfill covers at most 3660"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("--from 0001-01-01 --to 0011-01-08, then --from 0011-01-09 onwards"),
        "{stderr}"
    );
    // One date past the bound.
    let out = backfill(
        &config,
        &["daily", "--from", "2016-01-01", "--to", "2026-01-08"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is 3661 dates"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sim.request_count("/bench/item"), 0, "nothing ran");
    sim.shutdown().await;
}
