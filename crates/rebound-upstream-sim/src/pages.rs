//! Paginated routes, one per way real APIs page their answers (see
//! [`crate::paths::pages`]). Stateless: every page is computed from the
//! query, so a test can ask for any page in any order.
//!
//! Every route serves `items` records (default [`PAGE_ITEMS`]), each
//! `{"id": n, "name": "item n"}` with `n` from 1, `per_page` (default
//! [`PAGE_SIZE`]) a page, and takes two faults in the query:
//! - `fail_page=N`: page N answers 503 `{"error": "busy"}`, every time;
//! - `shape_page=N`: page N holds its records in an object instead of an
//!   array (an API that changed shape between pages).
//!
//! The cursor, next-URL and link routes put those query parameters back
//! into the next page's address, as real APIs carry their filters along.

use crate::paths::pages;
use crate::routes::query_param;
use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// Records a paginated route serves unless `items` says otherwise.
pub const PAGE_ITEMS: u64 = 7;
/// Records per page unless `per_page` (or `limit`) says otherwise.
pub const PAGE_SIZE: u64 = 3;

pub(crate) fn router() -> Router {
    Router::new()
        .route(pages::CURSOR, get(cursor))
        .route(pages::CURSOR_LOOP, get(cursor_loop))
        .route(pages::NEXT_URL, get(next_url))
        .route(pages::LINK, get(link))
        .route(pages::PAGE, get(page))
        .route(pages::OFFSET, get(offset))
}

/// A whole-number query parameter, or `default`.
fn number(uri: &Uri, name: &str, default: u64) -> Result<u64, Box<Response>> {
    match query_param(uri, name) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            Box::new(crate::routes::error(
                StatusCode::BAD_REQUEST,
                format!("invalid {name} {text:?}: expected a whole number"),
            ))
        }),
    }
}

/// The page's shape, its 1-based number and the records from `first`
/// (0-based index) on.
struct Slice {
    items: u64,
    per_page: u64,
    fail_page: Option<u64>,
    shape_page: Option<u64>,
}

impl Slice {
    fn of(uri: &Uri, size_param: &str) -> Result<Slice, Box<Response>> {
        let per_page = number(uri, size_param, PAGE_SIZE)?.max(1);
        Ok(Slice {
            items: number(uri, "items", PAGE_ITEMS)?,
            per_page,
            fail_page: query_param(uri, "fail_page").and_then(|v| v.parse().ok()),
            shape_page: query_param(uri, "shape_page").and_then(|v| v.parse().ok()),
        })
    }

    /// Records `first..first + per_page` (0-based), cut at `items`.
    fn records(&self, first: u64) -> Vec<Value> {
        (first..(first.saturating_add(self.per_page)).min(self.items))
            .map(|i| json!({ "id": i + 1, "name": format!("item {}", i + 1) }))
            .collect()
    }

    /// The scripted fault of page `number`, if any.
    fn fault(&self, number: u64) -> Option<Response> {
        (self.fail_page == Some(number)).then(|| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "busy" })),
            )
                .into_response()
        })
    }

    /// `records` as page `number` holds them: an array, or an object when
    /// `shape_page` names this page.
    fn shaped(&self, number: u64, records: Vec<Value>) -> Value {
        if self.shape_page == Some(number) {
            json!({ "rows": records })
        } else {
            Value::Array(records)
        }
    }

    /// The query to carry into the next page's address.
    fn carried(&self, uri: &Uri) -> String {
        ["items", "per_page", "fail_page", "shape_page"]
            .iter()
            .filter_map(|name| query_param(uri, name).map(|v| format!("&{name}={v}")))
            .collect()
    }
}

macro_rules! slice_or_return {
    ($uri:expr, $param:expr) => {
        match Slice::of(&$uri, $param) {
            Ok(slice) => slice,
            Err(response) => return *response,
        }
    };
}

/// BallDontLie style: `?cursor=C` (the 0-based index of the page's first
/// record, opaque to clients), `meta.next_cursor` null on the last page.
async fn cursor(uri: Uri) -> Response {
    let slice = slice_or_return!(uri, "per_page");
    let first = match number(&uri, "cursor", 0) {
        Ok(first) => first,
        Err(response) => return *response,
    };
    let number = first / slice.per_page + 1;
    if let Some(fault) = slice.fault(number) {
        return fault;
    }
    let next = first + slice.per_page;
    let next_cursor = (next < slice.items).then(|| next.to_string());
    Json(json!({
        "data": slice.shaped(number, slice.records(first)),
        "meta": { "next_cursor": next_cursor, "per_page": slice.per_page },
    }))
    .into_response()
}

