//! Proxies per source (`proxy`, `proxies`, `proxy_rotation`,
//! `proxy_retry_on`, `proxy_breaker`): which proxy an exchange goes
//! through, and each proxy's small circuit breaker.
//!
//! Some upstreams answer only through proxies from cloud hosts, and any
//! one proxy of a pool may be dead, blocked or out of credit. So every
//! exchange takes the next proxy of the rotation; one that fails in a way
//! that is the proxy's fault (no connection, no answer in time, or a
//! status in `proxy_retry_on`, 403 and 407 by default) is given up for
//! that attempt and the next proxy is asked at once, at most once each
//! per attempt. A proxy that fails [`ProxyBreakerConfig::failures`] times
//! in a row is skipped for [`ProxyBreakerConfig::open_for`]; afterwards it
//! is tried again, and one more failure skips it again (a success resets
//! it). These are the original system's proxy rules (3 failures, 5
//! minutes).
//!
//! Proxy URLs carry credentials, so they are secrets: a proxy is named in
//! every text by its place in the list ([`label`]: "proxy 2 of 3"), never
//! by its URL, and [`SourceProxies`]'s `Debug` hides them.
//!
//! Pure, like the rest of this crate: time and random draws are
//! parameters.

use crate::outcome::ErrorKind;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// `proxy_rotation = "round_robin" | "random"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyRotation {
    /// Each exchange takes the proxy after the previous exchange's.
    #[default]
    RoundRobin,
    /// Each exchange takes a proxy drawn uniformly among those usable.
    Random,
}

impl ProxyRotation {
    pub const ALL: [ProxyRotation; 2] = [ProxyRotation::RoundRobin, ProxyRotation::Random];

    /// As written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyRotation::RoundRobin => "round_robin",
            ProxyRotation::Random => "random",
        }
    }

    pub fn parse(text: &str) -> Option<ProxyRotation> {
        ProxyRotation::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// `proxy_breaker = { failures = 3, open_for = "5m" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyBreakerConfig {
    /// Consecutive failures that open a proxy's breaker (> 0).
    pub failures: u32,
    /// How long an open proxy is skipped (> 0).
    pub open_for: Duration,
}

impl Default for ProxyBreakerConfig {
    /// The original's proxy breaker: 3 failures in a row, 5 minutes off.
    fn default() -> Self {
        ProxyBreakerConfig {
            failures: 3,
            open_for: Duration::from_secs(300),
        }
    }
}

/// The statuses that mean "this proxy is refused", by default: 403 (the
/// upstream blocks the proxy's address) and 407 (the proxy refuses our
/// credentials).
pub const DEFAULT_RETRY_ON: [u16; 2] = [403, 407];

/// How a source's requests reach the proxy: a URL, or the environment's
/// `HTTP_PROXY` / `HTTPS_PROXY` / `ALL_PROXY` / `NO_PROXY` (`proxy = "env"`).
#[derive(Clone, PartialEq, Eq)]
pub enum ProxyRoute {
    /// `http://`, `https://`, `socks5://` or `socks5h://`, credentials
    /// included. A secret.
    Url(String),
    /// The environment's proxy variables, as read when the config was
    /// loaded. Secrets too (they may carry credentials).
    Env(EnvProxies),
    /// Its `${VAR}` is not set, which only commands that send no request
    /// allow (`check`, the reports): the proxy is known by its place, so
    /// reports can show it, but nothing can be sent through it.
    Unset,
}

impl std::fmt::Debug for ProxyRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it carries credentials.
        match self {
            ProxyRoute::Url(_) => write!(f, "Url(***)"),
            ProxyRoute::Env(_) => write!(f, "Env(***)"),
            ProxyRoute::Unset => write!(f, "Unset"),
        }
    }
}

/// The proxy variables of the environment (upper case, else lower case).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvProxies {
    /// `HTTP_PROXY`: for `http://` targets.
    pub http: Option<String>,
    /// `HTTPS_PROXY`: for `https://` targets.
    pub https: Option<String>,
    /// `ALL_PROXY`: for targets the two above do not cover.
    pub all: Option<String>,
    /// `NO_PROXY`: hosts reached directly.
    pub no_proxy: Option<String>,
}

/// A source's proxies and how they are used.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceProxies {
    /// At least one; a proxy's index (1-based) is its place here.
    pub routes: Vec<ProxyRoute>,
    pub rotation: ProxyRotation,
    /// Statuses after which the exchange is repeated on the next proxy.
    pub retry_on: Vec<u16>,
    pub breaker: ProxyBreakerConfig,
}

