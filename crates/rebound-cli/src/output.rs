//! What commands print: readable tables and stable JSON. JSON field names
//! are a contract for users' scripts, like the table and column names.
//!
//! The conventions every command follows, kept here so there is one of
//! each:
//! - an instant for people is in the pipeline's zone with its offset,
//!   `2026-11-28 02:56 EST (-05:00)` ([`when`]): the zone is where the
//!   games, the target dates and the schedule live, and the offset makes
//!   the text unambiguous across a DST change and to a reader elsewhere;
//! - an instant in JSON is RFC 3339 in UTC, `2026-11-28T07:56:00Z`
//!   (the documents of `rebound_service::api::types`): for scripts,
//!   comparable as text;
//! - a count with a noun goes through [`plural`] ("1 run", "2 runs");
//! - every table is [`table`]'s style;
//! - JSON rates are fractions 0..1 named `*_rate`, enum values lowercase.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use rebound_domain::duration::format_duration;
pub(crate) use rebound_domain::message::plural;
use rebound_engine::{CallReport, FanoutSummary, RunReport};
use rebound_service::api::types::{CallReportView, CallView, ExecutionView, RunReportView};
use rebound_storage::{ScraperCallRow, WorkflowExecutionRow};
use serde_json::Value;
use std::time::Duration;

/// An instant for people: `2026-11-28 02:56 EST (-05:00)`, in `tz` (the
/// pipeline's zone); shared with the alert texts.
pub(crate) use rebound_domain::message::when;

/// [`when`] with seconds, `2026-11-28 02:56:41 EST (-05:00)`: for two
/// instants in one minute that must not read as the same.
pub(crate) fn when_secs(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z (%:z)")
        .to_string()
}

/// [`when`] of an optional instant, `none` when there is none.
pub(crate) fn when_or(t: Option<DateTime<Utc>>, tz: Tz, none: &str) -> String {
    t.map(|t| when(t, tz)).unwrap_or_else(|| none.to_string())
}

/// A table of [`table`]'s style. It prints with the control characters of
/// its cells escaped (`\u{1b}`), line ends aside: cells hold upstream
/// data (entity ids, error messages) and config text, and an escape
/// sequence or a carriage return there would move the cursor, recolour or
/// overwrite the terminal the operator reads it on.
pub(crate) struct SafeTable(Table);

impl std::ops::Deref for SafeTable {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.0
    }
}

impl std::ops::DerefMut for SafeTable {
    fn deref_mut(&mut self) -> &mut Table {
        &mut self.0
    }
}

/// The most characters a table cell shows. comfy-table wraps a long word
/// in time that grows with the square of its length: one calendar id of
/// 200,000 characters from an upstream took `plan` 28 seconds to print.
/// A cell past this is cut with a note; `--json` has it whole.
const MAX_CELL_CHARS: usize = 2_000;

impl SafeTable {
    /// [`Table::add_row`], each cell longer than [`MAX_CELL_CHARS`] cut
    /// (this shadows the table's own, which callers reach through `Deref`).
    pub(crate) fn add_row<T: Into<comfy_table::Row>>(&mut self, row: T) -> &mut Self {
        let row: comfy_table::Row = row.into();
        let long = |cell: &comfy_table::Cell| cell.content().chars().count() > MAX_CELL_CHARS;
        if row.cell_iter().any(long) {
            let cells: Vec<comfy_table::Cell> = row
                .cell_iter()
                .map(|cell| match long(cell) {
                    true => {
                        let text = cell.content();
                        let rest = text.chars().count() - MAX_CELL_CHARS;
                        comfy_table::Cell::new(format!(
                            "{}… ({rest} more characters; --json has them)",
                            text.chars().take(MAX_CELL_CHARS).collect::<String>()
                        ))
                    }
                    false => cell.clone(),
                })
                .collect();
            self.0.add_row(cells);
        } else {
            self.0.add_row(row);
        }
        self
    }
}

impl std::fmt::Display for SafeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rebound_domain::message::escape_controls(
            &self.0.to_string(),
            true,
        ))
    }
}

