//! Rate limits: the `rate_limit = "20/min"` of a source, the GCRA that
//! spaces its requests, and the response headers by which a server asks a
//! whole source to pause.
//!
//! **Why GCRA by hand instead of the `governor` crate.** governor's
//! waiting (`until_ready`) sleeps on its own timer, not on our injected
//! [`crate::clock::Clock`], so a test on a manual clock could not drive it;
//! bridging only its `check()` would leave waiters to race each other on
//! re-checks (no FIFO order among a source's scrapers) and would add a
//! dependency tree for what is, with a burst of one, two lines of
//! arithmetic. Here the state is a single "theoretical arrival time"
//! ([`GcraState`]); the fetcher keeps one per source behind a fair (FIFO)
//! lock and sleeps on the `Clock`.
//!
//! Requests are spread evenly (burst of one): `20/min` lets one request
//! start every 3 s, so *any* 60 s window holds at most 20, which is what
//! upstreams that count in sliding windows enforce. A burst would let 20
//! go at once and then 20 more within the same minute of the upstream's
//! window.

use crate::duration::format_duration;
use crate::retry::server_wait_from_secs;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// `N/unit`: at most `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub per: Duration,
}

impl Rate {
    /// Parses `"5/s"`, `"20/min"`, `"1000/h"` (also `sec`, `second`, `m`,
    /// `minute`, `hour`, `d`, `day`). The count must be at least 1.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let expected = || {
            format!("expected a rate such as \"5/s\", \"20/min\" or \"1000/h\", found \"{text}\"")
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(expected)?;
        let count = count.trim();
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(expected());
        }
        let requests: u64 = count.parse().map_err(|_| expected())?;
        if requests == 0 {
            return Err(format!(
                "a rate limit must allow at least 1 request, found \"{text}\""
            ));
        }
        let requests = u32::try_from(requests).map_err(|_| format!("{count} is too large"))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            _ => {
                return Err(format!(
                    "unknown unit in rate \"{text}\": use s, min, h or d (e.g. \"20/min\")"
                ));
            }
        };
        Ok(Rate { requests, per })
    }

    /// The spacing between two requests: `per / requests`.
    pub fn interval(&self) -> Duration {
        self.per / self.requests
    }

    /// `20/min`.
    pub fn display(&self) -> String {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => "d",
        };
        format!("{}/{unit}", self.requests)
    }
}

/// The state of one source's limiter: when the next request may start
/// (the GCRA's "theoretical arrival time"). `None` until the first request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcraState {
    pub next_at: Option<DateTime<Utc>>,
}

impl GcraState {
    /// How long a request arriving at `now` must wait to conform.
    pub fn wait(&self, now: DateTime<Utc>) -> Duration {
        match self.next_at {
            Some(next) if next > now => (next - now).to_std().unwrap_or(Duration::ZERO),
            _ => Duration::ZERO,
        }
    }

    /// Records a request starting at `now` (which must conform: `wait(now)`
    /// is zero). The next one may start one interval later.
    pub fn take(&mut self, rate: &Rate, now: DateTime<Utc>) {
        let base = self.next_at.filter(|n| *n > now).unwrap_or(now);
        self.next_at = Some(crate::duration::add_saturating(base, rate.interval()));
    }
}

/// Why and until when a whole source is paused, read from one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePause {
    /// From the response's arrival.
    pub wait: Duration,
    /// Which header said so, for messages: `HTTP 429 with Retry-After 30s`.
    pub cause: String,
}

