//! The fetcher against the simulated upstream over real loopback HTTP.
//! Waits between attempts go through a manual clock, so a 30 s
//! Retry-After costs nothing; only the timeout tests wait (briefly) for real.

mod dropped;
mod encoding;
mod hostile;
mod proxies;
mod rate_limits;
mod redirects;
mod sink;
mod transport;

use chrono::{TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_domain::plan::Plan;
use rebound_fetch::{CallResult, CallSpec, Fetcher};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "sk_live_TOPSECRET";

/// A plan with one source at `base_url` and a few scrapers; `extra` is
/// appended to the TOML (more scrapers, overrides).
fn plan(base_url: &str, retry: &str, source_extra: &str) -> Plan {
    let text = format!(
        r#"
[pipeline]
name = "t"
timezone = "America/New_York"
database = "sqlite://unused.db"
raw_store = "file://unused"

[retry]
{retry}

[sources.up]
base_url = "{base_url}"
timeout = "2s"
max_concurrency = 4
query = {{ apiKey = "${{TEST_API_KEY}}" }}
{source_extra}

[scrapers.plain]
source = "up"
path = "/t/plain"

[scrapers.records]
source = "up"
path = "/t/records"
records = "/data"
no_data = {{ status = [404], body_contains = ["No game found matching query"] }}
"#
    );
    let env = |name: &str| (name == "TEST_API_KEY").then(|| SECRET.to_string());
    let mut plan =
        rebound_config::load_str(&text, Path::new("test.toml"), &env).expect("test plan is valid");
    // These tests are about the waits themselves (7 s, 30 s Retry-After), so
    // they are slept inline on the manual clock; the deferral of long waits
    // has its own test with the default 5 s limit.
    plan.scheduler.max_inline_wait = Duration::from_secs(600);
    plan
}

const DEFAULT_RETRY: &str = r#"max_attempts = 3
initial_delay = "2s"
multiplier = 2.0
max_delay = "60s"
jitter = "none"
respect_retry_after = true
max_retry_after = "10m""#;

struct Harness {
    sim: UpstreamSim,
    plan: Plan,
    clock: Arc<ManualClock>,
    fetcher: Fetcher,
}

async fn harness(retry: &str, source_extra: &str) -> Harness {
    let sim = UpstreamSim::start().await.unwrap();
    let plan = plan(&sim.base_url(), retry, source_extra);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap().with_seed(7);
    Harness {
        sim,
        plan,
        clock,
        fetcher,
    }
}

impl Harness {
    async fn call(&self, scraper: &str) -> CallResult {
        let scraper = &self.plan.scrapers[scraper];
        let source = &self.plan.sources[&scraper.source];
        let params = BTreeMap::new();
        self.fetcher
            .call(CallSpec {
                source,
                scraper,
                params: &params,
            })
            .await
    }
}

fn kinds(result: &CallResult) -> Vec<Option<ErrorKind>> {
    result.attempts.iter().map(|a| a.error_kind).collect()
}

#[tokio::test]
async fn throttled_then_success_waits_retry_after_seconds() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim.script(
        "/t/plain",
        vec![
            Reply::text(429, "slow down").header("Retry-After", "7"),
            Reply::text(200, "ok"),
        ],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Success);
    assert_eq!(kinds(&result), vec![Some(ErrorKind::Throttled), None]);
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(7)]);
    assert_eq!(result.attempts[1].delay_before, Duration::from_secs(7));
    // The second request started only after the wait had passed on the clock.
    assert!(
        result.attempts[1].started_at - result.attempts[0].finished_at
            >= chrono::Duration::seconds(7)
    );
}

#[tokio::test]
async fn retry_after_http_date_is_obeyed() {
    let h = harness(DEFAULT_RETRY, "").await;
    let later = std::time::SystemTime::from(h.clock.now()) + Duration::from_secs(30);
    h.sim.script(
        "/t/plain",
        vec![
            Reply::status(503).header("Retry-After", &httpdate::fmt_http_date(later)),
            Reply::text(200, "ok"),
        ],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Success);
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(30)]);
}

