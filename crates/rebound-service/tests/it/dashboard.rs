//! The dashboard (issue 16 item 3) served by the in-process service
//! (`Role::Web`) over loopback, on a SQLite file and on a PostgreSQL
//! schema of the test's own, with a history written through the store:
//! each page shows the figures that history implies, filters narrow,
//! bad parameters answer 400 naming themselves, an unknown run 404, and
//! an upstream's hostile error text is shown escaped, never as markup.
//!
//! The clock is a `ManualClock` at 12:00 EST on 2026-11-28 (17:00 UTC),
//! so "today", "the last 48 hours" and every age are fixed.

use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::breaker::{BreakerConfig, BreakerState, Signal};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_domain::plan::Plan;
use rebound_service::{Handle, Role, Service, ServiceConfig};
use rebound_storage::{
    AlertLevel, DecisionAction, NewAlertIncident, NewAttempt, NewDecision, NewScraperCall,
    NewWorkflowExecution, Store,
};
use rebound_storage_postgres::PostgresStore;
use rebound_storage_sqlite::SqliteStore;
use std::path::Path;
use std::sync::Arc;

/// What an upstream might answer: markup and quotes that must reach the
/// page as text.
pub(super) const HOSTILE: &str =
    r#"HTTP 503 after 3 attempts: <script>alert("x")</script> & <b>down</b>"#;
/// The same, as it must appear in the HTML.
pub(super) const HOSTILE_ESCAPED: &str =
    "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#60;b&#62;down&#60;/b&#62;";

pub(super) fn ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("fixture time")
        .with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    ts("2026-11-28T17:00:00Z")
}

fn config() -> String {
    r#"
[pipeline]
name = "dash"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[server]
listen = "127.0.0.1:0"

[sources.nbacom]
base_url = "http://127.0.0.1:9/nba"

[sources.bdl]
base_url = "http://127.0.0.1:9/bdl"

[scrapers.injuries]
source = "nbacom"
path = "/injury-report"
dataset = "nbacom/injury_report"

[scrapers.bdl_games]
source = "bdl"
path = "/games"
dataset = "bdl/games"

[workflows.injuries]
scrapers = ["injuries"]
schedule = { kind = "window", start = "06:00", end = "10:00" }

[workflows.games]
scrapers = ["bdl_games"]

[datasets."bdl/games"]
fresh_warn = "6h"
fresh_error = "1d"
"#
    .to_string()
}

fn plan(dir: &Path) -> Plan {
    rebound_config::load_str(&config(), &dir.join("rebound.toml"), &|_| None)
        .expect("config is valid")
}

pub(super) fn run(
    id: &str,
    workflow: &str,
    at: &str,
    status: WorkflowStatus,
    error: Option<&str>,
) -> NewWorkflowExecution {
    let start = ts(at);
    let failed = u32::from(status == WorkflowStatus::Failed);
    NewWorkflowExecution {
        execution_id: id.to_string(),
        workflow_name: workflow.to_string(),
        target_date: start.date_naive(),
        execution_time: start,
        finished_at: start + TimeDelta::seconds(4),
        status,
        scrapers_requested: 1,
        scrapers_succeeded: 1 - failed,
        scrapers_failed: failed,
        scrapers_no_data: 0,
        scrapers_skipped: 0,
        error_message: error.map(str::to_string),
        duration_ms: 4_000,
        params: "{}".to_string(),
    }
}

