//! The HTTP endpoint of `rebound serve` (`[server] listen`): `/metrics` for
//! Prometheus, `/healthz` for load balancers and process supervisors, the
//! JSON API under `/api/v1/` ([`crate::api`]) and the dashboard at `/`
//! ([`crate::dashboard`]).
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
use rebound_domain::clock::Clock;
use rebound_engine::Engine;
use rebound_metrics::Format;
use rebound_metrics::exporter::Exporter;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// What every page and endpoint reads: the engine (its plan, store and
/// metrics), the service's clock, and the Prometheus exporter; and what
/// the API's `POST /api/v1/evaluate` needs to queue runs like the
/// service's scheduler (its host name, the workers' wake-up).
pub(crate) struct Web {
    pub(crate) engine: Arc<Engine>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) exporter: Arc<Exporter>,
    pub(crate) host: String,
    pub(crate) wake: Arc<Notify>,
    /// Workflow runs started over the API, which outlive their request.
    pub(crate) api_runs: ApiRuns,
    /// `GET /api/v1/health` for the default period, made by one request
    /// at a time and kept a few seconds (`crate::cache`).
    pub(crate) health: crate::cache::SingleFlight<rebound_health::HealthReport>,
    /// `--role web`: this process runs and schedules nothing, so the API's
    /// mutations that would (`scrape`, workflow runs, `evaluate`) are 409.
    pub(crate) runs_nothing: bool,
}

/// The workflow runs the API started: a stop lets them finish within
/// `[scheduler] shutdown_grace`, like the workers' runs, instead of
/// cutting them off when the process ends.
#[derive(Clone, Default)]
pub(crate) struct ApiRuns(Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>);

impl ApiRuns {
    pub(crate) fn spawn(&self, run: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut runs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Finished runs leave an entry until joined: drop those first.
        while runs.try_join_next().is_some() {}
        runs.spawn(run);
    }

    /// Waits for the runs still going, until `deadline` at most; the rest
    /// are aborted (their rows are closed like any dead process's).
    pub(crate) async fn finish(&self, deadline: tokio::time::Instant) {
        let mut runs = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        let all = async { while runs.join_next().await.is_some() {} };
        if tokio::time::timeout_at(deadline, all).await.is_err() {
            tracing::warn!("API-started runs outlasted the shutdown grace period; stopping them.");
        }
    }
}

pub(crate) fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .merge(crate::api::router(web.clone()))
        // The dashboard's pages are reads like the API's: off loopback they
        // need the bearer token (sent by a reverse proxy in front of it)
        // unless `public_read = true`. The API's own guard, so the two
        // cannot disagree.
        .merge(
            crate::dashboard::router().route_layer(axum::middleware::from_fn_with_state(
                web.clone(),
                crate::api::guard,
            )),
        )
        .layer(axum::middleware::from_fn(refuse_nul))
        .with_state(web)
}

/// A path or query holding `%00` is refused whole: no name, id or value
/// here can contain a NUL, and PostgreSQL refuses one in text, so each
/// such request was a 500 (and an ERROR line) on that backend only.
async fn refuse_nul(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = request.uri();
    let holds_nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    if holds_nul(uri.path()) || uri.query().is_some_and(holds_nul) {
        return crate::api::types::Problem::bad_request(
            "the request's path or query holds a NUL character (%00), which no name, id or value can contain",
        )
        .into_response();
    }
    next.run(request).await
}

async fn metrics(State(web): State<Arc<Web>>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let body = web.exporter.render(format).await;
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

/// How long the endpoint waits on a client before closing its connection.
/// A client that holds a connection without finishing its request, or
/// without reading its answer, takes one of the [`MAX_CONNECTIONS`] slots;
/// 256 such clients used to hold the dashboard and the API unanswered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Patience {
    /// From the moment the endpoint waits for a request (a new connection,
    /// or a kept-alive one after its last answer) to the end of its
    /// headers: hyper's `header_read_timeout`. An idle kept-alive
    /// connection is closed after it too.
    pub(crate) headers: std::time::Duration,
    /// From the end of the headers to the end of a JSON request body
    /// ([`crate::api::JsonBody`]), whole: a body sent a byte at a time is
    /// answered 408 at this deadline, however steadily the bytes come.
    pub(crate) body: std::time::Duration,
    /// The longest an answer's write may make no progress: a client that
    /// stops reading is cut off after it, while a slow reader that keeps
    /// reading is not.
    pub(crate) write_stall: std::time::Duration,
}

impl Default for Patience {
    /// 30 s each: far longer than any client on a working network needs
    /// for a request of at most 64 KB, and short enough that a flood of
    /// stalled connections frees its slots within a minute.
    fn default() -> Self {
        let half_a_minute = std::time::Duration::from_secs(30);
        Self {
            headers: half_a_minute,
            body: half_a_minute,
            write_stall: half_a_minute,
        }
    }
}

