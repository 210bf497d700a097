//! Documents, not only JSON: a scraper's declared `format`, the check that
//! a payload is what it claims to be, and the `transform` command that
//! turns a document into records.
//!
//! The check exists because blocked and region-restricted answers arrive
//! as `200 OK` with an HTML page ("Access Denied") where a PDF or CSV was
//! expected; stored as-is they look like data until someone opens them.
//! So a payload whose `Content-Type` or first bytes contradict the format
//! is a `decode` failure that says what came instead. Pure: the same
//! bytes and header always give the same answer.

use crate::message::body_snippet;
use crate::redact::Redactor;
use std::path::PathBuf;
use std::time::Duration;

/// What a scraper's payload is (`format`). Default: JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    #[default]
    Json,
    Pdf,
    Html,
    Csv,
    /// Anything: no check beyond `min_bytes`.
    Bytes,
}

impl PayloadFormat {
    pub const NAMES: [&'static str; 5] = ["json", "pdf", "html", "csv", "bytes"];

    pub fn parse(text: &str) -> Option<PayloadFormat> {
        Some(match text {
            "json" => PayloadFormat::Json,
            "pdf" => PayloadFormat::Pdf,
            "html" => PayloadFormat::Html,
            "csv" => PayloadFormat::Csv,
            "bytes" => PayloadFormat::Bytes,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Json => "json",
            PayloadFormat::Pdf => "pdf",
            PayloadFormat::Html => "html",
            PayloadFormat::Csv => "csv",
            PayloadFormat::Bytes => "bytes",
        }
    }

    /// The file extension a payload of this format is stored under.
    pub fn extension(self) -> &'static str {
        match self {
            PayloadFormat::Json => "json",
            PayloadFormat::Pdf => "pdf",
            PayloadFormat::Html => "html",
            PayloadFormat::Csv => "csv",
            PayloadFormat::Bytes => "bin",
        }
    }

    /// The content type recorded for an output of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            PayloadFormat::Json => "application/json",
            PayloadFormat::Pdf => "application/pdf",
            PayloadFormat::Html => "text/html",
            PayloadFormat::Csv => "text/csv",
            PayloadFormat::Bytes => "application/octet-stream",
        }
    }

    /// "a PDF", as in "expected a PDF".
    fn article(self) -> &'static str {
        match self {
            PayloadFormat::Json => "JSON",
            PayloadFormat::Pdf => "a PDF",
            PayloadFormat::Html => "an HTML page",
            PayloadFormat::Csv => "CSV",
            PayloadFormat::Bytes => "bytes",
        }
    }
}

/// `transform = { command, timeout, format, keep_running }`: a command that
/// reads the document on stdin and writes the call's primary output on
/// stdout (once per document, or, with `keep_running`, a long-lived process
/// that answers one framed document after another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    /// Program and arguments, run without a shell. A program with a `/` is
    /// a path relative to `dir`; one without is looked up on `PATH`.
    pub command: Vec<String>,
    /// The config file's folder: the command's working directory, so
    /// `parsers/x.py` means the script beside the config.
    pub dir: PathBuf,
    /// Killed after this long.
    pub timeout: Duration,
    /// What it writes (its output is checked like a download).
    pub format: PayloadFormat,
    /// The command's whole environment: only [`Transform::PASSED_ENV`],
    /// as the process that loaded the config had them, so a parser never
    /// sees an API key or database password it has no use for.
    pub env: Vec<(String, String)>,
    /// Start the command once and send it document after document in
    /// frames (docs/documents.md, "Long-running transforms") instead of
    /// starting it for each document.
    pub keep_running: bool,
}

impl Transform {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The variables a transform command inherits; every other one is
    /// cleared.
    pub const PASSED_ENV: [&'static str; 3] = ["PATH", "HOME", "LANG"];

    /// The program to start: one containing `/` is relative to
    /// [`Transform::dir`] (unless absolute); a bare name is looked up on
    /// `PATH` when started. `None` for an empty command.
    pub fn program(&self) -> Option<PathBuf> {
        let program = self.command.first()?;
        Some(if program.contains('/') {
            self.dir.join(program)
        } else {
            PathBuf::from(program)
        })
    }
}

/// What a payload looks like from its first bytes, for messages and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    Pdf,
    Html,
    Json,
    Other,
}

/// Whether a body is an HTML page by its first bytes (what a proxy, a
/// CDN or a maintenance page answers in place of an API's data).
pub(crate) fn looks_like_html(body: &[u8]) -> bool {
    sniff(body) == Sniffed::Html
}

fn sniff(body: &[u8]) -> Sniffed {
    // A UTF-8 byte order mark and leading whitespace say nothing.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let rest = &body[start..];
    if body.starts_with(b"%PDF-") {
        return Sniffed::Pdf;
    }
    let lower: Vec<u8> = rest.iter().take(15).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<!doctype html")
        || lower.starts_with(b"<html")
        || lower.starts_with(b"<head")
        || lower.starts_with(b"<body")
        || lower.starts_with(b"<!--")
        || lower.starts_with(b"<title")
    {
        return Sniffed::Html;
    }
    if matches!(rest.first(), Some(b'{') | Some(b'[')) {
        return Sniffed::Json;
    }
    Sniffed::Other
}

