//! Evaluations and deliveries against a real store (SQLite files, the local
//! PostgreSQL) and a real HTTP receiver on a loopback port, on a manual
//! clock.

use crate::reports::*;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_alerts::deliver::Deliverer;
use rebound_alerts::evaluate::Evaluator;
use rebound_domain::alerts::{AlertSettings, AlertSink, MinLevel, SinkKind};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::redact::Redactor;
use rebound_fetch::sink::SinkClient;
use rebound_health::HealthReport;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::webhook::{self as receiver, Receiver};
use std::sync::Arc;
use std::time::Duration;

/// The secret part of the Slack URL (as if from `${SLACK_URL}`).
const SECRET: &str = "T000-secret-B000";

fn t0() -> DateTime<Utc> {
    "2026-01-15T04:00:00Z".parse().unwrap()
}

fn sink(name: &str, kind: SinkKind, url: String, min_level: MinLevel) -> AlertSink {
    AlertSink {
        name: name.to_string(),
        kind,
        url,
        min_level,
        timeout: Duration::from_secs(2),
    }
}

struct Rig {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    evaluator: Evaluator,
    deliverer: Deliverer,
    receiver: Receiver,
    settings: AlertSettings,
    redactor: Redactor,
    _dir: tempfile::TempDir,
}

async fn rig(configure: impl FnOnce(&mut AlertSettings)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("h.db")).await.unwrap());
    rig_on(store, dir, configure).await
}

async fn rig_on(
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    configure: impl FnOnce(&mut AlertSettings),
) -> Rig {
    let receiver = receiver::start().await;
    let mut settings = AlertSettings::default();
    let slack_url = format!("{}/slack/{SECRET}", receiver.url);
    for s in [
        sink(
            "hook",
            SinkKind::Webhook,
            format!("{}/hook", receiver.url),
            MinLevel::Warning,
        ),
        sink(
            "oncall",
            SinkKind::Slack,
            slack_url.clone(),
            MinLevel::Critical,
        ),
    ] {
        settings.sinks.insert(s.name.clone(), s);
    }
    configure(&mut settings);
    let redactor = Redactor::new([slack_url]);
    let clock = Arc::new(ManualClock::new(t0()));
    let evaluator = Evaluator::new(
        store.clone(),
        settings.clone(),
        "nba",
        chrono_tz::America::New_York,
        redactor.clone(),
    );
    let deliverer = Deliverer::new(
        store.clone(),
        settings.sinks.clone(),
        clock.clone(),
        redactor.clone(),
        Arc::new(SinkClient::new().expect("sink client")),
    );
    Rig {
        store,
        clock,
        evaluator,
        deliverer,
        receiver,
        settings,
        redactor,
        _dir: dir,
    }
}

fn outage(at: DateTime<Utc>, since: DateTime<Utc>) -> HealthReport {
    let mut r = empty(at);
    let mut s = source("nba_stats");
    s.breaker = "open".into();
    s.breaker_since = Some(since);
    s.failing_since = Some(since);
    s.last_error = Some("timeout after 20s".into());
    r.sources = vec![s, source("odds_api")];
    r
}

fn healthy(at: DateTime<Utc>) -> HealthReport {
    let mut r = empty(at);
    r.sources = vec![source("nba_stats"), source("odds_api")];
    r
}

impl Rig {
    fn at(&self, t: DateTime<Utc>) {
        let now = self.clock.now();
        assert!(t >= now);
        self.clock.advance((t - now).to_std().unwrap());
    }

    async fn all_rows_text(&self) -> String {
        format!(
            "{:?}{:?}",
            self.store.recent_alerts(1000).await.unwrap(),
            self.store
                .recent_alert_incidents(t0() - TimeDelta::days(30), 1000)
                .await
                .unwrap()
        )
    }
}

