//! The outbound HTTP edge: the only crate that knows `reqwest`.
//!
//! One scraper call is a loop of attempts, written out explicitly (rather
//! than hidden in a middleware stack) so that every attempt is visible to
//! the history: acquire the source's concurrency permit → send with the
//! source's timeout → read the body up to `max_body_bytes` → classify
//! ([`classify`]) → either finish, or ask the [`RetryPolicy`] how long to
//! wait (honouring `Retry-After`) and go again. Waiting goes through the
//! injected [`Clock`], so tests simulate hours of backoff instantly. The
//! loop and its steps, with the guards it applies (rate limit, retry
//! budget) in their order, are `call.rs`; this file holds the fetcher's
//! state, the retry budget's bookkeeping, request building and transport
//! error classification.
//!
//! A wait longer than the plan's `scheduler.max_inline_wait` is not slept:
//! the call stops there and its [`CallResult::deferred_until`] says when the
//! next attempt may start, so the caller can store the retry as scheduled
//! work instead of holding a worker (and every other call of the run) idle.
//!
//! Every text this crate produces has been through the plan's
//! [`Redactor`]: secrets never leave here in a message.
//!
//! [`RetryPolicy`]: rebound_domain::retry::RetryPolicy

mod call;
pub mod classify;
mod header_warnings;
mod limits;
mod paginate;
mod probe;
mod proxy;
mod redirect;
pub mod sink;

pub use paginate::{PageGate, PageRefusal};
pub use probe::ProbeOutcome;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use limits::SourceLimiter;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rebound_domain::clock::Clock;
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_domain::plan::{Plan, Scraper, Source};
use rebound_domain::redact::Redactor;
use rebound_domain::retry_budget::RetryBudget;
use rebound_storage::LimitsStore;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// One attempt, as it will be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    /// 1-based, counted over the whole call (every page's attempts).
    pub attempt: u32,
    /// The page this attempt fetched, 1-based; 1 without pagination.
    pub page: u32,
    /// The proxy it went through, 1-based (its place in the source's
    /// `proxies`); `None` for a source without proxies.
    pub proxy: Option<u32>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub outcome: AttemptOutcome,
    pub error_kind: Option<ErrorKind>,
    /// Why the attempt failed or found no data; `None` for a success.
    pub message: Option<String>,
    /// The wait before this attempt.
    pub delay_before: Duration,
}

/// The result of a whole call (all attempts).
#[derive(Debug, Clone)]
pub struct CallResult {
    /// `success`, `no_data` or `failed` (a fetcher never skips).
    pub status: ScraperStatus,
    pub attempts: Vec<AttemptReport>,
    /// The last HTTP status seen, if any.
    pub http_status: Option<u16>,
    pub error_kind: Option<ErrorKind>,
    /// For failures: what happened, with the attempt count. For no_data: why.
    pub message: Option<String>,
    /// The body of a success or no_data response.
    pub body: Option<Bytes>,
    pub content_type: Option<String>,
    pub records: Option<usize>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Set when the call stopped because its next wait exceeded the inline
    /// wait limit: the instant the next attempt may start. The call itself
    /// is `failed` (with the last attempt's kind); a later run retries.
    pub deferred_until: Option<DateTime<Utc>>,
    /// The requests left that the upstream last reported in the source's
    /// `quota.remaining_header`, if it sent one.
    pub quota_remaining: Option<u64>,
    /// For a paginated scraper: the pages requested, the failing one
    /// included; `None` without `paginate`.
    pub pages: Option<u32>,
    // Conditional requests (issue 13, item 5).
    /// The call sent `If-None-Match` / `If-Modified-Since` and the
    /// upstream answered `304 Not Modified`: a success without a body.
    pub not_modified: bool,
    /// The final response's `ETag` and `Last-Modified`, kept only for a
    /// `conditional` scraper (its next call sends them back).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a `conditional` call revalidates: the validators of the previous
/// successful call with the same parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revalidate {
    /// Sent as `If-None-Match`.
    pub etag: Option<String>,
    /// Sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// What the fetcher needs to make one call.
#[derive(Debug, Clone, Copy)]
pub struct CallSpec<'a> {
    pub source: &'a Source,
    pub scraper: &'a Scraper,
    /// Parameter values, built-ins (`date`, `date_compact`) included.
    pub params: &'a BTreeMap<String, String>,
}

