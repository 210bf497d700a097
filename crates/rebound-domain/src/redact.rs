//! Hiding secret values (those that came from `${VAR}`) in every text that
//! leaves the process: messages, logs, the database, stdout, raw metadata.
//!
//! Redaction works on values, not on field names, because a secret leaks in
//! places nobody planned for: a URL inside a transport error, a response
//! body that echoes the request. Each secret is also matched in its
//! percent-encoded forms, since that is how it appears inside URLs, and in
//! its JSON-escaped form, since that is how a JSON body echoes it.
//!
//! Plain text replacement is only safe for values long enough not to occur
//! by chance: with a one-character key, every `x` in `examples` became a
//! mask and a stored `[1, 2]` lost its `1`. So a secret is masked anywhere
//! only from [`MIN_MASKED_CHARS`] characters on (every secret sent to an
//! upstream is at least that long: shorter ones are refused before any
//! request). A shorter secret, such as a database password, is masked only
//! where it is a whole URL password (`://user:***@host`), and, in a message
//! that quotes what a person wrote ([`Redactor::redact_message`]), where it
//! is a whole quoted value (`found "***"`); never inside other text.
//!
//! Listing forms cannot keep up with how upstreams echo a key (`\u002B`
//! for `+`, `\/`, `%2f`, `&#47;`, mixed within one value), so secrets of
//! [`MIN_MASKED_CHARS`] and more are also matched in the text with its
//! escapes decoded (`crate::unescape`), and the whole escaped span is
//! masked.
//!
//! Excerpts are masked first and cut second ([`Redactor::excerpt`]): cutting
//! first would leave the part of a secret before the cut unmasked. A cut
//! excerpt that still ends in the start of a secret (an upstream echoing a
//! truncated key, say) has that start masked too, from
//! [`MIN_MASKED_PREFIX_CHARS`] characters on.

use crate::message::truncate_chars;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::borrow::Cow;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Secrets of at least this many characters are masked wherever they
/// appear; shorter ones only as a URL's password.
pub const MIN_MASKED_CHARS: usize = 8;

/// The shortest secret Rebound sends to an upstream (commands that send
/// requests refuse shorter ones): exactly what is masked everywhere.
pub const MIN_UPSTREAM_SECRET_CHARS: usize = MIN_MASKED_CHARS;

/// The shortest start of a secret masked at the end of an excerpt.
pub const MIN_MASKED_PREFIX_CHARS: usize = 6;

