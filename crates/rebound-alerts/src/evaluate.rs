//! One evaluation: report → observations → [`incident::step`] → rows.
//!
//! The evaluator only writes rows (incidents and `pending` notifications);
//! it never talks to a sink, so a slow or dead webhook cannot hold it up,
//! and it never runs inside a scrape. Each change and its notification
//! rows are written in one transaction; a change another evaluator already
//! made (two schedulers on one PostgreSQL) is skipped, so nothing is
//! notified twice.

use crate::conditions::{Memory, Observation, is_unhealthy, observe_with};
use crate::incident::{Causes, Change, Limits, Notice, OpenIncident, Stamp, step_grouped};
use crate::payload::Payload;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::alerts::{AlertSettings, MinLevel};
use rebound_domain::redact::Redactor;
use rebound_health::{HealthReport, IncidentSummary, Level};
use rebound_storage::{
    AlertIncidentRow, AlertIncidentUpdate, NewAlert, NewAlertIncident, Store, StoreError,
};
use std::sync::Arc;

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub opened: usize,
    pub resolved: usize,
    /// Notifications decided (sent to the queue or suppressed).
    pub notices: usize,
    /// Of those, the ones a rate limit held back.
    pub suppressed: usize,
    /// Of those, the ones held back because their incident has a cause
    /// whose notifications speak for it (`caused_by`).
    pub grouped: usize,
    /// Changes another evaluator made first.
    pub skipped: usize,
}

/// Turns health reports into incidents and queued notifications.
pub struct Evaluator {
    store: Arc<dyn Store>,
    settings: AlertSettings,
    pipeline: String,
    /// The pipeline's zone: alert texts give times in it.
    timezone: chrono_tz::Tz,
    redactor: Redactor,
    /// Source → when this evaluator first saw it unhealthy ([`Memory`]).
    unhealthy_seen: std::sync::Mutex<std::collections::BTreeMap<String, DateTime<Utc>>>,
}

impl Evaluator {
    pub fn new(
        store: Arc<dyn Store>,
        settings: AlertSettings,
        pipeline: impl Into<String>,
        timezone: chrono_tz::Tz,
        redactor: Redactor,
    ) -> Evaluator {
        Evaluator {
            store,
            settings,
            pipeline: pipeline.into(),
            timezone,
            redactor,
            unhealthy_seen: std::sync::Mutex::default(),
        }
    }

    /// Evaluates the conditions on `report` at its `generated_at`.
    pub async fn evaluate(&self, report: &HealthReport) -> Result<Evaluation, StoreError> {
        let rows = self.store.open_alert_incidents().await?;
        let memory = self.remember(report, &rows);
        let observed = observe_with(report, &self.settings.conditions, self.timezone, &memory);
        let causes = crate::group::causes(report, &observed);
        self.apply_rows(report.generated_at, &observed, causes, rows)
            .await
    }

    /// Updates when each source was first seen unhealthy (kept while it
    /// stays so, forgotten once it is healthy) and returns it with the
    /// sources whose `source_unhealthy` incident is open.
    fn remember(&self, report: &HealthReport, rows: &[AlertIncidentRow]) -> Memory {
        let mut seen = self
            .unhealthy_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for source in &report.sources {
            if is_unhealthy(source) {
                seen.entry(source.name.clone())
                    .or_insert(report.generated_at);
            } else {
                seen.remove(&source.name);
            }
        }
        Memory {
            unhealthy_seen: seen.clone(),
            open: rows
                .iter()
                .filter(|r| r.condition == crate::conditions::SOURCE_UNHEALTHY)
                .map(|r| r.subject.clone())
                .collect(),
        }
    }

    /// Applies already computed observations at `now` (what [`Self::evaluate`] does after `observe`),
    /// without grouping.
    pub async fn apply(
        &self,
        now: DateTime<Utc>,
        observed: &[Observation],
    ) -> Result<Evaluation, StoreError> {
        self.apply_grouped(now, observed, Causes::default()).await
    }

