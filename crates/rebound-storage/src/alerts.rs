//! Alert incidents and their notifications (`alert_incidents`, `alerts`,
//! migration 0007), shared by every process using the database.
//!
//! An incident is one problem (a condition about a subject) from the moment
//! it is seen until it is gone; at most one is open per (condition,
//! subject), which a unique index enforces, so two schedulers sharing
//! PostgreSQL cannot both open it (the second gets `None` and sends
//! nothing). Every notification is one `alerts` row per sink with its
//! delivery status; suppressed ones are rows too, never silently dropped.
//! Texts are written by the alerts layer, already redacted; sink URLs are
//! never stored (only sink names).

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One incident, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertIncidentRow {
    pub id: i64,
    /// e.g. `source_unhealthy`.
    pub condition: String,
    /// What it is about (a source, dataset, workflow or scraper name).
    pub subject: String,
    /// `warning` or `critical`: the level now.
    pub level: String,
    /// The worst level it reached while open.
    pub peak_level: String,
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    /// The last evaluation that still saw it.
    pub last_seen_at: DateTime<Utc>,
    /// The last notification decided for it (sent or suppressed).
    pub last_notified_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The incident that caused this one, as `condition subject` (e.g.
    /// `source_unhealthy balldontlie`): while set, its notices are stored
    /// suppressed with that reason (migration 0018; docs/alerts.md).
    pub caused_by: Option<String>,
}

/// An incident to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlertIncident {
    pub condition: String,
    pub subject: String,
    pub level: String,
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    /// `Some(opened_at)` when the "opened" notification was decided.
    pub last_notified_at: Option<DateTime<Utc>>,
    /// See [`AlertIncidentRow::caused_by`].
    pub caused_by: Option<String>,
}

/// A change to an open incident seen again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertIncidentUpdate {
    pub id: i64,
    pub level: String,
    pub peak_level: String,
    pub summary: String,
    pub last_seen_at: DateTime<Utc>,
    /// `Some((previous, now))` when a notification was decided: the update
    /// applies only while `last_notified_at` is still `previous`, so of two
    /// evaluators deciding the same reminder only one records it.
    pub notified: Option<(Option<DateTime<Utc>>, DateTime<Utc>)>,
    /// The cause it is grouped under now ([`AlertIncidentRow::caused_by`]);
    /// `None` once it is announced on its own.
    pub caused_by: Option<String>,
}

/// The start of the reason stored on a notice held back because its
/// incident is caused by another (`caused by source_unhealthy X`). Such
/// notices are neither sent nor held back by a rate limit, so
/// [`AlertStore::alert_stamps_since`] leaves them out.
pub const CAUSED_BY_PREFIX: &str = "caused by ";

/// `pending` (to deliver), `delivered`, `failed` (gave up) or `suppressed`
/// (held back by a rate limit; never sent).
pub const DELIVERY_STATUSES: [&str; 4] = ["pending", "delivered", "failed", "suppressed"];

/// One notification for one sink, to insert with an incident change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// The sink's name (never its URL).
    pub sink: String,
    /// `opened`, `renotify` or `recovered`.
    pub event: String,
    /// The incident's level at the time.
    pub level: String,
    /// The human text (what Slack shows).
    pub message: String,
    /// The JSON document a webhook sink posts.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    /// `pending` or `suppressed`.
    pub delivery_status: String,
    /// For `pending`: when to try first (usually `created_at`).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// For `suppressed`: which limit held it back.
    pub last_error: Option<String>,
}

/// One stored notification, with its incident's condition and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub id: i64,
    pub incident_id: i64,
    pub condition: String,
    pub subject: String,
    pub sink: String,
    pub event: String,
    pub level: String,
    pub message: String,
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub delivery_status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One notification decision (all its sink rows together), for rate
/// limits. Notices suppressed because a cause was open
/// ([`CAUSED_BY_PREFIX`]) are not stamps: the caps never counted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertStamp {
    pub condition: String,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    /// True when every row of it was suppressed.
    pub suppressed: bool,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        at: DateTime<Utc>,
    },
    /// Failed; try again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// Failed for good (too many attempts, or the sink is gone).
    Failed {
        error: String,
    },
}

/// Store methods of the alerts layer; see the module docs.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Open incidents, oldest first.
    async fn open_alert_incidents(&self) -> Result<Vec<AlertIncidentRow>, StoreError>;

    /// Incidents opened or resolved since `since`, newest first, at most `limit`.
    async fn recent_alert_incidents(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertIncidentRow>, StoreError>;

    /// Opens an incident and inserts its notifications, atomically. `None`
    /// (and nothing written) when one is already open for the same
    /// condition and subject.
    async fn open_alert_incident(
        &self,
        incident: &NewAlertIncident,
        alerts: &[NewAlert],
    ) -> Result<Option<AlertIncidentRow>, StoreError>;

    /// Updates an open incident and inserts its notifications, atomically.
    /// False (and nothing written) when it is resolved, unknown, or its
    /// `last_notified_at` is no longer the expected one.
    async fn update_alert_incident(
        &self,
        update: &AlertIncidentUpdate,
        alerts: &[NewAlert],
    ) -> Result<bool, StoreError>;

    /// Resolves an open incident and inserts its notifications,
    /// atomically. False (and nothing written) when it was not open.
    async fn resolve_alert_incident(
        &self,
        id: i64,
        resolved_at: DateTime<Utc>,
        alerts: &[NewAlert],
    ) -> Result<bool, StoreError>;

    /// One stamp per notification decision created at or after `since`,
    /// oldest first; rows suppressed with a [`CAUSED_BY_PREFIX`] reason
    /// are left out.
    async fn alert_stamps_since(&self, since: DateTime<Utc>)
    -> Result<Vec<AlertStamp>, StoreError>;

    /// Takes up to `limit` pending notifications due at `now` (oldest
    /// first): counts an attempt on each and moves its `next_attempt_at` to
    /// `lease_until`, so another deliverer does not take it meanwhile (and
    /// a deliverer that dies leaves it to be retried then).
    async fn claim_due_alerts(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError>;

    /// Records how a claimed delivery ended.
    async fn record_alert_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
    ) -> Result<(), StoreError>;

    /// Notifications, newest first, at most `limit`.
    async fn recent_alerts(&self, limit: u32) -> Result<Vec<AlertRow>, StoreError>;

    /// Deletes incidents resolved before `cutoff`, with their
    /// notifications, at most `batch` incidents per call (call again until
    /// it returns 0). Returns the rows deleted (incidents and
    /// notifications). Open incidents are never deleted.
    async fn purge_alerts_before(
        &self,
        cutoff: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64, StoreError>;

    /// What [`AlertStore::purge_alerts_before`] would delete at `cutoff`,
    /// deleting nothing: incidents resolved before it plus their
    /// notifications (for `rebound purge --dry-run`).
    async fn count_alerts_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
}
