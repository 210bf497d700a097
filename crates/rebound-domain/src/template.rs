//! `{name}` parameter templates used in scraper paths, query values and headers.
//!
//! A template is parsed once when the config is resolved, so a malformed one
//! is a config error, never a surprise at call time. `{{` and `}}` write
//! literal braces.
//!
//! Parameter values come from the command line (`--param`) and from
//! upstream payloads (`for_each` items), so they are untrusted: where a
//! value lands decides how it is written ([`Placement`]). In a URL path a
//! value is percent-encoded as exactly one segment, `/`, `?`, `#` and `%`
//! included, so `../../x` cannot climb out of the configured path, open a
//! query or a fragment. Literal text from the config is trusted and kept.
//!
//! A date parameter may carry a format filter, `{date|%Y%m%d}`, checked
//! when the template is parsed (see [`crate::params::check_filter`]); the
//! formatted value is then written like any other value, percent-encoded
//! for its placement.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;

/// Parameters Rebound fills itself (see [`crate::params`]).
pub use crate::params::BUILTIN_PARAMS;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`, or `{name|filter}` with a checked strftime filter.
    Param {
        name: String,
        filter: Option<String>,
    },
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a
/// path value: the strictest choice, and safe inside a segment and inside a
/// query written into the path template alike.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where a template's output goes, which decides how parameter values are
/// written into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A URL (base URL or path, which may carry a literal `?query`): each
    /// value is percent-encoded as one path segment. A segment that would
    /// come out as `.` or `..` is refused, because URL parsers resolve it
    /// (and its encoded forms `%2E`, `%2E%2E`) as a dot-segment, climbing
    /// out of the configured path; no encoding survives that.
    Url,
    /// A query value: written as is; the caller form-encodes the whole
    /// value, so nothing in it can end the value.
    QueryValue,
    /// A header value: written as is, but a control character (CR, LF, NUL
    /// and the rest of C0, DEL) is refused: HTTP cannot carry it, and
    /// dropping it silently would send a different value. Tab is allowed.
    Header,
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// No value was given for this parameter.
    Missing(String),
    /// The value of `param` cannot be written where it goes; `reason` says why.
    Unencodable { param: String, reason: String },
}

/// A parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`; the error says what is wrong and where (0-based char offset).
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((offset, ch)) = chars.next() {
            match ch {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut inside = String::new();
                    let mut closed = false;
                    for (_, inner) in chars.by_ref() {
                        if inner == '}' {
                            closed = true;
                            break;
                        }
                        inside.push(inner);
                    }
                    if !closed {
                        return Err(format!("unclosed '{{' at offset {offset} in \"{text}\""));
                    }
                    let (name, filter) = match inside.split_once('|') {
                        Some((name, filter)) => (name.to_string(), Some(filter.to_string())),
                        None => (inside, None),
                    };
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!(
                            "bad parameter name \"{{{name}}}\" in \"{text}\": use letters, digits and '_' (write {{{{ for a literal brace)"
                        ));
                    }
                    if let Some(filter) = &filter {
                        crate::params::check_filter(&name, filter)
                            .map_err(|message| format!("{message} (in \"{text}\")"))?;
                    }
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Param { name, filter });
                }
                '}' => {
                    return Err(format!(
                        "unmatched '}}' at offset {offset} in \"{text}\" (write }}}} for a literal brace)"
                    ));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Template { segments })
    }

    /// A template that is only literal text.
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        let segments = if text.is_empty() {
            Vec::new()
        } else {
            vec![Segment::Literal(text)]
        };
        Template { segments }
    }

    /// Names of the parameters this template uses, in order of first use.
    pub fn params(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for segment in &self.segments {
            if let Segment::Param { name, .. } = segment
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// True when some parameter carries a format filter.
    pub fn has_filters(&self) -> bool {
        self.segments.iter().any(|s| {
            matches!(
                s,
                Segment::Param {
                    filter: Some(_),
                    ..
                }
            )
        })
    }

    /// Fills the template, values written as they are (for text that is
    /// not a URL, query value or header). Returns the first missing
    /// parameter's name, or why a filtered value could not be formatted.
    pub fn render(&self, params: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Param { name, filter } => match value_of(params, name, filter) {
                    Ok(value) => out.push_str(&value),
                    Err(RenderError::Missing(name)) => return Err(name),
                    Err(RenderError::Unencodable { param, reason }) => {
                        return Err(format!("{param}: {reason}"));
                    }
                },
            }
        }
        Ok(out)
    }

    /// Fills the template, writing each parameter value as `placement`
    /// requires (see [`Placement`]); literal text is kept as written.
    pub fn render_in(
        &self,
        params: &BTreeMap<String, String>,
        placement: Placement,
    ) -> Result<String, RenderError> {
        let mut out = String::new();
        // For `Url`: the path segment being written and the parameters in
        // it, so a segment that comes out as a dot-segment names its source.
        let mut segment = String::new();
        let mut segment_params: Vec<&str> = Vec::new();
        let mut in_path = true;
        for part in &self.segments {
            match part {
                Segment::Literal(text) => {
                    out.push_str(text);
                    if placement == Placement::Url && in_path {
                        for ch in text.chars() {
                            if matches!(ch, '/' | '?' | '#') {
                                check_dot_segment(&segment, &segment_params)?;
                                segment.clear();
                                segment_params.clear();
                                in_path = ch == '/';
                                if !in_path {
                                    break;
                                }
                            } else {
                                segment.push(ch);
                            }
                        }
                    }
                }
                Segment::Param { name, filter } => {
                    let value = &value_of(params, name, filter)?;
                    match placement {
                        Placement::Url => {
                            let encoded = utf8_percent_encode(value, SEGMENT).to_string();
                            if in_path {
                                segment.push_str(&encoded);
                                segment_params.push(name);
                            }
                            out.push_str(&encoded);
                        }
                        Placement::QueryValue => out.push_str(value),
                        Placement::Header => {
                            if value.chars().any(|c| c != '\t' && c.is_ascii_control()) {
                                return Err(RenderError::Unencodable {
                                    param: name.clone(),
                                    reason: "contains a control character (such as a line break), which an HTTP header cannot carry".into(),
                                });
                            }
                            out.push_str(value);
                        }
                    }
                }
            }
        }
        if placement == Placement::Url && in_path {
            check_dot_segment(&segment, &segment_params)?;
        }
        Ok(out)
    }
}

