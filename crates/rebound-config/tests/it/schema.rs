//! The editor schema describes the file as the parser reads it.

use serde_json::Value;

fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in schema"))
}

#[test]
fn schema_describes_the_file() {
    let schema = rebound_config::json_schema();
    let props = at(&schema, "/properties");
    for key in ["pipeline", "retry", "sources", "scrapers", "workflows"] {
        assert!(props.get(key).is_some(), "{key}");
    }
    assert_eq!(at(&schema, "/additionalProperties"), false);
    assert_eq!(at(&schema, "/$defs/RawSource/additionalProperties"), false);
    // Doc comments become descriptions.
    let timeout = at(&schema, "/$defs/RawSource/properties/timeout/description");
    assert!(
        timeout.as_str().unwrap().contains("Default: \"20s\""),
        "{timeout}"
    );
    // Durations are strings with a pattern.
    let duration = at(&schema, "/$defs/Duration");
    assert_eq!(duration["type"], "string");
    assert!(duration["pattern"].as_str().unwrap().contains("ms|s|m|h|d"));
    assert_eq!(
        at(&schema, "/$defs/RawSource/properties/timeout/$ref"),
        "#/$defs/Duration"
    );
    assert_eq!(
        at(&schema, "/$defs/RawPipeline/required"),
        &serde_json::json!(["name"])
    );
    assert_eq!(
        at(&schema, "/$defs/RawRetry/properties/jitter/enum")
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
