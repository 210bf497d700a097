//! `rebound demo`: what Rebound is for, in a few seconds, with no config,
//! network or service. Starts the simulated NBA upstream and a webhook
//! receiver on loopback ports, writes a demo config into a working folder
//! and plays two hours of a pipeline's life on a manual clock (no waiting;
//! the story ends at the present, so `rebound health` afterwards agrees):
//!
//! 1. every workflow once: retries (429 + Retry-After, a 503 burst), a
//!    timeout, a 404, "no data", and a fan-out "x of N";
//! 2. the BallDontLie API goes down: `live_box_scores` fails, trips the
//!    source's breaker, is refused without a request, then a probe
//!    succeeds and the breaker closes; the alerts open and recover, as the
//!    webhook receiver got them;
//! 3. two hours on, the player props have gone stale (another alert);
//!
//! then the completion events the calls left in the hand-off outbox, and
//! `rebound health`'s verdict. `rebound demo upstream` serves the upstream
//! again for the written config ([`upstream`]); the printed commands suit
//! the way the binary was started ([`invocation`]).

pub(crate) mod invocation;
mod upstream;

use crate::{Failure, output, setup};
use anyhow::Context;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use clap::{Args, Subcommand};
use invocation::Invocation;
use rebound_clock::SystemClock;
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::duration::format_duration;
use rebound_domain::plan::Plan;
use rebound_engine::{CallReport, Engine, RunReport};
use rebound_health::{Inputs, build_report};
use rebound_service::observe::EngineCalendars;
use rebound_storage::{AttemptRow, Store};
use rebound_upstream_sim::{DemoConfig, UpstreamSim, WebhookReceiver, demo_config_with};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// Working folder for the demo config, database and raw payloads.
    #[arg(long, default_value = "rebound-demo")]
    pub dir: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// After the story, keep serving the dashboard (and the API) on the
    /// demo's database, on a loopback port, until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// The loopback port of --serve; 0 lets the system pick a free one.
    #[arg(long, requires = "serve", default_value_t = 0)]
    pub port: u16,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Serve the simulated upstream on its own (until Ctrl-C), so the demo's
    /// config can be run again.
    Upstream(upstream::UpstreamArgs),
}

/// How long the story lasts on the manual clock; it starts this long (and
/// a minute) before now, so it ends just before the present.
const STORY: TimeDelta = TimeDelta::minutes(120);
/// How often `live_box_scores` polls during the outage.
const POLL: TimeDelta = TimeDelta::minutes(10);
/// The alert sink path on the receiver.
const ALERTS_PATH: &str = "/alerts";

pub async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    match args.command {
        Some(DemoCommand::Upstream(upstream)) => upstream::upstream(upstream).await,
        None => run_demo(&args.dir, args.json, args.serve.then_some(args.port)).await,
    }
}

/// Everything the story prints, collected for `--json` too.
struct Story {
    json: bool,
    tz: chrono_tz::Tz,
    runs: Vec<serde_json::Value>,
    alerts_seen: usize,
    alerts: Vec<serde_json::Value>,
    transitions_seen: usize,
    transitions: Vec<serde_json::Value>,
}

impl Story {
    fn say(&self, text: &str) {
        if !self.json {
            println!("{text}");
        }
    }

    fn at(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format("%H:%M %Z").to_string()
    }
}

/// The first line of every config the demo writes: how a rerun knows the
/// folder is the demo's own.
const DEMO_CONFIG_MARK: &str = "# Rebound demo:";
/// What the demo writes besides its config (the SQLite files and the raw
/// folder of `database = "sqlite://rebound.db"`, `raw_store = "file://raw"`).
const DEMO_OUTPUTS: [&str; 5] = [
    "rebound.db",
    "rebound.db-wal",
    "rebound.db-shm",
    "rebound.db-lock",
    "raw",
];