/// The media type of a `Content-Type` header, lower-case, without
/// parameters; `None` when absent or empty.
fn media_type(content_type: Option<&str>) -> Option<String> {
    let mime = content_type?
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!mime.is_empty()).then_some(mime)
}

/// Whether a declared media type contradicts `format`. Generic types
/// (`application/octet-stream`, `text/plain`, none at all) contradict
/// nothing: many servers label every download with them.
fn type_contradicts(format: PayloadFormat, mime: &str) -> bool {
    let generic = matches!(
        mime,
        "application/octet-stream" | "binary/octet-stream" | "application/download" | "text/plain"
    );
    if generic {
        return false;
    }
    let json = mime.ends_with("json");
    let html = mime == "text/html" || mime == "application/xhtml+xml";
    let pdf = mime == "application/pdf" || mime == "application/x-pdf";
    match format {
        PayloadFormat::Json | PayloadFormat::Bytes => false,
        PayloadFormat::Pdf => !pdf,
        PayloadFormat::Html => !html,
        PayloadFormat::Csv => json || html || pdf || mime.starts_with("image/"),
    }
}

/// Whether the first bytes contradict `format`.
fn bytes_contradict(format: PayloadFormat, sniffed: Sniffed) -> bool {
    match format {
        PayloadFormat::Json | PayloadFormat::Bytes => false,
        // A PDF always starts with its magic; anything else is not one.
        PayloadFormat::Pdf => sniffed != Sniffed::Pdf,
        PayloadFormat::Html => sniffed == Sniffed::Pdf,
        PayloadFormat::Csv => matches!(sniffed, Sniffed::Pdf | Sniffed::Html),
    }
}

