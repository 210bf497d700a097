//! `[handoff]`: sinks of completion events, good and bad.

use super::{BASE, error, plan};
use rebound_domain::handoff::{AckSettings, EVENT_STATUSES, HandoffSettings, HandoffSinkKind};
use rebound_domain::outcome::ScraperStatus;
use std::time::Duration;

#[test]
fn no_handoff_table_means_no_sinks_and_a_ten_second_wait() {
    let p = plan(BASE);
    assert_eq!(p.handoff, HandoffSettings::default());
    assert!(p.handoff.sinks.is_empty());
    assert_eq!(p.handoff.publish_wait, Duration::from_secs(10));
}

#[test]
fn every_key_resolves_and_defaults_fill_the_rest() {
    let text = format!(
        r#"{BASE}
[handoff]
publish_wait = "3s"

[handoff.sinks.warehouse]
kind = "webhook"
url = "${{HANDOFF_URL}}"
signing_secret = "${{HANDOFF_KEY}}"
datasets = ["box*", "odds.events"]
statuses = ["success", "overdue"]
timeout = "2s"

[handoff.sinks.all]
kind = "webhook"
url = "http://127.0.0.1:9/events"
"#
    );
    let p = plan(&text);
    assert_eq!(p.handoff.publish_wait, Duration::from_secs(3));
    let w = &p.handoff.sinks["warehouse"];
    assert_eq!(w.kind, HandoffSinkKind::Webhook);
    assert_eq!(w.url, "https://fake-HANDOFF_URL.example/hook");
    assert_eq!(w.signing_secret.as_deref(), Some("fake-HANDOFF_KEY"));
    assert_eq!(
        w.datasets,
        vec!["box*".to_string(), "odds.events".to_string()]
    );
    assert_eq!(
        w.statuses,
        vec![ScraperStatus::Success, ScraperStatus::Overdue]
    );
    assert_eq!(w.timeout, Duration::from_secs(2));
    let all = &p.handoff.sinks["all"];
    assert!(all.datasets.is_empty());
    assert_eq!(all.statuses, EVENT_STATUSES.to_vec());
    assert_eq!(all.signing_secret, None);
    assert_eq!(all.timeout, Duration::from_secs(10));
}

#[test]
fn bad_sinks_are_named_with_their_place() {
    let cases = [
        (
            // NATS is not in this build: an unknown kind like any other.
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"https://h.example/\"\n",
            "handoff.sinks.bus.kind: expected \"webhook\", found \"nats\"",
        ),
        (
            "[handoff.sinks.x]\nkind = \"webhook\"\nurl = \"h.example/x\"\n",
            "handoff.sinks.x.url: expected an http:// or https:// URL with a host",
        ),
        (
            "[handoff.sinks.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\nstatuses = [\"skipped\"]\n",
            "handoff.sinks.x.statuses[0]: expected one of \"success\", \"no_data\", \"failed\", \"overdue\", found \"skipped\"",
        ),
        (
            "[handoff.sinks.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\nstatuses = []\n",
            "handoff.sinks.x.statuses: expected at least one status",
        ),
        (
            "[handoff.sinks.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\ndatasets = [\"\"]\n",
            "handoff.sinks.x.datasets[0]: expected a dataset name or glob",
        ),
        (
            "[handoff.sinks.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsigning_secret = \"\"\n",
            "handoff.sinks.x.signing_secret: expected a non-empty key",
        ),
        (
            "[handoff.sinks.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsubject = \"a\"\n",
            "subject",
        ),
        ("[handoff]\npublish_wait = \"0s\"\n", "handoff.publish_wait"),
        ("[handoff]\npublish_wait = \"2h\"\n", "handoff.publish_wait"),
    ];
    for (section, expected) in cases {
        let text = format!("{BASE}{section}");
        let message = error(&text);
        assert!(message.contains(expected), "{section}\n=> {message}");
        assert!(message.contains("rebound.toml:"), "{message}");
    }
}

#[test]
fn the_nats_kind_error_points_at_its_line() {
    let text =
        format!("{BASE}[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"https://h.example/\"\n");
    let message = error(&text);
    let line = format!("{BASE}[handoff.sinks.bus]\n").lines().count() + 1;
    assert!(
        message.contains(&format!("rebound.toml:{line}:")),
        "{message}"
    );
}

#[test]
fn acknowledgement_settings_default_and_resolve() {
    let p = plan(BASE);
    assert_eq!(p.handoff.ack, AckSettings::default());
    assert!(!p.handoff.ack.ack_required);
    assert_eq!(p.handoff.ack.redeliver_after, Duration::from_secs(1800));
    assert_eq!(p.handoff.ack.max_redeliveries, 1);
    assert_eq!(p.handoff.ack.storm_ratio, 0.8);
    assert_eq!(p.handoff.ack.storm_min, 50);
    let text = format!(
        "{BASE}[handoff]\nack_required = true\nredeliver_after = \"10m\"\nmax_redeliveries = 3\nstorm_ratio = 0.5\nstorm_min = 10\n"
    );
    let ack = plan(&text).handoff.ack;
    assert_eq!(
        ack,
        AckSettings {
            ack_required: true,
            redeliver_after: Duration::from_secs(600),
            max_redeliveries: 3,
            storm_ratio: 0.5,
            storm_min: 10,
        }
    );
}

#[test]
fn bad_acknowledgement_settings_are_named_with_file_line_and_column() {
    let cases = [
        (
            "redeliver_after = \"0s\"",
            "handoff.redeliver_after: expected a duration longer than zero",
        ),
        ("redeliver_after = \"8d\"", "handoff.redeliver_after"),
        (
            "max_redeliveries = -1",
            "handoff.max_redeliveries: expected an integer >= 0, found -1",
        ),
        (
            "max_redeliveries = 101",
            "handoff.max_redeliveries: expected an integer <= 100",
        ),
        (
            "storm_ratio = 1.0",
            "handoff.storm_ratio: expected a share above 0 and below 1",
        ),
        ("storm_ratio = 0", "handoff.storm_ratio"),
        (
            "storm_min = 0",
            "handoff.storm_min: expected an integer >= 1, found 0",
        ),
        ("ack_required = \"yes\"", "ack_required"),
    ];
    for (line, expected) in cases {
        let text = format!("{BASE}[handoff]\n{line}\n");
        let message = error(&text);
        assert!(message.contains(expected), "{line}\n=> {message}");
        let at = format!("{BASE}[handoff]\n").lines().count() + 1;
        assert!(
            message.contains(&format!("rebound.toml:{at}:")),
            "{line}\n=> {message}"
        );
    }
}
