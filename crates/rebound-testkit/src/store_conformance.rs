//! The conformance suite every [`Store`] backend must pass.
//!
//! The engine and the CLI only ever see `dyn Store`, so the backends have to
//! be interchangeable down to the last field: what one stores as `None` the
//! other must not read back as `""`, both must keep milliseconds, order lists
//! the same way and stay atomic under concurrency. Writing those rules once,
//! here, and running them from each backend's integration tests is what keeps
//! the two from drifting apart.
//!
//! Each check is a `pub async fn` so a backend can run it as its own test
//! (a fresh database each, failures named precisely); [`run_all`] runs every
//! one on a single store. The checks tag their rows with a unique prefix and
//! look rows up by id or by that prefix, so they also pass on a store that
//! already holds other data. The two "newest first" checks place their rows
//! in far-future years (2200 for standalone calls, 2400 for workflow runs)
//! so that they are the newest rows of the store.
//!
//! [`scheduler`] holds the checks of the scheduler's methods (decisions,
//! the run queue and its leases, the facts it reads); [`run_all`] runs
//! them too.
//!
//! [`queries`] holds the fixture used to test the operator queries of
//! `docs/queries.md` against both backends.

pub mod alerts;
pub mod api;
pub mod breakers;
pub mod dashboard;
pub mod events;
pub mod health;
pub mod limits;
pub mod lockouts;
pub mod metrics;
pub mod queries;
pub mod quota;
pub mod retention;
pub mod runs;
pub mod scheduler;

use chrono::{DateTime, NaiveDate, SubsecRound, TimeDelta, Utc};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_storage::{
    AttemptRow, CallOutput, NewAttempt, NewCallOutput, NewScraperCall, NewWorkflowExecution,
    OutputRole, PayloadRef, ScraperCallRow, Store, StoreError, Validators, WorkflowExecutionRow,
};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Runs every check of the suite, one after the other, on `store`.
pub async fn run_all(store: &dyn Store) {
    backend_is_named(store).await;
    scraper_call_round_trip(store).await;
    timestamps_keep_milliseconds(store).await;
    standalone_calls_newest_first(store).await;
    workflow_execution_round_trip(store).await;
    recording_an_execution_again_finishes_it_in_place(store).await;
    recent_workflow_executions_newest_first(store).await;
    calls_for_execution_in_id_order(store).await;
    last_payload_picks_newest_matching_call(store).await;
    attempts_come_back_in_attempt_order(store).await;
    failed_write_leaves_nothing_behind(store).await;
    concurrent_calls_land_with_distinct_ids(store).await;
    bad_call_does_not_sink_concurrent_ones(store).await;
    paginated_call_keeps_its_pages_and_record_count(store).await;
    call_outputs_are_listed_by_position(store).await;
    last_validators_come_from_the_newest_success(store).await;
    attempts_keep_their_proxy_and_are_found_by_it(store).await;
    a_checkpoint_loses_nothing_recorded(store).await;
    a_backup_is_a_database_file_or_names_pg_dump(store).await;
    scheduler::run_all(store).await;
    lockouts::run_all(store).await;
    quota::run_all(store).await;
    breakers::run_all(store).await;
    alerts::run_all(store).await;
    health::run_all(store).await;
    metrics::run_all(store).await;
    limits::run_all(store).await;
    retention::run_all(store).await;
    runs::run_all(store).await;
    events::run_all(store).await;
    api::run_all(store).await;
    dashboard::run_all(store).await;
}

/// `backend()` names one of the two known backends, for messages.
pub async fn backend_is_named(store: &dyn Store) {
    let name = store.backend();
    assert!(
        matches!(name, "sqlite" | "postgres"),
        "unexpected backend name {name:?}"
    );
}

/// `checkpoint` (run by every command that writes, before it exits) keeps
/// what was recorded, and the store keeps working after it.
pub async fn a_checkpoint_loses_nothing_recorded(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let before = sample_call(&tag, "before", Some(&exec), ts("2026-03-01T10:00:00Z"));
    let first = record(store, &before).await;
    store.checkpoint().await.expect("checkpoint");
    let after = sample_call(&tag, "after", Some(&exec), ts("2026-03-01T10:01:00Z"));
    let second = record(store, &after).await;
    store.checkpoint().await.expect("a second checkpoint");
    let ids: Vec<i64> = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("calls")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![first, second], "{}", store.backend());
}

