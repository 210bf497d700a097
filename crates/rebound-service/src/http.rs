//! The HTTP endpoint of `rebound serve` (`[server] listen`): `/metrics` for
//! Prometheus, `/healthz` for load balancers and process supervisors, the
//! JSON API under `/api/v1/` ([`crate::api`]) and the dashboard at `/`
//! ([`crate::dashboard`]).
//!
//! It lives with the service, not in the engine, because it is the
//! process's face to the outside and starts and stops with the service
//! ([`crate::service`]): the engine only counts into the registry of
//! `rebound-metrics`, and this file decides how the page is served. One
//! axum [`Router`] serves everything under `listen`, so later pages (an API,
//! a dashboard) are more routes on it, not a second server.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use rebound_domain::clock::Clock;
use rebound_engine::Engine;
use rebound_metrics::Format;
use rebound_metrics::exporter::Exporter;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// What every page and endpoint reads: the engine (its plan, store and
/// metrics), the service's clock, and the Prometheus exporter; and what
/// the API's `POST /api/v1/evaluate` needs to queue runs like the
/// service's scheduler (its host name, the workers' wake-up).
pub(crate) struct Web {
    pub(crate) engine: Arc<Engine>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) exporter: Arc<Exporter>,
    pub(crate) host: String,
    pub(crate) wake: Arc<Notify>,
    /// Workflow runs started over the API, which outlive their request.
    pub(crate) api_runs: ApiRuns,
    /// `GET /api/v1/health` for the default period, made by one request
    /// at a time and kept a few seconds (`crate::cache`).
    pub(crate) health: crate::cache::SingleFlight<rebound_health::HealthReport>,
    /// `--role web`: this process runs and schedules nothing, so the API's
    /// mutations that would (`scrape`, workflow runs, `evaluate`) are 409.
    pub(crate) runs_nothing: bool,
}

/// The workflow runs the API started: a stop lets them finish within
/// `[scheduler] shutdown_grace`, like the workers' runs, instead of
/// cutting them off when the process ends.
#[derive(Clone, Default)]
pub(crate) struct ApiRuns(Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>);

impl ApiRuns {
    pub(crate) fn spawn(&self, run: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut runs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Finished runs leave an entry until joined: drop those first.
        while runs.try_join_next().is_some() {}
        runs.spawn(run);
    }

    /// Waits for the runs still going, until `deadline` at most; the rest
    /// are aborted (their rows are closed like any dead process's).
    pub(crate) async fn finish(&self, deadline: tokio::time::Instant) {
        let mut runs = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        let all = async { while runs.join_next().await.is_some() {} };
        if tokio::time::timeout_at(deadline, all).await.is_err() {
            tracing::warn!("API-started runs outlasted the shutdown grace period; stopping them.");
        }
    }
}

pub(crate) fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .merge(crate::api::router(web.clone()))
        // The dashboard's pages are reads like the API's: off loopback they
        // need the bearer token (sent by a reverse proxy in front of it)
        // unless `public_read = true`. The API's own guard, so the two
        // cannot disagree.
        .merge(
            crate::dashboard::router().route_layer(axum::middleware::from_fn_with_state(
                web.clone(),
                crate::api::guard,
            )),
        )
        .layer(axum::middleware::from_fn(refuse_nul))
        .with_state(web)
}

/// A path or query holding `%00` is refused whole: no name, id or value
/// here can contain a NUL, and PostgreSQL refuses one in text, so each
/// such request was a 500 (and an ERROR line) on that backend only.
async fn refuse_nul(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = request.uri();
    let holds_nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    if holds_nul(uri.path()) || uri.query().is_some_and(holds_nul) {
        return crate::api::types::Problem::bad_request(
            "the request's path or query holds a NUL character (%00), which no name, id or value can contain",
        )
        .into_response();
    }
    next.run(request).await
}

async fn metrics(State(web): State<Arc<Web>>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let body = web.exporter.render(format).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
}

/// Alive and serving; says nothing about upstreams (that is `rebound health`).
async fn healthz() -> &'static str {
    "ok\n"
}

/// Serves until `stop` turns true, then stops accepting and returns once
/// the requests in flight are answered, or `grace` after the stop,
/// whichever comes first: a `POST …/runs?wait=5m` or a slow
/// `POST /api/v1/scrape` must not hold the stop past the one
/// `shutdown_grace` every run gets (their connections are then closed;
/// a run started over the API goes on under `ApiRuns` until the same
/// deadline).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    stop: watch::Receiver<bool>,
    grace: std::time::Duration,
) {
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    let listener = Capped {
        inner: listener,
        permits: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(stopped(stop.clone()));
    let cut_off = async {
        stopped(stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => {
            if let Err(error) = served {
                tracing::error!(%error, "The HTTP endpoint stopped.");
            }
        }
        () = cut_off => {
            tracing::warn!(
                grace = ?grace,
                "Requests still open at the end of shutdown_grace were cut off."
            );
        }
    }
}

/// The most connections the HTTP endpoint holds at once; the next one is
/// accepted when one closes. The dashboard, the API and a Prometheus
/// scraper need a handful. Without a cap, 20,000 idle connections took
/// every file descriptor of the process, and the scheduled runs beside them
/// failed ("Too many open files") to reach their upstreams.
pub const MAX_CONNECTIONS: usize = 256;

/// A listener that holds a permit per open connection ([`MAX_CONNECTIONS`]):
/// past them it stops accepting, so waiting connections queue in the
/// kernel's backlog instead of taking descriptors. `axum::serve` has no
/// such limit of its own.
struct Capped {
    inner: TcpListener,
    permits: Arc<tokio::sync::Semaphore>,
}

impl axum::serve::Listener for Capped {
    type Io = CappedIo;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring only waits.
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => std::future::pending().await,
        };
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            CappedIo {
                io,
                _permit: permit,
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection with its permit, released when the connection is dropped.
struct CappedIo {
    io: tokio::net::TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for CappedIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CappedIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
