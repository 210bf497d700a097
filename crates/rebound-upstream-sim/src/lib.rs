//! An in-process simulated upstream: HTTP APIs shaped like the NBA sources
//! Rebound collects from (NBA.com CDN, BallDontLie, The Odds API,
//! BigDataBall), with scriptable faults.
//!
//! It serves on loopback only, so the `rebound demo` command and the test
//! suite never touch the network. Default answers are generated from the
//! date ([`fixtures`]), so tests can rely on record counts; a test makes a
//! route misbehave by [`UpstreamSim::script`]ing the next replies of a path.
//! Under `/ref/<source>/...` the same data is served on the real paths of
//! the reference pipeline (`examples/nba/rebound.toml`); see `reference.rs`.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use rebound_upstream_sim::{Reply, UpstreamSim};
//! let sim = UpstreamSim::start().await?;
//! sim.script("/bdl/v1/box_scores", vec![Reply::status(503), Reply::status(503)]);
//! // ... point a client at sim.base_url() ...
//! assert_eq!(sim.request_count("/bdl/v1/box_scores"), 0);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod demo;
mod documents;
mod faults;
pub mod fixtures;
mod pages;
mod raw_faults;
mod receiver;
mod reference;
mod reference_docs;
mod reply;
mod routes;
mod server;

pub use demo::{
    DEMO_BREAKER_FAILURES, DEMO_BREAKER_OPEN_MINUTES, DEMO_DATE, DEMO_MAX_ATTEMPTS,
    DEMO_PROPS_FRESH_MINUTES, DEMO_SLOW_REPLY, DEMO_SOURCE_TIMEOUT, DemoConfig, demo_config,
    demo_config_with, demo_event_id, demo_game_id, demo_pending_event_id,
};
pub use documents::{DOC_ETAG, DOC_LAST_MODIFIED, REPORT_LINES, tiny_pdf};
pub use faults::{FaultAction, FaultFuture, FaultHook, FaultRequest};
pub use pages::{PAGE_ITEMS, PAGE_SIZE};
pub use raw_faults::{RawFault, RawFaultServer};
pub use receiver::{Received, WebhookReceiver};
pub use reference::{REFERENCE_DAYS_AROUND, REFERENCE_PREFIX};
pub use reference_docs::{
    INJURY_MINUTES_FROM, REASON_WRAP, game_book_pdf, injury_report_pdf, parse_injury_file,
};
pub use reply::Reply;
pub use routes::{BDB_NOT_FOUND, ODDS_MARKETS, SCHEDULE_DAYS_AROUND};

