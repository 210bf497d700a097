//! Late data: what a "no data" means for a scraper that declared when its
//! data is due (`expected_within` / `expected_by`). Pure: the time is a
//! parameter.
//!
//! Before the deadline the answer is `not_yet_available` (not a failure)
//! with a re-check time; at or after it, `overdue` (a failure) with a
//! message saying what was expected since when.

use crate::calendar::local_instant;
use crate::duration::{add_saturating, format_duration};
use crate::outcome::ScraperStatus;
use crate::plan::{Due, Expectation};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// What a no_data call of a scraper with an [`Expectation`] becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `NotYetAvailable` or `Overdue`.
    pub status: ScraperStatus,
    pub message: String,
    /// When to look again (not_yet_available only): `now + recheck`, but
    /// never after the deadline, so a miss is reported as overdue on time.
    pub recheck_at: Option<DateTime<Utc>>,
    /// When the data was expected.
    pub expected_at: DateTime<Utc>,
    /// From when missing data is overdue.
    pub deadline: DateTime<Utc>,
}

/// Judges a no_data answer at `now`. `event_start` is the start of the
/// call's calendar event, when it has one; `expected_within` without one is
/// counted from the local midnight that starts `target_date`.
pub fn judge_no_data(
    expected: &Expectation,
    tz: Tz,
    target_date: NaiveDate,
    event_start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    why: Option<&str>,
) -> Verdict {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string();
    let (expected_at, deadline, detail) = match expected.due {
        Due::AfterEventStart { after, deadline } => {
            let (anchor, anchor_text) = match event_start {
                Some(start) => (
                    start,
                    format!(
                        "the {} event start",
                        start.with_timezone(&tz).format("%H:%M")
                    ),
                ),
                None => (
                    crate::calendar::local_day_bounds(tz, target_date).0,
                    format!("the start of {target_date}"),
                ),
            };
            let expected_at = add_saturating(anchor, after);
            let deadline_at = add_saturating(anchor, deadline);
            let detail = format!(
                " ({} after {anchor_text}, deadline {}: {})",
                format_duration(after),
                format_duration(deadline),
                local(deadline_at)
            );
            (expected_at, deadline_at, detail)
        }
        Due::By { time } => {
            let at = local_instant(tz, target_date, time);
            (at, at, " (the deadline)".to_string())
        }
    };
    let why = why
        .filter(|w| !w.is_empty())
        .map(|w| format!("; last answer: {w}"))
        .unwrap_or_default();
    if now < deadline {
        let recheck_at = add_saturating(now, expected.recheck).min(deadline);
        Verdict {
            status: ScraperStatus::NotYetAvailable,
            message: format!(
                "not yet available: expected by {}{detail}; re-check at {}{why}",
                local(expected_at),
                local(recheck_at)
            ),
            recheck_at: Some(recheck_at),
            expected_at,
            deadline,
        }
    } else {
        Verdict {
            status: ScraperStatus::Overdue,
            message: format!(
                "overdue: expected by {}{detail}; still no data at {}{why}",
                local(expected_at),
                local(now)
            ),
            recheck_at: None,
            expected_at,
            deadline,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};
    use std::time::Duration;

    fn ny() -> Tz {
        "America/New_York".parse().unwrap()
    }

    fn within() -> Expectation {
        Expectation {
            due: Due::AfterEventStart {
                after: Duration::from_secs(6 * 3600),
                deadline: Duration::from_secs(48 * 3600),
            },
            recheck: Duration::from_secs(2 * 3600),
        }
    }

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let huge = Expectation {
            due: Due::AfterEventStart {
                after: Duration::MAX,
                deadline: Duration::MAX,
            },
            recheck: Duration::MAX,
        };
        let start = Utc.with_ymd_and_hms(2026, 1, 6, 0, 0, 0).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        for tz in [ny(), "Asia/Tokyo".parse().unwrap()] {
            let v = judge_no_data(&huge, tz, date, Some(start), start, None);
            assert_eq!(v.status, ScraperStatus::NotYetAvailable);
            assert_eq!(v.deadline, DateTime::<Utc>::MAX_UTC);
            assert_eq!(v.recheck_at, Some(DateTime::<Utc>::MAX_UTC));
        }
    }

    #[test]
    fn before_the_deadline_is_not_yet_available_with_a_recheck() {
        // 19:00 EST tip-off on 2026-01-05 = 00:00 UTC on the 6th.
        let start = Utc.with_ymd_and_hms(2026, 1, 6, 0, 0, 0).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let now = start + chrono::Duration::hours(7);
        let v = judge_no_data(&within(), ny(), date, Some(start), now, Some("HTTP 404"));
        assert_eq!(v.status, ScraperStatus::NotYetAvailable);
        assert_eq!(v.recheck_at, Some(now + chrono::Duration::hours(2)));
        assert_eq!(
            v.message,
            "not yet available: expected by 2026-01-06 01:00 EST (6h after the 19:00 event start, \
             deadline 2d: 2026-01-07 19:00 EST); re-check at 2026-01-06 04:00 EST; last answer: HTTP 404"
        );
        // A re-check never goes past the deadline.
        let late = start + chrono::Duration::hours(47);
        let v = judge_no_data(&within(), ny(), date, Some(start), late, None);
        assert_eq!(v.recheck_at, Some(start + chrono::Duration::hours(48)));
    }

    #[test]
    fn at_the_deadline_is_overdue_saying_what_was_expected() {
        let start = Utc.with_ymd_and_hms(2026, 1, 6, 0, 0, 0).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let v = judge_no_data(
            &within(),
            ny(),
            date,
            Some(start),
            start + chrono::Duration::hours(48),
            None,
        );
        assert_eq!(v.status, ScraperStatus::Overdue);
        assert_eq!(v.recheck_at, None);
        assert_eq!(
            v.message,
            "overdue: expected by 2026-01-06 01:00 EST (6h after the 19:00 event start, deadline 2d: \
             2026-01-07 19:00 EST); still no data at 2026-01-07 19:00 EST"
        );
    }

    #[test]
    fn without_an_event_the_local_midnight_anchors_and_expected_by_is_local() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 1, 5, 5, 0, 0).unwrap();
        let v = judge_no_data(&within(), ny(), date, None, midnight, None);
        assert_eq!(v.expected_at, midnight + chrono::Duration::hours(6));
        assert!(
            v.message.contains("6h after the start of 2026-01-05"),
            "{}",
            v.message
        );
        let by = Expectation {
            due: Due::By {
                time: NaiveTime::from_hms_opt(15, 0, 0).unwrap(),
            },
            recheck: Duration::from_secs(3600),
        };
        let deadline = Utc.with_ymd_and_hms(2026, 1, 5, 20, 0, 0).unwrap();
        let before = judge_no_data(
            &by,
            ny(),
            date,
            None,
            deadline - chrono::Duration::minutes(30),
            None,
        );
        assert_eq!(before.status, ScraperStatus::NotYetAvailable);
        assert_eq!(before.recheck_at, Some(deadline));
        let after = judge_no_data(&by, ny(), date, None, deadline, None);
        assert_eq!(after.status, ScraperStatus::Overdue);
        assert!(
            after.message.starts_with(
                "overdue: expected by 2026-01-05 15:00 EST (the deadline); still no data"
            ),
            "{}",
            after.message
        );
    }
}