/// Serves until `stop` turns true, then stops accepting and returns once
/// the requests in flight are answered, or `grace` after the stop,
/// whichever comes first: a `POST …/runs?wait=5m` or a slow
/// `POST /api/v1/scrape` must not hold the stop past the one
/// `shutdown_grace` every run gets (their connections are then closed;
/// a run started over the API goes on under `ApiRuns` until the same
/// deadline).
///
/// The accept loop is hyper's own connection builder rather than
/// `axum::serve`, which sets no timer and so has no header timeout
/// ([`Patience`]).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    stop: watch::Receiver<bool>,
    grace: std::time::Duration,
    patience: Patience,
    api_runs: ApiRuns,
) {
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    let router = router.layer(axum::Extension(patience));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(patience.headers);
    // Past the cap the loop stops accepting, so waiting connections queue
    // in the kernel's backlog instead of taking descriptors.
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Held so that the connections still open at the grace's end are cut
    // off then: spawned on their own they outlived the stop, answered after
    // "stopped" and logged past it.
    let mut connections = tokio::task::JoinSet::new();
    let accepting = async {
        loop {
            while connections.try_join_next().is_some() {}
            // The semaphore is never closed, so acquiring only waits.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors or memory: wait for some to free
                    // instead of spinning; a connection reset before it was
                    // accepted is only that connection's failure.
                    tracing::warn!(%error, "The HTTP endpoint could not accept a connection.");
                    if !is_connection_error(&error) {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    continue;
                }
            };
            let io = hyper_util::rt::TokioIo::new(Watched::new(stream, patience.write_stall));
            // axum's router takes hyper's body as it comes.
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            let connection = graceful.watch(http1.serve_connection(io, service));
            connections.spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "An HTTP connection ended with an error.");
                }
                drop(permit);
            });
        }
    };
    tokio::select! {
        () = accepting => {}
        () = stopped(stop.clone()) => {}
    }
    // Stop accepting; answer what is in flight, for at most `grace`.
    drop(listener);
    let answered = graceful.shutdown();
    tokio::pin!(answered);
    tokio::select! {
        () = &mut answered => {}
        () = tokio::time::sleep(grace) => {
            // A request waiting on a run (`?wait=`) is answered "the
            // service is stopping" once its run is stopped, at this same
            // deadline: the runs first, a moment for those last answers,
            // then what is still open is cut off.
            api_runs.finish(tokio::time::Instant::now()).await;
            if tokio::time::timeout(LAST_ANSWERS, &mut answered).await.is_err() {
                connections.abort_all();
                tracing::warn!(
                    grace = ?grace,
                    "Requests still open at the end of shutdown_grace were cut off."
                );
            }
        }
    }
}

/// After the grace, how long requests whose runs were just stopped have to
/// send their answers.
const LAST_ANSWERS: std::time::Duration = std::time::Duration::from_secs(1);

/// Connections the system queues for the endpoint while all
/// [`MAX_CONNECTIONS`] are taken. The default of the standard library's
/// listener is 128: past 128 stalled connections a load balancer's health
/// check had its SYN dropped instead of a place in the queue.
const BACKLOG: u32 = 1_024;

/// The endpoint's listening socket on `addr`, with [`BACKLOG`] (the system
/// caps it at `net.core.somaxconn`).
pub(crate) fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As the standard library's listener does: a restart binds at once
    // while the last one's connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accept errors that concern one connection, not the process.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// The most connections the HTTP endpoint holds at once; the next one is
/// accepted when one closes. The dashboard, the API and a Prometheus
/// scraper need a handful. Without a cap, 20,000 idle connections took
/// every file descriptor of the process, and the scheduled runs beside them
/// failed ("Too many open files") to reach their upstreams.
pub const MAX_CONNECTIONS: usize = 256;

/// A connection whose writes may not stall past [`Patience::write_stall`]:
/// while a write waits (the client reads nothing and the socket's buffer is
/// full) a deadline runs; any progress clears it.
struct Watched {
    io: tokio::net::TcpStream,
    stall: std::time::Duration,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Watched {
    fn new(io: tokio::net::TcpStream, stall: std::time::Duration) -> Self {
        Self {
            io,
            stall,
            deadline: None,
        }
    }

    /// Passes a write's outcome on, starting the stall deadline on the
    /// first `Pending` and failing the write once it has passed.
    fn watch<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        polled: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::future::Future;
        use std::task::Poll;
        if polled.is_ready() {
            self.deadline = None;
            return polled;
        }
        let stall = self.stall;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the client read nothing of its answer for {stall:?}"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    //! The endpoint's patience with clients, over real loopback connections
    //! with patience of a few hundred milliseconds (the only real waits).
    use super::*;
    use axum::routing::post;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SHORT: Duration = Duration::from_millis(300);
    /// Far past [`SHORT`]: a connection still open then was never cut off.
    const LONG: Duration = Duration::from_secs(5);

    async fn endpoint(router: Router) -> (String, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (stop, stopped) = watch::channel(false);
        let patience = Patience {
            headers: SHORT,
            body: SHORT,
            write_stall: SHORT,
        };
        tokio::spawn(serve(
            listener,
            router,
            stopped,
            LONG,
            patience,
            ApiRuns::default(),
        ));
        (addr, stop)
    }

    fn routes() -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route(
                "/echo",
                post(
                    |crate::api::JsonBody(body): crate::api::JsonBody<serde_json::Value>| async move {
                        body.to_string()
                    },
                ),
            )
            .route("/big", get(|| async { vec![b'x'; BIG] }))
    }

