//! `docs/scenario.schema.json` is the schema of the scenario structs the
//! parser reads, and every built-in scenario validates against it (with a
//! small validator for the keywords the schema uses).

use rebound_simulate::builtin::BUILTIN;
use rebound_simulate::scenario::json_schema;
use serde_json::Value;

const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/scenario.schema.json"
);

#[test]
fn the_schema_file_is_the_generated_schema() {
    let generated = serde_json::to_string_pretty(&json_schema()).expect("schema") + "\n";
    let file = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(
        file == generated,
        "docs/scenario.schema.json is out of date; run `cargo test -p rebound-simulate --test schema -- --ignored` to write it"
    );
}

#[test]
#[ignore = "writes docs/scenario.schema.json"]
fn write_the_schema_file() {
    let generated = serde_json::to_string_pretty(&json_schema()).expect("schema") + "\n";
    std::fs::write(SCHEMA_PATH, generated).expect("write the schema");
}

/// Errors of `value` against `schema` (the keywords the generated schema uses).
fn validate(value: &Value, schema: &Value, root: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        return validate(value, &root["$defs"][name], root, at, errors);
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        if !ok {
            errors.push(format!("{at}: {actual} is not {allowed:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        errors.push(format!("{at}: {n} < {min}"));
    }
    if let (Some(max), Some(n)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n > max
    {
        errors.push(format!("{at}: {n} > {max}"));
    }
    if let Value::Object(map) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(required) {
                errors.push(format!("{at}: missing {required}"));
            }
        }
        for (key, item) in map {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => validate(item, sub, root, &format!("{at}.{key}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unknown key {key}"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        for (n, item) in items.iter().enumerate() {
            validate(item, sub, root, &format!("{at}[{n}]"), errors);
        }
    }
}

#[test]
fn every_built_in_scenario_validates_against_the_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(SCHEMA_PATH).expect("docs/scenario.schema.json"),
    )
    .expect("the schema is JSON");
    for (name, text) in BUILTIN {
        let value: Value = toml::from_str::<toml::Value>(text)
            .map(|v| serde_json::to_value(v).expect("TOML as JSON"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut errors = Vec::new();
        validate(&value, &schema, &schema, name, &mut errors);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    // The validator does refuse what the schema refuses.
    let bad: Value = serde_json::json!({"from": "2026-01-01", "days": 0, "speed": 1,
        "faults": [{"kind": "melt", "start": "2026-01-01"}]});
    let mut errors = Vec::new();
    validate(&bad, &schema, &schema, "bad", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}
