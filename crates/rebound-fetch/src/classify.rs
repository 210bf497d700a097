//! Turning one HTTP response into an attempt outcome. Pure: the same bytes
//! and rules always give the same answer, so it is tested with tables.
//!
//! Order matters and is the contract: `no_data` rules first (whatever the
//! status, because many APIs say "nothing yet" with a 404 or a 200 error
//! body), then the status class, then — for scrapers that declare
//! `records` — the JSON records check. A scraper without `records` succeeds
//! on any 2xx body, JSON or not.

use rebound_domain::document::{PayloadFormat, check_payload};
use rebound_domain::message::body_summary;
use rebound_domain::outcome::{AttemptOutcome, ErrorKind};
use rebound_domain::plan::NoDataRules;
use rebound_domain::redact::Redactor;

/// What one response means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub outcome: AttemptOutcome,
    pub kind: Option<ErrorKind>,
    /// Why, in words; for successes a short note such as `12 records`.
    pub message: String,
    /// Number of records, when the scraper declares `records` and it succeeded.
    pub records: Option<usize>,
}

impl Classified {
    fn failure(kind: ErrorKind, message: String) -> Classified {
        let outcome = if kind.is_retryable() {
            AttemptOutcome::Retryable
        } else {
            AttemptOutcome::Permanent
        };
        Classified {
            outcome,
            kind: Some(kind),
            message,
            records: None,
        }
    }

    fn no_data(message: String) -> Classified {
        Classified {
            outcome: AttemptOutcome::NoData,
            kind: None,
            message,
            records: None,
        }
    }
}

/// Classifies a complete response. Body excerpts in messages are masked
/// by `redactor` before they are cut, so no part of a secret survives.
pub fn classify_response(
    status: u16,
    body: &[u8],
    no_data: &NoDataRules,
    records_pointer: Option<&str>,
    redactor: &Redactor,
) -> Classified {
    if no_data.status.contains(&status) {
        return Classified::no_data(format!(
            "no data: HTTP {status} is listed in no_data.status"
        ));
    }
    if let Some(needle) = no_data
        .body_contains
        .iter()
        .find(|needle| contains_bytes(body, needle.as_bytes()))
    {
        return Classified::no_data(format!("no data: body contains \"{needle}\""));
    }
    if let Some(kind) = ErrorKind::from_status(status) {
        return Classified::failure(
            kind,
            format!("HTTP {status}: {}", body_summary(body, redactor)),
        );
    }
    let Some(pointer) = records_pointer else {
        return Classified {
            outcome: AttemptOutcome::Success,
            kind: None,
            message: format!("HTTP {status}, {} bytes", body.len()),
            records: None,
        };
    };
    // A 204, or a 200 with nothing: no records, like an empty array (it
    // failed as "not valid JSON (EOF …)", never naming the status).
    if body.is_empty() {
        return Classified::no_data(format!("no data: the body is empty (HTTP {status})"));
    }
    let document = match json_document(body, redactor) {
        Ok(document) => document,
        Err(failure) => return failure,
    };
    let shown = if pointer.is_empty() {
        "the top level"
    } else {
        pointer
    };
    match document.pointer(pointer) {
        None => Classified::no_data(format!("no data: no records at {shown}")),
        Some(serde_json::Value::Array(items)) if items.is_empty() => {
            Classified::no_data(format!("no data: records at {shown} are empty"))
        }
        Some(serde_json::Value::Array(items)) => Classified {
            outcome: AttemptOutcome::Success,
            kind: None,
            message: rebound_domain::message::plural(items.len() as u64, "record", "records"),
            records: Some(items.len()),
        },
        Some(serde_json::Value::Null) => {
            Classified::no_data(format!("no data: records at {shown} are null"))
        }
        Some(other) => Classified::failure(
            ErrorKind::Decode,
            format!(
                "expected an array of records at {shown}, found {}",
                json_type(other)
            ),
        ),
    }
}

