//! Two schedulers on one history, as `rebound serve --role scheduler` runs
//! on two machines of a PostgreSQL deployment (here both in one process on
//! SQLite, which makes the same decisions).

use super::{harness, local};
use chrono::{NaiveDate, TimeDelta};
use rebound_domain::clock::Clock as _;
use rebound_service::scheduler::Scheduler;
use rebound_storage::DecisionAction;
use std::sync::Arc;

const HOURLY: &str = r#"
[pipeline]
name = "two"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[sources.api]
base_url = "http://127.0.0.1:9/api"

[scrapers.prices]
source = "api"
path = "/prices"

[workflows.hourly]
scrapers = ["prices"]
schedule = { kind = "cron", cron = "0 * * * *" }
"#;

/// A first start runs nothing from the past, not even the slot of a few
/// seconds ago; a second scheduler started a second later must not run it
/// either. It used to: it saw the first one's decision, took itself for a
/// scheduler that had slept through the 05:00 slot, and ran it.
#[tokio::test]
async fn a_second_scheduler_started_just_after_the_first_does_not_run_the_slot_it_passed_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let date = NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
    let start = local(date, 5, 0) + TimeDelta::seconds(55);
    let h = harness(dir.path(), HOURLY, start).await;
    let clock: Arc<dyn rebound_domain::clock::Clock> = h.clock.clone();
    let second = Scheduler::new(
        h.engine.clone(),
        clock,
        "test:second-scheduler".into(),
        Arc::new(tokio::sync::Notify::new()),
    );

    let first = h.scheduler.tick().await.expect("first tick");
    assert!(
        first
            .decisions
            .iter()
            .all(|d| d.action != DecisionAction::Run),
        "a first start runs nothing from the past: {:#?}",
        first.decisions
    );
    h.clock.advance(std::time::Duration::from_secs(1));
    let then = second.tick().await.expect("second scheduler's tick");
    assert!(
        then.decisions
            .iter()
            .all(|d| d.action != DecisionAction::Run),
        "the second scheduler ran a slot the first start passed over: {:#?}",
        then.decisions
    );
    let queued = h
        .engine
        .store()
        .scheduled_runs(None, 10)
        .await
        .expect("runs");
    assert!(queued.is_empty(), "{queued:#?}");

    // The next slot runs on time, once, whichever scheduler gets it.
    h.clock.advance(std::time::Duration::from_secs(3600 - 56));
    assert_eq!(h.clock.now(), local(date, 6, 0));
    let on_time = second.tick().await.expect("tick at 06:00");
    let runs: Vec<_> = on_time
        .decisions
        .iter()
        .filter(|d| d.action == DecisionAction::Run)
        .map(|d| (d.slot.as_str(), d.queued))
        .collect();
    assert_eq!(runs, [("06:00", true)]);
    let again = h.scheduler.tick().await.expect("first scheduler at 06:00");
    assert!(
        again.decisions.iter().all(|d| !d.queued),
        "{:#?}",
        again.decisions
    );
}
