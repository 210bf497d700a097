//! Each condition on hand-made reports: when it holds, when it does not.

use crate::reports::*;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::America::New_York;
use rebound_alerts::conditions::{Memory, Observation, observe, observe_with};
use rebound_domain::alerts::AlertConditions;
use rebound_health::{Level, NotAcknowledging, ProbeResult, QuotaHealth};

fn now() -> DateTime<Utc> {
    "2026-01-15T12:00:00Z".parse().unwrap()
}

fn ago(minutes: i64) -> Option<DateTime<Utc>> {
    Some(now() - TimeDelta::minutes(minutes))
}

fn ids(found: &[Observation]) -> Vec<(&str, &str, Level)> {
    found
        .iter()
        .map(|o| (o.condition, o.subject.as_str(), o.level))
        .collect()
}

#[test]
fn a_healthy_report_raises_nothing() {
    let mut r = empty(now());
    r.sources.push(source("api"));
    r.scrapers.push(scraper("events"));
    r.workflows.push(workflow("morning"));
    r.datasets.push(dataset("api/events"));
    assert_eq!(observe(&r, &AlertConditions::default(), New_York), vec![]);
}

#[test]
fn workflow_failed_after_the_threshold_critical_when_the_last_run_failed() {
    let mut r = empty(now());
    let mut two = workflow("two");
    two.consecutive_failed = 2;
    two.last_status = Some("failed".into());
    let mut partial = workflow("partial");
    partial.consecutive_failed = 3;
    partial.last_status = Some("partial".into());
    partial.failing_since = ago(180);
    partial.last_error = Some("box: HTTP 503".into());
    let mut failed = workflow("failed");
    failed.consecutive_failed = 4;
    failed.last_status = Some("failed".into());
    r.workflows = vec![two, partial, failed];
    let found = observe(&r, &AlertConditions::default(), New_York);
    assert_eq!(
        ids(&found),
        [
            ("workflow_failed", "partial", Level::Warning),
            ("workflow_failed", "failed", Level::Critical)
        ]
    );
    assert_eq!(
        found[0].summary,
        "workflow partial: 3 runs in a row failed or partial since 2026-01-15 04:00 EST (-05:00), 3h ago; last error: box: HTTP 503"
    );
    let off = AlertConditions {
        workflow_failed_after: None,
        ..Default::default()
    };
    assert_eq!(observe(&r, &off, New_York), vec![]);
}

/// One failed run after a threshold of 1 reads "1 run", and the times
/// follow the zone passed in (UTC here), not a fixed one.
#[test]
fn a_single_failed_run_reads_in_the_singular_and_in_the_given_zone() {
    let mut r = empty(now());
    let mut one = workflow("one");
    one.consecutive_failed = 1;
    one.last_status = Some("failed".into());
    one.failing_since = ago(30);
    r.workflows = vec![one];
    let rules = AlertConditions {
        workflow_failed_after: Some(1),
        ..Default::default()
    };
    let found = observe(&r, &rules, chrono_tz::UTC);
    assert_eq!(
        found[0].summary,
        "workflow one: 1 run in a row failed or partial since 2026-01-15 11:30 UTC (+00:00), 30m ago"
    );
}

