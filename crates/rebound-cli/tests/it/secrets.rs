//! Secrets at the CLI: which commands need them, the minimum length of a
//! secret sent to an upstream, masking that neither leaks the start of a
//! secret at a cut nor corrupts output and stored payloads.

use super::{SECRET, rebound, text, write_config};
use rebound_upstream_sim::{Reply, UpstreamSim};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use std::path::{Path, PathBuf};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn a_short_upstream_secret_is_refused_before_any_request() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    for (key, expected) in [
        (
            "x",
            "CLI_KEY is 1 character long; secrets sent to an upstream must be at least 8 characters",
        ),
        (
            "1234567",
            "CLI_KEY is 7 characters long; secrets sent to an upstream must be at least 8 characters",
        ),
    ] {
        for args in [
            vec!["-c", config, "run", "ok"],
            vec!["-c", config, "scrape", "good"],
        ] {
            let out = rebound(&args, &[("CLI_KEY", key)]);
            assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains(expected),
                "{}",
                text(&out.stderr)
            );
        }
    }
    assert!(sim.requests().is_empty(), "no request was made");
    // Eight characters are enough.
    let out = rebound(&["-c", config, "run", "ok"], &[("CLI_KEY", "12345678")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// `write_config` in a folder named `examples`, so that its path holds the
/// word a one-character key used to corrupt (`e***amples`).
fn examples_config(root: &Path, base_url: &str) -> PathBuf {
    let dir = root.join("examples");
    std::fs::create_dir_all(&dir).unwrap();
    write_config(&dir, base_url)
}

/// A `timezone` or `retention` read from an unset variable: `check`'s
/// summary printed the default the plan holds in its place (`time zone
/// UTC`, `retention: none (history is kept forever)`), which `run` would
/// not use. It now says where the value comes from; set, it shows it.
#[test]
fn check_says_a_setting_comes_from_an_unset_variable_rather_than_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        r#"
[pipeline]
name = "env"
timezone = "${CLI_ZONE}"
retention = "${CLI_KEEP}"

[sources.up]
base_url = "http://127.0.0.1:9"

[scrapers.ok]
source = "up"
path = "/ok"
"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = rebound(&["-c", config, "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("pipeline env (time zone from ${CLI_ZONE}, not set here)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  retention: from ${CLI_KEEP}, not set here\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("UTC"), "{stdout}");
    assert!(!stdout.contains("kept forever"), "{stdout}");
    let out = rebound(
        &["-c", config, "check"],
        &[("CLI_ZONE", "America/Chicago"), ("CLI_KEEP", "30d")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("not set here"), "{stdout}");
    // A time zone is no secret: it read `time zone ***`.
    assert!(
        stdout.contains("pipeline env (time zone America/Chicago)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  retention: 30d (older history"),
        "{stdout}"
    );
}

/// Only secrets are masked by `check`: a time zone read from the
/// environment is shown (it read `***`), a key sent upstream never is, and
/// a secret set in the time zone's variable by mistake is masked where the
/// error quotes it, in text and in `--json`.
#[test]
fn check_shows_a_time_zone_from_the_environment_and_masks_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("timezone = \"America/New_York\""),
        "{written}"
    );
    std::fs::write(
        &config,
        written.replace(
            "timezone = \"America/New_York\"",
            "timezone = \"${CLI_ZONE}\"",
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = rebound(
        &["-c", config, "check"],
        &[("CLI_KEY", SECRET), ("CLI_ZONE", "Europe/Paris")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("(time zone Europe/Paris)\n"), "{stdout}");
    assert!(!stdout.contains("***"), "{stdout}");
    assert!(!stdout.contains(SECRET), "{stdout}");

    // The key set as the time zone: refused, and quoted masked.
    let env = [("CLI_KEY", SECRET), ("CLI_ZONE", SECRET)];
    let out = rebound(&["-c", config, "check"], &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pipeline.timezone: expected an IANA time zone name such as \"America/New_York\" or \"UTC\", found \"***\""),
        "{stderr}"
    );
    let out = rebound(&["-c", config, "check", "--json"], &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("found \\\"***\\\""), "{stdout}");
    for output in [&out.stdout, &out.stderr] {
        assert!(!text(output).contains(SECRET), "{}", text(output));
    }
}

#[test]
fn check_and_the_reporting_commands_need_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = examples_config(dir.path(), "http://127.0.0.1:9");
    let config = config.to_str().unwrap();
    let out = rebound(&["-c", config, "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(
        stdout.contains(
            "note: environment variable CLI_KEY is not set (used by sources.up.query.key)"
        ),
        "{stdout}"
    );
    for args in [
        vec!["-c", config, "status"],
        vec!["-c", config, "status", "--json"],
        vec!["-c", config, "breakers"],
        vec!["-c", config, "quotas"],
        vec!["-c", config, "lockouts"],
        vec!["-c", config, "alerts"],
        vec!["-c", config, "plan", "--date", "2026-11-27"],
    ] {
        let out = rebound(&args, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // An unset variable is sent empty, which leaks nothing: neither a
    // note of `check` nor a refusal of `health` (whose probes send the
    // query) calls it "0 characters long", as both once did.
    assert!(!stdout.contains("0 characters"), "{stdout}");
    let out = rebound(&["-c", config, "health"], &[]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("characters long"), "{stderr}");
    assert_ne!(out.status.code(), Some(2), "{stderr}");
}

#[test]
fn check_with_a_one_character_secret_does_not_corrupt_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let config = examples_config(dir.path(), "http://127.0.0.1:9");
    let config = config.to_str().unwrap();
    let out = rebound(&["-c", config, "check"], &[("CLI_KEY", "x")]);
    // Not sendable: `check` refuses it as `run` does, at its place.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("e***amples"), "{stderr}");
    assert!(stderr.contains("examples"), "{stderr}");
    assert!(
        stderr.contains("sources.up.query.key: CLI_KEY is 1 character long; secrets sent to an upstream must be at least 8 characters"),
        "{stderr}"
    );
}

/// A set secret too short to be masked got three verdicts: `check` said
/// "valid" (with a note), `run` and `scrape` refused it with neither
/// file, line, column nor key. Now all three refuse it with its place, in
/// text and in `check --json`.
#[test]
fn a_short_upstream_secret_is_refused_by_check_and_run_alike_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    let line = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .position(|l| l.contains("${CLI_KEY}"))
        .unwrap()
        + 1;
    let config = config.to_str().unwrap();
    let place = format!("{config}:{line}:");
    let expected = "sources.up.query.key: CLI_KEY is 5 characters long; secrets sent to an upstream must be at least 8 characters";
    let env = [("CLI_KEY", "short")];
    for args in [
        vec!["-c", config, "check"],
        vec!["-c", config, "run", "ok"],
        vec!["-c", config, "scrape", "good"],
    ] {
        let out = rebound(&args, &env);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&place), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("\"short\""), "{args:?}: {stderr}");
    }
    let out = rebound(&["-c", config, "check", "--json"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false, "{json}");
    assert_eq!(json["problems"][0]["key"], "sources.up.query.key", "{json}");
    assert_eq!(json["problems"][0]["line"], line, "{json}");
}

/// A typed field read from the environment is not a secret sent anywhere:
/// `timeout = "${CLI_TIMEOUT}"` with `5s` was refused by `run` as "2
/// characters long; secrets sent to an upstream must be at least 8".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn a_typed_value_from_the_environment_is_not_held_to_the_secret_length() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let text_of_config = std::fs::read_to_string(&config).unwrap();
    assert!(text_of_config.contains("timeout = \"2s\""));
    std::fs::write(
        &config,
        text_of_config.replace("timeout = \"2s\"", "timeout = \"${CLI_TIMEOUT}\""),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let env = [("CLI_KEY", SECRET), ("CLI_TIMEOUT", "5s")];
    let out = rebound(&["-c", config, "check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = rebound(&["-c", config, "run", "ok"], &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("characters long"), "{stderr}");
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn a_secret_straddling_the_excerpt_cut_leaves_no_prefix() {
    let secret = "sk_live_0123456789abcdefghij";
    assert_eq!(secret.len(), 28);
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", secret)];
    // The body excerpt is cut at 200 characters; the secret starts at 190.
    let body = format!("{}{secret} and then some", "a".repeat(190));
    sim.script(
        "/c/bad",
        vec![Reply::text(500, body.clone()), Reply::text(500, body)],
    );
    let out = rebound(&["-c", config, "run", "mixed", "--json"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let run = text(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&run).unwrap();
    assert!(
        json["error_message"]
            .as_str()
            .unwrap()
            .starts_with("bad: HTTP 500 after 2 attempts: aaa"),
        "{run}"
    );
    // What the database holds, read back.
    let out = rebound(&["-c", config, "status", "--json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stored = text(&out.stdout);
    assert!(stored.contains("HTTP 500 after 2 attempts"), "{stored}");
    for (what, output) in [("run --json", &run), ("status --json", &stored)] {
        for n in 6..=secret.len() {
            assert!(
                !output.contains(&secret[..n]),
                "{what} holds {n} characters of the secret: {output}"
            );
        }
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
async fn stored_payloads_stay_byte_identical_and_valid_json() {
    // A short database password: allowed (it is not sent upstream), masked
    // as the URL's password, never in payloads that merely hold its digits.
    let admin = std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let name = format!("rebound_secrets_{}", std::process::id());
    let mut conn = PgConnection::connect(&admin).await.expect("PostgreSQL");
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await
    .unwrap();
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    // Trust authentication: any password is accepted.
    let host = &admin[admin.rfind('@').unwrap() + 1..admin.rfind('/').unwrap()];
    let database = format!("postgres://postgres:${{PG_PASSWORD}}@{host}/{name}");

    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let text_of_config = std::fs::read_to_string(&config).unwrap().replace(
        "name = \"cli\"",
        &format!("name = \"cli\"\ndatabase = \"{database}\""),
    );
    std::fs::write(&config, text_of_config).unwrap();
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", SECRET), ("PG_PASSWORD", "4711")];

    let plain = "{\"data\": [4711, 2],  \"id\": \"4711\"}\n";
    sim.script(
        "/c/good",
        vec![Reply::text(200, plain).header("Content-Type", "application/json")],
    );
    let out = rebound(&["-c", config, "run", "ok"], &env);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stored = files(&dir.path().join("raw"));
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(std::fs::read(&stored[0]).unwrap(), plain.as_bytes());
    }));
    // A payload echoing a 20-character query key inside a JSON string.
    let key = "sk_live_20_chars_key";
    let echo = format!("{{\"echo\": \"apiKey={key}\", \"n\": [1, 4711]}}");
    sim.script(
        "/c/good",
        vec![Reply::text(200, echo).header("Content-Type", "application/json")],
    );
    let out = rebound(
        &["-c", config, "scrape", "good"],
        &[("CLI_KEY", key), ("PG_PASSWORD", "4711")],
    );
    let result = result.and_then(|()| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            let stored: Vec<Vec<u8>> = files(&dir.path().join("raw"))
                .iter()
                .map(|p| std::fs::read(p).unwrap())
                .filter(|bytes| bytes != plain.as_bytes())
                .collect();
            assert_eq!(stored.len(), 1);
            assert_eq!(
                String::from_utf8_lossy(&stored[0]),
                "{\"echo\": \"apiKey=***\", \"n\": [1, 4711]}"
            );
            let parsed: serde_json::Value = serde_json::from_slice(&stored[0]).unwrap();
            assert_eq!(parsed["echo"], "apiKey=***");
        }))
    });
    let _ = conn
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// A `${VAR}` anywhere in `database` stays masked when the database
/// cannot be opened. Only a URL's password was masked: a user, a host
/// or a `?password=` from the environment was printed in clear by every
/// report command.
#[test]
fn a_database_that_cannot_be_opened_keeps_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        r#"
[pipeline]
name = "x"
database = "postgres://${DB_USER}@127.0.0.1:1/x?password=${DB_PASSWORD}"

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
    let config = config.to_str().unwrap();
    let envs = [
        ("DB_USER", "secretuser42"),
        ("DB_PASSWORD", "hunter2hunter2"),
    ];
    for args in [
        vec!["-c", config, "status"],
        vec!["-c", config, "health", "--no-probe"],
        vec!["-c", config, "freshness"],
    ] {
        let out = rebound(&args, &envs);
        let stderr = text(&out.stderr);
        assert!(stderr.contains("cannot open history database"), "{stderr}");
        for secret in ["secretuser42", "hunter2hunter2"] {
            assert!(!stderr.contains(secret), "{args:?}: {stderr}");
            assert!(!text(&out.stdout).contains(secret), "{args:?}");
        }
    }
}

/// Before: a rate limit, a method or a cron expression read from the
/// environment were masked by `check` as if secrets (`schedule: cron
/// "***"`); only a time zone and durations were shown. A key sent upstream
/// is still masked, and so is one set in the rate's variable by mistake.
#[test]
fn check_shows_typed_settings_from_the_environment_and_masks_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        r#"[pipeline]
name = "t"
database = "sqlite://h.db"

[sources.b]
base_url = "https://b.example"
rate_limit = "${CLI_RATE}"
headers = { Authorization = "Bearer ${CLI_KEY}" }

[scrapers.s]
source = "b"
path = "/s"
method = "${CLI_METHOD}"

[workflows.w]
scrapers = ["s"]
schedule = { kind = "cron", cron = "${CLI_CRON}" }
"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let mut env = [
        ("CLI_KEY", SECRET),
        ("CLI_RATE", "7/min"),
        ("CLI_METHOD", "POST"),
        ("CLI_CRON", "17 5 * * *"),
    ];
    let out = rebound(&["-c", config, "check"], &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("  b: at most 7/min (spread evenly)"),
        "{stdout}"
    );
    assert!(stdout.contains("schedule: cron \"17 5 * * *\""), "{stdout}");
    assert!(!stdout.contains("***"), "{stdout}");
    assert!(!stdout.contains(SECRET), "{stdout}");

    // The key set as the rate: refused, and quoted masked.
    env[1].1 = SECRET;
    let out = rebound(&["-c", config, "check"], &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sources.b.rate_limit: expected a rate such as \"5/s\", \"20/min\" or \"1000/h\", found \"***\""),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");
}
