//! The reconciler: acknowledgements, redelivery and the storm guard
//! (`[handoff] ack_required`, see `docs/handoff.md`).
//!
//! The original system's clean-up job republished "unprocessed" files from
//! the wrong tables, swallowed its error and flooded the consumers with
//! 5,000-7,160 messages a day. This is that job done right:
//!
//! - once a minute on the injected clock, one store transaction
//!   ([`rebound_storage::EventStore::reconcile_events`]) applies the
//!   acknowledgements consumers inserted, then sends each published event
//!   still unacknowledged `redeliver_after` after its last delivery back to
//!   `pending` as a redelivery (same `event_id`, `delivery =
//!   "redelivery"`), at most `max_redeliveries` times, and marks the ones
//!   out of redeliveries `unacknowledged`;
//! - the publisher then sends redeliveries like any pending event (its
//!   sinks, its order per dataset, its retries): nothing here posts;
//! - the storm guard: when more than `storm_ratio` of at least `storm_min`
//!   events that came due in the last hour are unacknowledged, the consumer
//!   is broken, not lossy. The round then redelivers nothing and marks the
//!   due events `unacknowledged` (a person replays them once the consumer
//!   works), and the alert `downstream_not_acknowledging` opens through
//!   the health report's `handoff` section, which counts the same sample
//!   with the same rule (`AckSettings::is_storm`).
//!
//! Several `rebound serve` processes may run it at once: each event changes
//! state once (SQLite serializes writers; PostgreSQL skips rows another
//! reconciler holds and re-checks the state in each update).

use rebound_domain::clock::Clock;
use rebound_domain::handoff::AckSettings;
use rebound_storage::{ReconcileOutcome, ReconcilePolicy, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often `rebound serve` reconciles.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// Events changed per round at most; a backlog takes several rounds (the
/// next one comes at once while rounds are full).
pub const RECONCILE_BATCH: u32 = 1_000;

/// Redelivers unacknowledged events; see the module doc.
pub struct Reconciler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ack: AckSettings,
}

impl Reconciler {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ack: AckSettings) -> Reconciler {
        Reconciler { store, clock, ack }
    }

    /// One round at the clock's instant.
    pub async fn reconcile_once(&self) -> Result<ReconcileOutcome, StoreError> {
        let policy = ReconcilePolicy::at(self.clock.now(), self.ack, RECONCILE_BATCH);
        let outcome = self.store.reconcile_events(&policy).await?;
        if outcome.storm {
            let due: u64 = outcome.window.iter().map(|w| w.due).sum();
            let unacked: u64 = outcome.window.iter().map(|w| w.unacknowledged).sum();
            tracing::error!(
                due,
                unacknowledged = unacked,
                held = outcome.unacknowledged.len(),
                "Hand-off storm guard: the consumer is not acknowledging; nothing redelivered. \
                 Check it before replaying."
            );
        } else if !outcome.redelivered.is_empty() || !outcome.unacknowledged.is_empty() {
            tracing::warn!(
                redelivered = outcome.redelivered.len(),
                unacknowledged = outcome.unacknowledged.len(),
                "Hand-off: unacknowledged events redelivered or given up."
            );
        }
        Ok(outcome)
    }

    /// `rebound serve`'s loop: a round every `every` on the clock (at once
    /// again while rounds are full) until `stop` turns true.
    pub async fn run_loop(self: Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            let full = match self.reconcile_once().await {
                Ok(outcome) => {
                    !outcome.storm
                        && outcome.redelivered.len() + outcome.unacknowledged.len()
                            >= RECONCILE_BATCH as usize
                }
                Err(error) => {
                    tracing::error!(%error, "Hand-off reconcile round failed; trying again next round.");
                    false
                }
            };
            if *stop.borrow() {
                break;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = self.clock.sleep(every) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
    }
}
