//! The record types of the dashboard's reads (issue 16): the aggregates
//! its overview charts draw (its runs table reads the API's
//! [`crate::Store::workflow_executions_page`]). The methods
//! are on [`crate::Store`], in its `Dashboard` block.
//!
//! Aggregates come back per UTC hour: SQL has no portable way to bucket
//! by a pipeline's zone (SQLite has no zone database at all), and an hour
//! folds into the local day it belongs to in Rust, exactly for every zone
//! whose offset is a whole number of hours.

use chrono::{DateTime, Utc};

/// Runs started (`execution_time`) in one UTC hour with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHourRow {
    /// The hour's first instant.
    pub hour: DateTime<Utc>,
    pub status: String,
    pub runs: i64,
}

/// Calls of one source started in one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallHourRow {
    /// The hour's first instant.
    pub hour: DateTime<Utc>,
    pub source_name: String,
    /// Every call started in the hour, whatever its status.
    pub calls: i64,
    /// Of those, the ones that made a request (at least one attempt): not
    /// skipped calls (breaker open, quota, lockout), nor calls deferred
    /// before their request because their source was paused. The health
    /// report's per-source calls count the same way.
    pub requested: i64,
    /// Of the calls that made a request, the ones that ended `failed`
    /// (no-data and overdue calls got an answer or are a late-data
    /// verdict). A call deferred before its request is recorded `failed`
    /// with no attempt; it is not counted, as the health report does not
    /// count it, so a paused source's hours do not read as failing ones.
    pub failed: i64,
}
