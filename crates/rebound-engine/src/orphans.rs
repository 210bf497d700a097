//! Payloads whose record was lost: stored in the raw store, then the
//! call's row could not be written (a database outage, most often).
//!
//! A payload is written before its row, so a row never points at a
//! missing file; the price is a file with no row when the row fails. The
//! run is made again once its lease runs out and stores its payload anew,
//! so the first file is left behind, and retention, which deletes the
//! payloads of the rows it purges, never sees it.
//!
//! The engine remembers such a payload and, once [`SETTLE`] has passed on
//! its clock, asks the history whether a row points at it after all (a
//! write whose answer was lost may have committed) and deletes it only
//! when none does. The check is made after a later call's row was
//! written, so the history is back. What is remembered lives in this
//! process: a payload left behind by a process that then exits stays in
//! the raw store.

use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// How long a payload whose row failed is kept before the check: longer
/// than any write can stay undecided (PostgreSQL's reply bound is the
/// statement timeout and a margin; SQLite's busy timeout is 10 s), so a
/// row that did commit is seen.
pub(crate) const SETTLE: chrono::Duration = chrono::Duration::minutes(10);

/// A payload stored for a call whose row could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Orphan {
    pub uri: String,
    pub scraper: String,
    /// The call's parameters as its row holds them.
    pub params: String,
    /// When its row failed.
    pub since: DateTime<Utc>,
}

/// The payloads waiting for their check.
#[derive(Debug, Default)]
pub(crate) struct Orphans {
    pending: Mutex<Vec<Orphan>>,
}

impl Orphans {
    pub fn remember(&self, orphan: Orphan) {
        self.lock().push(orphan);
    }

    /// Takes the payloads remembered at least [`SETTLE`] before `now`.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<Orphan> {
        let mut pending = self.lock();
        if pending.is_empty() {
            return Vec::new();
        }
        let (due, wait): (Vec<Orphan>, Vec<Orphan>) = pending.drain(..).partition(|o| {
            o.since
                .checked_add_signed(SETTLE)
                .is_some_and(|at| at <= now)
        });
        *pending = wait;
        due
    }

    /// Puts back payloads whose check could not be made.
    pub fn put_back(&self, orphans: Vec<Orphan>) {
        self.lock().extend(orphans);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Orphan>> {
        // A panic while holding it leaves a plain list: still usable.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orphan(uri: &str, since: DateTime<Utc>) -> Orphan {
        Orphan {
            uri: uri.to_string(),
            scraper: "s".to_string(),
            params: "{}".to_string(),
            since,
        }
    }

    #[test]
    fn a_payload_is_due_for_its_check_once_it_has_settled() {
        let t0: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let orphans = Orphans::default();
        orphans.remember(orphan("a", t0));
        orphans.remember(orphan("b", t0 + chrono::Duration::minutes(5)));
        assert!(
            orphans
                .due(t0 + SETTLE - chrono::Duration::seconds(1))
                .is_empty()
        );
        assert_eq!(orphans.due(t0 + SETTLE), vec![orphan("a", t0)]);
        assert!(orphans.due(t0 + SETTLE).is_empty(), "taken once");
        let b = orphans.due(t0 + SETTLE + chrono::Duration::minutes(5));
        assert_eq!(b.len(), 1);
        orphans.put_back(b);
        assert_eq!(orphans.due(t0 + chrono::Duration::hours(1)).len(), 1);
    }
}
