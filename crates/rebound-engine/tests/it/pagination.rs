//! Paginated scrapers (issue 13, item 1) and the per-scraper `timeout`
//! (item 6), through the engine against the simulated upstream's
//! paginated routes (`rebound_upstream_sim::paths::pages`), with history
//! in a real SQLite file and payloads in a real folder. Retry waits go
//! through a manual clock.

use super::date;
use chrono::{TimeZone, Utc};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_engine::{CallReport, Engine};
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::paths::pages;
use rebound_upstream_sim::{Reply, UpstreamSim};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "pg_key_5e4d3c2b1a";

fn config(base_url: &str, other_origin: &str) -> String {
    format!(
        r#"
[pipeline]
name = "pages"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 3
initial_delay = "1s"
jitter = "none"

[sources.up]
base_url = "{base_url}"
timeout = "2s"
query = {{ key = "${{PAGE_KEY}}" }}

[scrapers.cursor]
source = "up"
path = "{cursor}"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}

[scrapers.next_url]
source = "up"
path = "{next_url}"
records = "/results"
paginate = {{ kind = "next_url", next = "/next" }}

[scrapers.next_absolute]
source = "up"
path = "{next_url}"
query = {{ absolute = "1" }}
records = "/results"
paginate = {{ kind = "next_url", next = "/next" }}

[scrapers.link]
source = "up"
path = "{link}"
records = ""
paginate = {{ kind = "link" }}

[scrapers.page]
source = "up"
path = "{page}"
records = "/results"
paginate = {{ kind = "page", param = "page", total = "/total" }}

[scrapers.page_until_empty]
source = "up"
path = "{page}"
records = "/results"
paginate = {{ kind = "page", param = "page" }}

[scrapers.offset]
source = "up"
path = "{offset}"
records = "/items"
paginate = {{ kind = "offset", param = "offset", limit_param = "limit", limit = 3 }}

[scrapers.failing_page]
source = "up"
path = "{page}"
query = {{ fail_page = "3" }}
records = "/results"
paginate = {{ kind = "page", param = "page" }}

[scrapers.changed_shape]
source = "up"
path = "{cursor}"
query = {{ shape_page = "2" }}
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}

[scrapers.looping]
source = "up"
path = "{cursor_loop}"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}

[scrapers.capped]
source = "up"
path = "{cursor}"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor", max_pages = 2 }}

# Each page (about 130 bytes) fits in a body; the three joined do not.
[sources.small]
base_url = "{base_url}"
timeout = "2s"
max_body_bytes = 300
query = {{ key = "${{PAGE_KEY}}" }}

[scrapers.joined_too_large]
source = "small"
path = "{cursor}"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}

[scrapers.elsewhere]
source = "up"
path = "{next_url}"
query = {{ elsewhere = "{other_origin}" }}
records = "/results"
paginate = {{ kind = "next_url", next = "/next" }}

[scrapers.single_page]
source = "up"
path = "{page}"
records = "/results"

[scrapers.empty_single]
source = "up"
path = "{page}"
query = {{ page = "9" }}
records = "/results"

[scrapers.no_pointer]
source = "up"
path = "{page}"

[sources.limited]
base_url = "{base_url}"
rate_limit = "1/s"
quota = {{ per = "month", requests = 100 }}

[scrapers.limited_cursor]
source = "limited"
path = "{cursor}"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}

[sources.tight]
base_url = "{base_url}"
quota = {{ per = "month", requests = 2 }}

[scrapers.tight_cursor]
source = "tight"
path = "{cursor}"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}

[scrapers.long_cursor]
source = "up"
path = "/t/long_cursor"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}

[scrapers.long_next]
source = "up"
path = "/t/long_next"
records = "/results"
paginate = {{ kind = "next_url", next = "/next" }}

[scrapers.quick]
source = "up"
path = "/slow"
timeout = "100ms"
retry = {{ max_attempts = 1 }}

