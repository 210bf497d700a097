//! Rate limits and pauses shared through the store (issue 11, item 14):
//! three fetchers stand for three `rebound serve` workers, each with its
//! own limiter state, sharing one PostgreSQL store. Time is a manual clock
//! shared by all three, so 100 calls at `20/min` take no real minutes; the
//! instants checked are those at which each call was admitted and sent.

use crate::pg_url;
use chrono::{DateTime, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::plan::Plan;
use rebound_fetch::{CallSpec, Fetcher};
use rebound_storage::LimitsStore;
use rebound_storage_postgres::PostgresStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn plan(base_url: &str, dir: &std::path::Path) -> Plan {
    let text = format!(
        r#"
[pipeline]
name = "t"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[scheduler]
max_inline_wait = "5s"

[retry]
max_attempts = 1

[sources.odds_api]
base_url = "{base_url}"
rate_limit = "20/min"

[sources.stats]
base_url = "{base_url}"

[scrapers.odds]
source = "odds_api"
path = "/t/odds"

[scrapers.box]
source = "stats"
path = "/t/box"
"#
    );
    rebound_config::load_str(&text, &dir.join("rebound.toml"), &|_| None).unwrap()
}

async fn pg_store() -> (Arc<PostgresStore>, String) {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect_with_schema(&pg_url(), &schema)
        .await
        .expect("PostgreSQL must be running for this test");
    (Arc::new(store), schema)
}

async fn drop_schema(store: &PostgresStore, schema: &str) {
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(store.pool())
        .await;
}

/// The most admitted starts inside any 60-second window.
fn busiest_minute(starts: &[DateTime<Utc>]) -> usize {
    let mut sorted = starts.to_vec();
    sorted.sort();
    (0..sorted.len())
        .map(|i| {
            sorted[i..]
                .iter()
                .take_while(|t| **t - sorted[i] < chrono::Duration::seconds(60))
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Makes 100 calls of `odds`, round robin over `fetchers` (one clock), and
/// returns when each was sent.
async fn hundred_calls(fetchers: &[Fetcher], plan: &Plan) -> Vec<DateTime<Utc>> {
    let scraper = &plan.scrapers["odds"];
    let source = &plan.sources["odds_api"];
    let params = BTreeMap::new();
    let mut starts = Vec::new();
    for n in 0..100 {
        let spec = CallSpec {
            source,
            scraper,
            params: &params,
        };
        let result = fetchers[n % fetchers.len()].call(spec).await;
        assert_eq!(
            result.status,
            ScraperStatus::Success,
            "call {n}: {result:?}"
        );
        starts.push(result.attempts[0].started_at);
    }
    starts
}

/// Three workers at `rate_limit = "20/min"`: with their own limiters they
/// send 60 a minute; sharing one PostgreSQL store, no minute holds more
/// than 20, and the 100 calls are spaced 3 s apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_one_rate_limit_on_postgres() {
    let sim = UpstreamSim::start().await.unwrap();
    sim.script(
        "/t/odds",
        (0..200)
            .map(|_| Reply::json(200, serde_json::json!({"ok": true})))
            .collect(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let plan = plan(&sim.base_url(), tmp.path());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 20, 15, 0, 0).unwrap(),
    ));
    let shared_clock: Arc<dyn Clock> = clock.clone();

    // Per process, as before the fix: three times the rate.
    let own: Vec<Fetcher> = (0..3)
        .map(|_| Fetcher::new(&plan, shared_clock.clone()).unwrap())
        .collect();
    let starts = hundred_calls(&own, &plan).await;
    assert_eq!(
        busiest_minute(&starts),
        60,
        "per-process limiters: 3 × 20/min"
    );

    clock.advance(Duration::from_secs(3600));
    let (store, schema) = pg_store().await;
    let shared: Vec<Fetcher> = (0..3)
        .map(|_| {
            let limits: Arc<dyn LimitsStore> = store.clone();
            Fetcher::new(&plan, shared_clock.clone())
                .unwrap()
                .with_shared_limits(limits)
        })
        .collect();
    let starts = hundred_calls(&shared, &plan).await;
    let busiest = busiest_minute(&starts);
    assert!(busiest <= 20, "{busiest} requests in one minute at 20/min");
    assert_eq!(busiest, 20);
    for pair in starts.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::seconds(3));
    }
    drop_schema(&store, &schema).await;
}

/// A 429 with Retry-After seen by one worker pauses the source for the
/// others: their next call is not sent but deferred to the pause's end,
/// saying why — also on a source without a rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_worker_pauses_the_source_for_the_others() {
    let sim = UpstreamSim::start().await.unwrap();
    for path in ["/t/odds", "/t/box"] {
        sim.script(
            path,
            vec![
                Reply::text(429, "slow down").header("Retry-After", "120"),
                Reply::json(200, serde_json::json!({"ok": true})),
            ],
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let plan = plan(&sim.base_url(), tmp.path());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 20, 15, 0, 0).unwrap(),
    ));
    let shared_clock: Arc<dyn Clock> = clock.clone();
    let (store, schema) = pg_store().await;
    let workers: Vec<Fetcher> = (0..2)
        .map(|_| {
            let limits: Arc<dyn LimitsStore> = store.clone();
            Fetcher::new(&plan, shared_clock.clone())
                .unwrap()
                .with_shared_limits(limits)
        })
        .collect();
    let params = BTreeMap::new();
    for (scraper, source, path) in [("odds", "odds_api", "/t/odds"), ("box", "stats", "/t/box")] {
        let spec = CallSpec {
            source: &plan.sources[source],
            scraper: &plan.scrapers[scraper],
            params: &params,
        };
        let first = workers[0].call(spec).await;
        assert_eq!(first.status, ScraperStatus::Failed);
        assert_eq!(first.http_status, Some(429));
        let paused_at = clock.now();
        let other = workers[1].call(spec).await;
        assert_eq!(other.status, ScraperStatus::Failed, "{other:?}");
        assert!(other.attempts.is_empty(), "nothing sent: {other:?}");
        assert_eq!(other.error_kind, Some(ErrorKind::Throttled));
        let until = other.deferred_until.expect("deferred to the pause's end");
        assert_eq!(until, paused_at + chrono::Duration::seconds(120));
        let message = other.message.unwrap();
        assert!(
            message.contains(&format!("source {source} paused until"))
                && message.contains("(HTTP 429 with Retry-After 120s)"),
            "{message}"
        );
        assert_eq!(sim.request_count(path), 1, "the other worker sent nothing");
        let row = store
            .limits_paused(source, paused_at)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.paused_until, until);
        // After the pause the other worker goes ahead.
        clock.advance(Duration::from_secs(121));
        let after = workers[1].call(spec).await;
        assert_eq!(after.status, ScraperStatus::Success, "{after:?}");
        assert_eq!(sim.request_count(path), 2);
    }
    drop_schema(&store, &schema).await;
}
