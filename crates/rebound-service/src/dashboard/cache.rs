//! The rendered pages that read the whole health report (overview,
//! sources, datasets), kept for [`CACHE_FOR`] on the service's clock and
//! rendered by one request at a time.
//!
//! Without the single rendering, every request that found a page expired
//! rendered it too: twenty clients meant twenty renderings sharing two
//! cores, each twenty times slower, none done before the next expiry
//! (measured on a 10-million-call history: no overview within 2 s, see
//! `docs/benchmarks.md`). With it, one request renders; the others
//! meanwhile get the previous page (a few seconds older) or, before there
//! is one, wait for that rendering.

use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::clock::Clock;
use std::future::Future;
use std::sync::Mutex;

/// How long a rendered page is served again.
pub(crate) const CACHE_FOR: TimeDelta = TimeDelta::seconds(5);

/// One page's last rendering and when it was made, and the lock that
/// lets one request at a time render it.
#[derive(Default)]
pub(crate) struct PageCache {
    page: Mutex<Option<(DateTime<Utc>, String)>>,
    rendering: tokio::sync::Mutex<()>,
}

/// The cached pages of the dashboard's router.
#[derive(Default)]
pub(crate) struct Caches {
    pub overview: PageCache,
    pub sources: PageCache,
    pub datasets: PageCache,
}

impl PageCache {
    /// The cached page: fresh only, or any age.
    fn get(&self, now: DateTime<Utc>, fresh_only: bool) -> Option<String> {
        let guard = self.page.lock().ok()?;
        let (at, html) = guard.as_ref()?;
        let fresh = now >= *at && now - *at < CACHE_FOR;
        (fresh || !fresh_only).then(|| html.clone())
    }

    fn put(&self, now: DateTime<Utc>, html: &str) {
        if let Ok(mut guard) = self.page.lock() {
            *guard = Some((now, html.to_string()));
        }
    }
}

/// The page from `cache`, or rendered by `make` at the clock's now and
/// kept; a response `make` returns as `Err` (a problem page) is sent and
/// not kept.
pub(crate) async fn serve_cached<F, Fut>(cache: &PageCache, clock: &dyn Clock, make: F) -> Response
where
    F: FnOnce(DateTime<Utc>) -> Fut,
    Fut: Future<Output = Result<String, Response>>,
{
    let now = clock.now();
    if let Some(html) = cache.get(now, true) {
        return super::html_ok(html);
    }
    let _rendering = match cache.rendering.try_lock() {
        Ok(guard) => guard,
        Err(_) => {
            // Someone is rendering: the previous page, if there is one,
            // else wait for theirs.
            if let Some(html) = cache.get(now, false) {
                return super::html_ok(html);
            }
            cache.rendering.lock().await
        }
    };
    // Another request may have rendered it between the two looks.
    let now = clock.now();
    if let Some(html) = cache.get(now, true) {
        return super::html_ok(html);
    }
    match make(now).await {
        Ok(html) => {
            cache.put(now, &html);
            super::html_ok(html)
        }
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_domain::clock::ManualClock;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Twenty requests at once on an empty cache: one rendering; after
    /// the page expires, one more.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_render_once() {
        let cache = Arc::new(PageCache::default());
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-11-28T17:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
        ));
        let renders = Arc::new(AtomicUsize::new(0));
        let round = || {
            let mut tasks = Vec::new();
            for _ in 0..20 {
                let (cache, clock, renders) = (cache.clone(), clock.clone(), renders.clone());
                tasks.push(tokio::spawn(async move {
                    serve_cached(&cache, clock.as_ref(), |_| async move {
                        renders.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok("page".to_string())
                    })
                    .await
                    .status()
                }));
            }
            tasks
        };
        for task in round() {
            assert_eq!(task.await.expect("task"), 200);
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(6));
        for task in round() {
            assert_eq!(task.await.expect("task"), 200);
        }
        assert_eq!(
            renders.load(Ordering::SeqCst),
            2,
            "expired: rendered once more"
        );
    }
}