/// `backup_into`: SQLite writes a whole database file (and refuses to
/// overwrite one); PostgreSQL has no file of its own and says to use
/// `pg_dump` rather than failing vaguely.
pub async fn a_backup_is_a_database_file_or_names_pg_dump(store: &dyn Store) {
    let tag = Tag::new();
    let call = sample_call(&tag, "backed_up", None, ts("2026-03-02T10:00:00Z"));
    record(store, &call).await;
    let dir = std::env::temp_dir().join(tag.name("backup"));
    std::fs::create_dir_all(&dir).expect("backup folder");
    let path = dir.join("copy.db");
    let result = store.backup_into(&path).await;
    match store.backend() {
        "sqlite" => {
            result.expect("backup");
            let bytes = std::fs::read(&path).expect("the backup file");
            assert!(
                bytes.starts_with(b"SQLite format 3\0"),
                "not a SQLite file ({} bytes)",
                bytes.len()
            );
            let again = store.backup_into(&path).await;
            assert!(again.is_err(), "a backup overwrote {}", path.display());
        }
        backend => {
            let error = result.expect_err("no file to back up into").to_string();
            assert!(error.contains("pg_dump"), "{backend}: {error}");
            assert!(!path.exists(), "{backend} wrote {}", path.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every field of a call and of its attempts comes back as written,
/// `None` stays `None`, `Some("")` stays `Some("")`, and texts keep their
/// unicode, quotes and newlines.
pub async fn scraper_call_round_trip(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let t0 = ts("2026-11-28T15:04:05.123Z");

    let full = NewScraperCall {
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        execution_id: Some(exec.clone()),
        workflow_name: Some(tag.name("wörkflow_ünïcode")),
        scraper_name: tag.name("prices"),
        source_name: "exchange «Ost» 東京".to_string(),
        params: r#"{"city":"Zürich","q":"東京 \"quoted\" 'single'"}"#.to_string(),
        target_date: date("2026-02-28"),
        status: ScraperStatus::Failed,
        attempts: 3,
        http_status: Some(503),
        error_kind: Some(ErrorKind::Server),
        error_message: Some(
            "server error 503 — «Service Unavailable» 服务器错误 🚀\nsecond line; DROP TABLE x; --'\""
                .to_string(),
        ),
        started_at: t0,
        finished_at: t0 + TimeDelta::milliseconds(1_886),
        duration_ms: 1_886,
        bytes: Some(5_000_000_000),
        output_uri: Some("file:///var/lib/rebound/räw/prices/2026-02-28.json".to_string()),
        content_hash: Some("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262".into()),
        unchanged: true,
        pages: None,
        record_count: None,
        attempt_rows: vec![
            NewAttempt {
                attempt: 1,
                page: 1,
                proxy: None,
                started_at: t0,
                finished_at: t0 + TimeDelta::milliseconds(301),
                http_status: Some(503),
                outcome: AttemptOutcome::Retryable,
                error_kind: Some(ErrorKind::Server),
                error_message: Some("HTTP 503 — réessayer «plus tard» 🙏".to_string()),
                delay_before_ms: 0,
            },
            NewAttempt {
                attempt: 2,
                page: 1,
                proxy: None,
                started_at: t0 + TimeDelta::milliseconds(501),
                finished_at: t0 + TimeDelta::milliseconds(1_502),
                http_status: None,
                outcome: AttemptOutcome::Retryable,
                error_kind: Some(ErrorKind::Timeout),
                error_message: Some("no answer within 1s".to_string()),
                delay_before_ms: 200,
            },
            NewAttempt {
                attempt: 3,
                page: 1,
                proxy: None,
                started_at: t0 + TimeDelta::milliseconds(1_700),
                finished_at: t0 + TimeDelta::milliseconds(1_886),
                http_status: Some(404),
                outcome: AttemptOutcome::Permanent,
                error_kind: Some(ErrorKind::Client),
                error_message: Some(String::new()),
                delay_before_ms: 198,
            },
        ],
    };

    // Every optional field empty: must come back as `None`, not as "" or 0.
    let minimal = NewScraperCall {
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        execution_id: Some(exec.clone()),
        workflow_name: None,
        scraper_name: tag.name("minimal"),
        source_name: "src".to_string(),
        params: "{}".to_string(),
        target_date: date("1999-12-31"),
        status: ScraperStatus::Skipped,
        attempts: 0,
        http_status: None,
        error_kind: None,
        error_message: None,
        started_at: t0,
        finished_at: t0,
        duration_ms: 0,
        bytes: None,
        output_uri: None,
        content_hash: None,
        unchanged: false,
        pages: None,
        record_count: None,
        attempt_rows: vec![],
    };

    // Empty and zero values are values: must come back as `Some`, not `None`.
    let empties = NewScraperCall {
        scraper_name: tag.name("empties"),
        status: ScraperStatus::NoData,
        attempts: 1,
        http_status: Some(204),
        error_kind: Some(ErrorKind::Decode),
        error_message: Some(String::new()),
        bytes: Some(0),
        output_uri: Some(String::new()),
        content_hash: Some(String::new()),
        target_date: date("2100-02-28"),
        attempt_rows: vec![NewAttempt {
            attempt: 1,
            page: 1,
            proxy: None,
            started_at: t0,
            finished_at: t0,
            http_status: None,
            outcome: AttemptOutcome::NoData,
            error_kind: None,
            error_message: None,
            delay_before_ms: 0,
        }],
        ..minimal.clone()
    };

    let calls = [full, minimal, empties];
    let mut ids = Vec::new();
    for call in &calls {
        ids.push(record(store, call).await);
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids must grow in record order: {ids:?}"
    );

    let rows = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    let expected: Vec<ScraperCallRow> = ids
        .iter()
        .zip(&calls)
        .map(|(id, call)| expected_call_row(*id, call))
        .collect();
    assert_eq!(rows, expected);

    for (id, call) in ids.iter().zip(&calls) {
        let attempts = store
            .attempts_for_call(*id)
            .await
            .expect("attempts_for_call");
        assert_eq!(attempts, expected_attempt_rows(*id, call), "call {id}");
    }
}

/// A paginated call (issue 13): `pages` and `record_count` come back as
/// written, and each attempt keeps the page it fetched, attempts numbered
/// over the whole call (page 2 retried once: attempts 2 and 3 are both
/// page 2). A call without them reads back NULLs, not 0 or 1.
pub async fn paginated_call_keeps_its_pages_and_record_count(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let t0 = ts("2026-11-28T15:04:05.123Z");
    let base = sample_call(&tag, "paged", Some(&exec), t0);
    let page_attempt = |attempt: u32, page: u32, outcome: AttemptOutcome| NewAttempt {
        attempt,
        page,
        outcome,
        error_kind: (outcome == AttemptOutcome::Retryable).then_some(ErrorKind::Server),
        http_status: Some(if outcome == AttemptOutcome::Retryable {
            503
        } else {
            200
        }),
        error_message: (outcome == AttemptOutcome::Retryable).then(|| "HTTP 503: busy".into()),
        ..base.attempt_rows[0].clone()
    };
    let paged = NewScraperCall {
        attempts: 4,
        pages: Some(3),
        record_count: Some(250),
        attempt_rows: vec![
            page_attempt(1, 1, AttemptOutcome::Success),
            page_attempt(2, 2, AttemptOutcome::Retryable),
            page_attempt(3, 2, AttemptOutcome::Success),
            page_attempt(4, 3, AttemptOutcome::Success),
        ],
        ..base.clone()
    };
    let counted = NewScraperCall {
        record_count: Some(0),
        ..sample_call(&tag, "counted", Some(&exec), t0)
    };
    let plain = sample_call(&tag, "plain", Some(&exec), t0);
    let calls = [paged, counted, plain];
    let mut ids = Vec::new();
    for call in &calls {
        ids.push(record(store, call).await);
    }
    let rows = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    let found: Vec<(Option<i64>, Option<i64>)> =
        rows.iter().map(|r| (r.pages, r.record_count)).collect();
    assert_eq!(
        found,
        vec![(Some(3), Some(250)), (None, Some(0)), (None, None)]
    );
    for (id, call) in ids.iter().zip(&calls) {
        let attempts = store
            .attempts_for_call(*id)
            .await
            .expect("attempts_for_call");
        assert_eq!(attempts, expected_attempt_rows(*id, call), "call {id}");
    }
    let pages: Vec<(i64, i64)> = store
        .attempts_for_call(ids[0])
        .await
        .expect("attempts_for_call")
        .iter()
        .map(|a| (a.attempt, a.page))
        .collect();
    assert_eq!(pages, vec![(1, 1), (2, 2), (3, 2), (4, 3)]);
}

/// A call's outputs come back by position: its `call_outputs` rows when
/// it stored several (a transform's output and document, written in the
/// call's transaction), else its one payload as the primary, else none.
/// Outputs of one call never show under another.
pub async fn call_outputs_are_listed_by_position(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let t0 = ts("2026-11-28T15:04:05.123Z");
    let output = |role, uri: &str, hash: &str, bytes, content_type: Option<&str>| NewCallOutput {
        role,
        uri: uri.to_string(),
        content_hash: hash.to_string(),
        bytes,
        content_type: content_type.map(str::to_string),
    };
    let base = sample_call(&tag, "parsed", Some(&exec), t0);
    let primary_uri = base.output_uri.clone().unwrap();
    let primary_hash = base.content_hash.clone().unwrap();
    let transformed = NewScraperCall {
        outputs: vec![
            output(
                OutputRole::Primary,
                &primary_uri,
                &primary_hash,
                120,
                Some("application/json"),
            ),
            output(
                OutputRole::Secondary,
                "file:///raw/injury/2026-02-28/report.pdf",
                "0f0e0d",
                48_213,
                None,
            ),
        ],
        ..base.clone()
    };
    let single = sample_call(&tag, "single", Some(&exec), t0);
    let without = NewScraperCall {
        output_uri: None,
        content_hash: None,
        ..sample_call(&tag, "without", Some(&exec), t0)
    };
    let transformed_id = record(store, &transformed).await;
    let single_id = record(store, &single).await;
    let without_id = record(store, &without).await;

    let outputs = store
        .call_outputs(transformed_id)
        .await
        .expect("call_outputs");
    assert_eq!(
        outputs,
        vec![
            CallOutput {
                position: 1,
                role: OutputRole::Primary,
                uri: primary_uri,
                content_hash: primary_hash,
                bytes: Some(120),
                content_type: Some("application/json".into()),
            },
            CallOutput {
                position: 2,
                role: OutputRole::Secondary,
                uri: "file:///raw/injury/2026-02-28/report.pdf".into(),
                content_hash: "0f0e0d".into(),
                bytes: Some(48_213),
                content_type: None,
            },
        ]
    );
    let outputs = store.call_outputs(single_id).await.expect("call_outputs");
    assert_eq!(
        outputs,
        vec![CallOutput {
            position: 1,
            role: OutputRole::Primary,
            uri: single.output_uri.clone().unwrap(),
            content_hash: single.content_hash.clone().unwrap(),
            bytes: single.bytes,
            content_type: None,
        }]
    );
    assert_eq!(
        store.call_outputs(without_id).await.expect("call_outputs"),
        vec![]
    );
    assert_eq!(
        store.call_outputs(i64::MAX).await.expect("call_outputs"),
        vec![]
    );
}

/// `last_validators` reads the newest `success` with a payload of the
/// same scraper and params, with its `ETag` / `Last-Modified` (either may
/// be absent), skipping newer no_data and failed calls.
pub async fn last_validators_come_from_the_newest_success(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("2026-11-28T15:04:05.123Z");
    let scraper = "cond";
    let base = sample_call(&tag, scraper, None, t0);
    let name = base.scraper_name.clone();
    let params = base.params.clone();
    assert_eq!(
        store
            .last_validators(&name, &params)
            .await
            .expect("last_validators"),
        None
    );
    let older = NewScraperCall {
        etag: Some("\"v1\"".into()),
        last_modified: Some("Wed, 21 Jan 2026 17:30:00 GMT".into()),
        output_uri: Some("file:///raw/cond/1.json".into()),
        content_hash: Some("aa11".into()),
        record_count: Some(4),
        ..base.clone()
    };
    let newer = NewScraperCall {
        etag: Some("\"v2\"".into()),
        last_modified: None,
        output_uri: Some("file:///raw/cond/2.json".into()),
        content_hash: Some("bb22".into()),
        record_count: None,
        ..base.clone()
    };
    let no_data = NewScraperCall {
        status: ScraperStatus::NoData,
        etag: Some("\"nd\"".into()),
        output_uri: Some("file:///raw/cond/3.json".into()),
        content_hash: Some("cc33".into()),
        ..base.clone()
    };
    let failed = NewScraperCall {
        status: ScraperStatus::Failed,
        error_kind: Some(ErrorKind::Server),
        error_message: Some("HTTP 503".into()),
        output_uri: None,
        content_hash: None,
        etag: None,
        ..base.clone()
    };
    let other_params = NewScraperCall {
        params: r#"{"game_id":"other"}"#.into(),
        etag: Some("\"other\"".into()),
        ..base.clone()
    };
    record(store, &older).await;
    assert_eq!(
        store
            .last_validators(&name, &params)
            .await
            .expect("last_validators"),
        Some(Validators {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Wed, 21 Jan 2026 17:30:00 GMT".into()),
            output_uri: "file:///raw/cond/1.json".into(),
            content_hash: "aa11".into(),
            record_count: Some(4),
        })
    );
    for call in [&newer, &no_data, &failed, &other_params] {
        record(store, call).await;
    }
    assert_eq!(
        store
            .last_validators(&name, &params)
            .await
            .expect("last_validators"),
        Some(Validators {
            etag: Some("\"v2\"".into()),
            last_modified: None,
            output_uri: "file:///raw/cond/2.json".into(),
            content_hash: "bb22".into(),
            record_count: None,
        })
    );
}

/// An attempt's `proxy` (1-based, or none) reads back as written, and
/// `proxy_exchanges` finds the newest attempts of one proxy of one source,
/// oldest first, leaving out other proxies, other sources and attempts
/// made without a proxy (issue 13, migration 0014).
pub async fn attempts_keep_their_proxy_and_are_found_by_it(store: &dyn Store) {
    let tag = Tag::new();
    let source = tag.name("proxied");
    let t0 = ts("2026-11-28T15:04:05.123Z");
    let exchange = |attempt: u32, proxy: Option<i64>, status: Option<u16>| NewAttempt {
        attempt,
        page: 1,
        proxy,
        started_at: t0 + TimeDelta::seconds(i64::from(attempt)),
        finished_at: t0 + TimeDelta::seconds(i64::from(attempt)) + TimeDelta::milliseconds(5),
        http_status: status,
        outcome: match status {
            Some(200) => AttemptOutcome::Success,
            Some(_) => AttemptOutcome::Permanent,
            None => AttemptOutcome::Retryable,
        },
        error_kind: match status {
            Some(200) => None,
            Some(_) => Some(ErrorKind::Client),
            None => Some(ErrorKind::Connect),
        },
        error_message: (status != Some(200)).then(|| "via proxy 1 of 3: refused".to_string()),
        delay_before_ms: 0,
    };
    let proxied = NewScraperCall {
        source_name: source.clone(),
        attempts: 4,
        attempt_rows: vec![
            exchange(1, Some(1), None),
            exchange(2, Some(2), Some(403)),
            exchange(3, Some(1), None),
            exchange(4, Some(3), Some(200)),
        ],
        ..sample_call(&tag, "proxied", None, t0)
    };
    let elsewhere = NewScraperCall {
        attempt_rows: vec![exchange(1, Some(1), Some(200))],
        ..sample_call(&tag, "elsewhere", None, t0)
    };
    let direct = NewScraperCall {
        source_name: source.clone(),
        ..sample_call(&tag, "direct", None, t0)
    };
    let id = record(store, &proxied).await;
    record(store, &elsewhere).await;
    record(store, &direct).await;
    let attempts = store
        .attempts_for_call(id)
        .await
        .expect("attempts_for_call");
    assert_eq!(attempts, expected_attempt_rows(id, &proxied));
    let proxies: Vec<Option<i64>> = attempts.iter().map(|a| a.proxy).collect();
    assert_eq!(proxies, vec![Some(1), Some(2), Some(1), Some(3)]);

    let found = store
        .proxy_exchanges(&source, 1, 10)
        .await
        .expect("proxy_exchanges");
    let seen: Vec<_> = found
        .iter()
        .map(|e| (e.finished_at, e.http_status, e.error_kind))
        .collect();
    let at = |n: i64| t0 + TimeDelta::seconds(n) + TimeDelta::milliseconds(5);
    assert_eq!(
        seen,
        vec![
            (at(1), None, Some(ErrorKind::Connect)),
            (at(3), None, Some(ErrorKind::Connect)),
        ]
    );
    let newest = store
        .proxy_exchanges(&source, 1, 1)
        .await
        .expect("proxy_exchanges");
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].finished_at, at(3));
    let second = store
        .proxy_exchanges(&source, 2, 10)
        .await
        .expect("proxy_exchanges");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].http_status, Some(403));
    assert_eq!(second[0].error_kind, Some(ErrorKind::Client));
    assert!(
        store
            .proxy_exchanges(&source, 4, 10)
            .await
            .expect("proxy_exchanges")
            .is_empty()
    );

    // All of a source's proxies at once: one answer per proxy asked, in
    // the order asked (a repeat included), each equal to the single read.
    for limit in [1, 10] {
        let asked = [3, 1, 4, 2, 1];
        let many = store
            .proxies_exchanges(&source, &asked, limit)
            .await
            .expect("proxies_exchanges");
        assert_eq!(many.len(), asked.len(), "one answer per proxy asked");
        for (proxy, answer) in asked.iter().zip(&many) {
            let one = store
                .proxy_exchanges(&source, *proxy, limit)
                .await
                .expect("proxy_exchanges");
            assert_eq!(
                answer, &one,
                "proxies_exchanges agrees with proxy_exchanges for proxy {proxy} at limit {limit}"
            );
        }
    }
    assert!(
        store
            .proxies_exchanges(&source, &[], 10)
            .await
            .expect("proxies_exchanges of none")
            .is_empty()
    );
}

