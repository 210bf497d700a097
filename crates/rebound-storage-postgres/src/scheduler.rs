//! The scheduler's tables (`workflow_decisions`, `scheduled_runs`) and the
//! facts it reads from the history, PostgreSQL dialect.
//!
//! Several schedulers and workers may share one database, so every rule
//! that must hold across them is enforced by a statement, not by the
//! process: a slot is claimed by `INSERT … ON CONFLICT DO NOTHING` on its
//! unique key; a run is claimed by one `UPDATE` whose target is chosen with
//! `FOR UPDATE SKIP LOCKED` (concurrent claimers pass over a row being
//! claimed instead of queueing behind it, and the row lock re-checks
//! `state = 'queued'` against the newest version); lease updates are
//! guarded by `state = 'running' AND lease_owner = worker`.

use crate::Within;
use crate::{PostgresStore, ms};
use chrono::{DateTime, NaiveDate, Utc};
use rebound_storage::{
    CollectedAsk, DecisionAction, DecisionOutcome, DecisionRow, LatestPayload, NewDecision,
    NewScheduledRun, ScheduledRunRow, SlotRow, StoreError,
};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
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

/// Inserts `run` unless its slot exists; true when it was inserted. A
/// concurrent insert of the same slot waits for ours to commit or roll
/// back, then does nothing or inserts: never both.
async fn insert_run(
    store: &PostgresStore,
    tx: &mut Transaction<'static, Postgres>,
    run: &NewScheduledRun,
    what: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO scheduled_runs (run_id, workflow_name, target_date, slot, params, \
            entities, state, run_at, scheduled_for, execution_id, decision_id, created_at, \
            claims) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11, 0) \
         ON CONFLICT (workflow_name, target_date, slot) DO NOTHING",
    )
    .bind(run.run_id.as_str())
    .bind(run.workflow_name.as_str())
    .bind(run.target_date)
    .bind(run.slot.as_str())
    .bind(run.params.as_str())
    .bind(run.entities.as_str())
    .bind(ms(run.run_at))
    .bind(ms(run.scheduled_for))
    .bind(run.execution_id.as_str())
    .bind(run.decision_id.as_deref())
    .bind(ms(run.created_at))
    .execute(&mut **tx)
    .within(store, what)
    .await?;
    let inserted = result.rows_affected() == 1;
    if inserted {
        // Delivered when the transaction commits, so whoever it wakes
        // finds the run.
        notify_due(store, &mut **tx, what).await?;
    }
    Ok(inserted)
}

/// `NOTIFY`s the store's channel: a run was queued ([`crate::due`]).
async fn notify_due<'e, E>(store: &PostgresStore, executor: E, what: &str) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(store.channel.as_str())
        .bind(store.store_id.as_str())
        .execute(executor)
        .within(store, what)
        .await?;
    Ok(())
}

/// After a statement that queued runs outside a transaction: wakes this
/// process at once and the others by `NOTIFY`. A failed notify is only
/// logged: the run is queued, and workers' polls will find it.
async fn wake_after(store: &PostgresStore, what: &str) {
    store.due.send();
    if let Err(error) = notify_due(store, &store.pool, what).await {
        tracing::warn!(%error, "Could not notify workers of a queued run; they will find it by polling.");
    }
}

async fn begin(
    store: &PostgresStore,
    what: &str,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    store.pool.begin().within(store, what).await
}

