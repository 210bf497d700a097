//! `rebound backfill`: a workflow for each target date of a range.
//!
//! Idempotent on rerun: a date that already has a run of this workflow that
//! ended `success` or `no_data` is skipped, saying which run; failed and
//! partial dates run again. Every date gets a decision row (slot
//! `backfill`) so the audit trail shows why it ran or did not.

use chrono::NaiveDate;
use rebound_domain::clock::Clock;
use rebound_domain::handoff::Trigger;
use rebound_engine::{Engine, EngineError, RunOptions};
use rebound_storage::{AlertLevel, DateClaim, DecisionAction, NewDecision, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What happened to one date.
#[derive(Debug, Clone, PartialEq)]
pub enum BackfillStep {
    /// Already collected by an earlier run.
    Skipped {
        date: NaiveDate,
        execution_id: String,
        status: String,
    },
    /// Running in another process (an overlapping backfill, `serve`): not
    /// run again (found by the date's claim, `Engine::claim_date`).
    Running {
        date: NaiveDate,
        execution_id: String,
    },
    /// A date the pipeline's zone skips whole: nothing runs on it.
    NoSuchDay { date: NaiveDate, zone: String },
    /// Ran now.
    Ran {
        date: NaiveDate,
        execution_id: String,
        status: String,
        error_message: Option<String>,
    },
}

impl BackfillStep {
    pub fn date(&self) -> NaiveDate {
        match self {
            BackfillStep::Skipped { date, .. }
            | BackfillStep::Running { date, .. }
            | BackfillStep::NoSuchDay { date, .. }
            | BackfillStep::Ran { date, .. } => *date,
        }
    }

    /// True when the date ended without a failure.
    pub fn ok(&self) -> bool {
        match self {
            BackfillStep::Skipped { .. }
            | BackfillStep::Running { .. }
            | BackfillStep::NoSuchDay { .. } => true,
            BackfillStep::Ran { status, .. } => status == "success" || status == "no_data",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("--from {from} is after --to {to}")]
    EmptyRange { from: NaiveDate, to: NaiveDate },
    /// More dates than [`MAX_BACKFILL_DAYS`]: `--from 0001-01-01` started
    /// 766,644 runs one after the other, with no way to see it coming.
    #[error(
        "--from {from} --to {to} is {days} dates; a backfill covers at most {MAX_BACKFILL_DAYS} (ten years, the longest look-back of Rebound's reports): split it into backfills of at most that many dates, e.g. --from {from} --to {first_end}, then --from {next_start} onwards"
    )]
    TooLong {
        from: NaiveDate,
        to: NaiveDate,
        days: i64,
        first_end: NaiveDate,
        next_start: NaiveDate,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The most dates one backfill runs: ten years and their leap days,
/// as far back as `health --since` and the API's look-back reach (3,650
/// days). Each date is a run (and its calls, one after the other), so a
/// mistyped year (`0001-01-01`) would otherwise start hundreds of
/// thousands of them; a longer history is backfilled in parts.
pub const MAX_BACKFILL_DAYS: i64 = 3_660;

/// The dates of `from..=to`, or an error when the range is empty or longer
/// than [`MAX_BACKFILL_DAYS`].
pub fn dates(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>, BackfillError> {
    if from > to {
        return Err(BackfillError::EmptyRange { from, to });
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_BACKFILL_DAYS {
        // Both fall within `from..=to`, so neither can overflow.
        let first_end = from
            .checked_add_days(chrono::Days::new(MAX_BACKFILL_DAYS as u64 - 1))
            .unwrap_or(to);
        return Err(BackfillError::TooLong {
            from,
            to,
            days,
            first_end,
            next_start: first_end.succ_opt().unwrap_or(to),
        });
    }
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
}

/// Runs `workflow` for each date in order, calling `progress` after each;
/// `slot` (`--slot HH:MM`) supplies the slot parameters to every date.
#[allow(clippy::too_many_arguments)] // one call site (the CLI); a struct would only rename them
pub async fn backfill(
    engine: &Engine,
    clock: &Arc<dyn Clock>,
    workflow: &str,
    from: NaiveDate,
    to: NaiveDate,
    params: &BTreeMap<String, String>,
    slot: Option<chrono::NaiveTime>,
    instance: &str,
    mut progress: impl FnMut(&BackfillStep),
) -> Result<Vec<BackfillStep>, BackfillError> {
    let all = dates(from, to)?;
    if !engine.plan().workflows.contains_key(workflow) {
        // Let the engine produce its usual "unknown workflow" error.
        engine
            .run_workflow_with(workflow, from, params, &RunOptions::default())
            .await?;
    }
    let tz = engine.plan().pipeline.timezone;
    let mut steps = Vec::with_capacity(all.len());
    for date in all {
        let now = clock.now();
        // The date's execution once claimed, or the step of a date not to
        // run with the reason its SKIP decision gives.
        let next = if rebound_domain::calendar::skips_whole(tz, date) {
            let zone = tz.name().to_string();
            let reason =
                format!("backfill: {date} does not exist in {zone} (its clocks skip it whole)");
            Err((BackfillStep::NoSuchDay { date, zone }, reason))
        } else {
            // The check and the run's row are one write (a claim), so two
            // backfills started at the same instant cannot both find the
            // date free. The runs of processes that exited were closed when
            // this command opened the history, so a run still `running` is
            // another live process's.
            let execution_id = uuid::Uuid::now_v7().to_string();
            match engine
                .claim_date(workflow, date, params, slot, &execution_id)
                .await?
            {
                DateClaim::Claimed => Ok(execution_id),
                DateClaim::Collected {
                    execution_id,
                    status,
                } => Err((
                    BackfillStep::Skipped {
                        date,
                        execution_id: execution_id.clone(),
                        status: status.clone(),
                    },
                    format!("backfill: already collected by execution {execution_id} ({status})"),
                )),
                DateClaim::Running { execution_id } => Err((
                    BackfillStep::Running {
                        date,
                        execution_id: execution_id.clone(),
                    },
                    format!("backfill: running in another process (execution {execution_id})"),
                )),
            }
        };
        let step = match next {
            Err((step, reason)) => {
                record(
                    engine,
                    workflow,
                    date,
                    now,
                    DecisionAction::Skip,
                    reason,
                    None,
                    instance,
                )
                .await?;
                step
            }
            Ok(execution_id) => {
                // A history error from here on leaves the claimed row
                // `running` under this process, which then exits: the next
                // command to open the history closes it ("process exited
                // during the run"), as any run cut short is.
                record(
                    engine,
                    workflow,
                    date,
                    now,
                    DecisionAction::Run,
                    "backfill: no successful run for this date yet".into(),
                    Some(execution_id.clone()),
                    instance,
                )
                .await?;
                let options = RunOptions {
                    execution_id: Some(execution_id.clone()),
                    entities: None,
                    slot,
                    trigger: Trigger::Backfill,
                };
                let report = engine
                    .run_workflow_with(workflow, date, params, &options)
                    .await?;
                BackfillStep::Ran {
                    date,
                    execution_id,
                    status: report.status.as_str().to_string(),
                    error_message: report.error_message,
                }
            }
        };
        progress(&step);
        steps.push(step);
    }
    Ok(steps)
}

#[allow(clippy::too_many_arguments)]
async fn record(
    engine: &Engine,
    workflow: &str,
    date: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
    action: DecisionAction,
    reason: String,
    execution_id: Option<String>,
    instance: &str,
) -> Result<(), StoreError> {
    let decision = NewDecision {
        decision_id: uuid::Uuid::now_v7().to_string(),
        workflow_name: workflow.to_string(),
        decided_at: now,
        slot: "backfill".into(),
        target_date: date,
        action,
        reason,
        entities: "[]".into(),
        alert_level: AlertLevel::None,
        execution_id,
        decided_by: instance.to_string(),
    };
    engine.store().record_decision(&decision, None).await?;
    Ok(())
}
