//! What the SQLite backend promises beyond the Store trait: where and how
//! it creates the file, the connection settings that keep concurrent
//! writers from failing, the on-disk encodings the operator queries rely
//! on, and throughput under the engine's concurrency.

use crate::fresh_store;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_storage::{
    DateClaim, NewAttempt, NewScheduledRun, NewScraperCall, RunStart, Store, StoreError,
};
use rebound_storage_sqlite::SqliteStore;
use sqlx::Row;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn call(execution_id: Option<&str>, scraper: &str, started_at: DateTime<Utc>) -> NewScraperCall {
    NewScraperCall {
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        execution_id: execution_id.map(str::to_string),
        workflow_name: execution_id.map(|_| "wf".to_string()),
        scraper_name: scraper.to_string(),
        source_name: "sim".to_string(),
        params: r#"{"date":"2026-02-28"}"#.to_string(),
        target_date: chrono::NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
        status: ScraperStatus::Success,
        attempts: 2,
        http_status: Some(200),
        error_kind: None,
        error_message: None,
        started_at,
        finished_at: started_at + TimeDelta::milliseconds(80),
        duration_ms: 80,
        bytes: Some(1_234),
        output_uri: Some(format!("file:///raw/{scraper}.json")),
        content_hash: Some("ab".repeat(32)),
        unchanged: true,
        pages: None,
        record_count: None,
        attempt_rows: vec![
            NewAttempt {
                attempt: 1,
                page: 1,
                proxy: None,
                started_at,
                finished_at: started_at + TimeDelta::milliseconds(10),
                http_status: Some(503),
                outcome: AttemptOutcome::Retryable,
                error_kind: Some(ErrorKind::Server),
                error_message: Some("HTTP 503".to_string()),
                delay_before_ms: 0,
            },
            NewAttempt {
                attempt: 2,
                page: 1,
                proxy: None,
                started_at: started_at + TimeDelta::milliseconds(50),
                finished_at: started_at + TimeDelta::milliseconds(80),
                http_status: Some(200),
                outcome: AttemptOutcome::Success,
                error_kind: None,
                error_message: None,
                delay_before_ms: 40,
            },
        ],
    }
}

#[tokio::test]
async fn open_creates_missing_parent_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/history.sqlite");
    let store = SqliteStore::open(&path).await.expect("open");
    assert!(path.is_file());
    assert_eq!(store.backend(), "sqlite");
}

#[tokio::test]
async fn open_reports_an_unusable_path_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let result = SqliteStore::open(&blocker.join("history.sqlite")).await;
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("not-a-folder"), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn open_reports_a_conflicting_schema_as_a_migration_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    {
        // Someone else's table under a contract name, no migration record.
        let store = SqliteStore::open(&dir.path().join("other.sqlite"))
            .await
            .unwrap();
        sqlx::query("VACUUM INTO ?1")
            .bind(path.to_str().unwrap())
            .execute(store.pool())
            .await
            .unwrap();
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    match SqliteStore::open(&path).await {
        Err(StoreError::Migration(message)) => {
            assert!(message.contains("history.sqlite"), "{message}")
        }
        other => panic!("expected a migration error, got {other:?}"),
    }
}

