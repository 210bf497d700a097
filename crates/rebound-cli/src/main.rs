//! The `rebound` binary: the only place that reads argv and the
//! environment, sets up logging, picks the storage backend from the
//! database URL, and chooses exit codes (0: nothing failed; 1: something
//! failed or was skipped, or a run could not be recorded; 2: bad config
//! or usage).

mod cmd;
mod output;
mod setup;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Scheduled data collection that survives flaky APIs.
#[derive(Debug, Parser)]
#[command(name = "rebound", version, about)]
struct Cli {
    /// Config file.
    #[arg(
        short = 'c',
        long = "config",
        env = "REBOUND_CONFIG",
        default_value = "rebound.toml",
        global = true
    )]
    config: PathBuf,
    /// Log line format (logs go to stderr; level from RUST_LOG, default warn).
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    log_format: LogFormat,
    /// Colour in logs: auto (only when stderr is a terminal and NO_COLOR is
    /// unset), always or never.
    #[arg(long, value_enum, default_value_t = setup::Color::Auto, global = true)]
    color: setup::Color,
    /// Only errors in the logs (ignored when RUST_LOG is set).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More logs: -v info, -vv debug of Rebound's own crates and sqlx's
    /// statements (other libraries' debug lines, which Rebound cannot mask
    /// secrets in, need RUST_LOG; ignored when RUST_LOG is set).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a project: write a commented rebound.toml (and a .gitignore)
    /// into DIR that passes `rebound check`.
    Init(cmd::init::InitArgs),
    /// Run a workflow once.
    Run(cmd::run::RunArgs),
    /// Run one scraper once, outside any workflow.
    Scrape(cmd::run::ScrapeArgs),
    /// Validate the config and print a summary.
    Check(cmd::check::CheckArgs),
    /// Config file tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// List recent runs with their error messages.
    Status(cmd::status::StatusArgs),
    /// Run the example workflows against a built-in simulated upstream (no network, no config).
    Demo(cmd::demo::DemoArgs),
    /// Replay incidents (scenarios) against the config on a simulated
    /// clock and report what its policies did; without SCENARIO, list the built-ins.
    /// The config is the reference NBA pipeline unless -c or REBOUND_CONFIG
    /// names one (rebound.toml is not read by default here).
    Simulate(cmd::simulate::SimulateArgs),
    /// Run the scheduler and workers until stopped (SIGTERM or Ctrl-C).
    Serve(cmd::serve::ServeArgs),
    /// Show every decision the scheduler would make on a date (dry run).
    Plan(cmd::plan::PlanArgs),
    /// Run a workflow for each target date of a range; reruns skip dates already done.
    Backfill(cmd::backfill::BackfillArgs),
    /// List entities locked out after repeated no_data/failures (counts per
    /// scraper); `lockouts reset SCRAPER [ENTITY]` releases them.
    Lockouts(cmd::lockouts::LockoutsArgs),
    /// Show each source's request quota: used, limit, remaining, reset time, warning.
    Quotas(cmd::quotas::QuotasArgs),
    /// Show each source's circuit breaker; `breakers reset SOURCE` closes one.
    Breakers(cmd::breakers::BreakersArgs),
    /// List open alert incidents and recent notifications with their delivery status.
    Alerts(cmd::alerts::AlertsArgs),
    /// List completion events (the hand-off outbox); `events ack ID...`,
    /// `events publish`, `events schema`.
    Events(cmd::events::EventsArgs),
    /// What is broken, since when and why: sources, scrapers, workflows,
    /// datasets. Exit code 0 healthy, 1 warning, 2 critical, 3 unknown
    /// (config unreadable or database not opened).
    Health(cmd::health::HealthArgs),
    /// Age of each dataset's newest real change against its thresholds.
    Freshness(cmd::freshness::FreshnessArgs),
    /// Remove history and raw payloads older than `[pipeline] retention`,
    /// in small batches; `--dry-run` only shows what would go.
    Purge(cmd::purge::PurgeArgs),
    /// For benchmarks and demos: write synthetic history (runs, calls,
    /// attempts) into the config's database; refuses a database that
    /// already has history unless --force.
    GenerateHistory(cmd::generate::GenerateArgs),
    /// Write a consistent copy of the SQLite history database to FILE while
    /// it may be in use (`VACUUM INTO`); PostgreSQL: use pg_dump.
    Backup(cmd::backup::BackupArgs),
    /// Print a shell completion script: `rebound completions bash >
    /// ~/.local/share/bash-completion/completions/rebound`.
    Completions(cmd::completions::CompletionsArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a JSON Schema of the config file (for editors).
    Schema,
}

