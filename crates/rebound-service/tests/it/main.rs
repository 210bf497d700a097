//! The scheduler and workers end to end on a manual clock: a whole simulated
//! day of decisions and runs against the simulated upstream over loopback,
//! with history in a real SQLite file. Nothing sleeps: each step jumps the
//! clock to the scheduler's next check.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::ScraperStatus;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_service::scheduler::{RecordedDecision, Scheduler};
use rebound_service::worker::{RunOutcome, Worker};
use rebound_storage::{DecisionAction, Store};
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

mod alerts;
mod api;
mod backfill;
mod browser;
mod dashboard;
mod handoff;
mod handoff_nats;
mod reconcile;
mod reference_day;
mod retention;
mod retries;
mod runs;
mod schedulers;
mod serve;
mod wakeups;

/// A scheduled workflow `rosters`; see [`unstartable_harness`].
const ROSTERS: &str = r#"
[scrapers.roster]
source = "nba"
path = "/roster"

[workflows.rosters]
scrapers = ["roster"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;

/// A harness whose scheduled workflow `rosters` runs a scraper that needs
/// `{team}`, which is neither a built-in nor fanned out: its runs cannot
/// start. `rebound check` refuses such a file, so the plan is changed in
/// code: the worker's own guard (a run the engine refuses is a failed run
/// with a reason) is what these tests are about.
async fn unstartable_harness(dir: &Path, base_url: &str, start: DateTime<Utc>) -> Harness {
    let path = dir.join("rebound.toml");
    std::fs::write(&path, config(base_url, ROSTERS)).expect("write config");
    let mut plan = rebound_config::load(&path, &|_| None).expect("config is valid");
    plan.scrapers.get_mut("roster").expect("roster").path =
        rebound_domain::template::Template::parse("/roster/{team}").expect("template");
    harness_for(dir, plan, start).await
}

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

fn config(base_url: &str, extra: &str) -> String {
    format!(
        r#"
[pipeline]
name = "day"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 2
initial_delay = "10ms"
max_delay = "20ms"

[scheduler]
lease = "60s"
catch_up = "6h"

[sources.nba]
base_url = "{base_url}/nba"
timeout = "5s"

[scrapers.schedule]
source = "nba"
path = "/schedule"
query = {{ date = "{{date}}" }}
records = "/leagueSchedule/gameDates"
dataset = "nbacom/schedule"

[scrapers.pbp]
source = "nba"
path = "/pbp/{{game_id}}"
records = "/game/actions"
dataset = "nbacom/pbp"
for_each = {{ calendar = "games", param = "game_id" }}

[scrapers.injuries]
source = "nba"
path = "/injury-report"
query = {{ date = "{{date}}" }}
records = "/records"
no_data = {{ body_contains = ["not yet published"] }}
dataset = "nbacom/injury_report"

[calendars.games]
dataset = "nbacom/schedule"
events = "$.leagueSchedule.gameDates[*].games[*]"
id = "gameId"
start = "gameDateTimeUTC"
refresh = {{ scraper = "schedule", max_age = "6h" }}

[workflows.morning]
scrapers = ["schedule"]
schedule = {{ kind = "window", start = "06:00", end = "10:00" }}

[workflows.post_game]
scrapers = ["pbp"]
schedule = {{ kind = "at", at = "01:00", tolerance = "30m", target_date = "yesterday", calendar = "games", only_missing = true }}

[workflows.injury_discovery]
scrapers = ["injuries"]
schedule = {{ kind = "discovery", start = "09:00", end = "21:00", every = "2h", max_attempts = 12, calendar = "games" }}
{extra}
"#
    )
}

struct Harness {
    clock: Arc<ManualClock>,
    engine: Arc<Engine>,
    scheduler: Scheduler,
    worker: Worker,
    decisions: Vec<RecordedDecision>,
    runs: Vec<RunOutcome>,
}

async fn harness(dir: &Path, toml: &str, start: DateTime<Utc>) -> Harness {
    let path = dir.join("rebound.toml");
    std::fs::write(&path, toml).expect("write config");
    let plan = rebound_config::load(&path, &|_| None).expect("config is valid");
    harness_for(dir, plan, start).await
}

/// A harness on an already loaded plan whose database is `dir/history.db`.
async fn harness_for(
    dir: &Path,
    plan: rebound_domain::plan::Plan,
    start: DateTime<Utc>,
) -> Harness {
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.join("history.db"))
            .await
            .expect("sqlite"),
    );
    harness_on(plan, store, start)
}

