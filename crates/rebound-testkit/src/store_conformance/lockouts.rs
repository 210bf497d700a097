//! Checks of the entity-lockout methods (`entity_lockouts`).

use super::{Tag, record, sample_call, ts};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_storage::{LockoutRow, NewLockout, Store};

/// Runs every lockout check on `store`.
pub async fn run_all(store: &dyn Store) {
    lockout_round_trip_one_open_per_entity(store).await;
    release_by_entity_or_all(store).await;
    entity_streak_counts_back_and_restarts_after_release(store).await;
    a_lock_until_the_last_instant_reads_back(store).await;
}

fn new_lock(scraper: &str, entity: &str, at: DateTime<Utc>) -> NewLockout {
    NewLockout {
        scraper_name: scraper.to_string(),
        entity: entity.to_string(),
        locked_at: at,
        until: at + TimeDelta::hours(24),
        consecutive: 3,
        reason: "3 consecutive no_data/failures (last: «no game» 東京)".to_string(),
        source_hash: Some("abc123".to_string()),
    }
}

async fn open(store: &dyn Store, scraper: &str) -> Vec<LockoutRow> {
    store
        .open_lockouts(Some(scraper))
        .await
        .unwrap_or_else(|e| panic!("open_lockouts: {e}"))
}

/// A lock comes back field for field (milliseconds kept); a second lock of
/// the same open entity is refused; `None` lists every scraper's locks.
pub async fn lockout_round_trip_one_open_per_entity(store: &dyn Store) {
    let tag = Tag::new();
    let scraper = tag.name("pbp");
    let at = ts("2026-11-28T15:04:05.123Z");
    let lock = new_lock(&scraper, "0022500462", at);
    assert!(store.lock_entity(&lock).await.unwrap());
    assert!(
        !store.lock_entity(&lock).await.unwrap(),
        "a second open lock of the same entity must be refused"
    );
    let mut other = new_lock(&scraper, "0022500463", at);
    other.source_hash = None;
    assert!(store.lock_entity(&other).await.unwrap());
    let rows = open(store, &scraper).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first = &rows[0];
    assert_eq!(first.scraper_name, scraper);
    assert_eq!(first.entity, "0022500462");
    assert_eq!(first.locked_at, at);
    assert_eq!(first.until, at + TimeDelta::hours(24));
    assert_eq!(first.consecutive, 3);
    assert_eq!(first.reason, lock.reason);
    assert_eq!(first.source_hash.as_deref(), Some("abc123"));
    assert_eq!(first.released_at, None);
    assert_eq!(first.released_reason, None);
    assert_eq!(rows[1].entity, "0022500463");
    assert_eq!(rows[1].source_hash, None);
    let all = store.open_lockouts(None).await.unwrap();
    assert_eq!(all.iter().filter(|r| r.scraper_name == scraper).count(), 2);
}

/// Releasing one entity leaves the others; releasing all releases the
/// rest; a released entity may be locked again.
pub async fn release_by_entity_or_all(store: &dyn Store) {
    let tag = Tag::new();
    let scraper = tag.name("pbp");
    let at = ts("2026-11-28T15:00:00Z");
    for entity in ["a", "b", "c"] {
        assert!(
            store
                .lock_entity(&new_lock(&scraper, entity, at))
                .await
                .unwrap()
        );
    }
    let later = at + TimeDelta::hours(1);
    let n = store
        .release_lockouts(&scraper, Some("b"), later, "reset by operator")
        .await
        .unwrap();
    assert_eq!(n, 1);
    let left: Vec<String> = open(store, &scraper)
        .await
        .into_iter()
        .map(|r| r.entity)
        .collect();
    assert_eq!(left, vec!["a", "c"]);
    assert_eq!(
        store
            .release_lockouts(&scraper, Some("b"), later, "again")
            .await
            .unwrap(),
        0,
        "an already released lock is not released twice"
    );
    assert_eq!(
        store
            .release_lockouts(&scraper, None, later, "expired")
            .await
            .unwrap(),
        2
    );
    assert!(open(store, &scraper).await.is_empty());
    assert!(
        store
            .lock_entity(&new_lock(&scraper, "b", later))
            .await
            .unwrap()
    );
}

