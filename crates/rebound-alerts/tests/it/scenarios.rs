//! Alerts next to a running pipeline: the engine scrapes the simulated
//! upstream over loopback while alerts are evaluated and delivered.

use crate::reports::{empty, source};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_alerts::deliver::Deliverer;
use rebound_alerts::evaluate::Evaluator;
use rebound_alerts::service::{AlertService, ReportSource};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::outcome::WorkflowStatus;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_fetch::sink::SinkClient;
use rebound_health::HealthReport;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::configs::two_source_pipeline;
use rebound_testkit::webhook as receiver;
use rebound_upstream_sim::UpstreamSim;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn config(sim: &str, sink: &str, extra: &str) -> String {
    format!(
        r#"{}
[alerts]
renotify = "6h"

[alerts.sinks.hook]
kind = "webhook"
url = "{sink}/hook"
timeout = "300ms"
{extra}
"#,
        two_source_pipeline(sim)
    )
}

/// An engine on `dir/history.db` with the given clock.
pub async fn engine(
    dir: &Path,
    toml: &str,
    clock: Arc<dyn Clock>,
) -> (Arc<Engine>, Arc<dyn Store>) {
    let path = dir.join("rebound.toml");
    std::fs::write(&path, toml).unwrap();
    let plan = Arc::new(rebound_config::load(&path, &|_| None).unwrap());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("history.db")).await.unwrap());
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Arc::new(Engine::new(plan, store.clone(), raw, fetcher, clock));
    (engine, store)
}

/// Always the same outage report, stamped with the time asked for.
struct Outage;

#[async_trait]
impl ReportSource for Outage {
    async fn report(&self, now: DateTime<Utc>) -> Result<HealthReport, String> {
        let mut r = empty(now);
        let mut s = source("nbacom");
        s.breaker = "open".into();
        s.failing_since = Some(now - chrono::TimeDelta::hours(1));
        r.sources = vec![s];
        Ok(r)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_sink_is_retried_until_back_while_scraping_carries_on() {
    let sim = UpstreamSim::start().await.unwrap();
    let sink = receiver::start().await;
    // The sink answers only after 5s, far past its 300ms timeout.
    *sink.inbox.hang.lock().unwrap() = Some(Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let toml = config(&sim.base_url(), &sink.url, "");
    let (engine, store) = engine(dir.path(), &toml, clock.clone()).await;
    let plan = engine.plan().clone();
    let service = Arc::new(AlertService {
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
            clock.clone(),
            plan.redactor.clone(),
            Arc::new(SinkClient::new().expect("sink client")),
        ),
        source: Arc::new(Outage),
        clock: clock.clone(),
        every: Duration::from_millis(50),
        poll: Duration::from_millis(50),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let alerts = tokio::spawn(service.clone().run(stopped));

    // Scraping goes on while the deliverer waits on the hung sink.
    let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        let t = Instant::now();
        let run = engine
            .run_workflow("games", date, &BTreeMap::new())
            .await
            .unwrap();
        assert_eq!(run.status, WorkflowStatus::Success);
        assert!(
            t.elapsed() < Duration::from_millis(250),
            "a scrape took {:?}",
            t.elapsed()
        );
    }
    // Meanwhile the notification was tried (and timed out) at least once.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = store.recent_alerts(10).await.unwrap();
        if rows
            .first()
            .is_some_and(|r| r.attempts >= 1 && r.last_error.is_some())
        {
            let error = rows[0].last_error.clone().unwrap();
            assert!(error.starts_with("sink hook: timed out"), "{error}");
            assert_eq!(rows[0].delivery_status, "pending");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed attempt recorded: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(sink.received("/hook").is_empty());

    // The sink comes back; the retry (30s after the failure) delivers it.
    // Rather than wait 30 real seconds, make the row due now, as the clock would.
    *sink.inbox.hang.lock().unwrap() = None;
    let row = &store.recent_alerts(1).await.unwrap()[0];
    store
        .record_alert_delivery(
            row.id,
            &rebound_storage::DeliveryOutcome::Retry {
                error: row.last_error.clone().unwrap(),
                next_attempt_at: clock.now(),
            },
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.received("/hook").is_empty() {
        assert!(
            Instant::now() < deadline,
            "not delivered after the sink came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    alerts.await.unwrap();
    let hook = sink.received("/hook");
    assert_eq!(
        hook.len(),
        1,
        "one notification for one incident: {hook:#?}"
    );
    assert_eq!(hook[0]["event"], "opened");
    assert_eq!(hook[0]["subject"], "nbacom");
    let rows = store.recent_alerts(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].delivery_status, "delivered");
    assert!(rows[0].attempts >= 2);
}
