//! `rebound events`: the hand-off outbox. Lists completion events (by
//! state, by dataset glob), acknowledges them (`events ack ID...`), sends
//! what is pending (`events publish`) and prints the message's JSON Schema
//! (`events schema`), and re-emits past calls' events as replays (`events
//! replay`, rate limited). Also the bounded publish at the end of `rebound
//! run`, `scrape` and `backfill` ([`publish_at_end`]). See
//! `docs/handoff.md`.

use crate::{Failure, setup};
use anyhow::anyhow;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::handoff::glob_match;
use rebound_engine::Engine;
use rebound_storage::{AckResult, CompletionEventRow, EVENT_STATES, EventDelivery};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Events `rebound events` lists without `--limit`.
const DEFAULT_LIMIT: u32 = 50;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events in this state: pending, published, acknowledged, unacknowledged.
    #[arg(long)]
    pub state: Option<String>,
    /// Only events of datasets matching this glob (`*`, `?`).
    #[arg(long)]
    pub dataset: Option<String>,
    /// How many events to list: the newest that match, shown oldest first
    /// [default: 50].
    // An Option, not a clap default, so that a --limit given to a
    // subcommand it does not apply to is known to have been given.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: Option<u32>,
    /// Print JSON (one object per event, the message under `payload`) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<EventsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Acknowledge events as processed; an unknown id is reported and
    /// makes the exit code 1 (the others are still acknowledged).
    Ack {
        /// Event ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Send pending events to the [handoff] sinks now, waiting at most
    /// `[handoff] publish_wait`; exit 1 when some are still pending.
    Publish,
    /// Print the JSON Schema of the completion event message.
    Schema,
    /// Re-emit the stored events of past calls to the [handoff] sinks, as
    /// replays: new event ids, `delivery = "replay"`, `replay_of` naming
    /// the original. The outbox rows are not changed.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Datasets to replay: a name or glob (`*`, `?`).
    #[arg(long)]
    pub dataset: String,
    /// First target date of the calls (YYYY-MM-DD).
    #[arg(long, value_parser = crate::cmd::run::parse_date)]
    pub from: chrono::NaiveDate,
    /// Last target date of the calls (YYYY-MM-DD), included.
    #[arg(long, value_parser = crate::cmd::run::parse_date)]
    pub to: chrono::NaiveDate,
    /// Only calls with this status: success, no_data, failed, overdue.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this sink (default: every sink that wants the event).
    #[arg(long)]
    pub sink: Option<String>,
    /// Print what would be re-emitted and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// At most this many events a second (`N/s`) or minute (`N/m`), so a
    /// consumer is not flooded.
    #[arg(long, default_value = "50/s", value_parser = parse_rate)]
    pub rate: Rate,
}

/// `--rate`: events per period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
}

impl Rate {
    /// The pause between two sends.
    pub fn interval(self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(1.0 / self.per_second)
    }
}

/// Parses `N/s`, `N/m` or `N/h` (N a positive number, at most 10000/s).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let expected = "expected a rate like \"50/s\" or \"600/m\"";
    let (n, unit) = text
        .split_once('/')
        .ok_or_else(|| format!("{expected}, found \"{text}\""))?;
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("{expected}, found \"{text}\""))?;
    let seconds = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{expected}, found \"{text}\"")),
    };
    let per_second = n / seconds;
    if !n.is_finite() || n <= 0.0 || !(1.0 / 86_400.0..=10_000.0).contains(&per_second) {
        return Err(format!(
            "expected a rate above 0 and at most 10000/s, found \"{text}\""
        ));
    }
    Ok(Rate { per_second })
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn event_json(e: &CompletionEventRow) -> serde_json::Value {
    // The stored message is JSON the engine wrote; should it not parse, it
    // is shown as the text it is rather than hidden.
    let payload = serde_json::from_str::<serde_json::Value>(&e.payload)
        .unwrap_or_else(|_| serde_json::Value::String(e.payload.clone()));
    serde_json::json!({
        "event_id": e.event_id,
        "scraper_execution_id": e.scraper_execution_id,
        "created_at": ts(e.created_at),
        "dataset": e.dataset,
        "status": e.status,
        "state": e.state,
        "deliveries": e.deliveries,
        "redeliveries": e.redeliveries,
        "last_delivery_at": e.last_delivery_at.map(ts),
        "last_error": e.last_error,
        "acknowledged_at": e.acknowledged_at.map(ts),
        "sinks_done": e.sinks_done,
        "payload": payload,
    })
}

