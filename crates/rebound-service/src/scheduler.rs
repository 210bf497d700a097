//! The scheduler: evaluates workflows, records decisions, claims slots.
//!
//! One [`Scheduler::tick`] evaluates every scheduled workflow whose last
//! evaluation said the answer might change by now (its `next_check`), so
//! the decision log gets one row per meaningful evaluation instead of one
//! per workflow per minute. Before that it requeues expired leases and makes
//! sure the calendars those workflows need are fresh: a calendar older than
//! its `refresh.max_age` is refreshed first (a queued run of the pseudo
//! workflow `calendar:<name>`), and its dependants wait for it briefly.
//!
//! Several schedulers may run at once (PostgreSQL): they may evaluate the
//! same workflow at the same moment, but slot names are deterministic and
//! the store turns a second claim of a slot into a SKIP, so a slot runs once.

use crate::CALENDAR_PREFIX;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use rebound_domain::calendar::Event;
use rebound_domain::clock::Clock;
use rebound_domain::duration::{add_saturating, to_chrono_saturating};
use rebound_domain::plan::{Plan, Workflow};
use rebound_engine::Engine;
use rebound_schedule::{CalendarSource, Decision, Facts, SlotFact};
use rebound_storage::{
    AlertLevel, CollectedAsk, DecisionAction, DecisionOutcome, NewDecision, NewScheduledRun,
    StoreError,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};

/// How long workflows that need a calendar wait for its queued refresh
/// before they are evaluated on the stale data anyway.
const REFRESH_WAIT: ChronoDuration = ChronoDuration::minutes(2);

/// Calendar refresh slots are per half hour: a refresh that failed is
/// tried again in the next half hour, not in a tight loop.
const REFRESH_BUCKET_MINUTES: i64 = 30;

/// One decision as stored, for reports and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedDecision {
    pub workflow: String,
    pub slot: String,
    pub target_date: NaiveDate,
    pub action: DecisionAction,
    pub reason: String,
    pub entities: Vec<String>,
    pub queued: bool,
    pub execution_id: Option<String>,
}

/// What one tick did.
#[derive(Debug, Clone, Default)]
pub struct TickReport {
    pub decisions: Vec<RecordedDecision>,
    /// Runs the reaper requeued or abandoned.
    pub requeued: Vec<String>,
    /// The earliest instant anything may change.
    pub next_check: Option<DateTime<Utc>>,
}

/// Errors that stop a tick before any workflow is evaluated.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Evaluates the plan's scheduled workflows.
pub struct Scheduler {
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    instance: String,
    /// Per workflow: when to evaluate it next. Absent means now.
    next_check: Mutex<BTreeMap<String, DateTime<Utc>>>,
    /// Per calendar: when this scheduler queued (or saw queued) its refresh.
    refreshing: Mutex<BTreeMap<String, DateTime<Utc>>>,
    /// Wakes in-process workers when a run is queued.
    wake: Arc<Notify>,
}

/// Calendars loaded for one tick: events, "no data yet", or the error.
struct LoadedCalendars(BTreeMap<String, Result<Option<Vec<Event>>, String>>);

impl CalendarSource for LoadedCalendars {
    fn events(&self, calendar: &str) -> Result<Option<Vec<Event>>, String> {
        self.0
            .get(calendar)
            .cloned()
            .unwrap_or_else(|| Err(format!("calendar {calendar} was not loaded")))
    }
}

impl Scheduler {
    pub fn new(
        engine: Arc<Engine>,
        clock: Arc<dyn Clock>,
        instance: String,
        wake: Arc<Notify>,
    ) -> Scheduler {
        Scheduler {
            engine,
            clock,
            instance,
            next_check: Mutex::new(BTreeMap::new()),
            refreshing: Mutex::new(BTreeMap::new()),
            wake,
        }
    }

    fn plan(&self) -> &Plan {
        self.engine.plan()
    }