/// Before: opening another application's SQLite file added Rebound's
/// tables to it, even from a report command.
#[tokio::test]
async fn open_refuses_another_applications_database_and_leaves_it_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE foo (x INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    let tables = || async {
        sqlx::query_scalar::<_, String>("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    match SqliteStore::open(&path).await {
        Err(StoreError::Migration(message)) => assert!(
            message.contains("app.db is not a Rebound history: it holds other tables (foo)"),
            "{message}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(tables().await, ["foo"]);
    pool.close().await;
    // Untouched to the byte: before, the refusal came after the open had
    // switched the file to WAL mode (its header rewritten, `-wal` and
    // `-shm` made beside it).
    let before = std::fs::read(&path).unwrap();
    assert!(SqliteStore::open(&path).await.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    for beside in ["app.db-wal", "app.db-shm"] {
        assert!(!dir.path().join(beside).exists(), "{beside} was made");
    }
}

/// Before: the refused open left its setup lock file, `app.db-lock`,
/// beside the other application's database. One this open did not make
/// (a Rebound process's, say) stays.
#[tokio::test]
async fn a_refused_open_removes_the_lock_file_it_made_and_only_that() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE foo (x INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let lock = dir.path().join("app.db-lock");
    assert!(SqliteStore::open(&path).await.is_err());
    assert!(!lock.exists(), "the lock file was left");
    let names = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(dir.path()), ["app.db"]);

    std::fs::write(&lock, "").unwrap();
    assert!(SqliteStore::open(&path).await.is_err());
    assert!(
        lock.exists(),
        "a lock file this open did not make was removed"
    );

    // A file that is not SQLite at all is refused the same way.
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "not a database, just some notes\n".repeat(200)).unwrap();
    assert!(SqliteStore::open(&text).await.is_err());
    assert!(!dir.path().join("notes.db-lock").exists());

    // A Rebound history keeps its lock file, as before.
    let ours = dir.path().join("history.db");
    drop(SqliteStore::open(&ours).await.unwrap());
    assert!(dir.path().join("history.db-lock").exists());
}

#[tokio::test]
async fn connection_settings() {
    let (_dir, store) = fresh_store().await;
    let pool = store.pool();
    let text = |sql: &'static str| async move {
        let row = sqlx::query(sql).fetch_one(pool).await.unwrap();
        row.get::<String, _>(0)
    };
    let number = |sql: &'static str| async move {
        let row = sqlx::query(sql).fetch_one(pool).await.unwrap();
        row.get::<i64, _>(0)
    };
    assert_eq!(text("PRAGMA journal_mode").await, "wal");
    assert_eq!(number("PRAGMA synchronous").await, 1, "NORMAL");
    assert_eq!(number("PRAGMA busy_timeout").await, 10_000);
    assert_eq!(number("PRAGMA foreign_keys").await, 1);
}

#[tokio::test]
async fn contract_tables_columns_and_indexes_exist() {
    let (_dir, store) = fresh_store().await;
    let columns = |table: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("SELECT name FROM pragma_table_info(?1)")
                .bind(table)
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<String, _>(0))
                .collect::<BTreeSet<String>>()
        }
    };
    let expect = |names: &str| names.split_whitespace().map(str::to_string).collect();
    let want: BTreeSet<String> = expect(
        "execution_id workflow_name target_date execution_time finished_at status \
         scrapers_requested scrapers_succeeded scrapers_failed scrapers_no_data \
         scrapers_skipped error_message duration_ms params",
    );
    assert!(columns("workflow_executions").await.is_superset(&want));
    let want: BTreeSet<String> = expect(
        "id execution_id workflow_name scraper_name source_name params target_date status \
         attempts http_status error_kind error_message started_at finished_at duration_ms \
         bytes output_uri content_hash unchanged",
    );
    assert!(columns("scraper_execution_log").await.is_superset(&want));
    let want: BTreeSet<String> = expect(
        "scraper_execution_id attempt started_at finished_at http_status outcome error_kind \
         error_message delay_before_ms",
    );
    assert!(columns("scraper_attempts").await.is_superset(&want));
    let want: BTreeSet<String> = expect(
        "decision_id workflow_name decided_at slot target_date action reason entities \
         alert_level execution_id decided_by",
    );
    assert!(columns("workflow_decisions").await.is_superset(&want));
    let want: BTreeSet<String> = expect(
        "run_id workflow_name target_date slot params entities state run_at scheduled_for \
         execution_id decision_id created_at claims lease_owner lease_expires_at started_at \
         finished_at result_status last_error",
    );
    assert!(columns("scheduled_runs").await.is_superset(&want));

    // The lookups the Store makes must use an index, not scan the log.
    let plan = |sql: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    for sql in [
        "EXPLAIN QUERY PLAN SELECT content_hash, output_uri FROM scraper_execution_log \
         WHERE scraper_name = 'a' AND params = '{}' AND content_hash IS NOT NULL \
         AND output_uri IS NOT NULL ORDER BY id DESC LIMIT 1",
        "EXPLAIN QUERY PLAN SELECT * FROM scraper_execution_log WHERE execution_id = 'x' ORDER BY id",
        "EXPLAIN QUERY PLAN SELECT * FROM scraper_execution_log \
         INDEXED BY scraper_execution_log_standalone WHERE execution_id IS NULL \
         ORDER BY started_at DESC, id DESC LIMIT 5",
        "EXPLAIN QUERY PLAN SELECT * FROM workflow_executions \
         ORDER BY execution_time DESC, execution_id DESC LIMIT 5",
        "EXPLAIN QUERY PLAN SELECT * FROM scraper_execution_log \
         WHERE workflow_name = 'wf' AND started_at >= '2026'",
        // claim_run's choice of the next run, and the reaper's sweep.
        "EXPLAIN QUERY PLAN SELECT run_id FROM scheduled_runs \
         WHERE state = 'queued' AND run_at <= '2026' ORDER BY run_at, created_at LIMIT 1",
        "EXPLAIN QUERY PLAN SELECT run_id FROM scheduled_runs \
         WHERE state = 'running' AND lease_expires_at < '2026'",
        "EXPLAIN QUERY PLAN SELECT MAX(decided_at) FROM workflow_decisions \
         WHERE workflow_name = 'wf'",
        "EXPLAIN QUERY PLAN SELECT * FROM workflow_executions \
         WHERE workflow_name = 'wf' AND target_date = '2026-01-01' \
         ORDER BY execution_time, execution_id",
        // latest_payload across dates (the calendar read): one scraper's
        // newest stored payload by finish time, without sorting its calls.
        "EXPLAIN QUERY PLAN SELECT id FROM scraper_execution_log \
         WHERE scraper_name = 'a' \
         AND status = 'success' AND output_uri IS NOT NULL AND content_hash IS NOT NULL \
         ORDER BY finished_at DESC, id DESC LIMIT 1",
    ] {
        let detail = plan(sql).await;
        assert!(
            detail.contains("USING INDEX") || detail.contains("USING COVERING INDEX"),
            "{sql}: {detail}"
        );
        assert!(!detail.contains("TEMP B-TREE"), "{sql}: sorts: {detail}");
    }
}