pub async fn events(config: &Path, args: EventsArgs) -> Result<ExitCode, Failure> {
    if let Some(command) = &args.command {
        refuse_listing_options(&args, command)?;
    }
    match args.command {
        Some(EventsCommand::Schema) => {
            let schema = rebound_engine::handoff::message_schema();
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(EventsCommand::Ack { ids }) => ack(config, &ids, args.json).await,
        Some(EventsCommand::Publish) => publish(config, args.json).await,
        // Its listing and progress are for a person watching; said, rather
        // than `--json` ignored and text printed to a script.
        Some(EventsCommand::Replay(_)) if args.json => Err(Failure::Usage(anyhow!(
            "--json: `events replay` prints no JSON; run it without --json (the replays' outcome is in its exit code)"
        ))),
        Some(EventsCommand::Replay(replay_args)) => replay(config, &replay_args).await,
        None => list(config, &args).await,
    }
}

/// The listing's filters given with a subcommand: `events --state pending
/// ack ID` acknowledged ID whatever its state, and `events --dataset X
/// publish` published every dataset's events. Refused, naming the option.
fn refuse_listing_options(args: &EventsArgs, command: &EventsCommand) -> Result<(), Failure> {
    let given = [
        ("--state", args.state.is_some()),
        ("--dataset", args.dataset.is_some()),
        ("--limit", args.limit.is_some()),
    ];
    let Some((option, _)) = given.iter().find(|(_, given)| *given) else {
        return Ok(());
    };
    let (name, instead) = match command {
        EventsCommand::Ack { .. } => ("ack", "it acknowledges the ids it is given"),
        EventsCommand::Publish => ("publish", "it sends every pending event"),
        EventsCommand::Schema => ("schema", "it prints the message's schema"),
        EventsCommand::Replay(_) => (
            "replay",
            "it takes its own --dataset, --from, --to and --status after `replay`",
        ),
    };
    Err(Failure::Usage(anyhow!(
        "{option} applies to listing events (`rebound events {option} …`), not to `events \
         {name}`: {instead}"
    )))
}

async fn list(config: &Path, args: &EventsArgs) -> Result<ExitCode, Failure> {
    if let Some(state) = &args.state
        && !EVENT_STATES.contains(&state.as_str())
    {
        return Err(Failure::Usage(anyhow!(
            "unknown --state {}; expected one of: {}",
            crate::output::quoted(state),
            EVENT_STATES.join(", ")
        )));
    }
    let plan = setup::load_report_plan(config)?.plan;
    if let Some(glob) = &args.dataset {
        usable_dataset_glob("--dataset", glob)?;
    }
    let store = setup::open_report_store(&plan).await?;
    let all = store
        .completion_events(args.state.as_deref(), u32::MAX)
        .await?;
    let matching: Vec<&CompletionEventRow> = all
        .iter()
        .filter(|e| {
            args.dataset
                .as_deref()
                .is_none_or(|g| glob_match(g, &e.dataset))
        })
        .collect();
    if let Some(glob) = &args.dataset {
        known_dataset_glob(&plan, "--dataset", glob, !matching.is_empty())?;
    }
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    let shown = &matching[matching.len().saturating_sub(limit as usize)..];
    if args.json {
        let rows: Vec<_> = shown.iter().map(|e| event_json(e)).collect();
        println!(
            "{}",
            plan.redactor
                .redact_string(&serde_json::to_string_pretty(&rows)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if shown.is_empty() {
        println!("no completion events");
        return Ok(ExitCode::SUCCESS);
    }
    let tz = plan.pipeline.timezone;
    let mut t = crate::output::table(&[
        "event id",
        "state",
        "dataset",
        "status",
        "created",
        "deliveries",
        "last error",
    ]);
    for e in shown {
        t.add_row(vec![
            e.event_id.clone(),
            e.state.clone(),
            e.dataset.clone(),
            e.status.clone(),
            crate::output::when(e.created_at, tz),
            e.deliveries.to_string(),
            e.last_error.clone().unwrap_or_default(),
        ]);
    }
    let mut out = format!("{t}\n");
    if matching.len() > shown.len() {
        out.push_str(&format!(
            "({} not shown; --limit N shows more)\n",
            crate::output::plural(
                (matching.len() - shown.len()) as u64,
                "older event",
                "older events"
            )
        ));
    }
    print!("{}", plan.redactor.redact_string(&out));
    Ok(ExitCode::SUCCESS)
}

/// What `--dataset` takes: a dataset name, or a glob of names (`*` any
/// run of characters, `?` one; every other character, `[` included,
/// stands for itself).
const DATASET_GLOB: &str = "a dataset name, or a glob of names with * (any characters) and ? (one character); other characters, [ included, match themselves";

/// Refuses a `--dataset` no dataset name can match: empty, or holding a
/// control character (the config refuses those in names).
fn usable_dataset_glob(flag: &str, glob: &str) -> Result<(), Failure> {
    let why = if glob.trim().is_empty() {
        "is empty"
    } else if glob.chars().any(char::is_control) {
        "holds a control character, which no dataset name has"
    } else {
        return Ok(());
    };
    Err(Failure::Usage(anyhow!(
        "{flag} {} {why}; expected {DATASET_GLOB}",
        crate::output::quoted(glob)
    )))
}

/// Refuses a `--dataset` that names no dataset of the config and no stored
/// event (a typo listed nothing, as if the dataset had no events). One
/// that matches only stored events (a dataset since removed from the
/// config) is shown, with a note.
fn known_dataset_glob(
    plan: &rebound_domain::plan::Plan,
    flag: &str,
    glob: &str,
    stored: bool,
) -> Result<(), Failure> {
    let datasets: std::collections::BTreeSet<&str> =
        plan.scrapers.values().map(|s| s.dataset.as_str()).collect();
    if datasets.iter().any(|d| glob_match(glob, d)) {
        return Ok(());
    }
    if stored {
        eprintln!(
            "note: {flag} {} matches no dataset of the config, only stored events of datasets it no longer has",
            crate::output::quoted(glob)
        );
        return Ok(());
    }
    const SHOWN: usize = 20;
    let names: Vec<&str> = datasets.iter().take(SHOWN).copied().collect();
    let more = datasets.len().saturating_sub(SHOWN);
    Err(Failure::Usage(anyhow!(
        "{flag} {}: no such dataset: it matches none of the config's datasets ({}{}) and no stored event; expected {DATASET_GLOB}",
        crate::output::quoted(glob),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        },
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )))
}

async fn ack(config: &Path, ids: &[String], json: bool) -> Result<ExitCode, Failure> {
    // An empty id names no event: it read "unknown event : no such event",
    // exit 1, as if one had been looked up (a script's unset variable).
    if let Some(at) = ids.iter().position(String::is_empty) {
        return Err(Failure::Usage(anyhow!(
            "events ack: id {} of {} is empty; give the event ids to acknowledge (rebound events lists them)",
            at + 1,
            ids.len()
        )));
    }
    let plan = setup::load_report_plan(config)?.plan;
    setup::refuse_read_only_history(&plan)?;
    let store = setup::open_report_store(&plan).await?;
    // A write: the database file alone must hold it after exit.
    setup::checkpoint_on_exit(store.clone());
    let results = store.ack_events(ids, SystemClock.now()).await?;
    // An id that matches no event (a typo, or purged by retention) is
    // reported with the others, and the exit code says not all were
    // acknowledged: 0 let a script take a mistyped id for done.
    let exit = if results.contains(&AckResult::Unknown) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    if json {
        // One object per id given, in order.
        let rows: Vec<serde_json::Value> = ids
            .iter()
            .zip(results)
            .map(|(id, result)| {
                let result = match result {
                    AckResult::Acknowledged => "acknowledged",
                    AckResult::AlreadyAcknowledged => "already_acknowledged",
                    AckResult::Unknown => "unknown",
                };
                serde_json::json!({ "event_id": id, "result": result })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(exit);
    }
    for (id, result) in ids.iter().zip(results) {
        match result {
            AckResult::Acknowledged => println!("acknowledged {id}"),
            AckResult::AlreadyAcknowledged => println!("already acknowledged {id}"),
            AckResult::Unknown => println!(
                "unknown event {}: no such event; nothing done",
                crate::output::printable(id)
            ),
        }
    }
    Ok(exit)
}

async fn publish(config: &Path, json: bool) -> Result<ExitCode, Failure> {
    let plan = setup::load_handoff_plan(config)?;
    let store = setup::open_store(&plan).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let publisher = rebound_service::handoff::publisher(store, &plan, clock)?;
    let drained = publisher.drain(plan.handoff.publish_wait).await?;
    let code = if drained.left == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if json {
        let last_error = drained
            .last_error
            .as_deref()
            .filter(|_| drained.left > 0)
            .map(|e| plan.redactor.redact_string(e));
        let out = serde_json::json!({
            "published": drained.published,
            "pending": drained.left,
            "last_error": last_error,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(code);
    }
    println!(
        "published {}; {} still pending",
        crate::output::plural(drained.published as u64, "event", "events"),
        drained.left
    );
    if let Some(error) = &drained.last_error
        && drained.left > 0
    {
        println!("last error: {}", plan.redactor.redact_string(error));
    }
    Ok(code)
}

/// The stored message's `target_date`, for the dry-run listing.
fn target_date_of(payload: &str) -> String {
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("target_date")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

async fn replay(config: &Path, args: &ReplayArgs) -> Result<ExitCode, Failure> {
    if args.from > args.to {
        return Err(Failure::Usage(anyhow!(
            "--from {} is after --to {}",
            args.from,
            args.to
        )));
    }
    if let Some(status) = &args.status
        && !["success", "no_data", "failed", "overdue"].contains(&status.as_str())
    {
        return Err(Failure::Usage(anyhow!(
            "unknown --status {}; expected one of: success, no_data, failed, overdue",
            crate::output::quoted(status)
        )));
    }
    usable_dataset_glob("--dataset", &args.dataset)?;
    // Sinks are resolved only with their secrets set, so a dry run loads
    // them too: it says which sinks would get what.
    let mut plan = setup::load_handoff_plan(config)?;
    if let Some(name) = &args.sink
        && !plan.handoff.sinks.contains_key(name)
    {
        let known: Vec<&str> = plan.handoff.sinks.keys().map(String::as_str).collect();
        return Err(Failure::Usage(anyhow!(
            "unknown --sink {}; [handoff.sinks] has: {}",
            crate::output::quoted(name),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    if plan.handoff.sinks.is_empty() {
        return Err(Failure::Usage(anyhow!(
            "no [handoff.sinks] to replay to; outbox consumers read past events with SQL"
        )));
    }
    if let Some(name) = &args.sink {
        plan.handoff.sinks.retain(|n, _| n == name);
    }
    let store = if args.dry_run {
        setup::open_report_store(&plan).await?
    } else {
        setup::open_store(&plan).await?
    };
    let found = store
        .events_for_dates(args.from, args.to, args.status.as_deref())
        .await?;
    known_dataset_glob(
        &plan,
        "--dataset",
        &args.dataset,
        found.iter().any(|e| glob_match(&args.dataset, &e.dataset)),
    )?;
    // Each chosen event with the sinks that want it; events no chosen sink
    // wants are left out (and counted).
    let mut chosen: Vec<(&CompletionEventRow, Vec<String>)> = Vec::new();
    let mut unwanted = 0usize;
    for e in found
        .iter()
        .filter(|e| glob_match(&args.dataset, &e.dataset))
    {
        let sinks: Vec<String> = plan
            .handoff
            .sinks
            .values()
            .filter(|s| s.wants(&e.dataset, &e.status))
            .map(|s| s.name.clone())
            .collect();
        if sinks.is_empty() {
            unwanted += 1;
        } else {
            chosen.push((e, sinks));
        }
    }
    let skipped = if unwanted > 0 {
        format!(" ({unwanted} matching events no chosen sink takes were left out)")
    } else {
        String::new()
    };
    if args.dry_run {
        let mut out = format!(
            "{:<36}  {:<20}  {:<8}  {:<11}  SINKS\n",
            "REPLAY OF", "DATASET", "STATUS", "TARGET DATE"
        );
        for (e, sinks) in &chosen {
            out.push_str(&format!(
                "{:<36}  {:<20}  {:<8}  {:<11}  {}\n",
                e.event_id,
                e.dataset,
                e.status,
                target_date_of(&e.payload),
                sinks.join(", ")
            ));
        }
        out.push_str(&format!(
            "dry run: {} would be re-emitted as replays{skipped}; nothing sent\n",
            rebound_domain::message::plural(chosen.len() as u64, "event", "events")
        ));
        print!("{}", plan.redactor.redact_string(&out));
        return Ok(ExitCode::SUCCESS);
    }

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let publisher = rebound_service::handoff::publisher(store.clone(), &plan, clock.clone())?;
    use std::io::IsTerminal;
    let bar = indicatif::ProgressBar::new(chosen.len() as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} events  {elapsed_precise} (eta {eta})  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        // Off a terminal the bar would only litter logs.
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let interval = args.rate.interval();
    let started = clock.now();
    let (mut sent, mut failed) = (0usize, 0usize);
    let mut last_error = None;
    for (i, (e, _)) in chosen.iter().enumerate() {
        // Paced from the start, so slow posts do not add up to a slower
        // rate than asked, and a burst never exceeds it.
        let slot = rebound_domain::duration::add_saturating(
            started,
            interval.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX)),
        );
        let now = clock.now();
        if slot > now {
            clock.sleep((slot - now).to_std().unwrap_or_default()).await;
        }
        let (event_id, payload) =
            match rebound_engine::handoff::replay_message(&e.payload, &e.event_id) {
                Ok(replay) => replay,
                Err(error) => {
                    failed += 1;
                    last_error = Some(error);
                    bar.inc(1);
                    continue;
                }
            };
        let row = CompletionEventRow {
            event_id,
            payload,
            state: "pending".into(),
            deliveries: 0,
            redeliveries: 0,
            last_delivery_at: None,
            last_error: None,
            acknowledged_at: None,
            sinks_done: Vec::new(),
            ..(*e).clone()
        };
        // A refusal is tried twice more, a second apart: a replay is run
        // by a person who is watching, not left to a background retry.
        let mut delivered = false;
        let mut row = row;
        for attempt in 0..3 {
            if attempt > 0 {
                clock.sleep(std::time::Duration::from_secs(1)).await;
            }
            match publisher.deliver_once(&row).await {
                EventDelivery::Published { .. } => {
                    delivered = true;
                    break;
                }
                EventDelivery::Retry {
                    error, sinks_done, ..
                } => {
                    row.sinks_done = sinks_done;
                    last_error = Some(error);
                }
                EventDelivery::Held { .. } => {}
            }
        }
        if delivered {
            sent += 1;
        } else {
            failed += 1;
        }
        bar.set_message(format!("{sent} sent, {failed} failed"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "replayed {}; {failed} failed{skipped}",
        rebound_domain::message::plural(sent as u64, "event", "events")
    );
    if let Some(error) = last_error.filter(|_| failed > 0) {
        println!("last error: {}", plan.redactor.redact_string(&error));
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// How long the end-of-command drain waited, and why it stopped.
fn waited(
    elapsed: std::time::Duration,
    wait: std::time::Duration,
    next: Option<chrono::DateTime<chrono::Utc>>,
    tz: chrono_tz::Tz,
) -> String {
    let seconds = format!("{:.1}s", elapsed.as_secs_f64());
    let wait_text = rebound_domain::duration::format_duration(wait);
    match next {
        Some(next) if elapsed < wait => format!(
            "{seconds} (the next retry, at {}, is past publish_wait {wait_text})",
            crate::output::when(next, tz)
        ),
        _ => format!("{seconds} (publish_wait {wait_text})"),
    }
}

/// After `rebound run`, `scrape` or `backfill` recorded their calls: sends
/// their events (and any left from before) for at most `[handoff]
/// publish_wait`. Never changes the command's outcome: what is left is
/// said on stderr and sent by `rebound serve` or `rebound events publish`.
pub async fn publish_at_end(engine: &Engine) {
    let plan = engine.plan();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let publisher = match rebound_service::handoff::publisher(engine.store().clone(), plan, clock) {
        Ok(publisher) => publisher,
        Err(error) => {
            eprintln!(
                "hand-off: events not published now ({error}); `rebound events publish` sends them"
            );
            return;
        }
    };
    let started = std::time::Instant::now();
    match publisher.drain(plan.handoff.publish_wait).await {
        Ok(drained) if drained.left == 0 => {}
        Ok(drained) => eprintln!(
            "hand-off: {} still pending after {}{}; `rebound serve` or `rebound events publish` sends them",
            crate::output::plural(drained.left as u64, "completion event", "completion events"),
            // The drain stops early when the next retry falls past
            // publish_wait; it used to claim the whole wait.
            waited(
                started.elapsed(),
                plan.handoff.publish_wait,
                drained.next_attempt_at,
                plan.pipeline.timezone
            ),
            drained
                .last_error
                .map(|e| format!(" (last error: {})", plan.redactor.redact_string(&e)))
                .unwrap_or_default()
        ),
        Err(error) => eprintln!(
            "hand-off: events not published now ({}); `rebound events publish` sends them",
            plan.redactor.redact_string(&error.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Before: "still pending after 3s" when the drain had stopped after
    /// about a second because the next retry fell past the wait.
    #[test]
    fn the_drain_says_how_long_it_waited_and_why_it_stopped() {
        let tz = chrono_tz::UTC;
        let next = "2026-11-28T15:00:05Z".parse().ok();
        assert_eq!(
            waited(
                Duration::from_millis(1_060),
                Duration::from_secs(3),
                next,
                tz
            ),
            "1.1s (the next retry, at 2026-11-28 15:00 UTC (+00:00), is past publish_wait 3s)"
        );
        assert_eq!(
            waited(
                Duration::from_millis(3_020),
                Duration::from_secs(3),
                next,
                tz
            ),
            "3.0s (publish_wait 3s)"
        );
    }
}
