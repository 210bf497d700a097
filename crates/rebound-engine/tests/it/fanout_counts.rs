//! What a fan-out reports it collected: `succeeded` counts `success` calls
//! only, no-data, failed and refused calls are counted apart, and a run
//! whose calls an open breaker refused is never `success`. Simulated
//! upstream over loopback, a real SQLite file, a manual clock.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_engine::{Engine, FanoutSummary, RunReport};
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "counts"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

[sources.sched]
base_url = "{base_url}"
timeout = "2s"

[sources.nba_stats]
base_url = "{base_url}"
timeout = "2s"
breaker = {{ consecutive_failures = 3, min_calls = 50, open_for = "1h", max_open_for = "2h" }}

[scrapers.schedule]
source = "sched"
path = "/t/schedule"
records = "/games"
dataset = "nba/schedule"

[calendars.games]
dataset = "nba/schedule"
events = "$.games[*]"
id = "gameId"
start = "startTime"

[scrapers.box]
source = "nba_stats"
path = "/t/box/{{game_id}}"
no_data = {{ status = [404] }}
for_each = {{ calendar = "games", param = "game_id" }}
lockout = {{ after = 3, for = "24h" }}

[workflows.sched]
scrapers = ["schedule"]

[workflows.games]
steps = [
  {{ scrapers = ["schedule"] }},
  {{ scrapers = ["box"], after = ["schedule"] }},
]

[workflows.boxes]
scrapers = ["box"]
"#
    )
}

struct H {
    sim: UpstreamSim,
    _dir: tempfile::TempDir,
    engine: Engine,
    clock: Arc<ManualClock>,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

async fn harness() -> H {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rebound.toml");
    let plan = rebound_config::load_str(&config(&sim.base_url()), &path, &|_| None).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(start()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store, raw, fetcher, dyn_clock);
    H {
        sim,
        _dir: tmp,
        engine,
        clock,
    }
}

async fn run(h: &H, workflow: &str) -> RunReport {
    h.engine
        .run_workflow(workflow, day(), &BTreeMap::new())
        .await
        .unwrap()
}

fn ok(game: &str) -> Reply {
    Reply::json(200, json!({"box": game}))
}

fn fanout(
    succeeded: u32,
    no_data: u32,
    failed: u32,
    skipped: u32,
    note: Option<&str>,
) -> Vec<FanoutSummary> {
    vec![FanoutSummary {
        scraper: "box".into(),
        total: 3,
        succeeded,
        no_data,
        failed,
        skipped,
        note: note.map(str::to_string),
    }]
}

#[tokio::test]
async fn fan_out_counts_collected_calls_only_and_refused_runs_are_not_success() {
    let h = harness().await;
    let schedule = Reply::json(
        200,
        json!({"games": [
            {"gameId": "g1", "startTime": "2026-11-28T19:00:00-05:00"},
            {"gameId": "g2", "startTime": "2026-11-28T19:30:00-05:00"},
            {"gameId": "g3", "startTime": "2026-11-28T20:00:00-05:00"},
        ]}),
    );
    // The same schedule for the `sched` run and the `games` run below.
    h.sim
        .script("/t/schedule", vec![schedule.clone(), schedule]);
    assert_eq!(run(&h, "sched").await.status, WorkflowStatus::Success);

    // g2 has no data (unscripted: 404, listed in no_data): 2 of 3 collected.
    h.sim.script("/t/box/g1", vec![ok("g1")]);
    h.sim.script("/t/box/g3", vec![ok("g3")]);
    let report = run(&h, "boxes").await;
    assert_eq!(report.fanout, fanout(2, 1, 0, 0, None));
    assert_eq!(report.status, WorkflowStatus::Success);
    h.clock.advance(std::time::Duration::from_secs(60));

    // Mixed: one collected, one no data, one failed. g1's answer comes
    // last, so nba_stats' failure streak ends this run at 0 whatever order
    // the calls finish in; otherwise, on a busy machine, the run below
    // could find the breaker open (1 + 2 failures) before g3 is let through.
    h.sim.script(
        "/t/box/g1",
        vec![ok("g1").delay(std::time::Duration::from_millis(300))],
    );
    h.sim.script("/t/box/g3", vec![Reply::text(503, "down")]);
    let report = run(&h, "boxes").await;
    assert_eq!(report.fanout, fanout(1, 1, 1, 0, None));
    assert_eq!(report.status, WorkflowStatus::Partial);
    h.clock.advance(std::time::Duration::from_secs(60));

    // Every call fails: the breaker of nba_stats opens (3 in a row), and
    // g2 (no data, no data, failed) is locked out.
    for game in ["g1", "g2", "g3"] {
        h.sim
            .script(&format!("/t/box/{game}"), vec![Reply::text(503, "down")]);
    }
    let report = run(&h, "boxes").await;
    assert_eq!(report.fanout, fanout(0, 0, 3, 0, None));
    assert_eq!(report.status, WorkflowStatus::Failed);
    h.clock.advance(std::time::Duration::from_secs(60));
    let requests = h.sim.request_count("/t/box/g1");

    // The schedule is collected, every box call is refused: not success,
    // and the fan-out says nothing of it was collected, and why.
    let report = run(&h, "games").await;
    let refused: Vec<(&str, ScraperStatus, Option<ErrorKind>)> = report
        .calls
        .iter()
        .filter(|c| c.scraper == "box")
        .map(|c| (c.params["game_id"].as_str(), c.status, c.error_kind))
        .collect();
    assert_eq!(
        refused,
        vec![
            ("g1", ScraperStatus::Skipped, Some(ErrorKind::BreakerOpen)),
            ("g2", ScraperStatus::Skipped, Some(ErrorKind::LockedOut)),
            ("g3", ScraperStatus::Skipped, Some(ErrorKind::BreakerOpen)),
        ]
    );
    assert_eq!(
        report.fanout,
        fanout(
            0,
            0,
            0,
            3,
            Some("2 refused by the open breaker of nba_stats, 1 locked out")
        )
    );
    assert_eq!(report.status, WorkflowStatus::Partial);
    assert!(!report.all_ok());
    let message = report.error_message.as_deref().unwrap_or("");
    assert!(
        message.starts_with("box (game_id=g1): circuit breaker for source nba_stats open since"),
        "{message}"
    );

    // The fan-out alone: nothing collected because every call was refused.
    let report = run(&h, "boxes").await;
    assert_eq!(report.status, WorkflowStatus::Failed);
    assert!(!report.all_ok());
    assert_eq!(report.fanout[0].succeeded, 0);
    assert_eq!(report.fanout[0].skipped, 3);
    assert_eq!(h.sim.request_count("/t/box/g1"), requests, "no request");
}
