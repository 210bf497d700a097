//! `rebound health`: what is broken, since when and why, in one screen
//! (or one JSON object), with the exit code cron and CI act on: 0 healthy,
//! 1 warning, 2 critical, 3 unknown (the config could not be read or the
//! database opened).
//!
//! The terminal output leads with a one-line verdict and the list of
//! broken things (each with since-when and the reason), then the tables
//! per section. The report itself is built by `rebound-health`; this
//! module only reads the arguments and prints.

use crate::output::plural;
use crate::{Failure, output, setup};
use chrono::{DateTime, Utc};
use clap::Args;
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::duration::{format_duration, parse_duration};
use rebound_fetch::Fetcher;
use rebound_health::{HealthReport, Level, Prober};
use rebound_service::observe::HttpProber;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Look-back period for call counts, failure rates, error coverage and
    /// retries, e.g. "24h" or "7d". The daily workflow table always shows 7 days.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Do not send the sources' health probes (no network).
    #[arg(long)]
    pub no_probe: bool,
}

/// The longest `--since`: ten years, the same as the longest
/// `[pipeline] retention`; no history reaches further back.
const MAX_SINCE: Duration = Duration::from_secs(3_650 * 86_400);

/// `--since` as a period, at most [`MAX_SINCE`]. The refusal is one line
/// (the argument, quoted in it, may hold a line break; main prints errors
/// with their own line breaks kept).
fn since_period(text: &str) -> Result<Duration, String> {
    let period = parse_duration(text).map_err(|e| {
        format!(
            "--since {}: {}",
            output::quoted(text),
            output::printable(&e)
        )
    })?;
    if period > MAX_SINCE {
        return Err(format!(
            "--since {}: expected a period of at most {}",
            output::quoted(text),
            format_duration(MAX_SINCE)
        ));
    }
    // A zero period counted nothing: every source read 0 calls, 0 failed.
    if period.is_zero() {
        return Err(format!(
            "--since {}: expected a period longer than zero",
            output::quoted(text)
        ));
    }
    Ok(period)
}

pub async fn health(config: &Path, args: HealthArgs) -> Result<ExitCode, Failure> {
    let period = since_period(&args.since).map_err(|e| Failure::Usage(anyhow::anyhow!(e)))?;
    let loaded = setup::load_report_plan(config).map_err(Failure::unknown)?;
    // Probes send the sources' headers and query: the same rule as for
    // every request (an unset variable is sent empty, which leaks nothing).
    if !args.no_probe {
        setup::refuse_short_upstream_secrets(&loaded)?;
    }
    let plan = loaded.plan;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let since = rebound_domain::duration::sub_saturating(now, period);
    let tz = plan.pipeline.timezone;
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone())?);
    let engine = Arc::new(
        setup::report_engine(plan.clone(), clock)
            .await
            .map_err(Failure::unknown)?,
    );
    // The probes feed the sources' breakers, as `rebound serve`'s do.
    let prober = HttpProber::new(fetcher, engine.clone());
    let prober = if args.no_probe {
        None
    } else {
        Some(&prober as &dyn Prober)
    };
    // The same document as `GET /api/v1/health` (one assembly for both).
    // A history it cannot read (a damaged file, say) is a check that could
    // not look: UNKNOWN, never a verdict on the pipeline (it was WARNING).
    let report = rebound_service::api::reports::health(&engine, prober, now, since)
        .await
        .map_err(|e| Failure::Unknown(e.into()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, tz));
    }
    Ok(ExitCode::from(report.level.exit_code()))
}

/// An instant as every command prints it ([`output::when`]), "never"
/// when there is none.
pub(crate) fn when(t: Option<DateTime<Utc>>, tz: chrono_tz::Tz) -> String {
    output::when_or(t, tz, "never")
}

/// Like [`when`], but with seconds when another instant printed beside it
/// (`beside`) is a different instant in the same minute: "every call
/// fails since 02:56" next to "last success 02:56" reads as a
/// contradiction, "02:56:41" next to "02:56:12" does not.
pub(crate) fn when_beside(
    t: Option<DateTime<Utc>>,
    beside: &[Option<DateTime<Utc>>],
    tz: chrono_tz::Tz,
) -> String {
    let minute = |t: DateTime<Utc>| t.timestamp().div_euclid(60);
    match t {
        Some(t)
            if beside
                .iter()
                .flatten()
                .any(|o| *o != t && minute(*o) == minute(t)) =>
        {
            output::when_secs(t, tz)
        }
        _ => when(t, tz),
    }
}

