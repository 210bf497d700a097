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

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use rebound_storage::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};
use std::fmt::Write as _;

const DATE_FORMAT: &str = "%Y-%m-%d";

/// `2026-11-28T15:04:05.123Z`, truncated (never rounded up into the next
/// second). Written field by field: this runs several times per recorded
/// call, and interpreting a strftime pattern each time showed up in
/// profiles.
///
/// Instants outside years 0000–9999 are clamped to the nearest end of that
/// range: RFC 3339 has four-digit years, so a longer one would neither
/// parse back (a lock or lease "until the end of time", computed with
/// saturating arithmetic as `DateTime::MAX_UTC`, made the whole table
/// unreadable) nor keep text order equal to time order. Nothing Rebound
/// schedules is that far away; "forever" stays forever.
pub(crate) fn encode_time(time: DateTime<Utc>) -> String {
    let time = time.clamp(earliest_stored(), latest_stored());
    let mut text = String::with_capacity(24);
    // A leap second reports 1000+ milliseconds; keep the fixed width.
    let millis = time.timestamp_subsec_millis().min(999);
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
    );
    text
}

/// `0000-01-01T00:00:00.000Z`, the earliest instant stored as itself.
fn earliest_stored() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(0, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `9999-12-31T23:59:59.999Z`, the latest instant stored as itself.
fn latest_stored() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
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

/// A nullable time column.
pub(crate) fn opt_time_column(
    row: &SqliteRow,
    name: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let text: Option<&str> = column(row, name)?;
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Query(format!("column {name}: bad time {text:?}: {e}")))
    })
    .transpose()
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
    let hint = hint(&error);
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(format!("{what}: {error}{hint}")),
        _ => StoreError::Query(format!("{what}: {error}{hint}")),
    }
}

/// What to do about the SQLite failures an operator can fix, by their
/// primary result code: SQLite's own words ("database is locked",
/// "attempt to write a readonly database") say neither why nor what next.
fn hint(error: &sqlx::Error) -> &'static str {
    let Some(code) = error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i32>().ok())
    else {
        return "";
    };
    match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED
        5 | 6 => {
            " (another process held the history's write lock past the 10 s this one waits: a long `purge`, or a transaction left open in another tool)"
        }
        // SQLITE_READONLY
        8 => {
            " (this user cannot write the history file or its folder, which commands that record anything need)"
        }
        // SQLITE_FULL
        13 => " (the disk holding the history is full)",
        _ => "",
    }
}

/// A write transaction that takes SQLite's write lock at once: `BEGIN
/// IMMEDIATE` waits (busy timeout) for a writer in another process, where
/// a deferred transaction upgrading to a write would fail with
/// `SQLITE_BUSY` at its first write.
pub(crate) async fn begin_immediate(
    writer: &sqlx::SqlitePool,
    what: &str,
) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
    writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| store_error(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    /// Before: "database is locked" and "attempt to write a readonly
    /// database" said neither why nor what to do.
    #[tokio::test]
    async fn locked_and_read_only_histories_say_what_to_do() {
        use sqlx::Connection;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut holder)
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut other = SqliteConnection::connect_with(&options).await.unwrap();
        let busy = sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap_err();
        let message = store_error("write", busy).to_string();
        assert!(message.contains("database is locked"), "{message}");
        assert!(
            message.ends_with("(another process held the history's write lock past the 10 s this one waits: a long `purge`, or a transaction left open in another tool)"),
            "{message}"
        );
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();

        let read_only = options.clone().read_only(true);
        let mut reader = SqliteConnection::connect_with(&read_only).await.unwrap();
        let refused = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut reader)
            .await
            .unwrap_err();
        let message = store_error("write", refused).to_string();
        assert!(
            message.ends_with("(this user cannot write the history file or its folder, which commands that record anything need)"),
            "{message}"
        );
        // Other failures get no hint.
        let other_failure = sqlx::query("SELECT nope FROM t")
            .execute(&mut reader)
            .await
            .unwrap_err();
        let message = store_error("read", other_failure).to_string();
        assert!(message.ends_with("no such column: nope"), "{message}");
    }

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
        let early = DateTime::parse_from_rfc3339("0999-01-02T03:04:05.006Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(encode_time(early), "0999-01-02T03:04:05.006Z");
    }

    #[test]
    fn dates_are_iso() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 3).unwrap();
        assert_eq!(encode_date(d), "2026-02-03");
    }
}
