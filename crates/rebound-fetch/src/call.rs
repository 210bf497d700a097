//! One scraper call ([`Fetcher::call`]): a loop of attempts, each taking
//! the same named steps in this order:
//!
//! 1. `permit`: the source's concurrency permit, held for one attempt
//!    (admission included), not across backoff waits;
//! 2. `admit`: the source's rate limit and any pause its server asked for,
//!    which may wait, or stop the call unsent (deferred when the wait
//!    exceeds the inline limit, refused when the pause exceeds
//!    `max_retry_after`);
//! 3. `attempt`: send and read the body under the source's timeout and
//!    `max_body_bytes` (a connection the server dropped once that timeout
//!    had passed on the clock counts as a timeout);
//! 4. `heed_signals`: rate-limit headers pause the source, the quota
//!    header updates the upstream's remaining count;
//! 5. `judge`: classify the response (or the transport failure), then
//!    record the attempt;
//! 6. `next`: end the call, or after a retryable attempt ask the retry
//!    policy, then the source's retry budget, whether to wait and go
//!    again, defer (the wait exceeds the inline limit) or give up.
//!
//! For a source with proxies (`proxy.rs`), step 3 goes through the next
//! proxy of the rotation, and steps 1 to 5 are repeated at once through
//! the next one while the last exchange failed by the proxy's fault
//! (connect error, timeout, a `proxy_retry_on` status), each proxy at most
//! once per attempt: the retry policy sees one attempt. When every proxy
//! is open the call stops before sending (skipped if nothing was sent).
//!
//! A paginated scraper (`paginate`) makes one such loop per page: every
//! page is a request retried on its own (`paginate.rs` decides which page
//! comes next and joins their records).
//!
//! Of the guards a call meets, in order (lockout, breaker, quota, rate
//! limit, budget), the first three are the engine's and run before the
//! fetcher is asked (`rebound-engine`, `call.rs`); the last two are here:
//! the rate limit before every attempt (step 2), the retry budget before
//! every inline retry (step 6).

use crate::header_warnings::Ignored;
use crate::limits::{Admission, SourceLimiter};
use crate::proxy::Pick;
use crate::{
    AttemptReport, BuiltRequest, CallResult, CallSpec, Failure, Fetcher, Revalidate, build_request,
    classify, redirect, transport_failure,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rebound_domain::duration::{add_saturating, format_duration};
use rebound_domain::message::{attempts_phrase, body_summary, escape_controls};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_domain::proxy::label as proxy_label;
use rebound_domain::redact::Redactor;
use rebound_domain::retry::{RetryDecision, parse_retry_after};
use std::time::Duration;

/// A call in progress: what its result will carry so far.
pub(crate) struct Progress {
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) attempts: Vec<AttemptReport>,
    /// The wait before the next attempt: the retry backoff slept, plus any
    /// rate-limit wait admission sleeps.
    delay_before: Duration,
    /// The upstream's last reported quota remaining count.
    pub(crate) quota_remaining: Option<u64>,
}

/// Why admission stopped a call before its next attempt was sent.
pub(crate) struct NotSent {
    /// Unredacted: [`Fetcher::not_sent`] redacts the message it builds.
    text: String,
    /// Set when the attempt may start later (a deferral, not a refusal).
    deferred_until: Option<DateTime<Utc>>,
    /// Every proxy was open before the call's first request: the call is
    /// `skipped` (kind `breaker_open`), not failed.
    skipped: bool,
}

/// How the attempt loop of one request (one page) ended.
pub(crate) enum Fetched {
    /// After its last attempt: success, no_data or failed.
    Done(Done),
    /// Admission stopped the next attempt before it was sent.
    NotSent(NotSent),
}

/// A request whose attempt loop ended after its last attempt.
pub(crate) struct Done {
    pub(crate) end: End,
    pub(crate) http_status: Option<u16>,
    pub(crate) kind: Option<ErrorKind>,
    pub(crate) records: Option<usize>,
    pub(crate) content_type: Option<String>,
    /// The response's `Link` header (for `paginate.kind = "link"`).
    pub(crate) link: Option<String>,
    pub(crate) finished_at: DateTime<Utc>,
    /// A revalidating request answered 304 (the body is dropped).
    pub(crate) not_modified: bool,
    /// The response's validators, for a `conditional` scraper.
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
}