#[tokio::test]
async fn server_errors_exhaust_attempts_with_a_readable_message() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim
        .script("/t/plain", vec![Reply::text(503, "upstream busy"); 3]);
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Server));
    assert_eq!(
        result.message.as_deref(),
        Some("HTTP 503 after 3 attempts: upstream busy")
    );
    assert_eq!(result.http_status, Some(503));
    // Exponential backoff without jitter: 2 s then 4 s.
    assert_eq!(
        h.clock.sleeps(),
        vec![Duration::from_secs(2), Duration::from_secs(4)]
    );
    assert_eq!(h.sim.request_count("/t/plain"), 3);
}

#[tokio::test]
async fn an_html_error_page_is_summarised_not_dumped() {
    let h = harness(DEFAULT_RETRY, "").await;
    // A CDN's maintenance page: kilobytes of markup around one sentence.
    let page = format!(
        "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title><style>{}</style></head>\n<body><h1>503</h1></body></html>",
        ".x { color: red } ".repeat(220)
    );
    h.sim.script(
        "/t/plain",
        vec![Reply::text(503, page).header("content-type", "text/html"); 3],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(
        result.message.as_deref(),
        Some("HTTP 503 after 3 attempts: HTML page \"Service Unavailable\" (4 KB)")
    );
    // Each attempt's row says it the same short way.
    for attempt in &result.attempts {
        assert_eq!(
            attempt.message.as_deref(),
            Some("HTTP 503: HTML page \"Service Unavailable\" (4 KB)")
        );
    }
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim
        .script("/t/plain", vec![Reply::text(403, "forbidden: bad key")]);
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Client));
    assert_eq!(
        result.message.as_deref(),
        Some("HTTP 403 after 1 attempt: forbidden: bad key")
    );
    assert_eq!(result.attempts.len(), 1);
    assert!(h.clock.sleeps().is_empty());
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let retry = DEFAULT_RETRY.replace("max_attempts = 3", "max_attempts = 2");
    let h = harness(&retry, "").await;
    // The source timeout is overridden to 300 ms below; the replies take 2 s.
    let mut plan = h.plan.clone();
    plan.sources.get_mut("up").unwrap().timeout = Duration::from_millis(300);
    let fetcher = Fetcher::new(&plan, h.clock.clone()).unwrap();
    h.sim.script(
        "/t/plain",
        vec![Reply::status(200).delay(Duration::from_secs(2)); 2],
    );
    let scraper = &plan.scrapers["plain"];
    let params = BTreeMap::new();
    let result = fetcher
        .call(CallSpec {
            source: &plan.sources["up"],
            scraper,
            params: &params,
        })
        .await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Timeout));
    assert_eq!(
        result.message.as_deref(),
        Some("timeout after 300ms (2 attempts)")
    );
    assert_eq!(kinds(&result), vec![Some(ErrorKind::Timeout); 2]);
}

#[tokio::test]
async fn refused_connections_are_connect_errors_without_secrets() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let plan = plan(&format!("http://127.0.0.1:{port}"), DEFAULT_RETRY, "");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap();
    let params = BTreeMap::new();
    let result = fetcher
        .call(CallSpec {
            source: &plan.sources["up"],
            scraper: &plan.scrapers["plain"],
            params: &params,
        })
        .await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Connect));
    let message = result.message.unwrap();
    // Where to and what happened, once; not reqwest's chain of wrappers.
    assert_eq!(
        message,
        format!("connect to 127.0.0.1:{port} refused (3 attempts)")
    );
    assert_eq!(
        result.attempts[0].message.as_deref(),
        Some(format!("connect to 127.0.0.1:{port} refused").as_str())
    );
    assert!(!message.contains(SECRET), "{message}");
    assert_eq!(clock.sleeps().len(), 2);
}

#[tokio::test]
async fn reset_connections_are_retried_as_connect_errors() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim
        .script("/t/plain", vec![Reply::reset(), Reply::text(200, "ok")]);
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Success);
    assert_eq!(kinds(&result), vec![Some(ErrorKind::Connect), None]);
    assert_eq!(result.attempts[0].outcome, AttemptOutcome::Retryable);
}

