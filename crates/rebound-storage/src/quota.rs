//! Request quotas: one row per source and quota period
//! (`source_quota_usage`), shared by every process using the database.

use chrono::{DateTime, Utc};

/// Which period row a quota operation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaKey {
    pub source_name: String,
    /// `day` or `month`.
    pub period: String,
    pub period_start: DateTime<Utc>,
    /// When the quota resets (the next period's start).
    pub period_end: DateTime<Utc>,
}

/// One source's usage in one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaUsageRow {
    pub source_name: String,
    pub period: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Requests counted by Rebound in this period.
    pub requests: i64,
    /// The requests left the upstream last reported, if it does.
    pub remaining_reported: Option<i64>,
    /// When the 80 % warning was raised; `None` until then.
    pub warned_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The answer to [`crate::Store::quota_take`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaTake {
    /// One request was counted; the row after counting it.
    Granted(QuotaUsageRow),
    /// The quota is used up (counted requests reached the limit, or the
    /// upstream reported 0 remaining); nothing was counted.
    Refused(QuotaUsageRow),
}
