//! Conformance checks of the hand-off outbox (`completion_events`,
//! `completion_acks`): an event lands with its call or not at all, claims
//! keep each dataset's order, and states move only forward.
//!
//! Each check works in its own year of the 1970s, so that on a store
//! shared by the whole suite "due at now" sees only the check's own events
//! (no other check writes events, and the engine's are in the present).

use super::{Tag, sample_call, ts};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::handoff::AckSettings;
use rebound_storage::{
    AckResult, CompletionEventRow, EventDelivery, NewCompletionEvent, ReconcilePolicy, Store,
    StoreError,
};

/// Runs every outbox check.
pub async fn run_all(store: &dyn Store) {
    event_lands_with_its_call(store).await;
    failed_call_leaves_no_event_and_failed_event_leaves_no_call(store).await;
    claims_keep_each_datasets_order(store).await;
    acknowledgements_move_states_forward_only(store).await;
    // The reconciler's checks come last: a round changes every due
    // published event of the store, the earlier checks' included.
    reconciler_redelivers_once_then_marks_unacknowledged(store).await;
    storm_guard_redelivers_nothing(store).await;
    summary_and_replay_reads(store).await;
}

/// A first-delivery message body like the engine's, for the reconciler.
fn with_delivery(mut event: NewCompletionEvent) -> NewCompletionEvent {
    event.payload = format!(
        r#"{{"event_id":"{}","kind":"call.completed","delivery":"first","replay_of":null}}"#,
        event.event_id
    );
    event
}

/// Records `n` events of `dataset` and publishes them at `at`.
async fn published(
    store: &dyn Store,
    tag: &Tag,
    dataset: &str,
    n: usize,
    at: DateTime<Utc>,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let event = with_delivery(new_event(&tag.0, &format!("p{i}"), dataset, at));
        record_with(store, tag, &format!("p{i}"), &event).await;
        store
            .record_event_delivery(
                &event.event_id,
                &EventDelivery::Published {
                    at,
                    sinks_done: vec!["hook".into()],
                },
            )
            .await
            .expect("record_event_delivery");
        ids.push(event.event_id);
    }
    ids
}

fn ack_settings(storm_min: u32) -> AckSettings {
    AckSettings {
        ack_required: true,
        storm_min,
        ..AckSettings::default()
    }
}