#[tokio::test]
async fn oversized_bodies_fail_without_being_buffered() {
    let h = harness(DEFAULT_RETRY, "max_body_bytes = 1000").await;
    h.sim.script("/t/plain", vec![Reply::huge(5_000_000)]);
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::BodyTooLarge));
    assert_eq!(result.attempts.len(), 1);
    let message = result.message.unwrap();
    assert!(
        message.contains("larger than max_body_bytes 1000"),
        "{message}"
    );
    // Declared length path: refused before reading.
    h.sim
        .script("/t/plain", vec![Reply::text(200, "x".repeat(5000))]);
    let result = h.call("plain").await;
    assert_eq!(result.error_kind, Some(ErrorKind::BodyTooLarge));
}

/// Before: a 503 or 429 with a body past max_body_bytes was `body_too_large`:
/// not a server failure for the breaker, and its Retry-After ignored.
#[tokio::test]
async fn an_error_answer_with_a_huge_body_is_judged_by_its_status() {
    let h = harness(DEFAULT_RETRY, "max_body_bytes = 1000").await;
    h.sim.script(
        "/t/plain",
        vec![
            Reply::huge(5_000_000).with_status(503),
            Reply::text(429, "y".repeat(5000)).header("Retry-After", "7"),
            Reply::text(200, "ok"),
        ],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Success, "{result:?}");
    assert_eq!(
        kinds(&result),
        [Some(ErrorKind::Server), Some(ErrorKind::Throttled), None]
    );
    assert_eq!(result.attempts[2].delay_before, Duration::from_secs(7));
}

#[tokio::test]
async fn bodies_that_are_not_json_are_decode_errors() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim.script(
        "/t/records",
        vec![Reply::text(200, "<html>maintenance</html>")],
    );
    let result = h.call("records").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Decode));
    assert_eq!(result.attempts.len(), 1);
    assert!(result.message.unwrap().contains("not valid JSON"));
    // Without `records`, any 2xx body is a success, but for one that is
    // certainly not JSON: an HTML page (a login wall, a maintenance page)
    // was stored as fresh data.
    h.sim
        .script("/t/plain", vec![Reply::text(200, "{\"ok\": true}")]);
    assert_eq!(h.call("plain").await.status, ScraperStatus::Success);
    h.sim
        .script("/t/plain", vec![Reply::text(200, "plain text")]);
    assert_eq!(h.call("plain").await.status, ScraperStatus::Success);
    h.sim.script(
        "/t/plain",
        vec![Reply::text(200, "<html>maintenance</html>")],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Decode));
    assert_eq!(result.attempts.len(), 1, "not retried");
    let message = result.message.unwrap();
    assert!(
        message.starts_with(
            "expected JSON, got an HTML page (24 bytes: \"<html>maintenance</html>\")"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn no_data_rules_and_empty_records_are_not_failures() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim.script(
        "/t/records",
        vec![
            Reply::json(404, serde_json::json!({"error": "missing"})),
            Reply::json(
                200,
                serde_json::json!({"error": "No game found matching query"}),
            ),
            Reply::json(200, serde_json::json!({"data": [], "meta": {}})),
            Reply::json(200, serde_json::json!({"data": [{"id": 1}, {"id": 2}]})),
        ],
    );
    let expected = [
        (ScraperStatus::NoData, "no_data.status"),
        (ScraperStatus::NoData, "body contains"),
        (ScraperStatus::NoData, "are empty"),
    ];
    for (status, needle) in expected {
        let result = h.call("records").await;
        assert_eq!(result.status, status);
        assert_eq!(result.attempts.len(), 1, "no_data is never retried");
        assert!(result.body.is_some(), "no_data bodies are kept");
        assert!(result.message.as_deref().unwrap().contains(needle));
    }
    let result = h.call("records").await;
    assert_eq!(result.status, ScraperStatus::Success);
    assert_eq!(result.records, Some(2));
    assert!(h.clock.sleeps().is_empty());
}

#[tokio::test]
async fn too_long_retry_after_fails_now_saying_so() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim.script(
        "/t/plain",
        vec![Reply::text(429, "quota").header("Retry-After", "3600")],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.attempts.len(), 1);
    let message = result.message.unwrap();
    assert!(message.contains("HTTP 429 after 1 attempt"), "{message}");
    assert!(
        message.contains("retry after 1h, longer than max_retry_after 10m"),
        "{message}"
    );
    assert!(h.clock.sleeps().is_empty());
}

