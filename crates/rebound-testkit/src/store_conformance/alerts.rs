//! Conformance checks of the alert methods (`alert_incidents`, `alerts`).
//!
//! Each check works in its own years (1980s and 1990s) so that, on a store
//! shared by the whole suite, "due before now", "resolved before the
//! cutoff" and "created since" see only the check's own rows.

use super::{Tag, ts};
use chrono::TimeDelta;
use rebound_storage::{AlertIncidentUpdate, DeliveryOutcome, NewAlert, NewAlertIncident, Store};

/// Runs every alert check.
pub async fn run_all(store: &dyn Store) {
    alert_purge_deletes_old_resolved_incidents_in_batches(store).await;
    alert_incident_lifecycle(store).await;
    alert_delivery_claims_retries_and_finishes(store).await;
    concurrent_alert_opens_make_one_incident(store).await;
    alert_incident_cause_round_trips_and_is_no_stamp(store).await;
}

/// An incident opened with a cause keeps it, an update can clear it (the
/// incident is then announced on its own), and notices suppressed because
/// of the cause are not stamps (the rate limits never held them back),
/// while rate-limited ones still are.
pub async fn alert_incident_cause_round_trips_and_is_no_stamp(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = "1987-07-01T10:00:00Z";
    let cause = format!("{} odds", tag.name("source_unhealthy"));
    let grouped = |status: &str, at: &str, event: &str| NewAlert {
        last_error: Some(format!("{}{cause}", rebound_storage::CAUSED_BY_PREFIX)),
        ..alert("slack", event, at, status)
    };
    let new = NewAlertIncident {
        condition: tag.name("workflow_failed"),
        caused_by: Some(cause.clone()),
        ..incident(&tag, "nightly", t0)
    };
    let opened = store
        .open_alert_incident(&new, &[grouped("suppressed", t0, "opened")])
        .await
        .unwrap()
        .expect("opened");
    assert_eq!(opened.caused_by.as_deref(), Some(cause.as_str()));
    let open = store.open_alert_incidents().await.unwrap();
    let row = open.iter().find(|i| i.id == opened.id).unwrap();
    assert_eq!(row.caused_by.as_deref(), Some(cause.as_str()));

    // A rate-limited notice of another incident in the same period.
    let other = store
        .open_alert_incident(
            &incident(&tag, "espn", "1987-07-01T10:05:00Z"),
            &[alert(
                "slack",
                "opened",
                "1987-07-01T10:05:00Z",
                "suppressed",
            )],
        )
        .await
        .unwrap()
        .expect("opened");
    let stamps: Vec<_> = store
        .alert_stamps_since(ts("1987-07-01T00:00:00Z"))
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.condition.contains(&tag.name("")))
        .collect();
    assert_eq!(stamps.len(), 1, "{stamps:?}");
    assert_eq!(stamps[0].subject, "espn");
    assert!(stamps[0].suppressed);

    // Announced on its own: the cause is cleared and the notice is a stamp.
    let t1 = "1987-07-02T10:00:00Z";
    let update = AlertIncidentUpdate {
        id: opened.id,
        level: "critical".into(),
        peak_level: "critical".into(),
        summary: "nightly: still failing".into(),
        last_seen_at: ts(t1),
        notified: Some((Some(ts(t0)), ts(t1))),
        caused_by: None,
    };
    assert!(
        store
            .update_alert_incident(&update, &[alert("slack", "opened", t1, "pending")])
            .await
            .unwrap()
    );
    let open = store.open_alert_incidents().await.unwrap();
    let row = open.iter().find(|i| i.id == opened.id).unwrap();
    assert_eq!(row.caused_by, None);
    let stamps = store
        .alert_stamps_since(ts("1987-07-02T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        stamps
            .iter()
            .any(|s| s.subject == "nightly" && !s.suppressed)
    );
    for id in [opened.id, other.id] {
        assert!(
            store
                .resolve_alert_incident(id, ts("1987-07-03T00:00:00Z"), &[])
                .await
                .unwrap()
        );
    }
}

fn incident(tag: &Tag, subject: &str, at: &str) -> NewAlertIncident {
    NewAlertIncident {
        condition: tag.name("source_unhealthy"),
        subject: subject.to_string(),
        level: "critical".to_string(),
        summary: format!("{subject}: breaker open"),
        opened_at: ts(at),
        last_notified_at: Some(ts(at)),
        caused_by: None,
    }
}

