//! The reads of the JSON API (issue 16): pages of runs and calls, newest
//! first with keyset cursors and filters, one run by id, and the decisions
//! of a time range. Rows are tagged with the check's own workflow and
//! scraper names, so the filters keep other checks' rows out.

use super::{Tag, record, sample_call, sample_execution, ts};
use chrono::TimeDelta;
use rebound_domain::outcome::{ScraperStatus, WorkflowStatus};
use rebound_storage::{AlertLevel, CallFilter, DecisionAction, NewDecision, RunFilter, Store};

/// Runs every check of this module.
pub async fn run_all(store: &dyn Store) {
    runs_come_in_keyset_pages_newest_first_with_filters(store).await;
    calls_come_in_keyset_pages_newest_first_with_filters(store).await;
    decisions_between_keep_to_their_range(store).await;
}

/// Five runs, two of them at the same instant (ties broken by execution
/// id): pages of two walk all five in order with no repeat; status and
/// time filters narrow; an unknown execution id is `None`.
pub async fn runs_come_in_keyset_pages_newest_first_with_filters(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("2026-05-01T10:00:00.125Z");
    let starts = [0, 60, 60, 120, 180];
    let mut ids = Vec::new();
    for (i, offset) in starts.iter().enumerate() {
        let mut run = sample_execution(&tag, &format!("r{i}"), t0 + TimeDelta::seconds(*offset));
        if i == 3 {
            run.status = WorkflowStatus::Failed;
            run.error_message = Some("boom".into());
        }
        store
            .record_workflow_execution(&run)
            .await
            .expect("record_workflow_execution");
        ids.push(run.execution_id);
    }
    let workflow = tag.name("wf");
    let mut filter = RunFilter {
        workflow: Some(workflow.clone()),
        ..RunFilter::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store
            .workflow_executions_page(&filter, 2)
            .await
            .expect("workflow_executions_page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        filter.before = Some((last.execution_time, last.execution_id.clone()));
        seen.extend(page.iter().map(|r| r.execution_id.clone()));
    }
    // Newest first; the two at +60 s by execution id, descending.
    let expected = vec![
        ids[4].clone(),
        ids[3].clone(),
        ids[2].clone(),
        ids[1].clone(),
        ids[0].clone(),
    ];
    assert_eq!(seen, expected);

    let failed = store
        .workflow_executions_page(
            &RunFilter {
                workflow: Some(workflow.clone()),
                status: Some("failed".into()),
                ..RunFilter::default()
            },
            10,
        )
        .await
        .expect("by status");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].execution_id, ids[3]);
    assert_eq!(failed[0].error_message.as_deref(), Some("boom"));

    let window = store
        .workflow_executions_page(
            &RunFilter {
                workflow: Some(workflow.clone()),
                from: Some(t0 + TimeDelta::seconds(60)),
                to: Some(t0 + TimeDelta::seconds(180)),
                ..RunFilter::default()
            },
            10,
        )
        .await
        .expect("by time");
    let got: Vec<&str> = window.iter().map(|r| r.execution_id.as_str()).collect();
    assert_eq!(
        got,
        [&ids[3], &ids[2], &ids[1]],
        "from inclusive, to exclusive"
    );

    let one = store
        .workflow_execution(&ids[3])
        .await
        .expect("workflow_execution")
        .expect("found");
    assert_eq!(one.status, "failed");
    assert_eq!(one.execution_time, t0 + TimeDelta::seconds(120));
    assert!(
        store
            .workflow_execution(&tag.name("nope"))
            .await
            .expect("workflow_execution")
            .is_none()
    );
}

/// Calls page newest first by start time, ties by id (two calls start at
/// the same instant); scraper, status and time filters.
pub async fn calls_come_in_keyset_pages_newest_first_with_filters(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("2026-05-02T08:00:00.500Z");
    let mut ids = Vec::new();
    // Recorded out of start order, two at one instant: the order is by
    // start time, then id.
    for (i, minutes) in [0, 1, 1, 3, 2].into_iter().enumerate() {
        let mut call = sample_call(&tag, "pager", None, t0 + TimeDelta::minutes(minutes));
        if i == 1 {
            call.status = ScraperStatus::Failed;
        }
        ids.push(record(store, &call).await);
    }
    record(store, &sample_call(&tag, "other", None, t0)).await;
    let scraper = tag.name("pager");
    let mut filter = CallFilter {
        scraper: Some(scraper.clone()),
        ..CallFilter::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store
            .scraper_calls_page(&filter, 2)
            .await
            .expect("scraper_calls_page");
        let Some(last) = page.last() else { break };
        filter.before = Some((last.started_at, last.id));
        assert!(page.iter().all(|c| c.scraper_name == scraper));
        seen.extend(page.iter().map(|c| c.id));
    }
    assert_eq!(seen, [ids[3], ids[4], ids[2], ids[1], ids[0]]);

    let failed = store
        .scraper_calls_page(
            &CallFilter {
                scraper: Some(scraper.clone()),
                status: Some("failed".into()),
                ..CallFilter::default()
            },
            10,
        )
        .await
        .expect("by status");
    assert_eq!(failed.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[1]]);

    let window = store
        .scraper_calls_page(
            &CallFilter {
                scraper: Some(scraper),
                from: Some(t0 + TimeDelta::minutes(1)),
                to: Some(t0 + TimeDelta::minutes(3)),
                ..CallFilter::default()
            },
            10,
        )
        .await
        .expect("by time");
    assert_eq!(
        window.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ids[4], ids[2], ids[1]]
    );
}

/// Only decisions decided in `from..to`, of the workflow asked for.
pub async fn decisions_between_keep_to_their_range(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("2026-05-03T04:59:59.999Z");
    let workflow = tag.name("wf");
    for (i, offset) in [0, 1, 86_400_001].iter().enumerate() {
        let at = t0 + TimeDelta::milliseconds(*offset);
        let decision = NewDecision {
            decision_id: tag.name(&format!("d{i}")),
            workflow_name: workflow.clone(),
            decided_at: at,
            slot: format!("s{i}"),
            target_date: at.date_naive(),
            action: DecisionAction::Skip,
            reason: "not due".to_string(),
            entities: "[]".to_string(),
            alert_level: AlertLevel::None,
            execution_id: None,
            decided_by: "api-check:1".to_string(),
        };
        store
            .record_decision(&decision, None)
            .await
            .expect("record_decision");
    }
    let day = store
        .decisions_between(
            Some(&workflow),
            ts("2026-05-03T05:00:00Z"),
            ts("2026-05-04T05:00:00Z"),
        )
        .await
        .expect("decisions_between");
    let slots: Vec<&str> = day.iter().map(|d| d.slot.as_str()).collect();
    assert_eq!(slots, ["s1"], "from inclusive, to exclusive");
    let other = store
        .decisions_between(
            Some(&tag.name("other")),
            ts("2026-05-01T00:00:00Z"),
            ts("2026-05-09T00:00:00Z"),
        )
        .await
        .expect("decisions_between");
    assert!(other.is_empty());
}
