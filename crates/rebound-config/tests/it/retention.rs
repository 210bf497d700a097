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
        plan(&with_retention("\"60h\"")).pipeline.retention,
        Some(Duration::from_secs(60 * 3600))
    );
    // The floor itself is accepted.
    assert_eq!(
        plan(&with_retention("\"2d\"")).pipeline.retention,
        Some(Duration::from_secs(2 * 86_400))
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

#[test]
fn retention_shorter_than_the_history_read_back_is_refused_naming_why() {
    let case = |name, text: String, value: &'static str, says| Case {
        name,
        text,
        key: "pipeline.retention",
        at: value,
        says,
    };
    // Yesterday and today in the pipeline's zone reach 48 hours back.
    let floor = "expected at least \"2d\", found \"1s\": the health report and the \
                 scheduler read yesterday and today";
    // With a longer catch_up, a day more than it.
    let catch_up = with_retention("\"3d\"") + "\n[scheduler]\ncatch_up = \"7d\"\n";
    // With a dataset judged over a longer time, its threshold.
    let fresh = with_retention("\"4d\"")
        + "\n[datasets.events]\nfresh_warn = \"3d\"\nfresh_error = \"5d\"\n\
           \n[datasets.other]\nfresh_warn = \"26h\"\n";
    let warn_only = with_retention("\"4d\"") + "\n[datasets.events]\nfresh_warn = \"6d\"\n";
    // With a calendar refreshed rarely, its max_age.
    let calendar = with_retention("\"4d\"")
        + r#"
[scrapers.games]
source = "api"
path = "/games"
dataset = "games"

[calendars.games]
dataset = "games"
events = "$[*]"
id = "id"
start = "start"
refresh = { scraper = "games", max_age = "10d" }
"#;
    check(vec![
        case("one second", with_retention("\"1s\""), "\"1s\"", floor),
        case(
            "a day",
            with_retention("\"24h\""),
            "\"24h\"",
            "expected at least \"2d\", found \"24h\"",
        ),
        case(
            "catch_up",
            catch_up,
            "\"3d\"",
            "expected at least \"8d\", found \"3d\": the scheduler reads a day more than \
             scheduler.catch_up = \"7d\" back; a shorter retention purges history that is \
             still read",
        ),
        case(
            "fresh_error",
            fresh,
            "\"4d\"",
            "expected at least \"5d\", found \"4d\": datasets.events.fresh_error = \"5d\"",
        ),
        case(
            "fresh_warn alone",
            warn_only,
            "\"4d\"",
            "expected at least \"6d\", found \"4d\": datasets.events.fresh_warn = \"6d\"",
        ),
        case(
            "calendar max_age",
            calendar,
            "\"4d\"",
            "expected at least \"10d\", found \"4d\": calendars.games.refresh.max_age = \"10d\"",
        ),
    ]);
}
