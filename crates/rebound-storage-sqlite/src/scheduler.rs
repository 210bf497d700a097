//! The scheduler's tables (`workflow_decisions`, `scheduled_runs`) and the
//! facts it reads from the history, SQLite dialect.
//!
//! Every write here is one `BEGIN IMMEDIATE` transaction on the store's
//! single writer connection. That connection is the whole of this process's
//! write path (the group-commit task uses it too), so two claims from this
//! process cannot even overlap; and `IMMEDIATE` takes SQLite's write lock
//! before the first read, so a claim in another process waits (busy
//! timeout) instead of reading the same queued row. That is why one
//! `UPDATE … WHERE run_id = (SELECT … LIMIT 1)` can never hand one run to
//! two callers, without any row locking SQLite does not have.
//!
//! Lists of scraper names are bound as one JSON array and expanded with
//! `json_each`, since SQLite has no array parameters.

use crate::codec::{
    begin_immediate, column, date_column, encode_date, encode_time, opt_time_column, store_error,
    time_column,
};
use chrono::{DateTime, NaiveDate, Utc};
use rebound_storage::{
    CollectedAsk, DecisionAction, DecisionOutcome, DecisionRow, LatestPayload, NewDecision,
    NewScheduledRun, ScheduledRunRow, SlotRow, StoreError,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::time::Duration;

macro_rules! run_columns {
    () => {
        "run_id, workflow_name, target_date, slot, params, entities, state, run_at, \
         scheduled_for, execution_id, decision_id, created_at, claims, lease_owner, \
         lease_expires_at, started_at, finished_at, result_status, last_error"
    };
}

macro_rules! decision_columns {
    () => {
        "decision_id, workflow_name, decided_at, slot, target_date, action, reason, entities, \
         alert_level, execution_id, decided_by"
    };
}

/// Inserts `run` unless its slot exists; true when it was inserted.
async fn insert_run(
    tx: &mut Transaction<'static, Sqlite>,
    run: &NewScheduledRun,
    what: &'static str,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO scheduled_runs (run_id, workflow_name, target_date, slot, params, \
            entities, state, run_at, scheduled_for, execution_id, decision_id, created_at, \
            claims) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10, ?11, 0) \
         ON CONFLICT (workflow_name, target_date, slot) DO NOTHING",
    )
    .bind(run.run_id.as_str())
    .bind(run.workflow_name.as_str())
    .bind(encode_date(run.target_date))
    .bind(run.slot.as_str())
    .bind(run.params.as_str())
    .bind(run.entities.as_str())
    .bind(encode_time(run.run_at))
    .bind(encode_time(run.scheduled_for))
    .bind(run.execution_id.as_str())
    .bind(run.decision_id.as_deref())
    .bind(encode_time(run.created_at))
    .execute(&mut **tx)
    .await
    .map_err(|e| store_error(what, e))?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn record_decision(
    writer: &SqlitePool,
    decision: &NewDecision,
    run: Option<&NewScheduledRun>,
) -> Result<DecisionOutcome, StoreError> {
    const WHAT: &str = "record_decision";
    let mut tx = begin_immediate(writer, WHAT).await?;
    let (action, reason, execution_id, queued) = match run {
        None => (
            decision.action,
            decision.reason.clone(),
            decision.execution_id.clone(),
            false,
        ),
        Some(run) => {
            if insert_run(&mut tx, run, WHAT).await? {
                (
                    decision.action,
                    decision.reason.clone(),
                    Some(run.execution_id.clone()),
                    true,
                )
            } else {
                // Same transaction, write lock held: the holder cannot
                // change between the failed insert and this read.
                let holder: String = sqlx::query_scalar(
                    "SELECT execution_id FROM scheduled_runs \
                     WHERE workflow_name = ?1 AND target_date = ?2 AND slot = ?3",
                )
                .bind(run.workflow_name.as_str())
                .bind(encode_date(run.target_date))
                .bind(run.slot.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| store_error(WHAT, e))?;
                (
                    DecisionAction::Skip,
                    rebound_storage::claimed_reason(&run.slot, run.target_date, &holder),
                    None,
                    false,
                )
            }
        }
    };
    sqlx::query(
        "INSERT INTO workflow_decisions (decision_id, workflow_name, decided_at, slot, \
            target_date, action, reason, entities, alert_level, execution_id, decided_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(decision.decision_id.as_str())
    .bind(decision.workflow_name.as_str())
    .bind(encode_time(decision.decided_at))
    .bind(decision.slot.as_str())
    .bind(encode_date(decision.target_date))
    .bind(action.as_str())
    .bind(reason.as_str())
    .bind(decision.entities.as_str())
    .bind(decision.alert_level.as_str())
    .bind(execution_id.as_deref())
    .bind(decision.decided_by.as_str())
    .execute(&mut *tx)
    .await
    .map_err(|e| store_error(WHAT, e))?;
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(DecisionOutcome {
        action,
        reason,
        queued,
    })
}

pub(crate) async fn decisions_since(
    readers: &SqlitePool,
    workflow: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Vec<DecisionRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        decision_columns!(),
        " FROM workflow_decisions \
          WHERE decided_at >= ?1 AND (?2 IS NULL OR workflow_name = ?2) \
          ORDER BY decided_at, decision_id",
    );
    sqlx::query(SQL)
        .bind(encode_time(since))
        .bind(workflow)
        .fetch_all(readers)
        .await
        .map_err(|e| store_error("decisions_since", e))?
        .iter()
        .map(decision_row)
        .collect()
}

pub(crate) async fn decisions_between(
    readers: &SqlitePool,
    workflow: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DecisionRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        decision_columns!(),
        " FROM workflow_decisions \
          WHERE decided_at >= ?1 AND decided_at < ?2 AND (?3 IS NULL OR workflow_name = ?3) \
          ORDER BY decided_at, decision_id",
    );
    sqlx::query(SQL)
        .bind(encode_time(from))
        .bind(encode_time(to))
        .bind(workflow)
        .fetch_all(readers)
        .await
        .map_err(|e| store_error("decisions_between", e))?
        .iter()
        .map(decision_row)
        .collect()
}