pub(super) fn call(id: &str, scraper: &str, source: &str, at: &str, ok: bool) -> NewScraperCall {
    let start = ts(at);
    let attempt = |n: u32, from: DateTime<Utc>, wait_ms: i64, status: u16, outcome| NewAttempt {
        attempt: n,
        page: 1,
        proxy: None,
        started_at: from,
        finished_at: from + TimeDelta::milliseconds(200),
        http_status: Some(status),
        outcome,
        error_kind: (status != 200).then_some(ErrorKind::Server),
        error_message: (status != 200).then(|| HOSTILE.to_string()),
        delay_before_ms: wait_ms,
    };
    let attempt_rows = if ok {
        vec![attempt(1, start, 0, 200, AttemptOutcome::Success)]
    } else {
        vec![
            attempt(1, start, 0, 503, AttemptOutcome::Retryable),
            attempt(
                2,
                start + TimeDelta::milliseconds(1_200),
                1_000,
                503,
                AttemptOutcome::Retryable,
            ),
            attempt(
                3,
                start + TimeDelta::milliseconds(3_400),
                2_000,
                503,
                AttemptOutcome::Retryable,
            ),
        ]
    };
    NewScraperCall {
        execution_id: Some(id.to_string()),
        workflow_name: None,
        scraper_name: scraper.to_string(),
        source_name: source.to_string(),
        params: "{}".to_string(),
        target_date: start.date_naive(),
        status: if ok {
            ScraperStatus::Success
        } else {
            ScraperStatus::Failed
        },
        attempts: attempt_rows.len() as u32,
        http_status: Some(if ok { 200 } else { 503 }),
        error_kind: (!ok).then_some(ErrorKind::Server),
        error_message: (!ok).then(|| HOSTILE.to_string()),
        started_at: start,
        finished_at: start + TimeDelta::milliseconds(3_600),
        duration_ms: 3_600,
        bytes: ok.then_some(512),
        output_uri: ok.then(|| format!("file:///raw/{id}.json")),
        content_hash: ok.then(|| format!("hash-{id}")),
        unchanged: false,
        pages: None,
        record_count: None,
        attempt_rows,
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
    }
}

/// A fortnight of history: 6 runs in the chart's 14 days (one failed,
/// carrying [`HOSTILE`]), one older; 5 calls in the last 48 hours (2
/// failed); the bdl breaker open; an open incident; `bdl/games` last
/// changed 29 hours ago (less 3.6 s) (past its 1-day limit); two decisions today.
async fn seed(store: &dyn Store) {
    let runs = [
        (
            "r-old",
            "injuries",
            "2026-11-14T12:00:00Z",
            WorkflowStatus::Success,
            None,
        ),
        (
            "r-first",
            "injuries",
            "2026-11-15T12:00:00Z",
            WorkflowStatus::Success,
            None,
        ),
        (
            "r-inj-27",
            "injuries",
            "2026-11-27T11:00:00Z",
            WorkflowStatus::Success,
            None,
        ),
        (
            "r-games-27",
            "games",
            "2026-11-27T12:00:00Z",
            WorkflowStatus::Success,
            None,
        ),
        (
            "r-inj-28",
            "injuries",
            "2026-11-28T11:00:00Z",
            WorkflowStatus::Success,
            None,
        ),
        (
            "r-games-fail",
            "games",
            "2026-11-28T15:00:00Z",
            WorkflowStatus::Failed,
            Some(HOSTILE),
        ),
        (
            "r-games-partial",
            "games",
            "2026-11-28T16:00:00Z",
            WorkflowStatus::Partial,
            None,
        ),
    ];
    for (id, workflow, at, status, error) in runs {
        store
            .record_workflow_execution(&run(id, workflow, at, status, error))
            .await
            .expect("run");
    }
    for c in [
        call(
            "r-first",
            "injuries",
            "nbacom",
            "2026-11-15T12:00:00Z",
            true,
        ),
        call(
            "r-inj-27",
            "injuries",
            "nbacom",
            "2026-11-27T11:00:00Z",
            true,
        ),
        call(
            "r-games-27",
            "bdl_games",
            "bdl",
            "2026-11-27T12:00:00Z",
            true,
        ),
        call(
            "r-inj-28",
            "injuries",
            "nbacom",
            "2026-11-28T11:00:00Z",
            true,
        ),
        call(
            "r-games-fail",
            "bdl_games",
            "bdl",
            "2026-11-28T15:00:00Z",
            false,
        ),
        call(
            "r-games-partial",
            "bdl_games",
            "bdl",
            "2026-11-28T16:00:00Z",
            false,
        ),
    ] {
        store.record_scraper_call(&c).await.expect("call");
    }
    let cfg = BreakerConfig::default();
    let at = ts("2026-11-28T16:59:30Z");
    for _ in 0..cfg.consecutive_failures {
        let mut change = |s: &mut BreakerState| {
            s.record(
                &cfg,
                at,
                Signal::Unhealthy,
                Some((ErrorKind::Server, HOSTILE)),
                None,
            )
        };
        store
            .update_breaker("bdl", at, &mut change)
            .await
            .expect("breaker");
    }
    store
        .open_alert_incident(
            &NewAlertIncident {
                condition: "source_unhealthy".to_string(),
                subject: "bdl".to_string(),
                level: "critical".to_string(),
                summary: "source bdl: breaker open".to_string(),
                opened_at: ts("2026-11-28T16:10:00Z"),
                last_notified_at: None,
                caused_by: None,
            },
            &[],
        )
        .await
        .expect("incident");
    for (id, at, action, reason, execution) in [
        (
            "d1",
            "2026-11-28T11:00:00Z",
            DecisionAction::Run,
            "window 06:00-10:00 open, not run yet",
            Some("r-inj-28"),
        ),
        (
            "d2",
            "2026-11-28T12:00:00Z",
            DecisionAction::Skip,
            "window run already done today",
            None,
        ),
    ] {
        store
            .record_decision(
                &NewDecision {
                    decision_id: id.to_string(),
                    workflow_name: "injuries".to_string(),
                    decided_at: ts(at),
                    slot: "window".to_string(),
                    target_date: ts(at).date_naive(),
                    action,
                    reason: reason.to_string(),
                    entities: "[]".to_string(),
                    alert_level: AlertLevel::None,
                    execution_id: execution.map(str::to_string),
                    decided_by: "test:scheduler".to_string(),
                },
                None,
            )
            .await
            .expect("decision");
    }
}