/// Which request of its call an attempt loop makes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageOf {
    /// 1-based; 1 for a call without pagination.
    pub(crate) number: u32,
    /// A page after the first of a paginated call: its records must be
    /// where page 1 had them (see `classify::classify_later_page`). Page 1
    /// and calls without pagination classify as any response.
    pub(crate) later: bool,
}

/// One attempt, classified.
struct Judged {
    outcome: AttemptOutcome,
    kind: Option<ErrorKind>,
    /// Redacted.
    message: String,
    records: Option<usize>,
    http_status: Option<u16>,
}

/// What follows an attempt.
enum Next {
    /// Sleep this long, then attempt again.
    Retry(Duration),
    /// The call ends.
    Finish(End),
}

/// How a call ends after an attempt.
pub(crate) struct End {
    pub(crate) status: ScraperStatus,
    /// Redacted.
    pub(crate) message: Option<String>,
    /// The body of a success or no_data.
    pub(crate) body: Option<Bytes>,
    /// Set when the call stopped because its next wait exceeds the inline limit.
    pub(crate) deferred_until: Option<DateTime<Utc>>,
}

impl Next {
    /// The call ends now (not deferred).
    fn finish(status: ScraperStatus, message: Option<String>, body: Option<Bytes>) -> Next {
        Next::Finish(End {
            status,
            message,
            body,
            deferred_until: None,
        })
    }
}

impl Progress {
    /// Adds the attempt just judged to the call's history.
    fn record(
        &mut self,
        page: u32,
        proxy: Option<usize>,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        judged: &Judged,
    ) {
        // Numbered over the whole call: a paginated call's attempts run on
        // from page to page, `page` says which page each fetched.
        let attempt = self.attempts.len() as u32 + 1;
        self.attempts.push(AttemptReport {
            attempt,
            page,
            proxy: proxy.map(|i| u32::try_from(i + 1).unwrap_or(u32::MAX)),
            started_at,
            finished_at,
            http_status: judged.http_status,
            outcome: judged.outcome,
            error_kind: judged.kind,
            message: (judged.outcome != AttemptOutcome::Success).then(|| judged.message.clone()),
            delay_before: self.delay_before,
        });
    }

    /// The call's result, ending with the request `done`.
    pub(crate) fn finish(self, done: Done) -> CallResult {
        CallResult {
            status: done.end.status,
            attempts: self.attempts,
            http_status: done.http_status,
            error_kind: done.kind,
            message: done.end.message,
            body: done.end.body,
            content_type: done.content_type,
            records: done.records,
            started_at: self.started_at,
            finished_at: done.finished_at,
            deferred_until: done.end.deferred_until,
            quota_remaining: self.quota_remaining,
            pages: None,
            not_modified: done.not_modified,
            etag: done.etag,
            last_modified: done.last_modified,
        }
    }
}

impl Fetcher {
    /// Makes one call: attempts with retries until success, no_data, a
    /// permanent failure, the policy gives up, or the source's retry
    /// budget is spent.
    pub async fn call(&self, spec: CallSpec<'_>) -> CallResult {
        self.call_conditional(spec, None).await
    }

    /// [`Fetcher::call`] for a `conditional` scraper: sends the previous
    /// call's validators (`If-None-Match`, `If-Modified-Since`), and a
    /// `304 Not Modified` ends the call as a success without a body
    /// ([`CallResult::not_modified`]).
    pub async fn call_conditional(
        &self,
        spec: CallSpec<'_>,
        revalidate: Option<&Revalidate>,
    ) -> CallResult {
        self.call_guarded(spec, revalidate, &crate::paginate::AdmitEveryPage)
            .await
    }