/// "3h 12m ago" from seconds.
pub(crate) fn ago(seconds: i64) -> String {
    let rounded = if seconds >= 3600 {
        seconds / 60 * 60
    } else {
        seconds
    };
    format!(
        "{} ago",
        format_duration(Duration::from_secs(rounded.max(0) as u64))
    )
}

/// "since T (3h ago)"; `beside` as in [`when_beside`].
fn since_text(
    at: Option<DateTime<Utc>>,
    beside: &[Option<DateTime<Utc>>],
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    match at {
        Some(t) => format!(
            "since {} ({})",
            when_beside(Some(t), beside, tz),
            ago((now - t).num_seconds())
        ),
        None => String::new(),
    }
}

fn mark(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Warning => "WARNING",
        Level::Critical => "CRITICAL",
    }
}

fn short(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() > 160 {
        format!("{}…", one_line.chars().take(160).collect::<String>())
    } else {
        one_line
    }
}

/// The broken things, worst first, one line each: what, since when, why.
pub(crate) fn problems(report: &HealthReport, tz: chrono_tz::Tz) -> Vec<(Level, String)> {
    let now = report.generated_at;
    let mut out: Vec<(Level, String)> = Vec::new();
    for s in report.sources.iter().filter(|s| s.level > Level::Ok) {
        let mut why = Vec::new();
        if s.breaker != "closed" {
            why.push(format!(
                "breaker {} {}",
                s.breaker,
                since_text(s.breaker_since, &[], now, tz)
            ));
        }
        if let Some(p) = s.probe.as_ref().filter(|p| p.failing()) {
            why.push(format!(
                "probe failing: {}",
                p.error.as_deref().unwrap_or("?")
            ));
        }
        if let Some(p) = s.probe.as_ref().filter(|p| p.throttled) {
            why.push(format!(
                "probe throttled (the host is up and limits our requests): {}",
                p.error.as_deref().unwrap_or("HTTP 429")
            ));
        }
        if s.failing_since.is_some() {
            why.push(format!(
                "every call fails {}",
                since_text(s.failing_since, &[s.last_success_at], now, tz)
            ));
        }
        let open: Vec<String> = s
            .proxies
            .iter()
            .filter(|p| p.state == "open")
            .map(|p| {
                format!(
                    "proxy {} of {} open until {}",
                    p.index,
                    s.proxies.len(),
                    when(p.open_until, tz)
                )
            })
            .collect();
        if !open.is_empty() {
            why.push(open.join(", "));
        }
        if let Some(q) = s.quota.as_ref().filter(|q| q.used_rate >= 0.8) {
            why.push(format!(
                "quota {} of {} used ({}%), resets {}",
                q.used,
                q.limit,
                (q.used_rate * 100.0).round(),
                when(Some(q.resets_at), tz)
            ));
        }
        if why.is_empty() {
            why.push(format!(
                "{} of {} failed ({:.0}%)",
                s.failed,
                plural(s.calls as u64, "call", "calls"),
                s.failure_rate * 100.0
            ));
        }
        let mut line = format!("source {}: {}", s.name, why.join("; "));
        if let Some(e) = &s.last_error {
            line.push_str(&format!(" — last error: {}", short(e)));
        }
        out.push((s.level, line));
    }
    for s in report.scrapers.iter().filter(|s| s.level > Level::Ok) {
        let mut line = if s.consecutive_failures > 0 {
            format!(
                "scraper {}: {} in a row, last at {}",
                s.name,
                plural(s.consecutive_failures as u64, "failed call", "failed calls"),
                when_beside(s.last_error_at, &[s.last_success_at], tz)
            )
        } else {
            format!(
                "scraper {}: {} failed, {} overdue of {} in the period",
                s.name,
                failed_text(s, "deferred by the source's limits"),
                s.overdue,
                plural(s.runs as u64, "call", "calls")
            )
        };
        line.push_str(&format!(
            " (last success {})",
            when_beside(s.last_success_at, &[s.last_error_at], tz)
        ));
        if let Some(e) = &s.last_error {
            line.push_str(&format!(" — {}", short(e)));
        }
        out.push((s.level, line));
    }
    for w in report.workflows.iter().filter(|w| w.level > Level::Ok) {
        let mut line = if w.consecutive_failed > 0 {
            format!(
                "workflow {}: {} failed or partial {}",
                w.name,
                match w.consecutive_failed {
                    1 => "the last run".to_string(),
                    n => format!("the last {n} runs"),
                },
                since_text(w.failing_since, &[], now, tz)
            )
        } else {
            format!("workflow {}: many failed runs in the last two days", w.name)
        };
        if let Some(e) = &w.last_error {
            line.push_str(&format!(" — {}", short(e)));
        }
        out.push((w.level, line));
    }
    let c = &report.error_coverage;
    if c.with_message < c.failed_or_partial {
        out.push((
            Level::Warning,
            format!(
                "error coverage {}%: {} of {} say why",
                (c.coverage_rate * 100.0).round(),
                c.with_message,
                plural(
                    c.failed_or_partial as u64,
                    "failed or partial run",
                    "failed or partial runs"
                )
            ),
        ));
    }
    for d in report.datasets.iter() {
        let f = &d.freshness;
        if f.level > Level::Ok {
            let line = match f.age_seconds {
                Some(age) => format!(
                    "dataset {}: stale, no new data {} (since {}; last checked {})",
                    d.name,
                    ago(age),
                    when(f.last_change_at, tz),
                    when(f.last_checked_at, tz)
                ),
                None => format!(
                    "dataset {}: never received new data since its first call {}{} (last checked {})",
                    d.name,
                    when(f.watched_since, tz),
                    f.watched_since
                        .map(|t| format!(
                            ", {}",
                            ago((report.generated_at - t).num_seconds().max(0))
                        ))
                        .unwrap_or_default(),
                    when(f.last_checked_at, tz)
                ),
            };
            out.push((f.level, line));
        }
        if let Some(c) = d.completeness.as_ref().filter(|c| c.level > Level::Ok) {
            let line = match &c.error {
                Some(e) => format!("dataset {}: completeness unknown: {e}", d.name),
                None => format!(
                    "dataset {}: {} of {} collected for {}, past deadline: {}",
                    d.name,
                    c.collected,
                    c.expected,
                    c.target_date,
                    c.overdue.join(", ")
                ),
            };
            out.push((c.level, line));
        }
    }
    let h = &report.handoff;
    if let Some(storm) = &h.not_acknowledging {
        out.push((
            Level::Critical,
            format!(
                "hand-off: {} of {} events due in the last hour unacknowledged (sinks: {}; datasets: {}); redeliveries held back: the consumer is not acknowledging; check it before replaying",
                storm.unacknowledged,
                storm.due,
                storm.sinks.join(", "),
                storm.datasets.join(", ")
            ),
        ));
    }
    if let Some(age) = h.oldest_pending_age_seconds
        && h.level > Level::Ok
        && age > rebound_health::HANDOFF_PENDING_WARN.num_seconds()
    {
        let level = if age > rebound_health::HANDOFF_PENDING_CRITICAL.num_seconds() {
            Level::Critical
        } else {
            Level::Warning
        };
        let errors: Vec<String> = h
            .sinks
            .iter()
            .filter_map(|s| Some(format!("{}: {}", s.name, s.last_error.as_deref()?)))
            .collect();
        out.push((
            level,
            format!(
                "hand-off: {} events pending, the oldest for {}{}",
                h.pending,
                ago(age),
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(" (last errors: {})", errors.join("; "))
                }
            ),
        ));
    }
    for u in &h.unacknowledged {
        out.push((
            Level::Warning,
            format!(
                "hand-off: {} events of dataset {} unacknowledged after their redeliveries (`rebound events replay` sends them again)",
                u.count, u.dataset
            ),
        ));
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.0));
    out
}

