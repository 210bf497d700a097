//! Circuit breakers: `circuit_breaker_state` and `_transitions`.
//!
//! An update is one `BEGIN IMMEDIATE` transaction on the writer
//! connection: the write lock is taken before the row is read, so two
//! workers (even in two processes) can never both admit a half-open probe.

use crate::codec::{
    begin_immediate, column, encode_time, opt_time_column, store_error, time_column,
};
use chrono::{DateTime, Utc};
use rebound_domain::breaker::{BreakerState, Phase};
use rebound_domain::outcome::ErrorKind;
use rebound_storage::{BreakerChange, BreakerRow, BreakerTransitionRow, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;

macro_rules! breaker_columns {
    () => {
        "source_name, state, opened_at, open_until, open_reason, trips, streak, \
         consecutive_failures, window_buckets, last_failure_at, last_failure_kind, \
         last_failure_message, probe_started_at, health_failing_since, updated_at"
    };
}

fn decode(row: &SqliteRow) -> Result<BreakerRow, StoreError> {
    let source_name: String = column(row, "source_name")?;
    let which = format!("circuit_breaker_state of source {source_name:?}");
    // Which row, so an operator can find what to fix.
    let bad = |what: String| StoreError::Query(format!("{which}: {what}"));
    let count = |name: &str| -> Result<u32, StoreError> {
        Ok(rebound_storage::stored_count(
            column::<i64>(row, name)?,
            &which,
            name,
        ))
    };
    let state_text: String = column(row, "state")?;
    let kind: Option<String> = column(row, "last_failure_kind")?;
    let buckets: String = column(row, "window_buckets")?;
    let state = BreakerState {
        phase: Phase::parse(&state_text)
            .ok_or_else(|| bad(format!("bad breaker state {state_text:?}")))?,
        opened_at: opt_time_column(row, "opened_at")?,
        open_until: opt_time_column(row, "open_until")?,
        open_reason: column(row, "open_reason")?,
        trips: count("trips")?,
        streak: count("streak")?,
        consecutive_failures: count("consecutive_failures")?,
        buckets: BreakerState::decode_buckets(&buckets),
        last_failure_at: opt_time_column(row, "last_failure_at")?,
        last_failure_kind: kind.as_deref().and_then(ErrorKind::parse),
        last_failure_message: column(row, "last_failure_message")?,
        probe_started_at: opt_time_column(row, "probe_started_at")?,
        health_failing_since: opt_time_column(row, "health_failing_since")?,
    };
    Ok(BreakerRow {
        source_name,
        state,
        updated_at: time_column(row, "updated_at")?,
    })
}

pub(crate) async fn breaker_state(
    readers: &SqlitePool,
    source: &str,
) -> Result<Option<BreakerRow>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        breaker_columns!(),
        " FROM circuit_breaker_state WHERE source_name = ?1"
    ))
    .bind(source.to_string())
    .fetch_optional(readers)
    .await
    .map_err(|e| store_error("breaker_state", e))?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn breaker_states(readers: &SqlitePool) -> Result<Vec<BreakerRow>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        breaker_columns!(),
        " FROM circuit_breaker_state ORDER BY source_name"
    ))
    .fetch_all(readers)
    .await
    .map_err(|e| store_error("breaker_states", e))?;
    rows.iter().map(decode).collect()
}

/// The newest transitions of one source (`?1`), at most `?2`.
pub(crate) const TRANSITIONS_OF: &str = "SELECT source_name, at, from_state, to_state, reason \
    FROM circuit_breaker_transitions \
    WHERE source_name = ?1 ORDER BY at DESC, id DESC LIMIT ?2";

pub(crate) async fn breaker_transitions(
    readers: &SqlitePool,
    source: Option<&str>,
    limit: u32,
) -> Result<Vec<BreakerTransitionRow>, StoreError> {
    // Two statements, not `?1 IS NULL OR source_name = ?1`: with the OR,
    // SQLite reads every transition and sorts them, once per source in
    // every health report; for one source this is a seek on
    // (source_name, at).
    let query = match source {
        Some(source) => sqlx::query(TRANSITIONS_OF).bind(source),
        None => sqlx::query(
            "SELECT source_name, at, from_state, to_state, reason \
             FROM circuit_breaker_transitions ORDER BY at DESC, id DESC LIMIT ?1",
        ),
    };
    let rows = query
        .bind(i64::from(limit))
        .fetch_all(readers)
        .await
        .map_err(|e| store_error("breaker_transitions", e))?;
    rows.iter()
        .map(|row| transition(row, column(row, "source_name")?))
        .collect()
}

/// A `circuit_breaker_transitions` row, its source already read.
fn transition(row: &SqliteRow, source_name: String) -> Result<BreakerTransitionRow, StoreError> {
    Ok(BreakerTransitionRow {
        source_name,
        at: time_column(row, "at")?,
        from_state: column(row, "from_state")?,
        to_state: column(row, "to_state")?,
        reason: column(row, "reason")?,
    })
}

