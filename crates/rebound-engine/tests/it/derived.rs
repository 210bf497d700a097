//! Derived parameters end to end (issue 13, item 3): several parameters
//! bound from each fan-out item, date filters, the season and slot
//! built-ins, and date-bounded variants, against the simulated upstream
//! over loopback, with history in a real SQLite file.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::outcome::{ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_engine::{Engine, EngineError, RunOptions};
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::fixtures::games_on;
use rebound_upstream_sim::{Reply, UpstreamSim, paths};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "d"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"
season_start = "10-01"

[retry]
max_attempts = 1

[sources.up]
base_url = "{base_url}"
timeout = "2s"

[scrapers.schedule]
source = "up"
path = "/nba/schedule"
query = {{ date = "{{date}}" }}
dataset = "nba/schedule"

[calendars.games]
dataset = "nba/schedule"
events = "$.leagueSchedule.gameDates[*].games[*]"
id = "gameId"
start = "gameDateTimeUTC"

[scrapers.gamebook]
source = "up"
path = "/nba/gamebooks/{{date|%Y%m%d}}/{{away}}{{home}}.pdf"
format = "pdf"
for_each = {{ calendar = "games", param = "game_id", params = {{ away = "awayTeam.teamTricode", home = "homeTeam.teamTricode" }} }}

[scrapers.list]
source = "up"
path = "/t/list"
dataset = "list"

[scrapers.lineup]
source = "up"
path = "/echo/lineup/{{game}}/{{home}}"
for_each = {{ dataset = "list", items = "$.games[*]", params = {{ game = "gameId", home = "home.abbr" }} }}

[scrapers.stamped]
source = "up"
path = "/echo/report_{{slot_hour12}}{{slot_ampm}}_{{slot_hour}}{{slot_minute}}"
query = {{ season = "{{season}}", from = "{{season_start_year}}", to = "{{season_end_year}}", day = "{{target_date|%b %-d}}" }}

[scrapers.report_v1]
source = "up"
path = "/echo/v1/{{date}}"
dataset = "injury_report"
valid_from = "2025-12-01"
valid_until = "2025-12-22"

[scrapers.report_v2]
source = "up"
path = "/echo/v2/{{date|%Y%m%d}}"
dataset = "injury_report"
valid_from = "2025-12-23"

[workflows.books]
steps = [{{ scrapers = ["schedule"] }}, {{ scrapers = ["gamebook"] }}]

[workflows.lineups]
steps = [{{ scrapers = ["list"] }}, {{ scrapers = ["lineup"] }}]

[workflows.stamped]
scrapers = ["stamped"]

[workflows.injuries]
steps = [{{ scrapers = ["report_v1", "report_v2"] }}, {{ scrapers = ["stamped"] }}]
"#
    )
}

struct Harness {
    sim: UpstreamSim,
    _dir: tempfile::TempDir,
    engine: Engine,
    store: Arc<dyn Store>,
}

async fn harness() -> Harness {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rebound.toml");
    let plan = rebound_config::load_str(&config(&sim.base_url()), &path, &|_| None).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, clock);
    Harness {
        sim,
        _dir: tmp,
        engine,
        store,
    }
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn at(slot: &str) -> RunOptions {
    RunOptions {
        slot: Some(NaiveTime::parse_from_str(slot, "%H:%M").unwrap()),
        ..RunOptions::default()
    }
}