fn alert(sink: &str, event: &str, at: &str, status: &str) -> NewAlert {
    NewAlert {
        sink: sink.to_string(),
        event: event.to_string(),
        level: "critical".to_string(),
        message: format!("{event} ‘quoted’ \"text\"\nline two"),
        payload: format!("{{\"event\":\"{event}\"}}"),
        created_at: ts(at),
        delivery_status: status.to_string(),
        next_attempt_at: (status == "pending").then(|| ts(at)),
        last_error: (status == "suppressed").then(|| "rate limit".to_string()),
    }
}

/// Open, see again (with and without a notification), resolve, reopen:
/// every field round-trips, an open incident is unique per condition and
/// subject, and a reminder is recorded only against the expected previous
/// `last_notified_at`.
pub async fn alert_incident_lifecycle(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = "1985-03-01T10:00:00.123Z";
    let new = incident(&tag, "odds", t0);
    let opened = store
        .open_alert_incident(&new, &[alert("slack", "opened", t0, "pending")])
        .await
        .unwrap()
        .expect("opened");
    assert_eq!(opened.condition, new.condition);
    assert_eq!(opened.subject, "odds");
    assert_eq!(
        (opened.level.as_str(), opened.peak_level.as_str()),
        ("critical", "critical")
    );
    assert_eq!(opened.opened_at, ts(t0));
    assert_eq!(opened.last_seen_at, ts(t0));
    assert_eq!(opened.last_notified_at, Some(ts(t0)));
    assert_eq!(opened.resolved_at, None);

    // The same condition and subject cannot be opened twice, and the loser
    // writes nothing (no notification rows either).
    let again = store
        .open_alert_incident(&new, &[alert("slack", "opened", t0, "pending")])
        .await
        .unwrap();
    assert_eq!(again, None);
    let mine: Vec<_> = store
        .open_alert_incidents()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.condition == new.condition)
        .collect();
    assert_eq!(mine, vec![opened.clone()]);
    let rows: Vec<_> = store
        .recent_alerts(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.incident_id == opened.id)
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].message, "opened ‘quoted’ \"text\"\nline two");
    assert_eq!(rows[0].condition, new.condition);

    // Seen again, no notification: only the level, summary and last_seen change.
    let t1 = ts("1985-03-01T11:00:00.456Z");
    let seen = AlertIncidentUpdate {
        id: opened.id,
        level: "warning".into(),
        peak_level: "critical".into(),
        summary: "odds: probe failing".into(),
        last_seen_at: t1,
        notified: None,
        caused_by: None,
    };
    assert!(store.update_alert_incident(&seen, &[]).await.unwrap());
    // A reminder decided against a stale `last_notified_at` is refused.
    let t2 = ts("1985-03-01T16:00:00Z");
    let stale = AlertIncidentUpdate {
        notified: Some((None, t2)),
        last_seen_at: t2,
        ..seen.clone()
    };
    let reminder = alert("slack", "renotify", "1985-03-01T16:00:00Z", "pending");
    assert!(
        !store
            .update_alert_incident(&stale, std::slice::from_ref(&reminder))
            .await
            .unwrap()
    );
    let fresh = AlertIncidentUpdate {
        notified: Some((Some(ts(t0)), t2)),
        ..stale.clone()
    };
    assert!(
        store
            .update_alert_incident(&fresh, std::slice::from_ref(&reminder))
            .await
            .unwrap()
    );
    let now_open = store.open_alert_incidents().await.unwrap();
    let row = now_open.iter().find(|i| i.id == opened.id).unwrap();
    assert_eq!(row.level, "warning");
    assert_eq!(row.peak_level, "critical");
    assert_eq!(row.summary, "odds: probe failing");
    assert_eq!(row.last_seen_at, t2);
    assert_eq!(row.last_notified_at, Some(t2));

    // Resolve once; the second resolve and later updates change nothing.
    let t3 = ts("1985-03-01T18:00:00Z");
    let recovered = alert("slack", "recovered", "1985-03-01T18:00:00Z", "pending");
    assert!(
        store
            .resolve_alert_incident(opened.id, t3, std::slice::from_ref(&recovered))
            .await
            .unwrap()
    );
    assert!(
        !store
            .resolve_alert_incident(opened.id, t3, &[recovered])
            .await
            .unwrap()
    );
    assert!(!store.update_alert_incident(&seen, &[]).await.unwrap());
    assert!(
        store
            .open_alert_incidents()
            .await
            .unwrap()
            .iter()
            .all(|i| i.id != opened.id)
    );
    let recent = store
        .recent_alert_incidents(ts("1985-03-01T00:00:00Z"), 1000)
        .await
        .unwrap();
    let resolved = recent.iter().find(|i| i.id == opened.id).unwrap();
    assert_eq!(resolved.resolved_at, Some(t3));
    let events: Vec<String> = store
        .recent_alerts(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.incident_id == opened.id)
        .map(|a| a.event)
        .collect();
    assert_eq!(events, ["recovered", "renotify", "opened"], "newest first");

    // Once resolved, the same problem may open a new incident.
    let reopened = store
        .open_alert_incident(&incident(&tag, "odds", "1985-03-02T00:00:00Z"), &[])
        .await
        .unwrap()
        .expect("a new incident");
    assert_ne!(reopened.id, opened.id);
}

