//! Delivery: pending `alerts` rows → HTTP POST to their sink.
//!
//! Runs as its own task, apart from the evaluator and from scraping, so a
//! sink that hangs costs only its own timeout. Rows are claimed in the
//! store (an attempt is counted and the row leased), so several processes
//! can deliver from one database without sending a row twice, and a
//! process that dies mid-delivery leaves the row to be retried when the
//! lease ends. A failure is retried with exponential backoff (30s, 1m, 2m,
//! … capped at 1h) from the stored `next_attempt_at`; after
//! [`MAX_ATTEMPTS`] the row is `failed`. Errors name the sink, never its
//! URL. The POST itself goes through the injected [`Poster`] (the fetch
//! crate's `SinkClient` in the service), so this crate knows no HTTP client.

use crate::payload::slack_body;
use chrono::TimeDelta;
use rebound_domain::alerts::{AlertSink, SinkKind};
use rebound_domain::clock::Clock;
use rebound_domain::outbound::{JsonPost, Poster};
use rebound_domain::redact::Redactor;
use rebound_storage::{AlertRow, DeliveryOutcome, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Attempts before a notification is given up as `failed` (about 13 hours
/// of retrying with the backoff below: 30 s doubling to 32 min, then 1 h
/// twelve times).
pub const MAX_ATTEMPTS: i64 = 20;
/// Rows claimed per round.
const BATCH: u32 = 50;

/// The wait after the `attempts`-th failed attempt: 30s, 1m, 2m, … 1h.
pub fn backoff(attempts: i64) -> TimeDelta {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 7)).unwrap_or(7);
    TimeDelta::seconds(30 * (1_i64 << doublings)).min(TimeDelta::hours(1))
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Posts due notifications to their sinks.
pub struct Deliverer {
    store: Arc<dyn Store>,
    sinks: BTreeMap<String, AlertSink>,
    poster: Arc<dyn Poster>,
    clock: Arc<dyn Clock>,
    redactor: Redactor,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn Store>,
        sinks: BTreeMap<String, AlertSink>,
        clock: Arc<dyn Clock>,
        redactor: Redactor,
        poster: Arc<dyn Poster>,
    ) -> Deliverer {
        Deliverer {
            store,
            sinks,
            poster,
            clock,
            redactor,
        }
    }

    /// Delivers what is due now, one round (at most 50 rows).
    pub async fn deliver_due(&self) -> Result<DeliveryRound, StoreError> {
        let now = self.clock.now();
        let longest = self
            .sinks
            .values()
            .map(|s| s.timeout)
            .max()
            .unwrap_or_default();
        // Saturating: a sink timeout is bounded at load, but `now + timeout`
        // in chrono panics on overflow, and a claim must never crash the
        // deliverer.
        let lease = rebound_domain::duration::add_saturating(
            now,
            longest.saturating_add(std::time::Duration::from_secs(30)),
        );
        let rows = self.store.claim_due_alerts(now, lease, BATCH).await?;
        let outcomes = futures::future::join_all(rows.iter().map(|row| self.deliver(row))).await;
        let mut round = DeliveryRound::default();
        for (row, outcome) in rows.iter().zip(outcomes) {
            match &outcome {
                DeliveryOutcome::Delivered { .. } => round.delivered += 1,
                DeliveryOutcome::Retry { error, .. } => {
                    tracing::warn!(sink = %row.sink, alert = row.id, attempts = row.attempts, %error, "Alert delivery failed; will retry.");
                    round.retried += 1;
                }
                DeliveryOutcome::Failed { error } => {
                    tracing::error!(sink = %row.sink, alert = row.id, attempts = row.attempts, %error, "Alert delivery gave up.");
                    round.failed += 1;
                }
            }
            self.store.record_alert_delivery(row.id, &outcome).await?;
        }
        Ok(round)
    }

    async fn deliver(&self, row: &AlertRow) -> DeliveryOutcome {
        let Some(sink) = self.sinks.get(&row.sink) else {
            return DeliveryOutcome::Failed {
                error: format!(
                    "sink {} is no longer configured under [alerts.sinks]",
                    row.sink
                ),
            };
        };
        let body = match sink.kind {
            SinkKind::Webhook => row.payload.clone(),
            SinkKind::Slack => slack_body(&row.message),
        };
        let sent = self
            .poster
            .post_json(JsonPost {
                url: &sink.url,
                body: &body,
                timeout: sink.timeout,
                headers: &[],
            })
            .await;
        let error = match sent {
            Ok(()) => {
                return DeliveryOutcome::Delivered {
                    at: self.clock.now(),
                };
            }
            // The poster's words never hold the URL (a secret); the
            // redactor is the second line of defence for anything else.
            Err(e) => format!("sink {}: {e}", sink.name),
        };
        let error = self.redactor.redact_string(&error);
        if row.attempts >= MAX_ATTEMPTS {
            DeliveryOutcome::Failed {
                error: format!(
                    "{error} (gave up after {})",
                    rebound_domain::message::plural(
                        row.attempts.unsigned_abs(),
                        "attempt",
                        "attempts"
                    )
                ),
            }
        } else {
            DeliveryOutcome::Retry {
                error,
                next_attempt_at: self.clock.now() + backoff(row.attempts),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use chrono::TimeDelta;

    #[test]
    fn backoff_doubles_from_30s_and_stops_at_an_hour() {
        let secs: Vec<i64> = (1..=10).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(0), TimeDelta::seconds(30));
    }
}
