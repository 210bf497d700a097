//! The registry's output parsed as Prometheus text, and the exporter's
//! scrape-time reads against a real SQLite store on a manual clock.

use super::exporter::{DatasetAges, Exporter};
use super::*;
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use prometheus_parse::Scrape;
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_storage::{NewScheduledRun, Store};
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::prometheus::{parse, value};
use std::sync::Arc;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn metrics() -> Metrics {
    Metrics::new(
        names(&["nbacom", "odds"]),
        names(&["morning"]),
        names(&["nbacom/injury_report"]),
    )
}

#[test]
fn counters_and_histograms_parse_with_their_labels() {
    let m = metrics();
    m.record_call(
        "odds",
        [
            AttemptOutcome::Retryable,
            AttemptOutcome::Retryable,
            AttemptOutcome::Success,
        ],
        ScraperStatus::Success,
        Some(Duration::from_millis(1500)),
    );
    m.record_call(
        "odds",
        [AttemptOutcome::Permanent],
        ScraperStatus::Failed,
        Some(Duration::from_millis(30)),
    );
    m.record_call("nbacom", [], ScraperStatus::Skipped, None);
    m.record_run("morning", "partial", Duration::from_millis(120));

    let text = m.encode(Format::Prometheus);
    let scrape = parse(&text);
    let attempts = |outcome| {
        value(
            &scrape,
            "rebound_attempts_total",
            &[("source", "odds"), ("outcome", outcome)],
        )
    };
    assert_eq!(attempts("retryable"), Some(2.0), "{text}");
    assert_eq!(attempts("success"), Some(1.0));
    assert_eq!(attempts("permanent"), Some(1.0));
    assert_eq!(attempts("no_data"), None, "no sample before the first one");
    assert_eq!(
        value(
            &scrape,
            "rebound_calls_total",
            &[("source", "nbacom"), ("status", "skipped")]
        ),
        Some(1.0)
    );
    // Two calls observed; the skipped one made no request.
    assert_eq!(
        value(
            &scrape,
            "rebound_call_duration_seconds",
            &[("source", "odds")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &scrape,
            "rebound_call_duration_seconds",
            &[("source", "nbacom")]
        ),
        None
    );
    assert_eq!(
        value(
            &scrape,
            "rebound_runs_total",
            &[("workflow", "morning"), ("status", "partial")]
        ),
        Some(1.0)
    );
    assert!(
        text.contains("rebound_schedule_to_start_seconds_bucket{le=\"0.25\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("rebound_schedule_to_start_seconds_bucket{le=\"0.1\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE rebound_attempts_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE rebound_call_duration_seconds histogram\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE rebound_queue_depth gauge\n"),
        "{text}"
    );
}

#[test]
fn names_outside_the_config_are_counted_as_other() {
    let m = metrics();
    m.record_call(
        "https://api.example/v1/?key=secret",
        [AttemptOutcome::Success],
        ScraperStatus::Success,
        Some(Duration::from_millis(1)),
    );
    m.record_run("game_id=0022500470", "exploded", Duration::ZERO);
    m.set_dataset_age("not/a/dataset", Duration::from_secs(1));
    let text = m.encode(Format::Prometheus);
    let scrape = parse(&text);
    assert_eq!(
        value(
            &scrape,
            "rebound_attempts_total",
            &[("source", "other"), ("outcome", "success")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &scrape,
            "rebound_runs_total",
            &[("workflow", "other"), ("status", "other")]
        ),
        Some(1.0)
    );
    assert!(!text.contains("https"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert!(!text.contains("0022500470"), "{text}");
    assert!(!text.contains("exploded"), "{text}");
}

#[test]
fn openmetrics_when_asked_for() {
    assert_eq!(Format::from_accept(None), Format::Prometheus);
    assert_eq!(
        Format::from_accept(Some("text/plain;version=0.0.4")),
        Format::Prometheus
    );
    let om = Format::from_accept(Some(
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    ));
    assert_eq!(om, Format::OpenMetrics);
    assert!(
        om.content_type()
            .starts_with("application/openmetrics-text")
    );
    assert!(
        Format::Prometheus
            .content_type()
            .starts_with("text/plain; version=0.0.4")
    );
    let m = metrics();
    m.record_run("morning", "success", Duration::ZERO);
    let text = m.encode(Format::OpenMetrics);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# UNIT rebound_schedule_to_start_seconds seconds\n"),
        "{text}"
    );
}

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("m.db"))
        .await
        .expect("open");
    (dir, Arc::new(store))
}

fn start() -> DateTime<Utc> {
    "2026-11-28T12:00:00Z".parse().expect("time")
}

fn queued(id: &str, at: DateTime<Utc>) -> NewScheduledRun {
    NewScheduledRun {
        run_id: id.to_string(),
        workflow_name: "morning".to_string(),
        target_date: at.date_naive(),
        slot: id.to_string(),
        params: "{}".to_string(),
        entities: "null".to_string(),
        run_at: at,
        scheduled_for: at,
        execution_id: format!("exec-{id}"),
        decision_id: None,
        created_at: at,
    }
}

async fn open_breaker(store: &dyn Store, source: &str, now: DateTime<Utc>) {
    let mut change = |state: &mut rebound_domain::breaker::BreakerState| {
        state.phase = Phase::Open;
        Vec::new()
    };
    store
        .update_breaker(source, now, &mut change)
        .await
        .expect("update_breaker");
}

#[tokio::test]
async fn exporter_reads_breakers_and_queue_from_the_store_with_a_cache() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::new(start()));
    let exporter = Exporter::new(Arc::new(metrics()), store.clone(), clock.clone());

    let scrape = parse(&exporter.render(Format::Prometheus).await);
    let breaker = |scrape: &Scrape, source, state| {
        value(
            scrape,
            "rebound_breaker_state",
            &[("source", source), ("state", state)],
        )
    };
    assert_eq!(
        breaker(&scrape, "odds", "closed"),
        Some(1.0),
        "no row: closed"
    );
    assert_eq!(breaker(&scrape, "odds", "open"), Some(0.0));
    assert_eq!(breaker(&scrape, "nbacom", "half_open"), Some(0.0));
    assert_eq!(value(&scrape, "rebound_queue_depth", &[]), Some(0.0));

    open_breaker(&*store, "odds", clock.now()).await;
    for (id, at) in [
        ("due1", start() - TimeDelta::minutes(5)),
        ("due2", start()),
        ("later", start() + TimeDelta::minutes(10)),
    ] {
        assert!(store.enqueue_run(&queued(id, at)).await.expect("enqueue"));
    }
    // Within the cache period the store is not read again.
    clock.advance(Duration::from_secs(4));
    assert!(!exporter.refresh().await);
    let scrape = parse(&exporter.render(Format::Prometheus).await);
    assert_eq!(breaker(&scrape, "odds", "open"), Some(0.0), "cached");
    assert_eq!(
        value(&scrape, "rebound_queue_depth", &[]),
        Some(0.0),
        "cached"
    );

    clock.advance(Duration::from_secs(1));
    let scrape = parse(&exporter.render(Format::Prometheus).await);
    assert_eq!(breaker(&scrape, "odds", "open"), Some(1.0));
    assert_eq!(breaker(&scrape, "odds", "closed"), Some(0.0));
    assert_eq!(breaker(&scrape, "nbacom", "closed"), Some(1.0));
    assert_eq!(value(&scrape, "rebound_queue_depth", &[]), Some(2.0));

    // Ten minutes on, the later run is due as well.
    clock.advance(Duration::from_secs(600));
    let scrape = parse(&exporter.render(Format::Prometheus).await);
    assert_eq!(value(&scrape, "rebound_queue_depth", &[]), Some(3.0));
    assert_eq!(
        value(&scrape, "rebound_metrics_refresh_errors_total", &[]),
        Some(0.0)
    );
}

