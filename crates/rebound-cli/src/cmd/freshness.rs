//! `rebound freshness`: per dataset, the age of its newest real change
//! (records, not empty, not identical to the previous payload), the
//! thresholds it is held to, when it was last checked, and completeness
//! for fanned-out datasets. Exit code as `rebound health`: 0, 1, 2, and 3
//! when it cannot look.

use crate::{Failure, setup};
use clap::Args;
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::duration::format_duration;
use rebound_health::{DatasetHealth, Level};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::health::{ago, when};

#[derive(Debug, Args)]
pub struct FreshnessArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn freshness(config: &Path, args: FreshnessArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)
        .map_err(Failure::unknown)?
        .plan;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let tz = plan.pipeline.timezone;
    let engine = setup::report_engine(plan.clone(), clock)
        .await
        .map_err(Failure::unknown)?;
    // The same document as `GET /api/v1/freshness`.
    let report = rebound_service::api::reports::freshness(&engine, now)
        .await
        .map_err(|e| Failure::Unknown(e.into()))?;
    if args.json {
        // Through a JSON value: keys in the order this command always printed.
        let value = serde_json::to_value(&report)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{}", table(&report.datasets, tz));
    }
    Ok(ExitCode::from(report.level.exit_code()))
}

fn dur(seconds: Option<i64>) -> String {
    seconds
        .map(|s| format_duration(Duration::from_secs(s.max(0) as u64)))
        .unwrap_or_else(|| "-".into())
}

/// The datasets table shared with `rebound health`.
pub(crate) fn table(datasets: &[DatasetHealth], tz: chrono_tz::Tz) -> String {
    let mut t = crate::output::table(&[
        "dataset",
        "level",
        "age",
        "warn / error",
        "last change",
        "last checked",
        "completeness",
    ]);
    for d in datasets {
        let f = &d.freshness;
        let completeness = match &d.completeness {
            None => "-".to_string(),
            Some(c) => match &c.error {
                Some(e) => e.clone(),
                None => {
                    let mut text =
                        format!("{} of {} for {}", c.collected, c.expected, c.target_date);
                    if !c.missing.is_empty() {
                        text.push_str(&format!("; missing {}", c.missing.join(", ")));
                        if let Some(deadline) = c.deadline {
                            text.push_str(&format!("; deadline {}", when(Some(deadline), tz)));
                        }
                    }
                    text
                }
            },
        };
        t.add_row(vec![
            d.name.clone(),
            match d.level {
                Level::Ok => "ok".to_string(),
                Level::Warning => "WARNING".to_string(),
                Level::Critical => "CRITICAL".to_string(),
            },
            f.age_seconds
                .map(ago)
                .unwrap_or_else(|| "never changed".into()),
            format!(
                "{} / {}",
                dur(f.fresh_warn_seconds),
                dur(f.fresh_error_seconds)
            ),
            when(f.last_change_at, tz),
            when(f.last_checked_at, tz),
            completeness,
        ]);
    }
    t.to_string()
}
