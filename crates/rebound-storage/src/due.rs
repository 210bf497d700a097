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
use std::sync::Arc;
use tokio::sync::watch;

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

/// The in-process side both backends share: a counter in a
/// `tokio::sync::watch` channel, bumped after each committed write that
/// queues a run. A watch channel keeps the newest value, so a bump between
/// a worker's empty claim and its wait is not lost, and many bumps wake it
/// once. Cloning shares the channel (PostgreSQL's listener task bumps the
/// same one).
#[derive(Debug, Clone)]
pub struct DueSignal(Arc<watch::Sender<u64>>);

impl Default for DueSignal {
    fn default() -> DueSignal {
        DueSignal::new()
    }
}

impl DueSignal {
    pub fn new() -> DueSignal {
        DueSignal(Arc::new(watch::channel(0).0))
    }

    /// Wakes every subscriber in this process (call it after the write has
    /// committed, so a woken worker's claim sees the run).
    pub fn send(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> Box<dyn DueWakeups> {
        Box::new(Subscription(self.0.subscribe()))
    }
}

struct Subscription(watch::Receiver<u64>);

#[async_trait]
impl DueWakeups for Subscription {
    async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            // The store is gone: nothing will be queued through it again.
            std::future::pending::<()>().await;
        }
    }
}
