//! One workflow run: steps in order, the scrapers of a step concurrently
//! (fanned-out scrapers as one call per item), dependencies honoured, one
//! `workflow_executions` row: written `running` at the start (with this
//! process as its owner and a heartbeat renewed while the run works, see
//! [`crate::liveness`]) and finished in place at the end.
//!
//! A run under an execution id that already has calls (a rescue after its
//! worker died, a follow-up of a stored wait) makes only the calls that did
//! not end in `success` or `no_data` in that execution: the others are
//! reported from their rows, without a request, so quota and rate limits
//! are not spent twice, and the run row counts each call once.

use crate::call::{CallReport, Completed, RunContext, params_to_json};
use crate::fanout::{FanoutSummary, Finished, no_calls};
use crate::{Engine, EngineError, names};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rebound_domain::duration::add_saturating;
use rebound_domain::message::{aggregate_errors, plural};
use rebound_domain::outcome::{ErrorKind, ScraperStatus, StatusCounts, WorkflowStatus};
use rebound_storage::{DateClaim, NewWorkflowExecution, RunStart, ScraperCallRow, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a run is made, beyond its workflow, date and parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The execution id to record the run under (the scheduler decides it
    /// ahead, in its decision row); a new UUIDv7 when `None`.
    pub execution_id: Option<String>,
    /// Restricts calendar fan-outs to these event ids (the scheduler's
    /// `only_missing`); `None` calls every event of the date. Ids that are
    /// not events of the date are not called. Dataset fan-outs ignore it.
    pub entities: Option<Vec<String>>,
    /// The local time of the slot this run is for: supplies `{slot_hour}`,
    /// `{slot_hour12}`, `{slot_ampm}` and `{slot_minute}` (scheduled runs,
    /// `rebound run --slot`); `None` supplies none of them.
    pub slot: Option<chrono::NaiveTime>,
    /// What started the run; the completion events' `trigger` (default
    /// `manual`).
    pub trigger: rebound_domain::handoff::Trigger,
}

/// What happened in one workflow run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub execution_id: String,
    pub workflow: String,
    pub target_date: NaiveDate,
    pub status: WorkflowStatus,
    pub counts: StatusCounts,
    /// `scraper: message | …`, at most 1000 characters.
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// Every call, in step order (a fanned scraper's calls together).
    pub calls: Vec<CallReport>,
    /// One entry per fanned-out scraper, in step order.
    pub fanout: Vec<FanoutSummary>,
    /// The latest instant a call of this run deferred its retry to (its
    /// wait exceeded the inline limit): when a follow-up run is worth making.
    pub retry_at: Option<DateTime<Utc>>,
    /// The earliest re-check of a `not_yet_available` call: when a follow-up
    /// run is worth making for late data (`rebound serve` stores one).
    pub recheck_at: Option<DateTime<Utc>>,
    /// The calendar entities to re-check, when every `not_yet_available`
    /// call was a calendar fan-out call; `None` re-runs the whole workflow.
    pub recheck_entities: Option<Vec<String>>,
}

impl RunReport {
    /// True when the run is `success` or `no_data`: nothing failed and
    /// nothing was refused (`rebound run` exits 0 only then). A call refused
    /// by an open breaker is not a scraper failure, but its data was not
    /// collected, so a run with one is not all right.
    pub fn all_ok(&self) -> bool {
        matches!(
            self.status,
            WorkflowStatus::Success | WorkflowStatus::NoData
        )
    }
}

/// What [`Engine::startable`] found a run needs: its workflow, its full
/// parameters, and the variants not valid on its date.
struct Startable<'a> {
    workflow: &'a rebound_domain::plan::Workflow,
    params: BTreeMap<String, String>,
    variants: std::collections::HashMap<&'a str, Option<String>>,
}

impl Engine {
    /// Runs a workflow once for `target_date`, with default [`RunOptions`].
    pub async fn run_workflow(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
    ) -> Result<RunReport, EngineError> {
        self.run_workflow_with(name, target_date, user_params, &RunOptions::default())
            .await
    }