    const BIG: usize = 64 << 20;

    /// A connection to `addr` that has sent `request` (whole or not).
    async fn send(addr: &str, request: &[u8]) -> tokio::net::TcpStream {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        stream
    }

    /// Reads until the server closes the connection, or fails the test at
    /// [`LONG`]; returns what was read.
    async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
        let mut read = Vec::new();
        let outcome = tokio::time::timeout(LONG, async {
            let mut chunk = vec![0; 64 * 1024];
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        assert!(
            outcome.is_ok(),
            "the connection was still open after {LONG:?}"
        );
        read
    }

    /// Before: the listener's backlog was the standard library's 128, so
    /// with every slot taken the 130th waiting connection had its SYN
    /// dropped (a health check timed out) instead of waiting its turn.
    #[tokio::test]
    async fn connections_past_128_wait_in_the_backlog() {
        let listener = bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut waiting = Vec::new();
        for n in 0..300 {
            let connect = tokio::net::TcpStream::connect(addr);
            let stream = tokio::time::timeout(LONG, connect)
                .await
                .unwrap_or_else(|_| panic!("connection {n} found no place in the backlog"))
                .expect("connect");
            waiting.push(stream);
        }
    }

    /// Before: a request still in flight at the end of the grace went on
    /// after `serve` returned (answered, and logged, after "stopped").
    #[tokio::test]
    async fn requests_open_at_the_end_of_the_grace_are_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (stop, stopped) = watch::channel(false);
        let router = routes().route("/hang", get(std::future::pending::<()>));
        let serving = tokio::spawn(serve(
            listener,
            router,
            stopped,
            SHORT,
            Patience::default(),
            ApiRuns::default(),
        ));
        let mut stream = send(&addr, b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n").await;
        tokio::time::sleep(SHORT).await;
        stop.send(true).expect("stop");
        tokio::time::timeout(LONG, serving)
            .await
            .expect("serve returned at the grace")
            .expect("joined");
        let read = read_to_close(&mut stream).await;
        assert!(read.is_empty(), "{}", String::from_utf8_lossy(&read));
    }

    /// Before: `axum::serve` set no timer, so a client that never finished
    /// its headers held its connection (one of 256) forever.
    #[tokio::test]
    async fn unfinished_headers_are_cut_off() {
        let (addr, _stop) = endpoint(routes()).await;
        let mut stream = send(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
        let read = read_to_close(&mut stream).await;
        assert!(!read.ends_with(b"ok\n"), "answered an unfinished request");
    }

    /// A kept-alive connection is answered, then closed once idle.
    #[tokio::test]
    async fn an_idle_kept_alive_connection_is_closed() {
        let (addr, _stop) = endpoint(routes()).await;
        let mut stream = send(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let read = read_to_close(&mut stream).await;
        let read = String::from_utf8_lossy(&read);
        assert!(read.starts_with("HTTP/1.1 200"), "{read}");
        assert!(read.ends_with("ok\n"), "{read}");
    }

    /// Before: a body announced at 100 bytes and sent 10 was waited for
    /// forever; now it is a 408 at the body's deadline.
    #[tokio::test]
    async fn a_body_that_does_not_arrive_is_a_408() {
        let (addr, _stop) = endpoint(routes()).await;
        let mut stream = send(
            &addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"a\": 1, ",
        )
        .await;
        let read = read_to_close(&mut stream).await;
        let read = String::from_utf8_lossy(&read);
        assert!(read.starts_with("HTTP/1.1 408"), "{read}");
        assert!(
            read.contains("the request body did not arrive whole within 0.3 s"),
            "{read}"
        );
        // A whole body is answered as before.
        let mut stream = send(
            &addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Content-Length: 8\r\nConnection: close\r\n\r\n{\"a\": 1}",
        )
        .await;
        let read = read_to_close(&mut stream).await;
        let read = String::from_utf8_lossy(&read);
        assert!(read.starts_with("HTTP/1.1 200"), "{read}");
        assert!(read.ends_with("{\"a\":1}"), "{read}");
    }

    /// Before: a client that asked for a large answer and read none of it
    /// held its connection as long as it liked. Now the write is given up
    /// after the stall, so what the client finds later is short of the
    /// whole answer; a client that reads gets it all.
    #[tokio::test]
    async fn a_client_that_stops_reading_is_cut_off() {
        let (addr, _stop) = endpoint(routes()).await;
        let mut stream = send(&addr, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").await;
        tokio::time::sleep(SHORT * 4).await;
        let read = read_to_close(&mut stream).await;
        assert!(read.len() < BIG, "{} bytes read", read.len());

        let mut stream = send(
            &addr,
            b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let read = read_to_close(&mut stream).await;
        assert!(read.len() > BIG, "{} bytes read", read.len());
    }
}
