//! `rebound purge [--dry-run] [--json]`: removes history older than
//! `[pipeline] retention`, and the raw payloads only that history points
//! at, in small batches (see `rebound_service::retention`). `rebound serve`
//! does the same every hour; this is for a purge now, or a look first.

use crate::{Failure, output, setup};
use anyhow::anyhow;
use clap::Args;
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::duration::format_duration;
use rebound_raw::RawStore;
use rebound_service::retention::{DEFAULT_BATCH, PurgeReport, Purger};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only count what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Rows per batch (one short transaction each).
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub batch: u32,
}

pub async fn purge(config: &Path, args: PurgeArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    let Some(retention) = plan.pipeline.retention else {
        return Err(Failure::Usage(anyhow!(
            "no retention is configured in {}, so history is kept forever and there is nothing to purge; \
             set e.g. retention = \"90d\" under [pipeline]",
            config.display()
        )));
    };
    // Nothing to purge, and opening would create a database.
    setup::refuse_missing_history(&plan, setup::Missing::File)?;
    let store = setup::open_store(&plan).await?;
    let raw = RawStore::open(&plan.pipeline.raw_store)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let purger = Purger::new(store, raw, clock, retention).with_batch(args.batch);
    let report = purger.run(args.dry_run).await?;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["retention"] = format_duration(retention).into();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!(
            "{}",
            table(&report, &format_duration(retention), plan.pipeline.timezone)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn table(report: &PurgeReport, retention: &str, tz: chrono_tz::Tz) -> String {
    let verb = if report.dry_run { "would go" } else { "went" };
    let mut out = format!(
        "{}retention {retention}: history before {} {verb}\n",
        if report.dry_run {
            "dry run, nothing changed; "
        } else {
            ""
        },
        output::when(report.cutoff, tz),
    );
    let mut t = output::table(&["table", &format!("rows that {verb}")]);
    for row in &report.tables {
        t.add_row(vec![row.table.to_string(), row.rows.to_string()]);
    }
    t.add_row(vec![
        "alerts, alert_incidents".to_string(),
        match report.alert_rows {
            Some(rows) => rows.to_string(),
            None => "-".to_string(),
        },
    ]);
    t.add_row(vec![
        "raw payloads".to_string(),
        format!(
            "{} ({})",
            report.raw_objects,
            rebound_domain::message::format_size(report.raw_bytes)
        ),
    ]);
    out.push_str(&format!("{t}\n"));
    if report.raw_missing > 0 {
        out.push_str(&format!(
            "{} already missing (not an error)\n",
            output::plural(report.raw_missing, "payload file was", "payload files were")
        ));
    }
    if report.raw_foreign > 0 {
        out.push_str(&format!(
            "{} outside the configured raw_store and left alone\n",
            output::plural(report.raw_foreign, "payload is", "payloads are")
        ));
    }
    out.push_str(&format!(
        "{}\n",
        output::plural(report.batches, "batch", "batches")
    ));
    out
}
