//! `expected_within`, `expected_by`, `recheck` and `lockout` on scrapers.

use super::{BASE, error, plan};
use rebound_domain::plan::{Due, Expectation, Lockout};
use std::time::Duration;

const FAN: &str = r#"
[calendars.games]
dataset = "events"
events = "$[*]"
id = "id"
start = "start"

[scrapers.box]
source = "api"
path = "/box/{game_id}"
for_each = { calendar = "games", param = "game_id" }
"#;

fn h(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

#[test]
fn keys_resolve_with_their_defaults() {
    let text = format!(
        "{BASE}{FAN}expected_within = {{ after_event_start = \"6h\", deadline = \"48h\" }}\nlockout = {{}}\n"
    );
    let p = plan(&text);
    let b = &p.scrapers["box"];
    assert_eq!(
        b.expected,
        Some(Expectation {
            due: Due::AfterEventStart {
                after: h(6),
                deadline: h(48)
            },
            recheck: h(2)
        })
    );
    assert_eq!(
        b.lockout,
        Some(Lockout {
            after: 3,
            duration: h(24)
        })
    );
    let text = format!(
        "{BASE}{FAN}expected_by = \"15:00\"\nrecheck = \"30m\"\nlockout = {{ after = 5, for = \"6h\" }}\n"
    );
    let b = plan(&text).scrapers["box"].clone();
    assert_eq!(b.expected.unwrap().recheck, Duration::from_secs(1800));
    assert_eq!(b.lockout.unwrap().after, 5);
}

#[test]
fn mistakes_are_named_by_key() {
    let both = error(&format!(
        "{BASE}{FAN}expected_by = \"15:00\"\nexpected_within = {{ after_event_start = \"6h\", deadline = \"48h\" }}\n"
    ));
    assert!(
        both.contains("scrapers.box.expected_by: give expected_within"),
        "{both}"
    );
    let early = error(&format!(
        "{BASE}{FAN}expected_within = {{ after_event_start = \"6h\", deadline = \"2h\" }}\n"
    ));
    assert!(
        early.contains(
            "scrapers.box.expected_within.deadline: the deadline (2h) must not be earlier"
        ),
        "{early}"
    );
    let lonely = error(&format!("{BASE}{FAN}recheck = \"2h\"\n"));
    assert!(
        lonely.contains("scrapers.box.recheck: recheck needs"),
        "{lonely}"
    );
    let no_fan = error(&format!("{BASE}lockout = {{ after = 3 }}\n"));
    assert!(
        no_fan.contains("scrapers.events.lockout: lockout needs for_each"),
        "{no_fan}"
    );
    let zero = error(&format!("{BASE}{FAN}lockout = {{ after = 0 }}\n"));
    assert!(
        zero.contains("scrapers.box.lockout.after: expected an integer >= 1"),
        "{zero}"
    );
    let typo = error(&format!("{BASE}{FAN}lockout = {{ fro = \"1h\" }}\n"));
    assert!(typo.contains("fro"), "{typo}");
}

#[test]
fn check_summary_names_the_late_data_and_lockout_policies() {
    let within = format!(
        "{BASE}{FAN}expected_within = {{ after_event_start = \"6h\", deadline = \"48h\" }}\nlockout = {{}}\n"
    );
    let text = rebound_config::summary(&plan(&within));
    assert!(
        text.contains(
            "late data and lockouts (1):\n  box: data expected 6h after the event starts, overdue 2d after it; \
             re-checked every 2h; an entity is locked out for 1d after 3 no-data or failed calls in a row\n"
        ),
        "{text}"
    );
    let by = format!("{BASE}{FAN}expected_by = \"15:00\"\n");
    let text = rebound_config::summary(&plan(&by));
    assert!(
        text.contains("  box: data expected by 15:00 local; re-checked every 2h\n"),
        "{text}"
    );
    let text = rebound_config::summary(&plan(&format!("{BASE}{FAN}")));
    assert!(!text.contains("late data and lockouts"), "{text}");
}
