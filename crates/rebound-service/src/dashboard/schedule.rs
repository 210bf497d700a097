//! `/schedule?date=YYYY-MM-DD`: one local day of the scheduler (today by
//! default): every decision on a timeline per workflow (RUN / SKIP /
//! ABORT, the reason on hover and in the table below), and the plan
//! against what ran: the runs `rebound plan` would decide that day (the
//! scheduler's dry run, on the stored calendars) beside the runs that
//! started that day.

use super::{Chrome, Problem, date_param, day_start, render, tone, when};
use crate::http::Web;
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use rebound_storage::{DecisionRow, RunFilter};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ScheduleQuery {
    date: Option<String>,
}

pub(crate) struct DecisionLine {
    pub time: String,
    pub workflow: String,
    pub action: String,
    pub tone: &'static str,
    pub slot: String,
    pub target_date: String,
    pub reason: String,
    pub link: String,
}

pub(crate) struct WorkflowDay {
    pub name: String,
    pub timeline: String,
    pub planned: Vec<String>,
    pub ran: Vec<(String, String, &'static str, String)>,
    pub decisions: usize,
}

#[derive(Template)]
#[template(path = "dashboard/schedule.html")]
pub(crate) struct SchedulePage {
    pub chrome: Chrome,
    pub date: String,
    pub previous: String,
    pub next: String,
    pub workflows: Vec<WorkflowDay>,
    pub decisions: Vec<DecisionLine>,
    pub plan_note: String,
}

pub(crate) async fn page(
    State(web): State<Arc<Web>>,
    uri: axum::http::Uri,
    query: Result<Query<ScheduleQuery>, QueryRejection>,
) -> Response {
    if let Some(refused) = super::unknown_param(&web, "schedule", &uri, &["date"]) {
        return refused;
    }
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => {
            return Problem::respond(
                &web,
                "schedule",
                StatusCode::BAD_REQUEST,
                rejection.body_text(),
            );
        }
    };
    let tz = web.engine.plan().pipeline.timezone;
    let now = web.clock.now();
    let date = match date_param("date", query.date.as_deref()) {
        Ok(Some(d)) => d,
        Ok(None) => now.with_timezone(&tz).date_naive(),
        Err(e) => return Problem::respond(&web, "schedule", StatusCode::BAD_REQUEST, e),
    };
    match build(&web, date, tz).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(detail) => {
            Problem::respond(&web, "schedule", StatusCode::INTERNAL_SERVER_ERROR, detail)
        }
    }
}

