//! `rebound plan --date D [--calendar NAME=FILE] [--json]`: a dry run of a
//! whole day of scheduling, assuming every run it starts succeeds with data.
//! A run a schedule would retry if it failed (`retry_every`, `retry_max`)
//! says when, as a condition: "if the window run fails: retry at …".

use crate::cmd::run::parse_date;
use crate::output::{self, plural, when};
use crate::{Failure, setup};
use anyhow::{Context, anyhow};
use chrono::{NaiveDate, Utc};
use clap::Args;
use rebound_domain::calendar::Event;
use rebound_schedule::PlannedDecision;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The largest `--calendar` file read.
const MAX_CALENDAR_BYTES: u64 = 256 << 20;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The day to plan (YYYY-MM-DD, in the pipeline's zone).
    #[arg(long, value_parser = parse_date)]
    pub date: NaiveDate,
    /// Read a calendar from a JSON file (shaped like its dataset's payload)
    /// instead of the database; repeatable.
    #[arg(long = "calendar", value_name = "NAME=FILE", value_parser = parse_calendar_arg)]
    pub calendars: Vec<(String, PathBuf)>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_calendar_arg(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_string(), PathBuf::from(file)))
        }
        _ => Err(format!(
            "expected NAME=FILE, e.g. nba_games=schedule.json, found \"{text}\""
        )),
    }
}