#[test]
fn source_unhealthy_only_after_the_grace_period_dated_from_the_first_failure() {
    let mut r = empty(now());
    // Breaker open 20 minutes ago, but failing for 3 hours (the breaker
    // re-opened after a failed probe): past the 15m grace.
    let mut long = source("long");
    long.breaker = "open".into();
    long.breaker_since = ago(20);
    long.failing_since = ago(180);
    long.last_error = Some("timeout after 20s".into());
    // Open for 10 minutes only: within grace.
    let mut blip = source("blip");
    blip.breaker = "open".into();
    blip.breaker_since = ago(10);
    blip.failing_since = ago(10);
    // Probe failing with nothing recorded (no breaker follows it), first
    // seen by the evaluator 30 minutes ago.
    let mut probe = source("probe");
    probe.probe = Some(ProbeResult::new(false, Some(500), None, 12));
    // Its last success says when it last worked, not when it stopped.
    probe.last_success_at = ago(600);
    // The same, first seen 5 minutes ago: within grace, however old the
    // last success (before: dated from it, so it fired at once).
    let mut fresh = source("fresh");
    fresh.probe = probe.probe.clone();
    fresh.last_success_at = ago(600);
    // The same again, but its incident is open (the evaluator restarted
    // and saw it a minute ago): it stays observed.
    let mut reopened = source("reopened");
    reopened.probe = probe.probe.clone();
    // A probe answered 429, seen for an hour: the host is up and throttles
    // us, which is no outage (it fired, and flapped with the throttling).
    let mut throttled = source("throttled");
    throttled.probe = Some(ProbeResult::new(
        false,
        Some(429),
        Some("GET /status answered HTTP 429, expected 200".into()),
        12,
    ));
    // Half-open 5 minutes ago, after an opening 2 hours ago, its calls'
    // failures long since purged: the outage is dated from the opening
    // (from going half-open, it fell back under the grace period).
    let mut trial = source("trial");
    trial.breaker = "half_open".into();
    trial.breaker_since = ago(5);
    trial.breaker_opened_at = ago(120);
    r.sources = vec![long, blip, probe, fresh, reopened, throttled, trial];
    let memory = Memory {
        unhealthy_seen: [
            ("probe", 30),
            ("fresh", 5),
            ("reopened", 1),
            ("throttled", 60),
        ]
        .into_iter()
        .map(|(name, minutes)| (name.to_string(), ago(minutes).unwrap()))
        .collect(),
        open: ["reopened".to_string()].into_iter().collect(),
    };
    let found = observe_with(&r, &AlertConditions::default(), New_York, &memory);
    assert_eq!(
        ids(&found),
        [
            ("source_unhealthy", "long", Level::Critical),
            ("source_unhealthy", "probe", Level::Critical),
            ("source_unhealthy", "reopened", Level::Critical),
            ("source_unhealthy", "trial", Level::Critical)
        ]
    );
    assert!(
        found[3]
            .summary
            .contains("since 2026-01-15 05:00 EST (-05:00), 2h ago"),
        "{}",
        found[3].summary
    );
    assert_eq!(
        found[0].summary,
        "source long: breaker open since 2026-01-15 06:40 EST (-05:00), 20m ago; unhealthy since 2026-01-15 04:00 EST (-05:00), 3h ago; last error: timeout after 20s",
        "the breaker is dated from its opening, the outage from its first failure"
    );
    assert_eq!(
        found[1].summary,
        "source probe: health probe failing (HTTP 500) since 2026-01-15 06:30 EST (-05:00), 30m ago"
    );
}

/// An outage's start does not move later while it lasts: a probe's
/// failing start is cleared once it answers again while the breaker stays
/// half-open, and the summary fell back on the breaker's opening, later
/// than the incident's own ("half-open since 19:20" for an incident opened
/// at 19:15). What the evaluator saw first holds it; the breaker's state
/// reads from when it took it.
#[test]
fn an_outage_start_does_not_move_later_while_it_lasts() {
    let mut r = empty(now());
    let mut s = source("bdl");
    s.breaker = "half_open".into();
    s.breaker_since = ago(10);
    s.breaker_opened_at = ago(60);
    r.sources = vec![s];
    let memory = Memory {
        unhealthy_seen: [("bdl".to_string(), ago(90).unwrap())]
            .into_iter()
            .collect(),
        open: ["bdl".to_string()].into_iter().collect(),
    };
    let found = observe_with(&r, &AlertConditions::default(), New_York, &memory);
    assert_eq!(
        found[0].summary,
        "source bdl: breaker half-open since 2026-01-15 06:50 EST (-05:00), 10m ago; unhealthy since 2026-01-15 05:30 EST (-05:00), 1h 30m ago"
    );
}

#[test]
fn dataset_stale_and_completeness_follow_the_report_levels() {
    let mut r = empty(now());
    let mut stale = dataset("nbacom/injury_report");
    stale.freshness.level = Level::Warning;
    stale.freshness.last_change_at = ago(27 * 60);
    stale.freshness.fresh_warn_seconds = Some(26 * 3600);
    stale.freshness.fresh_error_seconds = Some(50 * 3600);
    let mut short = dataset("nbacom/boxscores");
    short.completeness = Some(completeness(Level::Critical, 9, &["g1", "g2"]));
    let mut early = dataset("bdl/boxscores");
    // Missing, but before the deadline: the report says ok.
    early.completeness = Some(completeness(Level::Ok, 9, &["g3"]));
    let mut unknown = dataset("odds/props");
    unknown.completeness = Some(completeness(Level::Warning, 0, &[]));
    unknown.completeness.as_mut().unwrap().error =
        Some("calendar games has no data yet: expected entities unknown".into());
    r.datasets = vec![stale, short, early, unknown];
    let found = observe(&r, &AlertConditions::default(), New_York);
    assert_eq!(
        ids(&found),
        [
            ("dataset_stale", "nbacom/injury_report", Level::Warning),
            (
                "completeness_shortfall",
                "nbacom/boxscores",
                Level::Critical
            ),
            ("completeness_shortfall", "odds/props", Level::Warning)
        ]
    );
    assert_eq!(
        found[2].summary,
        "dataset odds/props: completeness for 2026-01-15 unknown: calendar games has no data yet: expected entities unknown"
    );
    assert_eq!(
        found[0].summary,
        "dataset nbacom/injury_report: last changed 2026-01-14 04:00 EST (-05:00), 1d 3h ago (limit 1d 2h)"
    );
    assert_eq!(
        found[1].summary,
        "dataset nbacom/boxscores: 7 of 9 collected for 2026-01-15 past the deadline; missing g1, g2"
    );
}