/// A harness on an already loaded plan and an open history.
fn harness_on(
    plan: rebound_domain::plan::Plan,
    store: Arc<dyn Store>,
    start: DateTime<Utc>,
) -> Harness {
    let plan = Arc::new(plan);
    let clock = Arc::new(ManualClock::new(start));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let raw = RawStore::open(&plan.pipeline.raw_store).expect("raw store");
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).expect("fetcher"));
    let engine = Arc::new(Engine::new(plan, store, raw, fetcher, dyn_clock.clone()));
    let wake = Arc::new(Notify::new());
    Harness {
        scheduler: Scheduler::new(
            engine.clone(),
            dyn_clock.clone(),
            "test:scheduler".into(),
            wake.clone(),
        ),
        worker: Worker::new(engine.clone(), dyn_clock, "test:worker".into(), wake),
        clock,
        engine,
        decisions: Vec::new(),
        runs: Vec::new(),
    }
}

impl Harness {
    /// Ticks and drains the queue, jumping the clock to each next check,
    /// until `until`.
    async fn run_until(&mut self, until: DateTime<Utc>) {
        for _ in 0..10_000 {
            let report = self.scheduler.tick().await.expect("tick");
            self.decisions.extend(report.decisions);
            while let Some(outcome) = self.worker.run_one().await.expect("worker") {
                self.runs.push(outcome);
            }
            let next = report.next_check.expect("scheduled workflows");
            if next >= until {
                let now = self.clock.now();
                if until > now {
                    self.clock.advance((until - now).to_std().expect("forward"));
                }
                return;
            }
            let now = self.clock.now();
            if next > now {
                self.clock.advance((next - now).to_std().expect("forward"));
            }
        }
        panic!("the scheduler did not reach {until} in 10,000 ticks");
    }

    fn runs_of(&self, workflow: &str) -> Vec<&RecordedDecision> {
        self.decisions
            .iter()
            .filter(|d| d.workflow == workflow && d.action == DecisionAction::Run)
            .collect()
    }
}

