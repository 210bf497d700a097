//! The per-source circuit breaker around each call, backed by the store so
//! every worker shares it. Before a call: a plain read; only when the
//! breaker is not closed, an atomic update decides (one half-open probe
//! across all workers). After a call: its outcome is fed back, except a
//! healthy call while the breaker is quiet (closed, no failure in its
//! window), which changes nothing and so costs no write.
//!
//! The source's health probe feeds the same stored breaker
//! ([`Engine::breaker_health`], called by the service's prober for both
//! `rebound serve` and `rebound health`): while it fails, an open breaker
//! admits no trial call, and the refusal names the probe.

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use rebound_domain::breaker::{Admission, BreakerState, HealthProbe, Phase, Signal, Transition};
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::plan::Source;
use std::sync::Mutex;

/// What the breaker said before a call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Gate {
    /// Go ahead; `quiet` when a healthy result need not be recorded.
    Allow { quiet: bool },
    /// Go ahead as the half-open probe (one attempt, no retries).
    Probe(DateTime<Utc>),
    /// Do not call; the message says why.
    Reject(String),
}

/// Whether `source`'s health probe feeds its breaker: a breaker, a probe,
/// and `follow_health` on.
fn follows_health(source: &Source) -> bool {
    let cfg = &source.breaker;
    cfg.enabled && cfg.follow_health && source.health.is_some()
}

fn log(source: &str, transitions: &[Transition]) {
    for t in transitions {
        if t.to == Phase::Open {
            tracing::warn!(source, from = t.from.as_str(), reason = %t.reason, "Circuit breaker opened.");
        } else {
            tracing::info!(source, from = t.from.as_str(), to = t.to.as_str(), reason = %t.reason, "Circuit breaker changed state.");
        }
    }
}

/// Whether a probe answered, for the breaker. A probe answered 429 met the
/// source's rate limit, not an outage: the host is up and answering (the
/// calls' own 429s are left to the rate limiter for the same reason). Held
/// for a failure, it opened the breaker of a source throttling some of its
/// requests (the Odds API on New Year's Eve) and refused calls that would
/// have got through; ignored, it left an earlier outage's "health probe
/// failing since" standing, which held an open breaker and kept `rebound
/// breakers` saying the probe was failing.
fn answered(ok: bool, http_status: Option<u16>) -> bool {
    ok || http_status == Some(429)
}

/// One health probe's result, as the breaker reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeAnswer<'a> {
    /// It answered as expected.
    pub ok: bool,
    /// The answer's status, when one came back.
    pub http_status: Option<u16>,
    /// Why not, when it did not (redacted).
    pub error: Option<&'a str>,
    /// The failure's kind as the fetcher classified it
    /// (`rebound_fetch::ProbeOutcome::failure_kind`). It was guessed from
    /// the message, so a malformed answer or a redirect loop was stored as
    /// `connect`. `None` from a prober that does not classify: then a
    /// status's class, else `connect`.
    pub failure_kind: Option<ErrorKind>,
}

impl ProbeAnswer<'_> {
    fn kind(&self) -> ErrorKind {
        self.failure_kind.unwrap_or_else(|| {
            self.http_status
                .map_or(ErrorKind::Connect, ErrorKind::of_probe_status)
        })
    }
}

impl Engine {
    pub(crate) async fn breaker_admit(&self, source: &Source) -> Result<Gate, EngineError> {
        let cfg = &source.breaker;
        if !cfg.enabled {
            return Ok(Gate::Allow { quiet: true });
        }
        let now = self.clock.now();
        match self.store.breaker_state(&source.name).await? {
            None => return Ok(Gate::Allow { quiet: true }),
            Some(row) if row.state.phase == Phase::Closed => {
                return Ok(Gate::Allow {
                    quiet: row.state.is_quiet(cfg, now),
                });
            }
            Some(_) => {}
        }
        let decided = Mutex::new(Admission::Allow);
        let tz = self.plan().pipeline.timezone;
        let mut change = |state: &mut BreakerState| {
            let (mut admission, transitions) = state.admit(cfg, &source.name, now, tz);
            if let (Admission::Reject(message), Some(since)) =
                (&mut admission, state.health_failing_since)
                && state.held_by_health()
            {
                *message = self.held_message(source, since);
            }
            *decided.lock().unwrap_or_else(|e| e.into_inner()) = admission;
            log(&source.name, &transitions);
            transitions
        };
        self.store
            .update_breaker(&source.name, now, &mut change)
            .await?;
        Ok(
            match decided.into_inner().unwrap_or_else(|e| e.into_inner()) {
                Admission::Allow => Gate::Allow { quiet: false },
                Admission::Probe(token) => Gate::Probe(token),
                Admission::Reject(message) => Gate::Reject(message),
            },
        )
    }

