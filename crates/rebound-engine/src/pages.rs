//! The guards of a paginated call's later pages. The call as a whole was
//! admitted by the breaker and counted against the quota before page 1
//! (`call.rs`); each later page is admitted here before it is requested,
//! because a walk of 50 pages can outlive the conditions it started under:
//! other calls may open the source's breaker meanwhile, and every page is
//! a request the quota pays for.

use crate::{Engine, EngineError};
use rebound_domain::breaker::Phase;
use rebound_domain::outcome::ErrorKind;
use rebound_domain::plan::Source;
use rebound_fetch::{PageGate, PageRefusal};
use rebound_storage::{QuotaKey, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};

/// Admits the pages after the first of one call.
pub(crate) struct PageGuards<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) source: &'a Source,
    /// The quota period the call itself was counted in.
    pub(crate) quota: Option<&'a QuotaKey>,
    /// Pages counted in that period here, which the call's settlement must
    /// not count again. (A page counted in a later period, when the walk
    /// crosses a period's end, stays counted there.)
    pub(crate) counted: AtomicI64,
    /// The history went away while a page was admitted (its breaker or
    /// quota read): the call stops, and the engine leaves the run to its
    /// lease as for the call's own record, instead of a `storage` failure
    /// for an outage of seconds.
    pub(crate) unavailable: std::sync::Mutex<Option<String>>,
}

impl<'a> PageGuards<'a> {
    pub(crate) fn new(engine: &'a Engine, source: &'a Source, quota: Option<&'a QuotaKey>) -> Self {
        PageGuards {
            engine,
            source,
            quota,
            counted: AtomicI64::new(0),
            unavailable: std::sync::Mutex::new(None),
        }
    }

    /// Why the history was unavailable to a page's guard, if it was.
    pub(crate) fn unavailable(&self) -> Option<String> {
        self.unavailable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Notes an outage of the history and the page refusal that ends the walk.
    fn away(&self, detail: String, what: &str) -> PageRefusal {
        let message = format!("{what}: the history is unavailable ({detail})");
        *self
            .unavailable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(detail);
        PageRefusal {
            kind: ErrorKind::Storage,
            message,
        }
    }

    /// Pages counted against the call's own quota period.
    pub(crate) fn counted(&self) -> i64 {
        self.counted.load(Ordering::Relaxed)
    }

    async fn check(&self) -> Result<(), PageRefusal> {
        let source = &self.source.name;
        if self.source.breaker.enabled {
            // A plain read: only an open breaker stops the walk. A
            // half-open one is this call's own probe.
            match self.engine.store.breaker_state(source).await {
                Ok(Some(row)) if row.state.phase == Phase::Open => {
                    let why = row
                        .state
                        .open_reason
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    return Err(PageRefusal {
                        kind: ErrorKind::BreakerOpen,
                        message: format!(
                            "the circuit breaker of {source} opened while the pages were fetched{why}"
                        ),
                    });
                }
                Ok(_) => {}
                Err(StoreError::Unavailable(detail)) => {
                    return Err(self.away(
                        detail,
                        &format!("cannot read the circuit breaker of {source}"),
                    ));
                }
                Err(e) => {
                    return Err(PageRefusal {
                        kind: ErrorKind::Storage,
                        message: format!("cannot read the circuit breaker of {source}: {e}"),
                    });
                }
            }
        }
        match self.engine.quota_take(self.source).await {
            Ok(Ok(Some(key))) => {
                if self.quota == Some(&key) {
                    self.counted.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Ok(Ok(None)) => Ok(()),
            Ok(Err(message)) => Err(PageRefusal {
                kind: ErrorKind::QuotaExhausted,
                message,
            }),
            Err(EngineError::Store(StoreError::Unavailable(detail))) => Err(self.away(
                detail,
                &format!("cannot count the page against the quota of {source}"),
            )),
            Err(e) => Err(PageRefusal {
                kind: ErrorKind::Storage,
                message: format!("cannot count the page against the quota of {source}: {e}"),
            }),
        }
    }
}

impl PageGate for PageGuards<'_> {
    fn admit<'b>(
        &'b self,
        _page: u32,
    ) -> Pin<Box<dyn Future<Output = Result<(), PageRefusal>> + Send + 'b>> {
        Box::pin(self.check())
    }
}
