//! Throughput benchmark: 10,000 scraper calls at concurrency 64 against the
//! in-process simulated upstream, Rebound (fetch → classify → raw store →
//! SQLite history) side by side with a bare reqwest loop, in one run.
//!
//! Run: `cargo bench -p rebound-cli --bench calls` (optionally
//! `-- --calls 10000 --rounds 5`). Prints per-round figures, medians, the
//! ratio, CPU time per call, the floors of the recording steps and peak
//! RSS. `-- --only-recorded` runs only Rebound's recorded rounds, for a
//! profiler. `-- --handoff` is the hand-off variant (issue 14, needs NATS
//! JetStream at nats://127.0.0.1:4222): recorded rounds with a NATS sink
//! and the publisher running (as in `rebound serve`) alternate with rounds
//! without, then calls paced at `--rate` (default 1,000/s) give the latency
//! from a call's end to JetStream's acknowledgement of its event
//! (`--poll-ms`, default the publisher's 1,000, is how often it looks).
//! Not a test: nothing here asserts a speed.

use futures::StreamExt;
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
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

/// CPU time used so far by the whole process (every thread, user and
/// kernel), in seconds, from `/proc/self/stat`. Its ticks are USER_HZ,
/// which Linux fixes at 100 for user space on every architecture we run.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces;
    // `rest` starts at field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime.
    (field(14) + field(15)) / 100.0
}

/// One timed round: calls per second, and CPU time of the whole process
/// per call (µs). The CPU figure is what decides throughput on a machine
/// whose cores are all busy, whatever else the machine does meanwhile.
#[derive(Clone, Copy)]
struct Round {
    rate: f64,
    cpu_us: f64,
}

/// Times `calls` calls that start now.
struct Timer {
    started: Instant,
    cpu: f64,
}

impl Timer {
    fn start() -> Timer {
        Timer {
            started: Instant::now(),
            cpu: process_cpu_seconds(),
        }
    }

    fn stop(self, calls: usize) -> Round {
        Round {
            rate: calls as f64 / self.started.elapsed().as_secs_f64(),
            cpu_us: (process_cpu_seconds() - self.cpu) / calls as f64 * 1e6,
        }
    }
}

#[allow(clippy::disallowed_methods)] // a test client, not Rebound's outbound edge
async fn bare_loop(base_url: &str, calls: usize) -> Round {
    let client = reqwest::Client::new();
    let timer = Timer::start();
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
    let round = timer.stop(calls);
    assert_eq!(ok, calls, "bare loop calls failed");
    round
}

fn config(base_url: &str) -> String {
    config_with(base_url, "")
}

fn config_with(base_url: &str, extra: &str) -> String {
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
{extra}"#
    )
}

/// `dir` outlives the round: deleting 10,000 files between rounds would
/// make the next round's file creation pay for ext4's recently-deleted
/// inode checks, which production never sees.
async fn rebound_round(base_url: &str, calls: usize, dir: &tempfile::TempDir) -> Round {
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
    let timer = Timer::start();
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
    let round = timer.stop(calls);
    assert_eq!(ok, calls, "rebound calls failed");
    let recorded = store.recent_standalone_calls(u32::MAX).await.unwrap().len();
    assert_eq!(recorded, calls, "every call is recorded");
    round
}

/// Rebound's fetch path alone (templates, permits, timeout, classification,
/// retries), without payload storage or history: shows where time goes.
async fn fetch_only_round(base_url: &str, calls: usize) -> Round {
    let plan =
        rebound_config::load_str(&config(base_url), std::path::Path::new("b.toml"), &|_| None)
            .unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, Arc::new(SystemClock)).unwrap());
    let plan = Arc::new(plan);
    let timer = Timer::start();
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
    let round = timer.stop(calls);
    assert_eq!(ok, calls, "fetch-only calls failed");
    round
}

