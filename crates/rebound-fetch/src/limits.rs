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
//! By default the state is per process (per `Fetcher`). A fetcher given a
//! shared store ([`crate::Fetcher::with_shared_limits`], which `rebound
//! serve` does) keeps it in the database instead, so every process using
//! that database shares one rate and one pause per source: a slot is taken
//! from the source's stored GCRA state (its TAT) in one atomic step that
//! returns the instant this caller may send, and the caller sleeps on the
//! `Clock` until then; a pause is written with its end time and read by
//! every process. A source without a `rate_limit` costs no round trip per
//! request: its pause is read from the store at most once per
//! [`PAUSE_REFRESH`]. Should the store fail, admission falls back to this
//! process's own state for that attempt (a limit kept per process beats
//! none), with a warning.

use chrono::{DateTime, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::duration::{add_saturating, format_duration};
use rebound_domain::ratelimit::{GcraState, Rate, SourcePause};
use rebound_storage::{LimitsStore, SlotTake, StoreError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a source without a `rate_limit` reads its shared pause: a
/// pause another process stored is honoured here at most this late.
pub(crate) const PAUSE_REFRESH: Duration = Duration::from_secs(1);

/// One source's limiter.
pub(crate) struct SourceLimiter {
    name: String,
    rate: Option<Rate>,
    /// Held by the caller at the head of the queue, across its sleeps.
    queue: tokio::sync::Mutex<GcraState>,
    /// Until when the whole source is paused, and why.
    pause: Mutex<Option<(DateTime<Utc>, String)>>,
    /// The store shared with other processes, when there is one.
    shared: Option<Arc<dyn LimitsStore>>,
    /// When the shared pause was last read (sources without a rate only).
    pause_read_at: Mutex<Option<DateTime<Utc>>>,
    /// The pipeline's zone, for the times in a pause's message.
    timezone: chrono_tz::Tz,
}

impl std::fmt::Debug for SourceLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceLimiter")
            .field("name", &self.name)
            .field("rate", &self.rate)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
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
    pub(crate) fn new(
        name: &str,
        rate: Option<Rate>,
        shared: Option<Arc<dyn LimitsStore>>,
        timezone: chrono_tz::Tz,
    ) -> SourceLimiter {
        SourceLimiter {
            name: name.to_string(),
            rate,
            queue: tokio::sync::Mutex::new(GcraState::default()),
            pause: Mutex::new(None),
            shared,
            pause_read_at: Mutex::new(None),
            timezone,
        }
    }

    /// The pipeline's zone this limiter writes its messages' times in.
    pub(crate) fn timezone(&self) -> chrono_tz::Tz {
        self.timezone
    }

    /// The source's `rate_limit`, if it has one.
    pub(crate) fn rate(&self) -> Option<Rate> {
        self.rate
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
    /// pause already in force), here and, when shared, in the store.
    pub(crate) async fn pause(&self, at: DateTime<Utc>, pause: &SourcePause) -> DateTime<Utc> {
        // Header waits are clamped when parsed; saturating here as well
        // keeps any wait from overflowing the instant.
        let until = add_saturating(at, pause.wait);
        let local = self.remember_pause(until, &pause.cause);
        let Some(store) = &self.shared else {
            return local;
        };
        match store.limits_pause(&self.name, until, &pause.cause).await {
            Ok(row) => self.remember_pause(row.paused_until, &row.reason),
            Err(error) => {
                self.store_failed(&error);
                local
            }
        }
    }

    /// Records a pause locally unless a longer one is known; returns the
    /// end of the pause in force.
    fn remember_pause(&self, until: DateTime<Utc>, cause: &str) -> DateTime<Utc> {
        let mut current = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some((existing, _)) if *existing >= until => *existing,
            _ => {
                *current = Some((until, cause.to_string()));
                until
            }
        }
    }

    fn store_failed(&self, error: &StoreError) {
        tracing::warn!(
            source = %self.name,
            error = %error,
            "Shared rate limit state unavailable; using this process's own."
        );
    }

    /// The pause in force at `now`: the one known here, or (at most once
    /// per [`PAUSE_REFRESH`]) the one another process stored.
    async fn shared_pause_at(
        &self,
        store: &dyn LimitsStore,
        now: DateTime<Utc>,
    ) -> Result<Option<(Duration, DateTime<Utc>, String)>, StoreError> {
        if let Some(pause) = self.pause_at(now) {
            return Ok(Some(pause));
        }
        {
            let mut read_at = self.pause_read_at.lock().unwrap_or_else(|e| e.into_inner());
            let refresh = chrono::Duration::from_std(PAUSE_REFRESH).unwrap_or_default();
            if read_at.is_some_and(|at| at <= now && now - at < refresh) {
                return Ok(None);
            }
            *read_at = Some(now);
        }
        if let Some(row) = store.limits_paused(&self.name, now).await? {
            self.remember_pause(row.paused_until, &row.reason);
        }
        Ok(self.pause_at(now))
    }

    fn pause_cause(&self, until: DateTime<Utc>, why: &str) -> String {
        format!(
            "source {} paused until {} ({why})",
            self.name,
            rebound_domain::message::when_exact(until, self.timezone)
        )
    }

    fn rate_cause(&self, rate_wait: Duration) -> String {
        format!(
            "rate limit {} of source {} (next request slot in {})",
            self.rate.map(|r| r.display()).unwrap_or_default(),
            self.name,
            format_duration(rate_wait)
        )
    }

    /// Admission through the shared store; `Err` when the store failed.
    async fn admit_shared(
        &self,
        store: &dyn LimitsStore,
        clock: &dyn Clock,
        max_inline_wait: Duration,
        max_pause: Duration,
        waited: &mut Duration,
    ) -> Result<Admission, StoreError> {
        loop {
            let now = clock.now();
            let pause = match self.rate {
                // A source with a rate learns of a pause from its slot take.
                Some(_) => self.pause_at(now),
                None => self.shared_pause_at(store, now).await?,
            };
            let (pause_wait, until, why) = match (pause, self.rate) {
                (Some(pause), _) => pause,
                (None, None) => return Ok(Admission::Go { waited: *waited }),
                (None, Some(rate)) => {
                    match store
                        .limits_take_slot(&self.name, rate.interval(), now, max_inline_wait)
                        .await?
                    {
                        SlotTake::Taken { at } => {
                            let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
                            if !wait.is_zero() {
                                clock.sleep(wait).await;
                                *waited += wait;
                            }
                            return Ok(Admission::Go { waited: *waited });
                        }
                        SlotTake::Busy { next_at } => {
                            let wait = (next_at - now).to_std().unwrap_or(Duration::ZERO);
                            return Ok(Admission::Defer {
                                until: next_at,
                                wait,
                                cause: self.rate_cause(wait),
                            });
                        }
                        SlotTake::Paused { until, reason } => {
                            self.remember_pause(until, &reason);
                            let wait = (until - now).to_std().unwrap_or(Duration::ZERO);
                            (wait, until, reason)
                        }
                    }
                }
            };
            let cause = self.pause_cause(until, &why);
            // Over max_retry_after ends the call before any deferral, as in
            // `admit` below.
            if pause_wait > max_pause {
                return Ok(Admission::Refuse {
                    cause: format!(
                        "{cause}, longer than max_retry_after {}",
                        format_duration(max_pause)
                    ),
                });
            }
            if pause_wait > max_inline_wait {
                return Ok(Admission::Defer {
                    until,
                    wait: pause_wait,
                    cause,
                });
            }
            clock.sleep(pause_wait).await;
            *waited += pause_wait;
        }
    }

    /// Waits (on `clock`) until an attempt may be sent to this source.
    pub(crate) async fn admit(
        &self,
        clock: &dyn Clock,
        max_inline_wait: Duration,
        max_pause: Duration,
    ) -> Admission {
        let mut waited = Duration::ZERO;
        if let Some(store) = &self.shared {
            match self
                .admit_shared(&**store, clock, max_inline_wait, max_pause, &mut waited)
                .await
            {
                Ok(admission) => return admission,
                Err(error) => self.store_failed(&error),
            }
        }
        if self.rate.is_none() && self.pause_at(clock.now()).is_none() {
            return Admission::Go { waited };
        }
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
                Some((_, until, why)) if pause_wait >= rate_wait => self.pause_cause(*until, why),
                _ => self.rate_cause(rate_wait),
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
