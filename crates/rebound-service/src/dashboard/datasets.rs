//! `/datasets`: per dataset, how old its newest real change is against
//! its `fresh_warn` / `fresh_error` limits (a meter with both marks), its
//! completeness for the current target date ("x of N", the missing
//! entities) and when it last changed and was last checked. The figures
//! are `rebound freshness`'s (`rebound_health::freshness`).

use super::cache::{Caches, serve_cached};
use super::{Chrome, Problem, ago, render, tone, when, when_or_never};
use crate::http::Web;
use crate::observe::EngineCalendars;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::TimeDelta;
use rebound_health::Freshness;
use std::fmt::Write as _;
use std::sync::Arc;

/// "warn after 6h, error after 1d", or "no limits".
pub(crate) fn limits_text(warn: Option<i64>, error: Option<i64>) -> String {
    let d = |s: i64| {
        rebound_domain::duration::format_duration(std::time::Duration::from_secs(s.max(0) as u64))
    };
    match (warn, error) {
        (Some(w), Some(e)) => format!("warn after {}, error after {}", d(w), d(e)),
        (Some(w), None) => format!("warn after {}", d(w)),
        (None, Some(e)) => format!("error after {}", d(e)),
        (None, None) => "no limits".to_string(),
    }
}

pub(crate) struct DatasetView {
    pub name: String,
    pub level: &'static str,
    pub tone: &'static str,
    pub age: String,
    pub limits: String,
    pub meter: String,
    pub last_change: String,
    pub last_checked: String,
    pub completeness: String,
    pub completeness_tone: &'static str,
    pub missing: Vec<String>,
    pub overdue: String,
}

#[derive(Template)]
#[template(path = "dashboard/datasets.html")]
pub(crate) struct DatasetsPage {
    pub chrome: Chrome,
    pub datasets: Vec<DatasetView>,
}

pub(crate) async fn page(
    State(web): State<Arc<Web>>,
    Extension(caches): Extension<Arc<Caches>>,
    uri: axum::http::Uri,
) -> Response {
    if let Some(refused) = super::unknown_param(&web, "datasets", &uri, &[]) {
        return refused;
    }
    let inner = web.clone();
    serve_cached(
        &caches.datasets,
        web.clock.as_ref(),
        move |now| async move { make(&inner, now).await },
    )
    .await
}

async fn make(web: &Web, now: chrono::DateTime<chrono::Utc>) -> Result<String, Response> {
    let engine = &web.engine;
    let plan = engine.plan();
    let tz = plan.pipeline.timezone;
    let datasets = match rebound_health::freshness(
        plan,
        engine.store().as_ref(),
        &EngineCalendars(engine),
        now,
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            return Err(Problem::respond(
                web,
                "datasets",
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            ));
        }
    };
    let views = datasets
        .into_iter()
        .map(|d| {
            let f = &d.freshness;
            let (completeness, completeness_tone, missing, overdue) = match &d.completeness {
                None => (String::new(), "other", Vec::new(), String::new()),
                Some(c) => match &c.error {
                    Some(e) => (format!("unknown: {e}"), "bad", Vec::new(), String::new()),
                    None => (
                        format!(
                            "{} of {} collected for {}",
                            c.collected, c.expected, c.target_date
                        ),
                        tone(c.level.as_str()),
                        c.missing.clone(),
                        deadline_text(c.deadline, &c.overdue, tz),
                    ),
                },
            };
            DatasetView {
                level: d.level.as_str(),
                tone: tone(d.level.as_str()),
                age: match f.age_seconds {
                    Some(age) => ago(now, now - TimeDelta::seconds(age)),
                    None => "never received new data".to_string(),
                },
                limits: limits_text(f.fresh_warn_seconds, f.fresh_error_seconds),
                meter: meter(f),
                last_change: when_or_never(f.last_change_at, tz),
                last_checked: when_or_never(f.last_checked_at, tz),
                completeness,
                completeness_tone,
                missing,
                overdue,
                name: d.name,
            }
        })
        .collect();
    let page = DatasetsPage {
        chrome: Chrome::new(web, "Datasets", "datasets"),
        datasets: views,
    };
    page.render().map_err(|_| render(&page, StatusCode::OK))
}

/// The age on a bar whose end is a quarter past the error limit (or the
/// age, when older), with a mark at each limit; empty without limits or
/// without data.
fn meter(f: &Freshness) -> String {
    const W: f64 = 260.0;
    let (Some(age), Some(top)) = (
        f.age_seconds,
        f.fresh_error_seconds.or(f.fresh_warn_seconds),
    ) else {
        return String::new();
    };
    let scale = ((top as f64) * 1.25).max(age as f64).max(1.0);
    let x = |s: i64| W * (s.max(0) as f64 / scale);
    let fill = match f.level.as_str() {
        "ok" => "fill-good",
        "warning" => "fill-warn",
        _ => "fill-bad",
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="meter" viewBox="0 0 {W} 12" role="img" aria-label="{}"><rect class="track" x="0" y="2" width="{W}" height="8"/><rect class="{fill}" x="0" y="2" width="{:.1}" height="8"/>"#,
        super::charts::esc(&format!(
            "age against limits: {}",
            limits_text(f.fresh_warn_seconds, f.fresh_error_seconds)
        )),
        x(age)
    );
    for limit in [f.fresh_warn_seconds, f.fresh_error_seconds]
        .into_iter()
        .flatten()
    {
        let _ = write!(
            svg,
            r#"<line class="mark" x1="{0:.1}" y1="0" x2="{0:.1}" y2="12"/>"#,
            x(limit)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The completeness deadline line: `deadline` is the earliest of the
/// missing entities' deadlines, so with several overdue it is the first of
/// theirs, not one they share ("past the deadline 02:30: a, b" read as if b,
/// due at 03:00, had been due at 02:30 too).
fn deadline_text(
    deadline: Option<chrono::DateTime<chrono::Utc>>,
    overdue: &[String],
    tz: chrono_tz::Tz,
) -> String {
    match (deadline, overdue) {
        (None, _) => String::new(),
        (Some(t), []) => format!("deadline {}", when(t, tz)),
        (Some(t), [one]) => format!("past the deadline {}: {one}", when(t, tz)),
        (Some(t), many) => format!(
            "past their deadlines (the first {}): {}",
            when(t, tz),
            many.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_overdue_entities_are_past_their_own_deadlines() {
        let t: chrono::DateTime<chrono::Utc> = "2026-12-07T07:30:00Z".parse().unwrap();
        let tz = chrono_tz::America::New_York;
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            deadline_text(Some(t), &ids(&["a", "b"]), tz),
            "past their deadlines (the first 2026-12-07 02:30 EST (-05:00)): a, b"
        );
        assert_eq!(
            deadline_text(Some(t), &ids(&["a"]), tz),
            "past the deadline 2026-12-07 02:30 EST (-05:00): a"
        );
        assert_eq!(
            deadline_text(Some(t), &[], tz),
            "deadline 2026-12-07 02:30 EST (-05:00)"
        );
    }
}