/// Times keep their milliseconds and lose anything finer, on every
/// timestamp column, so both backends read back the same instant.
pub async fn timestamps_keep_milliseconds(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let started = ts("2026-12-31T23:59:59.999Z") + TimeDelta::nanoseconds(999_999);
    let finished = ts("2027-01-01T00:00:00.001Z") + TimeDelta::nanoseconds(456_789);
    let mut call = sample_call(&tag, "clock", Some(&exec), started);
    call.finished_at = finished;
    call.attempt_rows[0].started_at = started;
    call.attempt_rows[0].finished_at = finished;
    let id = record(store, &call).await;

    let rows = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].started_at, ts("2026-12-31T23:59:59.999Z"));
    assert_eq!(rows[0].finished_at, ts("2027-01-01T00:00:00.001Z"));
    let attempts = store
        .attempts_for_call(id)
        .await
        .expect("attempts_for_call");
    assert_eq!(attempts[0].started_at, ts("2026-12-31T23:59:59.999Z"));
    assert_eq!(attempts[0].finished_at, ts("2027-01-01T00:00:00.001Z"));

    let mut run = sample_execution(&tag, "clock", ts("2026-06-30T12:00:00Z"));
    run.execution_time += TimeDelta::nanoseconds(7_654_321);
    run.finished_at = ts("2026-06-30T12:00:00.5Z");
    store
        .record_workflow_execution(&run)
        .await
        .expect("record_workflow_execution");
    let stored = find_execution(store, &run.execution_id).await;
    assert_eq!(stored.execution_time, ts("2026-06-30T12:00:00.007Z"));
    assert_eq!(stored.finished_at, ts("2026-06-30T12:00:00.500Z"));
}

