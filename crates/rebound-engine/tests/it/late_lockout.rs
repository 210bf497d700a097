//! Late data (`expected_within`, `recheck`) and entity lockouts, end to
//! end: simulated upstream over loopback → engine → raw folder and SQLite
//! file, on a manual clock. Configured in TOML, as users do.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_engine::{Engine, RunReport};
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "late"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

[sources.up]
base_url = "{base_url}"
timeout = "2s"

[scrapers.schedule]
source = "up"
path = "/t/schedule"
records = "/games"
dataset = "nba/schedule"

[calendars.games]
dataset = "nba/schedule"
events = "$.games[*]"
id = "gameId"
start = "startTime"

[scrapers.pbp]
source = "up"
path = "/t/pbp/{{game_id}}"
no_data = {{ status = [404] }}
for_each = {{ calendar = "games", param = "game_id" }}
expected_within = {{ after_event_start = "6h", deadline = "48h" }}
recheck = "2h"

[scrapers.box]
source = "up"
path = "/t/box/{{game_id}}"
no_data = {{ status = [404] }}
for_each = {{ calendar = "games", param = "game_id" }}
lockout = {{ after = 3, for = "24h" }}

[workflows.sched]
scrapers = ["schedule"]

[workflows.late]
scrapers = ["pbp"]

[workflows.boxes]
scrapers = ["box"]
"#
    )
}

struct H {
    sim: UpstreamSim,
    _dir: tempfile::TempDir,
    engine: Engine,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

/// 2026-11-28 20:00 EST.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

async fn harness() -> H {
    harness_with(|_| {}).await
}

/// A harness whose loaded plan is changed by `adjust` first: for values
/// the config loader refuses, to show the code behind it holds anyway.
async fn harness_with(adjust: impl FnOnce(&mut rebound_domain::plan::Plan)) -> H {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rebound.toml");
    let mut plan = rebound_config::load_str(&config(&sim.base_url()), &path, &|_| None).unwrap();
    adjust(&mut plan);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(start()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, dyn_clock);
    H {
        sim,
        _dir: tmp,
        engine,
        store,
        clock,
    }
}

/// Games g1 (19:00 EST on the 28th) and g2; `version` changes the payload.
fn schedule(version: u32) -> Reply {
    Reply::json(
        200,
        json!({"version": version, "games": [
            {"gameId": "g1", "startTime": "2026-11-28T19:00:00-05:00"},
            {"gameId": "g2", "startTime": "2026-11-28T19:30:00-05:00"},
        ]}),
    )
}

async fn run(h: &H, workflow: &str) -> RunReport {
    h.engine
        .run_workflow(workflow, day(), &BTreeMap::new())
        .await
        .unwrap()
}

fn call<'a>(report: &'a RunReport, game: &str) -> &'a rebound_engine::CallReport {
    report
        .calls
        .iter()
        .find(|c| c.params.get("game_id").map(String::as_str) == Some(game))
        .unwrap_or_else(|| panic!("no call for {game}: {:?}", report.calls))
}