/// Reads a response's rate-limit signals. `header(name)` returns the value
/// of a header by lower-case name. A pause comes from any of:
/// - a 429 with `Retry-After` (delay-seconds or an HTTP-date);
/// - `RateLimit` (IETF draft `httpapi-ratelimit-headers`), either the
///   structured list of newer drafts (`"default";r=0;t=30`: remaining `r`,
///   reset in `t` seconds) or the dictionary of older ones
///   (`limit=100, remaining=0, reset=30`);
/// - `RateLimit-Remaining: 0` with `RateLimit-Reset: <seconds>`;
/// - `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset`, as delta-seconds
///   or as epoch seconds (values of 10⁹ and more, i.e. after 2001) or
///   epoch milliseconds (10¹² and more); fractions are allowed.
///
/// Remaining 0 without a usable reset says nothing about how long to wait,
/// so it pauses nothing (the 429 that follows will carry a Retry-After).
/// The longest of the signals wins; a zero wait is no pause.
pub fn source_pause<'a>(
    status: u16,
    header: impl Fn(&str) -> Option<&'a str>,
    now: DateTime<Utc>,
) -> Option<SourcePause> {
    let mut best: Option<SourcePause> = None;
    let mut offer = |wait: Duration, cause: String| {
        if wait > Duration::ZERO && best.as_ref().is_none_or(|b| wait > b.wait) {
            best = Some(SourcePause { wait, cause });
        }
    };
    if status == 429
        && let Some(value) = header("retry-after")
        && let Some(wait) = crate::retry::parse_retry_after(value, now.into())
    {
        offer(wait, format!("HTTP 429 with Retry-After {}", seconds(wait)));
    }
    // The causes quote the remaining count as the server sent it: a `-1`
    // (see `is_zero`) once read `RateLimit-Remaining 0`, a value it never
    // sent, which sends whoever checks the upstream looking for the wrong
    // thing.
    if let Some(value) = header("ratelimit")
        && let Some((wait, remaining)) = parse_ratelimit_field(value).wait
    {
        offer(
            wait,
            format!(
                "RateLimit: {} remaining, reset in {}",
                as_sent(remaining),
                seconds(wait)
            ),
        );
    }
    if let (Some(remaining), Some(reset)) =
        (header("ratelimit-remaining"), header("ratelimit-reset"))
        && is_zero(remaining)
        && let Some(wait) = parse_seconds(reset)
    {
        offer(
            wait,
            format!(
                "RateLimit-Remaining {}, RateLimit-Reset {}",
                as_sent(remaining),
                seconds(wait)
            ),
        );
    }
    if let (Some(remaining), Some(reset)) =
        (header("x-ratelimit-remaining"), header("x-ratelimit-reset"))
        && is_zero(remaining)
        && let Some(wait) = parse_reset_delta_or_epoch(reset, now)
    {
        offer(
            wait,
            format!(
                "X-RateLimit-Remaining {}, reset in {}",
                as_sent(remaining),
                seconds(wait)
            ),
        );
    }
    best
}

/// A rate-limit header whose value [`source_pause`] (or, for
/// `Retry-After`, the retry policy) cannot read, so it is ignored as if
/// absent: the fetcher says so in a warning rather than silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableSignal {
    /// The header's lower-case name.
    pub header: &'static str,
    /// What its value should have been, for the warning.
    pub expected: &'static str,
}

/// The rate-limit headers present in a response whose value cannot be
/// read, each by the same parser [`source_pause`] uses, so "unreadable"
/// here and "ignored" there cannot drift apart. A header is judged on its
/// own, whatever the status and whether or not its pair is present: a
/// `RateLimit-Reset: soon` is unreadable even while `RateLimit-Remaining`
/// says requests are left. A number out of range (`1e30`) is readable
/// (it is clamped, see [`crate::retry::MAX_SERVER_WAIT`]).
pub fn unreadable_signals<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    now: DateTime<Utc>,
) -> Vec<UnreadableSignal> {
    SIGNALS
        .into_iter()
        .filter(|(name, _)| header(name).is_some_and(|value| !readable(name, value, now)))
        .map(|(header, expected)| UnreadableSignal { header, expected })
        .collect()
}

