//! `rebound events`: the hand-off outbox. Lists completion events (by
//! state, by dataset glob), acknowledges them (`events ack ID...`), sends
//! what is pending (`events publish`) and prints the message's JSON Schema
//! (`events schema`). Also the bounded publish at the end of `rebound
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
use rebound_storage::{AckResult, CompletionEventRow, EVENT_STATES};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events in this state: pending, published, acknowledged, unacknowledged.
    #[arg(long)]
    pub state: Option<String>,
    /// Only events of datasets matching this glob (`*`, `?`).
    #[arg(long)]
    pub dataset: Option<String>,
    /// How many events to list: the newest that match, shown oldest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    /// Print JSON (one object per event, the message under `payload`) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<EventsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Acknowledge events as processed; unknown ids are reported, not an error.
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
        "last_delivery_at": e.last_delivery_at.map(ts),
        "last_error": e.last_error,
        "acknowledged_at": e.acknowledged_at.map(ts),
        "sinks_done": e.sinks_done,
        "payload": payload,
    })
}

pub async fn events(config: &Path, args: EventsArgs) -> Result<ExitCode, Failure> {
    match args.command {
        Some(EventsCommand::Schema) => {
            let schema = rebound_engine::handoff::message_schema();
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(EventsCommand::Ack { ids }) => ack(config, &ids).await,
        Some(EventsCommand::Publish) => publish(config).await,
        None => list(config, &args).await,
    }
}

async fn list(config: &Path, args: &EventsArgs) -> Result<ExitCode, Failure> {
    if let Some(state) = &args.state
        && !EVENT_STATES.contains(&state.as_str())
    {
        return Err(Failure::Usage(anyhow!(
            "unknown --state \"{state}\"; expected one of: {}",
            EVENT_STATES.join(", ")
        )));
    }
    let plan = setup::load_report_plan(config)?.plan;
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
    let shown = &matching[matching.len().saturating_sub(args.limit as usize)..];
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

async fn ack(config: &Path, ids: &[String]) -> Result<ExitCode, Failure> {
    let plan = setup::load_report_plan(config)?.plan;
    let store = setup::open_report_store(&plan).await?;
    let results = store.ack_events(ids, SystemClock.now()).await?;
    for (id, result) in ids.iter().zip(results) {
        match result {
            AckResult::Acknowledged => println!("acknowledged {id}"),
            AckResult::AlreadyAcknowledged => println!("already acknowledged {id}"),
            AckResult::Unknown => println!("unknown event {id}: no such event; nothing done"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn publish(config: &Path) -> Result<ExitCode, Failure> {
    let plan = setup::load_plan(config)?;
    let store = setup::open_store(&plan).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let publisher = rebound_service::handoff::publisher(store, &plan, clock)?;
    let drained = publisher.drain(plan.handoff.publish_wait).await?;
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
    Ok(if drained.left == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
    match publisher.drain(plan.handoff.publish_wait).await {
        Ok(drained) if drained.left == 0 => {}
        Ok(drained) => eprintln!(
            "hand-off: {} still pending after {}s{}; `rebound serve` or `rebound events publish` sends them",
            crate::output::plural(drained.left as u64, "completion event", "completion events"),
            plan.handoff.publish_wait.as_secs(),
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
