//! The history store: one trait, two backends (`rebound-storage-sqlite`,
//! `rebound-storage-postgres`), one conformance suite (`rebound-testkit`).
//!
//! This crate knows no SQL and no driver. Records are plain values; every
//! text in them has already been redacted by the caller (the engine), so a
//! backend never sees a secret.
//!
//! Contract tables (columns may be added, never renamed):
//! `workflow_executions`, `scraper_execution_log`, `scraper_attempts`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus, WorkflowStatus};

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or opened.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Schema migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(String),
}

/// One HTTP attempt of a scraper call.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttempt {
    /// 1-based.
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub outcome: AttemptOutcome,
    pub error_kind: Option<ErrorKind>,
    pub error_message: Option<String>,
    /// The wait before this attempt (0 for the first).
    pub delay_before_ms: i64,
}

/// One scraper call with all its attempts, written in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScraperCall {
    /// The workflow run; `None` for `rebound scrape`.
    pub execution_id: Option<String>,
    pub workflow_name: Option<String>,
    pub scraper_name: String,
    pub source_name: String,
    /// Parameters as a JSON object text, keys sorted.
    pub params: String,
    pub target_date: NaiveDate,
    pub status: ScraperStatus,
    /// Attempts made (0 when skipped).
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error_kind: Option<ErrorKind>,
    /// Non-empty for failed and skipped calls.
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// Body size of the final response, when there was one.
    pub bytes: Option<i64>,
    /// Where the payload is (for unchanged payloads: where it already was).
    pub output_uri: Option<String>,
    /// BLAKE3 hex of the payload.
    pub content_hash: Option<String>,
    /// True when the payload equals the previous one of the same scraper and
    /// params and was therefore not stored again.
    pub unchanged: bool,
    pub attempt_rows: Vec<NewAttempt>,
}

/// One finished workflow run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflowExecution {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    /// When the run started.
    pub execution_time: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: WorkflowStatus,
    /// Scraper calls planned (fan-out counted per call).
    pub scrapers_requested: u32,
    pub scrapers_succeeded: u32,
    pub scrapers_failed: u32,
    pub scrapers_no_data: u32,
    pub scrapers_skipped: u32,
    /// `scraper: message | scraper: message`, at most 1000 characters.
    pub error_message: Option<String>,
    pub duration_ms: i64,
    /// Parameters of the run as a JSON object text.
    pub params: String,
}

/// A stored workflow run, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowExecutionRow {
    pub execution_id: String,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub execution_time: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: String,
    pub scrapers_requested: i64,
    pub scrapers_succeeded: i64,
    pub scrapers_failed: i64,
    pub scrapers_no_data: i64,
    pub scrapers_skipped: i64,
    pub error_message: Option<String>,
    pub duration_ms: i64,
}

/// A stored scraper call, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ScraperCallRow {
    pub id: i64,
    pub execution_id: Option<String>,
    pub workflow_name: Option<String>,
    pub scraper_name: String,
    pub source_name: String,
    pub params: String,
    pub target_date: NaiveDate,
    pub status: String,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub bytes: Option<i64>,
    pub output_uri: Option<String>,
    pub content_hash: Option<String>,
    pub unchanged: bool,
}

/// A stored attempt, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub scraper_execution_id: i64,
    pub attempt: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub delay_before_ms: i64,
}

/// The last stored payload of a scraper with given params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRef {
    pub content_hash: String,
    pub output_uri: String,
}

/// The history store. Implementations must be safe to share across tasks;
/// each method is one transaction.
#[async_trait]
pub trait Store: Send + Sync {
    /// Which backend this is (`"sqlite"` or `"postgres"`), for messages.
    fn backend(&self) -> &'static str;

    /// Records a call and its attempts atomically; returns the call's `id`.
    async fn record_scraper_call(&self, call: &NewScraperCall) -> Result<i64, StoreError>;

    /// Records a finished workflow run.
    async fn record_workflow_execution(
        &self,
        execution: &NewWorkflowExecution,
    ) -> Result<(), StoreError>;

    /// The newest call of `scraper_name` with exactly these `params` that
    /// has a content hash and output URI (success or no_data), if any.
    async fn last_payload(
        &self,
        scraper_name: &str,
        params: &str,
    ) -> Result<Option<PayloadRef>, StoreError>;

    /// The newest workflow runs, newest first.
    async fn recent_workflow_executions(
        &self,
        limit: u32,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError>;

    /// The calls of one workflow run, in id order.
    async fn scraper_calls_for_execution(
        &self,
        execution_id: &str,
    ) -> Result<Vec<ScraperCallRow>, StoreError>;

    /// The newest calls made outside any workflow (`rebound scrape`), newest first.
    async fn recent_standalone_calls(&self, limit: u32) -> Result<Vec<ScraperCallRow>, StoreError>;

    /// The attempts of one call, in attempt order.
    async fn attempts_for_call(
        &self,
        scraper_execution_id: i64,
    ) -> Result<Vec<AttemptRow>, StoreError>;
}
