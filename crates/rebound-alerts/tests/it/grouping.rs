//! One incident for one cause (issue 17 item 4): the host-down cascade on
//! a real SQLite store and a manual clock, with hand-made health reports
//! (what `rebound-health` would say hour by hour). Only the source's own
//! opened and recovered notices are sent; the workflows and the stale
//! dataset it caused are stored with the cause, their notices suppressed.

use crate::reports::*;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_alerts::evaluate::Evaluator;
use rebound_domain::alerts::{AlertSettings, AlertSink, MinLevel, SinkKind};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::redact::Redactor;
use rebound_health::{HealthReport, Level};
use rebound_storage::{AlertIncidentRow, AlertRow, Store};
use rebound_storage_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Duration;

fn t0() -> DateTime<Utc> {
    "2025-12-27T05:00:00Z".parse().unwrap()
}

struct Rig {
    store: Arc<dyn Store>,
    clock: ManualClock,
    evaluator: Evaluator,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("h.db")).await.unwrap());
    let mut settings = AlertSettings::default();
    // Never delivered here: the rows' status says what would be sent.
    settings.sinks.insert(
        "hook".into(),
        AlertSink {
            name: "hook".into(),
            kind: SinkKind::Webhook,
            url: "http://127.0.0.1:9/hook".into(),
            min_level: MinLevel::Warning,
            timeout: Duration::from_secs(1),
        },
    );
    let evaluator = Evaluator::new(
        store.clone(),
        settings,
        "nba",
        chrono_tz::America::New_York,
        Redactor::default(),
    );
    Rig {
        store,
        clock: ManualClock::new(t0()),
        evaluator,
        _dir: dir,
    }
}

/// What the world looks like at one instant.
#[derive(Clone, Copy)]
struct World {
    /// The source `bdl` is down (since t0).
    down: bool,
    /// When the newest run of workflow `nightly` started, and whether it
    /// failed (on `bdl`, or on `odds` as well).
    nightly: Option<(DateTime<Utc>, &'static [&'static str])>,
    /// The dataset `bdl/box_scores` is stale.
    stale: bool,
}

fn report(at: DateTime<Utc>, w: World) -> HealthReport {
    let mut r = empty(at);
    let mut bdl = source("bdl");
    if w.down {
        bdl.breaker = "open".into();
        bdl.breaker_since = Some(t0() + TimeDelta::minutes(20));
        bdl.probe_failing_since = Some(t0());
        bdl.probe = Some(rebound_health::ProbeResult::new(
            false,
            None,
            Some("GET /teams: connection refused".into()),
            1,
        ));
    }
    r.sources = vec![bdl, source("odds")];
    let mut box_scores = scraper("bdl_box_scores");
    box_scores.source = "bdl".into();
    box_scores.dataset = "bdl/box_scores".into();
    box_scores.last_error_at = w.nightly.map(|(t, _)| t);
    let mut odds = scraper("odds_events");
    odds.source = "odds".into();
    odds.dataset = "odds/events".into();
    r.scrapers = vec![box_scores, odds];
    let mut nightly = workflow("nightly");
    if let Some((started, failing)) = w.nightly
        && !failing.is_empty()
    {
        nightly.last_status = Some("partial".into());
        nightly.consecutive_failed = 3;
        nightly.failing_since = Some(t0());
        nightly.last_error = Some("bdl_box_scores: circuit breaker open".into());
        nightly.failing_sources = failing.iter().map(|s| s.to_string()).collect();
        nightly.last_run_at = Some(started);
    }
    r.workflows = vec![nightly];
    let mut ds = dataset("bdl/box_scores");
    if w.stale {
        ds.freshness.level = Level::Warning;
        ds.freshness.last_change_at = Some(t0() - TimeDelta::hours(20));
        ds.freshness.fresh_warn_seconds = Some(36 * 3600);
        ds.level = Level::Warning;
    }
    r.datasets = vec![ds, dataset("odds/events")];
    r
}

impl Rig {
    /// Evaluates the world at `t0 + hours`.
    async fn at(&self, hours: i64, w: World) -> rebound_alerts::Evaluation {
        let t = t0() + TimeDelta::hours(hours);
        let now = self.clock.now();
        self.clock.advance((t - now).to_std().unwrap());
        self.evaluator.evaluate(&report(t, w)).await.unwrap()
    }

