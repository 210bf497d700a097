//! Documents and conditional requests (issue 13, items 4 and 5), through
//! the engine against the simulated upstream's document routes
//! (`rebound_upstream_sim::paths::docs`), history in a real SQLite file,
//! payloads in a real folder, transforms as real `python3` processes.

use super::date;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_engine::{CallReport, Engine};
use rebound_storage::{OutputRole, Store};
use rebound_upstream_sim::paths::docs;
use rebound_upstream_sim::{DOC_ETAG, DOC_LAST_MODIFIED, UpstreamSim, tiny_pdf};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "doc_key_9f8e7d6c5b";

/// Reads the PDF on stdin the simple way its layout allows (one `(...) Tj`
/// per line) and writes the report's rows as JSON records. Also says
/// which environment variables it was given.
const PARSER: &str = r#"
import json, os, re, sys
pdf = sys.stdin.buffer.read().decode("latin-1")
lines = [m.replace("\\(", "(").replace("\\)", ")") for m in re.findall(r"\((.*?)\) Tj", pdf)]
header = lines[1].split("|")
records = [dict(zip(header, line.split("|"))) for line in lines[2:]]
json.dump({"title": lines[0], "records": records, "env": sorted(os.environ)}, sys.stdout)
"#;

const FAILING: &str = r#"
import sys
sys.stdin.buffer.read()
sys.stderr.write("x" * 2000 + "\n")
sys.stderr.write("Traceback: cannot find the table header near doc_key_9f8e7d6c5b: boom\n")
sys.exit(3)
"#;

const SLOW: &str = r#"
import time
time.sleep(30)
"#;

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "documents"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 3
initial_delay = "1s"
jitter = "none"

[sources.up]
base_url = "{base_url}"
timeout = "5s"
query = {{ key = "${{DOC_KEY}}" }}

[scrapers.report]
source = "up"
path = "{pdf}"
format = "pdf"

[scrapers.page]
source = "up"
path = "{html}"
format = "html"

[scrapers.blocked]
source = "up"
path = "{blocked}"
format = "pdf"

[scrapers.empty_csv]
source = "up"
path = "{empty_csv}"
format = "csv"

[scrapers.small_report]
source = "up"
path = "{pdf}"
format = "pdf"
min_bytes = 100000

[scrapers.parsed]
source = "up"
path = "{pdf}"
format = "pdf"
records = "/records"
transform = {{ command = ["python3", "parsers/report.py"], timeout = "20s", format = "json" }}

[scrapers.parser_fails]
source = "up"
path = "{pdf}"
format = "pdf"
records = "/records"
transform = {{ command = ["python3", "parsers/failing.py"], timeout = "20s" }}

[scrapers.parser_hangs]
source = "up"
path = "{pdf}"
format = "pdf"
transform = {{ command = ["python3", "parsers/slow.py"], timeout = "1s" }}

[scrapers.cond]
source = "up"
path = "{conditional}"
records = "/data"
conditional = true

[scrapers.plain]
source = "up"
path = "{conditional}"
records = "/data"
"#,
        pdf = docs::PDF,
        html = docs::HTML,
        blocked = docs::BLOCKED_PDF,
        empty_csv = docs::EMPTY_CSV,
        conditional = docs::CONDITIONAL,
    )
}

struct Harness {
    sim: UpstreamSim,
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    engine: Engine,
    store: Arc<dyn Store>,
}

async fn harness() -> Harness {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let parsers = dir.path().join("parsers");
    std::fs::create_dir(&parsers).unwrap();
    std::fs::write(parsers.join("report.py"), PARSER).unwrap();
    std::fs::write(parsers.join("failing.py"), FAILING).unwrap();
    std::fs::write(parsers.join("slow.py"), SLOW).unwrap();
    // What the CLI would read from its environment: the key, and a PATH
    // (the one variable of these a transform inherits).
    let env = |name: &str| match name {
        "DOC_KEY" => Some(SECRET.to_string()),
        "PATH" => Some("/usr/local/bin:/usr/bin:/bin".to_string()),
        _ => None,
    };
    let plan = rebound_config::load_str(
        &config(&sim.base_url()),
        &dir.path().join("rebound.toml"),
        &env,
    )
    .unwrap();
    let (engine, store, clock) = super::sqlite_engine(plan, dir.path()).await;
    Harness {
        sim,
        dir,
        clock,
        engine,
        store,
    }
}

impl Harness {
    async fn scrape(&self, scraper: &str) -> CallReport {
        self.engine
            .run_scraper(scraper, date(), &BTreeMap::new())
            .await
            .unwrap()
    }

