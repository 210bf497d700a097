//! The hand-off publisher (issue 14) against a real loopback webhook
//! receiver: every event delivered and none lost when the receiver refuses
//! 30% of requests, each dataset's events in call order, the signature
//! verifiable by a consumer, sinks that filter, and a sink that is down
//! leaving events pending (never lost) until it is back.

use chrono::{TimeDelta, TimeZone, Utc};
use hmac::{KeyInit, Mac};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::handoff::{EVENT_STATUSES, HandoffSink, HandoffSinkKind};
use rebound_domain::outcome::{AttemptOutcome, ScraperStatus};
use rebound_domain::redact::Redactor;
use rebound_fetch::sink::SinkClient;
use rebound_service::handoff::Publisher;
use rebound_storage::{NewAttempt, NewCompletionEvent, NewScraperCall, Store};
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::webhook;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "whsec_0123456789abcdef";

fn sink(name: &str, url: &str, datasets: &[&str], statuses: &[ScraperStatus]) -> HandoffSink {
    HandoffSink {
        name: name.to_string(),
        kind: HandoffSinkKind::Webhook,
        url: url.to_string(),
        signing_secret: Some(KEY.to_string()),
        datasets: datasets.iter().map(|d| d.to_string()).collect(),
        statuses: if statuses.is_empty() {
            EVENT_STATUSES.to_vec()
        } else {
            statuses.to_vec()
        },
        timeout: Duration::from_secs(5),
        nats: None,
    }
}

/// Records `n` calls with their events, spread over three datasets, the
/// statuses cycling through the four outcomes; returns (event id, dataset,
/// status) in call order.
pub(super) async fn record_events(
    store: &dyn Store,
    n: usize,
    at: chrono::DateTime<Utc>,
) -> Vec<(String, String, String)> {
    let datasets = ["boxscores", "odds.events", "injuries"];
    let mut out = Vec::new();
    for i in 0..n {
        let dataset = datasets[i % 3].to_string();
        let status = EVENT_STATUSES[i % 4];
        let t = at + TimeDelta::milliseconds(i as i64);
        let call = NewScraperCall {
            execution_id: None,
            workflow_name: None,
            scraper_name: format!("s{}", i % 3),
            source_name: "sim".into(),
            params: "{}".into(),
            target_date: t.date_naive(),
            status,
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
                started_at: t,
                finished_at: t,
                http_status: Some(200),
                outcome: AttemptOutcome::Success,
                error_kind: None,
                error_message: None,
                delay_before_ms: 0,
                page: 1,
                proxy: None,
            }],
        };
        let event_id = uuid::Uuid::now_v7().to_string();
        let event = NewCompletionEvent {
            event_id: event_id.clone(),
            created_at: t,
            dataset: dataset.clone(),
            status: status.as_str().to_string(),
            payload: format!(
                r#"{{"event_id":"{event_id}","kind":"call.completed","dataset":"{dataset}","seq":{i}}}"#
            ),
        };
        store
            .record_call_with_event(&call, Some(&event))
            .await
            .unwrap();
        out.push((event_id, dataset, status.as_str().to_string()));
    }
    out
}

pub(super) struct Setup {
    _dir: tempfile::TempDir,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<ManualClock>,
}

pub(super) async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("h.db")).await.unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
    ));
    Setup {
        _dir: dir,
        store,
        clock,
    }
}

pub(super) fn publisher(s: &Setup, sinks: Vec<HandoffSink>) -> Publisher {
    Publisher::new(
        s.store.clone(),
        sinks
            .into_iter()
            .map(|k| (k.name.clone(), k))
            .collect::<BTreeMap<_, _>>(),
        s.clock.clone(),
        Redactor::default(),
        Arc::new(SinkClient::new().unwrap()),
    )
}

fn verify(body: &str, header: &str) -> bool {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    header == format!("sha256={hex}")
}

