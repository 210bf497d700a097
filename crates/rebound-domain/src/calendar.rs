//! Calendar events: what "a game day" and "the games of a date" mean.
//!
//! Events are extracted from a stored payload by `rebound-engine` (JSONPath)
//! and consumed by the scheduler's rules and by fan-out. A date's events are
//! those whose start, seen in the pipeline's zone, falls on that date; never
//! the UTC date (a 19:30 ET tip-off is 00:30 UTC the next day).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// One event of a calendar (e.g. one game).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub id: String,
    pub start: DateTime<Utc>,
}

/// The events starting on `date` in zone `tz`, in start order (then id).
pub fn events_on(events: &[Event], tz: Tz, date: NaiveDate) -> Vec<Event> {
    let mut out: Vec<Event> = events
        .iter()
        .filter(|e| e.start.with_timezone(&tz).date_naive() == date)
        .cloned()
        .collect();
    out.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    out.dedup_by(|a, b| a.id == b.id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_late_tip_off_belongs_to_the_local_date_not_the_utc_one() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let late = Event {
            id: "g1".into(),
            // 19:30 EST on 2026-01-05 is 00:30 UTC on 2026-01-06.
            start: Utc.with_ymd_and_hms(2026, 1, 6, 0, 30, 0).unwrap(),
        };
        let d5 = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let d6 = NaiveDate::from_ymd_opt(2026, 1, 6).unwrap();
        assert_eq!(
            events_on(std::slice::from_ref(&late), ny, d5),
            vec![late.clone()]
        );
        assert!(events_on(&[late], ny, d6).is_empty());
    }
}
