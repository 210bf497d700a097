//! The clock every time-dependent part reads: wall time and waiting.
//!
//! Production uses a clock backed by the system and tokio; tests use a
//! manual clock whose waits return at once and move its time forward, so
//! hours of backoff run in microseconds. The trait lives here, runtime-free,
//! so that pure code can name it; implementations live at the edges.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A future returned by [`Clock::sleep`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Wall time and waiting, injectable.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `duration` on this clock.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}
