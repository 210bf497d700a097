//! `ConfigError`: every way a config can be refused, worded for the person
//! editing the file.
//!
//! Each problem carries file, line:column, key path and what was expected,
//! in the `file:line:col: message` shape that editors and terminals turn
//! into links. Serde's own wording ("unknown field", "invalid type: X,
//! expected Y") is rewritten here into the config's vocabulary (keys, not
//! fields; "expected Y, found X") so that serde-time and resolve-time
//! errors read alike.

use crate::keypath::KeyPath;
use crate::spans::{SpanIndex, position};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One thing wrong with a config file, at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The config file, as given to `load`.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Key path such as `sources.odds_api.timeout`; empty for problems of
    /// the TOML syntax itself.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write_one_line(f, &self.key)?;
            f.write_str(": ")?;
        }
        write_one_line(f, &self.message)
    }
}

/// One problem is one line: a control character quoted from the file (a
/// name or key with a newline in it, say) is written escaped.
fn write_one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No file at `path`. The message gives no advice: how the path was
    /// chosen (`-c`, `REBOUND_CONFIG`, the default) is the caller's to
    /// say; "pass -c FILE" read as nonsense to someone who had.
    #[error("config file not found: {}", path.display())]
    NotFound { path: PathBuf },
    /// The file exists but could not be read (permissions, not UTF-8, a
    /// directory, ...); `reason` says which, in words.
    #[error("cannot read config file {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    /// The file was read but is not a valid config; one problem per line.
    #[error("{}", display_lines(problems))]
    Invalid { problems: Vec<Problem> },
}

impl ConfigError {
    /// The individual problems of an invalid file; empty for I/O errors.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

fn display_lines(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

/// Builds problems for one file: knows its text (for line:column) and its
/// key spans (for errors that carry only a path).
pub(crate) struct Reporter<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub spans: Option<&'a SpanIndex>,
}

/// The control character a TOML parse error is really about, with its span
/// and what to say of it, when there is one.
///
/// TOML allows no control character but tab, in strings and comments too.
/// toml reads one outside a string as part of a bare key: a `\0` on a line
/// of its own was "key with no value" one column past it, never named. The
/// first one is the problem, at its own place, when the parse failed (at
/// `failed`) on or after it, or on its line in a span that holds it (`x =
/// 1\0` is a bad value); a mistake before it, such as a string left open,
/// is still the one to report. Public for the other TOML files Rebound
/// reads (`rebound simulate`'s scenarios).
pub fn misplaced_control_character(
    text: &str,
    failed: &Range<usize>,
) -> Option<(Range<usize>, String)> {
    let (at, c) = text
        .char_indices()
        .find(|(_, c)| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r'))
        .filter(|(at, _)| {
            *at <= failed.start
                || (*at < failed.end
                    && text
                        .get(failed.start..*at)
                        .is_some_and(|before| !before.contains('\n')))
        })?;
    let shown = if c == '\0' {
        "\\0".to_string()
    } else {
        c.escape_default().to_string()
    };
    let message = format!(
        "invalid TOML: control character {shown} is not allowed (TOML takes none but tab, in strings and comments too)"
    );
    Some((at..at + c.len_utf8(), message))
}

impl Reporter<'_> {
    pub(crate) fn at_span(&self, span: Range<usize>, key: &KeyPath, message: String) -> Problem {
        let at = position(self.text, span.start);
        Problem {
            file: self.file.to_path_buf(),
            line: at.line,
            column: at.column,
            key: key.to_string(),
            message,
        }
    }

    /// A problem at the value of `key` (or its nearest enclosing key).
    pub(crate) fn at_key(&self, key: &KeyPath, message: String) -> Problem {
        let span = self.spans.map_or(0..0, |spans| spans.locate(key));
        self.at_span(span, key, message)
    }

    /// A TOML syntax error (no key path: the document did not parse).
    pub(crate) fn syntax(&self, error: &toml::de::Error) -> Problem {
        let said = error.message().trim_end();
        if is_nesting_limit(said) {
            // toml's words ("cannot recurse further; max recursion depth
            // met", "recursion limit") do not say what is too deep, and a
            // dotted key too long carries no span at all (it read 1:1).
            let span = error
                .span()
                .or_else(|| dotted_key_too_deep(self.text))
                .unwrap_or(0..0);
            let message = format!(
                "invalid TOML: nested more than {TOML_NESTING_LIMIT} levels deep \
                 (arrays and inline tables within each other, or parts of one dotted key)"
            );
            return self.at_span(span, &KeyPath::root(), message);
        }
        let span = error.span().unwrap_or(0..0);
        if let Some((at, message)) = misplaced_control_character(self.text, &span) {
            return self.at_span(at, &KeyPath::root(), message);
        }
        let mut message = format!("invalid TOML: {said}");
        // toml's messages do not quote the offending text ("duplicate key"
        // but not which); a short span on one line is worth showing.
        let snippet = self.text.get(span.clone()).unwrap_or("");
        if !snippet.is_empty() && snippet.len() <= 40 && !snippet.contains('\n') {
            message.push_str(&format!(" (at `{snippet}`)"));
        }
        self.at_span(span, &KeyPath::root(), message)
    }

    /// A serde error (wrong type, unknown or missing key) at the key path
    /// serde_path_to_error tracked.
    pub(crate) fn serde(&self, error: &serde_path_to_error::Error<toml::de::Error>) -> Problem {
        let mut key = KeyPath::root();
        for segment in error.path().iter() {
            key = match segment {
                serde_path_to_error::Segment::Map { key: k } => key.key(k),
                serde_path_to_error::Segment::Enum { variant } => key.key(variant),
                serde_path_to_error::Segment::Seq { index } => key.index(*index),
                serde_path_to_error::Segment::Unknown => key,
            };
        }
        let inner = error.inner();
        let (key, message) = reword_serde_message(key, inner.message().trim_end());
        match inner.span() {
            Some(span) => self.at_span(span, &key, message),
            None => self.at_key(&key, message),
        }
    }
}

/// How deep toml lets arrays and inline tables nest, and how many parts
/// one dotted key may have (its private `LIMIT`, 80 in toml 1.2; `nesting_too_deep_is_reported_where_it_goes_too_deep` and
/// `nesting_at_the_limit_still_loads` fail if an upgrade moves it).
const TOML_NESTING_LIMIT: usize = 80;

/// toml's two messages for input nested past its limit: the recursion
/// guard of arrays and inline tables (with a span), and the dotted-key
/// check (without one).
fn is_nesting_limit(message: &str) -> bool {
    message.contains("max recursion depth") || message == "recursion limit"
}

/// Where the first dotted key of more than [`TOML_NESTING_LIMIT`] parts
/// gets one part too many: the start of that part. A scan of the
/// text, not a parse (the parse is what failed): bare and quoted parts
/// joined by dots, blanks allowed around the dots; comments skipped, and a
/// quoted value counts as one part, so dots inside strings do not add up.
fn dotted_key_too_deep(text: &str) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let bare = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut i = 0;
    // Parts in the current run, and whether the run is waiting for a part
    // (at its start or after a dot).
    let mut parts = 0usize;
    let mut want_part = true;
    while i < bytes.len() {
        let b = bytes[i];
        let part_end = if b == b'"' || b == b'\'' {
            // A quoted part; a basic string's escapes skip the next byte.
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b && bytes[j] != b'\n' {
                j += if b == b'"' && bytes[j] == b'\\' { 2 } else { 1 };
            }
            Some((j + 1).min(bytes.len()))
        } else if bare(b) {
            let mut j = i;
            while j < bytes.len() && bare(bytes[j]) {
                j += 1;
            }
            Some(j)
        } else {
            None
        };
        match part_end {
            Some(end) => {
                parts = if want_part { parts + 1 } else { 1 };
                if parts > TOML_NESTING_LIMIT {
                    return Some(i..end);
                }
                want_part = false;
                i = end;
            }
            None => {
                if b == b'.' && !want_part {
                    want_part = true;
                } else if b == b' ' || b == b'\t' {
                    // Blanks around a dot keep the run.
                } else {
                    parts = 0;
                    want_part = true;
                    if b == b'#' {
                        while i < bytes.len() && bytes[i] != b'\n' {
                            i += 1;
                        }
                        continue;
                    }
                }
                i += 1;
            }
        }
    }
    None
}

