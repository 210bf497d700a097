//! The rendered pages that read the whole health report (overview,
//! sources, datasets), kept and rendered one request at a time through
//! [`SingleFlight`] (see `crate::cache` for why).

use crate::cache::SingleFlight;
use axum::response::Response;
use chrono::{DateTime, Utc};
use rebound_domain::clock::Clock;
use std::future::Future;

/// One page's last rendering.
pub(crate) type PageCache = SingleFlight<String>;

/// The cached pages of the dashboard's router.
#[derive(Default)]
pub(crate) struct Caches {
    pub overview: PageCache,
    pub sources: PageCache,
    pub datasets: PageCache,
}

/// The page from `cache`, or rendered by `make` at the clock's now and
/// kept; a response `make` returns as `Err` (a problem page) is sent and
/// not kept.
pub(crate) async fn serve_cached<F, Fut>(cache: &PageCache, clock: &dyn Clock, make: F) -> Response
where
    F: FnOnce(DateTime<Utc>) -> Fut,
    Fut: Future<Output = Result<String, Response>>,
{
    match cache.get_or_make(clock, make).await {
        Ok(html) => super::html_ok(html),
        Err(response) => response,
    }
}
