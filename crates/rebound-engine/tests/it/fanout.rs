//! Calendars, fan-out and deferred retries, end to end: simulated upstream
//! over loopback → engine → raw folder and SQLite file in a tempdir.
//!
//! The config crate does not parse `for_each` / `[calendars]` yet, so the
//! plan is loaded from TOML for the existing keys and those are set in code.

use super::date;
use chrono::{DateTime, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_domain::plan::{Calendar, ForEach, Plan};
use rebound_engine::{Engine, EngineError, FanoutSummary, RunOptions};
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "f"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 3
initial_delay = "1s"
jitter = "none"

[sources.up]
base_url = "{base_url}"
timeout = "2s"
max_concurrency = 2

[scrapers.schedule]
source = "up"
path = "/t/schedule"
records = "/games"
dataset = "nba/schedule"

[scrapers.game]
source = "up"
path = "/t/game/{{game_id}}"

[scrapers.events]
source = "up"
path = "/t/events"
query = {{ date = "{{date}}" }}
records = "/data"
dataset = "odds_api/events"

[scrapers.props]
source = "up"
path = "/t/props/{{event_id}}"

[scrapers.injuries]
source = "up"
path = "/t/injuries"

[workflows.games]
steps = [
  {{ scrapers = ["schedule"] }},
  {{ scrapers = ["game"], after = ["schedule"] }},
]

[workflows.game_only]
scrapers = ["game"]

[workflows.lines]
steps = [
  {{ scrapers = ["events"] }},
  {{ scrapers = ["props"], after = ["events"] }},
]

[workflows.props_only]
scrapers = ["props"]

[workflows.single]
scrapers = ["injuries"]
"#
    )
}

struct Fan {
    sim: UpstreamSim,
    _dir: tempfile::TempDir,
    engine: Engine,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap()
}

async fn fan_harness(edit: impl FnOnce(&mut Plan)) -> Fan {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rebound.toml");
    let mut plan = rebound_config::load_str(&config(&sim.base_url()), &path, &|_| None).unwrap();
    plan.calendars.insert(
        "games".into(),
        Calendar {
            name: "games".into(),
            dataset: "nba/schedule".into(),
            events: "$.games[*]".into(),
            id: "gameId".into(),
            start: "startTime".into(),
            refresh: None,
        },
    );
    plan.scrapers.get_mut("game").unwrap().for_each = Some(ForEach::Calendar {
        calendar: "games".into(),
        param: "game_id".into(),
    });
    plan.scrapers.get_mut("props").unwrap().for_each = Some(ForEach::Dataset {
        dataset: "odds_api/events".into(),
        items: "$.data[*]".into(),
        value: "id".into(),
        param: "event_id".into(),
    });
    edit(&mut plan);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(now()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, dyn_clock);
    Fan {
        sim,
        _dir: tmp,
        engine,
        store,
        clock,
    }
}

/// Three games on 2026-11-27 in New York (one a late tip-off that is
/// already the 28th in UTC), one on the 28th.
fn schedule_body() -> serde_json::Value {
    json!({"games": [
        {"gameId": "g1", "startTime": "2026-11-27T19:00:00-05:00"},
        {"gameId": 22500002, "startTime": "2026-11-28T00:30:00Z"},
        {"gameId": "g3", "startTime": "2026-11-27T17:00:00Z"},
        {"gameId": "g4", "startTime": "2026-11-28T19:00:00-05:00"},
    ]})
}

fn game_ok(id: &str) -> Reply {
    Reply::json(200, json!({"game": id}))
}