async fn serve(dir: &Path, store: Arc<dyn Store>) -> (Handle, String) {
    serve_plan(plan(dir), store).await
}

async fn serve_plan(plan: Plan, store: Arc<dyn Store>) -> (Handle, String) {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let config = ServiceConfig {
        plan,
        role: Role::Web,
        workers: 1,
        host: "test-host".to_string(),
    };
    let handle = Service::start(config, store, clock)
        .await
        .expect("service starts");
    let addr = handle.local_addr().expect("listening");
    (handle, format!("http://{addr}"))
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The text of the element with `id` (its first text up to the next tag).
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').expect("tag end") + 1;
    let end = rest[start..].find('<').expect("next tag") + start;
    rest[start..end].trim()
}

/// Every page against one seeded store.
async fn pages_show_the_history(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    seed(store.as_ref()).await;
    let (handle, base) = serve(dir.path(), store).await;

    // Overview: the verdict, the broken things, both charts' totals, the
    // incident and the stale dataset; the hostile message as text.
    let (status, html) = get(&format!("{base}/")).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(by_id(&html, "level"), "critical");
    assert_eq!(
        by_id(&html, "runs-total"),
        "6",
        "the 14th is outside the 14 days"
    );
    assert_eq!(by_id(&html, "runs-failed"), "1");
    assert_eq!(
        by_id(&html, "calls-total"),
        "5",
        "the 15th's call is outside 48 hours"
    );
    assert_eq!(by_id(&html, "calls-requested"), "5");
    assert_eq!(by_id(&html, "calls-failed"), "2");
    assert_eq!(by_id(&html, "failure-share"), "40.0%");
    assert!(html.contains(">source bdl</a>"), "{html}");
    assert!(html.contains("circuit breaker open"), "{html}");
    assert!(html.contains(">workflow games</a>"), "{html}");
    assert!(html.contains("source_unhealthy") && html.contains("source bdl: breaker open"));
    assert!(
        html.contains("2026-11-28 11:10 EST (-05:00)"),
        "incident opened, local: {html}"
    );
    assert!(
        html.contains(">bdl/games</a>"),
        "stale dataset listed: {html}"
    );
    assert!(html.contains(HOSTILE_ESCAPED), "{html}");
    assert!(!html.contains("<script>alert"), "never markup");
    assert!(
        html.contains("Sun 2026-11-15: 1 run (1 success)"),
        "the first bar: {html}"
    );
    assert!(html.contains("Sat 2026-11-28: 3 runs (1 success, 1 partial, 1 failed)"));

    // Runs: filters narrow, errors inline, escaped.
    let rows = |html: &str| html.matches("data-execution-id=").count();
    let (status, html) = get(&format!("{base}/runs")).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&html), 7);
    assert!(html.contains(HOSTILE_ESCAPED));
    let (_, html) = get(&format!("{base}/runs?workflow=games")).await;
    assert_eq!(rows(&html), 3, "{html}");
    assert!(
        html.contains(r#"<option value="games" selected>"#),
        "the filter stays chosen"
    );
    let (_, html) = get(&format!("{base}/runs?status=failed&workflow=")).await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains(r#"data-execution-id="r-games-fail""#));
    let (_, html) = get(&format!("{base}/runs?from=2026-11-27&to=2026-11-27")).await;
    assert_eq!(
        rows(&html),
        2,
        "both ends are local dates, included: {html}"
    );
    let (status, html) = get(&format!("{base}/runs?status=broken")).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("query parameter status: &#34;broken&#34; is not a run status"),
        "{html}"
    );
    let (status, html) = get(&format!("{base}/runs?from=yesterday")).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("query parameter from: expected a date as YYYY-MM-DD"),
        "{html}"
    );
    let (status, html) = get(&format!("{base}/runs?workflow=nope")).await;
    assert_eq!(status, 400);
    assert!(html.contains("no workflow &#34;nope&#34;"), "{html}");

    // One run: its call, three attempts, the waits as gaps.
    let (status, html) = get(&format!("{base}/runs/r-games-fail")).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(by_id(&html, "run-status"), "failed");
    assert!(html.contains("3 attempts, HTTP 503"), "{html}");
    assert!(html.contains("waited 1.0 s before attempt 2"), "{html}");
    assert!(html.contains("waited 2.0 s before attempt 3"), "{html}");
    assert!(
        html.contains("2026-11-28 10:00:00 EST (-05:00)"),
        "attempt times, local: {html}"
    );
    assert!(html.contains(HOSTILE_ESCAPED) && !html.contains("<script>alert"));
    let (status, html) = get(&format!("{base}/runs/no-such-run")).await;
    assert_eq!(status, 404);
    assert!(
        html.contains("No run with execution id &#34;no-such-run&#34;"),
        "{html}"
    );

    // Sources: the open breaker, the 24-hour figures, the sparkline.
    let (status, html) = get(&format!("{base}/sources")).await;
    assert_eq!(status, 200, "{html}");
    let bdl = &html[html.find(r#"id="source-bdl""#).expect("bdl section")..];
    let bdl = &bdl[..bdl.find("</section>").expect("end")];
    assert!(bdl.contains(r#"breaker">open</span>"#), "{bdl}");
    assert!(
        bdl.contains(r#"<span class="calls">2</span> calls, <span class="failed">2</span> failed"#),
        "{bdl}"
    );
    assert!(bdl.contains("closed → open"), "{bdl}");
    assert!(bdl.contains("<svg class=\"spark\""), "{bdl}");
    assert!(bdl.contains(HOSTILE_ESCAPED));

    // Datasets: bdl/games critical, 29 hours old, against its limits.
    let (status, html) = get(&format!("{base}/datasets")).await;
    assert_eq!(status, 200, "{html}");
    let games = &html[html.find(r#"id="dataset-bdl/games""#).expect("row")..];
    let games = &games[..games.find("</tr>").expect("end")];
    assert!(games.contains(r#"data-level="critical""#), "{games}");
    assert!(
        games.contains("1d 4h 59m ago"),
        "the call ended 3.6 s after 07:00: {games}"
    );
    assert!(games.contains("warn after 6h, error after 1d"), "{games}");

    // Schedule: today's two decisions; the plan's window run at 06:00;
    // what ran; another day by the picker; a bad date is a 400.
    let (status, html) = get(&format!("{base}/schedule")).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(by_id(&html, "schedule-date"), "2026-11-28");
    assert!(html.contains("window 06:00-10:00 open, not run yet"));
    assert!(html.contains("window run already done today"));
    assert_eq!(html.matches("<tr data-action=").count(), 2);
    let injuries = &html[html.find(r#"id="workflow-injuries""#).expect("injuries")..];
    let injuries = &injuries[..injuries.find("</section>").expect("end")];
    assert!(
        injuries.contains("06:00 (window for 2026-11-28)"),
        "{injuries}"
    );
    assert!(
        injuries.contains(r#"<a href="/runs/r-inj-28">06:00</a>"#),
        "{injuries}"
    );
    let (_, html) = get(&format!("{base}/schedule?date=2026-11-27")).await;
    assert_eq!(by_id(&html, "schedule-date"), "2026-11-27");
    assert!(html.contains("No decisions recorded on 2026-11-27."));
    let (status, html) = get(&format!("{base}/schedule?date=28/11/2026")).await;
    assert_eq!(status, 400);
    assert!(html.contains("query parameter date"), "{html}");

    // Assets: the linked names are served for a year; any other is not.
    let css = html
        .split("href=\"/assets/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("stylesheet link");
    let response = reqwest::get(format!("{base}/assets/{css}"))
        .await
        .expect("css");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        response
            .text()
            .await
            .expect("css")
            .contains("prefers-color-scheme: dark")
    );
    let (status, _) = get(&format!("{base}/assets/dashboard-0000000000000000.css")).await;
    assert_eq!(status, 404);

    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_history_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    pages_show_the_history(store).await;
}

/// Before: the problem page HTML-escaped its detail but kept the
/// bidirectional controls (and other control characters) that it quoted
/// from the request, so `x\u{202e}gnp.exe` read `xexe.png` on the page.
/// They are written as escapes (`\u{202e}`), as in the API's problems.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_problem_page_escapes_bidi_and_control_characters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let (handle, base) = serve(dir.path(), store).await;
    let pages = [
        (
            format!("{base}/runs?workflow=x%E2%80%AEgnp.exe%1B%5B2J"),
            400,
            "no workflow &#34;x\\u{202e}gnp.exe\\u{1b}[2J&#34;",
        ),
        (
            format!("{base}/runs?status=a%E2%80%AAb%E2%81%A6c%E2%81%A9"),
            400,
            "&#34;a\\u{202a}b\\u{2066}c\\u{2069}&#34; is not a run status",
        ),
        (
            format!("{base}/runs/r%E2%80%8Fun%E2%80%AC"),
            404,
            "No run with execution id &#34;r\\u{200f}un\\u{202c}&#34;",
        ),
    ];
    for (url, want, says) in &pages {
        let (status, html) = get(url).await;
        assert_eq!(status, *want, "{url}: {html}");
        assert!(html.contains(says), "{says} not in {html}");
        for c in [
            '\u{202a}', '\u{202c}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200f}', '\u{1b}',
        ] {
            assert!(!html.contains(c), "{c:?} in {html}");
        }
    }
    handle.stop().await;
}

/// A calendar whose stored payload cannot be read (here: gone from the
/// raw store) read "No stored events for calendar games", as if no
/// schedule had ever been fetched; the page says it could not be read and
/// why, and still plans without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_stored_calendar_is_named_not_taken_for_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        "{}\n[calendars.games]\ndataset = \"bdl/games\"\nevents = \"$.data[*]\"\nid = \"id\"\nstart = \"start\"\n\n[workflows.gameday]\nscrapers = [\"injuries\"]\nschedule = {{ kind = \"window\", start = \"06:00\", end = \"10:00\", calendar = \"games\" }}\n",
        config()
    );
    let plan = rebound_config::load_str(&toml, &dir.path().join("rebound.toml"), &|_| None)
        .expect("config is valid");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    // A schedule fetched, whose payload file is not there.
    store
        .record_call_with_event(
            &call("c-games", "bdl_games", "bdl", "2026-11-28T11:00:00Z", true),
            None,
        )
        .await
        .expect("call");
    let (handle, base) = serve_plan(plan, store).await;
    let (status, html) = get(&format!("{base}/schedule?date=2026-11-28")).await;
    assert_eq!(status, 200, "{html}");
    let note = by_id(&html, "plan-note");
    assert!(
        note.starts_with("The stored events of calendar games could not be read ("),
        "{note}"
    );
    assert!(note.contains("c-games.json"), "{note}");
    assert!(!note.contains("No stored events"), "{note}");
    handle.stop().await;
}

/// A query parameter a page does not take was ignored: `/sources?since=7d`
/// showed the last 24 hours as if asked, `/runs?stauts=failed` every run.
/// It is a 400 page naming it and what the page takes, as the API's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_parameter_a_page_does_not_take_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let (handle, base) = serve(dir.path(), store).await;
    for (path, says) in [
        (
            "/?x=1",
            "unknown query parameter &#34;x&#34;: this page takes none",
        ),
        (
            "/sources?since=7d",
            "unknown query parameter &#34;since&#34;: this page takes none",
        ),
        (
            "/datasets?date=2026-11-27",
            "unknown query parameter &#34;date&#34;: this page takes none",
        ),
        (
            "/runs?stauts=failed",
            "unknown query parameter &#34;stauts&#34;: this page takes workflow, status, from, to",
        ),
        (
            "/runs/r1?verbose=1",
            "unknown query parameter &#34;verbose&#34;: this page takes none",
        ),
        (
            "/schedule?day=2026-11-27",
            "unknown query parameter &#34;day&#34;: this page takes date",
        ),
    ] {
        let (status, html) = get(&format!("{base}{path}")).await;
        assert_eq!(status, 400, "{path}: {html}");
        assert!(html.contains(says), "{path}: {says} not in {html}");
    }
    // What a page takes, empty form fields included, still answers.
    for path in [
        "/",
        "/sources",
        "/runs?workflow=&status=failed&from=&to=",
        "/schedule?date=",
    ] {
        let (status, html) = get(&format!("{base}{path}")).await;
        assert_eq!(status, 200, "{path}: {html}");
    }
    handle.stop().await;
}

/// A path no page answers (`/run`, a typo of `/runs`) was a bare 404 with
/// no body, a blank page in a browser; it is a page naming the path and
/// the pages there are, and shows nothing of the pipeline. The API's own
/// unknown paths keep their problem document. Likewise a method other than
/// GET on a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::disallowed_methods)] // the test's own client of the dashboard, not a request Rebound sends
async fn an_unknown_path_is_a_page_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let (handle, base) = serve(dir.path(), store).await;
    for path in ["/run", "/runs/r1/attempts", "/x%3Cb%3E"] {
        let response = reqwest::get(format!("{base}{path}"))
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let html = response.text().await.expect("body");
        assert!(
            by_id(&html, "problem-detail").starts_with("No page "),
            "{html}"
        );
        assert!(html.contains("/schedule"), "{html}");
        assert!(!html.contains("· dash"), "no pipeline name: {html}");
    }
    let (_, html) = get(&format!("{base}/x%3Cb%3E")).await;
    assert!(html.contains("No page /x%3Cb%3E."), "{html}");
    let api = reqwest::get(format!("{base}/api/v1/nothing"))
        .await
        .expect("request");
    assert_eq!(api.status().as_u16(), 404);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .expect("request")
            .status()
            .as_u16(),
        200
    );
    handle.stop().await;
    // Another method on a page: a 405 page saying the pages only read (it
    // was a bare 405 with no body). Without a token the guard answers 403
    // first, as for any mutation; with one, the page.
    const TOKEN: &str = "dashboard-token-3c8e1f0a";
    let toml = config().replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\""),
    );
    let plan = rebound_config::load_str(&toml, &dir.path().join("rebound.toml"), &|_| None)
        .expect("config is valid");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let (handle, base) = serve_plan(plan, store).await;
    let client = reqwest::Client::new();
    for path in ["/", "/runs", "/runs/r1", "/schedule"] {
        let response = client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 405, "{path}");
        assert_eq!(response.headers()["allow"], "GET, HEAD", "{path}");
        let html = response.text().await.expect("body");
        assert!(
            by_id(&html, "problem-detail").contains("answer GET (and HEAD), not POST"),
            "{html}"
        );
    }
    handle.stop().await;
}

/// A path segment that is not UTF-8 (`/runs/%FF`) is a page like every
/// other refusal: it was axum's bare text (`Invalid URL: Invalid UTF-8 in
/// `execution_id``), without the page's frame or its headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_utf8_is_a_problem_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let (handle, base) = serve(dir.path(), store).await;
    for (path, says) in [
        ("/runs/%FF", "the run id in the path is not UTF-8 text"),
        (
            "/assets/x%FF.css",
            "the asset name in the path is not UTF-8 text",
        ),
    ] {
        let response = reqwest::get(format!("{base}{path}"))
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 400, "{path}");
        let headers = response.headers().clone();
        let html = response.text().await.expect("body");
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}: {html}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
        assert!(html.contains("Bad request"), "{path}: {html}");
        assert!(html.contains(says), "{path}: {html}");
    }
    handle.stop().await;
}

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
pub(super) fn pg_url() -> String {
    std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The same pages on a PostgreSQL schema of the test's own. (The plan
/// still names a SQLite file: the web role opens nothing itself, it
/// reads the store it is given.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_history_on_postgres() {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect_with_schema(&pg_url(), &schema)
        .await
        .expect("PostgreSQL must be running for this test");
    let pool = store.pool().clone();
    pages_show_the_history(Arc::new(store)).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await;
}

