//! Whole runs: simulated upstream over loopback HTTP → fetch → raw store
//! (a real folder) → history (a real SQLite file, and the real PostgreSQL
//! server). Retry waits go through a manual clock.

use chrono::{NaiveDate, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_domain::plan::Plan;
use rebound_engine::{Engine, EngineError};
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_postgres::PostgresStore;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

mod breakers;
mod derived;
mod documents;
mod encoding;
mod fanout;
mod fanout_counts;
mod handoff;
mod kept_transforms;
mod late_lockout;
mod liveness;
mod metrics;
mod pagination;
mod payloads;
mod quota;
mod shared_limits;

const SECRET: &str = "k_9f8e7d6c5b4a";

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "t"
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
query = {{ apiKey = "${{TEST_KEY}}" }}

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
records = "/records"

[scrapers.echo]
source = "up"
path = "/t/echo"

[workflows.lines]
steps = [
  {{ scrapers = ["events"] }},
  {{ scrapers = ["props"], after = ["events"] }},
  {{ scrapers = ["injuries"] }},
]

[workflows.single]
scrapers = ["injuries"]

[workflows.echoing]
scrapers = ["echo"]
"#
    )
}

struct Harness {
    sim: UpstreamSim,
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    engine: Engine,
    store: Arc<dyn Store>,
}

fn load(dir: &Path, base_url: &str) -> Plan {
    let path = dir.join("rebound.toml");
    let env = |name: &str| (name == "TEST_KEY").then(|| SECRET.to_string());
    rebound_config::load_str(&config(base_url), &path, &env).unwrap()
}

async fn harness_with(store: Option<Arc<dyn Store>>) -> Harness {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let plan = load(&dir, &sim.base_url());
    let store: Arc<dyn Store> = match store {
        Some(store) => store,
        None => Arc::new(SqliteStore::open(&dir.join("history.db")).await.unwrap()),
    };
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, clock);
    Harness {
        sim,
        _dir: tmp,
        dir,
        engine,
        store,
    }
}

/// An engine on `plan` with its history in `dir/history.db`, payloads
/// where the plan says, and a manual clock at 2026-01-21 18:00 UTC.
async fn sqlite_engine(plan: Plan, dir: &Path) -> (Engine, Arc<dyn Store>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 21, 18, 0, 0).unwrap(),
    ));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("history.db")).await.unwrap());
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, clock.clone());
    (engine, store, clock)
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Scripts `lines`: events fails for good, so props is skipped; injuries
/// retries a 503 and succeeds.
fn script_partial_run(sim: &UpstreamSim) {
    sim.script("/t/events", vec![Reply::text(404, "no such sport")]);
    sim.script(
        "/t/injuries",
        vec![
            Reply::text(503, "busy"),
            Reply::json(200, serde_json::json!({"records": [{"p": 1}]})),
        ],
    );
}

async fn partial_run_is_recorded_with_reasons(h: &Harness) {
    script_partial_run(&h.sim);
    let report = h
        .engine
        .run_workflow("lines", date(), &params(&[("event_id", "e1")]))
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Partial);
    let statuses: Vec<_> = report
        .calls
        .iter()
        .map(|c| (c.scraper.as_str(), c.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("events", ScraperStatus::Failed),
            ("props", ScraperStatus::Skipped),
            ("injuries", ScraperStatus::Success)
        ]
    );
    assert_eq!(
        h.sim.request_count("/t/props/e1"),
        0,
        "a skipped scraper makes no request"
    );
    // Each cause once: the skipped dependent names its dependency, not its message.
    let expected_message =
        "events: HTTP 404 after 1 attempt: no such sport | props: not run: events failed";
    assert_eq!(report.error_message.as_deref(), Some(expected_message));

    let runs = h.store.recent_workflow_executions(10).await.unwrap();
    let run = runs
        .iter()
        .find(|r| r.execution_id == report.execution_id)
        .unwrap();
    assert_eq!(run.status, "partial");
    assert_eq!(
        (
            run.scrapers_requested,
            run.scrapers_succeeded,
            run.scrapers_failed,
            run.scrapers_no_data,
            run.scrapers_skipped
        ),
        (3, 1, 1, 0, 1)
    );
    assert_eq!(run.error_message.as_deref(), Some(expected_message));
    assert_eq!(run.target_date, date());

    let calls = h
        .store
        .scraper_calls_for_execution(&report.execution_id)
        .await
        .unwrap();
    assert_eq!(calls.len(), 3);
    let props = calls.iter().find(|c| c.scraper_name == "props").unwrap();
    assert_eq!(props.status, "skipped");
    assert_eq!(props.attempts, 0);
    assert_eq!(props.error_kind.as_deref(), Some("dependency"));
    assert_eq!(props.params, r#"{"event_id":"e1"}"#);
    let injuries = calls.iter().find(|c| c.scraper_name == "injuries").unwrap();
    assert_eq!(injuries.attempts, 2);
    let attempts = h.store.attempts_for_call(injuries.id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].outcome, "retryable");
    assert_eq!(attempts[0].error_kind.as_deref(), Some("server"));
    assert_eq!(attempts[0].http_status, Some(503));
    assert_eq!(attempts[1].outcome, "success");
    assert_eq!(attempts[1].delay_before_ms, 1000);
    let events = calls.iter().find(|c| c.scraper_name == "events").unwrap();
    assert_eq!(events.params, r#"{"date":"2026-11-27"}"#);
    assert_eq!(
        events.error_kind.as_deref(),
        Some(ErrorKind::Client.as_str())
    );
}

