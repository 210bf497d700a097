//! `[pipeline] retention`: how long history is kept, as a valid file
//! resolves it, as `rebound check` shows it, and bad values refused with
//! their key path and position.

use super::bad_files::{Case, check};
use super::{BASE, plan};
use std::time::Duration;

/// BASE with `retention = VALUE` in its `[pipeline]` table.
fn with_retention(value: &str) -> String {
    BASE.replacen(
        "name = \"t\"\n",
        &format!("name = \"t\"\nretention = {value}\n"),
        1,
    )
}

#[test]
fn retention_is_optional_and_parsed_as_a_duration() {
    assert_eq!(plan(BASE).pipeline.retention, None);
    assert_eq!(
        plan(&with_retention("\"90d\"")).pipeline.retention,
        Some(Duration::from_secs(90 * 86_400))
    );
    assert_eq!(
        plan(&with_retention("\"36h\"")).pipeline.retention,
        Some(Duration::from_secs(36 * 3600))
    );
}

#[test]
fn check_summary_says_how_long_history_is_kept() {
    let kept = rebound_config::summary(&plan(&with_retention("\"90d\"")));
    assert!(
        kept.contains("  retention: 90d (older history and raw payloads are purged)\n"),
        "{kept}"
    );
    let forever = rebound_config::summary(&plan(BASE));
    assert!(
        forever.contains("  retention: none (history is kept forever)\n"),
        "{forever}"
    );
}

#[test]
fn bad_retention_names_key_position_and_expectation() {
    let case = |name, value: &str, at, says| Case {
        name,
        text: with_retention(value),
        key: "pipeline.retention",
        at,
        says,
    };
    check(vec![
        case(
            "retention zero",
            "\"0d\"",
            "\"0d\"",
            "expected a duration longer than zero, found \"0d\"",
        ),
        case("retention without unit", "\"90\"", "\"90\"", "needs a unit"),
        case("retention as a number", "90", "90", "expected a duration"),
        case(
            "retention in words",
            "\"ninety days\"",
            "\"ninety days\"",
            "expected a duration",
        ),
    ]);
    // A typo in the key is an unknown key, with the right suggestion.
    let typo =
        super::error(&BASE.replacen("name = \"t\"\n", "name = \"t\"\nretension = \"90d\"\n", 1));
    assert!(typo.contains("pipeline.retension"), "{typo}");
    assert!(typo.contains("did you mean \"retention\""), "{typo}");
}