fn no_params() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn called(sim: &UpstreamSim, prefix: &str) -> Vec<String> {
    let mut paths: Vec<String> = sim
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with(prefix))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[tokio::test]
async fn calendar_fan_out_calls_each_event_of_the_local_date() {
    let f = fan_harness(|_| {}).await;
    f.sim
        .script("/t/schedule", vec![Reply::json(200, schedule_body())]);
    f.sim.script("/t/game/g1", vec![game_ok("g1")]);
    // One game fails for good (3 attempts, 1 s and 2 s waits: inline).
    f.sim
        .script("/t/game/22500002", vec![Reply::text(503, "down"); 3]);
    f.sim.script("/t/game/g3", vec![game_ok("g3")]);
    let report = f
        .engine
        .run_workflow("games", date(), &no_params())
        .await
        .unwrap();

    assert_eq!(
        called(&f.sim, "/t/game/"),
        vec!["/t/game/22500002", "/t/game/g1", "/t/game/g3"],
        "the next day's game g4 is not called"
    );
    let games: Vec<(String, ScraperStatus)> = report
        .calls
        .iter()
        .filter(|c| c.scraper == "game")
        .map(|c| (c.params["game_id"].clone(), c.status))
        .collect();
    // Start order: g3 (17:00 UTC), g1 (00:00 UTC), 22500002 (00:30 UTC).
    assert_eq!(
        games,
        vec![
            ("g3".to_string(), ScraperStatus::Success),
            ("g1".to_string(), ScraperStatus::Success),
            ("22500002".to_string(), ScraperStatus::Failed),
        ]
    );
    assert_eq!(report.status, WorkflowStatus::Partial);
    assert_eq!(
        report.fanout,
        vec![FanoutSummary {
            scraper: "game".into(),
            succeeded: 2,
            total: 3,
            no_data: 0,
            failed: 1,
            skipped: 0,
            note: None
        }]
    );
    assert_eq!(
        report.error_message.as_deref(),
        Some("game (game_id=22500002): HTTP 503 after 3 attempts: down")
    );

    let rows = f
        .store
        .scraper_calls_for_execution(&report.execution_id)
        .await
        .unwrap();
    let mut game_rows: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.scraper_name == "game")
        .map(|r| (r.params.clone(), r.status.clone()))
        .collect();
    game_rows.sort();
    assert_eq!(
        game_rows,
        vec![
            (r#"{"game_id":"22500002"}"#.into(), "failed".into()),
            (r#"{"game_id":"g1"}"#.into(), "success".into()),
            (r#"{"game_id":"g3"}"#.into(), "success".into()),
        ]
    );
    let run = f.store.recent_workflow_executions(1).await.unwrap();
    assert_eq!(
        (
            run[0].scrapers_requested,
            run[0].scrapers_succeeded,
            run[0].scrapers_failed
        ),
        (4, 3, 1)
    );
}

#[tokio::test]
async fn a_restriction_to_entities_calls_only_those() {
    let f = fan_harness(|_| {}).await;
    f.sim
        .script("/t/schedule", vec![Reply::json(200, schedule_body())]);
    f.sim.script("/t/game/g3", vec![game_ok("g3")]);
    let options = RunOptions {
        execution_id: Some("0190-fixed-id".into()),
        // g4 is on another date: a restriction never widens the fan-out.
        entities: Some(vec!["g3".into(), "g4".into()]),
        ..RunOptions::default()
    };
    let report = f
        .engine
        .run_workflow_with("games", date(), &no_params(), &options)
        .await
        .unwrap();
    assert_eq!(report.execution_id, "0190-fixed-id");
    assert_eq!(called(&f.sim, "/t/game/"), vec!["/t/game/g3"]);
    assert_eq!(report.status, WorkflowStatus::Success);
    assert_eq!(report.fanout[0].total, 1);
    let rows = f
        .store
        .scraper_calls_for_execution("0190-fixed-id")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);

    // No requested entity is an event of the date: one no_data row.
    let options = RunOptions {
        execution_id: None,
        entities: Some(vec!["g4".into()]),
        ..RunOptions::default()
    };
    let report = f
        .engine
        .run_workflow_with("game_only", date(), &no_params(), &options)
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::NoData);
    assert_eq!(report.calls.len(), 1);
    assert_eq!(
        report.calls[0].message.as_deref(),
        Some(
            "fan-out over calendar games found 0 events for 2026-11-27 \
             (restricted to 1 of the date's 3 events)"
        )
    );
}

#[tokio::test]
async fn a_calendar_without_a_payload_fails_the_fan_out_saying_why() {
    let f = fan_harness(|_| {}).await;
    assert!(f.engine.calendar_events("games").await.unwrap().is_none());
    let report = f
        .engine
        .run_workflow("game_only", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Failed);
    let call = &report.calls[0];
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Dependency));
    assert_eq!(call.attempts, 0);
    assert_eq!(
        call.message.as_deref(),
        Some("no payload of nba/schedule (calendar games): nothing to fan out over")
    );
    assert_eq!(report.fanout[0].total, 0);
    assert!(f.sim.requests().is_empty());
}