#[tokio::test]
async fn secrets_in_echoed_bodies_are_masked() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim.script("/t/plain", vec![Reply::echo_query(400)]);
    let result = h.call("plain").await;
    // The secret went out on the wire ...
    let sent = h
        .sim
        .requests()
        .last()
        .unwrap()
        .query
        .clone()
        .unwrap_or_default();
    assert!(sent.contains(SECRET), "{sent}");
    // ... but never comes back in a message.
    let message = result.message.unwrap();
    assert!(message.contains("***"), "{message}");
    assert!(!message.contains(SECRET), "{message}");
    for attempt in &result.attempts {
        assert!(!attempt.message.clone().unwrap_or_default().contains(SECRET));
    }
}

#[tokio::test]
async fn missing_parameters_are_config_errors() {
    let h = harness(DEFAULT_RETRY, "").await;
    let mut plan = h.plan.clone();
    plan.scrapers.get_mut("plain").unwrap().path =
        rebound_domain::template::Template::parse("/t/{game_id}").unwrap();
    let params = BTreeMap::new();
    let result = h
        .fetcher
        .call(CallSpec {
            source: &plan.sources["up"],
            scraper: &plan.scrapers["plain"],
            params: &params,
        })
        .await;
    assert_eq!(result.error_kind, Some(ErrorKind::Config));
    assert!(result.message.unwrap().contains("--param game_id=VALUE"));
    assert_eq!(h.sim.requests().len(), 0);
}

#[tokio::test]
async fn waits_longer_than_the_inline_limit_are_deferred_not_slept() {
    let sim = UpstreamSim::start().await.unwrap();
    let mut plan = plan(&sim.base_url(), DEFAULT_RETRY, "");
    plan.scheduler.max_inline_wait = Duration::from_secs(5);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap();
    let params = BTreeMap::new();
    let call = || {
        fetcher.call(CallSpec {
            source: &plan.sources["up"],
            scraper: &plan.scrapers["plain"],
            params: &params,
        })
    };
    sim.script(
        "/t/plain",
        vec![Reply::text(429, "slow down").header("Retry-After", "120")],
    );
    let result = call().await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Throttled));
    assert_eq!(result.attempts.len(), 1);
    assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
    assert_eq!(
        result.deferred_until,
        Some(Utc.with_ymd_and_hms(2026, 1, 5, 10, 2, 0).unwrap())
    );
    assert_eq!(
        result.message.as_deref(),
        Some(
            "HTTP 429 after 1 attempt; Retry-After 120s exceeds the inline wait limit (5s): \
             retry stored for 2026-01-05 05:02:00 EST (-05:00); body: slow down"
        )
    );

    // Backoff waits count too: with a 3 s limit the first backoff (2 s) is
    // slept and the second (4 s) is deferred.
    let mut tight = plan.clone();
    tight.scheduler.max_inline_wait = Duration::from_secs(3);
    let fetcher = Fetcher::new(&tight, clock.clone()).unwrap();
    sim.script("/t/plain", vec![Reply::text(503, "busy"); 2]);
    let result = fetcher
        .call(CallSpec {
            source: &tight.sources["up"],
            scraper: &tight.scrapers["plain"],
            params: &params,
        })
        .await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Server));
    assert_eq!(result.attempts.len(), 2);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(2)]);
    let message = result.message.unwrap();
    assert!(
        message.starts_with(
            "HTTP 503 after 2 attempts; backoff 4s exceeds the inline wait limit (3s)"
        ),
        "{message}"
    );
    assert_eq!(
        result.deferred_until,
        Some(clock.now() + chrono::Duration::seconds(4))
    );

    // max_retry_after keeps precedence: a 1 h Retry-After fails now, saying so.
    // (First let the source pause of the 120 s Retry-After above run out.)
    clock.advance(Duration::from_secs(120));
    sim.script(
        "/t/plain",
        vec![Reply::text(429, "quota").header("Retry-After", "3600")],
    );
    let result = call().await;
    assert_eq!(result.deferred_until, None);
    assert!(
        result
            .message
            .unwrap()
            .contains("longer than max_retry_after 10m"),
    );
}