pub(crate) async fn slot_history(
    readers: &SqlitePool,
    workflow: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SlotRow>, StoreError> {
    // Every slot key with a decision or a run, then the newest decision time
    // and the run (at most one per slot: the key is unique) beside it.
    sqlx::query(
        "WITH d AS ( \
            SELECT target_date, slot, MAX(decided_at) AS decided_at \
            FROM workflow_decisions \
            WHERE workflow_name = ?1 AND target_date BETWEEN ?2 AND ?3 \
            GROUP BY target_date, slot \
         ), r AS ( \
            SELECT target_date, slot, state, created_at, execution_id, result_status, \
                finished_at \
            FROM scheduled_runs \
            WHERE workflow_name = ?1 AND target_date BETWEEN ?2 AND ?3 \
         ), k AS ( \
            SELECT target_date, slot FROM d UNION SELECT target_date, slot FROM r \
         ) \
         SELECT k.target_date, k.slot, d.decided_at, r.state AS run_state, \
            r.created_at AS run_created_at, r.execution_id, r.result_status, \
            r.finished_at AS run_finished_at \
         FROM k \
         LEFT JOIN d ON d.target_date = k.target_date AND d.slot = k.slot \
         LEFT JOIN r ON r.target_date = k.target_date AND r.slot = k.slot \
         ORDER BY k.target_date, k.slot",
    )
    .bind(workflow)
    .bind(encode_date(from))
    .bind(encode_date(to))
    .fetch_all(readers)
    .await
    .map_err(|e| store_error("slot_history", e))?
    .iter()
    .map(slot_row)
    .collect()
}

pub(crate) async fn slot_facts(
    readers: &SqlitePool,
    workflow: &str,
    keys: &[(NaiveDate, String)],
) -> Result<Vec<SlotRow>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|(date, slot)| serde_json::json!([encode_date(*date), slot]))
        .collect();
    // Each key is an index seek into the decisions' slot index and the
    // runs' unique key; keys with neither are left out, as slot_history
    // has no row for them.
    sqlx::query(
        "WITH k AS MATERIALIZED ( \
            SELECT DISTINCT value ->> 0 AS target_date, value ->> 1 AS slot \
            FROM json_each(?2) \
         ), d AS ( \
            SELECT k.target_date, k.slot, MAX(w.decided_at) AS decided_at \
            FROM k JOIN workflow_decisions AS w \
              ON w.workflow_name = ?1 AND w.target_date = k.target_date AND w.slot = k.slot \
            GROUP BY k.target_date, k.slot \
         ) \
         SELECT k.target_date, k.slot, d.decided_at, r.state AS run_state, \
            r.created_at AS run_created_at, r.execution_id, r.result_status, \
            r.finished_at AS run_finished_at \
         FROM k \
         LEFT JOIN d ON d.target_date = k.target_date AND d.slot = k.slot \
         LEFT JOIN scheduled_runs AS r \
           ON r.workflow_name = ?1 AND r.target_date = k.target_date AND r.slot = k.slot \
         WHERE d.decided_at IS NOT NULL OR r.run_id IS NOT NULL \
         ORDER BY k.target_date, k.slot",
    )
    .bind(workflow)
    .bind(serde_json::Value::from(keys).to_string())
    .fetch_all(readers)
    .await
    .map_err(|e| store_error("slot_facts", e))?
    .iter()
    .map(slot_row)
    .collect()
}