    /// [`Fetcher::call_conditional`] whose later pages (of a `paginate`
    /// scraper) are each admitted by `pages` before they are requested:
    /// the engine's breaker and quota see every page, not only the first.
    pub async fn call_guarded(
        &self,
        spec: CallSpec<'_>,
        revalidate: Option<&Revalidate>,
        pages: &dyn crate::paginate::PageGate,
    ) -> CallResult {
        let started_at = self.clock.now();
        let mut request = match build_request(&spec) {
            Ok(request) => request,
            Err(message) => return self.unbuildable(started_at, &message),
        };
        if let Some(revalidate) = revalidate {
            // Values read back from our own rows; one that is not a valid
            // header value (it came from a broken upstream) is not sent.
            let valid = |v: &&String| reqwest::header::HeaderValue::from_str(v).is_ok();
            if let Some(etag) = revalidate.etag.as_ref().filter(valid) {
                request
                    .headers
                    .push(("If-None-Match".to_string(), etag.clone()));
                request.revalidating = true;
            }
            if let Some(since) = revalidate.last_modified.as_ref().filter(valid) {
                request
                    .headers
                    .push(("If-Modified-Since".to_string(), since.clone()));
                request.revalidating = true;
            }
        }
        let mut call = Progress {
            started_at,
            attempts: Vec::new(),
            delay_before: Duration::ZERO,
            quota_remaining: None,
        };
        if let Some(paginate) = &spec.scraper.paginate {
            return self.paginated(&spec, paginate, request, call, pages).await;
        }
        self.budget_call(spec.source).await;
        let page = PageOf {
            number: 1,
            later: false,
        };
        match self.request(&spec, &request, page, &mut call).await {
            Fetched::Done(done) => call.finish(done),
            Fetched::NotSent(stopped) => self.not_sent(call, stopped),
        }
    }

    /// One request (one page) of a call: attempts with retries until
    /// success, no_data, a permanent failure, the policy gives up, or the
    /// source's retry budget is spent. Its attempts are added to `call`.
    pub(crate) async fn request(
        &self,
        spec: &CallSpec<'_>,
        request: &BuiltRequest,
        page: PageOf,
        call: &mut Progress,
    ) -> Fetched {
        let limiter = self.limits.get(&spec.source.name).cloned();
        let proxy_count = self.proxy_count(spec.source);
        // Counted per request: the retry policy's `max_attempts` and the
        // messages ("after 3 attempts") are about this page's attempts.
        let mut attempt_no = 0;
        loop {
            attempt_no += 1;
            // Each proxy is asked at most once per attempt (see below).
            let mut tried = vec![false; proxy_count];
            let mut proxy = match self.pick_proxy(spec.source, &mut tried) {
                Pick::Direct => None,
                Pick::Via(index) => Some(index),
                Pick::Exhausted(text) => {
                    // Before any request of the call, every proxy being
                    // open refuses the call like an open source breaker.
                    let skipped = call.attempts.is_empty();
                    return Fetched::NotSent(NotSent {
                        text,
                        deferred_until: None,
                        skipped,
                    });
                }
            };
            // One attempt of the retry policy: an exchange, repeated at
            // once through the next proxy while the last one failed in a
            // way that is the proxy's fault. Those repeats cost no retry
            // (the upstream never said no, the proxy did), and at most one
            // pass over the proxies is made, so a call cannot loop on
            // failing proxies.
            let (raw, judged, finished_at) = loop {
                // The permit is held for one exchange (admission included),
                // not across backoff waits, so a call sleeping before its
                // retry does not block its source.
                let permit = self.permit(spec).await;
                if let Some(limiter) = &limiter {
                    match self.admit(spec, limiter).await {
                        Ok(waited) => call.delay_before += waited,
                        Err(stopped) => return Fetched::NotSent(stopped),
                    }
                }
                let attempt_started = self.clock.now();
                let raw = self.attempt(spec, request, proxy).await;
                drop(permit);
                let finished_at = self.clock.now();
                if let Ok(response) = &raw.response {
                    self.heed_signals(spec, limiter.as_deref(), response, finished_at, call)
                        .await;
                }
                let judged = self.judge(spec, request, &raw, attempt_no, page, proxy, proxy_count);
                call.record(page.number, proxy, attempt_started, finished_at, &judged);
                call.delay_before = Duration::ZERO;
                if let Some(index) = proxy
                    && self.settle_proxy(
                        spec.source,
                        index,
                        judged.http_status,
                        judged.kind,
                        finished_at,
                    )
                    && let Pick::Via(next) = self.pick_proxy(spec.source, &mut tried)
                {
                    tracing::info!(
                        scraper = %spec.scraper.name,
                        source = %spec.source.name,
                        failed = %proxy_label(index, proxy_count),
                        next = %proxy_label(next, proxy_count),
                        "Proxy failed; trying the next one."
                    );
                    proxy = Some(next);
                    continue;
                }
                break (raw, judged, finished_at);
            };
            match self
                .next(spec, &raw, &judged, attempt_no, finished_at)
                .await
            {
                Next::Retry(wait) => {
                    call.delay_before = wait;
                    self.clock.sleep(wait).await;
                }
                Next::Finish(mut end) => {
                    let response = raw.response.as_ref().ok();
                    let not_modified = request.revalidating
                        && end.status == ScraperStatus::Success
                        && judged.http_status == Some(304);
                    if not_modified {
                        // Nothing to store: the previous payload stands.
                        end.body = None;
                    }
                    let keep = |value: Option<&String>| {
                        // Validators are kept for conditional scrapers only,
                        // and only of a sane length (they go back in a header).
                        value
                            .filter(|v| spec.scraper.conditional && v.len() <= MAX_VALIDATOR_CHARS)
                            .cloned()
                    };
                    return Fetched::Done(Done {
                        end,
                        http_status: judged.http_status,
                        kind: judged.kind,
                        records: judged.records,
                        content_type: response.and_then(|r| r.content_type.clone()),
                        link: response.and_then(|r| r.link.clone()),
                        finished_at,
                        not_modified,
                        etag: keep(response.and_then(|r| r.etag.as_ref())),
                        last_modified: keep(response.and_then(|r| r.last_modified.as_ref())),
                    });
                }
            }
        }
    }

