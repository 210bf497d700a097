//! A proxy's breaker as the report rebuilds it from the recorded attempts
//! (`proxy_health`): the newest success resets it, however far back it is
//! within the replayed attempts, and a streak longer than the first read
//! is counted whole.

use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_storage::{NewAttempt, NewScraperCall, Store};
use rebound_storage_sqlite::SqliteStore;
use std::path::Path;

const CONFIG: &str = r#"
[pipeline]
name = "p"

[sources.up]
base_url = "http://127.0.0.1:9"
proxies = ["http://127.0.0.1:10", "http://127.0.0.1:11"]
proxy_breaker = { failures = 30, open_for = "5m" }

[scrapers.alpha]
source = "up"
path = "/a"
"#;

fn t0() -> DateTime<Utc> {
    "2026-11-28T15:00:00Z".parse().unwrap()
}

/// One call through `proxy` whose attempts are `ok` (a 200) or not (a
/// refused connection), one second apart from `first` on.
fn call(proxy: i64, outcomes: &[bool], first: i64) -> NewScraperCall {
    let at = |n: usize| t0() + TimeDelta::seconds(first + n as i64);
    let attempt_rows = outcomes
        .iter()
        .enumerate()
        .map(|(n, ok)| NewAttempt {
            attempt: u32::try_from(n + 1).unwrap(),
            page: 1,
            proxy: Some(proxy),
            started_at: at(n),
            finished_at: at(n) + TimeDelta::milliseconds(5),
            http_status: ok.then_some(200),
            outcome: if *ok {
                AttemptOutcome::Success
            } else {
                AttemptOutcome::Retryable
            },
            error_kind: (!ok).then_some(ErrorKind::Connect),
            error_message: (!ok).then(|| "via proxy: refused".to_string()),
            delay_before_ms: 0,
        })
        .collect::<Vec<_>>();
    let last_ok = *outcomes.last().unwrap();
    NewScraperCall {
        execution_id: None,
        workflow_name: None,
        scraper_name: "alpha".into(),
        source_name: "up".into(),
        params: "{}".into(),
        target_date: "2026-11-28".parse().unwrap(),
        status: if last_ok {
            ScraperStatus::Success
        } else {
            ScraperStatus::Failed
        },
        attempts: u32::try_from(outcomes.len()).unwrap(),
        http_status: last_ok.then_some(200),
        error_kind: (!last_ok).then_some(ErrorKind::Connect),
        error_message: (!last_ok).then(|| "refused".to_string()),
        started_at: at(0),
        finished_at: at(outcomes.len()),
        duration_ms: 5,
        bytes: None,
        output_uri: None,
        content_hash: None,
        unchanged: false,
        pages: None,
        record_count: None,
        attempt_rows,
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
    }
}

#[tokio::test]
async fn a_proxys_breaker_counts_its_whole_streak_back_to_the_newest_success() {
    let plan = rebound_config::load_str(CONFIG, Path::new("rebound.toml"), &|_| None).unwrap();
    let source = &plan.sources["up"];
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("history.db"))
        .await
        .unwrap();
    // Proxy 1: a success, then 20 failures (more than the first read).
    let mut outcomes = vec![true];
    outcomes.extend([false; 20]);
    store
        .record_scraper_call(&call(1, &outcomes, 0))
        .await
        .unwrap();
    // Proxy 2: 40 failures, then a success: closed, nothing counted.
    let mut outcomes = vec![false; 40];
    outcomes.push(true);
    store
        .record_scraper_call(&call(2, &outcomes, 0))
        .await
        .unwrap();

    let now = t0() + TimeDelta::minutes(2);
    let health = rebound_health::proxy_health(source, &store, now)
        .await
        .unwrap();
    assert_eq!(health.len(), 2);
    assert_eq!(health[0].consecutive_failures, 20, "{health:?}");
    assert_eq!(health[0].state, "closed");
    assert_eq!(
        health[0].last_used_at,
        Some(t0() + TimeDelta::seconds(20) + TimeDelta::milliseconds(5))
    );
    assert_eq!(health[1].consecutive_failures, 0, "{health:?}");
    assert_eq!(health[1].state, "closed");

    // 15 more failures on proxy 1: 35 in a row, past the 30 that open it.
    store
        .record_scraper_call(&call(1, &[false; 15], 60))
        .await
        .unwrap();
    let now = t0() + TimeDelta::seconds(80);
    let health = rebound_health::proxy_health(source, &store, now)
        .await
        .unwrap();
    assert_eq!(health[0].consecutive_failures, 35, "{health:?}");
    assert_eq!(health[0].state, "open");
    // Each failure from the 30th on holds it open five more minutes: until
    // five minutes after the newest (74 s after t0).
    assert_eq!(
        health[0].open_until,
        Some(t0() + TimeDelta::seconds(74) + TimeDelta::milliseconds(5) + TimeDelta::minutes(5))
    );
}
