//! Conformance checks for the scheduler's part of the [`Store`]: decisions,
//! slot claims, the run queue with its leases, and the facts the scheduler
//! and fan-out read from the history.
//!
//! The queue is shared by the whole store, not by one workflow: `claim_run`
//! hands out the oldest due run of any workflow, and `requeue_expired`
//! reaps every expired lease. So that these checks also pass on a store
//! holding other rows (as in [`super::run_all`]), they name their workflows
//! with a [`Tag`], claim through [`claim_own`] (which passes over runs of
//! other checks) and only look at their own run ids in what the reaper
//! returns. Each check uses its own clock readings; none depends on the
//! wall clock.

use super::{Tag, date, record, sample_call, sample_execution, ts};
use chrono::{DateTime, NaiveDate, SubsecRound, TimeDelta, Utc};
use rebound_domain::outcome::{ScraperStatus, WorkflowStatus};
use rebound_storage::{
    AlertLevel, CollectedAsk, DecisionAction, DecisionRow, DecisionSpan, LatestPayload,
    NewDecision, NewScheduledRun, ScheduledRunRow, SlotRow, Store,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Runs every scheduler check, one after the other, on `store`.
pub async fn run_all(store: &dyn Store) {
    run_decision_claims_its_slot_once(store).await;
    concurrent_decisions_queue_one_run(store).await;
    enqueue_run_round_trip(store).await;
    concurrent_claimers_take_each_run_once(store).await;
    future_runs_are_not_claimable(store).await;
    next_run_at_is_the_earliest_later_queued_run(store).await;
    queueing_a_run_wakes_subscribers(store).await;
    lease_updates_need_the_owner(store).await;
    a_lease_beyond_any_date_claims_and_does_not_expire(store).await;
    finish_run_stores_the_error_of_a_run_that_could_not_start(store).await;
    expired_leases_are_requeued_then_abandoned(store).await;
    lease_horizon_is_exclusive(store).await;
    collected_values_are_distinct_successes(store).await;
    latest_payload_picks_newest_success_with_uri(store).await;
    executions_for_date_oldest_first(store).await;
    slot_history_joins_decisions_and_runs(store).await;
}

/// A RUN decision queues its run and is stored with the run's execution;
/// a second RUN for the same slot queues nothing and is stored as a SKIP
/// whose reason names the execution holding the slot. Decisions without a
/// run are stored as given. `decisions_since` and `decision_span` see
/// them all.
pub async fn run_decision_claims_its_slot_once(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let day = date("2026-03-01");
    let t0 = ts("2026-03-01T05:00:00.125Z");

    let first_run = new_run(&tag, "first", &wf, day, "05:00", t0);
    let mut first = new_decision(&tag, "d1", &wf, day, "05:00", t0);
    first.execution_id = Some(first_run.execution_id.clone());
    let outcome = store
        .record_decision(&first, Some(&first_run))
        .await
        .expect("record_decision");
    assert_eq!(outcome.action, DecisionAction::Run);
    assert_eq!(outcome.reason, first.reason);
    assert!(outcome.queued, "the first RUN of a slot must queue its run");

    let t1 = t0 + TimeDelta::seconds(30);
    let second_run = new_run(&tag, "second", &wf, day, "05:00", t1);
    let mut second = new_decision(&tag, "d2", &wf, day, "05:00", t1);
    second.execution_id = Some(second_run.execution_id.clone());
    let outcome = store
        .record_decision(&second, Some(&second_run))
        .await
        .expect("record_decision");
    let expected_reason = format!(
        "slot 05:00 for 2026-03-01 already claimed (execution {})",
        first_run.execution_id
    );
    assert_eq!(outcome.action, DecisionAction::Skip);
    assert_eq!(outcome.reason, expected_reason);
    assert!(
        !outcome.queued,
        "a claimed slot must not queue a second run"
    );

    // A decision without a run (not due yet, say) is stored as given.
    let t2 = t1 + TimeDelta::seconds(30);
    let mut wait = new_decision(&tag, "d3", &wf, day, "window", t2);
    wait.action = DecisionAction::Skip;
    wait.reason = "no game has started yet — «attente» 🕒".to_string();
    wait.alert_level = AlertLevel::Warning;
    wait.entities = r#"["g1","g2"]"#.to_string();
    let outcome = store
        .record_decision(&wait, None)
        .await
        .expect("record_decision");
    assert_eq!(outcome.action, DecisionAction::Skip);
    assert_eq!(outcome.reason, wait.reason);
    assert!(!outcome.queued);

    let runs = own_runs(store, &tag).await;
    assert_eq!(
        runs,
        vec![queued_row(&first_run)],
        "exactly the first run is queued"
    );

    let expected = vec![
        DecisionRow {
            execution_id: Some(first_run.execution_id.clone()),
            ..decision_row(&first)
        },
        DecisionRow {
            action: "SKIP".to_string(),
            reason: expected_reason,
            execution_id: None,
            ..decision_row(&second)
        },
        decision_row(&wait),
    ];
    let since = store
        .decisions_since(Some(&wf), t0)
        .await
        .expect("decisions_since");
    assert_eq!(since, expected);
    let later = store
        .decisions_since(Some(&wf), t1)
        .await
        .expect("decisions_since");
    assert_eq!(later, expected[1..].to_vec(), "`since` is inclusive");
    let all: Vec<DecisionRow> = store
        .decisions_since(None, t0)
        .await
        .expect("decisions_since")
        .into_iter()
        .filter(|row| row.workflow_name == wf)
        .collect();
    assert_eq!(all, expected, "no workflow filter still returns ours");
    let other = store
        .decisions_since(Some(&tag.name("other")), t0)
        .await
        .expect("decisions_since");
    assert!(other.is_empty());

    assert_eq!(
        store.decision_span(&wf).await.expect("decision_span"),
        DecisionSpan {
            first: Some(t0),
            last: Some(t2)
        }
    );
    assert_eq!(
        store
            .decision_span(&tag.name("never_decided"))
            .await
            .expect("decision_span"),
        DecisionSpan::default()
    );
}

/// Three schedulers deciding the same slot at once queue exactly one run;
/// the other two are stored as SKIPs naming the winner's execution.
pub async fn concurrent_decisions_queue_one_run(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let day = date("2026-03-02");
    let t0 = ts("2026-03-02T05:00:00Z");
    let pairs: Vec<(NewDecision, NewScheduledRun)> = (0..3)
        .map(|i| {
            let run = new_run(&tag, &format!("r{i}"), &wf, day, "05:00", t0);
            let mut decision = new_decision(&tag, &format!("d{i}"), &wf, day, "05:00", t0);
            decision.execution_id = Some(run.execution_id.clone());
            decision.decided_by = format!("host-{i}:4242");
            (decision, run)
        })
        .collect();
    let outcomes = futures::future::join_all(
        pairs
            .iter()
            .map(|(decision, run)| store.record_decision(decision, Some(run))),
    )
    .await;
    let outcomes: Vec<_> = outcomes
        .into_iter()
        .map(|o| o.expect("record_decision"))
        .collect();
    let winners: Vec<usize> = (0..3).filter(|i| outcomes[*i].queued).collect();
    assert_eq!(winners.len(), 1, "exactly one queued: {outcomes:?}");
    let winner = &pairs[winners[0]].1;
    let reason = format!(
        "slot 05:00 for 2026-03-02 already claimed (execution {})",
        winner.execution_id
    );
    for (i, outcome) in outcomes.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(outcome.action, DecisionAction::Skip);
            assert_eq!(outcome.reason, reason);
        }
    }
    assert_eq!(own_runs(store, &tag).await, vec![queued_row(winner)]);
    let stored = store
        .decisions_since(Some(&wf), t0)
        .await
        .expect("decisions_since");
    assert_eq!(stored.len(), 3);
    for row in stored {
        let queued = row.decision_id == pairs[winners[0]].0.decision_id;
        assert_eq!(row.action, if queued { "RUN" } else { "SKIP" }, "{row:?}");
        assert_eq!(
            row.execution_id,
            queued.then(|| winner.execution_id.clone()),
            "{row:?}"
        );
    }
}

