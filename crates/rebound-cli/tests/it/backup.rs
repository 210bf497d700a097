//! The SQLite file is the whole history after a command exits (the WAL is
//! checkpointed and truncated), and `rebound backup FILE` copies it safely.

use super::{SECRET, one_workflow, rebound, text, write_config};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::path::Path;

/// Rows of `table` in the SQLite file at `path`, opened on its own (no
/// `-wal` beside it): what a backup made by copying that file would hold.
async fn rows(path: &Path, table: &str) -> i64 {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let count: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    count
}

fn wal_bytes(db: &Path) -> u64 {
    let wal = db.with_file_name(format!("{}-wal", db.file_name().unwrap().to_string_lossy()));
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn after_run_exits_a_copy_of_the_database_file_alone_has_the_history() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", SECRET)];
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let db = dir.path().join("rebound.db");
    assert_eq!(wal_bytes(&db), 0, "the WAL is checkpointed and truncated");
    // The file alone, copied where no -wal follows it.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    assert_eq!(rows(&copy, "workflow_executions").await, 1);
    assert_eq!(rows(&copy, "scraper_execution_log").await, 1);
    assert_eq!(rows(&copy, "scraper_attempts").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn backup_writes_a_complete_copy_and_refuses_an_existing_file() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", SECRET)];
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let target = dir.path().join("backup.db");
    let target_arg = target.to_str().unwrap();
    // Reports need no source secret: backup does not either.
    let out = rebound(&["-c", config, "backup", target_arg], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Backed up"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(rows(&target, "workflow_executions").await, 1);
    assert_eq!(rows(&target, "scraper_execution_log").await, 1);

    let before = std::fs::read(&target).unwrap();
    let out = rebound(&["-c", config, "backup", target_arg], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("backup.db already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&target).unwrap(), before, "left as it was");
}

/// Before: SQLite read these names as an in-memory database and a URI, so
/// the backup wrote nothing (or another file) and still exited 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn backup_writes_the_file_named_even_when_sqlite_would_read_it_as_a_uri() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let env = [("CLI_KEY", SECRET)];
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let config = config.to_str().unwrap();
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for name in [":memory:", "file:u.db?mode=memory"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
            .args(["-c", config, "backup", name])
            .current_dir(dir.path())
            .env_remove("REBOUND_CONFIG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let written = dir.path().join(name);
        assert_eq!(rows(&written, "workflow_executions").await, 1, "{name}");
        assert!(
            !text(&out.stdout).contains("(0 bytes)"),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn backup_of_a_database_that_does_not_exist_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    let target = dir.path().join("b.db");
    let out = rebound(
        &[
            "-c",
            config.to_str().unwrap(),
            "backup",
            target.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no history database at"));
    assert!(!dir.path().join("rebound.db").exists(), "none created");
    assert!(!target.exists());
}

#[test]
fn backup_on_postgres_says_to_use_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rebound.toml");
    std::fs::write(
        &path,
        r#"
[pipeline]
name = "pg"
database = "postgres://postgres:pw_not_shown@127.0.0.1:5432/test"

[sources.up]
base_url = "http://127.0.0.1:9/"

[scrapers.s]
source = "up"
path = "/s"

[workflows.w]
scrapers = ["s"]
"#,
    )
    .unwrap();
    let target = dir.path().join("b.db");
    let out = rebound(
        &[
            "-c",
            path.to_str().unwrap(),
            "backup",
            target.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!stderr.contains("pw_not_shown"), "{stderr}");
    assert!(!target.exists());
}

/// Report commands that change a row (`events ack`, `breakers reset`,
/// `lockouts reset`) checkpoint too: the acknowledgement is in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn an_acknowledgement_is_in_the_database_file_after_events_ack_exits() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", SECRET)];
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let db = dir.path().join("rebound.db");
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .read_only(true),
    )
    .await
    .unwrap();
    let id: String = sqlx::query_scalar("SELECT event_id FROM completion_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;

    let out = rebound(&["-c", config, "events", "ack", &id], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(wal_bytes(&db), 0, "the WAL is checkpointed and truncated");
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&copy)
            .read_only(true),
    )
    .await
    .unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM completion_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "acknowledged");
}

/// Before: a backup that failed part way (here past the process's file-size
/// limit) left a file of what it had written, which opened as a valid,
/// empty database, and the next `backup` to the same name was refused as
/// "already exists".
#[test]
fn a_failed_backup_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "rebound.db");
    let config = config.to_str().unwrap();
    let out = rebound(&["-c", config, "generate-history"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let target = dir.path().join("copy.db");
    // 100 blocks of 512 bytes, far below the history's size; SIGXFSZ
    // ignored so the write fails instead of killing the process.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 100; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_rebound"),
            "-c",
            config,
            "backup",
            target.to_str().unwrap(),
        ])
        .env_remove("REBOUND_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot back up"),
        "{}",
        text(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("copy.db"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // And the same backup without the limit is not refused.
    let out = rebound(&["-c", config, "backup", target.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// `backup DIR/` (a folder that does not exist yet, named with its slash)
/// wrote the copy to the file `DIR`, SQLite dropping the slash, then said
/// "the backup reported success, but DIR/ cannot be read: Not a directory"
/// (exit 1), leaving that file behind; and a target in a folder that does
/// not exist read SQLite's "(code: 14) unable to open database". Both are
/// usage errors naming the path, and nothing is written.
#[test]
fn a_target_that_names_a_folder_or_sits_in_a_missing_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "rebound.db");
    let config = config.to_str().unwrap();
    let out = rebound(
        &[
            "-c",
            config,
            "generate-history",
            "--calls",
            "2",
            "--runs",
            "1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let folder = dir.path().join("backups");
    let slash = format!("{}/", folder.display());
    let missing = dir.path().join("nowhere/copy.db");
    let file = dir.path().join("rebound.toml").join("copy.db");
    for (target, says) in [
        (
            slash.clone(),
            format!(
                "{slash}: ends with /, which names a folder; give the file to write, e.g. {slash}rebound-backup.db"
            ),
        ),
        (
            missing.display().to_string(),
            format!(
                "{}: the folder {} does not exist",
                missing.display(),
                dir.path().join("nowhere").display()
            ),
        ),
        (
            file.display().to_string(),
            format!(
                "{}: {} is not a folder",
                file.display(),
                dir.path().join("rebound.toml").display()
            ),
        ),
    ] {
        let out = rebound(&["-c", config, "backup", &target], &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{target}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            text(&out.stderr).trim(),
            format!("error: {says}"),
            "{target}"
        );
    }
    assert!(!folder.exists(), "no file where the folder was named");
    assert!(!dir.path().join("nowhere").exists());

    // A name that is not UTF-8 exited 1 with the store's "database query
    // failed: backup: … is not a UTF-8 path".
    use std::os::unix::ffi::OsStrExt;
    let name = dir.path().join(std::ffi::OsStr::from_bytes(b"copy\xff.db"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["-c", config, "backup"])
        .arg(&name)
        .env_remove("REBOUND_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).ends_with(
            "copy\u{fffd}.db: the file name is not UTF-8, which SQLite needs; choose another\n"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(!name.exists());
}
