//! `rebound run WORKFLOW` and `rebound scrape SCRAPER`.

use crate::{Failure, output, setup};
use anyhow::anyhow;
use chrono::NaiveDate;
use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

/// Arguments shared by `run` and `scrape`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Target date (YYYY-MM-DD) in the pipeline's zone; default: today there.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// A parameter for the scrapers' `{name}` templates; repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The slot's local time (HH:MM, 24-hour), as a scheduled run of that
    /// slot would have it: supplies {slot_hour}, {slot_hour12}, {slot_ampm}
    /// and {slot_minute}.
    #[arg(long, value_name = "HH:MM", value_parser = rebound_domain::params::parse_slot)]
    pub slot: Option<chrono::NaiveTime>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow to run.
    pub workflow: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct ScrapeArgs {
    /// The scraper to run.
    pub scraper: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// A date as exactly `YYYY-MM-DD`. chrono's `%Y-%m-%d` also takes
/// `2026-1-1` and `+2026-01-01`, which a script's typo should not pass as.
pub(crate) fn parse_date(text: &str) -> Result<NaiveDate, String> {
    if !rebound_domain::calendar::is_date_shaped(text) {
        return Err(format!(
            "expected a date as YYYY-MM-DD, e.g. 2026-11-28, found \"{text}\""
        ));
    }
    // Shaped right but not a day of the calendar: said so, rather than
    // that the shape was wrong.
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text} is not a day of the calendar (no such month or day)"))?;
    rebound_domain::calendar::within_zone_rules(date).map_err(|why| format!("{text}: {why}"))
}

pub(crate) fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!(
            "expected NAME=VALUE, e.g. game_id=0022600301, found \"{text}\""
        )),
    }
}

pub(crate) fn params_map(pairs: &[(String, String)]) -> Result<BTreeMap<String, String>, Failure> {
    let mut map = BTreeMap::new();
    for (name, value) in pairs {
        if map.insert(name.clone(), value.clone()).is_some() {
            return Err(Failure::Usage(anyhow!(
                "--param {name} is given more than once"
            )));
        }
    }
    Ok(map)
}

pub(crate) use rebound_domain::plan::ParamsFor;

/// Refuses a `--param` that no template of the target uses
/// (`Plan::unknown_param`).
pub(crate) fn check_known_params(
    plan: &rebound_domain::plan::Plan,
    target: ParamsFor<'_>,
    params: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    match plan.unknown_param(target, params) {
        None => Ok(()),
        Some(why) => Err(Failure::Usage(anyhow!(why))),
    }
}

/// Refuses a `--slot` that no template of the target uses: it supplies
/// only `{slot_hour}`, `{slot_hour12}`, `{slot_ampm}` and `{slot_minute}`,
/// so given to a target without them it changed nothing, silently, where
/// an unused `--param` is refused. An unknown target is left to the
/// engine, which names the ones the config defines.
pub(crate) fn check_slot_used(
    plan: &rebound_domain::plan::Plan,
    target: ParamsFor<'_>,
    slot: Option<chrono::NaiveTime>,
) -> Result<(), Failure> {
    use rebound_domain::params::SLOT_PARAMS;
    let Some(slot) = slot else { return Ok(()) };
    let (kind, name, scrapers): (&str, &str, Vec<&str>) = match target {
        ParamsFor::Workflow(name) => match plan.workflows.get(name) {
            Some(workflow) => ("workflow", name, workflow.scraper_names().collect()),
            None => return Ok(()),
        },
        ParamsFor::Scraper(name) => ("scraper", name, vec![name]),
    };
    let uses_slot = scrapers.iter().any(|scraper| {
        let Some(scraper) = plan.scrapers.get(*scraper) else {
            return true;
        };
        plan.sources.get(&scraper.source).is_none_or(|source| {
            scraper
                .required_params(source)
                .iter()
                .any(|p| SLOT_PARAMS.contains(&p.as_str()))
        })
    });
    if uses_slot {
        return Ok(());
    }
    let names: Vec<String> = SLOT_PARAMS.iter().map(|p| format!("{{{p}}}")).collect();
    Err(Failure::Usage(anyhow!(
        "--slot {}: {kind} {} uses none of {}, which is all --slot supplies; leave --slot out",
        slot.format("%H:%M"),
        output::quoted(name),
        names.join(", ")
    )))
}

