//! `rebound generate-history` without flags writes a small history (10,000
//! calls, 1,000 runs), not the benchmarks' 10 million.

use super::{rebound, text};

#[tokio::test]
async fn generate_history_defaults_to_ten_thousand_calls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rebound.toml");
    std::fs::write(
        &path,
        "[pipeline]\nname = \"g\"\n\n[sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n[scrapers.s]\nsource = \"up\"\npath = \"/s\"\n\n[workflows.w]\nscrapers = [\"s\"]\n",
    )
    .unwrap();
    let out = rebound(&["-c", path.to_str().unwrap(), "generate-history"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("rebound.db"))
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let calls: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scraper_execution_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflow_executions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((calls, runs), (10_000, 1_000));
}

/// `--runs 0` was refused while the range a value too large was told of
/// said `0..=1000000000`: the range now says what is accepted.
#[test]
fn the_range_of_runs_and_calls_is_the_one_accepted() {
    for flag in ["--runs", "--calls"] {
        for value in ["0", "2000000000"] {
            let out = rebound(&["generate-history", flag, value], &[]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
            assert!(
                stderr.contains(&format!("{value} is not in 1..=1000000000")),
                "{flag} {value}: {stderr}"
            );
        }
    }
}