/// `enqueue_run` inserts a run (every field read back as written) unless
/// its slot exists; `scheduled_runs` filters by state and honours the limit.
pub async fn enqueue_run_round_trip(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let t0 = ts("2026-03-03T06:00:00.999Z") + TimeDelta::nanoseconds(999_999);
    let mut run = new_run(&tag, "backfill", &wf, date("2026-02-27"), "backfill", t0);
    run.params = r#"{"région":"Île-de-France","season":2026}"#.to_string();
    run.entities = "null".to_string();
    run.decision_id = None;
    assert!(store.enqueue_run(&run).await.expect("enqueue_run"));

    let mut again = new_run(&tag, "again", &wf, date("2026-02-27"), "backfill", t0);
    again.params = "{}".to_string();
    assert!(
        !store.enqueue_run(&again).await.expect("enqueue_run"),
        "a slot that exists must not be enqueued again"
    );
    let mut other_slot = new_run(&tag, "other", &wf, date("2026-02-27"), "05:00", t0);
    other_slot.created_at += TimeDelta::seconds(1);
    assert!(store.enqueue_run(&other_slot).await.expect("enqueue_run"));

    assert_eq!(
        own_runs(store, &tag).await,
        vec![queued_row(&run), queued_row(&other_slot)]
    );
    let queued: Vec<ScheduledRunRow> = store
        .scheduled_runs(Some("queued"), u32::MAX)
        .await
        .expect("scheduled_runs")
        .into_iter()
        .filter(|row| row.workflow_name == wf)
        .collect();
    assert_eq!(queued.len(), 2);
    let done = store
        .scheduled_runs(Some("done"), u32::MAX)
        .await
        .expect("scheduled_runs");
    assert!(done.iter().all(|row| row.workflow_name != wf));
    let one = store.scheduled_runs(None, 1).await.expect("scheduled_runs");
    assert_eq!(one.len(), 1, "limit 1");
}

/// 20 due runs claimed by 8 claimers at once: every run is handed out
/// exactly once, running, with the claimer as lease owner.
pub async fn concurrent_claimers_take_each_run_once(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let t0 = ts("2026-04-01T00:00:00Z");
    let now = t0 + TimeDelta::hours(1);
    let lease = Duration::from_secs(300);
    let mut ids = BTreeSet::new();
    for i in 0..20 {
        let mut run = new_run(
            &tag,
            &format!("r{i:02}"),
            &wf,
            date("2026-04-01"),
            &format!("s{i:02}"),
            t0,
        );
        run.run_at = t0 + TimeDelta::seconds(i);
        assert!(store.enqueue_run(&run).await.expect("enqueue_run"));
        ids.insert(run.run_id);
    }

    let claimers = (0..8).map(|w| {
        let worker = tag.name(&format!("w{w}"));
        let tag = &tag;
        async move {
            let mut mine = Vec::new();
            while let Some(row) = claim_own(store, tag, &worker, now, lease).await {
                mine.push(row);
            }
            (worker, mine)
        }
    });
    let results = futures::future::join_all(claimers).await;

    let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
    for (worker, rows) in &results {
        for row in rows {
            *claimed.entry(row.run_id.clone()).or_default() += 1;
            assert_eq!(row.state, "running");
            assert_eq!(row.claims, 1);
            assert_eq!(row.lease_owner.as_deref(), Some(worker.as_str()));
            assert_eq!(row.lease_expires_at, Some(now + TimeDelta::seconds(300)));
            assert_eq!(row.started_at, Some(now));
        }
    }
    assert_eq!(
        claimed.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "every run must be claimed"
    );
    assert!(
        claimed.values().all(|n| *n == 1),
        "a run was claimed twice: {claimed:?}"
    );
    assert!(
        own_runs(store, &tag)
            .await
            .iter()
            .all(|row| row.state == "running"),
    );
}