/// Each recording step alone at the same concurrency, to show where a
/// recorded call's time goes: lookup of the previous payload, raw write,
/// raw write through `object_store`'s local put for comparison, history
/// insert.
#[allow(clippy::disallowed_methods)] // a benchmark seeds data at the real time
async fn phases(calls: usize) -> (Round, Round, Round, Round) {
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
        etag: None,
        last_modified: None,
        outputs: Vec::new(),
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
        pages: None,
        record_count: None,
        attempt_rows: vec![NewAttempt {
            attempt: 1,
            page: 1,
            proxy: None,
            started_at: now,
            finished_at: now,
            http_status: Some(200),
            outcome: rebound_domain::outcome::AttemptOutcome::Success,
            error_kind: None,
            error_message: None,
            delay_before_ms: 0,
        }],
    };
    let timer = Timer::start();
    futures::stream::iter(0..calls)
        .map(|i| {
            let store = store.clone();
            let c = call(i);
            async move { store.record_scraper_call(&c).await.unwrap() }
        })
        .buffer_unordered(CONCURRENCY)
        .count()
        .await;
    let insert = timer.stop(calls);
    let timer = Timer::start();
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
    let lookup = timer.stop(calls);
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
    let timer = Timer::start();
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
    let write_object_store = timer.stop(calls);
    let timer = Timer::start();
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
    let write = timer.stop(calls);
    (lookup, write, write_object_store, insert)
}

