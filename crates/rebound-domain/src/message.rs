//! Human error messages: one per failed call, joined per workflow run.
//!
//! The original system stored an empty error message for every failed run,
//! so nobody could tell a rate limit from an outage. Every failed or skipped
//! call here gets a sentence saying what happened, and the run joins them.

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

/// A body excerpt for messages: whitespace runs collapsed, at most
/// [`BODY_SNIPPET_CHARS`] characters, invalid UTF-8 replaced.
pub fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&collapsed, BODY_SNIPPET_CHARS)
}

/// Joins `(scraper, message)` pairs as `a: msg | b: msg`, at most
/// [`MAX_WORKFLOW_MESSAGE_CHARS`] characters. `None` when there is nothing to join.
pub fn aggregate_errors<'a, I>(failures: I) -> Option<String>
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
    Some(truncate_chars(
        &parts.join(" | "),
        MAX_WORKFLOW_MESSAGE_CHARS,
    ))
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
        let joined = aggregate_errors([
            ("a", "HTTP 503 after 3 attempts: busy"),
            ("b", "timeout after 20s (3 attempts)"),
        ]);
        assert_eq!(
            joined.as_deref(),
            Some("a: HTTP 503 after 3 attempts: busy | b: timeout after 20s (3 attempts)")
        );
        assert_eq!(aggregate_errors(std::iter::empty()), None);
    }

    #[test]
    fn truncates_on_char_boundary() {
        // Multi-byte characters straddle the limit: byte slicing would panic.
        let long = "é".repeat(600);
        let messages: Vec<(String, String)> =
            (0..3).map(|i| (format!("s{i}"), long.clone())).collect();
        let joined =
            aggregate_errors(messages.iter().map(|(a, b)| (a.as_str(), b.as_str()))).unwrap();
        assert_eq!(joined.chars().count(), MAX_WORKFLOW_MESSAGE_CHARS);
        assert!(joined.ends_with('…'));
        assert!(joined.starts_with("s0: éé"));
    }

    #[test]
    fn snippets_are_short_and_single_line() {
        let body = format!("<html>\n  <body>{}</body>\n</html>", "x".repeat(500));
        let snippet = body_snippet(body.as_bytes());
        assert_eq!(snippet.chars().count(), BODY_SNIPPET_CHARS);
        assert!(!snippet.contains('\n'));
        assert_eq!(body_snippet(&[0xff, b'o', b'k']), "\u{fffd}ok");
        assert_eq!(attempts_phrase(1), "1 attempt");
        assert_eq!(attempts_phrase(3), "3 attempts");
    }
}