    /// A call whose request cannot be built (a missing or unencodable
    /// parameter, a bad URL or method): one `config` attempt, nothing sent.
    fn unbuildable(&self, started_at: DateTime<Utc>, message: &str) -> CallResult {
        let message = self.redactor.redact_string(message);
        let finished_at = self.clock.now();
        let attempt = AttemptReport {
            attempt: 1,
            page: 1,
            proxy: None,
            started_at,
            finished_at,
            http_status: None,
            outcome: AttemptOutcome::Permanent,
            error_kind: Some(ErrorKind::Config),
            message: Some(message.clone()),
            delay_before: Duration::ZERO,
        };
        CallResult {
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
            pages: None,
            not_modified: false,
            etag: None,
            last_modified: None,
        }
    }

    /// The source's rate limit and any pause its server asked for, before
    /// an attempt: `Ok` with the time waited, or why the attempt is not
    /// sent (the wait exceeds the inline limit, or the pause exceeds the
    /// scraper's `max_retry_after`).
    async fn admit(
        &self,
        spec: &CallSpec<'_>,
        limiter: &SourceLimiter,
    ) -> Result<Duration, NotSent> {
        let max_pause = spec.scraper.retry.max_retry_after;
        match limiter
            .admit(&*self.clock, self.max_inline_wait, max_pause)
            .await
        {
            Admission::Go { waited } => Ok(waited),
            Admission::Defer { until, wait, cause } => {
                let text = format!(
                    "{cause}: the wait ({}) exceeds the inline wait limit ({}): retry stored for {}",
                    wait_text(wait),
                    format_duration(self.max_inline_wait),
                    rebound_domain::message::when_exact(until, self.timezone)
                );
                tracing::info!(
                    scraper = %spec.scraper.name,
                    source = %spec.source.name,
                    retry_at = %until,
                    "Source is rate limited; call deferred."
                );
                Err(NotSent {
                    text,
                    deferred_until: Some(until),
                    skipped: false,
                })
            }
            Admission::Refuse { cause } => {
                let text = format!("{cause}; not sent");
                tracing::warn!(
                    scraper = %spec.scraper.name,
                    source = %spec.source.name,
                    error = %text,
                    "Call failed."
                );
                Err(NotSent {
                    text,
                    deferred_until: None,
                    skipped: false,
                })
            }
        }
    }