    async fn apply_grouped(
        &self,
        now: DateTime<Utc>,
        observed: &[Observation],
        causes: Causes,
    ) -> Result<Evaluation, StoreError> {
        let rows = self.store.open_alert_incidents().await?;
        self.apply_rows(now, observed, causes, rows).await
    }

    /// [`Self::apply_grouped`] with the open incidents already read.
    async fn apply_rows(
        &self,
        now: DateTime<Utc>,
        observed: &[Observation],
        mut causes: Causes,
        rows: Vec<AlertIncidentRow>,
    ) -> Result<Evaluation, StoreError> {
        let open: Vec<OpenIncident> = rows.iter().map(open_incident).collect();
        // Grouped incidents whose cause is no longer open: when it recovered
        // decides whether they have new evidence of their own.
        let gone: Vec<(&str, DateTime<Utc>)> = rows
            .iter()
            .filter_map(|r| Some((r.caused_by.as_deref()?, r.opened_at)))
            .filter(|(cause, _)| {
                !rows
                    .iter()
                    .any(|r| crate::incident::identity(&r.condition, &r.subject) == *cause)
            })
            .collect();
        if let Some(since) = gone.iter().map(|(_, at)| *at).min() {
            let recent = self.store.recent_alert_incidents(since, 10_000).await?;
            for (cause, _) in gone {
                if let Some(at) = crate::group::recovered_at(cause, &recent) {
                    causes.recovered.insert(cause.to_string(), at);
                }
            }
        }
        // A day of stamps: the caps look back an hour, the "held back"
        // count back to the last notice that went out.
        let stamps: Vec<Stamp> = self
            .store
            .alert_stamps_since(now - TimeDelta::days(1))
            .await?
            .into_iter()
            .map(|s| Stamp {
                condition: s.condition,
                subject: s.subject,
                at: s.created_at,
                suppressed: s.suppressed,
            })
            .collect();
        let limits = Limits {
            timezone: self.timezone,
            renotify: rebound_domain::duration::to_chrono_saturating(self.settings.renotify),
            per_incident_per_hour: self.settings.max_per_incident_per_hour,
            per_hour: self.settings.max_per_hour,
        };
        let mut done = Evaluation::default();
        for change in step_grouped(now, &open, observed, &causes, &stamps, &limits) {
            self.write(now, &rows, change, &mut done).await?;
        }
        Ok(done)
    }

    async fn write(
        &self,
        now: DateTime<Utc>,
        rows: &[AlertIncidentRow],
        change: Change,
        done: &mut Evaluation,
    ) -> Result<(), StoreError> {
        let redact = |text: &str| self.redactor.redact_string(text);
        match change {
            Change::Open {
                condition,
                subject,
                level,
                summary,
                notice,
                caused_by,
            } => {
                let summary = redact(&summary);
                let payload = Payload {
                    event: notice.event.as_str(),
                    condition: &condition,
                    subject: &subject,
                    level: level.as_str(),
                    summary: &summary,
                    message: "",
                    opened_at: now,
                    resolved_at: None,
                    duration_seconds: None,
                    pipeline: &self.pipeline,
                };
                let alerts = self.rows(now, &notice, payload);
                let new = NewAlertIncident {
                    condition,
                    subject,
                    level: level.as_str().to_string(),
                    summary,
                    opened_at: now,
                    last_notified_at: Some(now),
                    caused_by,
                };
                match self.store.open_alert_incident(&new, &alerts).await? {
                    Some(_) => {
                        done.opened += 1;
                        count(done, &notice);
                    }
                    None => done.skipped += 1,
                }
            }
            Change::Update {
                id,
                level,
                peak_level,
                summary,
                previous_notified,
                notice,
                caused_by,
            } => {
                let summary = redact(&summary);
                let row = rows.iter().find(|r| r.id == id);
                let alerts = match (&notice, row) {
                    (Some(notice), Some(row)) => self.rows(
                        now,
                        notice,
                        Payload {
                            event: notice.event.as_str(),
                            condition: &row.condition,
                            subject: &row.subject,
                            level: level.as_str(),
                            summary: &summary,
                            message: "",
                            opened_at: row.opened_at,
                            resolved_at: None,
                            duration_seconds: None,
                            pipeline: &self.pipeline,
                        },
                    ),
                    _ => Vec::new(),
                };
                let update = AlertIncidentUpdate {
                    id,
                    level: level.as_str().to_string(),
                    peak_level: peak_level.as_str().to_string(),
                    summary,
                    last_seen_at: now,
                    notified: notice.as_ref().map(|_| (previous_notified, now)),
                    caused_by,
                };
                if self.store.update_alert_incident(&update, &alerts).await? {
                    if let Some(notice) = &notice {
                        count(done, notice);
                    }
                } else {
                    done.skipped += 1;
                }
            }
            Change::Resolve {
                id,
                condition,
                subject,
                opened_at,
                notice,
            } => {
                let summary = rows
                    .iter()
                    .find(|r| r.id == id)
                    .map(|r| r.summary.clone())
                    .unwrap_or_default();
                let payload = Payload {
                    event: notice.event.as_str(),
                    condition: &condition,
                    subject: &subject,
                    level: notice.level.as_str(),
                    summary: &summary,
                    message: "",
                    opened_at,
                    resolved_at: Some(now),
                    duration_seconds: Some((now - opened_at).num_seconds()),
                    pipeline: &self.pipeline,
                };
                let alerts = self.rows(now, &notice, payload);
                if self.store.resolve_alert_incident(id, now, &alerts).await? {
                    done.resolved += 1;
                    count(done, &notice);
                } else {
                    done.skipped += 1;
                }
            }
        }
        Ok(())
    }