pub(crate) async fn record_decision(
    store: &PostgresStore,
    decision: &NewDecision,
    run: Option<&NewScheduledRun>,
) -> Result<DecisionOutcome, StoreError> {
    const WHAT: &str = "record_decision";
    let mut tx = begin(store, WHAT).await?;
    let (action, reason, execution_id, queued) = match run {
        None => (
            decision.action,
            decision.reason.clone(),
            decision.execution_id.clone(),
            false,
        ),
        Some(run) => {
            if insert_run(store, &mut tx, run, WHAT).await? {
                (
                    decision.action,
                    decision.reason.clone(),
                    Some(run.execution_id.clone()),
                    true,
                )
            } else {
                // READ COMMITTED: this new statement sees the row whose
                // commit made our insert do nothing.
                let holder: String = sqlx::query_scalar(
                    "SELECT execution_id FROM scheduled_runs \
                     WHERE workflow_name = $1 AND target_date = $2 AND slot = $3",
                )
                .bind(run.workflow_name.as_str())
                .bind(run.target_date)
                .bind(run.slot.as_str())
                .fetch_one(&mut *tx)
                .within(store, WHAT)
                .await?;
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
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(decision.decision_id.as_str())
    .bind(decision.workflow_name.as_str())
    .bind(ms(decision.decided_at))
    .bind(decision.slot.as_str())
    .bind(decision.target_date)
    .bind(action.as_str())
    .bind(reason.as_str())
    .bind(decision.entities.as_str())
    .bind(decision.alert_level.as_str())
    .bind(execution_id.as_deref())
    .bind(decision.decided_by.as_str())
    .execute(&mut *tx)
    .within(store, WHAT)
    .await?;
    tx.commit().within(store, WHAT).await?;
    if queued {
        store.due.send();
    }
    Ok(DecisionOutcome {
        action,
        reason,
        queued,
    })
}

pub(crate) async fn decisions_since(
    store: &PostgresStore,
    workflow: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Vec<DecisionRow>, StoreError> {
    const WHAT: &str = "decisions_since";
    const SQL: &str = concat!(
        "SELECT ",
        decision_columns!(),
        " FROM workflow_decisions \
          WHERE decided_at >= $1 AND ($2::text IS NULL OR workflow_name = $2) \
          ORDER BY decided_at, decision_id",
    );
    sqlx::query(SQL)
        .bind(ms(since))
        .bind(workflow)
        .fetch_all(&store.pool)
        .within(store, WHAT)
        .await?
        .iter()
        .map(|row| decision_row(row).map_err(|e| store.error(WHAT, e)))
        .collect()
}

pub(crate) async fn decisions_between(
    store: &PostgresStore,
    workflow: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DecisionRow>, StoreError> {
    const WHAT: &str = "decisions_between";
    const SQL: &str = concat!(
        "SELECT ",
        decision_columns!(),
        " FROM workflow_decisions \
          WHERE decided_at >= $1 AND decided_at < $2 AND ($3::text IS NULL OR workflow_name = $3) \
          ORDER BY decided_at, decision_id",
    );
    sqlx::query(SQL)
        .bind(ms(from))
        .bind(ms(to))
        .bind(workflow)
        .fetch_all(&store.pool)
        .within(store, WHAT)
        .await?
        .iter()
        .map(|row| decision_row(row).map_err(|e| store.error(WHAT, e)))
        .collect()
}

pub(crate) async fn slot_history(
    store: &PostgresStore,
    workflow: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SlotRow>, StoreError> {
    const WHAT: &str = "slot_history";
    // Every slot key with a decision or a run, then the newest decision time
    // and the run (at most one per slot: the key is unique) beside it.
    sqlx::query(
        "WITH d AS ( \
            SELECT target_date, slot, MAX(decided_at) AS decided_at \
            FROM workflow_decisions \
            WHERE workflow_name = $1 AND target_date BETWEEN $2 AND $3 \
            GROUP BY target_date, slot \
         ), r AS ( \
            SELECT target_date, slot, state, created_at, execution_id, result_status, \
                finished_at \
            FROM scheduled_runs \
            WHERE workflow_name = $1 AND target_date BETWEEN $2 AND $3 \
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
    .bind(from)
    .bind(to)
    .fetch_all(&store.pool)
    .within(store, WHAT)
    .await?
    .iter()
    .map(|row| slot_row(row).map_err(|e| store.error(WHAT, e)))
    .collect()
}

pub(crate) async fn slot_facts(
    store: &PostgresStore,
    workflow: &str,
    keys: &[(NaiveDate, String)],
) -> Result<Vec<SlotRow>, StoreError> {
    const WHAT: &str = "slot_facts";
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let dates: Vec<NaiveDate> = keys.iter().map(|(date, _)| *date).collect();
    let slots: Vec<&str> = keys.iter().map(|(_, slot)| slot.as_str()).collect();
    // Each key is an index seek into the decisions' slot index and the
    // runs' unique key; keys with neither are left out, as slot_history
    // has no row for them.
    sqlx::query(
        "WITH k AS ( \
            SELECT DISTINCT target_date, slot FROM unnest($2::date[], $3::text[]) \
                AS u (target_date, slot) \
         ) \
         SELECT k.target_date, k.slot, d.decided_at, r.state AS run_state, \
            r.created_at AS run_created_at, r.execution_id, r.result_status, \
            r.finished_at AS run_finished_at \
         FROM k \
         LEFT JOIN LATERAL ( \
            SELECT MAX(w.decided_at) AS decided_at FROM workflow_decisions AS w \
            WHERE w.workflow_name = $1 AND w.target_date = k.target_date AND w.slot = k.slot \
         ) AS d ON true \
         LEFT JOIN scheduled_runs AS r \
           ON r.workflow_name = $1 AND r.target_date = k.target_date AND r.slot = k.slot \
         WHERE d.decided_at IS NOT NULL OR r.run_id IS NOT NULL \
         ORDER BY k.target_date, k.slot",
    )
    .bind(workflow)
    .bind(dates)
    .bind(slots)
    .fetch_all(&store.pool)
    .within(store, WHAT)
    .await?
    .iter()
    .map(|row| slot_row(row).map_err(|e| store.error(WHAT, e)))
    .collect()
}

pub(crate) async fn decision_span(
    store: &PostgresStore,
    workflow: &str,
) -> Result<rebound_storage::DecisionSpan, StoreError> {
    // Two subqueries, each one seek into (workflow_name, decided_at).
    let (first, last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT \
            (SELECT MIN(decided_at) FROM workflow_decisions WHERE workflow_name = $1), \
            (SELECT MAX(decided_at) FROM workflow_decisions WHERE workflow_name = $1)",
    )
    .bind(workflow)
    .fetch_one(&store.pool)
    .within(store, "decision_span")
    .await?;
    Ok(rebound_storage::DecisionSpan { first, last })
}

pub(crate) async fn claim_run(
    store: &PostgresStore,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<ScheduledRunRow>, StoreError> {
    const WHAT: &str = "claim_run";
    // The subquery is uncorrelated, so it runs once: it locks the oldest due
    // queued row nobody else has locked, and the UPDATE takes exactly that
    // row. One statement, so no explicit transaction is needed.
    const SQL: &str = concat!(
        "UPDATE scheduled_runs \
         SET state = 'running', claims = claims + 1, lease_owner = $1, \
             lease_expires_at = $2, started_at = $3 \
         WHERE run_id = ( \
            SELECT run_id FROM scheduled_runs \
            WHERE state = 'queued' AND run_at <= $3 \
            ORDER BY run_at, created_at, run_id \
            LIMIT 1 \
            FOR UPDATE SKIP LOCKED) \
         RETURNING ",
        run_columns!(),
    );
    // Saturating, like the worker's renewals: a lease beyond any date is a
    // lease that does not expire (the config bounds it; this must not
    // refuse every claim, nor panic, when it is not).
    let expires = rebound_domain::duration::add_saturating(now, lease);
    let row = sqlx::query(SQL)
        .bind(worker)
        .bind(ms(expires))
        .bind(ms(now))
        .fetch_optional(&store.pool)
        .within(store, WHAT)
        .await?;
    row.as_ref()
        .map(run_row)
        .transpose()
        .map_err(|e| store.error(WHAT, e))
}

pub(crate) async fn renew_lease(
    store: &PostgresStore,
    run_id: &str,
    worker: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE scheduled_runs SET lease_expires_at = $3 \
         WHERE run_id = $1 AND state = 'running' AND lease_owner = $2",
    )
    .bind(run_id)
    .bind(worker)
    .bind(ms(until))
    .execute(&store.pool)
    .within(store, "renew_lease")
    .await?;
    Ok(result.rows_affected() > 0)
}

pub(crate) async fn finish_run(
    store: &PostgresStore,
    run_id: &str,
    worker: &str,
    finished_at: DateTime<Utc>,
    status: &str,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE scheduled_runs \
         SET state = 'done', finished_at = $3, result_status = $4, \
             last_error = COALESCE($5, last_error), \
             lease_owner = NULL, lease_expires_at = NULL \
         WHERE run_id = $1 AND state = 'running' AND lease_owner = $2",
    )
    .bind(run_id)
    .bind(worker)
    .bind(ms(finished_at))
    .bind(status)
    .bind(error)
    .execute(&store.pool)
    .within(store, "finish_run")
    .await?;
    Ok(result.rows_affected() > 0)
}

pub(crate) async fn release_run(
    store: &PostgresStore,
    run_id: &str,
    worker: &str,
    run_at: DateTime<Utc>,
    note: &str,
) -> Result<bool, StoreError> {
    // The run is queued again under the same execution id: its row is
    // nobody's until a worker takes it, so it is not closed as a run whose
    // process died (a clean stop read as a failure and alerted).
    let released: i64 = sqlx::query_scalar(
        "WITH released AS ( \
             UPDATE scheduled_runs \
             SET state = 'queued', run_at = $3, last_error = $4, \
                 lease_owner = NULL, lease_expires_at = NULL \
             WHERE run_id = $1 AND state = 'running' AND lease_owner = $2 \
             RETURNING execution_id), \
         unowned AS ( \
             UPDATE workflow_executions SET run_owner = NULL, heartbeat_until = NULL \
             WHERE execution_id IN (SELECT execution_id FROM released) \
               AND status = 'running') \
         SELECT COUNT(*) FROM released",
    )
    .bind(run_id)
    .bind(worker)
    .bind(ms(run_at))
    .bind(note)
    .fetch_one(&store.pool)
    .within(store, "release_run")
    .await?;
    let released = released > 0;
    if released {
        wake_after(store, "release_run").await;
    }
    Ok(released)
}

pub(crate) async fn requeue_expired(
    store: &PostgresStore,
    now: DateTime<Utc>,
    max_claims: u32,
) -> Result<Vec<String>, StoreError> {
    // SET expressions all read the row as it was, so the message names the
    // worker and the lease end being cleared. The time is spelled as the
    // SQLite backend stores it, so both write the same text. A lease renewed
    // concurrently is re-checked under the row lock and left alone.
    let mut ids: Vec<String> = sqlx::query_scalar(
        r#"UPDATE scheduled_runs
           SET state = CASE WHEN claims >= $2 THEN 'abandoned' ELSE 'queued' END,
               last_error = 'lease expired (worker ' || COALESCE(lease_owner, '?')
                   || ' stopped renewing at '
                   || to_char(lease_expires_at AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                   || '); '
                   || CASE WHEN claims >= $2 THEN 'abandoned after ' || claims || ' claims'
                           ELSE 'requeued' END,
               lease_owner = NULL, lease_expires_at = NULL
           WHERE state = 'running' AND lease_expires_at < $1
           RETURNING run_id"#,
    )
    .bind(ms(now))
    .bind(i64::from(max_claims))
    .fetch_all(&store.pool)
    .within(store, "requeue_expired")
    .await?;
    // RETURNING order is unspecified; callers get a stable one.
    ids.sort();
    // Abandoned runs are in the list too; a spurious wake-up is harmless.
    if !ids.is_empty() {
        wake_after(store, "requeue_expired").await;
    }
    Ok(ids)
}

pub(crate) async fn scheduled_runs(
    store: &PostgresStore,
    state: Option<&str>,
    limit: u32,
) -> Result<Vec<ScheduledRunRow>, StoreError> {
    const WHAT: &str = "scheduled_runs";
    const SQL: &str = concat!(
        "SELECT ",
        run_columns!(),
        " FROM scheduled_runs WHERE $1::text IS NULL OR state = $1 \
          ORDER BY created_at, run_id LIMIT $2",
    );
    sqlx::query(SQL)
        .bind(state)
        .bind(i64::from(limit))
        .fetch_all(&store.pool)
        .within(store, WHAT)
        .await?
        .iter()
        .map(|row| run_row(row).map_err(|e| store.error(WHAT, e)))
        .collect()
}

pub(crate) async fn enqueue_run(
    store: &PostgresStore,
    run: &NewScheduledRun,
) -> Result<bool, StoreError> {
    const WHAT: &str = "enqueue_run";
    let mut tx = begin(store, WHAT).await?;
    let inserted = insert_run(store, &mut tx, run, WHAT).await?;
    tx.commit().within(store, WHAT).await?;
    if inserted {
        store.due.send();
    }
    Ok(inserted)
}

pub(crate) async fn next_run_at(
    store: &PostgresStore,
    after: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    // A seek on the claim index (state, run_at, created_at).
    sqlx::query_scalar(
        "SELECT run_at FROM scheduled_runs WHERE state = 'queued' AND run_at > $1 \
         ORDER BY run_at LIMIT 1",
    )
    .bind(ms(after))
    .fetch_optional(&store.pool)
    .within(store, "next_run_at")
    .await
}

// ----- Facts -----

pub(crate) async fn collected_values(
    store: &PostgresStore,
    scrapers: &[String],
    param: &str,
    target_date: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    // params is text (see 0001), so it is cast per row; `->>` yields NULL
    // for a missing member and for a JSON null, which are no value.
    // COLLATE "C" sorts like SQLite.
    sqlx::query_scalar(
        r#"SELECT DISTINCT (params::jsonb ->> $2) COLLATE "C" AS value
           FROM scraper_execution_log
           WHERE scraper_name = ANY($1) AND target_date = $3 AND status = 'success'
             AND params::jsonb ->> $2 IS NOT NULL
           ORDER BY value"#,
    )
    .bind(scrapers)
    .bind(param)
    .bind(target_date)
    .fetch_all(&store.pool)
    .within(store, "collected_values")
    .await
}

pub(crate) async fn collected_values_many(
    store: &PostgresStore,
    asks: &[CollectedAsk],
) -> Result<Vec<Vec<String>>, StoreError> {
    // One row per scraper of each ask, as parallel arrays: unnest pairs
    // them up, and each row is the same index seek as the single read.
    let (mut ks, mut scrapers, mut params, mut dates) = (vec![], vec![], vec![], vec![]);
    for (k, ask) in asks.iter().enumerate() {
        for s in &ask.scrapers {
            ks.push(i64::try_from(k).unwrap_or(i64::MAX));
            scrapers.push(s.as_str());
            params.push(ask.param.as_str());
            dates.push(ask.target_date);
        }
    }
    let mut out = vec![Vec::new(); asks.len()];
    if ks.is_empty() {
        return Ok(out);
    }
    let found: Vec<(i64, String)> = sqlx::query_as(
        r#"SELECT DISTINCT a.k, (l.params::jsonb ->> a.p) COLLATE "C" AS value
           FROM unnest($1::int8[], $2::text[], $3::text[], $4::date[]) AS a (k, s, p, d)
           JOIN scraper_execution_log AS l
             ON l.scraper_name = a.s AND l.target_date = a.d AND l.status = 'success'
           WHERE l.params::jsonb ->> a.p IS NOT NULL
           ORDER BY a.k, value"#,
    )
    .bind(&ks)
    .bind(&scrapers)
    .bind(&params)
    .bind(&dates)
    .fetch_all(&store.pool)
    .within(store, "collected_values_many")
    .await?;
    for (k, value) in found {
        // The index is ours, from the arrays above: always in range.
        if let Some(values) = usize::try_from(k).ok().and_then(|k| out.get_mut(k)) {
            values.push(value);
        }
    }
    Ok(out)
}

pub(crate) async fn latest_payload(
    store: &PostgresStore,
    scrapers: &[String],
    target_date: Option<NaiveDate>,
) -> Result<Option<LatestPayload>, StoreError> {
    const WHAT: &str = "latest_payload";
    // Two texts rather than `($2 IS NULL OR target_date = $2)`, which a
    // generic plan cannot use in an index condition. For one date, the
    // success index (scraper, date, id) holds the few candidates. Across
    // dates, each scraper is one seek on the index of migration 0008, and
    // the newest of those few rows wins.
    let query = match target_date {
        Some(date) => sqlx::query(
            "SELECT scraper_name, target_date, output_uri, content_hash, finished_at \
             FROM scraper_execution_log \
             WHERE scraper_name = ANY($1) AND target_date = $2 \
               AND status = 'success' AND output_uri IS NOT NULL AND content_hash IS NOT NULL \
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(scrapers)
        .bind(date),
        None => sqlx::query(
            "SELECT l.scraper_name, l.target_date, l.output_uri, l.content_hash, l.finished_at \
             FROM unnest($1::text[]) AS s (name) \
             CROSS JOIN LATERAL ( \
               SELECT id, scraper_name, target_date, output_uri, content_hash, finished_at \
               FROM scraper_execution_log \
               WHERE scraper_name = s.name \
                 AND status = 'success' AND output_uri IS NOT NULL AND content_hash IS NOT NULL \
               ORDER BY finished_at DESC, id DESC LIMIT 1) AS l \
             ORDER BY l.finished_at DESC, l.id DESC LIMIT 1",
        )
        .bind(scrapers),
    };
    let row = query
        .fetch_optional(&store.pool)
        .within(store, WHAT)
        .await?;
    row.as_ref()
        .map(payload_row)
        .transpose()
        .map_err(|e| store.error(WHAT, e))
}

fn slot_row(row: &PgRow) -> Result<SlotRow, sqlx::Error> {
    Ok(SlotRow {
        target_date: row.try_get("target_date")?,
        slot: row.try_get("slot")?,
        decided_at: row.try_get("decided_at")?,
        run_state: row.try_get("run_state")?,
        run_created_at: row.try_get("run_created_at")?,
        execution_id: row.try_get("execution_id")?,
        result_status: row.try_get("result_status")?,
        run_finished_at: row.try_get("run_finished_at")?,
    })
}

fn payload_row(row: &PgRow) -> Result<LatestPayload, sqlx::Error> {
    Ok(LatestPayload {
        scraper_name: row.try_get("scraper_name")?,
        target_date: row.try_get("target_date")?,
        output_uri: row.try_get("output_uri")?,
        content_hash: row.try_get("content_hash")?,
        fetched_at: row.try_get("finished_at")?,
    })
}

pub(crate) fn decision_row(row: &PgRow) -> Result<DecisionRow, sqlx::Error> {
    Ok(DecisionRow {
        decision_id: row.try_get("decision_id")?,
        workflow_name: row.try_get("workflow_name")?,
        decided_at: row.try_get("decided_at")?,
        slot: row.try_get("slot")?,
        target_date: row.try_get("target_date")?,
        action: row.try_get("action")?,
        reason: row.try_get("reason")?,
        entities: row.try_get("entities")?,
        alert_level: row.try_get("alert_level")?,
        execution_id: row.try_get("execution_id")?,
        decided_by: row.try_get("decided_by")?,
    })
}

fn run_row(row: &PgRow) -> Result<ScheduledRunRow, sqlx::Error> {
    Ok(ScheduledRunRow {
        run_id: row.try_get("run_id")?,
        workflow_name: row.try_get("workflow_name")?,
        target_date: row.try_get("target_date")?,
        slot: row.try_get("slot")?,
        params: row.try_get("params")?,
        entities: row.try_get("entities")?,
        state: row.try_get("state")?,
        run_at: row.try_get("run_at")?,
        scheduled_for: row.try_get("scheduled_for")?,
        execution_id: row.try_get("execution_id")?,
        decision_id: row.try_get("decision_id")?,
        created_at: row.try_get("created_at")?,
        claims: row.try_get("claims")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        result_status: row.try_get("result_status")?,
        last_error: row.try_get("last_error")?,
    })
}
