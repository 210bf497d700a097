//! `keep_running` transforms: one real `python3` process per scraper
//! answering document after document in frames, through the engine
//! against the simulated upstream's PDF route, history in a real SQLite
//! file. Each fault (an `error` answer, an exit, a non-frame, an oversized
//! output, a timeout) fails only its own call, and the next document gets
//! a working process.

use super::date;
use chrono::{NaiveDate, NaiveTime};
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_engine::{CallReport, Engine};
use rebound_upstream_sim::UpstreamSim;
use rebound_upstream_sim::paths::docs;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const SECRET: &str = "kept_key_4b3a2918";

/// A `keep_running` transform whose behaviour on its n-th document is
/// chosen by its argument; a good answer says which process and which
/// document it was.
const SERVER: &str = r#"
import json, os, sys, time
mode = sys.argv[1]
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

def answer(kind, body):
    stdout.write(kind + b" %d\n" % len(body) + body)
    stdout.flush()

n = 0
while True:
    header = stdin.readline()
    if not header:
        sys.exit(0)
    document = stdin.read(int(header.split()[1]))
    n += 1
    good = json.dumps({"pid": os.getpid(), "n": n, "pdf": document[:5].decode("latin-1"),
                       "records": [{"n": n}]}).encode()
    sys.stderr.write(f"document {n} read\n")
    sys.stderr.flush()
    if mode == "refuse-first" and n == 1:
        answer(b"error", b"no header row on page 2 near kept_key_4b3a2918 \x1b[2J")
    elif mode == "exit-second" and n == 2:
        sys.stderr.write("Traceback: KeyError near kept_key_4b3a2918: boom\n")
        sys.exit(4)
    elif mode == "not-a-frame":
        stdout.write(b'{"key": "kept_key_4b3a2918"}\n')
        stdout.flush()
    elif mode == "too-long":
        stdout.write(b"output 999999999999\n")
        stdout.flush()
    elif mode == "announce-huge":
        stdout.write(b"output 4000000000\nonly this")
        stdout.flush()
        sys.exit(0)
    elif mode == "hang-second" and n == 2:
        time.sleep(30)
    else:
        answer(b"output", good)
"#;

fn config(base_url: &str) -> String {
    let scraper = |name: &str, timeout: &str| {
        format!(
            r#"
[scrapers.{name}]
source = "up"
path = "{pdf}"
format = "pdf"
records = "/records"
transform = {{ command = ["python3", "parsers/server.py", "{name}"], timeout = "{timeout}", keep_running = true }}
"#,
            pdf = docs::PDF,
        )
    };
    let mut text = format!(
        r#"
[pipeline]
name = "kept"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

[sources.up]
base_url = "{base_url}"
timeout = "5s"
max_body_bytes = 1000000
query = {{ key = "${{KEPT_KEY}}" }}
"#
    );
    // A source at the loader's largest limit (4 GiB): a command that
    // announces nearly that much and sends nine bytes is an early end, and
    // only what arrives is held.
    text.push_str(&format!(
        r#"
[sources.unbounded]
base_url = "{base_url}"
timeout = "5s"
max_body_bytes = 4294967296
"#
    ));
    text.push_str(
        &scraper("announce-huge", "20s").replace("source = \"up\"", "source = \"unbounded\""),
    );
    for (name, timeout) in [
        ("count", "20s"),
        ("refuse-first", "20s"),
        ("exit-second", "20s"),
        ("not-a-frame", "20s"),
        ("too-long", "20s"),
        ("hang-second", "1s"),
    ] {
        text.push_str(&scraper(name, timeout));
    }
    text
}

struct Harness {
    _sim: UpstreamSim,
    _dir: tempfile::TempDir,
    engine: Engine,
}

async fn harness() -> Harness {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let parsers = dir.path().join("parsers");
    std::fs::create_dir(&parsers).unwrap();
    std::fs::write(parsers.join("server.py"), SERVER).unwrap();
    let env = |name: &str| match name {
        "KEPT_KEY" => Some(SECRET.to_string()),
        "PATH" => Some("/usr/local/bin:/usr/bin:/bin".to_string()),
        _ => None,
    };
    let plan = rebound_config::load_str(
        &config(&sim.base_url()),
        &dir.path().join("rebound.toml"),
        &env,
    )
    .unwrap();
    let (engine, _, _) = super::sqlite_engine(plan, dir.path()).await;
    Harness {
        _sim: sim,
        _dir: dir,
        engine,
    }
}

impl Harness {
    async fn scrape(&self, scraper: &str) -> CallReport {
        self.engine
            .run_scraper(scraper, date(), &BTreeMap::new())
            .await
            .unwrap()
    }

    /// A successful call's output: (process id, document number).
    async fn good(&self, scraper: &str) -> (u64, u64) {
        let call = self.scrape(scraper).await;
        assert_eq!(call.status, ScraperStatus::Success, "{:?}", call.message);
        assert_eq!(call.records, Some(1));
        let uri = call.output_uri.unwrap();
        let path = uri.strip_prefix("file://").unwrap_or(&uri);
        let output: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(output["pdf"], "%PDF-", "{output}");
        (
            output["pid"].as_u64().unwrap(),
            output["n"].as_u64().unwrap(),
        )
    }

