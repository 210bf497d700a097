//! The overview at `/`: the health verdict and one line per broken thing
//! (what, since when, why, a link), runs per day by status over 14 days,
//! calls per hour with their failure share over 48 hours, the open alert
//! incidents and the datasets past their freshness limits.
//!
//! The verdict and the lines come from the same report as `rebound
//! health` (`rebound-health`, probes off: a page view sends no request
//! upstream), so the page and the command never disagree. The two charts
//! are two aggregate queries of the store's `Dashboard` block. The
//! rendered page is kept a few seconds ([`super::cache`]): every open tab
//! reloads every 30 s, and on a long history a page costs a few hundred
//! milliseconds of database time that twenty tabs need not repeat.

use super::cache::{Caches, serve_cached};
use super::charts::{self, DayBar, HourBar, RUN_STATUSES};
use super::{Chrome, Problem, ago, day_start, render, tone, when, when_or_never};
use crate::http::Web;
use crate::observe::EngineCalendars;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;
use rebound_health::{HealthReport, Inputs, Level, build_report};
use std::sync::Arc;

/// Days in the runs chart, today included.
const DAYS: i64 = 14;
/// Hours in the calls chart, the current one included.
const HOURS: i64 = 48;

/// One broken thing: what, since when, why, where to look.
pub(crate) struct Broken {
    pub level: &'static str,
    pub tone: &'static str,
    pub what: String,
    pub link: String,
    pub since: String,
    pub why: String,
}

pub(crate) struct Incident {
    pub level: &'static str,
    pub tone: &'static str,
    pub condition: String,
    pub subject: String,
    pub opened: String,
    pub summary: String,
}

pub(crate) struct Stale {
    pub name: String,
    pub level: &'static str,
    pub tone: &'static str,
    pub age: String,
    pub last_change: String,
    pub limits: String,
}

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
pub(crate) struct Overview {
    pub chrome: Chrome,
    pub level: &'static str,
    pub tone: &'static str,
    pub broken: Vec<Broken>,
    pub runs_total: i64,
    pub runs_failed: i64,
    pub runs_chart: String,
    pub calls_total: i64,
    /// Of those, the calls that made a request (the failure share's whole).
    pub calls_requested: i64,
    pub calls_failed: i64,
    pub failure_share: String,
    pub calls_chart: String,
    pub incidents: Vec<Incident>,
    pub stale: Vec<Stale>,
    pub statuses: [&'static str; 5],
}

pub(crate) async fn page(
    State(web): State<Arc<Web>>,
    Extension(caches): Extension<Arc<Caches>>,
    uri: axum::http::Uri,
) -> Response {
    if let Some(refused) = super::unknown_param(&web, "overview", &uri, &[]) {
        return refused;
    }
    let inner = web.clone();
    serve_cached(
        &caches.overview,
        web.clock.as_ref(),
        move |now| async move {
            match build(&inner, now).await {
                Ok(page) => page.render().map_err(|_| render(&page, StatusCode::OK)),
                Err(detail) => Err(Problem::respond(
                    &inner,
                    "overview",
                    StatusCode::INTERNAL_SERVER_ERROR,
                    detail,
                )),
            }
        },
    )
    .await
}

async fn build(web: &Web, now: DateTime<Utc>) -> Result<Overview, String> {
    let engine = &web.engine;
    let plan = engine.plan();
    let store = engine.store().as_ref();
    let tz = plan.pipeline.timezone;
    let inputs = Inputs {
        plan,
        store,
        calendars: &EngineCalendars(engine),
        prober: None,
        now,
        since: now - TimeDelta::hours(24),
    };
    // The 14 local days of the runs chart and the 48 hours of the calls
    // chart (the current one included).
    let today = now.with_timezone(&tz).date_naive();
    let first = today - TimeDelta::days(DAYS - 1);
    let from = day_start(first, tz);
    let to = day_start(today + TimeDelta::days(1), tz);
    let end = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now) + TimeDelta::hours(1);
    let start = end - TimeDelta::hours(HOURS);

    // The report and the two aggregates are independent reads: at once,
    // each on a connection of its own, so the page costs the slowest of
    // them rather than their sum.
    let report = async {
        let mut report = build_report(&inputs).await.map_err(|e| e.to_string())?;
        report.alerts = rebound_alerts::open_incident_summaries(store)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(report)
    };
    let runs = async { store.run_hours(from, to).await.map_err(|e| e.to_string()) };
    let calls = async {
        store
            .call_hours(start, end)
            .await
            .map_err(|e| e.to_string())
    };
    let (report, run_rows, call_rows) = tokio::try_join!(report, runs, calls)?;

