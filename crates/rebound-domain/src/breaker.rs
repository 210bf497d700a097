//! The per-source circuit breaker, as a pure state machine.
//!
//! closed → open when, within a sliding `window`, either
//! `consecutive_failures` calls in a row failed, or at least `min_calls`
//! calls were counted and `failure_rate` of them failed → half-open once
//! the open period (`open_for`, doubled on each trip since the breaker last
//! closed, capped at `max_open_for`) has passed → exactly one probe call is
//! admitted → closed on a healthy answer (counters reset), open again (for
//! longer) on a failure.
//!
//! Only source-health failures count ([`Signal::of`]): `server`, `timeout`
//! and `connect`. Any other answer (success, no_data, a 4xx, an undecodable
//! body) shows the host is up and counts as healthy; `throttled` belongs to
//! the rate limiter and is ignored, as are failures that made no request.
//!
//! A source's health probe (`health = { path = ... }`), sent by `rebound
//! serve`'s alert loop, feeds the same machine ([`BreakerState::health`],
//! unless `follow_health = false`): a failed probe counts as a failure, so a
//! dead host opens the breaker before the next run calls it; while the
//! breaker is open and the probe keeps failing, the open period lasts until
//! a probe could tell otherwise, so no run spends a half-open trial call on
//! a host the probe already knows is down; a probe that answers while the
//! breaker is open ends the open period at once (the next call is the
//! trial), so recovery is found within one probe period rather than at the
//! end of a doubled open period.
//!
//! State is a plain value ([`BreakerState`]) that the store keeps in
//! `circuit_breaker_state`; each operation takes `now` and returns the
//! transitions it made, which the store appends to
//! `circuit_breaker_transitions` in the same transaction.

use crate::duration::format_duration;
use crate::outcome::{ErrorKind, ScraperStatus};
use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use std::time::Duration;

/// `[sources.X.breaker]`, resolved. Invariants: `min_calls >= 1`,
/// `consecutive_failures >= 1`, `0 < failure_rate <= 1`,
/// `0 < open_for <= max_open_for`, `window > 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    pub enabled: bool,
    /// How far back the failure rate looks.
    pub window: Duration,
    /// Calls in the window before the rate is judged at all.
    pub min_calls: u32,
    /// Share of failed calls in the window that opens the breaker.
    pub failure_rate: f64,
    /// Failures in a row that open the breaker whatever the rate.
    pub consecutive_failures: u32,
    /// The first open period; doubled on each further trip.
    pub open_for: Duration,
    /// Upper bound of the open period.
    pub max_open_for: Duration,
    /// A probe not reported within this long is presumed lost (its worker
    /// died) and another call may probe.
    pub probe_timeout: Duration,
    /// `follow_health`: the source's health probe results feed the breaker.
    pub follow_health: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            enabled: true,
            window: Duration::from_secs(600),
            min_calls: 5,
            failure_rate: 0.5,
            consecutive_failures: 5,
            open_for: Duration::from_secs(60),
            max_open_for: Duration::from_secs(1800),
            probe_timeout: Duration::from_secs(300),
            follow_health: true,
        }
    }
}

impl BreakerConfig {
    /// The open period after trip number `streak` (1-based) since the
    /// breaker last closed: `open_for × 2^(streak−1)`, capped.
    pub fn open_period(&self, streak: u32) -> Duration {
        let factor = 2u32.saturating_pow(streak.saturating_sub(1).min(30));
        self.open_for.saturating_mul(factor).min(self.max_open_for)
    }
}

/// The three states, spelled as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Phase {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Closed => "closed",
            Phase::Open => "open",
            Phase::HalfOpen => "half_open",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        [Phase::Closed, Phase::Open, Phase::HalfOpen]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// What a finished call tells the breaker about its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The source answered: it is up.
    Healthy,
    /// server, timeout or connect: the source is unwell.
    Unhealthy,
    /// Says nothing about the source's health (throttled, no request made).
    Ignore,
}