/// A secret an upstream echoes back in its error reaches the pages as
/// `***`: the engine masks it before the row is written, and the pages
/// show only what was written. The run is made by the service's own
/// engine against the simulated upstream, so the whole path is real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_echoed_by_an_upstream_never_reaches_a_page() {
    const SECRET: &str = "k3y-9f8e7d6c5b4a39281706";
    let sim = rebound_upstream_sim::UpstreamSim::start()
        .await
        .expect("sim");
    let echo = rebound_upstream_sim::Reply::text(500, format!("invalid apiKey {SECRET}"));
    sim.script("/leak/x", vec![echo.clone(), echo.clone(), echo]);
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        r#"
[pipeline]
name = "leak"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[server]
listen = "127.0.0.1:0"

[retry]
max_attempts = 2
initial_delay = "10ms"
max_delay = "20ms"

[sources.sim]
base_url = "{}/leak"
query = {{ apiKey = "${{LEAK_KEY}}" }}

[scrapers.leaky]
source = "sim"
path = "/x"

[workflows.leaky]
scrapers = ["leaky"]
"#,
        sim.base_url()
    );
    let plan = rebound_config::load_str(&toml, &dir.path().join("rebound.toml"), &|name| {
        (name == "LEAK_KEY").then(|| SECRET.to_string())
    })
    .expect("config is valid");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let config = ServiceConfig {
        plan,
        role: Role::Web,
        workers: 1,
        host: "test-host".to_string(),
    };
    let handle = Service::start(config, store, clock)
        .await
        .expect("service starts");
    let report = handle
        .engine()
        .run_workflow("leaky", now().date_naive(), &Default::default())
        .await
        .expect("the run is recorded");
    assert_eq!(report.status.as_str(), "failed");
    let base = format!("http://{}", handle.local_addr().expect("listening"));
    let (_, list) = get(&format!("{base}/runs")).await;
    let id = report.execution_id.clone();
    let (status, one) = get(&format!("{base}/runs/{id}")).await;
    assert_eq!(status, 200, "{one}");
    let (_, overview) = get(&format!("{base}/")).await;
    let (_, sources) = get(&format!("{base}/sources")).await;
    for (page, html) in [
        ("runs", &list),
        ("run", &one),
        ("overview", &overview),
        ("sources", &sources),
    ] {
        assert!(!html.contains(SECRET), "{page} shows the secret: {html}");
    }
    assert!(
        one.contains("invalid apiKey ***"),
        "the masked message is shown: {one}"
    );
    handle.stop().await;
    sim.shutdown().await;
}