#[tokio::test]
async fn calendar_events_come_with_the_payload_fetch_time() {
    let f = fan_harness(|_| {}).await;
    f.sim
        .script("/t/schedule", vec![Reply::json(200, schedule_body())]);
    f.engine
        .run_scraper("schedule", date(), &no_params())
        .await
        .unwrap();
    let data = f.engine.calendar_events("games").await.unwrap().unwrap();
    assert_eq!(data.events.len(), 4);
    assert_eq!(data.events[1].id, "22500002");
    assert_eq!(data.fetched_at, now());
    let unknown = f.engine.calendar_events("nope").await.unwrap_err();
    assert!(matches!(unknown, EngineError::UnknownCalendar { .. }));

    // A malformed event makes the calendar unreadable, naming it. (The
    // clock moves so the newer payload is unambiguously the newest.)
    f.clock.advance(Duration::from_secs(60));
    f.sim.script(
        "/t/schedule",
        vec![Reply::json(200, json!({"games": [{"gameId": "x"}]}))],
    );
    f.engine
        .run_scraper("schedule", date(), &no_params())
        .await
        .unwrap();
    let error = f.engine.calendar_events("games").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "calendar games: event 0 ($['games'][0]) has no member \"startTime\""
    );
    let report = f
        .engine
        .run_workflow("game_only", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.calls[0].error_kind, Some(ErrorKind::Dependency));
    assert_eq!(
        report.calls[0].message.as_deref(),
        Some(error.to_string().as_str())
    );
}

/// Before: an event whose start the upstream wrote with a line break, an
/// escape sequence and a right-to-left override made the calendar's error
/// quote them as they were, so `rebound plan`, the log and the fan-out
/// call's stored message broke into two lines, cleared a terminal or read
/// backwards. Now they are escaped as every other upstream text is.
#[tokio::test]
async fn a_calendar_error_quoting_the_payload_escapes_its_controls() {
    let f = fan_harness(|_| {}).await;
    let start = "7pm\n\u{1b}[2J\u{202e}tonight";
    f.sim.script(
        "/t/schedule",
        vec![Reply::json(
            200,
            json!({"games": [{"gameId": "g1", "startTime": start}]}),
        )],
    );
    f.engine
        .run_scraper("schedule", date(), &no_params())
        .await
        .unwrap();
    let error = f.engine.calendar_events("games").await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(
            r#"calendar games: event 0 ($['games'][0]): member "startTime" = "7pm\n\u{1b}[2J\u{202e}tonight" is not an RFC 3339 time: "#
        ),
        "{message}"
    );
    let raw = |text: &str| text.contains(['\n', '\u{1b}', '\u{202e}']);
    assert!(!raw(&message), "{message:?}");

    // The fan-out over the calendar fails with the same words, in its
    // report and in the call's row.
    let report = f
        .engine
        .run_workflow("game_only", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.calls[0].message.as_deref(), Some(message.as_str()));
    let rows = f
        .store
        .scraper_calls_for_execution(&report.execution_id)
        .await
        .unwrap();
    let row = rows.iter().find(|r| r.scraper_name == "game").unwrap();
    assert_eq!(row.error_message.as_deref(), Some(message.as_str()));
}

#[tokio::test]
async fn dataset_fan_out_reads_the_payload_of_an_earlier_step() {
    let f = fan_harness(|_| {}).await;
    f.sim.script(
        "/t/events",
        vec![Reply::json(
            200,
            json!({"data": [{"id": "e1"}, {"id": "e2"}, {"id": "e1"}]}),
        )],
    );
    f.sim.script("/t/props/e1", vec![Reply::text(200, "p1")]);
    f.sim.script("/t/props/e2", vec![Reply::text(200, "p2")]);
    let report = f
        .engine
        .run_workflow("lines", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Success);
    assert_eq!(
        called(&f.sim, "/t/props/"),
        vec!["/t/props/e1", "/t/props/e2"]
    );
    assert_eq!(
        f.sim.request_count("/t/props/e1"),
        1,
        "duplicates are called once"
    );
    assert_eq!(
        report.fanout,
        vec![FanoutSummary {
            scraper: "props".into(),
            succeeded: 2,
            total: 2,
            no_data: 0,
            failed: 0,
            skipped: 0,
            note: None
        }]
    );
}

