//! `[datasets."NAME"]` and a source's `health` probe.

use super::{BASE, error, plan};
use rebound_domain::plan::{CompleteBy, Severity};
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
dataset = "nba/box"
for_each = { calendar = "games", param = "game_id" }
"#;

fn h(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

#[test]
fn dataset_keys_resolve_with_defaults() {
    let text = format!(
        "{BASE}{FAN}\n[datasets.events]\nfresh_warn = \"26h\"\nfresh_error = \"50h\"\n\n\
         [datasets.\"nba/box\"]\ncomplete_by = {{ after_event_start = \"6h\" }}\n"
    );
    let p = plan(&text);
    let events = &p.datasets["events"];
    assert_eq!(events.fresh_warn, Some(h(26)));
    assert_eq!(events.fresh_error, Some(h(50)));
    assert_eq!(events.complete_by, None);
    let bx = &p.datasets["nba/box"];
    assert_eq!(bx.fresh_warn, None);
    assert_eq!(
        bx.complete_by,
        Some(CompleteBy {
            after_event_start: h(6),
            severity: Severity::Warning
        })
    );
    let text = format!(
        "{BASE}{FAN}\n[datasets.\"nba/box\"]\ncomplete_by = {{ after_event_start = \"6h\", severity = \"critical\" }}\n"
    );
    assert_eq!(
        plan(&text).datasets["nba/box"]
            .complete_by
            .unwrap()
            .severity,
        Severity::Critical
    );
    // No [datasets] at all: nothing expected.
    assert!(plan(BASE).datasets.is_empty());
}

#[test]
fn dataset_mistakes_name_file_line_and_key() {
    let unknown = error(&format!(
        "{BASE}\n[datasets.\"evnets\"]\nfresh_warn = \"1h\"\n"
    ));
    assert!(
        unknown.contains("rebound.toml:")
            && unknown.contains("datasets.evnets: no scraper produces dataset \"evnets\"")
            && unknown.contains("did you mean \"events\""),
        "{unknown}"
    );
    let order = error(&format!(
        "{BASE}\n[datasets.events]\nfresh_warn = \"50h\"\nfresh_error = \"26h\"\n"
    ));
    assert!(
        order.contains(
            "datasets.events.fresh_warn: fresh_warn (2d 2h) must be shorter than fresh_error (1d 2h)"
        ),
        "{order}"
    );
    let equal = error(&format!(
        "{BASE}\n[datasets.events]\nfresh_warn = \"2h\"\nfresh_error = \"2h\"\n"
    ));
    assert!(equal.contains("must be shorter"), "{equal}");
    let no_calendar = error(&format!(
        "{BASE}\n[datasets.events]\ncomplete_by = {{ after_event_start = \"6h\" }}\n"
    ));
    assert!(
        no_calendar.contains(
            "datasets.events.complete_by: complete_by needs a dataset fanned out over a calendar"
        ) && no_calendar.contains("(events)"),
        "{no_calendar}"
    );
    let severity = error(&format!(
        "{BASE}{FAN}\n[datasets.\"nba/box\"]\ncomplete_by = {{ after_event_start = \"6h\", severity = \"page\" }}\n"
    ));
    assert!(
        severity.contains(
            "datasets.\"nba/box\".complete_by.severity: expected \"warning\" or \"critical\", found \"page\""
        ),
        "{severity}"
    );
    let typo = error(&format!(
        "{BASE}\n[datasets.events]\nfresh_warning = \"2h\"\n"
    ));
    assert!(
        typo.contains("fresh_warning") && typo.contains("fresh_warn"),
        "{typo}"
    );
    let missing = error(&format!(
        "{BASE}{FAN}\n[datasets.\"nba/box\"]\ncomplete_by = {{ severity = \"critical\" }}\n"
    ));
    assert!(missing.contains("after_event_start"), "{missing}");
    let bad = error(&format!(
        "{BASE}\n[datasets.events]\nfresh_error = \"soon\"\n"
    ));
    assert!(bad.contains("datasets.events.fresh_error"), "{bad}");
    // The line of the key is named.
    let text = format!("{BASE}\n[datasets.events]\nfresh_warn = \"50h\"\nfresh_error = \"26h\"\n");
    let line = text
        .lines()
        .position(|l| l.starts_with("fresh_warn"))
        .unwrap()
        + 1;
    assert!(
        order.contains(&format!("rebound.toml:{line}:")),
        "line {line}: {order}"
    );
}

const PROBE: &str = r#"
[pipeline]
name = "t"

[sources.api]
base_url = "https://api.example/v1/"
headers = { "X-Key" = "${API_KEY}" }
"#;

#[test]
fn probe_resolves_with_defaults() {
    let p = plan(&format!("{PROBE}health = {{ path = \"/status\" }}\n"));
    let probe = p.sources["api"].health.clone().unwrap();
    assert_eq!(probe.path_text, "/status");
    assert_eq!(probe.expect_status, 200);
    assert_eq!(probe.timeout, Duration::from_secs(10));
    let p = plan(&format!(
        "{PROBE}health = {{ path = \"/ping/{{date}}\", expect_status = 204, timeout = \"3s\" }}\n"
    ));
    let probe = p.sources["api"].health.clone().unwrap();
    assert_eq!(probe.expect_status, 204);
    assert_eq!(probe.timeout, Duration::from_secs(3));
    assert!(plan(PROBE).sources["api"].health.is_none());
}

#[test]
fn probe_mistakes_are_named_by_key() {
    let status = error(&format!(
        "{PROBE}health = {{ path = \"/status\", expect_status = 42 }}\n"
    ));
    assert!(
        status.contains(
            "sources.api.health.expect_status: expected an HTTP status from 100 to 599, found 42"
        ),
        "{status}"
    );
    let slash = error(&format!("{PROBE}health = {{ path = \"status\" }}\n"));
    assert!(
        slash.contains("sources.api.health.path: expected a path starting with \"/\""),
        "{slash}"
    );
    let param = error(&format!(
        "{PROBE}health = {{ path = \"/g/{{game_id}}\" }}\n"
    ));
    assert!(
        param.contains("sources.api.health.path: the probe cannot fill {game_id}"),
        "{param}"
    );
    let zero = error(&format!(
        "{PROBE}health = {{ path = \"/s\", timeout = \"0s\" }}\n"
    ));
    assert!(zero.contains("sources.api.health.timeout"), "{zero}");
    let unknown = error(&format!(
        "{PROBE}health = {{ path = \"/s\", expect = 200 }}\n"
    ));
    assert!(unknown.contains("expect"), "{unknown}");
    let no_path = error(&format!("{PROBE}health = {{ expect_status = 200 }}\n"));
    assert!(no_path.contains("path"), "{no_path}");
}

#[test]
fn check_summary_lists_probes_and_expectations() {
    let text = format!(
        "{PROBE}health = {{ path = \"/status\" }}\n\n[scrapers.events]\nsource = \"api\"\npath = \"/e\"\n\n\
         [datasets.events]\nfresh_warn = \"26h\"\nfresh_error = \"50h\"\n"
    );
    let summary = rebound_config::summary(&plan(&text));
    assert!(
        summary.contains("health probes (1):\n  api: GET /status expects 200 within 10s"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "dataset expectations (1):\n  events: stale (warning) after 1d 2h, critical after 2d 2h without new data"
        ),
        "{summary}"
    );
    let fan = format!(
        "{BASE}{FAN}\n[datasets.\"nba/box\"]\ncomplete_by = {{ after_event_start = \"6h\", severity = \"critical\" }}\n"
    );
    let summary = rebound_config::summary(&plan(&fan));
    assert!(
        summary.contains("nba/box: every event collected by 6h after it starts (else critical)"),
        "{summary}"
    );
}

/// `[sources.X.breaker] follow_health`: on by default (the health probe
/// feeds the breaker), off when asked, and a wrong type is an error at its
/// key path.
#[test]
fn breaker_follow_health_defaults_on_and_can_be_turned_off() {
    assert!(plan(BASE).sources["api"].breaker.follow_health);
    let off = format!("{BASE}\n[sources.api.breaker]\nfollow_health = false\n");
    assert!(!plan(&off).sources["api"].breaker.follow_health);
    let bad = format!("{BASE}\n[sources.api.breaker]\nfollow_health = \"no\"\n");
    let message = error(&bad);
    assert!(message.contains("follow_health"), "{message}");
}
