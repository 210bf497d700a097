//! Late data and lockouts on scrapers: `expected_within`, `expected_by`,
//! `recheck` and `lockout` (see docs/resilience.md).

use super::Resolver;
use crate::keypath::KeyPath;
use crate::raw::RawScraper;
use rebound_domain::duration::format_duration;
use rebound_domain::plan::{Due, Expectation, Lockout};
use std::time::Duration;

/// How long after a `not_yet_available` call to look again, when not written:
/// late vendors publish hours after a game, so checking every 2 hours finds
/// the data within 2 hours of its arrival at 24 checks over a 48 h deadline.
pub(crate) const DEFAULT_RECHECK: Duration = Duration::from_secs(2 * 3600);
/// Consecutive no_data/failures that lock an entity: the original system's
/// entity breaker tripped on the 3rd attempt.
pub(crate) const DEFAULT_LOCKOUT_AFTER: u32 = 3;
/// How long a lock lasts at most: the original's 7 days kept players locked
/// after their data arrived and was cut to 24 h; a new payload of the
/// fan-out's dataset releases a lock sooner anyway.
pub(crate) const DEFAULT_LOCKOUT_FOR: Duration = Duration::from_secs(24 * 3600);

impl Resolver<'_> {
    pub(super) fn expectation(&mut self, path: &KeyPath, raw: &RawScraper) -> Option<Expectation> {
        let due = match (&raw.expected_within, &raw.expected_by) {
            (Some(_), Some(_)) => {
                self.fail(
                    &path.key("expected_by"),
                    "give expected_within (per-event data) or expected_by (daily data), not both",
                );
                return None;
            }
            (Some(within), None) => {
                let key = path.key("expected_within");
                let after = self.duration(&key.key("after_event_start"), &within.after_event_start);
                let deadline = self.duration(&key.key("deadline"), &within.deadline);
                let (after, deadline) = (after?, deadline?);
                if deadline < after {
                    self.fail(
                        &key.key("deadline"),
                        format!(
                            "the deadline ({}) must not be earlier than after_event_start ({})",
                            format_duration(deadline),
                            format_duration(after)
                        ),
                    );
                    return None;
                }
                Due::AfterEventStart { after, deadline }
            }
            (None, Some(by)) => Due::By {
                time: self.time_of_day(&path.key("expected_by"), by)?,
            },
            (None, None) => {
                if raw.recheck.is_some() {
                    self.fail(
                        &path.key("recheck"),
                        "recheck needs expected_within or expected_by: without a deadline, no data is simply no_data",
                    );
                }
                return None;
            }
        };
        let recheck = match &raw.recheck {
            Some(text) => {
                let key = path.key("recheck");
                let recheck = self.duration(&key, text)?;
                if recheck.is_zero() {
                    self.fail(&key, "recheck must be longer than zero");
                    return None;
                }
                recheck
            }
            None => DEFAULT_RECHECK,
        };
        Some(Expectation { due, recheck })
    }

    pub(super) fn lockout(&mut self, path: &KeyPath, raw: &RawScraper) -> Option<Lockout> {
        let lockout = raw.lockout.as_ref()?;
        let key = path.key("lockout");
        if raw.for_each.is_none() {
            self.fail(
                &key,
                "lockout needs for_each: only a fanned-out scraper has entities (e.g. game ids) to lock",
            );
            return None;
        }
        let after = match lockout.after {
            Some(n) => self.at_least::<u32>(&key.key("after"), n, 1)?,
            None => DEFAULT_LOCKOUT_AFTER,
        };
        let duration = match &lockout.duration {
            Some(text) => {
                let for_key = key.key("for");
                let d = self.duration(&for_key, text)?;
                if d.is_zero() {
                    self.fail(&for_key, "a lockout must last longer than zero");
                    return None;
                }
                d
            }
            None => DEFAULT_LOCKOUT_FOR,
        };
        Some(Lockout { after, duration })
    }
}
