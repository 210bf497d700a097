//! Retention end to end, on a real SQLite file and a real PostgreSQL
//! schema, with raw payloads in a real local folder and time on a manual
//! clock: old rows and the files only they reference go, young ones stay,
//! a file a young `unchanged` row still points at stays, a dry run changes
//! nothing, batches are bounded, and a purge racing new writes loses none.

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_domain::plan::RawStoreLocation;
use rebound_raw::RawStore;
use rebound_service::retention::Purger;
use rebound_storage::{
    NewAlert, NewAlertIncident, NewAttempt, NewCallOutput, NewScraperCall, NewWorkflowExecution,
    NumberedCall, OutputRole, Store,
};
use rebound_storage_postgres::PostgresStore;
use rebound_storage_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A store of the given backend, cleaned up (PostgreSQL schema dropped)
/// when the returned guard goes.
struct Backend {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    raw: RawStore,
    drop_schema: Option<(sqlx::PgPool, String)>,
}

impl Backend {
    #[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
    async fn open(postgres: bool) -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let raw = RawStore::open(&RawStoreLocation::File {
            path: dir.path().join("raw"),
        })
        .unwrap();
        if postgres {
            let url = std::env::var("REBOUND_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let store = PostgresStore::connect_with_schema(&url, &schema).await.expect(
                "PostgreSQL must be running for this test: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            );
            let pool = store.pool().clone();
            Backend {
                store: Arc::new(store),
                _dir: dir,
                raw,
                drop_schema: Some((pool, schema)),
            }
        } else {
            let store = SqliteStore::open(&dir.path().join("history.db"))
                .await
                .unwrap();
            Backend {
                store: Arc::new(store),
                _dir: dir,
                raw,
                drop_schema: None,
            }
        }
    }

    async fn cleanup(self) {
        if let Some((pool, schema)) = self.drop_schema {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&pool)
                .await;
        }
    }
}

/// A call as the engine records it: a fresh payload (`uri`, not
/// unchanged), an unchanged one (the previous call's `uri`), or none.
fn call(
    scraper: &str,
    params: &str,
    at: DateTime<Utc>,
    uri: Option<&str>,
    unchanged: bool,
) -> NewScraperCall {
    let failed = uri.is_none();
    NewScraperCall {
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        execution_id: None,
        workflow_name: None,
        scraper_name: scraper.to_string(),
        source_name: "sim".to_string(),
        params: params.to_string(),
        target_date: at.date_naive(),
        status: if failed {
            ScraperStatus::Failed
        } else {
            ScraperStatus::Success
        },
        attempts: 1,
        http_status: Some(if failed { 503 } else { 200 }),
        error_kind: failed.then_some(ErrorKind::Server),
        error_message: failed.then(|| "HTTP 503".to_string()),
        started_at: at,
        finished_at: at + TimeDelta::milliseconds(50),
        duration_ms: 50,
        bytes: uri.map(|_| 5),
        output_uri: uri.map(str::to_string),
        content_hash: uri.map(|u| format!("hash-{u}")),
        unchanged,
        pages: None,
        record_count: None,
        attempt_rows: vec![NewAttempt {
            attempt: 1,
            page: 1,
            proxy: None,
            started_at: at,
            finished_at: at + TimeDelta::milliseconds(50),
            http_status: Some(if failed { 503 } else { 200 }),
            outcome: if failed {
                AttemptOutcome::Permanent
            } else {
                AttemptOutcome::Success
            },
            error_kind: failed.then_some(ErrorKind::Server),
            error_message: failed.then(|| "HTTP 503".to_string()),
            delay_before_ms: 0,
        }],
    }
}

