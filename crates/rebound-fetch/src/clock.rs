//! Clock implementations: the real one and a manual one for tests.
//!
//! `SystemClock` is the only place in Rebound that reads the wall clock.
//! `ManualClock` makes time an input: its sleeps return immediately and
//! move its time forward, and it remembers every sleep so tests can assert
//! on the waits a policy asked for.

use chrono::{DateTime, Utc};
use rebound_domain::clock::{Clock, SleepFuture};
use rebound_domain::duration::add_saturating;
use std::sync::Mutex;
use std::time::Duration;

/// Wall time and tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
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
