//! The settings of a `kind = "nats"` hand-off sink and its subject
//! template (see `docs/handoff.md`, "NATS").
//!
//! A subject is made of dot-separated tokens, and `*`, `>` and whitespace
//! have meanings of their own in it, so a value put into a subject (a
//! dataset name such as `odds.events`) is mapped to one safe token by
//! [`subject_token`]: without that a dataset with a dot would add a token,
//! and the stream's filter (one `*` per placeholder token) would not match
//! it. The template is checked when the config is loaded, so an unknown
//! field is a config error, never a message that cannot be sent.

use std::time::Duration;

/// Default `subject`.
pub const DEFAULT_SUBJECT: &str = "rebound.{dataset}.{status}";
/// Default `stream`.
pub const DEFAULT_STREAM: &str = "REBOUND";
/// Default `max_age`: a week, so a consumer down over a long weekend still
/// finds its messages in the stream (the outbox keeps them longer anyway).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3_600);
/// Default `dedupe_window` (the stream's duplicate window): longer than
/// anything that makes the publisher send an event twice, i.e. a retry
/// after a lost acknowledgement (at most 5 minutes of backoff) or a publish
/// taken over after a crash (the claim: timeouts plus 30 seconds).
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Default `ack_subject`.
pub const DEFAULT_ACK_SUBJECT: &str = "rebound.ack";

/// The message fields a subject template may name: the text-valued ones
/// that say what a message is about (ids and times would make a subject per
/// message, which no stream filter is for).
pub const SUBJECT_FIELDS: [&str; 10] = [
    "pipeline",
    "workflow",
    "scraper",
    "source",
    "dataset",
    "status",
    "target_date",
    "trigger",
    "delivery",
    "kind",
];

/// The NATS side of a `[handoff.sinks.NAME]` with `kind = "nats"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSink {
    pub subject: SubjectTemplate,
    /// The JetStream stream the subjects belong to; created when missing.
    pub stream: String,
    /// The stream's `max_age` (when it is created).
    pub max_age: Duration,
    /// The stream's duplicate window (when it is created): a redelivered
    /// `Nats-Msg-Id` within it is dropped by the server.
    pub dedupe_window: Duration,
    /// Where `rebound serve` listens for acknowledgements.
    pub ack_subject: String,
}

/// One piece of a subject template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

/// `rebound.{dataset}.{status}`: literal tokens and `{field}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTemplate {
    text: String,
    /// Tokens (split on `.`), each a list of pieces.
    tokens: Vec<Vec<Piece>>,
}

impl SubjectTemplate {
    /// Parses a template; the error says what is wrong in words.
    pub fn parse(text: &str) -> Result<SubjectTemplate, String> {
        if text.is_empty() {
            return Err(
                "expected a subject such as \"rebound.{dataset}.{status}\", found \"\"".into(),
            );
        }
        let mut tokens = Vec::new();
        for token in text.split('.') {
            if token.is_empty() {
                return Err(format!(
                    "subject \"{text}\" has an empty token (a leading, trailing or doubled '.')"
                ));
            }
            tokens.push(Self::parse_token(text, token)?);
        }
        Ok(SubjectTemplate {
            text: text.to_string(),
            tokens,
        })
    }