/// serde's standard message about a value of another TOML file Rebound
/// reads (a simulation scenario), in the words of config errors: keys,
/// not fields; TOML's types, not Rust's. The key a message names goes
/// into the message, as such a file has no key path beside it.
pub fn reword_serde(message: &str) -> String {
    let message = message.trim_end();
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("missing required key \"{}\"", rest.trim_matches('`'));
    }
    reword_serde_message(KeyPath::root(), message).1
}

/// Rewrites serde's standard messages (their wording is fixed by
/// `serde::de::Error`'s provided methods) into this file's vocabulary.
fn reword_serde_message(key: KeyPath, message: &str) -> (KeyPath, String) {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, allowed) = split_unknown_field(rest);
        return (key, unknown_key_message(&name, &allowed));
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let name = rest.trim_matches('`');
        return (key.key(name), "missing required key".to_string());
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let found = found.split(" as i128").next().unwrap_or(found);
            // An integer where an integer is expected was out of the
            // field's range: "expected an integer, found integer" said
            // nothing, so the range is named.
            if let Some(value) = found.strip_prefix("integer ")
                && let Some((min, max)) = integer_range(expected)
            {
                let value = value.trim_matches('`');
                // TOML's integers are 64-bit: a larger one fails before
                // the field's own type is asked.
                let message = if expected == "i64" {
                    format!("{value} is beyond TOML's integers ({min} to {max})")
                } else {
                    format!("expected an integer from {min} to {max}, found {value}")
                };
                return (key, message);
            }
            // Rust type names mean nothing to someone editing TOML.
            let expected = match expected {
                "i64" | "u64" | "u32" | "i32" => "an integer",
                "f64" => "a number",
                struct_name if struct_name.starts_with("struct ") => "a table",
                other => other,
            };
            // An unquoted date or time is a TOML datetime, which serde
            // sees as a map; where a string is expected it is almost
            // always a date written without its quotes.
            if found == "map" && expected == "a string" {
                return (
                    key,
                    "expected a string, found a table or an unquoted date or time (write dates and times in quotes: \"2026-01-01\")".to_string(),
                );
            }
            // Anywhere else "found map" named serde's model, not the file
            // (`timeout = 2026-01-01T00:00:00Z` read "found map").
            if found == "map" {
                return (
                    key,
                    format!("expected {expected}, found a table or an unquoted date or time"),
                );
            }
            return (key, format!("expected {expected}, found {found}"));
        }
    }
    (key, message.to_string())
}

