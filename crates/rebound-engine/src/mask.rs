//! Masking secrets in stored payloads without breaking them.
//!
//! A body that echoes the request may carry a secret, and the raw store is
//! as readable as the database, so the secret is masked there too. But a
//! payload is data a person will parse: plain text replacement turned a
//! stored `{"data": [1, 2]}` into `[***, 2]` (no longer JSON). So:
//! - a payload without a secret (of the length [`Redactor`] masks at all)
//!   is stored byte-identical, borrowed, not copied;
//! - in a JSON payload, a secret is masked inside the string it appears in
//!   (decoded first, so an escaped echo such as `s3cr\/et` or `\u0073…` is
//!   found too) and the string is written back as valid JSON; a number or
//!   literal holding a secret becomes the string `"***"`; every other byte
//!   stays as it was;
//! - a JSON payload whose secret spans tokens (`[1234, 5678]`), so that no
//!   string or scalar holds it, and any other payload get plain
//!   replacement: a secret is never stored to keep a payload parseable.

use rebound_domain::redact::{MASK, Redactor};
use std::borrow::Cow;

/// One span of the payload to replace.
struct Replacement {
    start: usize,
    end: usize,
    text: Vec<u8>,
}

/// The payload to store: `body` itself unless a secret appears in it.
pub(crate) fn mask_payload<'a>(redactor: &Redactor, body: &'a [u8]) -> Cow<'a, [u8]> {
    if redactor.is_empty() {
        return Cow::Borrowed(body);
    }
    let raw_hit = redactor.finds_secret_in(body);
    let replacements = json_replacements(redactor, body, raw_hit);
    if replacements.is_empty() && !raw_hit {
        return Cow::Borrowed(body);
    }
    // Only now pay for a full parse: the spans above are JSON strings and
    // scalars only if the payload is JSON. JSON as the rest of the code
    // reads a payload (`payload_json`): a plain serde_json parse refuses
    // a number beyond f64 (`1e400`) and a leading byte-order mark, and
    // such a payload was masked as bytes, a number holding a secret left
    // a bare `***` that broke it.
    if rebound_fetch::classify::payload_json(body).is_err() {
        return redactor.redact_bytes(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for replacement in &replacements {
        out.extend_from_slice(&body[at..replacement.start]);
        out.extend_from_slice(&replacement.text);
        at = replacement.end;
    }
    out.extend_from_slice(&body[at..]);
    // A secret can span tokens of valid JSON (`1234, 5678` in an array)
    // and so be in no single string or scalar: then the structure cannot
    // be kept, and plain replacement masks it.
    if raw_hit && redactor.finds_secret_in(&out) {
        return redactor.redact_bytes(body);
    }
    Cow::Owned(out)
}

/// Scans `body` as JSON tokens: each string literal and each bare scalar
/// (number, `true`…) that holds a secret, with what replaces it. The scan
/// is lenient (it does not validate); the caller checks the payload parses.
///
/// `raw_hit`: whether `body` as a whole holds a secret. When it does not,
/// neither does any of its byte spans, so only escaped string literals
/// (whose decoded text is not a span of `body`) are searched: searching
/// every literal and scalar of a large payload for every secret form was
/// the largest single cost in a simulated season's profile (6% of samples).
fn json_replacements(redactor: &Redactor, body: &[u8], raw_hit: bool) -> Vec<Replacement> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let start = i;
                let mut escaped = false;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    if body[i] == b'\\' {
                        escaped = true;
                        i += 1;
                    }
                    i += 1;
                }
                if i >= body.len() {
                    break; // unterminated: not JSON
                }
                let end = i + 1;
                i = end;
                if !raw_hit && !escaped {
                    continue;
                }
                let literal = &body[start..end];
                let decoded: Cow<'_, str> = if escaped {
                    match serde_json::from_slice::<String>(literal) {
                        Ok(text) => Cow::Owned(text),
                        Err(_) => continue,
                    }
                } else {
                    match std::str::from_utf8(&literal[1..literal.len() - 1]) {
                        Ok(text) => Cow::Borrowed(text),
                        Err(_) => continue,
                    }
                };
                if redactor.finds_secret_in(decoded.as_bytes()) {
                    let masked = redactor.redact(&decoded);
                    if let Ok(text) = serde_json::to_vec(masked.as_ref()) {
                        out.push(Replacement { start, end, text });
                    }
                }
            }
            b if is_scalar_byte(b) => {
                let start = i;
                while i < body.len() && is_scalar_byte(body[i]) {
                    i += 1;
                }
                if raw_hit && redactor.finds_secret_in(&body[start..i]) {
                    out.push(Replacement {
                        start,
                        end: i,
                        text: format!("\"{MASK}\"").into_bytes(),
                    });
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// A byte of a bare JSON scalar: not whitespace, structure or a quote.
fn is_scalar_byte(b: u8) -> bool {
    !matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).expect("still JSON")
    }

    #[test]
    fn payloads_without_a_secret_stay_byte_identical() {
        // A short database password equal to digits of the payload, and a
        // one-character key: once `{"data": [***, 2]}`.
        let redactor = Redactor::new(["1", "x", "4711"]);
        for body in [
            &b"{\"data\": [1, 2],  \"x\": 4711, \"s\": \"a\\/b\"}"[..],
            b"[1,2,3]\n",
            b"not json 1 x 4711",
            b"\xff\xfe binary 1",
        ] {
            assert!(matches!(mask_payload(&redactor, body), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn a_secret_in_a_json_string_is_masked_and_the_payload_still_parses() {
        let secret = "sk_live_20_chars_key"; // 20 characters
        let redactor = Redactor::new([secret]);
        let body =
            format!("{{\"echo\": \"apiKey={secret}&x=1\",  \"n\": [1, 2],\n \"{secret}\": true}}");
        let out = mask_payload(&redactor, body.as_bytes());
        let text = std::str::from_utf8(&out).unwrap();
        assert!(!text.contains(secret), "{text}");
        assert_eq!(
            text,
            "{\"echo\": \"apiKey=***&x=1\",  \"n\": [1, 2],\n \"***\": true}"
        );
        parses(&out);
    }

    #[test]
    fn escaped_echoes_are_found_and_rewritten_as_valid_json() {
        let secret = "ab/cd\"ef\\gh-ijkl";
        let redactor = Redactor::new([secret]);
        // `/` escaped as `\/`, a letter as `\u0061`: plain replacement
        // finds neither.
        let body = br#"{"k": "ab\/cd\"ef\\gh-ijkl", "u": "x \u0061b/cd\"ef\\gh-ijkl y", "keep": "\u00e9\/"}"#;
        let out = mask_payload(&redactor, body);
        let value = parses(&out);
        assert_eq!(value["k"], "***");
        assert_eq!(value["u"], "x *** y");
        // Strings without the secret keep their bytes, escapes included.
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .contains(r#""keep": "\u00e9\/""#)
        );
    }

    #[test]
    fn a_secret_as_a_json_number_becomes_a_masked_string() {
        let redactor = Redactor::new(["1234567890123"]);
        let out = mask_payload(&redactor, b"{\"id\": 1234567890123, \"n\": 7}");
        assert_eq!(&*out, b"{\"id\": \"***\", \"n\": 7}");
        parses(&out);
    }

    /// Before: the payload was judged JSON by a plain serde_json parse,
    /// which refuses a number beyond f64 (`1e400`), so such a payload was
    /// masked as bytes: the escaped echo below was not found (the secret
    /// was stored) and a number holding a secret became a bare `***`. The
    /// rest of the code reads payloads with `classify::payload_json`, which
    /// takes `1e400`; masking now judges by it too.
    #[test]
    fn a_payload_with_a_number_beyond_f64_is_masked_as_json() {
        let secret = "ab/cd\"ef\\gh-ijkl";
        let redactor = Redactor::new([secret, "1234567890123"]);
        let body = br#"{"big": 1e400, "k": "ab\/cd\"ef\\gh-ijkl", "u": "x \u0061b/cd\"ef\\gh-ijkl y", "id": 1234567890123}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
        let out = mask_payload(&redactor, body);
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            r#"{"big": 1e400, "k": "***", "u": "x *** y", "id": "***"}"#
        );
        let value = rebound_fetch::classify::payload_json(&out).expect("still JSON");
        assert_eq!(value["k"], "***");
        assert_eq!(value["big"], "1e400");
    }

    /// The same for a leading byte-order mark, which `payload_json` skips
    /// and a plain parse refused; the mark itself is kept.
    #[test]
    fn a_payload_with_a_byte_order_mark_is_masked_as_json() {
        let redactor = Redactor::new(["1234567890123"]);
        let out = mask_payload(&redactor, b"\xEF\xBB\xBF{\"id\": 1234567890123}");
        assert_eq!(&*out, b"\xEF\xBB\xBF{\"id\": \"***\"}");
    }

    #[test]
    fn a_secret_across_json_tokens_is_masked_plainly() {
        let redactor = Redactor::new(["1234, 5678"]);
        let out = mask_payload(&redactor, b"{\"pin\": [1234, 5678], \"n\": 7}");
        assert_eq!(&*out, b"{\"pin\": [***], \"n\": 7}");
    }

    #[test]
    fn other_payloads_get_plain_replacement() {
        let redactor = Redactor::new(["secret-value-42"]);
        let out = mask_payload(&redactor, b"<p>key=secret-value-42</p>\xff");
        assert_eq!(&*out, b"<p>key=***</p>\xff");
        // Not JSON after all (trailing garbage): plain replacement too.
        let out = mask_payload(&redactor, b"{\"k\": \"secret-value-42\"} trailing");
        assert_eq!(&*out, b"{\"k\": \"***\"} trailing");
    }
}