fn slot_row(row: &SqliteRow) -> Result<SlotRow, StoreError> {
    Ok(SlotRow {
        target_date: date_column(row, "target_date")?,
        slot: column(row, "slot")?,
        decided_at: opt_time_column(row, "decided_at")?,
        run_state: column(row, "run_state")?,
        run_created_at: opt_time_column(row, "run_created_at")?,
        execution_id: column(row, "execution_id")?,
        result_status: column(row, "result_status")?,
        run_finished_at: opt_time_column(row, "run_finished_at")?,
    })
}

pub(crate) async fn decision_span(
    readers: &SqlitePool,
    workflow: &str,
) -> Result<rebound_storage::DecisionSpan, StoreError> {
    // Two subqueries, each one seek into (workflow_name, decided_at): with
    // MIN and MAX in one SELECT, SQLite would scan the workflow's decisions.
    let row = sqlx::query(
        "SELECT \
            (SELECT MIN(decided_at) FROM workflow_decisions WHERE workflow_name = ?1) AS first, \
            (SELECT MAX(decided_at) FROM workflow_decisions WHERE workflow_name = ?1) AS last",
    )
    .bind(workflow)
    .fetch_one(readers)
    .await
    .map_err(|e| store_error("decision_span", e))?;
    Ok(rebound_storage::DecisionSpan {
        first: opt_time_column(&row, "first")?,
        last: opt_time_column(&row, "last")?,
    })
}