/// The streak counts no_data, failed and overdue calls of that entity back
/// from the newest, passes over skipped and throttled ones, stops at a success or
/// not_yet_available, ignores other entities and scrapers, and restarts
/// after a release.
pub async fn entity_streak_counts_back_and_restarts_after_release(store: &dyn Store) {
    let tag = Tag::new();
    let scraper = tag.name("pbp");
    let t0 = ts("2026-11-28T10:00:00Z");
    let call = |entity: &str, status: ScraperStatus, minutes: i64| {
        let mut c = sample_call(&tag, "pbp", None, t0 + TimeDelta::minutes(minutes));
        c.params = format!(r#"{{"date":"2026-01-01","game_id":"{entity}"}}"#);
        c.status = status;
        if status == ScraperStatus::Skipped {
            c.error_kind = Some(ErrorKind::LockedOut);
            c.error_message = Some("locked".into());
        }
        c
    };
    let streak = |entity: &'static str| {
        let scraper = scraper.clone();
        async move {
            store
                .entity_streak(&scraper, "game_id", entity, 10)
                .await
                .unwrap()
        }
    };
    assert_eq!(streak("g1").await, 0, "no calls, no streak");
    record(store, &call("g1", ScraperStatus::NoData, 0)).await;
    record(store, &call("g1", ScraperStatus::Success, 1)).await;
    record(store, &call("g1", ScraperStatus::NoData, 2)).await;
    record(store, &call("g1", ScraperStatus::Failed, 3)).await;
    record(store, &call("g2", ScraperStatus::Success, 4)).await;
    record(store, &call("g1", ScraperStatus::Skipped, 5)).await;
    record(store, &call("g1", ScraperStatus::Overdue, 6)).await;
    assert_eq!(streak("g1").await, 3);
    assert_eq!(streak("g2").await, 0);
    assert_eq!(
        store
            .entity_streak(&scraper, "game_id", "g1", 2)
            .await
            .unwrap(),
        2,
        "at most limit"
    );
    assert_eq!(
        store
            .entity_streak(&tag.name("other"), "game_id", "g1", 10)
            .await
            .unwrap(),
        0
    );
    record(store, &call("g2", ScraperStatus::NotYetAvailable, 7)).await;
    assert_eq!(streak("g2").await, 0, "not_yet_available is no streak");
    // A lock released at minute 10: only calls from then on count.
    assert!(
        store
            .lock_entity(&new_lock(&scraper, "g1", t0 + TimeDelta::minutes(7)))
            .await
            .unwrap()
    );
    store
        .release_lockouts(&scraper, Some("g1"), t0 + TimeDelta::minutes(10), "expired")
        .await
        .unwrap();
    assert_eq!(streak("g1").await, 0);
    record(store, &call("g1", ScraperStatus::NoData, 11)).await;
    assert_eq!(streak("g1").await, 1);
    // Throttled calls (the source said 429, or was paused after one) are
    // deferrals, about the source: passed over, like skipped ones.
    for minute in 12..15 {
        let mut deferred = call("g1", ScraperStatus::Failed, minute);
        deferred.error_kind = Some(ErrorKind::Throttled);
        deferred.http_status = Some(429);
        deferred.error_message = Some("HTTP 429: retry stored".into());
        record(store, &deferred).await;
    }
    assert_eq!(
        streak("g1").await,
        1,
        "throttled calls neither count nor end it"
    );
    record(store, &call("g1", ScraperStatus::Failed, 15)).await;
    assert_eq!(streak("g1").await, 2);
}

/// A lock "until the end of time" (`DateTime::MAX_UTC`, what saturating
/// arithmetic gives for a lockout beyond any date) is stored and read back
/// as a time at least at the end of year 9999, and the table stays
/// readable. On SQLite the year 262142 was written as text that did not
/// parse back, so every later read of the table failed.
pub async fn a_lock_until_the_last_instant_reads_back(store: &dyn Store) {
    let tag = Tag::new();
    let scraper = tag.name("pbp");
    let at = ts("2026-11-28T15:04:05.123Z");
    let mut lock = new_lock(&scraper, "forever", at);
    lock.until = DateTime::<Utc>::MAX_UTC;
    assert!(store.lock_entity(&lock).await.unwrap());
    let rows = open(store, &scraper).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].until >= ts("9999-12-31T23:59:59.999Z"),
        "{:?}",
        rows[0].until
    );
    assert_eq!(rows[0].locked_at, at);
}