/// The range of the Rust integer type serde names.
fn integer_range(type_name: &str) -> Option<(i128, i128)> {
    Some(match type_name {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" => (0, u64::MAX.into()),
        "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// Splits "`x`, expected one of `a`, `b`" into `x` and `[a, b]`.
fn split_unknown_field(rest: &str) -> (String, Vec<String>) {
    let (name, expected) = rest.split_once(", ").unwrap_or((rest, ""));
    let name = name.trim_matches('`').to_string();
    let allowed = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (name, allowed)
}

/// "unknown key "timout" (did you mean "timeout"?); allowed keys: ...".
fn unknown_key_message(name: &str, allowed: &[String]) -> String {
    let mut message = format!("unknown key \"{name}\"");
    if let Some(best) = closest(name, allowed) {
        message.push_str(&format!(" (did you mean \"{best}\"?)"));
    }
    if allowed.is_empty() {
        message.push_str("; no keys are allowed here");
    } else {
        message.push_str(&format!("; allowed keys: {}", allowed.join(", ")));
    }
    message
}

/// The candidate nearest to `name` if it is a plausible typo of it.
pub(crate) fn closest<'c>(name: &str, candidates: &'c [String]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), c))
        // Near, and sharing at least one character in place: within two
        // edits every short name is "near" every other, and an empty one
        // near every two-letter name (`timezone = ""` suggested "GB").
        .filter(|(d, c)| {
            *d <= 2.max(c.chars().count() / 3) && *d < name.chars().count().max(c.chars().count())
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// Levenshtein distance over characters; inputs are short key names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod one_line_tests {
    use super::*;

    #[test]
    fn a_newline_quoted_from_the_file_stays_on_one_line() {
        let problem = Problem {
            file: "rebound.toml".into(),
            line: 3,
            column: 1,
            key: "workflows.w.scrapers[0]".into(),
            message: "unknown scraper \"a\nb\"".into(),
        };
        assert_eq!(
            problem.to_string(),
            "rebound.toml:3:1: workflows.w.scrapers[0]: unknown scraper \"a\\nb\""
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewords_serde_messages() {
        let root = KeyPath::root().key("sources").key("a");
        let (key, msg) = reword_serde_message(
            root.clone(),
            "unknown field `timout`, expected one of `base_url`, `timeout`",
        );
        assert_eq!(key.to_string(), "sources.a");
        assert_eq!(
            msg,
            "unknown key \"timout\" (did you mean \"timeout\"?); allowed keys: base_url, timeout"
        );
        let (key, msg) = reword_serde_message(root.clone(), "missing field `base_url`");
        assert_eq!(
            (key.to_string().as_str(), msg.as_str()),
            ("sources.a.base_url", "missing required key")
        );
        let (_, msg) =
            reword_serde_message(root.clone(), "invalid type: integer `5`, expected a string");
        assert_eq!(msg, "expected a string, found integer `5`");
        // Out of the field's range: the range, not "an integer, found integer".
        let (_, msg) = reword_serde_message(
            root.clone(),
            "invalid value: integer `18446744073709551615` as i128, expected i64",
        );
        assert_eq!(
            msg,
            "18446744073709551615 is beyond TOML's integers (-9223372036854775808 to 9223372036854775807)"
        );
        let (_, msg) =
            reword_serde_message(root.clone(), "invalid value: integer `-1`, expected u32");
        assert_eq!(msg, "expected an integer from 0 to 4294967295, found -1");
        let (_, msg) = reword_serde_message(root, "unknown field `x`, there are no fields");
        assert_eq!(msg, "unknown key \"x\"; no keys are allowed here");
    }

    #[test]
    fn suggests_only_near_misses() {
        let keys: Vec<String> = ["timeout", "base_url", "query"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(closest("timout", &keys), Some("timeout"));
        assert_eq!(closest("baseurl", &keys), Some("base_url"));
        assert_eq!(closest("zzzzzzzz", &keys), None);
        let zones: Vec<String> = ["GB", "UTC", "NZ"].iter().map(|s| s.to_string()).collect();
        assert_eq!(closest("", &zones), None);
        assert_eq!(closest("x", &zones), None);
        assert_eq!(closest("UT", &zones), Some("UTC"));
        assert_eq!(closest("gb", &zones), None);
    }
}
