//! A paginated call (`paginate` on a scraper): one request per page, each
//! made by the same attempt loop as any call (`call.rs`: permit, rate
//! limit, timeout, classification, retries under the scraper's policy and
//! the source's retry budget), then one payload.
//!
//! The loop, page after page:
//! 1. request the page ([`Fetcher::request`]); a page that still fails
//!    after its retries fails the call, its message naming the page
//!    (`page 3: HTTP 503 after 3 attempts: …`); nothing is stored;
//! 2. take the page's records out of its document (page 1 keeps the rest
//!    of its document, which becomes the payload's frame);
//! 3. decide the next page ([`next_page`], pure): stop, or the next
//!    cursor, URL, page number or offset; a cursor or URL seen before, a
//!    next URL on another origin, or a next page past `max_pages` fail the
//!    call with kind `pagination`;
//! 4. at the end, put every page's records, in order, where page 1 had
//!    its own, and store that one document.
//!
//! A page 1 without records is the call's answer (`no_data`), as without
//! pagination. A later page that matches a `no_data` rule ends the pages
//! like an empty one.
//!
//! The engine's guards (breaker, quota) admit the call before page 1 and
//! every later page before it is requested ([`PageGate`]): a breaker that
//! other calls opened, or a quota used up, during a long walk stops it at
//! the next page (the call fails with the guard's kind, nothing stored)
//! instead of sending dozens more requests to a source that is down or
//! paid for. The guards learn the call's outcome after the last page.

use crate::call::{Fetched, PageOf, Progress};
use crate::classify::json_type;
use crate::{BuiltRequest, CallResult, CallSpec, Fetcher, redirect};
use bytes::Bytes;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::paginate::{PageKind, Paginate, link_next};
use serde_json::Value;
use std::collections::HashSet;

/// Admits each page after the first before it is requested (the engine's
/// breaker and quota). A boxed future rather than `async fn` in the trait,
/// so the engine can pass it as `&dyn`.
pub trait PageGate: Send + Sync {
    /// `Ok` to request page `page` (2 or later); `Err` stops the walk.
    fn admit<'a>(
        &'a self,
        page: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), PageRefusal>> + Send + 'a>>;
}

/// Why a page was not requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRefusal {
    /// `breaker_open` or `quota_exhausted`: the call fails with it.
    pub kind: ErrorKind,
    pub message: String,
}

/// The gate of a call nothing guards: every page goes.
pub(crate) struct AdmitEveryPage;

impl PageGate for AdmitEveryPage {
    fn admit<'a>(
        &'a self,
        _page: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), PageRefusal>> + Send + 'a>>
    {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// What follows a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextPage {
    /// The last page: no next cursor / URL / link, or a page or offset
    /// walk that found an empty page or reached `total`.
    Stop,
    /// Set (replace) these query parameters on the first page's URL.
    Query(Vec<(String, String)>),
    /// Fetch this URL (absolute or relative to the page's URL, as the
    /// upstream wrote it).
    Url(String),
    /// The page's answer cannot be followed: (kind, why).
    Fail(ErrorKind, String),
}

/// Where a page walk stands after page `page` (1-based).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk<'a> {
    pub(crate) page: u32,
    /// Records on this page.
    pub(crate) on_page: usize,
    /// Records on every page so far, this one included.
    pub(crate) so_far: usize,
    /// The last record total the upstream stated (`total`), if any.
    pub(crate) total: Option<u64>,
    /// The page's `Link` header.
    pub(crate) link: Option<&'a str>,
}

/// The query parameters of the first page: page and offset walks state
/// their position from the start, so page 1 is the page they mean.
pub(crate) fn first_page_query(kind: &PageKind) -> Vec<(String, String)> {
    match kind {
        PageKind::Page { param, start, .. } => vec![(param.clone(), start.to_string())],
        PageKind::Offset {
            param,
            limit_param,
            limit,
            ..
        } => vec![
            (param.clone(), "0".to_string()),
            (limit_param.clone(), limit.to_string()),
        ],
        PageKind::Cursor { .. } | PageKind::NextUrl { .. } | PageKind::Link => Vec::new(),
    }
}

