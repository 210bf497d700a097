//! The accept loop and per-request dispatch.
//!
//! We serve with our own loop over `hyper_util`'s auto (HTTP/1 + h2c)
//! connection builder instead of `axum::serve` for one reason:
//! [`crate::Reply::reset`] must close a connection without answering, and
//! only the task that owns the connection can do that. Each connection gets
//! a [`Notify`]; a reset reply signals it and the task drops the connection.
//!
//! Dispatch per request: record it (if recording is on), serve the next
//! scripted reply for its path if there is one, else hand it to the axum
//! router with the default routes.

use crate::RecordedRequest;
use crate::faults::{FaultAction, FaultHook, FaultRequest};
use crate::reply::Reply;
use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::VIA;
use axum::response::Response;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;

/// State shared by the handle and every connection.
#[derive(Default)]
pub(crate) struct Shared {
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Replies queued in `scripts`, so the hot path can skip the lock when
    /// nothing is scripted (the benchmark's case).
    pending: AtomicUsize,
    recording: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Decides faults by the caller's rules and clock (`faults.rs`).
    hook: std::sync::RwLock<Option<Arc<dyn FaultHook>>>,
}

/// A poisoned lock only means a test panicked elsewhere; the data is still
/// consistent (every critical section is a single push/pop).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            recording: AtomicBool::new(true),
            ..Shared::default()
        }
    }

    pub(crate) fn script(&self, path: &str, replies: Vec<Reply>) {
        if replies.is_empty() {
            return;
        }
        let count = replies.len();
        lock(&self.scripts)
            .entry(path.to_string())
            .or_default()
            .extend(replies);
        self.pending.fetch_add(count, Ordering::Release);
    }

    pub(crate) fn clear_script(&self, path: &str) -> usize {
        let removed = lock(&self.scripts).remove(path).map_or(0, |q| q.len());
        self.pending.fetch_sub(removed, Ordering::AcqRel);
        removed
    }

    fn take_scripted(&self, path: &str) -> Option<Reply> {
        if self.pending.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut scripts = lock(&self.scripts);
        let queue = scripts.get_mut(path)?;
        let reply = queue.pop_front()?;
        if queue.is_empty() {
            scripts.remove(path);
        }
        self.pending.fetch_sub(1, Ordering::AcqRel);
        Some(reply)
    }

    pub(crate) fn set_fault_hook(&self, hook: Option<Arc<dyn FaultHook>>) {
        *self.hook.write().unwrap_or_else(|e| e.into_inner()) = hook;
    }

    fn fault_hook(&self) -> Option<Arc<dyn FaultHook>> {
        self.hook.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_recording(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    fn record(&self, req: &Request<Incoming>) {
        let recorded = RecordedRequest {
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().map(str::to_string),
            headers: req
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            at: Instant::now(),
        };
        lock(&self.requests).push(recorded);
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub(crate) fn request_count(&self, path: &str) -> usize {
        lock(&self.requests)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }
}

/// Accepts until `stop` fires or its sender is dropped (the handle was
/// dropped), then aborts every open connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    router: Router,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    let router = TowerToHyperService::new(router);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, shared.clone(), router.clone()));
                }
                // Usually out of file descriptors: back off instead of
                // spinning, the condition tends to clear.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reap finished connections so the set doesn't grow forever.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    router: TowerToHyperService<Router>,
) {
    // Small responses must not wait for Nagle (the benchmark is latency-bound).
    let _ = stream.set_nodelay(true);
    let abort = Arc::new(Notify::new());
    let service = {
        let abort = abort.clone();
        hyper::service::service_fn(move |req| {
            dispatch(shared.clone(), router.clone(), abort.clone(), req)
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        // Errors here are the client's doing (it hung up, sent garbage);
        // there is nobody to report them to.
        _ = connection => {}
        // Dropping the connection closes the socket with no response.
        _ = abort.notified() => {}
    }
}

async fn dispatch(
    shared: Arc<Shared>,
    router: TowerToHyperService<Router>,
    abort: Arc<Notify>,
    mut req: Request<Incoming>,
) -> Result<Response, Infallible> {
    // A request in absolute form was sent to us as to a forward proxy: we
    // stand in for that proxy too, so it gets the `Via` a proxy adds.
    if req.uri().authority().is_some() && !req.headers().contains_key(VIA) {
        req.headers_mut()
            .insert(VIA, HeaderValue::from_static("1.1 rebound-upstream-sim"));
    }
    if shared.recording.load(Ordering::Relaxed) {
        shared.record(&req);
    }
    if let Some(reply) = shared.take_scripted(req.uri().path()) {
        return Ok(reply.respond(req, &abort).await);
    }
    if let Some(hook) = shared.fault_hook() {
        let asked = FaultRequest {
            path: req.uri().path().to_string(),
            query: req.uri().query().map(str::to_string),
        };
        match hook.decide(&asked).await {
            FaultAction::Pass => {}
            FaultAction::Reply(reply) => return Ok(reply.respond(req, &abort).await),
            FaultAction::Drop => return Ok(Reply::reset().respond(req, &abort).await),
            action @ (FaultAction::Empty | FaultAction::Reshape) => {
                let response = router.call(req).await?;
                return Ok(crate::faults::alter(response, &action).await);
            }
        }
    }
    router.call(req).await
}
