//! Key paths such as `sources.odds_api.timeout` or
//! `workflows.betting_lines.steps[1].after[0]`.
//!
//! One type names a place in the file for every error, whether serde or the
//! resolver found it, and is also the key of the span index, so a message
//! and its line:column always agree. It is kept as segments rather than a
//! string because keys may contain dots (`headers."X.Y"`), which makes a
//! joined string impossible to cut back into its parents.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A path from the document root to one value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct KeyPath(Vec<Segment>);

impl KeyPath {
    pub(crate) fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_string()));
        KeyPath(segments)
    }

    pub(crate) fn index(&self, index: usize) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    /// Whether the path ends with these keys (`["breaker", "window"]`
    /// matches `sources.x.breaker.window`).
    pub(crate) fn ends_with(&self, keys: &[&str]) -> bool {
        self.0.len() >= keys.len()
            && self.0[self.0.len() - keys.len()..]
                .iter()
                .zip(keys)
                .all(|(segment, key)| matches!(segment, Segment::Key(k) if k == key))
    }

    /// Whether `self` is `other` or lies inside it.
    pub(crate) fn starts_with(&self, other: &KeyPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The first key (`sources` in `sources.odds.query.apiKey`).
    pub(crate) fn top_key(&self) -> Option<&str> {
        match self.0.first()? {
            Segment::Key(key) => Some(key),
            Segment::Index(_) => None,
        }
    }

    /// The enclosing path, or `None` at the root.
    pub(crate) fn parent(&self) -> Option<KeyPath> {
        let (_, rest) = self.0.split_last()?;
        Some(KeyPath(rest.to_vec()))
    }
}

/// Whether TOML lets `key` be written without quotes.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for KeyPath {
    /// Written the way the key would be written in TOML, so a user can
    /// search the file for it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(key) {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_toml() {
        let path = KeyPath::root()
            .key("workflows")
            .key("lines")
            .key("steps")
            .index(1)
            .key("after")
            .index(0);
        assert_eq!(path.to_string(), "workflows.lines.steps[1].after[0]");
        let quoted = KeyPath::root().key("headers").key("X.Y");
        assert_eq!(quoted.to_string(), "headers.\"X.Y\"");
        assert_eq!(
            quoted.parent().unwrap().to_string(),
            "headers",
            "dots inside a key do not split it"
        );
    }
}
