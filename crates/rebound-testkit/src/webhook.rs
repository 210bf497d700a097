//! A webhook receiver on a loopback port, for the alert and hand-off tests
//! of every crate: records every JSON body with its path (and the raw
//! request, headers included), answers 503 while told to be down or for a
//! set share of requests, and can hang like a stuck sink.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Inbox {
    pub bodies: Mutex<Vec<(String, serde_json::Value)>>,
    pub down: AtomicBool,
    /// Answer only after this long (a hung sink), while set.
    pub hang: Mutex<Option<std::time::Duration>>,
    pub refused: Mutex<u32>,
    /// Every accepted request as it arrived, oldest first.
    pub requests: Mutex<Vec<Received>>,
    /// Refuse this many requests in ten (0 to 10), spread out: requests
    /// number 0, 3, 6 of each ten for 3; counted over all requests.
    pub fail_in_ten: AtomicU32,
    seen: AtomicU32,
}

/// One accepted request: its path, its body as sent, and its headers.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whether request number `n` is one of the `fail_in_ten` refused of its
/// ten: multiplying by 7 (coprime to 10) spreads them over the ten.
fn refused_by_share(n: u32, fail_in_ten: u32) -> bool {
    (n.wrapping_mul(7) % 10) < fail_in_ten
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

    /// Refuses `n` of every ten requests (503) from now on.
    pub fn fail_in_ten(&self, n: u32) {
        self.inbox.fail_in_ten.store(n.min(10), Ordering::SeqCst);
    }

    /// Every accepted request, oldest first.
    pub fn requests(&self) -> Vec<Received> {
        self.inbox.requests.lock().unwrap().clone()
    }

    /// Requests refused so far (down, or by the share).
    pub fn refused(&self) -> u32 {
        *self.inbox.refused.lock().unwrap()
    }
}

async fn take(
    State(inbox): State<Arc<Inbox>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let hang = *inbox.hang.lock().unwrap();
    if let Some(d) = hang {
        tokio::time::sleep(d).await;
    }
    let n = inbox.seen.fetch_add(1, Ordering::SeqCst);
    if inbox.down.load(Ordering::SeqCst)
        || refused_by_share(n, inbox.fail_in_ten.load(Ordering::SeqCst))
    {
        *inbox.refused.lock().unwrap() += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    inbox.requests.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        body: body.clone(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
    });
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

#[cfg(test)]
mod tests {
    use super::refused_by_share;

    #[test]
    fn the_share_refuses_exactly_that_many_in_each_ten() {
        for share in 0..=10 {
            for start in [0, 10, 990] {
                let refused = (start..start + 10)
                    .filter(|n| refused_by_share(*n, share))
                    .count();
                assert_eq!(refused as u32, share);
            }
        }
    }
}