/// The paths (and queries) the upstream saw that start with `prefix`.
fn seen(sim: &UpstreamSim, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .map(|r| match r.query {
            Some(q) => format!("{}?{q}", r.path),
            None => r.path,
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_calendar_fan_out_binds_each_games_teams_into_the_game_book_path() {
    let h = harness().await;
    let date = day("2026-11-28");
    let report = h.engine.run_workflow("books", date, &none()).await.unwrap();
    assert_eq!(report.status, WorkflowStatus::Success, "{report:?}");

    // The games of the local date, as the upstream's schedule lists them
    // (away then home), and nothing else.
    let mut expected: Vec<String> = games_on(date)
        .iter()
        .map(|g| paths::nba_gamebook("20261128", g.away.tricode, g.home.tricode))
        .collect();
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(seen(&h.sim, "/nba/gamebooks/"), expected);
    let books: Vec<_> = report
        .calls
        .iter()
        .filter(|c| c.scraper == "gamebook")
        .collect();
    assert_eq!(books.len(), expected.len());
    for call in books {
        assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
        // The game id identifies the call although no template uses it.
        assert!(call.params.contains_key("game_id"), "{:?}", call.params);
        assert!(call.params.contains_key("away") && call.params.contains_key("home"));
    }
}

#[tokio::test]
async fn an_item_missing_a_bound_member_fails_alone_naming_item_and_member() {
    let h = harness().await;
    h.sim.script(
        "/t/list",
        vec![Reply::json(
            200,
            json!({"games": [
                {"gameId": "g1", "home": {"abbr": "NYK"}},
                {"gameId": "g2", "home": {}},
                {"gameId": 3, "home": {"abbr": "BOS"}},
            ]}),
        )],
    );
    let report = h
        .engine
        .run_workflow("lineups", day("2026-11-28"), &none())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Partial);
    assert_eq!(
        seen(&h.sim, "/echo/lineup/"),
        vec!["/echo/lineup/3/BOS", "/echo/lineup/g1/NYK"]
    );
    let failed: Vec<_> = report
        .calls
        .iter()
        .filter(|c| c.status == ScraperStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error_kind, Some(ErrorKind::Dependency));
    assert_eq!(failed[0].attempts, 0);
    let message = failed[0].message.as_deref().unwrap();
    assert!(
        message
            .contains("item 1 ($['games'][1], gameId=g2) has no member \"home.abbr\" (for {home})"),
        "{message}"
    );
    // The run's message names the item too.
    let run_message = report.error_message.as_deref().unwrap();
    assert!(
        run_message.starts_with("lineup (game=g2): "),
        "{run_message}"
    );
}

#[tokio::test]
async fn slot_and_season_built_ins_and_filters_fill_the_request() {
    let h = harness().await;
    for (slot, date, expected) in [
        (
            "00:30",
            "2025-12-01",
            "/echo/report_12AM_0030?day=Dec+1&from=2025&season=2025-26&to=2026",
        ),
        (
            "12:05",
            "2026-03-01",
            "/echo/report_12PM_1205?day=Mar+1&from=2025&season=2025-26&to=2026",
        ),
        (
            "17:00",
            "2026-10-01",
            "/echo/report_05PM_1700?day=Oct+1&from=2026&season=2026-27&to=2027",
        ),
    ] {
        let report = h
            .engine
            .run_workflow_with("stamped", day(date), &none(), &at(slot))
            .await
            .unwrap();
        assert_eq!(report.status, WorkflowStatus::Success, "{slot}");
        let call = &report.calls[0];
        // Query keys are written in the order configured (sorted); compare
        // them sorted so the check is about values.
        let url = seen(&h.sim, "/echo/report_")
            .into_iter()
            .find(|u| u.starts_with(expected.split('?').next().unwrap()))
            .unwrap_or_else(|| panic!("{slot}: no request"));
        let (path, query) = url.split_once('?').unwrap();
        let mut pairs: Vec<&str> = query.split('&').collect();
        pairs.sort();
        assert_eq!(format!("{path}?{}", pairs.join("&")), expected, "{slot}");
        assert_eq!(call.params["slot_ampm"], &expected[15..17]);
    }
}

#[tokio::test]
async fn a_run_without_a_slot_says_how_to_give_one() {
    let h = harness().await;
    let error = h
        .engine
        .run_workflow("stamped", day("2026-11-28"), &none())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, EngineError::MissingParams { .. }), "{text}");
    assert!(
        text.contains("needs parameters {slot_ampm}, {slot_hour}, {slot_hour12}, {slot_minute}: pass --slot HH:MM"),
        "{text}"
    );
    let mut params = none();
    params.insert("slot_hour".into(), "05".into());
    let error = h
        .engine
        .run_scraper("stamped", day("2026-11-28"), &params)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "--param slot_hour is built in: set the slot with --slot HH:MM instead"
    );
}

#[tokio::test]
async fn the_variant_valid_on_the_target_date_runs_and_a_date_without_one_is_a_recorded_skip() {
    let h = harness().await;
    let slot = at("09:00");
    for (date, expected) in [
        ("2025-12-01", "/echo/v1/2025-12-01"),
        ("2025-12-22", "/echo/v1/2025-12-22"),
        ("2025-12-23", "/echo/v2/20251223"),
        ("2026-02-01", "/echo/v2/20260201"),
    ] {
        let before = seen(&h.sim, "/echo/v");
        let report = h
            .engine
            .run_workflow_with("injuries", day(date), &none(), &slot)
            .await
            .unwrap();
        assert_eq!(report.status, WorkflowStatus::Success, "{date}");
        let mut after = seen(&h.sim, "/echo/v");
        for old in &before {
            let n = after.iter().position(|p| p == old).unwrap();
            after.remove(n);
        }
        assert_eq!(after, vec![expected.to_string()], "{date}");
        // The variant not valid that day leaves no row: it is not part of
        // this date's run.
        let scrapers: Vec<&str> = report.calls.iter().map(|c| c.scraper.as_str()).collect();
        assert_eq!(scrapers.len(), 2, "{date}: {scrapers:?}");
    }

    // Before either variant: nothing is requested, one skipped row says why,
    // and the run is not a failure.
    let before = h.sim.requests().len();
    let report = h
        .engine
        .run_workflow_with("injuries", day("2025-11-30"), &none(), &slot)
        .await
        .unwrap();
    let skipped = &report.calls[0];
    assert_eq!(skipped.scraper, "report_v1");
    assert_eq!(skipped.status, ScraperStatus::Skipped);
    assert_eq!(skipped.error_kind, Some(ErrorKind::NotValid));
    assert_eq!(
        skipped.message.as_deref(),
        Some(
            "not run: no variant of dataset injury_report is valid on 2025-11-30 (report_v1 2025-12-01..2025-12-22, report_v2 2025-12-23..)"
        )
    );
    assert_eq!(report.calls.len(), 2, "the stamped scraper still runs");
    assert_eq!(h.sim.requests().len(), before + 1);
    assert_eq!(report.status, WorkflowStatus::Success);
    // Recorded like any call: the history says the same.
    let rows = h
        .store
        .scraper_calls_for_execution(&report.execution_id)
        .await
        .unwrap();
    let row = rows.iter().find(|r| r.scraper_name == "report_v1").unwrap();
    assert_eq!(row.status, "skipped");
    assert_eq!(row.error_kind.as_deref(), Some("not_valid"));

    // By hand, a variant outside its dates is refused, naming the one valid.
    let error = h
        .engine
        .run_scraper("report_v1", day("2025-12-23"), &none())
        .await
        .unwrap_err();
    assert!(error.is_usage());
    assert_eq!(
        error.to_string(),
        "scraper report_v1 is not valid on 2025-12-23 (valid 2025-12-01..2025-12-22); valid on that date: report_v2"
    );
}
