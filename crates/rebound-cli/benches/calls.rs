//! Throughput benchmark: 10,000 scraper calls at concurrency 64 against the
//! in-process simulated upstream, Rebound (fetch → classify → raw store →
//! SQLite history) side by side with a bare reqwest loop, in one run.
//!
//! Run: `cargo bench -p rebound-cli --bench calls` (optionally
//! `-- --calls 10000 --rounds 5`). Prints per-round figures, medians, the
//! ratio, and peak RSS. Not a test: nothing here asserts a speed.

use futures::StreamExt;
use rebound_domain::clock::Clock;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_fetch::clock::SystemClock;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::UpstreamSim;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

const CONCURRENCY: usize = 64;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn bare_loop(base_url: &str, calls: usize) -> f64 {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let ok = futures::stream::iter(0..calls)
        .map(|i| {
            let client = client.clone();
            let url = format!("{base_url}/bench/item?i={i}");
            async move {
                let response = client.get(url).send().await.ok()?;
                response.bytes().await.ok().map(|_| ())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|r| std::future::ready(r.is_some()))
        .count()
        .await;
    assert_eq!(ok, calls, "bare loop calls failed");
    calls as f64 / started.elapsed().as_secs_f64()
}

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "bench"
timezone = "UTC"
database = "sqlite://bench.db"
raw_store = "file://raw"

[sources.sim]
base_url = "{base_url}"
timeout = "10s"
max_concurrency = {CONCURRENCY}

[scrapers.item]
source = "sim"
path = "/bench/item"
query = {{ i = "{{i}}" }}
records = "/data"
"#
    )
}

