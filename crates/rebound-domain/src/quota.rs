//! Request quotas per day or month: `quota = { per = "month", requests =
//! 20000, remaining_header = "x-requests-remaining" }`.
//!
//! Periods are days or months of the pipeline's zone (a "day" of an API
//! that resets at local midnight is not a UTC day). What counts as used is
//! the larger of what we counted and what the upstream reports (`limit −
//! remaining`), so another client spending the same key is noticed too.
//! At [`WARN_PERCENT`] of the quota a warning is raised once per period; at
//! 100 % calls are refused without a request until the period resets.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;

/// The share of a quota at which a warning is raised, once per period.
/// 80 % leaves a fifth of the period's requests for the run that sees the
/// warning and for a person to react before calls start being refused.
pub const WARN_PERCENT: u64 = 80;

/// The length of a quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    Day,
    Month,
}

impl QuotaPeriod {
    pub fn parse(text: &str) -> Option<QuotaPeriod> {
        match text {
            "day" => Some(QuotaPeriod::Day),
            "month" => Some(QuotaPeriod::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QuotaPeriod::Day => "day",
            QuotaPeriod::Month => "month",
        }
    }
}

/// A source's quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub per: QuotaPeriod,
    /// Requests allowed per period (> 0).
    pub requests: u64,
    /// Lower-case name of a response header holding the requests the
    /// upstream says are left.
    pub remaining_header: Option<String>,
}

/// One period of a quota: `[start, end)` as UTC instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWindow {
    pub start: DateTime<Utc>,
    /// When the quota resets: the next period's start.
    pub end: DateTime<Utc>,
}

/// The period of `per` holding `now`, in zone `tz`.
pub fn period_at(per: QuotaPeriod, tz: Tz, now: DateTime<Utc>) -> QuotaWindow {
    let today = now.with_timezone(&tz).date_naive();
    let (first, next) = match per {
        QuotaPeriod::Day => (today, today.succ_opt().unwrap_or(today)),
        QuotaPeriod::Month => {
            let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
            let next = if today.month() == 12 {
                NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(today.year(), today.month() + 1, 1)
            }
            .unwrap_or(today);
            (first, next)
        }
    };
    QuotaWindow {
        start: crate::calendar::local_instant(tz, first, chrono::NaiveTime::MIN),
        end: crate::calendar::local_instant(tz, next, chrono::NaiveTime::MIN),
    }
}

/// Requests used in a period: the larger of our count and the upstream's
/// `limit − remaining`.
pub fn effective_used(limit: u64, counted: u64, remaining_reported: Option<u64>) -> u64 {
    let reported = remaining_reported.map_or(0, |r| limit.saturating_sub(r));
    counted.max(reported)
}

/// Where a period's usage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaState {
    Ok,
    /// At or above [`WARN_PERCENT`].
    Warning,
    Exhausted,
}

impl QuotaState {
    pub fn of(limit: u64, used: u64) -> QuotaState {
        if used >= limit {
            QuotaState::Exhausted
        } else if used.saturating_mul(100) >= limit.saturating_mul(WARN_PERCENT) {
            QuotaState::Warning
        } else {
            QuotaState::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QuotaState::Ok => "ok",
            QuotaState::Warning => "warning",
            QuotaState::Exhausted => "exhausted",
        }
    }
}

