//! Turning a config path into a running engine: logging, config, store,
//! raw store, fetcher. Shared by every command that runs or reads history.

use crate::Failure;
use rebound_clock::SystemClock;
use rebound_config::Secrets;
use rebound_domain::clock::Clock;
use rebound_domain::plan::{DatabaseLocation, Plan};
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_postgres::Connections;
use std::path::Path;
use std::sync::Arc;

/// Whether logs are JSON (`--log-format json`): then stderr carries only
/// JSON lines, and messages for people go through the logger too.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn json_logs() -> bool {
    JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Where the config's path came from, for messages about the path itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// `-c FILE` / `--config FILE`.
    Flag,
    /// The `REBOUND_CONFIG` environment variable.
    Env,
    /// Neither: `rebound.toml` in the current folder.
    Default,
}

/// Set once by `main` from clap's value source of `--config`.
static CONFIG_ORIGIN: std::sync::OnceLock<ConfigOrigin> = std::sync::OnceLock::new();

pub fn set_config_origin(origin: ConfigOrigin) {
    let _ = CONFIG_ORIGIN.set(origin);
}

/// Why the config path `path` names a folder, naming where the path came
/// from (`-c`/`--config`, `REBOUND_CONFIG`, or the default): the loader's
/// own "cannot read config file DIR: it is a directory" named neither.
/// `None` when it is not a folder.
pub fn config_folder_message(path: &Path) -> Option<String> {
    if !path.is_dir() {
        return None;
    }
    let path = path.display();
    Some(
        match CONFIG_ORIGIN.get().copied().unwrap_or(ConfigOrigin::Flag) {
            ConfigOrigin::Flag => {
                format!("-c/--config {path}: it is a folder, not a config file")
            }
            ConfigOrigin::Env => format!(
                "REBOUND_CONFIG={path} (from the environment): it is a folder, not a config file"
            ),
            ConfigOrigin::Default => format!(
                "{path} (the default config file): it is a folder, not a config file (pass -c FILE or set REBOUND_CONFIG)"
            ),
        },
    )
}

/// [`config_folder_message`] as a usage error.
pub fn refuse_config_folder(path: &Path) -> Result<(), Failure> {
    match config_folder_message(path) {
        Some(message) => Err(Failure::Usage(anyhow::anyhow!(message))),
        None => Ok(()),
    }
}

/// A status line for the person watching a long-running command: plain
/// text on stderr, or an `info` event when logs are JSON, so that a log
/// collector reading stderr sees one JSON object per line and nothing else.
pub fn say(text: &str) {
    if json_logs() {
        tracing::info!(message = text);
    } else {
        eprintln!("{text}");
    }
}

/// `--color`: whether log lines carry ANSI colour codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// Only when stderr is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    Always,
    Never,
}

