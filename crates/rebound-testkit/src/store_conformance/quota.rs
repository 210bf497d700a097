//! Conformance checks of the request-quota methods (`source_quota_usage`).

use super::{Tag, ts};
use rebound_storage::{QuotaKey, QuotaTake, Store};

fn key(source: &str, start: &str, end: &str) -> QuotaKey {
    QuotaKey {
        source_name: source.to_string(),
        period: "month".to_string(),
        period_start: ts(start),
        period_end: ts(end),
    }
}

fn granted(take: &QuotaTake) -> bool {
    matches!(take, QuotaTake::Granted(_))
}

/// Runs every quota check.
pub async fn run_all(store: &dyn Store) {
    quota_takes_until_the_limit_then_refuses(store).await;
    quota_settle_adjusts_and_reported_zero_refuses(store).await;
    quota_warning_is_marked_once_per_period(store).await;
    concurrent_quota_takes_never_pass_the_limit(store).await;
}

/// Takes count one each up to the limit; then they are refused and count
/// nothing. Periods are separate rows; times round-trip to the millisecond.
pub async fn quota_takes_until_the_limit_then_refuses(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let jan = key(&source, "2026-01-01T05:00:00Z", "2026-02-01T05:00:00Z");
    assert_eq!(
        store.quota_usage(&source, jan.period_start).await.unwrap(),
        None
    );
    let now = ts("2026-01-10T12:00:00.123Z");
    for n in 1..=3 {
        match store.quota_take(&jan, 3, now).await.unwrap() {
            QuotaTake::Granted(row) => assert_eq!(row.requests, n),
            other => panic!("take {n} refused: {other:?}"),
        }
    }
    match store.quota_take(&jan, 3, now).await.unwrap() {
        QuotaTake::Refused(row) => assert_eq!(row.requests, 3),
        other => panic!("take past the limit granted: {other:?}"),
    }
    let row = store
        .quota_usage(&source, jan.period_start)
        .await
        .unwrap()
        .expect("row exists");
    assert_eq!(row.source_name, source);
    assert_eq!(row.period, "month");
    assert_eq!(row.period_start, jan.period_start);
    assert_eq!(row.period_end, jan.period_end);
    assert_eq!(row.requests, 3);
    assert_eq!(row.remaining_reported, None);
    assert_eq!(row.warned_at, None);
    assert_eq!(row.updated_at, now);
    // A new period starts from zero.
    let feb = key(&source, "2026-02-01T05:00:00Z", "2026-03-01T05:00:00Z");
    assert!(granted(&store.quota_take(&feb, 3, now).await.unwrap()));
    assert_eq!(
        store
            .quota_usage(&source, feb.period_start)
            .await
            .unwrap()
            .unwrap()
            .requests,
        1
    );
    // A limit that grants nothing refuses a period's first take too, and
    // counts nothing.
    let mar = key(&source, "2026-03-01T05:00:00Z", "2026-04-01T05:00:00Z");
    match store.quota_take(&mar, 0, now).await.unwrap() {
        QuotaTake::Refused(row) => assert_eq!((row.requests, row.period_end), (0, mar.period_end)),
        other => panic!("a limit of 0 granted a take: {other:?}"),
    }
}

/// Settling adds retries, gives back unsent takes (never below zero) and
/// records the upstream's remaining count; a reported 0 refuses takes.
pub async fn quota_settle_adjusts_and_reported_zero_refuses(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let k = key(&source, "2026-01-01T05:00:00Z", "2026-02-01T05:00:00Z");
    let now = ts("2026-01-10T12:00:00Z");
    assert!(granted(&store.quota_take(&k, 100, now).await.unwrap()));
    let row = store.quota_settle(&k, 2, Some(40), now).await.unwrap();
    assert_eq!((row.requests, row.remaining_reported), (3, Some(40)));
    // No header this time: the last report is kept.
    let row = store.quota_settle(&k, -1, None, now).await.unwrap();
    assert_eq!((row.requests, row.remaining_reported), (2, Some(40)));
    let row = store.quota_settle(&k, -10, None, now).await.unwrap();
    assert_eq!(row.requests, 0);
    store.quota_settle(&k, 0, Some(0), now).await.unwrap();
    match store.quota_take(&k, 100, now).await.unwrap() {
        QuotaTake::Refused(row) => {
            assert_eq!((row.requests, row.remaining_reported), (0, Some(0)))
        }
        other => panic!("upstream said 0 left, take granted: {other:?}"),
    }
}

/// Only the first mark of a period's warning succeeds.
pub async fn quota_warning_is_marked_once_per_period(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let k = key(&source, "2026-01-01T05:00:00Z", "2026-02-01T05:00:00Z");
    let now = ts("2026-01-20T08:00:00Z");
    assert!(store.quota_mark_warned(&k, now).await.unwrap());
    assert!(
        !store
            .quota_mark_warned(&k, ts("2026-01-21T08:00:00Z"))
            .await
            .unwrap()
    );
    let row = store
        .quota_usage(&source, k.period_start)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.warned_at, Some(now));
    let next = key(&source, "2026-02-01T05:00:00Z", "2026-03-01T05:00:00Z");
    assert!(store.quota_mark_warned(&next, now).await.unwrap());
}

/// Many concurrent takes against a limit of 10 grant exactly 10.
pub async fn concurrent_quota_takes_never_pass_the_limit(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("odds");
    let k = key(&source, "2026-01-01T05:00:00Z", "2026-02-01T05:00:00Z");
    let now = ts("2026-01-10T12:00:00Z");
    let takes = (0..25).map(|_| store.quota_take(&k, 10, now));
    let results = futures::future::join_all(takes).await;
    let granted = results
        .iter()
        .filter(|r| granted(r.as_ref().expect("take works")))
        .count();
    assert_eq!(granted, 10);
    let row = store
        .quota_usage(&source, k.period_start)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.requests, 10);
}
