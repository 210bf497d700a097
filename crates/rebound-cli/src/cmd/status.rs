//! `rebound status`: recent runs and their error messages.

use crate::{Failure, output, setup};
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many recent runs to list.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn status(config: &Path, args: StatusArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    let store = setup::open_report_store(&plan).await?;
    let runs = store.recent_workflow_executions(args.limit).await?;
    let calls = store.recent_standalone_calls(args.limit).await?;
    if args.json {
        let value = serde_json::json!({
            "workflow_executions": runs.iter().map(output::execution_row_json).collect::<Vec<_>>(),
            "standalone_calls": calls.iter().map(output::call_row_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!(
            "{}",
            output::status_table(&runs, &calls, plan.pipeline.timezone)
        );
    }
    Ok(ExitCode::SUCCESS)
}
