//! The engine counts into its metrics registry what it records in the
//! history: attempts by outcome, calls by status, durations only for calls
//! that made a request (a breaker refusal makes none).

use chrono::{TimeZone, Utc};
use prometheus_parse::Scrape;
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::ErrorKind;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_metrics::Format;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::prometheus::value;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::sync::Arc;

#[tokio::test]
async fn engine_counts_attempts_calls_and_durations_as_recorded() {
    let sim = UpstreamSim::start().await.unwrap();
    sim.script("/down/item", vec![Reply::status(503), Reply::status(503)]);
    let config = format!(
        r#"
[pipeline]
name = "t"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 2
initial_delay = "1s"
jitter = "none"

[sources.down]
base_url = "{url}"
breaker = {{ consecutive_failures = 1, open_for = "1h" }}

[scrapers.down_item]
source = "down"
path = "/down/item"
query = {{ day = "{{date}}" }}

[workflows.down_wf]
scrapers = ["down_item"]
"#,
        url = sim.base_url()
    );
    let tmp = tempfile::tempdir().unwrap();
    let plan = rebound_config::load_str(&config, &tmp.path().join("rebound.toml"), &|_: &str| None)
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap(),
    ));
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store, raw, fetcher, clock);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();

    let first = engine
        .run_workflow("down_wf", date, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(first.calls[0].attempts, 2);
    let second = engine
        .run_workflow("down_wf", date, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(second.calls[0].error_kind, Some(ErrorKind::BreakerOpen));

    let text = engine.metrics().encode(Format::Prometheus);
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let labels = |k: &'static str, v: &'static str| [("source", "down"), (k, v)];
    assert_eq!(
        value(
            &scrape,
            "rebound_attempts_total",
            &labels("outcome", "retryable")
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&scrape, "rebound_calls_total", &labels("status", "failed")),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "rebound_calls_total", &labels("status", "skipped")),
        Some(1.0)
    );
    assert_eq!(
        value(
            &scrape,
            "rebound_call_duration_seconds",
            &[("source", "down")]
        ),
        Some(1.0),
        "the refused call made no request and has no duration"
    );
    // Runs are counted by workers, not by the engine.
    assert_eq!(value(&scrape, "rebound_runs_total", &[]), None);
    assert!(
        !text.contains("2026-01-05"),
        "parameter values never become labels"
    );
    assert!(!text.contains("127.0.0.1"), "URLs never become labels");
    sim.shutdown().await;
}

/// A call held back before its request (its source paused by a 429's
/// `Retry-After`) made no request, so it has no duration, as the metric's
/// documentation says: each such call added a sample of about 0 s, which
/// pulled a throttled source's p95 call duration down in a storm.
#[tokio::test]
async fn a_call_held_back_before_its_request_has_no_duration() {
    let sim = UpstreamSim::start().await.unwrap();
    sim.script(
        "/up/lines",
        vec![Reply::status(429).header("Retry-After", "600")],
    );
    let config = format!(
        r#"
[pipeline]
name = "t"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

[sources.up]
base_url = "{url}"
breaker = {{ enabled = false }}

[scrapers.lines]
source = "up"
path = "/up/lines"

[scrapers.props]
source = "up"
path = "/up/props"
"#,
        url = sim.base_url()
    );
    let tmp = tempfile::tempdir().unwrap();
    let plan = rebound_config::load_str(&config, &tmp.path().join("rebound.toml"), &|_: &str| None)
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap(),
    ));
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store, raw, fetcher, clock);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let none = BTreeMap::new();
    let lines = engine.run_scraper("lines", date, &none).await.unwrap();
    assert_eq!(lines.attempts, 1, "{lines:?}");
    let props = engine.run_scraper("props", date, &none).await.unwrap();
    assert_eq!(props.attempts, 0, "held back by the pause: {props:?}");
    assert_eq!(sim.request_count("/up/props"), 0);

    let text = engine.metrics().encode(Format::Prometheus);
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert_eq!(
        value(
            &scrape,
            "rebound_calls_total",
            &[("source", "up"), ("status", "failed")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &scrape,
            "rebound_call_duration_seconds",
            &[("source", "up")]
        ),
        Some(1.0),
        "only the call that made a request has a duration: {text}"
    );
    sim.shutdown().await;
}
