//! `rebound alerts`: the open incidents and the recent notifications with
//! their delivery status (what `rebound serve` sent, is retrying, gave up
//! on, or held back by a rate limit).

use crate::{Failure, output, setup};
use chrono::TimeDelta;
use clap::Args;
use rebound_alerts::format::duration;
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_storage::AlertIncidentRow;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Print JSON (`open`, `recent_incidents`, `notifications`) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// How many recent notifications to list.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Evaluate the alert conditions once and try to deliver due
    /// notifications before listing, as `rebound serve` does every
    /// `evaluate_every`: for pipelines run from cron (`rebound run`)
    /// rather than by `rebound serve`. Failed deliveries are retried by
    /// the next `--evaluate` (or by serve).
    #[arg(long)]
    pub evaluate: bool,
}
pub async fn alerts(config: &Path, args: AlertsArgs) -> Result<ExitCode, Failure> {
    // Evaluating builds health reports as `serve` does, probes included:
    // that needs the sources' secrets; listing needs none.
    let plan = if args.evaluate {
        setup::load_plan(config)?
    } else {
        setup::load_report_plan(config)?.plan
    };
    if args.evaluate {
        evaluate_once(plan.clone()).await?;
    }
    let store = setup::open_report_store(&plan).await?;
    let now = SystemClock.now();
    if args.json {
        // The same document as `GET /api/v1/alerts`.
        let report = rebound_service::api::reports::alerts(store.as_ref(), now, args.limit).await?;
        let out = serde_json::to_value(&report)?;
        println!(
            "{}",
            plan.redactor
                .redact_string(&serde_json::to_string_pretty(&out)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let open = store.open_alert_incidents().await?;
    let recent: Vec<AlertIncidentRow> = store
        .recent_alert_incidents(now - TimeDelta::days(7), 50)
        .await?
        .into_iter()
        .filter(|i| i.resolved_at.is_some())
        .collect();
    let notifications = store.recent_alerts(args.limit).await?;
    let tz = plan.pipeline.timezone;
    let mut out = String::new();
    if open.is_empty() {
        out.push_str("open incidents: none\n");
    } else {
        out.push_str(&format!("open incidents ({}):\n", open.len()));
        let mut t = output::table(&["level", "condition", "subject", "since", "for", "summary"]);
        for i in &open {
            // A grouped incident says what it is caused by: its notices
            // were not sent, the cause's were.
            let summary = match &i.caused_by {
                Some(cause) => format!("{} (caused by {cause}; not notified)", i.summary),
                None => i.summary.clone(),
            };
            t.add_row(vec![
                i.level.clone(),
                i.condition.clone(),
                i.subject.clone(),
                output::when(i.opened_at, tz),
                duration(now - i.opened_at),
                summary,
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    if !recent.is_empty() {
        out.push_str(&format!(
            "resolved in the last 7 days ({}):\n",
            recent.len()
        ));
        let mut t = output::table(&["condition", "subject", "resolved", "after"]);
        for i in &recent {
            if let Some(resolved) = i.resolved_at {
                t.add_row(vec![
                    i.condition.clone(),
                    i.subject.clone(),
                    output::when(resolved, tz),
                    duration(resolved - i.opened_at),
                ]);
            }
        }
        out.push_str(&format!("{t}\n"));
    }
    if notifications.is_empty() {
        out.push_str("notifications: none\n");
    } else {
        out.push_str(&format!(
            "notifications (newest {}):\n",
            notifications.len()
        ));
        let mut t = output::table(&[
            "time",
            "event",
            "condition",
            "subject",
            "sink",
            "status",
            "attempts",
            "error",
        ]);
        for a in &notifications {
            let status = match (a.delivery_status.as_str(), a.next_attempt_at) {
                ("pending", Some(next)) if a.attempts > 0 => {
                    format!("retry {}", output::when(next, tz))
                }
                (status, _) => status.to_string(),
            };
            t.add_row(vec![
                output::when(a.created_at, tz),
                a.event.clone(),
                a.condition.clone(),
                a.subject.clone(),
                a.sink.clone(),
                status,
                a.attempts.to_string(),
                a.last_error.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    print!("{}", plan.redactor.redact_string(&out));
    Ok(ExitCode::SUCCESS)
}

/// One round of what `rebound serve`'s alert loops do: build the health
/// report, open/remind/resolve incidents, post what is due. Says what it
/// did on stderr so stdout stays the listing (or JSON).
async fn evaluate_once(plan: rebound_domain::plan::Plan) -> Result<(), Failure> {
    let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(SystemClock);
    let engine = std::sync::Arc::new(setup::engine_with_clock(plan, clock.clone()).await?);
    let service = rebound_service::alerts::alert_service(engine, clock)?;
    let evaluation = service
        .evaluate_now()
        .await
        .map_err(|e| anyhow::anyhow!("evaluating the alert conditions: {e}"))?;
    let round = service.deliverer.deliver_due().await?;
    // Notices grouped under their cause are not the rate limits' doing:
    // they were counted as "held back by rate limits".
    let grouped = if evaluation.grouped > 0 {
        format!(", {} grouped under their cause", evaluation.grouped)
    } else {
        String::new()
    };
    eprintln!(
        "alerts evaluated: {} opened, {} resolved, {} ({} held back by rate limits{grouped}); delivered {}, to retry {}, given up {}",
        evaluation.opened,
        evaluation.resolved,
        rebound_domain::message::plural(evaluation.notices as u64, "notification", "notifications"),
        evaluation.suppressed,
        round.delivered,
        round.retried,
        round.failed
    );
    Ok(())
}
