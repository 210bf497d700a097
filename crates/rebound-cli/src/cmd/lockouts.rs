//! `rebound lockouts`: entities locked out after repeated no_data/failures,
//! counted per scraper; `rebound lockouts reset SCRAPER [ENTITY]` releases them.

use crate::{Failure, output, setup};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_storage::LockoutRow;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LockoutsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<LockoutsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum LockoutsCommand {
    /// Release the locks of a scraper (all its entities, or one).
    Reset {
        /// The scraper whose locks to release.
        scraper: String,
        /// Only this entity (e.g. a game id).
        entity: Option<String>,
    },
}

pub async fn lockouts(config: &Path, args: LockoutsArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    // An empty ENTITY names no entity: it read "box : that entity holds no
    // lock", exit 1, as if an id had been looked up and not found.
    if let Some(LockoutsCommand::Reset {
        scraper,
        entity: Some(entity),
    }) = &args.command
        && entity.is_empty()
    {
        return Err(Failure::Usage(anyhow::anyhow!(
            "ENTITY \"\" is empty: name an entity of {scraper} (rebound lockouts lists them), or leave it out to release every lock of {scraper}",
            scraper = output::printable(scraper)
        )));
    }
    if args.command.is_some() {
        // A write.
        setup::refuse_read_only_history(&plan)?;
    }
    let store = setup::open_report_store(&plan).await?;
    let now = SystemClock.now();
    if let Some(LockoutsCommand::Reset { scraper, entity }) = args.command {
        // A write: the database file alone must hold it after exit.
        setup::checkpoint_on_exit(store.clone());
        if !rebound_service::api::reports::lockouts_resettable(&plan, store.as_ref(), &scraper)
            .await?
        {
            let known: Vec<&str> = plan.scrapers.keys().map(String::as_str).collect();
            return Err(Failure::Usage(anyhow::anyhow!(
                "unknown scraper {}; the config defines: {}",
                output::quoted(&scraper),
                known.join(", ")
            )));
        }
        let released = store
            .release_lockouts(
                &scraper,
                entity.as_deref(),
                now,
                "reset by operator (rebound lockouts reset)",
            )
            .await?;
        let what = match &entity {
            Some(e) => format!("{scraper} {}", output::printable(e)),
            None => scraper.clone(),
        };
        // An entity named that holds no lock is, like `events ack` of an
        // unknown id, a request that found nothing to act on (a mistyped
        // id, or one released already): said plainly, exit 1. A scraper
        // with no locks is left as it was asked to be (as `breakers reset`
        // of a closed breaker): exit 0.
        let code = if released == 0 && entity.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
        if args.json {
            let released = rebound_service::api::types::LockoutsReleased {
                scraper: scraper.clone(),
                entity: entity.clone(),
                released,
            };
            println!("{}", serde_json::to_value(&released)?);
        } else if released > 0 {
            println!(
                "released {} of {what}",
                output::plural(u64::from(released), "lock", "locks")
            );
        } else if entity.is_some() {
            println!("{what}: that entity holds no lock of this scraper; nothing released");
        } else {
            println!("{what} holds no locks; nothing released");
        }
        return Ok(code);
    }
    // The same document as `GET /api/v1/lockouts`.
    let report = rebound_service::api::reports::lockouts(&plan, store.as_ref(), now).await?;
    if args.json {
        let value = serde_json::to_value(&report)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let rows = store.open_lockouts(None).await?;
        print!(
            "{}",
            lockouts_table(&report.counts, &rows, now, plan.pipeline.timezone)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn state(row: &LockoutRow, now: DateTime<Utc>) -> &'static str {
    if row.until > now { "locked" } else { "expired" }
}

fn lockouts_table(
    counts: &BTreeMap<String, usize>,
    rows: &[LockoutRow],
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let mut out = String::new();
    let mut per = output::table(&["scraper", "locked entities"]);
    for (scraper, n) in counts {
        per.add_row(vec![scraper.clone(), n.to_string()]);
    }
    out.push_str(&format!("{per}\n"));
    if rows.is_empty() {
        out.push_str("no entity is locked out\n");
        return out;
    }
    let mut list = output::table(&[
        "scraper",
        "entity",
        "state",
        "locked at",
        "until",
        "consecutive",
        "reason",
    ]);
    for row in rows {
        list.add_row(vec![
            row.scraper_name.clone(),
            row.entity.clone(),
            state(row, now).to_string(),
            output::when(row.locked_at, tz),
            output::when(row.until, tz),
            row.consecutive.to_string(),
            row.reason.clone(),
        ]);
    }
    out.push_str(&format!("{list}\n"));
    out
}