pub(crate) async fn claim_run(
    writer: &SqlitePool,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<ScheduledRunRow>, StoreError> {
    const WHAT: &str = "claim_run";
    const SQL: &str = concat!(
        "UPDATE scheduled_runs \
         SET state = 'running', claims = claims + 1, lease_owner = ?1, \
             lease_expires_at = ?2, started_at = ?3 \
         WHERE run_id = ( \
            SELECT run_id FROM scheduled_runs \
            WHERE state = 'queued' AND run_at <= ?3 \
            ORDER BY run_at, created_at, run_id LIMIT 1) \
         RETURNING ",
        run_columns!(),
    );
    // Saturating, like the worker's renewals: a lease beyond any date is a
    // lease that does not expire (the config bounds it; this must not
    // refuse every claim, nor panic, when it is not).
    let expires = rebound_domain::duration::add_saturating(now, lease);
    let mut tx = begin_immediate(writer, WHAT).await?;
    let row = sqlx::query(SQL)
        .bind(worker)
        .bind(encode_time(expires))
        .bind(encode_time(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
    let run = row.as_ref().map(run_row).transpose()?;
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(run)
}

/// Runs one guarded single-row update in a write transaction; true when a
/// row changed.
async fn guarded_update(
    writer: &SqlitePool,
    what: &'static str,
    query: sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<bool, StoreError> {
    let mut tx = begin_immediate(writer, what).await?;
    let result = query
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(what, e))?;
    tx.commit().await.map_err(|e| store_error(what, e))?;
    Ok(result.rows_affected() > 0)
}

pub(crate) async fn renew_lease(
    writer: &SqlitePool,
    run_id: &str,
    worker: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let query = sqlx::query(
        "UPDATE scheduled_runs SET lease_expires_at = ?3 \
         WHERE run_id = ?1 AND state = 'running' AND lease_owner = ?2",
    )
    .bind(run_id.to_string())
    .bind(worker.to_string())
    .bind(encode_time(until));
    guarded_update(writer, "renew_lease", query).await
}

pub(crate) async fn finish_run(
    writer: &SqlitePool,
    run_id: &str,
    worker: &str,
    finished_at: DateTime<Utc>,
    status: &str,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let query = sqlx::query(
        "UPDATE scheduled_runs \
         SET state = 'done', finished_at = ?3, result_status = ?4, \
             last_error = COALESCE(?5, last_error), \
             lease_owner = NULL, lease_expires_at = NULL \
         WHERE run_id = ?1 AND state = 'running' AND lease_owner = ?2",
    )
    .bind(run_id.to_string())
    .bind(worker.to_string())
    .bind(encode_time(finished_at))
    .bind(status.to_string())
    .bind(error.map(str::to_string));
    guarded_update(writer, "finish_run", query).await
}

pub(crate) async fn release_run(
    writer: &SqlitePool,
    run_id: &str,
    worker: &str,
    run_at: DateTime<Utc>,
    note: &str,
) -> Result<bool, StoreError> {
    const WHAT: &str = "release_run";
    let mut tx = begin_immediate(writer, WHAT).await?;
    let execution: Option<String> = sqlx::query_scalar(
        "UPDATE scheduled_runs \
         SET state = 'queued', run_at = ?3, last_error = ?4, \
             lease_owner = NULL, lease_expires_at = NULL \
         WHERE run_id = ?1 AND state = 'running' AND lease_owner = ?2 \
         RETURNING execution_id",
    )
    .bind(run_id.to_string())
    .bind(worker.to_string())
    .bind(encode_time(run_at))
    .bind(note.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| store_error(WHAT, e))?;
    // The run is queued again under the same execution id: its row is
    // nobody's until a worker takes it, so it is not closed as a run whose
    // process died (a clean stop read as a failure and alerted).
    if let Some(execution) = &execution {
        sqlx::query(
            "UPDATE workflow_executions SET run_owner = NULL, heartbeat_until = NULL \
             WHERE execution_id = ?1 AND status = 'running'",
        )
        .bind(execution)
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(WHAT, e))?;
    }
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(execution.is_some())
}

pub(crate) async fn requeue_expired(
    writer: &SqlitePool,
    now: DateTime<Utc>,
    max_claims: u32,
) -> Result<Vec<String>, StoreError> {
    const WHAT: &str = "requeue_expired";
    // SET expressions all read the row as it was, so the message names the
    // worker and the lease end being cleared. The text matches the
    // PostgreSQL backend's exactly (times in the same encoding).
    let mut tx = begin_immediate(writer, WHAT).await?;
    let mut ids: Vec<String> = sqlx::query_scalar(
        "UPDATE scheduled_runs \
         SET state = CASE WHEN claims >= ?2 THEN 'abandoned' ELSE 'queued' END, \
             last_error = 'lease expired (worker ' || COALESCE(lease_owner, '?') \
                 || ' stopped renewing at ' || lease_expires_at || '); ' \
                 || CASE WHEN claims >= ?2 THEN 'abandoned after ' || claims || ' claims' \
                         ELSE 'requeued' END, \
             lease_owner = NULL, lease_expires_at = NULL \
         WHERE state = 'running' AND lease_expires_at < ?1 \
         RETURNING run_id",
    )
    .bind(encode_time(now))
    .bind(i64::from(max_claims))
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| store_error(WHAT, e))?;
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    // RETURNING order is unspecified; callers get a stable one.
    ids.sort();
    Ok(ids)
}

pub(crate) async fn scheduled_runs(
    readers: &SqlitePool,
    state: Option<&str>,
    limit: u32,
) -> Result<Vec<ScheduledRunRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        run_columns!(),
        " FROM scheduled_runs WHERE ?1 IS NULL OR state = ?1 \
          ORDER BY created_at, run_id LIMIT ?2",
    );
    sqlx::query(SQL)
        .bind(state)
        .bind(i64::from(limit))
        .fetch_all(readers)
        .await
        .map_err(|e| store_error("scheduled_runs", e))?
        .iter()
        .map(run_row)
        .collect()
}

