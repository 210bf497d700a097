//! The publisher: pending completion events → the `[handoff.sinks]`.
//!
//! Events are written by the engine with their call (the outbox); this
//! task sends them on. Each round claims the due pending events (a lease in
//! the store, so publishers in several processes never post the same
//! event at once), then works through each dataset's events in call order,
//! datasets side by side. An event goes to every sink whose `datasets` and
//! `statuses` want it and that has not accepted it yet; when all have, it
//! is `published`. A refusal keeps it `pending` with a backoff (1s, 2s, 4s,
//! … at most 5 minutes) and holds back the later events of its dataset, so
//! a consumer sees a dataset's events in order. Nothing is given up: an
//! event stays pending until its sinks take it, whatever the restarts in
//! between, since its state is only in the database.
//!
//! A sink that is down costs this task its timeout and nothing else: the
//! publisher runs apart from scraping (in `rebound serve`, and after a
//! command's calls are recorded), so it never blocks a call nor fails one.
//!
//! Webhook posts carry `Idempotency-Key: <event_id>` and, with a
//! `signing_secret`, `X-Rebound-Signature: sha256=<hex>`, the HMAC-SHA256
//! of the exact body under that key (`docs/handoff.md` shows how to check
//! it). The POST goes through the injected [`Poster`] (the fetch crate's
//! `SinkClient`), under its rules: timeout, no redirect, no URL in errors.
//! NATS sinks publish to JetStream through [`nats::NatsPublisher`] (one
//! connection per sink, kept across rounds), `Nats-Msg-Id: <event_id>`.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{KeyInit, Mac};
use rebound_domain::clock::Clock;
use rebound_domain::duration::add_saturating;
use rebound_domain::handoff::{HandoffSink, HandoffSinkKind};
use rebound_domain::outbound::{JsonPost, Poster};
use rebound_domain::redact::Redactor;
use rebound_storage::{CompletionEventRow, EventDelivery, Store, StoreError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub mod nats;

/// Events claimed per round.
const BATCH: u32 = 200;
/// How often `rebound serve`'s publisher looks for pending events.
pub const PUBLISH_POLL: Duration = Duration::from_secs(1);
/// The longest wait between two tries of one event.
const MAX_BACKOFF: TimeDelta = TimeDelta::minutes(5);

/// The signature header of webhook posts.
pub const SIGNATURE_HEADER: &str = "X-Rebound-Signature";
/// The idempotency header of webhook posts: the event id.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The wait after the `deliveries`-th failed round of an event: 1s, 2s,
/// 4s, … 5 minutes.
pub fn backoff(deliveries: i64) -> TimeDelta {
    let doublings = u32::try_from(deliveries.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    TimeDelta::seconds(1_i64 << doublings).min(MAX_BACKOFF)
}

/// `sha256=<hex>` of HMAC-SHA256(`key`, `body`).
pub fn signature(key: &str, body: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail; the fallback is
    // only there so that no panic is possible.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + digest.len() * 2);
    hex.push_str("sha256=");
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishRound {
    /// Events claimed.
    pub claimed: usize,
    /// Events every sink that wants them has now.
    pub published: usize,
    /// Events some sink refused (tried again later).
    pub retried: usize,
    /// Events not tried, behind a refused one of their dataset.
    pub held: usize,
}

/// How a bounded drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    /// Events published during the drain.
    pub published: usize,
    /// Events still pending at its end (sent later by `serve` or
    /// `rebound events publish`).
    pub left: usize,
    /// The last refusal, when an event was refused (sink named, no URL).
    pub last_error: Option<String>,
    /// When the first event left is due again: past the wait's end when the
    /// drain stopped early rather than wait for nothing.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Posts pending completion events to their sinks.
pub struct Publisher {
    store: Arc<dyn Store>,
    sinks: BTreeMap<String, HandoffSink>,
    poster: Arc<dyn Poster>,
    clock: Arc<dyn Clock>,
    redactor: Redactor,
    /// `rebound_events_total{sink,outcome}`, when this process exports metrics.
    metrics: Option<Arc<rebound_metrics::Metrics>>,
    /// Connections of the `kind = "nats"` sinks, kept across rounds.
    nats: nats::NatsPublisher,
}

impl Publisher {
    /// Counts every post into `rebound_events_total`.
    pub fn with_metrics(mut self, metrics: Arc<rebound_metrics::Metrics>) -> Publisher {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, sink: &str, outcome: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.record_event(sink, outcome);
        }
    }

    /// Posts `event` once to every sink that wants it and lacks it, and
    /// records nothing: `rebound events replay` sends its replays this way
    /// (they are not outbox rows).
    pub async fn deliver_once(&self, event: &CompletionEventRow) -> EventDelivery {
        self.deliver(event).await
    }

    pub fn new(
        store: Arc<dyn Store>,
        sinks: BTreeMap<String, HandoffSink>,
        clock: Arc<dyn Clock>,
        redactor: Redactor,
        poster: Arc<dyn Poster>,
    ) -> Publisher {
        Publisher {
            store,
            sinks,
            poster,
            clock,
            redactor,
            metrics: None,
            nats: nats::NatsPublisher::new(),
        }
    }

    /// One round: claims what is due now (at most 200 events) and sends it.
    pub async fn publish_due(&self) -> Result<PublishRound, StoreError> {
        let now = self.clock.now();
        // The claim outlives the slowest possible round of one dataset:
        // every sink's timeout, plus slack.
        let longest: Duration = self.sinks.values().map(|s| s.timeout).sum();
        let lease = add_saturating(now, longest.saturating_add(Duration::from_secs(30)));
        let events = self.store.claim_pending_events(now, lease, BATCH).await?;
        let mut by_dataset: BTreeMap<&str, Vec<&CompletionEventRow>> = BTreeMap::new();
        for event in &events {
            by_dataset.entry(&event.dataset).or_default().push(event);
        }
        let rounds = futures::future::join_all(
            by_dataset
                .into_values()
                .map(|events| self.publish_in_order(events)),
        )
        .await;
        let mut total = PublishRound {
            claimed: events.len(),
            ..PublishRound::default()
        };
        for round in rounds {
            let round = round?;
            total.published += round.published;
            total.retried += round.retried;
            total.held += round.held;
        }
        Ok(total)
    }

    /// One dataset's claimed events, in order; after a refusal the rest
    /// wait until the refused one is due again.
    async fn publish_in_order(
        &self,
        events: Vec<&CompletionEventRow>,
    ) -> Result<PublishRound, StoreError> {
        let mut round = PublishRound::default();
        let mut blocked_until: Option<DateTime<Utc>> = None;
        for event in events {
            let delivery = match blocked_until {
                Some(next_attempt_at) => EventDelivery::Held { next_attempt_at },
                None => self.deliver(event).await,
            };
            match &delivery {
                EventDelivery::Published { .. } => round.published += 1,
                EventDelivery::Retry {
                    error,
                    next_attempt_at,
                    ..
                } => {
                    tracing::warn!(
                        event = %event.event_id,
                        dataset = %event.dataset,
                        deliveries = event.deliveries + 1,
                        %error,
                        "Completion event not delivered; will retry."
                    );
                    blocked_until = Some(*next_attempt_at);
                    round.retried += 1;
                }
                EventDelivery::Held { .. } => round.held += 1,
            }
            self.store
                .record_event_delivery(&event.event_id, &delivery)
                .await?;
        }
        Ok(round)
    }

    /// Posts one event to every sink that wants it and lacks it.
    async fn deliver(&self, event: &CompletionEventRow) -> EventDelivery {
        let mut done = event.sinks_done.clone();
        let mut errors = Vec::new();
        for sink in self.sinks.values() {
            if done.contains(&sink.name) || !sink.wants(&event.dataset, &event.status) {
                continue;
            }
            if sink.kind == HandoffSinkKind::Nats {
                match self.nats.publish(sink, event).await {
                    Ok(()) => done.push(sink.name.clone()),
                    Err(e) => errors.push(format!("sink {}: {e}", sink.name)),
                }
                continue;
            }
            let mut headers = vec![(IDEMPOTENCY_HEADER.to_string(), event.event_id.clone())];
            if let Some(key) = &sink.signing_secret {
                headers.push((SIGNATURE_HEADER.to_string(), signature(key, &event.payload)));
            }
            let sent = self
                .poster
                .post_json(JsonPost {
                    url: &sink.url,
                    body: &event.payload,
                    timeout: sink.timeout,
                    headers: &headers,
                })
                .await;
            match sent {
                Ok(()) => {
                    let outcome = if event.redeliveries > 0 {
                        "redelivered"
                    } else {
                        "delivered"
                    };
                    self.count(&sink.name, outcome);
                    done.push(sink.name.clone());
                }
                // The poster's words never hold the URL (a secret); the
                // redactor is the second line of defence.
                Err(e) => {
                    self.count(&sink.name, "failed");
                    errors.push(format!("sink {}: {e}", sink.name));
                }
            }
        }
        let at = self.clock.now();
        if errors.is_empty() {
            EventDelivery::Published {
                at,
                sinks_done: done,
            }
        } else {
            EventDelivery::Retry {
                at,
                sinks_done: done,
                error: self.redactor.redact_string(&errors.join("; ")),
                next_attempt_at: at + backoff(event.deliveries + 1),
            }
        }
    }

    /// Publishes until nothing is pending or `wait` has passed on the
    /// clock, sleeping on the clock until the next retry is due: what
    /// `rebound run`, `scrape` and `backfill` do at their end.
    pub async fn drain(&self, wait: Duration) -> Result<Drained, StoreError> {
        let deadline = add_saturating(self.clock.now(), wait);
        let mut published = 0;
        let mut last_error = None;
        loop {
            let round = self.publish_due().await?;
            published += round.published;
            let pending = self
                .store
                .completion_events(Some("pending"), u32::MAX)
                .await?;
            if let Some(error) = pending.iter().rev().find_map(|e| e.last_error.clone()) {
                last_error = Some(error);
            }
            let Some(next) = pending.iter().map(|e| e.next_attempt_at).min() else {
                return Ok(Drained {
                    published,
                    left: 0,
                    last_error: None,
                    next_attempt_at: None,
                });
            };
            let now = self.clock.now();
            if next > deadline || now >= deadline {
                return Ok(Drained {
                    published,
                    left: pending.len(),
                    last_error,
                    next_attempt_at: Some(next),
                });
            }
            if round.claimed == 0 && next <= now {
                // Due but not claimable (another process holds it): look
                // again shortly rather than spin.
                self.clock.sleep(Duration::from_millis(100)).await;
            } else if next > now {
                self.clock
                    .sleep((next - now).to_std().unwrap_or_default())
                    .await;
            }
        }
    }

    /// `rebound serve`'s loop: a round every [`PUBLISH_POLL`] (at once
    /// again while rounds are full) until `stop` turns true.
    pub async fn run_loop(self: Arc<Self>, poll: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            let full = match self.publish_due().await {
                Ok(round) => round.claimed >= BATCH as usize,
                Err(error) => {
                    tracing::error!(%error, "Completion event round failed; trying again shortly.");
                    false
                }
            };
            if *stop.borrow() {
                break;
            }
            if full {
                continue;
            }
            // Real time: this paces a live process.
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
    }
}

/// The publisher of `plan`'s sinks, posting through the fetch crate.
pub fn publisher(
    store: Arc<dyn Store>,
    plan: &rebound_domain::plan::Plan,
    clock: Arc<dyn Clock>,
) -> Result<Publisher, rebound_fetch::FetcherSetupError> {
    Ok(Publisher::new(
        store,
        plan.handoff.sinks.clone(),
        clock,
        plan.redactor.clone(),
        Arc::new(rebound_fetch::sink::SinkClient::new()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_and_stops_at_five_minutes() {
        let secs: Vec<i64> = (1..=11).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(0), TimeDelta::seconds(1));
        assert_eq!(backoff(i64::MAX), MAX_BACKOFF);
    }

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