impl Signal {
    /// Classifies a call by its final status and error kind.
    pub fn of(status: ScraperStatus, kind: Option<ErrorKind>) -> Signal {
        match (status, kind) {
            // Late-data verdicts come from a proper answer: the source is up.
            (
                ScraperStatus::Success
                | ScraperStatus::NoData
                | ScraperStatus::NotYetAvailable
                | ScraperStatus::Overdue,
                _,
            ) => Signal::Healthy,
            (ScraperStatus::Skipped, _) => Signal::Ignore,
            (
                ScraperStatus::Failed,
                Some(
                    ErrorKind::Server
                    | ErrorKind::Timeout
                    | ErrorKind::Connect
                    | ErrorKind::Interrupted
                    | ErrorKind::Protocol,
                ),
            ) => Signal::Unhealthy,
            (
                ScraperStatus::Failed,
                Some(
                    ErrorKind::Client
                    | ErrorKind::Decode
                    | ErrorKind::BodyTooLarge
                    // Every page was answered; see `ErrorKind::Pagination`.
                    | ErrorKind::Pagination
                    // The upstream answered; our parser failed on it.
                    | ErrorKind::Transform,
                ),
            ) => Signal::Healthy,
            (ScraperStatus::Failed, _) => Signal::Ignore,
        }
    }
}

/// One slice of the sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Start of the slice, in whole seconds since the epoch.
    pub start: i64,
    pub calls: u32,
    pub failures: u32,
}

/// The window is kept as this many slices of `window / SLICES`.
pub const SLICES: i64 = 10;

/// A breaker's whole state, as stored in `circuit_breaker_state`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BreakerState {
    pub phase: Phase,
    /// When it opened after it was last closed: kept while half-open and
    /// when a failed probe re-opens it, so the outage's start does not move
    /// with each trial (the alert's unhealthy period is dated from it).
    pub opened_at: Option<DateTime<Utc>>,
    /// When the open period ends: the next probe's earliest time.
    pub open_until: Option<DateTime<Utc>>,
    /// Why it last opened, e.g. "5 consecutive failures".
    pub open_reason: Option<String>,
    /// Trips ever (shown to operators).
    pub trips: u32,
    /// Trips since it last closed (drives the growing open period).
    pub streak: u32,
    pub consecutive_failures: u32,
    /// Counted calls of the window, oldest first. The window starts with
    /// its first failure: while it holds no failure, healthy calls are not
    /// counted (so a healthy source costs no write per call).
    pub buckets: Vec<Bucket>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_failure_kind: Option<ErrorKind>,
    pub last_failure_message: Option<String>,
    /// Set while a half-open probe is in flight: when it was admitted.
    pub probe_started_at: Option<DateTime<Utc>>,
    /// Since when the source's health probe has been failing: set by the
    /// first failed probe, cleared by a probe that answers (or on close).
    pub health_failing_since: Option<DateTime<Utc>>,
}

/// What a health probe told about its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthProbe<'a> {
    /// The probe's request as people read it, e.g. `GET /teams`.
    pub request: &'a str,
    /// Whether it answered as expected.
    pub ok: bool,
    /// Why not, when it did not.
    pub error: Option<&'a str>,
    /// The failure's kind for `last_failure_kind`, as the fetcher
    /// classified the probe's answer (`protocol` for a malformed one,
    /// `timeout`, `connect`, a wrong status by its class).
    pub kind: ErrorKind,
    /// How long a failing probe holds the breaker open after it: until
    /// the next probe could tell otherwise (its period), with slack for a
    /// probe that comes late.
    pub hold: Duration,
}

/// A state change, as recorded in `circuit_breaker_transitions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub from: Phase,
    pub to: Phase,
    pub reason: String,
}

/// What the breaker says about a call about to be made.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Go ahead (closed, or disabled).
    Allow,
    /// Go ahead as the one half-open probe; report with this token.
    Probe(DateTime<Utc>),
    /// Do not call: the message says since when, why and when next.
    Reject(String),
}