/// Errors building the fetcher itself (not calls: those end in a [`CallResult`]).
#[derive(Debug)]
pub struct FetcherSetupError(String);

impl std::fmt::Display for FetcherSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot set up the HTTP client: {}", self.0)
    }
}

impl std::error::Error for FetcherSetupError {}

/// Makes scraper calls. Cheap to share behind an `Arc`.
pub struct Fetcher {
    /// For sources without proxies; ignores the environment's proxies.
    client: reqwest::Client,
    /// Per source with `proxy` / `proxies`: a client per proxy and the
    /// proxies' breakers (see `proxy.rs`).
    proxies: HashMap<String, Arc<proxy::ProxyPool>>,
    clock: Arc<dyn Clock>,
    rng: Mutex<StdRng>,
    /// One semaphore per source: `max_concurrency` calls in flight.
    gates: HashMap<String, Arc<Semaphore>>,
    /// One limiter per source: `rate_limit` and server-asked pauses.
    limits: HashMap<String, Arc<SourceLimiter>>,
    redactor: Redactor,
    /// The pipeline's zone: times in messages for people read in it.
    timezone: chrono_tz::Tz,
    /// Longer retry waits end the call with `deferred_until` instead of sleeping.
    max_inline_wait: Duration,
    /// Every source's quota `remaining_header`, lower-case.
    quota_headers: Vec<String>,
    /// Per source: the retry budget account of this process.
    budgets: Mutex<HashMap<String, RetryBudget>>,
    /// The store sharing rate limits, pauses and retry budgets with other
    /// processes, when this fetcher has one.
    shared: Option<Arc<dyn LimitsStore>>,
    /// Per source, with a shared store: calls not yet added to the shared
    /// budget, and when they were last added.
    pending_calls: Mutex<HashMap<String, PendingCalls>>,
    /// When each ignored-header warning was last logged (at most once an
    /// hour per source and header, see `header_warnings.rs`).
    header_warnings: header_warnings::HeaderWarnings,
}

/// Calls counted here but not yet in the shared retry budget.
#[derive(Debug, Default)]
struct PendingCalls {
    calls: u32,
    flushed_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("sources", &self.gates.len())
            .finish()
    }
}

impl Fetcher {
    /// A fetcher for the plan's sources, waiting on `clock`.
    pub fn new(plan: &Plan, clock: Arc<dyn Clock>) -> Result<Fetcher, FetcherSetupError> {
        // Redirects are followed by hand, per source and without the
        // source's credentials on other hosts (see `redirect.rs`), and the
        // environment's proxies are ignored unless a source asks for them
        // (`proxy = "env"`, see `proxy.rs`).
        let client = proxy::client_builder()
            .build()
            .map_err(|e| FetcherSetupError(e.to_string()))?;
        let proxies = proxy::pools(plan, &plan.redactor)?;
        let gates = plan
            .sources
            .values()
            .map(|s| (s.name.clone(), Arc::new(Semaphore::new(s.max_concurrency))))
            .collect();
        let limits = plan
            .sources
            .values()
            .map(|s| {
                let limiter =
                    SourceLimiter::new(&s.name, s.rate_limit, None, plan.pipeline.timezone);
                (s.name.clone(), Arc::new(limiter))
            })
            .collect();
        Ok(Fetcher {
            client,
            proxies,
            clock,
            rng: Mutex::new(StdRng::from_os_rng()),
            gates,
            limits,
            redactor: plan.redactor.clone(),
            timezone: plan.pipeline.timezone,
            max_inline_wait: plan.scheduler.max_inline_wait,
            quota_headers: plan
                .sources
                .values()
                .filter_map(|s| s.quota.as_ref()?.remaining_header.clone())
                .collect(),
            budgets: Mutex::new(HashMap::new()),
            shared: None,
            pending_calls: Mutex::new(HashMap::new()),
            header_warnings: header_warnings::HeaderWarnings::default(),
        })
    }