/// The one table style of every command.
pub(crate) fn table(header: &[&str]) -> SafeTable {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = terminal_width() {
        table.set_width(width);
    } else {
        table.set_width(160);
    }
    table.set_header(header.to_vec());
    SafeTable(table)
}

/// One line of text from a file or an upstream for the terminal, every
/// control character escaped (see [`SafeTable`]).
pub(crate) fn printable(text: &str) -> String {
    rebound_domain::message::escape_controls(text, false)
}

/// A name or value the user gave, echoed in a message: quoted, every
/// control character escaped (`"a\u{1b}[2J"`), so that an argument holding
/// an escape sequence or a line break (pasted, or from a script's variable)
/// cannot clear the screen or fake a line of whoever reads the error.
pub(crate) fn quoted(text: &str) -> String {
    format!("\"{}\"", printable(text))
}

#[allow(clippy::disallowed_methods)] // the CLI reads the environment: the terminal's width
fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}

fn ms(duration_ms: i64) -> String {
    format_duration(Duration::from_millis(duration_ms.max(0) as u64))
}

fn scraper_label(call: &CallReport) -> String {
    let extra: Vec<String> = call
        .params
        .iter()
        .filter(|(k, _)| !rebound_domain::template::BUILTIN_PARAMS.contains(&k.as_str()))
        // A value from the command line or an upstream's item: a line break
        // in it split the cell, as if it ended there (the table keeps line
        // ends, so the cell is escaped here).
        .map(|(k, v)| format!("{k}={}", printable(v)))
        .collect();
    if extra.is_empty() {
        call.scraper.clone()
    } else {
        format!("{} ({})", call.scraper, extra.join(", "))
    }
}

fn reason(call: &CallReport) -> String {
    let pages = match call.pages {
        Some(n) => format!(" from {}", plural(u64::from(n), "page", "pages")),
        None => String::new(),
    };
    let records = |n: u64| plural(n, "record", "records");
    match (&call.message, call.records, call.unchanged) {
        (Some(message), _, _) => message.clone(),
        (None, Some(n), true) => format!("{}{pages}, unchanged", records(n as u64)),
        (None, Some(n), false) => format!("{}{pages}", records(n as u64)),
        (None, None, true) => "unchanged".to_string(),
        (None, None, false) => String::new(),
    }
}

/// A table of calls: scraper, status, attempts, HTTP status, duration, reason.
pub fn calls_table(calls: &[CallReport]) -> String {
    let mut table = table(&[
        "scraper", "status", "attempts", "http", "duration", "reason",
    ]);
    for call in calls {
        table.add_row(vec![
            scraper_label(call),
            call.status.as_str().to_string(),
            call.attempts.to_string(),
            call.http_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            ms(call.duration_ms),
            reason(call),
        ]);
    }
    format!("{table}\n")
}