#[tokio::test]
async fn values_are_stored_in_the_documented_encodings() {
    let (_dir, store) = fresh_store().await;
    let id = store
        .record_scraper_call(&call(
            Some("run-1"),
            "prices",
            at("2026-11-28T15:04:05.123456Z"),
        ))
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT started_at, finished_at, target_date, typeof(unchanged) AS t, unchanged, \
            typeof(attempts) AS ta FROM scraper_execution_log WHERE id = ?1",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        row.get::<String, _>("started_at"),
        "2026-11-28T15:04:05.123Z"
    );
    assert_eq!(
        row.get::<String, _>("finished_at"),
        "2026-11-28T15:04:05.203Z"
    );
    assert_eq!(row.get::<String, _>("target_date"), "2026-02-28");
    assert_eq!(row.get::<String, _>("t"), "integer");
    assert_eq!(row.get::<i64, _>("unchanged"), 1);
    assert_eq!(row.get::<String, _>("ta"), "integer");
    let attempt = sqlx::query(
        "SELECT started_at FROM scraper_attempts WHERE scraper_execution_id = ?1 AND attempt = 2",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(attempt.get::<String, _>(0), "2026-11-28T15:04:05.173Z");
}

#[tokio::test]
async fn attempts_must_belong_to_a_call() {
    let (_dir, store) = fresh_store().await;
    let result = sqlx::query(
        "INSERT INTO scraper_attempts (scraper_execution_id, attempt, started_at, finished_at, \
            outcome, delay_before_ms) VALUES (424242, 1, 'x', 'x', 'success', 0)",
    )
    .execute(store.pool())
    .await;
    assert!(result.is_err(), "foreign key not enforced");
}

#[tokio::test]
async fn history_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let recorded = call(Some("run-1"), "prices", at("2026-11-28T15:04:05.123Z"));
    let id = {
        let store = SqliteStore::open(&path).await.unwrap();
        store.record_scraper_call(&recorded).await.unwrap()
    };
    let store = SqliteStore::open(&path).await.expect("reopen");
    let rows = store.scraper_calls_for_execution("run-1").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, id);
    assert_eq!(
        store
            .last_payload("prices", &recorded.params)
            .await
            .unwrap()
            .map(|p| p.content_hash),
        recorded.content_hash
    );
}

/// Two stores on one file stand for two processes (the scheduler and a
/// `rebound scrape`): their writes contend for SQLite's lock and must wait
/// for it, never fail with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_both_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let first = Arc::new(SqliteStore::open(&path).await.unwrap());
    let second = Arc::new(SqliteStore::open(&path).await.unwrap());
    let t0 = at("2026-01-01T00:00:00Z");
    let mut tasks = Vec::new();
    for i in 0..400 {
        let store = if i % 2 == 0 { &first } else { &second };
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            store
                .record_scraper_call(&call(Some("shared"), &format!("s{i}"), t0))
                .await
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().expect("no write may fail"));
    }
    assert_eq!(ids.len(), 400);
    assert_eq!(
        second
            .scraper_calls_for_execution("shared")
            .await
            .unwrap()
            .len(),
        400
    );
}