    /// Shares every source's rate limit, pauses and retry budget with the
    /// other processes using `store` (see [`limits`]): `rebound serve`
    /// wires its history store here.
    pub fn with_shared_limits(self, store: Arc<dyn LimitsStore>) -> Fetcher {
        let limits = self
            .limits
            .iter()
            .map(|(name, limiter)| {
                let shared = SourceLimiter::new(
                    name,
                    limiter.rate(),
                    Some(store.clone()),
                    limiter.timezone(),
                );
                (name.clone(), Arc::new(shared))
            })
            .collect();
        Fetcher {
            limits,
            shared: Some(store),
            ..self
        }
    }

    /// Makes jitter repeatable (tests, benchmarks).
    pub fn with_seed(self, seed: u64) -> Fetcher {
        Fetcher {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            ..self
        }
    }

    fn unit_random(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random::<f64>()
    }

    /// Counts a call against its source's retry budget. With a shared
    /// store the calls are added to it in batches, at most once per
    /// [`limits::PAUSE_REFRESH`] per source, so calls cost no round trip
    /// each; the local account is kept too, for when the store fails.
    async fn budget_call(&self, source: &Source) {
        let now = self.clock.now();
        {
            let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
            budgets
                .entry(source.name.clone())
                .or_default()
                .record_call(&source.retry_budget, now);
        }
        let Some(store) = &self.shared else {
            return;
        };
        let flush = {
            let mut pending = self.pending_calls.lock().unwrap_or_else(|e| e.into_inner());
            let entry = pending.entry(source.name.clone()).or_default();
            entry.calls = entry.calls.saturating_add(1);
            let every = chrono::Duration::from_std(limits::PAUSE_REFRESH).unwrap_or_default();
            let due = entry
                .flushed_at
                .is_none_or(|at| now < at || now - at >= every);
            due.then(|| {
                entry.flushed_at = Some(now);
                std::mem::take(&mut entry.calls)
            })
        };
        if let Some(calls) = flush
            && let Err(error) = store
                .limits_record_calls(&source.name, &source.retry_budget, now, calls)
                .await
        {
            self.unflushed(&source.name, calls);
            tracing::warn!(source = %source.name, error = %error, "Shared retry budget unavailable.");
        }
    }

    /// Gives back calls a failed write did not add to the shared budget.
    fn unflushed(&self, source: &str, calls: u32) {
        let mut pending = self.pending_calls.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pending.entry(source.to_string()).or_default();
        entry.calls = entry.calls.saturating_add(calls);
    }

    /// Takes one retry from the source's budget (the shared one when there
    /// is a store, this process's when not or when the store fails), or
    /// says why not.
    async fn budget_retry(&self, source: &Source) -> Result<(), String> {
        let now = self.clock.now();
        let local = || {
            let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
            budgets
                .entry(source.name.clone())
                .or_default()
                .try_retry(&source.retry_budget, now)
        };
        let Some(store) = &self.shared else {
            return local();
        };
        let calls = {
            let mut pending = self.pending_calls.lock().unwrap_or_else(|e| e.into_inner());
            let entry = pending.entry(source.name.clone()).or_default();
            entry.flushed_at = Some(now);
            std::mem::take(&mut entry.calls)
        };
        match store
            .limits_take_retry(&source.name, &source.retry_budget, now, calls)
            .await
        {
            Ok(counts) if counts.granted => Ok(()),
            Ok(counts) => Err(source
                .retry_budget
                .exhausted_message(counts.calls, counts.retries)),
            Err(error) => {
                self.unflushed(&source.name, calls);
                tracing::warn!(source = %source.name, error = %error, "Shared retry budget unavailable.");
                local()
            }
        }
    }
}