/// Classifies a page after the first of a paginated call. The status and
/// `no_data` rules read as for any response (a later page that matches a
/// `no_data` rule is `no_data`, which ends the pages); but the records
/// must be where page 1 had them: page 1 decided the call has data, so a
/// later page without an array there is a changed shape (`decode`), not
/// "no data", and an empty array is a page with no records (a success
/// counting 0), which the page loop reads as the end of `page` and
/// `offset` pages.
pub fn classify_later_page(
    status: u16,
    body: &[u8],
    no_data: &NoDataRules,
    records_pointer: &str,
    redactor: &Redactor,
) -> Classified {
    let plain = classify_response(status, body, no_data, None, redactor);
    if plain.outcome != AttemptOutcome::Success {
        return plain;
    }
    let document = match json_document(body, redactor) {
        Ok(document) => document,
        Err(failure) => return failure,
    };
    let shown = if records_pointer.is_empty() {
        "the top level"
    } else {
        records_pointer
    };
    match document.pointer(records_pointer) {
        Some(serde_json::Value::Array(items)) => Classified {
            outcome: AttemptOutcome::Success,
            kind: None,
            message: rebound_domain::message::plural(items.len() as u64, "record", "records"),
            records: Some(items.len()),
        },
        None => Classified::failure(
            ErrorKind::Decode,
            format!("expected an array of records at {shown}, as on page 1, found nothing there"),
        ),
        Some(other) => Classified::failure(
            ErrorKind::Decode,
            format!(
                "expected an array of records at {shown}, as on page 1, found {}",
                json_type(other)
            ),
        ),
    }
}

/// The document checks after [`classify_response`]. For a JSON scraper, an
/// empty body is no_data. For one whose `format` is not JSON: a successful
/// response whose content type or first
/// bytes contradict the format is a `decode` failure saying what came
/// instead (not retried: the same URL answers the same page), and one
/// shorter than `min_bytes` is no_data. Other outcomes pass unchanged.
pub fn check_document(
    classified: Classified,
    format: PayloadFormat,
    min_bytes: u64,
    content_type: Option<&str>,
    body: &[u8],
    redactor: &Redactor,
) -> Classified {
    if classified.outcome != AttemptOutcome::Success {
        return classified;
    }
    if format == PayloadFormat::Json {
        // A JSON scraper without `records` accepts any body, but an empty
        // one is no answer at all: stored as a success, it read as fresh
        // data (with `records`, it fails to parse).
        if body.is_empty() {
            return Classified::no_data("no data: the body is empty".to_string());
        }
        // Without `records` nothing parsed the body; an HTML page or a PDF
        // is certainly not the JSON the scraper expects.
        if classified.records.is_none()
            && let Err(message) =
                rebound_domain::document::check_json_without_records(content_type, body, redactor)
        {
            return Classified::failure(ErrorKind::Decode, message);
        }
        return classified;
    }
    if let Err(message) = check_payload(format, content_type, body, redactor) {
        return Classified::failure(ErrorKind::Decode, message);
    }
    if (body.len() as u64) < min_bytes {
        return Classified::no_data(format!(
            "no data: {} bytes, fewer than min_bytes ({min_bytes})",
            body.len()
        ));
    }
    classified
}

/// After [`classify_response`]: a successful body still encoded with a
/// `Content-Encoding` the client did not decode (it asks for gzip only,
/// and decodes it) is a `decode` failure naming the encoding. A `br` or
/// `deflate` body was stored as the payload, compressed bytes and all.
pub fn check_encoding(classified: Classified, content_encoding: Option<&str>) -> Classified {
    let Some(encoding) = content_encoding.map(str::trim) else {
        return classified;
    };
    if classified.outcome != AttemptOutcome::Success
        || encoding.is_empty()
        || encoding.eq_ignore_ascii_case("identity")
    {
        return classified;
    }
    Classified::failure(
        ErrorKind::Decode,
        format!(
            "the body is encoded as \"{}\" (Content-Encoding), which Rebound did not ask for (it sends Accept-Encoding: gzip) and cannot read",
            rebound_domain::message::truncate_chars(encoding, 40)
        ),
    )
}

pub(crate) fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// A payload's JSON (behind a byte-order mark or not), as every reader of
/// payloads parses it: classification, pagination, record counts,
/// calendars and fan-outs.
///
/// RFC 8259 lets a number have any magnitude, but serde_json refuses one
/// beyond f64 (`1e400`, a 400-digit integer) with "number out of range",
/// which failed a valid document as `decode`. serde_json's
/// `arbitrary_precision` feature would accept it, but it changes
/// `Value::Number` for the whole workspace (numbers compared by their
/// text, so `1.0 != 1` in JSONPath filters and no_data rules; sqlx and
/// every API type share it). Instead, only when the first parse fails, each
/// number that does not fit in an f64 is read as a string holding its
/// exact text (`"1e400"`) and the document parsed again. Numbers that fit
/// are untouched; what readers use such a number for (a fan-out value, an
/// event id) is its text anyway. The stored payload is the body as
/// received; only a paginated scraper's joined payload, which is written
/// from these values, carries such a number as a string. Any other error
/// is the first parse's, unchanged.
///
/// A body denser than [`MAX_JSON_VALUES`] is refused before it is built
/// ([`too_many_values`]).
pub fn payload_json(body: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    let text = rebound_domain::document::json_text(body);
    if let Some(refused) = too_many_values(text) {
        return Err(serde::de::Error::custom(refused));
    }
    parse_json_text(text)
}

