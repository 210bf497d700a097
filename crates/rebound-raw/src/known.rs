//! Objects recently seen to exist, so that reusing a stored payload for an
//! unchanged call does not ask the store every time.
//!
//! An answer is trusted for [`TRUST_FOR`]: long enough that a scraper
//! called every minute checks its object a handful of times an hour, short
//! enough that an object deleted under a long-running `rebound serve` is
//! noticed, and stored again, within minutes. A read that finds the object
//! gone forgets it at once. Times come from the caller's clock.
//!
//! Bounded: past [`CAPACITY`] entries, the stale ones are dropped, and if
//! all are fresh, all of them (each then costs one more check).

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// How long a confirmed object is trusted to still exist.
pub const TRUST_FOR: TimeDelta = TimeDelta::minutes(10);

/// Entries kept at most (a URI is about 150 bytes: some 15 MB).
const CAPACITY: usize = 100_000;

#[derive(Debug, Default)]
pub(crate) struct KnownObjects {
    /// URI → when it was last seen to exist.
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl KnownObjects {
    /// A poisoned lock only means another caller panicked; the map is
    /// still a valid cache.
    fn seen(&self) -> MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `uri` was seen to exist within [`TRUST_FOR`] before `now`.
    /// A clock that went back counts as fresh: the answer is that recent.
    pub(crate) fn trusts(&self, uri: &str, now: DateTime<Utc>) -> bool {
        self.seen()
            .get(uri)
            .is_some_and(|&seen| now.signed_duration_since(seen) < TRUST_FOR)
    }

    pub(crate) fn remember(&self, uri: &str, now: DateTime<Utc>) {
        let mut seen = self.seen();
        if seen.len() >= CAPACITY && !seen.contains_key(uri) {
            seen.retain(|_, &mut at| now.signed_duration_since(at) < TRUST_FOR);
            if seen.len() >= CAPACITY {
                seen.clear();
            }
        }
        seen.insert(uri.to_string(), now);
    }

    pub(crate) fn forget(&self, uri: &str) {
        self.seen().remove(uri);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn trusted_for_a_while_then_asked_again() {
        let known = KnownObjects::default();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap();
        assert!(!known.trusts("file:///r/a.json", t0));
        known.remember("file:///r/a.json", t0);
        assert!(known.trusts("file:///r/a.json", t0 + TimeDelta::minutes(9)));
        assert!(!known.trusts("file:///r/a.json", t0 + TRUST_FOR));
        assert!(known.trusts("file:///r/a.json", t0 - TimeDelta::minutes(1)));
        known.forget("file:///r/a.json");
        assert!(!known.trusts("file:///r/a.json", t0));
    }

    #[test]
    fn stays_bounded() {
        let known = KnownObjects::default();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap();
        for i in 0..CAPACITY {
            known.remember(&format!("u{i}"), t0);
        }
        let later = t0 + TRUST_FOR;
        known.remember("fresh", later);
        assert_eq!(known.seen().len(), 1, "the stale entries are dropped");
        assert!(known.trusts("fresh", later));
    }
}