    fn files(&self) -> Vec<std::path::PathBuf> {
        walk(&self.dir.path().join("raw"))
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn read_uri(uri: &str) -> Vec<u8> {
    std::fs::read(uri.strip_prefix("file://").unwrap()).unwrap()
}

#[tokio::test]
async fn a_pdf_is_stored_as_a_pdf() {
    let h = harness().await;
    let call = h.scrape("report").await;
    assert_eq!(call.status, ScraperStatus::Success, "{:?}", call.message);
    let uri = call.output_uri.as_deref().unwrap();
    assert!(uri.ends_with(".pdf"), "{uri}");
    let stored = read_uri(uri);
    assert!(stored.starts_with(b"%PDF-1.4"));
    assert_eq!(stored, tiny_pdf(&rebound_upstream_sim::REPORT_LINES));
    assert_eq!(call.bytes, Some(stored.len() as i64));
    // One payload: the row is its only output.
    let outputs = h.store.call_outputs(call.id).await.unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].role, OutputRole::Primary);
    assert_eq!(outputs[0].uri, uri);
}

#[tokio::test]
async fn an_html_page_is_stored_as_html() {
    let h = harness().await;
    let call = h.scrape("page").await;
    assert_eq!(call.status, ScraperStatus::Success, "{:?}", call.message);
    assert!(call.output_uri.as_deref().unwrap().ends_with(".html"));
}

#[tokio::test]
async fn an_access_denied_page_where_a_pdf_was_expected_is_a_decode_failure_saying_so() {
    let h = harness().await;
    let call = h.scrape("blocked").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Decode));
    let message = call.message.unwrap();
    assert!(
        message.starts_with("expected a PDF, got text/html (")
            && message.contains("bytes: \"<html><title>Access Denied</title>"),
        "{message}"
    );
    // The same URL answers the same page: not retried, nothing stored.
    assert_eq!(call.attempts, 1);
    assert_eq!(call.output_uri, None);
    assert!(h.files().is_empty());
}

#[tokio::test]
async fn a_document_shorter_than_min_bytes_is_no_data() {
    let h = harness().await;
    let call = h.scrape("empty_csv").await;
    assert_eq!(call.status, ScraperStatus::NoData, "{:?}", call.message);
    assert_eq!(
        call.message.as_deref(),
        Some("no data: 0 bytes, fewer than min_bytes (1)")
    );
    let call = h.scrape("small_report").await;
    assert_eq!(call.status, ScraperStatus::NoData, "{:?}", call.message);
    assert!(
        call.message
            .as_deref()
            .unwrap()
            .contains("fewer than min_bytes (100000)"),
        "{:?}",
        call.message
    );
}

