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

/// `--calls 1000000000 --runs 1` put every call of the run in memory at
/// once and aborted (exit 134, "memory allocation of 384000000384 bytes
/// failed"); a run makes at most 100,000 calls, said before anything is
/// opened, and calls are written in chunks of at most about 100,000
/// whatever the ratio.
#[tokio::test]
async fn calls_per_run_are_bounded_and_written_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rebound.toml");
    std::fs::write(
        &path,
        "[pipeline]\nname = \"g\"\n\n[sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n[scrapers.s]\nsource = \"up\"\npath = \"/s\"\n\n[workflows.w]\nscrapers = [\"s\"]\n",
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let out = rebound(
        &[
            "-c",
            config,
            "generate-history",
            "--calls",
            "1000000000",
            "--runs",
            "1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: --calls 1000000000 --runs 1 is 1000000000 calls per run; a run makes at most 100000: give --runs 10000 or more"
    );
    assert!(!dir.path().join("rebound.db").exists(), "nothing opened");

    // Runs of 40,000 calls: two runs per chunk (80,000 calls), not 10,000.
    let out = rebound(
        &[
            "-c",
            config,
            "generate-history",
            "--calls",
            "120000",
            "--runs",
            "3",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let chunks: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.trim().split(" calls").next().unwrap().to_string())
        .collect();
    assert_eq!(
        chunks,
        ["2/3 runs, 80000/120000", "3/3 runs, 120000/120000"],
        "{}",
        text(&out.stderr)
    );
}
