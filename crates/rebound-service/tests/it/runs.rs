//! Runs the scheduler could not start or lost are run rows like any other
//! (failed, with a run-level kind and the reason), seen by `health` and
//! the `workflow_failed` alert; a rescued or follow-up run makes only the
//! calls its execution has not completed.

use super::{config, day, harness, harness_on, local, unstartable_harness};
use rebound_alerts::evaluate::Evaluator;
use rebound_alerts::service::ReportSource;
use rebound_domain::clock::Clock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_service::alerts::EngineReports;
use rebound_storage::{NewScraperCall, WorkflowExecutionRow};
use rebound_storage_postgres::PostgresStore;
use rebound_testkit::tcp_relay::TcpRelay;
use rebound_upstream_sim::{FaultAction, FaultFuture, FaultHook, FaultRequest, Reply, UpstreamSim};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

async fn execution_of(
    store: &dyn rebound_storage::Store,
    workflow: &str,
) -> Vec<WorkflowExecutionRow> {
    store
        .executions_for_date(workflow, day())
        .await
        .expect("executions")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_the_engine_refuses_is_a_failed_run_of_kind_config_in_health_and_alerts() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let h = unstartable_harness(dir.path(), &sim.base_url(), local(day(), 6, 0)).await;
    h.scheduler.tick().await.expect("tick");
    while h.worker.run_one().await.expect("worker").is_some() {}

    let store = h.engine.store().clone();
    let runs = execution_of(store.as_ref(), "rosters").await;
    assert_eq!(runs.len(), 1, "the refused run is a run row: {runs:#?}");
    let run = &runs[0];
    assert_eq!(run.status, "failed");
    assert_eq!(run.error_kind.as_deref(), Some("config"));
    let message = run.error_message.as_deref().unwrap_or_default();
    assert!(message.contains("{team}"), "{message}");
    let queued = store.scheduled_runs(None, 100).await.expect("runs");
    let slot = queued
        .iter()
        .find(|r| r.workflow_name == "rosters")
        .expect("slot");
    assert_eq!(run.execution_id, slot.execution_id, "the slot's execution");

    // `health` sees a failing workflow, not HEALTHY.
    let reports = EngineReports {
        engine: h.engine.clone(),
        prober: None,
    };
    let report = reports.report(h.clock.now()).await.expect("report");
    let rosters = report
        .workflows
        .iter()
        .find(|w| w.name == "rosters")
        .expect("listed");
    assert_eq!(rosters.last_status.as_deref(), Some("failed"));
    assert_eq!(rosters.consecutive_failed, 1);
    assert_ne!(rosters.level, rebound_health::Level::Ok, "{rosters:#?}");

    // And the alert evaluator opens workflow_failed for it like for any
    // failed run (after one failure here, to need a single run).
    let mut settings = h.engine.plan().alerts.clone();
    settings.conditions.workflow_failed_after = Some(1);
    let evaluator = Evaluator::new(
        store.clone(),
        settings,
        "day",
        h.engine.plan().pipeline.timezone,
        h.engine.plan().redactor.clone(),
    );
    evaluator.evaluate(&report).await.expect("evaluate");
    let open = store.open_alert_incidents().await.expect("incidents");
    assert!(
        open.iter()
            .any(|i| i.condition == "workflow_failed" && i.subject == "rosters"),
        "{open:#?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_run_is_a_failed_run_of_kind_internal() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let h = harness(dir.path(), &config(&sim.base_url(), ""), local(day(), 6, 0)).await;
    h.scheduler.tick().await.expect("tick");
    let store = h.engine.store().clone();
    // Three workers claim it in turn and die without a word.
    for n in 0..3 {
        let now = h.clock.now();
        let mut took_morning = false;
        while let Some(run) = store
            .claim_run(&format!("dead:{n}"), now, Duration::from_secs(60))
            .await
            .expect("claim")
        {
            took_morning |= run.workflow_name == "morning";
        }
        assert!(took_morning, "claim {n}");
        h.clock.advance(Duration::from_secs(61));
        h.scheduler.tick().await.expect("tick reaps");
    }
    let slot = store
        .scheduled_runs(Some("abandoned"), 100)
        .await
        .expect("runs")
        .into_iter()
        .find(|r| r.workflow_name == "morning")
        .expect("abandoned after 3 claims");
    let runs = execution_of(store.as_ref(), "morning").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].execution_id, slot.execution_id);
    assert_eq!(runs[0].status, "failed");
    assert_eq!(runs[0].error_kind.as_deref(), Some("internal"));
    let message = runs[0].error_message.as_deref().unwrap_or_default();
    assert!(
        message.contains("lease expired") && message.contains("abandoned after 3 claims"),
        "{message}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescued_run_makes_only_the_calls_its_dead_worker_did_not_finish() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/nba/first",
        vec![Reply::json(200, serde_json::json!({"a": 1}))],
    );
    sim.script(
        "/nba/second",
        vec![Reply::json(200, serde_json::json!({"b": 2}))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = r#"
[scrapers.first]
source = "nba"
path = "/first"

[scrapers.second]
source = "nba"
path = "/second"

[workflows.pair]
steps = [{ scrapers = ["first"] }, { scrapers = ["second"], after = ["first"] }]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
    let h = harness(
        dir.path(),
        &config(&sim.base_url(), extra),
        local(day(), 6, 0),
    )
    .await;
    h.scheduler.tick().await.expect("tick");
    let store = h.engine.store().clone();
    let now = h.clock.now();
    let mut pair = None;
    while let Some(run) = store
        .claim_run("dead:worker", now, Duration::from_secs(60))
        .await
        .expect("claim")
    {
        if run.workflow_name == "pair" {
            pair = Some(run);
        }
    }
    let pair = pair.expect("pair claimed");
    // The dead worker had finished `first` (its row is in the execution)
    // and died during `second`, which left nothing.
    store
        .record_scraper_call(&NewScraperCall {
            etag: None,
            last_modified: None,
            outputs: Vec::new(),
            execution_id: Some(pair.execution_id.clone()),
            workflow_name: Some("pair".into()),
            scraper_name: "first".into(),
            source_name: "nba".into(),
            params: "{}".into(),
            target_date: day(),
            status: ScraperStatus::Success,
            attempts: 1,
            http_status: Some(200),
            error_kind: None::<ErrorKind>,
            error_message: None,
            started_at: now,
            finished_at: now,
            duration_ms: 5,
            bytes: Some(7),
            output_uri: Some("file:///raw/first.json".into()),
            content_hash: Some("f".repeat(64)),
            unchanged: false,
            pages: None,
            record_count: None,
            attempt_rows: Vec::new(),
        })
        .await
        .expect("the dead worker's call");

    h.clock.advance(Duration::from_secs(61));
    let mut outcomes = Vec::new();
    while let Some(outcome) = h.worker.run_one().await.expect("worker") {
        outcomes.push(outcome);
    }
    let rescued = outcomes
        .iter()
        .find(|o| o.workflow == "pair")
        .expect("rescued");
    assert_eq!(rescued.status, "success");
    let calls = store
        .scraper_calls_for_execution(&pair.execution_id)
        .await
        .expect("calls");
    assert_eq!(calls.len(), 2, "one row per scraper: {calls:#?}");
    assert_eq!(
        sim.request_count("/nba/first"),
        0,
        "first was not fetched again"
    );
    assert_eq!(sim.request_count("/nba/second"), 1);
    let runs = execution_of(store.as_ref(), "pair").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].scrapers_requested, 2);
    assert_eq!(runs[0].scrapers_succeeded, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_run_makes_only_the_deferred_call_and_finishes_the_same_run() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/nba/steady",
        vec![Reply::json(200, serde_json::json!({"ok": 1}))],
    );
    sim.script(
        "/nba/limited",
        vec![
            Reply::status(429).header("Retry-After", "120"),
            Reply::json(200, serde_json::json!({"ok": 2})),
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // `limited` has a source of its own: a Retry-After pauses its whole
    // source, so on a shared one `steady` was deferred too whenever the
    // 429 was recorded before `steady` was admitted (the two calls run
    // side by side), and the run came out failed instead of partial.
    // Listing `limited` first makes that order the likely one.
    let extra = format!(
        r#"
[sources.nba_limited]
base_url = "{base}/nba"
timeout = "5s"

[scrapers.steady]
source = "nba"
path = "/steady"

[scrapers.limited]
source = "nba_limited"
path = "/limited"

[workflows.throttled]
scrapers = ["limited", "steady"]
schedule = {{ kind = "window", start = "06:00", end = "10:00" }}
"#,
        base = sim.base_url()
    );
    let start = local(day(), 6, 0);
    let h = harness(dir.path(), &config(&sim.base_url(), &extra), start).await;
    h.scheduler.tick().await.expect("tick");
    let mut outcomes = Vec::new();
    while let Some(outcome) = h.worker.run_one().await.expect("worker") {
        outcomes.push(outcome);
    }
    let first = outcomes
        .iter()
        .find(|o| o.workflow == "throttled")
        .expect("ran");
    assert_eq!(first.status, "partial");
    assert!(first.follow_up_at.is_some(), "a follow-up was stored");

    h.clock.advance(Duration::from_secs(121));
    let follow = h
        .worker
        .run_one()
        .await
        .expect("worker")
        .expect("follow-up due");
    assert_eq!(follow.slot, "window+retry1");
    assert_eq!(follow.status, "success");
    assert_eq!(
        follow.execution_id, first.execution_id,
        "the same execution"
    );
    assert_eq!(
        sim.request_count("/nba/steady"),
        1,
        "steady was not fetched again"
    );
    assert_eq!(sim.request_count("/nba/limited"), 2);
    let store = h.engine.store().clone();
    let runs = execution_of(store.as_ref(), "throttled").await;
    assert_eq!(runs.len(), 1, "one run row: {runs:#?}");
    assert_eq!(runs[0].status, "success");
    assert_eq!(runs[0].scrapers_requested, 2, "each call counted once");
    assert_eq!(runs[0].scrapers_succeeded, 2);
    sim.shutdown().await;
}

/// A clock that panics the first time it is read once armed. Given to the
/// engine only, it stands in for any bug that panics inside a run; the
/// worker and scheduler keep their own, sound clock.
struct PanickingClock {
    inner: std::sync::Arc<rebound_domain::clock::ManualClock>,
    armed: std::sync::atomic::AtomicBool,
}

impl Clock for PanickingClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            panic!("engine clock exploded");
        }
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> rebound_domain::clock::SleepFuture {
        self.inner.sleep(duration)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_panics_is_a_failed_run_of_kind_internal_and_the_worker_carries_on() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rebound.toml");
    // One window workflow and no calendar, so the only run is the one that
    // panics (a calendar refresh would be claimed first).
    let toml = format!(
        r#"
[pipeline]
name = "day"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[sources.nba]
base_url = "{}/nba"

[scrapers.schedule]
source = "nba"
path = "/schedule"

[workflows.morning]
scrapers = ["schedule"]
schedule = {{ kind = "window", start = "06:00", end = "10:00" }}
"#,
        sim.base_url()
    );
    std::fs::write(&path, toml).expect("write config");
    let plan = Arc::new(rebound_config::load(&path, &|_| None).expect("config is valid"));
    let clock = Arc::new(rebound_domain::clock::ManualClock::new(local(day(), 6, 0)));
    let sound: Arc<dyn Clock> = clock.clone();
    let engine_clock = Arc::new(PanickingClock {
        inner: clock.clone(),
        armed: AtomicBool::new(false),
    });
    let store: Arc<dyn rebound_storage::Store> = Arc::new(
        rebound_storage_sqlite::SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let raw = rebound_raw::RawStore::open(&plan.pipeline.raw_store).expect("raw store");
    let fetcher = Arc::new(rebound_fetch::Fetcher::new(&plan, sound.clone()).expect("fetcher"));
    let engine = Arc::new(rebound_engine::Engine::new(
        plan,
        store.clone(),
        raw,
        fetcher,
        engine_clock.clone(),
    ));
    let wake = Arc::new(tokio::sync::Notify::new());
    let scheduler = rebound_service::scheduler::Scheduler::new(
        engine.clone(),
        sound.clone(),
        "test:scheduler".into(),
        wake.clone(),
    );
    let worker = rebound_service::worker::Worker::new(engine, sound, "test:worker".into(), wake);

    // Queue the morning window's run, then let the engine panic in it.
    scheduler.tick().await.expect("tick");
    let queued = store.scheduled_runs(None, 100).await.expect("runs");
    let morning = queued
        .iter()
        .find(|r| r.workflow_name == "morning")
        .expect("the morning slot is queued");
    let morning_execution = morning.execution_id.clone();
    engine_clock.armed.store(true, Ordering::SeqCst);
    let mut ran = 0;
    while worker
        .run_one()
        .await
        .expect("the worker survives the panic")
        .is_some()
    {
        ran += 1;
    }
    assert!(
        !engine_clock.armed.load(Ordering::SeqCst),
        "the engine read its clock, so the run panicked"
    );
    assert_eq!(ran, 1);

    let runs = execution_of(store.as_ref(), "morning").await;
    let failed: Vec<_> = runs
        .iter()
        .filter(|r| r.execution_id == morning_execution)
        .collect();
    assert_eq!(failed.len(), 1, "{runs:#?}");
    assert_eq!(failed[0].status, "failed");
    assert_eq!(failed[0].error_kind.as_deref(), Some("internal"));
    let message = failed[0].error_message.as_deref().unwrap_or_default();
    assert!(
        message.contains("run panicked: engine clock exploded"),
        "{message}"
    );
}

/// Answers `path` with a small document, and cuts the history's
/// connections the first time it is asked, `after` the request came: the
/// run's call is answered while the database is away. (Scripted replies
/// bypass a fault hook.)
struct CutOnRequest {
    path: &'static str,
    after: Duration,
    relay: Arc<TcpRelay>,
    done: AtomicBool,
}

impl FaultHook for CutOnRequest {
    fn decide(&self, request: &FaultRequest) -> FaultFuture {
        if request.path != self.path {
            return Box::pin(async { FaultAction::Pass });
        }
        let cut = !self.done.swap(true, Ordering::SeqCst);
        let (relay, after) = (self.relay.clone(), self.after);
        Box::pin(async move {
            if cut {
                tokio::time::sleep(after).await;
                // The first connection made after the cut is hung up on;
                // the outage ends there.
                relay.cut(1);
            }
            FaultAction::Reply(Reply::json(200, serde_json::json!({"a": 1})))
        })
    }
}

/// A database outage between a run's call and its record is not the run's
/// failure: the worker leaves the run to its lease, and the run made again
/// once the lease runs out records its call. It used to record the run as
/// `failed` ("run could not start: database unavailable"), finish its slot
/// and orphan the payload it had stored, when the outage was over by the
/// time it wrote that failure. The cut comes a while after the request, so
/// the lookups made beside the request are done and the record is what
/// meets the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_while_a_run_records_its_call_leaves_the_run_to_its_lease() {
    outage_during_a_call(Duration::from_millis(300)).await;
}