/// The least CPU a payload file costs here: one thread creating `files`
/// files as the raw store does (a new temp file, the body, a rename to the
/// final name in the same folder), with nothing else going on: no queue,
/// no other thread, no hashing. µs of process CPU per file.
fn file_floor(files: usize) -> f64 {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("d/2026-11-28/item");
    std::fs::create_dir_all(&folder).unwrap();
    let body = br#"{"data":[{"i":1234,"name":"bench","ok":true}]}"#;
    let cpu = process_cpu_seconds();
    for i in 0..files {
        let name = format!("i={i}__20261128T000000.000Z_0123abcd.json");
        let temp = folder.join(format!("{name}#1"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .unwrap();
        file.write_all(body).unwrap();
        drop(file);
        std::fs::rename(&temp, folder.join(name)).unwrap();
    }
    (process_cpu_seconds() - cpu) / files as f64 * 1e6
}

/// The least CPU the history rows of a call cost here: the call row and
/// its attempt row, inserted 64 calls per transaction (the engine's
/// concurrency, so the best batch the writer can get) on one connection to
/// a database with every migration applied, so every index is kept up.
/// µs of process CPU per call.
async fn history_floor(calls: usize) -> f64 {
    use sqlx::{Connection as _, QueryBuilder, Sqlite};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("floor.db");
    // Opening the store applies the migrations; its own connections close
    // with it.
    drop(SqliteStore::open(&path).await.unwrap());
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let at = "2026-11-28T00:00:00.000Z";
    let ids: Vec<i64> = (1..=calls as i64).collect();
    let cpu = process_cpu_seconds();
    for batch in ids.chunks(CONCURRENCY) {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
        let mut rows: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO scraper_execution_log (id, scraper_name, source_name, params, \
             target_date, status, attempts, http_status, started_at, finished_at, \
             duration_ms, bytes, output_uri, content_hash, unchanged) ",
        );
        rows.push_values(batch, |mut row, id| {
            row.push_bind(id)
                .push_bind("item")
                .push_bind("sim")
                .push_bind(format!("{{\"i\":\"{id}\"}}"))
                .push_bind("2026-11-28")
                .push_bind("success")
                .push_bind(1)
                .push_bind(200)
                .push_bind(at)
                .push_bind(at)
                .push_bind(3)
                .push_bind(47)
                .push_bind(format!(
                    "file:///srv/raw/d/2026-11-28/item/i={id}__20261128T000000.000Z_0123abcd.json"
                ))
                .push_bind(format!("{id:064x}"))
                .push_bind(0);
        });
        rows.build().execute(&mut *tx).await.unwrap();
        let mut attempts: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO scraper_attempts (scraper_execution_id, attempt, started_at, \
             finished_at, http_status, outcome, delay_before_ms) ",
        );
        attempts.push_values(batch, |mut row, id| {
            row.push_bind(id)
                .push_bind(1)
                .push_bind(at)
                .push_bind(at)
                .push_bind(200)
                .push_bind("success")
                .push_bind(0);
        });
        attempts.build().execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    (process_cpu_seconds() - cpu) / calls as f64 * 1e6
}

/// One recorded round with the hand-off on: the same calls as
/// [`rebound_round`], with a NATS sink and the publisher running beside
/// them, as in `rebound serve`. The rate counts until the last call is
/// recorded; the publisher then finishes what is pending (not timed), and
/// the events' end-to-ack latencies (ms) are returned. `rate`: calls
/// started per second, or as fast as the concurrency allows.
async fn handoff_round(
    base_url: &str,
    calls: usize,
    dir: &tempfile::TempDir,
    stream: &rebound_testkit::nats::TestStream,
    poll: std::time::Duration,
    rate: Option<f64>,
) -> (Round, Vec<f64>) {
    let path = dir.path().join("rebound.toml");
    let text = config_with(base_url, &stream.sink_toml("bus", "NATS_URL"));
    let nats_url =
        |name: &str| (name == "NATS_URL").then(|| rebound_testkit::nats::NATS_URL.to_string());
    let plan = rebound_config::load_str(&text, &path, &nats_url).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"))
            .await
            .unwrap(),
    );
    let publisher =
        Arc::new(rebound_service::handoff::publisher(store.clone(), &plan, clock.clone()).unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let publishing = tokio::spawn(publisher.run_loop(poll, stopped));
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
    let timer = Timer::start();
    let started = tokio::time::Instant::now();
    let ok = futures::stream::iter(0..calls)
        .map(|i| {
            let engine = engine.clone();
            async move {
                if let Some(rate) = rate {
                    let at = started + std::time::Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(at).await;
                }
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
    let round = timer.stop(calls);
    assert_eq!(ok, calls, "rebound calls failed");
    // Let the publisher finish (not timed), then read the latencies.
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    while !store
        .completion_events(Some("pending"), 1)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "events still pending after 2 minutes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    publishing.await.unwrap();
    let events = store.completion_events(None, u32::MAX).await.unwrap();
    assert_eq!(events.len(), calls, "one event per call");
    let latencies = events
        .iter()
        .filter_map(|e| {
            e.last_delivery_at
                .map(|at| (at - e.created_at).num_microseconds())
        })
        .flatten()
        .map(|us| us as f64 / 1000.0)
        .collect();
    (round, latencies)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[i.min(values.len() - 1)]
}

/// `-- --handoff`: hand-off off vs on in the same run, then the latency
/// at a paced rate.
async fn handoff_bench(calls: usize, rounds: usize) {
    let sim = UpstreamSim::start().await.unwrap();
    sim.set_recording(false);
    let base = sim.base_url();
    let stream = rebound_testkit::nats::TestStream::new().await;
    let poll = std::time::Duration::from_millis(arg("--poll-ms", 1000) as u64);
    let rate = arg("--rate", 1000) as f64;
    let latency_calls = arg("--latency-calls", 5000);
    let mut dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // Warm up both sides.
    rebound_round(&base, 1000, &dirs[0]).await;
    handoff_round(&base, 1000, &dirs[1], &stream, poll, None).await;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        dirs.push(tempfile::tempdir().unwrap());
        let a = rebound_round(&base, calls, dirs.last().unwrap()).await;
        dirs.push(tempfile::tempdir().unwrap());
        let (b, _) = handoff_round(&base, calls, dirs.last().unwrap(), &stream, poll, None).await;
        println!(
            "round {round}: hand-off off {:>7.0}/s ({:.0} µs CPU/call)   on (NATS sink, publisher running) {:>7.0}/s ({:.0} µs)   ratio {:.2}",
            a.rate,
            a.cpu_us,
            b.rate,
            b.cpu_us,
            b.rate / a.rate
        );
        off.push(a);
        on.push(b);
    }
    let (moff, mon) = (median_of(&off, |r| r.rate), median_of(&on, |r| r.rate));
    println!("calls per round: {calls}, concurrency: {CONCURRENCY}, rounds: {rounds}");
    println!(
        "median hand-off off: {moff:.0} calls/s, {:.0} µs CPU per call",
        median_of(&off, |r| r.cpu_us)
    );
    println!(
        "median hand-off on:  {mon:.0} calls/s, {:.0} µs CPU per call (CPU includes publishing)",
        median_of(&on, |r| r.cpu_us)
    );
    println!("ratio on/off: {:.2} (target >= 0.8)", mon / moff);
    dirs.push(tempfile::tempdir().unwrap());
    let (paced, mut latencies) = handoff_round(
        &base,
        latency_calls,
        dirs.last().unwrap(),
        &stream,
        poll,
        Some(rate),
    )
    .await;
    println!(
        "paced at {rate:.0} calls/s ({latency_calls} calls, achieved {:.0}/s, publisher poll {} ms): call end -> JetStream ack p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        paced.rate,
        poll.as_millis(),
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        percentile(&mut latencies, 1.0)
    );
    stream.delete().await;
    sim.shutdown().await;
    drop(dirs);
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn median_of(rounds: &[Round], value: impl Fn(&Round) -> f64) -> f64 {
    median(&mut rounds.iter().map(value).collect::<Vec<_>>())
}

fn main() {
    let calls = arg("--calls", 10_000);
    let rounds = arg("--rounds", 5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if std::env::args().any(|a| a == "--handoff") {
        runtime.block_on(handoff_bench(calls, rounds));
        return;
    }
    if std::env::args().any(|a| a == "--only-recorded") {
        runtime.block_on(async {
            let sim = UpstreamSim::start().await.unwrap();
            sim.set_recording(false);
            let base = sim.base_url();
            let mut dirs = Vec::new();
            for round in 1..=rounds {
                dirs.push(tempfile::tempdir().unwrap());
                let r = rebound_round(&base, calls, dirs.last().unwrap()).await;
                println!(
                    "round {round}: rebound recorded {:>7.0}/s, {:.0} µs CPU per call",
                    r.rate, r.cpu_us
                );
            }
            sim.shutdown().await;
        });
        return;
    }
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
                "round {round}: bare reqwest {:>7.0}/s ({:.0} µs CPU/call)   rebound fetch only {:>7.0}/s ({:.0} µs)   rebound recorded {:>7.0}/s ({:.0} µs)   ratio {:.2}",
                b.rate,
                b.cpu_us,
                f.rate,
                f.cpu_us,
                r.rate,
                r.cpu_us,
                r.rate / b.rate
            );
            bare.push(b);
            fetch_only.push(f);
            rebound.push(r);
        }
        let (mb, mr) = (median_of(&bare, |r| r.rate), median_of(&rebound, |r| r.rate));
        let mf = median_of(&fetch_only, |r| r.rate);
        let (cb, cf, cr) = (
            median_of(&bare, |r| r.cpu_us),
            median_of(&fetch_only, |r| r.cpu_us),
            median_of(&rebound, |r| r.cpu_us),
        );
        println!("calls per round: {calls}, concurrency: {CONCURRENCY}, rounds: {rounds}");
        println!("median bare reqwest: {mb:.0} calls/s, {cb:.0} µs CPU per call");
        println!(
            "median rebound fetch only: {mf:.0} calls/s, {cf:.0} µs CPU per call (no payload storage, no history)"
        );
        println!(
            "median rebound:      {mr:.0} calls/s, {cr:.0} µs CPU per call (recorded in SQLite, payloads in a local folder)"
        );
        println!("ratio rebound/bare:  {:.2} (target >= 0.5)", mr / mb);
        println!("peak RSS of the whole process: {:.1} MiB", peak_rss_mib());
        let (lookup, write, write_object_store, insert) = phases(calls).await;
        println!(
            "recording steps alone, {calls} at concurrency {CONCURRENCY}: previous-payload lookup {:.0}/s ({:.0} µs CPU each), raw write {:.0}/s ({:.0} µs; object_store's local put: {:.0}/s, {:.0} µs), history insert {:.0}/s ({:.0} µs)",
            lookup.rate,
            lookup.cpu_us,
            write.rate,
            write.cpu_us,
            write_object_store.rate,
            write_object_store.cpu_us,
            insert.rate,
            insert.cpu_us
        );
        let mut files = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..3 {
            files.push(file_floor(calls));
            rows.push(history_floor(calls).await);
        }
        let (file, row) = (median(&mut files), median(&mut rows));
        println!(
            "floors, one thread doing nothing else (median of 3): payload file {file:.1} µs CPU, history rows {row:.1} µs CPU per call"
        );
        // With every core busy, a rate of half the bare loop's leaves each
        // recorded call at most cores / (0.5 × bare rate) of CPU.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let budget = cores as f64 * 1e6 / (0.5 * mb);
        let least = cf + file + row;
        println!(
            "CPU budget of a recorded call at 0.5 x bare with all {cores} cores busy: {budget:.0} µs; its floor (fetch {cf:.0} + file {file:.0} + rows {row:.0}, no lookup, no hashing, no hand-offs): {least:.0} µs; left for everything else: {:.0} µs",
            budget - least
        );
        sim.shutdown().await;
        drop(dirs);
    });
}
