//! A paginated scraper through the `rebound` binary (issue 13, item 1):
//! `rebound scrape` walks the simulated upstream's cursor pages, prints
//! the call, and leaves one payload and the `pages` / `record_count` /
//! `page` columns in the SQLite history.

use super::{rebound, text};
use rebound_upstream_sim::UpstreamSim;
use rebound_upstream_sim::paths::pages;
use serde_json::json;
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn scrape_walks_cursor_pages_into_one_payload_and_records_them() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "paged"

[sources.bdl]
base_url = "{base}"
headers = {{ Authorization = "${{BDL_KEY}}" }}

[scrapers.box_scores]
source = "bdl"
path = "{path}"
query = {{ items = "8" }}
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}
"#,
            base = sim.base_url(),
            path = pages::CURSOR,
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let env = [("BDL_KEY", "bdl_key_0a1b2c3d")];

    let out = rebound(
        &[
            "-c",
            config,
            "scrape",
            "box_scores",
            "--date",
            "2026-11-27",
            "--json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let call: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(call["status"], "success");
    assert_eq!(call["records"], 8);
    assert_eq!(call["pages"], 3);
    assert_eq!(call["attempts"], 3);

    let uri = call["output_uri"].as_str().unwrap();
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(uri.strip_prefix("file://").unwrap()).unwrap())
            .unwrap();
    let records: Vec<serde_json::Value> = (1..=8)
        .map(|i| json!({ "id": i, "name": format!("item {i}") }))
        .collect();
    assert_eq!(
        stored,
        json!({ "data": records, "meta": { "next_cursor": "3", "per_page": 3 } })
    );
    // Every page carried the source's header.
    let sent: Vec<_> = sim.requests();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|r| r.header("authorization") == Some("bdl_key_0a1b2c3d"))
    );

    let db = format!("sqlite://{}", dir.path().join("rebound.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let row =
        sqlx::query("SELECT id, status, pages, record_count, attempts FROM scraper_execution_log")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("status"), "success");
    assert_eq!(row.get::<Option<i64>, _>("pages"), Some(3));
    assert_eq!(row.get::<Option<i64>, _>("record_count"), Some(8));
    assert_eq!(row.get::<i64, _>("attempts"), 3);
    let pages: Vec<i64> = sqlx::query_scalar(
        "SELECT page FROM scraper_attempts WHERE scraper_execution_id = ?1 ORDER BY attempt",
    )
    .bind(row.get::<i64, _>("id"))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(pages, [1, 2, 3]);

    // The table says it too.
    let out = rebound(
        &["-c", config, "scrape", "box_scores", "--date", "2026-11-27"],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("8 records from 3 pages, unchanged"),
        "{stdout}"
    );
}