/// `t + d`, saturating: a huge `open_for` must not panic (`DateTime +
/// TimeDelta` overflows); the config bounds it, this is the safety net.
fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    crate::duration::add_saturating(t, d)
}

impl BreakerState {
    /// Calls and failures counted in the window ending at `now`.
    pub fn window_counts(&self) -> (u32, u32) {
        self.buckets
            .iter()
            .fold((0, 0), |(c, f), b| (c + b.calls, f + b.failures))
    }

    fn slice_secs(cfg: &BreakerConfig) -> i64 {
        ((cfg.window.as_secs() as i64) / SLICES).max(1)
    }

    /// Drops slices that ended before the window.
    fn prune(&mut self, cfg: &BreakerConfig, now: DateTime<Utc>) {
        let slice = Self::slice_secs(cfg);
        let oldest = now.timestamp() - slice * SLICES;
        self.buckets.retain(|b| b.start + slice > oldest);
    }

    fn count(&mut self, cfg: &BreakerConfig, now: DateTime<Utc>, failed: bool) {
        let slice = Self::slice_secs(cfg);
        let start = now.timestamp().div_euclid(slice) * slice;
        match self.buckets.last_mut() {
            Some(last) if last.start == start => {
                last.calls += 1;
                last.failures += u32::from(failed);
            }
            _ => self.buckets.push(Bucket {
                start,
                calls: 1,
                failures: u32::from(failed),
            }),
        }
    }

    /// True when a healthy call in this state changes nothing worth a write:
    /// closed, no failure in the window (as of `now`), none in a row, no probe.
    pub fn is_quiet(&self, cfg: &BreakerConfig, now: DateTime<Utc>) -> bool {
        let mut copy = self.clone();
        copy.prune(cfg, now);
        copy.phase == Phase::Closed && copy.consecutive_failures == 0 && copy.window_counts().1 == 0
    }

    fn reject_message(&self, source: &str, next: DateTime<Utc>, tz: Tz) -> String {
        let since = self
            .opened_at
            .map(|t| crate::message::when_exact(t, tz))
            .unwrap_or_else(|| "?".into());
        let why = self.open_reason.as_deref().unwrap_or("failures");
        format!(
            "circuit breaker for source {source} open since {since} after {why}; next probe at {}",
            crate::message::when_exact(next, tz)
        )
    }

