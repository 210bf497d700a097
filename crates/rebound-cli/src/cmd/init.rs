//! `rebound init [--example minimal|nba] [DIR]`: a project folder a new
//! user can run at once, the way Prefect and Dagster scaffold one.
//!
//! The templates are embedded at build time (`include_str!`), so an
//! installed binary needs no checkout. The nba one is the repository's
//! reference pipeline itself (`examples/nba/rebound.toml`), embedded by
//! path so that it can never drift from the file the docs describe; the
//! minimal one is `templates/minimal.toml`, `examples/minimal.toml`
//! reworded for a folder of its own.
//!
//! The `.gitignore` is derived from the written config (its SQLite file and
//! raw folder), not kept beside each template, so it follows a template
//! that changes its database name.

use crate::cmd::demo::invocation::{Invocation, shell_path};
use crate::{Failure, setup};
use anyhow::{Context, anyhow};
use clap::{Args, ValueEnum};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::plan::{DatabaseLocation, Plan, RawStoreLocation};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Example {
    /// One source, one scraper, one workflow: the smallest pipeline.
    Minimal,
    /// The scheduled NBA reference pipeline (ten workflows, calendars,
    /// fan-out, alerts); needs API keys in the environment to run.
    Nba,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Which template to start from.
    #[arg(long, value_enum, default_value_t = Example::Minimal)]
    pub example: Example,
    /// The project folder (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

const MINIMAL: &str = include_str!("../../templates/minimal.toml");
const NBA: &str = include_str!("../../../../examples/nba/rebound.toml");
/// The reference config's injury-report parser (its `transform`), which
/// `rebound check` requires beside the config.
const INJURY_PARSER: &str = include_str!("../../../../examples/nba/scripts/injury_report.py");

impl Example {
    fn template(self) -> &'static str {
        match self {
            Example::Minimal => MINIMAL,
            Example::Nba => NBA,
        }
    }

    /// Files the config needs beside it, by relative path.
    fn companions(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Example::Minimal => &[],
            Example::Nba => &[("scripts/injury_report.py", INJURY_PARSER)],
        }
    }

    /// The three commands to try next (arguments after the binary), each
    /// with what it does; `today` is the pipeline's local date, for `plan`;
    /// `config` the `-c` to give them, `None` for the default file.
    fn next(self, today: &str, config: Option<&str>) -> [(Vec<String>, String); 3] {
        let args = |words: &[&str]| {
            let c = config.map(|c| ["-c", c]);
            c.iter()
                .flatten()
                .chain(words)
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        };
        let validate = format!(
            "validate {} and print what it means",
            config.unwrap_or("rebound.toml")
        );
        match self {
            Example::Minimal => [
                (args(&["check"]), validate),
                (
                    args(&["run", "daily"]),
                    "run the workflow once (calls cdn.nba.com) and print every call".into(),
                ),
                (args(&["status"]), "the runs recorded in rebound.db".into()),
            ],
            Example::Nba => [
                (args(&["check"]), validate),
                (
                    args(&["plan", "--date", today]),
                    "every decision `rebound serve` would make today (dry run)".into(),
                ),
                (
                    args(&["serve"]),
                    format!(
                        "run it on its schedule (export the API keys named at the top of {} first)",
                        config.unwrap_or("rebound.toml")
                    ),
                ),
            ],
        }
    }
}

