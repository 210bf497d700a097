//! The dashboard's stylesheet and script, embedded in the binary (the
//! dashboard works offline and behind any firewall: nothing comes from a
//! CDN) and served as `/assets/dashboard-<hash>.css|js`.
//!
//! The hash is FNV-1a of the file's content, computed at compile time: a
//! name names one content forever, so the response may be cached for a
//! year (`immutable`), and a binary with a new stylesheet links a new
//! name. Any other name under `/assets/` is a 404.

use crate::http::Web;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, OnceLock};

const CSS: &str = include_str!("../../assets/dashboard.css");
const JS: &str = include_str!("../../assets/dashboard.js");
const CSS_HASH: u64 = fnv1a(CSS.as_bytes());
const JS_HASH: u64 = fnv1a(JS.as_bytes());

/// 64-bit FNV-1a: enough to tell two versions of a file apart, and a
/// `const fn`, so the names are fixed when the binary is built.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

fn names() -> &'static (String, String) {
    static NAMES: OnceLock<(String, String)> = OnceLock::new();
    NAMES.get_or_init(|| {
        (
            format!("dashboard-{:016x}.css", CSS_HASH),
            format!("dashboard-{:016x}.js", JS_HASH),
        )
    })
}

fn paths() -> &'static (String, String) {
    static PATHS: OnceLock<(String, String)> = OnceLock::new();
    PATHS.get_or_init(|| {
        let (css, js) = names();
        (format!("/assets/{css}"), format!("/assets/{js}"))
    })
}

/// The stylesheet's URL path.
pub(crate) fn css_path() -> &'static str {
    &paths().0
}

/// The script's URL path.
pub(crate) fn js_path() -> &'static str {
    &paths().1
}

pub(crate) async fn serve(
    State(web): State<Arc<Web>>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    // A name that is not UTF-8 was axum's bare text; the page says it,
    // with every page's headers.
    let Ok(Path(name)) = name else {
        // No tab is current: an asset is no page of its own.
        return super::Problem::respond(
            &web,
            "",
            StatusCode::BAD_REQUEST,
            "the asset name in the path is not UTF-8 text; the pages link their stylesheet and script",
        );
    };
    let (css, js) = names();
    let (body, content_type) = if name == *css {
        (CSS, "text/css; charset=utf-8")
    } else if name == *js {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}