pub async fn plan(config: &Path, args: PlanArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    // A date the zone skips whole has no local time to run anything at:
    // say so, rather than print "0 decisions" as if nothing were due.
    let tz = plan.pipeline.timezone;
    if rebound_domain::calendar::skips_whole(tz, args.date) {
        return Err(Failure::Usage(anyhow!(
            "--date {}: that date does not exist in {}: its clocks skip it whole",
            args.date,
            tz.name()
        )));
    }
    // Two files for one calendar: which one was meant cannot be guessed
    // (the last used to win, silently).
    for (i, (name, file)) in args.calendars.iter().enumerate() {
        if let Some((_, first)) = args.calendars[..i].iter().find(|(n, _)| n == name) {
            return Err(Failure::Usage(anyhow!(
                "--calendar {}: given twice ({} and {}); give each calendar once",
                output::printable(name),
                output::printable(&first.display().to_string()),
                output::printable(&file.display().to_string())
            )));
        }
    }
    let mut calendars: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for (name, file) in &args.calendars {
        let Some(calendar) = plan.calendars.get(name) else {
            let defined: Vec<&str> = plan.calendars.keys().map(String::as_str).collect();
            return Err(Failure::Usage(anyhow!(
                "--calendar {}: no such calendar; defined calendars: {}",
                output::printable(name),
                if defined.is_empty() {
                    "(none)".to_string()
                } else {
                    defined.join(", ")
                }
            )));
        };
        // A calendar is one stored payload: bounded as payloads are, so
        // a device given by mistake cannot fill the memory.
        let bytes = rebound_config::read_at_most(file, MAX_CALENDAR_BYTES)
            .with_context(|| format!("--calendar {name}: cannot read {}", file.display()))
            .map_err(Failure::Usage)?
            .ok_or_else(|| {
                Failure::Usage(anyhow!(
                    "--calendar {name}: {} is larger than {} MiB",
                    file.display(),
                    MAX_CALENDAR_BYTES >> 20
                ))
            })?;
        // Read as payloads are (a byte-order mark, numbers beyond f64).
        let value: serde_json::Value = rebound_fetch::classify::payload_json(&bytes)
            .with_context(|| format!("--calendar {name}: {} is not JSON", file.display()))
            .map_err(Failure::Usage)?;
        // A file of another shape (`{}`, a list of other objects) selected
        // no events and planned as a day without games.
        if let Some(why) = rebound_engine::calendar::shape_mismatch(&value, &calendar.events) {
            return Err(Failure::Usage(anyhow!(
                "--calendar {name}: {} is not shaped like the payload of dataset {}: {why}",
                file.display(),
                calendar.dataset
            )));
        }
        let events = rebound_engine::calendar::extract_events(&value, calendar)
            .map_err(|e| Failure::Usage(anyhow!("--calendar {name}: {}: {e}", file.display())))?;
        calendars.insert(name.clone(), events);
    }
    // Calendars not given as files come from the database.
    let needed: BTreeSet<String> = plan
        .workflows
        .values()
        .filter_map(|w| w.schedule.as_ref()?.calendar.clone())
        .filter(|c| !calendars.contains_key(c))
        .collect();
    let plan = if needed.is_empty() {
        plan
    } else {
        let engine = setup::engine(plan).await?;
        for name in needed {
            match engine.calendar_events(&name).await {
                Ok(Some(data)) => {
                    calendars.insert(name, data.events);
                }
                Ok(None) => {
                    eprintln!(
                        "note: calendar {name} has no stored payload; planning as if it had no events (pass --calendar {name}=FILE to use a file)"
                    );
                    calendars.insert(name, Vec::new());
                }
                // The engine's own words name the calendar ("calendar
                // games: calendar games: payload …" before); a store's
                // failure does not.
                Err(
                    error @ (rebound_engine::EngineError::CalendarUnreadable { .. }
                    | rebound_engine::EngineError::UnknownCalendar { .. }),
                ) => return Err(Failure::Runtime(anyhow!(error))),
                Err(error) => return Err(Failure::Runtime(anyhow!("calendar {name}: {error}"))),
            }
        }
        engine.plan().clone()
    };
    let decisions = rebound_schedule::simulate_day(&plan, args.date, &calendars)
        .map_err(|e| Failure::Runtime(anyhow!("planning {}: {e}", args.date)))?;
    // An empty table and "0 decisions" read as a quiet day; with no
    // schedule in the config, every day is empty, and the reason is the
    // config, not the date.
    let unscheduled = plan.workflows.values().all(|w| w.schedule.is_none());
    let no_schedule = format!(
        "no workflow in this config has a schedule, so `rebound serve` makes no decisions on {} or any day; give one a `schedule` (docs/scheduling.md), or run it by hand with `rebound run WORKFLOW`",
        args.date
    );
    if args.json {
        // The decisions `GET /api/v1/plan` answers, keys in the order
        // this command always printed them.
        let rows: Vec<serde_json::Value> = decisions
            .iter()
            .map(|d| {
                serde_json::to_value(rebound_service::api::types::PlannedDecisionView::from(d))
            })
            .collect::<Result<_, _>>()?;
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        if unscheduled {
            eprintln!("note: {no_schedule}");
        }
    } else if unscheduled {
        println!("{}", capitalized(&no_schedule));
    } else {
        println!("{}", table(&decisions, plan.pipeline.timezone));
        let runs = decisions
            .iter()
            .filter(|d| d.action.as_str() == "RUN")
            .count();
        println!(
            "{} on {}, {}",
            plural(decisions.len() as u64, "decision", "decisions"),
            args.date,
            plural(runs as u64, "run", "runs")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` with its first letter upper-case: the same sentence as a line of
/// its own rather than after "note: ".
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The reason, and for a run that would be retried if it failed, when:
/// "…; if the window run fails: retry at 07:00, 08:00, 09:00". The dry
/// run assumes success, so retries are conditional, never rows.
fn reason_text(d: &PlannedDecision) -> String {
    if d.retries_if_failed.is_empty() {
        return d.reason.clone();
    }
    let times: Vec<String> = d
        .retries_if_failed
        .iter()
        .map(|at| at.format("%H:%M").to_string())
        .collect();
    format!(
        "{}; if the {} run fails: retry at {}",
        d.reason,
        d.slot,
        times.join(", ")
    )
}

fn table(decisions: &[PlannedDecision], tz: chrono_tz::Tz) -> String {
    let mut table = crate::output::table(&[
        "time",
        "workflow",
        "action",
        "target date",
        "entities",
        "reason",
    ]);
    for d in decisions {
        let entities = match d.entities.len() {
            0 => String::new(),
            n if n <= 3 => d.entities.join(", "),
            n => format!("{} … ({n})", d.entities[..2].join(", ")),
        };
        table.add_row([
            when(d.at.with_timezone(&Utc), tz),
            d.workflow.clone(),
            d.action.as_str().to_string(),
            d.target_date.to_string(),
            entities,
            reason_text(d),
        ]);
    }
    table.to_string()
}
