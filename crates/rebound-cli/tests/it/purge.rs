//! `rebound generate-history` and `rebound purge` through the binary, on a
//! SQLite file and on a PostgreSQL database of its own: synthetic history
//! is written, `rebound status` reads it, a dry run counts without
//! changing anything, the purge then removes exactly that, and the
//! generator refuses to write into history unless forced.

use super::{rebound, text};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use std::path::Path;

fn config(dir: &Path, database: &str, retention: Option<&str>) -> String {
    let path = dir.join("rebound.toml");
    let retention = retention.map_or(String::new(), |r| format!("retention = \"{r}\"\n"));
    std::fs::write(
        &path,
        format!(
            r#"
[pipeline]
name = "gen"
timezone = "America/New_York"
database = "{database}"
{retention}
[sources.nba]
base_url = "http://127.0.0.1:9/nba"

[sources.odds]
base_url = "http://127.0.0.1:9/odds"

[scrapers.schedule]
source = "nba"
path = "/schedule"
dataset = "nbacom/schedule"

[scrapers.box]
source = "nba"
path = "/box/{{game_id}}"
dataset = "nbacom/box"
for_each = {{ dataset = "nbacom/schedule", items = "$[*]", value = "id", param = "game_id" }}

[scrapers.lines]
source = "odds"
path = "/lines"
dataset = "odds/lines"

[workflows.morning]
scrapers = ["schedule", "lines"]

[workflows.post_game]
steps = [{{ scrapers = ["schedule"] }}, {{ scrapers = ["box"], after = ["schedule"] }}]
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = rebound(args, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", text(&out.stdout)))
}

fn rows(report: &serde_json::Value, table: &str) -> u64 {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .and_then(|t| t["rows"].as_u64())
        .unwrap_or_else(|| panic!("no {table} in {report}"))
}

/// Generates 2,000 calls in 200 runs over 30 days, then purges with 10d
/// retention: about two thirds go.
fn generate_then_purge(dir: &Path, database: &str) {
    let c = config(dir, database, Some("10d"));
    let out = rebound(
        &[
            "-c",
            &c,
            "generate-history",
            "--calls",
            "2000",
            "--runs",
            "200",
            "--days",
            "30",
            "--seed",
            "7",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("wrote 200 runs, 2000 calls"),
        "{}",
        text(&out.stdout)
    );
    let status = json(&["-c", &c, "status", "--json", "--limit", "500"]);
    let runs = status["workflow_executions"].as_array().unwrap();
    assert_eq!(runs.len(), 200);
    let statuses: std::collections::BTreeSet<&str> =
        runs.iter().filter_map(|r| r["status"].as_str()).collect();
    assert!(
        statuses.contains("success") && statuses.contains("partial"),
        "{statuses:?}"
    );
    // Failed or partial runs always carry a message.
    for run in runs {
        if run["status"] == "partial" || run["status"] == "failed" {
            assert!(
                run["error_message"].as_str().is_some_and(|m| !m.is_empty()),
                "{run}"
            );
        }
    }

    // Report commands open one connection on PostgreSQL: the whole report
    // must run on it (a query waiting for a second one would time out).
    let out = rebound(
        &["-c", &c, "health", "--no-probe", "--json", "--since", "31d"],
        &[],
    );
    let health: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("health: not JSON ({e}): {}", text(&out.stderr)));
    let calls: i64 = health["scrapers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["runs"].as_i64().unwrap())
        .sum();
    assert_eq!(calls, 2000, "{health}");
    let out = rebound(&["-c", &c, "freshness", "--json"], &[]);
    let freshness: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("freshness: not JSON ({e}): {}", text(&out.stderr)));
    assert_eq!(
        freshness["datasets"].as_array().unwrap().len(),
        3,
        "{freshness}"
    );
    // The other report commands, and the two that write one thing, on the
    // same one connection.
    let breakers = json(&["-c", &c, "breakers", "--json"]);
    assert!(breakers.to_string().contains("odds"), "{breakers}");
    json(&["-c", &c, "quotas", "--json"]);
    json(&["-c", &c, "lockouts", "--json"]);
    let alerts = json(&["-c", &c, "alerts", "--json"]);
    assert!(alerts["open"].is_array(), "{alerts}");
    for args in [
        ["breakers", "reset", "nba"].as_slice(),
        ["lockouts", "reset", "box"].as_slice(),
    ] {
        let out = rebound(&[&["-c", c.as_str()], args].concat(), &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }

    let refused = rebound(
        &["-c", &c, "generate-history", "--calls", "10", "--runs", "1"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("already has history"),
        "{}",
        text(&refused.stderr)
    );

    let dry = json(&["-c", &c, "purge", "--dry-run", "--json"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["retention"], "10d");
    let calls = rows(&dry, "scraper_execution_log");
    assert!(
        (1200..=1450).contains(&calls),
        "{calls} of 2000 calls older than 10 of 30 days"
    );
    assert!(rows(&dry, "scraper_attempts") >= calls - calls / 10);
    assert!((120..=145).contains(&rows(&dry, "workflow_executions")));
    // Nothing changed.
    let again = json(&["-c", &c, "purge", "--dry-run", "--json"]);
    assert_eq!(rows(&again, "scraper_execution_log"), calls);

    let done = json(&["-c", &c, "purge", "--json", "--batch", "500"]);
    assert_eq!(done["dry_run"], false);
    assert_eq!(rows(&done, "scraper_execution_log"), calls);
    assert_eq!(
        rows(&done, "workflow_executions"),
        rows(&dry, "workflow_executions")
    );
    assert!(done["call_batches"].as_u64().unwrap() >= calls / 500);
    let after = json(&["-c", &c, "purge", "--dry-run", "--json"]);
    assert_eq!(rows(&after, "scraper_execution_log"), 0);
    let status = json(&["-c", &c, "status", "--json", "--limit", "500"]);
    assert_eq!(
        status["workflow_executions"].as_array().unwrap().len() as u64,
        200 - rows(&done, "workflow_executions")
    );
    let table = rebound(&["-c", &c, "purge", "--dry-run"], &[]);
    assert_eq!(table.status.code(), Some(0));
    let shown = text(&table.stdout);
    assert!(
        shown.contains("dry run, nothing changed; retention 10d"),
        "{shown}"
    );
    assert!(shown.contains("scraper_execution_log"), "{shown}");

    // --force writes more.
    let forced = rebound(
        &[
            "-c",
            &c,
            "generate-history",
            "--calls",
            "10",
            "--runs",
            "2",
            "--force",
        ],
        &[],
    );
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
}

#[test]
fn sqlite_generate_history_then_purge() {
    let dir = tempfile::tempdir().unwrap();
    generate_then_purge(dir.path(), "sqlite://history.db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
async fn postgres_generate_history_then_purge() {
    let admin = std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let name = format!("rebound_purge_{}", std::process::id());
    let mut conn = PgConnection::connect(&admin).await.expect("PostgreSQL");
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await
    .unwrap();
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let result = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| generate_then_purge(&path, &url))
    })
    .await
    .unwrap();
    let _ = conn
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn purge_without_retention_says_so_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), "sqlite://history.db", None);
    let out = rebound(&["-c", &c, "purge", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("no retention is configured"), "{err}");
    assert!(err.contains("retention = \"90d\""), "{err}");
    let bad = rebound(
        &["-c", &c, "generate-history", "--calls", "1", "--runs", "5"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("--calls must be at least --runs"),
        "{}",
        text(&bad.stderr)
    );
}
