//! The NATS hand-off through the `rebound` binary, against the real NATS
//! JetStream server of this machine (each test on its own stream and
//! subjects): `rebound run` publishes its event to JetStream (right
//! subject, `Nats-Msg-Id` = event id) before it ends; an ack published on
//! the ack subject while `rebound serve` runs acknowledges the event;
//! `rebound check --probe` names an unreachable NATS sink without its URL
//! and `check` warns about a dataset glob that matches nothing; and
//! twenty runs SIGKILLed between the commit and the publish, or during it,
//! lose no event and, deduplicated by `Nats-Msg-Id`, leave each once in
//! the stream.

use super::serve::{terminate, wait_exit};
use super::{SECRET, rebound, text, write_config};
use rebound_storage::{EventStore, Store};
use rebound_testkit::nats::{NATS_URL, TestStream};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The pipeline of `write_config` with a NATS sink on `stream`, its URL
/// from `${NATS_URL}`.
fn nats_config(
    dir: &std::path::Path,
    sim: &UpstreamSim,
    stream: &TestStream,
    extra: &str,
) -> String {
    let config = write_config(dir, &sim.base_url());
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!("\n[handoff]\n{extra}\n"));
    toml.push_str(&stream.sink_toml("bus", "NATS_URL"));
    std::fs::write(&config, toml).unwrap();
    config.to_str().unwrap().to_string()
}

