//! Messages and output people can read (issue 15, items 5 and 6): a
//! refused connection said once with where, a dependency skip that names
//! its dependency without repeating its message, an HTML error page
//! summarised, and instants in the pipeline's zone with its offset (JSON:
//! UTC), through the binary and the database as a user meets them.

use super::{rebound, text};
use chrono::{DateTime, Utc};
use rebound_upstream_sim::{Reply, UpstreamSim};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

fn config(dir: &std::path::Path, up: &str, dead_port: u16) -> String {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[pipeline]
name = "messages"
timezone = "America/New_York"

[retry]
max_attempts = 2
initial_delay = "10ms"
max_delay = "20ms"

[sources.dead]
base_url = "http://127.0.0.1:{dead_port}"
timeout = "2s"
query = {{ key = "${{MSG_KEY}}" }}

[sources.up]
base_url = "{up}"
timeout = "2s"

[scrapers.events]
source = "dead"
path = "/v4/events"

[scrapers.props]
source = "up"
path = "/v4/props"

[scrapers.page]
source = "up"
path = "/m/page"

[workflows.odds]
steps = [{{ scrapers = ["events"] }}, {{ scrapers = ["props"], after = ["events"] }}]

[workflows.maint]
scrapers = ["page"]
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// A port that was just free: nothing listens there.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn a_refused_connection_and_its_skipped_dependent_say_each_cause_once() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = dead_port();
    let c = config(dir.path(), &sim.base_url(), port);
    let env = [("MSG_KEY", "msg_secret_4f9a2c")];
    let out = rebound(&["-c", &c, "run", "odds", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // The database holds the short message: host and port, how, how often.
    let out = rebound(&["-c", &c, "status", "--json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &json["workflow_executions"][0];
    let expected = format!(
        "events: connect to 127.0.0.1:{port} refused (2 attempts) | props: not run: events failed"
    );
    assert_eq!(run["error_message"], expected.as_str());
    // JSON instants are RFC 3339 UTC.
    let started = run["execution_time"].as_str().unwrap();
    assert!(started.ends_with('Z'), "{started}");
    let started: DateTime<Utc> = started.parse().unwrap();

    // The table: the same message, the start in the pipeline's zone with
    // its offset (EST or EDT, whichever held then).
    let out = rebound(&["-c", &c, "status"], &[env[0], ("COLUMNS", "400")]);
    let table = text(&out.stdout);
    assert!(table.contains(&expected), "{table}");
    let local = started
        .with_timezone(&NY)
        .format("%Y-%m-%d %H:%M %Z (%:z)")
        .to_string();
    assert!(table.contains(&local), "{local} in {table}");
    assert!(!table.contains("(UTC)"), "{table}");
    for text in [&table, &expected] {
        assert!(!text.contains("tcp connect error"), "{text}");
        assert!(!text.contains("msg_secret"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_error_page_is_one_short_reason_in_every_backfill_line() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &sim.base_url(), dead_port());
    let page = format!(
        "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title><style>{}</style></head><body><h1>Down for maintenance</h1></body></html>",
        ".a { color: #333 } ".repeat(205)
    );
    sim.script(
        "/m/page",
        vec![Reply::text(503, page).header("content-type", "text/html"); 4],
    );
    let env = [("MSG_KEY", "msg_secret_4f9a2c")];
    let out = rebound(
        &[
            "-c",
            &c,
            "backfill",
            "maint",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let reason = "page: HTTP 503 after 2 attempts: HTML page \"Service Unavailable\" (4 KB)";
    for date in ["2026-11-01", "2026-11-02"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(date) && l.ends_with(reason)),
            "{date}: {stdout}"
        );
    }
    assert!(
        !stdout.contains("<style") && !stdout.contains("DOCTYPE"),
        "{stdout}"
    );
    // The summary line counts with plurals.
    assert!(
        stdout.contains("backfill maint: 2 dates, 2 ran"),
        "{stdout}"
    );
}