    /// What a response's headers ask of the source: rate-limit headers
    /// pause it (for every call, through its limiter) unless the source
    /// says `pause_on_rate_limit = false`, the quota header updates the
    /// upstream's remaining count.
    async fn heed_signals(
        &self,
        spec: &CallSpec<'_>,
        limiter: Option<&SourceLimiter>,
        response: &RawResponse,
        finished_at: DateTime<Utc>,
        call: &mut Progress,
    ) {
        // Switched off, the headers still reach the call that got them
        // (its retry policy reads Retry-After in `next`); only the pause
        // of the source's other calls is skipped.
        let pausing = limiter.filter(|_| spec.source.pause_on_rate_limit);
        let signal = |name: &str| response.signal(name);
        if let Some(limiter) = pausing
            && let Some(pause) =
                rebound_domain::ratelimit::source_pause(response.status, signal, finished_at)
        {
            let until = limiter.pause(finished_at, &pause).await;
            tracing::info!(
                source = %spec.source.name,
                until = %until,
                cause = %pause.cause,
                "Source paused."
            );
        }
        // An unreadable rate-limit header is ignored as if absent, like an
        // unreadable quota header below, and said in a warning as that one
        // is: silently, an upstream that changed its format just stopped
        // pausing the source. Only headers something here reads are
        // judged: Retry-After when the source pauses or the retry policy
        // respects it, the others when the source pauses.
        let reads_any = pausing.is_some() || spec.scraper.retry.respect_retry_after;
        let judged = match reads_any {
            true => rebound_domain::ratelimit::unreadable_signals(signal, finished_at),
            // Nothing here reads them: no parse on every response.
            false => Vec::new(),
        };
        for unreadable in judged {
            let read = pausing.is_some()
                || (unreadable.header == "retry-after" && spec.scraper.retry.respect_retry_after);
            if let Some(value) = response.signal(unreadable.header).filter(|_| read)
                && let Some(suppressed) =
                    self.header_warning_due(spec, unreadable.header, Ignored::RateLimit)
            {
                tracing::warn!(
                    source = %spec.source.name,
                    scraper = %spec.scraper.name,
                    header = unreadable.header,
                    value = %self.header_shown(value),
                    expected = unreadable.expected,
                    suppressed,
                    "Rate-limit header ignored: its value cannot be read."
                );
            }
        }
        if let Some(header) = spec
            .source
            .quota
            .as_ref()
            .and_then(|q| q.remaining_header.as_deref())
            && let Some(value) = response.signal(header)
        {
            match quota_remaining(value) {
                Some(left) => call.quota_remaining = Some(left),
                // A negative count was clamped to 0, which reads as "quota
                // used up" and refused every call until the period ended;
                // an unreadable value says nothing about what is left.
                None => {
                    if let Some(suppressed) = self.header_warning_due(spec, header, Ignored::Quota)
                    {
                        tracing::warn!(
                            source = %spec.source.name,
                            scraper = %spec.scraper.name,
                            header,
                            value = %self.header_shown(value),
                            suppressed,
                            "Quota header ignored: not a count of remaining requests."
                        );
                    }
                }
            }
        }
    }

    /// Whether an ignored header's warning is logged now: once per source
    /// and header, then at most once an hour (`header_warnings.rs`), with
    /// how many occurrences went unlogged since the last one. Every
    /// attempt of every call meets the same malformed header, and a
    /// warning each time flooded the log.
    fn header_warning_due(
        &self,
        spec: &CallSpec<'_>,
        header: &str,
        ignored: Ignored,
    ) -> Option<u64> {
        self.header_warnings
            .due(&spec.source.name, header, ignored, self.clock.now())
    }

    /// An upstream header's value as a warning shows it: the config's
    /// secrets masked (an upstream may echo a key into any header), control
    /// characters escaped so it stays one log line.
    fn header_shown(&self, value: &str) -> String {
        self.redactor.redact_string(&escape_controls(value, false))
    }