/// The value of `{name}` or `{name|filter}`, before placement encoding.
fn value_of(
    params: &BTreeMap<String, String>,
    name: &str,
    filter: &Option<String>,
) -> Result<String, RenderError> {
    let Some(value) = params.get(name) else {
        return Err(RenderError::Missing(name.to_string()));
    };
    match filter {
        None => Ok(value.clone()),
        Some(spec) => crate::params::format_filtered(name, value, spec).map_err(|reason| {
            RenderError::Unencodable {
                param: name.to_string(),
                reason,
            }
        }),
    }
}

/// Refuses a URL path segment that a parameter made into `.` or `..`.
fn check_dot_segment(segment: &str, params: &[&str]) -> Result<(), RenderError> {
    match params.first() {
        Some(param) if segment == "." || segment == ".." => Err(RenderError::Unencodable {
            param: param.to_string(),
            reason: format!(
                "would make the URL path segment \"{segment}\", which URLs resolve as a step up or in place, not as a value"
            ),
        }),
        // `/games/{id}` with an empty id asks for `/games/`: the
        // collection, not an item, and its answer would be stored as one.
        Some(param) if segment.is_empty() => Err(RenderError::Unencodable {
            param: param.to_string(),
            reason: "would leave its URL path segment empty, asking for another resource"
                .to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_params_and_escapes() {
        let template = Template::parse("/games/{game_id}/pbp_{date_compact}.json?x={{y}}").unwrap();
        assert_eq!(template.params(), vec!["game_id", "date_compact"]);
        let out = template
            .render(&params(&[
                ("game_id", "0022500123"),
                ("date_compact", "20261128"),
            ]))
            .unwrap();
        assert_eq!(out, "/games/0022500123/pbp_20261128.json?x={y}");
    }

    #[test]
    fn missing_param_is_named() {
        let template = Template::parse("/x/{event_id}").unwrap();
        assert_eq!(template.render(&params(&[])), Err("event_id".to_string()));
    }

    #[test]
    fn url_values_are_one_encoded_segment() {
        let template = Template::parse("/games/{id}/pbp.json?season={season}").unwrap();
        for (value, encoded) in [
            ("../../x", "..%2F..%2Fx"),
            ("a/b", "a%2Fb"),
            ("a?b=c", "a%3Fb%3Dc"),
            ("a#b", "a%23b"),
            ("a\nb", "a%0Ab"),
            ("\u{fc}", "%C3%BC"),
            ("%2F", "%252F"),
            ("a b", "a%20b"),
            ("0022500123", "0022500123"),
        ] {
            let out = template
                .render_in(&params(&[("id", value), ("season", "x&y")]), Placement::Url)
                .unwrap();
            assert_eq!(
                out,
                format!("/games/{encoded}/pbp.json?season=x%26y"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn dot_segments_from_values_are_refused() {
        let template = Template::parse("/games/{id}/{a}{b}").unwrap();
        for (id, a, b, param) in [
            ("..", "x", "y", "id"),
            (".", "x", "y", "id"),
            ("g", ".", ".", "a"),
            // Before: accepted, asking for `/games/` (the collection).
            ("", "x", "y", "id"),
            ("g", "", "", "a"),
        ] {
            let err = template
                .render_in(&params(&[("id", id), ("a", a), ("b", b)]), Placement::Url)
                .unwrap_err();
            match err {
                RenderError::Unencodable { param: p, reason } => {
                    assert_eq!(p, param);
                    assert!(reason.contains("URL path segment"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
        // Dots inside a segment, or after the path, are plain values.
        for value in ["...", "a..", ".json"] {
            assert!(
                template
                    .render_in(
                        &params(&[("id", value), ("a", "x"), ("b", "y")]),
                        Placement::Url
                    )
                    .is_ok()
            );
        }
        let query = Template::parse("/x?v={v}").unwrap();
        assert_eq!(
            query
                .render_in(&params(&[("v", "..")]), Placement::Url)
                .unwrap(),
            "/x?v=.."
        );
        // An empty value beside other text leaves no segment empty.
        let prefixed = Template::parse("/games/g{id}").unwrap();
        assert_eq!(
            prefixed
                .render_in(&params(&[("id", "")]), Placement::Url)
                .unwrap(),
            "/games/g"
        );
    }

    #[test]
    fn header_values_refuse_control_characters() {
        let template = Template::parse("Bearer {token}").unwrap();
        for bad in ["a\nb", "a\rb", "a\0b", "a\u{7f}"] {
            assert!(matches!(
                template.render_in(&params(&[("token", bad)]), Placement::Header),
                Err(RenderError::Unencodable { ref param, .. }) if param == "token"
            ));
        }
        assert_eq!(
            template
                .render_in(&params(&[("token", "a\tb/\u{fc}")]), Placement::Header)
                .unwrap(),
            "Bearer a\tb/\u{fc}"
        );
        assert_eq!(
            Template::parse("{q}")
                .unwrap()
                .render_in(&params(&[("q", "a&b=c#d\ne")]), Placement::QueryValue)
                .unwrap(),
            "a&b=c#d\ne"
        );
    }

    #[test]
    fn filtered_dates_are_encoded_for_their_placement() {
        let values = params(&[("date", "2025-12-01"), ("target_date", "2025-12-01")]);
        let path = Template::parse("/gamebooks/{date|%Y%m%d}/{target_date|%b %-d}.pdf").unwrap();
        assert_eq!(path.params(), vec!["date", "target_date"]);
        assert!(path.has_filters());
        assert_eq!(
            path.render_in(&values, Placement::Url).unwrap(),
            "/gamebooks/20251201/Dec%201.pdf"
        );
        let query = Template::parse("{target_date|%b %-d}").unwrap();
        assert_eq!(
            query.render_in(&values, Placement::QueryValue).unwrap(),
            "Dec 1"
        );
        assert_eq!(
            query.render_in(&values, Placement::Header).unwrap(),
            "Dec 1"
        );
        // A slash from a filter is a value, not a path separator.
        let slashed = Template::parse("/x/{date|%Y/%m}").unwrap();
        assert_eq!(
            slashed.render_in(&values, Placement::Url).unwrap(),
            "/x/2025%2F12"
        );
        assert_eq!(
            Template::parse("{date|%d.%m.%Y}")
                .unwrap()
                .render(&values)
                .unwrap(),
            "01.12.2025"
        );
    }

    #[test]
    fn bad_filters_are_template_errors() {
        for (text, needle) in [
            ("/x/{date|%Q}", "not a valid strftime format"),
            ("/x/{date|%H}", "a time of day"),
            ("/x/{game_id|%Y}", "applies only to the date parameters"),
            ("/x/{date|}", "is empty"),
            ("/x/{da te|%Y}", "bad parameter name"),
        ] {
            let err = Template::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn malformed_templates_are_rejected() {
        for (text, needle) in [
            ("/x/{game_id", "unclosed"),
            ("/x/{}", "bad parameter name"),
            ("/x/{a b}", "bad parameter name"),
            ("/x/}", "unmatched"),
        ] {
            let err = Template::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
