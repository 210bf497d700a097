//! Run rows while they run (migration 0010 of both backends): a run's
//! `workflow_executions` row is written `running` at its start, owned and
//! heart-beaten, finished in place, and closed as failed when its process
//! died or it could not start, with the counts of its call rows.

use super::{Tag, find_execution, record, sample_call, sample_execution, ts};
use chrono::TimeDelta;
use rebound_domain::outcome::{ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_storage::{
    DateClaim, NewWorkflowExecution, PROCESS_EXITED, RunFailure, RunStart, Store,
};

/// Runs every check of this module.
pub async fn run_all(store: &dyn Store) {
    a_run_row_is_running_from_its_start_and_finished_in_place(store).await;
    a_dead_runs_row_is_closed_only_under_its_owner_with_its_call_counts(store).await;
    a_run_that_could_not_start_gets_a_failed_row_with_its_kind(store).await;
    a_date_is_claimed_by_one_run_until_it_fails(store).await;
}

fn start(tag: &Tag, name: &str, owner: &str) -> RunStart {
    let t0 = ts("2026-03-01T10:00:00.250Z");
    RunStart {
        execution_id: tag.name(name),
        workflow_name: tag.name("wf"),
        target_date: t0.date_naive(),
        started_at: t0,
        params: r#"{"team":"bos"}"#.to_string(),
        owner: owner.to_string(),
        heartbeat_until: t0 + TimeDelta::seconds(60),
    }
}

/// Begin writes `running` with owner and heartbeat; only the owner renews;
/// finishing replaces status and counts, keeps the first start, and takes
/// the row out of the running ones (a renewal after it fails).
pub async fn a_run_row_is_running_from_its_start_and_finished_in_place(store: &dyn Store) {
    let tag = Tag::new();
    let begin = start(&tag, "live", "host-a:42");
    store
        .begin_workflow_execution(&begin)
        .await
        .expect("begin_workflow_execution");
    let row = find_execution(store, &begin.execution_id).await;
    assert_eq!(row.status, "running");
    assert_eq!(row.scrapers_requested, 0);
    assert_eq!(row.execution_time, begin.started_at);
    assert_eq!(row.error_kind, None);
    let running = store
        .running_executions()
        .await
        .expect("running_executions");
    let mine = running
        .iter()
        .find(|r| r.execution_id == begin.execution_id)
        .expect("listed as running");
    assert_eq!(mine.owner.as_deref(), Some("host-a:42"));
    assert_eq!(mine.heartbeat_until, Some(begin.heartbeat_until));
    assert_eq!(mine.workflow_name, begin.workflow_name);

    let later = begin.heartbeat_until + TimeDelta::seconds(30);
    assert!(
        !store
            .renew_workflow_execution(&begin.execution_id, "host-b:7", later)
            .await
            .expect("renew"),
        "only the owner renews"
    );
    assert!(
        store
            .renew_workflow_execution(&begin.execution_id, "host-a:42", later)
            .await
            .expect("renew")
    );
    let running = store
        .running_executions()
        .await
        .expect("running_executions");
    let mine = running
        .iter()
        .find(|r| r.execution_id == begin.execution_id)
        .expect("still running");
    assert_eq!(mine.heartbeat_until, Some(later));

    // A rescue finishing later: the row is finished in place, one row, its
    // first start kept.
    let mut done = sample_execution(&tag, "live", begin.started_at + TimeDelta::seconds(90));
    done.status = WorkflowStatus::Partial;
    done.scrapers_failed = 1;
    done.scrapers_succeeded = 1;
    done.error_message = Some("b: HTTP 503".to_string());
    store
        .record_workflow_execution(&done)
        .await
        .expect("record_workflow_execution finishes the running row");
    let row = find_execution(store, &begin.execution_id).await;
    assert_eq!(row.status, "partial");
    assert_eq!(
        row.execution_time, begin.started_at,
        "the first start is kept"
    );
    assert_eq!(
        row.duration_ms, 93_000,
        "the duration runs from the first start, not the rescue's own"
    );
    assert_eq!(row.scrapers_requested, 2);
    assert_eq!(row.scrapers_failed, 1);
    assert_eq!(row.error_message.as_deref(), Some("b: HTTP 503"));
    assert!(
        !store
            .running_executions()
            .await
            .expect("running_executions")
            .iter()
            .any(|r| r.execution_id == begin.execution_id)
    );
    assert!(
        !store
            .renew_workflow_execution(&begin.execution_id, "host-a:42", later)
            .await
            .expect("renew"),
        "a finished run is not renewed"
    );
}

/// Closing a dead run's row is guarded by its owner, counts its call rows
/// (overdue as failed, not_yet_available as no_data), and happens once.
pub async fn a_dead_runs_row_is_closed_only_under_its_owner_with_its_call_counts(
    store: &dyn Store,
) {
    let tag = Tag::new();
    let begin = start(&tag, "dead", "host-a:43");
    store
        .begin_workflow_execution(&begin)
        .await
        .expect("begin_workflow_execution");
    let t = begin.started_at;
    record(store, &sample_call(&tag, "a", Some(&begin.execution_id), t)).await;
    let mut failed = sample_call(&tag, "b", Some(&begin.execution_id), t);
    failed.status = ScraperStatus::Overdue;
    record(store, &failed).await;
    let mut late = sample_call(&tag, "c", Some(&begin.execution_id), t);
    late.status = ScraperStatus::NotYetAvailable;
    record(store, &late).await;

    let at = t + TimeDelta::milliseconds(4_500);
    let mut close = RunFailure {
        execution_id: begin.execution_id.clone(),
        workflow_name: begin.workflow_name.clone(),
        target_date: begin.target_date,
        at,
        error_kind: ErrorKind::Internal,
        message: PROCESS_EXITED.to_string(),
        params: "{}".to_string(),
        only_running_owner: Some("host-b:1".to_string()),
    };
    assert!(
        !store.record_run_failure(&close).await.expect("close"),
        "another owner's run is left alone"
    );
    assert_eq!(
        find_execution(store, &begin.execution_id).await.status,
        "running"
    );
    close.only_running_owner = Some("host-a:43".to_string());
    assert!(store.record_run_failure(&close).await.expect("close"));
    let row = find_execution(store, &begin.execution_id).await;
    assert_eq!(row.status, "failed");
    assert_eq!(row.error_kind.as_deref(), Some("internal"));
    assert_eq!(row.error_message.as_deref(), Some(PROCESS_EXITED));
    assert_eq!(row.finished_at, at);
    assert_eq!(row.duration_ms, 4_500);
    assert_eq!(row.execution_time, begin.started_at);
    assert_eq!(
        (
            row.scrapers_requested,
            row.scrapers_succeeded,
            row.scrapers_failed,
            row.scrapers_no_data,
            row.scrapers_skipped
        ),
        (3, 1, 1, 1, 0)
    );
    assert!(
        !store.record_run_failure(&close).await.expect("close"),
        "closed once"
    );
    assert!(
        !store
            .running_executions()
            .await
            .expect("running_executions")
            .iter()
            .any(|r| r.execution_id == begin.execution_id)
    );
    // Requeued and taken again under the same execution id: running, with
    // neither the kind nor (before: still set) the message of the close.
    let again = start(&tag, "dead", "host-c:44");
    store
        .begin_workflow_execution(&again)
        .await
        .expect("begin_workflow_execution");
    let row = find_execution(store, &begin.execution_id).await;
    assert_eq!(row.status, "running");
    assert_eq!((row.error_kind, row.error_message), (None, None));
}

/// A run that never started gets a failed row with its kind and reason;
/// an existing row (a rescue that then could not run) is failed in place.
pub async fn a_run_that_could_not_start_gets_a_failed_row_with_its_kind(store: &dyn Store) {
    let tag = Tag::new();
    let at = ts("2026-03-02T06:00:00Z");
    let failure = RunFailure {
        execution_id: tag.name("refused"),
        workflow_name: tag.name("wf"),
        target_date: at.date_naive(),
        at,
        error_kind: ErrorKind::Config,
        message: "scraper roster needs parameter {team}: pass --param team=VALUE".to_string(),
        params: "{}".to_string(),
        only_running_owner: None,
    };
    assert!(store.record_run_failure(&failure).await.expect("failure"));
    let row = find_execution(store, &failure.execution_id).await;
    assert_eq!(row.status, "failed");
    assert_eq!(row.error_kind.as_deref(), Some("config"));
    assert_eq!(row.error_message.as_deref(), Some(failure.message.as_str()));
    assert_eq!(row.execution_time, at);
    assert_eq!(row.finished_at, at);
    assert_eq!(row.scrapers_requested, 0);

    let again = RunFailure {
        at: at + TimeDelta::seconds(2),
        error_kind: ErrorKind::Internal,
        message: "run panicked: boom".to_string(),
        ..failure.clone()
    };
    assert!(store.record_run_failure(&again).await.expect("failure"));
    let row = find_execution(store, &failure.execution_id).await;
    assert_eq!(row.error_kind.as_deref(), Some("internal"));
    assert_eq!(row.error_message.as_deref(), Some("run panicked: boom"));
    assert_eq!(row.execution_time, at, "the first start is kept");
    assert_eq!(row.duration_ms, 2_000);
}

/// `claim_target_date` (`rebound backfill`): of eight claims of one date
/// at once, one writes its run's row and the others are told which run
/// holds the date; a failed run does not hold it, a collected one does.
/// Before the claim, two backfills both read the date free and both ran it.
pub async fn a_date_is_claimed_by_one_run_until_it_fails(store: &dyn Store) {
    let tag = Tag::new();
    // Several dates, eight claimers each: without the lock a race is lost
    // on one date in a few.
    let mut winners = Vec::new();
    for day in 0..6u64 {
        let starts: Vec<RunStart> = (0..8)
            .map(|i| {
                let s = start(&tag, &format!("claim{day}_{i}"), "host-a:42");
                RunStart {
                    target_date: s.target_date - chrono::Days::new(day),
                    ..s
                }
            })
            .collect();
        let claims: Vec<DateClaim> =
            futures::future::join_all(starts.iter().map(|s| store.claim_target_date(s)))
                .await
                .into_iter()
                .map(|c| c.expect("claim_target_date"))
                .collect();
        let won: Vec<&RunStart> = starts
            .iter()
            .zip(&claims)
            .filter(|(_, c)| **c == DateClaim::Claimed)
            .map(|(s, _)| s)
            .collect();
        assert_eq!(won.len(), 1, "one claim wins: {claims:?}");
        let winner = won[0].clone();
        for claim in claims.iter().filter(|c| **c != DateClaim::Claimed) {
            assert_eq!(
                claim,
                &DateClaim::Running {
                    execution_id: winner.execution_id.clone()
                }
            );
        }
        let row = find_execution(store, &winner.execution_id).await;
        assert_eq!(row.status, "running");
        let all = store
            .executions_for_date(&winner.workflow_name, winner.target_date)
            .await
            .expect("executions_for_date");
        assert_eq!(all.len(), 1, "the losers wrote nothing: {all:#?}");
        winners.push(winner);
    }
    let winner = &winners[0];

    // A failed run leaves the date free.
    let finished = |start: &RunStart, status: WorkflowStatus| NewWorkflowExecution {
        execution_id: start.execution_id.clone(),
        workflow_name: start.workflow_name.clone(),
        target_date: start.target_date,
        execution_time: start.started_at,
        finished_at: start.started_at + TimeDelta::seconds(5),
        status,
        scrapers_requested: 1,
        scrapers_succeeded: u32::from(status == WorkflowStatus::Success),
        scrapers_failed: u32::from(status == WorkflowStatus::Failed),
        scrapers_no_data: 0,
        scrapers_skipped: 0,
        error_message: None,
        duration_ms: 5_000,
        params: start.params.clone(),
    };
    store
        .record_workflow_execution(&finished(winner, WorkflowStatus::Failed))
        .await
        .expect("record_workflow_execution");
    let again = start(&tag, "again", "host-b:7");
    assert_eq!(
        store.claim_target_date(&again).await.expect("claim"),
        DateClaim::Claimed
    );
    store
        .record_workflow_execution(&finished(&again, WorkflowStatus::Success))
        .await
        .expect("record_workflow_execution");
    // A collected date is held by the run that collected it.
    let third = start(&tag, "third", "host-b:7");
    assert_eq!(
        store.claim_target_date(&third).await.expect("claim"),
        DateClaim::Collected {
            execution_id: again.execution_id.clone(),
            status: "success".into()
        }
    );
    // Another date of the same workflow is free.
    let next_day = RunStart {
        target_date: third.target_date.succ_opt().expect("date"),
        ..third.clone()
    };
    assert_eq!(
        store.claim_target_date(&next_day).await.expect("claim"),
        DateClaim::Claimed
    );
}
