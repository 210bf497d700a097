//! The contract for posting a JSON message to a configured sink.
//!
//! Alert notifications (and, next, the downstream hand-off) leave Rebound
//! as an HTTP POST to a URL an operator configured. Only the fetch crate
//! knows an HTTP client, so it implements [`Poster`] under the same rules
//! as scraper calls (its timeouts, no redirects followed, no `Referer`,
//! errors that never carry the URL); the crates that deliver messages name
//! only this trait and stay beside the run path instead of on top of it.
//! Like [`crate::clock::Clock`], it is defined here, runtime-free, with a
//! boxed future so the trait stays object-safe without a macro.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// One JSON POST: where, what, and how long to wait for the answer.
#[derive(Debug, Clone, Copy)]
pub struct JsonPost<'a> {
    /// The sink's URL. A secret: implementations never echo it.
    pub url: &'a str,
    pub body: &'a str,
    pub timeout: Duration,
    /// Extra request headers (name, value), e.g. the hand-off's
    /// `Idempotency-Key` and signature; `Content-Type` is always
    /// `application/json` and not taken from here.
    pub headers: &'a [(String, String)],
}

/// Why a post was not accepted, in words for a person (`HTTP 503 Service
/// Unavailable`, `timed out: …`, `cannot connect: …`), never with the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError(pub String);

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PostError {}

/// A future returned by [`Poster::post_json`].
pub type PostFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PostError>> + Send + 'a>>;

/// Sends JSON posts; `Ok` means the sink answered with a 2xx status.
pub trait Poster: Send + Sync + 'static {
    fn post_json<'a>(&'a self, post: JsonPost<'a>) -> PostFuture<'a>;
}
