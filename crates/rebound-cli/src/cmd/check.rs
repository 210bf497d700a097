//! `rebound check` and `rebound config schema`.

use crate::{Failure, setup};
use std::path::Path;
use std::process::ExitCode;

/// Validates the config without needing any secret: an unset `${VAR}` is
/// a note (the commands that send requests will refuse to start without
/// it), as is a secret too short to be sent to an upstream.
pub fn check(config: &Path) -> Result<ExitCode, Failure> {
    let loaded = setup::load_checked_plan(config)?;
    // The transform commands must exist where this runs (a missing parser
    // would fail every call); the rest of the file was checked on load.
    rebound_config::check_commands(config, &loaded.plan)
        .map_err(|e| Failure::Usage(anyhow::anyhow!("{e}")))?;
    println!("{} is valid.", config.display());
    print!("{}", rebound_config::summary(&loaded.plan));
    let mut notes = loaded.notes;
    if let Err(Failure::Usage(short)) =
        setup::refuse_short_upstream_secrets(&loaded.upstream_secrets)
    {
        notes.push(short.to_string());
    }
    for note in notes {
        println!("note: {note}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn schema() -> Result<ExitCode, Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(&rebound_config::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
