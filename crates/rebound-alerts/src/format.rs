//! How times read in messages: "3h 12m", "2d 4h", "45s".

use chrono::{DateTime, TimeDelta, Utc};

/// A duration in at most two units, rounded down: `5d 2h`, `3h 12m`,
/// `12m`, `45s` (the shared `format_duration_coarse`; negative is `0s`).
pub fn duration(d: TimeDelta) -> String {
    rebound_domain::duration::format_duration_coarse(d.to_std().unwrap_or_default())
}

/// `2026-01-15 04:00 UTC (3h 12m ago)`.
pub fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    format!(
        "{} ({} ago)",
        then.format("%Y-%m-%d %H:%M UTC"),
        duration(now - then)
    )
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