    fn parse_token(text: &str, token: &str) -> Result<Vec<Piece>, String> {
        let mut pieces = Vec::new();
        let mut rest = token;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let Some(end) = after.find('}') else {
                    return Err(format!("subject \"{text}\" has a '{{' without its '}}'"));
                };
                let name = &after[..end];
                let Some(field) = SUBJECT_FIELDS.iter().find(|f| **f == name) else {
                    return Err(format!(
                        "unknown field \"{{{name}}}\" in subject \"{text}\"; expected one of {}",
                        SUBJECT_FIELDS
                            .iter()
                            .map(|f| format!("{{{f}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                };
                pieces.push(Piece::Field(field));
                rest = &after[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                let literal = &rest[..end];
                if let Some(bad) = literal.chars().find(|c| !literal_char_ok(*c)) {
                    return Err(format!(
                        "subject \"{text}\" contains {bad:?}, which NATS subjects reserve (wildcards, whitespace) or do not allow"
                    ));
                }
                pieces.push(Piece::Text(literal.to_string()));
                rest = &rest[end..];
            }
        }
        Ok(pieces)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The subject of one message: each placeholder replaced by its field's
    /// value made into a safe token ([`subject_token`]); a field without a
    /// value (the `workflow` of `rebound scrape`) becomes `_`.
    pub fn render(&self, field: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(self.text.len() + 16);
        for (i, token) in self.tokens.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            for piece in token {
                match piece {
                    Piece::Text(text) => out.push_str(text),
                    Piece::Field(name) => {
                        out.push_str(&subject_token(field(name).as_deref().unwrap_or_default()))
                    }
                }
            }
        }
        out
    }

    /// The stream filter every rendered subject matches: each token with a
    /// placeholder becomes `*` (a value is always exactly one token).
    pub fn filter(&self) -> String {
        self.tokens
            .iter()
            .map(|token| {
                if token.iter().any(|p| matches!(p, Piece::Field(_))) {
                    "*".to_string()
                } else {
                    token
                        .iter()
                        .map(|p| match p {
                            Piece::Text(t) => t.as_str(),
                            Piece::Field(_) => "",
                        })
                        .collect()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Whether `c` may appear in the literal text of a subject.
fn literal_char_ok(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || matches!(c, '*' | '>' | '{' | '}'))
}

/// One subject token from a value: `.` (the token separator), `*` and `>`
/// (wildcards), whitespace and control characters become `_`, and an empty
/// value is `_`. `odds.events` → `odds_events`; `nbacom/boxscores` stays.
pub fn subject_token(value: &str) -> String {
    if value.is_empty() {
        return "_".to_string();
    }
    value
        .chars()
        .map(|c| {
            if c == '.' || !literal_char_ok(c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The longest JetStream stream name, in bytes.
pub const MAX_STREAM_NAME: usize = 255;

/// Whether `name` can be a JetStream stream name: not empty, at most
/// [`MAX_STREAM_NAME`] bytes, no `.`, `*`, `>`, `/`, `\` or whitespace.
pub fn stream_name_ok(name: &str) -> bool {
    stream_name_problem(name).is_none()
}

/// Why `name` cannot be a JetStream stream name, in words; `None` when it
/// can.
pub fn stream_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a stream name cannot be empty".into());
    }
    if name.len() > MAX_STREAM_NAME {
        return Some(format!(
            "a stream name of {} bytes is too long: JetStream allows at most {MAX_STREAM_NAME}",
            name.len()
        ));
    }
    let bad = name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'));
    bad.then(|| {
        format!(
            "bad stream name \"{}\": JetStream names have no '.', '*', '>', '/', '\\' or whitespace",
            name.escape_debug()
        )
    })
}

/// Whether `subject` is a plain subject one can subscribe to for acks
/// (tokens not empty, no whitespace; wildcards are allowed, as in NATS).
pub fn ack_subject_ok(subject: &str) -> bool {
    !subject.is_empty()
        && subject
            .split('.')
            .all(|t| !t.is_empty() && !t.chars().any(|c| c.is_whitespace() || c.is_control()))
}

/// Whether every subject matching `filter` also matches `pattern`, in
/// NATS's wildcard rules (`*` one token, `>` one or more trailing tokens):
/// whether a stream taking `pattern` stores what a sink publishes under
/// `filter`.
pub fn covers(pattern: &str, filter: &str) -> bool {
    let mut wanted = filter.split('.');
    for token in pattern.split('.') {
        let Some(asked) = wanted.next() else {
            return false;
        };
        match token {
            // Whatever follows, one token or more: `asked` is one.
            ">" => return true,
            // One token of any value, but not "one or more".
            "*" if asked != ">" => {}
            literal if literal == asked && asked != "*" && asked != ">" => {}
            _ => return false,
        }
    }
    wanted.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_covers_a_filter_when_it_takes_all_it_can_match() {
        assert!(covers("t.*.*", "t.*.*"));
        assert!(covers("t.>", "t.*.*"));
        assert!(covers(">", "t.a"));
        assert!(covers("t.*.success", "t.a.success"));
        assert!(covers("t.a", "t.a"));
        // Narrower patterns miss some subjects of the filter.
        assert!(!covers("t.a.*", "t.*.*"));
        assert!(!covers("t.*", "t.*.*"));
        assert!(!covers("t.*.*.*", "t.*.*"));
        assert!(!covers("t.*", "t.>"));
        assert!(!covers("u.>", "t.*.*"));
        assert!(!covers("t.>", "t"));
    }

    fn value(name: &str) -> Option<String> {
        match name {
            "dataset" => Some("odds.events".into()),
            "status" => Some("success".into()),
            "scraper" => Some("a b*>".into()),
            "source" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn rendering_maps_every_value_to_one_safe_token() {
        let t = SubjectTemplate::parse("rebound.{dataset}.{status}").unwrap();
        assert_eq!(t.render(value), "rebound.odds_events.success");
        assert_eq!(t.filter(), "rebound.*.*");
        let t = SubjectTemplate::parse("x.s-{scraper}-{source}.{workflow}").unwrap();
        assert_eq!(t.render(value), "x.s-a_b__-_._");
        assert_eq!(t.filter(), "x.*.*");
        assert_eq!(subject_token("nbacom/boxscores"), "nbacom/boxscores");
    }

    #[test]
    fn bad_templates_are_refused_in_words() {
        for (text, words) in [
            ("rebound.{datasets}", "unknown field \"{datasets}\""),
            ("rebound.{dataset", "without its"),
            ("rebound..x", "empty token"),
            (".x", "empty token"),
            ("rebound.*", "reserve"),
            ("rebound.>", "reserve"),
            ("re bound", "reserve"),
            ("", "expected a subject"),
        ] {
            let err = SubjectTemplate::parse(text).unwrap_err();
            assert!(err.contains(words), "{text:?}: {err}");
        }
    }

    #[test]
    fn stream_and_ack_names_follow_nats_rules() {
        assert!(stream_name_ok("REBOUND"));
        assert!(stream_name_ok("rebound_events-1"));
        assert!(!stream_name_ok("a.b"));
        assert!(!stream_name_ok(""));
        assert!(!stream_name_ok("a b"));
        assert!(ack_subject_ok("rebound.ack"));
        assert!(!ack_subject_ok("rebound..ack"));
        assert!(!ack_subject_ok(""));
    }
}
