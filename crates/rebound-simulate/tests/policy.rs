//! What the simulator's faults and `--policy original` do to the history
//! a simulation writes, read back with the store (issue 17).

use chrono::{TimeZone, Utc};
use rebound_simulate::{Options, Scenario, simulate};
use rebound_storage::{CallFilter, Store};
use rebound_storage_sqlite::SqliteStore;
use std::path::Path;

/// A `down` fault in `timeout` mode holds each request for the source's
/// timeout on the simulated clock and then closes the connection; the
/// fetcher records that as a timeout (`rebound-fetch`, `call.rs`), not as
/// the dropped connection it looks like on the wire.
#[tokio::test]
async fn a_down_fault_in_timeout_mode_is_recorded_as_timeouts() {
    let text = r#"
description = "ESPN stops answering during the morning run"
from = "2025-12-31"
days = 1

[[faults]]
kind = "down"
source = "espn"
mode = "timeout"
start = "2025-12-31T05:00"
for = "5h"
"#;
    let scenario = Scenario::parse("espn-timeout", Path::new("espn-timeout.toml"), text)
        .expect("the scenario parses");
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("run");
    let options = Options {
        days: Some(1),
        keep: Some(keep.clone()),
        ..Options::default()
    };
    simulate(scenario, &options).await.expect("it runs");
    // The kept config says how to read it: its sources point at a
    // simulated upstream that is gone (before: `health` probed them and
    // read CRITICAL for every source, with no word why).
    let kept = std::fs::read_to_string(keep.join("rebound.toml")).unwrap();
    assert!(
        kept.starts_with("# Written by `rebound simulate`"),
        "{kept}"
    );
    assert!(kept.contains("health\n# --no-probe"), "{kept}");

    let store = SqliteStore::open(&keep.join("history.db")).await.unwrap();
    // 05:00 to 10:00 in New York, the reference pipeline's zone.
    let filter = CallFilter {
        from: Some(Utc.with_ymd_and_hms(2025, 12, 31, 10, 0, 0).unwrap()),
        to: Some(Utc.with_ymd_and_hms(2025, 12, 31, 15, 0, 0).unwrap()),
        ..CallFilter::default()
    };
    let calls = store.scraper_calls_page(&filter, 1000).await.unwrap();
    let sent: Vec<_> = calls
        .iter()
        .filter(|c| c.source_name == "espn" && c.attempts > 0)
        .collect();
    assert!(!sent.is_empty(), "the morning run calls ESPN");
    for call in &sent {
        assert_eq!(
            (call.error_kind.as_deref(), call.status.as_str()),
            (Some("timeout"), "failed"),
            "{}: {:?}",
            call.scraper_name,
            call.error_message
        );
        let message = call.error_message.as_deref().unwrap_or_default();
        assert!(message.starts_with("timeout after 20s"), "{message}");
        for attempt in store.attempts_for_call(call.id).await.unwrap() {
            assert_eq!(attempt.error_kind.as_deref(), Some("timeout"));
        }
    }
    // Other sources are untouched by the fault.
    assert!(
        calls
            .iter()
            .filter(|c| c.source_name != "espn")
            .all(|c| c.error_kind.as_deref() != Some("timeout"))
    );
}