/// [`payload_json`] after its check of the value count.
fn parse_json_text(text: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_slice(text).or_else(|error| {
        // Skipping a value checks its syntax without computing numbers: a
        // valid document with a number beyond f64 passes, and in a valid
        // document every number is a value (never a key), so quoting it
        // keeps the structure.
        if serde_json::from_slice::<serde::de::IgnoredAny>(text).is_err() {
            return Err(error);
        }
        match quote_numbers_out_of_range(text) {
            Some(quoted) => serde_json::from_slice(&quoted).map_err(|_| error),
            None => Err(error),
        }
    })
}

/// The most values (strings, numbers, keys, arrays, objects…) one payload
/// may hold when it is read as JSON.
///
/// Read into `serde_json::Value`, a page costs some 40 bytes a value: a
/// 5 MB page of 2.5 million numbers took 212 MB, so a hostile or broken
/// upstream's page of `max_body_bytes` (50 MB by default) of `[0,0,0,…]`
/// would take gigabytes, per call, with calls side by side. Five million
/// values is about 200 MB, and ten times a dense real page (a season's
/// player game logs, some 800,000 values).
pub const MAX_JSON_VALUES: u64 = 5_000_000;

/// Bodies up to this size are not counted: they cannot hold more than a
/// fraction of [`MAX_JSON_VALUES`] (a value takes at least two bytes, with
/// its comma), so the small pages of every day pay nothing for the check.
const COUNT_ABOVE_BYTES: usize = 1 << 20;

/// Why `text` is refused as too dense to read, when it holds more than
/// [`MAX_JSON_VALUES`] values; `None` otherwise, and for text that is not
/// valid JSON (the parse that follows says what is wrong with it).
///
/// One pass that builds nothing (memory: the nesting depth), stopping at
/// the first value over the limit. serde_json has no limit of its own on
/// a document's size in values, only on its depth, hence this visitor.
pub fn too_many_values(text: &[u8]) -> Option<String> {
    if text.len() <= COUNT_ABOVE_BYTES {
        return None;
    }
    let over = |text: &[u8]| -> Option<bool> {
        let count = std::cell::Cell::new(0u64);
        let mut reader = serde_json::Deserializer::from_slice(text);
        let walked = serde::de::DeserializeSeed::deserialize(CountValues(&count), &mut reader);
        match walked {
            Ok(()) => Some(false),
            Err(_) if count.get() > MAX_JSON_VALUES => Some(true),
            Err(_) => None,
        }
    };
    let refused = match over(text) {
        Some(over) => over,
        // A number beyond f64 stops serde's walk where it stands, and the
        // parse then reads the document with such numbers quoted
        // (`payload_json`): count that, or a `1e400` up front would let
        // any number of values through. Text that is not JSON at all is
        // left to the parse's own error.
        None => quote_numbers_out_of_range(text).is_some_and(|quoted| over(&quoted) == Some(true)),
    };
    refused.then(|| {
        format!(
            "its JSON holds more than {MAX_JSON_VALUES} values in {}, too many to \
             read (about 40 bytes of memory each); a page this dense is refused",
            rebound_domain::message::format_size(text.len() as u64),
        )
    })
}

/// Counts the values of a document as serde walks it, and stops the walk
/// one past [`MAX_JSON_VALUES`].
#[derive(Clone, Copy)]
struct CountValues<'a>(&'a std::cell::Cell<u64>);

