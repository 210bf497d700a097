//! Circuit breaker storage: state round trip, atomic half-open probe
//! admission across concurrent callers, transitions and operator reset.

use super::{Tag, ts};
use rebound_domain::breaker::{Admission, BreakerConfig, BreakerState, Phase, Signal};
use rebound_domain::outcome::ErrorKind;
use rebound_storage::Store;
use std::sync::Mutex;

pub async fn run_all(store: &dyn Store) {
    breaker_state_round_trip(store).await;
    concurrent_half_open_admits_one_probe(store).await;
    reset_closes_and_records_a_transition(store).await;
}

/// Fails `source` five times in a row at `at`: the breaker opens.
async fn trip(store: &dyn Store, source: &str, at: &str) -> BreakerState {
    let cfg = BreakerConfig::default();
    let now = ts(at);
    let mut last = BreakerState::default();
    for _ in 0..5 {
        let mut change = |s: &mut BreakerState| {
            s.record(
                &cfg,
                now,
                Signal::Unhealthy,
                Some((ErrorKind::Server, "HTTP 503 after 3 attempts: «down»")),
                None,
            )
        };
        last = store
            .update_breaker(source, now, &mut change)
            .await
            .unwrap();
    }
    last
}

pub async fn breaker_state_round_trip(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("nba_stats");
    assert_eq!(store.breaker_state(&source).await.unwrap(), None);
    let written = trip(store, &source, "2026-01-05T10:00:00.123Z").await;
    assert_eq!(written.phase, Phase::Open);
    let row = store.breaker_state(&source).await.unwrap().expect("row");
    assert_eq!(row.source_name, source);
    assert_eq!(row.state, written, "read back equal to what was written");
    assert_eq!(row.state.trips, 1);
    assert_eq!(row.state.consecutive_failures, 5);
    assert_eq!(row.state.last_failure_kind, Some(ErrorKind::Server));
    assert_eq!(
        row.state.last_failure_message.as_deref(),
        Some("HTTP 503 after 3 attempts: «down»")
    );
    assert_eq!(row.state.open_until, Some(ts("2026-01-05T10:01:00.123Z")));
    assert_eq!(row.state.window_counts(), (5, 5));
    assert_eq!(row.updated_at, ts("2026-01-05T10:00:00.123Z"));
    let all = store.breaker_states().await.unwrap();
    assert!(
        all.iter()
            .any(|r| r.source_name == source && r.state == written)
    );
    let transitions = store.breaker_transitions(Some(&source), 10).await.unwrap();
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].from_state, "closed");
    assert_eq!(transitions[0].to_state, "open");
    assert_eq!(transitions[0].reason, "5 consecutive failures; open for 1m");
}

pub async fn concurrent_half_open_admits_one_probe(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("flaky");
    trip(store, &source, "2026-01-05T10:00:00Z").await;
    let cfg = BreakerConfig::default();
    let now = ts("2026-01-05T10:05:00Z");
    let admissions = futures::future::join_all((0..16).map(|_| {
        let source = source.clone();
        let cfg = cfg.clone();
        async move {
            let got = Mutex::new(None);
            let mut change = |s: &mut BreakerState| {
                let (admission, transitions) = s.admit(&cfg, &source, now, chrono_tz::UTC);
                *got.lock().unwrap() = Some(admission);
                transitions
            };
            store
                .update_breaker(&source, now, &mut change)
                .await
                .unwrap();
            got.into_inner().unwrap().expect("change ran")
        }
    }))
    .await;
    let probes = admissions
        .iter()
        .filter(|a| matches!(a, Admission::Probe(_)))
        .count();
    assert_eq!(probes, 1, "exactly one probe among {admissions:?}");
    let row = store.breaker_state(&source).await.unwrap().unwrap();
    assert_eq!(row.state.phase, Phase::HalfOpen);
    assert_eq!(row.state.probe_started_at, Some(now));
    let transitions = store.breaker_transitions(Some(&source), 10).await.unwrap();
    let to: Vec<&str> = transitions.iter().map(|t| t.to_state.as_str()).collect();
    assert_eq!(to, vec!["half_open", "open"], "newest first");
}

pub async fn reset_closes_and_records_a_transition(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("down");
    trip(store, &source, "2026-01-05T10:00:00Z").await;
    let now = ts("2026-01-05T10:00:30Z");
    let made = store
        .reset_breaker(&source, now, "reset by operator")
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    let row = store.breaker_state(&source).await.unwrap().unwrap();
    assert_eq!(row.state.phase, Phase::Closed);
    assert_eq!(row.state.consecutive_failures, 0);
    assert_eq!(row.state.trips, 1, "trips are history, kept");
    let newest = &store.breaker_transitions(Some(&source), 1).await.unwrap()[0];
    assert_eq!(
        (newest.from_state.as_str(), newest.to_state.as_str()),
        ("open", "closed")
    );
    assert_eq!(newest.reason, "reset by operator");
    // The newest transition of many sources at once: each as the
    // single-source read gives it, in order; none for a source without.
    let other = tag.name("other");
    trip(store, &other, "2026-01-05T11:00:00Z").await;
    let asked = [other.clone(), tag.name("never"), source.clone()];
    let many = store.newest_breaker_transitions(&asked).await.unwrap();
    let mut singles = Vec::new();
    for name in &asked {
        singles.push(
            store
                .breaker_transitions(Some(name), 1)
                .await
                .unwrap()
                .into_iter()
                .next(),
        );
    }
    assert_eq!(many, singles);
    assert_eq!(many[0].as_ref().map(|t| t.to_state.as_str()), Some("open"));
    assert_eq!(many[1], None);
    assert_eq!(
        many[2].as_ref().map(|t| t.reason.as_str()),
        Some("reset by operator")
    );
    assert!(
        store
            .newest_breaker_transitions(&[])
            .await
            .unwrap()
            .is_empty()
    );
    // A name that looks like SQL or JSON is just a name without transitions.
    assert_eq!(
        store
            .newest_breaker_transitions(&[r#"a"], ' OR 1=1 --"#.to_string()])
            .await
            .unwrap(),
        vec![None]
    );
    // Resetting a closed breaker records nothing.
    let again = store
        .reset_breaker(&source, now, "reset by operator")
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        store
            .breaker_transitions(Some(&source), 10)
            .await
            .unwrap()
            .len(),
        2
    );
}