pub(crate) async fn enqueue_run(
    writer: &SqlitePool,
    run: &NewScheduledRun,
) -> Result<bool, StoreError> {
    const WHAT: &str = "enqueue_run";
    let mut tx = begin_immediate(writer, WHAT).await?;
    let inserted = insert_run(&mut tx, run, WHAT).await?;
    tx.commit().await.map_err(|e| store_error(WHAT, e))?;
    Ok(inserted)
}

pub(crate) async fn next_run_at(
    readers: &SqlitePool,
    after: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    // ORDER BY … LIMIT 1 rather than MIN(): a seek on the claim index
    // (state, run_at, created_at). Times are fixed-width text, so text
    // order is time order.
    let row = sqlx::query(
        "SELECT run_at FROM scheduled_runs WHERE state = 'queued' AND run_at > ?1 \
         ORDER BY run_at LIMIT 1",
    )
    .bind(encode_time(after))
    .fetch_optional(readers)
    .await
    .map_err(|e| store_error("next_run_at", e))?;
    row.as_ref()
        .map(|row| time_column(row, "run_at"))
        .transpose()
}

// ----- Facts -----

/// Scraper names as one JSON array parameter for `json_each`.
pub(crate) fn name_list(scrapers: &[String]) -> String {
    serde_json::Value::from(scrapers.to_vec()).to_string()
}

/// The values of `param` among the successful calls of some scrapers for
/// one target date (`?1` the scrapers as a JSON array, `?2` the parameter,
/// `?3` the date).
///
/// INDEXED BY: the date's few successes are one seek in
/// scraper_execution_log_success. Left to itself, SQLite took
/// `status = 'success'` to the (status, started_at) index of migration
/// 0017 and read every success ever recorded, so the scheduler's
/// `only_missing` gate and every health report slowed day after day.
///
/// json_each rather than json_extract(params, '$.' || param): a path
/// would misread a parameter name holding a dot or a quote. Values are
/// spelled as PostgreSQL's `->>` spells them (numbers and booleans as
/// their JSON text, strings unquoted), so both backends agree; JSON
/// nulls and missing members are no value.
pub(crate) const COLLECTED_VALUES: &str = "SELECT DISTINCT CASE p.type \
        WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
        WHEN 'object' THEN p.value WHEN 'array' THEN p.value \
        ELSE CAST(p.value AS TEXT) END AS value \
    FROM scraper_execution_log AS l INDEXED BY scraper_execution_log_success, \
         json_each(l.params) AS p \
    WHERE l.scraper_name IN (SELECT value FROM json_each(?1)) \
      AND l.target_date = ?3 AND l.status = 'success' \
      AND p.key = ?2 AND p.type <> 'null' \
    ORDER BY value";