/// Before: serde_json refused a number beyond f64 ("number out of range"),
/// so a valid payload holding one failed its call as `decode` and the
/// fan-out over it never ran. The item whose id is such a number is
/// called with its text.
#[tokio::test]
async fn a_payload_with_a_number_beyond_f64_succeeds_and_fans_out() {
    let f = fan_harness(|_| {}).await;
    f.sim.script(
        "/t/events",
        vec![
            Reply::text(
                200,
                r#"{"data": [{"id": "e1", "line": 1e400}, {"id": 1e999, "line": -2.5}]}"#,
            )
            .header("content-type", "application/json"),
        ],
    );
    f.sim.script("/t/props/e1", vec![Reply::text(200, "p1")]);
    f.sim.script("/t/props/1e999", vec![Reply::text(200, "p2")]);
    let report = f
        .engine
        .run_workflow("lines", date(), &no_params())
        .await
        .unwrap();
    let events = report.calls.iter().find(|c| c.scraper == "events").unwrap();
    assert_eq!(
        (events.status, events.error_kind),
        (ScraperStatus::Success, None),
        "{:?}",
        events.message
    );
    assert_eq!(report.status, WorkflowStatus::Success);
    assert_eq!(
        called(&f.sim, "/t/props/"),
        vec!["/t/props/1e999", "/t/props/e1"]
    );
}

/// Before: a payload listing 20,000 items made 20,000 calls in one run.
#[tokio::test]
async fn a_fan_out_over_more_items_than_a_run_calls_fails_without_a_call() {
    let f = fan_harness(|_| {}).await;
    let many: Vec<serde_json::Value> = (0..=rebound_engine::MAX_FAN_OUT_ITEMS)
        .map(|i| json!({"id": format!("e{i}")}))
        .collect();
    f.sim
        .script("/t/events", vec![Reply::json(200, json!({ "data": many }))]);
    let report = f
        .engine
        .run_workflow("lines", date(), &no_params())
        .await
        .unwrap();
    assert!(called(&f.sim, "/t/props/").is_empty());
    let props = report
        .calls
        .iter()
        .find(|c| c.scraper == "props")
        .expect("a row for the fan-out");
    assert_eq!(props.status, ScraperStatus::Failed);
    assert_eq!(
        props.message.as_deref(),
        Some(
            "fan-out of props found 10001 items for 2026-11-27, more than the 10000 one run calls; no call made (is the payload it reads what it should be?)"
        )
    );
}

#[tokio::test]
async fn a_failed_source_scraper_skips_the_fan_out_naming_it() {
    let f = fan_harness(|_| {}).await;
    f.sim
        .script("/t/events", vec![Reply::text(404, "no such sport")]);
    let report = f
        .engine
        .run_workflow("lines", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Failed);
    let props = &report.calls[1];
    assert_eq!(props.status, ScraperStatus::Skipped);
    let expected = "not run: events failed";
    assert_eq!(props.message.as_deref(), Some(expected));
    assert_eq!(
        report.fanout,
        vec![FanoutSummary {
            scraper: "props".into(),
            succeeded: 0,
            total: 0,
            no_data: 0,
            failed: 0,
            skipped: 0,
            note: Some(expected.into())
        }]
    );
    assert!(called(&f.sim, "/t/props/").is_empty());
}

