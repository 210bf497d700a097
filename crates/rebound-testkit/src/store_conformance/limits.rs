//! Conformance checks of the shared rate limits, pauses and retry budgets
//! ([`LimitsStore`]: `source_limits`, `source_retry_budget`).
//!
//! [`LimitsStore`]: rebound_storage::LimitsStore

use super::{Tag, ts};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::retry_budget::RetryBudgetConfig;
use rebound_storage::{SlotTake, Store};
use std::time::Duration;

/// Runs every limits check.
pub async fn run_all(store: &dyn Store) {
    limits_slots_are_spaced_by_the_interval(store).await;
    limits_pause_is_never_shortened_and_holds_slots(store).await;
    concurrent_slot_takers_get_distinct_spaced_slots(store).await;
    limits_retry_budget_is_counted_per_window(store).await;
    concurrent_retry_takers_never_pass_the_budget(store).await;
}

async fn take(
    store: &dyn Store,
    source: &str,
    interval: Duration,
    now: DateTime<Utc>,
    max_wait: Duration,
) -> SlotTake {
    store
        .limits_take_slot(source, interval, now, max_wait)
        .await
        .unwrap_or_else(|e| panic!("limits_take_slot: {e}"))
}

/// The first take is at `now`; each next one an interval after the last;
/// a slot further than the caller's wait is not taken (`Busy`, saying
/// when); a take after a quiet spell starts at its own `now`; sources are
/// separate.
pub async fn limits_slots_are_spaced_by_the_interval(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let step = Duration::from_millis(3000);
    let now = ts("2026-03-01T10:00:00.250Z");
    let long = Duration::from_secs(60);
    assert_eq!(
        take(store, &source, step, now, long).await,
        SlotTake::Taken { at: now }
    );
    assert_eq!(
        take(store, &source, step, now, long).await,
        SlotTake::Taken {
            at: now + TimeDelta::seconds(3)
        }
    );
    // The next slot is 6 s away: a caller that waits at most 5 s gets none.
    assert_eq!(
        take(store, &source, step, now, Duration::from_secs(5)).await,
        SlotTake::Busy {
            next_at: now + TimeDelta::seconds(6)
        }
    );
    // Nothing was taken by the refusal.
    assert_eq!(
        take(store, &source, step, now, long).await,
        SlotTake::Taken {
            at: now + TimeDelta::seconds(6)
        }
    );
    let later = now + TimeDelta::minutes(5);
    assert_eq!(
        take(store, &source, step, later, Duration::ZERO).await,
        SlotTake::Taken { at: later }
    );
    // Sub-millisecond spacing (a rate above 1000/s) is kept.
    let fast = tag.name("fast");
    let tiny = Duration::from_micros(250);
    assert_eq!(
        take(store, &fast, tiny, now, long).await,
        SlotTake::Taken { at: now }
    );
    assert_eq!(
        take(store, &fast, tiny, now, long).await,
        SlotTake::Taken {
            at: now + TimeDelta::microseconds(250)
        }
    );
    // Another source has its own slots.
    let other = tag.name("other");
    assert_eq!(
        take(store, &other, step, now, Duration::ZERO).await,
        SlotTake::Taken { at: now }
    );
}

/// A pause is stored with its end and reason, is never shortened (a
/// longer one replaces it), refuses slots until it ends (taking nothing),
/// and is no longer reported once it has ended.
pub async fn limits_pause_is_never_shortened_and_holds_slots(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let now = ts("2026-03-01T10:00:00.000Z");
    let until = ts("2026-03-01T10:02:00.123Z");
    assert_eq!(store.limits_paused(&source, now).await.unwrap(), None);
    let row = store
        .limits_pause(&source, until, "HTTP 429 with Retry-After 120s")
        .await
        .unwrap();
    assert_eq!(row.source_name, source);
    assert_eq!(row.paused_until, until);
    assert_eq!(row.reason, "HTTP 429 with Retry-After 120s");
    let shorter = store
        .limits_pause(&source, now + TimeDelta::seconds(30), "shorter")
        .await
        .unwrap();
    assert_eq!(shorter.paused_until, until, "a pause is never shortened");
    assert_eq!(shorter.reason, "HTTP 429 with Retry-After 120s");
    let read = store
        .limits_paused(&source, now)
        .await
        .unwrap()
        .expect("paused");
    assert_eq!(read.paused_until, until);
    let step = Duration::from_secs(1);
    assert_eq!(
        take(store, &source, step, now, Duration::MAX).await,
        SlotTake::Paused {
            until,
            reason: "HTTP 429 with Retry-After 120s".to_string()
        }
    );
    let longer = until + TimeDelta::seconds(60);
    let row = store
        .limits_pause(&source, longer, "RateLimit: 0 remaining, reset in 180s")
        .await
        .unwrap();
    assert_eq!(row.paused_until, longer);
    assert_eq!(row.reason, "RateLimit: 0 remaining, reset in 180s");
    assert_eq!(store.limits_paused(&source, longer).await.unwrap(), None);
    assert_eq!(
        take(store, &source, step, longer, Duration::ZERO).await,
        SlotTake::Taken { at: longer },
        "the refused takes took nothing"
    );
}