/// `dir` outlives the round: deleting 10,000 files between rounds would
/// make the next round's file creation pay for ext4's recently-deleted
/// inode checks, which production never sees.
async fn rebound_round(base_url: &str, calls: usize, dir: &tempfile::TempDir) -> f64 {
    let path = dir.path().join("rebound.toml");
    let plan = rebound_config::load_str(&config(base_url), &path, &|_| None).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"))
            .await
            .unwrap(),
    );
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Arc::new(Engine::new(
        Arc::new(plan),
        store.clone(),
        raw,
        fetcher,
        clock,
    ));
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let started = Instant::now();
    let ok = futures::stream::iter(0..calls)
        .map(|i| {
            let engine = engine.clone();
            async move {
                let params: BTreeMap<String, String> = [("i".to_string(), i.to_string())].into();
                engine
                    .run_scraper("item", date, &params)
                    .await
                    .ok()
                    .filter(|r| !r.status.is_failure())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|r| std::future::ready(r.is_some()))
        .count()
        .await;
    let rate = calls as f64 / started.elapsed().as_secs_f64();
    assert_eq!(ok, calls, "rebound calls failed");
    let recorded = store.recent_standalone_calls(u32::MAX).await.unwrap().len();
    assert_eq!(recorded, calls, "every call is recorded");
    rate
}

/// Rebound's fetch path alone (templates, permits, timeout, classification,
/// retries), without payload storage or history: shows where time goes.
async fn fetch_only_round(base_url: &str, calls: usize) -> f64 {
    let plan =
        rebound_config::load_str(&config(base_url), std::path::Path::new("b.toml"), &|_| None)
            .unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, Arc::new(SystemClock)).unwrap());
    let plan = Arc::new(plan);
    let started = Instant::now();
    let ok = futures::stream::iter(0..calls)
        .map(|i| {
            let (plan, fetcher) = (plan.clone(), fetcher.clone());
            async move {
                let params: BTreeMap<String, String> = [("i".to_string(), i.to_string())].into();
                let spec = rebound_fetch::CallSpec {
                    source: &plan.sources["sim"],
                    scraper: &plan.scrapers["item"],
                    params: &params,
                };
                (!fetcher.call(spec).await.status.is_failure()).then_some(())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|r| std::future::ready(r.is_some()))
        .count()
        .await;
    assert_eq!(ok, calls, "fetch-only calls failed");
    calls as f64 / started.elapsed().as_secs_f64()
}

/// Each recording step alone at the same concurrency, to show where a
/// recorded call's time goes: (lookup of the previous payload, raw write,
/// history insert) per second, and the raw write through `object_store`'s
/// local put for comparison.
async fn phases(calls: usize) -> (f64, f64, f64, f64) {
    use rebound_storage::{NewAttempt, NewScraperCall};
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("p.db")).await.unwrap());
    let raw = Arc::new(
        RawStore::open(&rebound_domain::plan::RawStoreLocation::File {
            path: dir.path().join("raw"),
        })
        .unwrap(),
    );
    let now = chrono::Utc::now();
    let call = |i: usize| NewScraperCall {
        execution_id: None,
        workflow_name: None,
        scraper_name: "item".into(),
        source_name: "sim".into(),
        params: format!("{{\"i\":\"{i}\"}}"),
        target_date: now.date_naive(),
        status: rebound_domain::outcome::ScraperStatus::Success,
        attempts: 1,
        http_status: Some(200),
        error_kind: None,
        error_message: None,
        started_at: now,
        finished_at: now,
        duration_ms: 1,
        bytes: Some(40),
        output_uri: Some(format!("file:///x/{i}.json")),
        content_hash: Some(format!("{i:064}")),
        unchanged: false,
        attempt_rows: vec![NewAttempt {
            attempt: 1,
            started_at: now,
            finished_at: now,
            http_status: Some(200),
            outcome: rebound_domain::outcome::AttemptOutcome::Success,
            error_kind: None,
            error_message: None,
            delay_before_ms: 0,
        }],
    };
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|i| {
            let store = store.clone();
            let c = call(i);
            async move { store.record_scraper_call(&c).await.unwrap() }
        })
        .buffer_unordered(CONCURRENCY)
        .count()
        .await;
    let insert = calls as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|i| {
            let store = store.clone();
            async move {
                store
                    .last_payload("item", &format!("{{\"i\":\"{i}\"}}"))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .count()
        .await;
    let lookup = calls as f64 / started.elapsed().as_secs_f64();
    // The same writes through object_store's own local put (one blocking
    // thread per write), for comparison with RawStore's local writer;
    // measured first, so that a slow start of the disk would count against
    // object_store, not RawStore.
    let folder = dir.path().join("raw-object-store");
    std::fs::create_dir_all(&folder).unwrap();
    let object_store = Arc::new(RawStore::from_object_store(
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&folder).unwrap()),
        "",
        "file:///",
    ));
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|i| {
            let raw = object_store.clone();
            async move {
                raw.put(
                    &format!("d/2026-11-28/item/i={i}__x.json"),
                    bytes::Bytes::from_static(b"{\"data\":[1]}"),
                )
                .await
                .unwrap()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .count()
        .await;
    let write_object_store = calls as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|i| {
            let raw = raw.clone();
            async move {
                raw.put(
                    &format!("d/2026-11-28/item/i={i}__x.json"),
                    bytes::Bytes::from_static(b"{\"data\":[1]}"),
                )
                .await
                .unwrap()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .count()
        .await;
    let write = calls as f64 / started.elapsed().as_secs_f64();
    (lookup, write, write_object_store, insert)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn main() {
    let calls = arg("--calls", 10_000);
    let rounds = arg("--rounds", 5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sim = UpstreamSim::start().await.unwrap();
        sim.set_recording(false);
        let base = sim.base_url();
        // Warm up connections and caches for both sides.
        bare_loop(&base, 1000).await;
        let mut dirs = vec![tempfile::tempdir().unwrap()];
        rebound_round(&base, 1000, &dirs[0]).await;
        let mut bare = Vec::new();
        let mut fetch_only = Vec::new();
        let mut rebound = Vec::new();
        // Alternate so that machine noise hits both sides alike.
        for round in 1..=rounds {
            let b = bare_loop(&base, calls).await;
            let f = fetch_only_round(&base, calls).await;
            dirs.push(tempfile::tempdir().unwrap());
            let r = rebound_round(&base, calls, dirs.last().unwrap()).await;
            println!(
                "round {round}: bare reqwest {b:>7.0}/s   rebound fetch only {f:>7.0}/s   rebound recorded {r:>7.0}/s   ratio {:.2}",
                r / b
            );
            bare.push(b);
            fetch_only.push(f);
            rebound.push(r);
        }
        let (mb, mr) = (median(&mut bare), median(&mut rebound));
        let mf = median(&mut fetch_only);
        println!("calls per round: {calls}, concurrency: {CONCURRENCY}, rounds: {rounds}");
        println!("median bare reqwest: {mb:.0} calls/s");
        println!("median rebound fetch only: {mf:.0} calls/s (no payload storage, no history)");
        println!("median rebound:      {mr:.0} calls/s (recorded in SQLite, payloads in a local folder)");
        println!("ratio rebound/bare:  {:.2} (target >= 0.5)", mr / mb);
        println!("peak RSS of the whole process: {:.1} MiB", peak_rss_mib());
        let (lookup, write, write_object_store, insert) = phases(calls).await;
        println!(
            "recording steps alone, {calls} at concurrency {CONCURRENCY}: previous-payload lookup {lookup:.0}/s, raw write {write:.0}/s (object_store's local put: {write_object_store:.0}/s), history insert {insert:.0}/s"
        );
        sim.shutdown().await;
        drop(dirs);
    });
}
