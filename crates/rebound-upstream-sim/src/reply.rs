//! Scripted replies: what a test wants the next request on a path to get,
//! including the misbehaviours real upstreams show (slow answers, dropped
//! connections, endless bodies).
//!
//! Invalid status codes or header names/values panic when the reply is
//! built, not when it is served: a mistake in a test should fail at the line
//! that made it, not surface later as a confusing 500 on the client side.

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::Notify;

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const OCTETS: &str = "application/octet-stream";

/// The bytes streamed by [`Reply::huge`], reused for every chunk so a
/// multi-gigabyte body costs no memory.
static HUGE_CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// One scripted answer; see [`crate::UpstreamSim::script`].
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    body: ReplyBody,
    headers: Vec<(HeaderName, HeaderValue)>,
    delay: Option<Duration>,
}

#[derive(Debug, Clone)]
enum ReplyBody {
    Empty,
    Fixed {
        bytes: Bytes,
        content_type: &'static str,
    },
    Reset,
    Huge(u64),
    EchoQuery,
}

fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or_else(|_| panic!("Reply: {code} is not an HTTP status"))
}

impl Reply {
    fn new(code: u16, body: ReplyBody) -> Reply {
        Reply {
            status: status_code(code),
            body,
            headers: Vec::new(),
            delay: None,
        }
    }

    /// `code` with an empty body.
    pub fn status(code: u16) -> Reply {
        Reply::new(code, ReplyBody::Empty)
    }

    /// `code` with `body` as `application/json`.
    pub fn json(code: u16, body: serde_json::Value) -> Reply {
        let bytes = Bytes::from(body.to_string());
        Reply::new(
            code,
            ReplyBody::Fixed {
                bytes,
                content_type: JSON,
            },
        )
    }

    /// `code` with `body` as `text/plain`.
    pub fn text(code: u16, body: impl Into<String>) -> Reply {
        Reply::new(
            code,
            ReplyBody::Fixed {
                bytes: Bytes::from(body.into()),
                content_type: TEXT,
            },
        )
    }

    /// `code` with `body` as it is, `application/octet-stream` (compressed
    /// or otherwise binary answers).
    pub fn bytes(code: u16, body: impl Into<Bytes>) -> Reply {
        Reply::new(
            code,
            ReplyBody::Fixed {
                bytes: body.into(),
                content_type: "application/octet-stream",
            },
        )
    }

    /// Adds a response header. The first header of a name replaces any
    /// default of that name (e.g. `Content-Type`); repeats are appended.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        let name = HeaderName::try_from(name)
            .unwrap_or_else(|e| panic!("Reply::header: bad name {name:?}: {e}"));
        let value = HeaderValue::try_from(value)
            .unwrap_or_else(|e| panic!("Reply::header: bad value {value:?}: {e}"));
        self.headers.push((name, value));
        self
    }

    /// `code` (a 3xx) with `Location: location` and an empty body.
    pub fn redirect(code: u16, location: &str) -> Reply {
        Reply::status(code).header("Location", location)
    }

    /// Waits `d` before answering (or before dropping the connection, for
    /// [`Reply::reset`]), to make clients hit their timeouts.
    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = Some(d);
        self
    }

    /// Reads the request, then closes the connection without any response:
    /// the client sees a connection error, never a status.
    pub fn reset() -> Reply {
        Reply::new(200, ReplyBody::Reset)
    }

    /// 200 with a streamed body of exactly `bytes` bytes, sent chunked
    /// without `Content-Length`, so a client can only find out the size by
    /// reading (what `max_body_bytes` has to guard against).
    pub fn huge(bytes: u64) -> Reply {
        Reply::new(200, ReplyBody::Huge(bytes))
    }

    /// The same reply with another status (e.g. a [`Reply::huge`] 503).
    pub fn with_status(mut self, code: u16) -> Reply {
        self.status = status_code(code);
        self
    }

    /// `code` with the request's raw query string (as sent, still
    /// percent-encoded; empty without one) as a `text/plain` body, so tests
    /// can check that secrets sent in a query are redacted from bodies.
    pub fn echo_query(code: u16) -> Reply {
        Reply::new(code, ReplyBody::EchoQuery)
    }

    /// Serves this reply to `req`. For [`Reply::reset`] this signals `abort`
    /// (the connection task then drops the connection) and never returns.
    pub(crate) async fn respond(self, req: Request<Incoming>, abort: &Notify) -> Response {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let (body, content_type) = match self.body {
            ReplyBody::Empty => (Body::empty(), None),
            ReplyBody::Fixed {
                bytes,
                content_type,
            } => (Body::from(bytes), Some(content_type)),
            ReplyBody::Huge(total) => (huge_body(total), Some(OCTETS)),
            ReplyBody::EchoQuery => {
                let query = req.uri().query().unwrap_or("").to_owned();
                (Body::from(query), Some(TEXT))
            }
            ReplyBody::Reset => {
                // Read the whole request first, so the client is past
                // sending and sees the close as "no response", not as a
                // failed upload.
                let _ = axum::body::to_bytes(Body::new(req.into_body()), usize::MAX).await;
                abort.notify_one();
                return std::future::pending().await;
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        if let Some(content_type) = content_type {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let mut named: Vec<&HeaderName> = Vec::new();
        for (name, value) in &self.headers {
            if named.contains(&name) {
                response.headers_mut().append(name, value.clone());
            } else {
                response.headers_mut().insert(name, value.clone());
                named.push(name);
            }
        }
        response
    }
}

/// A body of `total` bytes produced chunk by chunk, with no size hint, so
/// hyper sends it chunked.
fn huge_body(total: u64) -> Body {
    let chunks = futures::stream::unfold(total, |left| async move {
        if left == 0 {
            return None;
        }
        let n = left.min(HUGE_CHUNK.len() as u64);
        let chunk = Bytes::from_static(&HUGE_CHUNK[..n as usize]);
        Some((Ok::<_, Infallible>(chunk), left - n))
    });
    Body::from_stream(chunks)
}
