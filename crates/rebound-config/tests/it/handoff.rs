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
            "[handoff.sinks.bus]\nkind = \"kafka\"\nurl = \"https://h.example/\"\n",
            "handoff.sinks.bus.kind: expected \"webhook\" or \"nats\", found \"kafka\"",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"https://h.example/\"\n",
            "handoff.sinks.bus.url: expected a nats:// or tls:// URL with a host",
        ),
        // Before: accepted, and refused only when `check --probe` or the
        // publisher first connected.
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://[::1\"\n",
            "handoff.sinks.bus.url: expected a nats:// or tls:// URL with a host",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:99999\"\n",
            "handoff.sinks.bus.url: expected a nats:// or tls:// URL with a host",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nsubject = \"rebound.{datasets}\"\n",
            "handoff.sinks.bus.subject: unknown field \"{datasets}\" in subject \"rebound.{datasets}\"; expected one of {pipeline}",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nsubject = \"rebound.*\"\n",
            "handoff.sinks.bus.subject: subject \"rebound.*\" contains '*'",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nstream = \"a.b\"\n",
            "handoff.sinks.bus.stream: bad stream name \"a.b\"",
        ),
        // Said to hold a bad character before, and printed whole.
        (
            &format!(
                "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nstream = \"{}\"\n",
                "S".repeat(300)
            ),
            "handoff.sinks.bus.stream: a stream name of 300 bytes is too long: JetStream allows at most 255",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nmax_age = \"1m\"\n",
            "handoff.sinks.bus.dedupe_window: dedupe_window must not be longer than max_age",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nack_subject = \"a..b\"\n",
            "handoff.sinks.bus.ack_subject: expected a NATS subject",
        ),
        (
            "[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nsigning_secret = \"k\"\n",
            "handoff.sinks.bus.signing_secret: signing_secret is for webhook sinks",
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
fn a_subject_naming_an_unknown_field_points_at_its_line_and_column() {
    let head =
        format!("{BASE}[handoff.sinks.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n");
    let text = format!("{head}subject = \"rebound.{{dataset}}.{{colour}}\"\n");
    let message = error(&text);
    let line = head.lines().count() + 1;
    // The column of the value, after `subject = `.
    assert!(
        message.contains(&format!("rebound.toml:{line}:11")),
        "{message}"
    );
    assert!(message.contains("unknown field \"{colour}\""), "{message}");
}

#[test]
fn a_nats_sink_resolves_with_documented_defaults() {
    use rebound_domain::handoff::nats;
    let text = format!(
        r#"{BASE}
[handoff.sinks.bus]
kind = "nats"
url = "nats://127.0.0.1:4222"
datasets = ["box*"]

[handoff.sinks.custom]
kind = "nats"
url = "nats://a:4222,nats://b:4222"
subject = "x.{{pipeline}}.{{dataset}}"
stream = "CUSTOM"
max_age = "1d"
dedupe_window = "2m"
ack_subject = "x.ack"
"#
    );
    let p = plan(&text);
    let bus = &p.handoff.sinks["bus"];
    assert_eq!(bus.kind, HandoffSinkKind::Nats);
    let n = bus.nats.as_ref().unwrap();
    assert_eq!(n.subject.as_str(), "rebound.{dataset}.{status}");
    assert_eq!(n.stream, "REBOUND");
    assert_eq!(n.max_age, Duration::from_secs(7 * 86_400));
    assert_eq!(n.dedupe_window, Duration::from_secs(15 * 60));
    assert_eq!(n.ack_subject, "rebound.ack");
    assert_eq!(bus.timeout, Duration::from_secs(10));
    let custom = p.handoff.sinks["custom"].nats.as_ref().unwrap();
    assert_eq!(custom.subject.filter(), "x.*.*");
    assert_eq!(custom.stream, "CUSTOM");
    assert_eq!(custom.max_age, Duration::from_secs(86_400));
    assert_eq!(custom.dedupe_window, Duration::from_secs(120));
    assert_eq!(custom.ack_subject, "x.ack");
    assert_eq!(nats::DEFAULT_ACK_SUBJECT, "rebound.ack");
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
