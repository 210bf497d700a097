//! Human error messages: one per failed call, joined per workflow run.
//!
//! The original system stored an empty error message for every failed run,
//! so nobody could tell a rate limit from an outage. Every failed or skipped
//! call here gets a sentence saying what happened, and the run joins them.

use crate::redact::Redactor;

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
    redactor.excerpt(&collapsed, BODY_SNIPPET_CHARS)
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
    if n == 1 {
        "1 attempt".to_string()
    } else {
        format!("{n} attempts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
