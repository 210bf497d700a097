//! The report never contradicts its own tables: every "last success",
//! "last error", "failing since" and streak it states is recomputed here
//! from the seeded rows, on both backends.
//!
//! The history is what concurrency produces: a failure that started before
//! a success finished but finished after it, a success recorded (higher id)
//! after a failure that finished later, and a success and a failure that
//! finished at the same instant. Ordering by id or by start time gets these
//! wrong; the report orders by finish time, and "failing since" is the
//! first failure that finished strictly after the newest answer.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::calendar::Event;
use rebound_domain::outcome::{ScraperStatus, WorkflowStatus};
use rebound_health::{Calendars, HealthReport, Inputs, build_report};
use rebound_storage::{ANSWERED_STATUSES, NewScraperCall, NewWorkflowExecution, Store};
use rebound_storage_postgres::{Connections, PostgresStore};
use rebound_storage_sqlite::SqliteStore;
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
name = "c"

[sources.up]
base_url = "http://127.0.0.1:9"

[sources.tie]
base_url = "http://127.0.0.1:9"

[scrapers.alpha]
source = "up"
path = "/a"

[scrapers.beta]
source = "up"
path = "/b"

[scrapers.gamma]
source = "tie"
path = "/g"

[workflows.w_tie]
scrapers = ["alpha"]

[workflows.w_streak]
scrapers = ["beta"]
"#;

