//! The web dashboard at `/` (issue 16 item 3): server-rendered pages on the
//! one router of `crate::http`, sharing its [`Web`] state. See
//! `docs/dashboard.md` for what each page shows.
//!
//! Every page reads what the run path recorded (the store, the health
//! report of `rebound-health`), never the live engine, so the page agrees
//! with `rebound health` and with SQL. Pages are askama templates
//! (`templates/dashboard/`), escaped by default: an upstream's error text
//! is never marked safe; the only markup inserted unescaped is the SVG the
//! [`charts`] module draws, which escapes its own labels. The stylesheet
//! and the refresh script are embedded in the binary and served under a
//! name carrying a hash of their content ([`assets`]), so a browser may
//! keep them for a year and a new binary's are fetched anew.
//!
//! Times are shown in the pipeline's zone with the offset
//! (`docs/output.md`); query parameters (filters, the schedule's date) are
//! checked and a bad one answers 400 with a page naming the parameter.

mod assets;
mod cache;
pub(crate) mod charts;
mod datasets;
mod overview;
mod runs;
mod schedule;
mod sources;

use crate::http::Web;
use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::Arc;

/// The dashboard's routes.
pub(crate) fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/", get(overview::page).fallback(wrong_method))
        .route("/runs", get(runs::list).fallback(wrong_method))
        .route(
            "/runs/{execution_id}",
            get(runs::one).fallback(wrong_method),
        )
        .route("/sources", get(sources::page).fallback(wrong_method))
        .route("/datasets", get(datasets::page).fallback(wrong_method))
        .route("/schedule", get(schedule::page).fallback(wrong_method))
        .route("/assets/{name}", get(assets::serve).fallback(wrong_method))
        .layer(axum::Extension(Arc::new(cache::Caches::default())))
        .fallback(not_found)
}

/// Another method than GET on a page (a POST of a form, a DELETE): a 405
/// saying the pages only read, with `Allow`. It was a bare 405 with no
/// body, a blank page.
async fn wrong_method(method: axum::http::Method) -> Response {
    let method = charts::esc(&rebound_domain::message::escape_controls(
        method.as_str(),
        false,
    ));
    let mut response = html_response(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Method not allowed · Rebound</title>\n</head>\n<body>\n<main>\n<h1>Method not allowed</h1>\n<p id=\"problem-detail\">The dashboard's pages only read: they answer GET (and HEAD), not {method}. The JSON API under /api/v1/ takes the mutations.</p>\n</main>\n</body>\n</html>\n"
        ),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// Any path nothing answers (`/run`, a typo of `/runs`): a page naming it
/// and the pages there are. It was a bare 404, a blank page in a browser.
/// The fallback is outside the routes' token guard, so it shows nothing
/// of the pipeline, only the request's own path.
async fn not_found(uri: axum::http::Uri) -> Response {
    let path = charts::esc(&rebound_domain::message::escape_controls(uri.path(), false));
    html_response(
        StatusCode::NOT_FOUND,
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Not found · Rebound</title>\n<link rel=\"stylesheet\" href=\"{css}\">\n</head>\n<body>\n<main>\n<h1>Not found</h1>\n<p id=\"problem-detail\">No page {path}. The dashboard's pages are <a href=\"/\">/</a>, <a href=\"/runs\">/runs</a>, <a href=\"/sources\">/sources</a>, <a href=\"/datasets\">/datasets</a> and <a href=\"/schedule\">/schedule</a>; the JSON API is under /api/v1/ (/api/v1/openapi.json lists it).</p>\n</main>\n</body>\n</html>\n",
            css = assets::css_path()
        ),
    )
}

/// How often a page reloads itself (the script, or `<meta refresh>`
/// without scripts); a reload keeps the URL, so filters stay.
pub(crate) const REFRESH_SECONDS: u32 = 30;

/// What every page's frame shows: the title, which tab is current, the
/// pipeline, when the page was made, the asset URLs.
pub(crate) struct Chrome {
    pub title: String,
    pub active: &'static str,
    pub pipeline: String,
    pub generated: String,
    pub css: &'static str,
    pub js: &'static str,
    pub refresh: u32,
}