/// Standalone calls (no workflow run) are listed newest started first,
/// honour the limit and never include calls of a workflow run.
pub async fn standalone_calls_newest_first(store: &dyn Store) {
    let tag = Tag::new();
    let base = ts("2200-01-01T00:00:00Z");
    // Recorded out of time order, so an id order would be caught.
    let offsets_ms = [2_000, 0, 3_000, 1_000];
    let mut recorded = Vec::new();
    for (i, offset) in offsets_ms.iter().enumerate() {
        let mut call = sample_call(
            &tag,
            &format!("standalone{i}"),
            None,
            base + TimeDelta::milliseconds(*offset),
        );
        call.workflow_name = None;
        let id = record(store, &call).await;
        recorded.push(expected_call_row(id, &call));
    }
    // Newer than all of them, but part of a workflow run.
    let in_run = sample_call(
        &tag,
        "in_run",
        Some(&tag.name("exec")),
        base + TimeDelta::days(1),
    );
    record(store, &in_run).await;

    let mut newest_first = recorded.clone();
    newest_first.sort_by_key(|row| std::cmp::Reverse(row.started_at));

    let all = store
        .recent_standalone_calls(4)
        .await
        .expect("recent_standalone_calls");
    assert_eq!(all, newest_first);
    let two = store
        .recent_standalone_calls(2)
        .await
        .expect("recent_standalone_calls");
    assert_eq!(two, newest_first[..2].to_vec());
    let none = store
        .recent_standalone_calls(0)
        .await
        .expect("recent_standalone_calls");
    assert!(none.is_empty(), "limit 0 must return nothing: {none:?}");
    let many = store
        .recent_standalone_calls(10_000)
        .await
        .expect("recent_standalone_calls");
    assert!(
        many.iter().all(|row| row.execution_id.is_none()),
        "a workflow call leaked into the standalone list"
    );
    assert_eq!(many[..4].to_vec(), newest_first);
}