#[tokio::test]
async fn late_data_is_not_a_failure_before_the_deadline_and_overdue_after() {
    let h = harness().await;
    h.sim.script("/t/schedule", vec![schedule(1)]);
    assert_eq!(run(&h, "sched").await.status, WorkflowStatus::Success);

    // 1 h after tip-off: nothing yet (the default route answers 404).
    let first = run(&h, "late").await;
    assert_eq!(first.status, WorkflowStatus::NoData, "not failed");
    assert_eq!(first.counts.not_yet_available, 2);
    assert_eq!(first.counts.failures(), 0);
    assert_eq!(first.error_message, None, "not counted as a failure");
    let g1 = call(&first, "g1");
    assert_eq!(g1.status, ScraperStatus::NotYetAvailable);
    assert_eq!(
        g1.message.as_deref().unwrap(),
        "not yet available: expected by 2026-11-29 01:00 EST (6h after the 19:00 event start, \
         deadline 2d: 2026-11-30 19:00 EST); re-check at 2026-11-28 22:00 EST; last answer: no data: HTTP 404 is listed in no_data.status"
    );
    let recheck = start() + chrono::Duration::hours(2);
    assert_eq!(first.recheck_at, Some(recheck));
    assert_eq!(
        first.recheck_entities,
        Some(vec!["g1".to_string(), "g2".to_string()])
    );
    let rows = h
        .store
        .scraper_calls_for_execution(&first.execution_id)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r.status == "not_yet_available"),
        "{rows:?}"
    );
    let runs = h.store.recent_workflow_executions(1).await.unwrap();
    assert_eq!(runs[0].status, "no_data");
    assert_eq!(runs[0].scrapers_failed, 0);

    // The re-check: g1's data has arrived, g2's not.
    h.clock.advance(Duration::from_secs(2 * 3600));
    h.sim.script(
        "/t/pbp/g1",
        vec![Reply::json(200, json!({"actions": [1, 2]}))],
    );
    let second = run(&h, "late").await;
    assert_eq!(call(&second, "g1").status, ScraperStatus::Success);
    assert_eq!(call(&second, "g2").status, ScraperStatus::NotYetAvailable);
    assert_eq!(second.status, WorkflowStatus::Success);
    assert_eq!(second.recheck_entities, Some(vec!["g2".to_string()]));

    // At g2's deadline (48 h after its 19:30 start): overdue, a failure.
    let g2_deadline =
        Utc.with_ymd_and_hms(2026, 11, 29, 0, 30, 0).unwrap() + chrono::Duration::hours(48);
    h.clock
        .advance((g2_deadline - h.clock.now()).to_std().unwrap());
    h.sim.script(
        "/t/pbp/g1",
        vec![Reply::json(200, json!({"actions": [1, 2]}))],
    );
    let last = run(&h, "late").await;
    let g2 = call(&last, "g2");
    assert_eq!(g2.status, ScraperStatus::Overdue);
    assert_eq!(
        g2.message.as_deref().unwrap(),
        "overdue: expected by 2026-11-29 01:30 EST (6h after the 19:30 event start, deadline 2d: \
         2026-11-30 19:30 EST); still no data at 2026-11-30 19:30 EST; last answer: no data: HTTP 404 is listed in no_data.status"
    );
    assert_eq!(last.status, WorkflowStatus::Partial);
    assert_eq!(last.recheck_at, None);
    assert!(
        last.error_message
            .as_deref()
            .unwrap()
            .starts_with("pbp (game_id=g2): overdue: expected by"),
        "{:?}",
        last.error_message
    );
    let runs = h.store.recent_workflow_executions(1).await.unwrap();
    assert_eq!(runs[0].scrapers_failed, 1);
}

fn locked_call(report: &RunReport, game: &str) -> bool {
    let c = call(report, game);
    c.status == ScraperStatus::Skipped && c.error_kind == Some(ErrorKind::LockedOut)
}

