//! Group commit: the one task that writes scraper calls.
//!
//! The engine records every scraper call as it finishes, dozens at a time,
//! and SQLite takes one writer at a time. Two costs dominate a naive "one
//! transaction per call": the commit (a WAL append of every page touched:
//! the table, its indexes, the sequence row) and the hop to sqlx's SQLite
//! worker thread for every statement (about as long as the insert itself).
//! So callers hand their call to this single task over a channel; the task
//! takes whatever has queued up (up to [`MAX_BATCH`]) and writes it all in
//! one `BEGIN IMMEDIATE` transaction of at most five statements, however
//! many calls and attempts there are:
//!
//! 1. `BEGIN IMMEDIATE`, which takes the write lock;
//! 2. read the last id handed out; holding the lock, nobody (not even
//!    another process) can take the next ones, so the batch's calls get
//!    `last + 1 ..= last + n`, in queue order;
//! 3. insert every call from one JSON array parameter (`json_each`), with
//!    its id given explicitly, and every attempt likewise, referencing those
//!    ids: one statement text each, so sqlx prepares them once; the calls'
//!    completion events (the hand-off outbox) likewise, so a call and its
//!    event commit together or not at all;
//! 4. `COMMIT`.
//!
//! Only after the commit is each caller answered with its id, so a call is
//! committed before `record_scraper_call` returns, exactly as with one
//! transaction per call; and a lone call is not delayed, because the task
//! never waits for a batch to fill.
//!
//! If a batch breaks a constraint, no caller can be told which call was at
//! fault, so the task writes the batch's calls again one transaction each:
//! the bad call gets its own error and the others still land. Any other
//! failure (database locked for longer than the busy timeout, disk full,
//! I/O) would hit each call alike, so every caller gets it at once.

use crate::codec::{encode_date, encode_time, store_error};
use rebound_storage::{NewCompletionEvent, NewScraperCall, StoreError};
use sqlx::SqlitePool;
use std::fmt::Write as _;
use tokio::sync::{mpsc, oneshot};

/// Calls written in one transaction at most: large enough to absorb the
/// engine's concurrency, small enough that the write lock is never held
/// for long.
const MAX_BATCH: usize = 256;

/// Calls waiting for the writer; a full queue makes callers wait, which
/// is the back-pressure we want.
const QUEUE: usize = 1024;

/// The highest id ever handed out. `sqlite_sequence` remembers ids of
/// deleted rows too (that is what AUTOINCREMENT promises); `MAX(id)` covers
/// a database whose sequence row was tampered with.
pub(crate) const LAST_ID: &str = "SELECT MAX(\
        COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'scraper_execution_log'), 0), \
        COALESCE((SELECT MAX(id) FROM scraper_execution_log), 0))";

/// `v ->> N` is element N of one call's JSON array, as SQL text, integer or
/// NULL. The order must match [`EncodedCall::new`]. Each row is converted
/// to binary JSON once, in a materialized CTE: read straight from
/// `json_each`, `value` would be re-rendered and re-parsed for each of the
/// 21 lookups, which profiling showed as the writer's largest cost.
pub(crate) const INSERT_CALLS: &str = "WITH rows (v) AS MATERIALIZED (SELECT jsonb(value) FROM json_each(?1)) \
    INSERT INTO scraper_execution_log (\
        id, execution_id, workflow_name, scraper_name, source_name, params, \
        target_date, status, attempts, http_status, error_kind, \
        error_message, started_at, finished_at, duration_ms, bytes, \
        output_uri, content_hash, unchanged, pages, record_count, etag, last_modified) \
    SELECT v ->> 0, v ->> 1, v ->> 2, v ->> 3, v ->> 4, v ->> 5, v ->> 6, v ->> 7, \
        v ->> 8, v ->> 9, v ->> 10, v ->> 11, v ->> 12, v ->> 13, v ->> 14, v ->> 15, \
        v ->> 16, v ->> 17, v ->> 18, v ->> 19, v ->> 20, v ->> 21, v ->> 22 \
    FROM rows";

