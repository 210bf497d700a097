//! A whole report over a simulated outage: what is broken, since when and
//! why, in every section, with the levels and JSON keys users script against.

use super::{SECRET, harness, start};
use chrono::TimeDelta;
use rebound_domain::clock::Clock;
use rebound_health::Level;
use rebound_upstream_sim::Reply;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const CONFIG: &str = r#"
[sources.up]
base_url = "{base}"
timeout = "2s"
query = { apiKey = "${TEST_KEY}" }
breaker = { enabled = false }

[sources.other]
base_url = "{base}"
timeout = "2s"

[scrapers.lines]
source = "up"
path = "/t/lines"
records = "/data"

[scrapers.teams]
source = "other"
path = "/t/teams"
records = "/data"

[workflows.betting]
scrapers = ["lines", "teams"]

[datasets.teams]
fresh_warn = "26h"
fresh_error = "50h"
"#;

#[tokio::test]
async fn an_outage_is_named_with_its_start_and_reason() {
    let h = harness(CONFIG).await;
    let run = || async {
        let date = h.clock.now().date_naive();
        h.engine
            .run_workflow("betting", date, &BTreeMap::new())
            .await
            .expect("run")
    };
    let data = || Reply::json(200, json!({"data": [1, 2]}));
    h.sim.script("/t/lines", vec![data()]);
    h.sim.script("/t/teams", vec![data()]);
    run().await;
    // From the next hour, `up` answers 503 with the key echoed in the
    // body, three hours in a row; `other` keeps answering.
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(3600));
        h.sim.script(
            "/t/lines",
            vec![Reply::text(503, format!("overloaded (key {SECRET})"))],
        );
        h.sim.script("/t/teams", vec![data()]);
        run().await;
    }
    let report = h.report().await;

    let up = report.sources.iter().find(|s| s.name == "up").unwrap();
    assert_eq!(up.level, Level::Warning);
    assert_eq!(up.failing_since, Some(start() + TimeDelta::hours(1)));
    assert_eq!((up.calls, up.failed), (4, 3));
    assert_eq!(up.failure_rate, 0.75);
    assert_eq!(up.last_success_at, Some(start()));
    assert!(up.last_error.as_deref().unwrap().contains("503"));
    let other = report.sources.iter().find(|s| s.name == "other").unwrap();
    assert_eq!(other.level, Level::Ok);
    assert_eq!(other.failing_since, None);

    let lines = report.scrapers.iter().find(|s| s.name == "lines").unwrap();
    assert_eq!((lines.runs, lines.failures), (4, 3));
    assert_eq!(lines.consecutive_failures, 3);
    assert_eq!(lines.level, Level::Warning);

    let wf = &report.workflows[0];
    assert_eq!(wf.last_status.as_deref(), Some("partial"));
    assert_eq!(wf.consecutive_failed, 3);
    assert_eq!(wf.failing_since, Some(start() + TimeDelta::hours(1)));
    assert_eq!(
        wf.level,
        Level::Critical,
        "3 failed or partial runs in a row"
    );
    let day = &wf.days[0];
    assert_eq!((day.runs, day.failed, day.partial), (4, 0, 3));
    assert_eq!(day.failure_rate, 0.75);

    assert_eq!(report.error_coverage.failed_or_partial, 3);
    assert_eq!(report.error_coverage.coverage_rate, 1.0);
    assert_eq!(report.retries.calls, 8);
    assert_eq!(report.retries.attempts_per_call, 1.0);
    let teams = report.datasets.iter().find(|d| d.name == "teams").unwrap();
    assert_eq!(teams.level, Level::Ok);
    assert_eq!(report.level, Level::Critical);

    let text = serde_json::to_value(&report).unwrap();
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
        assert!(text.get(key).is_some(), "{key}");
    }
    assert_eq!(text["level"], "critical");
    assert!(
        !text.to_string().contains(SECRET),
        "the key the upstream echoed is masked"
    );

    // The source recovers: failing_since clears, the streak ends.
    h.clock.advance(Duration::from_secs(3600));
    h.sim.script("/t/lines", vec![data()]);
    h.sim.script("/t/teams", vec![data()]);
    run().await;
    let report = h.report().await;
    let up = report.sources.iter().find(|s| s.name == "up").unwrap();
    assert_eq!(up.failing_since, None);
    assert_eq!(report.workflows[0].consecutive_failed, 0);
    // Failure rate over the period still warns: 3 of 5 calls failed.
    assert_eq!(up.level, Level::Warning);
}