/// A request with every template filled in.
#[derive(Debug, Clone)]
struct BuiltRequest {
    method: reqwest::Method,
    url: url::Url,
    headers: Vec<(String, String)>,
    /// Carries `If-None-Match` / `If-Modified-Since`: a 304 is a success.
    revalidating: bool,
}

fn render(
    template: &rebound_domain::template::Template,
    params: &BTreeMap<String, String>,
    key: &str,
) -> Result<String, String> {
    template
        .render(params)
        .map_err(|missing| missing_message(&missing, key))
}

fn missing_message(missing: &str, key: &str) -> String {
    format!("missing parameter {{{missing}}} (used by {key}): pass --param {missing}=VALUE")
}

/// Like [`render`], writing each value as `placement` requires: parameter
/// values come from `--param` and from upstream payloads (`for_each`), so
/// in the URL each is percent-encoded as one path segment and cannot leave
/// the configured path (see `Placement`).
fn render_in(
    template: &rebound_domain::template::Template,
    params: &BTreeMap<String, String>,
    key: &str,
    placement: rebound_domain::template::Placement,
) -> Result<String, String> {
    use rebound_domain::template::RenderError;
    template
        .render_in(params, placement)
        .map_err(|error| match error {
            RenderError::Missing(missing) => missing_message(&missing, key),
            RenderError::Unencodable { param, reason } => {
                let value = params.get(&param).map(String::as_str).unwrap_or_default();
                // A filter's reason starts with the value, quoted.
                if reason.starts_with(&format!("{value:?}")) {
                    format!("parameter {{{param}}} (used by {key}): {reason}")
                } else {
                    format!("parameter {{{param}}} (used by {key}): {value:?} {reason}")
                }
            }
        })
}

/// The longest URL the HTTP client sends: `http::Uri` holds at most
/// `u16::MAX - 1` bytes.
const MAX_URL_LENGTH: usize = 65_534;

/// The length of `url` when it is too long to send (over
/// [`MAX_URL_LENGTH`]): checked for the first request and for every next
/// page's.
pub(crate) fn url_too_long(url: &url::Url) -> Option<usize> {
    let length = url.as_str().len();
    (length > MAX_URL_LENGTH).then_some(length)
}

fn build_request(spec: &CallSpec<'_>) -> Result<BuiltRequest, String> {
    use rebound_domain::template::Placement;
    let base = render_in(
        &spec.source.base_url.value,
        spec.params,
        "base_url",
        Placement::Url,
    )?;
    let path = render_in(&spec.scraper.path, spec.params, "path", Placement::Url)?;
    let joined = if path.is_empty() || path.starts_with('/') {
        format!("{}{}", base.trim_end_matches('/'), path)
    } else {
        format!("{}/{}", base.trim_end_matches('/'), path)
    };
    let mut url = url::Url::parse(&joined).map_err(|e| format!("bad URL \"{joined}\": {e}"))?;
    // Scraper query keys override the source's keys of the same name.
    let mut query: Vec<(String, String)> = Vec::new();
    for (key, value) in &spec.source.query {
        if spec.scraper.query.iter().any(|(k, _)| k == key) {
            continue;
        }
        query.push((
            key.clone(),
            render_in(
                &value.value,
                spec.params,
                &format!("query.{key}"),
                Placement::QueryValue,
            )?,
        ));
    }
    for (key, value) in &spec.scraper.query {
        query.push((
            key.clone(),
            render_in(
                &value.value,
                spec.params,
                &format!("query.{key}"),
                Placement::QueryValue,
            )?,
        ));
    }
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in &query {
            pairs.append_pair(key, value);
        }
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (key, value) in &spec.source.headers {
        if spec
            .scraper
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        headers.push((
            key.clone(),
            render_in(
                &value.value,
                spec.params,
                &format!("headers.{key}"),
                Placement::Header,
            )?,
        ));
    }
    for (key, value) in &spec.scraper.headers {
        headers.push((
            key.clone(),
            render_in(
                &value.value,
                spec.params,
                &format!("headers.{key}"),
                Placement::Header,
            )?,
        ));
    }
    // The HTTP client cannot send a longer one; said before any request,
    // rather than as hyper's "Parsed Url is not a valid Uri" per attempt.
    if let Some(length) = url_too_long(&url) {
        return Err(format!(
            "scraper {}: the request URL would be {length} characters long, over the {MAX_URL_LENGTH} an HTTP request can carry (is a parameter's value too long?)",
            spec.scraper.name
        ));
    }
    let method = reqwest::Method::from_bytes(spec.scraper.method.as_bytes())
        .map_err(|_| format!("bad HTTP method \"{}\"", spec.scraper.method))?;
    Ok(BuiltRequest {
        method,
        url,
        headers,
        revalidating: false,
    })
}

