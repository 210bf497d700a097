//! The adapters that let the observe path read what the run path knows.
//!
//! `rebound-health` defines what it needs as traits where it uses them
//! ([`Calendars`], [`Prober`]) and depends on domain and storage only, so
//! the health report and the alerts built on it stand beside the engine
//! rather than on top of it. The service, which knows both sides, plugs
//! the engine's calendar reader and the fetcher's probe into them here;
//! `rebound health` and `rebound serve` use the same two adapters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
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
/// those of today in `tz`.
pub struct HttpProber {
    pub fetcher: Arc<Fetcher>,
    pub tz: chrono_tz::Tz,
}

#[async_trait]
impl Prober for HttpProber {
    async fn probe(&self, source: &Source, probe: &HealthProbe, now: DateTime<Utc>) -> ProbeResult {
        let today = now.with_timezone(&self.tz).date_naive();
        let out = self.fetcher.probe(source, probe, today, self.tz).await;
        ProbeResult {
            ok: out.ok,
            http_status: out.http_status,
            error: out.error,
            duration_ms: out.duration_ms,
        }
    }
}