    // Runs per local day, from the store's UTC hours.
    let mut days: Vec<DayBar> = (0..DAYS)
        .map(|i| {
            let date = first + TimeDelta::days(i);
            DayBar {
                label: date.format("%m-%d").to_string(),
                date: date.format("%a %Y-%m-%d").to_string(),
                counts: [0; 5],
            }
        })
        .collect();
    for row in run_rows {
        let day = (row.hour.with_timezone(&tz).date_naive() - first).num_days();
        let status = RUN_STATUSES.iter().position(|s| *s == row.status);
        if let (Some(bar), Some(status)) = (
            usize::try_from(day).ok().and_then(|d| days.get_mut(d)),
            status,
        ) {
            bar.counts[status] += row.runs;
        }
    }
    let runs_total: i64 = days.iter().flat_map(|d| d.counts).sum();
    let runs_failed: i64 = days.iter().map(|d| d.counts[3]).sum();

    // Calls per hour.
    let mut hours: Vec<HourBar> = (0..HOURS)
        .map(|i| {
            let at = start + TimeDelta::hours(i);
            let local = at.with_timezone(&tz);
            let label = match local.format("%H").to_string().as_str() {
                "00" => Some(local.format("%m-%d").to_string()),
                "06" | "12" | "18" => Some(local.format("%H:00").to_string()),
                _ => None,
            };
            HourBar {
                label,
                time: when(at, tz),
                calls: 0,
                requested: 0,
                failed: 0,
            }
        })
        .collect();
    for row in call_rows {
        let i = (row.hour - start).num_hours();
        if let Some(bar) = usize::try_from(i).ok().and_then(|i| hours.get_mut(i)) {
            bar.calls += row.calls;
            bar.requested += row.requested;
            bar.failed += row.failed;
        }
    }
    let calls_total: i64 = hours.iter().map(|h| h.calls).sum();
    let calls_requested: i64 = hours.iter().map(|h| h.requested).sum();
    let calls_failed: i64 = hours.iter().map(|h| h.failed).sum();
    // Of the calls that made a request, as `rebound health` counts it.
    let failure_share = if calls_requested > 0 {
        format!(
            "{:.1}%",
            calls_failed as f64 * 100.0 / calls_requested as f64
        )
    } else if calls_total > 0 {
        "no requests".to_string()
    } else {
        "no calls".to_string()
    };

    let incidents = report
        .alerts
        .iter()
        .map(|a| Incident {
            level: a.level.as_str(),
            tone: tone(a.level.as_str()),
            condition: a.condition.clone(),
            subject: a.subject.clone(),
            opened: format!("{} ({})", when(a.opened_at, tz), ago(now, a.opened_at)),
            summary: a.summary.clone(),
        })
        .collect();
    let stale = report
        .datasets
        .iter()
        .filter(|d| d.freshness.level > Level::Ok)
        .map(|d| {
            let f = &d.freshness;
            Stale {
                name: d.name.clone(),
                level: f.level.as_str(),
                tone: tone(f.level.as_str()),
                age: match f.age_seconds {
                    Some(age) => ago(now, now - TimeDelta::seconds(age)),
                    None => "never received new data".to_string(),
                },
                last_change: when_or_never(f.last_change_at, tz),
                limits: super::datasets::limits_text(f.fresh_warn_seconds, f.fresh_error_seconds),
            }
        })
        .collect();
    Ok(Overview {
        chrome: Chrome::new(web, "Overview", "overview"),
        level: report.level.as_str(),
        tone: tone(report.level.as_str()),
        broken: broken(&report, tz),
        runs_total,
        runs_failed,
        runs_chart: charts::runs_per_day(&days),
        calls_total,
        calls_requested,
        calls_failed,
        failure_share,
        calls_chart: charts::calls_per_hour(&hours),
        incidents,
        stale,
        statuses: RUN_STATUSES,
    })
}

/// "since T (3h ago)", or empty without an instant.
fn since(at: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: Tz) -> String {
    at.map(|t| format!("since {} ({})", when(t, tz), ago(now, t)))
        .unwrap_or_default()
}

