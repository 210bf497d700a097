//! `${VAR}` substitution from the environment.
//!
//! Secrets such as API keys must not live in the config file, so any string
//! value may name an environment variable; whatever it pulls in is treated
//! as a secret (masked in `Debug`, collected for the plan's `Redactor`),
//! except what a key reads as a setting of Rebound's own (a time zone, a
//! duration, a rate, a method, a cron expression, a date, a named choice
//! such as a jitter), once it has parsed as one (`Resolver::not_secret`).
//! Substitution runs before `{param}` templates are parsed, and the value of
//! a variable is brace-escaped first when the target is a template: an API
//! key that happens to contain `{` must arrive verbatim, not become a
//! parameter or a parse error. `$${` writes a literal `${`, which template
//! fields then read by template rules (`$${{x}}` is the literal `${x}`).

/// Whether the substituted text will be parsed as a `{param}` template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Plain,
    Template,
}

/// The outcome of substituting one string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Substituted {
    pub text: String,
    /// True when at least one `${VAR}` was replaced.
    pub secret: bool,
    /// The raw values pulled from the environment, for the redactor.
    pub values: Vec<String>,
    /// The names of the variables, in the order of `values`.
    pub names: Vec<String>,
    /// `$NAME` written without braces (upper-case names only, the
    /// environment's convention): left as text, but almost always meant as
    /// `${NAME}`, so `rebound check` asks.
    pub bare: Vec<String>,
}

/// Replaces each `${VAR}` in `text` by `env(VAR)`. The error is a sentence
/// naming the variable; the caller adds the key path.
pub(crate) fn substitute(
    text: &str,
    target: Target,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Substituted, String> {
    let mut out = Substituted {
        text: String::with_capacity(text.len()),
        secret: false,
        values: Vec::new(),
        names: Vec::new(),
        bare: Vec::new(),
    };
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.text.push_str(&rest[..dollar]);
        let tail = &rest[dollar..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.text.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(close) = closing_brace(after) else {
                return Err(format!(
                    "unclosed \"${{\" in \"{text}\" (write $${{ for a literal \"${{\")"
                ));
            };
            let name = &after[..close];
            if !is_var_name(name) {
                let nested = if name.contains("${") {
                    ": a reference holds one name, not another reference;"
                } else {
                    ":"
                };
                return Err(format!(
                    "bad environment variable name \"{name}\" in \"${{{name}}}\"{nested} use letters, digits and '_', not starting with a digit (write $${{ for a literal \"${{\")"
                ));
            }
            let Some(value) = env(name) else {
                return Err(format!("environment variable {name} is not set"));
            };
            match target {
                Target::Plain => out.text.push_str(&value),
                Target::Template => out.text.push_str(&escape_braces(&value)),
            }
            out.secret = true;
            out.values.push(value);
            out.names.push(name.to_string());
            rest = &after[close + 1..];
        } else {
            if let Some(name) = bare_var(&tail[1..]) {
                out.bare.push(name.to_string());
            }
            out.text.push('$');
            rest = &tail[1..];
        }
    }
    out.text.push_str(rest);
    Ok(out)
}

/// Where the `}` that closes a `${` sits in `text` (what follows it): the
/// first `}` unless a `${` opens inside, which its own `}` closes first.
/// So the whole of a nested `${${X}}` is quoted in its error; cut at the
/// first `}`, it read `"${X" in "${${X}"`.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = 0;
    while at < text.len() {
        if text[at..].starts_with("${") {
            depth += 1;
            at += 2;
            continue;
        }
        if text[at..].starts_with('}') {
            if depth == 0 {
                return Some(at);
            }
            depth -= 1;
        }
        at += text[at..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// The upper-case variable name at the start of `text` (after a `$`), if
/// any: `ODDS_API_KEY` in `$ODDS_API_KEY/x`. Lower-case names are left
/// alone, since `$top` or `$filter` are ordinary text in many APIs' queries.
fn bare_var(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let name = &text[..end];
    (is_var_name(name)
        && !name.chars().any(|c| c.is_ascii_lowercase())
        && name.chars().any(|c| c.is_ascii_uppercase()))
    .then_some(name)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Doubles braces so `Template::parse` reads them as literal text.
fn escape_braces(value: &str) -> String {
    value.replace('{', "{{").replace('}', "}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("abc{x}".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_inside_longer_strings() {
        let out = substitute("Bearer ${TOKEN}!", Target::Plain, &env).unwrap();
        assert_eq!(out.text, "Bearer abc{x}!");
        assert!(out.secret);
        assert_eq!(out.values, vec!["abc{x}".to_string()]);
        assert_eq!(out.names, vec!["TOKEN".to_string()]);
        let template = substitute("Bearer ${TOKEN}", Target::Template, &env).unwrap();
        assert_eq!(template.text, "Bearer abc{{x}}");
    }

    #[test]
    fn plain_text_and_escapes() {
        let table = [
            ("no vars", "no vars", false),
            ("$5 and $ and $$", "$5 and $ and $$", false),
            ("$${HOME}", "${HOME}", false),
            ("a$${", "a${", false),
            ("${EMPTY}x", "x", true),
            ("é${EMPTY}é", "éé", true),
        ];
        for (input, expected, secret) in table {
            let out = substitute(input, Target::Plain, &env).unwrap();
            assert_eq!(
                (out.text.as_str(), out.secret),
                (expected, secret),
                "{input}"
            );
        }
    }

    #[test]
    fn bare_upper_case_names_are_noticed_and_left_as_text() {
        let out = substitute("k=$ODDS_API_KEY&$top=5 $5 $$ ${TOKEN}", Target::Plain, &env).unwrap();
        assert_eq!(out.text, "k=$ODDS_API_KEY&$top=5 $5 $$ abc{x}");
        assert_eq!(out.bare, vec!["ODDS_API_KEY".to_string()]);
    }

    /// Before: `${${X}}` read `bad environment variable name "${X" in
    /// "${${X}"`, both quotes cut at the first `}`.
    #[test]
    fn a_nested_reference_is_quoted_whole() {
        let table = [
            (
                "${${TOKEN}}",
                "bad environment variable name \"${TOKEN}\" in \"${${TOKEN}}\": a reference holds one name, not another reference",
            ),
            (
                "Bearer ${a${TOKEN}b}/x",
                "bad environment variable name \"a${TOKEN}b\" in \"${a${TOKEN}b}\"",
            ),
            ("${${${TOKEN}}}", "in \"${${${TOKEN}}}\""),
            // The outer one never closes.
            ("${${TOKEN}", "unclosed \"${\" in \"${${TOKEN}\""),
        ];
        for (input, needle) in table {
            let err = substitute(input, Target::Plain, &env).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let table = [
            ("${MISSING}", "environment variable MISSING is not set"),
            ("${TOKEN", "unclosed"),
            ("${}", "bad environment variable name"),
            ("${1A}", "bad environment variable name"),
            ("${A-B}", "bad environment variable name"),
        ];
        for (input, needle) in table {
            let err = substitute(input, Target::Plain, &env).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