use server::Shared;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Paths of the default routes (what [`UpstreamSim::script`] and
/// [`UpstreamSim::request_count`] take). Routes with an id in the path are
/// functions.
pub mod paths {
    pub const HEALTH: &str = "/healthz";
    pub const BENCH_ITEM: &str = "/bench/item";
    pub const NBA_SCHEDULE: &str = "/nba/schedule";
    pub const NBA_INJURY_REPORT: &str = "/nba/injury-report";
    pub const BDL_BOX_SCORES: &str = "/bdl/v1/box_scores";
    pub const BDL_GAMES: &str = "/bdl/v1/games";
    pub const ODDS_EVENTS: &str = "/odds/v4/sports/basketball_nba/events";
    pub const BDB_PBP: &str = "/bdb/pbp";
    /// `?to=URL&status=CODE`: answers `CODE` (default 302; 301, 302, 303,
    /// 307 or 308) with `Location: URL`, verbatim (relative, `//host/…`
    /// or absolute), to test how clients follow redirects.
    pub const REDIRECT: &str = "/redirect";
    /// Answers 200 with the request target it received: `path` and `query`
    /// as sent (still percent-encoded) and `segments`, the path segments
    /// after `/echo`, percent-decoded. For tests of how Rebound writes URLs.
    pub const ECHO: &str = "/echo";

    /// NBA.com play-by-play of one game.
    pub fn nba_pbp(game_id: &str) -> String {
        format!("/nba/pbp/{game_id}")
    }

    /// NBA.com game book of the game `away` plays at `home` on `day`
    /// (`YYYYMMDD`).
    pub fn nba_gamebook(day: &str, away: &str, home: &str) -> String {
        format!("/nba/gamebooks/{day}/{away}{home}.pdf")
    }

    /// Odds API odds of one event.
    pub fn odds_event_odds(event_id: &str) -> String {
        format!("{ODDS_EVENTS}/{event_id}/odds")
    }

    /// Documents (see `documents.rs`).
    pub mod docs {
        /// A small valid PDF (`application/pdf`) of an injury report's lines.
        pub const PDF: &str = "/docs/report.pdf";
        /// An HTML page (`text/html`).
        pub const HTML: &str = "/docs/page.html";
        /// 200 with an HTML "Access Denied" page, where a PDF is expected.
        pub const BLOCKED_PDF: &str = "/docs/blocked.pdf";
        /// 200 with an empty `text/csv` body.
        pub const EMPTY_CSV: &str = "/docs/empty.csv";
        /// JSON with `ETag` / `Last-Modified`; 304 to a matching
        /// conditional request.
        pub const CONDITIONAL: &str = "/docs/conditional.json";
    }

    /// Paginated lists of `items` records, one route per way of paging
    /// (see `pages.rs` for the query each takes and its faults).
    pub mod pages {
        /// `?cursor=C`; `{"data": [...], "meta": {"next_cursor": ...}}`.
        pub const CURSOR: &str = "/pages/cursor";
        /// A cursor that loops: "a" → "b" → "a" → ….
        pub const CURSOR_LOOP: &str = "/pages/cursor-loop";
        /// `?page=N`; `{"results": [...], "next": URL}` (relative, or
        /// absolute with `absolute=1`, or on `elsewhere=ORIGIN`).
        pub const NEXT_URL: &str = "/pages/next-url";
        /// `?page=N`; a JSON array, the next page in the `Link` header.
        pub const LINK: &str = "/pages/link";
        /// `?page=N`; `{"results": [...], "total": T}`.
        pub const PAGE: &str = "/pages/page";
        /// `?offset=O&limit=L`; `{"items": [...], "count": T}`.
        pub const OFFSET: &str = "/pages/offset";
    }
}

/// A running simulated upstream. Serves until dropped or [`shut down`].
///
/// [`shut down`]: UpstreamSim::shutdown
pub struct UpstreamSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Anchor date of the reference schedule (`/ref/...`).
    anchor: reference::Anchor,
    /// Dropping it (with the handle) also stops the server.
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for UpstreamSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSim")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Without the query, as sent (still percent-encoded).
    pub path: String,
    /// The raw query string, as sent.
    pub query: Option<String>,
    /// Names lower-case (HTTP/2 style), values lossily decoded as UTF-8.
    pub headers: Vec<(String, String)>,
    pub at: Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl UpstreamSim {
    /// Binds 127.0.0.1 on a free port and serves until dropped or shut down.
    /// Must be called within a Tokio runtime, which then runs the server.
    pub async fn start() -> std::io::Result<UpstreamSim> {
        UpstreamSim::start_on(0).await
    }

    /// Like [`start`](Self::start) on 127.0.0.1:`port` (0: a free one), for
    /// `rebound demo upstream --port N`, whose config names a fixed port.
    pub async fn start_on(port: u16) -> std::io::Result<UpstreamSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new());
        let (stop, stopped) = oneshot::channel();
        let anchor = reference::Anchor::new();
        let router = routes::router().nest(REFERENCE_PREFIX, reference::router(anchor.clone()));
        let task = tokio::spawn(server::accept_loop(
            listener,
            shared.clone(),
            router,
            stopped,
        ));
        Ok(UpstreamSim {
            addr,
            shared,
            anchor,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `replies.len()` requests whose path equals `path` (query
    /// ignored) get these replies in order; then the route's default
    /// behaviour resumes. Scripts for one path queue up behind each other.
    /// Any path can be scripted, including ones without a default route.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.shared.script(path, replies);
    }

    /// Drops the replies still scripted for `path` (an outage ends);
    /// returns how many were dropped.
    pub fn clear_script(&self, path: &str) -> usize {
        self.shared.clear_script(path)
    }

    /// From now on every request (after any scripted reply for its path)
    /// is first put to `hook`, which may answer instead of the route; see
    /// [`FaultHook`]. `None` removes it.
    pub fn set_fault_hook(&self, hook: Option<Arc<dyn FaultHook>>) {
        self.shared.set_fault_hook(hook);
    }

    /// Every request received so far (while recording), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// How many recorded requests had exactly this path (query ignored).
    pub fn request_count(&self, path: &str) -> usize {
        self.shared.request_count(path)
    }

    /// Recording is on from the start; turn it off for load tests so each
    /// request costs no allocation or lock for the log. Requests served while
    /// it is off are not in [`requests`](Self::requests) or counts.
    pub fn set_recording(&self, on: bool) {
        self.shared.set_recording(on);
    }

    /// The reference schedule (`/ref/nba_cdn/staticData/scheduleLeagueV2_1.json`)
    /// serves the dates within [`REFERENCE_DAYS_AROUND`] of `date` from now
    /// on (default [`DEMO_DATE`]). The other reference routes take their date
    /// from the request and need no anchor.
    pub fn set_reference_anchor(&self, date: chrono::NaiveDate) {
        self.anchor.set(date);
    }

    /// Installs the demo's faults; see [`demo_config`] for which scraper
    /// meets which fault.
    pub fn script_demo_faults(&self) {
        demo::script_demo_faults(self);
    }

    /// The demo's fan-out fault: the last Odds API event of `date` answers
    /// once with no bookmakers (props not posted yet).
    pub fn script_demo_props_pending(&self, date: chrono::NaiveDate) {
        demo::script_demo_props_pending(self, date);
    }

    /// The demo's outage: every BallDontLie box-score request answers 503
    /// until [`end_demo_outage`](Self::end_demo_outage).
    pub fn script_demo_outage(&self) {
        demo::script_demo_outage(self);
    }

    /// Ends [`script_demo_outage`](Self::script_demo_outage).
    pub fn end_demo_outage(&self) {
        demo::end_demo_outage(self);
    }

    /// Stops accepting, closes every open connection and waits for the
    /// server task to end.
    pub async fn shutdown(self) {
        let UpstreamSim { stop, task, .. } = self;
        let _ = stop.send(());
        let _ = task.await;
    }
}