#[tokio::test]
async fn sqlite_partial_run_is_recorded_with_reasons() {
    let h = harness_with(None).await;
    partial_run_is_recorded_with_reasons(&h).await;
}

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
fn pg_url() -> String {
    std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

#[tokio::test]
async fn postgres_partial_run_is_recorded_with_reasons() {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect_with_schema(&pg_url(), &schema).await.expect(
        "PostgreSQL must be running for this test: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    );
    let pool = store.pool().clone();
    let h = harness_with(Some(Arc::new(store))).await;
    partial_run_is_recorded_with_reasons(&h).await;
    // Best-effort cleanup; a failed assertion above leaves the schema for inspection.
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await;
}

#[tokio::test]
async fn payloads_are_stored_once_and_unchanged_ones_are_not_rewritten() {
    let h = harness_with(None).await;
    let body = serde_json::json!({"records": [{"player": "A"}]});
    h.sim.script(
        "/t/injuries",
        vec![
            Reply::json(200, body.clone()),
            Reply::json(200, body.clone()),
        ],
    );
    let first = h
        .engine
        .run_workflow("single", date(), &BTreeMap::new())
        .await
        .unwrap();
    let second = h
        .engine
        .run_workflow("single", date(), &BTreeMap::new())
        .await
        .unwrap();
    let (a, b) = (&first.calls[0], &second.calls[0]);
    assert_eq!(a.status, ScraperStatus::Success);
    assert!(!a.unchanged);
    assert!(
        b.unchanged,
        "identical consecutive payload is recorded as unchanged"
    );
    assert_eq!(a.output_uri, b.output_uri);
    assert_eq!(a.content_hash, b.content_hash);

    let uri = a.output_uri.clone().unwrap();
    let path = uri.strip_prefix("file://").unwrap();
    assert!(path.contains("/injuries/2026-11-27/injuries/"), "{path}");
    let stored = std::fs::read(path).unwrap();
    assert_eq!(stored, serde_json::to_vec(&body).unwrap());
    assert_eq!(
        blake3::hash(&stored).to_hex().to_string(),
        a.content_hash.clone().unwrap()
    );
    assert_eq!(a.bytes, Some(stored.len() as i64));
    let files = walk(&h.dir.join("raw"));
    assert_eq!(files.len(), 1, "{files:?}");

    // A different payload is stored again.
    h.sim.script(
        "/t/injuries",
        vec![Reply::json(200, serde_json::json!({"records": [1, 2]}))],
    );
    let third = h
        .engine
        .run_workflow("single", date(), &BTreeMap::new())
        .await
        .unwrap();
    assert!(!third.calls[0].unchanged);
    assert_eq!(walk(&h.dir.join("raw")).len(), 2);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path))
            } else {
                out.push(path)
            }
        }
    }
    out
}

