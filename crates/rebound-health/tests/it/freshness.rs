//! The empty-payload scenario: a source that keeps answering with an
//! identical payload, empty records or an empty body turns its dataset
//! stale exactly when `fresh_warn` passes and critical at `fresh_error`.

use super::{harness, start};
use chrono::TimeDelta;
use rebound_domain::clock::Clock;
use rebound_health::Level;
use rebound_service::observe::EngineCalendars;
use rebound_upstream_sim::Reply;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const CONFIG: &str = r#"
[sources.up]
base_url = "{base}"
timeout = "2s"

[scrapers.injuries]
source = "up"
path = "/t/injuries"
records = "/records"
dataset = "nba/injuries"

[workflows.injuries]
scrapers = ["injuries"]

[datasets."nba/injuries"]
fresh_warn = "26h"
fresh_error = "50h"
"#;

#[tokio::test]
async fn empty_and_identical_payloads_turn_a_dataset_stale_on_time() {
    let h = harness(CONFIG).await;
    let today = || h.clock.now().date_naive();
    let run = || async {
        h.engine
            .run_workflow("injuries", today(), &BTreeMap::new())
            .await
            .expect("run")
    };
    let level_at = |at| {
        let h = &h;
        async move {
            let all = rebound_health::freshness(
                &h.plan,
                h.store.as_ref(),
                &EngineCalendars(&h.engine),
                at,
            )
            .await
            .expect("freshness");
            assert_eq!(all.len(), 1);
            all[0].clone()
        }
    };
    let payload = json!({"records": [{"player": "A", "status": "out"}]});
    h.sim
        .script("/t/injuries", vec![Reply::json(200, payload.clone())]);
    run().await;
    let changed_at = start();
    let first = level_at(changed_at).await;
    assert_eq!(first.freshness.last_change_at, Some(changed_at));
    assert_eq!(first.level, Level::Ok);

    // Every hour for 52 hours the source answers, but never with new data:
    // the same payload, an empty record list, an empty body.
    for hour in 1..=52u32 {
        h.clock.advance(Duration::from_secs(3600));
        let reply = match hour % 3 {
            0 => Reply::json(200, payload.clone()),
            1 => Reply::json(200, json!({"records": []})),
            _ => Reply::text(200, ""),
        };
        h.sim.script("/t/injuries", vec![reply]);
        run().await;
    }
    let checked = level_at(h.clock.now()).await;
    assert_eq!(
        checked.freshness.last_change_at,
        Some(changed_at),
        "nothing since the first payload made the data fresh"
    );
    assert_eq!(checked.freshness.last_checked_at, Some(h.clock.now()));

    let at =
        |hours: i64, secs: i64| changed_at + TimeDelta::hours(hours) + TimeDelta::seconds(secs);
    assert_eq!(
        level_at(at(26, -1)).await.level,
        Level::Ok,
        "not before fresh_warn"
    );
    let warn = level_at(at(26, 0)).await;
    assert_eq!(warn.level, Level::Warning, "{warn:?}");
    assert_eq!(warn.freshness.age_seconds, Some(26 * 3600));
    assert_eq!(warn.freshness.fresh_warn_seconds, Some(26 * 3600));
    assert_eq!(
        level_at(at(50, -1)).await.level,
        Level::Warning,
        "not before fresh_error"
    );
    let critical = level_at(at(50, 0)).await;
    assert_eq!(critical.level, Level::Critical);
    assert_eq!(critical.freshness.fresh_error_seconds, Some(50 * 3600));

    // New records make it fresh again at once.
    h.sim.script(
        "/t/injuries",
        vec![Reply::json(200, json!({"records": [{"player": "B"}]}))],
    );
    run().await;
    let fresh = level_at(h.clock.now()).await;
    assert_eq!(fresh.level, Level::Ok);
    assert_eq!(fresh.freshness.age_seconds, Some(0));
}

/// A dataset that never changed is graded by the time since its scrapers'
/// first call, not as stale at once: a new pipeline's first `serve` sent
/// critical "never changed" alerts within a minute, for datasets no
/// workflow had been due to fetch yet; and graded from the whole history's
/// first call, a dataset added to a pipeline with 60 days behind it would
/// be critical before its first call. One whose scrapers never ran is not
/// graded.
#[tokio::test]
async fn a_dataset_that_never_changed_is_stale_only_once_its_limit_has_passed_since_its_first_call()
{
    let h = harness(CONFIG).await;
    let level_at = |at| {
        let h = &h;
        async move {
            let all = rebound_health::freshness(
                &h.plan,
                h.store.as_ref(),
                &EngineCalendars(&h.engine),
                at,
            )
            .await
            .expect("freshness");
            all[0].clone()
        }
    };
    let empty = level_at(start()).await;
    assert_eq!(empty.level, Level::Ok, "an empty history: {empty:?}");
    assert_eq!(empty.freshness.watched_since, None);

    // Sixty days of another scraper's history: this dataset is new.
    let mut old = rebound_testkit::store_conformance::sample_scraper_call(
        "standings",
        start() - TimeDelta::days(60),
    );
    old.source_name = "up".into();
    h.store.record_scraper_call(&old).await.expect("record");
    let added = level_at(start()).await;
    assert_eq!(
        added.level,
        Level::Ok,
        "not before its first call: {added:?}"
    );
    assert_eq!(added.freshness.watched_since, None);

    // Its first call brings no records: no data yet.
    h.sim.script(
        "/t/injuries",
        vec![Reply::json(200, json!({"records": []}))],
    );
    h.engine
        .run_workflow("injuries", start().date_naive(), &BTreeMap::new())
        .await
        .expect("run");
    let began = start();
    let soon = level_at(began + TimeDelta::minutes(2)).await;
    assert_eq!(soon.level, Level::Ok, "{soon:?}");
    assert_eq!(soon.freshness.last_change_at, None);
    assert_eq!(soon.freshness.watched_since, Some(began));
    assert_eq!(
        level_at(began + TimeDelta::hours(26)).await.level,
        Level::Warning,
        "fresh_warn since its first call"
    );
    assert_eq!(
        level_at(began + TimeDelta::hours(50)).await.level,
        Level::Critical
    );
}