impl CountValues<'_> {
    fn one<E: serde::de::Error>(self) -> Result<(), E> {
        let n = self.0.get() + 1;
        self.0.set(n);
        if n > MAX_JSON_VALUES {
            return Err(E::custom("too many values"));
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for CountValues<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CountValues<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.one()
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.one()
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.one()
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.one()
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.one()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.one()
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.one()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.one()?;
        // A key is a String in the built value: it counts.
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// `text`, a valid JSON document, with every number literal outside f64's
/// range in double quotes; `None` when there is none. A scan of tokens,
/// not a parse: inside strings nothing changes, and outside them a number
/// is the longest run of `-+.eE` and digits starting with `-` or a digit.
fn quote_numbers_out_of_range(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut changed = false;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(text.len());
                out.extend_from_slice(&text[start..i]);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len()
                    && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = &text[start..i];
                // Only a number JSON allows: quoting `01e400` would make
                // an invalid document valid.
                let too_large = is_json_number(number)
                    && std::str::from_utf8(number)
                        .ok()
                        .and_then(|n| n.parse::<f64>().ok())
                        .is_some_and(f64::is_infinite);
                if too_large {
                    changed = true;
                    out.push(b'"');
                    out.extend_from_slice(number);
                    out.push(b'"');
                } else {
                    out.extend_from_slice(number);
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// RFC 8259's number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_json_number(number: &[u8]) -> bool {
    let digits = |at: usize| {
        number[at.min(number.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(number.first() == Some(&b'-'));
    match digits(i) {
        0 => return false,
        n if n > 1 && number[i] == b'0' => return false,
        n => i += n,
    }
    if number.get(i) == Some(&b'.') {
        match digits(i + 1) {
            0 => return false,
            n => i += 1 + n,
        }
    }
    if matches!(number.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(number.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match digits(i) {
            0 => return false,
            n => i += n,
        }
    }
    i == number.len()
}

/// The body as JSON (behind a byte-order mark or not), or the `decode`
/// failure that says what came instead.
fn json_document(body: &[u8], redactor: &Redactor) -> Result<serde_json::Value, Classified> {
    let text = rebound_domain::document::json_text(body);
    if let Some(refused) = too_many_values(text) {
        return Err(Classified::failure(
            ErrorKind::Decode,
            format!("response is not readable: {refused}"),
        ));
    }
    parse_json_text(text).map_err(|error| {
        Classified::failure(
            ErrorKind::Decode,
            format!(
                "response is not valid JSON ({error}): {}",
                body_summary(body, redactor)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body over the counted size that nests deeper than serde_json's
    /// limit stops the count where the parse will stop: no overflow, no
    /// refusal for density, and the parse's own error.
    #[test]
    fn a_deeply_nested_body_is_counted_without_overflow() {
        let deep = "[".repeat(2 << 20);
        assert_eq!(too_many_values(deep.as_bytes()), None);
        let error = payload_json(deep.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("recursion limit exceeded"), "{error}");
    }

    #[test]
    fn a_number_beyond_f64_is_read_as_its_text_not_refused() {
        // Before: "number out of range", a `decode` failure of valid JSON.
        let value =
            payload_json(br#"{"a": 1e400, "b": [-1E+400, 2.5, 1e-400], "c": "1e400"}"#).unwrap();
        assert_eq!(value["a"], "1e400");
        assert_eq!(value["b"][0], "-1E+400");
        assert_eq!(value["b"][1], 2.5);
        assert_eq!(value["c"], "1e400");
        let digits = format!("[{}]", "9".repeat(400));
        assert_eq!(payload_json(digits.as_bytes()).unwrap()[0], "9".repeat(400));
        // Behind a byte-order mark too.
        assert_eq!(payload_json(b"\xEF\xBB\xBF[1e999]").unwrap()[0], "1e999");
        // A string that looks like one is left alone, escapes and all.
        let value = payload_json(br#"["\" 1e400", 1e400]"#).unwrap();
        assert_eq!(value, serde_json::json!(["\" 1e400", "1e400"]));
    }

    #[test]
    fn invalid_json_stays_invalid_with_its_own_error() {
        for text in [
            &b"[01e400]"[..],
            b"[1e400",
            b"{1e400: 1}",
            b"[1e400, 01]",
            b"[.1e400]",
            b"[1.e400]",
            b"[1e400e5]",
        ] {
            let error = payload_json(text).unwrap_err().to_string();
            assert!(!error.is_empty(), "{}", String::from_utf8_lossy(text));
        }
        assert!(is_json_number(b"-0.5e+10"));
        assert!(is_json_number(b"0"));
        assert!(!is_json_number(b"-"));
        assert!(!is_json_number(b"1e"));
        assert!(!is_json_number(b"00"));
    }

    #[test]
    fn a_records_document_with_a_huge_number_is_a_success() {
        let redactor = Redactor::new(Vec::<String>::new());
        let value =
            json_document(br#"{"data": [{"odds": 1e400}, {"odds": 2}]}"#, &redactor).unwrap();
        assert_eq!(value["data"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn later_pages_must_keep_the_records_shape() {
        use AttemptOutcome::*;
        let redactor = Redactor::new(Vec::<String>::new());
        let table: &[(u16, &str, AttemptOutcome, Option<ErrorKind>, &str)] = &[
            (200, r#"{"data":[1,2,3]}"#, Success, None, "3 records"),
            (200, r#"{"data":[]}"#, Success, None, "0 records"),
            (
                200,
                r#"{"items":[1]}"#,
                Permanent,
                Some(ErrorKind::Decode),
                "expected an array of records at /data, as on page 1, found nothing there",
            ),
            (
                200,
                r#"{"data":{"a":1}}"#,
                Permanent,
                Some(ErrorKind::Decode),
                "expected an array of records at /data, as on page 1, found an object",
            ),
            (
                200,
                r#"{"data":null}"#,
                Permanent,
                Some(ErrorKind::Decode),
                "found null",
            ),
            (
                200,
                "<html>",
                Permanent,
                Some(ErrorKind::Decode),
                "not valid JSON",
            ),
            (
                503,
                "busy",
                Retryable,
                Some(ErrorKind::Server),
                "HTTP 503: busy",
            ),
            (404, "gone", NoData, None, "no_data.status"),
        ];
        for (status, body, outcome, kind, excerpt) in table {
            let got = classify_later_page(*status, body.as_bytes(), &rules(), "/data", &redactor);
            assert_eq!(got.outcome, *outcome, "{body}");
            assert_eq!(got.kind, *kind, "{body}");
            assert!(got.message.contains(excerpt), "{body}: {}", got.message);
        }
    }

    fn rules() -> NoDataRules {
        NoDataRules {
            status: vec![404],
            body_contains: vec!["No game found matching query".to_string()],
        }
    }

    /// status, body, records pointer, expected outcome, kind, message excerpt.
    type Case = (
        u16,
        &'static str,
        Option<&'static str>,
        AttemptOutcome,
        Option<ErrorKind>,
        &'static str,
    );

    #[test]
    fn table() {
        use AttemptOutcome::*;
        let table: Vec<Case> = vec![
            (
                200,
                r#"{"data":[1,2]}"#,
                Some("/data"),
                Success,
                None,
                "2 records",
            ),
            (200, r#"[1]"#, Some(""), Success, None, "1 record"),
            (
                200,
                r#"{"data":[]}"#,
                Some("/data"),
                NoData,
                None,
                "records at /data are empty",
            ),
            (
                200,
                r#"{"meta":{}}"#,
                Some("/data"),
                NoData,
                None,
                "no records at /data",
            ),
            (
                200,
                r#"{"data":null}"#,
                Some("/data"),
                NoData,
                None,
                "are null",
            ),
            (
                200,
                r#"{"data":{}}"#,
                Some("/data"),
                Permanent,
                Some(ErrorKind::Decode),
                "found an object",
            ),
            (
                200,
                "<html>",
                Some("/data"),
                Permanent,
                Some(ErrorKind::Decode),
                "not valid JSON",
            ),
            (200, "<html>", None, Success, None, "6 bytes"),
            (404, "gone", Some("/data"), NoData, None, "no_data.status"),
            (
                200,
                r#"{"error":"No game found matching query"}"#,
                Some("/rows"),
                NoData,
                None,
                "body contains",
            ),
            (
                500,
                r#"{"error":"No game found matching query"}"#,
                None,
                NoData,
                None,
                "body contains",
            ),
            (
                429,
                "slow down",
                None,
                Retryable,
                Some(ErrorKind::Throttled),
                "HTTP 429: slow down",
            ),
            (
                503,
                "busy",
                None,
                Retryable,
                Some(ErrorKind::Server),
                "HTTP 503: busy",
            ),
            (
                408,
                "",
                None,
                Retryable,
                Some(ErrorKind::Server),
                "HTTP 408",
            ),
            (
                403,
                "forbidden",
                None,
                Permanent,
                Some(ErrorKind::Client),
                "HTTP 403: forbidden",
            ),
            (
                400,
                "bad",
                Some("/data"),
                Permanent,
                Some(ErrorKind::Client),
                "HTTP 400",
            ),
        ];
        for (status, body, pointer, outcome, kind, needle) in table {
            let got = classify_response(
                status,
                body.as_bytes(),
                &rules(),
                pointer,
                &Redactor::default(),
            );
            assert_eq!(got.outcome, outcome, "{status} {body}");
            assert_eq!(got.kind, kind, "{status} {body}");
            assert!(
                got.message.contains(needle),
                "{status} {body}: {}",
                got.message
            );
        }
    }
}