/// Before: a `br` or `deflate` body (never asked for) was a success, and its
/// compressed bytes were stored as the payload.
#[tokio::test]
async fn a_body_in_an_encoding_not_asked_for_is_a_decode_failure() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim.script(
        "/t/plain",
        vec![
            Reply::text(200, "\u{1b}compressed").header("Content-Encoding", "br"),
            Reply::text(200, "plain").header("Content-Encoding", "identity"),
        ],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(kinds(&result), [Some(ErrorKind::Decode)]);
    assert!(
        result
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("the body is encoded as \"br\" (Content-Encoding)"),
        "{:?}",
        result.message
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Success);
}

/// Before: a complete body whose gzip stream ends early was "connection
/// lost mid-body", retried twice and counted against the source.
#[tokio::test]
async fn a_whole_body_with_a_truncated_gzip_stream_is_a_decode_failure() {
    let h = harness(DEFAULT_RETRY, "").await;
    // A gzip header and nothing of the stream after it.
    let header = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    h.sim.script(
        "/t/plain",
        vec![Reply::bytes(200, header).header("Content-Encoding", "gzip")],
    );
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(kinds(&result), [Some(ErrorKind::Decode)], "{result:?}");
    // Before: the attempt's status was null, as if nothing had answered
    // (and a quota did not count the request).
    assert_eq!(result.attempts[0].http_status, Some(200));
    assert_eq!(result.http_status, Some(200));
    let message = result.message.unwrap_or_default();
    assert!(
        message.starts_with("HTTP 200, then could not decode the response"),
        "{message}"
    );
}

/// Before: JSON behind a UTF-8 byte-order mark (as .NET stacks send it)
/// failed as `decode`: "response is not valid JSON (expected value at line
/// 1 column 1)". The body is kept as it came.
#[tokio::test]
async fn json_behind_a_byte_order_mark_is_read() {
    let h = harness(DEFAULT_RETRY, "").await;
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(br#"{"data": [1, 2]}"#);
    h.sim
        .script("/t/records", vec![Reply::bytes(200, body.clone())]);
    let result = h.call("records").await;
    assert_eq!(result.status, ScraperStatus::Success, "{result:?}");
    assert_eq!(result.records, Some(2));
    assert_eq!(result.body.as_deref(), Some(body.as_slice()));
}

/// A page of `[0,0,0,…]` near `max_body_bytes` took some 40 times its size
/// to read (a 5 MB page of numbers, 212 MB): a hostile or broken upstream
/// could take gigabytes per call. Past five million values the page is
/// refused as `decode`, saying why; a dense page under the limit is read.
#[tokio::test]
async fn a_page_too_dense_to_read_is_refused_before_it_is_built() {
    let h = harness(DEFAULT_RETRY, "").await;
    let page = |zeros: usize| {
        let mut body = String::with_capacity(zeros * 2 + 16);
        body.push_str("{\"data\": [");
        for i in 0..zeros {
            body.push_str(if i == 0 { "0" } else { ",0" });
        }
        body.push_str("]}");
        body
    };
    // Five million values and one: the object, its key, the array and
    // 4,999,998 zeros.
    let dense = page(4_999_998);
    h.sim
        .script("/t/records", vec![Reply::text(200, dense.clone())]);
    let result = h.call("records").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Decode));
    assert_eq!(result.attempts.len(), 1, "not retried");
    let message = result.message.unwrap();
    assert!(
        message.starts_with(
            "response is not readable: its JSON holds more than 5000000 values in 9.5 MB, too many to read"
        ),
        "{message}"
    );
    assert!(rebound_fetch::classify::too_many_values(dense.as_bytes()).is_some());
    assert!(rebound_fetch::classify::payload_json(dense.as_bytes()).is_err());
    // Exactly five million: read.
    let at_limit = page(4_999_997);
    assert_eq!(
        rebound_fetch::classify::too_many_values(at_limit.as_bytes()),
        None
    );
    // A number beyond f64 up front stops serde's walk; the page is still
    // counted whole.
    let hiding = dense.replacen("[0,", "[1e400,", 1);
    assert!(rebound_fetch::classify::too_many_values(hiding.as_bytes()).is_some());
    assert!(rebound_fetch::classify::payload_json(hiding.as_bytes()).is_err());

    // A dense page well under the limit is read as before.
    h.sim
        .script("/t/records", vec![Reply::text(200, page(600_000))]);
    let result = h.call("records").await;
    assert_eq!(
        result.status,
        ScraperStatus::Success,
        "{:?}",
        result.message
    );
    assert_eq!(result.records, Some(600_000));

    // Over a megabyte but few values, and a number beyond f64 (which the
    // count skips over, as the parse reads it): read.
    let long = format!("{{\"data\": [\"{}\", 1e400]}}", "x".repeat(2 << 20));
    assert_eq!(
        rebound_fetch::classify::too_many_values(long.as_bytes()),
        None
    );
    h.sim.script("/t/records", vec![Reply::text(200, long)]);
    let result = h.call("records").await;
    assert_eq!(
        result.status,
        ScraperStatus::Success,
        "{:?}",
        result.message
    );
    assert_eq!(result.records, Some(2));
}

