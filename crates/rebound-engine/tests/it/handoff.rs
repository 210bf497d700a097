//! Completion events (issue 14): one per recorded call with an outcome,
//! none for a skipped call, written with the call's row, holding what a
//! consumer needs (the stored object, record count, redacted params).

use super::{Harness, SECRET, date, harness_with, params, script_partial_run};
use rebound_domain::handoff::Trigger;
use rebound_engine::RunOptions;
use rebound_engine::handoff::{
    CompletionMessage, MessageDelivery, MessageKind, MessageStatus, MessageTrigger,
};
use rebound_storage::CompletionEventRow;
use rebound_upstream_sim::Reply;

async fn events(h: &Harness) -> Vec<(CompletionEventRow, CompletionMessage)> {
    h.store
        .completion_events(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let message: CompletionMessage = serde_json::from_str(&row.payload)
                .unwrap_or_else(|e| panic!("payload does not parse: {e}\n{}", row.payload));
            (row, message)
        })
        .collect()
}

#[tokio::test]
async fn every_call_with_an_outcome_gets_one_event_and_a_skipped_call_none() {
    let h = harness_with(None).await;
    script_partial_run(&h.sim);
    let report = h
        .engine
        .run_workflow("lines", date(), &params(&[("event_id", "e1")]))
        .await
        .unwrap();
    let calls = h
        .store
        .scraper_calls_for_execution(&report.execution_id)
        .await
        .unwrap();
    assert_eq!(
        calls.len(),
        3,
        "events failed, props skipped, injuries succeeded"
    );

    let events = events(&h).await;
    let by_call: Vec<(i64, &str)> = events
        .iter()
        .map(|(row, m)| (row.scraper_execution_id, m.scraper.as_str()))
        .collect();
    let expected: Vec<(i64, &str)> = calls
        .iter()
        .filter(|c| c.status != "skipped")
        .map(|c| (c.id, c.scraper_name.as_str()))
        .collect();
    assert_eq!(
        by_call, expected,
        "one event per call with an outcome, in call order"
    );

    for (row, message) in &events {
        assert_eq!(row.event_id, message.event_id);
        assert_eq!(row.state, "pending");
        assert_eq!(message.kind, MessageKind::CallCompleted);
        assert_eq!(message.schema_version, 1);
        assert_eq!(message.pipeline, "t");
        assert_eq!(message.workflow.as_deref(), Some("lines"));
        assert_eq!(
            message.execution_id.as_deref(),
            Some(report.execution_id.as_str())
        );
        assert_eq!(message.target_date, "2026-11-27");
        assert_eq!(message.trigger, MessageTrigger::Manual);
        assert_eq!(message.delivery, MessageDelivery::First);
        assert!(uuid::Uuid::parse_str(&message.event_id).is_ok_and(|u| u.get_version_num() == 7));
    }

    let (row, failed) = &events[0];
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(row.status, "failed");
    assert_eq!(row.dataset, "odds_api/events");
    assert_eq!(failed.dataset, "odds_api/events");
    assert_eq!(failed.error_kind.as_deref(), Some("client"));
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap_or("")
            .contains("HTTP 404")
    );
    assert_eq!(failed.primary_output, None);
    assert!(failed.outputs.is_empty());
    assert_eq!(failed.attempts, 1);

    let injuries_row = calls.iter().find(|c| c.scraper_name == "injuries").unwrap();
    let (_, ok) = &events[1];
    assert_eq!(ok.status, MessageStatus::Success);
    assert_eq!(ok.record_count, Some(1));
    assert_eq!(ok.attempts, 2);
    assert_eq!(ok.error_kind, None);
    let primary = ok.primary_output.as_ref().expect("a stored object");
    assert_eq!(Some(&primary.uri), injuries_row.output_uri.as_ref());
    assert_eq!(primary.content_hash, injuries_row.content_hash);
    assert_eq!(primary.bytes, injuries_row.bytes);
    assert_eq!(primary.content_type.as_deref(), Some("application/json"));
    assert_eq!(ok.outputs, vec![primary.clone()]);
    assert!(!ok.unchanged);
    assert_eq!(ok.duration_ms, injuries_row.duration_ms);
}

#[tokio::test]
async fn an_unchanged_payload_points_at_the_earlier_object_and_params_are_redacted() {
    let h = harness_with(None).await;
    let body = serde_json::json!({"records": [{"p": 1}, {"p": 2}]});
    h.sim.script(
        "/t/injuries",
        vec![Reply::json(200, body.clone()), Reply::json(200, body)],
    );
    let options = RunOptions {
        trigger: Trigger::Backfill,
        ..RunOptions::default()
    };
    for _ in 0..2 {
        h.engine
            .run_workflow_with("single", date(), &params(&[]), &options)
            .await
            .unwrap();
    }
    // A standalone call whose parameter carries the secret.
    h.sim.script("/t/props/x", vec![Reply::text(404, "gone")]);
    h.engine
        .run_scraper("props", date(), &params(&[("event_id", SECRET)]))
        .await
        .unwrap();

    let events = events(&h).await;
    assert_eq!(events.len(), 3);
    let (first, second) = (&events[0].1, &events[1].1);
    assert!(!first.unchanged && second.unchanged);
    assert_eq!(second.record_count, Some(2));
    assert_eq!(second.trigger, MessageTrigger::Backfill);
    assert_eq!(
        second.primary_output.as_ref().map(|o| &o.uri),
        first.primary_output.as_ref().map(|o| &o.uri),
        "an unchanged payload's event names the earlier object"
    );
    assert_ne!(first.event_id, second.event_id);

    let (row, standalone) = &events[2];
    assert_eq!(standalone.workflow, None);
    assert_eq!(standalone.execution_id, None);
    assert_eq!(standalone.trigger, MessageTrigger::Manual);
    assert_eq!(
        standalone.params.get("event_id").map(String::as_str),
        Some("***")
    );
    assert!(!row.payload.contains(SECRET), "{}", row.payload);
}