/// Pending rows are claimed once (the claim moves them to the lease time
/// and counts an attempt), retried at their stored time, and finished;
/// suppressed rows are never claimed. Stamps group a notification's sink
/// rows into one.
pub async fn alert_delivery_claims_retries_and_finishes(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = "1991-06-01T12:00:00Z";
    let rows = [
        alert("hook", "opened", t0, "pending"),
        alert("slack", "opened", t0, "pending"),
    ];
    let inc = store
        .open_alert_incident(&incident(&tag, "nba", t0), &rows)
        .await
        .unwrap()
        .unwrap();
    let t1 = "1991-06-01T12:30:00Z";
    let held = store
        .update_alert_incident(
            &AlertIncidentUpdate {
                id: inc.id,
                level: "critical".into(),
                peak_level: "critical".into(),
                summary: inc.summary.clone(),
                last_seen_at: ts(t1),
                notified: Some((Some(ts(t0)), ts(t1))),
                caused_by: None,
            },
            &[
                alert("hook", "renotify", t1, "suppressed"),
                alert("slack", "renotify", t1, "suppressed"),
            ],
        )
        .await
        .unwrap();
    assert!(held);

    let stamps = store
        .alert_stamps_since(ts("1991-06-01T00:00:00Z"))
        .await
        .unwrap();
    let stamps: Vec<_> = stamps
        .into_iter()
        .filter(|s| s.condition == inc.condition)
        .map(|s| (s.subject, s.created_at, s.suppressed))
        .collect();
    assert_eq!(
        stamps,
        vec![
            ("nba".to_string(), ts(t0), false),
            ("nba".to_string(), ts(t1), true)
        ]
    );

    let now = ts("1991-06-01T12:00:01Z");
    let lease = now + TimeDelta::seconds(60);
    let claimed = store.claim_due_alerts(now, lease, 10).await.unwrap();
    let claimed: Vec<_> = claimed
        .into_iter()
        .filter(|a| a.incident_id == inc.id)
        .collect();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    assert!(claimed.iter().all(|a| a.attempts == 1
        && a.next_attempt_at == Some(lease)
        && a.delivery_status == "pending"
        && a.event == "opened"
        && a.condition == inc.condition
        && a.subject == "nba"));
    // Taken: a second deliverer finds nothing until the lease runs out.
    assert!(
        store
            .claim_due_alerts(now, lease, 10)
            .await
            .unwrap()
            .iter()
            .all(|a| a.incident_id != inc.id)
    );

    let (hook, slack) = if claimed[0].sink == "hook" {
        (&claimed[0], &claimed[1])
    } else {
        (&claimed[1], &claimed[0])
    };
    let delivered_at = ts("1991-06-01T12:00:02.250Z");
    store
        .record_alert_delivery(hook.id, &DeliveryOutcome::Delivered { at: delivered_at })
        .await
        .unwrap();
    let retry_at = ts("1991-06-01T12:01:00Z");
    store
        .record_alert_delivery(
            slack.id,
            &DeliveryOutcome::Retry {
                error: "HTTP 503 from sink slack".into(),
                next_attempt_at: retry_at,
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_due_alerts(ts("1991-06-01T12:00:59Z"), lease, 10)
            .await
            .unwrap()
            .iter()
            .all(|a| a.incident_id != inc.id)
    );
    let second = store
        .claim_due_alerts(retry_at, retry_at + TimeDelta::seconds(60), 10)
        .await
        .unwrap();
    let second: Vec<_> = second
        .into_iter()
        .filter(|a| a.incident_id == inc.id)
        .collect();
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].id, second[0].attempts), (slack.id, 2));
    assert_eq!(
        second[0].last_error.as_deref(),
        Some("HTTP 503 from sink slack")
    );
    store
        .record_alert_delivery(
            slack.id,
            &DeliveryOutcome::Failed {
                error: "gave up".into(),
            },
        )
        .await
        .unwrap();
    // A finished row is not changed by a late outcome.
    store
        .record_alert_delivery(
            hook.id,
            &DeliveryOutcome::Failed {
                error: "late".into(),
            },
        )
        .await
        .unwrap();

    let all: Vec<_> = store
        .recent_alerts(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.incident_id == inc.id)
        .collect();
    let find = |id: i64| all.iter().find(|a| a.id == id).unwrap();
    assert_eq!(find(hook.id).delivery_status, "delivered");
    assert_eq!(find(hook.id).delivered_at, Some(delivered_at));
    assert_eq!(find(hook.id).last_error, None);
    assert_eq!(find(slack.id).delivery_status, "failed");
    assert_eq!(find(slack.id).last_error.as_deref(), Some("gave up"));
    let suppressed: Vec<_> = all
        .iter()
        .filter(|a| a.delivery_status == "suppressed")
        .collect();
    assert_eq!(suppressed.len(), 2);
    assert!(
        suppressed
            .iter()
            .all(|a| a.attempts == 0 && a.last_error.as_deref() == Some("rate limit"))
    );
}

