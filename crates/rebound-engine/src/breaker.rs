//! The per-source circuit breaker around each call, backed by the store so
//! every worker shares it. Before a call: a plain read; only when the
//! breaker is not closed, an atomic update decides (one half-open probe
//! across all workers). After a call: its outcome is fed back, except a
//! healthy call while the breaker is quiet (closed, no failure in its
//! window), which changes nothing and so costs no write.

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use rebound_domain::breaker::{Admission, BreakerState, Phase, Signal, Transition};
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

fn log(source: &str, transitions: &[Transition]) {
    for t in transitions {
        if t.to == Phase::Open {
            tracing::warn!(source, from = t.from.as_str(), reason = %t.reason, "Circuit breaker opened.");
        } else {
            tracing::info!(source, from = t.from.as_str(), to = t.to.as_str(), reason = %t.reason, "Circuit breaker changed state.");
        }
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
        let mut change = |state: &mut BreakerState| {
            let (admission, transitions) = state.admit(cfg, &source.name, now);
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
