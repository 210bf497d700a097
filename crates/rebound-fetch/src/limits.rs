//! Per-source admission: the `rate_limit` (a GCRA, see
//! [`rebound_domain::ratelimit`]) and source-wide pauses asked for by a
//! server (429 + Retry-After, `RateLimit`, `X-RateLimit-*`).
//!
//! Every attempt passes [`SourceLimiter::admit`] before it is sent. Callers
//! of one source queue on a fair (FIFO) lock, so the source's scrapers
//! share its rate in arrival order; the one at the head sleeps on the
//! injected `Clock` until both the pause and its rate slot have passed. A
//! wait longer than the inline limit is not slept: the caller defers.
//!
//! The state is per process (per `Fetcher`): two `rebound serve` processes
//! against one source each get the full rate.

use chrono::{DateTime, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::duration::{add_saturating, format_duration};
use rebound_domain::ratelimit::{GcraState, Rate, SourcePause};
use std::sync::Mutex;
use std::time::Duration;

/// One source's limiter.
#[derive(Debug)]
pub(crate) struct SourceLimiter {
    name: String,
    rate: Option<Rate>,
    /// Held by the caller at the head of the queue, across its sleeps.
    queue: tokio::sync::Mutex<GcraState>,
    /// Until when the whole source is paused, and why.
    pause: Mutex<Option<(DateTime<Utc>, String)>>,
}

/// What admission decided for one attempt.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Send now; `waited` was slept first.
    Go { waited: Duration },
    /// Too long to sleep inline: the attempt may start at `until`.
    Defer {
        until: DateTime<Utc>,
        wait: Duration,
        cause: String,
    },
    /// The source is paused for longer than `max_retry_after`.
    Refuse { cause: String },
}

impl SourceLimiter {
    pub(crate) fn new(name: &str, rate: Option<Rate>) -> SourceLimiter {
        SourceLimiter {
            name: name.to_string(),
            rate,
            queue: tokio::sync::Mutex::new(GcraState::default()),
            pause: Mutex::new(None),
        }
    }

    fn pause_at(&self, now: DateTime<Utc>) -> Option<(Duration, DateTime<Utc>, String)> {
        let pause = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        let (until, cause) = pause.as_ref()?;
        (*until > now).then(|| {
            (
                (*until - now).to_std().unwrap_or(Duration::ZERO),
                *until,
                cause.clone(),
            )
        })
    }

    /// Pauses the whole source until `at + pause.wait` (never shortens a
    /// pause already in force).
    pub(crate) fn pause(&self, at: DateTime<Utc>, pause: &SourcePause) -> DateTime<Utc> {
        // Header waits are clamped when parsed; saturating here as well
        // keeps any wait from overflowing the instant.
        let until = add_saturating(at, pause.wait);
        let mut current = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some((existing, _)) if *existing >= until => *existing,
            _ => {
                *current = Some((until, pause.cause.clone()));
                until
            }
        }
    }

    /// Waits (on `clock`) until an attempt may be sent to this source.
    pub(crate) async fn admit(
        &self,
        clock: &dyn Clock,
        max_inline_wait: Duration,
        max_pause: Duration,
    ) -> Admission {
        if self.rate.is_none() && self.pause_at(clock.now()).is_none() {
            return Admission::Go {
                waited: Duration::ZERO,
            };
        }
        let mut waited = Duration::ZERO;
        let mut queue = self.queue.lock().await;
        loop {
            let now = clock.now();
            let pause = self.pause_at(now);
            let rate_wait = self.rate.map_or(Duration::ZERO, |_| queue.wait(now));
            let pause_wait = pause.as_ref().map_or(Duration::ZERO, |p| p.0);
            let wait = rate_wait.max(pause_wait);
            if wait.is_zero() {
                if let Some(rate) = &self.rate {
                    queue.take(rate, now);
                }
                return Admission::Go { waited };
            }
            let cause = match &pause {
                Some((_, until, why)) if pause_wait >= rate_wait => format!(
                    "source {} paused until {} ({why})",
                    self.name,
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                _ => format!(
                    "rate limit {} of source {} (next request slot in {})",
                    self.rate.map(|r| r.display()).unwrap_or_default(),
                    self.name,
                    format_duration(rate_wait)
                ),
            };
            // A pause over max_retry_after ends the call, as a Retry-After
            // over it does: deferring it would store a retry for whenever
            // the server said (a year, for `X-RateLimit-Reset: 1e30`).
            if pause_wait > max_pause {
                return Admission::Refuse {
                    cause: format!(
                        "{cause}, longer than max_retry_after {}",
                        format_duration(max_pause)
                    ),
                };
            }
            if wait > max_inline_wait {
                let until = add_saturating(now, wait);
                return Admission::Defer { until, wait, cause };
            }
            clock.sleep(wait).await;
            waited += wait;
        }
    }
}