    /// Decides whether a call may start now. Half-open admits exactly one
    /// probe; a probe older than `probe_timeout` is presumed lost. A
    /// refusal's text gives its times in `tz`, the pipeline's zone.
    pub fn admit(
        &mut self,
        cfg: &BreakerConfig,
        source: &str,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> (Admission, Vec<Transition>) {
        if !cfg.enabled {
            return (Admission::Allow, Vec::new());
        }
        // Stores keep milliseconds: the probe token must survive the trip.
        let now = now.trunc_subsecs(3);
        match self.phase {
            Phase::Closed => (Admission::Allow, Vec::new()),
            Phase::Open => {
                let until = self.open_until.unwrap_or(now);
                if now < until {
                    return (
                        Admission::Reject(self.reject_message(source, until, tz)),
                        Vec::new(),
                    );
                }
                self.phase = Phase::HalfOpen;
                self.probe_started_at = Some(now);
                let t = Transition {
                    at: now,
                    from: Phase::Open,
                    to: Phase::HalfOpen,
                    reason: format!(
                        "open period ended ({}); one probe admitted",
                        format_duration(cfg.open_period(self.streak))
                    ),
                };
                (Admission::Probe(now), vec![t])
            }
            Phase::HalfOpen => match self.probe_started_at {
                Some(started) if now < add(started, cfg.probe_timeout) => {
                    let next = add(started, cfg.probe_timeout);
                    (
                        Admission::Reject(self.reject_message(source, next, tz)),
                        Vec::new(),
                    )
                }
                _ => {
                    self.probe_started_at = Some(now);
                    (Admission::Probe(now), Vec::new())
                }
            },
        }
    }

    fn trip(
        &mut self,
        cfg: &BreakerConfig,
        now: DateTime<Utc>,
        from: Phase,
        reason: String,
    ) -> Transition {
        self.streak = self.streak.saturating_add(1);
        self.trips = self.trips.saturating_add(1);
        let period = cfg.open_period(self.streak);
        self.phase = Phase::Open;
        if from == Phase::Closed || self.opened_at.is_none() {
            self.opened_at = Some(now);
        }
        self.open_until = Some(add(now, period));
        self.probe_started_at = None;
        let full = format!("{reason}; open for {}", format_duration(period));
        self.open_reason = Some(reason);
        Transition {
            at: now,
            from,
            to: Phase::Open,
            reason: full,
        }
    }

    fn close(&mut self, now: DateTime<Utc>, reason: &str) -> Option<Transition> {
        let from = self.phase;
        self.phase = Phase::Closed;
        self.opened_at = None;
        self.open_until = None;
        self.open_reason = None;
        self.streak = 0;
        self.consecutive_failures = 0;
        self.buckets.clear();
        self.probe_started_at = None;
        self.health_failing_since = None;
        (from != Phase::Closed).then(|| Transition {
            at: now,
            from,
            to: Phase::Closed,
            reason: reason.to_string(),
        })
    }

    /// Feeds a finished call. `probe` is the token of [`Admission::Probe`]
    /// when the call was the probe. Results of calls admitted before the
    /// breaker opened (arriving while it is open or half-open) are ignored.
    pub fn record(
        &mut self,
        cfg: &BreakerConfig,
        now: DateTime<Utc>,
        signal: Signal,
        failure: Option<(ErrorKind, &str)>,
        probe: Option<DateTime<Utc>>,
    ) -> Vec<Transition> {
        if !cfg.enabled {
            return Vec::new();
        }
        if signal == Signal::Unhealthy
            && let Some((kind, message)) = failure
        {
            self.last_failure_at = Some(now);
            self.last_failure_kind = Some(kind);
            self.last_failure_message = Some(crate::message::truncate_chars(message, 500));
        }
        match self.phase {
            Phase::Closed => {
                self.prune(cfg, now);
                match signal {
                    Signal::Ignore => Vec::new(),
                    Signal::Healthy => {
                        self.consecutive_failures = 0;
                        if self.window_counts().1 > 0 {
                            self.count(cfg, now, false);
                        }
                        Vec::new()
                    }
                    Signal::Unhealthy => {
                        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                        self.count(cfg, now, true);
                        let (calls, failures) = self.window_counts();
                        let reason = if self.consecutive_failures >= cfg.consecutive_failures {
                            Some(format!(
                                "{} consecutive failures",
                                self.consecutive_failures
                            ))
                        } else if calls >= cfg.min_calls
                            && f64::from(failures) >= cfg.failure_rate * f64::from(calls)
                        {
                            Some(format!(
                                "{failures} of {calls} calls failed ({}%) within {}",
                                (f64::from(failures) * 100.0 / f64::from(calls)).round(),
                                format_duration(cfg.window)
                            ))
                        } else {
                            None
                        };
                        match reason {
                            Some(reason) => vec![self.trip(cfg, now, Phase::Closed, reason)],
                            None => Vec::new(),
                        }
                    }
                }
            }
            Phase::HalfOpen if probe.is_some() && probe == self.probe_started_at => match signal {
                Signal::Healthy => self.close(now, "probe succeeded").into_iter().collect(),
                Signal::Unhealthy => {
                    let what = failure.map(|(k, _)| k.as_str()).unwrap_or("failure");
                    vec![self.trip(cfg, now, Phase::HalfOpen, format!("probe failed ({what})"))]
                }
                Signal::Ignore => {
                    // Inconclusive (e.g. throttled): the next call probes.
                    self.probe_started_at = None;
                    Vec::new()
                }
            },
            Phase::HalfOpen | Phase::Open => Vec::new(),
        }
    }

    /// Feeds a health probe's result (see the module doc). A failed probe
    /// counts as a failed call (which may open the breaker) and, while the
    /// breaker is not closed, keeps it open until `probe.hold` from now:
    /// no trial call goes out while the probe says the host is down. A
    /// probe that answers while the breaker is open moves it to half-open
    /// at once, so the next call is the trial. A probe that answers while
    /// the breaker is closed changes nothing: the calls decide.
    pub fn health(
        &mut self,
        cfg: &BreakerConfig,
        now: DateTime<Utc>,
        probe: HealthProbe<'_>,
    ) -> Vec<Transition> {
        if !cfg.enabled || !cfg.follow_health {
            return Vec::new();
        }
        // Stores keep milliseconds, as for the probe token.
        let now = now.trunc_subsecs(3);
        let request = probe.request;
        if probe.ok {
            self.health_failing_since = None;
            if self.phase != Phase::Open {
                return Vec::new();
            }
            self.phase = Phase::HalfOpen;
            self.open_until = Some(now);
            self.probe_started_at = None;
            return vec![Transition {
                at: now,
                from: Phase::Open,
                to: Phase::HalfOpen,
                reason: format!("health probe {request} answered; the next call is the trial"),
            }];
        }
        self.health_failing_since.get_or_insert(now);
        let what = probe.error.unwrap_or("no answer");
        let mut transitions = match self.phase {
            Phase::Closed => {
                let reason = format!("health probe {request} failing");
                let mut t =
                    self.record(cfg, now, Signal::Unhealthy, Some((probe.kind, what)), None);
                // Name the probe in the recorded reason: a breaker that
                // opened before any call failed would otherwise puzzle.
                for tr in &mut t {
                    tr.reason = format!("{} ({reason})", tr.reason);
                }
                if let Some(r) = self.open_reason.as_mut().filter(|_| !t.is_empty()) {
                    *r = format!("{r} ({reason})");
                }
                t
            }
            // The probe says the host is still down: a trial admitted (or
            // about to be) would only meet the same dead host.
            Phase::HalfOpen => vec![self.trip(
                cfg,
                now,
                Phase::HalfOpen,
                format!("health probe {request} failing"),
            )],
            Phase::Open => Vec::new(),
        };
        if self.phase == Phase::Open {
            let hold = add(now, probe.hold);
            if self.open_until.is_none_or(|u| u < hold) {
                self.open_until = Some(hold);
            }
        }
        transitions.retain(|t| t.from != t.to);
        transitions
    }

    /// True while the open period is held by a failing health probe: the
    /// refusal then names the probe rather than the open period.
    pub fn held_by_health(&self) -> bool {
        self.phase == Phase::Open && self.health_failing_since.is_some()
    }

    /// Closes the breaker by hand.
    pub fn reset(&mut self, now: DateTime<Utc>, reason: &str) -> Vec<Transition> {
        self.close(now, reason).into_iter().collect()
    }

    /// When the next probe may start, if the breaker is not closed.
    pub fn next_probe(&self, cfg: &BreakerConfig) -> Option<DateTime<Utc>> {
        match self.phase {
            Phase::Closed => None,
            Phase::Open => self.open_until,
            Phase::HalfOpen => Some(
                self.probe_started_at
                    .map(|s| add(s, cfg.probe_timeout))
                    .unwrap_or_else(|| self.open_until.unwrap_or_default()),
            ),
        }
    }

    /// The window as stored: `start:calls:failures` slices joined by `,`.
    pub fn encode_buckets(&self) -> String {
        self.buckets
            .iter()
            .map(|b| format!("{}:{}:{}", b.start, b.calls, b.failures))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads [`Self::encode_buckets`]' text; malformed slices are dropped.
    pub fn decode_buckets(text: &str) -> Vec<Bucket> {
        text.split(',')
            .filter_map(|part| {
                let mut it = part.split(':');
                let start = it.next()?.parse().ok()?;
                let calls = it.next()?.parse().ok()?;
                let failures = it.next()?.parse().ok()?;
                Some(Bucket {
                    start,
                    calls,
                    failures,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
