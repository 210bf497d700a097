//! One workflow run: steps in order, the scrapers of a step concurrently,
//! dependencies honoured, one `workflow_executions` row at the end.

use crate::call::{CallReport, RunContext, params_to_json, used_params};
use crate::{Engine, EngineError, names};
use chrono::{DateTime, NaiveDate, Utc};
use futures::future::join_all;
use rebound_domain::message::aggregate_errors;
use rebound_domain::outcome::{ErrorKind, ScraperStatus, StatusCounts, WorkflowStatus};
use rebound_storage::{NewScraperCall, NewWorkflowExecution};
use std::collections::{BTreeMap, HashMap};

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
    /// Every call, in step order.
    pub calls: Vec<CallReport>,
}

impl RunReport {
    /// True when nothing failed or was skipped.
    pub fn all_ok(&self) -> bool {
        self.counts.failed == 0 && self.counts.skipped == 0
    }
}

impl Engine {
    /// Runs a workflow once for `target_date`.
    pub async fn run_workflow(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
    ) -> Result<RunReport, EngineError> {
        let Some(workflow) = self.plan.workflows.get(name) else {
            return Err(EngineError::UnknownWorkflow {
                name: name.to_string(),
                available: names(self.plan.workflows.keys()),
            });
        };
        let params = self.full_params(target_date, user_params)?;
        let scraper_names: Vec<&str> = workflow.scraper_names().collect();
        self.check_params(&scraper_names, &params)?;

        let execution_id = uuid::Uuid::now_v7().to_string();
        let started_at = self.clock.now();
        let run = RunContext {
            execution_id: &execution_id,
            workflow_name: name,
        };
        tracing::info!(workflow = name, %execution_id, %target_date, "Workflow run started.");

        let mut calls: Vec<CallReport> = Vec::new();
        let mut finished: HashMap<String, (ScraperStatus, Option<String>)> = HashMap::new();
        for step in &workflow.steps {
            // A dependency that failed or was skipped skips the whole step.
            let blocked = step.after.iter().find_map(|dep| match finished.get(dep) {
                Some((status, message)) if status.is_failure() => {
                    Some((dep.clone(), *status, message.clone()))
                }
                _ => None,
            });
            let step_reports: Vec<CallReport> = match blocked {
                Some((dep, dep_status, dep_message)) => {
                    let mut reports = Vec::new();
                    for scraper in &step.scrapers {
                        let report = self
                            .record_skip(
                                scraper,
                                target_date,
                                &params,
                                run,
                                &dep,
                                dep_status,
                                dep_message.as_deref(),
                            )
                            .await?;
                        reports.push(report);
                    }
                    reports
                }
                None => {
                    let futures = step
                        .scrapers
                        .iter()
                        .map(|scraper| self.call(scraper, target_date, &params, Some(run)));
                    join_all(futures)
                        .await
                        .into_iter()
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            for report in step_reports {
                finished.insert(
                    report.scraper.clone(),
                    (report.status, report.message.clone()),
                );
                calls.push(report);
            }
        }

        let mut counts = StatusCounts::default();
        for call in &calls {
            counts.add(call.status);
        }
        let status = WorkflowStatus::from_counts(counts);
        let error_message = aggregate_errors(
            calls
                .iter()
                .filter(|c| c.status.is_failure())
                .map(|c| (c.scraper.as_str(), c.message.as_deref().unwrap_or("failed"))),
        );
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
                scrapers_failed: counts.failed,
                scrapers_no_data: counts.no_data,
                scrapers_skipped: counts.skipped,
                error_message: error_message.clone(),
                duration_ms,
                params: self
                    .plan
                    .redactor
                    .redact_string(&params_to_json(user_params)),
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
        })
    }

    /// Records a scraper that was not attempted because `dep` failed or was skipped.
    #[allow(clippy::too_many_arguments)] // One call site; a struct would only rename the list.
    async fn record_skip(
        &self,
        scraper_name: &str,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
        run: RunContext<'_>,
        dep: &str,
        dep_status: ScraperStatus,
        dep_message: Option<&str>,
    ) -> Result<CallReport, EngineError> {
        let scraper = &self.plan.scrapers[scraper_name];
        let source = &self.plan.sources[&scraper.source];
        let used = used_params(scraper, source, params);
        let verb = if dep_status == ScraperStatus::Skipped {
            "was skipped"
        } else {
            "failed"
        };
        let message = match dep_message {
            Some(why) => format!("not run: dependency {dep} {verb} ({why})"),
            None => format!("not run: dependency {dep} {verb}"),
        };
        let message = rebound_domain::message::truncate_chars(&message, 500);
        let now = self.clock.now();
        let record = NewScraperCall {
            execution_id: Some(run.execution_id.to_string()),
            workflow_name: Some(run.workflow_name.to_string()),
            scraper_name: scraper_name.to_string(),
            source_name: source.name.clone(),
            params: self.plan.redactor.redact_string(&params_to_json(&used)),
            target_date,
            status: ScraperStatus::Skipped,
            attempts: 0,
            http_status: None,
            error_kind: Some(ErrorKind::Dependency),
            error_message: Some(message.clone()),
            started_at: now,
            finished_at: now,
            duration_ms: 0,
            bytes: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
            attempt_rows: Vec::new(),
        };
        let id = self.store.record_scraper_call(&record).await?;
        Ok(CallReport {
            id,
            scraper: scraper_name.to_string(),
            source: source.name.clone(),
            params: used,
            status: ScraperStatus::Skipped,
            attempts: 0,
            http_status: None,
            error_kind: Some(ErrorKind::Dependency),
            message: Some(message),
            duration_ms: 0,
            bytes: None,
            records: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
        })
    }
}
