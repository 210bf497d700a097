//! A second, deliberately broken server: raw bytes over a
//! [`TcpListener`], for the faults an HTTP library refuses to produce.
//!
//! The simulated upstream speaks HTTP through hyper, which can only send
//! well-formed responses. Clients must also survive peers that do not: an
//! invalid status line, a lone `100 Continue` and then silence, headers
//! far beyond any sane size, a body cut short of its `Content-Length`, a
//! connection reset in the middle of the body. Each [`RawFault`] is served
//! on its own path ([`RawFault::path`]), so one server covers them all and
//! a test can count attempts per fault.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One way of answering badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawFault {
    /// `HTTP/1.1 2OO OK`: a status line that does not parse.
    BadStatusLine,
    /// `HTTP/1.1 100 Continue`, then the connection closes: an interim
    /// answer with no final one.
    LoneContinue,
    /// A 200 whose headers run past 100 KB.
    HugeHeaders,
    /// Announces `Content-Length: 1000`, sends 10 bytes, closes cleanly.
    ShortBody,
    /// Announces `Content-Length: 1000`, sends 10 bytes, then resets the
    /// connection (`SO_LINGER` 0, so the close is an RST).
    ResetMidBody,
    /// A chunked 200 whose first chunk-size line is not hexadecimal.
    BadChunkSize,
}

impl RawFault {
    pub const ALL: [RawFault; 6] = [
        RawFault::BadStatusLine,
        RawFault::LoneContinue,
        RawFault::HugeHeaders,
        RawFault::ShortBody,
        RawFault::ResetMidBody,
        RawFault::BadChunkSize,
    ];

    /// The path that serves this fault.
    pub fn path(self) -> &'static str {
        match self {
            RawFault::BadStatusLine => "/raw/bad-status-line",
            RawFault::LoneContinue => "/raw/lone-continue",
            RawFault::HugeHeaders => "/raw/huge-headers",
            RawFault::ShortBody => "/raw/short-body",
            RawFault::ResetMidBody => "/raw/reset-mid-body",
            RawFault::BadChunkSize => "/raw/bad-chunk-size",
        }
    }

    fn from_path(path: &str) -> Option<RawFault> {
        RawFault::ALL.into_iter().find(|f| f.path() == path)
    }
}

/// A running raw fault server on 127.0.0.1. Stops when dropped.
pub struct RawFaultServer {
    addr: SocketAddr,
    /// Requests seen per path (query ignored).
    counts: Arc<Mutex<HashMap<String, usize>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for RawFaultServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawFaultServer")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl Drop for RawFaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawFaultServer {
    /// Binds a free loopback port and serves until dropped. Must be called
    /// within a Tokio runtime.
    pub async fn start() -> std::io::Result<RawFaultServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let task = tokio::spawn(accept_loop(listener, counts.clone()));
        Ok(RawFaultServer { addr, counts, task })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests arrived for `path` (query ignored).
    pub fn request_count(&self, path: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(path).copied().unwrap_or(0)
    }
}

async fn accept_loop(listener: TcpListener, counts: Arc<Mutex<HashMap<String, usize>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, usually: let it clear.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(serve(stream, counts.clone()));
    }
}

/// Reads one request head, answers per its path, and closes: one request
/// per connection, so every fault meets a fresh connection.
async fn serve(mut stream: TcpStream, counts: Arc<Mutex<HashMap<String, usize>>>) {
    let Some(path) = read_request_path(&mut stream).await else {
        return;
    };
    {
        let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(path.clone()).or_default() += 1;
    }
    let head_200 = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";
    let result = match RawFault::from_path(&path) {
        Some(RawFault::BadStatusLine) => {
            stream
                .write_all(b"HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\n{}")
                .await
        }
        Some(RawFault::LoneContinue) => stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await,
        Some(RawFault::HugeHeaders) => {
            let mut text = String::from(head_200);
            // 100 KB of headers, in lines of about 1 KB.
            let filler = "x".repeat(1000);
            for i in 0..100 {
                text.push_str(&format!("x-filler-{i}: {filler}\r\n"));
            }
            text.push_str("content-length: 2\r\n\r\n{}");
            stream.write_all(text.as_bytes()).await
        }
        Some(fault @ (RawFault::ShortBody | RawFault::ResetMidBody)) => {
            let text = format!("{head_200}content-length: 1000\r\n\r\n{{\"data\": [");
            let written = stream.write_all(text.as_bytes()).await;
            if fault == RawFault::ResetMidBody {
                // Closing with a zero linger sends RST instead of FIN.
                let _ = stream.set_zero_linger();
            }
            written
        }
        Some(RawFault::BadChunkSize) => {
            let text =
                format!("{head_200}transfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n");
            stream.write_all(text.as_bytes()).await
        }
        None => {
            stream
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await
        }
    };
    if result.is_ok() {
        let _ = stream.flush().await;
    }
    // Dropping the stream closes it (FIN, or RST with the zero linger).
}

/// The path of the request on `stream` (query dropped), after reading its
/// whole head; `None` if the peer closed or sent something unreadable.
async fn read_request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.lines().next()?.split(' ').nth(1)?;
    Some(target.split('?').next().unwrap_or(target).to_string())
}