/// Whether stderr gets colour: never into a file or a pipe (cron logs
/// were full of escape codes), and never when `NO_COLOR` is set
/// (no-color.org), unless `--color always` says otherwise.
#[allow(clippy::disallowed_methods)] // the CLI reads the environment: NO_COLOR
pub fn use_color(choice: Color) -> bool {
    use std::io::IsTerminal;
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

/// Rebound's own crates, as log targets (the binary's is `rebound`).
const OWN_TARGETS: &[&str] = &[
    "rebound",
    "rebound_alerts",
    "rebound_clock",
    "rebound_config",
    "rebound_domain",
    "rebound_engine",
    "rebound_fetch",
    "rebound_health",
    "rebound_metrics",
    "rebound_raw",
    "rebound_schedule",
    "rebound_service",
    "rebound_simulate",
    "rebound_storage",
    "rebound_storage_postgres",
    "rebound_storage_sqlite",
    "rebound_upstream_sim",
];

/// The filter of `-vv`: debug for Rebound's crates and sqlx's statements,
/// info for other libraries.
/// Rebound masks secrets in what it logs; a library's debug lines are
/// beyond its reach (async-nats printed a NATS URL's password field by
/// field), so they need an explicit `RUST_LOG`.
pub fn debug_filter() -> String {
    // sqlx's statements stay at debug: they show the SQL text, never the
    // values bound to it, and they are what `-vv` is for on a slow report.
    let mut filter = String::from("info,sqlx=debug");
    for target in OWN_TARGETS {
        filter.push_str(&format!(",{target}=debug"));
    }
    filter
}

/// Logs go to stderr so that stdout stays the command's output (tables,
/// JSON). `level` comes from `-q` / `-v` and applies only when `RUST_LOG`
/// is not set (an explicit filter wins).
pub fn init_logging(json: bool, level: &str, color: Color) {
    JSON_LOGS.store(json, std::sync::atomic::Ordering::Relaxed);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(!json && use_color(color))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Loads and validates the config for a command that sends requests
/// (`run`, `scrape`, `backfill`, `serve`, `demo`): every `${VAR}` must be
/// set and every secret sent to an upstream long enough to be masked.
/// Errors are usage errors (exit 2).
pub fn load_plan(path: &Path) -> Result<Plan, Failure> {
    let loaded = load_with(path, Secrets::All)?;
    refuse_short_upstream_secrets(&loaded)?;
    Ok(loaded.plan)
}

/// Loads the config for a command that reads history and sends nothing to
/// the sources (`status`, `health`, `plan`, `breakers`, …): only the
/// variables under `[pipeline]` (the database and raw store it opens) must
/// be set; the sources' secrets may be absent.
pub fn load_report_plan(path: &Path) -> Result<rebound_config::Loaded, Failure> {
    load_with(path, Secrets::Under(&["pipeline"]))
}

/// Loads the config for the hand-off commands (`events publish`,
/// `events replay`): they open the database and deliver to the hand-off
/// sinks, so the variables under `[pipeline]` and `[handoff]` must be set;
/// the sources' secrets, which they never send, may be absent.
pub fn load_handoff_plan(path: &Path) -> Result<Plan, Failure> {
    load_with(path, Secrets::Under(&["pipeline", "handoff"])).map(|loaded| loaded.plan)
}

/// Loads the config for `rebound check`: no variable need be set; the
/// unset ones come back as notes.
pub fn load_checked_plan(path: &Path) -> Result<rebound_config::Loaded, Failure> {
    load_with(path, Secrets::None)
}

/// [`load_checked_plan`] keeping the config error itself (its problems
/// with file, line and column), for `check --json`.
pub fn load_checked_config(
    path: &Path,
) -> Result<rebound_config::Loaded, rebound_config::ConfigError> {
    rebound_config::load_with(path, &process_env, Secrets::None)
}

/// Loads the config for `rebound check --probe`: the hand-off sinks' URLs
/// are dialled, so the variables under `[handoff]` must be set.
pub fn load_probe_plan(path: &Path) -> Result<rebound_config::Loaded, Failure> {
    load_with(path, Secrets::Under(&["handoff"]))
}

/// `${VAR}` values come from the process environment, read here: the CLI
/// is the only part of Rebound that reads it.
#[allow(clippy::disallowed_methods)] // the CLI is the one reader of the environment
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What a transform inherits (`PATH`, `HOME`, `LANG`), from this process,
/// for `rebound simulate`, which loads its config with placeholders for
/// every other variable.
pub(crate) fn transform_env() -> Vec<(String, String)> {
    rebound_domain::document::Transform::PASSED_ENV
        .iter()
        .filter_map(|name| process_env(name).map(|v| (name.to_string(), v)))
        .collect()
}

fn load_with(path: &Path, secrets: Secrets) -> Result<rebound_config::Loaded, Failure> {
    refuse_config_folder(path)?;
    rebound_config::load_with(path, &process_env, secrets).map_err(|e| match e {
        rebound_config::ConfigError::NotFound { path } => {
            Failure::Usage(anyhow::anyhow!(config_not_found_message(&path)))
        }
        e => Failure::Usage(anyhow::anyhow!("{e}")),
    })
}

/// A missing config file, with what to do about it by where its path came
/// from: the loader cannot know, and its one hint, "pass -c FILE or set
/// REBOUND_CONFIG", was said to people who had passed -c.
pub(crate) fn config_not_found_message(path: &Path) -> String {
    let shown = path.display();
    match CONFIG_ORIGIN.get().copied().unwrap_or(ConfigOrigin::Flag) {
        ConfigOrigin::Flag => {
            format!("config file not found: {shown} (given with -c/--config: check the path)")
        }
        ConfigOrigin::Env => format!(
            "config file not found: {shown} (from REBOUND_CONFIG in the environment: check the path it holds)"
        ),
        ConfigOrigin::Default => format!(
            "config file not found: {shown} (the default config file; pass -c FILE or set REBOUND_CONFIG)"
        ),
    }
}

/// Refuses a secret sent to an upstream that is too short to be masked
/// (see [`rebound_config::Loaded::refuse_short_upstream_secrets`]), as a
/// config error naming each use's file:line:col and key. Database
/// passwords are not checked: they go to our own database, and are masked
/// where they appear as a URL's password.
pub fn refuse_short_upstream_secrets(loaded: &rebound_config::Loaded) -> Result<(), Failure> {
    loaded
        .refuse_short_upstream_secrets()
        .map_err(|e| Failure::Usage(anyhow::anyhow!("{e}")))
}

/// Opens the history database named by the plan, applying migrations, for
/// the engine and services (a pool of connections on PostgreSQL). The store
/// is checkpointed when the command ends ([`checkpoint_on_exit`]): the
/// commands that open it this way are the ones that write.
pub async fn open_store(plan: &Plan) -> Result<Arc<dyn Store>, Failure> {
    refuse_read_only_history(plan)?;
    let store = open_store_with(plan, Connections::Pool).await?;
    checkpoint_on_exit(store.clone());
    Ok(store)
}

/// Refuses, before anything is done, a command that records to a SQLite
/// history file this user cannot write, its folder writable (a read-only
/// folder is refused when the store opens, with what to do). SQLite said
/// only "attempt to write a readonly database", at the first write: after
/// a run's requests had been sent, or after `breakers reset` had waited.
/// Reports read such a file as they are.
pub fn refuse_read_only_history(plan: &Plan) -> Result<(), Failure> {
    let DatabaseLocation::Sqlite { path } = &plan.pipeline.database else {
        return Ok(());
    };
    // Opened for writing, nothing written: the system's own answer, which
    // also knows about ACLs and root.
    match std::fs::OpenOptions::new().write(true).open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Failure::Runtime(anyhow::anyhow!(
                "the history database {} is read-only for this user, and this command records to it; make the file writable (e.g. chmod u+w {}), or, to inspect it, copy it (and its -wal file, if any) to a writable folder",
                path.display(),
                crate::cmd::demo::invocation::shell_word(&path.to_string_lossy())
            )))
        }
        _ => Ok(()),
    }
}

