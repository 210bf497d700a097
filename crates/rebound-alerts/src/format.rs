//! How times read in messages: "3h 12m", "2d 4h", "45s".

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// A duration in at most two units, rounded down: `5d 2h`, `3h 12m`,
/// `12m`, `45s` (the shared `format_duration_coarse`; negative is `0s`).
pub fn duration(d: TimeDelta) -> String {
    rebound_domain::duration::format_duration_coarse(d.to_std().unwrap_or_default())
}

/// `2026-01-14 23:00 EST (-05:00), 3h 12m ago`: in the pipeline's zone,
/// like every time people read (docs/output.md).
pub fn ago(now: DateTime<Utc>, then: DateTime<Utc>, tz: Tz) -> String {
    format!("{}, {} ago", when(then, tz), duration(now - then))
}

/// `2026-01-14 23:00 EST (-05:00)`.
pub fn when(t: DateTime<Utc>, tz: Tz) -> String {
    rebound_domain::message::when(t, tz)
}

/// `83%`.
pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::duration;
    use chrono::TimeDelta;

    #[test]
    fn durations_read_in_two_units() {
        let cases = [
            (45, "45s"),
            (60, "1m"),
            (12 * 60 + 59, "12m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 12 * 60 + 30, "3h 12m"),
            (86_400, "1d"),
            (5 * 86_400 + 2 * 3600 + 59 * 60, "5d 2h"),
            (-5, "0s"),
        ];
        for (secs, text) in cases {
            assert_eq!(duration(TimeDelta::seconds(secs)), text, "{secs}");
        }
    }
}
