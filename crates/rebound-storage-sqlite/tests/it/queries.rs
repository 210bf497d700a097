//! Runs every SQLite query of `docs/queries.md` against seeded history and
//! checks its exact result, so the document cannot drift from the schema.

use crate::fresh_store;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::store_conformance::queries::{
    self, CoverageRow, DecisionReportRow, ErrorKindRow, FailureRateRow, LatestStatusRow,
    RetriedRow, SqlBlock,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

fn document() -> Vec<SqlBlock> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/queries.md");
    let markdown = std::fs::read_to_string(path).expect("read docs/queries.md");
    queries::dialect_queries(&markdown, "sqlite")
}

fn query(heading: &str) -> String {
    document()
        .into_iter()
        .find(|block| block.heading == heading)
        .unwrap_or_else(|| panic!("no query under {heading:?}"))
        .sql
}

async fn run(store: &SqliteStore, heading: &str) -> Vec<SqliteRow> {
    sqlx::query(AssertSqlSafe(query(heading)))
        .fetch_all(store.pool())
        .await
        .unwrap_or_else(|e| panic!("query {heading:?} failed: {e}"))
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("stored time")
        .with_timezone(&Utc)
}

#[test]
fn every_heading_has_one_sqlite_query() {
    let headings: Vec<String> = document().into_iter().map(|b| b.heading).collect();
    assert_eq!(headings, queries::HEADINGS);
}

#[tokio::test]
async fn failure_rate_per_workflow_per_day() {
    let (_dir, store) = fresh_store().await;
    let expected = queries::seed(&store).await;
    let rows: Vec<FailureRateRow> = run(&store, queries::FAILURE_RATE)
        .await
        .iter()
        .map(|row| FailureRateRow {
            workflow_name: row.get("workflow_name"),
            day: NaiveDate::parse_from_str(row.get("day"), "%Y-%m-%d").expect("day"),
            runs: row.get("runs"),
            failed: row.get("failed"),
            partial: row.get("partial"),
            failure_rate_pct: row.get("failure_rate_pct"),
            failed_or_partial_pct: row.get("failed_or_partial_pct"),
        })
        .collect();
    assert_eq!(rows, expected.failure_rate);
}

async fn coverage(store: &SqliteStore) -> CoverageRow {
    let rows = run(store, queries::MESSAGE_COVERAGE).await;
    assert_eq!(rows.len(), 1);
    CoverageRow {
        failed_or_skipped: rows[0].get("failed_or_skipped"),
        with_message: rows[0].get("with_message"),
        coverage_pct: rows[0].get("coverage_pct"),
    }
}

#[tokio::test]
async fn error_message_coverage() {
    let (_dir, store) = fresh_store().await;
    let expected = queries::seed(&store).await;
    assert_eq!(coverage(&store).await, expected.coverage);

    // The Store is never asked to write a failure without a reason, so the
    // rows that must lower coverage go in by hand: one NULL, one blank.
    sqlx::query(
        "INSERT INTO scraper_execution_log (scraper_name, source_name, params, target_date, \
            status, attempts, error_message, started_at, finished_at, duration_ms, unchanged) \
         VALUES \
            ('raw', 'sim', '{}', '2026-01-01', 'failed', 1, NULL, \
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 minutes'), \
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 minutes'), 0, 0), \
            ('raw', 'sim', '{}', '2026-01-01', 'skipped', 0, '  ', \
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 minutes'), \
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 minutes'), 0, 0)",
    )
    .execute(store.pool())
    .await
    .expect("insert calls without message");
    assert_eq!(coverage(&store).await, expected.coverage_with_two_missing);
}

#[tokio::test]
async fn retries_that_paid_off() {
    let (_dir, store) = fresh_store().await;
    let expected = queries::seed(&store).await;
    let rows: Vec<RetriedRow> = run(&store, queries::RETRIES_PAID_OFF)
        .await
        .iter()
        .map(|row| RetriedRow {
            scraper_name: row.get("scraper_name"),
            attempts: row.get("attempts"),
            calls: row.get("calls"),
        })
        .collect();
    assert_eq!(rows, expected.retries_paid_off);
}

#[tokio::test]
async fn latest_status_per_scraper() {
    let (_dir, store) = fresh_store().await;
    let expected = queries::seed(&store).await;
    let rows: Vec<LatestStatusRow> = run(&store, queries::LATEST_STATUS)
        .await
        .iter()
        .map(|row| LatestStatusRow {
            scraper_name: row.get("scraper_name"),
            status: row.get("status"),
            started_at: time(row.get("started_at")),
            error_kind: row.get("error_kind"),
            error_message: row.get("error_message"),
            last_success_at: row.get::<Option<&str>, _>("last_success_at").map(time),
        })
        .collect();
    assert_eq!(rows, expected.latest_status);
}

#[tokio::test]
async fn attempts_per_error_kind() {
    let (_dir, store) = fresh_store().await;
    let expected = queries::seed(&store).await;
    let rows: Vec<ErrorKindRow> = run(&store, queries::ATTEMPTS_PER_ERROR_KIND)
        .await
        .iter()
        .map(|row| ErrorKindRow {
            error_kind: row.get("error_kind"),
            attempts: row.get("attempts"),
            retryable: row.get("retryable"),
            permanent: row.get("permanent"),
        })
        .collect();
    assert_eq!(rows, expected.attempts_per_error_kind);
}

#[tokio::test]
async fn scheduler_decisions_of_the_last_24_hours() {
    let (_dir, store) = fresh_store().await;
    let expected = queries::seed(&store).await;
    let rows: Vec<DecisionReportRow> = run(&store, queries::RECENT_DECISIONS)
        .await
        .iter()
        .map(|row| DecisionReportRow {
            decided_at: time(row.get("decided_at")),
            workflow_name: row.get("workflow_name"),
            target_date: NaiveDate::parse_from_str(row.get("target_date"), "%Y-%m-%d")
                .expect("target_date"),
            slot: row.get("slot"),
            action: row.get("action"),
            alert_level: row.get("alert_level"),
            reason: row.get("reason"),
            execution_id: row.get("execution_id"),
            run_state: row.get("run_state"),
            result_status: row.get("result_status"),
        })
        .collect();
    assert_eq!(rows, expected.recent_decisions);
}