impl Chrome {
    pub(crate) fn new(web: &Web, title: impl Into<String>, active: &'static str) -> Chrome {
        let plan = web.engine.plan();
        Chrome {
            title: title.into(),
            active,
            pipeline: plan.pipeline.name.clone(),
            generated: when(web.clock.now(), plan.pipeline.timezone),
            css: assets::css_path(),
            js: assets::js_path(),
            refresh: REFRESH_SECONDS,
        }
    }

    /// The navigation tabs: (path, label, `aria-current`: `page` for the
    /// current one, else `false`).
    pub(crate) fn tabs(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        [
            ("/", "Overview", "overview"),
            ("/runs", "Runs", "runs"),
            ("/sources", "Sources", "sources"),
            ("/datasets", "Datasets", "datasets"),
            ("/schedule", "Schedule", "schedule"),
        ]
        .into_iter()
        .map(|(path, label, key)| {
            let current = if key == self.active { "page" } else { "false" };
            (path, label, current)
        })
        .collect()
    }
}

/// An instant for people: `2026-11-28 02:56 EST (-05:00)`, the format of
/// every command (`docs/output.md`).
pub(crate) fn when(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z (%:z)")
        .to_string()
}

/// [`when`] with seconds, for the instants of one run's attempts.
pub(crate) fn when_secs(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z (%:z)")
        .to_string()
}

/// [`when`], or `never`.
pub(crate) fn when_or_never(t: Option<DateTime<Utc>>, tz: Tz) -> String {
    t.map(|t| when(t, tz))
        .unwrap_or_else(|| "never".to_string())
}

/// "3h 12m ago", coarsened to minutes past an hour.
pub(crate) fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let seconds = (now - t).num_seconds().max(0);
    let rounded = if seconds >= 3600 {
        seconds / 60 * 60
    } else {
        seconds
    };
    format!(
        "{} ago",
        rebound_domain::duration::format_duration(std::time::Duration::from_secs(rounded as u64))
    )
}

/// A duration in milliseconds for people: `850 ms`, `3.2 s`, `4m 10s`.
pub(crate) fn millis(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        rebound_domain::duration::format_duration(std::time::Duration::from_secs(
            (ms / 1000) as u64,
        ))
    }
}

/// The first instant of the local day `date` in `tz` (the first instant
/// after a gap; the earlier of an overlap).
pub(crate) fn day_start(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // A zone whose midnight falls in a DST gap: the day starts an
        // hour later, at the first instant that exists.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(midnight + chrono::TimeDelta::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc()),
    }
}

/// The CSS class of a level or status word (`ok`, `warning`, `failed`…):
/// the word itself when it is one the stylesheet knows, else `other`.
pub(crate) fn tone(word: &str) -> &'static str {
    match word {
        "ok" | "success" | "closed" | "run" | "RUN" => "good",
        "warning" | "partial" | "half_open" | "no_data" | "not_yet_available" | "skip" | "SKIP"
        | "running" => "warn",
        "critical" | "failed" | "open" | "overdue" | "abort" | "ABORT" => "bad",
        _ => "other",
    }
}

/// Renders a page, or a 500 page saying the template failed.
pub(crate) fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => html_response(status, html),
        Err(error) => {
            tracing::error!(%error, "A dashboard page failed to render.");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "<!doctype html><title>Error</title><p>The page could not be rendered: {}</p>",
                    charts::esc(&error.to_string())
                ),
            )
        }
    }
}

/// A page already rendered, with every page's headers.
pub(crate) fn html_ok(html: String) -> Response {
    html_response(StatusCode::OK, html)
}

/// Percent-encodes a name for a query value or a fragment: names come
/// from the config and may hold anything but unreserved characters are
/// all a URL needs to carry them.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every page's headers: HTML, never cached (it refreshes itself), and a
/// policy that lets it load only the binary's own script and stylesheet.
fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        html,
    )
        .into_response()
}

/// The page shown when a page cannot be made: a bad query parameter
/// (400), an unknown run (404), a store that cannot be read (500).
#[derive(Template)]
#[template(path = "dashboard/problem.html")]
pub(crate) struct Problem {
    pub chrome: Chrome,
    pub heading: String,
    pub detail: String,
}