struct FixedAges(Result<Vec<(String, Duration)>, String>);

#[async_trait]
impl DatasetAges for FixedAges {
    async fn dataset_ages(&self, _now: DateTime<Utc>) -> Result<Vec<(String, Duration)>, String> {
        self.0.clone()
    }
}

#[tokio::test]
async fn dataset_ages_come_from_the_hook_and_failures_are_counted() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::new(start()));
    let ages = FixedAges(Ok(vec![(
        "nbacom/injury_report".to_string(),
        Duration::from_secs(26 * 3600),
    )]));
    let exporter = Exporter::new(Arc::new(metrics()), store.clone(), clock.clone())
        .with_cache(Duration::ZERO)
        .with_dataset_ages(Arc::new(ages));
    let scrape = parse(&exporter.render(Format::Prometheus).await);
    assert_eq!(
        value(
            &scrape,
            "rebound_dataset_age_seconds",
            &[("dataset", "nbacom/injury_report")]
        ),
        Some(93600.0)
    );

    let failing = Exporter::new(Arc::new(metrics()), store, clock)
        .with_cache(Duration::ZERO)
        .with_dataset_ages(Arc::new(FixedAges(Err("database is locked".to_string()))));
    failing.render(Format::Prometheus).await;
    let text = failing.render(Format::Prometheus).await;
    let scrape = parse(&text);
    assert_eq!(
        value(&scrape, "rebound_metrics_refresh_errors_total", &[]),
        Some(2.0)
    );
    assert!(
        !text.contains("database is locked"),
        "error texts never become labels"
    );
}

