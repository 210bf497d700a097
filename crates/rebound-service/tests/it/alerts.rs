//! Alerts end to end: the engine scrapes the simulated upstream over
//! loopback on a manual clock, the alert evaluator reads real health
//! reports (`rebound_health::build_report`, through the service's
//! `EngineReports`) after each simulated tick, and the deliverer posts to a
//! webhook receiver on a loopback port.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use rebound_alerts::deliver::Deliverer;
use rebound_alerts::evaluate::Evaluator;
use rebound_alerts::service::ReportSource;
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_fetch::sink::SinkClient;
use rebound_raw::RawStore;
use rebound_service::alerts::EngineReports;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::configs::two_source_pipeline;
use rebound_testkit::webhook::{self, Receiver};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

/// A webhook receiver on a loopback port: its URL and what it got.
async fn receiver() -> (String, Receiver) {
    let sink = webhook::start().await;
    (format!("{}/hook", sink.url), sink)
}

fn config(sim: &str, hook: &str, extra: &str) -> String {
    format!(
        r#"{}
[alerts.sinks.hook]
kind = "webhook"
url = "{hook}"
{extra}
"#,
        two_source_pipeline(sim)
    )
}

struct Rig {
    clock: Arc<ManualClock>,
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    reports: EngineReports,
    evaluator: Evaluator,
    deliverer: Deliverer,
}

async fn rig(dir: &Path, toml: &str, start: DateTime<Utc>) -> Rig {
    let path = dir.join("rebound.toml");
    std::fs::write(&path, toml).unwrap();
    let plan = Arc::new(rebound_config::load(&path, &|_| None).expect("valid config"));
    let clock = Arc::new(ManualClock::new(start));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("history.db")).await.unwrap());
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).unwrap());
    let engine = Arc::new(Engine::new(
        plan.clone(),
        store.clone(),
        raw,
        fetcher,
        dyn_clock.clone(),
    ));
    Rig {
        reports: EngineReports {
            engine: engine.clone(),
            prober: None,
        },
        evaluator: Evaluator::new(
            store.clone(),
            plan.alerts.clone(),
            "nba",
            plan.pipeline.timezone,
            plan.redactor.clone(),
        ),
        deliverer: Deliverer::new(
            store.clone(),
            plan.alerts.sinks.clone(),
            dyn_clock,
            plan.redactor.clone(),
            Arc::new(SinkClient::new().expect("sink client")),
        ),
        clock,
        engine,
        store,
    }
}

impl Rig {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn local_date(&self) -> NaiveDate {
        self.now().with_timezone(&NY).date_naive()
    }

    async fn run(&self, workflow: &str) {
        self.engine
            .run_workflow(workflow, self.local_date(), &BTreeMap::new())
            .await
            .expect("run recorded");
    }

    /// Evaluates the alerts on a real report and delivers what is due.
    async fn alerts(&self) {
        let report = self.reports.report(self.now()).await.expect("report");
        self.evaluator.evaluate(&report).await.expect("evaluate");
        self.deliverer.deliver_due().await.expect("deliver");
    }

    fn advance(&self, d: TimeDelta) {
        self.clock.advance(d.to_std().unwrap());
    }
}