/// Same scheme as [`INSERT_CALLS`]; the order must match
/// [`EncodedCall::new`].
pub(crate) const INSERT_ATTEMPTS: &str = "WITH rows (v) AS MATERIALIZED (SELECT jsonb(value) FROM json_each(?1)) \
    INSERT INTO scraper_attempts (\
        scraper_execution_id, attempt, started_at, finished_at, http_status, \
        outcome, error_kind, error_message, delay_before_ms, page, proxy) \
    SELECT v ->> 0, v ->> 1, v ->> 2, v ->> 3, v ->> 4, v ->> 5, v ->> 6, v ->> 7, v ->> 8, \
        v ->> 9, v ->> 10 \
    FROM rows";

/// Same scheme as [`INSERT_CALLS`]: a call's completion event, with
/// `next_attempt_at` starting at its creation (due at once).
pub(crate) const INSERT_EVENTS: &str = "WITH rows (v) AS MATERIALIZED (SELECT jsonb(value) FROM json_each(?1)) \
    INSERT INTO completion_events (\
        scraper_execution_id, event_id, created_at, dataset, status, payload, next_attempt_at) \
    SELECT v ->> 0, v ->> 1, v ->> 2, v ->> 3, v ->> 4, v ->> 5, v ->> 2 \
    FROM rows";

/// Same scheme as [`INSERT_CALLS`], for `call_outputs` (only calls with
/// more than one output have rows, so most batches skip it).
pub(crate) const INSERT_OUTPUTS: &str = "WITH rows (v) AS MATERIALIZED (SELECT jsonb(value) FROM json_each(?1)) \
    INSERT INTO call_outputs (\
        execution_log_id, position, role, uri, content_hash, bytes, content_type) \
    SELECT v ->> 0, v ->> 1, v ->> 2, v ->> 3, v ->> 4, v ->> 5, v ->> 6 \
    FROM rows";

/// A call already turned into JSON rows, done in the caller's task so the
/// single writer only stitches text together. Each row is a JSON array
/// without its first element (the call id, known only inside the
/// transaction) and without its opening bracket: `"exec-1","wf",...]`.
pub(crate) struct EncodedCall {
    pub(crate) call_tail: String,
    pub(crate) attempt_tails: Vec<String>,
    pub(crate) output_tails: Vec<String>,
    /// The call's completion event, when it has one.
    pub(crate) event_tail: Option<String>,
}

impl EncodedCall {
    pub(crate) fn new(call: &NewScraperCall) -> EncodedCall {
        EncodedCall::with_event(call, None)
    }

    /// A call and, when given, its completion event.
    pub(crate) fn with_event(
        call: &NewScraperCall,
        event: Option<&NewCompletionEvent>,
    ) -> EncodedCall {
        // Written straight into text: building a `serde_json::Value` first
        // cost an allocation per field, on the engine's hot path.
        let mut row = Row::with_capacity(320);
        row.opt_str(call.execution_id.as_deref());
        row.opt_str(call.workflow_name.as_deref());
        row.str(&call.scraper_name);
        row.str(&call.source_name);
        row.str(&call.params);
        row.str(&encode_date(call.target_date));
        row.str(call.status.as_str());
        row.int(call.attempts);
        row.opt_int(call.http_status);
        row.opt_str(call.error_kind.map(|k| k.as_str()));
        row.opt_str(call.error_message.as_deref());
        row.str(&encode_time(call.started_at));
        row.str(&encode_time(call.finished_at));
        row.int(call.duration_ms);
        row.opt_int(call.bytes);
        row.opt_str(call.output_uri.as_deref());
        row.opt_str(call.content_hash.as_deref());
        row.int(i64::from(call.unchanged));
        row.opt_int(call.pages);
        row.opt_int(call.record_count);
        row.opt_str(call.etag.as_deref());
        row.opt_str(call.last_modified.as_deref());
        let output_tails = call
            .outputs
            .iter()
            .enumerate()
            .map(|(n, o)| {
                let mut row = Row::with_capacity(160);
                row.int(n + 1);
                row.str(o.role.as_str());
                row.str(&o.uri);
                row.str(&o.content_hash);
                row.int(o.bytes);
                row.opt_str(o.content_type.as_deref());
                row.tail()
            })
            .collect();
        let attempt_tails = call
            .attempt_rows
            .iter()
            .map(|a| {
                let mut row = Row::with_capacity(128);
                row.int(a.attempt);
                row.str(&encode_time(a.started_at));
                row.str(&encode_time(a.finished_at));
                row.opt_int(a.http_status);
                row.str(a.outcome.as_str());
                row.opt_str(a.error_kind.map(|k| k.as_str()));
                row.opt_str(a.error_message.as_deref());
                row.int(a.delay_before_ms);
                row.int(a.page);
                row.opt_int(a.proxy);
                row.tail()
            })
            .collect();
        let event_tail = event.map(|e| {
            let mut row = Row::with_capacity(64 + e.payload.len());
            row.str(&e.event_id);
            row.str(&encode_time(e.created_at));
            row.str(&e.dataset);
            row.str(&e.status);
            row.str(&e.payload);
            row.tail()
        });
        EncodedCall {
            call_tail: row.tail(),
            attempt_tails,
            output_tails,
            event_tail,
        }
    }
}

