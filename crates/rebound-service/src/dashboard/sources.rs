//! `/sources`: per upstream source, its circuit breaker and the newest
//! transitions, its request quota, a rate-limit pause in force, its
//! failure rate over 48 hours as a sparkline and over 24 hours as a
//! figure, its last error and last success.
//!
//! The figures are the health report's (24 h period, probes off); the
//! sparkline is the store's calls per hour. A pause shows when it is in
//! the store, which is where `rebound serve` on PostgreSQL keeps them; a
//! single SQLite process keeps its pauses in memory.

use super::cache::{Caches, serve_cached};
use super::{Chrome, Problem, ago, charts, render, tone, when, when_or_never};
use crate::http::Web;
use crate::observe::EngineCalendars;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rebound_health::{Inputs, build_report};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Hours in the sparkline.
const HOURS: i64 = 48;
/// Breaker transitions shown per source.
const TRANSITIONS: u32 = 5;

pub(crate) struct Transition {
    pub at: String,
    pub change: String,
    pub reason: String,
}

pub(crate) struct SourceView {
    pub name: String,
    pub level: &'static str,
    pub tone: &'static str,
    pub breaker: String,
    pub breaker_tone: &'static str,
    pub breaker_since: String,
    pub transitions: Vec<Transition>,
    pub quota: String,
    pub pause: String,
    pub calls: i64,
    pub failed: i64,
    pub failure_rate: String,
    pub sparkline: String,
    pub last_error: String,
    pub last_error_at: String,
    pub last_success: String,
}

#[derive(Template)]
#[template(path = "dashboard/sources.html")]
pub(crate) struct SourcesPage {
    pub chrome: Chrome,
    pub sources: Vec<SourceView>,
}

pub(crate) async fn page(
    State(web): State<Arc<Web>>,
    Extension(caches): Extension<Arc<Caches>>,
    uri: axum::http::Uri,
) -> Response {
    if let Some(refused) = super::unknown_param(&web, "sources", &uri, &[]) {
        return refused;
    }
    let inner = web.clone();
    serve_cached(&caches.sources, web.clock.as_ref(), move |now| async move {
        match build(&inner, now).await {
            Ok(page) => page.render().map_err(|_| render(&page, StatusCode::OK)),
            Err(detail) => Err(Problem::respond(
                &inner,
                "sources",
                StatusCode::INTERNAL_SERVER_ERROR,
                detail,
            )),
        }
    })
    .await
}

async fn build(web: &Web, now: chrono::DateTime<chrono::Utc>) -> Result<SourcesPage, String> {
    let engine = &web.engine;
    let plan = engine.plan();
    let store = engine.store().as_ref();
    let tz = plan.pipeline.timezone;
    let report = build_report(&Inputs {
        plan,
        store,
        calendars: &EngineCalendars(engine),
        prober: None,
        now,
        since: now - TimeDelta::hours(24),
    })
    .await
    .map_err(|e| e.to_string())?;
    let end = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now) + TimeDelta::hours(1);
    let start = end - TimeDelta::hours(HOURS);
    let rows = store
        .call_hours(start, end)
        .await
        .map_err(|e| e.to_string())?;
    let mut hourly = hourly_failure_rates(&rows, start);
    let mut sources = Vec::new();
    for s in &report.sources {
        let transitions = store
            .breaker_transitions(Some(&s.name), TRANSITIONS)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|t| Transition {
                at: when(t.at, tz),
                change: format!("{} → {}", t.from_state, t.to_state),
                reason: t.reason,
            })
            .collect();
        let pause = store
            .limits_paused(&s.name, now)
            .await
            .map_err(|e| e.to_string())?
            .map(|p| format!("paused until {}: {}", when(p.paused_until, tz), p.reason))
            .unwrap_or_default();
        let quota = s
            .quota
            .as_ref()
            .map(|q| {
                format!(
                    "{} of {} requests ({:.0}%), resets {}",
                    q.used,
                    q.limit,
                    q.used_rate * 100.0,
                    when(q.resets_at, tz)
                )
            })
            .unwrap_or_default();
        let series = hourly
            .remove(&s.name)
            .unwrap_or_else(|| vec![None; HOURS as usize]);
        let with_calls = series.iter().flatten().count();
        let label = format!(
            "{}: failure rate per hour over {HOURS} hours ({with_calls} hours with requests)",
            s.name
        );
        sources.push(SourceView {
            name: s.name.clone(),
            level: s.level.as_str(),
            tone: tone(s.level.as_str()),
            breaker: s.breaker.replace('_', "-"),
            breaker_tone: tone(&s.breaker),
            breaker_since: s
                .breaker_since
                .map(|t| format!("since {} ({})", when(t, tz), ago(now, t)))
                .unwrap_or_default(),
            transitions,
            quota,
            pause,
            calls: s.calls,
            failed: s.failed,
            failure_rate: if s.calls > 0 {
                format!("{:.0}%", s.failure_rate * 100.0)
            } else {
                "no calls".to_string()
            },
            sparkline: charts::sparkline(&series, &label),
            last_error: s.last_error.clone().unwrap_or_default(),
            last_error_at: s.last_error_at.map(|t| when(t, tz)).unwrap_or_default(),
            last_success: when_or_never(s.last_success_at, tz),
        });
    }
    Ok(SourcesPage {
        chrome: Chrome::new(web, "Sources", "sources"),
        sources,
    })
}

/// Each source's failure rate per hour from `start` over [`HOURS`] hours:
/// of the calls that made a request, as the 24-hour figures beside it (and
/// `rebound health`) count it; `None` for an hour without requests. It
/// divided by every call, so an hour of 4 failed requests out of 10, with
/// 22 more calls held back by a `Retry-After`, read 12.5% where health
/// read 40%.
fn hourly_failure_rates(
    rows: &[rebound_storage::CallHourRow],
    start: DateTime<Utc>,
) -> BTreeMap<String, Vec<Option<f64>>> {
    let mut hourly: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for row in rows {
        let i = (row.hour - start).num_hours();
        let series = hourly
            .entry(row.source_name.clone())
            .or_insert_with(|| vec![None; HOURS as usize]);
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| series.get_mut(i))
            && row.requested > 0
        {
            *slot = Some(row.failed as f64 / row.requested as f64);
        }
    }
    hourly
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hourly_rate_is_of_the_calls_that_made_a_request() {
        let start: DateTime<Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
        let row = |hour: i64, calls, requested, failed| rebound_storage::CallHourRow {
            hour: start + TimeDelta::hours(hour),
            source_name: "odds".into(),
            calls,
            requested,
            failed,
        };
        let rates = hourly_failure_rates(&[row(0, 32, 10, 4), row(1, 5, 0, 0)], start);
        let odds = &rates["odds"];
        assert_eq!(odds[0], Some(0.4));
        assert_eq!(odds[1], None, "no request, no rate");
        assert_eq!(odds[2], None);
    }
}
