//! `rebound backfill WORKFLOW --from D --to D`: a workflow for each date.

use crate::cmd::run::{
    ParamsFor, check_known_params, check_slot_used, params_map, parse_date, parse_param,
    refuse_unknown_target,
};
use crate::{Failure, setup};
use chrono::NaiveDate;
use clap::Args;
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_service::backfill::{BackfillError, BackfillStep, backfill, dates};
use serde_json::json;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The workflow to run.
    pub workflow: String,
    /// First target date (YYYY-MM-DD), inclusive.
    #[arg(long, value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last target date (YYYY-MM-DD), inclusive.
    #[arg(long, value_parser = parse_date)]
    pub to: NaiveDate,
    /// A parameter for the scrapers' `{name}` templates; repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The slot's local time (HH:MM, 24-hour) for every date: supplies
    /// {slot_hour}, {slot_hour12}, {slot_ampm} and {slot_minute}.
    #[arg(long, value_name = "HH:MM", value_parser = rebound_domain::params::parse_slot)]
    pub slot: Option<chrono::NaiveTime>,
    /// Print JSON (one object per date) instead of lines.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: &Path, args: BackfillArgs) -> Result<ExitCode, Failure> {
    refuse_unknown_target(config, ParamsFor::Workflow(&args.workflow))?;
    let plan = setup::load_plan(config)?;
    let params = params_map(&args.params)?;
    check_known_params(&plan, ParamsFor::Workflow(&args.workflow), &params)?;
    check_slot_used(&plan, ParamsFor::Workflow(&args.workflow), args.slot)?;
    let total = dates(args.from, args.to)
        .map_err(|e| Failure::Usage(e.into()))?
        .len();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = setup::engine_with_clock(setup::sleep_retries_inline(plan), clock.clone()).await?;

    // A bar on a terminal; plain lines otherwise, so logs and CI stay readable.
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} dates  {elapsed_precise} (eta {eta})  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut done = 0usize;
    let result = backfill(
        &engine,
        &clock,
        &args.workflow,
        args.from,
        args.to,
        &params,
        args.slot,
        &rebound_service::instance_name(&setup::host_name(), "backfill"),
        |step| {
            done += 1;
            let line = describe(step);
            match &bar {
                Some(bar) => {
                    bar.set_message(line.clone());
                    bar.inc(1);
                    if !step.ok() {
                        bar.println(line);
                    }
                }
                None if !args.json => println!("[{done}/{total}] {line}"),
                None => {}
            }
        },
    )
    .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    crate::cmd::events::publish_at_end(&engine).await;
    let steps = match result {
        Ok(steps) => steps,
        Err(BackfillError::Engine(error)) if error.is_usage() => {
            return Err(Failure::Usage(error.into()));
        }
        Err(error) => return Err(Failure::Runtime(error.into())),
    };
    let failed = steps.iter().filter(|s| !s.ok()).count();
    if args.json {
        let rows: Vec<_> = steps.iter().map(step_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        let count = |kind: fn(&BackfillStep) -> bool| steps.iter().filter(|s| kind(s)).count();
        let skipped = count(|s| matches!(s, BackfillStep::Skipped { .. }));
        let running = count(|s| matches!(s, BackfillStep::Running { .. }));
        let no_day = count(|s| matches!(s, BackfillStep::NoSuchDay { .. }));
        let mut also = String::new();
        if running > 0 {
            also.push_str(&format!(", {running} running in another process"));
        }
        if no_day > 0 {
            also.push_str(&format!(", {no_day} not a day in the pipeline's zone"));
        }
        println!(
            "backfill {}: {}, {} ran, {} already done{also}, {} not ok",
            args.workflow,
            crate::output::plural(steps.len() as u64, "date", "dates"),
            steps.len() - skipped - running - no_day,
            skipped,
            failed
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn describe(step: &BackfillStep) -> String {
    match step {
        BackfillStep::Skipped {
            date,
            execution_id,
            status,
        } => format!("{date}: already done ({status}, execution {execution_id})"),
        BackfillStep::Running { date, execution_id } => {
            format!("{date}: running in another process (execution {execution_id}); not run again")
        }
        BackfillStep::NoSuchDay { date, zone } => {
            format!("{date}: does not exist in {zone} (its clocks skip it whole); nothing to run")
        }
        BackfillStep::Ran {
            date,
            status,
            error_message,
            ..
        } => match error_message {
            Some(message) => format!("{date}: {status}: {message}"),
            None => format!("{date}: {status}"),
        },
    }
}

fn step_json(step: &BackfillStep) -> serde_json::Value {
    match step {
        BackfillStep::Skipped {
            date,
            execution_id,
            status,
        } => {
            json!({"target_date": date.to_string(), "action": "skipped", "execution_id": execution_id, "status": status})
        }
        BackfillStep::Running { date, execution_id } => {
            json!({"target_date": date.to_string(), "action": "skipped", "execution_id": execution_id, "status": "running"})
        }
        BackfillStep::NoSuchDay { date, zone } => {
            json!({"target_date": date.to_string(), "action": "skipped", "execution_id": null, "status": null, "reason": format!("does not exist in {zone}")})
        }
        BackfillStep::Ran {
            date,
            execution_id,
            status,
            error_message,
        } => {
            json!({"target_date": date.to_string(), "action": "ran", "execution_id": execution_id, "status": status, "error_message": error_message})
        }
    }
}