/// The hand-off section of the terminal report.
fn handoff_table(h: &rebound_health::HandoffHealth, tz: chrono_tz::Tz) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} pending{}; acknowledgements {}",
        h.pending,
        h.oldest_pending_age_seconds
            .map(|a| format!(", oldest {}", ago(a)))
            .unwrap_or_default(),
        if h.ack_required {
            "required"
        } else {
            "not required"
        }
    );
    if !h.unacknowledged.is_empty() {
        let list: Vec<String> = h
            .unacknowledged
            .iter()
            .map(|u| format!("{} {}", u.dataset, u.count))
            .collect();
        let _ = writeln!(out, "unacknowledged: {}", list.join(", "));
    }
    if !h.sinks.is_empty() {
        let mut t = crate::output::table(&["sink", "kind", "last publish error", "at"]);
        for s in &h.sinks {
            t.add_row(vec![
                s.name.clone(),
                s.kind.clone(),
                s.last_error.clone().unwrap_or_else(|| "-".into()),
                s.last_error_at
                    .map_or_else(|| "-".into(), |t| when(Some(t), tz)),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }
    out
}

/// The whole terminal report.
pub(crate) fn render(report: &HealthReport, tz: chrono_tz::Tz) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let problems = problems(report, tz);
    let counts = |l: Level| problems.iter().filter(|p| p.0 == l).count();
    let verdict = match report.level {
        Level::Ok => "HEALTHY: nothing is broken".to_string(),
        level => format!(
            "{}: {} critical, {} warning",
            mark(level),
            counts(Level::Critical),
            counts(Level::Warning)
        ),
    };
    let _ = writeln!(
        out,
        "{verdict}  (at {}, counts since {})",
        when(Some(report.generated_at), tz),
        when(Some(report.since), tz)
    );
    for (level, line) in &problems {
        let _ = writeln!(out, "  {:<8} {line}", mark(*level));
    }
    out.push('\n');

    let mut t = crate::output::table(&[
        "source",
        "level",
        "probe",
        "breaker",
        "calls",
        "failed",
        "last success",
        "last error",
    ]);
    for s in &report.sources {
        let probe = match &s.probe {
            None => "-".to_string(),
            Some(p) if p.ok => format!("ok ({}ms)", p.duration_ms),
            Some(p) if p.throttled => "throttled 429".to_string(),
            Some(p) => format!(
                "FAIL {}",
                p.http_status.map(|s| s.to_string()).unwrap_or_default()
            ),
        };
        let mut breaker = s.breaker.clone();
        if s.breaker != "closed" {
            breaker.push_str(&format!(" since {}", when(s.breaker_since, tz)));
        }
        t.add_row(vec![
            s.name.clone(),
            mark(s.level).to_string(),
            probe,
            breaker,
            s.calls.to_string(),
            format!("{} ({:.0}%)", s.failed, s.failure_rate * 100.0),
            when_beside(s.last_success_at, &[s.last_error_at, s.failing_since], tz),
            match &s.last_error {
                Some(e) => format!(
                    "{}: {}",
                    when_beside(s.last_error_at, &[s.last_success_at], tz),
                    short(e)
                ),
                None => "-".into(),
            },
        ]);
    }
    let _ = writeln!(out, "Sources\n{t}\n");
    if report.sources.iter().any(|s| !s.proxies.is_empty()) {
        let mut t = crate::output::table(&["source", "proxy", "state", "failures", "last used"]);
        for s in &report.sources {
            for p in &s.proxies {
                let mut state = p.state.clone();
                if p.open_until.is_some() {
                    state.push_str(&format!(" until {}", when(p.open_until, tz)));
                }
                t.add_row(vec![
                    s.name.clone(),
                    format!("{} of {}", p.index, s.proxies.len()),
                    state,
                    p.consecutive_failures.to_string(),
                    when(p.last_used_at, tz),
                ]);
            }
        }
        let _ = writeln!(out, "Proxies\n{t}\n");
    }

    let mut t = crate::output::table(&[
        "scraper",
        "level",
        "calls",
        "failed",
        "no data",
        "not yet",
        "overdue",
        "skipped",
        "in a row",
        "last success",
        "last error",
    ]);
    for s in &report.scrapers {
        t.add_row(vec![
            s.name.clone(),
            mark(s.level).to_string(),
            s.runs.to_string(),
            failed_text(s, "deferred"),
            s.no_data.to_string(),
            s.not_yet_available.to_string(),
            s.overdue.to_string(),
            s.skipped.to_string(),
            s.consecutive_failures.to_string(),
            when(s.last_success_at, tz),
            s.last_error
                .as_deref()
                .map(short)
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let _ = writeln!(out, "Scrapers\n{t}\n");

    let mut t = crate::output::table(&[
        "workflow",
        "level",
        "target date",
        "runs",
        "failed",
        "partial",
        "failure rate",
    ]);
    for w in &report.workflows {
        if w.days.is_empty() {
            t.add_row(vec![
                w.name.clone(),
                mark(w.level).to_string(),
                "-".into(),
                "0".into(),
                "0".into(),
                "0".into(),
                "-".into(),
            ]);
        }
        for (i, d) in w.days.iter().enumerate() {
            t.add_row(vec![
                if i == 0 {
                    w.name.clone()
                } else {
                    String::new()
                },
                if i == 0 {
                    mark(w.level).to_string()
                } else {
                    String::new()
                },
                d.target_date.to_string(),
                d.runs.to_string(),
                d.failed.to_string(),
                d.partial.to_string(),
                format!("{:.1}%", d.failure_rate * 100.0),
            ]);
        }
    }
    let _ = writeln!(out, "Workflows (last 7 target dates)\n{t}\n");

    let c = &report.error_coverage;
    let r = &report.retries;
    let _ = writeln!(
        out,
        "Error coverage: {}% ({} of {} have a message)",
        (c.coverage_rate * 100.0).round(),
        c.with_message,
        plural(
            c.failed_or_partial as u64,
            "failed or partial run",
            "failed or partial runs"
        )
    );
    let _ = writeln!(
        out,
        "Retries: {} of {} needed retries, {} of them then succeeded; {:.2} attempts per call\n",
        r.retried,
        plural(r.calls as u64, "call", "calls"),
        r.retried_then_succeeded,
        r.attempts_per_call
    );
    let _ = writeln!(
        out,
        "Datasets\n{}",
        super::freshness::table(&report.datasets, tz)
    );
    let _ = write!(
        out,
        "\nHand-off ({})\n{}",
        mark(report.handoff.level),
        handoff_table(&report.handoff, tz)
    );
    if !report.alerts.is_empty() {
        let _ = writeln!(out, "\nOpen alerts");
        for a in &report.alerts {
            let _ = writeln!(
                out,
                "  {:<8} {} {}: {} (since {})",
                mark(a.level),
                a.condition,
                a.subject,
                a.summary,
                when(Some(a.opened_at), tz)
            );
        }
    }
    // Messages hold what upstreams and transforms wrote: their control
    // characters are escaped here, once for every line of the report.
    rebound_domain::message::escape_controls(&out, true)
}

/// A scraper's failures, with those its source's limits held back before
/// their request named apart: they are not the scraper's doing, and
/// without them a throttled source's scrapers read as failing on their own.
fn failed_text(s: &rebound_health::ScraperHealth, deferred: &str) -> String {
    if s.deferred > 0 {
        format!("{} ({} {deferred})", s.failures, s.deferred)
    } else {
        s.failures.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(text.parse().expect("instant"))
    }

    #[test]
    fn instants_in_the_same_minute_are_told_apart_by_their_seconds() {
        let tz = chrono_tz::America::New_York;
        let success = at("2026-11-28T07:56:12Z");
        let failing = at("2026-11-28T07:56:41Z");
        assert_eq!(
            when_beside(failing, &[success], tz),
            "2026-11-28 02:56:41 EST (-05:00)"
        );
        assert_eq!(
            when_beside(success, &[failing], tz),
            "2026-11-28 02:56:12 EST (-05:00)"
        );
        // Other minutes, the same instant, or nothing beside: minutes only.
        let later = at("2026-11-28T07:57:02Z");
        assert_eq!(
            when_beside(failing, &[later], tz),
            "2026-11-28 02:56 EST (-05:00)"
        );
        assert_eq!(
            when_beside(failing, &[failing], tz),
            "2026-11-28 02:56 EST (-05:00)"
        );
        assert_eq!(
            when_beside(failing, &[None], tz),
            "2026-11-28 02:56 EST (-05:00)"
        );
        assert_eq!(when_beside(None, &[success], tz), "never");
    }
}
