//! `/runs`: the runs table, filtered by workflow, status and a date range
//! (local dates of the pipeline's zone, both ends included) in the query
//! string, with each run's error message inline; `/runs/{execution_id}`:
//! one run, its calls and every attempt on a timeline where the waits
//! between attempts (backoff, `Retry-After`) are the gaps.

use super::{Chrome, Problem, date_param, day_start, millis, render, tone, when, when_secs};
use crate::http::Web;
use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use rebound_storage::{AttemptRow, RunFilter, ScraperCallRow, WorkflowExecutionRow};
use serde::Deserialize;
use std::fmt::Write as _;
use std::sync::Arc;

/// The most rows the table shows; the filters narrow further back.
pub(crate) const LIMIT: u32 = 200;

/// The statuses a run can have, for the filter.
const STATUSES: [&str; 5] = ["success", "partial", "failed", "no_data", "running"];

/// The query string of `/runs`. Every value is text: checked here, so a
/// bad one is a page naming it rather than axum's terse rejection.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunsQuery {
    workflow: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub(crate) struct RunLine {
    pub id: String,
    pub link: String,
    pub workflow: String,
    pub target_date: String,
    pub started: String,
    pub duration: String,
    pub status: String,
    pub tone: &'static str,
    pub counts: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "dashboard/runs.html")]
