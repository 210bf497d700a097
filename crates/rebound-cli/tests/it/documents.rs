//! A PDF scraper with a transform through the `rebound` binary (issue 13,
//! item 4): `rebound check` finds a missing parser script with its line
//! and column; `rebound scrape` stores the parser's JSON as the call's
//! output and the PDF beside it (`call_outputs`), and the parser never
//! sees the process's secrets.

use super::{rebound, text};
use rebound_upstream_sim::UpstreamSim;
use rebound_upstream_sim::paths::docs;
use sqlx::Row;

const KEY: &str = "nba_key_4f3e2d1c0b";

/// Rows of the injury report PDF as JSON records, and the names of the
/// environment variables it was given, with any value holding the key.
const PARSER: &str = r#"
import json, os, re, sys
pdf = sys.stdin.buffer.read().decode("latin-1")
lines = re.findall(r"\((.*?)\) Tj", pdf)
header = lines[1].split("|")
rows = [dict(zip(header, line.split("|"))) for line in lines[2:]]
leaks = [k for k, v in os.environ.items() if "nba_key" in v]
json.dump({"rows": rows, "env": sorted(os.environ), "leaks": leaks}, sys.stdout)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn scrape_of_a_pdf_with_a_transform_stores_its_records_and_the_document() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "docs"

[sources.nba]
base_url = "{base}"
headers = {{ "X-Api-Key" = "${{NBA_KEY}}" }}

[scrapers.injury_report]
source = "nba"
path = "{path}"
format = "pdf"
records = "/rows"
transform = {{ command = ["python3", "parsers/injury_report.py"], timeout = "20s" }}
"#,
            base = sim.base_url(),
            path = docs::PDF,
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let env = [("NBA_KEY", KEY)];

    // The parser is not there yet: check names it, at its place.
    let out = rebound(&["-c", config, "check"], &env);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    let written = std::fs::read_to_string(config).unwrap();
    let line = written
        .lines()
        .position(|l| l.starts_with("transform"))
        .unwrap();
    let column = written
        .lines()
        .nth(line)
        .unwrap()
        .find("\"parsers/")
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!(
            "rebound.toml:{}:{column}: scrapers.injury_report.transform.command[1]: file \"parsers/injury_report.py\" does not exist (relative to {})",
            line + 1,
            dir.path().display()
        )),
        "{stderr}"
    );

    std::fs::create_dir(dir.path().join("parsers")).unwrap();
    std::fs::write(dir.path().join("parsers/injury_report.py"), PARSER).unwrap();
    let out = rebound(&["-c", config, "check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = rebound(
        &[
            "-c",
            config,
            "scrape",
            "injury_report",
            "--date",
            "2026-01-21",
            "--json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let call: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(call["status"], "success", "{call}");
    assert_eq!(call["records"], 2);
    let uri = call["output_uri"].as_str().unwrap();
    assert!(uri.ends_with(".json"), "{uri}");
    let output: serde_json::Value =
        serde_json::from_slice(&std::fs::read(uri.strip_prefix("file://").unwrap()).unwrap())
            .unwrap();
    assert_eq!(output["rows"][0]["Player"], "Tatum, Jayson");
    assert_eq!(output["leaks"], serde_json::json!([]));
    let env_names: Vec<&str> = output["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Nothing of rebound's own environment but PATH, HOME and LANG (an
    // interpreter's launcher, such as a pyenv shim, may add its own).
    assert!(env_names.contains(&"PATH"), "{env_names:?}");
    assert!(
        !env_names
            .iter()
            .any(|k| *k == "NBA_KEY" || *k == "RUST_LOG" || k.starts_with("CARGO")),
        "{env_names:?}"
    );

    // The history lists both outputs, the PDF second.
    let db = dir.path().join("rebound.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT o.position, o.role, o.uri, o.content_type, l.output_uri \
         FROM call_outputs o JOIN scraper_execution_log l ON l.id = o.execution_log_id \
         ORDER BY o.position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<String, _>("role"), "primary");
    assert_eq!(rows[0].get::<String, _>("uri"), uri);
    assert_eq!(rows[0].get::<String, _>("output_uri"), uri);
    assert_eq!(rows[1].get::<i64, _>("position"), 2);
    assert_eq!(rows[1].get::<String, _>("role"), "secondary");
    assert_eq!(
        rows[1].get::<Option<String>, _>("content_type").as_deref(),
        Some("application/pdf")
    );
    let pdf = std::fs::read(
        rows[1]
            .get::<String, _>("uri")
            .strip_prefix("file://")
            .unwrap(),
    )
    .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // The key went upstream, and nowhere else.
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.header("x-api-key") == Some(KEY))
    );
}

/// Before: a transform's stderr reached the terminal raw, escape sequences
/// and all, through the log, `rebound run`'s `error_message` and `rebound
/// health`'s lines (and alert webhooks): a clear-screen and a window title
/// set by a parser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn a_transforms_escape_sequences_are_printed_escaped() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("parser.sh"),
        "cat > /dev/null\nprintf 'bad \\033[31mRED \\033]0;pwned\\007 \\033[2J\\n' >&2\nexit 3\n",
    )
    .unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "docs"

[sources.nba]
base_url = "{base}"

[scrapers.injury_report]
source = "nba"
path = "{path}"
format = "pdf"
records = "/rows"
transform = {{ command = ["sh", "parser.sh"], timeout = "20s" }}

[workflows.daily]
scrapers = ["injury_report"]
"#,
            base = sim.base_url(),
            path = docs::PDF,
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let run = rebound(&["-c", config, "run", "daily", "--date", "2026-01-20"], &[]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let health = rebound(&["-c", config, "health", "--no-probe"], &[]);
    for (what, bytes) in [
        ("run stdout", &run.stdout),
        ("run stderr", &run.stderr),
        ("health stdout", &health.stdout),
    ] {
        let out = text(bytes);
        assert!(!out.contains('\u{1b}'), "{what}: {out:?}");
        assert!(!out.contains('\u{7}'), "{what}: {out:?}");
    }
    let run_out = text(&run.stdout);
    assert!(
        run_out.contains("bad \\u{1b}[31mRED \\u{1b}]0;pwned\\u{7} \\u{1b}[2J"),
        "{run_out}"
    );
    assert!(
        text(&health.stdout).contains("\\u{1b}[2J"),
        "{}",
        text(&health.stdout)
    );
}
