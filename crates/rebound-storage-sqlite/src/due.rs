//! Wake-ups for idle workers ([`DueWakeups`]), in-process.
//!
//! SQLite serves one process (`rebound serve --role all`), so every run is
//! queued through this store: a counter in a `tokio::sync::watch` channel,
//! bumped after each write that queues a run, is all a worker needs. A
//! watch channel keeps the newest value, so a bump between a worker's
//! empty claim and its wait is not lost, and many bumps wake it once.

use async_trait::async_trait;
use rebound_storage::DueWakeups;
use tokio::sync::watch;

/// The sending side, owned by the store.
#[derive(Debug)]
pub(crate) struct DueSignal(watch::Sender<u64>);

impl DueSignal {
    pub(crate) fn new() -> DueSignal {
        DueSignal(watch::channel(0).0)
    }

    /// Wakes every subscriber (called after the write has committed, so a
    /// woken worker's claim sees the run).
    pub(crate) fn send(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> Box<dyn DueWakeups> {
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
