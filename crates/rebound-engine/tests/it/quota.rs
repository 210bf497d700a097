//! Request quotas end to end: simulated upstream → engine → SQLite, on a
//! manual clock. Counts, not timings.

use chrono::{NaiveDate, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    sim: UpstreamSim,
    _dir: tempfile::TempDir,
    engine: Engine,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

async fn setup(requests: u64) -> Setup {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
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

[sources.odds_api]
base_url = "{}"
quota = {{ per = "month", requests = {requests}, remaining_header = "x-requests-remaining" }}

[scrapers.odds]
source = "odds_api"
path = "/t/odds"
"#,
        sim.base_url()
    );
    let plan =
        rebound_config::load_str(&text, &tmp.path().join("rebound.toml"), &|_| None).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 20, 15, 0, 0).unwrap(),
    ));
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, clock.clone());
    Setup {
        sim,
        _dir: tmp,
        engine,
        store,
        clock,
    }
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 20).unwrap()
}

/// January 2026 in New York, as UTC.
fn january() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 0).unwrap()
}

#[tokio::test]
async fn quota_warns_at_80_percent_once_and_refuses_at_100() {
    let s = setup(10).await;
    s.sim
        .script("/t/odds", vec![Reply::text(200, "{\"x\":1}"); 10]);
    let none = BTreeMap::new();
    let mut warned_at = None;
    for n in 1..=10u32 {
        s.clock.advance(Duration::from_secs(60));
        let call = s.engine.run_scraper("odds", date(), &none).await.unwrap();
        assert_eq!(call.status, ScraperStatus::Success, "call {n}");
        let row = s
            .store
            .quota_usage("odds_api", january())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.requests, i64::from(n));
        match n {
            1..=7 => assert_eq!(row.warned_at, None, "no warning before 80% (call {n})"),
            8 => {
                assert_eq!(row.warned_at, Some(s.clock.now()), "warned at 80%");
                warned_at = row.warned_at;
            }
            _ => assert_eq!(row.warned_at, warned_at, "warned once per period"),
        }
    }
    // At 100%: refused, recorded as skipped, no request sent.
    let refused = s.engine.run_scraper("odds", date(), &none).await.unwrap();
    assert_eq!(refused.status, ScraperStatus::Skipped);
    assert_eq!(refused.error_kind, Some(ErrorKind::QuotaExhausted));
    assert_eq!(refused.attempts, 0);
    assert_eq!(
        refused.message.as_deref(),
        Some(
            "quota of 10 requests per month for odds_api exhausted (10 requests since \
             2026-01-01T00:00:00-05:00); resets at 2026-02-01T00:00:00-05:00"
        )
    );
    assert_eq!(s.sim.request_count("/t/odds"), 10);
    let rows = s.store.recent_standalone_calls(1).await.unwrap();
    assert_eq!(rows[0].status, "skipped");
    assert_eq!(rows[0].error_kind.as_deref(), Some("quota_exhausted"));
    assert_eq!(
        s.store
            .quota_usage("odds_api", january())
            .await
            .unwrap()
            .unwrap()
            .requests,
        10
    );

    // February (New York time) starts a fresh quota.
    let feb = Utc.with_ymd_and_hms(2026, 2, 1, 5, 0, 0).unwrap();
    s.clock.advance((feb - s.clock.now()).to_std().unwrap());
    s.sim.script("/t/odds", vec![Reply::text(200, "{\"x\":2}")]);
    let next = s.engine.run_scraper("odds", date(), &none).await.unwrap();
    assert_eq!(next.status, ScraperStatus::Success);
    assert_eq!(
        s.store
            .quota_usage("odds_api", feb)
            .await
            .unwrap()
            .unwrap()
            .requests,
        1
    );
}

