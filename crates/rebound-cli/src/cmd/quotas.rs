//! `rebound quotas`: each source's request quota in the current period:
//! usage, limit, remaining, reset time and warning state.

use crate::{Failure, output, setup};
use clap::Args;
use rebound_domain::clock::Clock;
use rebound_domain::quota::{QuotaState, WARN_PERCENT, effective_used, period_at};
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
    let mut rows = Vec::new();
    // The reset instant for people, in the pipeline's zone.
    let mut resets = Vec::new();
    for source in plan.sources.values() {
        let Some(quota) = &source.quota else { continue };
        let window = period_at(quota.per, tz, now);
        let usage = store.quota_usage(&source.name, window.start).await?;
        let counted = usage.as_ref().map_or(0, |u| u.requests.max(0) as u64);
        let reported = usage
            .as_ref()
            .and_then(|u| u.remaining_reported)
            .map(|r| r.max(0) as u64);
        let used = effective_used(quota.requests, counted, reported);
        let state = QuotaState::of(quota.requests, used);
        rows.push(serde_json::json!({
            "source": source.name,
            "per": quota.per.as_str(),
            "limit": quota.requests,
            "used": used,
            "counted": counted,
            "remaining": quota.requests.saturating_sub(used),
            "remaining_reported": reported,
            "period_start": output::json_time(window.start),
            "resets_at": output::json_time(window.end),
            "state": state.as_str(),
            "warned_at": usage.as_ref().and_then(|u| u.warned_at).map(output::json_time),
        }));
        resets.push(output::when(window.end, tz));
    }
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
