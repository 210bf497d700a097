//! Retry policy: which failures are retried, how long to wait, and how a
//! server's `Retry-After` bends that wait.
//!
//! The wait before retry `n` (1-based) is `min(max_delay, initial_delay ×
//! multiplier^(n−1))`, then jittered: `full` draws uniformly from `[0, d]`,
//! `equal` from `[d/2, d]`, `none` keeps `d`. A `Retry-After` is a lower
//! bound on that wait (never shortened by jitter or by `max_delay`); one
//! longer than `max_retry_after` ends the call at once, saying so, because
//! waiting that long inside a run would hold everything else up.

use crate::duration::format_duration;
use std::time::{Duration, SystemTime};

/// The longest wait a server can ask for (`Retry-After`, `RateLimit`,
/// `X-RateLimit-Reset`): a year. Header values are numbers an upstream
/// chose, so `1e30` or epoch milliseconds of 10¹⁸ arrive too; such a value
/// is clamped here rather than dropped, because dropping it would retry at
/// once against a server that asked us to stay away. Clamped, it is simply
/// longer than any sane `max_retry_after`, so the call gives up saying so,
/// and every instant computed from it stays representable.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(365 * 86_400);

/// How jitter spreads retries of many callers apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    Full,
    Equal,
    None,
}

impl Jitter {
    pub fn parse(text: &str) -> Option<Jitter> {
        match text {
            "full" => Some(Jitter::Full),
            "equal" => Some(Jitter::Equal),
            "none" => Some(Jitter::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::None => "none",
        }
    }
}

/// A merged, validated retry policy. Invariants: `max_attempts >= 1`,
/// `multiplier >= 1.0` and finite, `initial_delay <= max_delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total tries, including the first.
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub multiplier: f64,
    pub max_delay: Duration,
    pub jitter: Jitter,
    pub respect_retry_after: bool,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_secs(2),
            multiplier: 2.0,
            max_delay: Duration::from_secs(60),
            jitter: Jitter::Full,
            respect_retry_after: true,
            max_retry_after: Duration::from_secs(600),
        }
    }
}

/// What to do after a retryable failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop now; the reason is appended to the call's message.
    GiveUp(String),
}

impl RetryPolicy {
    /// The backoff (before jitter) ahead of retry number `retry_no` (1 = the second attempt).
    pub fn base_delay(&self, retry_no: u32) -> Duration {
        let exponent = retry_no.saturating_sub(1).min(1000) as i32;
        let factor = self.multiplier.powi(exponent);
        let secs = self.initial_delay.as_secs_f64() * factor;
        let max = self.max_delay.as_secs_f64();
        if !secs.is_finite() || secs >= max {
            self.max_delay
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The jittered backoff ahead of retry `retry_no`; `unit_random` is a
    /// uniform draw from `[0, 1)` supplied by the caller.
    pub fn backoff(&self, retry_no: u32, unit_random: f64) -> Duration {
        let base = self.base_delay(retry_no);
        let u = unit_random.clamp(0.0, 1.0);
        match self.jitter {
            Jitter::None => base,
            Jitter::Full => base.mul_f64(u),
            Jitter::Equal => base / 2 + (base / 2).mul_f64(u),
        }
    }

    /// Decides what follows a retryable failure of attempt `attempt_no`
    /// (1-based), given the server's `Retry-After` if it sent one.
    pub fn decide(
        &self,
        attempt_no: u32,
        retry_after: Option<Duration>,
        unit_random: f64,
    ) -> RetryDecision {
        if attempt_no >= self.max_attempts {
            return RetryDecision::GiveUp(String::new());
        }
        let backoff = self.backoff(attempt_no, unit_random);
        match retry_after.filter(|_| self.respect_retry_after) {
            Some(asked) if asked > self.max_retry_after => RetryDecision::GiveUp(format!(
                "server asked to retry after {}, longer than max_retry_after {}",
                format_duration(asked),
                format_duration(self.max_retry_after)
            )),
            Some(asked) => RetryDecision::RetryAfter(backoff.max(asked)),
            None => RetryDecision::RetryAfter(backoff),
        }
    }
}

/// Parses a `Retry-After` header value (RFC 9110 §10.2.3): delay-seconds or
/// an HTTP-date, relative to `now`. A date in the past means "now" (zero).
/// Returns `None` for a value that is neither, so a garbled header falls
/// back to the normal backoff instead of failing the call.
///
/// Every wait is at most [`MAX_SERVER_WAIT`]: delay-seconds too large for
/// any integer type, numbers written as `1e30` or `inf` (not RFC 9110, but
/// a number an upstream plainly meant), and dates millennia away all come
/// out as that bound, never as a value that would overflow the instant it
/// is added to. Negative numbers and NaN are garbage, hence `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only too many of them fails to parse.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_SERVER_WAIT));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return server_wait_from_secs(secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_SERVER_WAIT),
    )
}