/// A failure that maps to an exit code.
pub(crate) enum Failure {
    /// Bad config or usage: exit 2.
    Usage(anyhow::Error),
    /// Anything else: exit 1.
    Runtime(anyhow::Error),
    /// `health` / `freshness` could not look (config unreadable, database
    /// not opened): exit 3, UNKNOWN in the monitoring-plugin convention
    /// their 0 / 1 / 2 follow, so a broken check is never read as
    /// "critical" about the pipeline.
    Unknown(anyhow::Error),
}

impl Failure {
    /// The same failure as [`Failure::Unknown`], for the monitoring commands.
    pub(crate) fn unknown(self) -> Failure {
        match self {
            Failure::Usage(e) | Failure::Runtime(e) | Failure::Unknown(e) => Failure::Unknown(e),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Runtime(error.into())
    }
}

/// Exit status of a command whose reader went away (`rebound plan | head`):
/// what a shell reports for a process ended by SIGPIPE (128 + 13).
pub(crate) const BROKEN_PIPE_EXIT: i32 = 141;

/// Exit status when the output cannot be written for another reason (a
/// full disk under `> file`): 1, or 3 (UNKNOWN) for the monitoring
/// commands, whose check then could not report. Set once the command is
/// known.
static OUTPUT_FAILED_EXIT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

/// `println!` panics when it cannot write, and Rust ignores SIGPIPE, so
/// `rebound plan | head` ended in a panic (exit 101), and so did any
/// command whose output went to a full disk. Resetting SIGPIPE would need
/// `unsafe` (forbidden here); instead a panic from a write to stdout or
/// stderr ends the process: quietly with 141 when the reader went away, as
/// a SIGPIPE would, and otherwise with a line saying why (where stderr
/// still takes one) and [`OUTPUT_FAILED_EXIT`]. What was recorded is
/// already committed.
fn exit_cleanly_on_output_failure() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if let Some(why) = message.strip_prefix("failed printing to std") {
            if message.contains("Broken pipe") {
                std::process::exit(BROKEN_PIPE_EXIT);
            }
            // `out: No space left on device (os error 28)`
            let stream = if why.starts_with("out") {
                "standard output"
            } else {
                "standard error"
            };
            let why = why.split_once(": ").map_or(why, |(_, why)| why);
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("error: cannot write to {stream}: {why}\n"),
            );
            std::process::exit(OUTPUT_FAILED_EXIT.load(std::sync::atomic::Ordering::Relaxed));
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    exit_cleanly_on_output_failure();
    let matches = match <Cli as clap::CommandFactory>::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => usage_error_exit(error),
    };
    // `simulate` runs the reference pipeline unless a config is named.
    let config_given =
        matches.value_source("config") != Some(clap::parser::ValueSource::DefaultValue);
    setup::set_config_origin(match matches.value_source("config") {
        Some(clap::parser::ValueSource::EnvVariable) => setup::ConfigOrigin::Env,
        Some(clap::parser::ValueSource::DefaultValue) => setup::ConfigOrigin::Default,
        _ => setup::ConfigOrigin::Flag,
    });
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if matches!(cli.command, Command::Health(_) | Command::Freshness(_)) {
        OUTPUT_FAILED_EXIT.store(3, std::sync::atomic::Ordering::Relaxed);
    }
    // `rebound::runs` is the one line per finished run of `rebound serve`
    // (workflow, target date, status, counts, duration): shown by default,
    // since a service that says nothing while it works looks stuck.
    // The demo tells every failure, retry and breaker trip in its own
    // words; its warnings on stderr would repeat them out of order in the
    // middle of its tables, so it logs errors only unless `-v` asks.
    let demo = matches!(cli.command, Command::Demo(_));
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) if demo => "error",
        // The simulated pipeline's own warnings are part of its report.
        (false, 0) if matches!(cli.command, Command::Simulate(_)) => "error",
        (false, 0) => "warn,rebound::runs=info",
        (false, 1) => "info",
        (false, _) => &setup::debug_filter(),
    };
    setup::init_logging(matches!(cli.log_format, LogFormat::Json), level, cli.color);
    // A simulation is one task chain on a virtual clock: every step waits
    // for the one before, so a second worker thread has nothing to run in
    // parallel, only wake-ups to pass across threads (docs/benchmarks.md
    // has the two side by side). Everything else keeps the multi-thread
    // runtime: `serve` runs its scheduler, workers and API side by side.
    // Held to the end of the process: it is the simulation's claim on its
    // CPU, which another simulation started meanwhile then passes over.
    let _pinned = match &cli.command {
        Command::Simulate(args) if !args.no_pin => {
            // Before the runtime exists, so its blocking threads, sqlx's
            // SQLite threads and transform processes all inherit the one
            // CPU (`rebound_simulate::pin` says why). Only a speed-up: a
            // machine that refuses it runs the same simulation unpinned.
            match rebound_simulate::pin::pin_to_a_free_cpu() {
                Ok(Some(pinned)) => {
                    tracing::debug!(
                        cpu = pinned.cpu,
                        shared = !pinned.claimed,
                        "the simulation runs on one CPU"
                    );
                    Some(pinned)
                }
                Ok(None) => None,
                Err(error) => {
                    tracing::info!(%error, "the simulation runs unpinned");
                    None
                }
            }
        }
        _ => None,
    };
    let runtime = if matches!(cli.command, Command::Simulate(_)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let result = match cli.command {
            Command::Init(args) => {
                cmd::init::init(args, config_given.then_some(cli.config.as_path()))
            }
            Command::Run(args) => cmd::run::run_workflow(&cli.config, args).await,
            Command::Scrape(args) => cmd::run::run_scraper(&cli.config, args).await,
            Command::Check(args) => cmd::check::check(&cli.config, args).await,
            Command::Config {
                command: ConfigCommand::Schema,
            } => cmd::check::schema(),
            Command::Status(args) => cmd::status::status(&cli.config, args).await,
            Command::Demo(args) => cmd::demo::demo(args).await,
            Command::Simulate(args) => {
                cmd::simulate::simulate_cmd(&cli.config, config_given, args).await
            }
            Command::Serve(args) => cmd::serve::serve(&cli.config, args).await,
            Command::Plan(args) => cmd::plan::plan(&cli.config, args).await,
            Command::Backfill(args) => cmd::backfill::run(&cli.config, args).await,
            Command::Lockouts(args) => cmd::lockouts::lockouts(&cli.config, args).await,
            Command::Quotas(args) => cmd::quotas::quotas(&cli.config, args).await,
            Command::Breakers(args) => cmd::breakers::breakers(&cli.config, args).await,
            Command::Alerts(args) => cmd::alerts::alerts(&cli.config, args).await,
            Command::Events(args) => cmd::events::events(&cli.config, args).await,
            Command::Health(args) => cmd::health::health(&cli.config, args).await,
            Command::Freshness(args) => cmd::freshness::freshness(&cli.config, args).await,
            Command::Purge(args) => cmd::purge::purge(&cli.config, args).await,
            Command::GenerateHistory(args) => cmd::generate::generate(&cli.config, args).await,
            Command::Backup(args) => cmd::backup::backup(&cli.config, args).await,
            Command::Completions(args) => cmd::completions::completions::<Cli>(args),
        };
        setup::finish().await;
        result
    });
    // Every message ends here, and many repeat what the user typed (an
    // unknown name, a bad value): its control characters are escaped, so an
    // escape sequence in an argument cannot drive the terminal. Line breaks
    // stay: a config error lists one problem per line. From the finished
    // text a line break inside a name cannot be told from one of those, so
    // a name's line breaks are escaped where its message is made (a config
    // problem, `EngineError`, `Plan::unknown_param`, `output::quoted`).
    let printable = |error: &anyhow::Error| {
        rebound_domain::message::escape_controls(&format!("{error:#}"), true)
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(error)) => {
            eprintln!("error: {}", printable(&error));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(error)) => {
            eprintln!("error: {}", printable(&error));
            ExitCode::from(1)
        }
        Err(Failure::Unknown(error)) => {
            eprintln!("UNKNOWN: {}", printable(&error));
            ExitCode::from(3)
        }
    }
}

/// clap's own errors (a bad value, an unknown argument) quote the argument
/// as given, and keep escape sequences in it when stderr is a terminal.
/// When an argument holds a control character, the error is printed
/// without clap's colours, its control characters escaped as in every
/// other message; otherwise clap prints it as usual (help and version
/// included).
fn usage_error_exit(error: clap::Error) -> ! {
    let controls =
        std::env::args_os().any(|arg| arg.to_string_lossy().chars().any(char::is_control));
    if !controls || !error.use_stderr() {
        error.exit()
    }
    // Rendered again without styles, so the text holds no escape sequence
    // but the argument's own (the plain `to_string` drops those, leaving
    // `invalid value ''`).
    let error = <Cli as clap::CommandFactory>::command()
        .styles(clap::builder::Styles::plain())
        .try_get_matches()
        .err()
        .unwrap_or(error);
    let text = error.render().ansi().to_string();
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        rebound_domain::message::escape_controls(&text, true).as_bytes(),
    );
    std::process::exit(error.exit_code())
}
