//! `rebound check` and `rebound config schema`.

use crate::{Failure, setup};
use clap::Args;
use rebound_domain::handoff::{HandoffSinkKind, glob_match};
use rebound_domain::plan::Plan;
use rebound_service::handoff::nats::Probed;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object (`valid`, `config`, `problems` with file,
    /// line, column, key and message, `notes`) instead of text; the exit
    /// code is the same (0 valid, 2 not).
    #[arg(long)]
    pub json: bool,
    /// Also dial the [handoff] NATS sinks (their `${VAR}`s must then be
    /// set) and report any that cannot be reached; exit 1 if one cannot.
    #[arg(long)]
    pub probe: bool,
}

/// Validates the config without needing any secret: an unset `${VAR}` is
/// a note (the commands that send requests will refuse to start without
/// it), so the file can be checked where its secrets are absent (CI). A
/// secret that is set but too short to be sent to an upstream is refused,
/// at its place, as `run` refuses it. With
/// `--probe`, also connects to each NATS hand-off sink.
pub async fn check(config: &Path, args: CheckArgs) -> Result<ExitCode, Failure> {
    if args.json {
        return check_json(config);
    }
    let loaded = setup::load_checked_plan(config)?;
    // A secret that is set but too short is refused by every command that
    // sends it, so `check` refuses it too, at its place: the environment
    // `check` reads is the one those commands would read.
    setup::refuse_short_upstream_secrets(&loaded)?;
    // The transform commands must exist where this runs (a missing parser
    // would fail every call); the rest of the file was checked on load.
    rebound_config::check_commands(config, &loaded.plan)
        .map_err(|e| Failure::Usage(anyhow::anyhow!("{e}")))?;
    // The path, the database URL and the raw store come from the command
    // line and the file: a control character in them is shown escaped.
    println!(
        "{} is valid.",
        crate::output::printable(&config.display().to_string())
    );
    print!(
        "{}",
        rebound_domain::message::escape_controls(&rebound_config::summary_of(&loaded), true)
    );
    for warning in unmatched_dataset_globs(&loaded.plan)
        .into_iter()
        .chain(open_listen(&loaded.plan))
    {
        println!("warning: {warning}");
    }
    for note in loaded.notes {
        println!("note: {note}");
    }
    if args.probe {
        return probe(config).await;
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
        .and_then(|loaded| loaded.refuse_short_upstream_secrets().map(|()| loaded))
        .and_then(|loaded| rebound_config::check_commands(config, &loaded.plan).map(|()| loaded));
    let (valid, problems, notes) = match verdict {
        Ok(loaded) => (true, Vec::new(), loaded.notes),
        Err(error) => {
            let problems: Vec<serde_json::Value> = if error.problems().is_empty() {
                // Not found, unreadable: no line to point at.
                vec![serde_json::json!({
                    "file": config.display().to_string(),
                    "line": null,
                    "column": null,
                    "key": "",
                    "message": setup::config_folder_message(config)
                        .or_else(|| match &error {
                            rebound_config::ConfigError::NotFound { path } => {
                                Some(setup::config_not_found_message(path))
                            }
                            _ => None,
                        })
                        .unwrap_or_else(|| error.to_string()),
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

/// A `[server] listen` other machines can reach exposes the JSON API and
/// the dashboard beyond this machine: say who may read it (docs/api.md).
fn open_listen(plan: &Plan) -> Option<String> {
    let server = &plan.server;
    let addr = server.listen.filter(|_| server.listens_beyond_loopback())?;
    Some(if server.public_read {
        format!(
            "server.listen \"{addr}\" is reachable from other machines and public_read = true: anyone who reaches it can read the API and the dashboard (mutations still need the token)"
        )
    } else if server.token.is_some() {
        format!(
            "server.listen \"{addr}\" is reachable from other machines: API reads there need the bearer token as well (set public_read = true to allow them without)"
        )
    } else {
        format!(
            "server.listen \"{addr}\" is reachable from other machines but no [server] token is set: every API request there is refused; set token = \"${{REBOUND_API_TOKEN}}\" (and public_read = true to read without it)"
        )
    })
}

/// A sink's `datasets` glob that matches no dataset of the config is
/// almost always a typo, and would silently send that sink nothing: a
/// warning, not an error, since a dataset may be added later.
fn unmatched_dataset_globs(plan: &Plan) -> Vec<String> {
    let datasets: BTreeSet<&str> = plan
        .scrapers
        .values()
        .map(|s| s.dataset.as_str())
        .chain(plan.datasets.keys().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    for sink in plan.handoff.sinks.values() {
        for glob in &sink.datasets {
            if !datasets.iter().any(|d| glob_match(glob, d)) {
                out.push(format!(
                    "handoff.sinks.{}.datasets: \"{glob}\" matches no dataset of this config, so that sink gets nothing from it",
                    sink.name
                ));
            }
        }
    }
    out
}

/// Connects to every NATS sink and asks JetStream for its account; says
/// which sink fails and why, never its URL.
async fn probe(config: &Path) -> Result<ExitCode, Failure> {
    let plan = setup::load_probe_plan(config)?.plan;
    let mut failed = false;
    for sink in plan.handoff.sinks.values() {
        match sink.kind {
            HandoffSinkKind::Nats => match rebound_service::handoff::nats::probe(sink).await {
                Ok(Probed::StreamUncovered(why)) => {
                    failed = true;
                    println!(
                        "probe: handoff sink {} (nats): reachable, JetStream on, but {}",
                        sink.name,
                        plan.redactor.redact_string(&why)
                    );
                }
                Ok(probed) => println!(
                    "probe: handoff sink {} (nats): reachable, JetStream on, {}",
                    sink.name,
                    match probed {
                        Probed::StreamMissing => "stream missing (created at the first publish)",
                        _ => "stream exists",
                    }
                ),
                Err(error) => {
                    failed = true;
                    println!(
                        "probe: handoff sink {} (nats): UNREACHABLE: {}",
                        sink.name,
                        plan.redactor.redact_string(&error)
                    );
                }
            },
            // A POST would hand the consumer a message; webhooks are only
            // tried with real events.
            HandoffSinkKind::Webhook => println!(
                "probe: handoff sink {} (webhook): not probed (only real events are posted)",
                sink.name
            ),
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn schema() -> Result<ExitCode, Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(&rebound_config::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
