//! The `full-season` scenario end to end (issue 17 item 5): about 175
//! simulated days of the reference pipeline with every call recorded in
//! SQLite, timed on the wall clock. Prints the time and the report's
//! figures, and fails when a target of the scenario is missed.
//!
//! `cargo bench -p rebound-simulate --bench full_season` (release profile);
//! `-- --days N` simulates only the first N days, `--alert-every-minutes M`
//! evaluates alerts every M minutes away from faults, `--keep DIR` keeps
//! the history in DIR, `--log-queries` logs every statement with its time
//! to stderr. The figures are in
//! `docs/benchmarks.md`.

use rebound_simulate::{Options, builtin, simulate};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut days = None;
    let mut keep = None;
    let mut alert_every = rebound_simulate::runner::DEFAULT_ALERT_EVERY;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--days" => days = args.next().and_then(|d| d.parse().ok()),
            // Keeps the history, to read the queries' plans against it.
            "--keep" => keep = args.next().map(std::path::PathBuf::from),
            // Every statement with its time on stderr (sqlx's query log),
            // to count what a simulated day costs.
            "--log-queries" => {
                tracing_subscriber::fmt()
                    .with_env_filter(tracing_subscriber::EnvFilter::new("sqlx::query=debug"))
                    .with_writer(std::io::stderr)
                    .init();
            }
            // Alert rounds away from faults every N minutes (default 30):
            // shows what the rounds cost.
            "--alert-every-minutes" => {
                if let Some(m) = args.next().and_then(|m| m.parse::<u64>().ok()) {
                    alert_every = std::time::Duration::from_secs(m * 60);
                }
            }
            _ => {}
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let scenario = match builtin::load("full-season") {
        Some(Ok(s)) => s,
        _ => {
            eprintln!("the built-in full-season scenario does not load");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        days,
        alert_every,
        keep,
        ..Options::default()
    };
    let started = std::time::Instant::now();
    let report = match runtime.block_on(simulate(scenario, &options)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("full-season: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed();
    println!(
        "full-season: {} days, {} runs, {} calls, {} attempts, {} alerts sent in {:.1}s ({:.1} ms per simulated day)",
        report.days,
        report.runs.total,
        report.calls.total,
        report.calls.attempts,
        report.alerts.opened + report.alerts.reminders + report.alerts.recovered,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / f64::from(report.days.max(1)),
    );
    println!(
        "failure rate {:.4}, completeness {:.5} ({} of {} entities)",
        report.failure_rate,
        report.completeness.completeness_rate,
        report.completeness.collected,
        report.completeness.expected
    );
    let mut met = true;
    for target in &report.targets {
        println!(
            "target {}: wanted {}, measured {}: {}",
            target.target,
            target.wanted,
            target.measured,
            if target.met { "met" } else { "MISSED" }
        );
        met &= target.met;
    }
    if elapsed.as_secs_f64() >= 10.0 {
        println!("speed target (under 10 s): MISSED");
    }
    if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
