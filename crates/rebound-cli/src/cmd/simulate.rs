//! `rebound simulate`: runs scenarios (built-in names or files) against the
//! reference pipeline or `-c CONFIG` on a simulated clock, and prints each
//! report (`rebound_simulate`), side by side with a comparison run for
//! `--compare FILE` or `--policy original`.
//!
//! Exit codes: 0 every target of the config's runs met, 1 a target missed
//! (the comparison's targets are shown, not judged), 2 bad input.

use crate::Failure;
use crate::output::{plural, table, when};
use chrono::NaiveDate;
use comfy_table::Cell;
use rebound_domain::duration::format_duration_coarse;
use rebound_simulate::{Options, Policy, Report, Scenario, SimulateError, builtin, simulate};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Scenarios to run: built-in names or scenario files (TOML); one with
    /// a `/` or ending in `.toml` is always a file. Without one, lists the
    /// built-ins.
    pub scenarios: Vec<String>,
    /// Simulate this many days (default: the scenario's own).
    #[arg(long)]
    pub days: Option<u32>,
    /// First simulated date, YYYY-MM-DD (default: the scenario's own; its
    /// faults move with it).
    #[arg(long, value_parser = crate::cmd::run::parse_date)]
    pub from: Option<NaiveDate>,
    /// Seed of the random draws (default: the scenario's own).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also run each scenario with this config and print both side by side.
    #[arg(long, value_name = "FILE")]
    pub compare: Option<PathBuf>,
    /// Also run each scenario with the original pipeline's policies (on the
    /// `--compare` config, else the same one) and print both side by side.
    #[arg(long, value_enum)]
    pub policy: Option<PolicyArg>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Keep each run's history and config in DIR (one subfolder per run
    /// when there are several), for `rebound status`, `health` and the
    /// dashboard.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Let the simulation's threads run on any CPU. By default they share
    /// one CPU, which is faster for its chain of hand-offs: the one the
    /// command starts on, or a free one when other simulations hold theirs;
    /// leave them free when running more simulations at once than CPUs.
    #[arg(long)]
    pub no_pin: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PolicyArg {
    /// 3 attempts at 2 s / 4 s, no jitter, Retry-After ignored, no breaker,
    /// no retry budget, no deadlines, one alert per failure.
    Original,
}

/// Where a run that keeps nothing writes its history: a memory-backed
/// folder with room to spare (`rebound_simulate::scratch`), unless the user
/// chose the temporary folder with `TMPDIR`.
#[allow(clippy::disallowed_methods)] // the CLI is the one reader of the environment
fn scratch() -> Option<PathBuf> {
    rebound_simulate::scratch::choose(std::env::var_os("TMPDIR").as_deref())
}

/// Where a run keeps its history under `--keep DIR`: DIR itself, or
/// DIR/SCENARIO-VARIANT when the command makes several runs.
fn kept_in(dir: &Path, several: bool, scenario: &Scenario, variant: &Variant) -> PathBuf {
    if several {
        dir.join(format!("{}-{}", scenario.name, variant.label))
    } else {
        dir.to_path_buf()
    }
}

/// One run to make of each scenario.
struct Variant {
    label: &'static str,
    config: Option<PathBuf>,
    policy: Policy,
}

pub async fn simulate_cmd(
    config: &Path,
    config_given: bool,
    args: SimulateArgs,
) -> Result<ExitCode, Failure> {
    let keep = args.keep.clone();
    let mut all = Box::pin(simulate_all(config, config_given, args));
    tokio::select! {
        result = &mut all => result,
        code = crate::setup::stop_signal() => {
            // Dropping the runs (and the checks before them) drops their
            // temporary folders with them. Killed by the signal instead,
            // they left the history behind, which in memory (`/dev/shm`)
            // holds RAM until the machine restarts.
            drop(all);
            match keep {
                Some(dir) => crate::setup::say(&format!(
                    "rebound simulate: interrupted; what was written so far is in {}",
                    dir.display()
                )),
                None => crate::setup::say(
                    "rebound simulate: interrupted; its temporary history was removed",
                ),
            }
            std::process::exit(code);
        }
    }
}