/// The same outage as soon as the request arrives: it meets the lookup of
/// the previous payload, made while the request is in flight, or the
/// record, whichever comes first. The lookup's failure was taken for a
/// storage failure of the call, and the run ended `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_while_a_call_is_in_flight_leaves_the_run_to_its_lease() {
    outage_during_a_call(Duration::ZERO).await;
}

async fn outage_during_a_call(after: Duration) {
    let sim = UpstreamSim::start().await.expect("sim");
    let extra = r#"
[scrapers.only]
source = "nba"
path = "/only"

[workflows.solo]
scrapers = ["only"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
    let calls = through_an_outage(&sim, extra, "solo", |relay| {
        Arc::new(CutOnRequest {
            path: "/nba/only",
            after,
            relay,
            done: AtomicBool::new(false),
        })
    })
    .await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(
        sim.request_count("/nba/only"),
        3,
        "the call whose record was lost is made again (then once more by hand)"
    );
    sim.shutdown().await;
}

/// Runs `workflow` (one window slot, defined by `extra`) on PostgreSQL
/// behind a relay that `hook` cuts during the run; checks the worker left
/// the run to its lease with no failed row, then lets the lease run out and
/// checks the run made again succeeds. Returns that run's calls.
async fn through_an_outage(
    sim: &UpstreamSim,
    extra: &str,
    workflow: &str,
    hook: impl FnOnce(Arc<TcpRelay>) -> Arc<dyn FaultHook>,
) -> Vec<rebound_storage::ScraperCallRow> {
    let server = super::dashboard::pg_url();
    let mut url = reqwest::Url::parse(&server).expect("the PostgreSQL URL");
    let target = tokio::net::lookup_host((
        url.host_str().expect("a host").to_string(),
        url.port().unwrap_or(5432),
    ))
    .await
    .expect("the server's address")
    .next()
    .expect("an address");
    let relay = Arc::new(TcpRelay::start(target).await);
    url.set_port(Some(relay.addr().port())).expect("a port");
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect_with_schema(url.as_str(), &schema)
        .await
        .expect("PostgreSQL must be running for this test: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start");
    let pool = store.pool().clone();

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rebound.toml");
    std::fs::write(&path, config(&sim.base_url(), extra)).expect("write config");
    let plan = rebound_config::load(&path, &|_| None).expect("config is valid");
    let h = harness_on(plan, Arc::new(store), local(day(), 6, 0));
    sim.set_fault_hook(Some(hook(relay.clone())));

    h.scheduler.tick().await.expect("tick");
    let drain = || async {
        let mut errors = Vec::new();
        loop {
            match h.worker.run_one().await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => errors.push(error.to_string()),
            }
        }
        errors
    };
    let errors = drain().await;
    assert_eq!(relay.hung_up(), 1, "the outage happened");
    assert!(
        errors.iter().any(|e| e.contains("database unavailable")),
        "the worker says the database was away: {errors:?}"
    );
    let store = h.engine.store().clone();
    let failed: Vec<_> = execution_of(store.as_ref(), workflow)
        .await
        .into_iter()
        .filter(|run| run.status == "failed")
        .collect();
    assert!(failed.is_empty(), "no failed run row: {failed:#?}");

    // The lease runs out; the run is made again and records its calls.
    h.clock.advance(Duration::from_secs(61));
    h.scheduler.tick().await.expect("tick reaps");
    assert!(drain().await.is_empty(), "the database is back");
    let runs = execution_of(store.as_ref(), workflow).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, "success", "{runs:#?}");
    let calls = store
        .scraper_calls_for_execution(&runs[0].execution_id)
        .await
        .expect("calls");

    // A payload stored for a call whose row was lost is deleted once it
    // has settled and no row points at it; the next recorded call (a run
    // by hand, ten minutes on) makes that check. It used to stay in the
    // raw store for good, with no row for retention to purge it by.
    h.clock.advance(Duration::from_secs(11 * 60));
    h.engine
        .run_workflow_with(
            workflow,
            day(),
            &std::collections::BTreeMap::new(),
            &rebound_engine::RunOptions::default(),
        )
        .await
        .expect("a run by hand");
    let referenced: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT output_uri FROM scraper_execution_log WHERE output_uri IS NOT NULL \
         UNION SELECT uri FROM call_outputs",
    )
    .fetch_all(&pool)
    .await
    .expect("the payloads rows point at");
    let mut files = Vec::new();
    let mut folders = vec![dir.path().join("raw")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("raw folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert_eq!(
        files.len(),
        referenced.len(),
        "every payload in the raw store has a row: {files:#?} against {referenced:#?}"
    );

    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await;
    calls
}