[scrapers.patient]
source = "up"
path = "/slow"
retry = {{ max_attempts = 1 }}
"#,
        cursor = pages::CURSOR,
        cursor_loop = pages::CURSOR_LOOP,
        next_url = pages::NEXT_URL,
        link = pages::LINK,
        page = pages::PAGE,
        offset = pages::OFFSET,
    )
}

struct Harness {
    sim: UpstreamSim,
    other: UpstreamSim,
    dir: tempfile::TempDir,
    engine: Engine,
    store: Arc<dyn Store>,
}

async fn harness() -> Harness {
    harness_on(Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    )))
    .await
}

async fn harness_on(clock: Arc<dyn Clock>) -> Harness {
    let sim = UpstreamSim::start().await.unwrap();
    let other = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = |name: &str| (name == "PAGE_KEY").then(|| KEY.to_string());
    let plan = rebound_config::load_str(
        &config(&sim.base_url(), &other.base_url()),
        &dir.path().join("rebound.toml"),
        &env,
    )
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .unwrap(),
    );
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, clock);
    Harness {
        sim,
        other,
        dir,
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

    /// The stored payload of `call`, as JSON.
    fn payload(&self, call: &CallReport) -> Value {
        let uri = call.output_uri.as_deref().expect("a stored payload");
        let bytes = std::fs::read(uri.strip_prefix("file://").unwrap()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// `(page, outcome)` of every attempt of `call`, in order.
    async fn attempt_pages(&self, call: &CallReport) -> Vec<(i64, String)> {
        self.store
            .attempts_for_call(call.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.page, a.outcome))
            .collect()
    }

    /// The query of every request the upstream saw for `path`.
    fn queries(&self, path: &str) -> Vec<String> {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.query.clone().unwrap_or_default())
            .collect()
    }

    fn raw_files(&self) -> usize {
        count_files(&self.dir.path().join("raw"))
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() { count_files(&path) } else { 1 }
        })
        .sum()
}

/// The simulated routes' records `from..=to`.
fn items(from: u64, to: u64) -> Vec<Value> {
    (from..=to)
        .map(|i| json!({ "id": i, "name": format!("item {i}") }))
        .collect()
}

fn success(pages: &[i64]) -> Vec<(i64, String)> {
    pages.iter().map(|p| (*p, "success".to_string())).collect()
}

#[tokio::test]
async fn a_cursor_walk_stores_one_payload_with_every_pages_records() {
    let h = harness().await;
    let call = h.scrape("cursor").await;
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
    assert_eq!((call.pages, call.records), (Some(3), Some(7)));
    // Page 1's document, its records replaced by all seven in order.
    assert_eq!(
        h.payload(&call),
        json!({ "data": items(1, 7), "meta": { "next_cursor": "3", "per_page": 3 } })
    );
    assert_eq!(h.attempt_pages(&call).await, success(&[1, 2, 3]));
    let queries = h.queries(pages::CURSOR);
    assert_eq!(queries.len(), 3);
    assert!(!queries[0].contains("cursor="), "{}", queries[0]);
    assert!(queries[1].ends_with("cursor=3"), "{}", queries[1]);
    assert!(queries[2].ends_with("cursor=6"), "{}", queries[2]);
    // Every page carries the source's credentials.
    assert!(queries.iter().all(|q| q.contains(&format!("key={KEY}"))));
    assert_eq!(h.raw_files(), 1, "one payload for the whole call");
}

