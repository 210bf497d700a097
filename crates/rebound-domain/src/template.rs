//! `{name}` parameter templates used in scraper paths, query values and headers.
//!
//! A template is parsed once when the config is resolved, so a malformed one
//! is a config error, never a surprise at call time. `{{` and `}}` write
//! literal braces.

use std::collections::BTreeMap;

/// Parameters built into every call: derived from the target date.
pub const BUILTIN_PARAMS: &[&str] = &["date", "date_compact", "day_start_utc", "day_end_utc"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
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
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, inner) in chars.by_ref() {
                        if inner == '}' {
                            closed = true;
                            break;
                        }
                        name.push(inner);
                    }
                    if !closed {
                        return Err(format!("unclosed '{{' at offset {offset} in \"{text}\""));
                    }
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!(
                            "bad parameter name \"{{{name}}}\" in \"{text}\": use letters, digits and '_' (write {{{{ for a literal brace)"
                        ));
                    }
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Param(name));
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
            if let Segment::Param(name) = segment
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// Fills the template; returns the first missing parameter's name on error.
    pub fn render(&self, params: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Param(name) => match params.get(name) {
                    Some(value) => out.push_str(value),
                    None => return Err(name.clone()),
                },
            }
        }
        Ok(out)
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
