//! The reliability suite: every built-in scenario on the reference
//! pipeline, each asserting the targets its file sets (issue 17 item 4).
//!
//! A target Rebound misses today is listed in [`KNOWN_MISSES`] with the
//! reason, and the test asserts that exactly those are missed: a new miss
//! fails, and so does a listed one that is met again (take it off the
//! list). The report says MISSED for each; `docs/simulate.md` explains them.
//!
//! The tests run on tokio's one-thread runtime, as `rebound simulate` does.

use rebound_simulate::{Options, Report, builtin, simulate};

/// (scenario, target) pairs missed on the reference pipeline today.
///
/// `full-season`'s completeness: 99.753% (12,500 of 12,531) in the bench
/// run of 2026-12-06. ESPN is down for a whole day, and its team list and
/// 30 rosters of that date are daily snapshots nothing can fetch later.
/// (It read 99.984% while the report counted the rosters as one entity.)
/// The season runs in the bench, not here (see `full_season` below).
const KNOWN_MISSES: &[(&str, &str)] = &[("full-season", "completeness_rate")];

async fn run(name: &str) -> Report {
    let scenario = builtin::load(name).expect("a built-in").expect("it parses");
    simulate(scenario, &Options::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_targets(report: &Report) {
    assert!(
        !report.targets.is_empty(),
        "{} sets targets",
        report.scenario
    );
    let missed: Vec<&str> = report
        .targets
        .iter()
        .filter(|t| !t.met)
        .map(|t| t.target.as_str())
        .collect();
    let known: Vec<&str> = KNOWN_MISSES
        .iter()
        .filter(|(s, _)| *s == report.scenario)
        .map(|(_, t)| *t)
        .collect();
    let detail: Vec<String> = report
        .targets
        .iter()
        .map(|t| {
            format!(
                "{}: wanted {}, measured {} ({})",
                t.target,
                t.wanted,
                t.measured,
                if t.met { "met" } else { "MISSED" }
            )
        })
        .collect();
    assert_eq!(
        missed,
        known,
        "{}: targets missed other than the known ones:\n{}",
        report.scenario,
        detail.join("\n")
    );
    assert_eq!(report.targets_met, known.is_empty());
}

#[tokio::test]
async fn new_years_eve() {
    let report = run("new-years-eve").await;
    assert_targets(&report);
    // The storm's calls are deferred to later runs, not retried in place:
    // the report read "0 of 0 retried calls" and said nothing of them.
    // Some later tries collect what failed; the Odds API's evening polls
    // that failed were polled again, in vain, until the storm ended after
    // the last poll of their date (the date's data came from earlier ones).
    let calls = &report.calls;
    assert_eq!(calls.retried, 0, "{calls:?}");
    assert!(calls.tried_again_later >= 100, "{calls:?}");
    assert!(
        calls.tried_again_paid_off > 0 && calls.tried_again_paid_off < calls.tried_again_later,
        "{calls:?}"
    );
}

/// The original policies retry in place and defer nothing, so what they
/// try again later is the fan-outs a failed event list held back: each
/// such skip stands for its date's events, and a later run that listed
/// and collected them paid it off. They were matched on their empty
/// parameters alone, so only a later skip of the same kind counted as
/// trying again, and it never collects: "5 of 7" paid off, while every
/// date they held back was collected later.
#[tokio::test]
async fn new_years_eve_original_fan_outs_held_back_are_paid_off_by_the_later_fan_out() {
    let scenario = builtin::load("new-years-eve")
        .expect("a built-in")
        .expect("it parses");
    let options = Options {
        policy: rebound_simulate::Policy::Original,
        ..Options::default()
    };
    let report = simulate(scenario, &options).await.expect("it runs");
    let calls = &report.calls;
    assert!(
        calls.by_status.get("skipped").copied().unwrap_or(0) > 0,
        "the storm holds back fan-outs: {calls:?}"
    );
    assert!(calls.tried_again_later > 0, "{calls:?}");
    assert_eq!(
        calls.tried_again_paid_off, calls.tried_again_later,
        "{calls:?}"
    );
    assert_eq!(report.completeness.collected, report.completeness.expected);
}

#[tokio::test]
async fn host_down_5_days() {
    let report = run("host-down-5-days").await;
    assert_targets(&report);
    // Measured, not assumed: the outage met requests and opened an alert.
    assert!(report.faults[0].requests_hit > 0);
    assert!(report.alerts.opened >= 1);
}

#[tokio::test]
async fn late_play_by_play() {
    assert_targets(&run("late-play-by-play").await);
}

#[tokio::test]
async fn empty_after_url_change() {
    assert_targets(&run("empty-after-url-change").await);
}

#[tokio::test]
async fn dst_spring_forward() {
    assert_targets(&run("dst-spring-forward").await);
}

#[tokio::test]
async fn dst_fall_back() {
    let report = run("dst-fall-back").await;
    assert_targets(&report);
    // No fault, so nothing to retry: every page of a paginated call is an
    // attempt of its own, and "more than one attempt" counted 28 calls
    // that read several pages as retried ones that paid off.
    assert!(report.faults.is_empty(), "the scenario has no faults");
    assert_eq!(report.calls.retried, 0, "{:?}", report.calls);
    assert!(
        report.calls.attempts > report.calls.total,
        "paginated calls still count each page as an attempt: {:?}",
        report.calls
    );
}

#[tokio::test]
async fn stale_schedule() {
    let report = run("stale-schedule").await;
    assert_targets(&report);
    // The schedule is read by the calendar's refreshes, outside any
    // workflow run, as well as by morning_operations: every one of those
    // calls met the fault, and the fault's calls count them all. They
    // read 3 calls and 3 attempts (the runs' only) beside 60 requests hit.
    let fault = &report.faults[0];
    assert_eq!(
        (fault.calls, fault.attempts),
        (60, 60),
        "requests hit: {}",
        fault.requests_hit
    );
    assert_eq!(fault.requests_hit, 60);
}

/// A season takes minutes in a debug build; `cargo bench -p
/// rebound-simulate` runs it in release and checks its target.
#[tokio::test]
#[ignore = "a season in a debug build takes minutes: run by the full_season bench"]
async fn full_season() {
    assert_targets(&run("full-season").await);
}