/// The tail of a JSON array (`a,b]`), one value at a time.
pub(crate) struct Row(String);

impl Row {
    pub(crate) fn with_capacity(capacity: usize) -> Row {
        Row(String::with_capacity(capacity))
    }

    fn separate(&mut self) {
        if !self.0.is_empty() {
            self.0.push(',');
        }
    }

    pub(crate) fn str(&mut self, value: &str) {
        self.separate();
        push_json_string(&mut self.0, value);
    }

    pub(crate) fn opt_str(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.str(value),
            None => self.null(),
        }
    }

    pub(crate) fn int(&mut self, value: impl std::fmt::Display) {
        self.separate();
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{value}");
    }

    pub(crate) fn opt_int(&mut self, value: Option<impl std::fmt::Display>) {
        match value {
            Some(value) => self.int(value),
            None => self.null(),
        }
    }

    fn null(&mut self) {
        self.separate();
        self.0.push_str("null");
    }

    pub(crate) fn tail(mut self) -> String {
        self.0.push(']');
        self.0
    }
}

/// `text` as a JSON string, escaped as `serde_json` escapes it.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut plain = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[plain..at]);
        if escape.is_empty() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        plain = at + 1;
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

/// A call waiting to be written, with where to send its id.
pub(crate) struct Pending {
    pub(crate) call: EncodedCall,
    pub(crate) ack: oneshot::Sender<Result<i64, StoreError>>,
}

/// Starts the writer on the current Tokio runtime. It ends once every
/// sender is dropped and the queue is drained, i.e. with the store.
pub(crate) fn spawn(pool: SqlitePool) -> mpsc::Sender<Pending> {
    let (sender, receiver) = mpsc::channel(QUEUE);
    tokio::spawn(run(pool, receiver));
    sender
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write_batch(&pool, &batch).await;
        match result {
            Ok(first_id) => {
                for (pending, id) in batch.drain(..).zip(first_id..) {
                    // A caller that gave up waiting is no error: its call
                    // is stored all the same.
                    let _ = pending.ack.send(Ok(id));
                }
            }
            Err(error) if batch.len() == 1 || !caused_by_one_call(&error) => {
                // A busy or broken database fails every call alike; trying
                // them one by one would only wait out the busy timeout
                // once per call.
                let error = store_error("record_scraper_call", error);
                for pending in batch.drain(..) {
                    let _ = pending.ack.send(Err(same_error(&error)));
                }
            }
            Err(_) => {
                for pending in batch.drain(..) {
                    let result = write_batch(&pool, std::slice::from_ref(&pending))
                        .await
                        .map_err(|e| store_error("record_scraper_call", e));
                    let _ = pending.ack.send(result);
                }
            }
        }
    }
}

/// Whether a failed batch may have failed for one bad call (a constraint
/// that call's rows broke), so that writing the others alone would work.
fn caused_by_one_call(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| !matches!(e.kind(), sqlx::error::ErrorKind::Other))
}

/// `StoreError` is not `Clone`; every caller of a failed batch gets an
/// equal copy.
pub(crate) fn same_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Migration(m) => StoreError::Migration(m.clone()),
        StoreError::Query(m) => StoreError::Query(m.clone()),
    }
}