const PAUSED: &str = r#"
[sources.up]
base_url = "{base}"
timeout = "2s"
breaker = { enabled = false }

[scrapers.lines]
source = "up"
path = "/t/lines"
records = "/data"

[scrapers.props]
source = "up"
path = "/t/props"
records = "/data"
"#;

/// A source's calls are the calls that made a request, as docs/health.md
/// says: a call deferred before its request, because a 429's Retry-After
/// paused the source, failed without one. It was counted, so the history
/// of `rebound simulate new-years-eve` read "odds_api: 111 of 319 calls
/// failed (35%)" where 224 calls had made a request and 16 of them failed.
#[tokio::test]
async fn a_call_the_source_s_pause_held_back_made_no_request() {
    let h = harness(PAUSED).await;
    let date = h.clock.now().date_naive();
    let none = BTreeMap::new();
    h.sim.script(
        "/t/lines",
        vec![Reply::status(429).header("Retry-After", "600")],
    );
    let lines = h.engine.run_scraper("lines", date, &none).await.unwrap();
    assert_eq!(lines.attempts, 1, "{lines:?}");
    let props = h.engine.run_scraper("props", date, &none).await.unwrap();
    assert_eq!(props.attempts, 0, "held back by the pause: {props:?}");
    assert_eq!(h.sim.request_count("/t/props"), 0);
    let report = h.report().await;
    let up = report.sources.iter().find(|s| s.name == "up").unwrap();
    assert_eq!((up.calls, up.failed), (1, 1));
    assert_eq!(report.retries.calls, 1);
}

/// Calls the source's pause held back are counted apart from a scraper's
/// failures (`deferred`) and neither raise its level nor count in its
/// streak: the source made Rebound wait, the scraper did not fail. The
/// history of `rebound simulate new-years-eve` read "WARNING scraper
/// oddsa_game_lines: 56 failed … of 159 calls" where none of the 56 had
/// made a request; a long pause made its scrapers CRITICAL by their streak.
#[tokio::test]
async fn calls_the_source_s_pause_held_back_are_not_the_scraper_s_failures() {
    let h = harness(PAUSED).await;
    let date = h.clock.now().date_naive();
    let none = BTreeMap::new();
    h.sim.script(
        "/t/lines",
        vec![Reply::status(429).header("Retry-After", "600")],
    );
    h.engine.run_scraper("lines", date, &none).await.unwrap();
    for _ in 0..12 {
        let props = h.engine.run_scraper("props", date, &none).await.unwrap();
        assert_eq!(props.attempts, 0, "held back by the pause: {props:?}");
    }
    let report = h.report().await;
    let props = report.scrapers.iter().find(|s| s.name == "props").unwrap();
    assert_eq!((props.runs, props.failures, props.deferred), (12, 12, 12));
    assert_eq!(props.consecutive_failures, 0, "{props:?}");
    assert_eq!(props.level, Level::Ok, "{props:?}");
    // The call that met the 429 is a failure of its scraper.
    let lines = report.scrapers.iter().find(|s| s.name == "lines").unwrap();
    assert_eq!((lines.failures, lines.deferred), (1, 0));
    assert_eq!(lines.consecutive_failures, 1);
    assert_eq!(lines.level, Level::Warning);
    let json = serde_json::to_value(props).unwrap();
    assert_eq!(json["deferred"], 12, "{json}");
}