/// `serve --role web` closes the runs of processes that died, as every
/// command that opens the history does. With every worker down nothing
/// else closed them, and the pages showed a killed run `running` for as
/// long as the outage lasted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_role_shows_a_dead_processs_run_as_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = r#"
[pipeline]
name = "web"
timezone = "UTC"

[server]
listen = "127.0.0.1:0"

[sources.api]
base_url = "http://127.0.0.1:9/api"

[scrapers.x]
source = "api"
path = "/x"

[workflows.w]
scrapers = ["x"]
"#;
    let plan = rebound_config::load_str(toml, &dir.path().join("rebound.toml"), &|_| None)
        .expect("config is valid");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    // A run of a process of this host that no longer exists (above the
    // kernel's pid_max), its heartbeat still current.
    let owner = format!("{}:999999999", rebound_engine::liveness::host_name());
    let start = rebound_storage::RunStart {
        execution_id: "killed".to_string(),
        workflow_name: "w".to_string(),
        target_date: now().date_naive(),
        started_at: now(),
        params: "{}".to_string(),
        owner,
        heartbeat_until: now() + TimeDelta::hours(1),
    };
    store.begin_workflow_execution(&start).await.expect("begin");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let config = ServiceConfig {
        plan,
        role: Role::Web,
        workers: 1,
        host: "test-host".to_string(),
    };
    let handle = Service::start(config, store.clone(), clock)
        .await
        .expect("service starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        let rows = store
            .executions_for_date("w", now().date_naive())
            .await
            .expect("rows");
        let status = rows[0].status.clone();
        if status != "running" || std::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(status, "failed", "the dead process's run is closed");
    handle.stop().await;
}