/// A run is due at `run_at` and not a millisecond before; among due runs
/// the oldest `run_at` goes first.
pub async fn future_runs_are_not_claimable(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let now = ts("2026-04-02T12:00:00.500Z");
    let lease = Duration::from_secs(60);
    let mut later = new_run(&tag, "later", &wf, date("2026-04-02"), "later", now);
    later.run_at = now + TimeDelta::milliseconds(1);
    let mut due = new_run(&tag, "due", &wf, date("2026-04-02"), "due", now);
    due.run_at = now;
    let mut older = new_run(&tag, "older", &wf, date("2026-04-02"), "older", now);
    older.run_at = now - TimeDelta::minutes(5);
    // Enqueued newest first, so insertion order cannot pass for run_at order.
    for run in [&later, &due, &older] {
        assert!(store.enqueue_run(run).await.expect("enqueue_run"));
    }
    let worker = tag.name("w");
    let first = claim_own(store, &tag, &worker, now, lease).await;
    assert_eq!(first.map(|r| r.run_id), Some(older.run_id.clone()));
    let second = claim_own(store, &tag, &worker, now, lease).await;
    assert_eq!(second.map(|r| r.run_id), Some(due.run_id.clone()));
    let none = claim_own(store, &tag, &worker, now, lease).await;
    assert_eq!(none, None, "a run due in the future was claimed");
    let third = claim_own(store, &tag, &worker, later.run_at, lease).await;
    assert_eq!(third.map(|r| r.run_id), Some(later.run_id.clone()));
}

/// `next_run_at(after)` is the earliest `run_at` of a queued run strictly
/// after `after`: running runs do not count, a released one counts again
/// at its new time. The runs are in the year 2700, later than any other
/// check's, so the store's other queued runs do not interfere.
pub async fn next_run_at_is_the_earliest_later_queued_run(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let a = ts("2700-01-01T00:00:00.100Z");
    let day = date("2700-01-01");
    let mut runs = Vec::new();
    // Enqueued latest first, so insertion order cannot pass for run_at order.
    for (id, at) in [
        ("c", a + TimeDelta::hours(1)),
        ("b", a + TimeDelta::milliseconds(1)),
        ("a", a),
    ] {
        let run = new_run(&tag, id, &wf, day, id, at);
        assert!(store.enqueue_run(&run).await.expect("enqueue_run"));
        runs.push(run);
    }
    let next =
        |after: DateTime<Utc>| async move { store.next_run_at(after).await.expect("next_run_at") };
    assert_eq!(next(a - TimeDelta::milliseconds(1)).await, Some(a));
    assert_eq!(
        next(a).await,
        Some(a + TimeDelta::milliseconds(1)),
        "`after` is exclusive"
    );
    assert_eq!(next(a + TimeDelta::hours(1)).await, None);

    let worker = tag.name("w");
    let claimed = claim_own(store, &tag, &worker, a, Duration::from_secs(60))
        .await
        .expect("claim");
    assert_eq!(claimed.run_at, a);
    assert_eq!(
        next(a - TimeDelta::milliseconds(1)).await,
        Some(a + TimeDelta::milliseconds(1)),
        "a running run is not queued"
    );
    // The run's row, running under this process, as a worker writes it.
    store
        .begin_workflow_execution(&rebound_storage::RunStart {
            execution_id: claimed.execution_id.clone(),
            workflow_name: wf.clone(),
            target_date: day,
            started_at: a,
            params: "{}".to_string(),
            owner: "host-a:42".to_string(),
            heartbeat_until: a + TimeDelta::seconds(60),
        })
        .await
        .expect("begin_workflow_execution");
    let later = a + TimeDelta::hours(2);
    assert!(
        store
            .release_run(&claimed.run_id, &worker, later, "released")
            .await
            .expect("release_run")
    );
    assert_eq!(next(a + TimeDelta::hours(1)).await, Some(later));
    // Released, its row is nobody's: before, it kept this process as its
    // owner and was closed as failed ("process exited during the run")
    // once the process had stopped cleanly.
    let running = store
        .running_executions()
        .await
        .expect("running_executions");
    let row = running
        .iter()
        .find(|r| r.execution_id == claimed.execution_id)
        .expect("still running, waiting for a worker");
    assert_eq!((row.owner.as_deref(), row.heartbeat_until), (None, None));
}

/// Every write that queues a run wakes every `due_wakeups` subscription
/// made before it: a RUN decision that claimed its slot, `enqueue_run`,
/// `release_run` and a requeue by `requeue_expired`; the wake-up waits for
/// whoever calls `changed` later. Without any of them, a subscription does
/// not fire (so the checks above could fail).
pub async fn queueing_a_run_wakes_subscribers(store: &dyn Store) {
    use futures::FutureExt;
    let tag = Tag::new();
    let wf = tag.name("wf");
    let t0 = ts("2026-04-06T07:00:00Z");
    let day = date("2026-04-06");
    let subscribe = || async { store.due_wakeups().await.expect("due_wakeups") };
    let woken = |mut wakeups: Box<dyn rebound_storage::DueWakeups>, what: &'static str| async move {
        // A guard against hanging, not a speed bound: the signal is kept
        // from the write until now, so it is normally ready at once.
        tokio::time::timeout(Duration::from_secs(10), wakeups.changed())
            .await
            .unwrap_or_else(|_| panic!("{what} woke no subscriber within 10 s"));
    };

    let mut idle = subscribe().await;
    let worker = tag.name("w");
    // Reads and a claim that finds nothing queue no run.
    assert_eq!(
        claim_own(store, &tag, &worker, t0, Duration::from_secs(60)).await,
        None
    );
    store.next_run_at(t0).await.expect("next_run_at");
    assert!(
        idle.changed().now_or_never().is_none(),
        "woken although no run was queued"
    );

    let (first, second) = (subscribe().await, subscribe().await);
    let run = new_run(&tag, "enqueued", &wf, day, "a", t0);
    assert!(store.enqueue_run(&run).await.expect("enqueue_run"));
    woken(first, "enqueue_run").await;
    woken(second, "enqueue_run (second subscriber)").await;

    let wakeups = subscribe().await;
    let decided = new_run(&tag, "decided", &wf, day, "b", t0);
    let mut decision = new_decision(&tag, "d", &wf, day, "b", t0);
    decision.execution_id = Some(decided.execution_id.clone());
    let outcome = store
        .record_decision(&decision, Some(&decided))
        .await
        .expect("record_decision");
    assert!(outcome.queued);
    woken(wakeups, "a RUN decision").await;

    let claimed = claim_own(store, &tag, &worker, t0, Duration::from_secs(60))
        .await
        .expect("claim");
    let wakeups = subscribe().await;
    assert!(
        store
            .release_run(&claimed.run_id, &worker, t0, "released")
            .await
            .expect("release_run")
    );
    woken(wakeups, "release_run").await;

    claim_own(store, &tag, &worker, t0, Duration::from_secs(60))
        .await
        .expect("claim");
    let wakeups = subscribe().await;
    let requeued = own_ids(
        &tag,
        store
            .requeue_expired(t0 + TimeDelta::hours(1), 5)
            .await
            .expect("requeue_expired"),
    );
    assert!(!requeued.is_empty());
    woken(wakeups, "requeue_expired").await;
}

