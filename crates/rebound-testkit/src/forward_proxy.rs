//! A forward HTTP proxy on a loopback port, for the proxy tests of every
//! crate: it forwards plain-HTTP requests (absolute-form request targets,
//! `GET http://127.0.0.1:1234/path HTTP/1.1`, which is how a client talks
//! to an HTTP proxy for an `http://` URL), counts what it forwarded and
//! remembers the `Proxy-Authorization` it was sent, and can be told to
//! fail: refuse connections (its port is closed until told otherwise),
//! answer 403 (an upstream that blocks the proxy's address, as a proxy
//! relays it) or answer 407 (the proxy refuses our credentials). What it
//! forwards carries `Via: 1.1 rebound-testkit-proxy`, as every proxy's
//! requests do, so an upstream can tell it came through one.
//!
//! One request per connection: every answer says `Connection: close`, so
//! a client never reuses a connection the proxy is about to drop. `CONNECT`
//! (HTTPS through the proxy) is not supported: the simulated upstream is
//! plain HTTP.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How the proxy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward every request.
    Forward,
    /// Refuse connections: the port is closed.
    Refuse,
    /// Answer `403 Forbidden` without forwarding.
    Forbidden,
    /// Answer `407 Proxy Authentication Required` without forwarding.
    AuthRequired,
}

/// What the proxy saw.
#[derive(Debug, Default)]
struct Seen {
    /// Requests forwarded to their target.
    forwarded: AtomicU32,
    /// Requests answered 403 or 407.
    refused: AtomicU32,
    /// Every `Proxy-Authorization` value received, in order.
    authorizations: Mutex<Vec<String>>,
    /// Every request target (absolute URI) received, in order.
    targets: Mutex<Vec<String>>,
}

/// A running proxy. Dropping it stops it.
pub struct ForwardProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ForwardProxy {
    /// Starts a proxy in `mode` on a free loopback port.
    pub async fn start(mode: Mode) -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let (sender, receiver) = watch::channel(mode);
        let seen = Arc::new(Seen::default());
        let task = tokio::spawn(serve(listener, addr, receiver, seen.clone()));
        ForwardProxy {
            addr,
            mode: sender,
            seen,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:PORT`.
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Changes how it answers from the next connection on. Refusing closes
    /// the port; leaving `Refuse` opens it again (same port).
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Requests forwarded so far.
    pub fn forwarded(&self) -> u32 {
        self.seen.forwarded.load(Ordering::SeqCst)
    }

    /// Requests answered 403 or 407 so far.
    pub fn refused(&self) -> u32 {
        self.seen.refused.load(Ordering::SeqCst)
    }

    /// Every `Proxy-Authorization` header received.
    pub fn authorizations(&self) -> Vec<String> {
        self.seen
            .authorizations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every request target received (absolute URIs).
    pub fn targets(&self) -> Vec<String> {
        self.seen
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Accepts connections while not refusing; closes the listener while
/// refusing and binds the same port again afterwards.
async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    seen: Arc<Seen>,
) {
    let mut listener = Some(listener);
    loop {
        let current = *mode.borrow_and_update();
        if current == Mode::Refuse {
            listener = None;
        } else if listener.is_none() {
            // Another test may have taken the port meanwhile; try again on
            // the next change.
            listener = TcpListener::bind(addr).await.ok();
        }
        match &listener {
            Some(open) => {
                tokio::select! {
                    accepted = open.accept() => {
                        if let Ok((stream, _)) = accepted {
                            let seen = seen.clone();
                            tokio::spawn(handle(stream, current, seen));
                        }
                    }
                    changed = mode.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
            }
            None => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One request: answer it as `mode` says.
async fn handle(mut client: TcpStream, mode: Mode, seen: Arc<Seen>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect();
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("proxy-authorization") {
            seen.authorizations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(value.clone());
        }
    }
    seen.targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(target.to_string());
    match mode {
        Mode::Forbidden => {
            seen.refused.fetch_add(1, Ordering::SeqCst);
            let _ = answer(&mut client, "403 Forbidden", &[], "blocked by upstream").await;
            return;
        }
        Mode::AuthRequired => {
            seen.refused.fetch_add(1, Ordering::SeqCst);
            let challenge = [("Proxy-Authenticate", "Basic realm=\"test\"")];
            let _ = answer(
                &mut client,
                "407 Proxy Authentication Required",
                &challenge,
                "proxy credentials refused",
            )
            .await;
            return;
        }
        Mode::Forward | Mode::Refuse => {}
    }
    let Some((authority, path)) = target
        .strip_prefix("http://")
        .map(|rest| rest.split_at(rest.find('/').unwrap_or(rest.len())))
    else {
        let _ = answer(
            &mut client,
            "400 Bad Request",
            &[],
            "only absolute http:// targets are forwarded",
        )
        .await;
        return;
    };
    let path = if path.is_empty() { "/" } else { path };
    let Ok(mut upstream) = TcpStream::connect(authority).await else {
        let _ = answer(&mut client, "502 Bad Gateway", &[], "upstream unreachable").await;
        return;
    };
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("proxy-") || lower == "connection" {
            continue;
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    // Every proxy says so (RFC 9110, section 7.6.3); the simulated
    // stats.nba.com answers only requests that carry it.
    request.push_str("Via: 1.1 rebound-testkit-proxy\r\n");
    request.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(request.as_bytes()).await.is_err()
        || upstream.write_all(&body).await.is_err()
    {
        return;
    }
    let mut response = Vec::new();
    if upstream.read_to_end(&mut response).await.is_err() {
        return;
    }
    seen.forwarded.fetch_add(1, Ordering::SeqCst);
    let _ = client.write_all(&with_connection_close(&response)).await;
    let _ = client.shutdown().await;
}

/// Reads a request head and its `Content-Length` body.
async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let length = head
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buffer[end + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// The upstream's response with its `Connection` header replaced by
/// `Connection: close`.
fn with_connection_close(response: &[u8]) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response.to_vec();
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0
            && line
                .split_once(':')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&response[end + 4..]);
    bytes
}

async fn answer(
    client: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    client.write_all(text.as_bytes()).await?;
    client.shutdown().await
}