/// The page after `walk.page`, from its document (records already taken
/// out) and headers. Pure.
pub(crate) fn next_page(kind: &PageKind, document: &Value, walk: Walk<'_>) -> NextPage {
    match kind {
        PageKind::Cursor { cursor, param } => match pointed_text(document, cursor, "a cursor") {
            Ok(Some(value)) => NextPage::Query(vec![(param.clone(), value)]),
            Ok(None) => NextPage::Stop,
            Err(message) => NextPage::Fail(ErrorKind::Decode, message),
        },
        PageKind::NextUrl { next } => match pointed_text(document, next, "a next-page URL") {
            Ok(Some(url)) => NextPage::Url(url),
            Ok(None) => NextPage::Stop,
            Err(message) => NextPage::Fail(ErrorKind::Decode, message),
        },
        PageKind::Link => match walk.link.and_then(link_next) {
            Some(url) if !url.is_empty() => NextPage::Url(url.to_string()),
            _ => NextPage::Stop,
        },
        PageKind::Page { param, start, .. } => {
            if walk.on_page == 0 || walk.total.is_some_and(|t| walk.so_far as u64 >= t) {
                return NextPage::Stop;
            }
            let number = start.saturating_add(u64::from(walk.page));
            NextPage::Query(vec![(param.clone(), number.to_string())])
        }
        PageKind::Offset {
            param,
            limit_param,
            limit,
            ..
        } => {
            if walk.on_page == 0 || walk.total.is_some_and(|t| walk.so_far as u64 >= t) {
                return NextPage::Stop;
            }
            let offset = limit.saturating_mul(u64::from(walk.page));
            NextPage::Query(vec![
                (param.clone(), offset.to_string()),
                (limit_param.clone(), limit.to_string()),
            ])
        }
    }
}

/// The text at `pointer`: `None` when missing, null or empty (the end of
/// the pages); a number is taken as its decimal text.
fn pointed_text(document: &Value, pointer: &str, what: &str) -> Result<Option<String>, String> {
    match document.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(format!(
            "expected {what} (a string or a number) at {pointer}, found {}",
            json_type(other)
        )),
    }
}

/// The record total at `pointer` (a number, or a string of digits).
fn stated_total(document: &Value, pointer: &str) -> Result<Option<u64>, String> {
    match document.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(text)) if text.trim().parse::<u64>().is_ok() => {
            Ok(text.trim().parse::<u64>().ok())
        }
        Some(other) => Err(format!(
            "expected a record total (a whole number) at {pointer} (paginate.total), found {}",
            match other {
                Value::String(_) => "a string that is not a whole number",
                other => json_type(other),
            }
        )),
    }
}

/// `url` with each of `set` as its only value of that name, other query
/// parameters kept in order.
pub(crate) fn with_query(url: &url::Url, set: &[(String, String)]) -> url::Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !set.iter().any(|(name, _)| name == key))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.set_query(None);
    {
        let mut pairs = out.query_pairs_mut();
        for (key, value) in kept.iter().chain(set) {
            pairs.append_pair(key, value);
        }
    }
    out
}

/// Whether `a` and `b` share scheme, host and port.
fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.origin() == b.origin()
}

/// How a page walk ends early: the call fails with this kind and message.
struct Stopped {
    kind: ErrorKind,
    message: String,
}

