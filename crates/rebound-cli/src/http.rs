//! The HTTP endpoint of `rebound serve` (`[server] listen`): `/metrics` for
//! Prometheus and `/healthz` for load balancers and process supervisors.
//!
//! It lives here, not in the engine or the service, because it is the
//! process's face to the outside: the engine only counts into the registry
//! of `rebound-metrics`, and this file decides how the page is served.

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use rebound_metrics::Format;
use rebound_metrics::exporter::Exporter;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Binds `addr` now, so that a port in use stops `rebound serve` before it
/// schedules anything, with a message naming the address and the key.
pub async fn bind(addr: SocketAddr, config: &std::path::Path) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} ([server] listen in {}): is another process using that port?",
            config.display()
        )
    })
}

fn router(exporter: Arc<Exporter>) -> Router {
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
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    mut stop: watch::Receiver<bool>,
) {
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    if let Err(error) = axum::serve(listener, router(exporter))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%error, "The metrics endpoint stopped.");
    }
}