#[derive(Debug, Clone)]
struct Failure {
    kind: ErrorKind,
    message: String,
    /// The connection was made and then closed or reset by the peer
    /// before a complete answer (kind `connect` "connection lost", or
    /// `interrupted`); never set for a connection that could not be made.
    /// The attempt loop turns such a drop into a timeout when our own
    /// deadline had passed by then (`call.rs`, `Fetcher::attempt`).
    dropped: bool,
}

/// Classifies a transport error. The error's URL is dropped (it may carry
/// a secret in its query) and the chain of causes is kept, because "error
/// sending request" alone says nothing. A connection that could not be
/// made says where to and how, once: `connect to 127.0.0.1:9 refused`
/// (only host and port of `target`, never a path or query; `None` when
/// the request went through a proxy, whose address is a secret and whose
/// place the caller adds).
///
/// reqwest reports a lost connection mid-body as a *decode* error and a
/// malformed response as a plain request error, so the kinds come from the
/// causes: hyper's parse errors are `protocol` (the peer does not speak
/// HTTP properly; asking again meets the same peer, so not retried), as is
/// a body whose chunked framing is broken, a
/// body cut short or reset is `interrupted` (transient, retried), and
/// `decode` is left for bodies that arrived whole but would not decode.
fn transport_failure(error: &reqwest::Error, target: Option<&url::Url>) -> Failure {
    let hyper_error = find_cause::<hyper::Error>(error);
    let lost = hyper_error.is_some()
        || find_cause::<std::io::Error>(error).is_some_and(|e| {
            use std::io::ErrorKind as Io;
            match e.kind() {
                // From the gzip decoder with no transport error under it:
                // the body arrived whole (its framing held) and its gzip
                // stream ends early. Retrying fetches the same bytes.
                Io::UnexpectedEof => !error.is_decode(),
                Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => true,
                _ => false,
            }
        });
    // hyper's body decoder refuses framing that is not HTTP (a chunk size
    // that is not hexadecimal, a chunk without its CRLF) with these kinds;
    // a body cut short is `UnexpectedEof`, a reset `ConnectionReset`.
    let bad_framing = hyper_error.is_some()
        && find_cause::<std::io::Error>(error).is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            )
        });
    let (kind, what) = if error.is_timeout() {
        (ErrorKind::Timeout, "timeout")
    } else if error.is_builder() {
        (ErrorKind::Config, "could not build the request")
    } else if let Some(parse) = hyper_error.filter(|h| h.is_parse()) {
        let what = if parse.is_parse_status() {
            "malformed response: invalid status line"
        } else if parse.is_parse_too_large() {
            "malformed response: headers too large"
        } else {
            "malformed response"
        };
        (ErrorKind::Protocol, what)
    } else if bad_framing {
        (ErrorKind::Protocol, "malformed response body")
    } else if error.is_connect() {
        (ErrorKind::Connect, "connection failed")
    } else if error.is_decode() || error.is_body() {
        if lost {
            (ErrorKind::Interrupted, "connection lost mid-body")
        } else {
            (ErrorKind::Decode, "could not decode the response")
        }
    } else {
        (ErrorKind::Connect, "connection lost")
    };
    if kind == ErrorKind::Connect && error.is_connect() {
        return Failure {
            kind,
            message: connect_message(error, target),
            dropped: false,
        };
    }
    // Past the return above, `connect` is only the "connection lost" case:
    // the connection was made, then closed or reset before an answer.
    let dropped = kind == ErrorKind::Interrupted || kind == ErrorKind::Connect;
    let detail = cause_chain(error);
    let framing = find_cause::<std::io::Error>(error).filter(|_| bad_framing);
    let message = match hyper_error.filter(|_| kind == ErrorKind::Protocol) {
        Some(_) if let Some(cause) = framing => format!("{what}: {cause}"),
        // The named cases say it all; the causes would only repeat it.
        Some(_) if what != "malformed response" => what.to_string(),
        Some(parse) => format!("{what}: {parse}"),
        None if detail.is_empty() => what.to_string(),
        None => format!("{what}: {detail}"),
    };
    Failure {
        kind,
        message,
        dropped,
    }
}