impl Fetcher {
    /// Makes a paginated call (see the module docs). `request` is the
    /// first page's request as the scraper's templates build it.
    pub(crate) async fn paginated(
        &self,
        spec: &CallSpec<'_>,
        paginate: &Paginate,
        first: BuiltRequest,
        mut call: Progress,
        gate: &dyn PageGate,
    ) -> CallResult {
        // The resolver refuses `paginate` without `records`.
        let pointer = spec.scraper.records.as_deref().unwrap_or_default();
        let mut request = BuiltRequest {
            url: with_query(&first.url, &first_page_query(&paginate.kind)),
            ..first.clone()
        };
        let credentials = redirect::credential_query_names(spec.source, spec.scraper);
        let mut frame: Option<(Value, Option<String>)> = None;
        let mut records: Vec<Value> = Vec::new();
        let mut followed: HashSet<String> = HashSet::new();
        let mut total: Option<u64> = None;
        // The pages' bodies so far: the joined payload is about this big,
        // and it is held to the source's max_body_bytes as one body is.
        let mut joined_bytes: u64 = 0;
        let mut page: u32 = 1;
        let mut last_http_status;
        let finished_at = 'pages: loop {
            // Each page counts as a call in the retry budget: its retries
            // are measured against requests made, and a page is one.
            self.budget_call(spec.source).await;
            let at = PageOf {
                number: page,
                later: page > 1,
            };
            let done = match self.request(spec, &request, at, &mut call).await {
                Fetched::Done(done) => done,
                Fetched::NotSent(stopped) => {
                    let result = self.not_sent(call, stopped);
                    // Every proxy open before any request: the call was
                    // refused whole, not stopped at a page.
                    if result.status == ScraperStatus::Skipped {
                        return result;
                    }
                    return on_page(result, page);
                }
            };
            last_http_status = done.http_status;
            match done.end.status {
                ScraperStatus::Success => {}
                // Page 1 with nothing is the call's answer, as without
                // pagination.
                ScraperStatus::NoData if page == 1 => {
                    let mut result = call.finish(done);
                    result.pages = Some(1);
                    return result;
                }
                // A later page a `no_data` rule matches: no more pages.
                ScraperStatus::NoData => break done.finished_at,
                _ => {
                    let result = call.finish(done);
                    return on_page(result, page);
                }
            }
            // Everything that can stop the walk at this page ends in one
            // place: `Err` is recorded with the page's number and status.
            let step: Result<_, Stopped> = 'step: {
                let body = done.end.body.as_deref().unwrap_or_default();
                joined_bytes += body.len() as u64;
                if joined_bytes > spec.source.max_body_bytes {
                    let stopped = Stopped {
                        kind: ErrorKind::BodyTooLarge,
                        message: format!(
                            "the pages so far hold {joined_bytes} bytes, more than max_body_bytes {}: the joined payload would be larger than one body may be",
                            spec.source.max_body_bytes
                        ),
                    };
                    break 'step Err(stopped);
                }
                let mut document: Value = match crate::classify::payload_json(body) {
                    Ok(document) => document,
                    // Classification parsed this body already; kept for safety.
                    Err(error) => {
                        let stopped = Stopped {
                            kind: ErrorKind::Decode,
                            message: format!("response is not valid JSON ({error})"),
                        };
                        break 'step Err(stopped);
                    }
                };
                let on_page_records = match document.pointer_mut(pointer).map(Value::take) {
                    Some(Value::Array(items)) => items,
                    // Classification checked the shape already.
                    _ => Vec::new(),
                };
                let on_page = on_page_records.len();
                records.extend(on_page_records);
                if let Some(pointer) = paginate.kind.total() {
                    match stated_total(&document, pointer) {
                        Ok(Some(stated)) => total = Some(stated),
                        Ok(None) if page == 1 => {
                            let stopped = Stopped {
                                kind: ErrorKind::Decode,
                                message: format!(
                                    "no record total at {pointer} (paginate.total) on the first page"
                                ),
                            };
                            break 'step Err(stopped);
                        }
                        Ok(None) => {}
                        Err(message) => {
                            let stopped = Stopped {
                                kind: ErrorKind::Decode,
                                message,
                            };
                            break 'step Err(stopped);
                        }
                    }
                }
                let walk = Walk {
                    page,
                    on_page,
                    so_far: records.len(),
                    total,
                    link: done.link.as_deref(),
                };
                let next = next_page(&paginate.kind, &document, walk);
                if frame.is_none() {
                    frame = Some((document, done.content_type.clone()));
                }
                let next_url = match next {
                    NextPage::Stop => break 'pages done.finished_at,
                    NextPage::Fail(kind, message) => {
                        let stopped = Stopped { kind, message };
                        break 'step Err(stopped);
                    }
                    NextPage::Query(set) => {
                        if let PageKind::Cursor { .. } = paginate.kind
                            && let Some((_, cursor)) = set.first()
                            && !followed.insert(cursor.clone())
                        {
                            let stopped = Stopped {
                                kind: ErrorKind::Pagination,
                                message: format!(
                                    "the next cursor \"{cursor}\" was already followed: the pages loop; nothing stored"
                                ),
                            };
                            break 'step Err(stopped);
                        }
                        with_query(&request.url, &set)
                    }
                    NextPage::Url(text) => {
                        match self.follow(
                            &request.url,
                            &first.url,
                            &text,
                            &credentials,
                            &mut followed,
                        ) {
                            Ok(url) => url,
                            Err(stopped) => {
                                break 'step Err(stopped);
                            }
                        }
                    }
                };
                if page >= paginate.max_pages {
                    let stopped = Stopped {
                        kind: ErrorKind::Pagination,
                        message: format!(
                            "max_pages ({}) reached and page {page} still points to a next page; nothing stored (raise paginate.max_pages if the data really is this large)",
                            paginate.max_pages
                        ),
                    };
                    break 'step Err(stopped);
                }
                // The check page 1 got in `build_request`: a next link or
                // cursor the upstream made too long for the HTTP client
                // is said once, not as hyper's "Parsed Url is not a valid
                // Uri" per attempt.
                if let Some(length) = crate::url_too_long(&next_url) {
                    let stopped = Stopped {
                        kind: ErrorKind::Pagination,
                        message: format!(
                            "the next page's URL would be {length} characters long, over the {} an HTTP request can carry (the upstream's next link or cursor is that long); nothing stored",
                            crate::MAX_URL_LENGTH
                        ),
                    };
                    break 'step Err(stopped);
                }
                Ok(next_url)
            };
            let next_url = match step {
                Ok(url) => url,
                Err(stopped) => {
                    return self.stop(
                        spec,
                        call,
                        done.finished_at,
                        last_http_status,
                        page,
                        stopped,
                    );
                }
            };
            if let Err(refusal) = gate.admit(page + 1).await {
                let stopped = Stopped {
                    kind: refusal.kind,
                    message: format!("not requested: {}; nothing stored", refusal.message),
                };
                let mut result = self.stop(
                    spec,
                    call,
                    done.finished_at,
                    last_http_status,
                    page + 1,
                    stopped,
                );
                // Pages fetched: the refused one was not.
                result.pages = Some(page);
                return result;
            }
            request = BuiltRequest {
                url: next_url,
                ..first.clone()
            };
            page += 1;
        };
        let Some((mut document, content_type)) = frame else {
            // Unreachable: page 1 either returned or set the frame.
            let stopped = Stopped {
                kind: ErrorKind::Decode,
                message: "no page was read".to_string(),
            };
            return self.stop(spec, call, finished_at, last_http_status, page, stopped);
        };
        let count = records.len();
        if let Some(slot) = document.pointer_mut(pointer) {
            *slot = Value::Array(records);
        }
        let body = match serde_json::to_vec(&document) {
            Ok(body) => Bytes::from(body),
            Err(error) => {
                let stopped = Stopped {
                    kind: ErrorKind::Decode,
                    message: format!("could not write the joined pages as JSON: {error}"),
                };
                return self.stop(spec, call, finished_at, last_http_status, page, stopped);
            }
        };
        tracing::debug!(
            scraper = %spec.scraper.name,
            source = %spec.source.name,
            pages = page,
            records = count,
            "Pages joined."
        );
        CallResult {
            status: ScraperStatus::Success,
            attempts: call.attempts,
            http_status: last_http_status,
            error_kind: None,
            message: None,
            body: Some(body),
            content_type,
            records: Some(count),
            started_at: call.started_at,
            finished_at,
            deferred_until: None,
            quota_remaining: call.quota_remaining,
            pages: Some(page),
            not_modified: false,
            etag: None,
            last_modified: None,
        }
    }

    /// The URL of the next page, `text` as the upstream wrote it, resolved
    /// against the page's URL `current`: only on the first page's origin
    /// (the source's headers and credentials go with it), never one
    /// followed before. Credentials in the source's query that the URL
    /// lacks are added, since the upstream's links rarely repeat them.
    fn follow(
        &self,
        current: &url::Url,
        first: &url::Url,
        text: &str,
        credentials: &[&str],
        followed: &mut HashSet<String>,
    ) -> Result<url::Url, Stopped> {
        let mut url = current.join(text).map_err(|error| Stopped {
            kind: ErrorKind::Decode,
            message: format!("the next-page URL \"{text}\" is not a URL ({error})"),
        })?;
        if !same_origin(&url, first) {
            // Only the origin is named: the rest of the URL may carry
            // anything, and the origin is what the rule is about.
            return Err(Stopped {
                kind: ErrorKind::Pagination,
                message: format!(
                    "the next page is on another host ({}), not followed: the source's headers and credentials stay on {}; nothing stored",
                    url.origin().ascii_serialization(),
                    first.origin().ascii_serialization()
                ),
            });
        }
        let missing: Vec<(String, String)> = first
            .query_pairs()
            .filter(|(key, _)| credentials.contains(&key.as_ref()))
            .filter(|(key, _)| !url.query_pairs().any(|(k, _)| k == *key))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if !missing.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in &missing {
                pairs.append_pair(key, value);
            }
        }
        if !followed.insert(url.as_str().to_string()) {
            return Err(Stopped {
                kind: ErrorKind::Pagination,
                message: "the next-page URL was already followed: the pages loop; nothing stored"
                    .to_string(),
            });
        }
        Ok(url)
    }

    /// Ends a paginated call as failed after page `page`, with nothing stored.
    fn stop(
        &self,
        spec: &CallSpec<'_>,
        call: Progress,
        finished_at: chrono::DateTime<chrono::Utc>,
        http_status: Option<u16>,
        page: u32,
        stopped: Stopped,
    ) -> CallResult {
        let message = self
            .redactor
            .redact_string(&format!("page {page}: {}", stopped.message));
        tracing::warn!(
            scraper = %spec.scraper.name,
            source = %spec.source.name,
            error = %message,
            "Call failed."
        );
        CallResult {
            status: ScraperStatus::Failed,
            attempts: call.attempts,
            http_status,
            error_kind: Some(stopped.kind),
            message: Some(message),
            body: None,
            content_type: None,
            records: None,
            started_at: call.started_at,
            finished_at,
            deferred_until: None,
            quota_remaining: call.quota_remaining,
            pages: Some(page),
            not_modified: false,
            etag: None,
            last_modified: None,
        }
    }
}

