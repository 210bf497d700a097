//! `rebound demo`: the main job on embedded defaults. Starts the simulated
//! NBA upstream on a loopback port with scripted faults, writes a demo
//! config into a working folder, runs every workflow of it and says where
//! the history and raw payloads are. Needs no config, network or service.

use crate::{Failure, output, setup};
use anyhow::Context;
use clap::Args;
use rebound_upstream_sim::{UpstreamSim, demo_config};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Working folder for the demo config, database and raw payloads.
    #[arg(long, default_value = "rebound-demo")]
    pub dir: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create demo folder {}", args.dir.display()))?;
    let sim = UpstreamSim::start()
        .await
        .context("cannot start the simulated upstream")?;
    sim.script_demo_faults();
    let config_path = args.dir.join("rebound.toml");
    std::fs::write(&config_path, demo_config(&sim.base_url()))
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let plan = setup::load_plan(&config_path)?;
    let database = plan.pipeline.database.display_safe();
    let raw_store = plan.pipeline.raw_store.display();
    let workflows: Vec<String> = plan.workflows.keys().cloned().collect();
    let engine = setup::engine(setup::sleep_retries_inline(plan)).await?;
    let date = engine.today();
    if !args.json {
        println!(
            "Simulated upstream at {} with scripted faults (429 + Retry-After, 503 burst, timeout, 404, not published yet, empty records).",
            sim.base_url()
        );
        println!("Config written to {}\n", config_path.display());
    }
    let mut reports = Vec::new();
    for workflow in &workflows {
        let report = engine
            .run_workflow(workflow, date, &BTreeMap::new())
            .await
            .map_err(|e| {
                if e.is_usage() {
                    Failure::Usage(e.into())
                } else {
                    Failure::Runtime(e.into())
                }
            })?;
        if !args.json {
            println!("{}", output::run_table(&report));
        }
        reports.push(report);
    }
    sim.shutdown().await;
    if args.json {
        let value = serde_json::json!({
            "config": config_path.display().to_string(),
            "database": database,
            "raw_store": raw_store,
            "runs": reports.iter().map(output::run_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("History database: {database}");
        println!("Raw payloads:     {raw_store}");
        println!(
            "Next: rebound -c {0} health    (what is broken, since when and why)\n      rebound -c {0} status    (or query the tables workflow_executions, scraper_execution_log, scraper_attempts with SQL)",
            config_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
