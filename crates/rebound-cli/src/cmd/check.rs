//! `rebound check` and `rebound config schema`.

use crate::{Failure, setup};
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object (`valid`, `config`, `problems` with file,
    /// line, column, key and message, `notes`) instead of text; the exit
    /// code is the same (0 valid, 2 not).
    #[arg(long)]
    pub json: bool,
}

/// Validates the config without needing any secret: an unset `${VAR}` is
/// a note (the commands that send requests will refuse to start without
/// it), as is a secret too short to be sent to an upstream.
pub fn check(config: &Path, args: CheckArgs) -> Result<ExitCode, Failure> {
    if args.json {
        return check_json(config);
    }
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

/// `check --json`: the same verdict for editors and CI, every problem with
/// its place as fields rather than one `file:line:col: message` line.
fn check_json(config: &Path) -> Result<ExitCode, Failure> {
    let problem_json = |p: &rebound_config::Problem| {
        serde_json::json!({
            "file": p.file.display().to_string(),
            "line": p.line,
            "column": p.column,
            "key": p.key,
            "message": p.message,
        })
    };
    let verdict = setup::load_checked_config(config)
        .and_then(|loaded| rebound_config::check_commands(config, &loaded.plan).map(|()| loaded));
    let (valid, problems, notes) = match verdict {
        Ok(loaded) => {
            let mut notes = loaded.notes;
            if let Err(Failure::Usage(short)) =
                setup::refuse_short_upstream_secrets(&loaded.upstream_secrets)
            {
                notes.push(short.to_string());
            }
            (true, Vec::new(), notes)
        }
        Err(error) => {
            let problems: Vec<serde_json::Value> = if error.problems().is_empty() {
                // Not found, unreadable: no line to point at.
                vec![serde_json::json!({
                    "file": config.display().to_string(),
                    "line": null,
                    "column": null,
                    "key": "",
                    "message": error.to_string(),
                })]
            } else {
                error.problems().iter().map(problem_json).collect()
            };
            (false, problems, Vec::new())
        }
    };
    let value = serde_json::json!({
        "valid": valid,
        "config": config.display().to_string(),
        "problems": problems,
        "notes": notes,
    });
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub fn schema() -> Result<ExitCode, Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(&rebound_config::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