/// Every field of a workflow run comes back as written.
pub async fn workflow_execution_round_trip(store: &dyn Store) {
    let tag = Tag::new();
    // The longest message the engine writes: 1000 characters, many of them
    // multi-byte, so a byte-length limit anywhere would cut it.
    let long_message: String = "prices: délai dépassé — 服务器 🚀 | "
        .chars()
        .cycle()
        .take(1000)
        .collect();
    let with_message = NewWorkflowExecution {
        execution_id: tag.name("run-ü"),
        workflow_name: tag.name("morning_prices"),
        target_date: date("2026-11-27"),
        execution_time: ts("2026-11-28T06:00:00.042Z"),
        finished_at: ts("2026-11-28T06:03:12.999Z"),
        status: WorkflowStatus::Partial,
        scrapers_requested: 12,
        scrapers_succeeded: 7,
        scrapers_failed: 2,
        scrapers_no_data: 1,
        scrapers_skipped: 2,
        error_message: Some(long_message),
        duration_ms: 192_957,
        params: r#"{"date":"2026-11-27","région":"Île-de-France"}"#.to_string(),
    };
    let without_message = NewWorkflowExecution {
        execution_id: tag.name("run-2"),
        status: WorkflowStatus::NoData,
        scrapers_requested: 0,
        scrapers_succeeded: 0,
        scrapers_failed: 0,
        scrapers_no_data: 0,
        scrapers_skipped: 0,
        error_message: None,
        duration_ms: 0,
        params: "{}".to_string(),
        ..with_message.clone()
    };
    for run in [&with_message, &without_message] {
        store
            .record_workflow_execution(run)
            .await
            .expect("record_workflow_execution");
        let stored = find_execution(store, &run.execution_id).await;
        assert_eq!(stored, expected_execution_row(run));
    }
}

/// Recording the same execution again (a rescue or a follow-up finishing
/// it) replaces its outcome in place and keeps its first start: one row,
/// whose duration runs from that first start.
pub async fn recording_an_execution_again_finishes_it_in_place(store: &dyn Store) {
    let tag = Tag::new();
    let first = sample_execution(&tag, "dup", ts("2026-03-01T10:00:00Z"));
    store
        .record_workflow_execution(&first)
        .await
        .expect("record_workflow_execution");
    let second = NewWorkflowExecution {
        execution_time: first.execution_time + TimeDelta::seconds(60),
        finished_at: first.finished_at + TimeDelta::seconds(60),
        status: WorkflowStatus::Failed,
        error_message: Some("second".to_string()),
        ..first.clone()
    };
    store
        .record_workflow_execution(&second)
        .await
        .expect("record_workflow_execution again");
    let expected = NewWorkflowExecution {
        execution_time: first.execution_time,
        duration_ms: 63_000,
        ..second.clone()
    };
    assert_eq!(
        find_execution(store, &first.execution_id).await,
        expected_execution_row(&expected)
    );
}

/// Workflow runs are listed newest started first and honour the limit.
pub async fn recent_workflow_executions_newest_first(store: &dyn Store) {
    let tag = Tag::new();
    let base = ts("2400-05-01T00:00:00Z");
    // Recorded out of time order; the last two differ by one millisecond.
    let offsets_ms = [5_000, 1_000, 9_000, 3_000, 9_001];
    let mut recorded = Vec::new();
    for (i, offset) in offsets_ms.iter().enumerate() {
        let run = sample_execution(
            &tag,
            &format!("recent{i}"),
            base + TimeDelta::milliseconds(*offset),
        );
        store
            .record_workflow_execution(&run)
            .await
            .expect("record_workflow_execution");
        recorded.push(expected_execution_row(&run));
    }
    let mut newest_first = recorded.clone();
    newest_first.sort_by_key(|row| std::cmp::Reverse(row.execution_time));

    let all = store
        .recent_workflow_executions(5)
        .await
        .expect("recent_workflow_executions");
    assert_eq!(all, newest_first);
    let three = store
        .recent_workflow_executions(3)
        .await
        .expect("recent_workflow_executions");
    assert_eq!(three, newest_first[..3].to_vec());
    let one = store
        .recent_workflow_executions(1)
        .await
        .expect("recent_workflow_executions");
    assert_eq!(one[0].execution_id, tag.name("recent4"));
    assert_eq!(one.len(), 1);
    let none = store
        .recent_workflow_executions(0)
        .await
        .expect("recent_workflow_executions");
    assert!(none.is_empty(), "limit 0 must return nothing: {none:?}");
}