#[tokio::test]
async fn opened_and_recovered_reach_both_sinks_in_their_documented_formats() {
    let rig = rig(|_| {}).await;
    let start = t0() - TimeDelta::minutes(20);
    let done = rig.evaluator.evaluate(&outage(t0(), start)).await.unwrap();
    assert_eq!((done.opened, done.notices, done.suppressed), (1, 1, 0));
    let round = rig.deliverer.deliver_due().await.unwrap();
    assert_eq!(round.delivered, 2);

    let recovered_at = t0() + TimeDelta::minutes(3 * 60 + 12);
    rig.at(recovered_at);
    // Quiet evaluations in between change nothing.
    rig.evaluator
        .evaluate(&outage(t0() + TimeDelta::hours(1), start))
        .await
        .unwrap();
    let done = rig
        .evaluator
        .evaluate(&healthy(recovered_at))
        .await
        .unwrap();
    assert_eq!((done.resolved, done.notices), (1, 1));
    assert_eq!(rig.deliverer.deliver_due().await.unwrap().delivered, 2);

    let hook = rig.receiver.received("/hook");
    assert_eq!(hook.len(), 2, "{hook:#?}");
    let opened = &hook[0];
    assert_eq!(opened["event"], "opened");
    assert_eq!(opened["condition"], "source_unhealthy");
    assert_eq!(opened["subject"], "nba_stats");
    assert_eq!(opened["level"], "critical");
    assert_eq!(opened["pipeline"], "nba");
    assert_eq!(opened["opened_at"], "2026-01-15T04:00:00.000Z");
    assert_eq!(opened["resolved_at"], serde_json::Value::Null);
    assert_eq!(opened["duration_seconds"], serde_json::Value::Null);
    assert_eq!(
        opened["summary"],
        "source nba_stats: breaker open since 2026-01-14 22:40 EST (-05:00), 20m ago; last error: timeout after 20s"
    );
    let recovered = &hook[1];
    assert_eq!(recovered["event"], "recovered");
    assert_eq!(recovered["resolved_at"], "2026-01-15T07:12:00.000Z");
    assert_eq!(recovered["duration_seconds"], 3 * 3600 + 12 * 60);
    assert_eq!(
        recovered["message"],
        "[nba] RECOVERED source_unhealthy nba_stats: recovered after 3h 12m (opened 2026-01-14 23:00 EST (-05:00))"
    );
    let keys: Vec<&String> = opened.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        10,
        "event, condition, subject, level, summary, message, opened_at, resolved_at, duration_seconds, pipeline: {keys:?}"
    );

    let slack = rig.receiver.received(&format!("/slack/{SECRET}"));
    assert_eq!(slack.len(), 2);
    assert_eq!(slack[1], serde_json::json!({"text": recovered["message"]}));
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[nba] CRITICAL source_unhealthy: source nba_stats")
    );

    // Stored: delivered, and the sink's URL appears nowhere.
    let rows = rig.store.recent_alerts(100).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|r| r.delivery_status == "delivered" && r.attempts == 1)
    );
    assert!(!rig.all_rows_text().await.contains(SECRET));
    assert!(rig.store.open_alert_incidents().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_sink_that_is_down_is_retried_with_backoff_and_delivered_once_back() {
    let rig = rig(|s| {
        s.sinks.remove("hook");
    })
    .await;
    rig.receiver.set_down(true);
    rig.evaluator
        .evaluate(&outage(t0(), t0() - TimeDelta::hours(1)))
        .await
        .unwrap();
    let mut retries = 0;
    // Down for 10 minutes; the deliverer polls every 5 seconds of simulated time.
    let back_at = t0() + TimeDelta::minutes(10);
    let mut t = t0();
    let mut delivered_at = None;
    while t < t0() + TimeDelta::minutes(30) {
        rig.at(t);
        if t >= back_at {
            rig.receiver.set_down(false);
        }
        let round = rig.deliverer.deliver_due().await.unwrap();
        retries += round.retried;
        if round.delivered > 0 {
            delivered_at = Some(t);
            break;
        }
        t += TimeDelta::seconds(5);
    }
    // Backoff 30s, 1m, 2m, 4m: attempts at 0, 30s, 1m30s, 3m30s, 7m30s
    // fail; the next, at 15m30s, finds the sink back.
    assert_eq!(retries, 5);
    assert_eq!(*rig.receiver.inbox.refused.lock().unwrap(), 5);
    assert_eq!(delivered_at, Some(t0() + TimeDelta::seconds(15 * 60 + 30)));
    let slack = rig.receiver.received(&format!("/slack/{SECRET}"));
    assert_eq!(slack.len(), 1, "delivered exactly once");
    let row = &rig.store.recent_alerts(10).await.unwrap()[0];
    assert_eq!(row.delivery_status, "delivered");
    assert_eq!(row.attempts, 6);
    assert_eq!(
        row.last_error.as_deref(),
        Some("sink oncall: HTTP 503 Service Unavailable")
    );
}

#[tokio::test]
async fn a_sink_that_cannot_be_reached_names_the_sink_never_the_url_and_gives_up_in_the_end() {
    let rig = rig(|s| {
        s.sinks.remove("hook");
        let oncall = s.sinks.get_mut("oncall").unwrap();
        // Port 9 on loopback: nothing listens (connection refused).
        oncall.url = format!("http://127.0.0.1:9/slack/{SECRET}");
    })
    .await;
    rig.evaluator
        .evaluate(&outage(t0(), t0() - TimeDelta::hours(1)))
        .await
        .unwrap();
    let mut t = t0();
    for _ in 0..rebound_alerts::deliver::MAX_ATTEMPTS {
        rig.at(t);
        let round = rig.deliverer.deliver_due().await.unwrap();
        assert_eq!(round.delivered, 0);
        t += TimeDelta::hours(1);
    }
    let row = &rig.store.recent_alerts(10).await.unwrap()[0];
    assert_eq!(row.delivery_status, "failed");
    assert_eq!(row.attempts, rebound_alerts::deliver::MAX_ATTEMPTS);
    let error = row.last_error.clone().unwrap();
    assert!(error.starts_with("sink oncall: cannot connect"), "{error}");
    assert!(error.ends_with("(gave up after 20 attempts)"), "{error}");
    assert!(
        !error.contains(SECRET) && !error.contains("127.0.0.1:9"),
        "{error}"
    );
}

#[tokio::test]
async fn min_level_keeps_warnings_off_a_critical_only_sink() {
    let rig = rig(|_| {}).await;
    let mut r = empty(t0());
    let mut d = dataset("nbacom/injury_report");
    d.freshness.level = rebound_health::Level::Warning;
    d.freshness.last_change_at = Some(t0() - TimeDelta::hours(27));
    r.datasets = vec![d];
    rig.evaluator.evaluate(&r).await.unwrap();
    rig.deliverer.deliver_due().await.unwrap();
    assert_eq!(rig.receiver.received("/hook").len(), 1);
    assert!(
        rig.receiver
            .received(&format!("/slack/{SECRET}"))
            .is_empty()
    );
    let rows = rig.store.recent_alerts(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].sink.as_str(), rows[0].condition.as_str()),
        ("hook", "dataset_stale")
    );
}

