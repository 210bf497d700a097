//! Text with the escapes upstreams write a value in undone, remembering
//! where each escape was, so that a secret found in the plain text can be
//! masked in the original one.
//!
//! An upstream that echoes a request writes the key its own way: JSON's
//! `\uXXXX` for any character (.NET escapes `+`, Go `<>&`, some encoders
//! every character) and `\/` (PHP); percent-encoding with lower-case hex;
//! HTML's numeric character references (`&#47;`, `&#x2F;`). Listing every
//! such form of every secret cannot keep up (they mix within one value), so
//! [`crate::redact::Redactor`] also matches secrets in the text with all of
//! them decoded, and masks the original span.

/// The decoded bytes, and each escape's place in both texts.
pub(crate) struct Unescaped {
    pub bytes: Vec<u8>,
    escapes: Vec<Escape>,
}

/// One escape: `orig_len` bytes at `orig` in the original became
/// `plain_len` bytes at `plain` in the decoded text.
struct Escape {
    plain: usize,
    plain_len: usize,
    orig: usize,
    orig_len: usize,
}

/// `text` with JSON string escapes, percent-escapes (either case) and HTML
/// character references decoded; anything else, a malformed escape
/// included, is copied as it is. `None` when nothing decodes, found
/// without copying: most payloads hold a `&` or `%` that is no escape.
pub(crate) fn unescape(text: &[u8]) -> Option<Unescaped> {
    let first = memchr::memchr3_iter(b'\\', b'%', b'&', text)
        .find(|&at| decode_at(&text[at..]).is_some())?;
    let mut bytes = Vec::with_capacity(text.len());
    bytes.extend_from_slice(&text[..first]);
    let mut escapes = Vec::new();
    let mut i = first;
    while i < text.len() {
        match decode_at(&text[i..]) {
            Some((c, len)) => {
                let mut buf = [0u8; 4];
                let encoded = c.encode_utf8(&mut buf).as_bytes();
                escapes.push(Escape {
                    plain: bytes.len(),
                    plain_len: encoded.len(),
                    orig: i,
                    orig_len: len,
                });
                bytes.extend_from_slice(encoded);
                i += len;
            }
            None => {
                bytes.push(text[i]);
                i += 1;
            }
        }
    }
    Some(Unescaped { bytes, escapes })
}

/// The escape at the start of `text`, decoded, and its length.
fn decode_at(text: &[u8]) -> Option<(char, usize)> {
    match text.first()? {
        b'\\' => json_escape(text),
        b'%' => percent_escape(text),
        b'&' => html_reference(text),
        _ => None,
    }
}

impl Unescaped {
    /// The original span of the decoded bytes `start..end`: widened to
    /// whole escapes at both ends.
    pub(crate) fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.map(start, false), self.map(end - 1, true))
    }

    /// Where decoded byte `at` came from: the start of its escape (or,
    /// with `after`, the end), or the byte itself.
    fn map(&self, at: usize, after: bool) -> usize {
        let before = self.escapes.partition_point(|e| e.plain <= at);
        let Some(e) = before.checked_sub(1).map(|n| &self.escapes[n]) else {
            return at + usize::from(after);
        };
        if at < e.plain + e.plain_len {
            if after { e.orig + e.orig_len } else { e.orig }
        } else {
            e.orig + e.orig_len + (at - e.plain - e.plain_len) + usize::from(after)
        }
    }
}

/// A JSON escape at the start of `text`: the character and the escape's
/// length. A surrogate pair (`\uD83D\uDE00`) is one character.
fn json_escape(text: &[u8]) -> Option<(char, usize)> {
    let c = match *text.get(1)? {
        b'/' => '/',
        b'"' => '"',
        b'\\' => '\\',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let high = hex(text.get(2..6)?)?;
            if (0xD800..0xDC00).contains(&high) {
                if text.get(6..8)? != b"\\u" {
                    return None;
                }
                let low = hex(text.get(8..12)?)?;
                if !(0xDC00..0xE000).contains(&low) {
                    return None;
                }
                let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return Some((char::from_u32(c)?, 12));
            }
            return Some((char::from_u32(high)?, 6));
        }
        _ => return None,
    };
    Some((c, 2))
}