#[tokio::test]
async fn zero_items_give_one_no_data_row() {
    let f = fan_harness(|plan| {
        // Only live events count; none is.
        if let Some(ForEach::Dataset { items, .. }) =
            &mut plan.scrapers.get_mut("props").unwrap().for_each
        {
            *items = "$.data[?@.live == true]".into();
        }
    })
    .await;
    f.sim.script(
        "/t/events",
        vec![Reply::json(
            200,
            json!({"data": [{"id": "e1", "live": false}]}),
        )],
    );
    let report = f
        .engine
        .run_workflow("lines", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Success);
    let props = &report.calls[1];
    assert_eq!(props.status, ScraperStatus::NoData);
    assert_eq!(props.attempts, 0);
    assert_eq!(
        props.message.as_deref(),
        Some("fan-out over odds_api/events found 0 items for 2026-11-27")
    );
    let rows = f
        .store
        .scraper_calls_for_execution(&report.execution_id)
        .await
        .unwrap();
    assert_eq!(rows[1].status, "no_data");

    // The source scraper itself had no data in this run: also 0 items, not a failure.
    let f2 = fan_harness(|_| {}).await;
    f2.sim
        .script("/t/events", vec![Reply::json(200, json!({"data": []}))]);
    let report = f2
        .engine
        .run_workflow("lines", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::NoData);
    let message = report.calls[1].message.clone().unwrap();
    assert!(
        message.starts_with(
            "fan-out over odds_api/events found 0 items for 2026-11-27 (events had no data"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_dataset_without_a_payload_for_the_date_fails_the_fan_out() {
    let f = fan_harness(|_| {}).await;
    let report = f
        .engine
        .run_workflow("props_only", date(), &no_params())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Failed);
    let call = &report.calls[0];
    assert_eq!(call.error_kind, Some(ErrorKind::Dependency));
    assert_eq!(
        call.message.as_deref(),
        Some("no payload of odds_api/events for 2026-11-27: nothing to fan out over")
    );
    assert_eq!(
        report.error_message.as_deref(),
        Some("props: no payload of odds_api/events for 2026-11-27: nothing to fan out over")
    );
}

#[tokio::test]
async fn standalone_scrape_of_a_fanned_scraper_is_one_call_with_its_param() {
    let f = fan_harness(|_| {}).await;
    f.sim.script("/t/game/g7", vec![game_ok("g7")]);
    let params: BTreeMap<String, String> = [("game_id".to_string(), "g7".to_string())].into();
    let report = f.engine.run_scraper("game", date(), &params).await.unwrap();
    assert_eq!(report.status, ScraperStatus::Success);
    let missing = f
        .engine
        .run_scraper("game", date(), &no_params())
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "scraper game needs parameter {game_id}: pass --param game_id=VALUE"
    );
}

#[tokio::test]
async fn a_long_retry_after_is_stored_not_slept() {
    let f = fan_harness(|plan| {
        plan.scheduler.max_inline_wait = Duration::from_secs(5);
    })
    .await;
    f.sim.script(
        "/t/injuries",
        vec![Reply::text(429, "slow down").header("Retry-After", "120")],
    );
    let report = f
        .engine
        .run_workflow("single", date(), &no_params())
        .await
        .unwrap();
    assert!(f.clock.sleeps().is_empty(), "{:?}", f.clock.sleeps());
    assert_eq!(f.sim.request_count("/t/injuries"), 1);
    let call = &report.calls[0];
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Throttled));
    let retry_at = now() + chrono::Duration::seconds(120);
    assert_eq!(call.deferred_until, Some(retry_at));
    assert_eq!(report.retry_at, Some(retry_at));
    assert_eq!(report.status, WorkflowStatus::Failed);
    assert_eq!(
        call.message.as_deref(),
        Some(
            "HTTP 429 after 1 attempt; Retry-After 120s exceeds the inline wait limit (5s): \
             retry stored for 2026-11-28 10:02:00 EST (-05:00); body: slow down"
        )
    );
    let rows = f
        .store
        .scraper_calls_for_execution(&report.execution_id)
        .await
        .unwrap();
    assert_eq!(rows[0].status, "failed");
    assert_eq!(rows[0].error_message, call.message);
}

/// A stored calendar payload of another shape than the calendar reads (a
/// member its events path names is missing) is unreadable, naming the
/// payload and why, as `rebound plan --calendar FILE` refuses such a file:
/// it was read as a day without games, so the fan-outs over it collected
/// nothing and said nothing.
#[tokio::test]
async fn a_stored_calendar_of_another_shape_is_unreadable_not_a_day_without_games() {
    let f = fan_harness(|plan| {
        plan.calendars.get_mut("games").unwrap().events = "$.schedule.games[*]".into();
    })
    .await;
    f.sim.script(
        "/t/schedule",
        vec![Reply::json(
            200,
            json!({"games": [{"gameId": "g1", "startTime": "2026-01-15T00:00:00Z"}]}),
        )],
    );
    f.engine
        .run_scraper("schedule", date(), &no_params())
        .await
        .unwrap();
    let error = f.engine.calendar_events("games").await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("calendar games: the stored payload ")
            && message.contains(
                "is not shaped like a schedule: $ is an object with no member \"schedule\""
            ),
        "{message}"
    );
}