#[tokio::test]
async fn relative_and_absolute_next_urls_are_followed_with_the_credentials() {
    let h = harness().await;
    for scraper in ["next_url", "next_absolute"] {
        let call = h.scrape(scraper).await;
        assert_eq!(call.status, ScraperStatus::Success, "{scraper}: {call:?}");
        assert_eq!((call.pages, call.records), (Some(3), Some(7)), "{scraper}");
        let payload = h.payload(&call);
        assert_eq!(payload["results"], json!(items(1, 7)), "{scraper}");
        assert!(
            payload["next"].as_str().unwrap().contains("page=2"),
            "page 1's frame"
        );
    }
    let queries = h.queries(pages::NEXT_URL);
    assert_eq!(queries.len(), 6);
    // The upstream's next URLs do not repeat the key; it is added back
    // since they point to the source's own host.
    assert!(
        queries.iter().all(|q| q.contains(&format!("key={KEY}"))),
        "{queries:?}"
    );
}

#[tokio::test]
async fn link_headers_are_followed_and_a_top_level_array_is_joined() {
    let h = harness().await;
    let call = h.scrape("link").await;
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
    assert_eq!((call.pages, call.records), (Some(3), Some(7)));
    assert_eq!(h.payload(&call), json!(items(1, 7)));
    assert_eq!(h.attempt_pages(&call).await, success(&[1, 2, 3]));
}

#[tokio::test]
async fn page_walks_stop_at_the_total_or_on_an_empty_page() {
    let h = harness().await;
    let with_total = h.scrape("page").await;
    assert_eq!(with_total.status, ScraperStatus::Success);
    assert_eq!((with_total.pages, with_total.records), (Some(3), Some(7)));
    assert_eq!(h.payload(&with_total)["results"], json!(items(1, 7)));
    assert_eq!(h.payload(&with_total)["page"], json!(1), "page 1's frame");

    let until_empty = h.scrape("page_until_empty").await;
    assert_eq!(until_empty.status, ScraperStatus::Success);
    assert_eq!(
        (until_empty.pages, until_empty.records),
        (Some(4), Some(7)),
        "without a total, the empty page 4 ends the walk"
    );
    let queries = h.queries(pages::PAGE);
    let numbers: Vec<&str> = queries
        .iter()
        .map(|q| q.rsplit("page=").next().unwrap())
        .collect();
    assert_eq!(numbers, ["1", "2", "3", "1", "2", "3", "4"]);
}

#[tokio::test]
async fn offset_walks_send_offset_and_limit_on_every_page() {
    let h = harness().await;
    let call = h.scrape("offset").await;
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
    assert_eq!((call.pages, call.records), (Some(4), Some(7)));
    assert_eq!(
        h.payload(&call),
        json!({ "items": items(1, 7), "count": 7 })
    );
    let queries = h.queries(pages::OFFSET);
    for (query, offset) in queries.iter().zip(["0", "3", "6", "9"]) {
        assert!(query.contains(&format!("offset={offset}")), "{query}");
        assert!(query.contains("limit=3"), "{query}");
    }
}

#[tokio::test]
async fn a_page_that_keeps_failing_fails_the_call_naming_it_and_stores_nothing() {
    let h = harness().await;
    let call = h.scrape("failing_page").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Server));
    let message = call.message.clone().unwrap();
    assert!(
        message.starts_with("page 3: HTTP 503 after 3 attempts: "),
        "{message}"
    );
    assert_eq!(call.pages, Some(3));
    assert_eq!(call.attempts, 5, "pages 1 and 2 once, page 3 three times");
    assert_eq!(
        h.attempt_pages(&call).await,
        vec![
            (1, "success".to_string()),
            (2, "success".to_string()),
            (3, "retryable".to_string()),
            (3, "retryable".to_string()),
            (3, "retryable".to_string()),
        ]
    );
    assert!(call.output_uri.is_none());
    assert_eq!(h.raw_files(), 0, "nothing partial is stored");
    let rows = h.store.recent_standalone_calls(1).await.unwrap();
    assert_eq!(rows[0].status, "failed");
    assert_eq!((rows[0].pages, rows[0].record_count), (Some(3), None));
}