pub(crate) struct RunsPage {
    pub chrome: Chrome,
    /// (value, selected) for the workflow filter; the first is "all".
    pub workflows: Vec<(String, bool)>,
    pub statuses: Vec<(&'static str, bool)>,
    pub from: String,
    pub to: String,
    pub runs: Vec<RunLine>,
    pub summary: String,
}

fn empty_to_none(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub(crate) async fn list(
    State(web): State<Arc<Web>>,
    uri: axum::http::Uri,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Response {
    let takes = ["workflow", "status", "from", "to"];
    if let Some(refused) = super::unknown_param(&web, "runs", &uri, &takes) {
        return refused;
    }
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => {
            return Problem::respond(&web, "runs", StatusCode::BAD_REQUEST, rejection.body_text());
        }
    };
    let plan = web.engine.plan();
    let tz = plan.pipeline.timezone;
    let workflow = empty_to_none(query.workflow);
    let status = empty_to_none(query.status);
    let bad = |detail: String| Problem::respond(&web, "runs", StatusCode::BAD_REQUEST, detail);
    if let Some(w) = &workflow
        && !plan.workflows.contains_key(w)
    {
        let known: Vec<&str> = plan.workflows.keys().map(String::as_str).collect();
        return bad(format!(
            "query parameter workflow: no workflow \"{w}\" in this pipeline; its workflows: {}",
            known.join(", ")
        ));
    }
    if let Some(s) = &status
        && !STATUSES.contains(&s.as_str())
    {
        return bad(format!(
            "query parameter status: \"{s}\" is not a run status; one of {}",
            STATUSES.join(", ")
        ));
    }
    let from = match date_param("from", query.from.as_deref()) {
        Ok(d) => d,
        Err(e) => return bad(e),
    };
    let to = match date_param("to", query.to.as_deref()) {
        Ok(d) => d,
        Err(e) => return bad(e),
    };
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return bad(format!(
            "query parameters from and to: from ({f}) is after to ({t})"
        ));
    }
    let filter = RunFilter {
        workflow: workflow.clone(),
        status: status.clone(),
        from: from.map(|d| day_start(d, tz)),
        to: to.map(|d| day_start(d + TimeDelta::days(1), tz)),
        before: None,
    };
    let rows = match web
        .engine
        .store()
        .workflow_executions_page(&filter, LIMIT)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            return Problem::respond(
                &web,
                "runs",
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    let summary = match rows.len() {
        0 => "No runs match.".to_string(),
        n if n as u32 == LIMIT => {
            format!("The newest {LIMIT} runs that match; narrow the dates to see older ones.")
        }
        n => rebound_domain::message::plural(n as u64, "run matches", "runs match"),
    };
    let mut workflows = vec![(String::new(), workflow.is_none())];
    workflows.extend(
        plan.workflows
            .keys()
            .map(|w| (w.clone(), workflow.as_deref() == Some(w.as_str()))),
    );
    let page = RunsPage {
        chrome: Chrome::new(&web, "Runs", "runs"),
        workflows,
        statuses: STATUSES
            .iter()
            .map(|s| (*s, status.as_deref() == Some(*s)))
            .collect(),
        from: from.map(|d| d.to_string()).unwrap_or_default(),
        to: to.map(|d| d.to_string()).unwrap_or_default(),
        runs: rows.iter().map(|r| run_line(r, tz)).collect(),
        summary,
    };
    render(&page, StatusCode::OK)
}

fn run_line(r: &WorkflowExecutionRow, tz: Tz) -> RunLine {
    RunLine {
        id: r.execution_id.clone(),
        link: format!("/runs/{}", super::encode(&r.execution_id)),
        workflow: r.workflow_name.clone(),
        target_date: r.target_date.to_string(),
        started: when(r.execution_time, tz),
        duration: if r.status == "running" {
            "running".to_string()
        } else {
            millis(r.duration_ms)
        },
        status: r.status.clone(),
        tone: tone(&r.status),
        counts: counts(r),
        error: r.error_message.clone().unwrap_or_default(),
    }
}

/// "3 of 4 succeeded, 1 failed": what the run's calls did.
fn counts(r: &WorkflowExecutionRow) -> String {
    let mut parts = vec![format!(
        "{} of {} succeeded",
        r.scrapers_succeeded, r.scrapers_requested
    )];
    for (n, what) in [
        (r.scrapers_failed, "failed"),
        (r.scrapers_no_data, "no data"),
        (r.scrapers_skipped, "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

pub(crate) struct AttemptLine {
    pub attempt: i64,
    pub page: i64,
    pub started: String,
    pub waited: String,
    pub took: String,
    pub http: String,
    pub outcome: String,
    pub tone: &'static str,
    pub error: String,
}

pub(crate) struct CallBlock {
    pub id: i64,
    pub scraper: String,
    pub source: String,
    pub params: String,
    pub status: String,
    pub tone: &'static str,
    pub summary: String,
    pub error: String,
    pub timeline: String,
    pub attempts: Vec<AttemptLine>,
}

#[derive(Template)]
#[template(path = "dashboard/run.html")]
pub(crate) struct RunPage {
    pub chrome: Chrome,
    pub run: RunLine,
    pub finished: String,
    pub error_kind: String,
    pub calls: Vec<CallBlock>,
}

pub(crate) async fn one(
    State(web): State<Arc<Web>>,
    uri: axum::http::Uri,
    execution_id: Result<Path<String>, PathRejection>,
) -> Response {
    if let Some(refused) = super::unknown_param(&web, "runs", &uri, &[]) {
        return refused;
    }
    // A segment that is not UTF-8 (`/runs/%FF`) was axum's bare text,
    // without the page or its headers.
    let Ok(Path(execution_id)) = execution_id else {
        return Problem::respond(
            &web,
            "runs",
            StatusCode::BAD_REQUEST,
            "the run id in the path is not UTF-8 text; the runs table links every run",
        );
    };
    let store = web.engine.store();
    let tz = web.engine.plan().pipeline.timezone;
    let fail = |e: rebound_storage::StoreError| {
        Problem::respond(
            &web,
            "runs",
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )
    };
    let run = match store.workflow_execution(&execution_id).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            return Problem::respond(
                &web,
                "runs",
                StatusCode::NOT_FOUND,
                format!(
                    "No run with execution id \"{execution_id}\" in the history (it may have been purged)."
                ),
            );
        }
        Err(e) => return fail(e),
    };
    let calls = match store.scraper_calls_for_execution(&execution_id).await {
        Ok(calls) => calls,
        Err(e) => return fail(e),
    };
    let mut blocks = Vec::with_capacity(calls.len());
    for call in &calls {
        let attempts = match store.attempts_for_call(call.id).await {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        blocks.push(call_block(call, &attempts, tz));
    }
    let page = RunPage {
        chrome: Chrome::new(&web, format!("Run {}", run.execution_id), "runs"),
        finished: if run.status == "running" {
            "still running".to_string()
        } else {
            when(run.finished_at, tz)
        },
        error_kind: run.error_kind.clone().unwrap_or_default(),
        run: run_line(&run, tz),
        calls: blocks,
    };
    render(&page, StatusCode::OK)
}

fn call_block(call: &ScraperCallRow, attempts: &[AttemptRow], tz: Tz) -> CallBlock {
    let mut summary = vec![rebound_domain::message::plural(
        call.attempts.max(0) as u64,
        "attempt",
        "attempts",
    )];
    if let Some(h) = call.http_status {
        summary.push(format!("HTTP {h}"));
    }
    summary.push(millis(call.duration_ms));
    if let Some(pages) = call.pages {
        summary.push(rebound_domain::message::plural(
            pages.max(0) as u64,
            "page",
            "pages",
        ));
    }
    if call.unchanged {
        summary.push("payload unchanged".to_string());
    }
    CallBlock {
        id: call.id,
        scraper: call.scraper_name.clone(),
        source: call.source_name.clone(),
        params: call.params.clone(),
        status: call.status.clone(),
        tone: tone(&call.status),
        summary: summary.join(", "),
        error: call.error_message.clone().unwrap_or_default(),
        timeline: timeline(call.started_at, call.finished_at, attempts),
        attempts: attempts
            .iter()
            .map(|a| AttemptLine {
                attempt: a.attempt,
                page: a.page,
                started: when_secs(a.started_at, tz),
                waited: if a.delay_before_ms > 0 {
                    millis(a.delay_before_ms)
                } else {
                    String::new()
                },
                took: millis((a.finished_at - a.started_at).num_milliseconds()),
                http: a.http_status.map(|h| h.to_string()).unwrap_or_default(),
                outcome: a.outcome.clone(),
                tone: match a.outcome.as_str() {
                    "success" => "good",
                    "no_data" | "retryable" => "warn",
                    _ => "bad",
                },
                error: a.error_message.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// One call's attempts on a time axis from the call's start to its end:
/// each attempt a bar coloured by outcome, each wait before an attempt a
/// dashed gap labelled with its length (a `Retry-After` of 30 s is a
/// 30 s gap). Labels are the attempt numbers and the waits, no upstream
/// text, and go through the escaper all the same.
pub(crate) fn timeline(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    attempts: &[AttemptRow],
) -> String {
    const W: f64 = 640.0;
    const H: f64 = 44.0;
    const PAD: f64 = 4.0;
    let first = attempts
        .iter()
        .map(|a| a.started_at)
        .min()
        .unwrap_or(start)
        .min(start);
    let last = attempts
        .iter()
        .map(|a| a.finished_at)
        .max()
        .unwrap_or(end)
        .max(end);
    let span = (last - first).num_milliseconds().max(1) as f64;
    let x = |t: DateTime<Utc>| PAD + (W - 2.0 * PAD) * (t - first).num_milliseconds() as f64 / span;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        super::charts::esc(&format!(
            "{} over {}",
            rebound_domain::message::plural(attempts.len() as u64, "attempt", "attempts"),
            millis((last - first).num_milliseconds())
        ))
    );
    let _ = write!(
        svg,
        r#"<line class="tick" x1="{PAD}" y1="20" x2="{:.1}" y2="20"/>"#,
        W - PAD
    );
    let mut previous_end: Option<DateTime<Utc>> = None;
    for a in attempts {
        if let Some(prev) = previous_end
            && a.started_at > prev
        {
            let (x1, x2) = (x(prev), x(a.started_at));
            let wait = millis(
                a.delay_before_ms
                    .max((a.started_at - prev).num_milliseconds()),
            );
            let _ = write!(
                svg,
                r#"<g><title>{}</title><line class="gap" x1="{x1:.1}" y1="12" x2="{x2:.1}" y2="12"/><text class="label" x="{:.1}" y="40" text-anchor="middle">{}</text></g>"#,
                super::charts::esc(&format!("waited {wait} before attempt {}", a.attempt)),
                (x1 + x2) / 2.0,
                super::charts::esc(&format!("wait {wait}"))
            );
        }
        let (x1, x2) = (x(a.started_at), x(a.finished_at));
        let class = match a.outcome.as_str() {
            "success" => "s-success",
            "no_data" => "s-no_data",
            "retryable" => "s-partial",
            _ => "s-failed",
        };
        let status = a
            .http_status
            .map(|h| format!(", HTTP {h}"))
            .unwrap_or_default();
        let _ = write!(
            svg,
            r#"<g><title>{}</title><rect class="{class}" x="{x1:.1}" y="4" width="{:.1}" height="16"/><text class="label" x="{x1:.1}" y="32">#{}</text></g>"#,
            super::charts::esc(&format!(
                "attempt {}: {}{status}, {}",
                a.attempt,
                a.outcome,
                millis((a.finished_at - a.started_at).num_milliseconds())
            )),
            (x2 - x1).max(2.0),
            a.attempt
        );
        previous_end = Some(a.finished_at);
    }
    svg.push_str("</svg>");
    svg
}