/// Each run tells the same story from an empty history: a rerun on top of
/// the last one would start its clock before the last one ended (alerts
/// already open, breakers already tripped, payloads unchanged). So the
/// previous demo's outputs go, but only from a folder whose config is the
/// demo's (other files there are left alone). Any other folder that holds
/// anything is refused, nothing in it touched: `--dir .` in a project
/// wrote the demo's rebound.toml, rebound.db and raw/ among its files.
/// Returns whether an earlier demo was replaced.
fn fresh_folder(dir: &Path) -> Result<bool, Failure> {
    let config = dir.join("rebound.toml");
    // Only its first line matters; a device in its place is not read on.
    let ours = rebound_config::read_at_most(&config, 1 << 20)
        .ok()
        .flatten()
        .is_some_and(|bytes| bytes.starts_with(DEMO_CONFIG_MARK.as_bytes()));
    let present: Vec<PathBuf> = DEMO_OUTPUTS
        .iter()
        .map(|name| dir.join(name))
        .filter(|p| p.exists())
        .collect();
    if !ours {
        const SHOWN: usize = 3;
        let mut held: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| output::printable(&e.file_name().to_string_lossy()))
                    .take(SHOWN + 1)
                    .collect()
            })
            .unwrap_or_default();
        if !held.is_empty() {
            held.sort();
            if held.len() > SHOWN {
                held[SHOWN] = "…".into();
            }
            return Err(Failure::Usage(anyhow::anyhow!(
                "{} holds files that are not the demo's ({}); the demo writes into a new or empty folder, or an earlier demo's; choose another --dir",
                dir.display(),
                held.join(", ")
            )));
        }
    }
    for path in &present {
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
        removed.with_context(|| format!("cannot remove the previous demo's {}", path.display()))?;
    }
    Ok(!present.is_empty())
}