/// The headers [`source_pause`] reads, lower-case: what a fetcher keeps of
/// a response for it.
pub const SIGNAL_HEADERS: [&str; 6] = [
    "retry-after",
    "ratelimit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// The headers [`source_pause`] reads, each with what it should hold.
const SIGNALS: [(&str, &str); 6] = [
    (SIGNAL_HEADERS[0], "delay-seconds or an HTTP-date"),
    (
        SIGNAL_HEADERS[1],
        "remaining and reset numbers (\"policy\";r=0;t=30, or remaining=0, reset=30)",
    ),
    (SIGNAL_HEADERS[2], "a number of requests left"),
    (SIGNAL_HEADERS[3], "seconds until the reset"),
    (SIGNAL_HEADERS[4], "a number of requests left"),
    (
        SIGNAL_HEADERS[5],
        "seconds until the reset, or the reset's epoch time in seconds or milliseconds",
    ),
];

/// Whether [`source_pause`]'s parser for header `name` reads `value`.
fn readable(name: &str, value: &str, now: DateTime<Utc>) -> bool {
    match name {
        "retry-after" => crate::retry::parse_retry_after(value, now.into()).is_some(),
        "ratelimit" => parse_ratelimit_field(value).readable,
        "ratelimit-remaining" | "x-ratelimit-remaining" => parse_count(value).is_some(),
        "ratelimit-reset" => parse_seconds(value).is_some(),
        "x-ratelimit-reset" => parse_reset_delta_or_epoch(value, now).is_some(),
        _ => true,
    }
}

/// `120s` (whole seconds, as the headers count), or `250ms` below a second.
fn seconds(wait: Duration) -> String {
    if wait >= Duration::from_secs(1) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        format!("{secs}s")
    } else {
        format_duration(wait)
    }
}

/// Whether a remaining count says no request is left. A negative count
/// (`-1`, which some servers send once the limit is passed) is a number, so
/// it is read, as none left, rather than ignored with an "unreadable header"
/// warning: the server plainly means "exhausted", and the reset beside it
/// says for how long. Messages quote it as sent ([`as_sent`]).
fn is_zero(value: &str) -> bool {
    parse_count(value).is_some_and(|v| v <= 0.0)
}

/// Longest remaining count quoted in a message, in characters.
const AS_SENT_CHARS: usize = 24;

/// A remaining count read by [`parse_count`], as the server sent it, for a
/// message: trimmed, and cut when absurdly long. Only a number reaches
/// here, so it holds no control character or secret.
fn as_sent(value: &str) -> String {
    crate::message::truncate_chars(value.trim(), AS_SENT_CHARS)
}