async fn simulate_all(
    config: &Path,
    config_given: bool,
    args: SimulateArgs,
) -> Result<ExitCode, Failure> {
    if args.scenarios.is_empty() {
        return list_builtins(args.json);
    }
    if args.days == Some(0) {
        return Err(Failure::Usage(anyhow::anyhow!("--days must be at least 1")));
    }
    let mut scenarios = Vec::new();
    for name in &args.scenarios {
        // Read off the runtime's thread: a FIFO with no writer blocks in
        // `open`, and on this one-thread runtime the stop signal then went
        // unheard until a writer came.
        let arg = name.clone();
        let scenario = tokio::task::spawn_blocking(move || builtin::resolve(&arg))
            .await
            .map_err(|e| Failure::Usage(anyhow::anyhow!("reading {name}: {e}")))?
            .map_err(|e| Failure::Usage(anyhow::anyhow!(e)))?;
        // Checked before anything runs: a bad --from or --days for the
        // third scenario should not come after two finished runs.
        rebound_simulate::scenario::check_calendar(
            args.from.unwrap_or(scenario.from),
            args.days.unwrap_or(scenario.days),
        )
        .map_err(|e| Failure::Usage(anyhow::anyhow!("{name}: --from/--days: {e}")))?;
        scenarios.push(scenario);
    }
    // The config loader's "not found" hint names -c and REBOUND_CONFIG,
    // and its "it is a directory" names the path only: both name the flag.
    if let Some(file) = &args.compare {
        if !file.exists() {
            return Err(Failure::Usage(anyhow::anyhow!(
                "--compare {}: no such file",
                file.display()
            )));
        }
        if file.is_dir() {
            return Err(Failure::Usage(anyhow::anyhow!(
                "--compare {}: it is a folder, not a config file",
                file.display()
            )));
        }
    }
    if config_given {
        crate::setup::refuse_config_folder(config)?;
    }
    let config = config_given.then(|| config.to_path_buf());
    let mut variants = vec![Variant {
        label: "config",
        config: config.clone(),
        policy: Policy::AsWritten,
    }];
    if args.compare.is_some() || args.policy.is_some() {
        variants.push(Variant {
            label: if args.policy.is_some() {
                "original"
            } else {
                "compare"
            },
            config: args.compare.clone().or(config),
            policy: match args.policy {
                Some(PolicyArg::Original) => Policy::Original,
                None => Policy::AsWritten,
            },
        });
    }
    // Every config (the compared one included), then every scenario
    // against each, is checked before the first run: a bad --compare file
    // or a contradiction in the second scenario used to surface only after
    // the first scenario's run, whose report was then thrown away.
    let usage = |e: rebound_simulate::SimulateError| Failure::Usage(anyhow::anyhow!(e));
    for variant in &variants {
        let options = Options {
            config: variant.config.clone(),
            policy: variant.policy,
            from: args.from,
            days: args.days,
            transform_env: crate::setup::transform_env(),
            environment: Some(crate::setup::process_env),
            ..Options::default()
        };
        rebound_simulate::check_config(&options)
            .await
            .map_err(usage)?;
        // A scenario may fit one config and not the other: say which.
        let against = match (&args.compare, variant.label) {
            (Some(file), "compare" | "original") => {
                format!(
                    "\n(checked against the --compare config {})",
                    file.display()
                )
            }
            _ => String::new(),
        };
        for scenario in &scenarios {
            rebound_simulate::check(scenario, &options)
                .await
                .map_err(|e| Failure::Usage(anyhow::anyhow!("{e}{against}")))?;
        }
    }
    let several = scenarios.len() * variants.len() > 1;
    if let Some(dir) = &args.keep
        && several
    {
        // Each run keeps its history in DIR/<scenario>-<variant>: a name
        // given twice would find its folder taken after the first run.
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = scenarios.iter().find(|s| !seen.insert(s.name.as_str())) {
            return Err(Failure::Usage(anyhow::anyhow!(
                "--keep {}: two of the scenarios given are named {}, and both runs would keep their history in {}",
                dir.display(),
                twice.name,
                dir.join(format!("{}-config", twice.name)).display()
            )));
        }
    }
    // Every run's folder, before the first run writes anything.
    if let Some(dir) = &args.keep {
        for scenario in &scenarios {
            for variant in &variants {
                rebound_simulate::check_keep(&kept_in(dir, several, scenario, variant))
                    .map_err(usage)?;
            }
        }
    }
    let mut all_met = true;
    let mut json_out = Vec::new();
    for scenario in scenarios {
        let mut reports = Vec::new();
        for variant in &variants {
            let keep = args
                .keep
                .as_ref()
                .map(|dir| kept_in(dir, several, &scenario, variant));
            let options = Options {
                config: variant.config.clone(),
                policy: variant.policy,
                seed: args.seed,
                from: args.from,
                days: args.days,
                keep,
                scratch: scratch(),
                transform_env: crate::setup::transform_env(),
                environment: Some(crate::setup::process_env),
                ..Options::default()
            };
            // A run prints nothing until its report, which for a long
            // scenario is a minute or more of silence: say it started.
            // On stderr, so `--json` keeps stdout to the report.
            crate::setup::say(&starting_line(
                &scenario,
                variant,
                args.from,
                args.days,
                args.compare.as_deref(),
            ));
            let report = run_one(scenario.clone(), &options).await?;
            reports.push(report);
        }
        all_met &= reports[0].targets_met;
        if args.json {
            json_out.push(match reports.as_slice() {
                [one] => serde_json::to_value(one)?,
                [a, b] => json!({
                    "scenario": a.scenario,
                    "baseline": a,
                    "comparison": b,
                    "differences": differences(a, b),
                }),
                _ => Value::Null,
            });
        } else {
            match reports.as_slice() {
                [one] => print_report(one),
                [a, b] => print_comparison(a, b),
                _ => {}
            }
        }
    }
    if args.json {
        let value = match json_out.len() {
            1 => json_out.remove(0),
            _ => Value::Array(json_out),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    Ok(if all_met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The line printed as a run starts: the scenario, its simulated days,
/// and the config it runs against.
fn starting_line(
    scenario: &Scenario,
    variant: &Variant,
    from: Option<NaiveDate>,
    days: Option<u32>,
    compare: Option<&Path>,
) -> String {
    let days = days.unwrap_or(scenario.days);
    let from = from.unwrap_or(scenario.from);
    let config = match &variant.config {
        Some(file) if variant.label != "config" && compare.is_some() => {
            format!("the --compare config {}", file.display())
        }
        Some(file) => format!("the config {}", file.display()),
        None => "the reference pipeline".to_string(),
    };
    let policy = match variant.policy {
        Policy::Original => " with the original pipeline's policies",
        Policy::AsWritten => "",
    };
    format!(
        "simulating {}: {} from {from} ({config}{policy})…",
        crate::output::printable(&scenario.name),
        plural(u64::from(days), "day", "days"),
    )
}

async fn run_one(scenario: Scenario, options: &Options) -> Result<Report, Failure> {
    simulate(scenario, options).await.map_err(|e| match e {
        SimulateError::Prepare(_) | SimulateError::Scenario(_) | SimulateError::Usage(_) => {
            Failure::Usage(anyhow::anyhow!(e))
        }
        SimulateError::Failed { .. } => Failure::Runtime(anyhow::anyhow!(e)),
    })
}

fn list_builtins(json: bool) -> Result<ExitCode, Failure> {
    let mut rows = Vec::new();
    for name in builtin::names() {
        if let Some(Ok(s)) = builtin::load(name) {
            rows.push((s.name, s.description, s.from, s.days));
        }
    }
    if json {
        let list: Vec<Value> = rows
            .iter()
            .map(|(n, d, f, days)| json!({"name": n, "description": d, "from": f, "days": days}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        let mut t = table(&["scenario", "from", "days", "what it reproduces"]);
        for (n, d, f, days) in &rows {
            t.add_row(vec![
                n.clone(),
                f.to_string(),
                days.to_string(),
                crate::output::printable(d),
            ]);
        }
        println!("{t}");
        // The only one a person waits long enough on to wonder whether it
        // hangs (docs/simulate.md has the measured times).
        println!(
            "Each takes seconds, except full-season: a minute or more per run (--policy original makes two)."
        );
        println!("Run one: rebound simulate new-years-eve --policy original");
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: f64) -> String {
    let p = x * 100.0;
    // Enough digits that a rate just short of a target never reads as it.
    if (p != 0.0 && p.abs() < 0.1) || (p > 99.0 && p < 100.0) {
        format!("{p:.3}%")
    } else {
        format!("{p:.1}%")
    }
}

fn secs(s: Option<i64>) -> String {
    match s {
        None => "none".to_string(),
        Some(0) => "0s".to_string(),
        Some(s) => format_duration_coarse(Duration::from_secs(s.max(0) as u64)),
    }
}

/// What a figure's number is, for writing a difference.
#[derive(Clone, Copy)]
enum Unit {
    Count,
    Rate,
    Ratio,
    Seconds,
    Hours,
}

fn difference(unit: Unit, from: f64, to: f64) -> String {
    let d = to - from;
    if d.abs() < 1e-9 {
        return "same".to_string();
    }
    let sign = if d > 0.0 { "+" } else { "-" };
    match unit {
        Unit::Count => format!("{sign}{}", d.abs().round()),
        Unit::Rate => format!("{sign}{:.1} points", d.abs() * 100.0),
        Unit::Ratio => format!("{sign}{:.3}", d.abs()),
        Unit::Seconds => format!("{sign}{}", secs(Some(d.abs().round() as i64))),
        Unit::Hours => format!("{sign}{:.1}h", d.abs()),
    }
}

/// Runs by status; `other` (a run still marked running when the
/// simulation ended) only when there is one, so the parts add up to the
/// total.
fn runs_text(runs: &rebound_simulate::report::Runs) -> String {
    let mut text = format!(
        "{}: {} success, {} partial, {} failed, {} no_data",
        runs.total, runs.success, runs.partial, runs.failed, runs.no_data
    );
    if runs.other > 0 {
        text.push_str(&format!(", {} other", runs.other));
    }
    text
}

fn paid_off_text(paid_off: i64, retried: i64) -> String {
    format!(
        "{paid_off} of {}",
        plural(retried as u64, "retried call", "retried calls")
    )
}

/// A fault's attempts per call, with its calls ("1 call", not "1 calls").
fn fault_calls_text(attempts_per_call: Option<f64>, calls: i64) -> String {
    attempts_per_call.map_or("no calls".to_string(), |a| {
        format!("{a:.3} ({})", plural(calls as u64, "call", "calls"))
    })
}

/// The report's figures as (name, text for people, number to compare).
fn figures(r: &Report) -> Vec<(&'static str, String, Option<f64>, Unit)> {
    let runs = &r.runs;
    let past_sla: i64 = r.freshness.iter().map(|f| f.past_sla_seconds).sum();
    vec![
        (
            "runs",
            runs_text(runs),
            Some(runs.total as f64),
            Unit::Count,
        ),
        (
            "failure rate",
            pct(r.failure_rate),
            Some(r.failure_rate),
            Unit::Rate,
        ),
        (
            "partial rate",
            pct(r.partial_rate),
            Some(r.partial_rate),
            Unit::Rate,
        ),
        (
            "failures with a message",
            pct(r.error_message_coverage_rate),
            Some(r.error_message_coverage_rate),
            Unit::Rate,
        ),
        (
            "attempts per call",
            format!(
                "{:.3} ({} over {}{})",
                r.calls.attempts_per_call,
                plural(r.calls.attempts as u64, "attempt", "attempts"),
                plural(r.calls.total as u64, "call", "calls"),
                // Why the figure can be below 1: calls that made no
                // request count with 0 attempts.
                match r.calls.without_request {
                    0 => String::new(),
                    n => format!(", {n} of them made no request"),
                }
            ),
            Some(r.calls.attempts_per_call),
            Unit::Ratio,
        ),
        (
            "retries that paid off",
            paid_off_text(r.calls.retries_paid_off, r.calls.retried),
            Some(r.calls.retries_paid_off as f64),
            Unit::Count,
        ),
        (
            "later tries that paid off",
            format!(
                "{} of {} tried again later",
                r.calls.tried_again_paid_off,
                plural(
                    r.calls.tried_again_later as u64,
                    "failed or skipped call",
                    "failed or skipped calls"
                )
            ),
            Some(r.calls.tried_again_paid_off as f64),
            Unit::Count,
        ),
        (
            "refused by breakers",
            plural(r.calls.refused_by_breaker as u64, "call", "calls"),
            Some(r.calls.refused_by_breaker as f64),
            Unit::Count,
        ),
        (
            "refused by budgets",
            plural(r.calls.refused_by_budget as u64, "call", "calls"),
            Some(r.calls.refused_by_budget as f64),
            Unit::Count,
        ),
        (
            "first alert after fault",
            secs(r.alerts.first_alert_seconds),
            r.alerts.first_alert_seconds.map(|s| s as f64),
            Unit::Seconds,
        ),
        (
            "alerts sent",
            format!(
                "{} opened, {}, {} recovered",
                r.alerts.opened,
                plural(r.alerts.reminders as u64, "reminder", "reminders"),
                r.alerts.recovered
            ),
            Some((r.alerts.opened + r.alerts.reminders + r.alerts.recovered) as f64),
            Unit::Count,
        ),
        (
            "hours past freshness SLA",
            format!("{:.1}h over all datasets", past_sla as f64 / 3600.0),
            Some(past_sla as f64 / 3600.0),
            Unit::Hours,
        ),
        (
            "completeness",
            format!(
                "{} ({} of {} entities)",
                pct(r.completeness.completeness_rate),
                r.completeness.collected,
                r.completeness.expected
            ),
            Some(r.completeness.completeness_rate),
            Unit::Rate,
        ),
        (
            // Entities, not lines: a line of a fan-out that never listed
            // its entities stands for many ("2 entities" of 31 missing).
            "never collected",
            plural(
                (r.completeness.expected - r.completeness.collected).max(0) as u64,
                "entity",
                "entities",
            ),
            Some((r.completeness.expected - r.completeness.collected).max(0) as f64),
            Unit::Count,
        ),
    ]
}

fn header(r: &Report) {
    let tz = r.timezone();
    // The scenario's name is its file's, and the config's a path: either
    // may hold a control character, which reached the terminal as is.
    println!(
        "Scenario {}: {}\n{}, policy {}, seed {}; {} to {} ({}), simulated in {:.1}s",
        crate::output::printable(&r.scenario),
        crate::output::printable(&r.description),
        crate::output::printable(&r.config),
        r.policy,
        r.seed,
        when(r.started_at, tz),
        when(r.ended_at, tz),
        plural(u64::from(r.days), "day", "days"),
        r.elapsed_seconds
    );
    for warning in &r.warnings {
        println!("warning: {warning}");
    }
}

fn print_report(r: &Report) {
    header(r);
    let mut t = table(&["figure", "value"]);
    for (name, text, _, _) in figures(r) {
        t.add_row(vec![name.to_string(), text]);
    }
    println!("{t}");
    print_details(r);
}

fn print_details(r: &Report) {
    let tz = r.timezone();
    if !r.faults.is_empty() {
        let mut t = table(&[
            "fault",
            "start",
            "end",
            "requests hit",
            "attempts per call",
            "first alert",
        ]);
        for f in &r.faults {
            t.add_row(vec![
                format!("{}: {}", f.index, f.fault),
                when(f.start, tz),
                when(f.end, tz),
                f.requests_hit.to_string(),
                fault_calls_text(f.attempts_per_call, f.calls),
                secs(f.first_alert_seconds),
            ]);
        }
        println!("{t}");
    }
    let stale: Vec<_> = r
        .freshness
        .iter()
        .filter(|f| f.past_sla_seconds > 0)
        .collect();
    if !stale.is_empty() {
        let mut t = table(&["dataset", "past its freshness SLA"]);
        for f in stale {
            t.add_row(vec![
                f.dataset.clone(),
                format!("{:.1}h", f.past_sla_seconds as f64 / 3600.0),
            ]);
        }
        println!("{t}");
    }
    if !r.completeness.never_collected.is_empty() {
        let shown: Vec<&str> = r
            .completeness
            .never_collected
            .iter()
            .take(10)
            .map(String::as_str)
            .collect();
        let more = r
            .completeness
            .never_collected
            .len()
            .saturating_sub(shown.len());
        println!(
            "Never collected: {}{}",
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more (--json lists all)")
            } else {
                String::new()
            }
        );
    }
    for s in r
        .slots_run_twice
        .iter()
        .chain(&r.slots_skipped)
        .chain(&r.misdated_runs)
    {
        println!("slot problem: {s}");
    }
    print_targets(r);
    if let Some(dir) = &r.kept {
        let dir = crate::output::printable(dir);
        println!(
            "History kept in {dir}: rebound -c {dir}/rebound.toml status (or health --no-probe, alerts)"
        );
    }
    println!();
}

fn print_targets(r: &Report) {
    if r.targets.is_empty() {
        return;
    }
    let mut t = table(&["target", "wanted", "measured", "met"]);
    for target in &r.targets {
        t.add_row(vec![
            Cell::new(&target.target),
            Cell::new(&target.wanted),
            Cell::new(&target.measured),
            Cell::new(if target.met { "yes" } else { "MISSED" }),
        ]);
    }
    println!("{t}");
    let missed = r.targets.iter().filter(|t| !t.met).count();
    if missed > 0 {
        println!(
            "{} of {} missed on this run (see docs/simulate.md, \"Targets\").",
            plural(missed as u64, "target", "targets"),
            r.targets.len()
        );
    }
}

fn print_comparison(a: &Report, b: &Report) {
    header(a);
    println!(
        "compared with: {}, policy {}, simulated in {:.1}s",
        crate::output::printable(&b.config),
        b.policy,
        b.elapsed_seconds
    );
    // `--compare` runs a second config with the same policy: name the
    // columns by config then, not twice "as written".
    let (head_a, head_b) = column_heads(a, b);
    // The compared run's own warnings (a scraper it could not route, a
    // sink it could not simulate): only the first run's were printed, so
    // a compared config whose every call failed for want of a route read
    // as a worse policy. Those both runs share are printed once, above.
    for warning in b.warnings.iter().filter(|w| !a.warnings.contains(w)) {
        println!("warning ({head_b}): {warning}");
    }
    let mut t = table(&["figure", &head_a, &head_b, "difference"]);
    for ((name, ta, na, unit), (_, tb, nb, _)) in figures(a).into_iter().zip(figures(b)) {
        // A figure one side lacks (no alert at all) and one whose number
        // agrees but whose words do not ("7 of 7" and "7 of 8") differ
        // too: they read blank and "same".
        let diff = match (na, nb) {
            (Some(x), Some(y)) => match difference(unit, x, y) {
                same if same == "same" && ta != tb => "differs".to_string(),
                diff => diff,
            },
            (Some(_), None) => format!("none with {head_b}"),
            (None, Some(_)) => format!("none with {head_a}"),
            (None, None) => "same".to_string(),
        };
        t.add_row(vec![name.to_string(), ta, tb, diff]);
    }
    println!("{t}");
    println!("{head_a} ({}):", crate::output::printable(&a.config));
    print_details(a);
    println!("{head_b} ({}):", crate::output::printable(&b.config));
    print_details(b);
}

/// The two columns' heads: the policies when they differ, else which
/// config each column ran.
fn column_heads(a: &Report, b: &Report) -> (String, String) {
    if a.policy == b.policy {
        ("config".to_string(), "compared config".to_string())
    } else {
        (a.policy.clone(), b.policy.clone())
    }
}

/// The figures that differ: by number, by one side having none (`null`),
/// or by their words alone (`7 of 7` and `7 of 8` retried calls both
/// count 7 that paid off), each with both sides' words.
fn differences(a: &Report, b: &Report) -> Vec<Value> {
    figures(a)
        .into_iter()
        .zip(figures(b))
        .filter(|((_, ta, x, _), (_, tb, y, _))| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() > f64::EPSILON || ta != tb,
            (None, None) => ta != tb,
            _ => true,
        })
        .map(|((name, ta, x, _), (_, tb, y, _))| {
            json!({
                "figure": name.replace(' ', "_"),
                "baseline": x,
                "comparison": y,
                "baseline_text": ta,
                "comparison_text": tb,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_one_read_in_the_singular_and_runs_add_up() {
        assert_eq!(fault_calls_text(Some(1.0), 1), "1.000 (1 call)");
        assert_eq!(fault_calls_text(Some(0.5), 2), "0.500 (2 calls)");
        assert_eq!(fault_calls_text(None, 0), "no calls");
        assert_eq!(paid_off_text(1, 1), "1 of 1 retried call");
        assert_eq!(paid_off_text(0, 3), "0 of 3 retried calls");
        let mut runs = rebound_simulate::report::Runs {
            total: 5,
            success: 3,
            partial: 1,
            ..Default::default()
        };
        assert_eq!(
            runs_text(&runs),
            "5: 3 success, 1 partial, 0 failed, 0 no_data"
        );
        runs.other = 1;
        assert_eq!(
            runs_text(&runs),
            "5: 3 success, 1 partial, 0 failed, 0 no_data, 1 other"
        );
    }
}
