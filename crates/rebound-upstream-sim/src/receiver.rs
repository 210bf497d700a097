//! A loopback webhook receiver: accepts every `POST`, answers 200 and keeps
//! the body, so `rebound demo` can show the alert notifications a real sink
//! would get (and `rebound demo upstream` can keep receiving them). Knows
//! nothing of what is posted: any body, any path.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::post;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// One request the receiver accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub path: String,
    /// The body, lossily decoded as UTF-8.
    pub body: String,
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    arrived: Notify,
}

/// A running receiver; serves until dropped or shut down.
pub struct WebhookReceiver {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn accept(State(inbox): State<Arc<Inbox>>, uri: Uri, body: Bytes) -> StatusCode {
    inbox
        .received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Received {
            path: uri.path().to_string(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    inbox.arrived.notify_waiters();
    StatusCode::OK
}

impl WebhookReceiver {
    /// Binds 127.0.0.1:`port` (0: a free one). Must be called within a
    /// Tokio runtime.
    pub async fn start_on(port: u16) -> std::io::Result<WebhookReceiver> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let inbox = Arc::new(Inbox::default());
        let router = Router::new()
            .route("/", post(accept))
            .route("/{*path}", post(accept))
            .with_state(inbox.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(WebhookReceiver {
            addr,
            inbox,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.inbox
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until more than `seen` requests have arrived (for a printer
    /// that follows the inbox); returns at once if they already have.
    pub async fn wait_for_more(&self, seen: usize) {
        loop {
            let arrived = self.inbox.arrived.notified();
            tokio::pin!(arrived);
            // Registered before the check, so a post between the check and
            // the wait still wakes us.
            arrived.as_mut().enable();
            if self.received().len() > seen {
                return;
            }
            arrived.await;
        }
    }

    /// Stops accepting and waits for the server task to end.
    pub async fn shutdown(self) {
        let WebhookReceiver { stop, task, .. } = self;
        let _ = stop.send(());
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    #[allow(clippy::disallowed_methods)] // a test client, not Rebound's outbound edge
    async fn keeps_what_is_posted() {
        let receiver = WebhookReceiver::start_on(0).await.unwrap();
        let client = reqwest::Client::new();
        let answer = client
            .post(format!("{}/alerts", receiver.base_url()))
            .body("{\"event\":\"opened\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        receiver.wait_for_more(0).await;
        assert_eq!(
            receiver.received(),
            vec![Received {
                path: "/alerts".into(),
                body: "{\"event\":\"opened\"}".into()
            }]
        );
        receiver.shutdown().await;
    }
}