/// Renewing, finishing and releasing a run only work for the worker
/// holding it, and only while it is running.
pub async fn lease_updates_need_the_owner(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let t0 = ts("2026-04-03T08:00:00Z");
    let lease = Duration::from_secs(60);
    let run = new_run(&tag, "r", &wf, date("2026-04-03"), "08:00", t0);
    assert!(store.enqueue_run(&run).await.expect("enqueue_run"));
    let (w1, w2) = (tag.name("w1"), tag.name("w2"));
    let id = run.run_id.as_str();

    let claimed = claim_own(store, &tag, &w1, t0, lease).await.expect("claim");
    assert_eq!(claimed.run_id, id);

    let until = t0 + TimeDelta::seconds(120);
    assert!(!store.renew_lease(id, &w2, until).await.expect("renew"));
    assert!(store.renew_lease(id, &w1, until).await.expect("renew"));
    assert_eq!(own_run(store, &tag, id).await.lease_expires_at, Some(until));
    assert!(
        !store
            .renew_lease(&tag.name("no_such_run"), &w1, until)
            .await
            .expect("renew")
    );

    let back_at = t0 + TimeDelta::minutes(10);
    assert!(
        !store
            .finish_run(id, &w2, t0, "success", None)
            .await
            .expect("finish")
    );
    assert!(
        !store
            .release_run(id, &w2, back_at, "shutdown")
            .await
            .expect("release")
    );
    assert_eq!(own_run(store, &tag, id).await.state, "running");
    assert!(
        store
            .release_run(id, &w1, back_at, "waiting 10 min for Retry-After")
            .await
            .expect("release")
    );
    let released = own_run(store, &tag, id).await;
    assert_eq!(
        released,
        ScheduledRunRow {
            state: "queued".to_string(),
            run_at: back_at,
            claims: 1,
            started_at: Some(t0),
            last_error: Some("waiting 10 min for Retry-After".to_string()),
            ..queued_row(&run)
        }
    );
    // Released: the lease is gone, for its old holder too.
    assert!(!store.renew_lease(id, &w1, until).await.expect("renew"));
    assert!(
        !store
            .finish_run(id, &w1, t0, "success", None)
            .await
            .expect("finish")
    );
    assert_eq!(
        claim_own(
            store,
            &tag,
            &w2,
            back_at - TimeDelta::milliseconds(1),
            lease
        )
        .await,
        None,
        "a released run is due at its new run_at"
    );

    let claimed = claim_own(store, &tag, &w2, back_at, lease)
        .await
        .expect("claim");
    assert_eq!((claimed.run_id.as_str(), claimed.claims), (id, 2));
    let end = back_at + TimeDelta::seconds(42);
    assert!(
        !store
            .finish_run(id, &w1, end, "success", None)
            .await
            .expect("finish")
    );
    assert!(
        store
            .finish_run(id, &w2, end, "partial", None)
            .await
            .expect("finish")
    );
    let done = own_run(store, &tag, id).await;
    assert_eq!(
        done,
        ScheduledRunRow {
            state: "done".to_string(),
            run_at: back_at,
            claims: 2,
            started_at: Some(back_at),
            finished_at: Some(end),
            result_status: Some("partial".to_string()),
            last_error: Some("waiting 10 min for Retry-After".to_string()),
            ..queued_row(&run)
        }
    );
    assert!(
        !store
            .finish_run(id, &w2, end, "success", None)
            .await
            .expect("finish")
    );
    assert!(!store.renew_lease(id, &w2, until).await.expect("renew"));
    assert!(!store.release_run(id, &w2, end, "x").await.expect("release"));
}

/// A run that could not start is finished with its error as `last_error`.
pub async fn finish_run_stores_the_error_of_a_run_that_could_not_start(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let t0 = ts("2026-04-03T09:00:00Z");
    let run = new_run(&tag, "r", &wf, date("2026-04-03"), "09:00", t0);
    assert!(store.enqueue_run(&run).await.expect("enqueue_run"));
    let worker = tag.name("w");
    let claimed = claim_own(store, &tag, &worker, t0, Duration::from_secs(60))
        .await
        .expect("claim");
    let why = "run could not start: scraper roster needs parameter {team}";
    assert!(
        store
            .finish_run(&claimed.run_id, &worker, t0, "failed", Some(why))
            .await
            .expect("finish")
    );
    let done = own_run(store, &tag, &claimed.run_id).await;
    assert_eq!(done.state, "done");
    assert_eq!(done.result_status.as_deref(), Some("failed"));
    assert_eq!(done.last_error.as_deref(), Some(why));
}