#[tokio::test]
async fn three_no_data_in_a_row_lock_an_entity_until_new_data_expiry_or_reset() {
    let h = harness().await;
    h.sim.script("/t/schedule", vec![schedule(1)]);
    run(&h, "sched").await;
    let ok = || Reply::json(200, json!({"box": true}));

    // g1 has no data three times in a row; g2 is fine.
    for n in 1..=3 {
        h.sim.script("/t/box/g2", vec![ok()]);
        let report = run(&h, "boxes").await;
        assert_eq!(call(&report, "g1").status, ScraperStatus::NoData, "run {n}");
        h.clock.advance(Duration::from_secs(3600));
    }
    let locks = h.store.open_lockouts(Some("box")).await.unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].entity, "g1");
    assert_eq!(locks[0].consecutive, 3);
    assert_eq!(locks[0].until, start() + chrono::Duration::hours(2 + 24));
    assert!(
        locks[0]
            .reason
            .starts_with("3 consecutive no_data/failures (last: no_data")
    );

    // The next run skips g1, says why, and is not failed.
    h.sim.script("/t/box/g2", vec![ok()]);
    let skipped = run(&h, "boxes").await;
    assert!(locked_call(&skipped, "g1"));
    assert_eq!(
        call(&skipped, "g1").message.as_deref().unwrap(),
        "game_id=g1 locked out since 2026-11-28 22:00 EST after 3 consecutive no_data/failures; \
         unlocks at 2026-11-29 22:00 EST or when nba/schedule changes"
    );
    assert_eq!(skipped.status, WorkflowStatus::Success);
    assert_eq!(skipped.counts.locked_out, 1);
    assert_eq!(skipped.fanout[0].note.as_deref(), Some("1 locked out"));
    assert_eq!(h.sim.request_count("/t/box/g1"), 3, "no call while locked");

    // A new calendar payload (another hash) releases it at once.
    h.sim.script("/t/schedule", vec![schedule(2)]);
    run(&h, "sched").await;
    h.sim.script("/t/box/g2", vec![ok()]);
    let released = run(&h, "boxes").await;
    assert_eq!(call(&released, "g1").status, ScraperStatus::NoData);
    assert_eq!(h.sim.request_count("/t/box/g1"), 4);
    assert!(h.store.open_lockouts(Some("box")).await.unwrap().is_empty());

    // Its streak restarted: two more no_data lock it again, not one.
    h.clock.advance(Duration::from_secs(60));
    h.sim.script("/t/box/g2", vec![ok()]);
    run(&h, "boxes").await;
    assert!(h.store.open_lockouts(Some("box")).await.unwrap().is_empty());
    h.clock.advance(Duration::from_secs(60));
    h.sim.script("/t/box/g2", vec![ok()]);
    run(&h, "boxes").await;
    let again = h.store.open_lockouts(Some("box")).await.unwrap();
    assert_eq!(again.len(), 1);

    // Expiry releases it: 24 h later g1 is called again.
    h.clock.advance(Duration::from_secs(24 * 3600));
    h.sim.script("/t/box/g1", vec![ok()]);
    h.sim.script("/t/box/g2", vec![ok()]);
    let expired = run(&h, "boxes").await;
    assert_eq!(call(&expired, "g1").status, ScraperStatus::Success);
    assert!(h.store.open_lockouts(Some("box")).await.unwrap().is_empty());

    // A reset releases a lock too.
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(60));
        h.sim.script("/t/box/g2", vec![ok()]);
        run(&h, "boxes").await;
    }
    assert_eq!(h.store.open_lockouts(Some("box")).await.unwrap().len(), 1);
    let n = h
        .store
        .release_lockouts("box", Some("g1"), h.clock.now(), "reset by operator")
        .await
        .unwrap();
    assert_eq!(n, 1);
    h.sim.script("/t/box/g2", vec![ok()]);
    let after_reset = run(&h, "boxes").await;
    assert_eq!(call(&after_reset, "g1").status, ScraperStatus::NoData);
}

