//! The outbound HTTP edge: the only crate that knows `reqwest`.
//!
//! One scraper call is a loop of attempts, written out explicitly (rather
//! than hidden in a middleware stack) so that every attempt is visible to
//! the history: acquire the source's concurrency permit → send with the
//! source's timeout → read the body up to `max_body_bytes` → classify
//! ([`classify`]) → either finish, or ask the [`RetryPolicy`] how long to
//! wait (honouring `Retry-After`) and go again. Waiting goes through the
//! injected [`Clock`], so tests simulate hours of backoff instantly.
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

pub mod classify;
mod limits;
mod probe;
mod redirect;
pub mod sink;

pub use probe::ProbeOutcome;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use limits::{Admission, SourceLimiter};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rebound_domain::clock::Clock;
use rebound_domain::duration::{add_saturating, format_duration};
use rebound_domain::message::{attempts_phrase, body_snippet};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_domain::plan::{Plan, Scraper, Source};
use rebound_domain::redact::Redactor;
use rebound_domain::retry::{RetryDecision, parse_retry_after};
use rebound_domain::retry_budget::RetryBudget;
use rebound_storage::LimitsStore;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// One attempt, as it will be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    /// 1-based.
    pub attempt: u32,
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
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    rng: Mutex<StdRng>,
    /// One semaphore per source: `max_concurrency` calls in flight.
    gates: HashMap<String, Arc<Semaphore>>,
    /// One limiter per source: `rate_limit` and server-asked pauses.
    limits: HashMap<String, Arc<SourceLimiter>>,
    redactor: Redactor,
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
    #[allow(clippy::disallowed_methods)] // the HTTP edge: the one place that builds clients
    pub fn new(plan: &Plan, clock: Arc<dyn Clock>) -> Result<Fetcher, FetcherSetupError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("rebound/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(256)
            // Redirects are followed by hand, per source and without the
            // source's credentials on other hosts: see `redirect.rs`.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| FetcherSetupError(e.to_string()))?;
        let gates = plan
            .sources
            .values()
            .map(|s| (s.name.clone(), Arc::new(Semaphore::new(s.max_concurrency))))
            .collect();
        let limits = plan
            .sources
            .values()
            .map(|s| {
                let limiter = SourceLimiter::new(&s.name, s.rate_limit, None);
                (s.name.clone(), Arc::new(limiter))
            })
            .collect();
        Ok(Fetcher {
            client,
            clock,
            rng: Mutex::new(StdRng::from_os_rng()),
            gates,
            limits,
            redactor: plan.redactor.clone(),
            max_inline_wait: plan.scheduler.max_inline_wait,
            quota_headers: plan
                .sources
                .values()
                .filter_map(|s| s.quota.as_ref()?.remaining_header.clone())
                .collect(),
            budgets: Mutex::new(HashMap::new()),
            shared: None,
            pending_calls: Mutex::new(HashMap::new()),
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
                let shared = SourceLimiter::new(name, limiter.rate(), Some(store.clone()));
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

    /// Makes one call: attempts with retries until success, no_data, a
    /// permanent failure, the policy gives up, or the source's retry
    /// budget is spent.
    pub async fn call(&self, spec: CallSpec<'_>) -> CallResult {
        let started_at = self.clock.now();
        let request = match build_request(&spec) {
            Ok(request) => request,
            Err(message) => {
                let message = self.redactor.redact_string(&message);
                let finished_at = self.clock.now();
                let attempt = AttemptReport {
                    attempt: 1,
                    started_at,
                    finished_at,
                    http_status: None,
                    outcome: AttemptOutcome::Permanent,
                    error_kind: Some(ErrorKind::Config),
                    message: Some(message.clone()),
                    delay_before: Duration::ZERO,
                };
                return CallResult {
                    status: ScraperStatus::Failed,
                    attempts: vec![attempt],
                    http_status: None,
                    error_kind: Some(ErrorKind::Config),
                    message: Some(message),
                    body: None,
                    content_type: None,
                    records: None,
                    started_at,
                    finished_at,
                    deferred_until: None,
                    quota_remaining: None,
                };
            }
        };
        let policy = &spec.scraper.retry;
        self.budget_call(spec.source).await;
        let mut attempts: Vec<AttemptReport> = Vec::new();
        let mut delay_before = Duration::ZERO;
        let mut quota_remaining: Option<u64> = None;
        let limiter = self.limits.get(&spec.source.name).cloned();
        loop {
            let attempt_no = attempts.len() as u32 + 1;
            // The permit is held for one attempt (admission included), not
            // across backoff waits, so a call sleeping before its retry does
            // not block its source.
            let permit = self.permit(&spec).await;
            if let Some(limiter) = &limiter {
                match limiter
                    .admit(&*self.clock, self.max_inline_wait, policy.max_retry_after)
                    .await
                {
                    Admission::Go { waited } => delay_before += waited,
                    Admission::Defer { until, wait, cause } => {
                        let text = format!(
                            "{cause}: the wait ({}) exceeds the inline wait limit ({}): retry stored for {}",
                            wait_text(wait),
                            format_duration(self.max_inline_wait),
                            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        );
                        tracing::info!(
                            scraper = %spec.scraper.name,
                            source = %spec.source.name,
                            retry_at = %until,
                            "Source is rate limited; call deferred."
                        );
                        let mut result =
                            self.not_sent(started_at, attempts, &text, quota_remaining);
                        result.deferred_until = Some(until);
                        return result;
                    }
                    Admission::Refuse { cause } => {
                        let text = format!("{cause}; not sent");
                        tracing::warn!(
                            scraper = %spec.scraper.name,
                            source = %spec.source.name,
                            error = %text,
                            "Call failed."
                        );
                        return self.not_sent(started_at, attempts, &text, quota_remaining);
                    }
                }
            }
            let attempt_started = self.clock.now();
            let raw = self.attempt(&spec, &request).await;
            drop(permit);
            let finished_at = self.clock.now();
            if let Ok(response) = &raw.response {
                if let Some(limiter) = &limiter {
                    let signal = |name: &str| response.signal(name);
                    if let Some(pause) = rebound_domain::ratelimit::source_pause(
                        response.status,
                        signal,
                        finished_at,
                    ) {
                        let until = limiter.pause(finished_at, &pause).await;
                        tracing::info!(
                            source = %spec.source.name,
                            until = %until,
                            cause = %pause.cause,
                            "Source paused."
                        );
                    }
                }
                if let Some(header) = spec
                    .source
                    .quota
                    .as_ref()
                    .and_then(|q| q.remaining_header.as_deref())
                    && let Some(left) = response
                        .signal(header)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                    && left.is_finite()
                {
                    quota_remaining = Some(left.max(0.0) as u64);
                }
            }
            let (outcome, kind, message, records) = match &raw.response {
                Ok(response) => {
                    let classified = classify::classify_response(
                        response.status,
                        &response.body,
                        &spec.scraper.no_data,
                        spec.scraper.records.as_deref(),
                        &self.redactor,
                    );
                    (
                        classified.outcome,
                        classified.kind,
                        classified.message,
                        classified.records,
                    )
                }
                Err(failure) => {
                    let outcome = if failure.kind.is_retryable() {
                        AttemptOutcome::Retryable
                    } else {
                        AttemptOutcome::Permanent
                    };
                    (outcome, Some(failure.kind), failure.message.clone(), None)
                }
            };
            let message = self.redactor.redact_string(&message);
            let http_status = raw.response.as_ref().ok().map(|r| r.status);
            tracing::debug!(
                scraper = %spec.scraper.name,
                source = %spec.source.name,
                attempt = attempt_no,
                outcome = outcome.as_str(),
                http_status,
                message = %message,
                "Attempt finished."
            );
            attempts.push(AttemptReport {
                attempt: attempt_no,
                started_at: attempt_started,
                finished_at,
                http_status,
                outcome,
                error_kind: kind,
                message: (outcome != AttemptOutcome::Success).then(|| message.clone()),
                delay_before,
            });
            let done = |status: ScraperStatus, message: Option<String>, body: Option<Bytes>| {
                let response = raw.response.as_ref().ok();
                CallResult {
                    status,
                    attempts: attempts.clone(),
                    http_status,
                    error_kind: kind,
                    message,
                    body,
                    content_type: response.and_then(|r| r.content_type.clone()),
                    records,
                    started_at,
                    finished_at,
                    deferred_until: None,
                    quota_remaining,
                }
            };
            match outcome {
                AttemptOutcome::Success => {
                    let body = raw.response.as_ref().ok().map(|r| r.body.clone());
                    return done(ScraperStatus::Success, None, body);
                }
                AttemptOutcome::NoData => {
                    let body = raw.response.as_ref().ok().map(|r| r.body.clone());
                    return done(ScraperStatus::NoData, Some(message), body);
                }
                AttemptOutcome::Permanent => {
                    let text = final_message(&raw, attempt_no, &message, None, &self.redactor);
                    return done(
                        ScraperStatus::Failed,
                        Some(self.redactor.redact_string(&text)),
                        None,
                    );
                }
                AttemptOutcome::Retryable => {
                    let retry_after = raw.retry_after(self.clock.now());
                    let mut decision = policy.decide(attempt_no, retry_after, self.unit_random());
                    // An inline retry spends the source's retry budget; a
                    // deferred one is a later call, counted then.
                    if let RetryDecision::RetryAfter(wait) = decision
                        && wait <= self.max_inline_wait
                        && let Err(why) = self.budget_retry(spec.source).await
                    {
                        decision = RetryDecision::GiveUp(why);
                    }
                    match decision {
                        // Checked after `decide`, so its max_retry_after
                        // rule (fail now, saying so) keeps precedence.
                        RetryDecision::RetryAfter(wait) if wait > self.max_inline_wait => {
                            let until = add_saturating(finished_at, wait);
                            // Name what set the wait: the server's Retry-After
                            // when it is the binding bound, else our backoff.
                            let cause = match retry_after.filter(|_| policy.respect_retry_after) {
                                Some(asked) if asked >= wait => {
                                    format!("Retry-After {}", wait_text(asked))
                                }
                                _ => format!("backoff {}", wait_text(wait)),
                            };
                            let text = deferred_message(
                                &raw,
                                attempt_no,
                                &message,
                                &cause,
                                self.max_inline_wait,
                                until,
                                &self.redactor,
                            );
                            let text = self.redactor.redact_string(&text);
                            tracing::info!(
                                scraper = %spec.scraper.name,
                                source = %spec.source.name,
                                retry_at = %until,
                                "Retry wait exceeds the inline limit; call deferred."
                            );
                            let mut result = done(ScraperStatus::Failed, Some(text), None);
                            result.deferred_until = Some(until);
                            return result;
                        }
                        RetryDecision::RetryAfter(wait) => {
                            delay_before = wait;
                            self.clock.sleep(wait).await;
                        }
                        RetryDecision::GiveUp(reason) => {
                            let reason = (!reason.is_empty()).then_some(reason);
                            let text = final_message(
                                &raw,
                                attempt_no,
                                &message,
                                reason.as_deref(),
                                &self.redactor,
                            );
                            let text = self.redactor.redact_string(&text);
                            tracing::warn!(
                                scraper = %spec.scraper.name,
                                source = %spec.source.name,
                                error = %text,
                                "Call failed."
                            );
                            return done(ScraperStatus::Failed, Some(text), None);
                        }
                    }
                }
            }
        }
    }

    /// The source's concurrency permit.
    async fn permit(&self, spec: &CallSpec<'_>) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let gate = self.gates.get(&spec.source.name).cloned()?;
        gate.acquire_owned().await.ok()
    }

    /// A call that ends before its next attempt is sent (rate limit or
    /// source pause): failed with the last attempt's kind, or `throttled`
    /// when nothing was sent at all.
    fn not_sent(
        &self,
        started_at: DateTime<Utc>,
        attempts: Vec<AttemptReport>,
        text: &str,
        quota_remaining: Option<u64>,
    ) -> CallResult {
        let last = attempts.last();
        let message = match last.and_then(|a| a.message.as_deref()) {
            Some(previous) => format!(
                "{previous} ({}); then {text}",
                attempts_phrase(attempts.len() as u32)
            ),
            None => text.to_string(),
        };
        CallResult {
            status: ScraperStatus::Failed,
            http_status: last.and_then(|a| a.http_status),
            error_kind: Some(
                last.and_then(|a| a.error_kind)
                    .unwrap_or(ErrorKind::Throttled),
            ),
            message: Some(self.redactor.redact_string(&message)),
            body: None,
            content_type: None,
            records: None,
            started_at,
            finished_at: self.clock.now(),
            deferred_until: None,
            quota_remaining,
            attempts,
        }
    }

    /// One attempt: send and read the body under the source's timeout.
    async fn attempt(&self, spec: &CallSpec<'_>, request: &BuiltRequest) -> RawAttempt {
        let timeout = spec.source.timeout;
        let max_body = spec.source.max_body_bytes;
        let work = self.send_and_read(spec, request, max_body);
        match tokio::time::timeout(timeout, work).await {
            Ok(raw) => raw,
            Err(_) => RawAttempt {
                response: Err(Failure {
                    kind: ErrorKind::Timeout,
                    message: format!("timeout after {}", format_duration(timeout)),
                }),
                retry_after_header: None,
            },
        }
    }

    async fn send_and_read(
        &self,
        spec: &CallSpec<'_>,
        request: &BuiltRequest,
        max_body: u64,
    ) -> RawAttempt {
        let outgoing = redirect::Outgoing {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: &request.headers,
            query_names: redirect::credential_query_names(spec.source, spec.scraper),
            policy: spec.source.follow_redirects,
        };
        let mut response = match redirect::send(&self.client, outgoing).await {
            Ok(response) => response,
            Err(failure) => {
                return RawAttempt {
                    response: Err(failure),
                    retry_after_header: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after_header = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let signals = collect_signals(response.headers(), self.quota_headers.as_slice());
        if let Some(length) = response.content_length()
            && length > max_body
        {
            return RawAttempt {
                response: Err(too_large(max_body, length)),
                retry_after_header,
            };
        }
        // Read chunk by chunk so an oversized body is refused as soon as it
        // passes the limit instead of being buffered whole.
        let mut body: Vec<u8> = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > max_body {
                        let seen = body.len() as u64 + chunk.len() as u64;
                        return RawAttempt {
                            response: Err(too_large(max_body, seen)),
                            retry_after_header,
                        };
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    let mut failure = transport_failure(&error);
                    failure.message = format!("HTTP {status}, then {}", failure.message);
                    return RawAttempt {
                        response: Err(failure),
                        retry_after_header,
                    };
                }
            }
        }
        RawAttempt {
            response: Ok(RawResponse {
                status,
                body: Bytes::from(body),
                content_type,
                signals,
            }),
            retry_after_header,
        }
    }
}

/// A request with every template filled in.
#[derive(Debug)]
struct BuiltRequest {
    method: reqwest::Method,
    url: url::Url,
    headers: Vec<(String, String)>,
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
                format!("parameter {{{param}}} (used by {key}): {value:?} {reason}")
            }
        })
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
    let method = reqwest::Method::from_bytes(spec.scraper.method.as_bytes())
        .map_err(|_| format!("bad HTTP method \"{}\"", spec.scraper.method))?;
    Ok(BuiltRequest {
        method,
        url,
        headers,
    })
}