    async fn rows(&self) -> Vec<AlertRow> {
        let mut rows = self.store.recent_alerts(1000).await.unwrap();
        rows.reverse();
        rows
    }

    /// (event, condition, subject) of the rows that would be sent.
    async fn sent(&self) -> Vec<(String, String, String)> {
        self.rows()
            .await
            .into_iter()
            .filter(|a| a.delivery_status == "pending")
            .map(|a| (a.event, a.condition, a.subject))
            .collect()
    }

    async fn incidents(&self) -> Vec<AlertIncidentRow> {
        self.store
            .recent_alert_incidents(t0() - TimeDelta::days(1), 100)
            .await
            .unwrap()
    }
}

fn s(event: &str, condition: &str, subject: &str) -> (String, String, String) {
    (event.into(), condition.into(), subject.into())
}

const BDL: &[&str] = &["bdl"];

/// Five days down: the source opens one incident; the workflow and the
/// stale dataset it causes are stored with the cause, their opened,
/// reminder and recovered notices suppressed; the source's messages name
/// them; after the recovery the dependents clear without new evidence and
/// send nothing. One opened and one recovered go out (plus the source's
/// reminders).
#[tokio::test]
async fn the_host_down_cascade_sends_one_opened_and_one_recovered() {
    let r = rig().await;
    let down = |hours: i64| World {
        down: true,
        nightly: Some((t0() + TimeDelta::hours(hours - 1), BDL)),
        stale: hours >= 24,
    };
    r.at(
        0,
        World {
            down: true,
            nightly: None,
            stale: false,
        },
    )
    .await;
    let (mut grouped, mut rate_limited) = (0, 0);
    for hours in (1..120).step_by(3) {
        let done = r.at(hours, down(hours)).await;
        grouped += done.grouped;
        rate_limited += done.suppressed;
    }
    // The evaluation's counts keep the two apart: `alerts --evaluate` said
    // the grouped notices were "held back by rate limits".
    assert!(
        grouped >= 2,
        "the dependents' notices are grouped: {grouped}"
    );
    assert_eq!(rate_limited, 0, "no rate limit held anything back");
    // Recovered at 120h: the source is fine, the dependents still show the
    // last failing run (started before the recovery), so they stay quiet.
    r.at(
        120,
        World {
            down: false,
            ..down(120)
        },
    )
    .await;
    r.at(
        121,
        World {
            down: false,
            ..down(120)
        },
    )
    .await;
    // The next run (after the recovery) succeeds; the dataset is fresh.
    r.at(
        124,
        World {
            down: false,
            nightly: Some((t0() + TimeDelta::hours(123), &[])),
            stale: false,
        },
    )
    .await;

    let sent = r.sent().await;
    let opened: Vec<_> = sent.iter().filter(|x| x.0 == "opened").collect();
    let recovered: Vec<_> = sent.iter().filter(|x| x.0 == "recovered").collect();
    assert_eq!(
        opened,
        vec![&s("opened", "source_unhealthy", "bdl")],
        "{sent:?}"
    );
    assert_eq!(
        recovered,
        vec![&s("recovered", "source_unhealthy", "bdl")],
        "{sent:?}"
    );
    assert!(
        sent.iter().all(|x| x.1 == "source_unhealthy"),
        "only the source speaks: {sent:?}"
    );

    // The dependents are stored, with the cause, and every notice of theirs
    // is suppressed with the reason.
    let incidents = r.incidents().await;
    for (condition, subject) in [
        ("workflow_failed", "nightly"),
        ("dataset_stale", "bdl/box_scores"),
    ] {
        let inc = incidents
            .iter()
            .find(|i| i.condition == condition && i.subject == subject)
            .unwrap_or_else(|| panic!("{condition} {subject} stored: {incidents:?}"));
        assert_eq!(inc.caused_by.as_deref(), Some("source_unhealthy bdl"));
        assert!(inc.resolved_at.is_some());
    }
    let rows = r.rows().await;
    let theirs: Vec<_> = rows
        .iter()
        .filter(|a| a.condition != "source_unhealthy")
        .collect();
    assert!(theirs.iter().any(|a| a.event == "opened"));
    assert!(theirs.iter().any(|a| a.event == "renotify"));
    assert!(theirs.iter().any(|a| a.event == "recovered"));
    for a in &theirs {
        assert_eq!(a.delivery_status, "suppressed", "{a:?}");
        assert!(
            a.last_error
                .as_deref()
                .unwrap()
                .starts_with("caused by source_unhealthy bdl"),
            "{a:?}"
        );
    }
    // The source's reminders tell the whole story.
    let reminder = rows
        .iter()
        .rfind(|a| a.condition == "source_unhealthy" && a.event == "renotify")
        .expect("a reminder");
    assert!(
        reminder
            .message
            .contains("also affected: workflow nightly; dataset bdl/box_scores"),
        "{}",
        reminder.message
    );
    // No rate limit counted the suppressed ones: nothing says "held back".
    assert!(rows.iter().all(|a| !a.message.contains("held back")));
}

