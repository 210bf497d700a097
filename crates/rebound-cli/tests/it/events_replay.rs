//! `rebound events replay` and the `handoff` section of `rebound health`
//! through the binary (issue 14, items 4 and 5): a dry run lists and sends
//! nothing; a replay is a new message (`delivery = "replay"`, a new
//! `event_id`, `replay_of` naming the original) posted to a real loopback
//! receiver; bad arguments are usage errors naming what is wrong.

use super::{SECRET, rebound, text, write_config};
use rebound_testkit::webhook;
use rebound_upstream_sim::{Reply, UpstreamSim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the upstream and the receiver need another.
async fn replay_re_emits_past_events_as_new_messages_and_health_shows_the_handoff() {
    let sim = UpstreamSim::start().await.unwrap();
    let receiver = webhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url());
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(
        "\n[handoff]\npublish_wait = \"2s\"\nack_required = true\n\n[handoff.sinks.wh]\nkind = \"webhook\"\nurl = \"${HOOK_URL}\"\n",
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();
    let hook_url = format!("{}/hooks/in", receiver.url);
    let env = [("CLI_KEY", SECRET), ("HOOK_URL", hook_url.as_str())];

    sim.script("/c/good", vec![Reply::text(200, "fine")]);
    let out = rebound(&["-c", config, "run", "ok", "--date", "2026-11-27"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(receiver.requests().len(), 1);
    let first: serde_json::Value = serde_json::from_str(&receiver.requests()[0].body).unwrap();
    let original = first["event_id"].as_str().unwrap().to_string();
    assert_eq!(first["replay_of"], serde_json::Value::Null);

    // A dry run lists the event and its sinks and sends nothing.
    let dry = [
        "-c",
        config,
        "events",
        "replay",
        "--dataset",
        "*",
        "--from",
        "2026-11-27",
        "--to",
        "2026-11-27",
        "--dry-run",
    ];
    let out = rebound(&dry, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&original), "{stdout}");
    assert!(stdout.contains("1 event would be re-emitted"), "{stdout}");
    assert!(stdout.contains("wh"), "{stdout}");
    assert_eq!(receiver.requests().len(), 1, "a dry run sent something");

    // Other dates or another status find nothing.
    let out = rebound(
        &[
            "-c",
            config,
            "events",
            "replay",
            "--dataset",
            "*",
            "--from",
            "2026-11-28",
            "--to",
            "2026-11-30",
            "--dry-run",
        ],
        &env,
    );
    assert!(text(&out.stdout).contains("0 events would be re-emitted"));
    let out = rebound(
        &[
            "-c",
            config,
            "events",
            "replay",
            "--dataset",
            "*",
            "--from",
            "2026-11-27",
            "--to",
            "2026-11-27",
            "--status",
            "failed",
            "--dry-run",
        ],
        &env,
    );
    assert!(text(&out.stdout).contains("0 events would be re-emitted"));

    // The replay itself: a new message, posted, off a terminal no bar.
    let out = rebound(
        &[
            "-c",
            config,
            "events",
            "replay",
            "--dataset",
            "g*",
            "--from",
            "2026-11-27",
            "--to",
            "2026-11-27",
            "--sink",
            "wh",
            "--rate",
            "100/s",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        // "1 events" before.
        text(&out.stdout).contains("replayed 1 event; 0 failed"),
        "{}",
        text(&out.stdout)
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let replay: serde_json::Value = serde_json::from_str(&requests[1].body).unwrap();
    assert_eq!(replay["delivery"], "replay");
    assert_eq!(replay["replay_of"], original.as_str());
    assert_ne!(replay["event_id"], original.as_str());
    assert_eq!(
        requests[1].header("idempotency-key"),
        replay["event_id"].as_str()
    );
    for field in [
        "scraper",
        "dataset",
        "target_date",
        "status",
        "primary_output",
    ] {
        assert_eq!(replay[field], first[field], "{field}");
    }
    // The original is untouched: still one event, still published.
    let out = rebound(&["-c", config, "events", "--json"], &env);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "published");
    assert_eq!(listed[0]["redeliveries"], 0);

    // Usage errors: exit 2, saying what is wrong.
    let base = [
        "-c",
        config,
        "events",
        "replay",
        "--dataset",
        "*",
        "--from",
        "2026-11-27",
        "--to",
        "2026-11-27",
    ];
    for (extra, expected) in [
        (
            &["--sink", "nope"][..],
            "unknown --sink \"nope\"; [handoff.sinks] has: wh",
        ),
        (&["--rate", "0/s"][..], "expected a rate above 0"),
        (&["--rate", "fast"][..], "expected a rate like \"50/s\""),
        (&["--status", "skipped"][..], "unknown --status \"skipped\""),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = rebound(&args, &env);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{extra:?}: {}",
            text(&out.stderr)
        );
    }
    let out = rebound(
        &[
            "-c",
            config,
            "events",
            "replay",
            "--dataset",
            "*",
            "--from",
            "2026-11-28",
            "--to",
            "2026-11-27",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--from 2026-11-28 is after --to 2026-11-27"));

    // `rebound health --json` has the handoff section; the table too.
    let out = rebound(&["-c", config, "health", "--json", "--no-probe"], &env);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    let handoff = &report["handoff"];
    assert_eq!(handoff["pending"], 0, "{handoff}");
    assert_eq!(handoff["ack_required"], true);
    assert_eq!(handoff["level"], "ok");
    assert_eq!(handoff["sinks"][0]["name"], "wh");
    assert_eq!(handoff["not_acknowledging"], serde_json::Value::Null);
    assert!(handoff["unacknowledged"].as_array().unwrap().is_empty());
    let out = rebound(&["-c", config, "health", "--no-probe"], &env);
    let table = text(&out.stdout);
    assert!(table.contains("Hand-off (ok)"), "{table}");
    assert!(
        table.contains("0 pending; acknowledgements required"),
        "{table}"
    );
    assert!(!table.contains("/hooks/in"), "the sink URL leaked: {table}");
}