#[tokio::test]
async fn each_page_is_retried_on_its_own() {
    let h = harness().await;
    // Page 1 as the route serves it, then one 503 for page 2; the route's
    // own answers resume for page 2's retry and page 3.
    h.sim.script(
        pages::CURSOR,
        vec![
            Reply::json(
                200,
                json!({ "data": items(1, 3), "meta": { "next_cursor": "3", "per_page": 3 } }),
            ),
            Reply::text(503, "busy"),
        ],
    );
    let call = h.scrape("cursor").await;
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
    assert_eq!((call.pages, call.records), (Some(3), Some(7)));
    assert_eq!(
        h.attempt_pages(&call).await,
        vec![
            (1, "success".to_string()),
            (2, "retryable".to_string()),
            (2, "success".to_string()),
            (3, "success".to_string()),
        ]
    );
    let attempts = h.store.attempts_for_call(call.id).await.unwrap();
    let numbers: Vec<i64> = attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [1, 2, 3, 4], "attempts numbered over the call");
    assert_eq!(
        attempts[2].delay_before_ms, 1000,
        "page 2's retry waited its backoff"
    );
    assert_eq!(
        attempts[3].delay_before_ms, 0,
        "page 3 starts without a wait"
    );
}

#[tokio::test]
async fn a_later_page_with_another_records_shape_fails_clearly() {
    let h = harness().await;
    let call = h.scrape("changed_shape").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Decode));
    assert_eq!(
        call.message.as_deref(),
        Some(
            "page 2: expected an array of records at /data, as on page 1, found an object (1 attempt)"
        )
    );
    assert_eq!(h.raw_files(), 0);
}

#[tokio::test]
async fn a_looping_cursor_fails_with_kind_pagination() {
    let h = harness().await;
    let call = h.scrape("looping").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Pagination));
    assert_eq!(
        call.message.as_deref(),
        Some("page 3: the next cursor \"a\" was already followed: the pages loop; nothing stored")
    );
    assert_eq!(call.pages, Some(3));
    assert_eq!(
        h.queries(pages::CURSOR_LOOP).len(),
        3,
        "a, b, then a again is not sent"
    );
    assert_eq!(h.raw_files(), 0);
    // Not retried, and not a fault of the source: the breaker stays closed.
    assert_eq!(call.attempts, 3);
    let breakers = h.store.breaker_state("up").await.unwrap();
    assert!(
        breakers
            .as_ref()
            .is_none_or(|b| b.state.phase == rebound_domain::breaker::Phase::Closed),
        "{breakers:?}"
    );
}

#[tokio::test]
async fn reaching_max_pages_with_more_to_come_fails_with_kind_pagination() {
    let h = harness().await;
    let call = h.scrape("capped").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Pagination));
    let message = call.message.clone().unwrap();
    assert!(
        message.starts_with(
            "page 2: max_pages (2) reached and page 2 still points to a next page; nothing stored"
        ),
        "{message}"
    );
    assert_eq!(
        h.queries(pages::CURSOR).len(),
        2,
        "page 3 is never asked for"
    );
    assert_eq!(h.raw_files(), 0);
}

/// Before: each page was held to max_body_bytes but their join was not; a
/// walk of 5 MB pages stored 60 MB and held a gigabyte.
#[tokio::test]
async fn pages_that_together_pass_max_body_bytes_fail_the_call() {
    let h = harness().await;
    let call = h.scrape("joined_too_large").await;
    assert_eq!(call.status, ScraperStatus::Failed, "{call:?}");
    assert_eq!(call.error_kind, Some(ErrorKind::BodyTooLarge));
    let message = call.message.clone().unwrap();
    assert!(
        message.starts_with("page 3: the pages so far hold ")
            && message.contains("bytes, more than max_body_bytes 300"),
        "{message}"
    );
    assert_eq!(h.raw_files(), 0);
}