#[tokio::test]
async fn retries_count_and_the_upstreams_remaining_count_wins() {
    let s = setup(1000).await;
    let none = BTreeMap::new();
    // A retried call costs two requests.
    s.sim.script(
        "/t/odds",
        vec![
            Reply::text(503, "busy"),
            Reply::text(200, "{}").header("x-requests-remaining", "150"),
        ],
    );
    let call = s.engine.run_scraper("odds", date(), &none).await.unwrap();
    assert_eq!(call.status, ScraperStatus::Success);
    let row = s
        .store
        .quota_usage("odds_api", january())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.requests, row.remaining_reported), (2, Some(150)));
    // The upstream says 150 left of 1000: 85% used, so the warning is up.
    assert!(row.warned_at.is_some());

    // The upstream reports nothing left: the next call is refused, saying so.
    s.sim.script(
        "/t/odds",
        vec![Reply::text(200, "{}").header("x-requests-remaining", "0")],
    );
    s.engine.run_scraper("odds", date(), &none).await.unwrap();
    let refused = s.engine.run_scraper("odds", date(), &none).await.unwrap();
    assert_eq!(refused.error_kind, Some(ErrorKind::QuotaExhausted));
    assert_eq!(
        refused.message.as_deref(),
        Some(
            "quota of 1000 requests per month for odds_api exhausted (the upstream reports 0 \
             remaining in x-requests-remaining; 3 requests counted since \
             2026-01-01T00:00:00-05:00); resets at 2026-02-01T00:00:00-05:00"
        )
    );
    assert_eq!(s.sim.request_count("/t/odds"), 3);
}

/// Before: an answer whose body then failed to read (here a gzip stream
/// that ends early, a `decode` failure) recorded no status, so the call's
/// reservation was handed back: the upstream counted the request and the
/// quota did not.
#[tokio::test]
async fn an_answer_whose_body_fails_still_counts_against_the_quota() {
    let s = setup(10).await;
    // A gzip header and nothing of the stream after it.
    let header = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    s.sim.script(
        "/t/odds",
        vec![Reply::bytes(200, header).header("Content-Encoding", "gzip")],
    );
    let none = BTreeMap::new();
    let call = s.engine.run_scraper("odds", date(), &none).await.unwrap();
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Decode));
    assert_eq!(s.sim.request_count("/t/odds"), 1);
    let row = s
        .store
        .quota_usage("odds_api", january())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.requests, 1);
    let rows = s.store.recent_standalone_calls(1).await.unwrap();
    assert_eq!(rows[0].http_status, Some(200));
}

/// Before: a negative count was clamped to 0, which reads as "the upstream
/// reports 0 remaining", and every later call was refused until the
/// period ended. A value that is not a count is ignored (with a warning in
/// the log); the count we keep, and the next call, are as if it was absent.
#[tokio::test]
async fn a_negative_or_unreadable_remaining_header_is_ignored_not_read_as_zero() {
    let s = setup(1000).await;
    let none = BTreeMap::new();
    for value in ["-5", "many", "NaN", "-0.5"] {
        s.sim.script(
            "/t/odds",
            vec![Reply::text(200, "{}").header("x-requests-remaining", value)],
        );
        let call = s.engine.run_scraper("odds", date(), &none).await.unwrap();
        assert_eq!(call.status, ScraperStatus::Success, "{value}");
        let row = s
            .store
            .quota_usage("odds_api", january())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.remaining_reported, None, "{value}");
        assert!(row.warned_at.is_none(), "{value}");
    }
    // The next call is sent, not refused as exhausted.
    s.sim.script(
        "/t/odds",
        vec![Reply::text(200, "{}").header("x-requests-remaining", "150.0")],
    );
    let call = s.engine.run_scraper("odds", date(), &none).await.unwrap();
    assert_eq!(call.status, ScraperStatus::Success);
    assert_eq!(s.sim.request_count("/t/odds"), 5);
    let row = s
        .store
        .quota_usage("odds_api", january())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.requests, row.remaining_reported), (5, Some(150)));
}
