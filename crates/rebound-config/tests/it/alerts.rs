//! `[alerts]`: limits, conditions and sinks, good and bad.

use super::{BASE, error, load, plan};
use rebound_domain::alerts::{AlertConditions, AlertSettings, MinLevel, SinkKind};
use std::time::Duration;

fn m(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

#[test]
fn no_alerts_table_means_the_defaults_and_no_sinks() {
    let p = plan(BASE);
    assert_eq!(p.alerts, AlertSettings::default());
    assert_eq!(p.alerts.renotify, m(360));
    assert_eq!(p.alerts.evaluate_every, m(1));
    assert_eq!(p.alerts.max_per_incident_per_hour, 2);
    assert_eq!(p.alerts.max_per_hour, 30);
    let c = &p.alerts.conditions;
    assert_eq!(c.workflow_failed_after, Some(3));
    assert_eq!(c.source_unhealthy_grace, Some(m(15)));
    assert_eq!(c.quota_share, Some(0.8));
    assert_eq!(c.lockout_share, Some(0.2));
    assert!(c.dataset_stale && c.completeness_shortfall && c.data_overdue);
    assert!(p.alerts.sinks.is_empty());
}

#[test]
fn every_key_resolves() {
    let text = format!(
        r#"{BASE}
[alerts]
renotify = "2h"
max_per_incident_per_hour = 5
max_per_hour = 100
evaluate_every = "30s"

[alerts.conditions]
workflow_failed = {{ after = 5 }}
source_unhealthy = {{ grace = "1h" }}
dataset_stale = false
completeness_shortfall = false
quota_high = false
quota_share = 0.9
data_overdue = false
lockout_share = 0.5

[alerts.sinks.oncall]
kind = "slack"
url = "${{SLACK_URL}}"
min_level = "critical"
timeout = "3s"

[alerts.sinks.hook]
kind = "webhook"
url = "http://127.0.0.1:8080/alerts"
"#
    );
    let p = plan(&text);
    let a = &p.alerts;
    assert_eq!(a.renotify, m(120));
    assert_eq!(a.evaluate_every, Duration::from_secs(30));
    assert_eq!((a.max_per_incident_per_hour, a.max_per_hour), (5, 100));
    assert_eq!(
        a.conditions,
        AlertConditions {
            workflow_failed_after: Some(5),
            source_unhealthy_grace: Some(m(60)),
            dataset_stale: false,
            completeness_shortfall: false,
            quota_share: None,
            data_overdue: false,
            lockout_share: Some(0.5),
        }
    );
    let oncall = &a.sinks["oncall"];
    assert_eq!(oncall.kind, SinkKind::Slack);
    assert_eq!(oncall.url, "https://fake-SLACK_URL.example/hook");
    assert_eq!(oncall.min_level, MinLevel::Critical);
    assert_eq!(oncall.timeout, Duration::from_secs(3));
    let hook = &a.sinks["hook"];
    assert_eq!(hook.kind, SinkKind::Webhook);
    assert_eq!(hook.min_level, MinLevel::Warning);
    assert_eq!(hook.timeout, Duration::from_secs(10));
    // The URL is a secret: the redactor masks it and Debug never shows it.
    assert_eq!(
        p.redactor
            .redact("posting to https://fake-SLACK_URL.example/hook"),
        "posting to ***"
    );
    assert!(!format!("{oncall:?}").contains("fake-"));

    let off = plan(&format!(
        "{BASE}[alerts.conditions]\nworkflow_failed = {{ enabled = false }}\nsource_unhealthy = {{ enabled = false }}\nlockouts_high = false\n"
    ));
    assert_eq!(off.alerts.conditions.workflow_failed_after, None);
    assert_eq!(off.alerts.conditions.source_unhealthy_grace, None);
    assert_eq!(off.alerts.conditions.lockout_share, None);
}

#[test]
fn mistakes_are_named_by_key_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "[alerts]\nrenotify = \"0s\"\n",
            "alerts.renotify: expected a duration longer than zero",
        ),
        ("[alerts]\nrenotify = 6\n", "alerts.renotify"),
        (
            "[alerts]\nmax_per_hour = 0\n",
            "alerts.max_per_hour: expected an integer >= 1, found 0",
        ),
        (
            "[alerts]\nmax_per_incident_per_hour = -1\n",
            "alerts.max_per_incident_per_hour: expected an integer >= 1",
        ),
        (
            "[alerts]\nevaluate_every = \"soon\"\n",
            "alerts.evaluate_every",
        ),
        ("[alerts]\nrenotfy = \"1h\"\n", "renotfy"),
        (
            "[alerts.conditions]\nquota_share = 80\n",
            "alerts.conditions.quota_share: expected a share above 0 and at most 1",
        ),
        (
            "[alerts.conditions]\nlockout_share = 0\n",
            "alerts.conditions.lockout_share: expected a share above 0",
        ),
        (
            "[alerts.conditions]\nworkflow_failed = { after = 0 }\n",
            "alerts.conditions.workflow_failed.after: expected an integer >= 1",
        ),
        (
            "[alerts.conditions]\nsource_unhealthy = { grace = \"a while\" }\n",
            "alerts.conditions.source_unhealthy.grace",
        ),
        ("[alerts.conditions]\nstale = true\n", "stale"),
        (
            "[alerts.sinks.x]\nkind = \"email\"\nurl = \"https://h.example/\"\n",
            "alerts.sinks.x.kind: expected \"webhook\" or \"slack\", found \"email\"",
        ),
        (
            "[alerts.sinks.x]\nkind = \"slack\"\nurl = \"hooks.slack.com/x\"\n",
            "alerts.sinks.x.url: expected an http:// or https:// URL with a host",
        ),
        (
            "[alerts.sinks.x]\nkind = \"slack\"\nurl = \"https://h.example/\"\nmin_level = \"info\"\n",
            "alerts.sinks.x.min_level: expected \"warning\" or \"critical\", found \"info\"",
        ),
        (
            "[alerts.sinks.x]\nkind = \"slack\"\nurl = \"${MISSING_URL}\"\n",
            "alerts.sinks.x.url",
        ),
        ("[alerts.sinks.x]\nkind = \"slack\"\n", "url"),
        (
            "[alerts.sinks.\"a b\"]\nkind = \"slack\"\nurl = \"https://h.example/\"\n",
            "bad name \"a b\"",
        ),
    ];
    for (section, expected) in cases {
        let text = format!("{BASE}{section}");
        let message = error(&text);
        assert!(message.contains(expected), "{section}\n=> {message}");
        // Every message points at a place in the file.
        assert!(message.contains("rebound.toml:"), "{message}");
    }
}