/// The broken things of the report, worst first, one each: the same
/// things `rebound health` lists, as (what, since, why, link).
pub(crate) fn broken(report: &HealthReport, tz: Tz) -> Vec<Broken> {
    let now = report.generated_at;
    let mut out = Vec::new();
    let mut push = |level: Level, what: String, link: String, since: String, why: String| {
        out.push((
            level,
            Broken {
                level: level.as_str(),
                tone: tone(level.as_str()),
                what,
                link,
                since,
                why,
            },
        ));
    };
    for s in report.sources.iter().filter(|s| s.level > Level::Ok) {
        let mut why = Vec::new();
        if s.breaker != "closed" {
            why.push(format!("circuit breaker {}", s.breaker.replace('_', "-")));
        }
        if s.failing_since.is_some() {
            why.push("every call fails".to_string());
        }
        if let Some(q) = s.quota.as_ref().filter(|q| q.used_rate >= 0.8) {
            why.push(format!(
                "quota {} of {} used, resets {}",
                q.used,
                q.limit,
                when(q.resets_at, tz)
            ));
        }
        if why.is_empty() {
            why.push(format!(
                "{} of {} failed ({:.0}%)",
                s.failed,
                rebound_domain::message::plural(s.calls.max(0) as u64, "call", "calls"),
                s.failure_rate * 100.0
            ));
        }
        if let Some(e) = &s.last_error {
            why.push(format!("last error: {e}"));
        }
        // A closed breaker's time is when it closed: no "since" of a problem.
        let breaker_since = s.breaker_since.filter(|_| s.breaker != "closed");
        let at = s.failing_since.or(breaker_since);
        push(
            s.level,
            format!("source {}", s.name),
            format!("/sources#source-{}", super::encode(&s.name)),
            since(at, now, tz),
            why.join("; "),
        );
    }
    for s in report.scrapers.iter().filter(|s| s.level > Level::Ok) {
        let what = if s.consecutive_failures > 0 {
            format!(
                "{} in a row",
                rebound_domain::message::plural(
                    s.consecutive_failures as u64,
                    "failed call",
                    "failed calls"
                )
            )
        } else {
            format!(
                "{} failed{}, {} overdue of {} in 24 h",
                s.failures,
                // As `rebound health` names them: the source's doing.
                if s.deferred > 0 {
                    format!(" ({} deferred by the source's limits)", s.deferred)
                } else {
                    String::new()
                },
                s.overdue,
                rebound_domain::message::plural(s.runs.max(0) as u64, "call", "calls")
            )
        };
        let why = match &s.last_error {
            Some(e) => format!("{what}; last error: {e}"),
            None => what,
        };
        push(
            s.level,
            format!("scraper {}", s.name),
            format!("/sources#source-{}", super::encode(&s.source)),
            s.last_error_at
                .map(|t| format!("last failed {} ({})", when(t, tz), ago(now, t)))
                .unwrap_or_default(),
            why,
        );
    }
    for w in report.workflows.iter().filter(|w| w.level > Level::Ok) {
        let what = match w.consecutive_failed {
            0 => "many failed runs in the last two days".to_string(),
            1 => "the last run failed or was partial".to_string(),
            n => format!("the last {n} runs failed or were partial"),
        };
        let why = match &w.last_error {
            Some(e) => format!("{what}; {e}"),
            None => what,
        };
        push(
            w.level,
            format!("workflow {}", w.name),
            format!("/runs?workflow={}", super::encode(&w.name)),
            since(w.failing_since, now, tz),
            why,
        );
    }
    for d in &report.datasets {
        let f = &d.freshness;
        if f.level > Level::Ok {
            let why = match f.age_seconds {
                Some(age) => format!(
                    "stale: no new data for {} (limits: {})",
                    ago(now, now - TimeDelta::seconds(age)).trim_end_matches(" ago"),
                    super::datasets::limits_text(f.fresh_warn_seconds, f.fresh_error_seconds)
                ),
                None => "never received new data".to_string(),
            };
            push(
                f.level,
                format!("dataset {}", d.name),
                format!("/datasets#dataset-{}", super::encode(&d.name)),
                since(f.last_change_at, now, tz),
                why,
            );
        }
        if let Some(c) = d.completeness.as_ref().filter(|c| c.level > Level::Ok) {
            let why = match &c.error {
                Some(e) => format!("completeness unknown: {e}"),
                None => format!(
                    "{} of {} collected for {}; past deadline: {}",
                    c.collected,
                    c.expected,
                    c.target_date,
                    c.overdue.join(", ")
                ),
            };
            push(
                c.level,
                format!("dataset {}", d.name),
                format!("/datasets#dataset-{}", super::encode(&d.name)),
                c.deadline
                    .map(|t| format!("due {}", when(t, tz)))
                    .unwrap_or_default(),
                why,
            );
        }
    }
    let h = &report.handoff;
    if h.level > Level::Ok {
        let mut why = vec![format!(
            "{} pending",
            rebound_domain::message::plural(h.pending, "event", "events")
        )];
        for sink in h.sinks.iter().filter(|s| s.last_error.is_some()) {
            why.push(format!(
                "sink {}: {}",
                sink.name,
                sink.last_error.as_deref().unwrap_or_default()
            ));
        }
        push(
            h.level,
            "hand-off".to_string(),
            "/".to_string(),
            String::new(),
            why.join("; "),
        );
    }
    let c = &report.error_coverage;
    if c.with_message < c.failed_or_partial {
        push(
            Level::Warning,
            "error coverage".to_string(),
            "/runs?status=failed".to_string(),
            String::new(),
            format!(
                "{} of {} say why",
                c.with_message,
                rebound_domain::message::plural(
                    c.failed_or_partial.max(0) as u64,
                    "failed or partial run",
                    "failed or partial runs"
                )
            ),
        );
    }
    // Worst first; the order above (sources, scrapers, workflows, data)
    // within a level, since a source's outage explains the rest.
    out.sort_by_key(|b| std::cmp::Reverse(b.0));
    out.into_iter().map(|(_, b)| b).collect()
}
