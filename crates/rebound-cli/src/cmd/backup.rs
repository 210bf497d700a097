//! `rebound backup FILE`: a consistent copy of the SQLite history
//! database, safe while `rebound serve` writes to it.
//!
//! Copying `rebound.db` by hand misses whatever is still in its `-wal`
//! file (and can catch a write half done); SQLite's `VACUUM INTO` reads one
//! snapshot and writes a new, compact, self-contained file. A PostgreSQL
//! database has no file of ours to copy: the server's `pg_dump` is the tool,
//! and the command says so instead of doing half a job.

use crate::{Failure, setup};
use anyhow::anyhow;
use clap::Args;
use rebound_domain::plan::DatabaseLocation;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new file to write (refused if it exists).
    pub file: PathBuf,
}

pub async fn backup(config: &Path, args: BackupArgs) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    let source = match &plan.pipeline.database {
        DatabaseLocation::Sqlite { path } => path.clone(),
        DatabaseLocation::Postgres { .. } => {
            return Err(Failure::Usage(anyhow!(
                "{} is a PostgreSQL database: back it up with pg_dump (for example `pg_dump -Fc -f rebound.dump \"$DATABASE_URL\"`); rebound backup copies SQLite files only",
                plan.database_display()
            )));
        }
    };
    // SQLite takes a UTF-8 file name: another was refused from deep in the
    // store ("database query failed: backup: … is not a UTF-8 path", exit 1).
    if args.file.to_str().is_none() {
        return Err(Failure::Usage(anyhow!(
            "{}: the file name is not UTF-8, which SQLite needs; choose another",
            crate::output::printable(&args.file.display().to_string())
        )));
    }
    // A path ending in `/` names a folder: SQLite drops the slash and
    // writes the file `DIR`, which the read-back below then failed on.
    let shown = args.file.display().to_string();
    if shown.ends_with('/') || args.file.file_name().is_none() {
        return Err(Failure::Usage(anyhow!(
            "{}: ends with /, which names a folder; give the file to write, e.g. {}rebound-backup.db",
            crate::output::printable(&shown),
            crate::output::printable(&format!("{}/", shown.trim_end_matches('/')))
        )));
    }
    // The folder must be there: SQLite said "(code: 14) unable to open
    // database" for a missing one.
    let folder = args
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        let why = if folder.exists() {
            format!("{} is not a folder", folder.display())
        } else {
            format!("the folder {} does not exist", folder.display())
        };
        return Err(Failure::Usage(anyhow!(
            "{}: {}",
            crate::output::printable(&shown),
            crate::output::printable(&why)
        )));
    }
    if args.file.exists() || args.file.is_symlink() {
        return Err(Failure::Usage(anyhow!(
            "{} already exists; rebound backup does not overwrite files",
            args.file.display()
        )));
    }
    // Opening would create an empty database: say there is none instead.
    if !source.exists() {
        return Err(Failure::Runtime(anyhow!(
            "no history database at {} (nothing has run with {} yet)",
            source.display(),
            config.display()
        )));
    }
    let store = setup::open_report_store(&plan).await?;
    if let Err(e) = store.backup_into(&args.file).await {
        // Nothing was there before (checked above), so what the failed
        // write left goes: a partial file opened as a valid, empty
        // database, and a retry to the same name was refused.
        let mut journal = args.file.clone().into_os_string();
        journal.push("-journal");
        for leftover in [args.file.as_path(), Path::new(&journal)] {
            let _ = std::fs::remove_file(leftover);
        }
        return Err(Failure::Runtime(anyhow!(
            "cannot back up {} to {}: {e}",
            source.display(),
            args.file.display()
        )));
    }
    // What was written, read back: a backup that says "done" must exist.
    let bytes = std::fs::metadata(&args.file)
        .map_err(|e| {
            anyhow!(
                "the backup of {} reported success, but {} cannot be read: {e}",
                source.display(),
                args.file.display()
            )
        })?
        .len();
    println!(
        "Backed up {} to {} ({}).",
        crate::output::printable(&source.display().to_string()),
        crate::output::printable(&args.file.display().to_string()),
        size(bytes)
    );
    Ok(ExitCode::SUCCESS)
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{} KB", b / 1024),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}