/// A time in the pipeline's zone with its offset: `2026-02-01T00:00:00-05:00`.
pub fn local_time(time: DateTime<Utc>, tz: Tz) -> String {
    time.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The message of a call refused because the quota is used up:
/// `quota of 20000 requests per month for odds_api exhausted (20000
/// requests since 2026-01-01T00:00:00-05:00); resets at
/// 2026-02-01T00:00:00-05:00`.
pub fn exhausted_message(
    source: &str,
    quota: &Quota,
    counted: u64,
    remaining_reported: Option<u64>,
    window: QuotaWindow,
    tz: Tz,
) -> String {
    let since = local_time(window.start, tz);
    let requests = crate::message::plural(counted, "request", "requests");
    let detail = match remaining_reported {
        Some(0) if counted < quota.requests => format!(
            "the upstream reports 0 remaining{}; {requests} counted since {since}",
            quota
                .remaining_header
                .as_deref()
                .map(|h| format!(" in {h}"))
                .unwrap_or_default()
        ),
        _ => format!("{requests} since {since}"),
    };
    format!(
        "quota of {} requests per {} for {source} exhausted ({detail}); resets at {}",
        quota.requests,
        quota.per.as_str(),
        local_time(window.end, tz)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const NY: Tz = chrono_tz::America::New_York;

    fn quota() -> Quota {
        Quota {
            per: QuotaPeriod::Month,
            requests: 20000,
            remaining_header: Some("x-requests-remaining".into()),
        }
    }

    #[test]
    fn periods_are_local() {
        // 03:00 UTC on Feb 1 is still January 31 in New York.
        let now = Utc.with_ymd_and_hms(2026, 2, 1, 3, 0, 0).unwrap();
        let month = period_at(QuotaPeriod::Month, NY, now);
        assert_eq!(
            month.start,
            Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 0).unwrap()
        );
        assert_eq!(
            month.end,
            Utc.with_ymd_and_hms(2026, 2, 1, 5, 0, 0).unwrap()
        );
        let day = period_at(QuotaPeriod::Day, NY, now);
        assert_eq!(
            day.start,
            Utc.with_ymd_and_hms(2026, 1, 31, 5, 0, 0).unwrap()
        );
        assert_eq!(day.end, month.end);
        // December rolls into the next year; a DST day is 23 hours long.
        let dec = period_at(
            QuotaPeriod::Month,
            chrono_tz::UTC,
            Utc.with_ymd_and_hms(2026, 12, 9, 0, 0, 0).unwrap(),
        );
        assert_eq!(dec.end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        let spring = period_at(
            QuotaPeriod::Day,
            NY,
            Utc.with_ymd_and_hms(2026, 3, 8, 12, 0, 0).unwrap(),
        );
        assert_eq!((spring.end - spring.start).num_hours(), 23);
    }

    #[test]
    fn states_and_effective_use() {
        assert_eq!(QuotaState::of(20000, 15999), QuotaState::Ok);
        assert_eq!(QuotaState::of(20000, 16000), QuotaState::Warning);
        assert_eq!(QuotaState::of(20000, 20000), QuotaState::Exhausted);
        assert_eq!(QuotaState::of(10, 8), QuotaState::Warning);
        assert_eq!(effective_used(20000, 100, None), 100);
        assert_eq!(effective_used(20000, 100, Some(3000)), 17000);
        assert_eq!(effective_used(20000, 100, Some(0)), 20000);
        assert_eq!(effective_used(20000, 100, Some(50000)), 100);
    }

    #[test]
    fn exhausted_messages() {
        let now = Utc.with_ymd_and_hms(2026, 1, 20, 15, 0, 0).unwrap();
        let window = period_at(QuotaPeriod::Month, NY, now);
        assert_eq!(
            exhausted_message("odds_api", &quota(), 20000, None, window, NY),
            "quota of 20000 requests per month for odds_api exhausted (20000 requests since \
             2026-01-01T00:00:00-05:00); resets at 2026-02-01T00:00:00-05:00"
        );
        assert_eq!(
            exhausted_message("odds_api", &quota(), 120, Some(0), window, NY),
            "quota of 20000 requests per month for odds_api exhausted (the upstream reports 0 \
             remaining in x-requests-remaining; 120 requests counted since \
             2026-01-01T00:00:00-05:00); resets at 2026-02-01T00:00:00-05:00"
        );
        // Before: "1 requests counted".
        assert!(
            exhausted_message("odds_api", &quota(), 1, Some(0), window, NY)
                .contains("; 1 request counted since")
        );
    }
}