fn events_json(config: &str, env: &[(&str, &str)], extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["-c", config, "events", "--json"];
    args.extend_from_slice(extra);
    let out = rebound(&args, env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the upstream needs another.
async fn run_publishes_to_jetstream_and_an_ack_over_nats_acknowledges_it() {
    let sim = UpstreamSim::start().await.unwrap();
    let stream = TestStream::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = nats_config(dir.path(), &sim, &stream, "publish_wait = \"5s\"");
    let env = [("CLI_KEY", SECRET), ("NATS_URL", NATS_URL)];

    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", &config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = events_json(&config, &env, &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "published", "{listed:?}");
    assert_eq!(listed[0]["sinks_done"], serde_json::json!(["bus"]));
    let id = listed[0]["event_id"].as_str().unwrap().to_string();
    let dataset = listed[0]["dataset"].as_str().unwrap().replace('.', "_");

    let stored = stream.messages().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].msg_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        stored[0].subject,
        format!("{}.{dataset}.success", stream.prefix)
    );
    let body: serde_json::Value = serde_json::from_str(&stored[0].payload).unwrap();
    assert_eq!(body["event_id"], id.as_str());
    assert_eq!(body["kind"], "call.completed");
    assert_eq!(body["scraper"], "good");

    // `rebound serve` listens on the ack subject; a consumer acknowledges
    // the event there (and an unknown id, which is only logged).
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["-c", &config, "serve"])
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "info")
        .env("CLI_KEY", SECRET)
        .env("NATS_URL", NATS_URL)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("rebound serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let acked = loop {
        // Core NATS drops what nobody listens to yet: send until serve has
        // subscribed (acks are idempotent).
        stream
            .send_ack(&format!(r#"["{id}", "no-such-event"]"#))
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let acked = events_json(&config, &env, &["--state", "acknowledged"]);
        if !acked.is_empty() || Instant::now() > deadline {
            break acked;
        }
    };
    terminate(&mut serve);
    let status = wait_exit(&mut serve, Duration::from_secs(15)).expect("serve exits on SIGTERM");
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert_eq!(acked.len(), 1, "not acknowledged over NATS:\n{log}");
    assert_eq!(acked[0]["event_id"], id.as_str());
    assert!(status.success(), "serve exited with {status}\n{log}");
    assert!(
        log.contains("unknown event id") && log.contains("no-such-event"),
        "the unknown id was not reported:\n{log}"
    );
    stream.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_probe_names_an_unreachable_nats_sink_and_check_warns_on_an_empty_glob() {
    let sim = UpstreamSim::start().await.unwrap();
    let stream = TestStream::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = nats_config(dir.path(), &sim, &stream, "");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str("datasets = [\"good\", \"zz*\"]\n");
    std::fs::write(&config, toml).unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port().to_string();
    drop(dead);
    let dead_url = format!("nats://127.0.0.1:{port}");

    // Plain check: valid, with the glob warning; no secret needed.
    let out = rebound(&["-c", &config, "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("warning: handoff.sinks.bus.datasets: \"zz*\" matches no dataset"),
        "{stdout}"
    );
    assert!(!stdout.contains("\"good\" matches no dataset"), "{stdout}");

    // --probe against a dead port: exit 1, the sink named, the URL not.
    let out = rebound(
        &["-c", &config, "check", "--probe"],
        &[("NATS_URL", dead_url.as_str())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("probe: handoff sink bus (nats): UNREACHABLE: cannot connect to NATS"),
        "{stdout}"
    );
    assert!(!stdout.contains(&port), "the URL leaked: {stdout}");

    // And against the real server: reachable.
    let out = rebound(
        &["-c", &config, "check", "--probe"],
        &[("NATS_URL", NATS_URL)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(
            "probe: handoff sink bus (nats): reachable, JetStream on, stream missing (created at the first publish)"
        ),
        "{}",
        text(&out.stdout)
    );

    // A stream made elsewhere that takes only some of the sink's subjects:
    // publishing would fail, so the probe fails and says which subjects.
    // It said "stream exists".
    stream
        .create_with_subjects(vec![format!("{}.good.*", stream.prefix)])
        .await;
    let out = rebound(
        &["-c", &config, "check", "--probe"],
        &[("NATS_URL", NATS_URL)],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "probe: handoff sink bus (nats): reachable, JetStream on, but JetStream stream \"{}\" exists but takes only {}.good.*, not all of this sink's subjects ({}.*.*)",
            stream.stream, stream.prefix, stream.prefix
        )),
        "{stdout}"
    );
    stream.delete().await;
}

/// A loopback TCP proxy in front of the NATS server that can hold back
/// what the server says: from the start of a connection (the client's
/// connect never completes: killed between the commit and the publish),
/// or from the moment the client publishes on `prefix` (the message is
/// stored but its JetStream ack never arrives: killed during the publish).
struct HoldingProxy {
    url: String,
    hold_from_start: Arc<AtomicBool>,
    /// Publishes seen whose answers are held back.
    held_publishes: Arc<AtomicUsize>,
}

async fn holding_proxy(prefix: String) -> HoldingProxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    let hold_from_start = Arc::new(AtomicBool::new(false));
    let held_publishes = Arc::new(AtomicUsize::new(0));
    let (start, held) = (hold_from_start.clone(), held_publishes.clone());
    let marker = format!("HPUB {prefix}.").into_bytes();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect("127.0.0.1:4222").await else {
                continue;
            };
            let hold = Arc::new(AtomicBool::new(start.load(Ordering::SeqCst)));
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let (hold_up, held, marker) = (hold.clone(), held.clone(), marker.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if buf[..n]
                        .windows(marker.len())
                        .any(|w| w == marker.as_slice())
                    {
                        hold_up.store(true, Ordering::SeqCst);
                        held.fetch_add(1, Ordering::SeqCst);
                    }
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 || hold.load(Ordering::SeqCst) {
                        // Held: swallow the server's words from here on.
                        if n == 0 {
                            break;
                        }
                        continue;
                    }
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    HoldingProxy {
        url,
        hold_from_start,
        held_publishes,
    }
}

/// SIGKILL twenty runs, alternately between the call's commit and the
/// publish (the connection to NATS never completes) and during the publish
/// (JetStream stored the message, its ack is held back): every recorded
/// call has exactly one event, all wait in the outbox, `events publish`
/// then sends each to the stream at least once, and deduplicated by
/// `Nats-Msg-Id` (the stream's duplicate window) the stream holds each
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_runs_killed_around_the_publish_leave_each_event_once_in_the_stream() {
    const ROUNDS: usize = 20;
    let sim = UpstreamSim::start().await.unwrap();
    let stream = TestStream::new().await;
    let proxy = holding_proxy(stream.prefix.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = nats_config(dir.path(), &sim, &stream, "publish_wait = \"60s\"");
    // One dataset per round: a dataset's events are published in order, so
    // a killed run's claimed event would otherwise hold back the next
    // run's. The dots exercise the subject mapping.
    let mut toml = std::fs::read_to_string(&config).unwrap();
    for round in 1..=ROUNDS {
        toml.push_str(&format!(
            "\n[scrapers.k{round}]\nsource = \"up\"\npath = \"/c/good\"\ndataset = \"kill.r{round}\"\n\n[workflows.w{round}]\nscrapers = [\"k{round}\"]\n"
        ));
    }
    std::fs::write(&config, toml).unwrap();
    let store = rebound_storage_sqlite::SqliteStore::open(&dir.path().join("rebound.db"))
        .await
        .unwrap();

    let started = Instant::now();
    for round in 1..=ROUNDS {
        let during_publish = round % 2 == 0;
        proxy
            .hold_from_start
            .store(!during_publish, Ordering::SeqCst);
        let held_before = proxy.held_publishes.load(Ordering::SeqCst);
        sim.script("/c/good", vec![Reply::text(200, "fine")]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_rebound"))
            .args([
                "-c",
                &config,
                "run",
                &format!("w{round}"),
                "--date",
                "2026-11-27",
            ])
            .env_remove("REBOUND_CONFIG")
            .env("CLI_KEY", SECRET)
            .env("NATS_URL", &proxy.url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rebound run starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let committed = store.completion_events(None, 100).await.unwrap().len() >= round;
            let publishing = proxy.held_publishes.load(Ordering::SeqCst) > held_before;
            if committed && (!during_publish || publishing) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: nothing to kill in"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "round {round}: the run ended before it was killed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !during_publish {
            // Committed, and the connection to NATS hangs: between the two.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "round {round}: the run ended before it was killed"
        );
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        child.wait().unwrap();
    }
    proxy.hold_from_start.store(false, Ordering::SeqCst);

    let events = store.completion_events(None, 100).await.unwrap();
    assert_eq!(events.len(), ROUNDS);
    let mut call_ids = Vec::new();
    for run in store.recent_workflow_executions(100).await.unwrap() {
        for call in store
            .scraper_calls_for_execution(&run.execution_id)
            .await
            .unwrap()
        {
            call_ids.push(call.id);
        }
    }
    call_ids.sort();
    let mut event_calls: Vec<i64> = events.iter().map(|e| e.scraper_execution_id).collect();
    event_calls.sort();
    assert_eq!(
        event_calls, call_ids,
        "every recorded call has exactly one event"
    );
    assert!(events.iter().all(|e| e.state == "pending"), "{events:?}");
    // The runs killed during the publish left their message in the stream.
    let before = stream
        .wait_for(Duration::from_secs(5), |m| m.len() >= ROUNDS / 2)
        .await;
    // At least those; a run killed before it claimed its event leaves it
    // to the next run, which may publish both.
    assert!(before.len() >= ROUNDS / 2, "{}", before.len());

    // The killed runs' claims end after the sink's timeout plus 30s; then
    // `events publish` (straight to the server) takes the events over.
    let out = rebound(
        &["-c", &config, "events", "publish"],
        &[("CLI_KEY", SECRET), ("NATS_URL", NATS_URL)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stored = stream.messages().await;
    let expected: HashSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let mut copies: HashMap<String, usize> = HashMap::new();
    for message in &stored {
        *copies
            .entry(message.msg_id.clone().expect("Nats-Msg-Id set"))
            .or_default() += 1;
    }
    let reached: HashSet<String> = copies.keys().cloned().collect();
    assert_eq!(reached, expected, "every event reached the stream");
    assert!(
        copies.values().all(|n| *n == 1),
        "the duplicate window kept one copy of each: {copies:?}"
    );
    assert_eq!(stored.len(), ROUNDS);
    assert!(
        store
            .completion_events(Some("pending"), 100)
            .await
            .unwrap()
            .is_empty()
    );
    eprintln!(
        "20 killed runs and the publish took {:?}",
        started.elapsed()
    );
    stream.delete().await;
}