fn local(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    NY.from_local_datetime(&date.and_hms_opt(h, m, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn events(inbox: &Receiver, condition: &str, subject: &str) -> Vec<(String, String)> {
    inbox
        .all()
        .iter()
        .filter(|b| b["condition"] == condition && b["subject"] == subject)
        .map(|b| {
            (
                b["event"].as_str().unwrap().to_string(),
                b["opened_at"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_day_outage_of_one_source_opens_once_and_recovers_once_while_the_others_stay_quiet()
{
    let sim = UpstreamSim::start().await.unwrap();
    let (hook, inbox) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[datasets."nbacom/injury_report"]
fresh_warn = "26h"
fresh_error = "50h"
"#;
    let start = local(NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(), 8, 0);
    let rig = rig(dir.path(), &config(&sim.base_url(), &hook, extra), start).await;
    let tick = TimeDelta::minutes(30);

    // Half a day of health first: nothing to say.
    for _ in 0..24 {
        rig.run("injuries").await;
        rig.run("games").await;
        rig.alerts().await;
        rig.advance(tick);
    }
    assert!(inbox.all().is_empty(), "{:#?}", inbox.all());

    // NBA.com answers 503 to everything for five days.
    let outage_start = rig.now();
    sim.script(
        rebound_upstream_sim::paths::NBA_INJURY_REPORT,
        vec![Reply::status(503); 10_000],
    );
    while rig.now() < outage_start + TimeDelta::days(5) {
        rig.run("injuries").await;
        rig.run("games").await;
        rig.alerts().await;
        rig.advance(tick);
    }
    sim.clear_script(rebound_upstream_sim::paths::NBA_INJURY_REPORT);
    let recovery = rig.now();
    for _ in 0..48 {
        rig.run("injuries").await;
        rig.run("games").await;
        rig.alerts().await;
        rig.advance(tick);
    }

    let source = events(&inbox, "source_unhealthy", "nbacom");
    let opened: Vec<_> = source.iter().filter(|e| e.0 == "opened").collect();
    let recovered: Vec<_> = source.iter().filter(|e| e.0 == "recovered").collect();
    assert_eq!(opened.len(), 1, "{source:#?}");
    assert_eq!(recovered.len(), 1, "{source:#?}");
    // Reminders at most every 6 hours in between: at most 20 in 5 days.
    let reminders = source.iter().filter(|e| e.0 == "renotify").count();
    assert!((15..=20).contains(&reminders), "{reminders} reminders");
    let body = inbox
        .all()
        .iter()
        .find(|b| b["condition"] == "source_unhealthy" && b["event"] == "recovered")
        .cloned()
        .unwrap();
    // Opened once the breaker had opened (5 failed calls, 30 minutes
    // apart) and the 15-minute grace had passed; resolved at the first
    // evaluation after the breaker's probe succeeded.
    let lasted = body["duration_seconds"].as_i64().unwrap();
    assert!(
        (5 * 86_400 - 4 * 3600..=5 * 86_400 + 3600).contains(&lasted),
        "lasted {lasted}s"
    );
    let expected = format!(
        "recovered after {}",
        rebound_alerts::format::duration(TimeDelta::seconds(lasted))
    );
    assert!(
        body["message"].as_str().unwrap().contains(&expected),
        "{body}"
    );
    let opened_at: DateTime<Utc> = body["opened_at"].as_str().unwrap().parse().unwrap();
    assert!(
        opened_at - outage_start <= TimeDelta::hours(4),
        "opened at {opened_at}"
    );
    let resolved_at: DateTime<Utc> = body["resolved_at"].as_str().unwrap().parse().unwrap();
    assert!(
        resolved_at - recovery <= TimeDelta::hours(1),
        "resolved at {resolved_at}"
    );

    // The dataset the outage starved went stale and the workflow failed
    // throughout, but both are caused by the source: stored with the cause,
    // their notices suppressed (one incident for one cause). The workflow's
    // third failed run came before the source's breaker had opened and its
    // grace passed, so its opening went out; from the source's opening on
    // it is grouped, and neither a reminder nor a recovery of its own
    // follows.
    assert!(events(&inbox, "dataset_stale", "nbacom/injury_report").is_empty());
    let workflow = events(&inbox, "workflow_failed", "injuries");
    assert!(
        workflow.len() <= 1 && workflow.iter().all(|e| e.0 == "opened"),
        "{workflow:#?}"
    );
    let incidents = rig
        .store
        .recent_alert_incidents(outage_start, 100)
        .await
        .unwrap();
    for (condition, subject) in [
        ("dataset_stale", "nbacom/injury_report"),
        ("workflow_failed", "injuries"),
    ] {
        let inc = incidents
            .iter()
            .find(|i| i.condition == condition && i.subject == subject)
            .unwrap_or_else(|| panic!("{condition} {subject}: {incidents:#?}"));
        assert_eq!(inc.caused_by.as_deref(), Some("source_unhealthy nbacom"));
        assert!(inc.resolved_at.is_some());
    }
    // The source's reminders name what it affects.
    let reminder = inbox
        .all()
        .iter()
        .rfind(|b| b["condition"] == "source_unhealthy" && b["event"] == "renotify")
        .cloned()
        .unwrap();
    assert!(
        reminder["message"]
            .as_str()
            .unwrap()
            .contains("also affected: workflow injuries; dataset nbacom/injury_report"),
        "{reminder}"
    );

    // The other source, its scraper, dataset and workflow never said a word.
    let inbox_all = inbox.all();
    for b in &inbox_all {
        let subject = b["subject"].as_str().unwrap();
        assert!(
            !["bdl", "bdl_games", "bdl/games", "games"].contains(&subject),
            "{b}"
        );
    }
    // Everything sent was delivered; the rest was suppressed because of
    // its cause; nothing is left open.
    let rows = rig.store.recent_alerts(1000).await.unwrap();
    let delivered = rows.iter().filter(|r| r.delivery_status == "delivered");
    assert_eq!(delivered.count(), inbox_all.len());
    for r in rows.iter().filter(|r| r.delivery_status != "delivered") {
        assert_eq!(r.delivery_status, "suppressed", "{r:?}");
        assert!(
            r.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("caused by source_unhealthy nbacom")),
            "{r:?}"
        );
    }
    assert!(rig.store.open_alert_incidents().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_data_raises_nothing_before_its_deadline_and_data_overdue_after() {
    let sim = UpstreamSim::start().await.unwrap();
    let (hook, inbox) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[sources.bdb]
base_url = "SIM/bdb"
timeout = "2s"

[scrapers.bdb_pbp]
source = "bdb"
path = "/pbp"
query = { date = "{date}" }
records = "/plays"
no_data = { body_contains = ["not published yet"] }
expected_by = "15:00"
recheck = "1h"
dataset = "bdb/pbp"

[workflows.bdb]
scrapers = ["bdb_pbp"]
"#
    .replace("SIM", &sim.base_url());
    let day = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let rig = rig(
        dir.path(),
        &config(&sim.base_url(), &hook, &extra),
        local(day, 6, 0),
    )
    .await;
    sim.script(
        rebound_upstream_sim::paths::BDB_PBP,
        vec![Reply::text(200, "Play-by-play not published yet"); 100],
    );
    // Hourly from 06:00 to 14:00: not yet available, and no alert.
    while rig.now() < local(day, 15, 0) {
        rig.run("bdb").await;
        rig.alerts().await;
        assert!(
            inbox.all().is_empty(),
            "at {}: {:#?}",
            rig.now(),
            inbox.all()
        );
        rig.advance(TimeDelta::hours(1));
    }
    let calls = rig.store.recent_alerts(10).await.unwrap();
    assert!(calls.is_empty());
    // From 15:00 the same answer is overdue: one data_overdue incident.
    for _ in 0..3 {
        rig.run("bdb").await;
        rig.alerts().await;
        rig.advance(TimeDelta::hours(1));
    }
    let overdue = events(&inbox, "data_overdue", "bdb_pbp");
    assert_eq!(overdue.len(), 1, "{:#?}", inbox.all());
    assert_eq!(overdue[0].0, "opened");
    let opened_at: DateTime<Utc> = overdue[0].1.parse().unwrap();
    assert_eq!(opened_at, local(day, 15, 0));
    let body = inbox.all()[0].clone();
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .starts_with("scraper bdb_pbp: data overdue"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_lockouts_and_completeness_each_open_their_incident_past_their_threshold() {
    let sim = UpstreamSim::start().await.unwrap();
    let (hook, inbox) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[sources.odds]
base_url = "SIM/bdl/v1"
timeout = "2s"
quota = { per = "day", requests = 10 }

[scrapers.odds_games]
source = "odds"
path = "/games"
query = { "dates[]" = "{date}" }
records = "/data"
dataset = "odds/games"

[scrapers.schedule]
source = "nbacom"
path = "/schedule"
query = { date = "{date}" }
records = "/leagueSchedule/gameDates"
dataset = "nbacom/schedule"

[calendars.games]
dataset = "nbacom/schedule"
events = "$.leagueSchedule.gameDates[*].games[*]"
id = "gameId"
start = "gameDateTimeUTC"

[scrapers.pbp]
source = "nbacom"
path = "/pbp/{game_id}"
records = "/game/actions"
dataset = "nbacom/pbp"
for_each = { calendar = "games", param = "game_id" }
lockout = { after = 1, for = "24h" }

[datasets."nbacom/pbp"]
complete_by = { after_event_start = "3h", severity = "critical" }

[workflows.odds]
scrapers = ["odds_games"]

[workflows.schedule]
scrapers = ["schedule"]

[workflows.post_game]
scrapers = ["pbp"]
"#
    .replace("SIM", &sim.base_url());
    let day = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let games = rebound_upstream_sim::fixtures::games_on(day);
    assert!(games.len() >= 4, "{} games", games.len());
    // A third of the games (at least 3) have no play-by-play: 404, locked out.
    let broken: Vec<String> = games
        .iter()
        .take(games.len().div_ceil(3).max(3))
        .map(|g| g.game_id())
        .collect();
    for id in &broken {
        sim.script(
            &rebound_upstream_sim::paths::nba_pbp(id),
            vec![Reply::status(404); 10],
        );
    }
    let rig = rig(
        dir.path(),
        &config(&sim.base_url(), &hook, &extra),
        local(day, 10, 0),
    )
    .await;
    rig.run("schedule").await;
    // Last night's games were all collected.
    rig.engine
        .run_workflow("post_game", day.pred_opt().unwrap(), &BTreeMap::new())
        .await
        .unwrap();
    // Before tonight's games (and their deadlines): nothing is missing yet, and
    // 7 of 10 quota requests are below 80%.
    for _ in 0..7 {
        rig.run("odds").await;
    }
    rig.alerts().await;
    assert!(inbox.all().is_empty(), "{:#?}", inbox.all());

    // Two more odds calls: 9 of 10 used.
    rig.run("odds").await;
    rig.run("odds").await;
    rig.alerts().await;
    let quota = events(&inbox, "quota_high", "odds");
    assert_eq!(quota.len(), 1, "{:#?}", inbox.all());

    // The next morning, past every deadline, the post-game run for last
    // night: the broken games fail and are locked out.
    rig.advance(local(day, 10, 0).signed_duration_since(rig.now()) + TimeDelta::hours(17));
    rig.engine
        .run_workflow("post_game", day, &BTreeMap::new())
        .await
        .unwrap();
    rig.alerts().await;
    let lockouts = events(&inbox, "lockouts_high", "pbp");
    assert_eq!(lockouts.len(), 1, "{:#?}", inbox.all());
    let shortfall = events(&inbox, "completeness_shortfall", "nbacom/pbp");
    assert_eq!(shortfall.len(), 1, "{:#?}", inbox.all());
    let body = inbox
        .all()
        .iter()
        .find(|b| b["condition"] == "completeness_shortfall")
        .cloned()
        .unwrap();
    assert_eq!(body["level"], "critical");
    let summary = body["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "dataset nbacom/pbp: {} of {} collected for {day} past the deadline",
            games.len() - broken.len(),
            games.len()
        )),
        "{summary}"
    );
    assert!(
        broken.iter().all(|id| summary.contains(id.as_str())),
        "{summary}"
    );
}
