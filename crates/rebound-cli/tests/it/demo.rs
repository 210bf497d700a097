//! `rebound demo`: every behaviour it promises shows (retries explained,
//! fan-out, breaker trip / refusal / probe / recovery, stale dataset,
//! alerts opened and recovered as the webhook receiver got them, the
//! completion events, health's verdict), the commands it prints work as
//! printed, and the config it writes runs again against `demo upstream`.

use super::text;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `rebound demo ARGS` in `cwd`, with `CARGO` removed (as when the binary
/// is started directly) unless `envs` sets it.
fn demo(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
    command
        .current_dir(cwd)
        .arg("demo")
        .args(args)
        .env_remove("REBOUND_CONFIG")
        .env_remove("CARGO")
        .env("RUST_LOG", "error");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("rebound runs")
}

/// Runs `line` with `sh -c` in `cwd`, as a person pasting it would.
fn shell(cwd: &Path, line: &str, envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new("sh");
    command
        .current_dir(cwd)
        .arg("-c")
        .arg(line)
        .env_remove("REBOUND_CONFIG")
        .env_remove("CARGO");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("sh runs")
}

/// The commands of the "Next:" block, without their "(why)".
fn next_commands(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("Next:") {
            inside = true;
            out.push(rest.to_string());
        } else if inside && line.starts_with("      ") {
            out.push(line.to_string());
        } else {
            inside = false;
        }
    }
    out.iter()
        .map(|l| l.split("   (").next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn demo_json_shows_every_behaviour_and_matches_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &["--dir", "work", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = json["runs"].as_array().unwrap();
    let calls: Vec<&Value> = runs
        .iter()
        .flat_map(|r| r["scrapers"].as_array().unwrap().iter())
        .collect();
    let find = |name: &str| {
        let call = calls
            .iter()
            .find(|c| c["scraper"] == name)
            .unwrap_or_else(|| panic!("{name} ran"));
        (
            call["status"].as_str().unwrap().to_string(),
            call["attempts"].as_u64().unwrap(),
            call["error_kind"].clone(),
        )
    };
    // Each scripted fault shows up as documented.
    let null = Value::Null;
    let expected = [
        ("oddsa_events", "success", 2, null.clone()), // 429 + Retry-After, then 200
        ("bdl_box_scores", "success", 3, null.clone()), // 503 burst
        ("nbac_injury_report", "failed", 3, "timeout".into()), // slower than the source timeout
        ("nbac_play_by_play", "failed", 1, "client".into()), // 404, not retried
        ("bdb_play_by_play", "no_data", 1, null.clone()), // "not published yet"
        ("bdl_games", "no_data", 1, null.clone()),    // empty record list
    ];
    for (name, status, attempts, kind) in expected {
        assert_eq!(find(name), (status.to_string(), attempts, kind), "{name}");
    }

    // Fan-out: every event but the last collected, the last "no data".
    let lines = runs
        .iter()
        .find(|r| r["workflow"] == "betting_lines")
        .unwrap();
    let fanout = &lines["fanout"][0];
    assert_eq!(fanout["scraper"], "oddsa_player_props", "{lines}");
    let total = fanout["total"].as_u64().unwrap();
    assert!(total >= 3, "{fanout}");
    assert_eq!(fanout["succeeded"].as_u64(), Some(total - 1), "{fanout}");
    assert_eq!(fanout["no_data"].as_u64(), Some(1), "{fanout}");

    // The outage: failed, failed (breaker opens), refused, probe succeeds.
    let live: Vec<&Value> = runs
        .iter()
        .filter(|r| r["workflow"] == "live_box_scores")
        .collect();
    let statuses: Vec<&str> = live.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["failed", "failed", "failed", "success"]);
    let refused = &live[2]["scrapers"][0];
    assert_eq!(refused["status"], "skipped", "{refused}");
    assert_eq!(refused["error_kind"], "breaker_open", "{refused}");
    assert_eq!(refused["attempts"], 0, "{refused}");
    assert_eq!(
        live[3]["scrapers"][0]["attempts"], 1,
        "the probe is one attempt"
    );
    let transitions: Vec<(String, String)> = json["breaker_transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["source"], "bdl");
            (
                t["from_state"].as_str().unwrap().to_string(),
                t["to_state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        transitions,
        pairs(&[
            ("closed", "open"),
            ("open", "half_open"),
            ("half_open", "closed")
        ])
    );

    // Alerts, as the webhook receiver got them: the outage opens and
    // recovers, the stale props open last.
    let received: Vec<(String, String, String)> = json["alerts_received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["event"].as_str().unwrap().to_string(),
                a["condition"].as_str().unwrap().to_string(),
                a["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |event: &str, condition: &str, subject: &str| {
        received
            .iter()
            .position(|r| {
                r == &(
                    event.to_string(),
                    condition.to_string(),
                    subject.to_string(),
                )
            })
            .unwrap_or_else(|| panic!("no {event} {condition} {subject} in {received:?}"))
    };
    assert!(has("opened", "source_unhealthy", "bdl") < has("recovered", "source_unhealthy", "bdl"));
    assert!(
        has("recovered", "source_unhealthy", "bdl")
            < has("opened", "dataset_stale", "odds_api/player_props")
    );

    // One completion event per call with an outcome (not for the refusal).
    let outcomes = calls.iter().filter(|c| c["status"] != "skipped").count();
    let events = json["completion_events"].as_array().unwrap();
    assert_eq!(events.len(), outcomes, "{events:?}");
    // Published as `run` publishes them: with no [handoff] sink, at once
    // (they stayed pending, which `rebound run` never leaves them).
    assert!(
        events.iter().all(|e| e["state"] == "published"),
        "{events:?}"
    );

    // Health's verdict: the stale props (and the morning's failures) warn.
    assert_eq!(json["health"]["level"], "warning", "{}", json["health"]);
    assert_eq!(json["health"]["exit_code"], 1);
    let verdict = json["health"]["verdict"].as_array().unwrap();
    assert!(
        verdict[0]
            .as_str()
            .unwrap()
            .starts_with("WARNING: 0 critical"),
        "{verdict:?}"
    );
    assert!(
        verdict.iter().any(|l| l
            .as_str()
            .unwrap()
            .contains("dataset odds_api/player_props: stale")),
        "{verdict:?}"
    );

    let work = dir.path().join("work");
    assert!(work.join("rebound.db").exists());
    assert!(work.join("raw").is_dir());
    // The same history is readable with `status`.
    let out = shell(
        dir.path(),
        &json["next"][2]
            .as_str()
            .unwrap()
            .replace(" status", " status --json"),
        &[],
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["workflow_executions"].as_array().unwrap().len(),
        runs.len()
    );
}

#[test]
fn demo_tables_say_what_happened_and_the_next_commands_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &["--dir", "my demo"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The demo narrates its failures itself: no warning log lines between
    // its tables (they were printed once per failed call and breaker trip).
    assert!(
        !text(&out.stderr).contains("WARN"),
        "warnings on stderr: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    for expected in [
        "2 attempts: 429, waited 1s (Retry-After), 200",
        "3 attempts: timeout, waited",
        "fan-out oddsa_player_props: ",
        " collected (1 no data)",
        "breaker bdl: closed → open (2 consecutive failures; open for 15m)",
        "bdl_live_box_scores skipped: no request sent: circuit breaker for source bdl open",
        "breaker bdl: open → half_open",
        "breaker bdl: half_open → closed (probe succeeded)",
        "bdl_live_box_scores success: 1 attempt, HTTP 200 (the breaker's probe)",
        "webhook received: [nba-demo] CRITICAL source_unhealthy: source bdl: breaker open",
        "webhook received: [nba-demo] RECOVERED source_unhealthy bdl: recovered after",
        "webhook received: [nba-demo] WARNING dataset_stale: dataset odds_api/player_props",
        "no new player props since the morning run",
        "Completion events (the hand-off outbox, table completion_events): ",
        " published); no [handoff] sink is configured, so each is marked published at once, with no delivery, and a consumer polls the table",
        "rebound health (exit code 1):",
        "WARNING: 0 critical, ",
        "dataset odds_api/player_props: stale",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // Started directly (no `cargo run`, not on PATH): commands name this
    // binary by its path, and the config path is quoted for the shell.
    let next = next_commands(&stdout);
    assert_eq!(next.len(), 4, "{stdout}");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_rebound")).unwrap();
    // The last suggests a simulation (its run is the simulate tests' job:
    // it takes half a minute in a debug build).
    assert_eq!(
        next[3],
        format!("{} simulate new-years-eve --policy original", exe.display())
    );
    for command in &next[..3] {
        assert!(
            command.starts_with(&format!("{} -c 'my demo/rebound.toml' ", exe.display())),
            "{command}"
        );
    }
    // Each works as printed: health agrees with the demo's verdict, the
    // others succeed.
    let expected_codes = [1, 0, 0];
    for (command, code) in next.iter().zip(expected_codes) {
        let out = shell(dir.path(), command, &[]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command}: {}",
            text(&out.stderr)
        );
        assert!(
            !text(&out.stderr).contains("error"),
            "{command}: {}",
            text(&out.stderr)
        );
    }
    let health = text(&shell(dir.path(), &next[0], &[]).stdout);
    assert!(health.starts_with("WARNING: 0 critical"), "{health}");
    assert!(
        health.contains("dataset odds_api/player_props: stale"),
        "{health}"
    );
}

#[test]
fn installed_on_path_the_commands_say_rebound_and_under_cargo_run_they_say_cargo_run() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rebound"), bin.join("rebound")).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let out = demo(dir.path(), &["--dir", "d"], &[("PATH", &path)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let next = next_commands(&text(&out.stdout));
    assert_eq!(next[0], "rebound -c d/rebound.toml health");
    let out = shell(dir.path(), &next[1], &[("PATH", &path)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        next[1],
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("notifications"),
        "{}",
        text(&out.stdout)
    );

    // `cargo run` sets CARGO and runs the binary from its target folder;
    // started in a Cargo project, the commands are plain `cargo run --`.
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("Cargo.toml"), "").unwrap();
    let out = demo(&project, &["--dir", "c"], &[("CARGO", "/usr/bin/cargo")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let next = next_commands(&stdout);
    assert_eq!(next[0], "cargo run -- -c c/rebound.toml health", "{stdout}");
    let config = std::fs::read_to_string(project.join("c/rebound.toml")).unwrap();
    assert!(
        config.contains("#   cargo run -- demo upstream --port "),
        "{config}"
    );
}

#[test]
fn the_written_config_runs_again_against_demo_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &["--dir", "d"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let config = std::fs::read_to_string(dir.path().join("d/rebound.toml")).unwrap();
    // The header comment says how to start the upstream; start it so.
    let start = config
        .lines()
        .find_map(|l| l.strip_prefix("#   "))
        .unwrap_or_else(|| panic!("no start command in:\n{config}"));
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_rebound")).unwrap();
    assert!(
        start.starts_with(&format!("{} demo upstream --port ", exe.display())),
        "{start}"
    );
    let mut server = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!("exec {start}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for its first line: it prints the address once it listens.
    let mut first = String::new();
    {
        use std::io::BufRead;
        let stdout = server.stdout.as_mut().unwrap();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
    }
    assert!(
        first.starts_with("Simulated upstream at http://127.0.0.1:"),
        "{first}"
    );
    let run = shell(
        dir.path(),
        &format!(
            "{} -c d/rebound.toml run betting_lines --json",
            exe.display()
        ),
        &[],
    );
    let evaluate = shell(
        dir.path(),
        &format!("{} -c d/rebound.toml alerts --evaluate", exe.display()),
        &[],
    );
    // Ours to stop: the child we spawned, by its own id.
    server.kill().unwrap();
    let _ = server.wait();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let json: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["status"], "success", "{json}");
    assert_eq!(
        evaluate.status.code(),
        Some(0),
        "{}",
        text(&evaluate.stderr)
    );
}

/// `--dir` naming a file is a usage error saying so: it read "cannot
/// create demo folder F: File exists (os error 17)", exit 1.
#[test]
fn a_dir_that_is_a_file_is_refused_as_not_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine\n").unwrap();
    let out = demo(dir.path(), &["--dir", "notes.txt"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .contains("--dir notes.txt: not a folder; the demo writes into a new or empty folder"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine\n"
    );
}

#[test]
fn a_rerun_tells_the_same_story_and_a_folder_not_the_demos_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let story = |out: &Output| {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let alerts: Vec<String> = json["alerts_received"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{} {} {}", a["event"], a["condition"], a["subject"]))
            .collect();
        (
            json["completion_events"].as_array().unwrap().len(),
            json["breaker_transitions"].as_array().unwrap().len(),
            alerts,
        )
    };
    let first = story(&demo(dir.path(), &["--dir", "d", "--json"], &[]));
    let second = story(&demo(dir.path(), &["--dir", "d", "--json"], &[]));
    assert_eq!(first, second);

    // A folder holding someone's own config: refused, nothing removed.
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(mine.join("raw")).unwrap();
    std::fs::write(mine.join("rebound.toml"), "[pipeline]\nname = \"mine\"\n").unwrap();
    let out = demo(dir.path(), &["--dir", "mine"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not the demo's"),
        "{}",
        text(&out.stderr)
    );
    assert!(mine.join("raw").is_dir());
    assert_eq!(
        std::fs::read_to_string(mine.join("rebound.toml")).unwrap(),
        "[pipeline]\nname = \"mine\"\n"
    );

    // A folder of unrelated files (a project, `--dir .`): refused too,
    // nothing written (the demo wrote its config, database and raw/ there).
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("notes.txt"), "mine\n").unwrap();
    let out = demo(dir.path(), &["--dir", "project"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("holds files that are not the demo's (notes.txt)"),
        "{}",
        text(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&project)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);

    // An earlier demo's folder with a file of the user's beside it: the
    // demo runs again and leaves the file alone.
    std::fs::write(dir.path().join("d/my-notes.txt"), "mine\n").unwrap();
    let out = demo(dir.path(), &["--dir", "d", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("d/my-notes.txt").exists());
}

/// A `--dir` whose name starts with `-` printed `rebound -c -d/rebound.toml
/// health`, which reads `-d` as an option; the path is written `./-d/…`.
#[test]
fn a_dir_starting_with_a_dash_gets_commands_that_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &["--dir=-d"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let next = next_commands(&stdout);
    assert!(
        next[0].contains(" -c ./-d/rebound.toml health"),
        "{}",
        next[0]
    );
    for (command, code) in next[..3].iter().zip([1, 0, 0]) {
        let out = shell(dir.path(), command, &[]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command}: {}",
            text(&out.stderr)
        );
    }
}

/// A `--dir` whose name is not UTF-8 wrote the folder and its config, then
/// failed opening the history ("filename passed to SQLite must be valid
/// UTF-8", exit 1), leaving them; it is refused first, nothing written.
#[test]
fn a_dir_whose_name_is_not_utf8_is_refused_before_anything_is_written() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"demo\xff");
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .current_dir(dir.path())
        .args(["demo", "--dir"])
        .arg(name)
        .env_remove("REBOUND_CONFIG")
        .env_remove("CARGO")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "error: --dir demo\u{fffd}: the folder's name is not UTF-8, which the history database's file name must be; choose another\n"
    );
    assert!(!dir.path().join(name).exists(), "nothing written");
}

/// Before: only "cannot serve the simulated upstream on 127.0.0.1:N:
/// Address already in use (os error 98)", which did not say who might hold
/// the port (usually an earlier `demo upstream`) nor what to do.
#[test]
fn a_port_already_taken_is_explained() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["upstream", "--port", &port],
        vec!["upstream", "--receiver-port", &port],
    ] {
        let out = demo(dir.path(), &args, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let flag = args[1];
        for part in [
            format!("127.0.0.1:{port}: Address already in use"),
            "another process holds that port, perhaps an earlier `rebound demo upstream` still running".to_string(),
            format!("pick another {flag} (a demo config expects the port its first lines name)"),
        ] {
            assert!(stderr.contains(&part), "{part}: {stderr}");
        }
    }
}
