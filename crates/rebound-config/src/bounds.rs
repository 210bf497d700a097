//! Upper bounds of every duration and count in the config.
//!
//! Without them `rebound check` accepted values that panic or never end at
//! run time: `max_concurrency` above what a semaphore can hold, a breaker
//! `open_for` of `18446744073709551615s` added to "now", a `timeout` no
//! request outlives. Each bound is far above anything an operator would
//! set on purpose and far below where arithmetic on instants overflows, so
//! a value above it is a typo or a test of Rebound, reported at load with
//! its line and column. The table in `docs/resilience.md` ("Bounds") lists
//! the same values; a test keeps the two in step.
//!
//! A key is matched by the last segments of its path (`breaker.window`
//! before `window`), so a bound applies wherever the key is written
//! (top-level `[retry]`, a source's, a scraper's). Keys not listed get the
//! defaults at the end of each table.

use crate::keypath::KeyPath;
use std::time::Duration;

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `(key path suffix, longest allowed)`, most specific first.
pub(crate) const DURATION_BOUNDS: &[(&[&str], Duration)] = &[
    (&["pipeline", "retention"], secs(3_650 * DAY)),
    (&["retry", "initial_delay"], secs(HOUR)),
    (&["retry", "max_delay"], secs(DAY)),
    (&["retry", "max_retry_after"], secs(DAY)),
    (&["breaker", "window"], secs(7 * DAY)),
    (&["breaker", "open_for"], secs(7 * DAY)),
    (&["breaker", "max_open_for"], secs(7 * DAY)),
    (&["retry_budget", "window"], secs(7 * DAY)),
    (&["proxy_breaker", "open_for"], secs(7 * DAY)),
    (&["scheduler", "lease"], secs(DAY)),
    (&["scheduler", "catch_up"], secs(30 * DAY)),
    (&["scheduler", "max_idle"], secs(DAY)),
    (&["scheduler", "shutdown_grace"], secs(HOUR)),
    (&["scheduler", "max_inline_wait"], secs(HOUR)),
    (&["refresh", "max_age"], secs(365 * DAY)),
    (&["refresh", "override_max_age"], secs(365 * DAY)),
    (&["schedule", "every"], secs(DAY)),
    (&["schedule", "lead"], secs(DAY)),
    (&["schedule", "tolerance"], secs(DAY)),
    (&["schedule", "after_event_start"], secs(7 * DAY)),
    (&["expected_within", "after_event_start"], secs(7 * DAY)),
    (&["expected_within", "deadline"], secs(7 * DAY)),
    (&["complete_by", "after_event_start"], secs(7 * DAY)),
    (&["recheck"], secs(DAY)),
    (&["lockout", "for"], secs(365 * DAY)),
    (&["fresh_warn"], secs(365 * DAY)),
    (&["fresh_error"], secs(365 * DAY)),
    (&["alerts", "renotify"], secs(30 * DAY)),
    (&["alerts", "evaluate_every"], secs(DAY)),
    (&["handoff", "publish_wait"], secs(HOUR)),
    (&["handoff", "redeliver_after"], secs(7 * DAY)),
    (&["source_unhealthy", "grace"], secs(30 * DAY)),
    // A source's, a scraper's, a health probe's and an alert sink's `timeout`.
    (&["timeout"], secs(HOUR)),
];

/// Any other duration (a key added later, say).
pub(crate) const DEFAULT_DURATION_MAX: Duration = secs(3_650 * DAY);

