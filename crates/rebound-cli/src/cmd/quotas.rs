//! `rebound quotas`: each source's request quota in the current period:
//! usage, limit, remaining, reset time and warning state.

use crate::{Failure, output, setup};
use clap::Args;
use rebound_domain::clock::Clock;
use rebound_domain::quota::WARN_PERCENT;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct QuotasArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn quotas(config: &Path, args: QuotasArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    let store = setup::open_report_store(&plan).await?;
    let tz = plan.pipeline.timezone;
    let now = rebound_clock::SystemClock.now();
    // The rows `GET /api/v1/sources` shows as each source's quota.
    let views = rebound_service::api::reports::quotas(&plan, store.as_ref(), now).await?;
    let resets: Vec<String> = views
        .iter()
        .map(|q| output::when(q.resets_at, tz))
        .collect();
    let rows: Vec<serde_json::Value> = views
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::from(rows))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "No source has a quota (set quota = {{ per = \"month\", requests = N }} on a source)."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = output::table(&[
        "source",
        "per",
        "used",
        "limit",
        "remaining",
        "resets at",
        "state",
    ]);
    for (row, resets_at) in rows.iter().zip(resets) {
        let text = |k: &str| match &row[k] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let state = match row["state"].as_str() {
            Some("warning") => format!("WARNING (≥ {WARN_PERCENT}%)"),
            Some("exhausted") => "EXHAUSTED: calls refused".to_string(),
            _ => "ok".to_string(),
        };
        t.add_row(vec![
            text("source"),
            text("per"),
            text("used"),
            text("limit"),
            text("remaining"),
            resets_at,
            state,
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}
