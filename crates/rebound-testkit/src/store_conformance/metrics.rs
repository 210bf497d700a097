//! Checks of the scrape-time reads behind `/metrics` ([`MetricsStore`]).
//!
//! The rows live in 1990–1992, years no other check uses, so counting
//! "due by 1991" sees only this check's runs even on a shared store.

use super::{Tag, date, ts};
use chrono::{DateTime, Utc};
use rebound_storage::{NewScheduledRun, Store};
use std::time::Duration;

/// Runs every metrics check on `store`.
pub async fn run_all(store: &dyn Store) {
    count_due_runs_counts_only_queued_runs_that_are_due(store).await;
}

fn run(tag: &Tag, id: &str, at: DateTime<Utc>) -> NewScheduledRun {
    NewScheduledRun {
        run_id: tag.name(&format!("run_{id}")),
        workflow_name: tag.name("wf"),
        target_date: date("1990-01-01"),
        slot: id.to_string(),
        params: "{}".to_string(),
        entities: "null".to_string(),
        run_at: at,
        scheduled_for: at,
        execution_id: tag.name(&format!("exec_{id}")),
        decision_id: None,
        created_at: at,
    }
}

async fn due(store: &dyn Store, now: DateTime<Utc>) -> u64 {
    store
        .count_due_runs(now)
        .await
        .unwrap_or_else(|e| panic!("count_due_runs: {e}"))
}

/// Queued runs with `run_at <= now` count (the bound is inclusive); a run
/// due later does not; a claimed (running) or finished run does not.
pub async fn count_due_runs_counts_only_queued_runs_that_are_due(store: &dyn Store) {
    let tag = Tag::new();
    let now = ts("1991-01-01T00:00:00.000Z");
    let march = ts("1990-03-01T00:00:00.000Z");
    let later = ts("1992-01-01T00:00:00.000Z");
    let before = due(store, now).await;
    let before_march = due(store, march).await;
    let before_later = due(store, later).await;
    for (id, at) in [
        ("a", ts("1990-01-01T05:00:00.000Z")),
        ("b", ts("1990-06-01T05:00:00.000Z")),
        ("c", now),
        ("later", later),
    ] {
        assert!(
            store
                .enqueue_run(&run(&tag, id, at))
                .await
                .expect("enqueue_run"),
            "slot {id} must be new"
        );
    }
    assert_eq!(due(store, now).await, before + 3, "a, b and c are due");
    assert_eq!(
        due(store, march).await,
        before_march + 1,
        "only a is due by March 1990"
    );

    let worker = tag.name("worker");
    let claimed = store
        .claim_run(&worker, now, Duration::from_secs(60))
        .await
        .expect("claim_run")
        .expect("a due run to claim");
    assert_eq!(
        due(store, now).await,
        before + 2,
        "a running run is not queued"
    );
    store
        .finish_run(&claimed.run_id, &worker, now, "success", None)
        .await
        .expect("finish_run");
    assert_eq!(
        due(store, now).await,
        before + 2,
        "a finished run is not queued"
    );
    assert_eq!(
        due(store, later).await,
        before_later + 3,
        "at its run_at the later run is due too"
    );
}