    /// Claims `target_date` of workflow `name` for execution
    /// `execution_id` (`rebound backfill`): writes the run's row, as the
    /// run itself would begin it, unless a run of that date is running or
    /// collected it ([`Store::claim_target_date`]). The claimed run then
    /// goes through [`Engine::run_workflow_with`] with the same execution
    /// id, user parameters and slot. The checks a run makes before it
    /// begins come first, so a run that could not start (a parameter
    /// nobody gives) claims nothing and leaves no row, as with `rebound
    /// run`.
    pub async fn claim_date(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
        slot: Option<NaiveTime>,
        execution_id: &str,
    ) -> Result<DateClaim, EngineError> {
        self.startable(name, target_date, user_params, slot)?;
        let start = self.run_start(name, target_date, user_params, execution_id);
        Ok(self.store.claim_target_date(&start).await?)
    }

    /// The checks a run makes before it begins: a workflow the plan has, a
    /// day the pipeline's zone has, every parameter its calls need.
    fn startable(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
        slot: Option<NaiveTime>,
    ) -> Result<Startable<'_>, EngineError> {
        let Some(workflow) = self.plan.workflows.get(name) else {
            return Err(EngineError::UnknownWorkflow {
                name: name.to_string(),
                available: names(self.plan.workflows.keys()),
            });
        };
        self.refuse_a_skipped_day(target_date)?;
        let params = self.full_params(target_date, user_params, slot)?;
        let variants = self.variants_on(workflow, target_date);
        // A variant not valid on the date makes no call, so it needs no
        // parameter (a manual run of another date need not pass its --slot).
        let scraper_names: Vec<&str> = workflow
            .scraper_names()
            .filter(|name| !variants.contains_key(name))
            .collect();
        self.check_params(&scraper_names, &params, true)?;
        Ok(Startable {
            workflow,
            params,
            variants,
        })
    }

    /// The row a run begins with: now, the user parameters with secrets
    /// masked, this process as its owner, a heartbeat of one lease.
    fn run_start(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
        execution_id: &str,
    ) -> RunStart {
        let started_at = self.clock.now();
        RunStart {
            execution_id: execution_id.to_string(),
            workflow_name: name.to_string(),
            target_date,
            started_at,
            params: self
                .plan
                .redactor
                .redact_string(&params_to_json(user_params)),
            owner: crate::liveness::this_process(),
            heartbeat_until: add_saturating(started_at, self.plan.scheduler.lease),
        }
    }

    /// Runs a workflow once for `target_date`.
    pub async fn run_workflow_with(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
        options: &RunOptions,
    ) -> Result<RunReport, EngineError> {
        let Startable {
            workflow,
            params,
            variants,
        } = self.startable(name, target_date, user_params, options.slot)?;

        let execution_id = options
            .execution_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        // The calls this execution already completed, when it ran before.
        let completed = match &options.execution_id {
            Some(id) => completed_calls(&self.store.scraper_calls_for_execution(id).await?),
            None => Completed::new(),
        };
        let start = self.run_start(name, target_date, user_params, &execution_id);
        self.store.begin_workflow_execution(&start).await?;
        let RunStart {
            started_at,
            params: run_params,
            owner,
            ..
        } = start;
        let lease = self.plan.scheduler.lease;
        // Dropped (and so stopped) when this future ends or is cancelled.
        let _heartbeat = Heartbeat(spawn_heartbeat(
            self.store.clone(),
            self.clock.clone(),
            execution_id.clone(),
            owner,
            lease,
        ));
        let run = RunContext {
            execution_id: &execution_id,
            workflow_name: name,
            completed: &completed,
            trigger: options.trigger,
        };
        tracing::info!(workflow = name, %execution_id, %target_date,
            already_completed = completed.len(), "Workflow run started.");

        let mut calls: Vec<CallReport> = Vec::new();
        let mut fanout: Vec<FanoutSummary> = Vec::new();
        let mut finished: Finished = Finished::new();
        // Scrapers refused by an open circuit breaker: their dependents are
        // held back for the same reason, which is not a failure either.
        let mut held: std::collections::HashSet<String> = std::collections::HashSet::new();
        for step in &workflow.steps {
            // Variants not valid on the date are not part of this run; when
            // no variant of a dataset is, the first listed gets one
            // skipped row saying so.
            let mut step_results: Vec<(Vec<CallReport>, Option<FanoutSummary>)> = Vec::new();
            let mut active: Vec<&String> = Vec::new();
            for scraper in &step.scrapers {
                match variants.get(scraper.as_str()) {
                    None => active.push(scraper),
                    Some(None) => {}
                    Some(Some(message)) => {
                        let report = self
                            .record_without_call(
                                scraper,
                                target_date,
                                &params,
                                run,
                                ScraperStatus::Skipped,
                                Some(ErrorKind::NotValid),
                                message,
                            )
                            .await?;
                        let summary = self.plan.scrapers[scraper.as_str()]
                            .for_each
                            .as_ref()
                            .map(|_| no_calls(scraper, report.message.as_deref().unwrap_or("")));
                        step_results.push((vec![report], summary));
                    }
                }
            }
            // A dependency that failed or was skipped skips the whole step.
            let blocked = step.after.iter().find_map(|dep| match finished.get(dep) {
                Some((status, _)) if status.is_failure() => Some((dep.clone(), *status)),
                _ => None,
            });
            let ran: Vec<(Vec<CallReport>, Option<FanoutSummary>)> = match blocked {
                Some((dep, dep_status)) => {
                    let message = skip_message(&dep, dep_status, held.contains(&dep));
                    let kind = if held.contains(&dep) {
                        ErrorKind::BreakerOpen
                    } else {
                        ErrorKind::Dependency
                    };
                    let mut results = Vec::new();
                    for scraper in active.iter().copied() {
                        let report = self
                            .record_without_call(
                                scraper,
                                target_date,
                                &params,
                                run,
                                ScraperStatus::Skipped,
                                Some(kind),
                                &message,
                            )
                            .await?;
                        if kind == ErrorKind::BreakerOpen {
                            held.insert(scraper.clone());
                        }
                        // A skipped fan-out is still reported as one: 0 of 0, why.
                        let summary = self.plan.scrapers[scraper.as_str()]
                            .for_each
                            .as_ref()
                            .map(|_| no_calls(scraper, report.message.as_deref().unwrap_or("")));
                        results.push((vec![report], summary));
                    }
                    results
                }
                None => {
                    let futures = active.iter().map(|scraper| {
                        self.run_step_scraper(
                            scraper,
                            target_date,
                            &params,
                            run,
                            options.entities.as_deref(),
                            &finished,
                        )
                    });
                    self.all(futures)
                        .await
                        .into_iter()
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            step_results.extend(ran);
            for (reports, summary) in step_results {
                if let Some(first) = reports.first() {
                    if let [only] = reports.as_slice()
                        && only.error_kind == Some(ErrorKind::BreakerOpen)
                    {
                        held.insert(only.scraper.clone());
                    }
                    finished.insert(first.scraper.clone(), scraper_outcome(&reports));
                }
                calls.extend(reports);
                fanout.extend(summary);
            }
        }

        let mut counts = StatusCounts::default();
        for call in &calls {
            counts.add_call(call.status, call.error_kind);
        }
        let status = WorkflowStatus::from_counts(counts);
        // Calls of a fanned scraper are told apart by their item:
        // `props (game_id=g2): HTTP 503 …`. Calls an open breaker refused
        // are named too: they are why such a run is failed or partial.
        let labelled: Vec<(String, &str)> = calls
            .iter()
            .filter(|c| c.is_failure() || c.error_kind == Some(ErrorKind::BreakerOpen))
            .map(|c| (self.call_label(c), c.message.as_deref().unwrap_or("failed")))
            .collect();
        let error_message = aggregate_errors(
            labelled
                .iter()
                .map(|(label, message)| (label.as_str(), *message)),
            &self.plan.redactor,
        );
        let retry_at = calls.iter().filter_map(|c| c.deferred_until).max();
        let recheck_at = calls.iter().filter_map(|c| c.recheck_at).min();
        let recheck_entities = self.recheck_entities(&calls);
        let finished_at = self.clock.now();
        let duration_ms = (finished_at - started_at).num_milliseconds();
        self.store
            .record_workflow_execution(&NewWorkflowExecution {
                execution_id: execution_id.clone(),
                workflow_name: name.to_string(),
                target_date,
                execution_time: started_at,
                finished_at,
                status,
                scrapers_requested: calls.len() as u32,
                scrapers_succeeded: counts.succeeded,
                // The table's columns predate late data and lockouts:
                // overdue is a failure, not_yet_available a kind of
                // no_data, a lockout a kind of skip (the calls' own rows
                // carry the precise status and kind).
                scrapers_failed: counts.failed + counts.overdue,
                scrapers_no_data: counts.no_data + counts.not_yet_available,
                scrapers_skipped: counts.skipped + counts.locked_out,
                error_message: error_message.clone(),
                duration_ms,
                params: run_params,
            })
            .await?;
        tracing::info!(
            workflow = name,
            %execution_id,
            status = status.as_str(),
            failed = counts.failed,
            skipped = counts.skipped,
            "Workflow run finished."
        );
        Ok(RunReport {
            execution_id,
            workflow: name.to_string(),
            target_date,
            status,
            counts,
            error_message,
            started_at,
            duration_ms,
            calls,
            fanout,
            retry_at,
            recheck_at,
            recheck_entities,
        })
    }

    /// What each of the workflow's variants not valid on `date` does: not
    /// run (`None`: another variant of its dataset is valid, or it is not
    /// the first listed of a dataset none of whose variants is), or one
    /// skipped row of kind `not_valid` with this message. Scrapers valid
    /// on the date (all those without `valid_from` / `valid_until`) are
    /// not in the map.
    fn variants_on(
        &self,
        workflow: &rebound_domain::plan::Workflow,
        date: NaiveDate,
    ) -> std::collections::HashMap<&str, Option<String>> {
        let listed: Vec<&rebound_domain::plan::Scraper> = workflow
            .scraper_names()
            .filter_map(|name| self.plan.scrapers.get(name))
            .collect();
        let mut fates = std::collections::HashMap::new();
        for (n, scraper) in listed.iter().enumerate() {
            if scraper.valid.contains(date) {
                continue;
            }
            let group: Vec<&&rebound_domain::plan::Scraper> = listed
                .iter()
                .filter(|s| s.dataset == scraper.dataset)
                .collect();
            let first = listed
                .iter()
                .position(|s| s.dataset == scraper.dataset)
                .is_some_and(|first| first == n);
            let fate = if group.iter().any(|s| s.valid.contains(date)) || !first {
                None
            } else if let [only] = group.as_slice() {
                Some(format!(
                    "not run: {} is valid {}, not on {date}",
                    only.name,
                    only.valid.describe()
                ))
            } else {
                let ranges: Vec<String> = group
                    .iter()
                    .map(|s| format!("{} {}", s.name, s.valid.describe()))
                    .collect();
                Some(format!(
                    "not run: no variant of dataset {} is valid on {date} ({})",
                    scraper.dataset,
                    ranges.join(", ")
                ))
            };
            fates.insert(scraper.name.as_str(), fate);
        }
        fates
    }

    /// The item values of the `not_yet_available` calls, when all of them
    /// are calendar fan-out calls (the only fan-out a run can narrow).
    fn recheck_entities(&self, calls: &[CallReport]) -> Option<Vec<String>> {
        let mut entities: Vec<String> = Vec::new();
        for call in calls.iter().filter(|c| c.recheck_at.is_some()) {
            let scraper = self.plan.scrapers.get(&call.scraper)?;
            let Some(rebound_domain::plan::ForEach::Calendar { param, .. }) = &scraper.for_each
            else {
                return None;
            };
            let value = call.params.get(param)?;
            if !entities.contains(value) {
                entities.push(value.clone());
            }
        }
        (!entities.is_empty()).then_some(entities)
    }

    /// `scraper`, or `scraper (param=value)` for a call of a fan-out.
    fn call_label(&self, call: &CallReport) -> String {
        let item = self
            .plan
            .scrapers
            .get(&call.scraper)
            .and_then(|s| s.for_each.as_ref())
            .and_then(|f| call.params.get_key_value(f.param()));
        match item {
            Some((param, value)) => format!("{} ({param}={value})", call.scraper),
            None => call.scraper.clone(),
        }
    }
}

/// The calls of an execution's rows that ended in `success` or `no_data`,
/// by what identifies a call (scraper, stored params, target date).
fn completed_calls(rows: &[ScraperCallRow]) -> Completed {
    let mut completed = Completed::new();
    for row in rows {
        let status = ScraperStatus::parse(&row.status);
        if !matches!(status, Some(ScraperStatus::Success | ScraperStatus::NoData)) {
            continue;
        }
        let Some(report) = CallReport::from_row(row) else {
            continue;
        };
        completed.insert(
            (
                row.scraper_name.clone(),
                row.params.clone(),
                row.target_date,
            ),
            report,
        );
    }
    completed
}

/// Renews the run row's heartbeat every third of the lease, on real time
/// (like a scheduled run's lease: it is about whether this process lives).
fn spawn_heartbeat(
    store: Arc<dyn Store>,
    clock: Arc<dyn rebound_domain::clock::Clock>,
    execution_id: String,
    owner: String,
    lease: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (lease / 3).max(std::time::Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let until = add_saturating(clock.now(), lease);
            match store
                .renew_workflow_execution(&execution_id, &owner, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%execution_id, "The run row is no longer held by this process; stopping its heartbeat.");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%execution_id, %error, "Could not renew the run's heartbeat; trying again.")
                }
            }
        }
    })
}