/// A count of requests left: any number but NaN (negative reads as none
/// left, as `is_zero` has it).
fn parse_count(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// Non-negative seconds, possibly fractional, clamped to
/// [`crate::retry::MAX_SERVER_WAIT`] (see there why absurd values are not dropped).
fn parse_seconds(value: &str) -> Option<Duration> {
    let v: f64 = value.trim().parse().ok()?;
    server_wait_from_secs(v)
}

/// A reset given as delta-seconds, epoch seconds or epoch milliseconds,
/// clamped to [`crate::retry::MAX_SERVER_WAIT`]; `None` for NaN, negative or non-numbers.
pub fn parse_reset_delta_or_epoch(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v: f64 = value.trim().parse().ok()?;
    if v.is_nan() || v < 0.0 {
        return None;
    }
    let now_secs = now.timestamp_millis() as f64 / 1000.0;
    let epoch_secs = if v >= 1e12 {
        v / 1000.0
    } else if v >= 1e9 {
        v
    } else {
        return server_wait_from_secs(v);
    };
    server_wait_from_secs((epoch_secs - now_secs).max(0.0))
}

/// What the `RateLimit` field says.
struct RateLimitField<'a> {
    /// The longest reset among items with 0 (or fewer) remaining, with that
    /// item's remaining count as sent.
    wait: Option<(Duration, &'a str)>,
    /// It holds at least one remaining or reset value, and every one of
    /// them is a number (a reset one of zero or more).
    readable: bool,
}

/// Reads the `RateLimit` field; see [`RateLimitField`].
fn parse_ratelimit_field(value: &str) -> RateLimitField<'_> {
    let mut best: Option<(Duration, &str)> = None;
    let mut dict_remaining: Option<(f64, &str)> = None;
    let mut dict_reset: Option<Duration> = None;
    // Whether any remaining or reset value was seen, and any was not read.
    let (mut seen, mut unreadable) = (false, false);
    let mut note = |read: bool| {
        seen = true;
        unreadable |= !read;
    };
    for member in split_outside_quotes(value, ',') {
        let mut parts = split_outside_quotes(member, ';').into_iter();
        let head = parts.next().unwrap_or("").trim();
        // Older drafts: a dictionary, `limit=100, remaining=0, reset=30`.
        if let Some((key, val)) = head.split_once('=')
            && !head.starts_with('"')
        {
            match key.trim() {
                "remaining" => {
                    dict_remaining = parse_count(val).map(|r| (r, val));
                    note(dict_remaining.is_some());
                }
                "reset" => {
                    dict_reset = parse_seconds(val);
                    note(dict_reset.is_some());
                }
                _ => {}
            }
            continue;
        }
        // Newer drafts: `"policy";r=0;t=30`.
        let mut remaining: Option<(f64, &str)> = None;
        let mut reset: Option<Duration> = None;
        for param in parts {
            if let Some((key, val)) = param.split_once('=') {
                match key.trim() {
                    "r" => {
                        remaining = parse_count(val).map(|r| (r, val));
                        note(remaining.is_some());
                    }
                    "t" => {
                        reset = parse_seconds(val);
                        note(reset.is_some());
                    }
                    _ => {}
                }
            }
        }
        if let (Some((r, sent)), Some(t)) = (remaining, reset)
            && r <= 0.0
        {
            best = longer(best, (t, sent));
        }
    }
    if let (Some((r, sent)), Some(t)) = (dict_remaining, dict_reset)
        && r <= 0.0
    {
        best = longer(best, (t, sent));
    }
    RateLimitField {
        wait: best,
        readable: seen && !unreadable,
    }
}