/// The calls of a run are exactly that run's, in id (record) order even
/// when their start times run the other way.
pub async fn calls_for_execution_in_id_order(store: &dyn Store) {
    let tag = Tag::new();
    let exec_a = tag.name("exec-a");
    let exec_b = tag.name("exec-b");
    let base = ts("2026-05-05T05:05:05.505Z");
    let mut ids_a = Vec::new();
    let mut ids_b = Vec::new();
    for i in 0..6 {
        // Later records start earlier: the order must still be by id.
        let started = base - TimeDelta::seconds(i);
        let (exec, ids) = if i % 2 == 0 {
            (&exec_a, &mut ids_a)
        } else {
            (&exec_b, &mut ids_b)
        };
        let call = sample_call(&tag, &format!("s{i}"), Some(exec), started);
        ids.push(record(store, &call).await);
    }
    for (exec, ids) in [(&exec_a, &ids_a), (&exec_b, &ids_b)] {
        let rows = store
            .scraper_calls_for_execution(exec)
            .await
            .expect("scraper_calls_for_execution");
        let got: Vec<i64> = rows.iter().map(|row| row.id).collect();
        assert_eq!(&got, ids, "calls of {exec}");
        assert!(
            rows.iter()
                .all(|row| row.execution_id.as_deref() == Some(exec))
        );
    }
    let unknown = store
        .scraper_calls_for_execution(&tag.name("no-such-run"))
        .await
        .expect("scraper_calls_for_execution");
    assert!(unknown.is_empty());
}

/// `last_payload` returns the newest call of that scraper with exactly those
/// params that has both a hash and a URI; other params, other scrapers and
/// calls without a payload do not count.
pub async fn last_payload_picks_newest_matching_call(store: &dyn Store) {
    let tag = Tag::new();
    let scraper = tag.name("payloads");
    let other_scraper = tag.name("payloads_other");
    let p1 = r#"{"date":"2026-01-01","symbol":"ÄBC"}"#;
    let p2 = r#"{"date":"2026-01-02","symbol":"ÄBC"}"#;
    // Same JSON value as p1, different text: params are compared as text.
    let p1_spaced = r#"{"date": "2026-01-01", "symbol": "ÄBC"}"#;

    let lookup = |scraper: String, params: &'static str| async move {
        store
            .last_payload(&scraper, params)
            .await
            .expect("last_payload")
    };
    assert_eq!(lookup(scraper.clone(), p1).await, None);

    let base = ts("2026-01-03T00:00:00Z");
    let payload = |call: &mut NewScraperCall, hash: &str, uri: &str| {
        call.content_hash = Some(hash.to_string());
        call.output_uri = Some(uri.to_string());
    };
    let mut seq = 0;
    let mut next = |name: &str, params: &str| {
        seq += 1;
        let mut call = sample_call(&tag, "x", None, base + TimeDelta::minutes(seq));
        call.scraper_name = name.to_string();
        call.params = params.to_string();
        call.content_hash = None;
        call.output_uri = None;
        call
    };

    let mut a = next(&scraper, p1);
    payload(&mut a, "hash-a", "file:///a.json");
    record(store, &a).await;
    assert_eq!(
        lookup(scraper.clone(), p1).await,
        Some(payload_ref("hash-a", "file:///a.json"))
    );

    let mut b = next(&scraper, p2);
    payload(&mut b, "hash-b", "file:///b.json");
    record(store, &b).await;

    let mut c = next(&scraper, p1);
    c.status = ScraperStatus::NoData;
    payload(&mut c, "hash-c", "file:///c.json");
    record(store, &c).await;

    // Newer, same params, but no payload: must not hide c.
    let mut d = next(&scraper, p1);
    d.status = ScraperStatus::Failed;
    d.error_kind = Some(ErrorKind::Server);
    d.error_message = Some("HTTP 500".to_string());
    record(store, &d).await;

    // A hash without a URI is not a usable payload either.
    let mut e = next(&scraper, p1);
    e.content_hash = Some("hash-e".to_string());
    record(store, &e).await;

    // A URI without a hash neither.
    let mut f = next(&scraper, p1);
    f.output_uri = Some("file:///f.json".to_string());
    record(store, &f).await;

    let mut g = next(&other_scraper, p1);
    payload(&mut g, "hash-g", "file:///g.json");
    record(store, &g).await;

    assert_eq!(
        lookup(scraper.clone(), p1).await,
        Some(payload_ref("hash-c", "file:///c.json"))
    );
    assert_eq!(
        lookup(scraper.clone(), p2).await,
        Some(payload_ref("hash-b", "file:///b.json"))
    );
    assert_eq!(lookup(scraper.clone(), p1_spaced).await, None);
    assert_eq!(lookup(scraper.clone(), "{}").await, None);
    assert_eq!(
        lookup(other_scraper.clone(), p1).await,
        Some(payload_ref("hash-g", "file:///g.json"))
    );
    assert_eq!(lookup(tag.name("never_ran"), p1).await, None);

    // An unchanged call points at the payload it equals; it is the newest.
    let mut h = next(&scraper, p1);
    payload(&mut h, "hash-c", "file:///c.json");
    h.unchanged = true;
    record(store, &h).await;
    let mut i = next(&scraper, p1);
    payload(&mut i, "hash-i", "file:///i.json");
    record(store, &i).await;
    assert_eq!(
        lookup(scraper.clone(), p1).await,
        Some(payload_ref("hash-i", "file:///i.json"))
    );
}