/// Stops the heartbeat task when the run ends, however it ends.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a scraper was not run: `not run: events failed`. The dependency's
/// own row (and the run's `error_message`, which joins every row's) says
/// why it failed; repeating that here put each cause in the run's message
/// once per dependent, and an upstream's whole answer with it. A
/// dependency held by its breaker says so, since the dependent is held
/// too (kind `breaker_open`) rather than failed.
fn skip_message(dep: &str, dep_status: ScraperStatus, held: bool) -> String {
    match (held, dep_status) {
        (true, _) => format!("not run: {dep} was skipped (circuit breaker open)"),
        (false, ScraperStatus::Skipped) => format!("not run: {dep} was skipped"),
        (false, _) => format!("not run: {dep} failed"),
    }
}

/// How a scraper ended, as its dependents see it. A single call is itself;
/// a fan-out failed when any of its calls failed (dependents need all its
/// data), else succeeded when any call did, else had no data.
fn scraper_outcome(reports: &[CallReport]) -> (ScraperStatus, Option<String>) {
    if let [only] = reports {
        return (only.status, only.message.clone());
    }
    let failed: Vec<&CallReport> = reports.iter().filter(|r| r.is_failure()).collect();
    if let Some(first) = failed.first() {
        let item: Vec<String> = first
            .params
            .iter()
            .filter(|(k, _)| !rebound_domain::template::BUILTIN_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let message = format!(
            "{} of {} failed; first {}: {}",
            failed.len(),
            plural(reports.len() as u64, "call", "calls"),
            item.join(", "),
            first.message.as_deref().unwrap_or("failed")
        );
        return (ScraperStatus::Failed, Some(message));
    }
    if reports.iter().any(|r| r.status == ScraperStatus::Success) {
        (ScraperStatus::Success, None)
    } else {
        (ScraperStatus::NoData, None)
    }
}
