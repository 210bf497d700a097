//! `rebound alerts`: open incidents and notifications with delivery status.

use super::{rebound, text};
use chrono::{DateTime, Utc};
use rebound_storage::{AlertStore, NewAlert, NewAlertIncident};
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::webhook;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn row(sink: &str, status: &str, error: Option<&str>) -> NewAlert {
    NewAlert {
        sink: sink.to_string(),
        event: "opened".to_string(),
        level: "critical".to_string(),
        message: "[cli] CRITICAL source_unhealthy: source up: breaker open".to_string(),
        payload: "{}".to_string(),
        created_at: at("2026-01-15T04:00:00Z"),
        delivery_status: status.to_string(),
        next_attempt_at: (status == "pending").then(|| at("2026-01-15T04:00:00Z")),
        last_error: error.map(str::to_string),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_lists_open_incidents_and_notifications_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        r#"
[pipeline]
name = "cli"

[sources.up]
base_url = "http://127.0.0.1:9"

[scrapers.s]
source = "up"
path = "/x"

[workflows.w]
scrapers = ["s"]

[alerts.sinks.oncall]
kind = "slack"
url = "${ALERTS_URL}"
"#,
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let env = [("ALERTS_URL", "https://hooks.example/secret-path-123")];

    let out = rebound(&["-c", c, "alerts"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("open incidents: none"),
        "{}",
        text(&out.stdout)
    );

    let store = SqliteStore::open(&dir.path().join("rebound.db"))
        .await
        .unwrap();
    store
        .open_alert_incident(
            &NewAlertIncident {
                condition: "source_unhealthy".into(),
                subject: "up".into(),
                level: "critical".into(),
                summary: "source up: breaker open".into(),
                opened_at: at("2026-01-15T04:00:00Z"),
                last_notified_at: Some(at("2026-01-15T04:00:00Z")),
                caused_by: None,
            },
            &[
                row("oncall", "pending", None),
                row(
                    "hook",
                    "suppressed",
                    Some("rate limit: 30 notifications in the last hour (max_per_hour = 30)"),
                ),
            ],
        )
        .await
        .unwrap()
        .unwrap();

    // Wide, so no cell of the tables is wrapped.
    let wide: Vec<(&str, &str)> = env.iter().copied().chain([("COLUMNS", "400")]).collect();
    let out = rebound(&["-c", c, "alerts"], &wide);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("open incidents (1):"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("│ critical ") && l.contains(" source_unhealthy ")),
        "{table}"
    );
    assert!(table.contains("source up: breaker open"), "{table}");
    assert!(table.contains("suppressed"), "{table}");
    assert!(table.contains("rate limit: 30 notifications"), "{table}");
    assert!(!table.contains("secret-path-123"), "{table}");

    let out = rebound(&["-c", c, "alerts", "--json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["open"][0]["condition"], "source_unhealthy");
    assert_eq!(json["open"][0]["opened_at"], "2026-01-15T04:00:00Z");
    let statuses: Vec<&str> = json["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["delivery_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"pending") && statuses.contains(&"suppressed"));

    let bad = rebound(&["-c", c, "alerts", "--limit", "0"], &env);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}

/// `rebound alerts --evaluate`: one evaluation and delivery round from the
/// command line, for pipelines run from cron rather than by `rebound serve`.
/// A second round sends nothing new: still one message per incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_evaluate_notifies_once_per_incident_without_serve() {
    let sink = webhook::start().await;
    let hook = format!("{}/hook", sink.url);
    // A port nobody listens on: the probe fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "cron"

[sources.up]
base_url = "{down}"
health = {{ path = "/status", timeout = "2s" }}

[scrapers.s]
source = "up"
path = "/x"

[workflows.w]
scrapers = ["s"]

[alerts.conditions]
source_unhealthy = {{ grace = "0s" }}

[alerts.sinks.hook]
kind = "webhook"
url = "${{HOOK_URL}}"
"#
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let env = [("HOOK_URL", hook.as_str())];

    let out = rebound(&["-c", c, "alerts", "--evaluate", "--json"], &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("1 opened"), "{stderr}");
    assert!(stderr.contains("delivered 1"), "{stderr}");
    assert!(
        !stderr.contains(&hook),
        "the sink URL is a secret: {stderr}"
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let open = listed["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{listed:#}");
    assert_eq!(open[0]["condition"], "source_unhealthy");
    assert_eq!(open[0]["subject"], "up");
    assert_eq!(listed["notifications"][0]["delivery_status"], "delivered");
    {
        let got = sink.all();
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0]["event"], "opened");
        assert_eq!(got[0]["subject"], "up");
        assert_eq!(got[0]["pipeline"], "cron");
    }

    let out = rebound(&["-c", c, "alerts", "--evaluate"], &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("0 opened"), "{stderr}");
    assert_eq!(sink.all().len(), 1, "still open: no second message");

    // Without --evaluate nothing is evaluated or sent.
    let out = rebound(&["-c", c, "alerts"], &env);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    assert_eq!(sink.all().len(), 1);
}