/// An event unacknowledged `redeliver_after` after publication goes back
/// to pending as a redelivery (message says so, every sink again), once;
/// due again after that redelivery, it becomes `unacknowledged`.
/// Acknowledged ones (by `ack_events` or a consumer's INSERT) stay.
pub async fn reconciler_redelivers_once_then_marks_unacknowledged(store: &dyn Store) {
    let tag = Tag::new();
    let dataset = tag.name("rds");
    let t0 = ts("1976-05-05T10:00:00Z");
    let ids = published(store, &tag, &dataset, 3, t0).await;
    store
        .ack_events(&ids[..1], t0 + TimeDelta::minutes(5))
        .await
        .expect("ack_events");
    // No storm possible: the guard has its own check below.
    let ack = ack_settings(1_000_000);
    let early = ReconcilePolicy::at(t0 + TimeDelta::minutes(29), ack, 1000);
    let round = store
        .reconcile_events(&early)
        .await
        .expect("reconcile early");
    assert!(
        !round.redelivered.iter().any(|id| ids.contains(id)),
        "redelivered before redeliver_after: {round:?}"
    );
    let at = t0 + TimeDelta::minutes(30);
    let round = store
        .reconcile_events(&ReconcilePolicy::at(at, ack, 1000))
        .await
        .expect("reconcile");
    let mine: Vec<&String> = round
        .redelivered
        .iter()
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(mine, vec![&ids[1], &ids[2]], "{round:?}");
    assert!(!round.storm);
    let window = round.window.iter().find(|w| w.dataset == dataset);
    assert_eq!(
        window.map(|w| (w.due, w.unacknowledged)),
        Some((3, 2)),
        "{:?}",
        round.window
    );
    let events = events_tagged(store, &tag.0).await;
    for e in &events[1..] {
        assert_eq!(e.state, "pending", "{e:?}");
        assert_eq!(e.redeliveries, 1);
        assert!(e.sinks_done.is_empty());
        assert_eq!(e.next_attempt_at, at);
        assert!(
            e.payload.contains(r#""delivery":"redelivery""#),
            "{}",
            e.payload
        );
    }
    assert_eq!(events[0].state, "acknowledged");
    assert!(events[0].payload.contains(r#""delivery":"first""#));

    // A second reconciler at the same instant finds nothing to do.
    let again = store
        .reconcile_events(&ReconcilePolicy::at(at, ack, 1000))
        .await
        .expect("reconcile again");
    assert!(!again.redelivered.iter().any(|id| ids.contains(id)));

    // Redelivered at t1; one is acknowledged by a consumer's INSERT.
    let t1 = at + TimeDelta::minutes(1);
    for id in &ids[1..] {
        store
            .record_event_delivery(
                id,
                &EventDelivery::Published {
                    at: t1,
                    sinks_done: vec!["hook".into()],
                },
            )
            .await
            .expect("redelivery");
    }
    store
        .ack_events(&ids[1..2], t1 + TimeDelta::minutes(1))
        .await
        .expect("ack");
    let round = store
        .reconcile_events(&ReconcilePolicy::at(t1 + TimeDelta::minutes(30), ack, 1000))
        .await
        .expect("reconcile after redelivery");
    assert!(round.unacknowledged.contains(&ids[2]), "{round:?}");
    assert!(!round.redelivered.iter().any(|id| ids.contains(id)));
    let states: Vec<(String, i64)> = events_tagged(store, &tag.0)
        .await
        .into_iter()
        .map(|e| (e.state, e.redeliveries))
        .collect();
    assert_eq!(
        states,
        vec![
            ("acknowledged".to_string(), 0),
            ("acknowledged".to_string(), 1),
            ("unacknowledged".to_string(), 1),
        ]
    );
    // An acknowledgement still counts after that.
    store
        .ack_events(&ids[2..], t1 + TimeDelta::hours(2))
        .await
        .expect("late ack");
    assert_eq!(events_tagged(store, &tag.0).await[2].state, "acknowledged");
}

/// More than `storm_ratio` of at least `storm_min` due events
/// unacknowledged: nothing is redelivered, the due ones are marked
/// `unacknowledged`, and the sample says which datasets.
pub async fn storm_guard_redelivers_nothing(store: &dyn Store) {
    let tag = Tag::new();
    let dataset = tag.name("storm");
    let t0 = ts("1977-07-07T07:00:00Z");
    let ids = published(store, &tag, &dataset, 60, t0).await;
    store.ack_events(&ids[..5], t0).await.expect("ack five");
    let policy = ReconcilePolicy::at(t0 + TimeDelta::minutes(31), ack_settings(50), 1000);
    let sample = store.ack_window(&policy).await.expect("ack_window");
    let mine = sample.iter().find(|w| w.dataset == dataset);
    assert_eq!(mine.map(|w| (w.due, w.unacknowledged)), Some((60, 55)));
    let round = store.reconcile_events(&policy).await.expect("reconcile");
    assert!(round.storm, "{round:?}");
    assert!(round.redelivered.is_empty(), "{round:?}");
    let events = events_tagged(store, &tag.0).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.state == "unacknowledged")
            .count(),
        55
    );
    assert!(
        events
            .iter()
            .all(|e| e.redeliveries == 0 && e.state != "pending")
    );
}

/// `handoff_summary` counts pending events, their age and errors and the
/// unacknowledged ones by dataset; `events_for_dates` finds events by
/// their calls' target dates and status.
pub async fn summary_and_replay_reads(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("1978-01-01T00:00:00Z");
    let before = store.handoff_summary().await.expect("summary");
    let event = new_event(&tag.0, "waiting", &tag.name("sum"), t0);
    record_with(store, &tag, "waiting", &event).await;
    store
        .record_event_delivery(
            &event.event_id,
            &EventDelivery::Retry {
                at: t0,
                sinks_done: vec![],
                error: "sink hook: HTTP 503".into(),
                next_attempt_at: t0 + TimeDelta::seconds(1),
            },
        )
        .await
        .expect("retry");
    let after = store.handoff_summary().await.expect("summary");
    assert_eq!(after.pending, before.pending + 1);
    assert!(after.oldest_pending_at.is_some_and(|t| t <= t0));
    assert!(
        after
            .pending_errors
            .iter()
            .any(|(at, e)| *at == t0 && e == "sink hook: HTTP 503"),
        "{after:?}"
    );
    let storm_datasets: Vec<&(String, u64)> = after
        .unacknowledged
        .iter()
        .filter(|(d, _)| d.starts_with(&tag.0))
        .collect();
    assert!(storm_datasets.is_empty());

    // sample_call's target date is 2026-01-01, its status success.
    let day = super::date("2026-01-01");
    let found = store
        .events_for_dates(day, day, Some("success"))
        .await
        .expect("events_for_dates");
    assert!(found.iter().any(|e| e.event_id == event.event_id));
    let none = store
        .events_for_dates(day, day, Some("failed"))
        .await
        .expect("events_for_dates failed");
    assert!(!none.iter().any(|e| e.event_id == event.event_id));
    let other = super::date("2025-12-31");
    let none = store
        .events_for_dates(other, other, None)
        .await
        .expect("events_for_dates other day");
    assert!(!none.iter().any(|e| e.event_id == event.event_id));
}

/// A fresh event of `dataset` created at `at`, with a tagged id.
pub fn new_event(tag: &str, name: &str, dataset: &str, at: DateTime<Utc>) -> NewCompletionEvent {
    NewCompletionEvent {
        event_id: format!("{tag}-{name}"),
        created_at: at,
        dataset: dataset.to_string(),
        status: "success".to_string(),
        payload: format!(
            r#"{{"event_id":"{tag}-{name}","kind":"call.completed","note":"é \" ✓"}}"#
        ),
    }
}

/// Every event of the store with an id starting with `prefix`.
pub async fn events_tagged(store: &dyn Store, prefix: &str) -> Vec<CompletionEventRow> {
    store
        .completion_events(None, u32::MAX)
        .await
        .expect("completion_events")
        .into_iter()
        .filter(|e| e.event_id.starts_with(prefix))
        .collect()
}

async fn record_with(store: &dyn Store, tag: &Tag, name: &str, event: &NewCompletionEvent) -> i64 {
    let call = sample_call(tag, name, None, event.created_at);
    store
        .record_call_with_event(&call, Some(event))
        .await
        .unwrap_or_else(|e| panic!("record_call_with_event({name}): {e}"))
}

/// The event comes back as written, `pending`, linked to its call's id;
/// a call recorded without an event has none.
pub async fn event_lands_with_its_call(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("1971-03-04T05:06:07.089Z");
    let event = new_event(&tag.0, "e1", &tag.name("ds"), t0);
    let id = record_with(store, &tag, "with", &event).await;
    let without = sample_call(&tag, "without", None, t0);
    store
        .record_call_with_event(&without, None)
        .await
        .expect("record_call_with_event without an event");

    let found = events_tagged(store, &tag.0).await;
    assert_eq!(
        found,
        vec![CompletionEventRow {
            event_id: event.event_id.clone(),
            scraper_execution_id: id,
            created_at: t0,
            dataset: event.dataset.clone(),
            status: "success".into(),
            payload: event.payload.clone(),
            state: "pending".into(),
            deliveries: 0,
            last_delivery_at: None,
            last_error: None,
            acknowledged_at: None,
            next_attempt_at: t0,
            sinks_done: vec![],
            redeliveries: 0,
        }]
    );
}

/// The call and its event are one transaction: a call that cannot be
/// written (duplicate attempt numbers) leaves no event, and an event that
/// cannot be written (an event id already used) leaves no call.
pub async fn failed_call_leaves_no_event_and_failed_event_leaves_no_call(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("1972-01-01T00:00:00Z");
    let exec = tag.name("exec");
    let mut bad = sample_call(&tag, "bad", Some(&exec), t0);
    let first = bad.attempt_rows[0].clone();
    bad.attempt_rows.push(first);
    bad.attempts = 2;
    let event = new_event(&tag.0, "bad", "ds", t0);
    let result = store.record_call_with_event(&bad, Some(&event)).await;
    assert!(
        matches!(result, Err(StoreError::Query(_))),
        "a call with duplicate attempts must fail, got {result:?}"
    );
    assert!(
        events_tagged(store, &tag.0).await.is_empty(),
        "an event outlived its failed call"
    );

    let good = new_event(&tag.0, "good", "ds", t0);
    let call = sample_call(&tag, "first", Some(&exec), t0);
    store
        .record_call_with_event(&call, Some(&good))
        .await
        .expect("first call");
    let again = sample_call(&tag, "second", Some(&exec), t0 + TimeDelta::seconds(1));
    let result = store.record_call_with_event(&again, Some(&good)).await;
    assert!(
        result.is_err(),
        "a reused event id must fail, got {result:?}"
    );
    let calls = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    assert_eq!(
        calls
            .iter()
            .map(|c| c.scraper_name.clone())
            .collect::<Vec<_>>(),
        vec![tag.name("first")],
        "a call outlived its failed event"
    );
    assert_eq!(events_tagged(store, &tag.0).await.len(), 1);
}

/// Claims return due events oldest call first; a failed event holds back
/// the later events of its dataset (and no other dataset) until its retry
/// is due; a claimed event is not claimed again before its lease ends.
pub async fn claims_keep_each_datasets_order(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("1973-06-01T12:00:00Z");
    let (a, b) = (tag.name("a"), tag.name("b"));
    let mut ids = Vec::new();
    for (i, (name, dataset)) in [("a1", &a), ("b1", &b), ("a2", &a), ("a3", &a)]
        .into_iter()
        .enumerate()
    {
        let event = new_event(&tag.0, name, dataset, t0 + TimeDelta::seconds(i as i64));
        record_with(store, &tag, name, &event).await;
        ids.push(event.event_id);
    }
    // Only this check's events: on a shared store, the events of earlier
    // checks (earlier years) are due too.
    let mine = |claimed: Vec<CompletionEventRow>| -> Vec<CompletionEventRow> {
        claimed
            .into_iter()
            .filter(|e| e.event_id.starts_with(&tag.0))
            .collect()
    };
    let now = t0 + TimeDelta::minutes(1);
    let lease = now + TimeDelta::minutes(1);
    let claimed = mine(
        store
            .claim_pending_events(now, lease, 1000)
            .await
            .expect("claim"),
    );
    let names: Vec<&str> = claimed.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(names, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(claimed.iter().all(|e| e.next_attempt_at == lease));
    assert!(
        mine(
            store
                .claim_pending_events(now, lease, 1000)
                .await
                .expect("claim again")
        )
        .is_empty(),
        "a claimed event was claimed again before its lease ended"
    );

    // a1 fails (retry in 10 minutes), a2 and a3 are held behind it, b1 is published.
    let retry_at = now + TimeDelta::minutes(10);
    store
        .record_event_delivery(
            &ids[0],
            &EventDelivery::Retry {
                at: now,
                sinks_done: vec!["hook-b".into()],
                error: "sink hook-a: HTTP 503".into(),
                next_attempt_at: retry_at,
            },
        )
        .await
        .expect("retry");
    for held in [&ids[2], &ids[3]] {
        store
            .record_event_delivery(
                held,
                &EventDelivery::Held {
                    next_attempt_at: now,
                },
            )
            .await
            .expect("held");
    }
    store
        .record_event_delivery(
            &ids[1],
            &EventDelivery::Published {
                at: now,
                sinks_done: vec!["hook-a".into()],
            },
        )
        .await
        .expect("published");

    let later = now + TimeDelta::minutes(5);
    let claimed = mine(
        store
            .claim_pending_events(later, later + TimeDelta::minutes(1), 1000)
            .await
            .expect("claim while a1 waits"),
    );
    assert!(
        claimed.is_empty(),
        "a2/a3 overtook a1, or b1 was claimed after publishing: {claimed:?}"
    );

    let due = retry_at + TimeDelta::seconds(1);
    let claimed = mine(
        store
            .claim_pending_events(due, due + TimeDelta::minutes(1), 1000)
            .await
            .expect("claim after the retry is due"),
    );
    let names: Vec<&str> = claimed.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        names,
        vec![ids[0].as_str(), ids[2].as_str(), ids[3].as_str()]
    );
    let a1 = &claimed[0];
    assert_eq!(a1.deliveries, 1);
    assert_eq!(a1.sinks_done, vec!["hook-b".to_string()]);
    assert_eq!(a1.last_error.as_deref(), Some("sink hook-a: HTTP 503"));
    assert_eq!(a1.last_delivery_at, Some(now));

    let all = events_tagged(store, &tag.0).await;
    let b1 = all.iter().find(|e| e.event_id == ids[1]).expect("b1");
    assert_eq!(
        (b1.state.as_str(), b1.deliveries, b1.last_error.as_deref()),
        ("published", 1, None)
    );

    // An event no sink wants is published without a delivery: nothing was
    // sent, and `rebound events` showed 1.
    let c = new_event(&tag.0, "c1", &tag.name("c"), now);
    record_with(store, &tag, "c1", &c).await;
    store
        .record_event_delivery(
            &c.event_id,
            &EventDelivery::Published {
                at: now,
                sinks_done: vec![],
            },
        )
        .await
        .expect("published to no sink");
    let all = events_tagged(store, &tag.0).await;
    let c1 = all.iter().find(|e| e.event_id == c.event_id).expect("c1");
    assert_eq!((c1.state.as_str(), c1.deliveries), ("published", 0));
}

/// `ack_events` acknowledges known events (pending or published), reports
/// unknown ids and repeated acks; an acknowledged event is never claimed
/// and a later delivery record does not move it back.
pub async fn acknowledgements_move_states_forward_only(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("1974-02-02T02:02:02Z");
    let ds = tag.name("ds");
    let e1 = new_event(&tag.0, "e1", &ds, t0);
    let e2 = new_event(&tag.0, "e2", &ds, t0 + TimeDelta::seconds(1));
    record_with(store, &tag, "e1", &e1).await;
    record_with(store, &tag, "e2", &e2).await;
    store
        .record_event_delivery(
            &e2.event_id,
            &EventDelivery::Published {
                at: t0,
                sinks_done: vec![],
            },
        )
        .await
        .expect("publish e2");

    let at = t0 + TimeDelta::minutes(3);
    let unknown = tag.name("no-such-event");
    let results = store
        .ack_events(&[e1.event_id.clone(), unknown, e2.event_id.clone()], at)
        .await
        .expect("ack");
    assert_eq!(
        results,
        vec![
            AckResult::Acknowledged,
            AckResult::Unknown,
            AckResult::Acknowledged
        ]
    );
    let again = store
        .ack_events(
            std::slice::from_ref(&e1.event_id),
            at + TimeDelta::minutes(1),
        )
        .await
        .expect("ack again");
    assert_eq!(again, vec![AckResult::AlreadyAcknowledged]);

    // A late delivery record of e1 (a publisher that claimed it before the
    // ack) must not undo the acknowledgement.
    store
        .record_event_delivery(
            &e1.event_id,
            &EventDelivery::Published {
                at: at + TimeDelta::minutes(2),
                sinks_done: vec![],
            },
        )
        .await
        .expect("late publish");
    let all = events_tagged(store, &tag.0).await;
    assert_eq!(all.len(), 2);
    for event in &all {
        assert_eq!(event.state, "acknowledged", "{}", event.event_id);
        assert_eq!(event.acknowledged_at, Some(at), "{}", event.event_id);
    }
    let claimed = store
        .claim_pending_events(at + TimeDelta::hours(1), at + TimeDelta::hours(2), 1000)
        .await
        .expect("claim");
    assert!(
        !claimed.iter().any(|e| e.event_id.starts_with(&tag.0)),
        "an acknowledged event was claimed"
    );
    assert_eq!(
        store
            .completion_events(Some("acknowledged"), u32::MAX)
            .await
            .expect("by state")
            .iter()
            .filter(|e| e.event_id.starts_with(&tag.0))
            .count(),
        2
    );
}

/// The SQL block of `docs/handoff.md` fenced as ```` ```sql NAME DIALECT ````
/// (e.g. `sql poll sqlite`), so the backends' tests run the document's
/// text verbatim. Panics when the block is missing (a fixture).
pub fn handoff_sql(markdown: &str, name: &str, dialect: &str) -> String {
    let fence = format!("```sql {name} {dialect}");
    let mut lines = markdown.lines().skip_while(|l| l.trim() != fence);
    assert!(
        lines.next().is_some(),
        "docs/handoff.md has no block fenced {fence:?}"
    );
    let sql: Vec<&str> = lines.take_while(|l| l.trim() != "```").collect();
    sql.join("\n")
}

/// Three events of one dataset for the polling checks; returns their ids
/// in call order.
pub async fn seed_poll_events(store: &dyn Store) -> Vec<String> {
    let tag = Tag::new();
    let t0 = ts("1975-05-05T05:05:05Z");
    let mut ids = Vec::new();
    for i in 0..3 {
        let name = format!("p{i}");
        let event = new_event(&tag.0, &name, "boxscores", t0 + TimeDelta::seconds(i));
        record_with(store, &tag, &name, &event).await;
        ids.push(event.event_id);
    }
    ids
}