#[tokio::test]
async fn an_entity_s_own_successful_call_releases_its_lock() {
    let h = harness().await;
    h.sim.script("/t/schedule", vec![schedule(1)]);
    run(&h, "sched").await;
    let ok = || Reply::json(200, json!({"box": true}));
    for _ in 0..3 {
        h.sim.script("/t/box/g2", vec![ok()]);
        run(&h, "boxes").await;
        h.clock.advance(Duration::from_secs(3600));
    }
    assert_eq!(h.store.open_lockouts(Some("box")).await.unwrap().len(), 1);

    // g1's data arrives and a call made outside the fan-out's gate (here
    // `rebound scrape box --param game_id=g1`) collects it: the lock lifts
    // at once, with the schedule unchanged and the lock far from expiry.
    h.sim.script("/t/box/g1", vec![ok()]);
    let params = BTreeMap::from([("game_id".to_string(), "g1".to_string())]);
    let direct = h.engine.run_scraper("box", day(), &params).await.unwrap();
    assert_eq!(direct.status, ScraperStatus::Success);
    assert!(h.store.open_lockouts(Some("box")).await.unwrap().is_empty());
    let db = format!("sqlite://{}", h._dir.path().join("history.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let (released_at, reason): (String, String) = sqlx::query_as(
        "SELECT released_at, released_reason FROM entity_lockouts WHERE entity = 'g1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        released_at.starts_with("2026-11-29T04:00:00"),
        "{released_at}"
    );
    assert_eq!(
        reason,
        format!("game_id=g1 collected by call {}", direct.id)
    );

    // The next fan-out calls g1 again; a no_data does not re-lock it (its
    // streak restarted with the release).
    h.sim.script("/t/box/g2", vec![ok()]);
    let next = run(&h, "boxes").await;
    assert_eq!(call(&next, "g1").status, ScraperStatus::NoData);
    assert_eq!(h.sim.request_count("/t/box/g1"), 5);
    assert!(h.store.open_lockouts(Some("box")).await.unwrap().is_empty());

    // A no_data or failed call of a locked entity does not release it.
    for _ in 0..2 {
        h.clock.advance(Duration::from_secs(60));
        h.sim.script("/t/box/g2", vec![ok()]);
        run(&h, "boxes").await;
    }
    assert_eq!(h.store.open_lockouts(Some("box")).await.unwrap().len(), 1);
    let missing = h.engine.run_scraper("box", day(), &params).await.unwrap();
    assert_eq!(missing.status, ScraperStatus::NoData);
    assert_eq!(h.store.open_lockouts(Some("box")).await.unwrap().len(), 1);
}

/// `lockout.for` is bounded at load (docs/resilience.md), but the lock's
/// end is computed with saturating arithmetic all the same: a lock longer
/// than any date ends at the last representable instant, and the skip
/// message still renders, instead of `DateTime + TimeDelta` panicking.
#[tokio::test]
async fn a_lockout_beyond_any_date_locks_until_the_last_instant_without_panicking() {
    let h = harness_with(|plan| {
        let lockout = plan
            .scrapers
            .get_mut("box")
            .and_then(|s| s.lockout.as_mut())
            .expect("box has a lockout");
        lockout.duration = Duration::MAX;
    })
    .await;
    h.sim.script("/t/schedule", vec![schedule(1)]);
    run(&h, "sched").await;
    for _ in 1..=3 {
        h.sim
            .script("/t/box/g2", vec![Reply::json(200, json!({"box": true}))]);
        run(&h, "boxes").await;
        h.clock.advance(Duration::from_secs(3600));
    }
    let locks = h.store.open_lockouts(Some("box")).await.unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    // The last instant chrono knows, stored as the end of year 9999 (the
    // SQLite backend's latest time, docs in its codec).
    assert_eq!(
        locks[0].until,
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap()
            + chrono::Duration::milliseconds(999)
    );
    h.sim
        .script("/t/box/g2", vec![Reply::json(200, json!({"box": true}))]);
    let skipped = run(&h, "boxes").await;
    assert!(locked_call(&skipped, "g1"));
    let message = call(&skipped, "g1").message.clone().unwrap();
    assert!(message.contains("locked out since"), "{message}");
}

/// A 429 whose Retry-After is past the inline wait limit defers the call
/// (recorded failed, kind `throttled`, retry stored): about the source's
/// rate, not the entity, so three in a row lock nothing; the entity's own
/// no_data calls still do.
#[tokio::test]
async fn throttled_calls_do_not_lock_an_entity() {
    let h = harness().await;
    h.sim.script("/t/schedule", vec![schedule(1)]);
    run(&h, "sched").await;
    let ok = || Reply::json(200, json!({"box": true}));
    let throttled = || Reply::status(429).header("Retry-After", "600");
    for n in 1..=3 {
        h.sim.script("/t/box/g1", vec![throttled()]);
        h.sim.script("/t/box/g2", vec![ok()]);
        let report = run(&h, "boxes").await;
        let g1 = call(&report, "g1");
        assert_eq!(g1.status, ScraperStatus::Failed, "run {n}");
        assert_eq!(g1.error_kind, Some(ErrorKind::Throttled), "run {n}");
        // Past the pause (and the stored retry's time) before the next run.
        h.clock.advance(Duration::from_secs(3600));
    }
    let locks = h.store.open_lockouts(Some("box")).await.unwrap();
    assert!(locks.is_empty(), "deferrals locked: {locks:?}");

    // Three no_data answers of its own still lock it.
    for _ in 1..=3 {
        h.sim.script("/t/box/g2", vec![ok()]);
        run(&h, "boxes").await;
        h.clock.advance(Duration::from_secs(3600));
    }
    let locks = h.store.open_lockouts(Some("box")).await.unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].entity, "g1");
}
