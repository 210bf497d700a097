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