/// The newest transition of each source of `?1` (a JSON array), in its
/// order: [`TRANSITIONS_OF`]'s seek once per source.
const NEWEST_TRANSITIONS: &str = "SELECT t.source_name, t.at, t.from_state, t.to_state, t.reason \
    FROM json_each(?1) AS s \
    LEFT JOIN circuit_breaker_transitions AS t ON t.id = ( \
      SELECT id FROM circuit_breaker_transitions \
      WHERE source_name = s.value ORDER BY at DESC, id DESC LIMIT 1) \
    ORDER BY s.key";

pub(crate) async fn newest_breaker_transitions(
    readers: &SqlitePool,
    sources: &[String],
) -> Result<Vec<Option<BreakerTransitionRow>>, StoreError> {
    let rows = sqlx::query(NEWEST_TRANSITIONS)
        .bind(crate::scheduler::name_list(sources))
        .fetch_all(readers)
        .await
        .map_err(|e| store_error("newest_breaker_transitions", e))?;
    // A source without transitions is the LEFT JOIN's row of NULLs.
    rows.iter()
        .map(|row| {
            column::<Option<String>>(row, "source_name")?
                .map(|source| transition(row, source))
                .transpose()
        })
        .collect()
}

pub(crate) async fn update_breaker(
    writer: &SqlitePool,
    source: &str,
    now: DateTime<Utc>,
    change: BreakerChange<'_>,
) -> Result<BreakerState, StoreError> {
    let what = "update_breaker";
    let err = |e| store_error(what, e);
    let mut tx = begin_immediate(writer, what).await?;
    let row = sqlx::query(concat!(
        "SELECT ",
        breaker_columns!(),
        " FROM circuit_breaker_state WHERE source_name = ?1"
    ))
    .bind(source.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    let before = match &row {
        Some(row) => decode(row)?.state,
        None => BreakerState::default(),
    };
    let mut state = before.clone();
    let transitions = change(&mut state);
    if state == before && row.is_some() {
        // Nothing changed (a refusal): leave the row and the lock alone.
        tx.rollback().await.map_err(err)?;
        return Ok(state);
    }
    let (calls, failures) = state.window_counts();
    sqlx::query(
        "INSERT INTO circuit_breaker_state (source_name, state, opened_at, open_until, \
            open_reason, trips, streak, consecutive_failures, window_calls, window_failures, \
            window_buckets, last_failure_at, last_failure_kind, last_failure_message, \
            probe_in_flight, probe_started_at, updated_at, health_failing_since) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
         ON CONFLICT (source_name) DO UPDATE SET state = excluded.state, \
            opened_at = excluded.opened_at, open_until = excluded.open_until, \
            open_reason = excluded.open_reason, trips = excluded.trips, \
            streak = excluded.streak, consecutive_failures = excluded.consecutive_failures, \
            window_calls = excluded.window_calls, window_failures = excluded.window_failures, \
            window_buckets = excluded.window_buckets, \
            last_failure_at = excluded.last_failure_at, \
            last_failure_kind = excluded.last_failure_kind, \
            last_failure_message = excluded.last_failure_message, \
            probe_in_flight = excluded.probe_in_flight, \
            probe_started_at = excluded.probe_started_at, updated_at = excluded.updated_at, \
            health_failing_since = excluded.health_failing_since",
    )
    .bind(source.to_string())
    .bind(state.phase.as_str())
    .bind(state.opened_at.map(encode_time))
    .bind(state.open_until.map(encode_time))
    .bind(state.open_reason.clone())
    .bind(i64::from(state.trips))
    .bind(i64::from(state.streak))
    .bind(i64::from(state.consecutive_failures))
    .bind(i64::from(calls))
    .bind(i64::from(failures))
    .bind(state.encode_buckets())
    .bind(state.last_failure_at.map(encode_time))
    .bind(state.last_failure_kind.map(|k| k.as_str()))
    .bind(state.last_failure_message.clone())
    .bind(i64::from(state.probe_started_at.is_some()))
    .bind(state.probe_started_at.map(encode_time))
    .bind(encode_time(now))
    .bind(state.health_failing_since.map(encode_time))
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    for t in &transitions {
        sqlx::query(
            "INSERT INTO circuit_breaker_transitions (source_name, at, from_state, to_state, reason) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(source.to_string())
        .bind(encode_time(t.at))
        .bind(t.from.as_str())
        .bind(t.to.as_str())
        .bind(t.reason.clone())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    /// The health report reads each source's newest transition: a seek on
    /// (source_name, at), not a read and sort of every transition.
    #[tokio::test]
    async fn one_sources_transitions_are_a_seek() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
        let seek = "circuit_breaker_transitions_by_source (source_name=?)";
        let detail = crate::query_plan(&store, TRANSITIONS_OF).await;
        assert!(detail.contains(seek), "{detail}");
        assert!(!detail.contains("TEMP B-TREE"), "{detail}");
        // Many sources: the same seek per source, in index order; the one
        // sort is of the few names asked, into their given order.
        let detail = crate::query_plan(&store, NEWEST_TRANSITIONS).await;
        assert!(
            detail.contains(&format!("CORRELATED SCALAR SUBQUERY 1; SEARCH circuit_breaker_transitions USING COVERING INDEX {seek}; USE TEMP B-TREE FOR ORDER BY")),
            "{detail}"
        );
        assert_eq!(detail.matches("TEMP B-TREE").count(), 1, "{detail}");
    }
}
