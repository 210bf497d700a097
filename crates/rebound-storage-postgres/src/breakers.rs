//! Circuit breakers: `circuit_breaker_state` and `_transitions`.
//!
//! An update is one transaction: the row is created if missing (`INSERT …
//! ON CONFLICT DO NOTHING`), then read `FOR UPDATE`, so concurrent workers
//! queue on the row lock and each applies its change to the state the
//! previous one committed: two workers can never both admit a half-open
//! probe.

use crate::Within;
use crate::{PostgresStore, ms};
use chrono::{DateTime, Utc};
use rebound_domain::breaker::{BreakerState, Phase};
use rebound_domain::outcome::ErrorKind;
use rebound_storage::{BreakerChange, BreakerRow, BreakerTransitionRow, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;

macro_rules! breaker_columns {
    () => {
        "source_name, state, opened_at, open_until, open_reason, trips, streak, \
         consecutive_failures, window_buckets, last_failure_at, last_failure_kind, \
         last_failure_message, probe_started_at, health_failing_since, updated_at"
    };
}

fn decode(row: &PgRow) -> Result<BreakerRow, sqlx::Error> {
    let state_text: String = row.try_get("state")?;
    let kind: Option<String> = row.try_get("last_failure_kind")?;
    let buckets: String = row.try_get("window_buckets")?;
    // A stored value the table's checks do not exclude (a negative count
    // from a hand edit) is an error naming the row, not a wrapped count.
    let source_name: String = row.try_get("source_name")?;
    let which = format!("circuit_breaker_state of source {source_name:?}");
    let count = |name: &str| -> Result<u32, sqlx::Error> {
        Ok(rebound_storage::stored_count(
            row.try_get::<i64, _>(name)?,
            &which,
            name,
        ))
    };
    let state = BreakerState {
        phase: Phase::parse(&state_text).ok_or_else(|| {
            sqlx::Error::Decode(
                format!("circuit_breaker_state of source {source_name:?}: bad breaker state {state_text:?}")
                    .into(),
            )
        })?,
        opened_at: row.try_get("opened_at")?,
        open_until: row.try_get("open_until")?,
        open_reason: row.try_get("open_reason")?,
        trips: count("trips")?,
        streak: count("streak")?,
        consecutive_failures: count("consecutive_failures")?,
        buckets: BreakerState::decode_buckets(&buckets),
        last_failure_at: row.try_get("last_failure_at")?,
        last_failure_kind: kind.as_deref().and_then(ErrorKind::parse),
        last_failure_message: row.try_get("last_failure_message")?,
        probe_started_at: row.try_get("probe_started_at")?,
        health_failing_since: row.try_get("health_failing_since")?,
    };
    Ok(BreakerRow {
        source_name,
        state,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) async fn breaker_state(
    store: &PostgresStore,
    source: &str,
) -> Result<Option<BreakerRow>, StoreError> {
    const WHAT: &str = "breaker_state";
    let row = sqlx::query(concat!(
        "SELECT ",
        breaker_columns!(),
        " FROM circuit_breaker_state WHERE source_name = $1"
    ))
    .bind(source)
    .fetch_optional(&store.pool)
    .within(store, WHAT)
    .await?;
    row.as_ref()
        .map(decode)
        .transpose()
        .map_err(|e| store.error(WHAT, e))
}

pub(crate) async fn breaker_states(store: &PostgresStore) -> Result<Vec<BreakerRow>, StoreError> {
    const WHAT: &str = "breaker_states";
    let rows = sqlx::query(concat!(
        "SELECT ",
        breaker_columns!(),
        " FROM circuit_breaker_state ORDER BY source_name"
    ))
    .fetch_all(&store.pool)
    .within(store, WHAT)
    .await?;
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .map_err(|e| store.error(WHAT, e))
}

pub(crate) async fn breaker_transitions(
    store: &PostgresStore,
    source: Option<&str>,
    limit: u32,
) -> Result<Vec<BreakerTransitionRow>, StoreError> {
    const WHAT: &str = "breaker_transitions";
    // Two statements rather than `$1 IS NULL OR source_name = $1`, whose
    // generic plan cannot seek the (source_name, at) index.
    let query = match source {
        Some(source) => sqlx::query(
            "SELECT source_name, at, from_state, to_state, reason \
             FROM circuit_breaker_transitions \
             WHERE source_name = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(source),
        None => sqlx::query(
            "SELECT source_name, at, from_state, to_state, reason \
             FROM circuit_breaker_transitions ORDER BY at DESC, id DESC LIMIT $1",
        ),
    };
    let rows = query
        .bind(i64::from(limit))
        .fetch_all(&store.pool)
        .within(store, WHAT)
        .await?;
    rows.iter()
        .map(|row| transition(row, row.try_get("source_name")?))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| store.error(WHAT, e))
}

/// A `circuit_breaker_transitions` row, its source already read.
fn transition(row: &PgRow, source_name: String) -> Result<BreakerTransitionRow, sqlx::Error> {
    Ok(BreakerTransitionRow {
        source_name,
        at: row.try_get("at")?,
        from_state: row.try_get("from_state")?,
        to_state: row.try_get("to_state")?,
        reason: row.try_get("reason")?,
    })
}

pub(crate) async fn newest_breaker_transitions(
    store: &PostgresStore,
    sources: &[String],
) -> Result<Vec<Option<BreakerTransitionRow>>, StoreError> {
    const WHAT: &str = "newest_breaker_transitions";
    // The single-source statement's seek on (source_name, at), once per
    // source, laterally.
    let rows = sqlx::query(
        "SELECT t.source_name, t.at, t.from_state, t.to_state, t.reason \
         FROM unnest($1::text[]) WITH ORDINALITY AS s (name, k) \
         LEFT JOIN LATERAL ( \
           SELECT source_name, at, from_state, to_state, reason \
           FROM circuit_breaker_transitions \
           WHERE source_name = s.name ORDER BY at DESC, id DESC LIMIT 1) AS t ON true \
         ORDER BY s.k",
    )
    .bind(sources)
    .fetch_all(&store.pool)
    .within(store, WHAT)
    .await?;
    // A source without transitions is the LEFT JOIN's row of NULLs.
    rows.iter()
        .map(|row| {
            row.try_get::<Option<String>, _>("source_name")?
                .map(|source| transition(row, source))
                .transpose()
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| store.error(WHAT, e))
}

pub(crate) async fn update_breaker(
    store: &PostgresStore,
    source: &str,
    now: DateTime<Utc>,
    change: BreakerChange<'_>,
) -> Result<BreakerState, StoreError> {
    const WHAT: &str = "update_breaker";
    let err = WHAT;
    let mut tx = store.pool.begin().within(store, err).await?;
    sqlx::query(
        "INSERT INTO circuit_breaker_state (source_name, updated_at) VALUES ($1, $2) \
         ON CONFLICT (source_name) DO NOTHING",
    )
    .bind(source)
    .bind(ms(now))
    .execute(&mut *tx)
    .within(store, err)
    .await?;
    let row = sqlx::query(concat!(
        "SELECT ",
        breaker_columns!(),
        " FROM circuit_breaker_state WHERE source_name = $1 FOR UPDATE"
    ))
    .bind(source)
    .fetch_one(&mut *tx)
    .within(store, err)
    .await?;
    let before = decode(&row).map_err(|e| store.error(err, e))?.state;
    let mut state = before.clone();
    let transitions = change(&mut state);
    let (calls, failures) = state.window_counts();
    if state != before {
        sqlx::query(
            "UPDATE circuit_breaker_state SET state = $2, opened_at = $3, open_until = $4, \
                open_reason = $5, trips = $6, streak = $7, consecutive_failures = $8, \
                window_calls = $9, window_failures = $10, window_buckets = $11, \
                last_failure_at = $12, last_failure_kind = $13, last_failure_message = $14, \
                probe_in_flight = $15, probe_started_at = $16, updated_at = $17, \
                health_failing_since = $18 \
             WHERE source_name = $1",
        )
        .bind(source)
        .bind(state.phase.as_str())
        .bind(state.opened_at.map(ms))
        .bind(state.open_until.map(ms))
        .bind(state.open_reason.as_deref())
        .bind(i64::from(state.trips))
        .bind(i64::from(state.streak))
        .bind(i64::from(state.consecutive_failures))
        .bind(i64::from(calls))
        .bind(i64::from(failures))
        .bind(state.encode_buckets())
        .bind(state.last_failure_at.map(ms))
        .bind(state.last_failure_kind.map(|k| k.as_str()))
        .bind(state.last_failure_message.as_deref())
        .bind(state.probe_started_at.is_some())
        .bind(state.probe_started_at.map(ms))
        .bind(ms(now))
        .bind(state.health_failing_since.map(ms))
        .execute(&mut *tx)
        .within(store, err)
        .await?;
    }
    for t in &transitions {
        sqlx::query(
            "INSERT INTO circuit_breaker_transitions (source_name, at, from_state, to_state, reason) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(source)
        .bind(ms(t.at))
        .bind(t.from.as_str())
        .bind(t.to.as_str())
        .bind(t.reason.as_str())
        .execute(&mut *tx)
        .within(store, err).await?;
    }
    tx.commit().within(store, err).await?;
    Ok(state)
}