/// The stores this process wrote to, checkpointed by [`finish`].
static WRITTEN: std::sync::Mutex<Vec<Arc<dyn Store>>> = std::sync::Mutex::new(Vec::new());

/// Marks `store` as written by this command, so that [`finish`]
/// checkpoints it: a report command that changes a row (`breakers reset`,
/// `events ack`) opens the report store and says so here.
pub fn checkpoint_on_exit(store: Arc<dyn Store>) {
    // A poisoned lock only means another thread panicked while pushing;
    // the list itself is still a list.
    WRITTEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(store);
}

/// Run by `main` when a command has returned (not when the process is
/// killed): SQLite's WAL is moved into the database file and truncated,
/// so `rebound.db` alone holds the history and a file copy is a backup.
/// A failure is only logged: the command's own result stands.
pub async fn finish() {
    let stores = std::mem::take(
        &mut *WRITTEN
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    for store in stores {
        if let Err(error) = store.checkpoint().await {
            // The -wal may be empty (a read-only history), so this says
            // what stays where, not that anything recent is there.
            tracing::warn!(%error, "Could not checkpoint the history database; whatever its -wal file holds stays there until a later command moves it.");
        }
    }
}

/// Opens the history database for a command that runs a few queries one
/// after another and exits (`health`, `freshness`, `status`, `breakers`,
/// `quotas`, `lockouts`, the listing of `alerts`): one connection on
/// PostgreSQL (see [`Connections::One`]).
pub async fn open_report_store(plan: &Plan) -> Result<Arc<dyn Store>, Failure> {
    refuse_missing_history(plan, Missing::Folder)?;
    open_store_with(plan, Connections::One).await
}

/// How much of a SQLite history's path must be missing for a report to
/// refuse it ([`refuse_missing_history`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The file: for `purge`, which has nothing to do without one.
    File,
    /// Its folder too: nothing can have run there (a run makes both), so
    /// the path is wrong. When only the file is missing, reports describe
    /// an empty history, as before anything ran (`health` then says which
    /// datasets were never fresh).
    Folder,
}

/// Opening a SQLite file that is not there creates it (and its folders),
/// so a report on a `database` path with a typo created an empty history
/// and reported on it: `health` said HEALTHY. Such a path is an error
/// naming it instead, and nothing is created.
pub fn refuse_missing_history(plan: &Plan, missing: Missing) -> Result<(), Failure> {
    let DatabaseLocation::Sqlite { path } = &plan.pipeline.database else {
        return Ok(());
    };
    if path.exists() {
        return Ok(());
    }
    let folder_missing = path
        .parent()
        .is_some_and(|folder| !folder.as_os_str().is_empty() && !folder.exists());
    if missing == Missing::File || folder_missing {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "no history database at {}: nothing has run with this config yet, or its [pipeline] database path is wrong",
            path.display()
        )));
    }
    Ok(())
}

