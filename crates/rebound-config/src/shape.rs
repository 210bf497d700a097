//! Tables written as arrays.
//!
//! serde's derived structs accept a sequence as well as a map, binding the
//! values to the fields by position: `breaker = [false, "10m", 5, 0.5, 5,
//! "1m", "30m", true]` loaded as a breaker turned off, with no key named
//! and so none checked, and a shorter array was refused as "invalid length
//! 1, expected struct RawBreaker with 8 elements". Before serde sees the
//! document, it is walked beside the config's JSON Schema (generated from
//! the same structs), and an array where only a table is accepted is
//! refused at its place. Where the schema allows an array (a list of
//! scrapers, a string or a list) or says nothing, nothing is checked here.

use crate::keypath::KeyPath;
use serde_json::Value;
use std::ops::Range;
use std::sync::LazyLock;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The schema, made once per process (schemars builds it each time).
static SCHEMA: LazyLock<Value> = LazyLock::new(crate::schema::json_schema);

/// How many `$ref`s or alternatives are followed for one value: the
/// config's schema needs two or three; a bound keeps a recursive
/// definition from looping.
const MAX_HOPS: usize = 16;

/// The key path and span of every array written where only a table is
/// accepted, in file order.
pub(crate) fn arrays_for_tables(root: &Spanned<DeTable<'_>>) -> Vec<(KeyPath, Range<usize>)> {
    let schema = &*SCHEMA;
    let walker = Walker {
        defs: schema.get("$defs").unwrap_or(&Value::Null),
    };
    let mut found = Vec::new();
    walker.table(schema, &KeyPath::root(), root.get_ref(), &mut found);
    found.sort_by_key(|(_, span)| span.start);
    found
}

struct Walker<'s> {
    defs: &'s Value,
}

impl<'s> Walker<'s> {
    /// `schema` with its `$ref`s followed.
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        for _ in 0..MAX_HOPS {
            let target = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|name| self.defs.get(name));
            match target {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }

    /// The alternatives of `schema` (`anyOf` / `oneOf`), if it has them.
    fn alternatives(&self, schema: &'s Value) -> Option<&'s Vec<Value>> {
        ["anyOf", "oneOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array))
    }

    /// Whether `schema` accepts a table and nothing else.
    fn table_only(&self, schema: &'s Value, hops: usize) -> bool {
        if hops > MAX_HOPS {
            return false;
        }
        let schema = self.resolve(schema);
        if let Some(kind) = schema.get("type") {
            return kind == "object";
        }
        if let Some(options) = self.alternatives(schema) {
            return !options.is_empty() && options.iter().all(|o| self.table_only(o, hops + 1));
        }
        false
    }

    /// The one alternative of `schema` of type `kind`, or `schema` itself.
    fn only(&self, schema: &'s Value, kind: &str) -> Option<&'s Value> {
        let schema = self.resolve(schema);
        if schema.get("type").is_some_and(|t| t == kind) {
            return Some(schema);
        }
        let options = self.alternatives(schema)?;
        let mut matching = options
            .iter()
            .map(|o| self.resolve(o))
            .filter(|o| o.get("type").is_some_and(|t| t == kind));
        let one = matching.next()?;
        matching.next().is_none().then_some(one)
    }

    fn table(
        &self,
        schema: &'s Value,
        path: &KeyPath,
        table: &DeTable<'_>,
        found: &mut Vec<(KeyPath, Range<usize>)>,
    ) {
        let Some(schema) = self.only(schema, "object") else {
            return;
        };
        for (key, value) in table.iter() {
            let key = key.get_ref();
            let child = schema
                .get("properties")
                .and_then(|p| p.get(key.as_ref()))
                .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
            if let Some(child) = child {
                self.value(child, path.key(key), value, found);
            }
        }
    }

    fn value(
        &self,
        schema: &'s Value,
        path: KeyPath,
        value: &Spanned<DeValue<'_>>,
        found: &mut Vec<(KeyPath, Range<usize>)>,
    ) {
        match value.get_ref() {
            DeValue::Table(table) => self.table(schema, &path, table, found),
            DeValue::Array(items) => {
                if self.table_only(schema, 0) {
                    found.push((path, value.span()));
                    return;
                }
                let Some(item) = self.only(schema, "array").and_then(|a| a.get("items")) else {
                    return;
                };
                for (n, element) in items.iter().enumerate() {
                    self.value(item, path.index(n), element, found);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        let root = DeTable::parse(text).expect("toml");
        arrays_for_tables(&root)
            .into_iter()
            .map(|(key, span)| format!("{key} {}", &text[span]))
            .collect()
    }

    #[test]
    fn arrays_for_tables_are_found_at_any_depth() {
        let text = "retry = [3]\n[sources.a]\nbase_url = \"https://a\"\nbreaker = [false]\n\
                    [workflows.w]\nsteps = [{ scrapers = [\"x\"] }, [\"y\"]]\n";
        assert_eq!(
            found(text),
            [
                "retry [3]",
                "sources.a.breaker [false]",
                "workflows.w.steps[1] [\"y\"]"
            ]
        );
    }

    #[test]
    fn arrays_the_schema_allows_are_not() {
        let text = "[sources.a]\nbase_url = \"https://a\"\n[scrapers.s]\nsource = \"a\"\npath = \"/\"\n\
                    no_data = { status = [404] }\n[workflows.w]\nscrapers = [\"s\"]\n\
                    steps = [{ scrapers = [\"s\"], after = [] }]\n";
        assert!(found(text).is_empty(), "{:?}", found(text));
    }
}