/// [`COLLECTED_VALUES`] for many asks at once (`?1` a JSON array of
/// `[ask, scraper, param, date]`, one per scraper of each ask): each value
/// with the index of the ask it answers. Each row of `a` is the same seek
/// in scraper_execution_log_success as the single read (INDEXED BY for the
/// same reason); MATERIALIZED so the ask's fields are decoded once.
pub(crate) const COLLECTED_VALUES_MANY: &str = "WITH a AS MATERIALIZED ( \
        SELECT value ->> 0 AS k, value ->> 1 AS s, value ->> 2 AS p, value ->> 3 AS d \
        FROM json_each(?1)) \
    SELECT DISTINCT a.k AS k, CASE p.type \
        WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
        WHEN 'object' THEN p.value WHEN 'array' THEN p.value \
        ELSE CAST(p.value AS TEXT) END AS value \
    FROM a JOIN scraper_execution_log AS l INDEXED BY scraper_execution_log_success \
           ON l.scraper_name = a.s AND l.target_date = a.d AND l.status = 'success' \
         JOIN json_each(l.params) AS p ON p.key = a.p AND p.type <> 'null' \
    ORDER BY k, value";

/// The newest stored payload of some scrapers for one target date (`?1`
/// the scrapers as a JSON array, `?2` the date): the success index
/// (scraper, date, id) holds the few candidates, named for the reason
/// [`COLLECTED_VALUES`] gives.
pub(crate) const LATEST_PAYLOAD_ON: &str = "SELECT scraper_name, target_date, output_uri, \
        content_hash, finished_at \
    FROM scraper_execution_log INDEXED BY scraper_execution_log_success \
    WHERE scraper_name IN (SELECT value FROM json_each(?1)) AND target_date = ?2 \
      AND status = 'success' AND output_uri IS NOT NULL AND content_hash IS NOT NULL \
    ORDER BY finished_at DESC, id DESC LIMIT 1";

pub(crate) async fn collected_values(
    readers: &SqlitePool,
    scrapers: &[String],
    param: &str,
    target_date: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(COLLECTED_VALUES)
        .bind(name_list(scrapers))
        .bind(param)
        .bind(encode_date(target_date))
        .fetch_all(readers)
        .await
        .map_err(|e| store_error("collected_values", e))
}

pub(crate) async fn collected_values_many(
    readers: &SqlitePool,
    asks: &[CollectedAsk],
) -> Result<Vec<Vec<String>>, StoreError> {
    let rows: Vec<serde_json::Value> = asks
        .iter()
        .enumerate()
        .flat_map(|(k, ask)| {
            ask.scrapers
                .iter()
                .map(move |s| serde_json::json!([k, s, ask.param, encode_date(ask.target_date)]))
        })
        .collect();
    let mut out = vec![Vec::new(); asks.len()];
    if rows.is_empty() {
        return Ok(out);
    }
    let found: Vec<(i64, String)> = sqlx::query_as(COLLECTED_VALUES_MANY)
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(readers)
        .await
        .map_err(|e| store_error("collected_values_many", e))?;
    for (k, value) in found {
        // The index is ours, from the JSON above: always in range.
        if let Some(values) = usize::try_from(k).ok().and_then(|k| out.get_mut(k)) {
            values.push(value);
        }
    }
    Ok(out)
}

