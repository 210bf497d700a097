//! The alert loops of `rebound serve`: evaluate every `evaluate_every`,
//! deliver every few seconds, each in its own task, both stopping when
//! asked. Neither runs inside a scrape, so alerting can never slow one.

use crate::deliver::Deliverer;
use crate::evaluate::{Evaluation, Evaluator};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rebound_domain::clock::Clock;
use rebound_health::HealthReport;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the deliverer looks for due notifications.
pub const DELIVERY_POLL: Duration = Duration::from_secs(5);

/// Where reports come from (`rebound_health::build_report` in the service).
#[async_trait]
pub trait ReportSource: Send + Sync {
    async fn report(&self, now: DateTime<Utc>) -> Result<HealthReport, String>;
}

/// The evaluator and the deliverer, with their report source and clock.
pub struct AlertService {
    pub evaluator: Evaluator,
    pub deliverer: Deliverer,
    pub source: Arc<dyn ReportSource>,
    pub clock: Arc<dyn Clock>,
    /// `evaluate_every`.
    pub every: Duration,
    /// How often the deliverer looks for due rows ([`DELIVERY_POLL`] in the service).
    pub poll: Duration,
}

impl AlertService {
    /// One evaluation at the clock's now.
    pub async fn evaluate_now(&self) -> Result<Evaluation, String> {
        let report = self.source.report(self.clock.now()).await?;
        self.evaluator
            .evaluate(&report)
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs both loops until `stop` turns true.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let evaluating = {
            let me = self.clone();
            let mut stop = stop.clone();
            async move {
                loop {
                    match me.evaluate_now().await {
                        Ok(done) if done.notices > 0 => {
                            tracing::info!(
                                opened = done.opened,
                                resolved = done.resolved,
                                notices = done.notices,
                                suppressed = done.suppressed,
                                grouped = done.grouped,
                                "Alerts evaluated."
                            );
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::error!(%error, "Alert evaluation failed; trying again next round.")
                        }
                    }
                    if wait(&mut stop, me.every).await {
                        break;
                    }
                }
            }
        };
        let delivering = {
            let me = self.clone();
            let mut stop = stop.clone();
            async move {
                loop {
                    if let Err(error) = me.deliverer.deliver_due().await {
                        tracing::error!(%error, "Alert delivery round failed; trying again shortly.");
                    }
                    if wait(&mut stop, me.poll).await {
                        break;
                    }
                }
            }
        };
        tokio::join!(evaluating, delivering);
    }
}

/// Sleeps `d` (real time: this paces a live process) unless stopped first;
/// true when stopped.
async fn wait(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}
