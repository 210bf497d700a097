//! How Rebound's values are spelled in SQLite, and how driver errors become
//! [`StoreError`]s.
//!
//! SQLite has no time or date type, and sqlx's own chrono encoding writes
//! `+00:00` with a variable number of decimals, which would make text order
//! differ from time order. So times are formatted here, always as
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`: fixed width, so comparing the strings compares
//! the instants, which is what the indexes and the operator queries rely on.
//! Anything finer than a millisecond is cut off, which is also what the
//! PostgreSQL backend does, so both read back the same instant.

use chrono::{DateTime, NaiveDate, Utc};
use rebound_storage::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";
const DATE_FORMAT: &str = "%Y-%m-%d";

/// `2026-11-28T15:04:05.123Z`; chrono's `%.3f` truncates, never rounds up
/// into the next second.
pub(crate) fn encode_time(time: DateTime<Utc>) -> String {
    time.format(TIME_FORMAT).to_string()
}

pub(crate) fn encode_date(date: NaiveDate) -> String {
    date.format(DATE_FORMAT).to_string()
}

/// Reads one column, naming it in the error so a schema drift is easy to
/// spot.
pub(crate) fn column<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Query(format!("reading column {name}: {e}")))
}

pub(crate) fn time_column(row: &SqliteRow, name: &str) -> Result<DateTime<Utc>, StoreError> {
    let text: &str = column(row, name)?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Query(format!("column {name}: bad time {text:?}: {e}")))
}

pub(crate) fn date_column(row: &SqliteRow, name: &str) -> Result<NaiveDate, StoreError> {
    let text: &str = column(row, name)?;
    NaiveDate::parse_from_str(text, DATE_FORMAT)
        .map_err(|e| StoreError::Query(format!("column {name}: bad date {text:?}: {e}")))
}

/// Errors that mean "the database cannot be used right now" are told apart
/// from errors of one statement, so callers can decide whether retrying the
/// whole store makes sense.
pub(crate) fn store_error(what: &str, error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(format!("{what}: {error}")),
        _ => StoreError::Query(format!("{what}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn times_are_fixed_width_and_truncated_to_milliseconds() {
        let t = DateTime::parse_from_rfc3339("2026-11-28T15:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(encode_time(t), "2026-11-28T15:04:05.000Z");
        assert_eq!(
            encode_time(t + TimeDelta::nanoseconds(999_999_999)),
            "2026-11-28T15:04:05.999Z"
        );
        assert_eq!(
            encode_time(t + TimeDelta::milliseconds(123)),
            "2026-11-28T15:04:05.123Z"
        );
    }

    #[test]
    fn dates_are_iso() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 3).unwrap();
        assert_eq!(encode_date(d), "2026-02-03");
    }
}