/// A workflow whose run after the source recovered still fails is
/// announced on its own, saying it persists after the recovery; its
/// recovery is then sent too.
#[tokio::test]
async fn a_workflow_still_failing_after_the_source_recovered_is_announced() {
    let r = rig().await;
    let down = World {
        down: true,
        nightly: Some((t0() + TimeDelta::hours(2), BDL)),
        stale: false,
    };
    r.at(
        0,
        World {
            nightly: None,
            ..down
        },
    )
    .await;
    r.at(3, down).await;
    r.at(
        10,
        World {
            down: false,
            ..down
        },
    )
    .await;
    // Still the old run: silent.
    r.at(
        11,
        World {
            down: false,
            ..down
        },
    )
    .await;
    assert_eq!(
        r.sent().await,
        vec![
            s("opened", "source_unhealthy", "bdl"),
            s("recovered", "source_unhealthy", "bdl")
        ]
    );
    // A run started after the recovery failed again.
    r.at(
        13,
        World {
            down: false,
            nightly: Some((t0() + TimeDelta::hours(12), BDL)),
            stale: false,
        },
    )
    .await;
    let rows = r.rows().await;
    let announced = rows
        .iter()
        .find(|a| a.condition == "workflow_failed" && a.delivery_status == "pending")
        .expect("announced");
    assert_eq!(announced.event, "opened");
    assert!(
        announced.message.contains(
            "persists after source_unhealthy bdl recovered (2025-12-27 10:00 EST (-05:00))"
        ),
        "{}",
        announced.message
    );
    let inc = r
        .incidents()
        .await
        .into_iter()
        .find(|i| i.condition == "workflow_failed")
        .unwrap();
    assert_eq!(inc.caused_by, None, "announced on its own");
    // It recovers: that is sent, since people were told.
    r.at(
        16,
        World {
            down: false,
            nightly: Some((t0() + TimeDelta::hours(15), &[])),
            stale: false,
        },
    )
    .await;
    assert!(
        r.sent()
            .await
            .contains(&s("recovered", "workflow_failed", "nightly"))
    );
}

/// A workflow that also fails on another source is not explained by the
/// down one: it is announced on its own at once.
#[tokio::test]
async fn a_workflow_failing_on_another_source_is_not_grouped() {
    let r = rig().await;
    let w = World {
        down: true,
        nightly: Some((t0() + TimeDelta::hours(2), &["bdl", "odds"])),
        stale: false,
    };
    r.at(0, World { nightly: None, ..w }).await;
    r.at(3, w).await;
    let mut sent = r.sent().await;
    sent.sort();
    assert_eq!(
        sent,
        vec![
            s("opened", "source_unhealthy", "bdl"),
            s("opened", "workflow_failed", "nightly")
        ]
    );
    let inc = r
        .incidents()
        .await
        .into_iter()
        .find(|i| i.condition == "workflow_failed")
        .unwrap();
    assert_eq!(inc.caused_by, None);
}