#[tokio::test]
async fn a_next_url_on_another_host_is_refused_and_nothing_is_sent_there() {
    let h = harness().await;
    let call = h.scrape("elsewhere").await;
    assert_eq!(call.status, ScraperStatus::Failed);
    assert_eq!(call.error_kind, Some(ErrorKind::Pagination));
    let message = call.message.clone().unwrap();
    assert!(
        message.starts_with(&format!(
            "page 1: the next page is on another host ({}), not followed",
            h.other.base_url()
        )),
        "{message}"
    );
    assert!(!message.contains(KEY));
    assert!(
        h.other.requests().is_empty(),
        "no request reached the other host"
    );
    assert_eq!(h.raw_files(), 0);
}

/// Before: page 1's URL was held to the length an HTTP request can carry
/// (65,534), a next page's was not: a cursor or next link that long failed
/// each attempt with hyper's "Parsed Url is not a valid Uri".
#[tokio::test]
async fn a_next_page_url_too_long_to_send_fails_the_walk_before_sending_it() {
    let h = harness().await;
    let long = "x".repeat(70_000);
    h.sim.script(
        "/t/long_cursor",
        vec![Reply::json(
            200,
            json!({"data": [1, 2], "meta": {"next_cursor": long}}),
        )],
    );
    h.sim.script(
        "/t/long_next",
        vec![Reply::json(
            200,
            json!({"results": [1], "next": format!("/t/long_next?after={long}")}),
        )],
    );
    for scraper in ["long_cursor", "long_next"] {
        let call = h.scrape(scraper).await;
        assert_eq!(call.status, ScraperStatus::Failed, "{scraper}: {call:?}");
        assert_eq!(call.error_kind, Some(ErrorKind::Pagination), "{scraper}");
        let message = call.message.clone().unwrap();
        assert!(
            message.starts_with("page 1: the next page's URL would be 70")
                && message.contains(
                    "characters long, over the 65534 an HTTP request can carry (the \
                     upstream's next link or cursor is that long); nothing stored"
                ),
            "{scraper}: {message}"
        );
        assert!(!message.contains("not a valid Uri"), "{message}");
        assert!(!message.contains(KEY), "{message}");
        assert_eq!(
            h.sim.request_count(&format!("/t/{scraper}")),
            1,
            "{scraper}"
        );
    }
    assert_eq!(h.raw_files(), 0);
}

