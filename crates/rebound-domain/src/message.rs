//! Human error messages: one per failed call, joined per workflow run.
//!
//! The original system stored an empty error message for every failed run,
//! so nobody could tell a rate limit from an outage. Every failed or skipped
//! call here gets a sentence saying what happened, and the run joins them.

use crate::redact::Redactor;

/// An instant for people: `2026-11-28 02:56 EST (-05:00)`, in `tz` (the
/// pipeline's zone), the one form every human-facing text uses
/// (docs/output.md); JSON carries RFC 3339 UTC instead.
pub fn when(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z (%:z)")
        .to_string()
}

/// [`when`] to the second, for an instant a reader may act on to the
/// second (a breaker's next probe, a pause's end, a stored retry):
/// `2026-01-05 05:02:30 EST (-05:00)`. Messages read in the pipeline's
/// zone like every other text for people; these were UTC (`…Z`) beside
/// local times in the same alert line.
pub fn when_exact(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z (%:z)")
        .to_string()
}

/// The workflow `error_message` limit, in characters.
pub const MAX_WORKFLOW_MESSAGE_CHARS: usize = 1000;
/// How much of a response body goes into a message, in characters.
pub const BODY_SNIPPET_CHARS: usize = 200;

/// The first `max_chars` characters of `text`, cut on a character boundary,
/// ending with `…` when something was cut (the result stays within `max_chars`).
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

/// A body excerpt for messages: secrets masked, whitespace runs collapsed,
/// at most [`BODY_SNIPPET_CHARS`] characters, invalid UTF-8 replaced. The
/// whole body is masked before it is cut (see [`Redactor::excerpt`]).
pub fn body_snippet(body: &[u8], redactor: &Redactor) -> String {
    let text = String::from_utf8_lossy(body);
    let masked = redactor.redact(&text);
    let collapsed = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    redactor.excerpt(&escape_controls(&collapsed, false), BODY_SNIPPET_CHARS)
}

/// `text` with every control character written as an escape (`\u{1b}`),
/// line ends aside with `keep_line_ends`: an upstream's bytes reach log
/// lines, terminals and the database through messages and tables, and an
/// escape sequence in an error page cleared the screen of whoever read the
/// log.
pub fn escape_controls(text: &str, keep_line_ends: bool) -> String {
    // Bidirectional controls too (U+202E turns the rest of a line around):
    // not control characters to Unicode, but an upstream's id holding one
    // made a table line read backwards.
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let escaped = |c: char| (c.is_control() && !(keep_line_ends && c == '\n')) || bidi(c);
    if !text.chars().any(escaped) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if escaped(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What a failure's message says of a response body: an HTML page is
/// summarised by its title and size (`HTML page "Service Unavailable" (4
/// KB)`), since a CDN's or proxy's error page is markup and styles whose
/// first 200 characters say nothing and fill `rebound status` and every
/// `backfill` line; any other body is its [`body_snippet`].
pub fn body_summary(body: &[u8], redactor: &Redactor) -> String {
    match html_page(body, redactor) {
        Some(summary) => summary,
        // Said in words: `HTTP 503 after 3 attempts: ` ended on a colon.
        None if body.iter().all(u8::is_ascii_whitespace) => "empty body".to_string(),
        None => body_snippet(body, redactor),
    }
}

/// How long a page title may be in a message, in characters.
const TITLE_CHARS: usize = 80;

/// `HTML page "Title" (4 KB)`, or `HTML page (4 KB)` without a title;
/// `None` when the body is not HTML. The title is masked like any excerpt.
pub fn html_page(body: &[u8], redactor: &Redactor) -> Option<String> {
    if !crate::document::looks_like_html(body) {
        return None;
    }
    let size = format_size(body.len() as u64);
    Some(match html_title(body) {
        Some(title) => format!(
            "HTML page \"{}\" ({size})",
            redactor.excerpt(
                &escape_controls(&redactor.redact(&title), false),
                TITLE_CHARS
            )
        ),
        None => format!("HTML page ({size})"),
    })
}

/// The text of the first `<title>`, whitespace collapsed and the common
/// entities decoded; `None` when there is none or it is empty.
fn html_title(body: &[u8]) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let find = |needle: &[u8], from: usize| {
        lower
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let open = find(b"<title", 0)?;
    let start = open + lower.get(open..)?.iter().position(|b| *b == b'>')? + 1;
    let end = find(b"</title", start)?;
    let text = String::from_utf8_lossy(&body[start..end]);
    let text = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    (!text.is_empty()).then_some(text)
}

/// A size for people: `312 bytes`, `4 KB`, `1.5 MB` (1024-based, rounded).
pub fn format_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes < KB {
        format!("{bytes} bytes")
    } else if bytes < MB {
        format!("{} KB", (bytes + KB / 2) / KB)
    } else {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    }
}

/// Joins `(scraper, message)` pairs as `a: msg | b: msg`, at most
/// [`MAX_WORKFLOW_MESSAGE_CHARS`] characters, masked before the cut.
/// `None` when there is nothing to join.
pub fn aggregate_errors<'a, I>(failures: I, redactor: &Redactor) -> Option<String>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let parts: Vec<String> = failures
        .into_iter()
        .map(|(name, message)| format!("{name}: {message}"))
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(redactor.excerpt(&parts.join(" | "), MAX_WORKFLOW_MESSAGE_CHARS))
}