#[tokio::test]
async fn a_webhook_refusing_30_percent_still_gets_every_event_once_in_order_and_signed() {
    let s = setup().await;
    let receiver = webhook::start().await;
    receiver.fail_in_ten(3);
    let events = record_events(&*s.store, 60, s.clock.now()).await;
    let publisher = publisher(
        &s,
        vec![sink("warehouse", &format!("{}/in", receiver.url), &[], &[])],
    );

    let drained = publisher.drain(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(drained.left, 0, "{drained:?}");
    assert_eq!(drained.published, 60);
    assert!(
        receiver.refused() >= 18,
        "the receiver refused {} requests",
        receiver.refused()
    );

    let requests = receiver.requests();
    let keys: Vec<String> = requests
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "an accepted event was sent again");
    let all: HashSet<&String> = events.iter().map(|(id, _, _)| id).collect();
    assert_eq!(unique, all, "an event was lost");

    for request in &requests {
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body["event_id"].as_str(), request.header("idempotency-key"));
        let signature = request.header("x-rebound-signature").expect("signed");
        assert!(
            verify(&request.body, signature),
            "bad signature {signature}"
        );
        assert!(!verify(&format!("{} ", request.body), signature));
    }
    // Per dataset, accepted in call order.
    for dataset in ["boxscores", "odds.events", "injuries"] {
        let expected: Vec<&str> = events
            .iter()
            .filter(|(_, d, _)| d == dataset)
            .map(|(id, _, _)| id.as_str())
            .collect();
        let got: Vec<&str> = requests
            .iter()
            .filter(|r| r.body.contains(&format!("\"dataset\":\"{dataset}\"")))
            .map(|r| r.header("idempotency-key").unwrap())
            .collect();
        assert_eq!(got, expected, "{dataset} out of order");
    }
    let rows = s.store.completion_events(None, 1000).await.unwrap();
    assert!(rows.iter().all(|e| e.state == "published"));
    assert!(
        rows.iter().any(|e| e.deliveries > 1),
        "no event needed a retry"
    );
    assert!(
        rows.iter()
            .all(|e| e.sinks_done == vec!["warehouse".to_string()])
    );
    // Retries waited on the clock (backoff), never in real time.
    assert!(!s.clock.sleeps().is_empty());
}

#[tokio::test]
async fn sinks_get_only_the_datasets_and_statuses_they_ask_for() {
    let s = setup().await;
    let receiver = webhook::start().await;
    let events = record_events(&*s.store, 24, s.clock.now()).await;
    let publisher = publisher(
        &s,
        vec![
            sink("all", &format!("{}/all", receiver.url), &[], &[]),
            sink(
                "odds_ok",
                &format!("{}/odds", receiver.url),
                &["odds.*"],
                &[ScraperStatus::Success],
            ),
        ],
    );
    let drained = publisher.drain(Duration::from_secs(60)).await.unwrap();
    assert_eq!((drained.published, drained.left), (24, 0));
    assert_eq!(receiver.received("/all").len(), 24);
    let odds: Vec<String> = receiver
        .requests()
        .iter()
        .filter(|r| r.path == "/odds")
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    let expected: Vec<String> = events
        .iter()
        .filter(|(_, d, st)| d == "odds.events" && st == "success")
        .map(|(id, _, _)| id.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(odds, expected);
}

#[tokio::test]
async fn a_sink_that_is_down_leaves_events_pending_until_it_is_back() {
    let s = setup().await;
    let receiver = webhook::start().await;
    receiver.set_down(true);
    let secret_url = format!("{}/hooks/T0SECRET99", receiver.url);
    let events = record_events(&*s.store, 5, s.clock.now()).await;
    let publisher = publisher(&s, vec![sink("wh", &secret_url, &[], &[])]);

    let drained = publisher.drain(Duration::from_secs(10)).await.unwrap();
    assert_eq!(drained.left, 5, "{drained:?}");
    assert_eq!(drained.published, 0);
    let error = drained.last_error.expect("a refusal is reported");
    assert!(
        error.contains("sink wh") && error.contains("503"),
        "{error}"
    );
    assert!(!error.contains("T0SECRET99"), "{error}");
    let waited: Duration = s.clock.sleeps().iter().sum();
    assert!(
        waited <= Duration::from_secs(10),
        "waited {waited:?} past the bound"
    );

    let pending = s
        .store
        .completion_events(Some("pending"), 100)
        .await
        .unwrap();
    assert_eq!(pending.len(), 5);
    assert!(pending[0].deliveries >= 1 && pending[0].last_error.is_some());
    // Only the first event of each dataset was tried; the rest were held.
    assert!(
        pending.iter().skip(3).all(|e| e.deliveries == 0),
        "{pending:?}"
    );

    receiver.set_down(false);
    s.clock.advance(Duration::from_secs(600));
    let drained = publisher.drain(Duration::from_secs(60)).await.unwrap();
    assert_eq!((drained.published, drained.left), (5, 0));
    let got: HashSet<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(got, events.iter().map(|(id, _, _)| id.clone()).collect());
}
