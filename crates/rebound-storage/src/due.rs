//! Waking idle workers when a run may have become claimable.
//!
//! Workers used to find due runs only by polling the queue every 50 ms, so
//! a run waited half a poll on average before anyone looked. A store now
//! hands out [`DueWakeups`] subscriptions: SQLite (one process) signals
//! them in-process whenever it queues or requeues a run; PostgreSQL does
//! the same for its own writes and also `NOTIFY`s, so workers in other
//! processes hear it through a `LISTEN` connection. Runs queued for later
//! need no signal: a worker asks [`crate::Store::next_run_at`] and sleeps
//! until then. The poll stays, as the fallback for anything missed (a lost
//! listener connection, a clock step).

use async_trait::async_trait;

/// One worker's subscription to "a run may have been queued or requeued".
///
/// A signal sent after the subscription was made is never lost: it is kept
/// until [`DueWakeups::changed`] is next called, and several signals in
/// between count as one. Wake-ups may be spurious (another worker took the
/// run first; a listener reconnected and cannot know what it missed), so a
/// woken worker re-checks the queue; it never trusts the signal.
#[async_trait]
pub trait DueWakeups: Send {
    /// Returns once there was a signal since the subscription was made or
    /// since this last returned. Never returns an error: a backend that
    /// loses its source of signals logs it and stays silent, and workers
    /// fall back to polling.
    async fn changed(&mut self);
}
