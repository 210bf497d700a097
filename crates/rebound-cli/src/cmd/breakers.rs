//! `rebound breakers`: the state of every source's circuit breaker, and
//! `rebound breakers reset SOURCE` to close one by hand.

use crate::{Failure, output, setup};
use clap::{Args, Subcommand};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BreakersArgs {
    #[command(subcommand)]
    pub command: Option<BreakersCommand>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BreakersCommand {
    /// Close a source's breaker now (recorded as "reset by operator").
    Reset {
        /// The source, as named in `[sources.NAME]`.
        source: String,
    },
}
pub async fn breakers(config: &Path, args: BreakersArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    if let Some(BreakersCommand::Reset { source }) = &args.command
        && !plan.sources.contains_key(source)
    {
        let known: Vec<&str> = plan.sources.keys().map(String::as_str).collect();
        return Err(Failure::Usage(anyhow::anyhow!(
            "unknown source {}; the config defines: {}",
            output::quoted(source),
            known.join(", ")
        )));
    }
    if args.command.is_some() {
        // A write.
        setup::refuse_read_only_history(&plan)?;
    }
    let store = setup::open_report_store(&plan).await?;
    if let Some(BreakersCommand::Reset { source }) = args.command {
        // A write: the database file alone must hold it after exit.
        setup::checkpoint_on_exit(store.clone());
        let made = store
            .reset_breaker(&source, SystemClock.now(), "reset by operator")
            .await?;
        if args.json {
            // The same document as `POST /api/v1/breakers/{source}/reset`.
            let reset = rebound_service::api::types::BreakerReset {
                reset: !made.is_empty(),
                was: made
                    .first()
                    .map_or("closed", |t| t.from.as_str())
                    .to_string(),
                source,
            };
            println!("{}", serde_json::to_value(&reset)?);
        } else if made.is_empty() {
            println!("breaker for source {source} was already closed");
        } else {
            println!(
                "breaker for source {source} closed (was {})",
                made[0].from.as_str()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The rows `GET /api/v1/sources` shows as each source's breaker;
    // through JSON values, whose keys print in the order they always did.
    let now = SystemClock.now();
    let rows: Vec<serde_json::Value> =
        rebound_service::api::reports::breakers(&plan, store.as_ref(), now)
            .await?
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    // The JSON rows above hold UTC; the table shows the pipeline's zone.
    let tz = plan.pipeline.timezone;
    let local = |row: &serde_json::Value, key: &str| {
        row[key]
            .as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
            .map(|t| output::when(t, tz))
            .unwrap_or_else(|| "-".into())
    };
    let mut t = output::table(&[
        "source",
        "state",
        "since",
        "trips",
        "next probe",
        "last failure",
    ]);
    for row in &rows {
        let state = if row["enabled"] == false {
            "disabled".to_string()
        } else {
            row["state"].as_str().unwrap_or("-").to_string()
        };
        let mut failure = match (
            row["last_failure_kind"].as_str(),
            row["last_failure_message"].as_str(),
        ) {
            (Some(kind), Some(message)) => format!("{kind}: {message}"),
            _ => "-".into(),
        };
        if let Some(reason) = row["open_reason"].as_str() {
            failure.push_str(&format!("\nopened after {reason}"));
        }
        if row["probe_failing_since"].is_string() {
            let held = format!(
                "health probe failing since {}\n(no trial call until it answers)",
                local(row, "probe_failing_since")
            );
            if failure == "-" {
                failure = held;
            } else {
                failure.push_str(&format!("\n{held}"));
            }
        }
        let proxies = row["proxies"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for proxy in proxies {
            let until = match proxy["open_until"].as_str() {
                Some(_) => format!(" until {}", local(proxy, "open_until")),
                None => String::new(),
            };
            let failures = proxy["consecutive_failures"].as_u64().unwrap_or(0);
            failure.push_str(&format!(
                "\nproxy {} of {}: {}{until}, {} in a row",
                proxy["index"],
                proxies.len(),
                proxy["state"].as_str().unwrap_or("-"),
                output::plural(failures, "failure", "failures"),
            ));
        }
        t.add_row(vec![
            row["source"].as_str().unwrap_or("-").to_string(),
            state,
            local(row, "since"),
            row["trips"].as_u64().unwrap_or(0).to_string(),
            next_probe(row, now, &local),
            failure,
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

/// The "next probe" cell: a breaker whose trial is due (a half-open one
/// with no trial in flight, or an open one whose open period has ended
/// and which no call has asked since) lets the next call through, which
/// its stored time, the end of the open period, read as a probe in the
/// past.
fn next_probe(
    row: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
    local: &dyn Fn(&serde_json::Value, &str) -> String,
) -> String {
    let at = row["next_probe"]
        .as_str()
        .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
    match at {
        Some(at) if (row["state"] == "half_open" || row["state"] == "open") && at <= now => {
            "the next call (trial)".to_string()
        }
        _ => local(row, "next_probe"),
    }
}