/// The causes of `error`, joined with ": ", each said once: layers that
/// wrap an error often print their cause again ("client error (Connect):
/// tcp connect error: Connection refused: Connection refused").
fn cause_chain(error: &reqwest::Error) -> String {
    let mut detail = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !detail.contains(&text) {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&text);
        }
        source = cause.source();
    }
    detail
}

/// `connect to HOST:PORT refused` (or `timed out`, `reset by peer`,
/// `unreachable`; `connect to HOST:PORT failed: host not found` for a
/// name that does not resolve; otherwise `failed:` and the innermost
/// cause, e.g. a TLS certificate error). Through a proxy the address is
/// left out: it would be the target's while the failed connection was to
/// the proxy, whose address is a secret.
fn connect_message(error: &reqwest::Error, target: Option<&url::Url>) -> String {
    use std::io::ErrorKind as Io;
    let to = match target.and_then(|url| Some((url.host_str()?, url.port_or_known_default()?))) {
        Some((host, port)) => format!("connect to {host}:{port}"),
        None => "connect".to_string(),
    };
    let mut causes: Vec<&dyn std::error::Error> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause);
        source = cause.source();
    }
    // hyper-util names a failed lookup "dns error"; its io::Error cause is
    // the resolver's own wording, which differs per platform.
    if causes.iter().any(|c| c.to_string() == "dns error") {
        return format!("{to} failed: host not found");
    }
    let how = find_cause::<std::io::Error>(error).and_then(|io| match io.kind() {
        Io::ConnectionRefused => Some("refused"),
        Io::TimedOut => Some("timed out"),
        Io::ConnectionReset | Io::ConnectionAborted => Some("reset by peer"),
        Io::HostUnreachable | Io::NetworkUnreachable => Some("unreachable"),
        _ => None,
    });
    match (how, causes.last()) {
        (Some(how), _) => format!("{to} {how}"),
        (None, Some(innermost)) => format!("{to} failed: {innermost}"),
        (None, None) => format!("{to} failed"),
    }
}

/// The first cause of type `E` in `error`'s chain.
fn find_cause<E: std::error::Error + 'static>(error: &reqwest::Error) -> Option<&E> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(found) = cause.downcast_ref::<E>() {
            return Some(found);
        }
        source = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_domain::template::{Placement, Template};

    /// Before: `"x" "x" is not an RFC 3339 time`.
    #[test]
    fn a_value_a_filter_refuses_is_quoted_once() {
        let template = Template::parse("{day_end_utc|%H}").unwrap();
        let params = BTreeMap::from([("day_end_utc".to_string(), "garbage".to_string())]);
        assert_eq!(
            render_in(&template, &params, "query.a", Placement::QueryValue).unwrap_err(),
            "parameter {day_end_utc} (used by query.a): \"garbage\" is not an RFC 3339 time"
        );
        let template = Template::parse("/x/{id}").unwrap();
        let params = BTreeMap::from([("id".to_string(), "..".to_string())]);
        let error = render_in(&template, &params, "path", Placement::Url).unwrap_err();
        assert!(
            error.starts_with("parameter {id} (used by path): \"..\" would make"),
            "{error}"
        );
    }
}