#[test]
fn a_secret_url_that_is_not_a_url_is_reported_without_its_value() {
    // `SECRET` resolves to "fake-SECRET", which is not a URL: the message
    // names the key and quotes what was written, never the value.
    let message = error(&format!(
        "{BASE}[alerts.sinks.x]\nkind = \"webhook\"\nurl = \"${{SECRET}}\"\n"
    ));
    assert!(message.contains("alerts.sinks.x.url"), "{message}");
    assert!(message.contains("${SECRET}"), "{message}");
    assert!(!message.contains("fake-SECRET"), "{message}");
    let line = message
        .lines()
        .find(|l| l.contains("alerts.sinks.x.url"))
        .unwrap();
    let expected_line = format!("{BASE}[alerts.sinks.x]\nkind = \"webhook\"\n")
        .lines()
        .count()
        + 1;
    assert!(
        line.contains(&format!("rebound.toml:{expected_line}:")),
        "{line}"
    );
}

#[test]
fn check_summary_lists_conditions_and_sinks_but_never_a_url() {
    let text = format!(
        "{BASE}[alerts.conditions]\ndata_overdue = false\n[alerts.sinks.oncall]\nkind = \"slack\"\nurl = \"${{SLACK_URL}}\"\nmin_level = \"critical\"\n"
    );
    let summary = rebound_config::summary(&plan(&text));
    assert!(
        summary.contains(
            "alerts: evaluated every 1m, reminders every 6h, at most 2 per incident and 30 in all per hour\n"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("workflow_failed (after 3 failed or partial runs in a row)"),
        "{summary}"
    );
    assert!(summary.contains("quota_high (above 80%)"), "{summary}");
    assert!(
        summary.contains("  turned off: data_overdue\n"),
        "{summary}"
    );
    assert!(
        summary.contains("    oncall: slack (level critical and above, timeout 10s)\n"),
        "{summary}"
    );
    assert!(!summary.contains("fake-"), "{summary}");
    assert!(!summary.contains("hook"), "{summary}");
    let none = rebound_config::summary(&plan(&format!("{BASE}[alerts]\nmax_per_hour = 10\n")));
    assert!(none.contains("sinks (0): incidents are recorded"), "{none}");
    let defaults = rebound_config::summary(&plan(BASE));
    assert!(!defaults.contains("alerts"), "{defaults}");
}

#[test]
fn schema_describes_the_alert_keys() {
    let schema = serde_json::to_string(&rebound_config::json_schema()).unwrap();
    for key in [
        "max_per_incident_per_hour",
        "evaluate_every",
        "source_unhealthy",
        "lockout_share",
        "min_level",
    ] {
        assert!(schema.contains(key), "{key} missing from the schema");
    }
    let _ = load;
}
