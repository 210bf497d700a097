//! The HTTP endpoint of `rebound serve` (`[server] listen`): `/metrics` for
//! Prometheus and `/healthz` for load balancers and process supervisors.
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
use rebound_metrics::Format;
use rebound_metrics::exporter::Exporter;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub(crate) fn router(exporter: Arc<Exporter>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(exporter)
}

async fn metrics(State(exporter): State<Arc<Exporter>>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let body = exporter.render(format).await;
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
/// in-flight scrapes are answered.
pub(crate) async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%error, "The metrics endpoint stopped.");
    }
}