/// The reaper requeues a run whose lease expired (saying whose and when),
/// leaves a live lease alone, and abandons a run that used `max_claims`.
pub async fn expired_leases_are_requeued_then_abandoned(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let t0 = ts("2026-04-04T09:00:00Z");
    let short = Duration::from_secs(60);
    let long = Duration::from_secs(3_600);
    let dead = new_run(&tag, "dead", &wf, date("2026-04-04"), "a", t0);
    let mut alive = new_run(&tag, "alive", &wf, date("2026-04-04"), "b", t0);
    alive.run_at = t0 + TimeDelta::milliseconds(1);
    for run in [&dead, &alive] {
        assert!(store.enqueue_run(run).await.expect("enqueue_run"));
    }
    let (w1, w2) = (tag.name("w1"), tag.name("w2"));
    let a = claim_own(store, &tag, &w1, t0, short).await.expect("claim");
    assert_eq!(a.run_id, dead.run_id);
    let b = claim_own(store, &tag, &w2, t0 + TimeDelta::seconds(1), long)
        .await
        .expect("claim");
    assert_eq!(b.run_id, alive.run_id);

    let reaped = own_ids(
        &tag,
        store
            .requeue_expired(t0 + TimeDelta::seconds(61), 2)
            .await
            .expect("requeue_expired"),
    );
    assert_eq!(reaped, vec![dead.run_id.clone()]);
    let requeued = own_run(store, &tag, &dead.run_id).await;
    assert_eq!(
        requeued,
        ScheduledRunRow {
            claims: 1,
            started_at: Some(t0),
            last_error: Some(format!(
                "lease expired (worker {w1} stopped renewing at 2026-04-04T09:01:00.000Z); requeued"
            )),
            ..queued_row(&dead)
        }
    );
    assert_eq!(own_run(store, &tag, &alive.run_id).await.state, "running");
    // The dead worker has lost its lease.
    assert!(
        !store
            .renew_lease(&dead.run_id, &w1, t0 + TimeDelta::hours(1))
            .await
            .expect("renew")
    );

    // Second claim of the same run, which dies too: 2 claims of at most 2.
    let t1 = t0 + TimeDelta::minutes(2);
    let again = claim_own(store, &tag, &w2, t1, short).await.expect("claim");
    assert_eq!(
        (again.run_id.as_str(), again.claims),
        (dead.run_id.as_str(), 2)
    );
    let reaped = own_ids(
        &tag,
        store
            .requeue_expired(t1 + TimeDelta::minutes(5), 2)
            .await
            .expect("requeue_expired"),
    );
    assert_eq!(reaped, vec![dead.run_id.clone()]);
    let abandoned = own_run(store, &tag, &dead.run_id).await;
    assert_eq!(abandoned.state, "abandoned");
    assert_eq!(abandoned.claims, 2);
    assert_eq!(
        (abandoned.lease_owner, abandoned.lease_expires_at),
        (None, None)
    );
    assert_eq!(
        abandoned.last_error.as_deref(),
        Some(
            format!(
                "lease expired (worker {w2} stopped renewing at 2026-04-04T09:03:00.000Z); \
                 abandoned after 2 claims"
            )
            .as_str()
        )
    );
    assert_eq!(
        claim_own(store, &tag, &w1, t1 + TimeDelta::days(1), short).await,
        None,
        "an abandoned run is never claimed again"
    );
    // The live lease outlived both sweeps.
    assert_eq!(own_run(store, &tag, &alive.run_id).await.state, "running");
}

/// The reaper's horizon is exclusive and exact to the millisecond: a lease
/// that ended 1 ms before `now` is expired, one ending at `now` or 1 ms
/// after is not.
pub async fn lease_horizon_is_exclusive(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let horizon = ts("2026-04-05T10:00:00.500Z");
    let lease = Duration::from_secs(30);
    let worker = tag.name("w");
    let mut runs = Vec::new();
    for (i, offset_ms) in [-1, 0, 1].into_iter().enumerate() {
        let mut run = new_run(
            &tag,
            &format!("r{i}"),
            &wf,
            date("2026-04-05"),
            &format!("s{i}"),
            horizon,
        );
        run.run_at = horizon - TimeDelta::minutes(10) + TimeDelta::milliseconds(i as i64);
        assert!(store.enqueue_run(&run).await.expect("enqueue_run"));
        // Claimed so that its lease ends at horizon + offset.
        let claimed_at = horizon - TimeDelta::seconds(30) + TimeDelta::milliseconds(offset_ms);
        let claimed = claim_own(store, &tag, &worker, claimed_at, lease)
            .await
            .expect("claim");
        assert_eq!(claimed.run_id, run.run_id);
        assert_eq!(
            claimed.lease_expires_at,
            Some(horizon + TimeDelta::milliseconds(offset_ms))
        );
        runs.push(run.run_id);
    }
    let tag = &tag;
    let reaped = |now: DateTime<Utc>| async move {
        own_ids(
            tag,
            store
                .requeue_expired(now, 5)
                .await
                .expect("requeue_expired"),
        )
    };
    assert_eq!(reaped(horizon).await, vec![runs[0].clone()]);
    assert_eq!(reaped(horizon).await, Vec::<String>::new(), "requeued once");
    assert_eq!(
        reaped(horizon + TimeDelta::milliseconds(1)).await,
        vec![runs[1].clone()]
    );
    assert_eq!(
        reaped(horizon + TimeDelta::milliseconds(2)).await,
        vec![runs[2].clone()]
    );
}

