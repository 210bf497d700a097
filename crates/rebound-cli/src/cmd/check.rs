//! `rebound check` and `rebound config schema`.

use crate::{Failure, setup};
use std::path::Path;
use std::process::ExitCode;

pub fn check(config: &Path) -> Result<ExitCode, Failure> {
    let plan = setup::load_plan(config)?;
    println!("{} is valid.", config.display());
    print!("{}", rebound_config::summary(&plan));
    Ok(ExitCode::SUCCESS)
}

pub fn schema() -> Result<ExitCode, Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(&rebound_config::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