/// The longer of two waits, the earlier on a tie.
fn longer<'a>(
    best: Option<(Duration, &'a str)>,
    offered: (Duration, &'a str),
) -> Option<(Duration, &'a str)> {
    match best {
        Some(b) if b.0 >= offered.0 => Some(b),
        _ => Some(offered),
    }
}

fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::MAX_SERVER_WAIT;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
    }

    fn pause(status: u16, headers: &[(&str, &str)]) -> Option<SourcePause> {
        source_pause(
            status,
            |name| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            },
            now(),
        )
    }

    #[test]
    fn parses_rates() {
        assert_eq!(
            Rate::parse("20/min").unwrap().interval(),
            Duration::from_secs(3)
        );
        assert_eq!(
            Rate::parse("5/s").unwrap().interval(),
            Duration::from_millis(200)
        );
        assert_eq!(
            Rate::parse("1000/h").unwrap().interval(),
            Duration::from_millis(3600)
        );
        assert_eq!(Rate::parse(" 20 / minute ").unwrap().display(), "20/min");
        for bad in ["20", "x/min", "20/fortnight", "-1/s", "1.5/s", "/s", ""] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Rate::parse("0/min").unwrap_err(),
            "a rate limit must allow at least 1 request, found \"0/min\""
        );
        assert_eq!(
            Rate::parse("20/fortnight").unwrap_err(),
            "unknown unit in rate \"20/fortnight\": use s, min, h or d (e.g. \"20/min\")"
        );
    }

    #[test]
    fn gcra_spaces_requests_evenly() {
        let rate = Rate::parse("20/min").unwrap();
        let mut state = GcraState::default();
        let t0 = now();
        assert_eq!(state.wait(t0), Duration::ZERO);
        state.take(&rate, t0);
        assert_eq!(state.wait(t0), Duration::from_secs(3));
        assert_eq!(
            state.wait(t0 + chrono::Duration::seconds(1)),
            Duration::from_secs(2)
        );
        let t3 = t0 + chrono::Duration::seconds(3);
        state.take(&rate, t3);
        // Idle time does not build up credit beyond one request.
        let later = t0 + chrono::Duration::seconds(600);
        assert_eq!(state.wait(later), Duration::ZERO);
        state.take(&rate, later);
        assert_eq!(state.wait(later), Duration::from_secs(3));
    }

    #[test]
    fn gcra_never_exceeds_the_rate_in_any_window() {
        // Requests arriving as fast as allowed: every 60 s window holds <= 20.
        let rate = Rate::parse("20/min").unwrap();
        let mut state = GcraState::default();
        let mut t = now();
        let mut starts = Vec::new();
        for _ in 0..100 {
            t += chrono::Duration::from_std(state.wait(t)).unwrap();
            state.take(&rate, t);
            starts.push(t);
        }
        for (i, s) in starts.iter().enumerate() {
            let window = starts[i..]
                .iter()
                .filter(|x| **x < *s + chrono::Duration::seconds(60))
                .count();
            assert!(window <= 20, "{window} in the minute from {s}");
        }
    }

    #[test]
    fn retry_after_on_429_pauses() {
        let p = pause(429, &[("Retry-After", "30")]).unwrap();
        assert_eq!(p.wait, Duration::from_secs(30));
        assert_eq!(p.cause, "HTTP 429 with Retry-After 30s");
        let date =
            httpdate::fmt_http_date(std::time::SystemTime::from(now()) + Duration::from_secs(120));
        assert_eq!(
            pause(429, &[("retry-after", &date)]).unwrap().wait,
            Duration::from_secs(120)
        );
        // A 503's Retry-After is about that call, not the source's quota.
        assert_eq!(pause(503, &[("retry-after", "30")]), None);
        assert_eq!(pause(429, &[("retry-after", "soon")]), None);
        assert_eq!(pause(429, &[]), None);
    }

    #[test]
    fn ratelimit_structured_field() {
        let p = pause(200, &[("RateLimit", "\"default\";r=0;t=30")]).unwrap();
        assert_eq!(p.wait, Duration::from_secs(30));
        assert_eq!(p.cause, "RateLimit: 0 remaining, reset in 30s");
        assert_eq!(pause(200, &[("ratelimit", "\"default\";r=5;t=30")]), None);
        // Several policies: the exhausted one with the longest reset.
        assert_eq!(
            pause(
                200,
                &[(
                    "ratelimit",
                    "\"burst\";r=0;t=2, \"day\";r=0;t=3600, \"x\";r=9;t=9999"
                )]
            )
            .unwrap()
            .wait,
            Duration::from_secs(3600)
        );
        // Older draft: a dictionary.
        assert_eq!(
            pause(200, &[("ratelimit", "limit=100, remaining=0, reset=45")])
                .unwrap()
                .wait,
            Duration::from_secs(45)
        );
        assert_eq!(pause(200, &[("ratelimit", "garbage;;;\"")]), None);
    }

    /// A negative remaining is none left, quoted as sent (it once read
    /// `RateLimit-Remaining 0`).
    #[test]
    fn a_negative_remaining_is_exhausted_and_quoted_as_sent() {
        for (headers, cause) in [
            (
                [("RateLimit-Remaining", " -1"), ("RateLimit-Reset", "12")],
                "RateLimit-Remaining -1, RateLimit-Reset 12s",
            ),
            (
                [("X-RateLimit-Remaining", "-1"), ("X-RateLimit-Reset", "12")],
                "X-RateLimit-Remaining -1, reset in 12s",
            ),
            (
                [("RateLimit", "\"a\";r=0;t=5, \"b\";r=-1;t=12"), ("x", "")],
                "RateLimit: -1 remaining, reset in 12s",
            ),
            (
                [
                    ("RateLimit", "limit=100, remaining=-2.5, reset=12"),
                    ("x", ""),
                ],
                "RateLimit: -2.5 remaining, reset in 12s",
            ),
        ] {
            let p = pause(200, &headers).unwrap();
            assert_eq!(p.wait, Duration::from_secs(12));
            assert_eq!(p.cause, cause);
        }
        let long = format!("-{}1", "0".repeat(100));
        let p = pause(
            200,
            &[
                ("RateLimit-Remaining", long.as_str()),
                ("RateLimit-Reset", "12"),
            ],
        )
        .unwrap();
        assert_eq!(
            p.cause,
            format!(
                "RateLimit-Remaining -{}…, RateLimit-Reset 12s",
                "0".repeat(22)
            )
        );
    }

    #[test]
    fn ratelimit_remaining_and_reset_pair() {
        let p = pause(
            200,
            &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "12")],
        )
        .unwrap();
        assert_eq!(p.wait, Duration::from_secs(12));
        assert_eq!(
            pause(
                200,
                &[("RateLimit-Remaining", "3"), ("RateLimit-Reset", "12")]
            ),
            None
        );
    }

    #[test]
    fn x_ratelimit_reset_delta_or_epoch() {
        let delta = pause(
            200,
            &[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "90")],
        )
        .unwrap();
        assert_eq!(delta.wait, Duration::from_secs(90));
        assert_eq!(delta.cause, "X-RateLimit-Remaining 0, reset in 90s");
        let epoch = (now().timestamp() + 300).to_string();
        assert_eq!(
            pause(
                200,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &epoch)
                ]
            )
            .unwrap()
            .wait,
            Duration::from_secs(300)
        );
        let millis = (now().timestamp_millis() + 1500).to_string();
        assert_eq!(
            parse_reset_delta_or_epoch(&millis, now()),
            Some(Duration::from_millis(1500))
        );
        // Fractional epoch (Discord style) and an epoch in the past.
        let frac = format!("{}.5", now().timestamp() + 10);
        assert_eq!(
            parse_reset_delta_or_epoch(&frac, now()),
            Some(Duration::from_millis(10_500))
        );
        let past = (now().timestamp() - 10).to_string();
        assert_eq!(
            parse_reset_delta_or_epoch(&past, now()),
            Some(Duration::ZERO)
        );
        // Remaining left, no reset, or garbage: no pause.
        assert_eq!(
            pause(
                200,
                &[("x-ratelimit-remaining", "1"), ("x-ratelimit-reset", "90")]
            ),
            None
        );
        assert_eq!(pause(200, &[("x-ratelimit-remaining", "0")]), None);
        assert_eq!(
            pause(
                200,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "-3")]
            ),
            None
        );
    }

    #[test]
    fn absurd_resets_are_clamped_never_panic() {
        let x = |reset: &str| {
            pause(
                200,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", reset)],
            )
        };
        // 1e30 (once a `from_secs_f64` panic), 10^18 read as epoch
        // milliseconds (once a `DateTime + TimeDelta` overflow), 9e12,
        // huge integers and infinity: clamped to the longest server wait.
        for absurd in [
            "1e30",
            "1000000000000000000",
            "9e12",
            "999999999999999999999999999999",
            "inf",
        ] {
            let p = x(absurd).unwrap_or_else(|| panic!("{absurd}: no pause"));
            assert_eq!(p.wait, MAX_SERVER_WAIT, "{absurd}");
        }
        for garbage in ["NaN", "-1", "-1e30", "-inf", "soon", ""] {
            assert_eq!(x(garbage), None, "{garbage}");
        }
        let p = pause(
            200,
            &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "1e30")],
        )
        .unwrap();
        assert_eq!(p.wait, MAX_SERVER_WAIT);
        let p = pause(200, &[("ratelimit", "\"default\";r=0;t=1e30")]).unwrap();
        assert_eq!(p.wait, MAX_SERVER_WAIT);
        let p = pause(429, &[("retry-after", "1e30")]).unwrap();
        assert_eq!(p.wait, MAX_SERVER_WAIT);
        assert_eq!(
            p.cause,
            format!("HTTP 429 with Retry-After {}s", MAX_SERVER_WAIT.as_secs())
        );
        // A pause that long added to now stays representable.
        let until = crate::duration::add_saturating(now(), p.wait);
        assert!(until > now());
    }

    fn unreadable(headers: &[(&str, &str)]) -> Vec<&'static str> {
        unreadable_signals(
            |name| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            },
            now(),
        )
        .into_iter()
        .map(|u| u.header)
        .collect()
    }

    /// Every value `source_pause` reads is readable, every one it ignores
    /// for want of a number or a date is not (out-of-range numbers are
    /// clamped, so readable), and absent headers are not reported.
    #[test]
    fn unreadable_signals_are_those_the_pause_ignores() {
        let date =
            httpdate::fmt_http_date(std::time::SystemTime::from(now()) + Duration::from_secs(120));
        for readable in [
            ("retry-after", "30"),
            ("retry-after", "2.5"),
            ("retry-after", "1e30"),
            ("retry-after", date.as_str()),
            ("ratelimit", "\"default\";r=0;t=30"),
            ("ratelimit", "\"burst\";r=5;t=2, \"day\";r=0;t=3600"),
            ("ratelimit", "limit=100, remaining=0, reset=45"),
            ("ratelimit", "limit=100, remaining=50"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-remaining", "-1"),
            ("ratelimit-remaining", "inf"),
            ("ratelimit-reset", " 12 "),
            ("ratelimit-reset", "1e30"),
            ("x-ratelimit-remaining", "12.0"),
            ("x-ratelimit-reset", "90"),
            ("x-ratelimit-reset", "1767607200.5"),
        ] {
            assert_eq!(unreadable(&[readable]), Vec::<&str>::new(), "{readable:?}");
        }
        for (header, value) in [
            ("retry-after", "soon"),
            ("retry-after", "-5"),
            ("retry-after", "NaN"),
            ("retry-after", ""),
            ("ratelimit", "garbage;;;\""),
            ("ratelimit", "\"default\";r=zero;t=30"),
            ("ratelimit", "\"default\";r=0;t=-1"),
            ("ratelimit", "limit=100, remaining=0, reset=later"),
            ("ratelimit-remaining", "many"),
            ("ratelimit-remaining", "NaN"),
            ("ratelimit-reset", "soon"),
            ("ratelimit-reset", "-3"),
            ("x-ratelimit-remaining", ""),
            ("x-ratelimit-reset", "-3"),
            ("x-ratelimit-reset", "Tue, 06 Jan 2026 10:00:00 GMT"),
        ] {
            assert_eq!(
                unreadable(&[(header, value)]),
                [header],
                "{header}: {value}"
            );
            // Each is what the pause ignores: alone, or paired with a zero
            // remaining where it is a reset, it pauses nothing.
            let pair = match header {
                "ratelimit-reset" => Some("ratelimit-remaining"),
                "x-ratelimit-reset" => Some("x-ratelimit-remaining"),
                _ => None,
            };
            let mut headers = vec![(header, value)];
            headers.extend(pair.map(|p| (p, "0")));
            assert_eq!(pause(429, &headers), None, "{header}: {value}");
        }
        assert_eq!(unreadable(&[]), Vec::<&str>::new());
        assert_eq!(
            unreadable(&[
                ("Retry-After", "soon"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", "later"),
            ]),
            ["retry-after", "x-ratelimit-reset"]
        );
    }

    #[test]
    fn the_longest_signal_wins() {
        let p = pause(
            429,
            &[
                ("retry-after", "10"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "60"),
            ],
        )
        .unwrap();
        assert_eq!(p.wait, Duration::from_secs(60));
    }
}