pub(crate) async fn latest_payload(
    readers: &SqlitePool,
    scrapers: &[String],
    target_date: Option<NaiveDate>,
) -> Result<Option<LatestPayload>, StoreError> {
    // For one date, see LATEST_PAYLOAD_ON. Across dates, each scraper is
    // one seek on the index of migration 0008 (whose WHERE terms the
    // subquery repeats word for word, as SQLite requires), and the newest
    // of those few rows wins.
    let query = match target_date {
        Some(date) => sqlx::query(LATEST_PAYLOAD_ON)
            .bind(name_list(scrapers))
            .bind(encode_date(date)),
        None => sqlx::query(
            "SELECT l.scraper_name, l.target_date, l.output_uri, l.content_hash, l.finished_at \
             FROM json_each(?1) AS s \
             JOIN scraper_execution_log AS l ON l.id = ( \
               SELECT id FROM scraper_execution_log \
               WHERE scraper_name = s.value \
                 AND status = 'success' AND output_uri IS NOT NULL AND content_hash IS NOT NULL \
               ORDER BY finished_at DESC, id DESC LIMIT 1) \
             ORDER BY l.finished_at DESC, l.id DESC LIMIT 1",
        )
        .bind(name_list(scrapers)),
    };
    let row = query
        .fetch_optional(readers)
        .await
        .map_err(|e| store_error("latest_payload", e))?;
    row.map(|row| {
        Ok(LatestPayload {
            scraper_name: column(&row, "scraper_name")?,
            target_date: date_column(&row, "target_date")?,
            output_uri: column(&row, "output_uri")?,
            content_hash: column(&row, "content_hash")?,
            fetched_at: time_column(&row, "finished_at")?,
        })
    })
    .transpose()
}

pub(crate) fn decision_row(row: &SqliteRow) -> Result<DecisionRow, StoreError> {
    Ok(DecisionRow {
        decision_id: column(row, "decision_id")?,
        workflow_name: column(row, "workflow_name")?,
        decided_at: time_column(row, "decided_at")?,
        slot: column(row, "slot")?,
        target_date: date_column(row, "target_date")?,
        action: column(row, "action")?,
        reason: column(row, "reason")?,
        entities: column(row, "entities")?,
        alert_level: column(row, "alert_level")?,
        execution_id: column(row, "execution_id")?,
        decided_by: column(row, "decided_by")?,
    })
}

fn run_row(row: &SqliteRow) -> Result<ScheduledRunRow, StoreError> {
    Ok(ScheduledRunRow {
        run_id: column(row, "run_id")?,
        workflow_name: column(row, "workflow_name")?,
        target_date: date_column(row, "target_date")?,
        slot: column(row, "slot")?,
        params: column(row, "params")?,
        entities: column(row, "entities")?,
        state: column(row, "state")?,
        run_at: time_column(row, "run_at")?,
        scheduled_for: time_column(row, "scheduled_for")?,
        execution_id: column(row, "execution_id")?,
        decision_id: column(row, "decision_id")?,
        created_at: time_column(row, "created_at")?,
        claims: column(row, "claims")?,
        lease_owner: column(row, "lease_owner")?,
        lease_expires_at: opt_time_column(row, "lease_expires_at")?,
        started_at: opt_time_column(row, "started_at")?,
        finished_at: opt_time_column(row, "finished_at")?,
        result_status: column(row, "result_status")?,
        last_error: column(row, "last_error")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    /// A date's successes are a seek on (scraper, date), whatever the
    /// history holds: with the (status, started_at) index of migration
    /// 0017 SQLite read every success ever recorded instead.
    #[tokio::test]
    async fn a_dates_successes_are_one_seek_not_every_success() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
        for sql in [COLLECTED_VALUES, COLLECTED_VALUES_MANY, LATEST_PAYLOAD_ON] {
            let detail = crate::query_plan(&store, sql).await;
            assert!(
                detail.contains(
                    "USING INDEX scraper_execution_log_success (scraper_name=? AND target_date=?)"
                ),
                "{sql}: {detail}"
            );
            assert!(!detail.contains("by_status_start"), "{sql}: {detail}");
        }
    }
}
