//! How often an ignored response header is warned of: once per source,
//! header and warning, then at most once an hour while it keeps coming.
//!
//! An upstream that always sends a malformed `Retry-After` or quota header
//! sends it on every attempt of every call, and a warning per attempt
//! floods the log the way the system Rebound replaces flooded its alerts
//! (hundreds of identical messages that buried the one that mattered). The
//! first occurrence is what an operator needs; after that, that it still
//! happens, and how often.
//!
//! Why an hourly window rather than once per process with a count in a
//! summary: the fetcher has no point at which to write a summary. Under
//! `rebound serve` the process lives for weeks and a call ends without
//! knowing whether it was the last; a warning said once at start-up and
//! never again reads, a day later, as a problem that went away. So the
//! warning comes back at most once an hour, carrying how many it stands
//! for (`suppressed`: the same warning left unlogged since the last one).
//!
//! The window is read from the fetcher's [`Clock`](rebound_domain::clock::Clock),
//! so tests move it on a manual clock. The map is bounded by the config:
//! its keys are the plan's sources times the fixed rate-limit headers and
//! each source's one quota header.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// The least time between two logged warnings of one (source, header,
/// warning).
pub(crate) const EVERY: chrono::Duration = chrono::Duration::hours(1);

/// Which warning an ignored header gets: a header may be both a rate-limit
/// header and a source's quota header, and each reading of it is its own
/// warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ignored {
    RateLimit,
    Quota,
}

#[derive(Debug)]
struct Logged {
    at: DateTime<Utc>,
    /// Occurrences since `at` that were not logged.
    suppressed: u64,
}

/// The warnings of ignored headers this process has logged.
#[derive(Debug, Default)]
pub(crate) struct HeaderWarnings {
    logged: Mutex<HashMap<(String, String, Ignored), Logged>>,
}

impl HeaderWarnings {
    /// Whether this occurrence is to be logged at `now`: `Some(n)` with the
    /// `n` occurrences left unlogged since the last logged one, or `None`
    /// (counted) when one was logged less than [`EVERY`] ago. A clock that
    /// went back logs at once rather than staying silent until it catches
    /// up.
    pub(crate) fn due(
        &self,
        source: &str,
        header: &str,
        ignored: Ignored,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        let key = (source.to_string(), header.to_ascii_lowercase(), ignored);
        match logged.get_mut(&key) {
            Some(last) if now >= last.at && now - last.at < EVERY => {
                last.suppressed = last.suppressed.saturating_add(1);
                None
            }
            Some(last) => {
                let suppressed = std::mem::take(&mut last.suppressed);
                last.at = now;
                Some(suppressed)
            }
            None => {
                logged.insert(
                    key,
                    Logged {
                        at: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }
}
