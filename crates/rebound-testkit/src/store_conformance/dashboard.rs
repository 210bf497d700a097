//! The dashboard's reads: runs and calls per UTC hour (the `Dashboard`
//! block of `Store`, issue 16), and the API's reads as the dashboard uses
//! them (runs filtered for the runs table, one run by id, one day of
//! decisions). Aggregates cover every row of a period, so each check works in
//! an hour range of its own far in the future (year 2700 on, placed by the
//! tag), where no other check writes.

use super::{Tag, record, sample_call, sample_execution, ts};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::outcome::{ScraperStatus, WorkflowStatus};
use rebound_storage::{
    AlertLevel, CallHourRow, DecisionAction, NewDecision, NewScraperCall, NewWorkflowExecution,
    RunFilter, RunHourRow, Store,
};
use std::hash::{Hash, Hasher};

/// Runs every check of this module.
pub async fn run_all(store: &dyn Store) {
    run_hours_count_runs_per_hour_and_status(store).await;
    call_hours_count_calls_and_failures_per_hour_and_source(store).await;
    filtered_runs_narrow_by_workflow_status_and_time(store).await;
    workflow_execution_finds_one_run_by_id(store).await;
    decisions_between_is_a_half_open_range(store).await;
}

/// The first instant of an hour range of this tag's own.
fn base(tag: &Tag) -> DateTime<Utc> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    tag.0.hash(&mut hasher);
    ts("2700-01-01T00:00:00Z") + TimeDelta::hours((hasher.finish() % 500_000) as i64 * 100)
}

fn run(tag: &Tag, name: &str, at: DateTime<Utc>, status: WorkflowStatus) -> NewWorkflowExecution {
    NewWorkflowExecution {
        status,
        ..sample_execution(tag, name, at)
    }
}

/// Runs fall in the hour of their start, whatever the minute; the range
/// is half-open (a run at `to` is out).
pub async fn run_hours_count_runs_per_hour_and_status(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = base(&tag);
    let runs = [
        run(
            &tag,
            "a",
            t0 + TimeDelta::minutes(1),
            WorkflowStatus::Success,
        ),
        run(
            &tag,
            "b",
            t0 + TimeDelta::minutes(59),
            WorkflowStatus::Success,
        ),
        run(
            &tag,
            "c",
            t0 + TimeDelta::minutes(30),
            WorkflowStatus::Failed,
        ),
        run(
            &tag,
            "d",
            t0 + TimeDelta::minutes(61),
            WorkflowStatus::Partial,
        ),
        run(&tag, "e", t0 + TimeDelta::hours(3), WorkflowStatus::Success),
        run(
            &tag,
            "early",
            t0 - TimeDelta::milliseconds(1),
            WorkflowStatus::Success,
        ),
    ];
    for r in &runs {
        store
            .record_workflow_execution(r)
            .await
            .expect("record_workflow_execution");
    }
    let hours = store
        .run_hours(t0, t0 + TimeDelta::hours(3))
        .await
        .expect("run_hours");
    let row = |hour: i64, status: &str, runs: i64| RunHourRow {
        hour: t0 + TimeDelta::hours(hour),
        status: status.to_string(),
        runs,
    };
    assert_eq!(
        hours,
        vec![
            row(0, "failed", 1),
            row(0, "success", 2),
            row(1, "partial", 1)
        ]
    );
}

/// Calls per hour and source; of them, the ones that made a request, and
/// failures being the `failed` calls that made one (a call deferred before
/// its request, `failed` with no attempt, is neither).
pub async fn call_hours_count_calls_and_failures_per_hour_and_source(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = base(&tag) + TimeDelta::milliseconds(250);
    let call = |source: &str, at: DateTime<Utc>, status: ScraperStatus| {
        let mut c = sample_call(&tag, "s", None, at);
        c.source_name = tag.name(source);
        c.status = status;
        if status == ScraperStatus::Failed {
            c.error_message = Some("HTTP 503 after 1 attempt: down".to_string());
        }
        if status == ScraperStatus::Skipped {
            no_request(&mut c);
        }
        c
    };
    // Deferred before its request: its source was paused by a Retry-After.
    let deferred = |mut c: NewScraperCall| {
        no_request(&mut c);
        c.error_message = Some("source paused until 10:00 (HTTP 429 with Retry-After)".to_string());
        c
    };
    for c in [
        call("a", t0, ScraperStatus::Success),
        call("a", t0 + TimeDelta::minutes(10), ScraperStatus::Failed),
        call("a", t0 + TimeDelta::minutes(20), ScraperStatus::NoData),
        call("b", t0 + TimeDelta::minutes(5), ScraperStatus::Failed),
        call("a", t0 + TimeDelta::hours(2), ScraperStatus::Skipped),
        deferred(call("a", t0 + TimeDelta::hours(2), ScraperStatus::Failed)),
        deferred(call("b", t0 + TimeDelta::hours(2), ScraperStatus::Failed)),
        call("a", t0 + TimeDelta::hours(5), ScraperStatus::Success),
    ] {
        record(store, &c).await;
    }
    let hours = store
        .call_hours(t0 - TimeDelta::hours(1), t0 + TimeDelta::hours(5))
        .await
        .expect("call_hours");
    let h0 = base(&tag);
    let row = |hour: i64, source: &str, calls: i64, requested: i64, failed: i64| CallHourRow {
        hour: h0 + TimeDelta::hours(hour),
        source_name: tag.name(source),
        calls,
        requested,
        failed,
    };
    assert_eq!(
        hours,
        vec![
            row(0, "a", 3, 3, 1),
            row(0, "b", 1, 1, 1),
            row(2, "a", 2, 0, 0),
            row(2, "b", 1, 0, 0),
        ]
    );
}