/// A cursor API with a bug: page 1 points to cursor "a", "a" to "b", and
/// "b" back to "a", forever.
async fn cursor_loop(uri: Uri) -> Response {
    let at = query_param(&uri, "cursor");
    let next = match at.as_deref() {
        None | Some("b") => "a",
        _ => "b",
    };
    Json(json!({
        "data": [{ "id": at.unwrap_or_default() }],
        "meta": { "next_cursor": next },
    }))
    .into_response()
}

/// The body names the next page's URL: relative (`next`: `/pages/next-url
/// ?page=2…`), or absolute on this host with `absolute=1`, or on another
/// origin with `elsewhere=ORIGIN` (page 1 only, to test that clients
/// refuse to follow it).
async fn next_url(uri: Uri, headers: HeaderMap) -> Response {
    let slice = slice_or_return!(uri, "per_page");
    let number = match number(&uri, "page", 1) {
        Ok(n) => n.max(1),
        Err(response) => return *response,
    };
    if let Some(fault) = slice.fault(number) {
        return fault;
    }
    let first = (number - 1) * slice.per_page;
    let more = first + slice.per_page < slice.items;
    let absolute = query_param(&uri, "absolute").is_some();
    let elsewhere = query_param(&uri, "elsewhere");
    let next = more.then(|| {
        let path = format!(
            "{}?page={}{}{}",
            pages::NEXT_URL,
            number + 1,
            slice.carried(&uri),
            if absolute { "&absolute=1" } else { "" }
        );
        match (&elsewhere, absolute) {
            (Some(origin), _) => format!("{origin}{path}"),
            (None, true) => format!("http://{}{path}", host(&headers)),
            (None, false) => path,
        }
    });
    Json(json!({
        "results": slice.shaped(number, slice.records(first)),
        "next": next,
    }))
    .into_response()
}

/// GitHub style: `?page=N`, the next page in `Link: <…>; rel="next"` (an
/// absolute URL on this host), with `prev`/`last` links beside it.
async fn link(uri: Uri, headers: HeaderMap) -> Response {
    let slice = slice_or_return!(uri, "per_page");
    let number = match number(&uri, "page", 1) {
        Ok(n) => n.max(1),
        Err(response) => return *response,
    };
    if let Some(fault) = slice.fault(number) {
        return fault;
    }
    let first = (number - 1) * slice.per_page;
    let last = slice.items.div_ceil(slice.per_page).max(1);
    let base = format!("http://{}{}", host(&headers), pages::LINK);
    let carried = slice.carried(&uri);
    let mut links = vec![format!("<{base}?page={last}{carried}>; rel=\"last\"")];
    if number > 1 {
        links.push(format!(
            "<{base}?page={}{carried}>; rel=\"prev\"",
            number - 1
        ));
    }
    if number < last {
        links.push(format!(
            "<{base}?page={}{carried}>; rel=\"next\"",
            number + 1
        ));
    }
    let body = Json(slice.shaped(number, slice.records(first)));
    match axum::http::HeaderValue::try_from(links.join(", ")) {
        Ok(value) => ([(axum::http::header::LINK, value)], body).into_response(),
        Err(_) => body.into_response(),
    }
}

/// BettingPros style: `?page=N` (from 1), `{"results": [...], "total": T}`;
/// a page past the end is empty.
async fn page(uri: Uri) -> Response {
    let slice = slice_or_return!(uri, "per_page");
    let number = match number(&uri, "page", 1) {
        Ok(n) => n.max(1),
        Err(response) => return *response,
    };
    if let Some(fault) = slice.fault(number) {
        return fault;
    }
    let first = (number - 1) * slice.per_page;
    Json(json!({
        "results": slice.shaped(number, slice.records(first)),
        "total": slice.items,
        "page": number,
    }))
    .into_response()
}

/// `?offset=O&limit=L`, `{"items": [...], "count": T}`; an offset past the
/// end is an empty page. `fail_page` and `shape_page` count pages of
/// `limit` records from 1.
async fn offset(uri: Uri) -> Response {
    let slice = slice_or_return!(uri, "limit");
    let first = match number(&uri, "offset", 0) {
        Ok(first) => first,
        Err(response) => return *response,
    };
    let number = first / slice.per_page + 1;
    if let Some(fault) = slice.fault(number) {
        return fault;
    }
    Json(json!({
        "items": slice.shaped(number, slice.records(first)),
        "count": slice.items,
    }))
    .into_response()
}

/// The `Host` the request was sent to (the server's loopback address).
fn host(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string()
}
