//! The report's figures agree with the operator queries of
//! `docs/queries.md` ("Health: ..."), on the same seeded history, on both
//! backends: the SQLite file and the real PostgreSQL server.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rebound_domain::calendar::Event;
use rebound_domain::outcome::{ScraperStatus, WorkflowStatus};
use rebound_domain::plan::Plan;
use rebound_health::{Calendars, HealthReport, Inputs, build_report};
use rebound_storage::{NewScraperCall, NewWorkflowExecution, Store};
use rebound_storage_postgres::{Connections, PostgresStore};
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::store_conformance::queries::{
    self, HEALTH_ERROR_COVERAGE, HEALTH_FRESHNESS, HEALTH_RETRIES, HEALTH_WORKFLOW_DAYS,
};
use sqlx::{AssertSqlSafe, Row};
use std::path::Path;

struct NoCalendars;

#[async_trait]
impl Calendars for NoCalendars {
    async fn events(&self, _: &str) -> Result<Option<Vec<Event>>, String> {
        Ok(None)
    }
}

const CONFIG: &str = r#"
[pipeline]
name = "q"

[sources.up]
base_url = "http://127.0.0.1:9"

[scrapers.alpha]
source = "up"
path = "/a"

[scrapers.beta]
source = "up"
path = "/b"

[scrapers.gamma]
source = "up"
path = "/g"

[workflows.w1]
scrapers = ["alpha"]

[workflows.w2]
scrapers = ["beta"]
"#;

fn plan() -> Plan {
    rebound_config::load_str(CONFIG, Path::new("rebound.toml"), &|_| None).unwrap()
}

fn sql(dialect: &str, heading: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/queries.md");
    let markdown = std::fs::read_to_string(path).expect("read docs/queries.md");
    queries::dialect_queries(&markdown, dialect)
        .into_iter()
        .find(|b| b.heading == heading)
        .unwrap_or_else(|| panic!("no {dialect} query under {heading:?}"))
        .sql
}