/// The flap of the five-day outage: the breaker moving between open and
/// half-open (its `breaker_since` jumping to now) does not move the
/// outage's start back under the grace period, so the open incident is
/// not recovered and re-opened.
#[tokio::test]
async fn a_breaker_going_half_open_does_not_flap_the_source_incident() {
    let r = rig().await;
    let w = World {
        down: true,
        nightly: None,
        stale: false,
    };
    r.at(1, w).await;
    let t = t0() + TimeDelta::hours(2);
    let now = r.clock.now();
    r.clock.advance((t - now).to_std().unwrap());
    let mut report = report(t, w);
    report.sources[0].breaker = "half_open".into();
    report.sources[0].breaker_since = Some(t);
    r.evaluator.evaluate(&report).await.unwrap();
    assert_eq!(r.sent().await, vec![s("opened", "source_unhealthy", "bdl")]);
}

/// A workflow announced before its source's incident opened (its third
/// failed run came first) joins the source once that opens: no reminder
/// and no recovery of its own, and the source's messages name it.
#[tokio::test]
async fn an_incident_announced_before_its_cause_joins_it() {
    let r = rig().await;
    let failing = World {
        down: false,
        nightly: Some((t0() + TimeDelta::hours(1), BDL)),
        stale: false,
    };
    r.at(2, failing).await;
    assert_eq!(
        r.sent().await,
        vec![s("opened", "workflow_failed", "nightly")]
    );
    for hours in (3..30).step_by(3) {
        r.at(
            hours,
            World {
                down: true,
                ..failing
            },
        )
        .await;
    }
    r.at(30, failing).await;
    r.at(
        33,
        World {
            down: false,
            nightly: Some((t0() + TimeDelta::hours(32), &[])),
            stale: false,
        },
    )
    .await;
    let sent = r.sent().await;
    assert_eq!(
        sent.iter().filter(|x| x.1 == "workflow_failed").count(),
        1,
        "{sent:?}"
    );
    let inc = r
        .incidents()
        .await
        .into_iter()
        .find(|i| i.condition == "workflow_failed")
        .unwrap();
    assert_eq!(inc.caused_by.as_deref(), Some("source_unhealthy bdl"));
    let rows = r.rows().await;
    let opened = rows
        .iter()
        .find(|a| a.condition == "source_unhealthy" && a.event == "opened")
        .unwrap();
    assert!(
        opened.message.contains("also affected: workflow nightly"),
        "{}",
        opened.message
    );
}

/// Before: with no breaker following the health probe (the original
/// pipeline's policy in `rebound simulate --policy original`), a failing
/// probe had no recorded start, and `source_unhealthy` dated the outage
/// from the source's last successful call, hours earlier: it opened at
/// the first evaluation, ahead of the grace every other outage waits.
#[tokio::test]
async fn a_failing_probe_with_no_recorded_start_waits_the_grace_from_when_it_was_seen() {
    let rig = rig().await;
    let at = |minutes: i64| {
        let t = t0() + TimeDelta::minutes(minutes);
        let mut r = empty(t);
        let mut bdl = source("bdl");
        bdl.last_success_at = Some(t0() - TimeDelta::hours(9));
        if !(60..70).contains(&minutes) {
            bdl.probe = Some(rebound_health::ProbeResult::new(
                false,
                None,
                Some("GET /teams: connection refused".into()),
                1,
            ));
        } else {
            bdl.last_success_at = Some(t);
        }
        r.sources = vec![bdl];
        r
    };
    let opened = || async {
        rig.store
            .open_alert_incidents()
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.condition, i.opened_at))
            .collect::<Vec<_>>()
    };
    for minutes in [0, 5, 10] {
        rig.evaluator.evaluate(&at(minutes)).await.unwrap();
        assert_eq!(opened().await, [], "at +{minutes}m, within the 15m grace");
    }
    rig.evaluator.evaluate(&at(16)).await.unwrap();
    assert_eq!(
        opened().await,
        [(
            "source_unhealthy".to_string(),
            t0() + TimeDelta::minutes(16)
        )]
    );
    let sent = rig.sent().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    // Still down: kept open, not a second opening.
    rig.evaluator.evaluate(&at(30)).await.unwrap();
    assert_eq!(opened().await.len(), 1);
    // Back: resolved, and a new outage waits the grace again.
    rig.evaluator.evaluate(&at(60)).await.unwrap();
    assert_eq!(opened().await, []);
    rig.evaluator.evaluate(&at(75)).await.unwrap();
    assert_eq!(opened().await, [], "failing again since +75m: within grace");
}