#[tokio::test]
async fn a_transform_turns_the_pdf_into_records_and_both_are_kept() {
    let h = harness().await;
    let call = h.scrape("parsed").await;
    assert_eq!(call.status, ScraperStatus::Success, "{:?}", call.message);
    assert_eq!(call.records, Some(2));
    let uri = call.output_uri.clone().unwrap();
    assert!(uri.ends_with(".json"), "{uri}");
    let output: Value = serde_json::from_slice(&read_uri(&uri)).unwrap();
    assert_eq!(output["title"], "Injury Report: 01/21/26 05:30 PM");
    assert_eq!(output["records"][1]["Player"], "Brunson, Jalen");
    assert_eq!(output["records"][1]["Status"], "Out");
    // The command saw none of this process's environment: only the PATH
    // the config's loader passed (Python may add its locale coercion).
    let env: Vec<&str> = output["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"PATH"), "{env:?}");
    assert!(
        env.iter()
            .all(|k| ["PATH", "HOME", "LANG", "LC_CTYPE"].contains(k)),
        "{env:?}"
    );

    let outputs = h.store.call_outputs(call.id).await.unwrap();
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert_eq!(outputs[0].position, 1);
    assert_eq!(outputs[0].role, OutputRole::Primary);
    assert_eq!(outputs[0].uri, uri);
    assert_eq!(outputs[0].content_hash, call.content_hash.clone().unwrap());
    assert_eq!(outputs[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(outputs[1].position, 2);
    assert_eq!(outputs[1].role, OutputRole::Secondary);
    assert!(outputs[1].uri.ends_with(".pdf"), "{}", outputs[1].uri);
    let pdf = tiny_pdf(&rebound_upstream_sim::REPORT_LINES);
    assert_eq!(read_uri(&outputs[1].uri), pdf);
    assert_eq!(
        outputs[1].content_hash,
        blake3::hash(&pdf).to_hex().to_string()
    );
    assert_eq!(outputs[1].bytes, Some(pdf.len() as i64));
    assert_eq!(outputs[1].content_type.as_deref(), Some("application/pdf"));
    assert_ne!(outputs[0].content_hash, outputs[1].content_hash);
}

#[tokio::test]
async fn a_transform_that_exits_non_zero_fails_with_kind_transform_and_its_masked_stderr() {
    let h = harness().await;
    let call = h.scrape("parser_fails").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Transform));
    let message = call.message.unwrap();
    assert!(
        message.starts_with("transform python3 exited with status 3; stderr: "),
        "{message}"
    );
    assert!(message.ends_with("near ***: boom"), "{message}");
    assert!(!message.contains(SECRET), "{message}");
    // The upstream answered once; the parser is not retried, nothing kept.
    assert_eq!(call.attempts, 1);
    assert_eq!(call.output_uri, None);
    assert!(h.files().is_empty());
    assert!(h.store.call_outputs(call.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_transform_past_its_timeout_is_killed_and_says_so() {
    let h = harness().await;
    let started = std::time::Instant::now();
    let call = h.scrape("parser_hangs").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Transform));
    assert_eq!(
        call.message.as_deref(),
        Some("transform python3 timed out after 1s and was killed")
    );
    // Killed, not waited for (the script sleeps 30 s).
    assert!(started.elapsed() < Duration::from_secs(25));
}

#[tokio::test]
async fn a_304_to_a_conditional_request_is_an_unchanged_success_that_writes_nothing() {
    let h = harness().await;
    let first = h.scrape("cond").await;
    assert_eq!(first.status, ScraperStatus::Success, "{:?}", first.message);
    assert!(!first.unchanged);
    let files = h.files();
    assert_eq!(files.len(), 1);
    let fresh_at = h.store.last_fresh_payload("cond").await.unwrap();
    assert!(fresh_at.is_some());
    // The first request had nothing to revalidate.
    let sent = h.sim.requests();
    assert_eq!(sent.last().unwrap().header("if-none-match"), None);

    h.clock.advance(Duration::from_secs(3_600));
    let second = h.scrape("cond").await;
    let sent = h.sim.requests();
    let last = sent.last().unwrap();
    assert_eq!(last.header("if-none-match"), Some(DOC_ETAG));
    assert_eq!(last.header("if-modified-since"), Some(DOC_LAST_MODIFIED));
    assert_eq!(
        second.status,
        ScraperStatus::Success,
        "{:?}",
        second.message
    );
    assert_eq!(second.http_status, Some(304));
    assert!(second.unchanged);
    assert_eq!(second.output_uri, first.output_uri);
    assert_eq!(second.content_hash, first.content_hash);
    assert_eq!(second.records, Some(1));
    // No new object, and the dataset is as old as before.
    assert_eq!(h.files(), files);
    assert_eq!(h.store.last_fresh_payload("cond").await.unwrap(), fresh_at);

    // The validators stay on the 304's row, so the next call revalidates too.
    let third = h.scrape("cond").await;
    assert_eq!(third.http_status, Some(304));
    assert!(third.unchanged);
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        h.dir.path().join("history.db").display()
    ))
    .await
    .unwrap();
    let rows: Vec<(Option<String>, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT etag, last_modified, record_count FROM scraper_execution_log \
         WHERE scraper_name = 'cond' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(row.0.as_deref(), Some(DOC_ETAG));
        assert_eq!(row.1.as_deref(), Some(DOC_LAST_MODIFIED));
        assert_eq!(row.2, Some(1));
    }
}

#[tokio::test]
async fn a_scraper_without_conditional_never_revalidates_or_keeps_validators() {
    let h = harness().await;
    for _ in 0..2 {
        let call = h.scrape("plain").await;
        assert_eq!(call.status, ScraperStatus::Success);
        assert_eq!(call.http_status, Some(200));
    }
    for request in h.sim.requests() {
        assert_eq!(request.header("if-none-match"), None);
        assert_eq!(request.header("if-modified-since"), None);
    }
}

#[tokio::test]
async fn a_conditional_request_whose_payload_is_gone_asks_in_full_and_stores_it_again() {
    let h = harness().await;
    let first = h.scrape("cond").await;
    assert_eq!(first.status, ScraperStatus::Success, "{:?}", first.message);
    // Retention (or someone) deleted the payload the validators came with.
    let uri = first.output_uri.clone().unwrap();
    std::fs::remove_file(uri.strip_prefix("file://").unwrap()).unwrap();

    h.clock.advance(Duration::from_secs(3_600));
    let second = h.scrape("cond").await;
    let sent = h.sim.requests();
    let last = sent.last().unwrap();
    // A 304 would point the row at nothing: no validators are sent.
    assert_eq!(last.header("if-none-match"), None);
    assert_eq!(last.header("if-modified-since"), None);
    assert_eq!(
        second.status,
        ScraperStatus::Success,
        "{:?}",
        second.message
    );
    assert_eq!(second.http_status, Some(200));
    assert!(!second.unchanged);
    let stored = second.output_uri.clone().unwrap();
    assert!(!read_uri(&stored).is_empty(), "the payload exists again");
}