/// Replaces every known secret value in a text by [`MASK`].
#[derive(Clone, Default)]
pub struct Redactor {
    /// Needles, longest first so that a secret containing another is masked whole.
    needles: Vec<String>,
    /// Secrets shorter than [`MIN_MASKED_CHARS`], in their URL forms: masked
    /// only between `:` and `@` (a URL's password).
    url_passwords: Vec<String>,
    /// Secrets shorter than [`MIN_MASKED_CHARS`] as a message quotes a whole
    /// value (`"abc"`, `` `abc` ``): masked only by [`Redactor::redact_message`].
    quoted: Vec<String>,
    /// Secrets of at least [`MIN_MASKED_CHARS`] as they are, matched in the
    /// text with its escapes decoded (`crate::unescape`).
    plain: Vec<String>,
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
        let mut url_passwords: Vec<String> = Vec::new();
        let mut quoted: Vec<String> = Vec::new();
        let mut plain: Vec<String> = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            let encoded = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
            // Query strings are form-encoded by HTTP clients, which leave
            // `-._~` alone and write spaces as `+`.
            let form: String = url_form_encode(secret);
            if secret.chars().count() < MIN_MASKED_CHARS {
                // In a URL's userinfo, `@` and `:` are always encoded, so
                // `:secret@` cannot start or end inside the password.
                let userinfo = utf8_percent_encode(secret, USERINFO).to_string();
                for form in [secret.to_string(), encoded, userinfo] {
                    let needle = format!(":{form}@");
                    if !url_passwords.contains(&needle) {
                        url_passwords.push(needle);
                    }
                }
                for needle in [format!("{secret:?}"), format!("`{secret}`")] {
                    if !quoted.contains(&needle) {
                        quoted.push(needle);
                    }
                }
                continue;
            }
            plain.push(secret.to_string());
            let rewritten = url_rewritten(secret);
            for needle in [secret.to_string(), encoded, form, json_escape(secret)]
                .into_iter()
                .chain(rewritten.clone())
            {
                if !needles.contains(&needle) {
                    needles.push(needle);
                }
            }
            plain.extend(rewritten);
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        url_passwords.sort_by_key(|n| std::cmp::Reverse(n.len()));
        quoted.sort_by_key(|n| std::cmp::Reverse(n.len()));
        plain.sort_by_key(|n| std::cmp::Reverse(n.len()));
        plain.dedup();
        Redactor {
            needles,
            url_passwords,
            quoted,
            plain,
        }
    }

    /// Whether this redactor knows no secrets.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty() && self.url_passwords.is_empty()
    }

    /// The text with every secret replaced by [`MASK`] (short ones only as
    /// a URL's password, see the module doc).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = Cow::Owned(out.replace(needle.as_str(), MASK));
            }
        }
        if let Some(masked) = self.mask_escaped(out.as_bytes()) {
            out = Cow::Owned(String::from_utf8_lossy(&masked).into_owned());
        }
        for needle in &self.url_passwords {
            if out.contains(needle.as_str()) {
                out = Cow::Owned(out.replace(needle.as_str(), ":***@"));
            }
        }
        out
    }

    /// Whether `bytes` hold a secret that [`Redactor::redact_bytes`] would
    /// mask (short secrets never are).
    pub fn finds_secret_in(&self, bytes: &[u8]) -> bool {
        self.needles
            .iter()
            .any(|needle| find_bytes(bytes, needle.as_bytes()).is_some())
            || !self.escaped_spans(bytes, true).is_empty()
    }

    /// Where `text` holds a secret written with escapes (`\u002B`, `%2f`,
    /// `&#47;`, mixed), as spans of `text`; with `first`, at most one.
    fn escaped_spans(&self, text: &[u8], first: bool) -> Vec<(usize, usize)> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        if self.plain.is_empty() {
            return spans;
        }
        let Some(decoded) = crate::unescape::unescape(text) else {
            return spans;
        };
        for secret in &self.plain {
            let mut from = 0;
            while let Some(at) = find_bytes(&decoded.bytes[from..], secret.as_bytes()) {
                let start = from + at;
                spans.push(decoded.original(start, start + secret.len()));
                if first {
                    return spans;
                }
                from = start + secret.len();
            }
        }
        spans
    }

    /// `text` with every secret written with escapes masked (the whole
    /// escaped span becomes [`MASK`]), or `None` when it holds none.
    fn mask_escaped(&self, text: &[u8]) -> Option<Vec<u8>> {
        let mut spans = self.escaped_spans(text, false);
        if spans.is_empty() {
            return None;
        }
        spans.sort_unstable();
        let mut out = Vec::with_capacity(text.len());
        let mut copied = 0;
        for (start, end) in spans {
            if start >= copied {
                out.extend_from_slice(&text[copied..start]);
                out.extend_from_slice(MASK.as_bytes());
            }
            copied = copied.max(end);
        }
        out.extend_from_slice(&text[copied..]);
        Some(out)
    }

    /// At most `max_chars` characters of `text` for a message: masked
    /// first, then cut (ending with `…` when cut), and a start of a secret
    /// left at the very end masked as well.
    pub fn excerpt(&self, text: &str, max_chars: usize) -> String {
        let cut = truncate_chars(&self.redact(text), max_chars);
        self.mask_trailing_prefix(cut)
    }

    /// Masks the longest start of a secret, of at least
    /// [`MIN_MASKED_PREFIX_CHARS`] characters, that ends `text` (before a
    /// final `…`).
    fn mask_trailing_prefix(&self, mut text: String) -> String {
        let body_len = text.strip_suffix('…').unwrap_or(&text).len();
        let body = &text[..body_len];
        let mut longest = 0;
        for needle in &self.needles {
            // Proper prefixes only: a whole secret was masked already.
            let ends: Vec<usize> = needle.char_indices().map(|(i, _)| i).collect();
            for &end in ends.iter().skip(MIN_MASKED_PREFIX_CHARS).rev() {
                if end <= longest {
                    break;
                }
                if body.ends_with(&needle[..end]) {
                    longest = end;
                    break;
                }
            }
        }
        if longest > 0 {
            text.replace_range(body_len - longest..body_len, MASK);
        }
        text
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
        if let Some(masked) = self.mask_escaped(&out) {
            out = Cow::Owned(masked);
        }
        out
    }

    /// Owned convenience form of [`Redactor::redact`].
    pub fn redact_string(&self, text: &str) -> String {
        self.redact(text).into_owned()
    }

    /// [`Redactor::redact`] for a message that quotes a value a person
    /// wrote, such as a config error's `found "abc"`: a short secret is
    /// also masked where it is a whole quoted value. Quoted, a short value
    /// no longer matches inside ordinary words, and a config error that
    /// quoted a 5-character `${DB_PASSWORD}` showed it in clear.
    pub fn redact_message(&self, text: &str) -> String {
        let mut out = self.redact_string(text);
        for needle in &self.quoted {
            if out.contains(needle.as_str()) {
                let mask = if needle.starts_with('`') {
                    "`***`"
                } else {
                    "\"***\""
                };
                out = out.replace(needle.as_str(), mask);
            }
        }
        out
    }
}

