//! Opening the history database from real processes: a PostgreSQL port
//! that never answers, and several processes creating one SQLite file.

use crate::{rebound, text};
use std::path::Path;

/// A config whose history is `database`, with nothing to run.
fn config(dir: &Path, database: &str, extra: &str) -> String {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[pipeline]
name = "storage"
database = "{database}"
{extra}

[sources.up]
base_url = "http://127.0.0.1:9/"

[scrapers.s]
source = "up"
path = "/s"

[workflows.w]
scrapers = ["s"]
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// Before connect timeouts, `rebound status` against such a port waited
/// forever. The listener accepts and holds every connection, saying nothing.
#[test]
fn status_against_a_postgres_port_that_never_answers_fails_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming().flatten() {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let database = format!("postgres://rebound:pg_pw_5e2a@127.0.0.1:{port}/history");
    let path = config(dir.path(), &database, r#"connect_timeout = "1s""#);
    let out = rebound(&["-c", &path, "status"], &[]);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "panicked: {stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}: no answer within 1s"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("pg_pw_5e2a"), "password leaked: {stderr}");
}

/// A `database` naming a folder or a device: SQLite said "disk I/O
/// error". Reports, runs and `health` (exit 3, it could not look) name
/// what the path is.
#[test]
fn a_sqlite_database_path_that_is_a_folder_or_a_device_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("history.db")).unwrap();
    let path = config(dir.path(), "sqlite://history.db", "");
    for (args, code) in [
        (vec!["status"], 1),
        (vec!["run", "w"], 1),
        (vec!["health", "--no-probe"], 3),
    ] {
        let out = rebound(&[&["-c", path.as_str()][..], &args].concat(), &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains("history.db is a folder; [pipeline] database names the SQLite file"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("disk I/O error"), "{stderr}");
    }
    let path = config(dir.path(), "sqlite:///dev/null", "");
    let out = rebound(&["-c", &path, "status"], &[]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/dev/null is not a regular file"),
        "{stderr}"
    );
}

/// Several processes started together on a new SQLite file: each opens it
/// and migrates it at the same time. Before the setup lock, one of them
/// usually failed with "already exists" or "database is locked".
#[test]
fn concurrent_processes_on_a_new_sqlite_file_all_succeed() {
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let path = config(dir.path(), "sqlite://history.db", "");
        let children: Vec<_> = (0..4)
            .map(|_| {
                std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
                    .args(["-c", &path, "status"])
                    .env_remove("REBOUND_CONFIG")
                    .env("RUST_LOG", "warn")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                text(&out.stderr)
            );
        }
        // And the schema is whole: a later command finds it current.
        let out = rebound(&["-c", &path, "status"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
}

/// A fresh SQLite history at `dir/history.db` (made by `rebound status`),
/// with the config that names it.
fn fresh_sqlite_history(dir: &Path) -> (String, std::path::PathBuf) {
    let config = config(dir, "sqlite://history.db", "");
    let out = rebound(&["-c", &config, "status"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (config, dir.join("history.db"))
}

async fn sqlite(path: &Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("the test opens the history")
}

/// Before: "migration 9999 was previously applied but is missing in the
/// resolved migrations", as if this install were broken.
#[tokio::test]
async fn a_sqlite_history_from_a_newer_rebound_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = fresh_sqlite_history(dir.path());
    let mut connection = sqlite(&db).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 1)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    sqlx::Connection::close(connection).await.unwrap();
    let out = rebound(&["-c", &config, "status"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("history.db was written by a newer Rebound: its schema is at migration 9999")
            && stderr.contains("upgrade rebound, or point `database` at another database"),
        "{stderr}"
    );
    assert!(!stderr.contains("resolved migrations"), "{stderr}");
}

/// Runs `command` as a user other than root when the tests run as root
/// (root writes a read-only file anyway), else as is.
fn unprivileged(command: &mut std::process::Command, probe: &Path) {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    // A file this process made is owned by its effective user.
    if std::fs::metadata(probe).unwrap().uid() == 0 {
        command.uid(65534).gid(65534);
    }
}

/// Before: "attempt to write a readonly database", with a hint that did
/// not name the file, and only once `breakers reset` had tried to write.
#[test]
fn a_read_only_history_file_is_named_with_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = fresh_sqlite_history(dir.path());
    // The folder stays writable (for the other user too); the file does not.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mode = if path == db { 0o444 } else { 0o777 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"));
        command
            .arg("-c")
            .arg(&config)
            .args(args)
            .env_remove("REBOUND_CONFIG")
            .env("RUST_LOG", "warn");
        unprivileged(&mut command, &db);
        command.output().expect("rebound runs")
    };
    // Reports read it as it is.
    let out = run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for args in [&["breakers", "reset", "up"][..], &["scrape", "s"]] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "the history database {} is read-only for this user, and this command records to it; make the file writable (e.g. chmod u+w ",
                db.display()
            )),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("attempt to write"), "{args:?}: {stderr}");
    }
}

/// Before: a command that failed on another process's write lock (after
/// the 10 s it waits) waited 10 s more in its exit checkpoint. The bound is
/// the point: one wait of 10 s, not two.
#[tokio::test]
async fn a_command_that_failed_on_a_locked_history_does_not_wait_again_on_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = fresh_sqlite_history(dir.path());
    let mut holder = sqlite(&db).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let out = rebound(&["-c", &config, "breakers", "reset", "up"], &[]);
    let took = started.elapsed();
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("database is locked"), "{stderr}");
    assert!(
        took < std::time::Duration::from_secs(17),
        "took {took:?}: {stderr}"
    );
}
