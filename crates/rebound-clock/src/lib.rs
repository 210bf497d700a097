//! The wall clock: [`SystemClock`], the only reader of the system time.
//!
//! The [`Clock`] trait lives in the domain crate, which must stay free of
//! I/O and of an async runtime; its deterministic implementation
//! (`rebound_domain::clock::ManualClock`) lives there too, since it is pure
//! data. This crate holds the one implementation that touches the outside
//! world (the system time and tokio's timers), so that every crate that runs
//! on real time names it from one small place instead of borrowing it from
//! the HTTP crate. `clippy.toml` forbids `Utc::now` and `SystemTime::now`
//! everywhere else.

use chrono::{DateTime, Utc};
use rebound_domain::clock::{Clock, SleepFuture};
use std::time::Duration;

/// Wall time and tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned reader of wall time
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeping_waits_on_real_time_and_now_moves_forward() {
        let clock = SystemClock;
        let before = clock.now();
        clock.sleep(Duration::from_millis(20)).await;
        let after = clock.now();
        assert!(
            after - before >= chrono::TimeDelta::milliseconds(20),
            "{before} -> {after}"
        );
    }
}