#[tokio::test]
async fn a_huge_cache_duration_saturates_instead_of_panicking() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::new(start()));
    let exporter =
        Exporter::new(Arc::new(metrics()), store, clock.clone()).with_cache(Duration::MAX);
    exporter.render(Format::Prometheus).await;
    clock.advance(Duration::from_secs(10 * 365 * 86_400));
    let scrape = parse(&exporter.render(Format::Prometheus).await);
    assert_eq!(
        value(&scrape, "rebound_metrics_refresh_errors_total", &[]),
        Some(0.0)
    );
}

#[tokio::test]
async fn events_are_counted_by_sink_and_outcome_and_pending_read_from_the_outbox() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::new(start()));
    let m = metrics().with_sinks(names(&["warehouse"]));
    m.record_event("warehouse", "delivered");
    m.record_event("warehouse", "delivered");
    m.record_event("warehouse", "redelivered");
    m.record_event("warehouse", "failed");
    m.record_event("https://secret.example/hook", "delivered");
    let exporter = Exporter::new(Arc::new(m), store.clone(), clock.clone());
    let scrape = parse(&exporter.render(Format::Prometheus).await);
    let events = |sink, outcome| {
        value(
            &scrape,
            "rebound_events_total",
            &[("sink", sink), ("outcome", outcome)],
        )
    };
    assert_eq!(events("warehouse", "delivered"), Some(2.0));
    assert_eq!(events("warehouse", "redelivered"), Some(1.0));
    assert_eq!(events("warehouse", "failed"), Some(1.0));
    assert_eq!(
        events("other", "delivered"),
        Some(1.0),
        "unknown sinks are other"
    );
    assert_eq!(value(&scrape, "rebound_events_pending", &[]), Some(0.0));
    assert_eq!(
        value(&scrape, "rebound_events_oldest_pending_seconds", &[]),
        Some(0.0)
    );

    // Two pending events, the older recorded 90 s before the scrape.
    for (i, at) in [start() - TimeDelta::seconds(90), start()]
        .into_iter()
        .enumerate()
    {
        let call = rebound_storage::NewScraperCall {
            execution_id: None,
            workflow_name: None,
            scraper_name: "s".into(),
            source_name: "odds".into(),
            params: "{}".into(),
            target_date: at.date_naive(),
            status: ScraperStatus::Success,
            attempts: 0,
            http_status: None,
            error_kind: None,
            error_message: None,
            started_at: at,
            finished_at: at,
            duration_ms: 0,
            bytes: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
            pages: None,
            record_count: None,
            etag: None,
            last_modified: None,
            outputs: Vec::new(),
            attempt_rows: Vec::new(),
        };
        let event = rebound_storage::NewCompletionEvent {
            event_id: format!("e{i}"),
            created_at: at,
            dataset: "d".into(),
            status: "success".into(),
            payload: "{}".into(),
        };
        store
            .record_call_with_event(&call, Some(&event))
            .await
            .expect("record");
    }
    clock.advance(Duration::from_secs(10));
    let scrape = parse(&exporter.render(Format::Prometheus).await);
    assert_eq!(value(&scrape, "rebound_events_pending", &[]), Some(2.0));
    assert_eq!(
        value(&scrape, "rebound_events_oldest_pending_seconds", &[]),
        Some(100.0)
    );
}