/// One seeded call: (scraper, source, status, started_at, finished_at).
type Seeded = (
    &'static str,
    &'static str,
    ScraperStatus,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn call((scraper, source, status, started, finished): Seeded) -> NewScraperCall {
    let date = finished.date_naive();
    NewScraperCall {
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        execution_id: None,
        workflow_name: None,
        scraper_name: scraper.to_string(),
        source_name: source.to_string(),
        params: format!(r#"{{"date":"{date}"}}"#),
        target_date: date,
        status,
        attempts: 1,
        http_status: Some(if status == ScraperStatus::Failed {
            503
        } else {
            200
        }),
        error_kind: None,
        error_message: (status == ScraperStatus::Failed)
            .then(|| format!("HTTP 503 at {}", finished.format("%H:%M:%S%.3f"))),
        started_at: started,
        finished_at: finished,
        duration_ms: (finished - started).num_milliseconds(),
        bytes: Some(10),
        output_uri: Some(format!("file:///raw/{scraper}/x.json")),
        content_hash: Some("x".to_string()),
        unchanged: false,
        pages: None,
        record_count: None,
        attempt_rows: Vec::new(),
    }
}

/// Calls in the order they are recorded (so in id order).
fn calls(now: DateTime<Utc>) -> Vec<Seeded> {
    let t0 = now - TimeDelta::hours(3);
    let s = |secs: i64| t0 + TimeDelta::seconds(secs);
    let ms = |millis: i64| t0 + TimeDelta::milliseconds(millis);
    use ScraperStatus::*;
    vec![
        // up: a plain failure, then a success.
        ("alpha", "up", Failed, s(0), s(1)),
        ("beta", "up", Success, s(2), s(3)),
        // up: the "02:56" case. A success is recorded first; a failure that
        // started before it finished is recorded after it.
        ("alpha", "up", Success, s(10), s(15)),
        ("beta", "up", Failed, s(9), s(40)),
        // up: a failure that finished at s(70) is recorded before a success
        // that finished earlier (s(60)): ids and finish times disagree.
        ("alpha", "up", Failed, s(50), s(70)),
        ("beta", "up", Success, s(55), s(60)),
        // up: a skipped call (no request) neither answers nor fails.
        ("alpha", "up", Skipped, s(80), s(80)),
        // up: two more failures, recorded out of finish order.
        ("beta", "up", Failed, s(90), s(100)),
        ("alpha", "up", Failed, s(85), s(95)),
        // tie: failures, then a success and a failure finishing at the same
        // instant (same millisecond), the failure recorded last.
        ("gamma", "tie", Failed, s(0), s(5)),
        ("gamma", "tie", Success, s(20), ms(30_500)),
        ("gamma", "tie", Failed, s(25), ms(30_500)),
    ]
}

fn run(
    id: &str,
    workflow: &str,
    at: DateTime<Utc>,
    status: WorkflowStatus,
) -> NewWorkflowExecution {
    NewWorkflowExecution {
        execution_id: id.to_string(),
        workflow_name: workflow.to_string(),
        target_date: at.date_naive(),
        execution_time: at,
        finished_at: at + TimeDelta::seconds(5),
        status,
        scrapers_requested: 1,
        scrapers_succeeded: 0,
        scrapers_failed: 0,
        scrapers_no_data: 0,
        scrapers_skipped: 0,
        error_message: (status != WorkflowStatus::Success).then(|| format!("{id} failed")),
        duration_ms: 5000,
        params: "{}".to_string(),
    }
}

fn runs(now: DateTime<Utc>) -> Vec<NewWorkflowExecution> {
    let t0 = now - TimeDelta::hours(2);
    let s = |secs: i64| t0 + TimeDelta::seconds(secs);
    use WorkflowStatus as W;
    vec![
        // w_tie: a failed run and a successful one started at the same
        // instant, the failed one with the larger id: not a streak.
        run("a1", "w_tie", s(0), W::Failed),
        run("a2", "w_tie", s(10), W::Success),
        run("a9", "w_tie", s(10), W::Failed),
        // w_streak: success, then failed and partial (recorded out of order).
        run("b1", "w_streak", s(0), W::Failed),
        run("b2", "w_streak", s(10), W::Success),
        run("b4", "w_streak", s(30), W::Partial),
        run("b3", "w_streak", s(20), W::Failed),
    ]
}

async fn seed(store: &dyn Store, now: DateTime<Utc>) {
    for c in calls(now) {
        store.record_scraper_call(&call(c)).await.expect("call");
    }
    for r in runs(now) {
        store.record_workflow_execution(&r).await.expect("run");
    }
}

fn is_failure(status: ScraperStatus) -> bool {
    matches!(status, ScraperStatus::Failed | ScraperStatus::Overdue)
}

fn answered(status: ScraperStatus) -> bool {
    ANSWERED_STATUSES.contains(&status.as_str())
}

/// Checks every statement of `report` against the seeded rows.
fn assert_consistent(report: &HealthReport, now: DateTime<Utc>) {
    let seeded = calls(now);
    let max = |it: &mut dyn Iterator<Item = DateTime<Utc>>| it.max();

    for source in ["up", "tie"] {
        let rows: Vec<&Seeded> = seeded.iter().filter(|c| c.1 == source).collect();
        let got = report.sources.iter().find(|s| s.name == source).unwrap();
        let last_answer = max(&mut rows.iter().filter(|c| answered(c.2)).map(|c| c.4));
        let last_failure = max(&mut rows
            .iter()
            .filter(|c| c.2 == ScraperStatus::Failed)
            .map(|c| c.4));
        let failing_since = rows
            .iter()
            .filter(|c| c.2 == ScraperStatus::Failed && last_answer.is_none_or(|a| c.4 > a))
            .map(|c| c.4)
            .min();
        assert_eq!(
            got.last_success_at, last_answer,
            "source {source}: last success"
        );
        assert_eq!(
            got.last_error_at, last_failure,
            "source {source}: last error"
        );
        assert_eq!(
            got.failing_since, failing_since,
            "source {source}: failing since"
        );
        if let Some(since) = got.failing_since {
            // "every call fails since T": no answer at or after T, in the
            // table or anywhere in the report.
            assert!(
                rows.iter().all(|c| !answered(c.2) || c.4 < since),
                "source {source}: an answer at or after failing_since {since}"
            );
            assert!(got.last_success_at.is_none_or(|a| a < since));
            for scraper in report.scrapers.iter().filter(|s| s.source == source) {
                assert!(
                    scraper.last_success_at.is_none_or(|a| a < since),
                    "scraper {} succeeded at {:?}, after its source failing since {since}",
                    scraper.name,
                    scraper.last_success_at
                );
            }
        }
    }

    for scraper in ["alpha", "beta", "gamma"] {
        let rows: Vec<&Seeded> = seeded.iter().filter(|c| c.0 == scraper).collect();
        let got = report.scrapers.iter().find(|s| s.name == scraper).unwrap();
        let last_success = max(&mut rows
            .iter()
            .filter(|c| c.2 == ScraperStatus::Success)
            .map(|c| c.4));
        let last_error = rows
            .iter()
            .filter(|c| is_failure(c.2))
            .max_by_key(|c| c.4)
            .copied();
        let last_ok = max(&mut rows
            .iter()
            .filter(|c| !is_failure(c.2) && c.2 != ScraperStatus::Skipped)
            .map(|c| c.4));
        let streak = rows
            .iter()
            .filter(|c| is_failure(c.2) && last_ok.is_none_or(|ok| c.4 > ok))
            .count() as i64;
        assert_eq!(
            got.last_success_at, last_success,
            "scraper {scraper}: last success"
        );
        assert_eq!(
            got.last_error_at,
            last_error.map(|c| c.4),
            "scraper {scraper}: last error"
        );
        assert_eq!(
            got.last_error,
            last_error.map(|c| format!("HTTP 503 at {}", c.4.format("%H:%M:%S%.3f"))),
            "scraper {scraper}: the last error's message"
        );
        assert_eq!(
            got.consecutive_failures, streak,
            "scraper {scraper}: failures in a row"
        );
        if got.consecutive_failures > 0 {
            // "N failed calls in a row, last at X (last success Y)": Y is
            // before every failure of the streak.
            let first = rows
                .iter()
                .filter(|c| is_failure(c.2) && last_ok.is_none_or(|ok| c.4 > ok))
                .map(|c| c.4)
                .min()
                .unwrap();
            assert!(got.last_success_at.is_none_or(|s| s < first));
        }
    }

    let seeded_runs = runs(now);
    for workflow in ["w_tie", "w_streak"] {
        let rows: Vec<&NewWorkflowExecution> = seeded_runs
            .iter()
            .filter(|r| r.workflow_name == workflow)
            .collect();
        let bad = |r: &NewWorkflowExecution| {
            matches!(r.status, WorkflowStatus::Failed | WorkflowStatus::Partial)
        };
        let got = report
            .workflows
            .iter()
            .find(|w| w.name == workflow)
            .unwrap();
        let last_good = rows
            .iter()
            .filter(|r| !bad(r))
            .map(|r| r.execution_time)
            .max();
        let streak: Vec<&&NewWorkflowExecution> = rows
            .iter()
            .filter(|r| bad(r) && last_good.is_none_or(|g| r.execution_time > g))
            .collect();
        let newest = rows.iter().map(|r| r.execution_time).max();
        assert_eq!(got.last_run_at, newest, "workflow {workflow}: last run");
        assert_eq!(
            got.consecutive_failed,
            streak.len() as i64,
            "workflow {workflow}"
        );
        assert_eq!(
            got.failing_since,
            streak.iter().map(|r| r.execution_time).min(),
            "workflow {workflow}: failing since"
        );
        // The newest run's status agrees with the streak: failed or
        // partial exactly when the streak is not empty.
        let last_bad = got
            .last_status
            .as_deref()
            .is_some_and(|s| s == "failed" || s == "partial");
        assert_eq!(
            last_bad,
            got.consecutive_failed > 0,
            "workflow {workflow}: {got:?}"
        );
    }

    // The seeded history is what the test is about.
    let up = report.sources.iter().find(|s| s.name == "up").unwrap();
    assert_eq!(
        up.failing_since,
        Some(now - TimeDelta::hours(3) + TimeDelta::seconds(70))
    );
    let tie = report.sources.iter().find(|s| s.name == "tie").unwrap();
    assert_eq!(tie.failing_since, None);
    let streak = report
        .workflows
        .iter()
        .find(|w| w.name == "w_streak")
        .unwrap();
    assert_eq!(streak.consecutive_failed, 2);
}

async fn report(store: &dyn Store, now: DateTime<Utc>) -> HealthReport {
    let plan = rebound_config::load_str(CONFIG, Path::new("rebound.toml"), &|_| None).unwrap();
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

/// Whole milliseconds: both backends store times at that precision.
#[allow(clippy::disallowed_methods)] // seed rows relative to the wall clock, as the commands under test read it
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

#[tokio::test]
async fn health_statements_agree_with_interleaved_history_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
    let now = now();
    seed(&store, now).await;
    assert_consistent(&report(&store, now).await, now);
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
async fn health_statements_agree_with_interleaved_history_on_postgres() {
    let url = std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect_with(&url, Some(&schema), Connections::One)
        .await
        .expect("the test PostgreSQL server (see README)");
    let now = now();
    seed(&store, now).await;
    let report = report(&store, now).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(store.pool())
    .await;
    assert_consistent(&report, now);
}
