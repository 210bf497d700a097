//! The clock every time-dependent part reads: wall time and waiting.
//!
//! Production uses a clock backed by the system and tokio
//! (`rebound_clock::SystemClock`, the one reader of wall time); tests and
//! simulations use [`ManualClock`], whose waits return at once and move its
//! time forward, so hours of backoff run in microseconds. The trait and the
//! manual clock live here, runtime-free, since both are pure: the manual
//! clock is a value that only moves when told to.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use crate::duration::add_saturating;

/// A future returned by [`Clock::sleep`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Wall time and waiting, injectable.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `duration` on this clock.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// A clock that only moves when told to (or when something sleeps on it).
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
}

#[derive(Debug)]
struct ManualState {
    now: DateTime<Utc>,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            state: Mutex::new(ManualState {
                now: start,
                sleeps: Vec::new(),
            }),
        }
    }

    /// Moves time forward.
    pub fn advance(&self, duration: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.now = add_saturating(state.now, duration);
    }

    /// Every sleep requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sleeps
            .clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).now
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.sleeps.push(duration);
            // Saturating: a test may sleep "forever" (`Duration::MAX`).
            state.now = add_saturating(state.now, duration);
        }
        Box::pin(std::future::ready(()))
    }
}

/// A clock for running live loops on simulated time: time moves only when
/// [`VirtualClock::advance`] (or [`VirtualClock::advance_to`]) is called,
/// and a sleep waits until time has moved past its end.
///
/// [`ManualClock`] suits code that is called step by step: its sleeps
/// return at once and jump time forward. A running service is different:
/// its scheduler, purger and alert loops sleep between rounds, and on a
/// manual clock those sleeps would race through days of schedule. On this
/// clock they park until the test or simulator moves time, which can jump
/// straight to the next instant anything waits for ([`VirtualClock::next_wake`]).
/// Waking is plain `std::task::Waker` bookkeeping: no runtime needed.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    state: std::sync::Arc<Mutex<VirtualState>>,
}

#[derive(Debug)]
struct VirtualState {
    now: DateTime<Utc>,
    next_id: u64,
    /// Pending sleeps by (end, id), with the waker of their last poll.
    sleepers: std::collections::BTreeMap<(DateTime<Utc>, u64), Option<std::task::Waker>>,
}

impl VirtualClock {
    pub fn new(start: DateTime<Utc>) -> VirtualClock {
        VirtualClock {
            state: std::sync::Arc::new(Mutex::new(VirtualState {
                now: start,
                next_id: 0,
                sleepers: std::collections::BTreeMap::new(),
            })),
        }
    }

    /// Moves time forward by `duration`, waking every sleep that ends by then.
    pub fn advance(&self, duration: Duration) {
        let to = add_saturating(self.now(), duration);
        self.advance_to(to);
    }

    /// Moves time to `instant` (never backwards), waking every sleep that
    /// ends by then.
    pub fn advance_to(&self, instant: DateTime<Utc>) {
        let wakers: Vec<std::task::Waker> = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.now = state.now.max(instant);
            let now = state.now;
            let due: Vec<(DateTime<Utc>, u64)> = state
                .sleepers
                .range(..=(now, u64::MAX))
                .map(|(key, _)| *key)
                .collect();
            due.into_iter()
                .filter_map(|key| state.sleepers.remove(&key).flatten())
                .collect()
        };
        // Woken outside the lock: a woken task may poll (and lock) at once.
        for waker in wakers {
            waker.wake();
        }
    }

    /// When the earliest pending sleep ends, if anything sleeps.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.sleepers.keys().next().map(|(end, _)| *end)
    }

    /// How many sleeps are pending.
    pub fn sleeping(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sleepers
            .len()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).now
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let end = add_saturating(state.now, duration);
        let id = state.next_id;
        state.next_id += 1;
        if end > state.now {
            // Registered now, not at first poll, so `next_wake` sees a sleep
            // as soon as it is asked for.
            state.sleepers.insert((end, id), None);
        }
        Box::pin(VirtualSleep {
            state: self.state.clone(),
            key: (end, id),
        })
    }
}

/// One pending [`VirtualClock`] sleep; removes itself when dropped.
struct VirtualSleep {
    state: std::sync::Arc<Mutex<VirtualState>>,
    key: (DateTime<Utc>, u64),
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.now >= self.key.0 {
            state.sleepers.remove(&self.key);
            return std::task::Poll::Ready(());
        }
        state.sleepers.insert(self.key, Some(cx.waker().clone()));
        std::task::Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.sleepers.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn huge_advances_and_sleeps_saturate_instead_of_panicking() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap());
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap());
        drop(clock.sleep(Duration::from_secs(u64::MAX)));
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(u64::MAX)]);
    }

    /// Polls `future` once with a waker that counts its wake-ups.
    fn poll_once(
        future: &mut SleepFuture,
        wakes: &std::sync::Arc<WakeCount>,
    ) -> std::task::Poll<()> {
        let waker = std::task::Waker::from(wakes.clone());
        future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker))
    }

    #[derive(Default)]
    struct WakeCount(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for WakeCount {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_virtual_sleep_waits_until_time_is_moved_past_its_end() {
        let start = Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap();
        let clock = VirtualClock::new(start);
        let wakes = std::sync::Arc::new(WakeCount::default());
        let mut short = clock.sleep(Duration::from_secs(60));
        let mut long = clock.sleep(Duration::from_secs(3600));
        assert_eq!(
            clock.next_wake(),
            Some(start + chrono::TimeDelta::minutes(1))
        );
        assert!(poll_once(&mut short, &wakes).is_pending());
        assert!(poll_once(&mut long, &wakes).is_pending());

        clock.advance(Duration::from_secs(59));
        assert!(poll_once(&mut short, &wakes).is_pending(), "not yet");
        assert_eq!(wakes.0.load(std::sync::atomic::Ordering::SeqCst), 0);

        clock.advance(Duration::from_secs(1));
        assert_eq!(
            wakes.0.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "woken"
        );
        assert!(poll_once(&mut short, &wakes).is_ready());
        assert_eq!(clock.now(), start + chrono::TimeDelta::minutes(1));
        assert_eq!(clock.next_wake(), Some(start + chrono::TimeDelta::hours(1)));

        // A dropped sleep no longer holds a wake-up; time never goes back.
        drop(long);
        assert_eq!((clock.next_wake(), clock.sleeping()), (None, 0));
        clock.advance_to(start);
        assert_eq!(clock.now(), start + chrono::TimeDelta::minutes(1));
        // A zero sleep is ready at once; a huge one saturates.
        assert!(poll_once(&mut clock.sleep(Duration::ZERO), &wakes).is_ready());
        let mut forever = clock.sleep(Duration::MAX);
        assert!(poll_once(&mut forever, &wakes).is_pending());
        assert_eq!(clock.next_wake(), Some(DateTime::<Utc>::MAX_UTC));
    }
}