fn run(id: &str, at: DateTime<Utc>) -> NewWorkflowExecution {
    NewWorkflowExecution {
        execution_id: id.to_string(),
        workflow_name: "wf".to_string(),
        target_date: at.date_naive(),
        execution_time: at,
        finished_at: at + TimeDelta::seconds(1),
        status: WorkflowStatus::Success,
        scrapers_requested: 1,
        scrapers_succeeded: 1,
        scrapers_failed: 0,
        scrapers_no_data: 0,
        scrapers_skipped: 0,
        error_message: None,
        duration_ms: 1000,
        params: "{}".to_string(),
    }
}

/// The scenario: payload files as the engine would leave them, calls
/// spread over 100 days, then the clock is at day 100 with retention 90d.
struct Scenario {
    kept_by_unchanged: String,
    replaced: Vec<String>,
    only_old: String,
    young: String,
}

async fn write(raw: &RawStore, path: &str) -> String {
    raw.put(path, Bytes::from_static(b"12345")).await.unwrap()
}

async fn scenario(b: &Backend) -> Scenario {
    let s = &b.store;
    let day = |n: i64| t0() + TimeDelta::days(n);
    // Group "lines": a payload stored on day 1, confirmed unchanged on day
    // 5 and again on day 95, after the cutoff: the day-1 file stays.
    let kept_by_unchanged = write(&b.raw, "d/lines/day1.json").await;
    s.record_scraper_call(&call(
        "lines",
        "{}",
        day(1),
        Some(&kept_by_unchanged),
        false,
    ))
    .await
    .unwrap();
    s.record_scraper_call(&call("lines", "{}", day(5), Some(&kept_by_unchanged), true))
        .await
        .unwrap();
    s.record_scraper_call(&call("lines", "{}", day(6), None, false))
        .await
        .unwrap();
    s.record_scraper_call(&call(
        "lines",
        "{}",
        day(95),
        Some(&kept_by_unchanged),
        true,
    ))
    .await
    .unwrap();
    // Group "props": two old payloads replaced by a young one.
    let p1 = write(&b.raw, "d/props/day2.json").await;
    let p2 = write(&b.raw, "d/props/day3.json").await;
    let young = write(&b.raw, "d/props/day96.json").await;
    s.record_scraper_call(&call("props", r#"{"g":"1"}"#, day(2), Some(&p1), false))
        .await
        .unwrap();
    s.record_scraper_call(&call("props", r#"{"g":"1"}"#, day(3), Some(&p2), false))
        .await
        .unwrap();
    s.record_scraper_call(&call("props", r#"{"g":"1"}"#, day(4), Some(&p2), true))
        .await
        .unwrap();
    s.record_scraper_call(&call("props", r#"{"g":"1"}"#, day(96), Some(&young), false))
        .await
        .unwrap();
    // Group "box": only old calls.
    let only_old = write(&b.raw, "d/box/day7.json").await;
    s.record_scraper_call(&call("box", r#"{"g":"2"}"#, day(7), Some(&only_old), false))
        .await
        .unwrap();
    // An old row whose file is already gone: not an error.
    s.record_scraper_call(&call(
        "box",
        r#"{"g":"3"}"#,
        day(8),
        Some(&b.raw.uri_for("d/box/vanished.json")),
        false,
    ))
    .await
    .unwrap();
    // An old row whose file is outside this raw store (`raw_store` changed
    // since): left alone, and counted as foreign by the dry run too.
    s.record_scraper_call(&call(
        "box",
        r#"{"g":"4"}"#,
        day(9),
        Some("file:///elsewhere/d/box/day9.json"),
        false,
    ))
    .await
    .unwrap();
    // Alerts: an incident resolved on day 3 (goes, with its two
    // notifications) and one still open since day 2 (stays).
    let incident = |subject: &str| NewAlertIncident {
        condition: "workflow_failed".to_string(),
        subject: subject.to_string(),
        level: "critical".to_string(),
        summary: "failed".to_string(),
        opened_at: day(2),
        last_notified_at: Some(day(2)),
        caused_by: None,
    };
    let alert = |event: &str, at| NewAlert {
        sink: "hook".to_string(),
        event: event.to_string(),
        level: "critical".to_string(),
        message: event.to_string(),
        payload: "{}".to_string(),
        created_at: at,
        delivery_status: "delivered".to_string(),
        next_attempt_at: None,
        last_error: None,
    };
    let old = s
        .open_alert_incident(&incident("wf_old"), &[alert("opened", day(2))])
        .await
        .unwrap()
        .unwrap();
    assert!(
        s.resolve_alert_incident(old.id, day(3), &[alert("recovered", day(3))])
            .await
            .unwrap()
    );
    s.open_alert_incident(&incident("wf_open"), &[alert("opened", day(2))])
        .await
        .unwrap()
        .unwrap();
    s.record_workflow_execution(&run("old-run", day(2)))
        .await
        .unwrap();
    s.record_workflow_execution(&run("young-run", day(97)))
        .await
        .unwrap();
    Scenario {
        kept_by_unchanged,
        replaced: vec![p1, p2],
        only_old,
        young,
    }
}

fn exists(uri: &str) -> bool {
    std::path::Path::new(uri.strip_prefix("file://").unwrap()).exists()
}

async fn all_calls(store: &dyn Store) -> Vec<(String, DateTime<Utc>)> {
    let mut rows: Vec<_> = store
        .recent_standalone_calls(u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.scraper_name, c.started_at))
        .collect();
    rows.sort_by_key(|r| r.1);
    rows
}

async fn old_rows_and_files_go_young_and_referenced_stay(postgres: bool) {
    let b = Backend::open(postgres).await;
    let sc = scenario(&b).await;
    let clock = Arc::new(ManualClock::new(t0()));
    clock.advance(100 * DAY);
    let purger = Purger::new(b.store.clone(), b.raw.clone(), clock.clone(), 90 * DAY);
    assert_eq!(purger.cutoff(), t0() + TimeDelta::days(10));

    // Dry run first: counts, changes nothing.
    let before = all_calls(&*b.store).await;
    let dry = purger.run(true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(all_calls(&*b.store).await, before, "dry run deleted rows");
    for uri in sc
        .replaced
        .iter()
        .chain([&sc.only_old, &sc.kept_by_unchanged, &sc.young])
    {
        assert!(exists(uri), "dry run deleted {uri}");
    }

    let report = purger.run(false).await.unwrap();
    assert!(!report.dry_run);
    assert_eq!(report.rows("scraper_execution_log"), 9);
    assert_eq!(report.rows("scraper_attempts"), 9);
    assert_eq!(report.rows("workflow_executions"), 1);
    assert_eq!(
        dry.alert_rows,
        Some(3),
        "the dry run counts the alert rows too"
    );
    assert_eq!(
        report.alert_rows,
        Some(3),
        "one incident and its two notifications"
    );
    let open = b.store.open_alert_incidents().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].subject, "wf_open");
    // p1, p2, only_old deleted; the vanished one was missing.
    assert_eq!((report.raw_objects, report.raw_bytes), (3, 15));
    assert_eq!(report.raw_missing, 1);
    assert_eq!(report.raw_foreign, 1);
    // The dry run said exactly this (before: the foreign file was
    // "missing" in the dry run).
    assert_eq!(dry.tables, report.tables);
    assert_eq!(
        (
            dry.raw_objects,
            dry.raw_bytes,
            dry.raw_missing,
            dry.raw_foreign
        ),
        (
            report.raw_objects,
            report.raw_bytes,
            report.raw_missing,
            report.raw_foreign
        )
    );

    for uri in sc.replaced.iter().chain([&sc.only_old]) {
        assert!(!exists(uri), "{uri} should be gone");
    }
    assert!(
        exists(&sc.kept_by_unchanged),
        "a file a young unchanged row points at must stay"
    );
    assert!(exists(&sc.young));
    let left = all_calls(&*b.store).await;
    assert_eq!(
        left,
        vec![
            ("lines".to_string(), t0() + TimeDelta::days(95)),
            ("props".to_string(), t0() + TimeDelta::days(96)),
        ]
    );
    // The engine's unchanged lookup still finds the kept payload.
    let last = b.store.last_payload("lines", "{}").await.unwrap().unwrap();
    assert_eq!(last.output_uri, sc.kept_by_unchanged);
    let runs = b.store.recent_workflow_executions(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].execution_id, "young-run");

    // A second purge finds nothing more.
    let again = purger.run(false).await.unwrap();
    assert_eq!(again.total_rows(), 0);
    assert_eq!(again.raw_objects, 0);

    // Once the cutoff passes day 95 (clock at day 186, cutoff day 96), the
    // last "lines" row goes too, and with it the day-1 file nothing points
    // at any more; the day-96 "props" row is exactly at the cutoff and stays.
    clock.advance(86 * DAY);
    let later = purger.run(false).await.unwrap();
    assert_eq!(later.rows("scraper_execution_log"), 1);
    assert!(!exists(&sc.kept_by_unchanged));
    assert!(exists(&sc.young));
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_old_rows_and_files_go_young_and_referenced_stay() {
    old_rows_and_files_go_young_and_referenced_stay(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_old_rows_and_files_go_young_and_referenced_stay() {
    old_rows_and_files_go_young_and_referenced_stay(true).await;
}

/// A transform's call: its output (primary, `output_uri`) and the
/// document it read (secondary), both in `call_outputs`.
fn transformed(at: DateTime<Utc>, output: &str, document: &str, unchanged: bool) -> NewScraperCall {
    let mut row = call("report", "{}", at, Some(output), unchanged);
    let out = |role, uri: &str| NewCallOutput {
        role,
        uri: uri.to_string(),
        content_hash: format!("hash-{uri}"),
        bytes: 5,
        content_type: None,
    };
    row.outputs = vec![
        out(OutputRole::Primary, output),
        out(OutputRole::Secondary, document),
    ];
    row
}

async fn a_transforms_document_goes_with_its_row(postgres: bool) {
    let b = Backend::open(postgres).await;
    let day = |n: i64| t0() + TimeDelta::days(n);
    // Day 2: output and document stored. Day 96: the same output again
    // (unchanged, the day-2 object reused) from a new document.
    let output = write(&b.raw, "d/report/day2.json").await;
    let old_doc = write(&b.raw, "d/report/day2.pdf").await;
    let young_doc = write(&b.raw, "d/report/day96.pdf").await;
    b.store
        .record_scraper_call(&transformed(day(2), &output, &old_doc, false))
        .await
        .unwrap();
    b.store
        .record_scraper_call(&transformed(day(96), &output, &young_doc, true))
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(t0() + TimeDelta::days(100)));
    let purger = Purger::new(b.store.clone(), b.raw.clone(), clock, 90 * DAY);
    let dry = purger.run(true).await.unwrap();
    assert_eq!(dry.raw_objects, 1, "the dry run counts the old document");
    assert!(exists(&old_doc));
    let report = purger.run(false).await.unwrap();
    assert_eq!(report.rows("scraper_execution_log"), 1);
    assert_eq!((report.raw_objects, report.raw_bytes), (1, 5));
    assert!(!exists(&old_doc), "the purged row's document is deleted");
    assert!(exists(&output), "the output a young row reuses stays");
    assert!(exists(&young_doc));
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_transforms_document_goes_with_its_row() {
    a_transforms_document_goes_with_its_row(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_transforms_document_goes_with_its_row() {
    a_transforms_document_goes_with_its_row(true).await;
}

/// `n` old calls (with one attempt each) in one bulk insert, on day 1.
async fn old_calls(store: &dyn Store, n: i64) {
    let first = store.next_call_id().await.unwrap();
    let calls: Vec<NumberedCall> = (0..n)
        .map(|i| NumberedCall {
            id: first + i,
            call: call(
                "bulk",
                &format!(r#"{{"i":{i}}}"#),
                t0() + TimeDelta::days(1) + TimeDelta::milliseconds(i),
                None,
                false,
            ),
        })
        .collect();
    store.insert_history(&[], &calls).await.unwrap();
}

async fn batches_are_bounded(postgres: bool) {
    let b = Backend::open(postgres).await;
    old_calls(&*b.store, 12_000).await;
    let clock = Arc::new(ManualClock::new(t0() + TimeDelta::days(100)));
    let purger = Purger::new(b.store.clone(), b.raw.clone(), clock, 90 * DAY).with_batch(5_000);
    let dry = purger.run(true).await.unwrap();
    assert_eq!(dry.rows("scraper_execution_log"), 12_000);
    assert_eq!(dry.call_batches, 3);
    let report = purger.run(false).await.unwrap();
    assert_eq!(report.rows("scraper_execution_log"), 12_000);
    assert_eq!(report.rows("scraper_attempts"), 12_000);
    assert_eq!(report.call_batches, 3, "12,000 rows in batches of 5,000");
    assert!(
        b.store
            .expired_calls(purger.cutoff(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_batches_are_bounded() {
    batches_are_bounded(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batches_are_bounded() {
    batches_are_bounded(true).await;
}

/// New calls written while a purge deletes old ones all survive, and the
/// writers are not held up for the whole purge.
async fn purge_racing_writes_loses_nothing_new(postgres: bool) {
    let b = Backend::open(postgres).await;
    old_calls(&*b.store, 20_000).await;
    let now = t0() + TimeDelta::days(100);
    let clock = Arc::new(ManualClock::new(now));
    let purger =
        Purger::new(b.store.clone(), b.raw.clone(), clock.clone(), 90 * DAY).with_batch(1_000);
    let writer = {
        let store = b.store.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..300 {
                let c = call(
                    "fresh",
                    &format!(r#"{{"i":{i}}}"#),
                    now + TimeDelta::milliseconds(i),
                    None,
                    false,
                );
                ids.push(store.record_scraper_call(&c).await.unwrap());
                tokio::task::yield_now().await;
            }
            ids
        })
    };
    let report = purger.run(false).await.unwrap();
    let ids = writer.await.unwrap();
    assert_eq!(report.rows("scraper_execution_log"), 20_000);
    assert_eq!(report.call_batches, 20);
    let fresh: Vec<_> = b
        .store
        .recent_standalone_calls(u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.scraper_name == "fresh")
        .collect();
    assert_eq!(fresh.len(), 300, "a purge lost new rows");
    for id in ids {
        assert_eq!(b.store.attempts_for_call(id).await.unwrap().len(), 1);
    }
    assert!(clock.now() == now);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_purge_racing_writes_loses_nothing_new() {
    purge_racing_writes_loses_nothing_new(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_purge_racing_writes_loses_nothing_new() {
    purge_racing_writes_loses_nothing_new(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_longer_than_any_date_purges_nothing_and_does_not_panic() {
    // `now - Duration::MAX` is out of chrono's range: the cutoff saturates
    // to the earliest instant (it panicked before), so nothing is old
    // enough to go. The same scenario under 90 days does purge: the test
    // can fail.
    let b = Backend::open(false).await;
    scenario(&b).await;
    let clock = Arc::new(ManualClock::new(t0()));
    clock.advance(100 * DAY);
    let purger = Purger::new(b.store.clone(), b.raw.clone(), clock.clone(), Duration::MAX);
    assert_eq!(purger.cutoff(), DateTime::<Utc>::MIN_UTC);
    let before = all_calls(&*b.store).await;
    let report = purger.run(false).await.unwrap();
    assert_eq!(report.rows("scraper_execution_log"), 0);
    assert_eq!(all_calls(&*b.store).await, before);
    let report = Purger::new(b.store.clone(), b.raw.clone(), clock, 90 * DAY)
        .run(false)
        .await
        .unwrap();
    assert_eq!(report.rows("scraper_execution_log"), 9);
}
