//! The shared Store conformance suite, one test per check so a failure
//! names the rule that broke, plus the whole suite on one store to show the
//! checks do not depend on an empty database.

use crate::fresh_store;
use rebound_testkit::store_conformance;

macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        // Several worker threads, so concurrent calls really race.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let (_dir, store) = fresh_store().await;
            store_conformance::$check(&store).await;
        }
    )*};
}

conformance_tests!(
    backend_is_named,
    scraper_call_round_trip,
    timestamps_keep_milliseconds,
    standalone_calls_newest_first,
    workflow_execution_round_trip,
    duplicate_workflow_execution_is_rejected,
    recent_workflow_executions_newest_first,
    calls_for_execution_in_id_order,
    last_payload_picks_newest_matching_call,
    attempts_come_back_in_attempt_order,
    failed_write_leaves_nothing_behind,
    concurrent_calls_land_with_distinct_ids,
    bad_call_does_not_sink_concurrent_ones,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_on_one_store() {
    let (_dir, store) = fresh_store().await;
    store_conformance::run_all(&store).await;
}