/// Before: a 200 with an empty body was a success of 0 bytes on a JSON
/// scraper without `records`, stored as the newest payload.
#[tokio::test]
async fn an_empty_body_is_no_data_even_without_records() {
    let h = harness(DEFAULT_RETRY, "").await;
    h.sim
        .script("/t/plain", vec![Reply::status(200), Reply::text(200, "{}")]);
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::NoData, "{result:?}");
    assert_eq!(result.attempts.len(), 1);
    let result = h.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Success);
    // With `records`: a 204 failed as "not valid JSON (EOF …)".
    h.sim.script("/t/records", vec![Reply::status(204)]);
    let result = h.call("records").await;
    assert_eq!(result.status, ScraperStatus::NoData, "{result:?}");
    assert_eq!(
        result.message.as_deref(),
        Some("no data: the body is empty (HTTP 204)")
    );
}

/// `path = ""` calls the source's `base_url` itself, the only way to reach
/// a source whose base URL is the endpoint; `path = "/"` adds a slash,
/// which names another resource.
#[tokio::test]
async fn an_empty_path_calls_the_base_url_itself() {
    let sim = UpstreamSim::start().await.unwrap();
    let base = format!("{}/t/feed.json", sim.base_url());
    let scrapers = r#"
[scrapers.whole]
source = "up"
path = ""

[scrapers.slash]
source = "up"
path = "/"
"#;
    let plan = plan(&base, DEFAULT_RETRY, scrapers);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock).unwrap();
    sim.script(
        "/t/feed.json",
        vec![Reply::json(200, serde_json::json!({"ok": true}))],
    );
    let params = BTreeMap::new();
    let call = |name: &str| {
        let scraper = &plan.scrapers[name];
        fetcher.call(CallSpec {
            source: &plan.sources[&scraper.source],
            scraper,
            params: &params,
        })
    };
    let whole = call("whole").await;
    assert_eq!(whole.status, ScraperStatus::Success, "{:?}", whole.message);
    assert_eq!(sim.request_count("/t/feed.json"), 1);
    let slash = call("slash").await;
    assert_eq!(slash.status, ScraperStatus::Failed, "{:?}", slash.message);
    assert_eq!(slash.http_status, Some(404));
    assert_eq!(
        sim.request_count("/t/feed.json"),
        1,
        "the slash is another path"
    );
    sim.shutdown().await;
}
