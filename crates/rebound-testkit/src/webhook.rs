//! A webhook receiver on a loopback port, for the alert tests of every
//! crate: records every JSON body with its path, answers 503 while told to
//! be down, and can hang like a stuck sink.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Inbox {
    pub bodies: Mutex<Vec<(String, serde_json::Value)>>,
    pub down: AtomicBool,
    /// Answer only after this long (a hung sink), while set.
    pub hang: Mutex<Option<std::time::Duration>>,
    pub refused: Mutex<u32>,
}

pub struct Receiver {
    pub url: String,
    pub inbox: Arc<Inbox>,
}

impl Receiver {
    /// Bodies received on `path`, oldest first.
    pub fn received(&self, path: &str) -> Vec<serde_json::Value> {
        self.inbox
            .bodies
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Every body received, on any path, oldest first.
    pub fn all(&self) -> Vec<serde_json::Value> {
        self.inbox
            .bodies
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn set_down(&self, down: bool) {
        self.inbox.down.store(down, Ordering::SeqCst);
    }
}

async fn take(State(inbox): State<Arc<Inbox>>, uri: axum::http::Uri, body: String) -> StatusCode {
    let hang = *inbox.hang.lock().unwrap();
    if let Some(d) = hang {
        tokio::time::sleep(d).await;
    }
    if inbox.down.load(Ordering::SeqCst) {
        *inbox.refused.lock().unwrap() += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let value = serde_json::from_str(&body).expect("sinks post JSON");
    inbox
        .bodies
        .lock()
        .unwrap()
        .push((uri.path().to_string(), value));
    StatusCode::OK
}

/// Starts a receiver; post to `{url}/<any path>`.
pub async fn start() -> Receiver {
    let inbox = Arc::new(Inbox::default());
    let app = Router::new()
        .route("/{*path}", post(take))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}"),
        inbox,
    }
}