/// A percent-escape at the start of `text`: of an ASCII byte (`%2f`,
/// `%2F`), or the escapes of every byte of one UTF-8 character
/// (`%C3%A1`). A URL parser encodes a path's non-ASCII characters and
/// leaves most ASCII alone, so a key `…/vál…` in a scraper's path was
/// echoed as `…/v%C3%A1l…`, a form no listed needle matched, and printed in
/// clear. A byte that does not start a whole character stays as it is.
fn percent_escape(text: &[u8]) -> Option<(char, usize)> {
    let byte = |n: usize| -> Option<u8> {
        let at = 3 * n;
        if *text.get(at)? != b'%' {
            return None;
        }
        u8::try_from(hex(text.get(at + 1..at + 3)?)?).ok()
    };
    let lead = byte(0)?;
    let len = match lead {
        0x00..=0x7F => return Some((char::from(lead), 3)),
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let mut utf8 = [lead, 0, 0, 0];
    for (n, slot) in utf8.iter_mut().enumerate().take(len).skip(1) {
        *slot = byte(n)?;
    }
    let c = std::str::from_utf8(&utf8[..len]).ok()?.chars().next()?;
    Some((c, 3 * len))
}

/// An HTML character reference at the start of `text`: `&#47;`,
/// `&#x2F;`, or one of the five named ones XML has.
fn html_reference(text: &[u8]) -> Option<(char, usize)> {
    let end = text.iter().take(12).position(|&b| b == b';')?;
    let name = &text[1..end];
    let c = match name {
        b"amp" => '&',
        b"lt" => '<',
        b"gt" => '>',
        b"quot" => '"',
        b"apos" => '\'',
        [b'#', b'x' | b'X', digits @ ..] => char::from_u32(hex(digits)?)?,
        [b'#', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            char::from_u32(std::str::from_utf8(digits).ok()?.parse().ok()?)?
        }
        _ => return None,
    };
    Some((c, end + 1))
}

fn hex(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_escape_and_maps_back_to_whole_escapes() {
        let text = br#"k=a\/b\u002Bc%2fd&#47;e&#x2F;f&amp;g\ud83d\ude00h %zz \q &bogus;"#;
        let u = unescape(text).unwrap();
        assert_eq!(
            String::from_utf8(u.bytes.clone()).unwrap(),
            "k=a/b+c/d/e/f&g\u{1F600}h %zz \\q &bogus;"
        );
        // "b+c" in the decoded text is "b\u002Bc" in the original.
        let plain = std::str::from_utf8(&u.bytes).unwrap();
        let start = plain.find("b+c").unwrap();
        let (s, e) = u.original(start, start + 3);
        assert_eq!(&text[s..e], br"b\u002Bc");
        // A match that ends inside a multi-byte character's escape takes it whole.
        let start = plain.find('g').unwrap();
        let (s, e) = u.original(start, start + 2);
        assert_eq!(&text[s..e], br"g\ud83d\ude00");
        // Plain text before any escape maps to itself.
        assert_eq!(u.original(0, 2), (0, 2));
        // Nothing that decodes: no copy.
        assert!(unescape(b"a=1&b=2 100% \\q").is_none());
    }

    #[test]
    fn decodes_a_percent_encoded_utf8_character_whole() {
        let text = b"/v%C3%A1l/%e2%82%ac/%F0%9F%98%80/%C3/%C3%41/%FF%A1/%E2%82";
        let u = unescape(text).unwrap();
        assert_eq!(
            String::from_utf8(u.bytes.clone()).unwrap(),
            "/v\u{e1}l/\u{20ac}/\u{1F600}/%C3/%C3A/%FF%A1/%E2%82"
        );
        // "vál" maps back to the escapes of "á" whole.
        let (s, e) = u.original(1, 5);
        assert_eq!(&text[s..e], b"v%C3%A1l");
    }
}