/// Refuses a workflow or scraper name the config does not define, with the
/// engine's own message, from the config loaded without the sources'
/// secrets: a typo in the name was reported as every unset `${VAR}` of the
/// config (seven for the reference pipeline), and only once they were all
/// exported as "unknown workflow". Called before [`setup::load_plan`].
pub(crate) fn refuse_unknown_target(config: &Path, target: ParamsFor<'_>) -> Result<(), Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    let error = match target {
        ParamsFor::Workflow(name) if !plan.workflows.contains_key(name) => {
            rebound_engine::EngineError::UnknownWorkflow {
                name: name.to_string(),
                available: rebound_engine::names(plan.workflows.keys()),
            }
        }
        ParamsFor::Scraper(name) if !plan.scrapers.contains_key(name) => {
            rebound_engine::EngineError::UnknownScraper {
                name: name.to_string(),
                available: rebound_engine::names(plan.scrapers.keys()),
            }
        }
        _ => return Ok(()),
    };
    Err(Failure::Usage(error.into()))
}

fn engine_error(error: rebound_engine::EngineError) -> Failure {
    if error.is_usage() {
        Failure::Usage(error.into())
    } else {
        Failure::Runtime(error.into())
    }
}

pub async fn run_workflow(config: &Path, args: RunArgs) -> Result<ExitCode, Failure> {
    let params = params_map(&args.target.params)?;
    refuse_unknown_target(config, ParamsFor::Workflow(&args.workflow))?;
    let plan = setup::load_plan(config)?;
    check_known_params(&plan, ParamsFor::Workflow(&args.workflow), &params)?;
    check_slot_used(&plan, ParamsFor::Workflow(&args.workflow), args.target.slot)?;
    let engine = setup::engine(setup::sleep_retries_inline(plan)).await?;
    let date = args.target.date.unwrap_or_else(|| engine.today());
    let options = rebound_engine::RunOptions {
        slot: args.target.slot,
        ..Default::default()
    };
    let report = engine
        .run_workflow_with(&args.workflow, date, &params, &options)
        .await
        .map_err(engine_error)?;
    if args.target.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output::run_json(&report))?
        );
    } else {
        print!(
            "{}",
            output::run_table_in(&report, engine.plan().pipeline.timezone)
        );
    }
    // After the report, so a person sees it while the events go out.
    crate::cmd::events::publish_at_end(&engine).await;
    Ok(if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn run_scraper(config: &Path, args: ScrapeArgs) -> Result<ExitCode, Failure> {
    let params = params_map(&args.target.params)?;
    refuse_unknown_target(config, ParamsFor::Scraper(&args.scraper))?;
    let plan = setup::load_plan(config)?;
    check_known_params(&plan, ParamsFor::Scraper(&args.scraper), &params)?;
    check_slot_used(&plan, ParamsFor::Scraper(&args.scraper), args.target.slot)?;
    let engine = setup::engine(setup::sleep_retries_inline(plan)).await?;
    let date = args.target.date.unwrap_or_else(|| engine.today());
    let report = engine
        .run_scraper_at(&args.scraper, date, &params, args.target.slot)
        .await
        .map_err(engine_error)?;
    if args.target.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output::call_json(&report))?
        );
    } else {
        print!("{}", output::calls_table(std::slice::from_ref(&report)));
    }
    crate::cmd::events::publish_at_end(&engine).await;
    // A call an open breaker refused is no failure of the scraper, but
    // nothing was collected: like a run of refused calls, not an exit 0.
    let refused = report.error_kind == Some(rebound_domain::outcome::ErrorKind::BreakerOpen);
    Ok(if report.is_failure() || refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::parse_date;
    use chrono::NaiveDate;

    #[test]
    fn a_date_is_exactly_yyyy_mm_dd() {
        assert_eq!(
            parse_date("2026-01-01"),
            Ok(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        );
        // chrono alone took each of these as a date.
        for bad in [
            "2026-1-1",
            "+2026-01-01",
            "2026-01-1",
            " 2026-01-01",
            "20260101",
            "2026/01/01",
            "२०२६-०१-०१",
        ] {
            let error = parse_date(bad).unwrap_err();
            assert!(
                error.contains("YYYY-MM-DD") && error.contains(bad),
                "{bad}: {error}"
            );
        }
    }

    /// Before: accepted, and a plan for 2100 stayed on standard time all
    /// year (and cron found no slot at all from about 5000 on).
    #[test]
    fn a_date_past_the_zone_rules_is_refused() {
        assert!(parse_date("2099-12-31").is_ok());
        assert_eq!(
            parse_date("2100-03-14").unwrap_err(),
            "2100-03-14: after 2099-12-31, where the time-zone rules Rebound knows end (local times would be wrong)"
        );
        // Before: "expected a date as YYYY-MM-DD" of a date in that shape.
        assert_eq!(
            parse_date("2026-02-29").unwrap_err(),
            "2026-02-29 is not a day of the calendar (no such month or day)"
        );
        // Before: year 0 was accepted; `plan` found no slot in it.
        assert!(parse_date("0001-01-01").is_ok());
        assert_eq!(
            parse_date("0000-12-31").unwrap_err(),
            "0000-12-31: before 0001-01-01: expected a date from 0001-01-01 to 2099-12-31"
        );
    }
}