/// Attempts are returned by attempt number, whatever order they were given
/// in; a call without attempts and an unknown call have none.
pub async fn attempts_come_back_in_attempt_order(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("2026-08-08T08:08:08.808Z");
    let mut call = sample_call(&tag, "ordered", Some(&tag.name("exec")), t0);
    let attempt = |n: u32, outcome: AttemptOutcome, kind: Option<ErrorKind>| NewAttempt {
        attempt: n,
        page: 1,
        proxy: None,
        started_at: t0 + TimeDelta::seconds(i64::from(n)),
        finished_at: t0 + TimeDelta::seconds(i64::from(n)) + TimeDelta::milliseconds(250),
        http_status: kind.map(|_| 500),
        outcome,
        error_kind: kind,
        error_message: kind.map(|k| format!("attempt {n}: {}", k.as_str())),
        delay_before_ms: if n == 1 { 0 } else { 750 },
    };
    call.attempts = 4;
    call.attempt_rows = vec![
        attempt(3, AttemptOutcome::Retryable, Some(ErrorKind::Server)),
        attempt(1, AttemptOutcome::Retryable, Some(ErrorKind::Throttled)),
        attempt(4, AttemptOutcome::Success, None),
        attempt(2, AttemptOutcome::Retryable, Some(ErrorKind::Connect)),
    ];
    let id = record(store, &call).await;
    let rows = store
        .attempts_for_call(id)
        .await
        .expect("attempts_for_call");
    let numbers: Vec<i64> = rows.iter().map(|row| row.attempt).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4]);
    assert_eq!(rows, expected_attempt_rows(id, &call));

    let mut skipped = sample_call(&tag, "skipped", Some(&tag.name("exec")), t0);
    skipped.status = ScraperStatus::Skipped;
    skipped.attempts = 0;
    skipped.attempt_rows.clear();
    let skipped_id = record(store, &skipped).await;
    let none = store
        .attempts_for_call(skipped_id)
        .await
        .expect("attempts_for_call");
    assert!(none.is_empty());
    let unknown = store
        .attempts_for_call(skipped_id + 1_000_000)
        .await
        .expect("attempts_for_call");
    assert!(unknown.is_empty());
}

/// A call whose attempts cannot be stored (two attempts numbered 1) fails
/// as a whole: no call row is left behind without its attempts.
pub async fn failed_write_leaves_nothing_behind(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let mut bad = sample_call(&tag, "bad", Some(&exec), ts("2026-04-04T04:04:04Z"));
    let first = bad.attempt_rows[0].clone();
    bad.attempt_rows.push(first);
    bad.attempts = 2;
    let result = store.record_scraper_call(&bad).await;
    assert!(
        matches!(result, Err(StoreError::Query(_))),
        "duplicate attempt numbers must fail as a query error, got {result:?}"
    );
    let rows = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    assert!(rows.is_empty(), "a half-written call was left: {rows:?}");

    // The store is still usable afterwards.
    let good = sample_call(&tag, "good", Some(&exec), ts("2026-04-04T04:04:05Z"));
    let id = record(store, &good).await;
    let rows = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    assert_eq!(rows, vec![expected_call_row(id, &good)]);
}

/// 64 calls recorded at once all land, each under its own id, each id
/// pointing at the right call and its own attempts.
pub async fn concurrent_calls_land_with_distinct_ids(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let calls: Vec<NewScraperCall> = (0..64)
        .map(|i| {
            let mut call = sample_call(
                &tag,
                &format!("c{i:02}"),
                Some(&exec),
                ts("2026-09-09T09:09:09.009Z") + TimeDelta::milliseconds(i),
            );
            call.params = format!(r#"{{"i":{i}}}"#);
            call.attempts = 2;
            call.attempt_rows = vec![
                NewAttempt {
                    outcome: AttemptOutcome::Retryable,
                    error_kind: Some(ErrorKind::Throttled),
                    http_status: Some(429),
                    error_message: Some(format!("throttled {i}")),
                    ..call.attempt_rows[0].clone()
                },
                NewAttempt {
                    attempt: 2,
                    page: 1,
                    delay_before_ms: i,
                    ..call.attempt_rows[0].clone()
                },
            ];
            call
        })
        .collect();

    let results =
        futures::future::join_all(calls.iter().map(|call| store.record_scraper_call(call))).await;
    let ids: Vec<i64> = results
        .into_iter()
        .map(|r| r.expect("record_scraper_call"))
        .collect();
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 64, "ids must be distinct: {ids:?}");

    let rows = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    let mut expected: Vec<ScraperCallRow> = ids
        .iter()
        .zip(&calls)
        .map(|(id, call)| expected_call_row(*id, call))
        .collect();
    expected.sort_by_key(|row| row.id);
    assert_eq!(rows, expected);

    for (id, call) in ids.iter().zip(&calls) {
        let attempts = store
            .attempts_for_call(*id)
            .await
            .expect("attempts_for_call");
        assert_eq!(attempts, expected_attempt_rows(*id, call), "call {id}");
    }
}

/// One call that cannot be stored, recorded among many good ones at once,
/// fails alone: the others land and the bad one leaves nothing.
pub async fn bad_call_does_not_sink_concurrent_ones(store: &dyn Store) {
    let tag = Tag::new();
    let exec = tag.name("exec");
    let t0 = ts("2026-10-10T10:10:10.010Z");
    let mut calls: Vec<NewScraperCall> = (0..32)
        .map(|i| sample_call(&tag, &format!("ok{i:02}"), Some(&exec), t0))
        .collect();
    let mut bad = sample_call(&tag, "bad", Some(&exec), t0);
    bad.attempt_rows.push(bad.attempt_rows[0].clone());
    calls.insert(16, bad);

    let results =
        futures::future::join_all(calls.iter().map(|call| store.record_scraper_call(call))).await;
    let mut landed = Vec::new();
    for (i, (result, call)) in results.into_iter().zip(&calls).enumerate() {
        match (i, result) {
            (16, Ok(id)) => panic!("the bad call was stored as {id}"),
            (16, Err(_)) => {}
            (_, Ok(id)) => landed.push(expected_call_row(id, call)),
            (_, Err(e)) => panic!("good call {i} failed: {e}"),
        }
    }
    landed.sort_by_key(|row| row.id);
    let rows = store
        .scraper_calls_for_execution(&exec)
        .await
        .expect("scraper_calls_for_execution");
    assert_eq!(rows, landed);
}

// ---------------------------------------------------------------------------
// Fixtures shared with `queries`.

/// A unique prefix for the names one check writes, so checks can share a
/// store (and be run twice) without seeing each other's rows.
struct Tag(String);

impl Tag {
    #[allow(clippy::disallowed_methods)] // a unique name for a test database, not a time under test
    fn new() -> Tag {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Tag(format!("t{nanos:x}{n:x}"))
    }

    fn name(&self, what: &str) -> String {
        format!("{}_{what}", self.0)
    }
}

/// Parses an RFC 3339 time; fixtures only, so a typo panics.
pub fn ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad fixture time {text:?}: {e}"))
        .with_timezone(&Utc)
}