/// `collected_values` returns each value of a parameter once, from
/// successful calls of the given scrapers for the given date only; numbers
/// are spelled as in JSON, JSON nulls and missing members are no value.
pub async fn collected_values_are_distinct_successes(store: &dyn Store) {
    let tag = Tag::new();
    let day = date("2026-05-01");
    let t0 = ts("2026-05-01T12:00:00Z");
    let call = |scraper: &str, params: &str, status: ScraperStatus, target: NaiveDate| {
        let mut call = sample_call(&tag, scraper, None, t0);
        call.params = params.to_string();
        call.status = status;
        call.target_date = target;
        call
    };
    let success = ScraperStatus::Success;
    let calls = [
        call(
            "box",
            r#"{"date":"2026-05-01","game_id":"g1"}"#,
            success,
            day,
        ),
        call(
            "box",
            r#"{"date":"2026-05-01","game_id":"g2"}"#,
            success,
            day,
        ),
        call("odds", r#"{"game_id":"g1"}"#, success, day),
        call("odds", r#"{"game_id":7}"#, success, day),
        call("odds", r#"{"game_id":null}"#, success, day),
        call("odds", r#"{"other":"g9"}"#, success, day),
        call("box", r#"{"game_id":"failed"}"#, ScraperStatus::Failed, day),
        call("box", r#"{"game_id":"nodata"}"#, ScraperStatus::NoData, day),
        call(
            "box",
            r#"{"game_id":"skipped"}"#,
            ScraperStatus::Skipped,
            day,
        ),
        call(
            "box",
            r#"{"game_id":"other_day"}"#,
            success,
            date("2026-05-02"),
        ),
        call("props", r#"{"game_id":"other_scraper"}"#, success, day),
    ];
    for call in &calls {
        record(store, call).await;
    }
    let scrapers = vec![tag.name("box"), tag.name("odds")];
    let values = store
        .collected_values(&scrapers, "game_id", day)
        .await
        .expect("collected_values");
    assert_eq!(values.len(), 3, "deduplicated: {values:?}");
    let values: BTreeSet<String> = values.into_iter().collect();
    let expected: BTreeSet<String> = ["7", "g1", "g2"].map(String::from).into();
    assert_eq!(values, expected);
    let dates = store
        .collected_values(&scrapers[..1], "date", day)
        .await
        .expect("collected_values");
    assert_eq!(dates, vec!["2026-05-01".to_string()], "deduplicated");
    assert!(
        store
            .collected_values(&[], "game_id", day)
            .await
            .expect("collected_values")
            .is_empty()
    );
    assert!(
        store
            .collected_values(&scrapers, "game_id", date("2026-05-03"))
            .await
            .expect("collected_values")
            .is_empty()
    );

    // The many-asks read answers each ask as the single read does, in the
    // order given: g1 (called by both scrapers) once in the first, the
    // same ask twice answered twice, an ask with no scrapers or no calls
    // answered empty.
    let ask = |scrapers: &[String], param: &str, target_date: NaiveDate| CollectedAsk {
        scrapers: scrapers.to_vec(),
        param: param.to_string(),
        target_date,
    };
    let asks = [
        ask(&scrapers, "game_id", day),
        ask(&scrapers[..1], "date", day),
        ask(&[], "game_id", day),
        ask(&scrapers, "game_id", date("2026-05-03")),
        ask(&scrapers[..1], "game_id", date("2026-05-02")),
        ask(&scrapers, "game_id", day),
    ];
    let many = store
        .collected_values_many(&asks)
        .await
        .expect("collected_values_many");
    let mut singles = Vec::new();
    for a in &asks {
        singles.push(
            store
                .collected_values(&a.scrapers, &a.param, a.target_date)
                .await
                .expect("collected_values"),
        );
    }
    assert_eq!(many, singles);
    let game_ids = vec!["7".to_string(), "g1".to_string(), "g2".to_string()];
    assert_eq!(many[0], game_ids);
    assert_eq!(many[4], vec!["other_day".to_string()]);
    assert_eq!(many[5], game_ids);
    assert!(
        store
            .collected_values_many(&[])
            .await
            .expect("collected_values_many")
            .is_empty()
    );
    // Names and parameters are data, never SQL or JSON syntax: quotes,
    // brackets and a JSON path in them are asked about like any name.
    let odd = [
        ask(&[r#"x"]', 'y"#.to_string()], r#"$.a"b"#, day),
        ask(&scrapers, r#"game_id" OR 1=1 --"#, day),
    ];
    assert_eq!(
        store
            .collected_values_many(&odd)
            .await
            .expect("odd names are no error"),
        vec![Vec::<String>::new(), Vec::new()]
    );
}

/// `latest_payload` is the newest (by finish time) successful call of the
/// given scrapers that has an output URI, unchanged calls included; with a
/// date, only calls for that date count.
pub async fn latest_payload_picks_newest_success_with_uri(store: &dyn Store) {
    let tag = Tag::new();
    let d1 = date("2026-06-01");
    let d2 = date("2026-06-02");
    let t0 = ts("2026-06-02T10:00:00Z");
    let call = |scraper: &str, target: NaiveDate, minute: i64| {
        let mut call = sample_call(&tag, scraper, None, t0 + TimeDelta::minutes(minute));
        call.target_date = target;
        call.output_uri = Some(format!("file:///raw/{scraper}/{minute}.json"));
        call.content_hash = Some(format!("hash-{scraper}-{minute}"));
        call
    };
    let a1 = call("a", d1, 1);
    let b3 = call("b", d1, 3);
    // Unchanged: points at a1's payload, and is the newest confirmation.
    let mut a4 = call("a", d1, 4);
    a4.output_uri = a1.output_uri.clone();
    a4.content_hash = a1.content_hash.clone();
    a4.unchanged = true;
    let mut failed = call("a", d1, 5);
    failed.status = ScraperStatus::Failed;
    let mut no_data = call("a", d1, 6);
    no_data.status = ScraperStatus::NoData;
    let mut no_uri = call("a", d1, 7);
    no_uri.output_uri = None;
    let other = call("c", d1, 8);
    let a9 = call("a", d2, 9);
    // Recorded out of time order, so an id order would be caught.
    for call in [&a4, &a1, &b3, &failed, &no_data, &no_uri, &other, &a9] {
        record(store, call).await;
    }
    let expected = |call: &rebound_storage::NewScraperCall| LatestPayload {
        scraper_name: call.scraper_name.clone(),
        target_date: call.target_date,
        output_uri: call.output_uri.clone().expect("uri"),
        content_hash: call.content_hash.clone().expect("hash"),
        fetched_at: call.finished_at.trunc_subsecs(3),
    };
    let both = vec![tag.name("a"), tag.name("b")];
    let latest = |scrapers: Vec<String>, day: Option<NaiveDate>| async move {
        store
            .latest_payload(&scrapers, day)
            .await
            .expect("latest_payload")
    };
    assert_eq!(latest(both.clone(), Some(d1)).await, Some(expected(&a4)));
    assert_eq!(latest(both.clone(), None).await, Some(expected(&a9)));
    assert_eq!(latest(both.clone(), Some(d2)).await, Some(expected(&a9)));
    assert_eq!(
        latest(vec![tag.name("b")], Some(d1)).await,
        Some(expected(&b3))
    );
    assert_eq!(latest(both, Some(date("2026-06-03"))).await, None);
    assert_eq!(latest(vec![], None).await, None);
    assert_eq!(latest(vec![tag.name("never_ran")], None).await, None);
}

/// `executions_for_date` lists one workflow's runs for one target date,
/// oldest first.
pub async fn executions_for_date_oldest_first(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("2026-07-01T05:00:00Z");
    let day = t0.date_naive();
    let mut late = sample_execution(&tag, "late", t0 + TimeDelta::hours(6));
    late.target_date = day;
    late.status = WorkflowStatus::Partial;
    late.error_message = Some("odds: HTTP 503".to_string());
    let early = sample_execution(&tag, "early", t0);
    let mut other_day = sample_execution(&tag, "other_day", t0);
    other_day.target_date = date("2026-06-30");
    let mut other_wf = sample_execution(&tag, "other_wf", t0);
    other_wf.workflow_name = tag.name("other_wf");
    for run in [&late, &early, &other_day, &other_wf] {
        store
            .record_workflow_execution(run)
            .await
            .expect("record_workflow_execution");
    }
    let rows = store
        .executions_for_date(&tag.name("wf"), day)
        .await
        .expect("executions_for_date");
    assert_eq!(
        rows,
        vec![
            super::expected_execution_row(&early),
            super::expected_execution_row(&late)
        ]
    );
    assert!(
        store
            .executions_for_date(&tag.name("wf"), date("2026-07-02"))
            .await
            .expect("executions_for_date")
            .is_empty()
    );
}

/// `slot_history` has one row per slot with a decision or a run in the
/// date range (and `slot_facts` the same rows for the keys it is given): the newest decision time beside the run's state, result and
/// finish time (a retry is due `retry_every` after it), and a retry slot
/// may share its failed run's execution id.
pub async fn slot_history_joins_decisions_and_runs(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let d1 = date("2026-08-01");
    let d2 = date("2026-08-02");
    let t0 = ts("2026-08-01T05:00:00Z");

    // D1 05:00: RUN (queued), then a duplicate RUN (SKIP), then it ran.
    let run = new_run(&tag, "r1", &wf, d1, "05:00", t0);
    let mut first = new_decision(&tag, "d1", &wf, d1, "05:00", t0);
    first.execution_id = Some(run.execution_id.clone());
    store
        .record_decision(&first, Some(&run))
        .await
        .expect("record_decision");
    let dup_run = new_run(&tag, "r1dup", &wf, d1, "05:00", t0 + TimeDelta::minutes(1));
    let dup = new_decision(&tag, "d1dup", &wf, d1, "05:00", t0 + TimeDelta::minutes(1));
    store
        .record_decision(&dup, Some(&dup_run))
        .await
        .expect("record_decision");
    let worker = tag.name("w");
    let claimed = claim_own(store, &tag, &worker, t0, Duration::from_secs(60))
        .await
        .expect("claim");
    assert_eq!(claimed.run_id, run.run_id);
    let end = t0 + TimeDelta::seconds(30);
    assert!(
        store
            .finish_run(&run.run_id, &worker, end, "success", None)
            .await
            .expect("finish")
    );

    // D1 05:00's retry: its own slot, the same execution (a retry re-runs
    // what the failed run did not finish, under its execution id).
    let mut retry = new_run(
        &tag,
        "r1retry",
        &wf,
        d1,
        "05:00+retry1",
        t0 + TimeDelta::hours(1),
    );
    retry.execution_id = run.execution_id.clone();
    retry.run_at = t0 + TimeDelta::days(365);
    let mut retry_decision = new_decision(
        &tag,
        "d1retry",
        &wf,
        d1,
        "05:00+retry1",
        t0 + TimeDelta::hours(1),
    );
    retry_decision.execution_id = Some(run.execution_id.clone());
    assert!(
        store
            .record_decision(&retry_decision, Some(&retry))
            .await
            .expect("record_decision")
            .queued
    );

    // D1 window: decided, nothing queued.
    let mut wait = new_decision(&tag, "d2", &wf, d1, "window", t0 + TimeDelta::minutes(2));
    wait.action = DecisionAction::Skip;
    wait.reason = "waiting for the first game".to_string();
    store
        .record_decision(&wait, None)
        .await
        .expect("record_decision");

    // D2 backfill: queued without a decision.
    let mut backfill = new_run(&tag, "r2", &wf, d2, "backfill", t0 + TimeDelta::minutes(3));
    backfill.decision_id = None;
    backfill.run_at = t0 + TimeDelta::days(365);
    assert!(store.enqueue_run(&backfill).await.expect("enqueue_run"));

    // Outside the range, and another workflow in range: not listed.
    let outside = new_decision(&tag, "d3", &wf, date("2026-08-03"), "05:00", t0);
    store
        .record_decision(&outside, None)
        .await
        .expect("record_decision");
    let mut foreign = new_decision(&tag, "d4", &tag.name("other_wf"), d1, "06:00", t0);
    foreign.action = DecisionAction::Abort;
    store
        .record_decision(&foreign, None)
        .await
        .expect("record_decision");

    let rows = store.slot_history(&wf, d1, d2).await.expect("slot_history");
    assert_eq!(
        rows,
        vec![
            SlotRow {
                target_date: d1,
                slot: "05:00".to_string(),
                decided_at: Some(t0 + TimeDelta::minutes(1)),
                run_state: Some("done".to_string()),
                run_created_at: Some(run.created_at),
                execution_id: Some(run.execution_id.clone()),
                result_status: Some("success".to_string()),
                run_finished_at: Some(end),
            },
            SlotRow {
                target_date: d1,
                slot: "05:00+retry1".to_string(),
                decided_at: Some(t0 + TimeDelta::hours(1)),
                run_state: Some("queued".to_string()),
                run_created_at: Some(retry.created_at),
                execution_id: Some(run.execution_id.clone()),
                result_status: None,
                run_finished_at: None,
            },
            SlotRow {
                target_date: d1,
                slot: "window".to_string(),
                decided_at: Some(t0 + TimeDelta::minutes(2)),
                run_state: None,
                run_created_at: None,
                execution_id: None,
                result_status: None,
                run_finished_at: None,
            },
            SlotRow {
                target_date: d2,
                slot: "backfill".to_string(),
                decided_at: None,
                run_state: Some("queued".to_string()),
                run_created_at: Some(backfill.created_at),
                execution_id: Some(backfill.execution_id.clone()),
                result_status: None,
                run_finished_at: None,
            },
        ]
    );
    let just_d2 = store.slot_history(&wf, d2, d2).await.expect("slot_history");
    assert_eq!(just_d2.len(), 1);
    assert!(
        store
            .slot_history(&wf, d2, d1)
            .await
            .expect("slot_history")
            .is_empty(),
        "an empty range"
    );

    // `slot_facts` gives the rows of the keys asked, in slot_history's
    // order whatever the keys' order, once per key asked twice; a key with
    // neither a decision nor a run, and another workflow's key, have no row.
    let key = |d: NaiveDate, s: &str| (d, s.to_string());
    let asked = [
        key(d2, "backfill"),
        key(d1, "05:00"),
        key(d1, "07:00"),
        key(d1, "06:00"),
        key(d1, "window"),
        key(d1, "05:00"),
    ];
    let facts = store.slot_facts(&wf, &asked).await.expect("slot_facts");
    let wanted: Vec<SlotRow> = rows
        .iter()
        .filter(|r| r.slot != "05:00+retry1")
        .cloned()
        .collect();
    assert_eq!(facts, wanted);
    assert_eq!(
        store
            .slot_facts(&wf, &[key(d1, "05:00+retry1")])
            .await
            .expect("slot_facts"),
        vec![rows[1].clone()]
    );
    assert!(
        store
            .slot_facts(&wf, &[])
            .await
            .expect("slot_facts")
            .is_empty(),
        "no keys"
    );
}

// ---------------------------------------------------------------------------
// Fixtures.

/// A RUN decision for a slot; checks change what they test.
fn new_decision(
    tag: &Tag,
    id: &str,
    workflow: &str,
    day: NaiveDate,
    slot: &str,
    decided_at: DateTime<Utc>,
) -> NewDecision {
    NewDecision {
        decision_id: tag.name(id),
        workflow_name: workflow.to_string(),
        decided_at,
        slot: slot.to_string(),
        target_date: day,
        action: DecisionAction::Run,
        reason: format!("slot {slot} is due"),
        entities: "[]".to_string(),
        alert_level: AlertLevel::None,
        execution_id: None,
        decided_by: "scheduler-host:1234".to_string(),
    }
}

/// A lease longer than any date (`Duration::MAX`; the config bounds it,
/// the store must not depend on that) claims the run with a lease that
/// ends at least at the end of year 9999 and reads back, instead of
/// refusing every claim ("lease is too long", which stalled every worker)
/// or overflowing.
pub async fn a_lease_beyond_any_date_claims_and_does_not_expire(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    let t0 = ts("2026-04-03T08:00:00Z");
    let run = new_run(&tag, "forever", &wf, date("2026-04-03"), "08:00", t0);
    assert!(store.enqueue_run(&run).await.expect("enqueue_run"));
    let worker = tag.name("w");
    let claimed = claim_own(store, &tag, &worker, t0, Duration::MAX)
        .await
        .expect("claimed under a lease beyond any date");
    assert_eq!(claimed.run_id, run.run_id);
    let row = own_run(store, &tag, &run.run_id).await;
    assert_eq!(row.state, "running");
    assert!(
        row.lease_expires_at
            .is_some_and(|t| t >= ts("9999-12-31T23:59:59.999Z")),
        "{:?}",
        row.lease_expires_at
    );
    assert!(
        store
            .finish_run(&run.run_id, &worker, t0, "success", None)
            .await
            .expect("finish")
    );
}

/// A run due at `at` for a slot.
fn new_run(
    tag: &Tag,
    id: &str,
    workflow: &str,
    day: NaiveDate,
    slot: &str,
    at: DateTime<Utc>,
) -> NewScheduledRun {
    NewScheduledRun {
        run_id: tag.name(&format!("run_{id}")),
        workflow_name: workflow.to_string(),
        target_date: day,
        slot: slot.to_string(),
        params: format!(r#"{{"date":"{day}"}}"#),
        entities: r#"["g1"]"#.to_string(),
        run_at: at,
        scheduled_for: at,
        execution_id: tag.name(&format!("exec_{id}")),
        decision_id: Some(tag.name(&format!("decision_{id}"))),
        created_at: at,
    }
}

/// What a freshly queued `run` reads back as.
fn queued_row(run: &NewScheduledRun) -> ScheduledRunRow {
    ScheduledRunRow {
        run_id: run.run_id.clone(),
        workflow_name: run.workflow_name.clone(),
        target_date: run.target_date,
        slot: run.slot.clone(),
        params: run.params.clone(),
        entities: run.entities.clone(),
        state: "queued".to_string(),
        run_at: run.run_at.trunc_subsecs(3),
        scheduled_for: run.scheduled_for.trunc_subsecs(3),
        execution_id: run.execution_id.clone(),
        decision_id: run.decision_id.clone(),
        created_at: run.created_at.trunc_subsecs(3),
        claims: 0,
        lease_owner: None,
        lease_expires_at: None,
        started_at: None,
        finished_at: None,
        result_status: None,
        last_error: None,
    }
}

/// What `decision` reads back as when stored unchanged.
fn decision_row(decision: &NewDecision) -> DecisionRow {
    DecisionRow {
        decision_id: decision.decision_id.clone(),
        workflow_name: decision.workflow_name.clone(),
        decided_at: decision.decided_at.trunc_subsecs(3),
        slot: decision.slot.clone(),
        target_date: decision.target_date,
        action: decision.action.as_str().to_string(),
        reason: decision.reason.clone(),
        entities: decision.entities.clone(),
        alert_level: decision.alert_level.as_str().to_string(),
        execution_id: decision.execution_id.clone(),
        decided_by: decision.decided_by.clone(),
    }
}

fn is_own(tag: &Tag, run: &ScheduledRunRow) -> bool {
    run.run_id.starts_with(&tag.name(""))
}

/// Claims until it gets a run of this check (or none is due), passing over
/// the runs other checks left queued in a shared store.
async fn claim_own(
    store: &dyn Store,
    tag: &Tag,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Option<ScheduledRunRow> {
    loop {
        let run = store
            .claim_run(worker, now, lease)
            .await
            .expect("claim_run")?;
        if is_own(tag, &run) {
            return Some(run);
        }
    }
}

/// This check's runs, oldest first.
async fn own_runs(store: &dyn Store, tag: &Tag) -> Vec<ScheduledRunRow> {
    store
        .scheduled_runs(None, u32::MAX)
        .await
        .expect("scheduled_runs")
        .into_iter()
        .filter(|run| is_own(tag, run))
        .collect()
}

async fn own_run(store: &dyn Store, tag: &Tag, run_id: &str) -> ScheduledRunRow {
    let mut runs: Vec<ScheduledRunRow> = own_runs(store, tag)
        .await
        .into_iter()
        .filter(|run| run.run_id == run_id)
        .collect();
    assert_eq!(runs.len(), 1, "runs stored as {run_id}");
    runs.remove(0)
}

/// The ids of this check's runs among those the reaper returned.
fn own_ids(tag: &Tag, ids: Vec<String>) -> Vec<String> {
    let prefix = tag.name("");
    ids.into_iter()
        .filter(|id| id.starts_with(&prefix))
        .collect()
}