impl Problem {
    pub(crate) fn respond(
        web: &Web,
        active: &'static str,
        status: StatusCode,
        detail: impl Into<String>,
    ) -> Response {
        let heading = match status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::NOT_FOUND => "Not found",
            _ => "Could not read the history",
        };
        // The detail often quotes the request (a workflow's name, a run's
        // id): HTML-escaping keeps its markup out, and its control and
        // bidirectional characters are written as escapes (`\u{202e}`), as
        // in the API's problems: a U+202E turned the rest of it around.
        let detail = rebound_domain::message::escape_controls(&detail.into(), false);
        if status.is_server_error() {
            // Shown on the page too; the log keeps it for whoever runs
            // the service.
            tracing::error!(%detail, "A dashboard page failed.");
        }
        let page = Problem {
            chrome: Chrome::new(web, heading, active),
            heading: heading.to_string(),
            detail,
        };
        render(&page, status)
    }
}

/// The problem page for a query parameter the page does not take, if the
/// request has one. Such a parameter was ignored, so `/sources?since=7d`
/// showed the last 24 hours as if that had been asked, and a mistyped
/// filter (`/runs?stauts=failed`) every run; the API refuses them too.
pub(crate) fn unknown_param(
    web: &Web,
    active: &'static str,
    uri: &axum::http::Uri,
    takes: &[&str],
) -> Option<Response> {
    let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let (name, _) = pairs
        .iter()
        .find(|(name, _)| !takes.contains(&name.as_str()))?;
    let detail = if takes.is_empty() {
        format!("unknown query parameter \"{name}\": this page takes none")
    } else {
        format!(
            "unknown query parameter \"{name}\": this page takes {}",
            takes.join(", ")
        )
    };
    Some(Problem::respond(
        web,
        active,
        StatusCode::BAD_REQUEST,
        detail,
    ))
}

/// Reads an optional query parameter that must be a `YYYY-MM-DD` date;
/// empty counts as absent (an empty form field).
/// Four-digit years up to the zone rules' last date, as the API and CLI:
/// `+262142-12-31` panicked in the date arithmetic of a page, and a plan
/// for 2200 was silently on standard time.
pub(crate) fn date_param(name: &str, value: Option<&str>) -> Result<Option<NaiveDate>, String> {
    use chrono::Datelike;
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.year() >= 1)
        .ok_or_else(|| {
            format!("query parameter {name}: expected a date as YYYY-MM-DD, got \"{text}\"")
        })?;
    rebound_domain::calendar::within_zone_rules(date)
        .map(Some)
        .map_err(|why| format!("query parameter {name}: \"{text}\": {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_local_midnight_and_after_a_gap() {
        let ny = chrono_tz::America::New_York;
        let d = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
        assert_eq!(day_start(d, ny).to_rfc3339(), "2026-11-28T05:00:00+00:00");
        // Santiago skips midnight at its DST start (2026-09-06).
        let cl = chrono_tz::America::Santiago;
        let gap = NaiveDate::from_ymd_opt(2026, 9, 6).expect("date");
        assert_eq!(day_start(gap, cl).to_rfc3339(), "2026-09-06T04:00:00+00:00");
    }

    #[test]
    fn a_bad_date_names_the_parameter_and_the_value() {
        assert_eq!(date_param("from", Some("")), Ok(None));
        assert_eq!(
            date_param("from", Some("2026-13-01")),
            Err("query parameter from: expected a date as YYYY-MM-DD, got \"2026-13-01\"".into())
        );
        // Before: these panicked (+262142, -262143) or planned 2200 on
        // standard time.
        for far in ["+262142-12-31", "-262143-01-01", "-0001-01-01"] {
            assert!(date_param("date", Some(far)).is_err(), "{far}");
        }
        assert_eq!(
            date_param("date", Some("2200-07-01")),
            Err("query parameter date: \"2200-07-01\": after 2099-12-31, where the time-zone rules Rebound knows end (local times would be wrong)".into())
        );
    }
}