    async fn failed(&self, scraper: &str) -> String {
        let call = self.scrape(scraper).await;
        assert_eq!(call.status, ScraperStatus::Failed, "{:?}", call.message);
        assert_eq!(call.error_kind, Some(ErrorKind::Transform));
        assert_eq!(call.output_uri, None);
        let message = call.message.unwrap();
        assert!(!message.contains(SECRET), "{message}");
        message
    }
}

#[tokio::test]
async fn one_process_answers_document_after_document() {
    let h = harness().await;
    let (pid, n) = h.good("count").await;
    assert_eq!(n, 1);
    for expected in 2..=4 {
        assert_eq!(h.good("count").await, (pid, expected));
    }
}

#[tokio::test]
async fn an_error_answer_fails_its_call_masked_and_the_process_serves_on() {
    let h = harness().await;
    let message = h.failed("refuse-first").await;
    assert_eq!(
        message,
        "transform python3 could not transform the document: no header row on page 2 near *** \\u{1b}[2J"
    );
    let (_, n) = h.good("refuse-first").await;
    assert_eq!(n, 2, "the same process answers the next document");
}

#[tokio::test]
async fn a_process_that_exits_is_reported_with_this_documents_stderr_and_replaced() {
    let h = harness().await;
    let (first, _) = h.good("exit-second").await;
    let message = h.failed("exit-second").await;
    assert!(
        message.starts_with("transform python3 exited with status 4 before answering; stderr: "),
        "{message}"
    );
    assert!(message.ends_with("KeyError near ***: boom"), "{message}");
    // Only what it wrote while this document was in hand.
    assert!(message.contains("document 2 read"), "{message}");
    assert!(!message.contains("document 1 read"), "{message}");
    let (second, n) = h.good("exit-second").await;
    assert_ne!(second, first, "a new process");
    assert_eq!(n, 1);
}

#[tokio::test]
async fn an_answer_that_is_not_a_frame_stops_the_process_and_is_quoted_masked() {
    let h = harness().await;
    for _ in 0..2 {
        let message = h.failed("not-a-frame").await;
        assert!(
            message.starts_with(
                "transform python3 answered \"{\\\"key\\\": \\\"***\\\"}\\n\" where \"output N\" or \"error N\" was expected (keep_running), and was stopped"
            ),
            "{message}"
        );
    }
}

#[tokio::test]
async fn an_output_over_max_body_bytes_is_refused_before_it_is_read() {
    let h = harness().await;
    let message = h.failed("too-long").await;
    assert!(
        message.starts_with(
            "transform python3 wrote more than max_body_bytes 1000000 (999999999999 bytes announced), and was stopped"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn an_announced_length_is_not_allocated_before_it_arrives() {
    let h = harness().await;
    let message = h.failed("announce-huge").await;
    assert_eq!(
        message,
        "transform python3 exited with status 0 before answering; stderr: document 1 read"
    );
}

#[tokio::test]
async fn a_document_past_the_timeout_kills_the_process_and_the_next_starts_a_new_one() {
    let h = harness().await;
    let (first, _) = h.good("hang-second").await;
    let started = std::time::Instant::now();
    let message = h.failed("hang-second").await;
    assert_eq!(
        message,
        "transform python3 timed out after 1s and was killed"
    );
    // Killed, not waited for (the script sleeps 30 s).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let (second, n) = h.good("hang-second").await;
    assert_ne!(second, first);
    assert_eq!(n, 1);
}

/// The reference pipeline's parser answers the same bytes in `--serve`
/// frames as run once per report, for reports of several dates.
#[test]
fn the_reference_parser_serves_what_it_prints_once() {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nba/scripts/injury_report.py");
    let reports: Vec<Vec<u8>> = [(2025, 11, 3), (2026, 1, 15), (2026, 3, 8)]
        .into_iter()
        .map(|(y, m, d)| {
            rebound_upstream_sim::injury_report_pdf(
                NaiveDate::from_ymd_opt(y, m, d).unwrap(),
                NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
            )
        })
        .collect();
    let once: Vec<Vec<u8>> = reports
        .iter()
        .map(|pdf| {
            let mut child = Command::new("python3")
                .arg(&script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(pdf).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            out.stdout
        })
        .collect();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut framed = Vec::new();
    for pdf in &reports {
        framed.extend_from_slice(format!("document {}\n", pdf.len()).as_bytes());
        framed.extend_from_slice(pdf);
    }
    framed.extend_from_slice(b"document 9\nnot a pdf");
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&framed).unwrap();
    }
    let mut answers = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut answers)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mut expected = Vec::new();
    for output in &once {
        let records: Value = serde_json::from_slice(output).unwrap();
        assert!(!records["records"].as_array().unwrap().is_empty());
        expected.extend_from_slice(format!("output {}\n", output.len()).as_bytes());
        expected.extend_from_slice(output);
    }
    let error = b"injury_report.py: not a PDF (starts with b'not a pdf')";
    expected.extend_from_slice(format!("error {}\n", error.len()).as_bytes());
    expected.extend_from_slice(error);
    assert_eq!(
        String::from_utf8_lossy(&answers),
        String::from_utf8_lossy(&expected)
    );
}