fn call(
    scraper: &str,
    status: ScraperStatus,
    at: DateTime<Utc>,
    attempts: u32,
    (bytes, hash, unchanged): (i64, &str, bool),
    date: NaiveDate,
) -> NewScraperCall {
    NewScraperCall {
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        execution_id: None,
        workflow_name: None,
        scraper_name: scraper.to_string(),
        source_name: "up".to_string(),
        params: format!(r#"{{"date":"{date}"}}"#),
        target_date: date,
        status,
        attempts,
        http_status: Some(200),
        error_kind: None,
        error_message: (status == ScraperStatus::Failed).then(|| "HTTP 503".to_string()),
        started_at: at,
        finished_at: at + TimeDelta::milliseconds(250),
        duration_ms: 250,
        bytes: Some(bytes),
        output_uri: Some(format!("file:///raw/{scraper}/{hash}.json")),
        content_hash: Some(hash.to_string()),
        unchanged,
        pages: None,
        record_count: None,
        attempt_rows: Vec::new(),
    }
}

fn paged(mut call: NewScraperCall, pages: u32) -> NewScraperCall {
    call.pages = Some(pages);
    call
}

fn run(
    id: &str,
    workflow: &str,
    date: NaiveDate,
    at: DateTime<Utc>,
    status: WorkflowStatus,
    message: Option<&str>,
) -> NewWorkflowExecution {
    NewWorkflowExecution {
        execution_id: id.to_string(),
        workflow_name: workflow.to_string(),
        target_date: date,
        execution_time: at,
        finished_at: at + TimeDelta::seconds(5),
        status,
        scrapers_requested: 1,
        scrapers_succeeded: 0,
        scrapers_failed: 0,
        scrapers_no_data: 0,
        scrapers_skipped: 0,
        error_message: message.map(str::to_string),
        duration_ms: 5000,
        params: "{}".to_string(),
    }
}

/// A history relative to the real clock (the queries use `now`), away
/// from every boundary the queries and the report draw.
async fn seed(store: &dyn Store, now: DateTime<Utc>) {
    let today = now.date_naive();
    let h = |hours: i64| now - TimeDelta::hours(hours);
    let d = |days: i64| today - TimeDelta::days(days);
    use ScraperStatus::*;
    let calls = [
        // alpha: data at -30h, a retried success at -5h with new content,
        // then an empty body and a no_data: fresh since -5h.
        call("alpha", Success, h(30), 1, (900, "a1", false), d(1)),
        // alpha read in three pages: in three attempts (no retry), and in
        // four (one page retried).
        paged(call("alpha", Success, h(8), 3, (900, "p3", false), d(1)), 3),
        paged(call("alpha", Success, h(8), 4, (900, "p4", false), d(1)), 3),
        call("alpha", Success, h(5), 3, (900, "a2", false), today),
        call("alpha", Success, h(4), 1, (0, "empty", false), today),
        call("alpha", NoData, h(3), 2, (20, "nd", false), today),
        // beta: new content at -20h, then the same payload again, and the
        // same content for another date: fresh since -20h.
        call("beta", Success, h(20), 1, (500, "b1", false), d(1)),
        call("beta", Success, h(10), 1, (500, "b1", true), d(1)),
        call("beta", Success, h(6), 2, (500, "b1", false), today),
        call("beta", Failed, h(2), 3, (0, "f", false), today),
        call("beta", Skipped, h(1), 0, (0, "s", false), today),
        // A call deferred before its request (its source paused): failed,
        // no attempt, not a call of the retries.
        call("beta", Failed, h(1), 0, (0, "p", false), today),
        // gamma: never any data.
        call("gamma", Failed, h(7), 1, (10, "g", false), today),
    ];
    for c in &calls {
        store.record_scraper_call(c).await.expect("call");
    }
    use WorkflowStatus as W;
    let runs = [
        run("r1", "w1", today, h(2), W::Failed, Some("alpha: HTTP 503")),
        run("r2", "w1", today, h(3), W::Success, None),
        run("r3", "w1", d(1), h(20), W::Partial, Some("  ")),
        run("r4", "w1", d(3), h(30), W::Failed, None),
        run("r5", "w1", d(9), h(40), W::Failed, Some("too old to count")),
        run("r6", "w2", today, h(1), W::Partial, Some("beta: HTTP 503")),
        run("r7", "w2", d(6), h(60), W::NoData, None),
    ];
    for r in &runs {
        store.record_workflow_execution(r).await.expect("run");
    }
}

/// One query's rows as comparable tuples.
#[derive(Debug, Default)]
struct Figures {
    days: Vec<(String, String, i64, i64, i64, f64)>,
    coverage: (i64, i64, Option<f64>),
    retries: (i64, i64, i64, i64, Option<f64>),
    freshness: Vec<(String, String, i64)>,
}

fn report_figures(report: &HealthReport) -> Figures {
    let mut days = Vec::new();
    for w in &report.workflows {
        for d in &w.days {
            days.push((
                w.name.clone(),
                d.target_date.to_string(),
                d.runs,
                d.failed,
                d.partial,
                // The report's fraction as the query's percentage.
                (d.failure_rate * 1000.0).round() / 10.0,
            ));
        }
    }
    let c = &report.error_coverage;
    let r = &report.retries;
    let mut freshness = Vec::new();
    for d in &report.datasets {
        if let (Some(at), Some(age)) = (d.freshness.last_change_at, d.freshness.age_seconds) {
            freshness.push((
                d.name.clone(),
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                age,
            ));
        }
    }
    Figures {
        days,
        coverage: (
            c.failed_or_partial,
            c.with_message,
            (c.failed_or_partial > 0).then_some((c.coverage_rate * 1000.0).round() / 10.0),
        ),
        retries: (
            r.calls,
            r.attempts,
            r.retried,
            r.retried_then_succeeded,
            (r.calls > 0).then_some(r.attempts_per_call),
        ),
        freshness,
    }
}

fn assert_agree(report: &HealthReport, queried: Figures) {
    let from_report = report_figures(report);
    assert_eq!(from_report.days, queried.days);
    assert_eq!(from_report.coverage, queried.coverage);
    assert_eq!(from_report.retries, queried.retries);
    assert_eq!(from_report.freshness.len(), queried.freshness.len());
    for (r, q) in from_report.freshness.iter().zip(&queried.freshness) {
        assert_eq!((&r.0, &r.1), (&q.0, &q.1));
        // The query's `now` is a moment later than the report's.
        assert!((q.2 - r.2).abs() <= 5, "age {} vs {}", r.2, q.2);
    }
    // The seeded history is what the comparison is about.
    assert_eq!(queried.coverage, (3, 2, Some(66.7)));
    // Calls, attempts, retried (more attempts than pages), then succeeded.
    assert_eq!(
        (
            queried.retries.0,
            queried.retries.1,
            queried.retries.2,
            queried.retries.3
        ),
        (10, 21, 5, 4)
    );
    let names: Vec<&str> = queried.freshness.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, vec!["alpha", "beta"]);
}