#[tokio::test]
async fn rate_limited_notifications_are_stored_as_suppressed_and_counted_in_the_next() {
    let rig = rig(|s| {
        s.max_per_hour = 3;
        s.sinks.remove("oncall");
    })
    .await;
    let mut r = empty(t0());
    for n in 0..5 {
        let mut w = workflow(&format!("w{n}"));
        w.consecutive_failed = 3;
        w.last_status = Some("failed".into());
        r.workflows.push(w);
    }
    let done = rig.evaluator.evaluate(&r).await.unwrap();
    assert_eq!((done.opened, done.notices, done.suppressed), (5, 5, 2));
    rig.deliverer.deliver_due().await.unwrap();
    assert_eq!(rig.receiver.received("/hook").len(), 3);
    let suppressed: Vec<_> = rig
        .store
        .recent_alerts(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.delivery_status == "suppressed")
        .collect();
    assert_eq!(suppressed.len(), 2);
    assert!(suppressed.iter().all(|a| a.last_error.as_deref()
        == Some("rate limit: 3 notifications in the last hour (max_per_hour = 3)")));
    // Past the hour, a recovery goes out and says what was held back.
    let later = t0() + TimeDelta::minutes(61);
    rig.at(later);
    let mut r2 = r.clone();
    r2.generated_at = later;
    r2.workflows.remove(0);
    rig.evaluator.evaluate(&r2).await.unwrap();
    rig.deliverer.deliver_due().await.unwrap();
    let hook = rig.receiver.received("/hook");
    let last = hook.last().unwrap();
    assert_eq!(last["event"], "recovered");
    assert!(
        last["message"].as_str().unwrap().ends_with(
            "[2 more notifications were held back by rate limits; see `rebound alerts`]"
        ),
        "{last}"
    );
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
async fn two_evaluators_sharing_postgres_open_one_incident_and_notify_once() {
    let url = std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("t_{}", uuid_like());
    let pg = rebound_storage_postgres::PostgresStore::connect_with_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("the test PostgreSQL server is needed: {e}"));
    let pg = Arc::new(pg);
    let store: Arc<dyn Store> = pg.clone();
    let dir = tempfile::tempdir().unwrap();
    let rig = rig_on(store.clone(), dir, |_| {}).await;
    // A second scheduler with the same config on the same database.
    let other = Evaluator::new(
        store.clone(),
        rig.settings.clone(),
        "nba",
        chrono_tz::America::New_York,
        rig.redactor.clone(),
    );
    let report = outage(t0(), t0() - TimeDelta::hours(1));
    for round in 0..5 {
        let at = t0() + TimeDelta::minutes(round);
        let mut r = report.clone();
        r.generated_at = at;
        let (a, b) = tokio::join!(rig.evaluator.evaluate(&r), other.evaluate(&r));
        let (a, b) = (a.unwrap(), b.unwrap());
        if round == 0 {
            assert_eq!(a.opened + b.opened, 1, "{a:?} {b:?}");
        }
    }
    let (a, b) = tokio::join!(rig.deliverer.deliver_due(), rig.deliverer.deliver_due());
    assert_eq!(
        a.unwrap().delivered + b.unwrap().delivered,
        2,
        "hook and oncall, once each"
    );
    assert_eq!(rig.receiver.received("/hook").len(), 1);
    assert_eq!(store.open_alert_incidents().await.unwrap().len(), 1);
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    let _ = sqlx_drop(&pg, &sql).await;
}