/// A JSON payload's text without a leading UTF-8 byte-order mark. RFC 8259
/// lets parsers ignore one, and upstreams on .NET and Windows stacks send
/// it; serde_json refuses it ("expected value at line 1 column 1"), so a
/// valid answer failed as `decode`. The stored payload keeps its bytes.
pub fn json_text(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// Checks a payload against its declared format: `Err` says what came
/// instead, e.g. `expected a PDF, got text/html (312 bytes: "<html>…")`,
/// the excerpt masked by `redactor` and cut like every body excerpt. JSON
/// is checked by its `records` pointer, not here (a JSON scraper without
/// `records` has always accepted any body), and `bytes` accepts anything.
pub fn check_payload(
    format: PayloadFormat,
    content_type: Option<&str>,
    body: &[u8],
    redactor: &Redactor,
) -> Result<(), String> {
    let mime = media_type(content_type);
    let sniffed = sniff(body);
    let by_type = mime.as_deref().is_some_and(|m| type_contradicts(format, m));
    // An empty body has no first bytes to contradict anything; `min_bytes`
    // decides about it.
    let by_bytes = !body.is_empty() && bytes_contradict(format, sniffed);
    if !by_type && !by_bytes {
        return Ok(());
    }
    let got = match (by_type, &mime, sniffed) {
        (true, Some(mime), _) => mime.clone(),
        (_, _, Sniffed::Pdf) => "a PDF".to_string(),
        (_, _, Sniffed::Html) => "an HTML page".to_string(),
        (_, _, Sniffed::Json) => "JSON".to_string(),
        (_, Some(mime), Sniffed::Other) => format!("{mime} that does not look like one"),
        (_, None, Sniffed::Other) => "something else".to_string(),
    };
    Err(format!(
        "expected {}, got {got} ({} bytes: \"{}\")",
        format.article(),
        body.len(),
        body_snippet(body, redactor)
    ))
}

/// A JSON scraper without `records` accepts any body ([`check_payload`]),
/// except one that is certainly not JSON: an HTML page or a PDF, by its
/// `Content-Type` or its first bytes. A login wall, a captive portal or a
/// "403 Access Denied" page sent with status 200 was stored as a success
/// and read as fresh data.
pub fn check_json_without_records(
    content_type: Option<&str>,
    body: &[u8],
    redactor: &Redactor,
) -> Result<(), String> {
    let mime = media_type(content_type);
    let by_type = mime.as_deref().filter(|m| {
        matches!(
            *m,
            "text/html" | "application/xhtml+xml" | "application/pdf" | "application/x-pdf"
        )
    });
    let sniffed = sniff(body);
    let got = match (by_type, sniffed) {
        (Some(mime), _) => mime.to_string(),
        (None, Sniffed::Html) => "an HTML page".to_string(),
        (None, Sniffed::Pdf) => "a PDF".to_string(),
        (None, Sniffed::Json | Sniffed::Other) => return Ok(()),
    };
    // A scraper meant for documents may simply not say so: the fix is one
    // key (a JSON answer replaced by a page needs no hint).
    let format = if by_type.is_some_and(|m| m.ends_with("pdf")) || sniffed == Sniffed::Pdf {
        "pdf"
    } else {
        "html"
    };
    Err(format!(
        "expected JSON, got {got} ({} bytes: \"{}\"); a scraper that fetches {} documents says `format = \"{format}\"`",
        body.len(),
        body_snippet(body, redactor),
        format.to_uppercase(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: accepted, and stored as a successful JSON payload.
    #[test]
    fn a_json_scraper_without_records_refuses_only_what_is_certainly_not_json() {
        let redactor = Redactor::new(Vec::<String>::new());
        let check = |ct: Option<&str>, body: &[u8]| check_json_without_records(ct, body, &redactor);
        assert_eq!(
            check(
                Some("text/html; charset=utf-8"),
                b"<html><title>Access Denied</title>"
            ),
            Err(
                "expected JSON, got text/html (34 bytes: \"<html><title>Access Denied</title>\"); a scraper that fetches HTML documents says `format = \"html\"`"
                    .to_string()
            )
        );
        assert_eq!(
            check(None, b"  <!DOCTYPE html><p>login</p>"),
            Err(
                "expected JSON, got an HTML page (29 bytes: \"<!DOCTYPE html><p>login</p>\"); a scraper that fetches HTML documents says `format = \"html\"`"
                    .to_string()
            )
        );
        let pdf = check(Some("application/octet-stream"), b"%PDF-1.7").unwrap_err();
        assert!(
            pdf.starts_with("expected JSON, got a PDF (8 bytes"),
            "{pdf}"
        );
        assert!(pdf.ends_with("says `format = \"pdf\"`"), "{pdf}");
        // JSON, text, anything else: as before.
        assert_eq!(check(Some("application/json"), br#"{"a":1}"#), Ok(()));
        assert_eq!(check(Some("text/plain"), b"ok"), Ok(()));
        assert_eq!(check(None, b"a,b\n1,2"), Ok(()));
        assert_eq!(check(Some("application/json"), b"<xml/>"), Ok(()));
    }

    fn check(format: &str, content_type: Option<&str>, body: &[u8]) -> Result<(), String> {
        let format = PayloadFormat::parse(format).expect("a format name");
        check_payload(format, content_type, body, &Redactor::new(["s3cr3t-token"]))
    }

    #[test]
    fn payloads_that_are_what_they_claim_pass() {
        assert_eq!(check("pdf", Some("application/pdf"), b"%PDF-1.4\n"), Ok(()));
        assert_eq!(check("pdf", None, b"%PDF-1.7"), Ok(()));
        assert_eq!(
            check("pdf", Some("application/octet-stream"), b"%PDF-1.7"),
            Ok(())
        );
        assert_eq!(
            check(
                "html",
                Some("text/html; charset=utf-8"),
                b"<!DOCTYPE html><p>"
            ),
            Ok(())
        );
        assert_eq!(check("csv", Some("text/csv"), b"a,b\n1,2\n"), Ok(()));
        assert_eq!(check("csv", Some("text/plain"), b"a,b\n"), Ok(()));
        assert_eq!(check("bytes", Some("text/html"), b"<html>"), Ok(()));
        assert_eq!(check("json", Some("text/html"), b"<html>"), Ok(()));
        // Empty: min_bytes decides.
        assert_eq!(check("pdf", None, b""), Ok(()));
    }

    #[test]
    fn a_contradiction_says_what_came_instead_masked() {
        let page = b"<html><title>Access Denied</title> token s3cr3t-token</html>";
        let err = check("pdf", Some("text/html"), page).unwrap_err();
        assert!(
            err.starts_with(
                "expected a PDF, got text/html (60 bytes: \"<html><title>Access Denied"
            ),
            "{err}"
        );
        assert!(err.contains("***") && !err.contains("s3cr3t"), "{err}");
        let err = check("pdf", None, page).unwrap_err();
        assert!(err.starts_with("expected a PDF, got an HTML page"), "{err}");
        let err = check("html", Some("application/pdf"), b"%PDF-1.4").unwrap_err();
        assert!(
            err.starts_with("expected an HTML page, got application/pdf"),
            "{err}"
        );
        let err = check("csv", None, b"%PDF-1.4").unwrap_err();
        assert!(err.starts_with("expected CSV, got a PDF"), "{err}");
        let err = check("csv", Some("application/json"), b"{}").unwrap_err();
        assert!(
            err.starts_with("expected CSV, got application/json"),
            "{err}"
        );
        let err = check("pdf", Some("application/pdf"), b"oops").unwrap_err();
        assert!(
            err.starts_with("expected a PDF, got application/pdf that does not look like one"),
            "{err}"
        );
    }

    #[test]
    fn names_round_trip() {
        for name in PayloadFormat::NAMES {
            assert_eq!(PayloadFormat::parse(name).map(|f| f.as_str()), Some(name));
        }
        assert_eq!(PayloadFormat::parse("xml"), None);
    }
}
