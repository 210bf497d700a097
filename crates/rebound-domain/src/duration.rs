//! Human durations as written in config files: `"250ms"`, `"2s"`, `"5m"`,
//! `"1h"`, `"1d"`, and compounds such as `"1h30m"`.

use std::time::Duration;

/// `t + d`, or the latest instant chrono can represent when that would
/// overflow. Config durations are bounded at load, but waits also come from
/// upstream headers (`Retry-After: 1e30`) and `Duration::MAX` sentinels;
/// chrono's `DateTime + TimeDelta` panics on overflow, so every "instant
/// plus a duration" in Rebound goes through here instead.
pub fn add_saturating(
    t: chrono::DateTime<chrono::Utc>,
    d: Duration,
) -> chrono::DateTime<chrono::Utc> {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|delta| t.checked_add_signed(delta))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// `t - d`, or the earliest instant chrono can represent when that would
/// underflow (a `--since` of centuries, say).
pub fn sub_saturating(
    t: chrono::DateTime<chrono::Utc>,
    d: Duration,
) -> chrono::DateTime<chrono::Utc> {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|delta| t.checked_sub_signed(delta))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

/// A std duration as chrono's, capped at chrono's largest `TimeDelta`
/// (about 292 million years) instead of failing.
pub fn to_chrono_saturating(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// Parses a duration string; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("expected a duration such as \"250ms\", \"2s\", \"5m\" or \"1h\", found an empty string".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    // Each unit once, largest first ("1h30m"): "1h1h" read as 2h, and
    // "30m1h" was as likely a typo as a sum.
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(format!(
                "expected a duration such as \"250ms\", \"2s\", \"5m\" or \"1h\", found \"{text}\""
            ));
        }
        let number: u64 = rest[..digits_end]
            .parse()
            .map_err(|_| format!("number too large in duration \"{text}\""))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        if let Some(rank) = ["ms", "s", "m", "h", "d"].iter().position(|u| *u == unit) {
            if rank >= last_rank {
                return Err(format!(
                    "duration \"{text}\" repeats a unit or puts a smaller one first; give each unit once, largest first, e.g. \"1h30m\""
                ));
            }
            last_rank = rank;
        }
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "d" => Duration::from_secs(number.saturating_mul(86_400)),
            "" => {
                return Err(format!(
                    "duration \"{text}\" needs a unit (ms, s, m, h or d), e.g. \"{number}s\""
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit \"{other}\" in duration \"{text}\"; use ms, s, m, h or d"
                ));
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// Formats a duration the way people write it: `"20s"`, `"1m 30s"`, `"250ms"`, `"3h 12m"`.
pub fn format_duration(duration: Duration) -> String {
    let total_ms = duration.as_millis();
    if total_ms < 1000 {
        return format!("{total_ms}ms");
    }
    let total_secs = duration.as_secs();
    if total_secs < 60 {
        let tenths = (total_ms % 1000) / 100;
        return if tenths == 0 {
            format!("{total_secs}s")
        } else {
            format!("{total_secs}.{tenths}s")
        };
    }
    let days = total_secs / 86_400;
    let hours = (total_secs % 86_400) / 3600;
    let minutes = (total_secs % 3600) / 60;
    let seconds = total_secs % 60;
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    parts.join(" ")
}

/// Formats a duration in at most two units, rounded down, for messages
/// where the seconds are noise: `"5d 2h"`, `"3h 12m"`, `"12m"`, `"45s"`.
pub fn format_duration_coarse(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (days, hours, minutes) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_absurd_durations_saturates_instead_of_panicking() {
        let t = chrono::DateTime::<chrono::Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            add_saturating(t, Duration::MAX),
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        );
        assert_eq!(
            add_saturating(t, Duration::from_secs(u64::MAX / 2)),
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        );
        assert_eq!(
            add_saturating(t, Duration::from_secs(60)).timestamp(),
            1_700_000_060
        );
        assert_eq!(
            sub_saturating(t, Duration::MAX),
            chrono::DateTime::<chrono::Utc>::MIN_UTC
        );
        assert_eq!(
            sub_saturating(t, Duration::from_secs(60)).timestamp(),
            1_699_999_940
        );
        assert_eq!(to_chrono_saturating(Duration::MAX), chrono::TimeDelta::MAX);
    }

    #[test]
    fn parses_the_documented_forms() {
        let table = [
            ("250ms", Duration::from_millis(250)),
            ("2s", Duration::from_secs(2)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86_400)),
            ("1h30m", Duration::from_secs(5400)),
            (" 10s ", Duration::from_secs(10)),
        ];
        for (text, expected) in table {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_bad_forms_with_a_reason() {
        for (text, needle) in [
            ("", "empty"),
            ("10", "needs a unit"),
            ("10 sec", "unknown unit"),
            ("fast", "expected a duration"),
            ("5w", "unknown unit \"w\""),
            // Before: read as 2h and 90m.
            ("1h1h", "repeats a unit"),
            ("30m1h", "puts a smaller one first"),
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(20)), "20s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m 30s");
        assert_eq!(
            format_duration(Duration::from_secs(3 * 3600 + 12 * 60)),
            "3h 12m"
        );
    }
}