impl std::fmt::Debug for SourceProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URLs: they carry credentials.
        f.debug_struct("SourceProxies")
            .field("routes", &self.routes.len())
            .field("rotation", &self.rotation)
            .field("retry_on", &self.retry_on)
            .field("breaker", &self.breaker)
            .finish()
    }
}

impl SourceProxies {
    /// Whether an exchange that ended with `http_status` or the transport
    /// failure `kind` is the proxy's fault: no connection, no answer in
    /// time, or a status in `retry_on`. A connection lost after the
    /// status came is still the connection's failure: the kind is looked
    /// at first.
    pub fn is_proxy_failure(&self, http_status: Option<u16>, kind: Option<ErrorKind>) -> bool {
        if matches!(kind, Some(ErrorKind::Connect | ErrorKind::Timeout)) {
            return true;
        }
        http_status.is_some_and(|status| self.retry_on.contains(&status))
    }
}

/// How a proxy is named in messages, tables and logs: `proxy 2 of 3`
/// (`index` is 0-based here, 1-based in the text).
pub fn label(index: usize, count: usize) -> String {
    format!("proxy {} of {count}", index + 1)
}

/// One proxy's breaker: closed, or open (skipped) until an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyBreaker {
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// While `now` is before this, the proxy is skipped.
    pub open_until: Option<DateTime<Utc>>,
}

impl ProxyBreaker {
    /// Whether the proxy may be used at `now`.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.open_until.is_none_or(|until| now >= until)
    }

    /// `open` while skipped; `closed` otherwise (including a proxy whose
    /// open period ended and that has not been tried since).
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.is_usable(now) {
            "closed"
        } else {
            "open"
        }
    }

    /// Feeds one exchange through this proxy, ended at `at`. Returns true
    /// when this failure opened the breaker.
    pub fn record(&mut self, failed: bool, at: DateTime<Utc>, config: &ProxyBreakerConfig) -> bool {
        if !failed {
            *self = ProxyBreaker::default();
            return false;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures >= config.failures {
            let open_for =
                chrono::Duration::from_std(config.open_for).unwrap_or(chrono::Duration::MAX);
            self.open_until = Some(
                at.checked_add_signed(open_for)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            );
            return true;
        }
        false
    }
}

/// The rotation of one source's proxies: where round robin goes next.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    next: usize,
}

impl Rotation {
    /// The proxy for the next exchange: the next usable one (breaker not
    /// open at `now`) not yet `tried` in this attempt, in round-robin
    /// order or drawn with `draw` (in `0.0..1.0`); `None` when there is
    /// none. `tried` and `breakers` have one entry per proxy.
    pub fn pick(
        &mut self,
        rotation: ProxyRotation,
        breakers: &[ProxyBreaker],
        tried: &[bool],
        now: DateTime<Utc>,
        draw: f64,
    ) -> Option<usize> {
        let count = breakers.len();
        let usable =
            |i: usize| breakers[i].is_usable(now) && !tried.get(i).copied().unwrap_or(false);
        match rotation {
            ProxyRotation::RoundRobin => {
                let found = (0..count)
                    .map(|k| (self.next + k) % count)
                    .find(|&i| usable(i))?;
                self.next = (found + 1) % count;
                Some(found)
            }
            ProxyRotation::Random => {
                let choices: Vec<usize> = (0..count).filter(|&i| usable(i)).collect();
                if choices.is_empty() {
                    return None;
                }
                let at =
                    ((draw.clamp(0.0, 1.0) * choices.len() as f64) as usize).min(choices.len() - 1);
                choices.get(at).copied()
            }
        }
    }
}

/// One recorded exchange through a proxy, as the health report reads it
/// back from the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyExchange {
    pub finished_at: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub error_kind: Option<ErrorKind>,
}