#[allow(clippy::disallowed_methods)] // seed rows relative to the wall clock, as the commands under test read it
async fn report(store: &dyn Store) -> HealthReport {
    let plan = plan();
    let now = Utc::now();
    build_report(&Inputs {
        plan: &plan,
        store,
        calendars: &NoCalendars,
        prober: None,
        now,
        since: now - TimeDelta::hours(24),
    })
    .await
    .expect("report")
}

/// Runs the operator queries of `dialect` on `pool` and reads their
/// figures; a macro because SQLite and PostgreSQL pools and rows are
/// different types with the same `fetch_all` and `get`.
macro_rules! figures {
    ($pool:expr, $dialect:literal) => {{
        let pool = $pool;
        let rows = |heading: &'static str| {
            let q = sql($dialect, heading);
            async move {
                sqlx::query(AssertSqlSafe(q))
                    .fetch_all(pool)
                    .await
                    .unwrap_or_else(|e| panic!("{heading}: {e}"))
            }
        };
        let mut f = Figures::default();
        for r in rows(HEALTH_WORKFLOW_DAYS).await {
            f.days.push((
                r.get("workflow_name"),
                r.get("target_date"),
                r.get("runs"),
                r.get("failed"),
                r.get("partial"),
                r.get("failure_rate_pct"),
            ));
        }
        let c = &rows(HEALTH_ERROR_COVERAGE).await[0];
        f.coverage = (
            c.get("failed_or_partial"),
            c.get("with_message"),
            c.get("coverage_pct"),
        );
        let r = &rows(HEALTH_RETRIES).await[0];
        f.retries = (
            r.get("calls"),
            r.get("attempts"),
            r.get("retried"),
            r.get("retried_then_succeeded"),
            r.get("attempts_per_call"),
        );
        for r in rows(HEALTH_FRESHNESS).await {
            f.freshness.push((
                r.get("scraper_name"),
                r.get("last_change_at"),
                r.get("age_seconds"),
            ));
        }
        f
    }};
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // seed rows relative to the wall clock, as the commands under test read it
async fn report_agrees_with_the_operator_queries_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
    seed(&store, Utc::now()).await;
    let report = report(&store).await;
    let f = figures!(store.pool(), "sqlite");
    assert_agree(&report, f);
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // seed rows relative to the wall clock, as the commands under test read it; test knob: which PostgreSQL server to test against
async fn report_agrees_with_the_operator_queries_on_postgres() {
    let url = std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    // One connection, as `rebound health` opens it: the whole report must
    // run on it (a query waiting for a second connection would time out).
    let store = PostgresStore::connect_with(&url, Some(&schema), Connections::One)
        .await
        .expect("the test PostgreSQL server (see README)");
    assert_eq!(store.pool().options().get_max_connections(), 1);
    seed(&store, Utc::now()).await;
    let report = report(&store).await;
    let pool = store.pool();
    let f = figures!(pool, "postgres");
    let _ = sqlx::query(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(pool)
    .await;
    assert_agree(&report, f);
}