/// `(key path suffix, largest allowed)`, most specific first.
pub(crate) const COUNT_BOUNDS: &[(&[&str], i64)] = &[
    // Far below tokio's semaphore limit (`Semaphore::MAX_PERMITS`, which
    // panics above it) and far above any upstream's tolerance.
    (&["max_concurrency"], 10_000),
    (&["max_body_bytes"], 4 * 1_024 * 1_024 * 1_024),
    (&["retry", "max_attempts"], 100),
    (&["schedule", "max_attempts"], 1_000),
    (&["breaker", "min_calls"], 100_000),
    (&["breaker", "consecutive_failures"], 100_000),
    (&["retry_budget", "min_retries"], 100_000),
    (&["proxy_breaker", "failures"], 100_000),
    (&["quota", "requests"], 1_000_000_000),
    (&["alerts", "max_per_incident_per_hour"], 3_600),
    (&["alerts", "max_per_hour"], 3_600),
    (&["workflow_failed", "after"], 1_000),
    (&["lockout", "after"], 1_000),
    // A hundred times the default: 10,000 pages of 100 records is a million
    // records in one call; more is a config that never meant to stop.
    (&["paginate", "max_pages"], 10_000),
    (&["paginate", "limit"], 1_000_000),
    (&["handoff", "max_redeliveries"], 100),
    (&["handoff", "storm_min"], 1_000_000),
];

/// Any other count.
pub(crate) const DEFAULT_COUNT_MAX: i64 = 1_000_000_000;

/// `retry.multiplier`: above it the second retry already waits `max_delay`.
pub(crate) const MAX_MULTIPLIER: f64 = 100.0;

/// `retry_budget.ratio`: 100 retries per call is no budget at all.
pub(crate) const MAX_RATIO: f64 = 100.0;

/// The longest duration allowed at `path`.
pub(crate) fn duration_max(path: &KeyPath) -> Duration {
    DURATION_BOUNDS
        .iter()
        .find(|(suffix, _)| path.ends_with(suffix))
        .map_or(DEFAULT_DURATION_MAX, |(_, max)| *max)
}

/// The largest count allowed at `path`.
pub(crate) fn count_max(path: &KeyPath) -> i64 {
    COUNT_BOUNDS
        .iter()
        .find(|(suffix, _)| path.ends_with(suffix))
        .map_or(DEFAULT_COUNT_MAX, |(_, max)| *max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_domain::duration::format_duration;

    const DOCS: &str = include_str!("../../../docs/resilience.md");

    fn row(suffix: &[&str], max: &str) -> String {
        format!("| `{}`", suffix.join(".")) + &format!(" | {max} |")
    }

    #[test]
    fn the_docs_table_lists_every_bound() {
        let section = DOCS.split("## Bounds").nth(1).expect("a Bounds section");
        for (suffix, max) in DURATION_BOUNDS {
            let max = format_duration(*max);
            let line = row(suffix, &max);
            let found = section.lines().any(|l| {
                l.starts_with(&format!("| `{}`", suffix.join(".")))
                    && l.ends_with(&format!(" | {max} |"))
            });
            assert!(found, "docs/resilience.md lacks {line}");
        }
        for (suffix, max) in COUNT_BOUNDS {
            let line = row(suffix, &max.to_string());
            assert!(section.contains(&line), "docs/resilience.md lacks {line}");
        }
        for line in [
            format!(
                "| any other duration | {} |",
                format_duration(DEFAULT_DURATION_MAX)
            ),
            format!("| any other count | {DEFAULT_COUNT_MAX} |"),
            format!("| `retry.multiplier` | {MAX_MULTIPLIER} |"),
            format!("| `retry_budget.ratio` | {MAX_RATIO} |"),
        ] {
            assert!(section.contains(&line), "docs/resilience.md lacks {line}");
        }
    }

    #[test]
    fn the_most_specific_suffix_wins() {
        let source = KeyPath::root().key("sources").key("a");
        assert_eq!(
            duration_max(&source.key("breaker").key("window")),
            Duration::from_secs(7 * DAY)
        );
        assert_eq!(
            duration_max(&source.key("timeout")),
            Duration::from_secs(HOUR)
        );
        assert_eq!(
            duration_max(&source.key("health").key("timeout")),
            Duration::from_secs(HOUR)
        );
        assert_eq!(duration_max(&source.key("unknown")), DEFAULT_DURATION_MAX);
        assert_eq!(count_max(&source.key("max_concurrency")), 10_000);
        // A key named like a bounded one elsewhere is not matched by accident.
        assert_eq!(count_max(&source.key("after")), DEFAULT_COUNT_MAX);
        // Far below what tokio's semaphore can hold.
        assert!(count_max(&source.key("max_concurrency")) < (usize::MAX >> 3) as i64);
    }
}
