//! `rebound backfill` run twice at once over the same dates: each date is
//! run by one of them, the other says which execution holds it.

use super::{config, day, harness, local, unstartable_harness};
use rebound_service::backfill::{BackfillStep, backfill};
use rebound_upstream_sim::UpstreamSim;
use std::collections::BTreeMap;

/// Before: both backfills read "no run for this date yet" before either
/// began its run, so every date ran twice (two `success` rows, every
/// request sent twice). The claim and the check are now one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_backfills_started_together_run_each_date_once() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let h = harness(dir.path(), &config(&sim.base_url(), ""), local(day(), 6, 0)).await;
    let clock: std::sync::Arc<dyn rebound_domain::clock::Clock> = h.clock.clone();
    let from = day() - chrono::Days::new(2);
    let params = BTreeMap::new();
    let over_the_range = |instance| {
        backfill(
            &h.engine,
            &clock,
            "morning",
            from,
            day(),
            &params,
            None,
            instance,
            |_| {},
        )
    };
    let (a, b) = tokio::join!(over_the_range("a"), over_the_range("b"));
    let (a, b) = (a.expect("first backfill"), b.expect("second backfill"));
    for (first, second) in a.iter().zip(&b) {
        let ran = [first, second]
            .iter()
            .filter(|s| matches!(s, BackfillStep::Ran { .. }))
            .count();
        assert_eq!(
            ran,
            1,
            "one of them runs {}: {first:?} {second:?}",
            first.date()
        );
        let runs = h
            .engine
            .store()
            .executions_for_date("morning", first.date())
            .await
            .expect("runs");
        assert_eq!(runs.len(), 1, "{runs:#?}");
        let held = [first, second]
            .into_iter()
            .find(|s| !matches!(s, BackfillStep::Ran { .. }))
            .expect("the other step");
        match held {
            BackfillStep::Running { execution_id, .. }
            | BackfillStep::Skipped { execution_id, .. } => {
                assert_eq!(execution_id, &runs[0].execution_id)
            }
            other => panic!("{other:?}"),
        }
    }
    let sent = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/nba/schedule")
        .count();
    assert_eq!(sent, 3, "one request per date");
    sim.shutdown().await;
}

/// A date whose run cannot start (here a scraper needs a `{team}` nobody
/// gives) is refused before it is claimed: no run row, which would count in
/// `health` and `workflow_failed` for a typo on the command line, and none
/// left `running` to hold the date against the next backfill. The claim
/// used to come first and leave a `running` row behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_whose_run_cannot_start_is_not_claimed() {
    let sim = UpstreamSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let h = unstartable_harness(dir.path(), &sim.base_url(), local(day(), 6, 0)).await;
    let clock: std::sync::Arc<dyn rebound_domain::clock::Clock> = h.clock.clone();
    let params = BTreeMap::new();
    let error = backfill(
        &h.engine,
        &clock,
        "rosters",
        day(),
        day(),
        &params,
        None,
        "a",
        |_| {},
    )
    .await
    .expect_err("the run cannot start");
    assert!(error.to_string().contains("team"), "{error}");
    let runs = h
        .engine
        .store()
        .executions_for_date("rosters", day())
        .await
        .expect("runs");
    assert!(runs.is_empty(), "{runs:#?}");
    sim.shutdown().await;
}