async fn build(web: &Web, date: NaiveDate, tz: Tz) -> Result<SchedulePage, String> {
    let engine = &web.engine;
    let plan = engine.plan();
    let store = engine.store().as_ref();
    let start = day_start(date, tz);
    let end = day_start(date + TimeDelta::days(1), tz);
    let decisions: Vec<DecisionRow> = store
        .decisions_between(None, start, end)
        .await
        .map_err(|e| e.to_string())?;

    // The dry run, on the calendars as stored (none stored: no events).
    let mut calendars = BTreeMap::new();
    let mut missing_calendars = Vec::new();
    let mut unreadable_calendars = Vec::new();
    let needed: BTreeSet<&String> = plan
        .workflows
        .values()
        .filter_map(|w| w.schedule.as_ref()?.calendar.as_ref())
        .collect();
    for name in needed {
        match engine.calendar_events(name).await {
            Ok(Some(data)) => {
                calendars.insert(name.clone(), data.events);
            }
            Ok(None) => {
                missing_calendars.push(name.clone());
                calendars.insert(name.clone(), Vec::new());
            }
            // A payload that cannot be read (gone from the raw store, not
            // JSON) read "No stored events", as if none had been fetched:
            // the page says why instead, and still plans without it.
            Err(error) => {
                let error = error.to_string();
                // The engine's words often name the calendar already.
                let why = error
                    .strip_prefix(&format!("calendar {name}: "))
                    .unwrap_or(&error)
                    .to_string();
                unreadable_calendars.push((name.clone(), why));
                calendars.insert(name.clone(), Vec::new());
            }
        }
    }
    let (planned, plan_note) = match rebound_schedule::simulate_day(plan, date, &calendars) {
        Ok(p) => {
            let mut notes = Vec::new();
            if !missing_calendars.is_empty() {
                notes.push(format!(
                    "No stored events for calendar {}: the plan assumes none.",
                    missing_calendars.join(", ")
                ));
            }
            for (name, why) in &unreadable_calendars {
                notes.push(format!(
                    "The stored events of calendar {name} could not be read ({why}): the plan assumes none."
                ));
            }
            (p, notes.join(" "))
        }
        Err(e) => (
            Vec::new(),
            format!("The plan for {date} could not be made: {e}"),
        ),
    };

    let mut workflows = Vec::new();
    for (name, workflow) in &plan.workflows {
        let theirs: Vec<&DecisionRow> = decisions
            .iter()
            .filter(|d| &d.workflow_name == name)
            .collect();
        let runs = store
            .workflow_executions_page(
                &RunFilter {
                    workflow: Some(name.clone()),
                    from: Some(start),
                    to: Some(end),
                    ..RunFilter::default()
                },
                super::runs::LIMIT,
            )
            .await
            .map_err(|e| e.to_string())?;
        let planned_runs: Vec<String> = planned
            .iter()
            .filter(|p| &p.workflow == name && p.action.as_str() == "RUN")
            .map(|p| {
                let at = p.at.format("%H:%M").to_string();
                // A cron slot is named by its time: say it once.
                if p.slot == at && p.target_date == date {
                    at
                } else {
                    format!("{at} ({} for {})", p.slot, p.target_date)
                }
            })
            .collect();
        if workflow.schedule.is_none() && theirs.is_empty() && runs.is_empty() {
            continue;
        }
        workflows.push(WorkflowDay {
            name: name.clone(),
            timeline: timeline(&theirs, start, end, tz),
            planned: planned_runs,
            ran: runs
                .iter()
                .rev()
                .map(|r| {
                    (
                        r.execution_time
                            .with_timezone(&tz)
                            .format("%H:%M")
                            .to_string(),
                        r.status.clone(),
                        tone(&r.status),
                        format!("/runs/{}", super::encode(&r.execution_id)),
                    )
                })
                .collect(),
            decisions: theirs.len(),
        });
    }
    let lines = decisions
        .iter()
        .map(|d| DecisionLine {
            time: when(d.decided_at, tz),
            workflow: d.workflow_name.clone(),
            action: d.action.clone(),
            tone: tone(&d.action),
            slot: d.slot.clone(),
            target_date: d.target_date.to_string(),
            reason: d.reason.clone(),
            link: d
                .execution_id
                .as_ref()
                .filter(|_| d.action == "RUN")
                .map(|id| format!("/runs/{}", super::encode(id)))
                .unwrap_or_default(),
        })
        .collect();
    Ok(SchedulePage {
        chrome: Chrome::new(web, format!("Schedule {date}"), "schedule"),
        date: date.to_string(),
        previous: (date - TimeDelta::days(1)).to_string(),
        next: (date + TimeDelta::days(1)).to_string(),
        workflows,
        decisions: lines,
        plan_note,
    })
}

/// The day from local midnight to midnight (23 or 25 hours on a DST
/// change), a tick every three hours, and each decision a mark at its
/// time: tall for RUN, short for SKIP, a cross for ABORT.
fn timeline(
    decisions: &[&DecisionRow],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
) -> String {
    const W: f64 = 720.0;
    const H: f64 = 40.0;
    const PAD: f64 = 6.0;
    let span = (end - start).num_seconds().max(1) as f64;
    let x = |t: DateTime<Utc>| PAD + (W - 2.0 * PAD) * (t - start).num_seconds() as f64 / span;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" viewBox="0 0 {W} {H}" role="img" aria-label="{}"><line class="tick" x1="{PAD}" y1="26" x2="{:.1}" y2="26"/>"#,
        super::charts::esc(&format!("{} decisions over the day", decisions.len())),
        W - PAD
    );
    let mut t = start;
    while t <= end {
        let local = t.with_timezone(&tz);
        // The end labels inside the chart, not cut by its edges.
        let anchor = if t == start {
            "start"
        } else if t + TimeDelta::hours(3) > end {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r#"<line class="tick" x1="{0:.1}" y1="22" x2="{0:.1}" y2="30"/><text class="label" x="{0:.1}" y="39" text-anchor="{anchor}">{1}</text>"#,
            x(t),
            local.format("%H:%M")
        );
        t += TimeDelta::hours(3);
    }
    for d in decisions {
        let title = super::charts::esc(&format!(
            "{} {} {}: {}",
            d.decided_at.with_timezone(&tz).format("%H:%M"),
            d.action,
            d.slot,
            d.reason
        ));
        let cx = x(d.decided_at);
        let mark = match d.action.as_str() {
            "RUN" => format!(
                r#"<rect class="s-success" x="{:.1}" y="4" width="4" height="20"/>"#,
                cx - 2.0
            ),
            "ABORT" => format!(
                r#"<rect class="s-failed" x="{:.1}" y="8" width="6" height="14"/>"#,
                cx - 3.0
            ),
            _ => format!(
                r#"<rect class="s-no_data" x="{:.1}" y="16" width="3" height="8"/>"#,
                cx - 1.5
            ),
        };
        let _ = write!(svg, "<g><title>{title}</title>{mark}</g>");
    }
    svg.push_str("</svg>");
    svg
}