/// An alert goes to every sink that wants it; the report counts alerts
/// sent, not deliveries. Before, a second sink doubled opened, reminders
/// and recovered, and `host-down-5-days` missed its one recovery message.
#[tokio::test]
async fn a_second_alert_sink_does_not_double_the_alerts_counted() {
    let (_dir, config) = reference_copy();
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str("\n[alerts.sinks.pager]\nkind = \"webhook\"\nurl = \"https://pager.example.org/hook\"\nmin_level = \"warning\"\n");
    std::fs::write(&config, toml).unwrap();

    let one = simulate(host_down(), &Options::default()).await.unwrap();
    let two = simulate(
        host_down(),
        &Options {
            config: Some(config),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert!(
        one.alerts.opened >= 1 && one.alerts.recovered >= 1,
        "{:?}",
        one.alerts
    );
    assert_eq!(
        (
            two.alerts.opened,
            two.alerts.reminders,
            two.alerts.recovered
        ),
        (
            one.alerts.opened,
            one.alerts.reminders,
            one.alerts.recovered
        )
    );
}

/// Before: a config without alert sinks opened incidents and sent
/// nothing, so the report said "0 alerts" and missed every first-alert
/// target. The simulation adds a measuring sink and says so.
#[tokio::test]
async fn a_config_without_alert_sinks_still_has_its_alerts_counted() {
    let (_dir, config) = reference_copy();
    let mut toml: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
    toml["alerts"].as_table_mut().unwrap().remove("sinks");
    std::fs::write(&config, toml.to_string()).unwrap();

    let with = simulate(host_down(), &Options::default()).await.unwrap();
    let without = simulate(
        host_down(),
        &Options {
            config: Some(config),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert!(with.alerts.opened >= 1, "{:?}", with.alerts);
    assert_eq!(without.alerts.opened, with.alerts.opened);
    assert_eq!(
        without.alerts.first_alert_seconds,
        with.alerts.first_alert_seconds
    );
    assert!(
        without
            .warnings
            .iter()
            .any(|w| w.starts_with("the config has no [alerts.sinks]: the report counts the alerts one webhook sink would have received")),
        "{:?}",
        without.warnings
    );
    assert!(
        !with
            .warnings
            .iter()
            .any(|w| w.contains("no [alerts.sinks]")),
        "{:?}",
        with.warnings
    );
}

fn host_down() -> Scenario {
    rebound_simulate::builtin::load("host-down-5-days")
        .expect("a built-in")
        .expect("it parses")
}

/// A copy of the reference pipeline (its config, scripts and calendars)
/// in a folder of its own, and its config's path, for a test to change.
fn reference_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nba");
    let dir = tempfile::tempdir().unwrap();
    for entry in walk(&reference) {
        let to = dir.path().join(entry.strip_prefix(&reference).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &to).unwrap();
    }
    let config = dir.path().join("rebound.toml");
    (dir, config)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Before: a fault's "first alert" was the first alert of any kind after
/// its start. Here the Odds API fails first, and its alert opened at the
/// instant ESPN's fault began: ESPN's fault read "first alert 0s".
#[tokio::test]
async fn a_fault_is_not_credited_with_another_sources_alert() {
    let text = r#"
description = "The Odds API fails, then ESPN"
from = "2026-01-15"
days = 1

[[faults]]
kind = "status"
source = "odds_api"
status = 500
start = "2026-01-15T08:00"
for = "6h"

[[faults]]
kind = "status"
source = "espn"
status = 500
start = "2026-01-15T08:20"
for = "12h"
"#;
    let scenario = Scenario::parse("two", Path::new("two.toml"), text).expect("it parses");
    let options = Options {
        days: Some(1),
        ..Options::default()
    };
    let report = simulate(scenario, &options).await.expect("it runs");
    let espn = &report.faults[1];
    let espn_start = espn.start;
    let odds_alerts: Vec<_> = report
        .alerts
        .sent
        .iter()
        .filter(|a| a.event == "opened" && a.subject.starts_with("odds"))
        .collect();
    assert!(
        odds_alerts.iter().any(|a| a.at >= espn_start),
        "the Odds API's alert opens during ESPN's fault: {:?}",
        report.alerts.sent
    );
    // ESPN's own first alert, if any, is about ESPN's scrapers, datasets,
    // workflows or the source itself, never the Odds API's.
    if let Some(seconds) = espn.first_alert_seconds {
        let at = espn_start + chrono::TimeDelta::seconds(seconds);
        let first = report
            .alerts
            .sent
            .iter()
            .filter(|a| a.event == "opened" && a.at == at)
            .map(|a| a.subject.as_str())
            .collect::<Vec<_>>();
        assert!(
            first
                .iter()
                .any(|s| !s.starts_with("odds") && !s.contains("betting")),
            "{first:?}"
        );
    }
}

/// Two faults on one source at once both list the calls they meet, and
/// `fault_attempts_per_call` measured their sum: ESPN's morning calls,
/// during both faults here, counted twice ("24 attempts, 16 calls" for the
/// day's 12 attempts and 8 calls). Each call counts once.
#[tokio::test]
async fn overlapping_faults_count_each_call_once_in_attempts_per_call() {
    let text = r#"
description = "ESPN down all day, and flaky through the morning too"
from = "2026-01-15"
days = 1

[[faults]]
kind = "down"
source = "espn"
start = "2026-01-15T00:00"
for = "1d"

[[faults]]
kind = "flaky"
source = "espn"
rate = 0.5
status = 503
start = "2026-01-15T04:00"
for = "8h"

[targets]
fault_attempts_per_call_max = 10.0
"#;
    let scenario = Scenario::parse("overlap", Path::new("overlap.toml"), text).expect("it parses");
    let options = Options {
        days: Some(1),
        ..Options::default()
    };
    let report = simulate(scenario, &options).await.expect("it runs");
    let (whole_day, morning) = (&report.faults[0], &report.faults[1]);
    assert!(
        morning.calls > 0 && morning.calls <= whole_day.calls,
        "the morning's calls are among the day's: {:?}",
        report.faults
    );
    let target = report
        .targets
        .iter()
        .find(|t| t.target == "fault_attempts_per_call")
        .expect("the target is measured");
    let per_call = whole_day.attempts as f64 / whole_day.calls as f64;
    assert_eq!(
        target.measured,
        format!(
            "{per_call:.3} ({} attempts, {} calls)",
            whole_day.attempts, whole_day.calls
        )
    );
}

/// A fault on a route meets the calls of the scrapers whose path starts
/// with it, and its calls and attempts count those only. Before, every
/// call of its source counted: BallDontLie's standings and players, which
/// the fault on `/box_scores` never touched, were among its calls.
#[tokio::test]
async fn a_route_fault_counts_the_calls_of_its_route_only() {
    let text = r#"
description = "BallDontLie's box scores refuse connections for a day"
from = "2026-01-15"
days = 1

[[faults]]
kind = "down"
source = "balldontlie"
route = "/box_scores"
start = "2026-01-15T00:00"
for = "1d"
"#;
    let scenario = Scenario::parse("route", Path::new("route.toml"), text).expect("it parses");
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("run");
    let options = Options {
        days: Some(1),
        keep: Some(keep.clone()),
        ..Options::default()
    };
    let report = simulate(scenario, &options).await.expect("it runs");
    let fault = &report.faults[0];

    let store = SqliteStore::open(&keep.join("history.db")).await.unwrap();
    let filter = CallFilter {
        from: Some(fault.start),
        to: Some(fault.end),
        ..CallFilter::default()
    };
    let calls = store.scraper_calls_page(&filter, 10_000).await.unwrap();
    let of = |pick: &dyn Fn(&str) -> bool| {
        let picked: Vec<_> = calls.iter().filter(|c| pick(&c.scraper_name)).collect();
        (
            picked.len() as i64,
            picked.iter().map(|c| c.attempts).sum::<i64>(),
        )
    };
    let box_scores = of(&|s| s == "bdl_box_scores");
    let others = of(&|s| s == "bdl_standings" || s == "bdl_active_players");
    assert!(
        box_scores.0 > 0 && others.0 > 0,
        "the day calls the box scores ({box_scores:?}) and the other routes ({others:?})"
    );
    assert_eq!((fault.calls, fault.attempts), box_scores, "{fault:?}");
}

/// Before: a fault starting at the instant the simulation ends was warned
/// of as having no effect, yet answered the last alert round's probes and
/// showed "requests hit 1"; then it was still listed, with 0. (A run whose
/// every fault falls outside is refused: `--days 1` here keeps the first.)
#[tokio::test]
async fn a_fault_outside_the_simulated_days_hits_nothing() {
    let text = r#"
from = "2026-01-15"
days = 7

[[faults]]
kind = "down"
source = "espn"
start = "2026-01-15T12:00"
for = "1h"

[[faults]]
kind = "down"
source = "balldontlie"
start = "2026-01-16"
for = "5d"
"#;
    let scenario = Scenario::parse("half", Path::new("half.toml"), text).expect("it parses");
    let options = Options {
        days: Some(1),
        ..Options::default()
    };
    let report = simulate(scenario, &options).await.expect("it runs");
    assert!(
        report.warnings.iter().any(|w| w.starts_with(
            "faults[1] (down on balldontlie, 2026-01-16T00:00 to 2026-01-21T00:00) is outside the simulated days (2026-01-15 to 2026-01-16): it has no effect"
        )),
        "{:?}",
        report.warnings
    );
    // Nor is it listed among the faults, as if measured (before: listed
    // with 0 requests hit beside that warning); the one inside is.
    assert_eq!(
        report.faults.iter().map(|f| f.index).collect::<Vec<_>>(),
        [0],
        "listed: {:?}",
        report.faults.iter().map(|f| &f.fault).collect::<Vec<_>>()
    );
}

/// A scenario whose every fault falls outside the days `--days` leaves is
/// refused before it runs (it ran, injected nothing and read MISSED).
#[tokio::test]
async fn every_fault_outside_the_simulated_days_is_refused() {
    let scenario = rebound_simulate::builtin::load("host-down-5-days")
        .expect("a built-in")
        .expect("it parses");
    let options = Options {
        days: Some(1),
        ..Options::default()
    };
    let error = rebound_simulate::check(&scenario, &options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "host-down-5-days: --from/--days: no fault falls within the simulated days"
        ),
        "{error}"
    );
    let error = simulate(scenario, &options).await.unwrap_err().to_string();
    assert!(error.contains("no fault falls within"), "{error}");
}

/// Before: the names were checked first and the times in the zone only
/// once they were right, so a scenario with both problems took two runs
/// to correct.
#[tokio::test]
async fn unknown_names_and_skipped_times_are_reported_together() {
    let text = r#"
from = "2026-03-07"
days = 3

[[faults]]
kind = "down"
source = "nowhere"
start = "2026-03-07T10:00"
for = "1h"

[[faults]]
kind = "down"
source = "espn"
start = "2026-03-08T02:30"
for = "1h"
"#;
    let scenario = Scenario::parse("both", Path::new("both.toml"), text).expect("parses");
    let error = rebound_simulate::check(&scenario, &Options::default())
        .await
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(
        lines[0].starts_with("both.toml:7:10: faults[0].source: unknown source \"nowhere\""),
        "{error}"
    );
    assert!(
        lines[1].starts_with(
            "both.toml:14:9: faults[1].start: 2026-03-08T02:30 does not exist in America/New_York"
        ),
        "{error}"
    );
}

/// Before: `new-years-eve --days 1` listed faults ending at 02:00 and 06:00
/// the next morning, after the simulation's end, with no word that they
/// were cut.
#[tokio::test]
async fn a_fault_cut_by_the_shortened_days_is_measured_within_them() {
    let report = first_day_of("new-years-eve").await;
    assert!(!report.faults.is_empty());
    for fault in &report.faults {
        assert!(
            fault.end <= report.ended_at && fault.start >= report.started_at,
            "{} listed {} to {}, the days are {} to {}",
            fault.fault,
            fault.start,
            fault.end,
            report.started_at,
            report.ended_at
        );
    }
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("runs past the simulated days")),
        "{:?}",
        report.warnings
    );
}

/// Before: a `down` after a `changed_shape` on the same source credited the
/// earlier fault with the later one's alert ("first alert 12h 15m" for a
/// fault that had ended at 12:00).
#[tokio::test]
async fn a_later_fault_on_the_same_source_takes_its_own_alert() {
    let text = r#"
from = "2026-01-05"
days = 1

[[faults]]
kind = "changed_shape"
source = "balldontlie"
start = "2026-01-05T00:00"
for = "12h"

[[faults]]
kind = "down"
mode = "unavailable"
source = "balldontlie"
start = "2026-01-05T12:00"
for = "12h"
"#;
    let scenario = Scenario::parse("two", Path::new("two.toml"), text).expect("parses");
    let report = simulate(scenario, &Options::default())
        .await
        .expect("it runs");
    let (shape, down) = (&report.faults[0], &report.faults[1]);
    let down_alert = down.first_alert_seconds.expect("the outage is alerted");
    assert!(down_alert <= 3600, "{down:?}");
    assert!(
        shape.first_alert_seconds.is_none_or(|s| s < 12 * 3600),
        "the changed shape is credited with the outage's alert: {shape:?}"
    );
}

/// The first day of built-in scenario `name`, simulated (`--days 1`).
async fn first_day_of(name: &str) -> rebound_simulate::Report {
    let scenario = rebound_simulate::builtin::load(name)
        .expect("a built-in")
        .expect("it parses");
    let options = Options {
        days: Some(1),
        ..Options::default()
    };
    simulate(scenario, &options).await.expect("it runs")
}