/// A call that failed on page `page`: its message names the page, and
/// nothing of the pages before is kept.
fn on_page(mut result: CallResult, page: u32) -> CallResult {
    result.message = result.message.map(|m| format!("page {page}: {m}"));
    result.pages = Some(page);
    result.body = None;
    result.records = None;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn walk(page: u32, on_page: usize, so_far: usize, total: Option<u64>) -> Walk<'static> {
        Walk {
            page,
            on_page,
            so_far,
            total,
            link: None,
        }
    }

    fn query(pairs: &[(&str, &str)]) -> NextPage {
        NextPage::Query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn cursors_are_followed_until_missing_null_or_empty() {
        let kind = PageKind::Cursor {
            cursor: "/meta/next_cursor".into(),
            param: "cursor".into(),
        };
        let table = [
            (json!({"meta": {"next_cursor": "abc"}}), query(&[("cursor", "abc")])),
            (json!({"meta": {"next_cursor": 25}}), query(&[("cursor", "25")])),
            (json!({"meta": {"next_cursor": null}}), NextPage::Stop),
            (json!({"meta": {"next_cursor": ""}}), NextPage::Stop),
            (json!({"meta": {}}), NextPage::Stop),
            (
                json!({"meta": {"next_cursor": {"id": 1}}}),
                NextPage::Fail(
                    ErrorKind::Decode,
                    "expected a cursor (a string or a number) at /meta/next_cursor, found an object"
                        .into(),
                ),
            ),
        ];
        for (document, expected) in table {
            assert_eq!(
                next_page(&kind, &document, walk(1, 5, 5, None)),
                expected,
                "{document}"
            );
        }
    }

    #[test]
    fn next_urls_and_links_are_taken_as_written() {
        let kind = PageKind::NextUrl {
            next: "/next".into(),
        };
        assert_eq!(
            next_page(&kind, &json!({"next": "/x?page=2"}), walk(1, 1, 1, None)),
            NextPage::Url("/x?page=2".into())
        );
        assert_eq!(
            next_page(&kind, &json!({"next": null}), walk(1, 1, 1, None)),
            NextPage::Stop
        );
        let link = Walk {
            link: Some(r#"<http://h/x?page=3>; rel="next", <http://h/x?page=1>; rel="prev""#),
            ..walk(2, 1, 2, None)
        };
        assert_eq!(
            next_page(&PageKind::Link, &json!({}), link),
            NextPage::Url("http://h/x?page=3".into())
        );
        assert_eq!(
            next_page(&PageKind::Link, &json!({}), walk(2, 1, 2, None)),
            NextPage::Stop
        );
    }

    #[test]
    fn page_and_offset_walks_stop_on_an_empty_page_or_the_total() {
        let page = PageKind::Page {
            param: "page".into(),
            start: 1,
            total: Some("/total".into()),
        };
        let doc = json!({});
        assert_eq!(
            first_page_query(&page),
            vec![("page".to_string(), "1".to_string())]
        );
        assert_eq!(
            next_page(&page, &doc, walk(1, 10, 10, None)),
            query(&[("page", "2")])
        );
        assert_eq!(
            next_page(&page, &doc, walk(3, 10, 30, Some(31))),
            query(&[("page", "4")])
        );
        assert_eq!(
            next_page(&page, &doc, walk(3, 10, 30, Some(30))),
            NextPage::Stop
        );
        assert_eq!(next_page(&page, &doc, walk(4, 0, 30, None)), NextPage::Stop);
        let zero_based = PageKind::Page {
            param: "p".into(),
            start: 0,
            total: None,
        };
        assert_eq!(
            next_page(&zero_based, &doc, walk(1, 1, 1, None)),
            query(&[("p", "1")])
        );

        let offset = PageKind::Offset {
            param: "offset".into(),
            limit_param: "limit".into(),
            limit: 25,
            total: None,
        };
        assert_eq!(
            first_page_query(&offset),
            vec![
                ("offset".to_string(), "0".to_string()),
                ("limit".to_string(), "25".to_string())
            ]
        );
        assert_eq!(
            next_page(&offset, &doc, walk(2, 25, 50, None)),
            query(&[("offset", "50"), ("limit", "25")])
        );
        assert_eq!(
            next_page(&offset, &doc, walk(3, 0, 50, None)),
            NextPage::Stop
        );
    }

    #[test]
    fn totals_are_whole_numbers() {
        assert_eq!(stated_total(&json!({"t": 40}), "/t"), Ok(Some(40)));
        assert_eq!(stated_total(&json!({"t": "40"}), "/t"), Ok(Some(40)));
        assert_eq!(stated_total(&json!({}), "/t"), Ok(None));
        assert!(stated_total(&json!({"t": -1}), "/t").is_err());
        assert!(stated_total(&json!({"t": "many"}), "/t").is_err());
    }

    #[test]
    fn query_parameters_are_replaced_not_repeated() {
        let url = url::Url::parse("http://h/x?date=2026-01-02&page=1&key=a%20b").unwrap();
        let next = with_query(&url, &[("page".to_string(), "2".to_string())]);
        assert_eq!(next.as_str(), "http://h/x?date=2026-01-02&key=a+b&page=2");
    }
}