    /// Classifies one attempt: the response by the scraper's rules, a
    /// transport failure by its kind. The message is redacted.
    #[allow(clippy::too_many_arguments)] // One call site, the attempt loop; each is a fact of the attempt judged.
    fn judge(
        &self,
        spec: &CallSpec<'_>,
        request: &BuiltRequest,
        raw: &RawAttempt,
        attempt_no: u32,
        page: PageOf,
        proxy: Option<usize>,
        proxy_count: usize,
    ) -> Judged {
        let (outcome, kind, message, records) = match &raw.response {
            // The answer a revalidating request hopes for: what we have is
            // current (the engine keeps the previous payload).
            Ok(response) if request.revalidating && response.status == 304 => (
                AttemptOutcome::Success,
                None,
                "HTTP 304: not modified".to_string(),
                None,
            ),
            Ok(response) => {
                // With a `transform`, `records` reads the command's output
                // (the engine checks it), not the document fetched here.
                let records = spec
                    .scraper
                    .records
                    .as_deref()
                    .filter(|_| spec.scraper.transform.is_none());
                let classified = match records {
                    Some(pointer) if page.later => classify::classify_later_page(
                        response.status,
                        &response.body,
                        &spec.scraper.no_data,
                        pointer,
                        &self.redactor,
                    ),
                    records => classify::classify_response(
                        response.status,
                        &response.body,
                        &spec.scraper.no_data,
                        records,
                        &self.redactor,
                    ),
                };
                // A document must be what the scraper says it is.
                let classified = classify::check_document(
                    classified,
                    spec.scraper.format,
                    spec.scraper.min_bytes,
                    response.content_type.as_deref(),
                    &response.body,
                    &self.redactor,
                );
                let classified =
                    classify::check_encoding(classified, response.content_encoding.as_deref());
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
        // Which proxy failed is part of what happened (never its URL).
        let message = match proxy {
            Some(index) if outcome != AttemptOutcome::Success => {
                format!("via {}: {message}", proxy_label(index, proxy_count))
            }
            _ => message,
        };
        let message = self.redactor.redact_string(&message);
        let http_status = raw.status;
        tracing::debug!(
            scraper = %spec.scraper.name,
            source = %spec.source.name,
            page = page.number,
            attempt = attempt_no,
            proxy = proxy.map(|i| i + 1),
            outcome = outcome.as_str(),
            http_status,
            message = %message,
            "Attempt finished."
        );
        Judged {
            outcome,
            kind,
            message,
            records,
            http_status,
        }
    }

    /// What follows a judged attempt: a success, no_data or permanent
    /// failure ends the call; after a retryable one the retry policy
    /// decides the wait (or gives up), then an inline retry must pass the
    /// source's retry budget, and a wait over the inline limit defers the
    /// call instead of sleeping.
    async fn next(
        &self,
        spec: &CallSpec<'_>,
        raw: &RawAttempt,
        judged: &Judged,
        attempt_no: u32,
        finished_at: DateTime<Utc>,
    ) -> Next {
        match judged.outcome {
            AttemptOutcome::Success => {
                let body = raw.response.as_ref().ok().map(|r| r.body.clone());
                return Next::finish(ScraperStatus::Success, None, body);
            }
            AttemptOutcome::NoData => {
                let body = raw.response.as_ref().ok().map(|r| r.body.clone());
                return Next::finish(ScraperStatus::NoData, Some(judged.message.clone()), body);
            }
            AttemptOutcome::Permanent => {
                let text = final_message(raw, attempt_no, &judged.message, None, &self.redactor);
                let text = self.redactor.redact_string(&text);
                return Next::finish(ScraperStatus::Failed, Some(text), None);
            }
            AttemptOutcome::Retryable => {}
        }
        let policy = &spec.scraper.retry;
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
                    raw,
                    attempt_no,
                    &judged.message,
                    &cause,
                    self.max_inline_wait,
                    until,
                    self.timezone,
                    &self.redactor,
                );
                let text = self.redactor.redact_string(&text);
                tracing::info!(
                    scraper = %spec.scraper.name,
                    source = %spec.source.name,
                    retry_at = %until,
                    "Retry wait exceeds the inline limit; call deferred."
                );
                Next::Finish(End {
                    status: ScraperStatus::Failed,
                    message: Some(text),
                    body: None,
                    deferred_until: Some(until),
                })
            }
            RetryDecision::RetryAfter(wait) => Next::Retry(wait),
            RetryDecision::GiveUp(reason) => {
                let reason = (!reason.is_empty()).then_some(reason);
                let text = final_message(
                    raw,
                    attempt_no,
                    &judged.message,
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
                Next::finish(ScraperStatus::Failed, Some(text), None)
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
    pub(crate) fn not_sent(&self, call: Progress, stopped: NotSent) -> CallResult {
        let attempts = call.attempts;
        let text = stopped.text;
        if stopped.skipped {
            let message = self.redactor.redact_string(&text);
            tracing::warn!(error = %message, "Call skipped: every proxy is open.");
            return CallResult {
                status: ScraperStatus::Skipped,
                http_status: None,
                error_kind: Some(ErrorKind::BreakerOpen),
                message: Some(message),
                body: None,
                content_type: None,
                records: None,
                started_at: call.started_at,
                finished_at: self.clock.now(),
                deferred_until: None,
                quota_remaining: call.quota_remaining,
                attempts,
                pages: None,
                not_modified: false,
                etag: None,
                last_modified: None,
            };
        }
        let last = attempts.last();
        let message = match last.and_then(|a| a.message.as_deref()) {
            Some(previous) => format!(
                "{previous} ({}); then {text}",
                attempts_phrase(attempts.len() as u32)
            ),
            None => text,
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
            started_at: call.started_at,
            finished_at: self.clock.now(),
            deferred_until: stopped.deferred_until,
            quota_remaining: call.quota_remaining,
            attempts,
            pages: None,
            not_modified: false,
            etag: None,
            last_modified: None,
        }
    }

    /// One attempt: send and read the body under the scraper's timeout
    /// (its own, or its source's).
    async fn attempt(
        &self,
        spec: &CallSpec<'_>,
        request: &BuiltRequest,
        proxy: Option<usize>,
    ) -> RawAttempt {
        let timeout = spec.scraper.timeout(spec.source);
        let max_body = spec.source.max_body_bytes;
        let Some(client) = self.client_for(spec.source, proxy) else {
            return RawAttempt {
                response: Err(Failure {
                    kind: ErrorKind::Config,
                    dropped: false,
                    message: "the proxy's URL is not set (its environment variable is missing)"
                        .to_string(),
                }),
                status: None,
                retry_after_header: None,
            };
        };
        let started = self.clock.now();
        let work = self.send_and_read(spec, client, request, proxy.is_some(), max_body);
        let timed_out = || RawAttempt {
            response: Err(Failure {
                kind: ErrorKind::Timeout,
                dropped: false,
                message: format!("timeout after {}", format_duration(timeout)),
            }),
            status: None,
            retry_after_header: None,
        };
        match tokio::time::timeout(timeout, work).await {
            // A connection the server dropped once our own deadline had
            // passed on the injected clock is a timeout: the server gave up
            // no earlier than we would have, and what the call lacked is
            // an answer in time, not a working connection. The real timer
            // above runs on real time, which is not the clock's time when
            // the clock is simulated (`rebound simulate` holds a request
            // for the source's timeout on its clock, then drops it); in
            // production the two agree, and this only settles a drop that
            // races the timer. A connection that could not be made stays a
            // connect failure however long it took (`Failure::dropped`).
            Ok(raw) if raw.dropped() && elapsed_at_least(started, self.clock.now(), timeout) => {
                timed_out()
            }
            Ok(raw) => raw,
            Err(_) => timed_out(),
        }
    }

    async fn send_and_read(
        &self,
        spec: &CallSpec<'_>,
        client: &reqwest::Client,
        request: &BuiltRequest,
        proxied: bool,
        max_body: u64,
    ) -> RawAttempt {
        let outgoing = redirect::Outgoing {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: &request.headers,
            query_names: redirect::credential_query_names(spec.source, spec.scraper),
            policy: spec.source.follow_redirects,
            proxied,
        };
        let mut response = match redirect::send(client, outgoing).await {
            Ok(response) => response,
            Err(failure) => {
                return RawAttempt {
                    response: Err(failure),
                    status: None,
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
        // reqwest decodes gzip and then removes the header: one still here
        // names an encoding the body is still in.
        let content_encoding = response
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let signals = collect_signals(response.headers(), self.quota_headers.as_slice());
        let link = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        // An error answer is judged by its status (and its Retry-After); its
        // body only feeds the message and `no_data.body_contains`, so a big
        // one is cut rather than refused. A 503 with a 60 MB page was
        // `body_too_large`: no server failure for the breaker, its
        // Retry-After ignored.
        let error_status = status >= 400;
        let limit = if error_status {
            max_body.min(ERROR_BODY_KEPT)
        } else {
            max_body
        };
        if !error_status
            && let Some(length) = response.content_length()
            && length > max_body
        {
            return RawAttempt {
                response: Err(too_large(max_body, length)),
                status: Some(status),
                retry_after_header,
            };
        }
        // Read chunk by chunk so an oversized body is refused as soon as it
        // passes the limit instead of being buffered whole.
        let mut body: Vec<u8> = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > limit {
                        if error_status {
                            let room = (limit as usize).saturating_sub(body.len());
                            body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                            break;
                        }
                        let seen = body.len() as u64 + chunk.len() as u64;
                        return RawAttempt {
                            response: Err(too_large(max_body, seen)),
                            status: Some(status),
                            retry_after_header,
                        };
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    let mut failure = transport_failure(&error, None);
                    failure.message = format!("HTTP {status}, then {}", failure.message);
                    return RawAttempt {
                        response: Err(failure),
                        status: Some(status),
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
                content_encoding,
                signals,
                link,
                etag,
                last_modified,
            }),
            status: Some(status),
            retry_after_header,
        }
    }
}

struct RawResponse {
    status: u16,
    body: Bytes,
    content_type: Option<String>,
    /// A `Content-Encoding` reqwest left undecoded.
    content_encoding: Option<String>,
    /// Rate-limit and quota headers, names lower-case.
    signals: Vec<(String, String)>,
    /// The `Link` header, kept for `paginate.kind = "link"`.
    link: Option<String>,
    /// `ETag` and `Last-Modified`, kept for `conditional` scrapers.
    etag: Option<String>,
    last_modified: Option<String>,
}

impl RawResponse {
    fn signal(&self, name: &str) -> Option<&str> {
        self.signals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Longest `ETag` / `Last-Modified` kept: real ones are tens of
/// characters; a longer one is a broken upstream, not worth a column.
const MAX_VALIDATOR_CHARS: usize = 1_024;

/// The rate-limit headers and any quota `remaining_header`s present.
fn collect_signals(
    headers: &reqwest::header::HeaderMap,
    quota: &[String],
) -> Vec<(String, String)> {
    // The headers that pause a source, by the parser's own list.
    rebound_domain::ratelimit::SIGNAL_HEADERS
        .iter()
        .copied()
        .chain(quota.iter().map(String::as_str))
        .filter_map(|name| {
            // Lossy, not dropped: a value with bytes beyond ASCII is then
            // unreadable to the parsers and ignored with a warning, where
            // dropping it here ignored it silently.
            let value = String::from_utf8_lossy(headers.get(name)?.as_bytes());
            Some((name.to_string(), value.into_owned()))
        })
        .collect()
}

/// A quota `remaining_header`'s count: a whole number of zero or more,
/// also written as a decimal (`"150.0"`, rounded down). Negative, not a
/// number, or not finite: `None`, for the caller to ignore.
fn quota_remaining(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(left) = value.parse::<u64>() {
        return Some(left);
    }
    let left = value.parse::<f64>().ok()?;
    // Past u64 the cast saturates, which is what "more than we can count"
    // means here; `-0.0` is zero.
    (left.is_finite() && left >= 0.0).then_some(left as u64)
}

struct RawAttempt {
    response: Result<RawResponse, Failure>,
    /// The answer's status when one came, also when its body then failed
    /// (cut off, too large, undecodable): the upstream answered and counted
    /// the request, and `attempts.http_status` says so.
    status: Option<u16>,
    retry_after_header: Option<String>,
}

impl RawAttempt {
    /// The peer closed or reset the connection before a complete answer.
    fn dropped(&self) -> bool {
        self.response.as_ref().is_err_and(|failure| failure.dropped)
    }

    fn retry_after(&self, now: DateTime<Utc>) -> Option<Duration> {
        let header = self.retry_after_header.as_deref()?;
        parse_retry_after(header, now.into())
    }
}

/// Whether at least `limit` passed from `started` to `now` (never, when
/// the clock went back).
fn elapsed_at_least(started: DateTime<Utc>, now: DateTime<Utc>, limit: Duration) -> bool {
    (now - started)
        .to_std()
        .is_ok_and(|elapsed| elapsed >= limit)
}

/// How much of an error answer's body is read: enough for its message
/// and for `no_data.body_contains`.
const ERROR_BODY_KEPT: u64 = 64 * 1024;

fn too_large(limit: u64, seen: u64) -> Failure {
    Failure {
        kind: ErrorKind::BodyTooLarge,
        dropped: false,
        message: format!(
            "response body larger than max_body_bytes {limit} (at least {seen} bytes)"
        ),
    }
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
/// (5s): retry stored for 2026-01-05 05:02:00 EST (-05:00); body: …`.
#[allow(clippy::too_many_arguments)] // each is one piece of the sentence
fn deferred_message(
    raw: &RawAttempt,
    attempt_no: u32,
    attempt_message: &str,
    cause: &str,
    limit: Duration,
    until: DateTime<Utc>,
    tz: chrono_tz::Tz,
    redactor: &Redactor,
) -> String {
    let attempts = attempts_phrase(attempt_no);
    let at = rebound_domain::message::when_exact(until, tz);
    let tail = format!(
        "{cause} exceeds the inline wait limit ({}): retry stored for {at}",
        format_duration(limit)
    );
    match &raw.response {
        Ok(response) if ErrorKind::from_status(response.status).is_some() => format!(
            "HTTP {} after {attempts}; {tail}; body: {}",
            response.status,
            body_summary(&response.body, redactor)
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
            let snippet = body_summary(&response.body, redactor);
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
