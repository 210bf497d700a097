//! The reconciler (issue 14, item 4) end to end on a manual clock: real
//! SQLite, the publisher posting to a real loopback webhook receiver (the
//! consumer), acknowledgements by `rebound events ack`'s store call and by
//! a consumer's own `INSERT INTO completion_acks`, and the alert evaluator
//! on real health reports posting to a second receiver.
//!
//! The issue's two storm-guard cases: a consumer that acknowledges nothing
//! for 200 events gets one alert and zero redeliveries; one that
//! acknowledges 90% gets its 10% redelivered once each.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rebound_alerts::deliver::Deliverer;
use rebound_alerts::evaluate::Evaluator;
use rebound_alerts::service::ReportSource;
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::outcome::{AttemptOutcome, ScraperStatus};
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_fetch::sink::SinkClient;
use rebound_raw::RawStore;
use rebound_service::alerts::EngineReports;
use rebound_service::handoff::Publisher;
use rebound_service::reconcile::Reconciler;
use rebound_storage::{NewAttempt, NewCompletionEvent, NewScraperCall, Store};
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::configs::two_source_pipeline;
use rebound_testkit::webhook::{self, Receiver};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const DATASETS: [&str; 2] = ["nbacom/injury_report", "bdl/games"];

struct Rig {
    clock: Arc<ManualClock>,
    sqlite: Arc<SqliteStore>,
    store: Arc<dyn Store>,
    publisher: Publisher,
    reconciler: Reconciler,
    reports: EngineReports,
    evaluator: Evaluator,
    deliverer: Deliverer,
    consumer: Receiver,
    pager: Receiver,
}