#[tokio::test]
async fn record_count_is_filled_for_every_call_and_readable_in_sql() {
    let h = harness().await;
    let paged = h.scrape("page").await;
    let single = h.scrape("single_page").await;
    let empty = h.scrape("empty_single").await;
    let no_pointer = h.scrape("no_pointer").await;
    assert_eq!(single.status, ScraperStatus::Success);
    assert_eq!(empty.status, ScraperStatus::NoData);
    assert_eq!(no_pointer.status, ScraperStatus::Success);
    let db = format!("sqlite://{}", h.dir.path().join("history.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let rows: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT scraper_name, pages, record_count FROM scraper_execution_log ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("page".to_string(), Some(3), Some(7)),
            ("single_page".to_string(), None, Some(3)),
            ("empty_single".to_string(), None, Some(0)),
            ("no_pointer".to_string(), None, None),
        ]
    );
    let pages: Vec<i64> = sqlx::query_scalar(
        "SELECT page FROM scraper_attempts WHERE scraper_execution_id = ?1 ORDER BY attempt",
    )
    .bind(paged.id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(pages, [1, 2, 3]);
    let _ = (single, no_pointer);
}

/// Real timing, briefly: a 300 ms answer is too slow for the scraper's own
/// 100 ms timeout, though well within its source's 2 s.
#[tokio::test]
async fn a_scrapers_timeout_overrides_its_sources() {
    let h = harness_on(Arc::new(rebound_clock::SystemClock)).await;
    let slow = || vec![Reply::text(200, "late").delay(Duration::from_millis(300))];
    h.sim.script("/slow", slow());
    let quick = h.scrape("quick").await;
    assert_eq!(quick.status, ScraperStatus::Failed);
    assert_eq!(quick.error_kind, Some(ErrorKind::Timeout));
    assert_eq!(
        quick.message.as_deref(),
        Some("timeout after 100ms (1 attempt)")
    );
    h.sim.clear_script("/slow");
    h.sim.script("/slow", slow());
    let patient = h.scrape("patient").await;
    assert_eq!(patient.status, ScraperStatus::Success, "{patient:?}");
}

#[tokio::test]
async fn every_page_waits_for_the_rate_limit_and_counts_against_the_quota() {
    let start = Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let h = harness_on(clock.clone()).await;
    let call = h.scrape("limited_cursor").await;
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
    assert_eq!(call.pages, Some(3));
    // One request a second: pages 2 and 3 each waited for their slot.
    let attempts = h.store.attempts_for_call(call.id).await.unwrap();
    let waits: Vec<i64> = attempts.iter().map(|a| a.delay_before_ms).collect();
    assert_eq!(waits, [0, 1000, 1000]);
    assert_eq!(clock.now() - start, chrono::TimeDelta::seconds(2));
    let month = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let usage = h
        .store
        .quota_usage("limited", month)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(usage.requests, 3, "each page is a request of the quota");
}

#[tokio::test]
async fn a_quota_used_up_during_the_walk_stops_it_at_the_next_page() {
    let h = harness().await;
    // Three pages, a quota of two requests: the walk stops before page 3
    // instead of paying for it and settling the overrun afterwards.
    let call = h.scrape("tight_cursor").await;
    assert_eq!(call.status, ScraperStatus::Failed, "{call:?}");
    assert_eq!(call.error_kind, Some(ErrorKind::QuotaExhausted));
    let message = call.message.clone().unwrap_or_default();
    assert!(message.starts_with("page 3: not requested: "), "{message}");
    assert!(message.ends_with("nothing stored"), "{message}");
    assert_eq!(call.pages, Some(2), "pages fetched");
    assert_eq!(h.queries(pages::CURSOR).len(), 2, "page 3 was never sent");
    assert_eq!(call.output_uri, None);
    let month = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let usage = h.store.quota_usage("tight", month).await.unwrap().unwrap();
    assert_eq!(
        usage.requests, 2,
        "each page counted once, not again at settlement"
    );
}

#[tokio::test]
async fn a_breaker_opened_during_the_walk_stops_it_at_the_next_page() {
    use rebound_domain::breaker::Phase;
    let h = harness().await;
    // Page 1 answers slowly (real time, briefly); while it is in flight
    // other calls open the source's breaker (here: the store directly).
    h.sim.script(
        pages::CURSOR,
        vec![
            Reply::json(
                200,
                json!({ "data": [{ "id": 1 }], "meta": { "next_cursor": "c2" } }),
            )
            .delay(Duration::from_millis(400)),
        ],
    );
    let store = h.store.clone();
    let opener = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap();
        let mut open = |state: &mut rebound_domain::breaker::BreakerState| {
            state.phase = Phase::Open;
            state.opened_at = Some(now);
            state.open_until = Some(now + chrono::TimeDelta::hours(1));
            state.open_reason = Some("5 consecutive failures".to_string());
            Vec::new()
        };
        store.update_breaker("up", now, &mut open).await.unwrap();
    });
    let call = h.scrape("cursor").await;
    opener.await.unwrap();
    assert_eq!(call.status, ScraperStatus::Failed, "{call:?}");
    assert_eq!(call.error_kind, Some(ErrorKind::BreakerOpen));
    let message = call.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("page 2: not requested: the circuit breaker of up opened")
            && message.contains("(5 consecutive failures)"),
        "{message}"
    );
    assert_eq!(call.pages, Some(1));
    assert_eq!(h.queries(pages::CURSOR).len(), 1, "page 2 was never sent");
    assert_eq!(h.raw_files(), 0, "nothing stored");
}
