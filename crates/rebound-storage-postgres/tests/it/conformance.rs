//! The shared Store conformance suite, one test per check so a failure
//! names the rule that broke, plus the whole suite on one store to show the
//! checks do not depend on an empty database.

use crate::with_store;
use rebound_testkit::store_conformance;

macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        // Several worker threads, so concurrent calls really race.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move { store_conformance::$check(&*store).await }).await;
        }
    )*};
}

conformance_tests!(
    backend_is_named,
    scraper_call_round_trip,
    timestamps_keep_milliseconds,
    standalone_calls_newest_first,
    workflow_execution_round_trip,
    recording_an_execution_again_finishes_it_in_place,
    recent_workflow_executions_newest_first,
    calls_for_execution_in_id_order,
    last_payload_picks_newest_matching_call,
    attempts_come_back_in_attempt_order,
    failed_write_leaves_nothing_behind,
    concurrent_calls_land_with_distinct_ids,
    bad_call_does_not_sink_concurrent_ones,
    paginated_call_keeps_its_pages_and_record_count,
    call_outputs_are_listed_by_position,
    last_validators_come_from_the_newest_success,
    attempts_keep_their_proxy_and_are_found_by_it,
    a_checkpoint_loses_nothing_recorded,
    a_backup_is_a_database_file_or_names_pg_dump,
);

/// The scheduler's checks (`store_conformance::scheduler`), one test each.
macro_rules! scheduler_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::scheduler::$check(&*store).await
            })
            .await;
        }
    )*};
}

scheduler_tests!(
    run_decision_claims_its_slot_once,
    concurrent_decisions_queue_one_run,
    enqueue_run_round_trip,
    concurrent_claimers_take_each_run_once,
    future_runs_are_not_claimable,
    next_run_at_is_the_earliest_later_queued_run,
    queueing_a_run_wakes_subscribers,
    lease_updates_need_the_owner,
    finish_run_stores_the_error_of_a_run_that_could_not_start,
    expired_leases_are_requeued_then_abandoned,
    lease_horizon_is_exclusive,
    collected_values_are_distinct_successes,
    latest_payload_picks_newest_success_with_uri,
    executions_for_date_oldest_first,
    slot_history_joins_decisions_and_runs,
);

/// The entity-lockout checks (`store_conformance::lockouts`), one test each.
macro_rules! lockout_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::lockouts::$check(&*store).await
            })
            .await;
        }
    )*};
}

lockout_tests!(
    lockout_round_trip_one_open_per_entity,
    release_by_entity_or_all,
    entity_streak_counts_back_and_restarts_after_release,
);

/// The health report's reads (`store_conformance::health`), one test each.
macro_rules! health_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::health::$check(&*store).await
            })
            .await;
        }
    )*};
}

health_tests!(
    call_counts_group_the_period_by_scraper_source_and_status,
    scraper_last_finds_newest_success_error_and_streak,
    source_last_says_since_when_it_fails,
    fresh_payload_ignores_empty_unchanged_and_no_data,
    workflow_days_and_streak,
    error_coverage_and_retries_count_the_period,
    first_calls_are_each_scrapers_oldest_start,
);

/// The circuit breaker checks (`store_conformance::breakers`), one test each.
macro_rules! breaker_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::breakers::$check(&*store).await
            })
            .await;
        }
    )*};
}

breaker_tests!(
    breaker_state_round_trip,
    concurrent_half_open_admits_one_probe,
    reset_closes_and_records_a_transition,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_on_one_store() {
    with_store(|store| async move { store_conformance::run_all(&*store).await }).await;
}

/// The request-quota checks (`store_conformance::quota`), one test each.
macro_rules! quota_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::quota::$check(&*store).await
            })
            .await;
        }
    )*};
}

quota_tests!(
    quota_takes_until_the_limit_then_refuses,
    quota_settle_adjusts_and_reported_zero_refuses,
    quota_warning_is_marked_once_per_period,
    concurrent_quota_takes_never_pass_the_limit,
);

/// The checks of the reads behind `/metrics` (`store_conformance::metrics`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn count_due_runs_counts_only_queued_runs_that_are_due() {
    with_store(|store| async move {
        store_conformance::metrics::count_due_runs_counts_only_queued_runs_that_are_due(&*store)
            .await
    })
    .await;
}

/// The retention checks (`store_conformance::retention`), one test each.
macro_rules! retention_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::retention::$check(&*store).await
            })
            .await;
        }
    )*};
}

retention_tests!(
    expired_calls_page_oldest_first_and_delete_with_attempts,
    oldest_kept_payload_is_the_first_surviving_one,
    purge_batches_are_bounded_and_keep_young_rows,
    bulk_insert_round_trips_and_moves_the_id_sequence,
);

/// The shared rate limit, pause and retry budget checks
/// (`store_conformance::limits`), one test each.
macro_rules! limits_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::limits::$check(&*store).await
            })
            .await;
        }
    )*};
}

limits_tests!(
    limits_slots_are_spaced_by_the_interval,
    limits_pause_is_never_shortened_and_holds_slots,
    concurrent_slot_takers_get_distinct_spaced_slots,
    limits_retry_budget_is_counted_per_window,
    concurrent_retry_takers_never_pass_the_budget,
);

/// Run rows while they run (`store_conformance::runs`), one test each.
macro_rules! runs_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::runs::$check(&*store).await
            })
            .await;
        }
    )*};
}

runs_tests!(
    a_run_row_is_running_from_its_start_and_finished_in_place,
    a_dead_runs_row_is_closed_only_under_its_owner_with_its_call_counts,
    a_run_that_could_not_start_gets_a_failed_row_with_its_kind,
    a_date_is_claimed_by_one_run_until_it_fails,
);

/// The hand-off outbox (`store_conformance::events`), one test each.
macro_rules! events_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::events::$check(&*store).await
            })
            .await;
        }
    )*};
}

events_tests!(
    event_lands_with_its_call,
    failed_call_leaves_no_event_and_failed_event_leaves_no_call,
    claims_keep_each_datasets_order,
    acknowledgements_move_states_forward_only,
    reconciler_redelivers_once_then_marks_unacknowledged,
    storm_guard_redelivers_nothing,
    summary_and_replay_reads,
);

/// The dashboard's reads (`store_conformance::dashboard`), one test each.
macro_rules! dashboard_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::dashboard::$check(&*store).await
            })
            .await;
        }
    )*};
}

dashboard_tests!(
    run_hours_count_runs_per_hour_and_status,
    call_hours_count_calls_and_failures_per_hour_and_source,
    filtered_runs_narrow_by_workflow_status_and_time,
    workflow_execution_finds_one_run_by_id,
    decisions_between_is_a_half_open_range,
);
