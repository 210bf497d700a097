//! Alerts in `rebound serve`: the health report the alert conditions are
//! evaluated on, built the way `rebound health` builds it, at the clock's
//! instant, with the engine reading calendars and the fetcher sending the
//! sources' health probes.

use crate::observe::{EngineCalendars, HttpProber};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_alerts::deliver::Deliverer;
use rebound_alerts::evaluate::Evaluator;
use rebound_alerts::service::{AlertService, DELIVERY_POLL, ReportSource};
use rebound_domain::clock::Clock;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_fetch::sink::SinkClient;
use rebound_health::{HealthReport, Inputs, Prober, build_report};
use std::sync::Arc;

/// The look-back period of the reports alerts are evaluated on: a day, as
/// `rebound health` by default.
pub const ALERT_REPORT_PERIOD: TimeDelta = TimeDelta::hours(24);

/// Builds health reports for the alert evaluator.
pub struct EngineReports {
    pub engine: Arc<Engine>,
    /// `None`: no probes (tests that have no probe to send).
    pub prober: Option<HttpProber>,
}

#[async_trait]
impl ReportSource for EngineReports {
    async fn report(&self, now: DateTime<Utc>) -> Result<HealthReport, String> {
        let calendars = EngineCalendars(&self.engine);
        let inputs = Inputs {
            plan: self.engine.plan(),
            store: self.engine.store().as_ref(),
            calendars: &calendars,
            prober: self.prober.as_ref().map(|p| p as &dyn Prober),
            now,
            since: now - ALERT_REPORT_PERIOD,
        };
        build_report(&inputs).await.map_err(|e| e.to_string())
    }
}

/// The alert loops for `engine`'s plan (`[alerts]`), sending probes with
/// their own fetcher on `clock`.
pub fn alert_service(
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
) -> Result<AlertService, rebound_fetch::FetcherSetupError> {
    let plan = engine.plan().clone();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone())?);
    let store = engine.store().clone();
    Ok(AlertService {
        evaluator: Evaluator::new(
            store.clone(),
            plan.alerts.clone(),
            plan.pipeline.name.clone(),
            plan.pipeline.timezone,
            plan.redactor.clone(),
        ),
        deliverer: Deliverer::new(
            store,
            plan.alerts.sinks.clone(),
            clock.clone(),
            plan.redactor.clone(),
            Arc::new(SinkClient::new()?),
        ),
        source: Arc::new(EngineReports {
            prober: Some(HttpProber::new(fetcher, engine.clone())),
            engine,
        }),
        clock,
        every: plan.alerts.evaluate_every,
        poll: DELIVERY_POLL,
    })
}