/// A proxy's breaker as its recorded exchanges (oldest first) leave it:
/// the same state machine the fetcher runs, replayed, so a report in
/// another process shows what a fetcher with that history would do.
pub fn replay(proxies: &SourceProxies, exchanges: &[ProxyExchange]) -> ProxyBreaker {
    let mut breaker = ProxyBreaker::default();
    for exchange in exchanges {
        let failed = proxies.is_proxy_failure(exchange.http_status, exchange.error_kind);
        breaker.record(failed, exchange.finished_at, &proxies.breaker);
    }
    breaker
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn pool(n: usize) -> SourceProxies {
        SourceProxies {
            routes: (0..n)
                .map(|i| ProxyRoute::Url(format!("http://p{i}:1")))
                .collect(),
            rotation: ProxyRotation::RoundRobin,
            retry_on: DEFAULT_RETRY_ON.to_vec(),
            breaker: ProxyBreakerConfig::default(),
        }
    }

    #[test]
    fn round_robin_goes_on_from_the_last_proxy_and_skips_tried_and_open_ones() {
        let mut rotation = Rotation::default();
        let mut breakers = vec![ProxyBreaker::default(); 3];
        let none = [false; 3];
        let picks: Vec<_> = (0..4)
            .map(|_| rotation.pick(ProxyRotation::RoundRobin, &breakers, &none, t(0), 0.0))
            .collect();
        assert_eq!(picks, [Some(0), Some(1), Some(2), Some(0)]);
        breakers[2].open_until = Some(t(10));
        let tried = [true, false, false];
        // Next is 1; then 2 is open and 0 tried: nothing left this attempt.
        assert_eq!(
            rotation.pick(ProxyRotation::RoundRobin, &breakers, &tried, t(0), 0.0),
            Some(1)
        );
        let tried = [true, true, false];
        assert_eq!(
            rotation.pick(ProxyRotation::RoundRobin, &breakers, &tried, t(0), 0.0),
            None
        );
        // Once its open period ends, proxy 3 is used again.
        assert_eq!(
            rotation.pick(ProxyRotation::RoundRobin, &breakers, &tried, t(10), 0.0),
            Some(2)
        );
    }

    #[test]
    fn random_draws_among_the_usable_proxies_only() {
        let mut rotation = Rotation::default();
        let mut breakers = vec![ProxyBreaker::default(); 3];
        breakers[0].open_until = Some(t(10));
        let none = [false; 3];
        let pick = |rotation: &mut Rotation, draw| {
            rotation.pick(ProxyRotation::Random, &breakers, &none, t(0), draw)
        };
        assert_eq!(pick(&mut rotation, 0.0), Some(1));
        assert_eq!(pick(&mut rotation, 0.49), Some(1));
        assert_eq!(pick(&mut rotation, 0.5), Some(2));
        assert_eq!(pick(&mut rotation, 1.0), Some(2));
    }

    #[test]
    fn three_failures_in_a_row_open_a_proxy_for_open_for_and_one_more_reopens_it() {
        let config = ProxyBreakerConfig::default();
        let mut breaker = ProxyBreaker::default();
        assert!(!breaker.record(true, t(0), &config));
        assert!(!breaker.record(false, t(1), &config));
        assert_eq!(
            breaker,
            ProxyBreaker::default(),
            "a success resets the count"
        );
        assert!(!breaker.record(true, t(2), &config));
        assert!(!breaker.record(true, t(3), &config));
        assert!(breaker.record(true, t(4), &config));
        assert_eq!(breaker.state(t(4)), "open");
        assert!(!breaker.is_usable(t(303)));
        assert!(breaker.is_usable(t(304)));
        // Tried again after the open period: one failure is enough.
        assert!(breaker.record(true, t(305), &config));
        assert_eq!(breaker.open_until, Some(t(605)));
        assert!(!breaker.record(false, t(700), &config));
        assert_eq!(breaker.state(t(700)), "closed");
    }

    #[test]
    fn proxy_failures_are_connect_timeout_and_the_listed_statuses() {
        let proxies = pool(1);
        let table = [
            (None, Some(ErrorKind::Connect), true),
            (None, Some(ErrorKind::Timeout), true),
            (None, Some(ErrorKind::Interrupted), false),
            (Some(403), Some(ErrorKind::Client), true),
            (Some(407), Some(ErrorKind::Client), true),
            (Some(404), Some(ErrorKind::Client), false),
            (Some(503), Some(ErrorKind::Server), false),
            (Some(200), None, false),
        ];
        for (status, kind, expected) in table {
            assert_eq!(
                proxies.is_proxy_failure(status, kind),
                expected,
                "{status:?} {kind:?}"
            );
        }
    }

    #[test]
    fn replay_gives_what_the_fetcher_would_hold() {
        let proxies = pool(1);
        let failed = |s| ProxyExchange {
            finished_at: t(s),
            http_status: None,
            error_kind: Some(ErrorKind::Connect),
        };
        let state = replay(&proxies, &[failed(0), failed(1), failed(2)]);
        assert_eq!(state.consecutive_failures, 3);
        assert_eq!(state.open_until, Some(t(302)));
        let ok = ProxyExchange {
            finished_at: t(3),
            http_status: Some(200),
            error_kind: None,
        };
        assert_eq!(replay(&proxies, &[failed(0), ok]), ProxyBreaker::default());
    }

    #[test]
    fn debug_never_shows_a_url() {
        let text = format!("{:?}", pool(2));
        assert!(!text.contains("http://"), "{text}");
        assert_eq!(label(1, 3), "proxy 2 of 3");
    }
}