async fn sqlx_drop(pg: &rebound_storage_postgres::PostgresStore, sql: &str) -> Result<(), String> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pg.pool())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[allow(clippy::disallowed_methods)] // a unique name for a test database, not a time under test
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{}", std::process::id())
}

#[tokio::test]
async fn a_renotify_beyond_any_date_sends_no_reminder_and_does_not_panic() {
    // `renotify = Duration::MAX` does not fit chrono's `TimeDelta`: the
    // evaluator's conversion saturates (it panicked before). An incident
    // open for ten years under it gets no reminder; under 6h it does.
    for (renotify, reminders) in [
        (std::time::Duration::MAX, 0),
        (Duration::from_secs(6 * 3600), 1),
    ] {
        let rig = rig(|s| s.renotify = renotify).await;
        let start = t0() - TimeDelta::minutes(20);
        let done = rig.evaluator.evaluate(&outage(t0(), start)).await.unwrap();
        assert_eq!(done.opened, 1);
        let later = t0() + TimeDelta::days(3650);
        rig.at(later);
        let done = rig.evaluator.evaluate(&outage(later, start)).await.unwrap();
        assert_eq!(done.notices, reminders, "renotify {renotify:?}");
    }
}

/// A sink timeout is bounded at load (an hour); the deliverer's claim
/// lease (now + the longest sink timeout) is saturating all the same. With
/// a timeout that fits chrono's `TimeDelta` but not any date after now,
/// `deliver_due` panicked on `DateTime + TimeDelta` before; now the alert
/// is delivered as usual.
#[tokio::test]
async fn a_sink_timeout_beyond_any_date_does_not_crash_delivery() {
    let rig = rig(|s| {
        s.sinks.remove("oncall");
        if let Some(hook) = s.sinks.get_mut("hook") {
            // About 285,000 years: representable as a TimeDelta (up to
            // about 292 million years) but past chrono's last date.
            hook.timeout = Duration::from_secs(9_000_000_000_000);
        }
    })
    .await;
    rig.evaluator
        .evaluate(&outage(t0(), t0() - TimeDelta::hours(1)))
        .await
        .unwrap();
    let round = rig.deliverer.deliver_due().await.unwrap();
    assert_eq!(round.delivered, 1);
    assert_eq!(rig.receiver.received("/hook").len(), 1);
}
