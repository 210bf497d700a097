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
    for key in [
        "pipeline",
        "retry",
        "sources",
        "scrapers",
        "workflows",
        "calendars",
        "scheduler",
        "datasets",
    ] {
        assert!(props.get(key).is_some(), "{key}");
    }
    assert_eq!(at(&schema, "/additionalProperties"), false);
    assert_eq!(at(&schema, "/$defs/RawDataset/additionalProperties"), false);
    assert!(at(&schema, "/$defs/RawSource/properties/health").is_object());
    assert_eq!(
        at(&schema, "/$defs/RawHealthProbe/required"),
        &serde_json::json!(["path"])
    );
    assert_eq!(
        at(&schema, "/$defs/RawCompleteBy/properties/severity/enum"),
        &serde_json::json!(["warning", "critical"])
    );
    assert_eq!(at(&schema, "/$defs/RawSource/additionalProperties"), false);
    assert_eq!(
        at(
            &schema,
            "/$defs/RawSource/properties/pause_on_rate_limit/type"
        ),
        "boolean"
    );
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
    // No spaces around it, as the resolver refuses them.
    assert_eq!(duration["pattern"], r"^([0-9]+(ms|s|m|h|d))+$");
    // A rate likewise: spaces inside it allowed, none around it.
    assert_eq!(
        at(&schema, "/$defs/RawSource/properties/rate_limit/pattern"),
        r"^[0-9]+\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)$"
    );
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

#[test]
fn schema_describes_the_scheduling_keys() {
    let schema = rebound_config::json_schema();
    assert_eq!(
        at(&schema, "/$defs/RawScheduler/additionalProperties"),
        false
    );
    assert_eq!(
        at(&schema, "/$defs/RawScheduler/properties/lease/$ref"),
        "#/$defs/Duration"
    );
    assert_eq!(
        at(&schema, "/$defs/RawCalendar/required"),
        &serde_json::json!(["dataset", "events", "id", "start"])
    );
    // A schedule is closed (wrong keys are refused) and its kinds listed.
    let schedule = at(&schema, "/$defs/RawSchedule");
    assert_eq!(schedule["additionalProperties"], false);
    assert!(
        schedule["properties"].get("unknown").is_none(),
        "{schedule}"
    );
    assert_eq!(
        schedule["properties"]["kind"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(schedule["oneOf"].as_array().unwrap().len(), 5);
    assert!(
        schedule["properties"]["start"]["pattern"]
            .as_str()
            .unwrap()
            .contains(":[0-5][0-9]")
    );
    assert_eq!(
        at(&schema, "/$defs/RawForEach/oneOf")
            .as_array()
            .unwrap()
            .len(),
        // calendar; dataset with value and param; dataset with params only.
        3
    );
    assert_eq!(
        at(&schema, "/$defs/RawWorkflow/properties/schedule/$ref"),
        "#/$defs/RawSchedule"
    );
    assert_eq!(
        at(&schema, "/$defs/RawScraper/properties/for_each/$ref"),
        "#/$defs/RawForEach"
    );
}

#[test]
fn schema_describes_the_document_keys() {
    let schema = rebound_config::json_schema();
    let formats = serde_json::json!(["json", "pdf", "html", "csv", "bytes"]);
    assert_eq!(
        at(&schema, "/$defs/RawScraper/properties/format/enum"),
        &formats
    );
    assert_eq!(
        at(&schema, "/$defs/RawTransform/properties/format/enum"),
        &formats
    );
    assert_eq!(
        at(&schema, "/$defs/RawTransform/required"),
        &serde_json::json!(["command"])
    );
    assert_eq!(
        at(&schema, "/$defs/RawTransform/additionalProperties"),
        false
    );
    assert_eq!(
        at(&schema, "/$defs/RawTransform/properties/timeout/$ref"),
        "#/$defs/Duration"
    );
    let conditional = at(
        &schema,
        "/$defs/RawScraper/properties/conditional/description",
    );
    assert!(
        conditional.as_str().unwrap().contains("If-None-Match"),
        "{conditional}"
    );
    assert!(at(&schema, "/$defs/RawScraper/properties/min_bytes").is_object());
}