/// Every field of the filter narrows; newest first; the limit holds.
pub async fn filtered_runs_narrow_by_workflow_status_and_time(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = base(&tag);
    let mut other = run(
        &tag,
        "other",
        t0 + TimeDelta::hours(1),
        WorkflowStatus::Failed,
    );
    other.workflow_name = tag.name("other_wf");
    for r in [
        run(&tag, "r1", t0, WorkflowStatus::Success),
        run(&tag, "r2", t0 + TimeDelta::hours(1), WorkflowStatus::Failed),
        run(
            &tag,
            "r3",
            t0 + TimeDelta::hours(2),
            WorkflowStatus::Success,
        ),
        other,
    ] {
        store
            .record_workflow_execution(&r)
            .await
            .expect("record_workflow_execution");
    }
    let ids = |rows: Vec<rebound_storage::WorkflowExecutionRow>| -> Vec<String> {
        rows.into_iter().map(|r| r.execution_id).collect()
    };
    let workflow = RunFilter {
        workflow: Some(tag.name("wf")),
        ..RunFilter::default()
    };
    let all = store
        .workflow_executions_page(&workflow, 10)
        .await
        .expect("filtered");
    assert_eq!(ids(all), [tag.name("r3"), tag.name("r2"), tag.name("r1")]);
    let limited = store
        .workflow_executions_page(&workflow, 2)
        .await
        .expect("filtered");
    assert_eq!(ids(limited), [tag.name("r3"), tag.name("r2")]);
    let failed = RunFilter {
        status: Some("failed".to_string()),
        from: Some(t0),
        to: Some(t0 + TimeDelta::hours(3)),
        ..RunFilter::default()
    };
    let rows = store
        .workflow_executions_page(&failed, 10)
        .await
        .expect("filtered");
    // Equal times: by execution id, descending.
    assert_eq!(ids(rows), [tag.name("r2"), tag.name("other")]);
    let window = RunFilter {
        workflow: Some(tag.name("wf")),
        from: Some(t0 + TimeDelta::hours(1)),
        to: Some(t0 + TimeDelta::hours(2)),
        ..RunFilter::default()
    };
    let rows = store
        .workflow_executions_page(&window, 10)
        .await
        .expect("filtered");
    assert_eq!(ids(rows), [tag.name("r2")], "from inclusive, to exclusive");
}

/// A recorded run comes back whole; an unknown id is `None`.
pub async fn workflow_execution_finds_one_run_by_id(store: &dyn Store) {
    let tag = Tag::new();
    let mut r = run(&tag, "one", base(&tag), WorkflowStatus::Failed);
    r.error_message = Some("boxscores: HTTP 500 after 3 attempts: <b>oops</b>".to_string());
    store
        .record_workflow_execution(&r)
        .await
        .expect("record_workflow_execution");
    let found = store
        .workflow_execution(&r.execution_id)
        .await
        .expect("workflow_execution")
        .expect("found");
    assert_eq!(found.execution_id, r.execution_id);
    assert_eq!(found.status, "failed");
    assert_eq!(found.error_message, r.error_message);
    assert_eq!(found.execution_time, r.execution_time);
    let missing = store
        .workflow_execution(&tag.name("nope"))
        .await
        .expect("workflow_execution");
    assert_eq!(missing, None);
}

/// Decisions in `from..to`, oldest first: one at `to` is out.
pub async fn decisions_between_is_a_half_open_range(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = base(&tag);
    for (i, minutes) in [0, 30, 60, 120].into_iter().enumerate() {
        let decision = NewDecision {
            decision_id: tag.name(&format!("d{i}")),
            workflow_name: tag.name("wf"),
            decided_at: t0 + TimeDelta::minutes(minutes),
            slot: "window".to_string(),
            target_date: t0.date_naive(),
            action: DecisionAction::Skip,
            reason: format!("reason {i}"),
            entities: "[]".to_string(),
            alert_level: AlertLevel::None,
            execution_id: None,
            decided_by: "conformance".to_string(),
        };
        store
            .record_decision(&decision, None)
            .await
            .expect("record_decision");
    }
    let found: Vec<String> = store
        .decisions_between(None, t0, t0 + TimeDelta::hours(1))
        .await
        .expect("decisions_between")
        .into_iter()
        .filter(|d| d.workflow_name == tag.name("wf"))
        .map(|d| d.reason)
        .collect();
    assert_eq!(found, ["reason 0", "reason 1"]);
}

/// A call that made no request: no attempt, no answer.
fn no_request(c: &mut NewScraperCall) {
    c.attempts = 0;
    c.attempt_rows.clear();
    c.http_status = None;
    c.bytes = None;
    c.output_uri = None;
    c.content_hash = None;
}