#[tokio::test]
async fn all_no_data_is_a_no_data_run() {
    let h = harness_with(None).await;
    h.sim.script(
        "/t/injuries",
        vec![Reply::json(200, serde_json::json!({"records": []}))],
    );
    let report = h
        .engine
        .run_workflow("single", date(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::NoData);
    assert!(report.error_message.is_none());
    assert!(
        report.calls[0].output_uri.is_some(),
        "no_data bodies are kept too"
    );
}

#[tokio::test]
async fn secrets_never_reach_the_database_or_raw_store() {
    let h = harness_with(None).await;
    h.sim.script(
        "/t/echo",
        vec![Reply::echo_query(500), Reply::echo_query(200)],
    );
    let report = h
        .engine
        .run_workflow("echoing", date(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(report.calls[0].status, ScraperStatus::Success);
    let sent = h.sim.requests().last().unwrap().query.clone().unwrap();
    assert!(sent.contains(SECRET));
    // Every text column of every table, and every raw file.
    let db = std::fs::read(h.dir.join("history.db")).unwrap();
    let wal = std::fs::read(h.dir.join("history.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !contains(&bytes, SECRET.as_bytes()),
            "secret found in the database file"
        );
    }
    for file in walk(&h.dir.join("raw")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, SECRET.as_bytes()),
            "secret in {}",
            file.display()
        );
        assert!(contains(&bytes, b"***"));
    }
    let attempts = h.store.attempts_for_call(report.calls[0].id).await.unwrap();
    let first = attempts[0].error_message.clone().unwrap();
    assert!(first.contains("***") && !first.contains(SECRET), "{first}");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn missing_parameters_stop_the_run_before_any_call() {
    let h = harness_with(None).await;
    let error = h
        .engine
        .run_workflow("lines", date(), &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(error, EngineError::MissingParams { .. }));
    assert!(error.is_usage());
    assert_eq!(
        error.to_string(),
        "scraper props needs parameter {event_id}: pass --param event_id=VALUE"
    );
    assert!(h.sim.requests().is_empty());
    assert!(
        h.store
            .recent_workflow_executions(5)
            .await
            .unwrap()
            .is_empty()
    );
    let unknown = h
        .engine
        .run_workflow("nope", date(), &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "unknown workflow \"nope\"; the config defines: echoing, lines, single"
    );
    let builtin = h
        .engine
        .run_scraper("events", date(), &params(&[("date", "x")]))
        .await
        .unwrap_err();
    assert!(builtin.to_string().contains("--date"));
}

#[tokio::test]
async fn standalone_scrape_has_no_execution_id() {
    let h = harness_with(None).await;
    h.sim.script("/t/props/e9", vec![Reply::text(200, "ok")]);
    let report = h
        .engine
        .run_scraper("props", date(), &params(&[("event_id", "e9")]))
        .await
        .unwrap();
    assert_eq!(report.status, ScraperStatus::Success);
    let calls = h.store.recent_standalone_calls(5).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].execution_id, None);
    assert_eq!(calls[0].workflow_name, None);
    assert_eq!(calls[0].id, report.id);
}

#[tokio::test]
async fn payloads_that_cannot_be_stored_fail_with_kind_storage() {
    let h = harness_with(None).await;
    // The raw folder turns into a file under the engine's feet.
    std::fs::remove_dir_all(h.dir.join("raw")).unwrap();
    std::fs::write(h.dir.join("raw"), b"not a folder").unwrap();
    h.sim.script(
        "/t/injuries",
        vec![Reply::json(200, serde_json::json!({"records": [1]}))],
    );
    let report = h
        .engine
        .run_workflow("single", date(), &BTreeMap::new())
        .await
        .unwrap();
    let call = &report.calls[0];
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Storage));
    let message = call.message.clone().unwrap();
    assert!(
        message.starts_with("fetched 15 bytes (1 attempt) but could not store the payload"),
        "{message}"
    );
    assert_eq!(report.status, WorkflowStatus::Failed);
    assert!(call.output_uri.is_none());
}

/// Real timing, briefly: six slow calls to a source that allows two at a
/// time arrive in pairs.
#[tokio::test]
async fn calls_to_a_source_are_bounded_by_its_max_concurrency() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let mut text = format!(
        "[pipeline]\nname = \"c\"\n[sources.up]\nbase_url = \"{}\"\nmax_concurrency = 2\n",
        sim.base_url()
    );
    for name in &names {
        text.push_str(&format!(
            "[scrapers.{name}]\nsource = \"up\"\npath = \"/slow/{name}\"\n"
        ));
        sim.script(
            &format!("/slow/{name}"),
            vec![Reply::text(200, "ok").delay(std::time::Duration::from_millis(200))],
        );
    }
    text.push_str(&format!("[workflows.all]\nscrapers = {names:?}\n"));
    let plan = rebound_config::load_str(&text, &dir.path().join("c.toml"), &|_| None).unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("h.db")).await.unwrap());
    let clock: Arc<dyn Clock> = Arc::new(rebound_clock::SystemClock);
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store, raw, fetcher, clock);
    let report = engine
        .run_workflow("all", date(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Success);
    let mut arrivals: Vec<std::time::Instant> = sim.requests().iter().map(|r| r.at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 6);
    // The third request can only start once one of the first two is answered.
    let gap = arrivals[2] - arrivals[0];
    assert!(
        gap >= std::time::Duration::from_millis(180),
        "third call started after {gap:?}"
    );
    let spread = arrivals[5] - arrivals[0];
    assert!(
        spread >= std::time::Duration::from_millis(360),
        "calls spread over {spread:?}"
    );
}