/// The summary of a workflow run, instants in `tz` (the pipeline's zone).
pub fn run_table_in(report: &RunReport, tz: Tz) -> String {
    let c = report.counts;
    let mut out = format!(
        "workflow {} for {}: {} ({} succeeded, {} no data, {} failed, {} skipped) in {}\nexecution {}\n",
        report.workflow,
        report.target_date,
        report.status.as_str(),
        c.succeeded,
        c.no_data,
        c.failed,
        c.skipped,
        ms(report.duration_ms),
        report.execution_id
    );
    // Late data and lockouts, said only when they happened.
    let extra: Vec<String> = [
        (c.not_yet_available, "not yet available"),
        (c.overdue, "overdue"),
        (c.locked_out, "locked out"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if !extra.is_empty() {
        out.push_str(&format!("also: {}\n", extra.join(", ")));
    }
    out.push_str(&calls_table(&report.calls));
    for f in &report.fanout {
        out.push_str(&fanout_line(f));
    }
    if let Some(at) = report.retry_at {
        out.push_str(&format!(
            "retry_at: {} (a call's retry wait was too long to sleep in this run)\n",
            when(at, tz)
        ));
    }
    if let Some(at) = report.recheck_at {
        out.push_str(&format!(
            "recheck_at: {} (data not yet available; `rebound serve` re-checks then, `rebound run` does not)\n",
            when(at, tz)
        ));
    }
    if let Some(message) = &report.error_message {
        out.push_str(&format!("error_message: {}\n", printable(message)));
    }
    out
}

/// `fan-out box: 2 of 3 collected (1 no data)`: only `success` calls
/// count as collected; the rest are named by what happened to them.
pub(crate) fn fanout_line(f: &FanoutSummary) -> String {
    if f.total == 0 {
        return match &f.note {
            Some(note) => format!("fan-out {}: no calls ({note})\n", f.scraper),
            None => format!("fan-out {}: no calls\n", f.scraper),
        };
    }
    let mut parts: Vec<String> = [(f.no_data, "no data"), (f.failed, "failed")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    // The note splits the skipped calls by why (breaker, lockout, quota).
    parts.extend(f.note.clone());
    let mut line = format!(
        "fan-out {}: {} of {} collected",
        f.scraper, f.succeeded, f.total
    );
    if !parts.is_empty() {
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    line.push('\n');
    line
}

// The rows are defined once, in `rebound_service::api::types`, for the
// API and the CLI's `--json`; through a JSON value, keys print in the
// order they always did.

pub fn call_json(call: &CallReport) -> Value {
    serde_json::to_value(CallReportView::from(call)).unwrap_or(Value::Null)
}

pub fn run_json(report: &RunReport) -> Value {
    serde_json::to_value(RunReportView::from(report)).unwrap_or(Value::Null)
}

pub fn execution_row_json(row: &WorkflowExecutionRow) -> Value {
    serde_json::to_value(ExecutionView::from(row)).unwrap_or(Value::Null)
}

pub fn call_row_json(row: &ScraperCallRow) -> Value {
    serde_json::to_value(CallView::from(row)).unwrap_or(Value::Null)
}

/// Recent runs, newest first, then recent standalone calls.
pub fn status_table(runs: &[WorkflowExecutionRow], calls: &[ScraperCallRow], tz: Tz) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        out.push_str("No workflow runs recorded yet.\n");
    } else {
        let mut t = table(&[
            "started",
            "workflow",
            "date",
            "status",
            "ok/no data/failed/skipped",
            "duration",
            "error_message",
        ]);
        for row in runs {
            t.add_row(vec![
                when(row.execution_time, tz),
                row.workflow_name.clone(),
                row.target_date.to_string(),
                row.status.clone(),
                format!(
                    "{}/{}/{}/{}",
                    row.scrapers_succeeded,
                    row.scrapers_no_data,
                    row.scrapers_failed,
                    row.scrapers_skipped
                ),
                ms(row.duration_ms),
                row.error_message.clone().unwrap_or_default(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    if !calls.is_empty() {
        let mut t = table(&[
            "started",
            "scraper",
            "date",
            "status",
            "attempts",
            "http",
            "error_message",
        ]);
        for row in calls {
            t.add_row(vec![
                when(row.started_at, tz),
                row.scraper_name.clone(),
                row.target_date.to_string(),
                row.status.clone(),
                row.attempts.to_string(),
                row.http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                row.error_message.clone().unwrap_or_default(),
            ]);
        }
        out.push_str("Standalone scraper calls (rebound scrape):\n");
        out.push_str(&format!("{t}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell longer than MAX_CELL_CHARS is cut with a note, other cells
    /// of its row are kept; a long word was laid out in time that grows
    /// with the square of its length (28 s for 200,000 characters).
    #[test]
    fn a_cell_past_the_limit_is_cut_with_a_note() {
        let mut t = table(&["id", "other"]);
        t.add_row(vec!["x".repeat(50_000), "kept".to_string()]);
        let shown: String = t
            .to_string()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ';' || *c == '(')
            .collect();
        assert!(
            shown.contains("(48000morecharacters;jsonhasthem"),
            "{}",
            &shown[shown.len().saturating_sub(200)..]
        );
        assert_eq!(shown.matches('x').count(), MAX_CELL_CHARS);
        assert!(shown.contains("kept"));
    }
}
