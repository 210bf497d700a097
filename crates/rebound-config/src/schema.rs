//! The JSON Schema of the config file, for editors.
//!
//! Generated from the raw serde structs so it cannot drift from what the
//! parser accepts. One adjustment: schemars describes `Option<T>` as "T or
//! null", but TOML has no null (a key is simply left out), and an editor
//! offering `null` would suggest a file the parser refuses.

use serde_json::Value;

pub(crate) fn json_schema() -> Value {
    let mut schema = schemars::schema_for!(crate::raw::RawConfig).to_value();
    strip_null(&mut schema);
    schema
}

/// Removes `null` alternatives: `"type": ["string", "null"]` becomes
/// `"type": "string"`, and `anyOf: [S, {"type": "null"}]` becomes S merged
/// into the enclosing schema (which keeps its description).
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(options)) = map.get_mut("anyOf") {
                options.retain(|o| o.get("type").and_then(Value::as_str) != Some("null"));
                if options.len() == 1
                    && let Some(Value::Object(inner)) = options.pop()
                {
                    map.remove("anyOf");
                    for (k, v) in inner {
                        map.entry(k).or_insert(v);
                    }
                }
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_null_anywhere() {
        let text = json_schema().to_string();
        assert!(!text.contains("\"null\""), "{text}");
    }
}