/// `serve`: the port of `--serve` (0: any free one), `None` without it.
async fn run_demo(dir: &Path, json: bool, serve: Option<u16>) -> Result<ExitCode, Failure> {
    // A file or a device (`--dir /dev/null`) read "cannot create demo
    // folder /dev/null: File exists (os error 17)", exit 1.
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::Usage(anyhow::anyhow!(
            "--dir {}: not a folder; the demo writes into a new or empty folder, or an earlier demo's",
            dir.display()
        )));
    }
    // SQLite takes a UTF-8 file name: a folder named otherwise was created
    // and given its config, then opening the history failed (exit 1).
    if dir.to_str().is_none() {
        return Err(Failure::Usage(anyhow::anyhow!(
            "--dir {}: the folder's name is not UTF-8, which the history database's file name must be; choose another",
            dir.display()
        )));
    }
    // Before any of the story's work (a port in use failed the command
    // only after the whole story had run and replaced the folder's
    // history), and held until the dashboard binds it.
    let reserved = match serve {
        Some(port) => reserve_port(port)?,
        None => None,
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create demo folder {}", dir.display()))?;
    let replaced = fresh_folder(dir)?;
    let sim = UpstreamSim::start()
        .await
        .context("cannot start the simulated upstream")?;
    let receiver = WebhookReceiver::start_on(0)
        .await
        .context("cannot start the webhook receiver")?;
    let invocation = Invocation::detect();
    let port = |url: &str| url.rsplit(':').next().unwrap_or("0").to_string();
    let (sim_port, receiver_port) = (port(&sim.base_url()), port(&receiver.base_url()));
    let serve_command = invocation.command(&[
        "demo",
        "upstream",
        "--port",
        &sim_port,
        "--receiver-port",
        &receiver_port,
    ]);
    let config_path = dir.join("rebound.toml");
    let config = demo_config_with(&DemoConfig {
        base_url: sim.base_url(),
        alerts_url: Some(format!("{}{ALERTS_PATH}", receiver.base_url())),
        serve_command: Some(serve_command.clone()),
    });
    std::fs::write(&config_path, config)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let plan = setup::load_plan(&config_path)?;
    let database = plan.database_display();
    let raw_store = plan.pipeline.raw_store.display();
    let tz = plan.pipeline.timezone;

    // The story's clock: starts two hours ago (whole minutes, so times
    // read well) and only moves when told or when a retry waits.
    let start = (SystemClock.now() - STORY - TimeDelta::minutes(1))
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap_or_else(|_| SystemClock.now() - STORY);
    let manual = Arc::new(ManualClock::new(start));
    let clock: Arc<dyn Clock> = manual.clone();
    let engine = Arc::new(
        setup::engine_with_clock(setup::sleep_retries_inline(plan.clone()), clock.clone()).await?,
    );
    let alerts = rebound_service::alerts::alert_service(engine.clone(), clock.clone())?;
    let date = engine.today();
    sim.script_demo_faults();
    sim.script_demo_props_pending(date);

    let mut story = Story {
        json,
        tz,
        runs: Vec::new(),
        alerts_seen: 0,
        alerts: Vec::new(),
        transitions_seen: 0,
        transitions: Vec::new(),
    };
    story.say(&format!(
        "Simulated upstream at {} with scripted faults; alert webhook receiver at {}.\n\
         Two hours of a pipeline's life on a simulated clock (no waiting), from {} to now, for target date {date}.\n\
         Config written to {}{}\n",
        sim.base_url(),
        receiver.base_url(),
        story.at(start),
        crate::output::printable(&config_path.display().to_string()),
        if replaced {
            " (the previous demo's history there was removed: each run starts empty)"
        } else {
            ""
        }
    ));

    // 1. Every workflow once.
    story.say(&format!(
        "== {}  Every workflow once (faults: 429 + Retry-After, 503 burst, timeout, 404, not published yet, empty records, props not posted yet)\n",
        story.at(manual.now())
    ));
    let workflows = [
        "morning_operations",
        "betting_lines",
        "post_game_collection",
    ];
    for workflow in workflows {
        let report = run(&engine, workflow, date).await?;
        if !json {
            println!(
                "{}",
                run_table(engine.plan(), engine.store().as_ref(), &report).await?
            );
        }
        story.runs.push(output::run_json(&report));
    }
    evaluate(&alerts, &receiver, &mut story).await?;

    // 2. The outage, one live_box_scores run every POLL: two failed calls
    // open the breaker (DEMO_BREAKER_FAILURES) for DEMO_BREAKER_OPEN_MINUTES,
    // so the third poll is refused without a request and the fourth, after
    // the open period, is the probe; the upstream is back before it.
    const POLLS: u32 = 4;
    sim.script_demo_outage();
    let outage_start = start + POLL;
    manual_to(&manual, outage_start);
    story.say(&format!(
        "== {}  The BallDontLie API goes down (every request answers 503); live_box_scores runs every {}m",
        story.at(manual.now()),
        POLL.num_minutes()
    ));
    for n in 0..POLLS {
        let poll_at = outage_start + POLL * n as i32;
        if n == POLLS - 1 {
            let back_at = poll_at - POLL / 2;
            manual_to(&manual, back_at);
            sim.end_demo_outage();
            story.say(&format!(
                "{}  The BallDontLie API is back",
                story.at(back_at)
            ));
        }
        manual_to(&manual, poll_at);
        let report = run(&engine, "live_box_scores", date).await?;
        live_line(engine.plan(), engine.store().as_ref(), &report, &story).await?;
        story.runs.push(output::run_json(&report));
        transitions(engine.store().as_ref(), &mut story).await?;
        evaluate(&alerts, &receiver, &mut story).await?;
    }

    // 3. Time passes with no new props: the dataset goes stale.
    manual_to(&manual, start + STORY);
    story.say(&format!(
        "\n== {}  {} later: no new player props since the morning run",
        story.at(manual.now()),
        format_duration(STORY.to_std().unwrap_or_default())
    ));
    evaluate(&alerts, &receiver, &mut story).await?;

    // The hand-off outbox, published as `run` publishes at its end (and
    // `serve` as it goes): with no [handoff] sink, each event is marked
    // published at once, with no delivery.
    let publisher =
        rebound_service::handoff::publisher(engine.store().clone(), engine.plan(), clock.clone())?;
    publisher.drain(engine.plan().handoff.publish_wait).await?;
    let events = engine.store().completion_events(None, 10_000).await?;
    let events_json = print_events(&events, &story);

    // `rebound health`'s verdict at the story's end.
    let now = manual.now();
    let inputs = Inputs {
        plan: engine.plan(),
        store: engine.store().as_ref(),
        calendars: &EngineCalendars(&engine),
        // The demo's sources declare no `health` probe, so `rebound health`
        // sends none either: the verdicts agree.
        prober: None,
        now,
        since: now - TimeDelta::hours(24),
    };
    let mut report = build_report(&inputs).await?;
    report.alerts = rebound_alerts::open_incident_summaries(engine.store().as_ref()).await?;
    let rendered = crate::cmd::health::render(&report, tz);
    let verdict: Vec<&str> = rendered.lines().take_while(|l| !l.is_empty()).collect();
    let exit = report.level.exit_code();

    sim.shutdown().await;
    receiver.shutdown().await;
    let config_arg = config_path.to_string_lossy().into_owned();
    let next = [
        (
            invocation.command(&["-c", &config_arg, "health"]),
            "what is broken, since when and why",
        ),
        (
            invocation.command(&["-c", &config_arg, "alerts"]),
            "the incidents and the notifications sent",
        ),
        (
            invocation.command(&["-c", &config_arg, "status"]),
            "or query workflow_executions, scraper_execution_log, scraper_attempts with SQL",
        ),
        (
            invocation.command(&["simulate", "new-years-eve", "--policy", "original"]),
            "replay a real incident on the reference pipeline, against the original's policies",
        ),
    ];
    // Started before anything is printed, so the URL is in the output
    // (text and JSON) and a port in use fails the command at once.
    drop(reserved);
    let web = match serve {
        Some(port) => Some(serve_dashboard(&plan, engine.store().clone(), port).await?),
        None => None,
    };
    let dashboard = web
        .as_ref()
        .and_then(|h| h.local_addr())
        .map(|addr| format!("http://{addr}/"));
    if json {
        let mut value = serde_json::json!({
            "config": config_path.display().to_string(),
            "database": database,
            "raw_store": raw_store,
            "runs": story.runs,
            "breaker_transitions": story.transitions,
            "alerts_received": story.alerts,
            "completion_events": events_json,
            "health": { "level": report.level.as_str(), "exit_code": exit, "verdict": verdict },
            "next": next.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
            "serve_upstream": serve_command,
        });
        if let Some(url) = &dashboard {
            value["dashboard"] = serde_json::json!(url);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("\nrebound health (exit code {exit}):");
        for line in &verdict {
            println!("  {line}");
        }
        println!();
        println!("History database: {}", crate::output::printable(&database));
        println!("Raw payloads:     {}", crate::output::printable(&raw_store));
        println!("Upstream again:   {serve_command}   (the config's first lines say so too)");
        let width = next.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
        for (i, (command, why)) in next.iter().enumerate() {
            let label = if i == 0 { "Next:" } else { "     " };
            println!("{label} {command:<width$}   ({why})");
        }
        if let Some(url) = &dashboard {
            println!();
            println!(
                "Dashboard:        {url}   (the JSON API under {url}api/v1/; Ctrl-C stops it)"
            );
        }
    }
    if let Some(handle) = web {
        use std::io::Write as _;
        // Whoever reads the URL from a pipe needs it now, not at exit.
        let _ = std::io::stdout().flush();
        wait_for_stop().await;
        handle.stop().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--serve --port P`: P, bound on loopback before the story starts, so a
/// port in use fails the command at once, and nothing the story starts (its
/// upstream and receiver take free ports) can take P meanwhile. Released
/// just before the dashboard binds it. `None` for port 0, which any free
/// port answers.
fn reserve_port(port: u16) -> Result<Option<std::net::TcpListener>, Failure> {
    if port == 0 {
        return Ok(None);
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpListener::bind(addr)
        .map(Some)
        .map_err(|source| cannot_listen(port, addr, source))
}

/// The refusal of a `--port` that cannot be listened on.
fn cannot_listen(port: u16, addr: std::net::SocketAddr, source: std::io::Error) -> Failure {
    Failure::Runtime(anyhow::Error::new(source).context(format!(
        "--port {port}: cannot listen on {addr}: is another process using that port?"
    )))
}

/// `--serve`: the dashboard and the API on the demo's history, through
/// the same runtime as `rebound serve` in its web-only role: nothing is
/// scheduled, run or sent, so the finished story stays as it ended
/// (ages keep growing on the real clock, which the story ended at).
async fn serve_dashboard(
    plan: &Plan,
    store: Arc<dyn Store>,
    port: u16,
) -> Result<rebound_service::Handle, Failure> {
    let mut plan = plan.clone();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    plan.server.listen = Some(addr);
    let config = rebound_service::ServiceConfig {
        plan,
        role: rebound_service::Role::Web,
        workers: 1,
        host: setup::host_name(),
    };
    rebound_service::Service::start(config, store, Arc::new(SystemClock))
        .await
        .map_err(|error| match error {
            rebound_service::StartError::Listen { addr, source } => {
                cannot_listen(port, addr, source)
            }
            other => Failure::Runtime(other.into()),
        })
}

/// Returns at the first Ctrl-C (or SIGTERM, as a supervisor or a test
/// stops it).
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn manual_to(clock: &ManualClock, t: DateTime<Utc>) {
    let now = clock.now();
    if t > now {
        clock.advance((t - now).to_std().unwrap_or_default());
    }
}

async fn run(
    engine: &Engine,
    workflow: &str,
    date: chrono::NaiveDate,
) -> Result<RunReport, Failure> {
    engine
        .run_workflow(workflow, date, &BTreeMap::new())
        .await
        .map_err(|e| {
            if e.is_usage() {
                Failure::Usage(e.into())
            } else {
                Failure::Runtime(e.into())
            }
        })
}

/// The run's summary, with each call's attempts explained.
async fn run_table(plan: &Plan, store: &dyn Store, report: &RunReport) -> Result<String, Failure> {
    let c = report.counts;
    let mut out = format!(
        "workflow {} for {}: {} ({} succeeded, {} no data, {} failed, {} skipped)\n",
        report.workflow,
        report.target_date,
        report.status.as_str(),
        c.succeeded,
        c.no_data,
        c.failed,
        c.skipped,
    );
    let mut table = output::table(&["scraper", "status", "attempts", "reason"]);
    for call in &report.calls {
        let attempts = store.attempts_for_call(call.id).await?;
        table.add_row(vec![
            label(call),
            call.status.as_str().to_string(),
            attempts_text(plan, call, &attempts),
            reason(call),
        ]);
    }
    out.push_str(&format!("{table}\n"));
    for f in &report.fanout {
        out.push_str(&output::fanout_line(f));
    }
    Ok(out)
}

fn label(call: &CallReport) -> String {
    let extra: Vec<String> = call
        .params
        .iter()
        .filter(|(k, _)| !rebound_domain::template::BUILTIN_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={}", short_id(v)))
        .collect();
    if extra.is_empty() {
        call.scraper.clone()
    } else {
        format!("{} ({})", call.scraper, extra.join(", "))
    }
}

/// Long ids (the Odds API's 32 hex digits) cut to their first 8, enough
/// to tell a day's events apart on screen.
fn short_id(value: &str) -> String {
    if value.len() > 12 && value.chars().all(|c| c.is_ascii_hexdigit()) {
        format!("{}…", &value[..8])
    } else {
        value.to_string()
    }
}

fn records(n: usize) -> String {
    rebound_domain::message::plural(n as u64, "record", "records")
}

fn reason(call: &CallReport) -> String {
    match (&call.message, call.records) {
        (Some(message), _) => message.clone(),
        (None, Some(n)) if call.unchanged => format!("{}, unchanged", records(n)),
        (None, Some(n)) => records(n),
        (None, None) => String::new(),
    }
}

/// Why a call took the attempts it took:
/// `2 attempts: 429, waited 1s (Retry-After), 200`. One attempt is
/// `1 attempt: 200`; a call that sent nothing is `0`.
fn attempts_text(plan: &Plan, call: &CallReport, attempts: &[AttemptRow]) -> String {
    let attempts: Vec<&AttemptRow> = attempts.iter().filter(|a| a.page <= 1).collect();
    if attempts.is_empty() {
        return call.attempts.to_string();
    }
    let policy = plan.scrapers.get(&call.scraper).map(|s| &s.retry);
    let mut parts = Vec::new();
    for (i, a) in attempts.iter().enumerate() {
        if i > 0 {
            let waited = Duration::from_millis(a.delay_before_ms.max(0) as u64);
            let mut text = format!("waited {}", format_duration(waited));
            // Backoff never exceeds the policy's delay before this retry
            // (jitter only shortens it), so a longer wait after a 429 or
            // 503 is the server's Retry-After, which the fetcher heeds.
            let backoff_cap = policy.map(|p| p.base_delay(i as u32));
            let asked = matches!(attempts[i - 1].http_status, Some(429 | 503));
            if asked && backoff_cap.is_some_and(|cap| waited > cap) {
                text.push_str(" (Retry-After)");
            }
            parts.push(text);
        }
        parts.push(match (a.http_status, a.error_kind.as_deref()) {
            (Some(status), _) => status.to_string(),
            (None, Some(kind)) => kind.to_string(),
            (None, None) => a.outcome.clone(),
        });
    }
    let n = attempts.len();
    if n == 1 && !matches!(call.status.as_str(), "failed") {
        // One answer that settled it: the reason column says the rest.
        return "1".to_string();
    }
    format!(
        "{n} attempt{}: {}",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// One line per outage poll: when, the run's status, and its call.
async fn live_line(
    plan: &Plan,
    store: &dyn Store,
    report: &RunReport,
    story: &Story,
) -> Result<(), Failure> {
    // A call made while the breaker went half-open is its probe (the
    // transitions not printed yet are this run's).
    let mut rows = store.breaker_transitions(None, 100).await?;
    rows.reverse();
    let probed = rows
        .iter()
        .skip(story.transitions_seen)
        .any(|t| t.to_state == "half_open");
    let mut parts = Vec::new();
    for call in &report.calls {
        let attempts = store.attempts_for_call(call.id).await?;
        let what = if call.attempts == 0 {
            format!("no request sent: {}", call.message.as_deref().unwrap_or(""))
        } else if call.attempts == 1 && report.status.as_str() == "success" {
            format!(
                "1 attempt, HTTP {}{}",
                call.http_status.map_or("-".into(), |s| s.to_string()),
                if probed { " (the breaker's probe)" } else { "" }
            )
        } else {
            attempts_text(plan, call, &attempts)
        };
        parts.push(format!("{} {}: {what}", call.scraper, call.status.as_str()));
    }
    story.say(&format!(
        "{}  live_box_scores: {:<8} {}",
        story.at(report.started_at),
        report.status.as_str(),
        parts.join("; ")
    ));
    Ok(())
}

/// Prints the breaker transitions not printed yet (only `bdl`'s breaker
/// trips in the demo, but any that did would be news).
async fn transitions(store: &dyn Store, story: &mut Story) -> Result<(), Failure> {
    let mut rows = store.breaker_transitions(None, 100).await?;
    rows.reverse();
    for t in rows.iter().skip(story.transitions_seen) {
        story.say(&format!(
            "        breaker {}: {} → {} ({})",
            t.source_name, t.from_state, t.to_state, t.reason
        ));
        story.transitions.push(serde_json::json!({
            "source": t.source_name,
            "at": t.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "from_state": t.from_state,
            "to_state": t.to_state,
            "reason": t.reason,
        }));
    }
    story.transitions_seen = rows.len();
    Ok(())
}

/// One round of what `rebound serve`'s alert loops do, then what the
/// webhook receiver got from it.
async fn evaluate(
    alerts: &rebound_alerts::AlertService,
    receiver: &WebhookReceiver,
    story: &mut Story,
) -> Result<(), Failure> {
    alerts
        .evaluate_now()
        .await
        .map_err(|e| anyhow::anyhow!("evaluating the alert conditions: {e}"))?;
    alerts.deliverer.deliver_due().await?;
    let received = receiver.received();
    // One round's notifications are posted concurrently, so they arrive in
    // any order: told in a fixed one (by event, condition, subject), a
    // rerun tells the same story.
    let mut round: Vec<_> = received.iter().skip(story.alerts_seen).collect();
    round.sort_by_cached_key(|m| {
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap_or_default();
        ["event", "condition", "subject"].map(|k| v[k].as_str().unwrap_or_default().to_string())
    });
    for message in round {
        story.say(&format!(
            "        webhook received: {}",
            alert_text(&message.body)
        ));
        story.alerts.push(
            serde_json::from_str(&message.body)
                .unwrap_or_else(|_| serde_json::Value::String(message.body.clone())),
        );
    }
    story.alerts_seen = received.len();
    Ok(())
}

/// An alert notification as a person reads it: its `message` field, else
/// the body as received.
pub(crate) fn alert_text(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.to_string())
}

/// The events the calls left in the outbox, one line each.
fn print_events(
    events: &[rebound_storage::CompletionEventRow],
    story: &Story,
) -> Vec<serde_json::Value> {
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events {
        *states.entry(e.state.as_str()).or_default() += 1;
    }
    let states: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
    story.say(&format!(
        "\nCompletion events (the hand-off outbox, table completion_events): {} ({}); no [handoff] sink is configured, so each is marked published at once, with no delivery, and a consumer polls the table (docs/handoff.md)",
        events.len(),
        states.join(", ")
    ));
    let mut out = Vec::new();
    for e in events {
        let payload: serde_json::Value = serde_json::from_str(&e.payload).unwrap_or_default();
        let scraper = payload["scraper"].as_str().unwrap_or("?");
        let params: Vec<String> = payload["params"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !rebound_domain::template::BUILTIN_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={}", short_id(v.as_str().unwrap_or(""))))
            .collect();
        let who = if params.is_empty() {
            scraper.to_string()
        } else {
            format!("{scraper} ({})", params.join(", "))
        };
        story.say(&format!(
            "  {}  {:<8} {:<26} {:<42} {}",
            story.at(e.created_at),
            e.status,
            e.dataset,
            who,
            e.event_id
        ));
        out.push(serde_json::json!({
            "event_id": e.event_id,
            "created_at": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "dataset": e.dataset,
            "status": e.status,
            "state": e.state,
            "scraper": scraper,
        }));
    }
    out
}