async fn open_store_with(plan: &Plan, connections: Connections) -> Result<Arc<dyn Store>, Failure> {
    let location = &plan.pipeline.database;
    // The whole message goes through the plan's redactor: a `${VAR}` may
    // be the URL's user, host or `?password=`, and the driver's own error
    // repeats the URL.
    let cannot_open = |error: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "{}",
            plan.redactor.redact(&format!(
                "cannot open history database {}: {error}",
                plan.database_display()
            ))
        )
    };
    // SQLite said "disk I/O error" of a folder or a device.
    if let DatabaseLocation::Sqlite { path } = location
        && path.exists()
        && !path.is_file()
    {
        let what = if path.is_dir() {
            "a folder"
        } else {
            "not a regular file"
        };
        return Err(Failure::Runtime(cannot_open(&format!(
            "{} is {what}; [pipeline] database names the SQLite file, e.g. \"sqlite://rebound.db\"",
            path.display()
        ))));
    }
    let store: Arc<dyn Store> = match location {
        DatabaseLocation::Sqlite { path } => Arc::new(
            rebound_storage_sqlite::SqliteStore::open(path)
                .await
                .map_err(|e| cannot_open(&e))?,
        ),
        DatabaseLocation::Postgres { url } => Arc::new(
            rebound_storage_postgres::PostgresStore::connect_with_timeout(
                url,
                None,
                connections,
                plan.pipeline.connect_timeout,
            )
            .await
            .map_err(|e| cannot_open(&e))?,
        ),
    };
    // A run whose process died (killed `rebound run`, crashed worker) is
    // closed as failed by the next command that opens the store, so
    // `status` and `health` say what happened instead of "running" forever.
    // Not fatal: the command's own work does not depend on it.
    let now = SystemClock.now();
    if let Err(error) = rebound_engine::liveness::close_dead_runs(store.as_ref(), now).await {
        tracing::warn!(%error, "Could not close the runs of processes that exited.");
    }
    Ok(store)
}

/// For commands a person waits on (`run`, `scrape`, `backfill`, `demo`):
/// retry waits are slept however long they are (up to each policy's
/// `max_retry_after`), because there is no scheduler to hand a stored retry
/// to. Only `rebound serve` stores long waits as scheduled work.
pub fn sleep_retries_inline(mut plan: Plan) -> Plan {
    plan.scheduler.max_inline_wait = std::time::Duration::MAX;
    plan
}

/// This machine's name for decision and lease owners (`host:pid:role`):
/// `HOSTNAME`, else `/etc/hostname`, else `localhost`. Read here because
/// only the CLI reads the environment; the service takes it as an input.
#[allow(clippy::disallowed_methods)] // the CLI is the one reader of the environment
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// Everything a run needs, on the system clock.
pub async fn engine(plan: Plan) -> Result<Engine, Failure> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    engine_with_clock(plan, clock).await
}

pub async fn engine_with_clock(plan: Plan, clock: Arc<dyn Clock>) -> Result<Engine, Failure> {
    let store = open_store(&plan).await?;
    engine_on(plan, store, clock)
}

/// An engine for a report command (`health`, `freshness`): it reads
/// calendars through the engine but runs no calls, so the store is
/// [`open_report_store`]'s.
pub async fn report_engine(plan: Plan, clock: Arc<dyn Clock>) -> Result<Engine, Failure> {
    let store = open_report_store(&plan).await?;
    engine_on(plan, store, clock)
}

fn engine_on(plan: Plan, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Engine, Failure> {
    let raw = RawStore::open(&plan.pipeline.raw_store)?;
    let fetcher = Fetcher::new(&plan, clock.clone())?;
    Ok(Engine::new(
        Arc::new(plan),
        store,
        raw,
        Arc::new(fetcher),
        clock,
    ))
}

/// Waits for the first Ctrl-C or SIGTERM and returns the shell's exit
/// status for it (128 + the signal's number): how `serve` and `simulate`
/// learn they are asked to stop. Where SIGTERM cannot be listened for,
/// only Ctrl-C is (and says so); where neither can, it never returns and
/// the signal ends the process as it would without a handler.
pub async fn stop_signal() -> i32 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                return tokio::select! {
                    _ = term.recv() => 143,
                    _ = tokio::signal::ctrl_c() => 130,
                };
            }
            Err(error) => {
                tracing::error!(%error, "Cannot listen for SIGTERM; only Ctrl-C stops this command.");
            }
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => 130,
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-vv` must reach every crate of the workspace: one left out would log
    /// nothing at debug, and a library would not be held at info.
    #[test]
    fn the_debug_filter_names_every_crate_of_the_workspace_and_no_library() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for entry in std::fs::read_dir(crates).expect("crates/") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy().replace('-', "_");
            let target = if name == "rebound_cli" {
                "rebound".to_string()
            } else {
                name
            };
            if target == "rebound_testkit" {
                continue;
            }
            assert!(OWN_TARGETS.contains(&target.as_str()), "{target}");
        }
        let filter = debug_filter();
        assert!(
            filter.starts_with("info,sqlx=debug,rebound=debug,"),
            "{filter}"
        );
        assert!(!filter.contains("async_nats"), "{filter}");
        tracing_subscriber::EnvFilter::try_new(&filter).expect("a valid filter");
    }
}
