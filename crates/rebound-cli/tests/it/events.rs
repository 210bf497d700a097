//! `rebound events` through the binary (issue 14): `rebound run` publishes
//! its events at the end (bounded wait, a down sink never changes the run's
//! exit code), `events` lists and filters, `events publish` sends what was
//! left, `events ack` acknowledges (unknown ids reported, exit 1),
//! `events schema` prints the message's JSON Schema.

use super::{SECRET, rebound, text, write_config};
use rebound_testkit::webhook;
use rebound_upstream_sim::{Reply, UpstreamSim};

const HOOK_KEY: &str = "hook_signing_key_42";

fn events_json(config: &str, env: &[(&str, &str)], extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["-c", config, "events", "--json"];
    args.extend_from_slice(extra);
    let out = rebound(&args, env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the upstream and the receiver need another.
async fn run_publishes_at_the_end_and_events_lists_acks_publishes_and_prints_the_schema() {
    let sim = UpstreamSim::start().await.unwrap();
    let receiver = webhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(
        "\n[handoff]\npublish_wait = \"2s\"\n\n[handoff.sinks.wh]\nkind = \"webhook\"\nurl = \"${HOOK_URL}\"\nsigning_secret = \"${HOOK_KEY}\"\n",
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();
    let hook_url = format!("{}/hooks/in", receiver.url);
    let env = [
        ("CLI_KEY", SECRET),
        ("HOOK_URL", hook_url.as_str()),
        ("HOOK_KEY", HOOK_KEY),
    ];

    // A run publishes its event before the command ends.
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "the run's event was not posted");
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(body["kind"], "call.completed");
    assert_eq!(body["scraper"], "good");
    assert_eq!(body["status"], "success");
    assert_eq!(body["trigger"], "manual");
    assert_eq!(body["delivery"], "first");
    assert_eq!(body["workflow"], "ok");
    assert_eq!(body["target_date"], "2026-11-27");
    assert_eq!(
        requests[0].header("idempotency-key"),
        body["event_id"].as_str()
    );
    assert!(
        requests[0]
            .header("x-rebound-signature")
            .is_some_and(|s| s.starts_with("sha256=") && s.len() == 7 + 64)
    );
    let listed = events_json(config, &env, &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "published");
    assert_eq!(listed[0]["event_id"], body["event_id"]);
    assert_eq!(listed[0]["payload"]["event_id"], body["event_id"]);

    // With the sink down, the run still ends with its own exit code, within
    // the bounded wait, and says what is left; the skipped call makes no event.
    receiver.set_down(true);
    sim.script("/c/bad", vec![Reply::text(500, "x"), Reply::text(500, "x")]);
    let started = std::time::Instant::now();
    let out = rebound(
        &["-c", config, "run", "mixed", "--date", "2026-11-27"],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1 completion event still pending"),
        "{stderr}"
    );
    assert!(stderr.contains("sink wh"), "{stderr}");
    assert!(
        !stderr.contains("/hooks/in"),
        "the sink URL leaked: {stderr}"
    );
    let pending = events_json(config, &env, &["--state", "pending"]);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["status"], "failed");
    assert_eq!(pending[0]["payload"]["scraper"], "bad");
    assert_eq!(events_json(config, &env, &[]).len(), 2);

    // `events publish` sends the leftover once the sink is back. It needs
    // the hand-off's variables, not the sources' (it refused to start
    // without CLI_KEY, which it never sends).
    receiver.set_down(false);
    let out = rebound(&["-c", config, "events", "publish"], &env[1..]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("published 1 event; 0 still pending"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(receiver.requests().len(), 2);
    assert!(events_json(config, &env, &["--state", "pending"]).is_empty());

    // The listing's filters given to ack or publish were ignored (ack of
    // `--state pending` acknowledged a published event): a usage error
    // naming the option, and nothing done.
    let id = pending[0]["event_id"].as_str().unwrap().to_string();
    for (given, command) in [
        (&["--state", "pending"][..], &["ack", id.as_str()][..]),
        (&["--dataset", "b?d"], &["ack", id.as_str()]),
        (&["--limit", "1"], &["ack", id.as_str()]),
        (&["--dataset", "b?d"], &["publish"]),
        (&["--state", "pending"], &["publish"]),
        (&["--limit", "5"], &["publish"]),
    ] {
        let mut args = vec!["-c", config, "events"];
        args.extend_from_slice(given);
        args.extend_from_slice(command);
        let out = rebound(&args, &env);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "{} applies to listing events (`rebound events {} …`), not to `events {}`",
                given[0], given[0], command[0]
            )),
            "{args:?}: {stderr}"
        );
    }
    assert!(events_json(config, &env, &["--state", "acknowledged"]).is_empty());

    // Acknowledge one known and one unknown id: both reported, in order,
    // and exit 1 since not every id was acknowledged (it was 0).
    let out = rebound(&["-c", config, "events", "ack", &id, "no-such-event"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("acknowledged {id}")), "{stdout}");
    assert!(stdout.contains("unknown event no-such-event"), "{stdout}");
    // Again, as JSON: the same per-id shape, and the same exit code; one
    // already acknowledged is not an error.
    let out = rebound(
        &[
            "-c",
            config,
            "events",
            "--json",
            "ack",
            &id,
            "no-such-event",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"event_id": id, "result": "already_acknowledged"},
            {"event_id": "no-such-event", "result": "unknown"},
        ])
    );
    let out = rebound(&["-c", config, "events", "ack", &id], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let acked = events_json(config, &env, &["--state", "acknowledged"]);
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0]["event_id"], id.as_str());
    assert!(acked[0]["acknowledged_at"].is_string());

    // Filters and the table.
    // A glob that names no dataset of the config (and no stored event) is
    // a usage error, not an empty list; one that matches a dataset with no
    // events (yet) is an empty list.
    let out = rebound(&["-c", config, "events", "--dataset", "zz*"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("--dataset \"zz*\": no such dataset"),
        "{}",
        text(&out.stderr)
    );
    assert!(events_json(config, &env, &["--dataset", "gam?"]).is_empty());
    assert_eq!(events_json(config, &env, &["--dataset", "b?d"]).len(), 1);
    let out = rebound(&["-c", config, "events"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("event id") && table.contains("acknowledged"),
        "{table}"
    );
    let out = rebound(&["-c", config, "events", "--state", "done"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown --state \"done\""),
        "{}",
        text(&out.stderr)
    );

    // The schema names every field of the message and marks them required.
    let out = rebound(&["events", "schema"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for field in [
        "event_id",
        "kind",
        "schema_version",
        "pipeline",
        "workflow",
        "execution_id",
        "scraper",
        "source",
        "dataset",
        "target_date",
        "params",
        "status",
        "record_count",
        "primary_output",
        "outputs",
        "unchanged",
        "started_at",
        "finished_at",
        "duration_ms",
        "attempts",
        "error_kind",
        "error_message",
        "trigger",
        "delivery",
        "replay_of",
    ] {
        assert!(schema["properties"][field].is_object(), "{field} missing");
        assert!(required.contains(&field), "{field} not required");
    }
    // The one message kind is spelled out.
    assert!(schema.to_string().contains("call.completed"));
}

/// SIGKILL between the call's commit and the end of its publish, three
/// times: every recorded call still has exactly one event, none is lost
/// (they wait, pending, in the outbox), and `events publish` afterwards
/// delivers each at least once, so that deduplicated by `Idempotency-Key`
/// the receiver holds each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_killed_while_publishing_lose_no_event() {
    use rebound_storage::{EventStore, Store};
    use std::collections::HashSet;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let sim = UpstreamSim::start().await.unwrap();
    let receiver = webhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(
        "\n[handoff]\npublish_wait = \"60s\"\n\n[handoff.sinks.wh]\nkind = \"webhook\"\nurl = \"${HOOK_URL}\"\ntimeout = \"1s\"\n",
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap().to_string();
    let hook_url = format!("{}/hooks/in", receiver.url);
    // The sink hangs: each run is killed while its post waits.
    *receiver.inbox.hang.lock().unwrap() = Some(Duration::from_secs(20));
    let store = rebound_storage_sqlite::SqliteStore::open(&dir.path().join("rebound.db"))
        .await
        .unwrap();

    for round in 1..=3usize {
        sim.script("/c/good", vec![Reply::text(200, "fine")]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_rebound"))
            .args(["-c", &config, "run", "ok", "--date", "2026-11-27"])
            .env_remove("REBOUND_CONFIG")
            .env("CLI_KEY", SECRET)
            .env("HOOK_URL", &hook_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rebound run starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while store.completion_events(None, 100).await.unwrap().len() < round {
            assert!(
                Instant::now() < deadline,
                "round {round}: no event recorded"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before it was killed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Committed; now in the publish (the post hangs): kill it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        child.wait().unwrap();
    }

    let events = store.completion_events(None, 100).await.unwrap();
    assert_eq!(events.len(), 3);
    let calls = store.recent_workflow_executions(10).await.unwrap();
    let mut call_ids = Vec::new();
    for run in &calls {
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

    // The killed runs' claims end after the sink's timeout plus 30s; then
    // the next publisher takes the events over.
    *receiver.inbox.hang.lock().unwrap() = None;
    let out = rebound(
        &["-c", &config, "events", "publish"],
        &[("CLI_KEY", SECRET), ("HOOK_URL", &hook_url)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let delivered: HashSet<String> = receiver
        .requests()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_string))
        .collect();
    let expected: HashSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(delivered, expected);
}

/// Webhook sinks ignore the environment's proxy, as sources do unless a
/// source says `proxy = "env"`: a sink's URL is a secret and must not be
/// routed through whatever `HTTP_PROXY` the process happens to inherit.
/// The proxy here is a closed port, so a client that used it would fail to
/// post at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the upstream and the receiver need another.
async fn webhook_sinks_ignore_the_environments_proxy() {
    let sim = UpstreamSim::start().await.unwrap();
    let receiver = webhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(
        "\n[handoff]\npublish_wait = \"2s\"\n\n[handoff.sinks.wh]\nkind = \"webhook\"\nurl = \"${HOOK_URL}\"\n",
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();
    let hook_url = format!("{}/hooks/in", receiver.url);
    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_proxy = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let env = [
        ("CLI_KEY", SECRET),
        ("HOOK_URL", hook_url.as_str()),
        ("HTTP_PROXY", dead_proxy.as_str()),
        ("http_proxy", dead_proxy.as_str()),
        ("ALL_PROXY", dead_proxy.as_str()),
    ];
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        receiver.requests().len(),
        1,
        "the event was not posted directly: {}",
        text(&out.stderr)
    );
}

/// Before: with no [handoff.sinks], `rebound events` showed each event
/// `published` with 1 delivery, though nothing had been sent anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the upstream needs another.
async fn without_sinks_events_are_published_with_no_delivery() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let config = config.to_str().unwrap();
    let env = [("CLI_KEY", SECRET)];
    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = events_json(config, &env, &[]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["state"], "published");
    assert_eq!(listed[0]["deliveries"], 0, "{:?}", listed[0]);
}

/// `events ack ""` (a script's unset variable) read "unknown event : no
/// such event; nothing done", exit 1, as if an id had been looked up; it
/// is a usage error naming which id is empty, and nothing is acknowledged.
#[test]
fn an_empty_event_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        "[pipeline]\nname = \"e\"\n\n[sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n[scrapers.s]\nsource = \"up\"\npath = \"/s\"\n",
    )
    .unwrap();
    let out = rebound(
        &["-c", config.to_str().unwrap(), "events", "ack", "e1", ""],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        "error: events ack: id 2 of 2 is empty; give the event ids to acknowledge (rebound events lists them)\n"
    );
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(!dir.path().join("rebound.db").exists(), "nothing opened");
}
