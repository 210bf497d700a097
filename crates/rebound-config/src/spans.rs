//! Where each key path sits in the file, for resolve-time errors.
//!
//! Serde errors carry a byte span, but the resolver works on plain raw
//! structs (keeping `Spanned<T>` on every field would clutter them and the
//! JSON schema). Instead the parsed document is walked once and every key
//! path is mapped to its span; an error then looks up its path, falling
//! back to the nearest enclosing key when the value was defaulted and so
//! appears nowhere in the file.

use crate::keypath::KeyPath;
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A 1-based line and column (in characters), as editors count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
}

/// Byte spans of the values in one document, by key path.
#[derive(Debug, Default)]
pub(crate) struct SpanIndex {
    values: HashMap<KeyPath, Range<usize>>,
}

impl SpanIndex {
    pub(crate) fn build(root: &Spanned<DeTable<'_>>) -> SpanIndex {
        let mut index = SpanIndex::default();
        index.values.insert(KeyPath::root(), root.span());
        index.walk_table(&KeyPath::root(), root.get_ref());
        index
    }

    fn walk_table(&mut self, path: &KeyPath, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let child = path.key(key.get_ref());
            self.walk_value(child, value);
        }
    }

    fn walk_value(&mut self, path: KeyPath, value: &Spanned<DeValue<'_>>) {
        self.values.insert(path.clone(), value.span());
        match value.get_ref() {
            DeValue::Table(table) => self.walk_table(&path, table),
            DeValue::Array(array) => {
                for (n, item) in array.iter().enumerate() {
                    self.walk_value(path.index(n), item);
                }
            }
            _ => {}
        }
    }

    /// The span of `path`, or of its nearest ancestor present in the file.
    pub(crate) fn locate(&self, path: &KeyPath) -> Range<usize> {
        let mut current = Some(path.clone());
        while let Some(p) = current {
            if let Some(span) = self.values.get(&p) {
                return span.clone();
            }
            current = p.parent();
        }
        0..0
    }
}

/// The line and column of byte `offset` in `text`. Offsets past the end or
/// inside a multi-byte character are clamped, never a panic: they come from
/// a parser's spans and must not be trusted to land on a char boundary.
pub(crate) fn position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(position(text, 0), Position { line: 1, column: 1 });
        let x = text.find("\"x\"").unwrap();
        assert_eq!(position(text, x), Position { line: 2, column: 6 });
        // Inside "é" and past the end are clamped.
        assert_eq!(position(text, 8), Position { line: 2, column: 2 });
        assert_eq!(position(text, 999).line, 3);
    }

    #[test]
    fn locates_values_and_falls_back_to_ancestors() {
        let text = "[sources.api]\nbase_url = \"https://x\"\nheaders = { \"X.Y\" = \"1\" }\n";
        let root = DeTable::parse(text).unwrap();
        let index = SpanIndex::build(&root);
        let api = KeyPath::root().key("sources").key("api");
        let base = index.locate(&api.key("base_url"));
        assert_eq!(&text[base], "\"https://x\"");
        let header = index.locate(&api.key("headers").key("X.Y"));
        assert_eq!(&text[header], "\"1\"");
        let missing = index.locate(&api.key("timeout"));
        assert_eq!(missing, index.locate(&api));
    }
}