/// Parses a `YYYY-MM-DD` date; fixtures only, so a typo panics.
pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("bad fixture date {text:?}: {e}"))
}

/// A successful one-attempt call; checks change what they test.
/// A successful call of `scraper` (named as given) at `started_at`, with
/// one attempt and a payload: a history row for tests outside this suite.
pub fn sample_scraper_call(scraper: &str, started_at: DateTime<Utc>) -> NewScraperCall {
    let mut call = sample_call(&Tag::new(), scraper, None, started_at);
    call.scraper_name = scraper.to_string();
    call
}

fn sample_call(
    tag: &Tag,
    scraper: &str,
    execution_id: Option<&str>,
    started_at: DateTime<Utc>,
) -> NewScraperCall {
    let finished_at = started_at + TimeDelta::milliseconds(120);
    NewScraperCall {
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
        execution_id: execution_id.map(str::to_string),
        workflow_name: execution_id.map(|_| tag.name("wf")),
        scraper_name: tag.name(scraper),
        source_name: "sim".to_string(),
        params: r#"{"date":"2026-01-01"}"#.to_string(),
        target_date: date("2026-01-01"),
        status: ScraperStatus::Success,
        attempts: 1,
        http_status: Some(200),
        error_kind: None,
        error_message: None,
        started_at,
        finished_at,
        duration_ms: 120,
        bytes: Some(2_048),
        output_uri: Some(format!("file:///raw/{}.json", tag.name(scraper))),
        content_hash: Some(format!("hash-{}", tag.name(scraper))),
        unchanged: false,
        pages: None,
        record_count: None,
        attempt_rows: vec![NewAttempt {
            attempt: 1,
            page: 1,
            proxy: None,
            started_at,
            finished_at,
            http_status: Some(200),
            outcome: AttemptOutcome::Success,
            error_kind: None,
            error_message: None,
            delay_before_ms: 0,
        }],
    }
}

fn sample_execution(tag: &Tag, name: &str, start: DateTime<Utc>) -> NewWorkflowExecution {
    NewWorkflowExecution {
        execution_id: tag.name(name),
        workflow_name: tag.name("wf"),
        target_date: start.date_naive(),
        execution_time: start,
        finished_at: start + TimeDelta::seconds(3),
        status: WorkflowStatus::Success,
        scrapers_requested: 2,
        scrapers_succeeded: 2,
        scrapers_failed: 0,
        scrapers_no_data: 0,
        scrapers_skipped: 0,
        error_message: None,
        duration_ms: 3_000,
        params: "{}".to_string(),
    }
}

async fn record(store: &dyn Store, call: &NewScraperCall) -> i64 {
    store
        .record_scraper_call(call)
        .await
        .unwrap_or_else(|e| panic!("record_scraper_call({}): {e}", call.scraper_name))
}

async fn find_execution(store: &dyn Store, execution_id: &str) -> WorkflowExecutionRow {
    let all = store
        .recent_workflow_executions(u32::MAX)
        .await
        .expect("recent_workflow_executions");
    let mut found: Vec<WorkflowExecutionRow> = all
        .into_iter()
        .filter(|row| row.execution_id == execution_id)
        .collect();
    assert_eq!(found.len(), 1, "runs stored as {execution_id}");
    found.remove(0)
}

fn payload_ref(hash: &str, uri: &str) -> PayloadRef {
    PayloadRef {
        content_hash: hash.to_string(),
        output_uri: uri.to_string(),
    }
}

/// What a backend must read back for `call` stored under `id`.
fn expected_call_row(id: i64, call: &NewScraperCall) -> ScraperCallRow {
    ScraperCallRow {
        id,
        execution_id: call.execution_id.clone(),
        workflow_name: call.workflow_name.clone(),
        scraper_name: call.scraper_name.clone(),
        source_name: call.source_name.clone(),
        params: call.params.clone(),
        target_date: call.target_date,
        status: call.status.as_str().to_string(),
        attempts: i64::from(call.attempts),
        http_status: call.http_status.map(i64::from),
        error_kind: call.error_kind.map(|k| k.as_str().to_string()),
        error_message: call.error_message.clone(),
        started_at: call.started_at.trunc_subsecs(3),
        finished_at: call.finished_at.trunc_subsecs(3),
        duration_ms: call.duration_ms,
        bytes: call.bytes,
        output_uri: call.output_uri.clone(),
        content_hash: call.content_hash.clone(),
        unchanged: call.unchanged,
        pages: call.pages.map(i64::from),
        record_count: call.record_count,
    }
}

/// The attempts a backend must read back for `call` stored under `id`.
fn expected_attempt_rows(id: i64, call: &NewScraperCall) -> Vec<AttemptRow> {
    let mut rows: Vec<AttemptRow> = call
        .attempt_rows
        .iter()
        .map(|a| AttemptRow {
            scraper_execution_id: id,
            attempt: i64::from(a.attempt),
            page: i64::from(a.page),
            proxy: a.proxy,
            started_at: a.started_at.trunc_subsecs(3),
            finished_at: a.finished_at.trunc_subsecs(3),
            http_status: a.http_status.map(i64::from),
            outcome: a.outcome.as_str().to_string(),
            error_kind: a.error_kind.map(|k| k.as_str().to_string()),
            error_message: a.error_message.clone(),
            delay_before_ms: a.delay_before_ms,
        })
        .collect();
    rows.sort_by_key(|row| row.attempt);
    rows
}

fn expected_execution_row(run: &NewWorkflowExecution) -> WorkflowExecutionRow {
    WorkflowExecutionRow {
        execution_id: run.execution_id.clone(),
        workflow_name: run.workflow_name.clone(),
        target_date: run.target_date,
        execution_time: run.execution_time.trunc_subsecs(3),
        finished_at: run.finished_at.trunc_subsecs(3),
        status: run.status.as_str().to_string(),
        scrapers_requested: i64::from(run.scrapers_requested),
        scrapers_succeeded: i64::from(run.scrapers_succeeded),
        scrapers_failed: i64::from(run.scrapers_failed),
        scrapers_no_data: i64::from(run.scrapers_no_data),
        scrapers_skipped: i64::from(run.scrapers_skipped),
        error_message: run.error_message.clone(),
        duration_ms: run.duration_ms,
        error_kind: None,
    }
}
