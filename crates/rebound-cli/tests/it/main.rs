//! The `rebound` binary as a user runs it: exit codes, tables, JSON,
//! config errors, and the demo.

mod alerts;
mod backfill;
mod backup;
mod color;
mod completions;
mod demo;
mod demo_serve;
mod documents;
mod events;
mod events_nats;
mod events_replay;
mod exit_codes;
mod fanout;
mod generate;
mod health;
mod init;
mod lockouts;
mod messages;
mod metrics;
mod operator_args;
mod pagination;
mod params;
mod plan;
mod proxies;
mod purge;
mod quotas;
mod reference;
mod runs;
mod secrets;
mod serve;
mod serve_lines;
mod simulate;
mod storage;
mod variables;

use rebound_upstream_sim::{Reply, UpstreamSim};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "cli_secret_7d1c";

fn rebound(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
    command
        .args(args)
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "warn");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("rebound runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config of one workflow of one scraper, its history at `database`
/// (a `sqlite://` path relative to `dir`).
fn one_workflow(dir: &Path, database: &str) -> PathBuf {
    let config = dir.join("rebound.toml");
    let text = format!(
        "[pipeline]\nname = \"x\"\ndatabase = \"sqlite://{database}\"\n\n\
         [sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n\
         [scrapers.s]\nsource = \"up\"\npath = \"/s\"\n\n\
         [workflows.w]\nscrapers = [\"s\"]\n"
    );
    std::fs::write(&config, text).unwrap();
    config
}

fn write_config(dir: &Path, base_url: &str) -> PathBuf {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[pipeline]
name = "cli"
timezone = "America/New_York"

[retry]
max_attempts = 2
initial_delay = "10ms"
max_delay = "20ms"

[sources.up]
base_url = "{base_url}"
timeout = "2s"
query = {{ key = "${{CLI_KEY}}" }}

[scrapers.good]
source = "up"
path = "/c/good"

[scrapers.bad]
source = "up"
path = "/c/bad"

[scrapers.game]
source = "up"
path = "/c/game/{{game_id}}"

[workflows.ok]
scrapers = ["good"]

[workflows.mixed]
steps = [{{ scrapers = ["bad"] }}, {{ scrapers = ["good"], after = ["bad"] }}]
"#
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn run_exit_codes_tables_and_json() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", SECRET)];

    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("workflow ok for 2026-11-27: success"),
        "{stdout}"
    );
    for column in [
        "scraper", "status", "attempts", "http", "duration", "reason",
    ] {
        assert!(stdout.contains(column), "{stdout}");
    }

    sim.script(
        "/c/bad",
        vec![Reply::echo_query(500), Reply::echo_query(500)],
    );
    let out = rebound(&["-c", config, "run", "mixed", "--json"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains(SECRET), "secret on stdout: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["scrapers_failed"], 1);
    assert_eq!(json["scrapers_skipped"], 1);
    assert_eq!(json["scrapers"][0]["attempts"], 2);
    assert_eq!(json["scrapers"][0]["error_kind"], "server");
    assert_eq!(json["scrapers"][1]["status"], "skipped");
    let message = json["error_message"].as_str().unwrap();
    assert!(
        message.starts_with("bad: HTTP 500 after 2 attempts: "),
        "{message}"
    );
    assert!(message.contains("good: not run: bad failed"), "{message}");

    // History is readable back, newest first, with messages.
    let out = rebound(&["-c", config, "status", "--json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = json["workflow_executions"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["workflow_name"], "mixed");
    assert_eq!(runs[0]["error_message"].as_str().unwrap(), message);
    let out = rebound(&["-c", config, "status"], &env);
    assert!(text(&out.stdout).contains("mixed"));

    // scrape: one scraper with a parameter.
    sim.script("/c/game/0022600301", vec![Reply::text(200, "{}")]);
    let out = rebound(
        &[
            "-c",
            config,
            "scrape",
            "game",
            "--param",
            "game_id=0022600301",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("game (game_id=0022600301)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn usage_errors_exit_2_with_a_clear_message() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", SECRET)];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-c", config, "run", "nope"],
            "unknown workflow \"nope\"",
        ),
        (
            vec!["-c", config, "run", "ok", "--date", "28/11/2026"],
            "expected a date as YYYY-MM-DD",
        ),
        (
            vec!["-c", config, "scrape", "game"],
            "needs parameter {game_id}",
        ),
        (
            vec!["-c", config, "scrape", "game", "--param", "game_id"],
            "expected NAME=VALUE",
        ),
        (
            vec!["-c", "/nonexistent/rebound.toml", "check"],
            "not found",
        ),
        // A misspelt or unused --param is refused, naming what is taken.
        (
            vec!["-c", config, "scrape", "game", "--param", "gameid=1"],
            "unknown parameter \"gameid\" for scraper \"game\"; it takes: game_id",
        ),
        (
            vec!["-c", config, "scrape", "good", "--param", "k=../../x"],
            "unknown parameter \"k\" for scraper \"good\"; it takes no parameters",
        ),
        (
            vec!["-c", config, "run", "ok", "--param", "k=1"],
            "unknown parameter \"k\" for workflow \"ok\"; it takes no parameters",
        ),
        (
            vec![
                "-c",
                config,
                "backfill",
                "ok",
                "--from",
                "2026-11-27",
                "--to",
                "2026-11-27",
                "--param",
                "k=1",
            ],
            "unknown parameter \"k\" for workflow \"ok\"; it takes no parameters",
        ),
        (
            vec!["-c", config, "status", "--limit", "4294967295"],
            "4294967295 is not in 1..=10000",
        ),
    ];
    for (args, needle) in cases {
        let out = rebound(&args, &env);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A missing ${VAR} names the variable (for a command that sends
    // requests; `check` only notes it, see `secrets.rs`).
    let out = rebound(&["-c", config, "run", "ok"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CLI_KEY"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        sim.requests().is_empty(),
        "no call is made on a usage error"
    );
}

#[test]
fn bad_config_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[pipeline]\nname = \"x\"\n\n[sources.s]\nbase_url = \"http://h\"\ntimeout = \"fast\"\n",
    )
    .unwrap();
    let out = rebound(&["-c", path.to_str().unwrap(), "check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml:6:"), "{stderr}");
    assert!(stderr.contains("sources.s.timeout"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn check_and_schema() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minimal.toml");
    let out = rebound(&["-c", examples.to_str().unwrap(), "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("is valid"));
    let out = rebound(&["config", "schema"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["pipeline", "retry", "sources", "scrapers", "workflows"] {
        assert!(
            schema["properties"].get(key).is_some(),
            "schema lacks {key}"
        );
    }
}

/// A path given on the command line or written in the file reaches the
/// terminal with its control characters escaped: `check` printed the
/// config path, the database and the raw store raw, `init` its paths and
/// its `cd` line (single quotes keep an escape sequence), so a name
/// holding `ESC[2J` cleared the screen of whoever ran it.
#[test]
fn paths_with_control_characters_reach_the_terminal_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p\u{1b}[31mX");
    std::fs::create_dir(&dir).unwrap();
    let config = dir.join("rebound.toml");
    std::fs::write(
        &config,
        "[pipeline]\nname = \"x\"\ndatabase = \"sqlite://h\\u001b[2J.db\"\n\
         raw_store = \"file://r\\u001b[2J\"\n\n\
         [sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n\
         [scrapers.s]\nsource = \"up\"\npath = \"/s\"\n\n\
         [workflows.w]\nscrapers = [\"s\"]\n",
    )
    .unwrap();
    let out = rebound(&["-c", config.to_str().unwrap(), "check"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(
        stdout.contains("p\\u{1b}[31mX/rebound.toml is valid."),
        "{stdout}"
    );
    assert!(stdout.contains("h\\u{1b}[2J.db"), "{stdout}");
    assert!(stdout.contains("r\\u{1b}[2J"), "{stdout}");

    let fresh = tmp.path().join("q\u{1b}[2JY");
    let out = rebound(&["init", fresh.to_str().unwrap()], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(stdout.contains("q\\u{1b}[2JY/rebound.toml"), "{stdout}");
    assert!(stdout.contains("cd $'"), "{stdout}");
    assert!(stdout.contains("q\\x1b[2JY'"), "{stdout}");

    // A parameter's value with a line break split the call's table cell
    // as if the value ended there.
    let config = tmp.path().join("param.toml");
    std::fs::write(
        &config,
        "[pipeline]\nname = \"x\"\ndatabase = \"sqlite://param.db\"\n\n\
         [sources.up]\nbase_url = \"http://127.0.0.1:9/\"\ntimeout = \"1s\"\n\n\
         [scrapers.s]\nsource = \"up\"\npath = \"/s\"\nquery = { q = \"{q}\" }\n",
    )
    .unwrap();
    let out = rebound(
        &[
            "-c",
            config.to_str().unwrap(),
            "scrape",
            "s",
            "--param",
            "q=one\ntwo",
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("s (q=one\\ntwo)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn json_logs_at_debug_level_carry_no_secret() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    sim.script(
        "/c/bad",
        vec![Reply::echo_query(500), Reply::echo_query(500)],
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
    command
        .args([
            "-c",
            config.to_str().unwrap(),
            "--log-format",
            "json",
            "run",
            "mixed",
        ])
        .env("CLI_KEY", SECRET)
        .env("RUST_LOG", "trace");
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("Attempt finished")),
        "{stderr}"
    );
    for line in &lines {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(!line.contains(SECRET), "secret in a log line: {line}");
    }
    assert!(!text(&out.stdout).contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebound_run_sleeps_a_retry_wait_that_serve_would_store() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/c/wait",
        vec![
            Reply::status(429).header("Retry-After", "1"),
            Reply::json(200, serde_json::json!({"ok": true})),
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "wait"
timezone = "UTC"

[scheduler]
max_inline_wait = "100ms"

[sources.up]
base_url = "{}"

[scrapers.wait]
source = "up"
path = "/c/wait"

[workflows.w]
scrapers = ["wait"]
"#,
            sim.base_url()
        ),
    )
    .expect("config");
    let out = rebound(
        &["-c", config.to_str().expect("utf-8"), "run", "w", "--json"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["scrapers"][0]["attempts"], 2, "{report:#}");
    sim.shutdown().await;
}

/// Output to a full disk (`> /dev/full`): every command panicked (exit
/// 101), `health` too, whose exit codes are a monitoring contract. Now
/// the command says why and exits 1, or 3 (UNKNOWN) for `health`; so does
/// one whose errors cannot be written. `completions`, whose generator
/// panics on a failing writer, ends as a SIGPIPE'd tool when its reader
/// goes away and with an error on a full disk.
#[test]
fn output_that_cannot_be_written_ends_the_command_with_an_error_not_a_panic() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
    };
    let run = |args: &[&str], stdout: std::process::Stdio, stderr: std::process::Stdio| {
        Command::new(env!("CARGO_BIN_EXE_rebound"))
            .args(args)
            .env_remove("REBOUND_CONFIG")
            .stdout(stdout)
            .stderr(stderr)
            .output()
            .expect("rebound runs")
    };
    for args in [&["config", "schema"][..], &["completions", "bash"][..]] {
        let out = run(args, full().into(), std::process::Stdio::piped());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("No space left on device"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // `health` of a missing config, its error to a full disk: UNKNOWN.
    let out = run(
        &["-c", "/nonexistent/rebound.toml", "health"],
        std::process::Stdio::piped(),
        full().into(),
    );
    assert_eq!(out.status.code(), Some(3));
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = run(
        &["completions", "zsh"],
        writer.into(),
        std::process::Stdio::piped(),
    );
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

/// `rebound config schema | head -1`: the reader is gone before the
/// command writes. It ended in a panic (exit 101, a backtrace on stderr);
/// now it ends as a SIGPIPE'd tool does (141), quietly.
#[test]
fn a_reader_that_went_away_ends_the_command_quietly_not_in_a_panic() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["config", "schema"])
        .env_remove("REBOUND_CONFIG")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("rebound runs");
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}
