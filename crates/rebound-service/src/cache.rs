//! A value that is expensive to make and read by many at once (a page of
//! the dashboard, the API's health document), kept for [`CACHE_FOR`] on
//! the service's clock and made by one caller at a time.
//!
//! Without the single making, every request that found the value expired
//! made it too: twenty clients meant twenty health reports sharing two
//! cores, each twenty times slower, none done before the next expiry
//! (measured on a 10-million-call history: no overview within 2 s, and
//! `GET /api/v1/health` at 3.7 s p50, see `docs/benchmarks.md`). With it,
//! one request makes it; the others meanwhile get the previous value if
//! it is at most [`SERVE_OLD_FOR`] old, else wait for that making.

use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::clock::Clock;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long a made value is served again.
pub(crate) const CACHE_FOR: TimeDelta = TimeDelta::seconds(5);

/// How old a value may be to be served while another caller makes the
/// next one. After a quiet spell (nobody asked for an hour) or while
/// makings fail (errors are not kept), the kept value is a picture of long
/// ago: a monitoring client must wait for the new one rather than get
/// that with a `200`.
pub(crate) const SERVE_OLD_FOR: TimeDelta = TimeDelta::seconds(30);

/// One value's last making and when it was made, and the lock that lets
/// one caller at a time make it.
pub(crate) struct SingleFlight<T> {
    value: Mutex<Option<(DateTime<Utc>, T)>>,
    making: tokio::sync::Mutex<()>,
    /// Bumped by [`SingleFlight::clear`]: a making that began before a
    /// clear read the state the clear was about, so it is not kept.
    generation: AtomicU64,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            value: Mutex::new(None),
            making: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }
}

impl<T: Clone> SingleFlight<T> {
    /// The kept value if it is younger than `max_age`.
    fn get(&self, now: DateTime<Utc>, max_age: TimeDelta) -> Option<T> {
        let guard = self.value.lock().ok()?;
        let (at, value) = guard.as_ref()?;
        (now >= *at && now - *at < max_age).then(|| value.clone())
    }