    /// One row per sink that takes this level.
    fn rows(&self, now: DateTime<Utc>, notice: &Notice, payload: Payload<'_>) -> Vec<NewAlert> {
        let message = self
            .redactor
            .redact_string(&format!("[{}] {}", self.pipeline, notice.text));
        let payload = Payload {
            message: &message,
            ..payload
        }
        .to_json();
        self.settings
            .sinks
            .values()
            .filter(|sink| takes(sink.min_level, notice.level))
            .map(|sink| NewAlert {
                sink: sink.name.clone(),
                event: notice.event.as_str().to_string(),
                level: notice.level.as_str().to_string(),
                message: message.clone(),
                payload: payload.clone(),
                created_at: now,
                delivery_status: if notice.suppressed.is_some() {
                    "suppressed"
                } else {
                    "pending"
                }
                .to_string(),
                next_attempt_at: notice.suppressed.is_none().then_some(now),
                last_error: notice.suppressed.clone(),
            })
            .collect()
    }
}

fn count(done: &mut Evaluation, notice: &Notice) {
    done.notices += 1;
    if notice.grouped {
        done.grouped += 1;
    } else if notice.suppressed.is_some() {
        done.suppressed += 1;
    }
}

fn takes(min: MinLevel, level: Level) -> bool {
    match min {
        MinLevel::Warning => level >= Level::Warning,
        MinLevel::Critical => level >= Level::Critical,
    }
}

/// `warning`/`critical` as stored → [`Level`].
pub fn parse_level(text: &str) -> Level {
    match text {
        "critical" => Level::Critical,
        "warning" => Level::Warning,
        _ => Level::Ok,
    }
}

fn open_incident(row: &AlertIncidentRow) -> OpenIncident {
    OpenIncident {
        id: row.id,
        condition: row.condition.clone(),
        subject: row.subject.clone(),
        level: parse_level(&row.level),
        peak_level: parse_level(&row.peak_level),
        summary: row.summary.clone(),
        opened_at: row.opened_at,
        last_notified_at: row.last_notified_at,
        caused_by: row.caused_by.clone(),
    }
}

/// The open incidents as the health report's `alerts` section shows them.
pub async fn open_incident_summaries(
    store: &dyn Store,
) -> Result<Vec<IncidentSummary>, StoreError> {
    Ok(store
        .open_alert_incidents()
        .await?
        .into_iter()
        .map(|row| IncidentSummary {
            level: parse_level(&row.level),
            condition: row.condition,
            subject: row.subject,
            opened_at: row.opened_at,
            summary: row.summary,
        })
        .collect())
}