/// Concurrent takers of one source get distinct slots, exactly one
/// interval apart, however their transactions interleave.
pub async fn concurrent_slot_takers_get_distinct_spaced_slots(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let now = ts("2026-03-01T10:00:00.000Z");
    let step = Duration::from_millis(100);
    let takes = (0..24).map(|_| take(store, &source, step, now, Duration::MAX));
    let mut slots: Vec<DateTime<Utc>> = futures::future::join_all(takes)
        .await
        .into_iter()
        .map(|t| match t {
            SlotTake::Taken { at } => at,
            other => panic!("a take with no wait limit was refused: {other:?}"),
        })
        .collect();
    slots.sort();
    let expected: Vec<DateTime<Utc>> = (0..24)
        .map(|k| now + TimeDelta::milliseconds(100 * k))
        .collect();
    assert_eq!(slots, expected);
}

/// Retries are allowed up to `min_retries + ratio × calls` of the window;
/// a refusal counts nothing; calls and retries that left the window no
/// longer count.
pub async fn limits_retry_budget_is_counted_per_window(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let cfg = RetryBudgetConfig {
        ratio: 0.5,
        min_retries: 2,
        window: Duration::from_secs(100),
    };
    let now = ts("2026-03-01T10:00:05.000Z");
    store
        .limits_record_calls(&source, &cfg, now, 1)
        .await
        .unwrap();
    store
        .limits_record_calls(&source, &cfg, now, 2)
        .await
        .unwrap();
    // The fourth call comes with the first retry.
    let counts = store
        .limits_take_retry(&source, &cfg, now, 1)
        .await
        .unwrap();
    assert!(counts.granted);
    assert_eq!((counts.calls, counts.retries), (4, 1));
    for n in 2..=4 {
        let counts = store
            .limits_take_retry(&source, &cfg, now, 0)
            .await
            .unwrap();
        assert!(counts.granted, "retry {n} of 2 + 50% of 4 calls");
        assert_eq!((counts.calls, counts.retries), (4, n));
    }
    let refused = store
        .limits_take_retry(&source, &cfg, now, 0)
        .await
        .unwrap();
    assert!(!refused.granted);
    assert_eq!((refused.calls, refused.retries), (4, 4));
    // Another source has its own budget.
    let other = tag.name("other");
    let counts = store.limits_take_retry(&other, &cfg, now, 0).await.unwrap();
    assert!(counts.granted);
    assert_eq!((counts.calls, counts.retries), (0, 1));
    // Two windows later everything has left it: the floor allows 2 again.
    let later = now + TimeDelta::seconds(200);
    let counts = store
        .limits_take_retry(&source, &cfg, later, 1)
        .await
        .unwrap();
    assert!(counts.granted);
    assert_eq!((counts.calls, counts.retries), (1, 1));
}

/// Concurrent retry takers never pass the budget together.
pub async fn concurrent_retry_takers_never_pass_the_budget(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let cfg = RetryBudgetConfig {
        ratio: 0.0,
        min_retries: 5,
        window: Duration::from_secs(600),
    };
    let now = ts("2026-03-01T10:00:00.000Z");
    let takes = (0..20).map(|_| store.limits_take_retry(&source, &cfg, now, 0));
    let granted = futures::future::join_all(takes)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("limits_take_retry: {e}")))
        .filter(|c| c.granted)
        .count();
    assert_eq!(granted, 5);
}
