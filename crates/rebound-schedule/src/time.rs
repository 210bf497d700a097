//! Local wall-clock time ↔ instants, with the crate's one DST rule, and the
//! small formatting helpers reasons use.
//!
//! Keeping the conversion in one function is what makes "runs once" hold on
//! DST days: every kind builds its slots from local times and converts them
//! here, never through a library's own (different) gap handling.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// The one DST rule (gap → first instant after it; repeated time → the
/// earlier instant) lives in `rebound-domain`, shared with late-data
/// deadlines and the `{day_start_utc}` parameters.
pub use rebound_domain::calendar::local_instant;

/// The local date of an instant.
pub(crate) fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The instant of local midnight starting `date`.
pub(crate) fn midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_instant(tz, date, NaiveTime::MIN)
}

/// The next local midnight after `now`.
pub(crate) fn next_midnight(tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    midnight(tz, local_date(tz, now) + Duration::days(1))
}

/// `HH:MM`, the form of slot names and of times in reasons.
pub(crate) fn hhmm(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

/// The local `HH:MM` of an instant.
pub(crate) fn local_hhmm(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz).format("%H:%M").to_string()
}

/// An instant as a person reads it in the pipeline's zone.
pub(crate) fn local_stamp(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `6h`, `30m`, `1h30m`: durations in reasons, written the way configs are.
pub(crate) fn dur(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A `std` duration as a chrono one, saturating instead of failing on
/// absurd configs (a scheduler must not panic on a huge `catch_up`).
pub(crate) fn chrono_dur(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::days(365 * 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Tz {
        "America/New_York".parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn dst_gap_maps_to_the_end_of_the_gap_and_overlap_to_the_earlier_instant() {
        let cases = [
            // (date, local time, expected instant)
            ("2026-03-08", "02:30", "2026-03-08T07:00:00Z"), // gap → 03:00 EDT
            ("2026-03-08", "02:00", "2026-03-08T07:00:00Z"),
            ("2026-03-08", "03:00", "2026-03-08T07:00:00Z"),
            ("2026-03-08", "01:59", "2026-03-08T06:59:00Z"),
            ("2026-11-01", "01:30", "2026-11-01T05:30:00Z"), // EDT, not EST
            ("2026-11-01", "02:00", "2026-11-01T07:00:00Z"),
            ("2026-01-05", "19:00", "2026-01-06T00:00:00Z"),
        ];
        for (date, time, want) in cases {
            let got = local_instant(
                ny(),
                date.parse().unwrap(),
                NaiveTime::parse_from_str(time, "%H:%M").unwrap(),
            );
            assert_eq!(got, utc(want), "{date} {time}");
        }
    }

    #[test]
    fn durations_read_like_config() {
        let cases = [
            (6 * 3600, "6h"),
            (30 * 60, "30m"),
            (5400, "1h30m"),
            (90, "1m30s"),
        ];
        for (secs, want) in cases {
            assert_eq!(dur(std::time::Duration::from_secs(secs)), want);
        }
    }
}
