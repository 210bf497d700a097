//! Runs every PostgreSQL query of `docs/queries.md` against seeded history
//! and checks its exact result, so the document cannot drift from the
//! schema.

use crate::with_store;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_storage_postgres::PostgresStore;
use rebound_testkit::store_conformance::queries::{
    self, CoverageRow, DecisionReportRow, ErrorKindRow, FailureRateRow, LatestStatusRow,
    RetriedRow, SqlBlock,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};

fn document() -> Vec<SqlBlock> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/queries.md");
    let markdown = std::fs::read_to_string(path).expect("read docs/queries.md");
    queries::dialect_queries(&markdown, "postgres")
}

fn query(heading: &str) -> String {
    document()
        .into_iter()
        .find(|block| block.heading == heading)
        .unwrap_or_else(|| panic!("no query under {heading:?}"))
        .sql
}

async fn run(store: &PostgresStore, heading: &str) -> Vec<PgRow> {
    sqlx::query(AssertSqlSafe(query(heading)))
        .fetch_all(store.pool())
        .await
        .unwrap_or_else(|e| panic!("query {heading:?} failed: {e}"))
}

#[test]
fn every_heading_has_one_postgres_query() {
    let headings: Vec<String> = document().into_iter().map(|b| b.heading).collect();
    assert_eq!(headings, queries::HEADINGS);
}

#[tokio::test]
async fn failure_rate_per_workflow_per_day() {
    with_store(|store| async move {
        let expected = queries::seed(&*store).await;
        let rows: Vec<FailureRateRow> = run(&store, queries::FAILURE_RATE)
            .await
            .iter()
            .map(|row| FailureRateRow {
                workflow_name: row.get("workflow_name"),
                day: row.get::<NaiveDate, _>("day"),
                runs: row.get("runs"),
                failed: row.get("failed"),
                partial: row.get("partial"),
                failure_rate_pct: row.get("failure_rate_pct"),
                failed_or_partial_pct: row.get("failed_or_partial_pct"),
            })
            .collect();
        assert_eq!(rows, expected.failure_rate);
    })
    .await;
}

async fn coverage(store: &PostgresStore) -> CoverageRow {
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
    with_store(|store| async move {
        let expected = queries::seed(&*store).await;
        assert_eq!(coverage(&store).await, expected.coverage);

        // The Store is never asked to write a failure without a reason, so
        // the rows that must lower coverage go in by hand: one NULL, one
        // blank.
        sqlx::query(
            "INSERT INTO scraper_execution_log (scraper_name, source_name, params, \
                target_date, status, attempts, error_message, started_at, finished_at, \
                duration_ms, unchanged) \
             VALUES \
                ('raw', 'sim', '{}', '2026-01-01', 'failed', 1, NULL, \
                 now() - interval '10 minutes', now() - interval '10 minutes', 0, false), \
                ('raw', 'sim', '{}', '2026-01-01', 'skipped', 0, '  ', \
                 now() - interval '10 minutes', now() - interval '10 minutes', 0, false)",
        )
        .execute(store.pool())
        .await
        .expect("insert calls without message");
        assert_eq!(coverage(&store).await, expected.coverage_with_two_missing);
    })
    .await;
}

#[tokio::test]
async fn retries_that_paid_off() {
    with_store(|store| async move {
        let expected = queries::seed(&*store).await;
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
    })
    .await;
}

#[tokio::test]
async fn latest_status_per_scraper() {
    with_store(|store| async move {
        let expected = queries::seed(&*store).await;
        let rows: Vec<LatestStatusRow> = run(&store, queries::LATEST_STATUS)
            .await
            .iter()
            .map(|row| LatestStatusRow {
                scraper_name: row.get("scraper_name"),
                status: row.get("status"),
                started_at: row.get::<DateTime<Utc>, _>("started_at"),
                error_kind: row.get("error_kind"),
                error_message: row.get("error_message"),
                last_success_at: row.get("last_success_at"),
            })
            .collect();
        assert_eq!(rows, expected.latest_status);
    })
    .await;
}

#[tokio::test]
async fn attempts_per_error_kind() {
    with_store(|store| async move {
        let expected = queries::seed(&*store).await;
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
    })
    .await;
}

#[tokio::test]
async fn scheduler_decisions_of_the_last_24_hours() {
    with_store(|store| async move {
        let expected = queries::seed(&*store).await;
        let rows: Vec<DecisionReportRow> = run(&store, queries::RECENT_DECISIONS)
            .await
            .iter()
            .map(|row| DecisionReportRow {
                decided_at: row.get("decided_at"),
                workflow_name: row.get("workflow_name"),
                target_date: row.get("target_date"),
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
    })
    .await;
}
