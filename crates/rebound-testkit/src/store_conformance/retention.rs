//! Conformance checks of the retention methods ([`RetentionStore`]): the
//! calls a purge reads and deletes, the payload lookups the raw-payload
//! rule needs, bounded batches per table, and the bulk insert of
//! `rebound generate-history`.
//!
//! Old rows are placed before 1990 and the cutoff is 1990-01-01, so these
//! checks neither see nor remove the rows of other checks sharing a store.

use super::{Tag, date, record, sample_call, sample_execution, ts};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::breaker::{BreakerState, Phase, Transition};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_storage::{
    AlertLevel, DecisionAction, NewAttempt, NewDecision, NewLockout, NewScheduledRun, NumberedCall,
    PurgeTable, QuotaKey, Store,
};
use std::time::Duration;

fn cutoff() -> DateTime<Utc> {
    ts("1990-01-01T00:00:00Z")
}

/// Runs every retention check.
pub async fn run_all(store: &dyn Store) {
    expired_calls_page_oldest_first_and_delete_with_attempts(store).await;
    oldest_kept_payload_is_the_first_surviving_one(store).await;
    purge_batches_are_bounded_and_keep_young_rows(store).await;
    bulk_insert_round_trips_and_moves_the_id_sequence(store).await;
}

/// `expired_calls` lists only calls started before the cutoff, oldest
/// first, page by page; `delete_calls` removes them with their attempts
/// and nothing else.
pub async fn expired_calls_page_oldest_first_and_delete_with_attempts(store: &dyn Store) {
    let tag = Tag::new();
    let base = ts("1985-03-01T10:00:00.250Z");
    let mut old = Vec::new();
    // Recorded newest first, so id order and time order disagree: pages
    // must follow the start time.
    for i in (0..5).rev() {
        let mut call = sample_call(&tag, "old", None, base + TimeDelta::hours(i));
        call.params = format!(r#"{{"i":{i}}}"#);
        old.push((i, record(store, &call).await));
    }
    old.sort();
    let young = record(
        store,
        &sample_call(&tag, "young", None, ts("1995-01-01T00:00:00Z")),
    )
    .await;

    let first = store.expired_calls(cutoff(), None, 3).await.unwrap();
    let ids: Vec<i64> = first.iter().map(|c| c.id).collect();
    let expected: Vec<i64> = old.iter().take(3).map(|(_, id)| *id).collect();
    assert_eq!(ids, expected, "first page, oldest start first");
    assert_eq!(first[0].started_at, base);
    assert_eq!(first[0].scraper_name, tag.name("old"));
    assert_eq!(first[0].params, r#"{"i":0}"#);
    assert_eq!(
        first[0].output_uri.as_deref(),
        Some(format!("file:///raw/{}.json", tag.name("old")).as_str())
    );
    let last = first.last().unwrap();
    let second = store
        .expired_calls(cutoff(), Some((last.started_at, last.id)), 3)
        .await
        .unwrap();
    let ids: Vec<i64> = second.iter().map(|c| c.id).collect();
    let expected: Vec<i64> = old.iter().skip(3).map(|(_, id)| *id).collect();
    assert_eq!(ids, expected, "second page");

    let all: Vec<i64> = old.iter().map(|(_, id)| *id).collect();
    assert_eq!(store.count_attempts(&all).await.unwrap(), 5);
    let deleted = store.delete_calls(&all[..2]).await.unwrap();
    assert_eq!((deleted.calls, deleted.attempts), (2, 2));
    assert!(store.attempts_for_call(all[0]).await.unwrap().is_empty());
    let left: Vec<i64> = store
        .expired_calls(cutoff(), None, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, all[2..].to_vec());
    store.delete_calls(&all[2..]).await.unwrap();
    assert!(
        store
            .expired_calls(cutoff(), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The young call and its attempt are untouched.
    assert_eq!(store.attempts_for_call(young).await.unwrap().len(), 1);
    assert_eq!(store.delete_calls(&[]).await.unwrap().calls, 0);
}

/// For each (scraper, params), the oldest call at or after the cutoff that
/// has a payload: calls without one are passed over, groups with only old
/// calls have none. `payload_kept` answers for one URI exactly.
pub async fn oldest_kept_payload_is_the_first_surviving_one(store: &dyn Store) {
    let tag = Tag::new();
    let uri_a = format!("file:///raw/{}/a.json", tag.0);
    let uri_b = format!("file:///raw/{}/b.json", tag.0);
    let uri_old = format!("file:///raw/{}/old.json", tag.0);
    let call = |at: &str, uri: Option<&str>, unchanged: bool| {
        let mut c = sample_call(&tag, "feed", None, ts(at));
        c.output_uri = uri.map(str::to_string);
        c.unchanged = unchanged;
        if uri.is_none() {
            c.status = ScraperStatus::Failed;
            c.error_kind = Some(ErrorKind::Server);
            c.error_message = Some("HTTP 503".to_string());
            c.content_hash = None;
        }
        c
    };
    record(store, &call("1980-01-01T00:00:00Z", Some(&uri_old), false)).await;
    record(store, &call("1989-12-31T00:00:00Z", Some(&uri_a), false)).await;
    // After the cutoff: a failure (no payload), then A again (unchanged), then B.
    record(store, &call("1990-01-02T00:00:00Z", None, false)).await;
    let kept_a = record(store, &call("1990-01-03T00:00:00Z", Some(&uri_a), true)).await;
    record(store, &call("1990-01-04T00:00:00Z", Some(&uri_b), false)).await;
    // A group with only old calls.
    let mut gone = sample_call(&tag, "gone", None, ts("1981-01-01T00:00:00Z"));
    gone.output_uri = Some(format!("file:///raw/{}/gone.json", tag.0));
    record(store, &gone).await;

    let params = r#"{"date":"2026-01-01"}"#.to_string();
    let groups = vec![
        (tag.name("feed"), params.clone()),
        (tag.name("gone"), params.clone()),
    ];
    let kept = store.oldest_kept_payloads(cutoff(), &groups).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].scraper_name, tag.name("feed"));
    assert_eq!(kept[0].params, params);
    assert_eq!(kept[0].id, kept_a);
    assert_eq!(kept[0].output_uri, uri_a);
    assert!(
        store
            .oldest_kept_payloads(cutoff(), &[])
            .await
            .unwrap()
            .is_empty()
    );

    let feed = tag.name("feed");
    assert!(
        store
            .payload_kept(cutoff(), &feed, &params, &uri_b)
            .await
            .unwrap()
    );
    assert!(
        !store
            .payload_kept(cutoff(), &feed, &params, &uri_old)
            .await
            .unwrap()
    );
    assert!(
        !store
            .payload_kept(cutoff(), &feed, r#"{"x":1}"#, &uri_b)
            .await
            .unwrap()
    );
}

/// Each table gives up its old rows at most `limit` per batch, oldest
/// first, and keeps young ones, queued and running runs, open locks and
/// quota periods that have not ended; `count_expired` agrees beforehand.
pub async fn purge_batches_are_bounded_and_keep_young_rows(store: &dyn Store) {
    let tag = Tag::new();
    let old = ts("1980-06-01T00:00:00Z");
    let young = ts("1995-06-01T00:00:00Z");

    // workflow_executions: 7 old, 2 young.
    for i in 0..7 {
        store
            .record_workflow_execution(&sample_execution(
                &tag,
                &format!("old{i}"),
                old + TimeDelta::minutes(i),
            ))
            .await
            .unwrap();
    }
    for i in 0..2 {
        store
            .record_workflow_execution(&sample_execution(&tag, &format!("young{i}"), young))
            .await
            .unwrap();
    }

    // workflow_decisions: 4 old SKIPs, 1 young; scheduled_runs: 3 done
    // old, 1 queued old (stays), 1 done young.
    let decision = |id: &str, at: DateTime<Utc>, action: DecisionAction| NewDecision {
        decision_id: tag.name(id),
        workflow_name: tag.name("wf"),
        decided_at: at,
        slot: format!("slot_{id}"),
        target_date: at.date_naive(),
        action,
        reason: "test".to_string(),
        entities: "[]".to_string(),
        alert_level: AlertLevel::None,
        execution_id: None,
        decided_by: "test".to_string(),
    };
    for i in 0..4 {
        let d = decision(&format!("skip{i}"), old, DecisionAction::Skip);
        store.record_decision(&d, None).await.unwrap();
    }
    let d = decision("young_skip", young, DecisionAction::Skip);
    store.record_decision(&d, None).await.unwrap();
    let run = |id: &str, created: DateTime<Utc>, run_at: DateTime<Utc>| NewScheduledRun {
        run_id: tag.name(id),
        workflow_name: tag.name("wf"),
        target_date: created.date_naive(),
        slot: format!("run_{id}"),
        params: "{}".to_string(),
        entities: "null".to_string(),
        run_at,
        scheduled_for: run_at,
        execution_id: tag.name(&format!("exec_{id}")),
        decision_id: None,
        created_at: created,
    };
    for i in 0..3 {
        assert!(
            store
                .enqueue_run(&run(&format!("done{i}"), old, old))
                .await
                .unwrap()
        );
    }
    let later = ts("2990-01-01T00:00:00Z");
    assert!(
        store
            .enqueue_run(&run("waiting", old, later))
            .await
            .unwrap()
    );
    // Claim and finish the three due ones (the waiting one is due long after).
    let worker = tag.name("worker");
    let now = ts("1981-01-01T00:00:00Z");
    for _ in 0..3 {
        let claimed = store
            .claim_run(&worker, now, Duration::from_secs(60))
            .await
            .unwrap()
            .expect("a due run");
        assert!(
            store
                .finish_run(&claimed.run_id, &worker, now, "success", None)
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .enqueue_run(&run("young_done", young, young))
            .await
            .unwrap()
    );
    let claimed = store
        .claim_run(&worker, young, Duration::from_secs(60))
        .await
        .unwrap();
    // Whatever else is due in a shared store, finish what was claimed.
    if let Some(claimed) = claimed {
        store
            .finish_run(&claimed.run_id, &worker, young, "success", None)
            .await
            .unwrap();
    }

    // circuit_breaker_transitions: 5 old, 1 young.
    let source = tag.name("src");
    for (n, at) in [(5, old), (1, young)] {
        // The state must change too: an unchanged state is a refusal,
        // which stores nothing.
        let mut change = |s: &mut BreakerState| {
            s.consecutive_failures += 1;
            (0..n)
                .map(|i| Transition {
                    at: at + TimeDelta::seconds(i),
                    from: Phase::Closed,
                    to: Phase::Open,
                    reason: "test".to_string(),
                })
                .collect()
        };
        store
            .update_breaker(&source, at, &mut change)
            .await
            .unwrap();
    }

    // entity_lockouts: 2 released old, 1 open old (stays), 1 released young.
    let lock = |entity: &str| NewLockout {
        scraper_name: tag.name("box"),
        entity: entity.to_string(),
        locked_at: old,
        until: old + TimeDelta::days(1),
        consecutive: 3,
        reason: "test".to_string(),
        source_hash: None,
    };
    let scraper = tag.name("box");
    for e in ["e1", "e2"] {
        assert!(store.lock_entity(&lock(e)).await.unwrap());
        store
            .release_lockouts(&scraper, Some(e), old + TimeDelta::hours(1), "test")
            .await
            .unwrap();
    }
    assert!(store.lock_entity(&lock("e3")).await.unwrap());
    assert!(store.lock_entity(&lock("e4")).await.unwrap());
    store
        .release_lockouts(&scraper, Some("e4"), young, "test")
        .await
        .unwrap();

    // source_quota_usage: 2 ended old periods, 1 that ends after the cutoff.
    let period = |start: &str, end: &str| QuotaKey {
        source_name: source.clone(),
        period: "month".to_string(),
        period_start: ts(start),
        period_end: ts(end),
    };
    for key in [
        period("1980-01-01T00:00:00Z", "1980-02-01T00:00:00Z"),
        period("1980-02-01T00:00:00Z", "1980-03-01T00:00:00Z"),
        period("1989-12-15T00:00:00Z", "1990-01-15T00:00:00Z"),
    ] {
        store.quota_take(&key, 10, key.period_start).await.unwrap();
    }

    let expected = [
        (PurgeTable::WorkflowExecutions, 7),
        (PurgeTable::WorkflowDecisions, 4),
        (PurgeTable::ScheduledRuns, 3),
        (PurgeTable::BreakerTransitions, 5),
        (PurgeTable::EntityLockouts, 2),
        (PurgeTable::QuotaUsage, 2),
    ];
    for (table, count) in expected {
        assert_eq!(
            store.count_expired(table, cutoff()).await.unwrap(),
            count,
            "count_expired({})",
            table.name()
        );
        let mut batches = Vec::new();
        loop {
            let n = store.purge_table_batch(table, cutoff(), 3).await.unwrap();
            batches.push(n);
            if n < 3 {
                break;
            }
        }
        let want: Vec<u64> = match count {
            7 => vec![3, 3, 1],
            4 => vec![3, 1],
            3 => vec![3, 0],
            5 => vec![3, 2],
            2 => vec![2],
            _ => unreachable!(),
        };
        assert_eq!(batches, want, "batches of {}", table.name());
        assert_eq!(store.count_expired(table, cutoff()).await.unwrap(), 0);
    }

    // What stays.
    let runs = store
        .executions_for_date(&tag.name("wf"), young.date_naive())
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        store
            .executions_for_date(&tag.name("wf"), old.date_naive())
            .await
            .unwrap()
            .is_empty()
    );
    let decisions = store
        .decisions_since(Some(&tag.name("wf")), ts("1970-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].decided_at, young);
    let mine: Vec<String> = store
        .scheduled_runs(None, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.workflow_name == tag.name("wf"))
        .map(|r| r.run_id)
        .collect();
    assert_eq!(mine, vec![tag.name("waiting"), tag.name("young_done")]);
    let transitions = store.breaker_transitions(Some(&source), 100).await.unwrap();
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].at, young);
    let open = store.open_lockouts(Some(&scraper)).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].entity, "e3");
    assert_eq!(
        store
            .count_expired(PurgeTable::EntityLockouts, ts("2000-01-01T00:00:00Z"))
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .quota_usage(&source, ts("1980-01-01T00:00:00Z"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .quota_usage(&source, ts("1989-12-15T00:00:00Z"))
            .await
            .unwrap()
            .is_some()
    );
}

/// `insert_history` stores runs, calls (with the ids given) and attempts
/// exactly as the one-at-a-time methods would; afterwards `next_call_id`
/// and the engine's own `record_scraper_call` continue above them.
pub async fn bulk_insert_round_trips_and_moves_the_id_sequence(store: &dyn Store) {
    let tag = Tag::new();
    let first = store.next_call_id().await.unwrap();
    let at = ts("1984-02-03T04:05:06.789Z");
    let exec = sample_execution(&tag, "bulk", at);
    let mut calls = Vec::new();
    for i in 0..3 {
        let mut call = sample_call(
            &tag,
            "bulk",
            Some(&exec.execution_id),
            at + TimeDelta::seconds(i),
        );
        call.params = format!(r#"{{"i":{i},"text":"tab\there, newline\nand \\ backslash"}}"#);
        if i == 1 {
            call.status = ScraperStatus::Success;
            call.attempts = 2;
            call.attempt_rows.insert(
                0,
                NewAttempt {
                    attempt: 1,
                    page: 1,
                    proxy: None,
                    started_at: at,
                    finished_at: at + TimeDelta::milliseconds(30),
                    http_status: Some(503),
                    outcome: AttemptOutcome::Retryable,
                    error_kind: Some(ErrorKind::Server),
                    error_message: Some("HTTP 503 «busy»".to_string()),
                    delay_before_ms: 0,
                },
            );
            call.attempt_rows[1].attempt = 2;
            call.attempt_rows[1].delay_before_ms = 1_500;
        }
        if i == 2 {
            call.error_message = None;
            call.output_uri = None;
            call.content_hash = None;
            call.bytes = None;
            call.http_status = None;
            call.unchanged = true;
        }
        calls.push(NumberedCall {
            id: first + i,
            call,
        });
    }
    store
        .insert_history(std::slice::from_ref(&exec), &calls)
        .await
        .unwrap();
    assert!(store.has_history().await.unwrap());

    let rows = store
        .scraper_calls_for_execution(&exec.execution_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (row, numbered) in rows.iter().zip(&calls) {
        assert_eq!(row, &super::expected_call_row(numbered.id, &numbered.call));
        let attempts = store.attempts_for_call(numbered.id).await.unwrap();
        assert_eq!(
            attempts,
            super::expected_attempt_rows(numbered.id, &numbered.call)
        );
    }
    let stored = store
        .executions_for_date(&exec.workflow_name, date("1984-02-03"))
        .await
        .unwrap();
    assert_eq!(stored, vec![super::expected_execution_row(&exec)]);

    assert!(store.next_call_id().await.unwrap() > first + 2);
    let after = record(store, &sample_call(&tag, "after", None, at)).await;
    assert!(after > first + 2, "engine id {after} reuses a bulk id");
}
