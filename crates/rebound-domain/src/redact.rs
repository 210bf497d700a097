//! Hiding secret values (those that came from `${VAR}`) in every text that
//! leaves the process: messages, logs, the database, stdout, raw metadata.
//!
//! Redaction works on values, not on field names, because a secret leaks in
//! places nobody planned for: a URL inside a transport error, a response
//! body that echoes the request. Each secret is also matched in its
//! percent-encoded forms, since that is how it appears inside URLs.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::borrow::Cow;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Replaces every known secret value in a text by [`MASK`].
#[derive(Clone, Default)]
pub struct Redactor {
    /// Needles, longest first so that a secret containing another is masked whole.
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

impl Redactor {
    /// Builds a redactor for these secret values. Empty values are ignored:
    /// masking the empty string would mask everything and protect nothing.
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut needles: Vec<String> = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            let encoded = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
            // Query strings are form-encoded by HTTP clients, which leave
            // `-._~` alone and write spaces as `+`.
            let form: String = url_form_encode(secret);
            for needle in [secret.to_string(), encoded, form] {
                if !needles.contains(&needle) {
                    needles.push(needle);
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Redactor { needles }
    }

    /// Whether this redactor knows no secrets.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every secret replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = Cow::Owned(out.replace(needle.as_str(), MASK));
            }
        }
        out
    }

    /// The bytes with every secret replaced by [`MASK`]; used on payloads
    /// that echo the request, which need not be UTF-8.
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out: Cow<'a, [u8]> = Cow::Borrowed(bytes);
        for needle in &self.needles {
            let needle = needle.as_bytes();
            if find_bytes(&out, needle).is_none() {
                continue;
            }
            let mut replaced = Vec::with_capacity(out.len());
            let mut rest: &[u8] = &out;
            while let Some(at) = find_bytes(rest, needle) {
                replaced.extend_from_slice(&rest[..at]);
                replaced.extend_from_slice(MASK.as_bytes());
                rest = &rest[at + needle.len()..];
            }
            replaced.extend_from_slice(rest);
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Owned convenience form of [`Redactor::redact`].
    pub fn redact_string(&self, text: &str) -> String {
        self.redact(text).into_owned()
    }
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn url_form_encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_and_encoded_forms() {
        let redactor = Redactor::new(["s3cr/et key", ""]);
        let text =
            "GET http://h/x?apiKey=s3cr%2Fet+key failed; echo: s3cr/et key; path s3cr%2Fet%20key";
        let out = redactor.redact(text);
        assert!(!out.contains("s3cr"), "{out}");
        assert_eq!(out.matches(MASK).count(), 3, "{out}");
    }

    #[test]
    fn leaves_clean_text_borrowed() {
        let redactor = Redactor::new(["abc123"]);
        assert!(matches!(redactor.redact("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::new(Vec::<String>::new()).is_empty());
    }

    #[test]
    fn masks_bytes() {
        let redactor = Redactor::new(["k3y"]);
        let out = redactor.redact_bytes(b"{\"apiKey\":\"k3y\",\"x\":\"k3yk3y\"}\xff");
        assert_eq!(&*out, b"{\"apiKey\":\"***\",\"x\":\"******\"}\xff");
        assert!(matches!(redactor.redact_bytes(b"clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn longest_secret_masked_whole() {
        let redactor = Redactor::new(["abc", "abcdef"]);
        assert_eq!(redactor.redact("x abcdef y abc"), "x *** y ***");
    }
}
