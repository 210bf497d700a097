//! `rebound alerts`: open incidents and notifications with delivery status.

use super::{rebound, text};
use chrono::{DateTime, Utc};
use rebound_storage::{AlertStore, NewAlert, NewAlertIncident};
use rebound_storage_sqlite::SqliteStore;

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

    let out = rebound(&["-c", c, "alerts"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("open incidents (1):"), "{table}");
    assert!(table.contains("critical source_unhealthy"), "{table}");
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