/// Answers a paginated route: page 1 (no `cursor`) with a record and a
/// cursor, after cutting the history's connections, so the guard of page 2
/// (its breaker read) meets the outage; page 2 with the last record.
struct CutAfterPageOne {
    relay: Arc<TcpRelay>,
    done: AtomicBool,
}

impl FaultHook for CutAfterPageOne {
    fn decide(&self, request: &FaultRequest) -> FaultFuture {
        if request.path != "/nba/pages" {
            return Box::pin(async { FaultAction::Pass });
        }
        let page_two = request
            .query
            .as_deref()
            .is_some_and(|q| q.contains("cursor="));
        if page_two {
            return Box::pin(async {
                FaultAction::Reply(Reply::json(
                    200,
                    serde_json::json!({"data": [2], "meta": {"next_cursor": null}}),
                ))
            });
        }
        let cut = !self.done.swap(true, Ordering::SeqCst);
        let relay = self.relay.clone();
        Box::pin(async move {
            if cut {
                // After the lookups made beside the request are done: the
                // next to meet the outage is page 2's guard.
                tokio::time::sleep(Duration::from_millis(300)).await;
                relay.cut(1);
            }
            FaultAction::Reply(Reply::json(
                200,
                serde_json::json!({"data": [1], "meta": {"next_cursor": "c2"}}),
            ))
        })
    }
}

/// Before: a database outage met by a later page's guard (the breaker or
/// quota read before page 2) ended the call as a `storage` failure, and
/// the run `failed` for an outage of seconds. Now the run is left to its
/// lease, as for an outage met by the call's record, and made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_between_pages_leaves_the_run_to_its_lease() {
    let sim = UpstreamSim::start().await.expect("sim");
    let extra = r#"
[scrapers.pages]
source = "nba"
path = "/pages"
records = "/data"
paginate = { kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }

[workflows.paged]
scrapers = ["pages"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
    let calls = through_an_outage(&sim, extra, "paged", |relay| {
        Arc::new(CutAfterPageOne {
            relay,
            done: AtomicBool::new(false),
        })
    })
    .await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].pages, Some(2), "both pages this time: {calls:#?}");
    sim.shutdown().await;
}