/// Two processes' stores (here: two stores on one file, each with its own
/// writer connection) claiming from one queue at once: the write lock that
/// `BEGIN IMMEDIATE` takes before the claim reads is what keeps a run from
/// being handed to both, since SQLite has no row locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_never_claim_one_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let first = Arc::new(SqliteStore::open(&path).await.unwrap());
    let second = Arc::new(SqliteStore::open(&path).await.unwrap());
    let t0 = at("2026-01-01T00:00:00Z");
    for i in 0..40 {
        let run = NewScheduledRun {
            run_id: format!("run-{i:02}"),
            workflow_name: "wf".to_string(),
            target_date: t0.date_naive(),
            slot: format!("s{i:02}"),
            params: "{}".to_string(),
            entities: "null".to_string(),
            run_at: t0,
            scheduled_for: t0,
            execution_id: format!("exec-{i:02}"),
            decision_id: None,
            created_at: t0 + TimeDelta::milliseconds(i),
        };
        assert!(first.enqueue_run(&run).await.unwrap());
    }
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = Arc::clone(if worker % 2 == 0 { &first } else { &second });
        tasks.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            let name = format!("w{worker}");
            while let Some(run) = store
                .claim_run(&name, t0, Duration::from_secs(60))
                .await
                .expect("no claim may fail")
            {
                claimed.push(run.run_id);
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 40, "claimed: {all:?}");
    assert_eq!(distinct.len(), 40);
}

/// Two processes' backfills (two stores on one file) claiming the same
/// dates at once: `BEGIN IMMEDIATE` before the read is what keeps both
/// from finding a date free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_never_claim_one_date_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let first = Arc::new(SqliteStore::open(&path).await.unwrap());
    let second = Arc::new(SqliteStore::open(&path).await.unwrap());
    let t0 = at("2026-01-01T00:00:00Z");
    let mut tasks = Vec::new();
    for claimer in 0..8 {
        let store = Arc::clone(if claimer % 2 == 0 { &first } else { &second });
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for day in 0..10 {
                let start = RunStart {
                    execution_id: format!("exec-{claimer}-{day}"),
                    workflow_name: "wf".to_string(),
                    target_date: t0.date_naive() + chrono::Days::new(day),
                    started_at: t0,
                    params: "{}".to_string(),
                    owner: format!("host:{claimer}"),
                    heartbeat_until: t0 + TimeDelta::seconds(60),
                };
                let claim = store
                    .claim_target_date(&start)
                    .await
                    .expect("no claim may fail");
                if claim == DateClaim::Claimed {
                    won.push(start.target_date);
                }
            }
            won
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let distinct: BTreeSet<_> = all.iter().collect();
    assert_eq!(all.len(), 10, "claimed: {all:?}");
    assert_eq!(distinct.len(), 10);
}

/// The engine's benchmark load, scaled to the count in
/// `REBOUND_SQLITE_BENCH_CALLS` (default 2,000 to keep `cargo test` quick):
/// calls with two attempts each, 64 in flight at a time, all landing.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
#[allow(clippy::disallowed_methods)] // test knob: the size of an opt-in measurement
async fn many_concurrent_calls_all_land() {
    let total: usize = std::env::var("REBOUND_SQLITE_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let (_dir, store) = fresh_store().await;
    let store = Arc::new(store);
    let t0 = at("2026-01-01T00:00:00Z");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let store = Arc::clone(&store);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= total {
                        return ids;
                    }
                    let mut c = call(Some("bench"), &format!("scraper{}", i % 40), t0);
                    c.params = format!(r#"{{"i":{i}}}"#);
                    ids.push(store.record_scraper_call(&c).await.expect("record"));
                }
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for worker in workers {
        ids.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{total} calls in {elapsed:?} ({:.0} calls/s)",
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(ids.len(), total);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scraper_attempts")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(count, 2 * total as i64);
}

/// Lookups made at once are answered from shared queries (see `lookup`):
/// each still gets the newest payload of its own scraper and parameters,
/// or none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_last_payload_lookups_each_get_their_own_answer() {
    let (_dir, store) = fresh_store().await;
    let store = Arc::new(store);
    let t0 = at("2026-01-01T00:00:00Z");
    for i in 0..50 {
        for version in 0..2 {
            let mut c = call(None, &format!("s{}", i % 5), t0);
            c.params = format!(r#"{{"i":{i}}}"#);
            c.content_hash = Some(format!("{i:060}{version:04}"));
            c.output_uri = Some(format!("file:///raw/{i}-{version}.json"));
            store.record_scraper_call(&c).await.unwrap();
        }
    }
    let lookups: Vec<_> = (0..200)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let params = format!(r#"{{"i":{}}}"#, i % 100);
                (
                    i % 100,
                    store.last_payload(&format!("s{}", i % 5), &params).await,
                )
            })
        })
        .collect();
    for lookup in lookups {
        let (i, found) = lookup.await.unwrap();
        let found = found.expect("lookup");
        if i < 50 {
            let found = found.expect("a payload");
            assert_eq!(found.content_hash, format!("{i:060}{:04}", 1));
            assert_eq!(found.output_uri, format!("file:///raw/{i}-1.json"));
        } else {
            assert_eq!(found, None, "no call with i = {i}");
        }
    }
}

