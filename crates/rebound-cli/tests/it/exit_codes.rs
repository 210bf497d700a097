//! `rebound health` and `freshness` follow the monitoring-plugin
//! convention: 0 ok, 1 warning, 2 critical, and 3 UNKNOWN when they cannot
//! look at all, so a broken check is never taken for a critical pipeline.

use super::{one_workflow, rebound, text};

fn assert_unknown(args: &[&str], needle: &str) {
    let out = rebound(args, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert!(stderr.contains("UNKNOWN: "), "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn health_and_freshness_exit_3_when_the_config_cannot_be_read() {
    let missing = "/nonexistent/rebound.toml";
    assert_unknown(
        &["-c", missing, "health", "--no-probe"],
        "config file not found",
    );
    assert_unknown(&["-c", missing, "freshness"], "config file not found");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("rebound.toml");
    std::fs::write(&bad, "[pipeline]\nname = 3\n").unwrap();
    let bad = bad.to_str().unwrap();
    assert_unknown(&["-c", bad, "health", "--no-probe"], "rebound.toml:2:");
    assert_unknown(&["-c", bad, "freshness"], "rebound.toml:2:");
}

#[test]
fn health_and_freshness_exit_3_when_the_database_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the database's folder should be: it cannot be created.
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let config = one_workflow(dir.path(), "blocker/rebound.db");
    let config = config.to_str().unwrap();
    assert_unknown(
        &["-c", config, "health", "--no-probe"],
        "cannot open history database",
    );
    assert_unknown(&["-c", config, "freshness"], "cannot open history database");
}

#[test]
fn other_commands_keep_exit_2_for_a_bad_config() {
    let out = rebound(&["-c", "/nonexistent/rebound.toml", "status"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// Before: a config path naming a folder read "cannot read config file
/// DIR: it is a directory, not a file", naming neither `-c` nor
/// `REBOUND_CONFIG`, whichever had given it.
#[test]
fn a_config_path_that_is_a_folder_names_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    let flag = format!("-c/--config {folder}: it is a folder, not a config file");
    let out = rebound(&["-c", folder, "status"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr, format!("error: {flag}\n"));
    let out = rebound(&["--config", folder, "check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["message"], flag.as_str(), "{report}");
    let out = rebound(&["-c", folder, "simulate", "late-play-by-play"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&flag), "{}", text(&out.stderr));
    assert_unknown(&["-c", folder, "health", "--no-probe"], &flag);

    let env = format!(
        "REBOUND_CONFIG={folder} (from the environment): it is a folder, not a config file"
    );
    let out = rebound(&["health", "--no-probe"], &[("REBOUND_CONFIG", folder)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr, format!("UNKNOWN: {env}\n"));
    // The flag wins over the variable, and is the one named.
    let out = rebound(&["-c", folder, "status"], &[("REBOUND_CONFIG", "x.toml")]);
    assert!(text(&out.stderr).contains(&flag), "{}", text(&out.stderr));

    std::fs::create_dir(dir.path().join("rebound.toml")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
        .arg("status")
        .env_remove("REBOUND_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "error: rebound.toml (the default config file): it is a folder, not a config file (pass -c FILE or set REBOUND_CONFIG)\n"
    );
}

/// A missing config file says what to check by where its path came from.
/// Before: "(pass -c FILE or set REBOUND_CONFIG)" whichever it was, also
/// to someone who had passed -c.
#[test]
fn a_missing_config_names_where_its_path_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexist.toml");
    let missing = missing.to_str().unwrap();

    let out = rebound(&["-c", missing, "check"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: config file not found: {missing} (given with -c/--config: check the path)\n"
        )
    );
    // The flag wins over the variable, and is the one named.
    let out = rebound(&["-c", missing, "check"], &[("REBOUND_CONFIG", "x.toml")]);
    assert!(
        text(&out.stderr).contains("(given with -c/--config: check the path)"),
        "{}",
        text(&out.stderr)
    );

    let out = rebound(&["check"], &[("REBOUND_CONFIG", missing)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: config file not found: {missing} (from REBOUND_CONFIG in the environment: check the path it holds)\n"
        )
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
        .arg("check")
        .env_remove("REBOUND_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "error: config file not found: rebound.toml (the default config file; pass -c FILE or set REBOUND_CONFIG)\n"
    );

    // `check --json` says the same in its problem (it said only
    // "config file not found: PATH").
    let out = rebound(&["-c", missing, "check", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["problems"][0]["message"],
        format!("config file not found: {missing} (given with -c/--config: check the path)")
    );
}

/// Before: a history whose pages are damaged was a WARNING (exit 1): the
/// report's failed read was an error like any runtime one.
#[tokio::test]
async fn health_and_freshness_exit_3_when_the_history_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "rebound.db");
    let config = config.to_str().unwrap();
    let out = rebound(&["-c", config, "generate-history"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The page of a table every report reads, overwritten with noise: the
    // file still opens (its schema is intact), the table does not read.
    let db = dir.path().join("rebound.db");
    let (root, page_size): (i64, i64) = {
        use sqlx::Connection;
        let url = format!("sqlite://{}", db.display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let root = sqlx::query_scalar(
            "SELECT rootpage FROM sqlite_master WHERE name = 'scraper_execution_log'",
        )
        .fetch_one(&mut connection)
        .await
        .unwrap();
        let size = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        (root, size)
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let start = usize::try_from((root - 1) * page_size).unwrap();
    let end = start + usize::try_from(page_size).unwrap();
    let mut noise: u32 = 12_345;
    for byte in &mut bytes[start..end] {
        noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *byte = (noise >> 16) as u8;
    }
    std::fs::write(&db, bytes).unwrap();
    assert_unknown(&["-c", config, "health", "--no-probe"], "malformed");
    assert_unknown(&["-c", config, "freshness"], "malformed");
}

/// A `database` path with a typo: `health` created an empty database there
/// (folders, `-wal` and all) and said HEALTHY; `status` said "no runs
/// yet", and `purge --dry-run` created it too. Reports now refuse a
/// history that is not there, naming the path, and create nothing.
#[test]
fn a_report_on_a_history_that_is_not_there_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "typo/dir/rebound.db");
    // A retention, so that `purge` has something to do.
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        toml.replacen("[pipeline]\n", "[pipeline]\nretention = \"90d\"\n", 1),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let needle = "no history database at ";
    assert_unknown(&["-c", config, "health", "--no-probe"], needle);
    assert_unknown(&["-c", config, "freshness"], needle);
    for args in [&["status"][..], &["purge", "--dry-run"], &["breakers"]] {
        let mut all = vec!["-c", config];
        all.extend_from_slice(args);
        let out = rebound(&all, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(
        !dir.path().join("typo").exists(),
        "a report created the history's folder"
    );
}