/// `config`: the `-c FILE` (or `REBOUND_CONFIG`) given, written instead of
/// `DIR/rebound.toml`: `DIR/FILE` (FILE itself when absolute), with the
/// `.gitignore` and the template's companions beside it, so that `cd DIR`
/// then `rebound -c FILE …` finds it. `None`: `DIR/rebound.toml`.
pub fn init(args: InitArgs, config: Option<&Path>) -> Result<ExitCode, Failure> {
    let named = config.filter(|c| *c != Path::new("rebound.toml"));
    let config = args.dir.join(named.unwrap_or(Path::new("rebound.toml")));
    // The config's own folder: where the gitignore and companions go, and
    // what the paths the gitignore names are relative to.
    let folder = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if config.file_name().is_none() {
        return Err(Failure::Usage(anyhow!(
            "-c {}: rebound init needs a file name to write the config to",
            config.display()
        )));
    }
    let gitignore = folder.join(".gitignore");
    // Refused before anything is written: a half-initialised folder would
    // need cleaning up by hand.
    let companions: Vec<(PathBuf, &str)> = args
        .example
        .companions()
        .iter()
        .map(|(path, text)| (folder.join(path), *text))
        .collect();
    // A name longer than file systems allow is bad input (exit 2), named,
    // before anything is written: it was a failure to create the folder
    // (exit 1) with the system's "File name too long".
    for path in [&config, &gitignore]
        .into_iter()
        .chain(companions.iter().map(|(p, _)| p))
    {
        if let Some(name) = path
            .components()
            .map(|c| c.as_os_str())
            .find(|name| name.len() > MAX_NAME_BYTES)
        {
            let name = name.to_string_lossy();
            let start: String = name.chars().take(24).collect();
            return Err(Failure::Usage(anyhow!(
                "the name \"{start}…\" ({} bytes) in {} is longer than the {MAX_NAME_BYTES} bytes a file or folder name may have; choose a shorter one (rebound init DIR)",
                name.len(),
                if path == &config {
                    "the config's path"
                } else {
                    "the folder's path"
                },
            )));
        }
    }
    // A file where the folder should be is "the file exists" too (exit 2,
    // as the README says), not a failure to create a folder (exit 1).
    for dir in [&args.dir, &folder] {
        if dir.exists() && !dir.is_dir() {
            return Err(Failure::Usage(anyhow!(
                "{} already exists and is not a folder; rebound init writes into a folder (choose another: rebound init DIR)",
                dir.display()
            )));
        }
    }
    for path in [&config, &gitignore]
        .into_iter()
        .chain(companions.iter().map(|(p, _)| p))
    {
        if path.exists() || path.is_symlink() {
            return Err(Failure::Usage(anyhow!(
                "{} already exists; rebound init does not overwrite files (choose another folder: rebound init DIR)",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create folder {}", folder.display()))?;
    write_new(&config, args.example.template())?;
    for (path, text) in &companions {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create folder {}", parent.display()))?;
        }
        write_new(path, text)?;
    }
    // The written file must be one `rebound check` accepts: loaded as check
    // loads it (no variable need be set), which also gives the paths the
    // .gitignore names.
    let plan = setup::load_checked_plan(&config)?.plan;
    write_new(&gitignore, &gitignore_text(&plan, &folder))?;

    // Every file written is named: the reference example also writes its
    // transform's script, which the line left out.
    let written: Vec<String> = std::iter::once(&config)
        .chain(companions.iter().map(|(path, _)| path))
        .chain(std::iter::once(&gitignore))
        .map(|path| crate::output::printable(&path.display().to_string()))
        .collect();
    println!("Wrote {}.", and_list(&written));
    println!("Try next:");
    // No `cd` when `-c` is absolute: the config is written there, DIR is
    // not created (`cd DIR` failed), and the commands name the file whole.
    // A folder whose name starts with `-` is written `./-p`: `cd -p` reads
    // an option.
    // A name that is not UTF-8 is written byte for byte (its lossy text
    // names another folder).
    let cd = (args.dir != Path::new(".") && !named.is_some_and(Path::is_absolute)).then(|| {
        use std::os::unix::ffi::OsStrExt;
        let dir = if args.dir.as_os_str().as_bytes().starts_with(b"-") {
            Path::new(".").join(&args.dir)
        } else {
            args.dir.clone()
        };
        format!("cd {}", shell_path(&dir))
    });
    if let Some(cd) = &cd {
        println!("  {cd}");
    }
    let today = SystemClock
        .now()
        .with_timezone(&plan.pipeline.timezone)
        .date_naive()
        .to_string();
    // Printed the way this binary was started (`cargo run -- check` under
    // cargo run), for the folder they are pasted in after the `cd`.
    let folder = std::path::absolute(&args.dir).ok();
    let invocation = Invocation::detect_in(folder);
    let named = named.map(|c| c.to_string_lossy().into_owned());
    let next: Vec<(String, String)> = args
        .example
        .next(&today, named.as_deref())
        .into_iter()
        .map(|(words, what)| {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            (invocation.command(&words), what)
        })
        .collect();
    let width = next.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (command, what) in next {
        println!("  {command:<width$}   # {what}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The longest file or folder name, in bytes, on Linux and macOS file
/// systems (ext4, APFS, …): `NAME_MAX`.
const MAX_NAME_BYTES: usize = 255;

/// Creates `path` with `text`, failing if it appeared meanwhile.
fn write_new(path: &Path, text: &str) -> Result<(), Failure> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Failure::Usage(anyhow!(
                    "{} already exists; rebound init does not overwrite files",
                    path.display()
                ))
            } else {
                Failure::Runtime(anyhow!("cannot create {}: {e}", path.display()))
            }
        })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The history database (with SQLite's side files) and the raw folder,
/// relative to the project folder: generated data, not source.
fn gitignore_text(plan: &Plan, dir: &Path) -> String {
    let mut out =
        String::from("# Written by `rebound init`: what Rebound generates, not source.\n");
    let relative = |path: &Path| -> Option<String> {
        let path = path.strip_prefix(dir).unwrap_or(path);
        (path.is_relative() && !path.as_os_str().is_empty())
            .then(|| path.to_string_lossy().replace('\\', "/"))
    };
    if let DatabaseLocation::Sqlite { path } = &plan.pipeline.database
        && let Some(db) = relative(path)
    {
        out.push_str(
            "# The run history (SQLite and its write-ahead log, shared memory and lock files).\n",
        );
        for suffix in ["", "-wal", "-shm", "-lock"] {
            out.push_str(&format!("/{db}{suffix}\n"));
        }
    }
    if let RawStoreLocation::File { path } = &plan.pipeline.raw_store
        && let Some(raw) = relative(path)
    {
        out.push_str("# Raw response bodies.\n");
        out.push_str(&format!("/{raw}/\n"));
    }
    out
}

/// "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