fn local(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    NY.from_local_datetime(&date.and_hms_opt(h, m, 0).expect("time"))
        .single()
        .expect("unambiguous")
        .with_timezone(&Utc)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).expect("date")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_makes_the_decisions_the_rules_call_for() {
    let sim = UpstreamSim::start().await.expect("sim");
    // The injury report is not published at the first two checks.
    let not_yet = Reply::text(200, "Injury report not yet published");
    sim.script("/nba/injury-report", vec![not_yet.clone(), not_yet]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = harness(dir.path(), &config(&sim.base_url(), ""), local(day(), 0, 0)).await;
    h.run_until(local(day() + chrono::Days::new(1), 0, 0)).await;

    // The calendar had no data: it was fetched first, with a decision saying so.
    let first = h.decisions.first().expect("decisions");
    assert_eq!(first.workflow, "calendar:games");
    assert_eq!(first.action, DecisionAction::Run);
    assert!(first.reason.contains("no data yet"), "{}", first.reason);

    // Morning: once, in its window, for today.
    let morning = h.runs_of("morning");
    assert_eq!(morning.len(), 1, "{morning:?}");
    assert_eq!(morning[0].target_date, day());

    // Post-game: once, from 01:00 (never early) to 30m late, for yesterday's
    // games, one call each.
    let yesterday = day().pred_opt().expect("date");
    let post = h.runs_of("post_game");
    assert_eq!(post.len(), 1, "{post:?}");
    assert_eq!(post[0].target_date, yesterday);
    let games = rebound_upstream_sim::fixtures::games_on(yesterday);
    assert_eq!(post[0].entities.len(), games.len());
    let post_run = h
        .runs
        .iter()
        .find(|r| r.workflow == "post_game")
        .expect("post-game ran");
    assert_eq!(post_run.status, "success");
    assert!(
        post_run.started_at >= local(day(), 1, 0) && post_run.started_at <= local(day(), 1, 30),
        "{post_run:?}"
    );
    let calls = h
        .engine
        .store()
        .scraper_calls_for_execution(&post_run.execution_id)
        .await
        .expect("calls");
    assert_eq!(calls.len(), games.len(), "one call per game");

    // Discovery: no_data twice, data on the third check, then it stops.
    let discovery = h.runs_of("injury_discovery");
    let slots: Vec<&str> = discovery.iter().map(|d| d.slot.as_str()).collect();
    assert_eq!(slots, ["09:00", "11:00", "13:00"]);
    assert!(h.decisions.iter().any(|d| d.workflow == "injury_discovery"
        && d.action == DecisionAction::Skip
        && d.reason.contains("data found")));

    // No slot ran twice.
    let mut seen = BTreeMap::new();
    for d in h
        .decisions
        .iter()
        .filter(|d| d.action == DecisionAction::Run)
    {
        *seen
            .entry((d.workflow.clone(), d.target_date, d.slot.clone()))
            .or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    sim.shutdown().await;
}

/// `only_missing` over two fanned-out scrapers: an event is collected
/// only when both have it. At 01:00 post_game collects every game's
/// play-by-play; before 02:00 one game's box score is collected by hand;
/// at 02:00 `both` (play-by-play and box scores) runs for every other
/// game, and the day before's games count for nothing on this date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_missing_counts_an_event_collected_when_every_fanned_scraper_has_it() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = r#"
[scrapers.box]
source = "nba"
path = "/pbp/{game_id}"
records = "/game/actions"
dataset = "nbacom/box"
for_each = { calendar = "games", param = "game_id" }

[workflows.both]
scrapers = ["pbp", "box"]
schedule = { kind = "at", at = "02:00", tolerance = "30m", target_date = "yesterday", calendar = "games", only_missing = true }
"#;
    let mut h = harness(
        dir.path(),
        &config(&sim.base_url(), extra),
        local(day(), 0, 0),
    )
    .await;
    let yesterday = day().pred_opt().expect("date");
    let games = rebound_upstream_sim::fixtures::games_on(yesterday);
    assert!(games.len() > 1);
    h.run_until(local(day(), 1, 45)).await;
    let post = h.runs_of("post_game");
    assert_eq!(post.len(), 1, "{post:?}");
    assert_eq!(post[0].entities.len(), games.len());
    let first = games[0].game_id();
    let params = BTreeMap::from([("game_id".to_string(), first.clone())]);
    let call = h
        .engine
        .run_scraper("box", yesterday, &params)
        .await
        .expect("box score");
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
    h.run_until(local(day(), 3, 0)).await;
    let both = h.runs_of("both");
    assert_eq!(both.len(), 1, "box scores missing: {:?}", h.decisions);
    assert_eq!(both[0].target_date, yesterday);
    assert_eq!(both[0].entities.len(), games.len() - 1, "{:?}", both[0]);
    assert!(!both[0].entities.contains(&first), "{:?}", both[0]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_scheduler_does_not_run_a_claimed_slot_again() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = config(&sim.base_url(), "");
    let mut h = harness(dir.path(), &toml, local(day(), 6, 5)).await;
    h.run_until(local(day(), 6, 10)).await;
    assert_eq!(h.runs_of("morning").len(), 1);

    // A fresh scheduler (a restart, or a second one) on the same database.
    let wake = Arc::new(Notify::new());
    let clock: Arc<dyn Clock> = h.clock.clone();
    let again = Scheduler::new(h.engine.clone(), clock, "test:other".into(), wake);
    let report = again.tick().await.expect("tick");
    let morning: Vec<_> = report
        .decisions
        .iter()
        .filter(|d| d.workflow == "morning")
        .collect();
    assert_eq!(morning.len(), 1);
    assert_eq!(morning[0].action, DecisionAction::Skip, "{morning:?}");
    assert!(
        h.worker.run_one().await.expect("worker").is_none(),
        "nothing queued"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_the_latest_missed_slot_runs_once_and_older_ones_are_skipped() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = r#"
[workflows.hourly]
scrapers = ["schedule"]
schedule = { kind = "cron", cron = "0 * * * *" }
"#;
    let mut h = harness(
        dir.path(),
        &config(&sim.base_url(), extra),
        local(day(), 0, 0),
    )
    .await;
    h.run_until(local(day(), 2, 1)).await;
    assert_eq!(h.runs_of("hourly").len(), 3, "00:00, 01:00, 02:00");

    // Down from 02:01 to 11:30: with catch_up 6h, 06:00–11:00 are within
    // reach; only the latest (11:00) runs, the rest are "missed while down".
    h.clock.advance(Duration::from_secs(9 * 3600 + 29 * 60));
    h.scheduler.reset();
    h.run_until(local(day(), 11, 40)).await;
    let runs: Vec<&str> = h
        .runs_of("hourly")
        .iter()
        .map(|d| d.slot.as_str())
        .collect();
    assert_eq!(runs, ["00:00", "01:00", "02:00", "11:00"]);
    let missed = h
        .decisions
        .iter()
        .filter(|d| {
            d.workflow == "hourly"
                && d.action == DecisionAction::Skip
                && d.reason.contains("missed while down")
        })
        .count();
    let hourly: Vec<_> = h
        .decisions
        .iter()
        .filter(|d| d.workflow == "hourly")
        .map(|d| (d.slot.clone(), d.action, d.reason.clone()))
        .collect();
    assert_eq!(missed, 8, "03:00 to 10:00 recorded as missed: {hourly:#?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_worker_died_is_requeued_after_its_lease_and_done_once() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = harness(dir.path(), &config(&sim.base_url(), ""), local(day(), 6, 0)).await;
    // Decide without executing, then let a "worker" claim it and vanish.
    let report = h.scheduler.tick().await.expect("tick");
    h.decisions.extend(report.decisions);
    let store = h.engine.store().clone();
    let now = h.clock.now();
    let mut claimed = Vec::new();
    while let Some(run) = store
        .claim_run("dead:worker", now, Duration::from_secs(60))
        .await
        .expect("claim")
    {
        claimed.push(run);
    }
    assert!(claimed.iter().any(|r| r.workflow_name == "morning"));

    // Before the lease expires, nobody else may take it.
    h.clock.advance(Duration::from_secs(59));
    assert!(h.worker.run_one().await.expect("worker").is_none());
    // After it, the reaper requeues it and the live worker runs it.
    h.clock.advance(Duration::from_secs(2));
    let mut outcomes = Vec::new();
    while let Some(outcome) = h.worker.run_one().await.expect("worker") {
        outcomes.push(outcome);
    }
    let morning = outcomes
        .iter()
        .find(|o| o.workflow == "morning")
        .expect("rescued");
    assert_eq!(morning.status, "success");
    let rows = store.scheduled_runs(None, 100).await.expect("runs");
    let row = rows
        .iter()
        .find(|r| r.workflow_name == "morning")
        .expect("row");
    assert_eq!(row.state, "done");
    assert_eq!(row.claims, 2);
    let executions = store
        .executions_for_date("morning", day())
        .await
        .expect("executions");
    assert_eq!(executions.len(), 1, "done exactly once");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_after_is_stored_as_a_follow_up_run_not_slept() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/nba/limited",
        vec![Reply::status(429).header("Retry-After", "120")],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = r#"
[scrapers.limited]
source = "nba"
path = "/limited"

[workflows.throttled]
scrapers = ["limited"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
    // The default route for /nba/limited is a 404, so script the retry's answer too.
    sim.script(
        "/nba/limited",
        vec![Reply::json(200, serde_json::json!({"ok": true}))],
    );
    let start = local(day(), 6, 0);
    let h = harness(dir.path(), &config(&sim.base_url(), extra), start).await;
    h.scheduler.tick().await.expect("tick");
    let mut outcomes = Vec::new();
    while let Some(outcome) = h.worker.run_one().await.expect("worker") {
        outcomes.push(outcome);
    }
    let first = outcomes
        .iter()
        .find(|o| o.workflow == "throttled")
        .expect("ran");
    assert_eq!(first.status, "failed");
    let at = first.follow_up_at.expect("a follow-up was stored");
    assert_eq!(at, start + chrono::Duration::seconds(120));
    assert!(
        h.clock
            .sleeps()
            .iter()
            .all(|s| *s < Duration::from_secs(60)),
        "the 120 s wait was not slept: {:?}",
        h.clock.sleeps()
    );
    // Not before it is due…
    h.clock.advance(Duration::from_secs(100));
    assert!(h.worker.run_one().await.expect("worker").is_none());
    // …then it runs.
    h.clock.advance(Duration::from_secs(21));
    let follow = h
        .worker
        .run_one()
        .await
        .expect("worker")
        .expect("follow-up due");
    assert_eq!(follow.slot, "window+retry1");
    assert_eq!(follow.status, "success");
    assert_eq!(sim.request_count("/nba/limited"), 2);
    sim.shutdown().await;
}

/// The day's config without the morning workflow (which would refresh the
/// schedule itself at 06:00), with `refresh` replaced.
fn gate_config(base_url: &str, refresh: &str) -> String {
    config(base_url, "")
        .replace(
            r#"refresh = { scraper = "schedule", max_age = "6h" }"#,
            refresh,
        )
        .replace(
            "[workflows.morning]\nscrapers = [\"schedule\"]\nschedule = { kind = \"window\", start = \"06:00\", end = \"10:00\" }\n",
            "",
        )
}

fn calendar_refreshes(h: &Harness) -> Vec<(DateTime<Utc>, String)> {
    h.runs
        .iter()
        .filter(|r| r.workflow == "calendar:games")
        .map(|r| (r.started_at, r.status.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_older_than_max_age_is_refreshed_before_it_is_used() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = gate_config(
        &sim.base_url(),
        r#"refresh = { scraper = "schedule", max_age = "6h" }"#,
    );
    assert!(!toml.contains("[workflows.morning]"));
    let mut h = harness(dir.path(), &toml, local(day(), 0, 0)).await;
    h.run_until(local(day(), 9, 30)).await;
    // 00:00: no data yet; 01:00 (post-game): 1h old, fine; 09:00
    // (discovery): 9h old, so refreshed first.
    let refreshes = calendar_refreshes(&h);
    assert_eq!(refreshes.len(), 2, "{refreshes:?}");
    assert!(refreshes[1].0 >= local(day(), 9, 0) && refreshes[1].0 < local(day(), 9, 1));
    let stale = h
        .decisions
        .iter()
        .filter(|d| d.workflow == "calendar:games")
        .nth(1)
        .expect("second refresh decision");
    assert!(
        stale.reason.contains("is 9h old (max_age 6h)"),
        "{}",
        stale.reason
    );
    // The discovery run came after the refresh, not before.
    let discovery = h
        .runs
        .iter()
        .find(|r| r.workflow == "injury_discovery")
        .expect("discovery ran");
    assert!(discovery.started_at >= refreshes[1].0);
    // The refresh's completion events say the schedule started them, not
    // a person (they said `manual`: a refresh is a call outside a run).
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("history.db").display()
    ))
    .await
    .expect("open history");
    let triggers: Vec<(String,)> = sqlx::query_as(
        "SELECT json_extract(payload, '$.trigger') FROM completion_events \
         WHERE json_extract(payload, '$.scraper') = 'schedule' \
           AND json_extract(payload, '$.workflow') IS NULL",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(triggers.len(), 2, "one event per refresh call");
    assert!(triggers.iter().all(|t| t.0 == "schedule"), "{triggers:?}");
    sim.shutdown().await;
}

/// Durations the loader refuses (bounds in docs/resilience.md), set in the
/// plan directly: the scheduler's staleness check (`max_age`), its idle
/// wait (`max_idle`) and the leases of the worker and the engine's run row
/// (`lease`) compute with saturating arithmetic, so the morning runs as
/// under sane values instead of panicking on `DateTime + TimeDelta`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_beyond_any_date_in_the_plan_neither_panic_nor_stall_the_scheduler() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = gate_config(
        &sim.base_url(),
        r#"refresh = { scraper = "schedule", max_age = "6h" }"#,
    );
    let path = dir.path().join("rebound.toml");
    std::fs::write(&path, &toml).expect("write config");
    let mut plan = rebound_config::load(&path, &|_| None).expect("config is valid");
    plan.calendars
        .get_mut("games")
        .and_then(|c| c.refresh.as_mut())
        .expect("games has a refresh")
        .max_age = Duration::MAX;
    plan.scheduler.lease = Duration::MAX;
    plan.scheduler.max_idle = Duration::MAX;
    let mut h = harness_for(dir.path(), plan, local(day(), 0, 0)).await;
    h.run_until(local(day(), 9, 30)).await;
    // A calendar that can never be too old is fetched once, for having no
    // data; with max_age 6h it is fetched again at 09:00 (test above).
    let refreshes = calendar_refreshes(&h);
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert!(
        h.runs.iter().any(|r| r.workflow == "injury_discovery"),
        "discovery ran under a lease beyond any date: {:?}",
        h.runs
    );

    // The service's loop: every wait is to the next check, never "forever".
    let scheduler = Arc::new(Scheduler::new(
        h.engine.clone(),
        h.clock.clone(),
        "test:loop".into(),
        Arc::new(Notify::new()),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let before = h.clock.sleeps().len();
    let looping = tokio::spawn(scheduler.run_loop(stopped));
    let noon = local(day(), 12, 0);
    for _ in 0..500 {
        if h.clock.now() >= noon {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).expect("loop listening");
    looping.await.expect("the loop ends without panicking");
    assert!(
        h.clock.now() >= noon,
        "the loop reached noon on the manual clock"
    );
    let waits = h.clock.sleeps()[before..].to_vec();
    assert!(!waits.is_empty());
    assert!(
        waits.iter().all(|w| *w <= Duration::from_secs(24 * 3600)),
        "{waits:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staleness_override_holds_until_it_expires() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    // 48h is tolerated until 10:00 Eastern (15:00 UTC); then 6h applies again.
    let toml = gate_config(
        &sim.base_url(),
        r#"refresh = { scraper = "schedule", max_age = "6h", override_max_age = "48h", override_until = "2026-11-28T15:00:00Z" }"#,
    );
    let mut h = harness(dir.path(), &toml, local(day(), 0, 0)).await;
    h.run_until(local(day(), 11, 30)).await;
    let refreshes = calendar_refreshes(&h);
    assert_eq!(refreshes.len(), 2, "{refreshes:?}");
    // Not at 09:00 (override in force), but at 11:00 (expired).
    assert!(
        refreshes[1].0 >= local(day(), 11, 0) && refreshes[1].0 < local(day(), 11, 1),
        "{refreshes:?}"
    );
    let at_nine = h
        .runs
        .iter()
        .find(|r| r.workflow == "injury_discovery")
        .expect("discovery ran at 09:00");
    assert!(at_nine.started_at < local(day(), 9, 1));
    sim.shutdown().await;
}

/// Late data under `rebound serve`: a no_data before the deadline is not
/// a failure and stores a re-check as a follow-up run at now + recheck
/// (never after the deadline); data arriving succeeds; still nothing at
/// the deadline is overdue, a failure, and no further re-check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_data_is_rechecked_through_stored_follow_up_runs_until_the_deadline() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = r#"
[scrapers.late_daily]
source = "nba"
path = "/late-daily"
no_data = { status = [404] }
expected_by = "15:00"
recheck = "2h"

[scrapers.late_overdue]
source = "nba"
path = "/late-overdue"
no_data = { status = [404] }
expected_by = "09:00"
recheck = "2h"

[workflows.daily_late]
scrapers = ["late_daily"]
schedule = { kind = "window", start = "06:00", end = "10:00" }

[workflows.daily_overdue]
scrapers = ["late_overdue"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
    let start = local(day(), 6, 0);
    let h = harness(dir.path(), &config(&sim.base_url(), extra), start).await;
    let drain = || async {
        let mut out = Vec::new();
        while let Some(outcome) = h.worker.run_one().await.expect("worker") {
            out.push(outcome);
        }
        out
    };
    let find = |outcomes: &[RunOutcome], wf: &str| -> RunOutcome {
        outcomes
            .iter()
            .find(|o| o.workflow == wf)
            .unwrap_or_else(|| panic!("{wf} did not run: {outcomes:?}"))
            .clone()
    };
    h.scheduler.tick().await.expect("tick");
    let first = drain().await;
    let late = find(&first, "daily_late");
    assert_eq!(late.status, "no_data", "not_yet_available is not a failure");
    assert_eq!(late.recheck_at, Some(local(day(), 8, 0)));
    let queued = h
        .engine
        .store()
        .scheduled_runs(Some("queued"), 100)
        .await
        .expect("runs");
    let stored = queued
        .iter()
        .find(|r| r.workflow_name == "daily_late")
        .expect("a re-check run is stored");
    assert_eq!(stored.slot, "window+recheck1");
    assert_eq!(stored.run_at, local(day(), 8, 0));
    assert_eq!(
        find(&first, "daily_overdue").recheck_at,
        Some(local(day(), 8, 0))
    );

    // Not due before 08:00.
    h.clock.advance(Duration::from_secs(3600));
    assert!(drain().await.iter().all(|o| !o.slot.contains("recheck")));

    // 08:00: the daily data has arrived; the other is still missing and
    // is re-checked at its 09:00 deadline, not at 10:00.
    h.clock.advance(Duration::from_secs(3600));
    sim.script(
        "/nba/late-daily",
        vec![Reply::json(200, serde_json::json!({"ok": true}))],
    );
    let second = drain().await;
    let late = find(&second, "daily_late");
    assert_eq!(
        (late.slot.as_str(), late.status.as_str()),
        ("window+recheck1", "success")
    );
    assert_eq!(late.recheck_at, None);
    let overdue = find(&second, "daily_overdue");
    assert_eq!(overdue.status, "no_data");
    assert_eq!(overdue.recheck_at, Some(local(day(), 9, 0)));

    // 09:00: still nothing at the deadline → overdue, a failure, no re-check.
    h.clock.advance(Duration::from_secs(3600));
    let third = drain().await;
    let overdue = find(&third, "daily_overdue");
    assert_eq!(overdue.slot, "window+recheck2");
    assert_eq!(overdue.status, "failed");
    assert_eq!(overdue.recheck_at, None);
    let calls = h
        .engine
        .store()
        .scraper_calls_for_execution(&overdue.execution_id)
        .await
        .expect("calls");
    assert_eq!(calls[0].status, "overdue");
    let message = calls[0].error_message.as_deref().unwrap_or("");
    assert!(
        message.starts_with(
            "overdue: expected by 2026-11-28 09:00 EST (the deadline); still no data at 2026-11-28 09:00 EST"
        ),
        "{message}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_start_says_why_on_its_row() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let h = unstartable_harness(dir.path(), &sim.base_url(), local(day(), 6, 0)).await;
    h.scheduler.tick().await.expect("tick");
    let mut outcomes = Vec::new();
    while let Some(outcome) = h.worker.run_one().await.expect("worker") {
        outcomes.push(outcome);
    }
    let rosters = outcomes
        .iter()
        .find(|o| o.workflow == "rosters")
        .expect("ran");
    assert_eq!(rosters.status, "failed");
    let rows = h
        .engine
        .store()
        .scheduled_runs(None, 100)
        .await
        .expect("runs");
    let row = rows
        .iter()
        .find(|r| r.workflow_name == "rosters")
        .expect("row");
    assert_eq!(row.state, "done");
    assert_eq!(row.result_status.as_deref(), Some("failed"));
    let note = row.last_error.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("run could not start: ") && note.contains("team"),
        "{note}"
    );
    // A run that went well keeps no error.
    let morning = rows
        .iter()
        .find(|r| r.workflow_name == "morning")
        .expect("row");
    assert_eq!(morning.last_error, None);
    sim.shutdown().await;
}

/// A scheduled run fills the slot parameters from its slot: the time in
/// the slot's name (`17:00`, and its retries), or the local time a
/// `window` slot was due. The hourly injury report's URL carries them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_supply_their_slots_local_time() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!(
        r#"
[sources.echo]
base_url = "{}/echo"

[scrapers.report]
source = "echo"
path = "/report_{{date}}_{{slot_hour12}}{{slot_ampm}}_{{slot_hour}}{{slot_minute}}"

[scrapers.window_report]
source = "echo"
path = "/window_{{slot_hour12}}{{slot_minute}}{{slot_ampm}}"

[workflows.evening_report]
scrapers = ["report"]
schedule = {{ kind = "at", at = "17:00" }}

[workflows.morning_report]
scrapers = ["window_report"]
schedule = {{ kind = "window", start = "07:30", end = "10:00" }}
"#,
        sim.base_url()
    );
    let mut h = harness(
        dir.path(),
        &config(&sim.base_url(), &extra),
        local(day(), 5, 0),
    )
    .await;
    h.run_until(local(day(), 18, 0)).await;
    let mut sent: Vec<String> = sim
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with("/echo/"))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        vec!["/echo/report_2026-11-28_05PM_1700", "/echo/window_0730AM",]
    );
    sim.shutdown().await;
}