    /// Evaluates every workflow that is due; see the module docs.
    pub async fn tick(&self) -> Result<TickReport, SchedulerError> {
        let now = self.clock.now();
        let store = self.engine.store().clone();
        let mut report = TickReport {
            requeued: crate::reap(store.as_ref(), now).await?,
            ..TickReport::default()
        };
        if !report.requeued.is_empty() {
            tracing::warn!(runs = ?report.requeued, "Requeued runs whose worker stopped renewing its lease.");
            self.wake.notify_waiters();
        }

        let due: Vec<&Workflow> = {
            let next = self.next_check.lock().expect("next_check lock");
            self.plan()
                .workflows
                .values()
                .filter(|w| w.schedule.is_some())
                .filter(|w| next.get(&w.name).is_none_or(|t| *t <= now))
                .collect()
        };
        let needed: BTreeSet<&str> = due
            .iter()
            .filter_map(|w| w.schedule.as_ref()?.calendar.as_deref())
            .collect();
        let (calendars, waiting) = self.load_calendars(&needed, now, &mut report).await?;

        let mut next_times = Vec::new();
        for workflow in due {
            let schedule = workflow.schedule.as_ref().expect("filtered on schedule");
            if let Some(calendar) = &schedule.calendar
                && waiting.contains(calendar.as_str())
            {
                // Refresh first: look again shortly, without a decision.
                self.set_next(&workflow.name, now + ChronoDuration::seconds(2));
                continue;
            }
            let next = match self.evaluate(workflow, now, &calendars).await {
                Ok((decisions, next)) => {
                    for decision in decisions {
                        report.decisions.push(self.record(decision, now).await?);
                    }
                    next
                }
                Err(error) => {
                    // An evaluation that cannot read its facts is an ABORT
                    // with the error, never a silent RUN or SKIP.
                    let today = now
                        .with_timezone(&self.plan().pipeline.timezone)
                        .date_naive();
                    let abort = Decision {
                        workflow: workflow.name.clone(),
                        slot: "evaluation".into(),
                        target_date: today,
                        scheduled_for: now,
                        action: DecisionAction::Abort,
                        reason: format!("evaluation error: {error}"),
                        entities: Vec::new(),
                        restrict_entities: false,
                        alert_level: AlertLevel::Critical,
                        execution_id: None,
                    };
                    report.decisions.push(self.record(abort, now).await?);
                    now + ChronoDuration::minutes(1)
                }
            };
            self.set_next(&workflow.name, next);
        }
        {
            let next = self.next_check.lock().expect("next_check lock");
            next_times.extend(
                self.plan()
                    .workflows
                    .values()
                    .filter(|w| w.schedule.is_some())
                    .map(|w| next.get(&w.name).copied().unwrap_or(now)),
            );
        }
        report.next_check = next_times.into_iter().min();
        Ok(report)
    }

    fn set_next(&self, workflow: &str, at: DateTime<Utc>) {
        self.next_check
            .lock()
            .expect("next_check lock")
            .insert(workflow.to_string(), at);
    }

    /// Forgets every `next_check`, so the next tick evaluates all workflows
    /// (used after a wait longer than expected, e.g. the process was paused).
    pub fn reset(&self) {
        self.next_check.lock().expect("next_check lock").clear();
    }