    /// Forgets the kept value (the service itself just changed what it
    /// shows: an operator's reset must show at once, not 5 s later).
    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut guard) = self.value.lock() {
            *guard = None;
        }
    }

    /// The value kept, or made by `make` at the clock's now and kept; an
    /// `Err` from `make` is returned and not kept.
    pub(crate) async fn get_or_make<F, Fut, E>(&self, clock: &dyn Clock, make: F) -> Result<T, E>
    where
        F: FnOnce(DateTime<Utc>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let now = clock.now();
        if let Some(value) = self.get(now, CACHE_FOR) {
            return Ok(value);
        }
        let _making = match self.making.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Someone is making it: the previous value, if there is
                // one recent enough, else wait for theirs.
                if let Some(value) = self.get(now, SERVE_OLD_FOR) {
                    return Ok(value);
                }
                self.making.lock().await
            }
        };
        // Another caller may have made it between the two looks.
        let now = clock.now();
        if let Some(value) = self.get(now, CACHE_FOR) {
            return Ok(value);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let value = make(now).await?;
        if let Ok(mut guard) = self.value.lock()
            && self.generation.load(Ordering::SeqCst) == generation
        {
            *guard = Some((now, value.clone()));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_domain::clock::ManualClock;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-11-28T17:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
        ))
    }

    /// Twenty callers at once on an empty cache: one making; after the
    /// value expires, one more.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_make_it_once() {
        let cache = Arc::new(SingleFlight::<String>::default());
        let clock = clock();
        let makes = Arc::new(AtomicUsize::new(0));
        let round = || {
            let mut tasks = Vec::new();
            for _ in 0..20 {
                let (cache, clock, makes) = (cache.clone(), clock.clone(), makes.clone());
                tasks.push(tokio::spawn(async move {
                    cache
                        .get_or_make(clock.as_ref(), |_| async move {
                            makes.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok::<_, ()>("page".to_string())
                        })
                        .await
                }));
            }
            tasks
        };
        for task in round() {
            assert_eq!(task.await.expect("task").as_deref(), Ok("page"));
        }
        assert_eq!(makes.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(6));
        for task in round() {
            assert_eq!(task.await.expect("task").as_deref(), Ok("page"));
        }
        assert_eq!(makes.load(Ordering::SeqCst), 2, "expired: made once more");
    }

    /// A caller making `value` until released: its task, and the
    /// release, once the making has started.
    async fn making(
        cache: &Arc<SingleFlight<u32>>,
        clock: &Arc<ManualClock>,
        value: u32,
    ) -> (
        tokio::task::JoinHandle<Result<u32, ()>>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let (started, start) = tokio::sync::oneshot::channel();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (cache, clock) = (cache.clone(), clock.clone());
        let task = tokio::spawn(async move {
            cache
                .get_or_make(clock.as_ref(), |_| async move {
                    let _ = started.send(());
                    let _ = released.await;
                    Ok(value)
                })
                .await
        });
        start.await.expect("the making started");
        (task, release)
    }

    /// While one caller makes the value, another gets the previous one
    /// only if it is recent: an hour-old value is never served, the
    /// caller waits for the new one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_old_value_is_not_served_while_the_next_is_made() {
        let cache = Arc::new(SingleFlight::<u32>::default());
        let clock = clock();
        let made = |v: u32| move |_| async move { Ok::<_, ()>(v) };
        assert_eq!(cache.get_or_make(clock.as_ref(), made(1)).await, Ok(1));

        // 10 s on: expired but recent; while 2 is made, 1 is served.
        clock.advance(Duration::from_secs(10));
        let (maker, release) = making(&cache, &clock, 2).await;
        assert_eq!(cache.get_or_make(clock.as_ref(), made(9)).await, Ok(1));
        let _ = release.send(());
        assert_eq!(maker.await.expect("task"), Ok(2));

        // An hour on: while 3 is made, the other caller waits for it.
        clock.advance(Duration::from_secs(3600));
        let (maker, release) = making(&cache, &clock, 3).await;
        let waiter = {
            let (cache, clock) = (cache.clone(), clock.clone());
            tokio::spawn(async move { cache.get_or_make(clock.as_ref(), made(9)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "it waits rather than get 2");
        let _ = release.send(());
        assert_eq!(maker.await.expect("task"), Ok(3));
        assert_eq!(waiter.await.expect("task"), Ok(3));
    }

    /// A clear forgets the value, and a making that began before the
    /// clear is returned to its caller but not kept; an error is not kept.
    #[tokio::test]
    async fn a_clear_drops_the_value_and_a_making_begun_before_it() {
        let cache = SingleFlight::<u32>::default();
        let clock = clock();
        let made = cache
            .get_or_make(clock.as_ref(), |_| async { Ok::<_, ()>(1) })
            .await;
        assert_eq!(made, Ok(1));
        let kept = cache
            .get_or_make(clock.as_ref(), |_| async { Ok::<_, ()>(2) })
            .await;
        assert_eq!(kept, Ok(1), "fresh: kept");

        cache.clear();
        let during = cache
            .get_or_make(clock.as_ref(), |_| async {
                // Cleared while this making runs (an operator's reset).
                cache.clear();
                Ok::<_, ()>(3)
            })
            .await;
        assert_eq!(during, Ok(3), "its caller gets it");
        let after = cache
            .get_or_make(clock.as_ref(), |_| async { Ok::<_, ()>(4) })
            .await;
        assert_eq!(after, Ok(4), "but it was not kept");

        cache.clear();
        let failed = cache
            .get_or_make(clock.as_ref(), |_| async { Err::<u32, _>("down") })
            .await;
        assert_eq!(failed, Err("down"));
        let next = cache
            .get_or_make(clock.as_ref(), |_| async { Ok::<_, &str>(5) })
            .await;
        assert_eq!(next, Ok(5), "an error is not kept");
    }
}