#[test]
fn quota_overdue_and_lockouts() {
    let mut r = empty(now());
    let quota = |used: i64| QuotaHealth {
        period_start: now() - TimeDelta::days(14),
        resets_at: "2026-02-01T05:00:00Z".parse().unwrap(),
        used,
        limit: 500,
        used_rate: used as f64 / 500.0,
    };
    let mut high = source("odds");
    high.quota = Some(quota(410));
    let mut low = source("bdl");
    low.quota = Some(quota(100));
    r.sources = vec![high, low];
    // Not yet available (no failures): quiet. Overdue and still failing: raised.
    let mut waiting = scraper("bdb_pbp_waiting");
    waiting.not_yet_available = 6;
    let mut overdue = scraper("bdb_pbp");
    overdue.overdue = 1;
    overdue.consecutive_failures = 1;
    overdue.last_error = Some("no data 48h after the game started".into());
    let mut arrived = scraper("bdb_arrived");
    arrived.overdue = 1;
    arrived.consecutive_failures = 0;
    let mut locked = scraper("props");
    locked.entities = 9;
    locked.locked_out = 3;
    let mut few = scraper("lines");
    few.entities = 10;
    few.locked_out = 2;
    r.scrapers = vec![waiting, overdue, arrived, locked, few];
    let found = observe(&r, &AlertConditions::default(), New_York);
    assert_eq!(
        ids(&found),
        [
            ("quota_high", "odds", Level::Warning),
            ("data_overdue", "bdb_pbp", Level::Warning),
            ("lockouts_high", "props", Level::Warning)
        ]
    );
    assert_eq!(
        found[0].summary,
        "source odds: quota 82% used (410 of 500), resets 2026-02-01 00:00 EST (-05:00)"
    );
    assert_eq!(
        found[2].summary,
        "scraper props: 3 of 9 entities locked out (33%)"
    );
}

#[test]
fn a_grace_beyond_any_date_never_opens_source_unhealthy_and_does_not_panic() {
    // `Duration::MAX` does not fit chrono's `TimeDelta`; the conversion
    // saturates (it panicked before), and a source failing for years is
    // still within such a grace.
    let mut r = empty(now());
    let mut long = source("long");
    long.breaker = "open".into();
    long.breaker_since = ago(20);
    long.failing_since = ago(60 * 24 * 365 * 5);
    r.sources = vec![long];
    let rules = AlertConditions {
        source_unhealthy_grace: Some(std::time::Duration::MAX),
        ..AlertConditions::default()
    };
    assert_eq!(ids(&observe(&r, &rules, New_York)), []);
    // The same source with the default grace does open: the case can fail.
    assert_eq!(
        ids(&observe(&r, &AlertConditions::default(), New_York)),
        [("source_unhealthy", "long", Level::Critical)]
    );
}

#[test]
fn downstream_not_acknowledging_is_one_critical_incident_naming_sinks_and_datasets() {
    let mut r = empty(now());
    assert!(
        ids(&observe(&r, &AlertConditions::default(), New_York)).is_empty(),
        "no storm, no alert"
    );
    r.handoff.not_acknowledging = Some(NotAcknowledging {
        due: 200,
        unacknowledged: 200,
        datasets: vec!["boxscores".into(), "odds.events".into()],
        sinks: vec!["warehouse".into()],
    });
    let found = observe(&r, &AlertConditions::default(), New_York);
    assert_eq!(
        ids(&found),
        [("downstream_not_acknowledging", "handoff", Level::Critical)]
    );
    let summary = &found[0].summary;
    for part in [
        "200 of 200",
        "sinks: warehouse",
        "datasets: boxscores, odds.events",
        "the consumer is not acknowledging; check it before replaying",
    ] {
        assert!(summary.contains(part), "{part:?} not in {summary}");
    }
}