    /// The refusal while a failing health probe holds the breaker open.
    fn held_message(&self, source: &Source, since: DateTime<Utc>) -> String {
        let plan = self.plan();
        format!(
            "circuit breaker open: health probe {} failing since {}; calls resume when it answers",
            self.probe_request(source),
            rebound_domain::message::when(since, plan.pipeline.timezone)
        )
    }

    /// `GET /teams`: the probe's request as people read it, secrets masked.
    fn probe_request(&self, source: &Source) -> String {
        let path = source.health.as_ref().map_or("?", |h| h.path_text.as_str());
        self.plan().redactor.redact_string(&format!("GET {path}"))
    }

    /// Feeds one health probe result of `source` into its stored breaker
    /// (`rebound_domain::breaker::BreakerState::health`). A failing probe
    /// holds an open breaker until the next probe is due (`[alerts]
    /// evaluate_every`, how often `rebound serve` probes) plus one longest
    /// open period of slack for a late probe: if probes stop (no serve
    /// running), the breaker goes back to its own trial calls. An answered
    /// probe while the breaker is closed and has no failing probe on record
    /// is not written (a healthy source costs no write per probe). `now` is
    /// the probe's instant, the one the health report it belongs to is
    /// built at, so the report never sees a probe failing since after it.
    pub async fn breaker_health(
        &self,
        source: &Source,
        now: DateTime<Utc>,
        answer: ProbeAnswer<'_>,
    ) -> Result<(), EngineError> {
        if !follows_health(source) {
            return Ok(());
        }
        let stored = match answered(answer.ok, answer.http_status) {
            true => self.store.breaker_state(&source.name).await?,
            false => None,
        };
        self.breaker_health_read(source, now, answer, stored.as_ref().map(|r| &r.state))
            .await
            .map(|_| ())
    }

    /// [`Engine::breaker_health`] with the source's stored breaker as the
    /// caller read it after the probe answered (`None`: it has none): the
    /// health report reads every breaker once after all its probes, so
    /// each answering probe need not read its own. Only an answering probe
    /// looks at it. Returns whether it wrote the breaker.
    pub async fn breaker_health_read(
        &self,
        source: &Source,
        now: DateTime<Utc>,
        answer: ProbeAnswer<'_>,
        stored: Option<&BreakerState>,
    ) -> Result<bool, EngineError> {
        if !follows_health(source) {
            return Ok(false);
        }
        let cfg = &source.breaker;
        let ok = answered(answer.ok, answer.http_status);
        if ok {
            match stored {
                None => return Ok(false),
                Some(state)
                    if state.phase == Phase::Closed && state.health_failing_since.is_none() =>
                {
                    return Ok(false);
                }
                Some(_) => {}
            }
        }
        let request = self.probe_request(source);
        let (error, kind) = (answer.error, answer.kind());
        let hold = self
            .plan()
            .alerts
            .evaluate_every
            .saturating_add(cfg.max_open_for);
        let probe = HealthProbe {
            request: &request,
            ok,
            error,
            kind,
            hold,
        };
        let mut change = |state: &mut BreakerState| {
            let transitions = state.health(cfg, now, probe);
            log(&source.name, &transitions);
            transitions
        };
        self.store
            .update_breaker(&source.name, now, &mut change)
            .await?;
        Ok(true)
    }

    pub(crate) async fn breaker_feed(
        &self,
        source: &Source,
        gate: &Gate,
        status: ScraperStatus,
        kind: Option<ErrorKind>,
        message: Option<&str>,
    ) -> Result<(), EngineError> {
        let cfg = &source.breaker;
        let signal = Signal::of(status, kind);
        let probe = match gate {
            Gate::Probe(token) => Some(*token),
            Gate::Reject(_) => return Ok(()),
            Gate::Allow { quiet } => {
                if !cfg.enabled || signal == Signal::Ignore || (signal == Signal::Healthy && *quiet)
                {
                    return Ok(());
                }
                None
            }
        };
        let now = self.clock.now();
        let failure = kind.map(|k| (k, message.unwrap_or("")));
        let mut change = |state: &mut BreakerState| {
            let transitions = state.record(cfg, now, signal, failure, probe);
            log(&source.name, &transitions);
            transitions
        };
        self.store
            .update_breaker(&source.name, now, &mut change)
            .await?;
        Ok(())
    }
}
