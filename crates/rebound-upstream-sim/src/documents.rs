//! Document routes (see [`crate::paths::docs`]): a small valid PDF made
//! here, an HTML page, the "Access Denied" page a blocked client gets where
//! it asked for a PDF, an empty CSV, and a JSON resource that answers
//! conditional requests with `304 Not Modified`. Stateless: the resource
//! never changes, so its validators are constants.

use crate::paths::docs;
use axum::Router;
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The conditional resource's `ETag`.
pub const DOC_ETAG: &str = "\"injury-v1\"";
/// The conditional resource's `Last-Modified`.
pub const DOC_LAST_MODIFIED: &str = "Wed, 21 Jan 2026 17:30:00 GMT";

pub(crate) fn router() -> Router {
    Router::new()
        .route(docs::PDF, get(pdf))
        .route(docs::HTML, get(html))
        .route(docs::BLOCKED_PDF, get(blocked))
        .route(docs::EMPTY_CSV, get(empty_csv))
        .route(docs::CONDITIONAL, get(conditional))
}

/// A one-page PDF whose page shows `lines`, one text line each: a real
/// document (header, objects, cross-reference table with exact offsets,
/// trailer) that PDF readers open, built without a PDF library.
pub fn tiny_pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 11 Tf 50 750 Td 14 TL\n");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        text.push_str(&format!("({escaped}) Tj T*\n"));
    }
    text.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{text}endstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    assemble_pdf(&objects)
}

/// A PDF file of `objects` (numbered from 1, the catalog first): header,
/// the objects, their cross-reference table and the trailer, with the
/// byte offsets a reader checks. Shared by every PDF the sim makes.
pub(crate) fn assemble_pdf(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (n, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", n + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// The lines [`docs::PDF`] shows: an injury report's layout.
pub const REPORT_LINES: [&str; 4] = [
    "Injury Report: 01/21/26 05:30 PM",
    "Game Date|Matchup|Team|Player|Status",
    "01/21/2026|BOS@NYK|Boston Celtics|Tatum, Jayson|Questionable",
    "01/21/2026|BOS@NYK|New York Knicks|Brunson, Jalen|Out",
];

async fn pdf() -> Response {
    ([(CONTENT_TYPE, "application/pdf")], tiny_pdf(&REPORT_LINES)).into_response()
}

async fn html() -> Response {
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!DOCTYPE html>\n<html><head><title>Scoreboard</title></head>\
         <body><table><tr><td>BOS</td><td>101</td></tr></table></body></html>\n",
    )
        .into_response()
}

/// What a CDN answers a blocked client: 200, an HTML page, where the
/// client asked for a PDF.
async fn blocked() -> Response {
    (
        [(CONTENT_TYPE, "text/html")],
        "<html><title>Access Denied</title><body>You don't have permission to access \
         this resource. Reference #18.5c2e1402</body></html>",
    )
        .into_response()
}

async fn empty_csv() -> Response {
    ([(CONTENT_TYPE, "text/csv")], "").into_response()
}

/// JSON with validators; a request carrying a matching `If-None-Match`, or
/// (without one) an `If-Modified-Since` not before `Last-Modified`, gets
/// `304` with the validators and no body.
async fn conditional(headers: HeaderMap) -> Response {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let fresh = match (header(IF_NONE_MATCH), header(IF_MODIFIED_SINCE)) {
        (Some(tags), _) => tags
            .split(',')
            .any(|t| t.trim() == DOC_ETAG || t.trim() == "*"),
        (None, Some(since)) => match (httpdate_parse(since), httpdate_parse(DOC_LAST_MODIFIED)) {
            (Some(since), Some(modified)) => since >= modified,
            _ => false,
        },
        (None, None) => false,
    };
    let validators = [(ETAG, DOC_ETAG), (LAST_MODIFIED, DOC_LAST_MODIFIED)];
    if fresh {
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    (
        validators,
        [(CONTENT_TYPE, "application/json")],
        r#"{"data":[{"player":"Tatum, Jayson","status":"Questionable"}]}"#,
    )
        .into_response()
}

/// An IMF-fixdate (`Wed, 21 Jan 2026 17:30:00 GMT`), the form servers send.
fn httpdate_parse(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