/// Writes every call of `batch` in one transaction; returns the id of the
/// first, the others following in order.
async fn write_batch(pool: &SqlitePool, batch: &[Pending]) -> Result<i64, sqlx::Error> {
    // IMMEDIATE takes the write lock up front, where busy_timeout applies;
    // a deferred transaction upgrading to a write would fail at once with
    // SQLITE_BUSY if another process were writing. Holding the lock is
    // also what makes the ids read below ours to hand out.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let last_id: i64 = sqlx::query_scalar(LAST_ID).fetch_one(&mut *tx).await?;
    let first_id = last_id + 1;

    let mut calls = String::with_capacity(batch.len() * 512);
    let mut attempts = String::with_capacity(batch.len() * 512);
    let mut outputs = String::from("[");
    let mut events = String::new();
    calls.push('[');
    attempts.push('[');
    events.push('[');
    for (pending, id) in batch.iter().zip(first_id..) {
        let call = &pending.call;
        if calls.len() > 1 {
            calls.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(calls, "[{id},{}", call.call_tail);
        for attempt in &call.attempt_tails {
            if attempts.len() > 1 {
                attempts.push(',');
            }
            let _ = write!(attempts, "[{id},{attempt}");
        }
        for output in &call.output_tails {
            if outputs.len() > 1 {
                outputs.push(',');
            }
            let _ = write!(outputs, "[{id},{output}");
        }
        if let Some(event) = &call.event_tail {
            if events.len() > 1 {
                events.push(',');
            }
            let _ = write!(events, "[{id},{event}");
        }
    }
    outputs.push(']');
    calls.push(']');
    attempts.push(']');
    events.push(']');

    sqlx::query(INSERT_CALLS)
        .bind(calls)
        .execute(&mut *tx)
        .await?;
    if attempts.len() > 2 {
        sqlx::query(INSERT_ATTEMPTS)
            .bind(attempts)
            .execute(&mut *tx)
            .await?;
    }
    if outputs.len() > 2 {
        sqlx::query(INSERT_OUTPUTS)
            .bind(outputs)
            .execute(&mut *tx)
            .await?;
    }
    if events.len() > 2 {
        sqlx::query(INSERT_EVENTS)
            .bind(events)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(first_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate, Utc};
    use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
    use rebound_storage::NewAttempt;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "",
            "plain",
            "q\"b\\s/",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "é ✓ 𝄞",
            "mixed \"\u{1}é\n",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn rows_are_json_arrays_missing_their_id() {
        let t = DateTime::parse_from_rfc3339("2026-11-28T15:04:05.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let call = NewScraperCall {
            execution_id: None,
            workflow_name: Some("wf".into()),
            scraper_name: "s\"q".into(),
            source_name: "src".into(),
            params: r#"{"a":1}"#.into(),
            target_date: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            status: ScraperStatus::Failed,
            attempts: 1,
            http_status: Some(500),
            error_kind: Some(ErrorKind::Server),
            error_message: Some("é".into()),
            started_at: t,
            finished_at: t,
            duration_ms: 7,
            bytes: None,
            output_uri: None,
            content_hash: None,
            unchanged: true,
            pages: Some(2),
            record_count: None,
            etag: Some("\"v1\"".into()),
            last_modified: None,
            outputs: Vec::new(),
            attempt_rows: vec![NewAttempt {
                attempt: 1,
                page: 2,
                proxy: Some(3),
                started_at: t,
                finished_at: t,
                http_status: None,
                outcome: AttemptOutcome::Retryable,
                error_kind: Some(ErrorKind::Server),
                error_message: None,
                delay_before_ms: 0,
            }],
        };
        let encoded = EncodedCall::new(&call);
        assert_eq!(
            encoded.call_tail,
            r#"null,"wf","s\"q","src","{\"a\":1}","2026-01-02","failed",1,500,"server","é","2026-11-28T15:04:05.123Z","2026-11-28T15:04:05.123Z",7,null,null,null,1,2,null,"\"v1\"",null]"#
        );
        assert_eq!(
            encoded.attempt_tails,
            vec![
                r#"1,"2026-11-28T15:04:05.123Z","2026-11-28T15:04:05.123Z",null,"retryable","server",null,0,2,3]"#
            ]
        );
    }
}