/// The first `needle` in `haystack`. A payload can be megabytes and is
/// searched once per secret form, so this is memchr's vectorised search
/// (a window-by-window comparison was 5% of a simulated season's CPU).
fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(haystack, needle)
}

/// A secret as a URL parser rewrites it in a path, when that is not an
/// escape `crate::unescape` can undo: WHATWG URL parsing (the `url` crate,
/// so every request Rebound sends) turns `\` into `/` in http(s) URLs and
/// drops tabs and line ends. A key holding `\`, used in a scraper's path,
/// was sent and echoed as `…/…` and printed in clear. `None` when nothing
/// is rewritten or too little is left to mask safely.
fn url_rewritten(secret: &str) -> Option<String> {
    if !secret.contains(['\\', '\t', '\n', '\r']) {
        return None;
    }
    let rewritten: String = secret
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    (rewritten.chars().count() >= MIN_MASKED_CHARS).then_some(rewritten)
}

/// The characters percent-encoded in a URL's userinfo (RFC 3986 allows
/// unreserved characters and sub-delims there).
const USERINFO: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// The secret as a JSON string literal writes it (without the quotes): how
/// a JSON body echoing it usually looks. Other escapings are matched by
/// decoding the text (`crate::unescape`).
fn json_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
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
    fn a_message_masks_a_short_secret_only_where_it_is_a_whole_quoted_value() {
        let r = Redactor::new(["abc", "a\"b"]);
        assert_eq!(
            r.redact_message("found \"abc\", not abcde, \"abcd\" or (at `abc`); \"a\\\"b\""),
            "found \"***\", not abcde, \"abcd\" or (at `***`); \"***\""
        );
        // Ordinary redaction leaves short secrets alone outside URLs.
        assert_eq!(r.redact("found \"abc\""), "found \"abc\"");
    }

    #[test]
    fn masks_plain_and_encoded_forms() {
        let redactor = Redactor::new(["s3cr/et key", ""]);
        let text =
            "GET http://h/x?apiKey=s3cr%2Fet+key failed; echo: s3cr/et key; path s3cr%2Fet%20key";
        let out = redactor.redact(text);
        assert!(!out.contains("s3cr"), "{out}");
        assert_eq!(out.matches(MASK).count(), 3, "{out}");
        // As a JSON body echoes it.
        let redactor = Redactor::new(["quo\"te\\key"]);
        let out = redactor.redact(r#"{"echo":"quo\"te\\key"}"#);
        assert_eq!(out, r#"{"echo":"***"}"#);
    }

    /// Before: a key echoed by PHP (`/` as `\/`), .NET (`+` as `\u002B`),
    /// with lower-case percent-escapes or HTML references was stored and
    /// printed in clear.
    #[test]
    fn masks_the_escapings_json_encoders_commonly_use() {
        let redactor = Redactor::new(["abcD/EFgh+ij==", "pä/ss<wörd>&1"]);
        for echoed in [
            r#"{"key":"abcD\/EFgh+ij=="}"#,
            r#"{"key":"abcD/EFgh\u002Bij=="}"#,
            r#"{"key":"\u0061\u0062\u0063\u0044\u002F\u0045\u0046\u0067\u0068\u002b\u0069\u006A\u003d\u003D"}"#,
            r#"{"key":"abcD%2fEFgh%2bij%3d%3d"}"#,
            r#"{"key":"abcD&#47;EFgh&#x2B;ij=="}"#,
            r#"{"key":"p\u00e4/ss<w\u00f6rd>&1"}"#,
            r#"{"key":"p\u00e4\/ss<w\u00f6rd>&1"}"#,
            r#"{"key":"pä/ss\u003cwörd\u003e\u00261"}"#,
            r#"{"key":"pä&#x2f;ss&lt;wörd&gt;&amp;1"}"#,
        ] {
            assert_eq!(redactor.redact(echoed), r#"{"key":"***"}"#, "{echoed}");
            assert!(redactor.finds_secret_in(echoed.as_bytes()), "{echoed}");
        }
    }

    /// Before: a key holding `\\` used in a path was sent as `/` (URL
    /// parsing) and an upstream echoing the path showed it in clear.
    #[test]
    fn masks_a_secret_as_url_parsing_rewrites_it() {
        let redactor = Redactor::new(["Sup3rS3cret\\Value42", "tab\tbed-key-1"]);
        assert_eq!(
            redactor.redact(r#"{"path": "/echoh/Sup3rS3cret/Value42"}"#),
            r#"{"path": "/echoh/***"}"#
        );
        assert_eq!(redactor.redact("/x/tabbed-key-1/y"), "/x/***/y");
        // The URL as sent, percent-escapes and all.
        let url = url::Url::parse("http://h/a/Sup3rS3cret\\Value42%20x").unwrap();
        assert_eq!(redactor.redact(url.as_str()), "http://h/a/***%20x");
    }

    #[test]
    fn masks_a_secret_a_url_path_encodes_only_in_part() {
        // A path keeps `/` and `+` and encodes `á`, space and `"`: neither
        // the secret nor its wholly encoded form was in the echo.
        let secret = "top secret/v\u{e1}l+ue\"1";
        let redactor = Redactor::new([secret]);
        let url = url::Url::parse(&format!("http://h/echo/{secret}/x")).unwrap();
        assert_eq!(url.path(), "/echo/top%20secret/v%C3%A1l+ue%221/x");
        assert_eq!(redactor.redact(url.as_str()), "http://h/echo/***/x");
        assert_eq!(
            redactor.redact(r#"{"you_sent": "/echo/top%20secret/v%c3%a1l+ue%221"}"#),
            r#"{"you_sent": "/echo/***"}"#
        );
    }

    #[test]
    fn leaves_clean_text_borrowed() {
        let redactor = Redactor::new(["abc12345"]);
        assert!(matches!(redactor.redact("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::new(Vec::<String>::new()).is_empty());
    }

    #[test]
    fn masks_bytes() {
        let redactor = Redactor::new(["k3y-k3y!"]);
        let out =
            redactor.redact_bytes(b"{\"apiKey\":\"k3y-k3y!\",\"x\":\"k3y-k3y!k3y-k3y!\"}\xff");
        assert_eq!(&*out, b"{\"apiKey\":\"***\",\"x\":\"******\"}\xff");
        assert!(matches!(redactor.redact_bytes(b"clean"), Cow::Borrowed(_)));
        assert!(redactor.finds_secret_in(b"..k3y-k3y!.."));
        assert!(!redactor.finds_secret_in(b"..k3y-k3y.."));
    }

    #[test]
    fn longest_secret_masked_whole() {
        let redactor = Redactor::new(["abcdefgh", "abcdefghijkl"]);
        assert_eq!(redactor.redact("x abcdefghijkl y abcdefgh"), "x *** y ***");
    }

    #[test]
    fn short_secrets_never_corrupt_text() {
        // The README once exported a one-character key: `check` printed
        // `e***amples` and a payload `[1, 2]` became `[***, 2]`.
        let redactor = Redactor::new(["x", "1", "pw7chrs"]);
        let text = "see examples in [1, 2], pw7chrs";
        assert!(matches!(redactor.redact(text), Cow::Borrowed(_)));
        assert!(matches!(redactor.redact_bytes(b"[1, 2]"), Cow::Borrowed(_)));
        assert!(!redactor.finds_secret_in(b"{\"data\": [1, 2]}"));
        // ...but a short database password is still masked in its URL.
        assert_eq!(
            redactor.redact("cannot connect to postgres://app:pw7chrs@db:5432/x (x marks)"),
            "cannot connect to postgres://app:***@db:5432/x (x marks)"
        );
        let redactor = Redactor::new(["p@ss"]);
        assert_eq!(
            redactor.redact("postgres://app:p%40ss@db/x"),
            "postgres://app:***@db/x"
        );
    }

    #[test]
    fn excerpts_mask_before_cutting() {
        let secret = "sk_live_0123456789abcdefghij"; // 28 characters
        let redactor = Redactor::new([secret]);
        // The secret straddles the cut at 200: cut first, then masked,
        // 26 of its 28 characters survived.
        for at in 180..200 {
            let text = format!("{}{secret} and more", "y".repeat(at));
            let out = redactor.excerpt(&text, 200);
            assert!(out.chars().count() <= 200, "{out}");
            for n in MIN_MASKED_PREFIX_CHARS..=secret.len() {
                assert!(!out.contains(&secret[..n]), "at {at}: {out}");
            }
        }
        // A text that itself ends in the start of a secret (an echo cut by
        // the upstream) has it masked, from 6 characters on.
        let out = redactor.excerpt("echo: sk_live_0123", 200);
        assert_eq!(out, "echo: ***");
        let out = redactor.excerpt("echo: sk_liv", 200);
        assert_eq!(out, "echo: ***");
        let out = redactor.excerpt("echo: sk_li", 200);
        assert_eq!(out, "echo: sk_li");
        let cut = redactor.excerpt(&format!("{}sk_live_01 tail", "z".repeat(190)), 201);
        assert!(cut.ends_with("z***…"), "{cut}");
        let long = format!("{}{secret}", "é".repeat(300));
        let out = redactor.excerpt(&long, 200);
        assert_eq!(out.chars().count(), 200);
    }
}