/// A wait of `secs` seconds sent by a server, clamped to
/// [`MAX_SERVER_WAIT`]; `None` for NaN and negative values.
/// (`Duration::from_secs_f64` panics on anything it cannot hold.)
pub(crate) fn server_wait_from_secs(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs >= MAX_SERVER_WAIT.as_secs_f64() {
        return Some(MAX_SERVER_WAIT);
    }
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            jitter,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn exponential_and_capped() {
        let p = policy(Jitter::None);
        let delays: Vec<u64> = (1..=7).map(|n| p.backoff(n, 0.5).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn jitter_modes() {
        assert_eq!(
            policy(Jitter::Full).backoff(2, 0.25),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy(Jitter::Equal).backoff(2, 0.0),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy(Jitter::Equal).backoff(2, 1.0),
            Duration::from_secs(4)
        );
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let p = policy(Jitter::None);
        assert_eq!(
            p.decide(2, None, 0.0),
            RetryDecision::RetryAfter(Duration::from_secs(4))
        );
        assert_eq!(p.decide(3, None, 0.0), RetryDecision::GiveUp(String::new()));
    }

    #[test]
    fn retry_after_is_a_lower_bound_and_has_a_ceiling() {
        let p = policy(Jitter::Full);
        // Jitter drew zero, the server asked for 7s: wait 7s.
        assert_eq!(
            p.decide(1, Some(Duration::from_secs(7)), 0.0),
            RetryDecision::RetryAfter(Duration::from_secs(7))
        );
        // Longer than max_delay still wins.
        assert_eq!(
            p.decide(1, Some(Duration::from_secs(300)), 0.9),
            RetryDecision::RetryAfter(Duration::from_secs(300))
        );
        match p.decide(1, Some(Duration::from_secs(3600)), 0.0) {
            RetryDecision::GiveUp(msg) => {
                assert_eq!(
                    msg,
                    "server asked to retry after 1h, longer than max_retry_after 10m"
                )
            }
            other => panic!("expected GiveUp, got {other:?}"),
        }
        let ignoring = RetryPolicy {
            respect_retry_after: false,
            ..policy(Jitter::None)
        };
        assert_eq!(
            ignoring.decide(1, Some(Duration::from_secs(3600)), 0.0),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
    }

    #[test]
    fn parses_retry_after_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn absurd_retry_after_is_clamped_not_ignored() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // Each of these once panicked downstream or was ignored (and the
        // call retried after the normal backoff).
        for absurd in [
            "1e30",
            "9000000000000",
            "9e12",
            "99999999999999999999999999",
            "inf",
            "+Infinity",
            "1.5e300",
        ] {
            assert_eq!(
                parse_retry_after(absurd, now),
                Some(MAX_SERVER_WAIT),
                "{absurd}"
            );
        }
        assert_eq!(
            parse_retry_after("2.5", now),
            Some(Duration::from_millis(2500))
        );
        for garbage in ["NaN", "-1e30", "-inf", "", "1e", "0x10", "12 s"] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage}");
        }
        // An absurd wait is over any max_retry_after: the call gives up.
        let p = policy(Jitter::None);
        match p.decide(1, parse_retry_after("1e30", now), 0.0) {
            RetryDecision::GiveUp(why) => {
                assert!(why.contains("longer than max_retry_after"), "{why}")
            }
            other => panic!("expected GiveUp, got {other:?}"),
        }
    }

    proptest! {
        #[test]
        fn jittered_delay_within_bounds(retry_no in 1u32..40, u in 0.0f64..1.0, mode in 0u8..3) {
            let jitter = [Jitter::Full, Jitter::Equal, Jitter::None][mode as usize];
            let p = policy(jitter);
            let base = p.base_delay(retry_no);
            let d = p.backoff(retry_no, u);
            prop_assert!(d <= base);
            prop_assert!(base <= p.max_delay);
            if jitter != Jitter::Full { prop_assert!(d >= base / 2); }
        }
    }
}