/// Processes started together on a new file (a scheduler and a worker
/// from one systemd unit, two cron jobs) each open it at once: each here is
/// a thread with its own runtime, released together by a barrier. Every
/// open must succeed and leave the whole schema, where before the second
/// opener failed with "table ... already exists" or "database is locked".
#[test]
fn concurrent_first_opens_of_a_new_file_all_succeed() {
    const OPENERS: usize = 8;
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        let barrier = Arc::new(std::sync::Barrier::new(OPENERS));
        let openers: Vec<_> = (0..OPENERS)
            .map(|_| {
                let path = path.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    barrier.wait();
                    runtime.block_on(async {
                        let store = SqliteStore::open(&path).await?;
                        let applied: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM _sqlx_migrations WHERE success",
                        )
                        .fetch_one(store.pool())
                        .await
                        .unwrap();
                        store.pool().close().await;
                        Ok::<i64, StoreError>(applied)
                    })
                })
            })
            .collect();
        for opener in openers {
            match opener.join().unwrap() {
                Ok(applied) => assert_eq!(applied as usize, migrations, "round {round}"),
                Err(e) => panic!("round {round}: a concurrent first open failed: {e}"),
            }
        }
    }
}

/// The publisher and the alert deliverer poll; with nothing due, a poll
/// answers at once from a reader instead of queueing for the write lock
/// behind another process's writer (it used to wait out the busy timeout
/// and fail with "database is locked").
#[tokio::test]
async fn idle_claims_do_not_wait_for_another_writer() {
    use rebound_storage::{AlertStore, EventStore};
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let now = at("2026-01-01T00:00:00Z");
    let lease = now + TimeDelta::minutes(1);
    let started = Instant::now();
    let events = tokio::time::timeout(
        Duration::from_secs(3),
        store.claim_pending_events(now, lease, 10),
    )
    .await
    .expect("an idle event claim waited for the other writer")
    .unwrap();
    let alerts = tokio::time::timeout(
        Duration::from_secs(3),
        store.claim_due_alerts(now, lease, 10),
    )
    .await
    .expect("an idle alert claim waited for the other writer")
    .unwrap();
    assert!(events.is_empty() && alerts.is_empty());
    assert!(started.elapsed() < Duration::from_secs(3));
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
}

/// A breaker row whose count a hand edit left negative is read as 0 (with
/// a warning naming the row): it was read wrapped (`trips = -2` showed as
/// 4294967294 in `rebound breakers`, and a negative `streak` fed the open
/// period's doubling). An error instead failed every breaker read. The
/// row's next change writes the count back in range.
#[tokio::test]
async fn a_negative_breaker_count_is_read_as_zero() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
    let at: DateTime<Utc> = "2026-11-28T17:00:00Z".parse().unwrap();
    use rebound_storage::Store;
    store
        .update_breaker("api", at, &mut |state| {
            state.trips = 2;
            Vec::new()
        })
        .await
        .unwrap();
    sqlx::query("UPDATE circuit_breaker_state SET trips = -2 WHERE source_name = 'api'")
        .execute(store.pool())
        .await
        .unwrap();
    let rows = store.breaker_states().await.expect("read, not refused");
    assert_eq!(rows[0].state.trips, 0, "not 4294967294");
    store
        .update_breaker("api", at, &mut |state| {
            state.consecutive_failures += 1;
            Vec::new()
        })
        .await
        .unwrap();
    let trips: i64 = sqlx::query_scalar("SELECT trips FROM circuit_breaker_state")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(trips, 0);
}
