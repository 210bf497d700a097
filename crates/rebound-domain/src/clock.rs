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
}