struct RawResponse {
    status: u16,
    body: Bytes,
    content_type: Option<String>,
    /// Rate-limit and quota headers, names lower-case.
    signals: Vec<(String, String)>,
}

impl RawResponse {
    fn signal(&self, name: &str) -> Option<&str> {
        self.signals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The headers that pause a source (see `rebound_domain::ratelimit`).
const RATE_LIMIT_HEADERS: [&str; 6] = [
    "retry-after",
    "ratelimit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// The rate-limit headers and any quota `remaining_header`s present.
fn collect_signals(
    headers: &reqwest::header::HeaderMap,
    quota: &[String],
) -> Vec<(String, String)> {
    RATE_LIMIT_HEADERS
        .iter()
        .copied()
        .chain(quota.iter().map(String::as_str))
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Failure {
    kind: ErrorKind,
    message: String,
}

struct RawAttempt {
    response: Result<RawResponse, Failure>,
    retry_after_header: Option<String>,
}

impl RawAttempt {
    fn retry_after(&self, now: DateTime<Utc>) -> Option<Duration> {
        let header = self.retry_after_header.as_deref()?;
        parse_retry_after(header, now.into())
    }
}

fn too_large(limit: u64, seen: u64) -> Failure {
    Failure {
        kind: ErrorKind::BodyTooLarge,
        message: format!(
            "response body larger than max_body_bytes {limit} (at least {seen} bytes)"
        ),
    }
}

/// Classifies a transport error. The error's URL is dropped (it may carry
/// a secret in its query) and the chain of causes is kept, because "error
/// sending request" alone says nothing.
///
/// reqwest reports a lost connection mid-body as a *decode* error and a
/// malformed response as a plain request error, so the kinds come from the
/// causes: hyper's parse errors are `protocol` (the peer does not speak
/// HTTP properly; asking again meets the same peer, so not retried), a
/// body cut short or reset is `interrupted` (transient, retried), and
/// `decode` is left for bodies that arrived whole but would not decode.
fn transport_failure(error: &reqwest::Error) -> Failure {
    let hyper_error = find_cause::<hyper::Error>(error);
    let lost = hyper_error.is_some()
        || find_cause::<std::io::Error>(error).is_some_and(|e| {
            use std::io::ErrorKind as Io;
            matches!(
                e.kind(),
                Io::UnexpectedEof | Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe
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
    let mut detail = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        if !detail.is_empty() {
            detail.push_str(": ");
        }
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    let message = match hyper_error.filter(|_| kind == ErrorKind::Protocol) {
        // The named cases say it all; the causes would only repeat it.
        Some(_) if what != "malformed response" => what.to_string(),
        Some(parse) => format!("{what}: {parse}"),
        None if detail.is_empty() => what.to_string(),
        None => format!("{what}: {detail}"),
    };
    Failure { kind, message }
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

/// A wait in whole seconds (`120s`), the unit a `Retry-After` header uses,
/// so the message matches the header an operator sees in a trace; waits
/// under a second keep their milliseconds.
fn wait_text(wait: Duration) -> String {
    if wait.subsec_millis() == 0 || wait >= Duration::from_secs(60) {
        format!("{}s", wait.as_secs())
    } else {
        format_duration(wait)
    }
}

/// The message of a call stopped because its next wait is too long to sleep:
/// `HTTP 429 after 1 attempt; Retry-After 120s exceeds the inline wait limit
/// (5s): retry stored for 2026-01-05T10:02:00Z; body: …`.
fn deferred_message(
    raw: &RawAttempt,
    attempt_no: u32,
    attempt_message: &str,
    cause: &str,
    limit: Duration,
    until: DateTime<Utc>,
    redactor: &Redactor,
) -> String {
    let attempts = attempts_phrase(attempt_no);
    let at = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let tail = format!(
        "{cause} exceeds the inline wait limit ({}): retry stored for {at}",
        format_duration(limit)
    );
    match &raw.response {
        Ok(response) if ErrorKind::from_status(response.status).is_some() => format!(
            "HTTP {} after {attempts}; {tail}; body: {}",
            response.status,
            body_snippet(&response.body, redactor)
        ),
        _ => format!("{attempt_message} ({attempts}); {tail}"),
    }
}

/// The call's message after its last attempt. HTTP failures read
/// `HTTP 503 after 3 attempts: <body>`; others `<what> (3 attempts)`.
fn final_message(
    raw: &RawAttempt,
    attempt_no: u32,
    attempt_message: &str,
    gave_up: Option<&str>,
    redactor: &Redactor,
) -> String {
    let attempts = attempts_phrase(attempt_no);
    match &raw.response {
        Ok(response) if ErrorKind::from_status(response.status).is_some() => {
            let snippet = body_snippet(&response.body, redactor);
            match gave_up {
                Some(reason) => format!(
                    "HTTP {} after {attempts}, gave up: {reason}; body: {snippet}",
                    response.status
                ),
                None => format!("HTTP {} after {attempts}: {snippet}", response.status),
            }
        }
        _ => match gave_up {
            Some(reason) => format!("{attempt_message} ({attempts}), gave up: {reason}"),
            None => format!("{attempt_message} ({attempts})"),
        },
    }
}