async fn rig(dir: &Path, start: DateTime<Utc>) -> Rig {
    let consumer = webhook::start().await;
    let pager = webhook::start().await;
    let toml = format!(
        r#"{}
[handoff]
ack_required = true

[handoff.sinks.warehouse]
kind = "webhook"
url = "{}/events"

[alerts.sinks.pager]
kind = "webhook"
url = "{}/alerts"
"#,
        two_source_pipeline("http://127.0.0.1:9"),
        consumer.url,
        pager.url
    );
    let path = dir.join("rebound.toml");
    std::fs::write(&path, toml).unwrap();
    let plan = Arc::new(rebound_config::load(&path, &|_| None).expect("valid config"));
    assert!(plan.handoff.ack.ack_required);
    let clock = Arc::new(ManualClock::new(start));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let sqlite = Arc::new(SqliteStore::open(&dir.join("history.db")).await.unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    let engine = Arc::new(Engine::new(
        plan.clone(),
        store.clone(),
        RawStore::open(&plan.pipeline.raw_store).unwrap(),
        Arc::new(Fetcher::new(&plan, dyn_clock.clone()).unwrap()),
        dyn_clock.clone(),
    ));
    Rig {
        publisher: Publisher::new(
            store.clone(),
            plan.handoff.sinks.clone(),
            dyn_clock.clone(),
            plan.redactor.clone(),
            Arc::new(SinkClient::new().unwrap()),
        ),
        reconciler: Reconciler::new(store.clone(), dyn_clock.clone(), plan.handoff.ack),
        reports: EngineReports {
            engine,
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
            Arc::new(SinkClient::new().unwrap()),
        ),
        clock,
        sqlite,
        store,
        consumer,
        pager,
    }
}

impl Rig {
    /// Records `n` calls with their events (datasets alternating) and
    /// publishes them; returns the event ids in call order.
    async fn record_and_publish(&self, n: usize) -> Vec<String> {
        let at = self.clock.now();
        let mut ids = Vec::new();
        for i in 0..n {
            // In the past of the clock: an event is due from its creation.
            let t = at - TimeDelta::milliseconds((n - i) as i64);
            let call = NewScraperCall {
                execution_id: None,
                workflow_name: None,
                scraper_name: format!("s{}", i % 2),
                source_name: "nbacom".into(),
                params: "{}".into(),
                target_date: t.date_naive(),
                status: ScraperStatus::Success,
                attempts: 1,
                http_status: Some(200),
                error_kind: None,
                error_message: None,
                started_at: t,
                finished_at: t,
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
                attempt_rows: vec![NewAttempt {
                    attempt: 1,
                    page: 1,
                    proxy: None,
                    started_at: t,
                    finished_at: t,
                    http_status: Some(200),
                    outcome: AttemptOutcome::Success,
                    error_kind: None,
                    error_message: None,
                    delay_before_ms: 0,
                }],
            };
            let id = format!("0193a6f4-0000-7000-8000-{i:012}");
            let dataset = DATASETS[i % 2];
            let event = NewCompletionEvent {
                event_id: id.clone(),
                created_at: t,
                dataset: dataset.into(),
                status: "success".into(),
                payload: format!(
                    r#"{{"event_id":"{id}","kind":"call.completed","dataset":"{dataset}","delivery":"first","replay_of":null}}"#
                ),
            };
            self.store
                .record_call_with_event(&call, Some(&event))
                .await
                .expect("record");
            ids.push(id);
        }
        let drained = self
            .publisher
            .drain(std::time::Duration::ZERO)
            .await
            .expect("publish");
        assert_eq!(drained.left, 0);
        ids
    }

    /// One minute of `rebound serve`: reconcile, publish, evaluate alerts
    /// and deliver them.
    async fn minute(&self) {
        self.clock.advance(std::time::Duration::from_secs(60));
        self.reconciler.reconcile_once().await.expect("reconcile");
        self.publisher.publish_due().await.expect("publish");
        let report = self.reports.report(self.clock.now()).await.expect("report");
        self.evaluator.evaluate(&report).await.expect("evaluate");
        self.deliverer.deliver_due().await.expect("deliver alerts");
    }

    /// Posts the consumer received: (event id, delivery).
    fn received(&self) -> Vec<(String, String)> {
        self.consumer
            .all()
            .iter()
            .map(|b| {
                (
                    b["event_id"].as_str().unwrap().to_string(),
                    b["delivery"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Alert notifications: (event, condition, subject, message).
    fn alerts(&self) -> Vec<(String, String, String, String)> {
        self.pager
            .all()
            .iter()
            .map(|b| {
                let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
                (s("event"), s("condition"), s("subject"), s("message"))
            })
            .collect()
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_acknowledges_nothing_gets_one_alert_and_zero_redeliveries() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(dir.path(), start()).await;
    let ids = rig.record_and_publish(200).await;
    assert_eq!(rig.received().len(), 200);

    // 80 minutes of serve, a round a minute; nothing is acknowledged. (The
    // events are due at 30 minutes and stay in the guard's hour until 90.)
    for _ in 0..80 {
        rig.minute().await;
    }
    let received = rig.received();
    assert_eq!(received.len(), 200, "the storm guard let redeliveries out");
    assert!(received.iter().all(|(_, d)| d == "first"));
    let opened: Vec<_> = rig
        .alerts()
        .into_iter()
        .filter(|a| a.1 == "downstream_not_acknowledging")
        .collect();
    assert_eq!(opened.len(), 1, "{opened:#?}");
    let (event, _, subject, message) = &opened[0];
    assert_eq!((event.as_str(), subject.as_str()), ("opened", "handoff"));
    for part in [
        "200 of 200",
        "sinks: warehouse",
        "bdl/games",
        "nbacom/injury_report",
        "the consumer is not acknowledging; check it before replaying",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    let events = rig.store.completion_events(None, u32::MAX).await.unwrap();
    assert_eq!(events.len(), ids.len());
    assert!(
        events
            .iter()
            .all(|e| e.state == "unacknowledged" && e.redeliveries == 0),
        "held-back events are marked unacknowledged, never sent again"
    );

    // The consumer is fixed and acknowledges everything: one recovery.
    rig.store.ack_events(&ids, rig.clock.now()).await.unwrap();
    rig.minute().await;
    rig.minute().await;
    let mine: Vec<String> = rig
        .alerts()
        .into_iter()
        .filter(|a| a.1 == "downstream_not_acknowledging")
        .map(|a| a.0)
        .collect();
    assert_eq!(mine, ["opened", "recovered"]);
    assert_eq!(rig.received().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_acknowledges_90_percent_gets_its_10_percent_redelivered_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(dir.path(), start()).await;
    let ids = rig.record_and_publish(200).await;
    // The consumer acknowledges 9 of every 10 with its own SQL.
    let mut missed = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if i % 10 == 7 {
            missed.push(id.clone());
            continue;
        }
        sqlx::query(
            "INSERT INTO completion_acks (event_id) VALUES (?1) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(id)
        .execute(rig.sqlite.pool())
        .await
        .unwrap();
    }
    assert_eq!(missed.len(), 20);

    // Nothing is sent again before redeliver_after (30 minutes).
    for _ in 0..29 {
        rig.minute().await;
    }
    assert_eq!(rig.received().len(), 200);
    for _ in 0..91 {
        rig.minute().await;
    }
    let received = rig.received();
    let redelivered: Vec<&(String, String)> = received[200..].iter().collect();
    assert_eq!(redelivered.len(), 20, "{redelivered:#?}");
    let mut again: Vec<String> = redelivered
        .iter()
        .map(|(id, delivery)| {
            assert_eq!(delivery, "redelivery");
            id.clone()
        })
        .collect();
    again.sort();
    assert_eq!(again, missed, "exactly the unacknowledged ones, once each");

    let states: BTreeMap<String, usize> = rig
        .store
        .completion_events(None, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .fold(BTreeMap::new(), |mut m, e| {
            *m.entry(e.state).or_default() += 1;
            m
        });
    assert_eq!(
        states,
        BTreeMap::from([
            ("acknowledged".to_string(), 180),
            ("unacknowledged".to_string(), 20)
        ])
    );
    assert!(
        !rig.alerts()
            .iter()
            .any(|a| a.1 == "downstream_not_acknowledging"),
        "{:#?}",
        rig.alerts()
    );
    // The health report says which datasets have unacknowledged events.
    let report = rig.reports.report(rig.clock.now()).await.unwrap();
    let by_dataset: Vec<(String, u64)> = report
        .handoff
        .unacknowledged
        .iter()
        .map(|u| (u.dataset.clone(), u.count))
        .collect();
    assert_eq!(
        by_dataset,
        [("bdl/games".to_string(), 20),],
        "i % 10 == 7 is odd: all of bdl/games"
    );
    assert_eq!(report.handoff.level, rebound_health::Level::Warning);
    assert!(report.handoff.not_acknowledging.is_none());
}