/// `"1 attempt"` / `"3 attempts"`.
pub fn attempts_phrase(n: u32) -> String {
    plural(u64::from(n), "attempt", "attempts")
}

/// A count with its noun: `plural(1, "run", "runs")` is `"1 run"`, any
/// other count takes `many` (`"0 runs"`, `"2 runs"`). Both forms are
/// spelt out by the caller, so irregular nouns (`entity`, `entities`)
/// need no rule. Every count printed for people goes through this ("1
/// failed calls" was a bug of several commands).
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: U+202E passed through, and a table line holding an
    /// upstream's id read backwards from there on.
    #[test]
    fn bidirectional_controls_are_escaped_with_the_control_characters() {
        assert_eq!(
            escape_controls("id \u{202e}cba\u{2066}x\u{1b}[2J", false),
            "id \\u{202e}cba\\u{2066}x\\u{1b}[2J"
        );
        assert_eq!(
            escape_controls("é and 中文\nnext", true),
            "é and 中文\nnext"
        );
    }

    #[test]
    fn joins_with_pipes() {
        let joined = aggregate_errors(
            [
                ("a", "HTTP 503 after 3 attempts: busy"),
                ("b", "timeout after 20s (3 attempts)"),
            ],
            &Redactor::default(),
        );
        assert_eq!(
            joined.as_deref(),
            Some("a: HTTP 503 after 3 attempts: busy | b: timeout after 20s (3 attempts)")
        );
        assert_eq!(
            aggregate_errors(std::iter::empty(), &Redactor::default()),
            None
        );
    }

    #[test]
    fn truncates_on_char_boundary() {
        // Multi-byte characters straddle the limit: byte slicing would panic.
        let long = "é".repeat(600);
        let messages: Vec<(String, String)> =
            (0..3).map(|i| (format!("s{i}"), long.clone())).collect();
        let joined = aggregate_errors(
            messages.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            &Redactor::default(),
        )
        .unwrap();
        assert_eq!(joined.chars().count(), MAX_WORKFLOW_MESSAGE_CHARS);
        assert!(joined.ends_with('…'));
        assert!(joined.starts_with("s0: éé"));
    }

    #[test]
    fn snippets_are_short_and_single_line() {
        let body = format!("<html>\n  <body>{}</body>\n</html>", "x".repeat(500));
        let snippet = body_snippet(body.as_bytes(), &Redactor::default());
        assert_eq!(snippet.chars().count(), BODY_SNIPPET_CHARS);
        assert!(!snippet.contains('\n'));
        assert_eq!(
            body_snippet(&[0xff, b'o', b'k'], &Redactor::default()),
            "\u{fffd}ok"
        );
        assert_eq!(attempts_phrase(1), "1 attempt");
        assert_eq!(attempts_phrase(3), "3 attempts");
        assert_eq!(plural(1, "entity", "entities"), "1 entity");
        assert_eq!(plural(0, "entity", "entities"), "0 entities");
    }

    /// Before: an error body's escape sequences reached log lines raw
    /// (clearing the reader's screen, setting the terminal's title).
    #[test]
    fn control_characters_of_a_body_are_escaped() {
        let body = b"\x1b[2J\x1b[32mALL GOOD\x1b]0;pwned\x07 ok\x08";
        assert_eq!(
            body_snippet(body, &Redactor::default()),
            "\\u{1b}[2J\\u{1b}[32mALL GOOD\\u{1b}]0;pwned\\u{7} ok\\u{8}"
        );
        let page = b"<html><title>\x1b[2Jdown</title></html>";
        assert_eq!(
            body_summary(page, &Redactor::default()),
            "HTML page \"\\u{1b}[2Jdown\" (36 bytes)"
        );
    }

    /// Before: an empty error body left `HTTP 503 after 3 attempts: `.
    #[test]
    fn an_empty_body_is_said_in_words() {
        for body in [&b""[..], b" \r\n"] {
            assert_eq!(body_summary(body, &Redactor::default()), "empty body");
        }
        assert_eq!(body_summary(b"down", &Redactor::default()), "down");
    }

    #[test]
    fn an_html_page_is_summarised_by_its_title_and_size() {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><style>{}</style>\n<TITLE>\n  Service   Unavailable </TITLE></head><body>down</body></html>",
            "body { margin: 0 } ".repeat(200)
        );
        assert_eq!(
            body_summary(page.as_bytes(), &Redactor::default()),
            "HTML page \"Service Unavailable\" (4 KB)"
        );
        assert_eq!(
            body_summary(b"<html><body>oops</body></html>", &Redactor::default()),
            "HTML page (30 bytes)"
        );
        // A secret echoed into the title is masked; entities are decoded.
        let redactor = Redactor::new(["sk_live_0123456789"]);
        assert_eq!(
            body_summary(
                b"<html><title>Bad key sk_live_0123456789 &amp; more</title></html>",
                &redactor
            ),
            "HTML page \"Bad key *** & more\" (65 bytes)"
        );
        // Anything else is the snippet it was.
        assert_eq!(
            body_summary(b"{\"error\": \"busy\"}", &Redactor::default()),
            "{\"error\": \"busy\"}"
        );
        assert_eq!(format_size(1536 * 1024), "1.5 MB");
    }

    #[test]
    fn a_secret_straddling_a_cut_is_masked_whole() {
        // Cut first and masked second, 26 of these 28 characters survived.
        let secret = "sk_live_0123456789abcdefghij";
        let redactor = Redactor::new([secret]);
        let body = format!("{}{secret}{}", "b".repeat(190), "c".repeat(50));
        let snippet = body_snippet(body.as_bytes(), &redactor);
        assert!(snippet.contains("***"), "{snippet}");
        let message = format!("{}{secret}", "m".repeat(985));
        let joined = aggregate_errors([("s", message.as_str())], &redactor).unwrap();
        for text in [&snippet, &joined] {
            for n in 6..=secret.len() {
                assert!(!text.contains(&secret[..n]), "{text}");
            }
        }
    }
}

#[cfg(test)]
mod when_exact_tests {
    use super::when_exact;

    /// A pause or retry clamped to the last instant chrono can hold
    /// (`duration::add_saturating`) is still written, in a zone east of
    /// UTC too, where its local time lies past that instant.
    #[test]
    fn the_last_instant_is_written_in_any_zone() {
        let max = chrono::DateTime::<chrono::Utc>::MAX_UTC;
        for tz in [
            chrono_tz::UTC,
            chrono_tz::Asia::Tokyo,
            chrono_tz::America::New_York,
        ] {
            assert!(!when_exact(max, tz).is_empty());
        }
        let min = chrono::DateTime::<chrono::Utc>::MIN_UTC;
        assert!(!when_exact(min, chrono_tz::America::New_York).is_empty());
    }
}
