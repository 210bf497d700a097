//! The adapters that let the observe path read what the run path knows.
//!
//! `rebound-health` defines what it needs as traits where it uses them
//! ([`Calendars`], [`Prober`]) and depends on domain and storage only, so
//! the health report and the alerts built on it stand beside the engine
//! rather than on top of it. The service, which knows both sides, plugs
//! the engine's calendar reader and the fetcher's probe into them here;
//! `rebound health` and `rebound serve` use the same two adapters. The
//! prober also feeds every result into the source's stored circuit breaker
//! (`Engine::breaker_health`), here and only here, so a host the probe
//! finds dead costs the next run no trial call.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_domain::breaker::BreakerState;
use rebound_domain::calendar::Event;
use rebound_domain::plan::{HealthProbe, Source};
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_health::{Calendars, ProbeResult, Prober};
use std::sync::Arc;

/// The scheduler's own calendar reader: the engine reads a calendar's
/// events from the newest payload of its dataset.
pub struct EngineCalendars<'a>(pub &'a Engine);

#[async_trait]
impl Calendars for EngineCalendars<'_> {
    async fn events(&self, calendar: &str) -> Result<Option<Vec<Event>>, String> {
        self.0
            .calendar_events(calendar)
            .await
            .map(|data| data.map(|d| d.events))
            .map_err(|e| e.to_string())
    }
}

/// Probes over HTTP with the fetcher's client; built-in parameters are
/// those of today in the pipeline's zone. Each result goes to the
/// source's circuit breaker through `engine`.
pub struct HttpProber {
    fetcher: Arc<Fetcher>,
    engine: Arc<Engine>,
}

impl HttpProber {
    /// Sends probes with `fetcher` and feeds their results into `engine`'s
    /// stored breakers.
    pub fn new(fetcher: Arc<Fetcher>, engine: Arc<Engine>) -> HttpProber {
        HttpProber { fetcher, engine }
    }
}

#[async_trait]
impl Prober for HttpProber {
    async fn probe(&self, source: &Source, probe: &HealthProbe, now: DateTime<Utc>) -> ProbeResult {
        let result = self.send(source, probe, now).await;
        let fed = self
            .engine
            .breaker_health(source, now, answer(&result))
            .await;
        warn_unfed(source, fed.map(|_| ()));
        result
    }

    async fn send(&self, source: &Source, probe: &HealthProbe, now: DateTime<Utc>) -> ProbeResult {
        let tz = self.engine.plan().pipeline.timezone;
        let today = now.with_timezone(&tz).date_naive();
        let out = self.fetcher.probe(source, probe, today, tz).await;
        ProbeResult::new(out.ok, out.http_status, out.error, out.duration_ms)
            .with_failure_kind(out.failure_kind)
    }

    async fn feed(
        &self,
        source: &Source,
        now: DateTime<Utc>,
        result: &ProbeResult,
        breaker: Option<&BreakerState>,
    ) -> bool {
        let fed = self
            .engine
            .breaker_health_read(source, now, answer(result), breaker)
            .await;
        // A failed write may have written part: read again.
        let wrote = fed.as_ref().map_or(true, |wrote| *wrote);
        warn_unfed(source, fed.map(|_| ()));
        wrote
    }
}

/// A probe's result as the breaker reads it, its failure kind included.
fn answer(result: &ProbeResult) -> rebound_engine::ProbeAnswer<'_> {
    rebound_engine::ProbeAnswer {
        ok: result.ok,
        http_status: result.http_status,
        error: result.error.as_deref(),
        failure_kind: result.failure_kind,
    }
}

/// A breaker that cannot be written must not cost the report its probe:
/// the calls' own results still drive the breaker.
fn warn_unfed(source: &Source, fed: Result<(), rebound_engine::EngineError>) {
    if let Err(error) = fed {
        tracing::warn!(source = %source.name, %error, "Could not record the health probe in the circuit breaker.");
    }
}