/// Eight evaluators opening the same incident at once: exactly one wins.
pub async fn concurrent_alert_opens_make_one_incident(store: &dyn Store) {
    let tag = Tag::new();
    let new = incident(&tag, "stats", "1993-01-01T00:00:00Z");
    let row = alert("slack", "opened", "1993-01-01T00:00:00Z", "suppressed");
    let attempts = (0..8).map(|_| store.open_alert_incident(&new, std::slice::from_ref(&row)));
    let results = futures::future::join_all(attempts).await;
    let won: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap())
        .filter(Option::is_some)
        .collect();
    assert_eq!(won.len(), 1);
    let stamps = store
        .alert_stamps_since(ts("1993-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        stamps
            .iter()
            .filter(|s| s.condition == new.condition)
            .count(),
        1
    );
}

/// Resolved incidents older than the cutoff go with their notifications,
/// `batch` incidents per call; open and newer ones stay.
pub async fn alert_purge_deletes_old_resolved_incidents_in_batches(store: &dyn Store) {
    let tag = Tag::new();
    let mut old = Vec::new();
    for (n, subject) in ["a", "b", "c"].iter().enumerate() {
        let at = format!("1980-01-0{}T00:00:00Z", n + 1);
        let inc = store
            .open_alert_incident(
                &incident(&tag, subject, &at),
                &[
                    alert("slack", "opened", &at, "suppressed"),
                    alert("hook", "opened", &at, "suppressed"),
                ],
            )
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .resolve_alert_incident(inc.id, ts(&at) + TimeDelta::hours(1), &[])
                .await
                .unwrap()
        );
        old.push(inc.id);
    }
    // Resolved after the cutoff, and still open: both stay.
    let late = store
        .open_alert_incident(&incident(&tag, "late", "1980-05-01T00:00:00Z"), &[])
        .await
        .unwrap()
        .unwrap();
    store
        .resolve_alert_incident(late.id, ts("1980-07-01T00:00:00Z"), &[])
        .await
        .unwrap();
    let open = store
        .open_alert_incident(
            &incident(&tag, "open", "1980-01-01T00:00:00Z"),
            &[alert(
                "slack",
                "opened",
                "1980-01-01T00:00:00Z",
                "suppressed",
            )],
        )
        .await
        .unwrap()
        .unwrap();

    let cutoff = ts("1980-06-01T00:00:00Z");
    assert_eq!(
        store.count_alerts_before(cutoff).await.unwrap(),
        9,
        "3 resolved incidents and their 6 alerts would go; counting deletes nothing"
    );
    assert_eq!(store.count_alerts_before(cutoff).await.unwrap(), 9);
    assert_eq!(
        store.purge_alerts_before(cutoff, 2).await.unwrap(),
        6,
        "2 incidents, 4 alerts"
    );
    assert_eq!(store.purge_alerts_before(cutoff, 2).await.unwrap(), 3);
    assert_eq!(store.purge_alerts_before(cutoff, 2).await.unwrap(), 0);

    let left = store
        .recent_alert_incidents(ts("1979-01-01T00:00:00Z"), 10_000)
        .await
        .unwrap();
    let left: Vec<i64> = left
        .into_iter()
        .filter(|i| i.condition == open.condition)
        .map(|i| i.id)
        .collect();
    assert!(
        left.contains(&late.id) && left.contains(&open.id),
        "{left:?}"
    );
    assert!(old.iter().all(|id| !left.contains(id)));
    let alerts = store.recent_alerts(10_000).await.unwrap();
    assert!(alerts.iter().all(|a| !old.contains(&a.incident_id)));
    assert!(alerts.iter().any(|a| a.incident_id == open.id));
}