    /// Loads the calendars due workflows need, queueing a refresh for any
    /// that is missing or stale. Returns the calendars and the names whose
    /// dependants should wait for a refresh in progress.
    async fn load_calendars(
        &self,
        needed: &BTreeSet<&str>,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(LoadedCalendars, BTreeSet<String>), SchedulerError> {
        let mut loaded = BTreeMap::new();
        let mut waiting = BTreeSet::new();
        for &name in needed {
            let result = self.engine.calendar_events(name).await;
            let (events, fetched_at) = match result {
                Ok(Some(data)) => (Ok(Some(data.events)), Some(data.fetched_at)),
                Ok(None) => (Ok(None), None),
                Err(error) => (Err(error.to_string()), None),
            };
            let calendar = &self.plan().calendars[name];
            if let Some(refresh) = &calendar.refresh {
                let max_age = refresh.max_age_at(now);
                let stale = match fetched_at {
                    Some(at) => now - at > to_chrono_saturating(max_age),
                    None => events.is_ok(),
                };
                if stale {
                    let since = self.refresh_started(name, fetched_at, now, report).await?;
                    if now - since < REFRESH_WAIT {
                        waiting.insert(name.to_string());
                    }
                } else {
                    self.refreshing
                        .lock()
                        .expect("refreshing lock")
                        .remove(name);
                }
            }
            loaded.insert(name.to_string(), events);
        }
        Ok((LoadedCalendars(loaded), waiting))
    }

    /// Queues a refresh of a stale calendar (once per stale payload and
    /// half hour, across all schedulers) and returns since when this
    /// scheduler has been waiting for it.
    async fn refresh_started(
        &self,
        name: &str,
        fetched_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<DateTime<Utc>, SchedulerError> {
        let plan = self.plan();
        let calendar = &plan.calendars[name];
        let refresh = calendar.refresh.as_ref().expect("checked by caller");
        let tz = plan.pipeline.timezone;
        let local = now.with_timezone(&tz);
        let bucket_start = now
            - ChronoDuration::minutes(
                (i64::from(chrono::Timelike::minute(&local))) % REFRESH_BUCKET_MINUTES,
            );
        let bucket = bucket_start.with_timezone(&tz).format("%H:%M");
        let about = match fetched_at {
            Some(at) => at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            None => "none".to_string(),
        };
        let slot = format!("refresh {bucket} after {about}");
        let already = self
            .refreshing
            .lock()
            .expect("refreshing lock")
            .get(name)
            .copied();
        if let Some(since) = already
            && now - since < ChronoDuration::minutes(REFRESH_BUCKET_MINUTES)
        {
            return Ok(since);
        }
        let reason = match fetched_at {
            Some(at) => format!(
                "calendar {name} is {} old (max_age {}): refreshing with {} first",
                rebound_domain::duration::format_duration((now - at).to_std().unwrap_or_default()),
                rebound_domain::duration::format_duration(refresh.max_age_at(now)),
                refresh.scraper
            ),
            None => format!(
                "calendar {name} has no data yet: fetching it with {} first",
                refresh.scraper
            ),
        };
        let decision = Decision {
            workflow: format!("{CALENDAR_PREFIX}{name}"),
            slot,
            target_date: local.date_naive(),
            scheduled_for: now,
            action: DecisionAction::Run,
            reason,
            entities: Vec::new(),
            restrict_entities: false,
            alert_level: AlertLevel::Info,
            execution_id: None,
        };
        report.decisions.push(self.record(decision, now).await?);
        self.refreshing
            .lock()
            .expect("refreshing lock")
            .insert(name.to_string(), now);
        Ok(now)
    }

    /// Reads the facts a workflow's rules need and applies them.
    async fn evaluate(
        &self,
        workflow: &Workflow,
        now: DateTime<Utc>,
        calendars: &LoadedCalendars,
    ) -> Result<(Vec<Decision>, DateTime<Utc>), StoreError> {
        let plan = self.plan();
        let schedule = workflow.schedule.as_ref().expect("scheduled workflow");
        let dates = rebound_schedule::fact_dates(
            schedule,
            plan.pipeline.timezone,
            now,
            plan.scheduler.catch_up,
        );
        let facts = self
            .facts(workflow, now, *dates.start(), *dates.end())
            .await?;
        let evaluation = rebound_schedule::evaluate(plan, workflow, now, &facts, calendars);
        Ok((evaluation.decisions, evaluation.next_check))
    }

    async fn facts(
        &self,
        workflow: &Workflow,
        now: DateTime<Utc>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Facts, StoreError> {
        let store = self.engine.store();
        let span = store.decision_span(&workflow.name).await?;
        let last_decided_at = span.last;
        // A `cron` or `every` schedule reads only the slots its evaluation
        // looks up: a minutely cron's dates hold thousands of slots, read
        // on every tick.
        let rows = match rebound_schedule::fact_slots(self.plan(), workflow, now, last_decided_at) {
            Some(keys) => store.slot_facts(&workflow.name, &keys).await?,
            None => store.slot_history(&workflow.name, from, to).await?,
        };
        let slots = rows
            .into_iter()
            .map(|row| SlotFact {
                target_date: row.target_date,
                slot: row.slot,
                decided: row.decided_at.is_some(),
                claimed_at: row.run_created_at,
                execution_id: row.execution_id,
                result_status: row.result_status,
                finished_at: row.run_finished_at,
            })
            .collect();
        let mut collected = BTreeMap::new();
        let mut data_found = BTreeSet::new();
        let fanned = rebound_schedule::fanned_scrapers(self.plan(), workflow);
        let discovery = matches!(
            workflow.schedule.as_ref().map(|s| &s.kind),
            Some(rebound_domain::plan::ScheduleKind::Discovery { .. })
        );
        let mut dates = Vec::new();
        let mut date = from;
        while date <= to {
            dates.push(date);
            date = date.succ_opt().unwrap_or(date);
            if date == NaiveDate::MAX {
                break;
            }
        }
        if let Some((param, scrapers)) = &fanned {
            // Every scraper's entities on every date, in one read; an
            // event is collected when every fanned-out scraper of the
            // workflow has a successful call for it, not just one.
            let asks: Vec<CollectedAsk> = dates
                .iter()
                .flat_map(|date| {
                    scrapers.iter().map(|scraper| CollectedAsk {
                        scrapers: vec![scraper.clone()],
                        param: param.clone(),
                        target_date: *date,
                    })
                })
                .collect();
            let mut answers = rebound_storage::collected_values_checked(store.as_ref(), &asks)
                .await?
                .into_iter();
            for date in &dates {
                let mut both: Option<BTreeSet<String>> = None;
                for values in answers.by_ref().take(scrapers.len()) {
                    let values: BTreeSet<String> = values.into_iter().collect();
                    both = Some(match both {
                        None => values,
                        Some(so_far) => so_far.intersection(&values).cloned().collect(),
                    });
                }
                collected.insert(*date, both.unwrap_or_default());
            }
        }
        for date in dates {
            // Only discovery stops on data; other kinds need not read runs.
            if discovery {
                let runs = store.executions_for_date(&workflow.name, date).await?;
                if runs.iter().any(|r| r.scrapers_succeeded > 0) {
                    data_found.insert(date);
                }
            }
        }
        Ok(Facts {
            slots,
            collected,
            data_found,
            last_decided_at,
            first_decided_at: span.first,
        })
    }

    /// Stores a decision; a RUN also claims its slot and queues the run.
    async fn record(
        &self,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<RecordedDecision, StoreError> {
        let store = self.engine.store();
        let entities_json =
            serde_json::to_string(&decision.entities).unwrap_or_else(|_| "[]".into());
        // A retry of a failed run continues that run's execution, so the
        // engine re-runs only what did not succeed; any other RUN is a new one.
        let execution_id = (decision.action == DecisionAction::Run).then(|| {
            decision
                .execution_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
        });
        let new = NewDecision {
            decision_id: uuid::Uuid::now_v7().to_string(),
            workflow_name: decision.workflow.clone(),
            decided_at: now,
            slot: decision.slot.clone(),
            target_date: decision.target_date,
            action: decision.action,
            reason: decision.reason.clone(),
            entities: entities_json.clone(),
            alert_level: decision.alert_level,
            execution_id: execution_id.clone(),
            decided_by: self.instance.clone(),
        };
        let run = execution_id.as_ref().map(|execution_id| NewScheduledRun {
            run_id: uuid::Uuid::now_v7().to_string(),
            workflow_name: decision.workflow.clone(),
            target_date: decision.target_date,
            slot: decision.slot.clone(),
            params: "{}".into(),
            entities: if decision.restrict_entities {
                entities_json.clone()
            } else {
                "null".into()
            },
            run_at: now,
            scheduled_for: decision.scheduled_for,
            execution_id: execution_id.clone(),
            decision_id: Some(new.decision_id.clone()),
            created_at: now,
        });
        let DecisionOutcome {
            action,
            reason,
            queued,
        } = store.record_decision(&new, run.as_ref()).await?;
        log_decision(&decision, action, &reason);
        if queued {
            self.wake.notify_waiters();
        }
        Ok(RecordedDecision {
            workflow: decision.workflow,
            slot: decision.slot,
            target_date: decision.target_date,
            action,
            reason,
            entities: decision.entities,
            queued,
            execution_id: if queued { execution_id } else { None },
        })
    }

    /// Ticks until `shutdown` turns true, sleeping until the next check
    /// (at most `[scheduler] max_idle`).
    pub async fn run_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let max_idle = self.plan().scheduler.max_idle;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = self.clock.now();
            let next = match self.tick().await {
                Ok(report) => report.next_check.unwrap_or(add_saturating(now, max_idle)),
                Err(error) => {
                    tracing::error!(%error, "Scheduler tick failed; trying again shortly.");
                    now + ChronoDuration::seconds(5)
                }
            };
            let wait = (next.min(add_saturating(self.clock.now(), max_idle)) - self.clock.now())
                .to_std()
                .unwrap_or_default()
                .max(std::time::Duration::from_millis(20));
            tokio::select! {
                _ = self.clock.sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("Scheduler stopped.");
    }
}

fn log_decision(decision: &Decision, action: DecisionAction, reason: &str) {
    match decision.alert_level {
        AlertLevel::Warning | AlertLevel::Critical => tracing::warn!(
            workflow = %decision.workflow, slot = %decision.slot, target_date = %decision.target_date,
            action = action.as_str(), reason, "Decision."
        ),
        _ => tracing::info!(
            workflow = %decision.workflow, slot = %decision.slot, target_date = %decision.target_date,
            action = action.as_str(), reason, "Decision."
        ),
    }
}
