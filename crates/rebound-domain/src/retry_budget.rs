//! The per-source retry budget: retries may add at most `ratio` of the
//! source's calls over a sliding `window`, plus a floor of `min_retries`
//! per window so a low-volume source can still retry (Finagle's
//! `RetryBudget`, Envoy's `retry_budget`). Past it, a retryable failure
//! fails now instead of retrying, so a retry storm cannot turn an outage
//! into a self-inflicted one. Pure: time is a parameter.

use crate::duration::format_duration;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// `retry_budget = { ratio, min_retries, window }`, resolved. Invariants:
/// `ratio >= 0` and finite, `window > 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudgetConfig {
    pub ratio: f64,
    pub min_retries: u32,
    pub window: Duration,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.2,
            min_retries: 10,
            window: Duration::from_secs(600),
        }
    }
}

/// Slices the window is kept in.
const SLICES: i64 = 10;

impl RetryBudgetConfig {
    fn slice_secs(&self) -> i64 {
        ((self.window.as_secs() as i64) / SLICES).max(1)
    }

    /// The slice `now` falls in and the oldest slice start still inside
    /// the window, as epoch seconds: `(start, oldest)`. A store that
    /// shares the budget across processes counts by these.
    pub fn slice_at(&self, now: DateTime<Utc>) -> (i64, i64) {
        let slice = self.slice_secs();
        let start = now.timestamp().div_euclid(slice) * slice;
        // The in-memory account keeps slices with `start + slice > now -
        // slice × SLICES`, i.e. starts after `now - slice × (SLICES + 1)`.
        let oldest = now.timestamp() - slice * (SLICES + 1) + 1;
        (start, oldest)
    }

    /// Whether a window holding `calls` calls and `retries` retries allows
    /// one more retry.
    pub fn allows(&self, calls: u32, retries: u32) -> bool {
        f64::from(retries) + 1.0 <= f64::from(self.min_retries) + self.ratio * f64::from(calls)
    }

    /// Why a window holding these counts allows no more retries.
    pub fn exhausted_message(&self, calls: u32, retries: u32) -> String {
        format!(
            "retry budget exhausted ({retries} retries for {calls} calls in the last {}; budget {}% of calls + {})",
            format_duration(self.window),
            (self.ratio * 100.0).round(),
            self.min_retries
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    start: i64,
    calls: u32,
    retries: u32,
}

/// One source's budget account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryBudget {
    slices: Vec<Slice>,
}

impl RetryBudget {
    fn current(&mut self, cfg: &RetryBudgetConfig, now: DateTime<Utc>) -> &mut Slice {
        let slice = cfg.slice_secs();
        let oldest = now.timestamp() - slice * SLICES;
        self.slices.retain(|s| s.start + slice > oldest);
        let start = now.timestamp().div_euclid(slice) * slice;
        if self.slices.last().is_none_or(|s| s.start != start) {
            self.slices.push(Slice {
                start,
                calls: 0,
                retries: 0,
            });
        }
        let last = self.slices.len() - 1;
        &mut self.slices[last]
    }

    /// Calls and retries in the window.
    pub fn counts(&self) -> (u32, u32) {
        self.slices
            .iter()
            .fold((0, 0), |(c, r), s| (c + s.calls, r + s.retries))
    }

    /// Counts a call (its first attempt).
    pub fn record_call(&mut self, cfg: &RetryBudgetConfig, now: DateTime<Utc>) {
        self.current(cfg, now).calls += 1;
    }

    /// Takes one retry from the budget, or says why there is none left.
    pub fn try_retry(&mut self, cfg: &RetryBudgetConfig, now: DateTime<Utc>) -> Result<(), String> {
        self.current(cfg, now);
        let (calls, retries) = self.counts();
        if cfg.allows(calls, retries) {
            self.current(cfg, now).retries += 1;
            Ok(())
        } else {
            Err(cfg.exhausted_message(calls, retries))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn floor_then_ratio() {
        let cfg = RetryBudgetConfig::default();
        let mut b = RetryBudget::default();
        // No calls: the floor alone allows 10 retries.
        for _ in 0..10 {
            assert!(b.try_retry(&cfg, t0()).is_ok());
        }
        let err = b.try_retry(&cfg, t0()).unwrap_err();
        assert!(err.starts_with("retry budget exhausted (10 retries for 0 calls in the last 10m; budget 20% of calls + 10)"), "{err}");
        // 50 calls add 10 more.
        for _ in 0..50 {
            b.record_call(&cfg, t0());
        }
        for _ in 0..10 {
            assert!(b.try_retry(&cfg, t0()).is_ok());
        }
        assert!(b.try_retry(&cfg, t0()).is_err());
    }

    #[test]
    fn window_slides() {
        let cfg = RetryBudgetConfig::default();
        let mut b = RetryBudget::default();
        for _ in 0..10 {
            b.try_retry(&cfg, t0()).unwrap();
        }
        assert!(
            b.try_retry(&cfg, t0() + chrono::Duration::minutes(9))
                .is_err()
        );
        assert!(
            b.try_retry(&cfg, t0() + chrono::Duration::minutes(11))
                .is_ok()
        );
    }

    proptest! {
        #[test]
        fn never_more_retries_than_the_budget(steps in proptest::collection::vec((0u8..2, 0u64..120), 1..400)) {
            let cfg = RetryBudgetConfig::default();
            let mut b = RetryBudget::default();
            let mut now = t0();
            for (op, dt) in steps {
                now += chrono::Duration::seconds(dt as i64);
                if op == 0 {
                    b.record_call(&cfg, now);
                } else if b.try_retry(&cfg, now).is_ok() {
                    // At the moment a retry is granted, the window is within budget.
                    let (calls, retries) = b.counts();
                    prop_assert!(f64::from(retries) <= f64::from(cfg.min_retries) + cfg.ratio * f64::from(calls) + 1e-9);
                }
            }
        }
    }
}
