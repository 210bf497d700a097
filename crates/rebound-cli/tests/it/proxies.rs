//! Proxies per source through the binary (issue 13, item 2): the
//! environment's proxy variables are ignored unless a source says
//! `proxy = "env"`; attempts record which proxy they went through, and
//! proxy credentials reach neither the database, nor the output, nor the
//! logs; `rebound health` and `rebound breakers` show each proxy by place.

use super::text;
use rebound_testkit::forward_proxy::{ForwardProxy, Mode};
use rebound_upstream_sim::UpstreamSim;
use sqlx::Row;
use std::path::Path;
use std::process::{Command, Output};

const PASSWORD: &str = "cli-pr0xy-s3cret";

/// The proxy variables a developer's shell may hold: removed, so each test
/// says exactly which the child sees.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn rebound(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
    command
        .args(args)
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "debug");
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("rebound runs")
}

fn write(dir: &Path, body: &str) -> String {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            "[pipeline]\nname = \"proxies\"\ntimezone = \"UTC\"\n\n\
             [retry]\nmax_attempts = 1\n\n{body}"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream and the proxy need another.
async fn environment_proxies_are_ignored_unless_a_source_says_proxy_env() {
    let sim = UpstreamSim::start().await.unwrap();
    let proxy = ForwardProxy::start(Mode::Forward).await;
    let dir = tempfile::tempdir().unwrap();
    let direct = write(
        dir.path(),
        &format!(
            "[sources.up]\nbase_url = \"{}\"\n\n[scrapers.ping]\nsource = \"up\"\npath = \"/healthz\"\n",
            sim.base_url()
        ),
    );
    let proxy_url = proxy.url();
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
    ];
    let out = rebound(&["-c", &direct, "scrape", "ping"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(proxy.forwarded(), 0, "HTTP_PROXY was honoured");
    assert_eq!(sim.request_count("/healthz"), 1);

    let via_env = write(
        dir.path(),
        &format!(
            "[sources.up]\nbase_url = \"{}\"\nproxy = \"env\"\n\n[scrapers.ping]\nsource = \"up\"\npath = \"/healthz\"\n",
            sim.base_url()
        ),
    );
    let out = rebound(&["-c", &via_env, "scrape", "ping"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(proxy.forwarded(), 1);
    assert_eq!(proxy.targets(), [format!("{}/healthz", sim.base_url())]);
    assert_eq!(sim.request_count("/healthz"), 2);

    // NO_PROXY is honoured with proxy = "env" too.
    let mut bypass = env.to_vec();
    bypass.push(("NO_PROXY", "127.0.0.1"));
    let out = rebound(&["-c", &via_env, "scrape", "ping"], &bypass);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(proxy.forwarded(), 1);
    assert_eq!(sim.request_count("/healthz"), 3);

    // A source that needs the environment's proxy never goes direct.
    let out = rebound(&["-c", &via_env, "scrape", "ping"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rebound.toml:")
            && stderr.contains("sources.up.proxy")
            && stderr.contains("none of HTTP_PROXY, HTTPS_PROXY and ALL_PROXY"),
        "{stderr}"
    );
    assert_eq!(sim.request_count("/healthz"), 3);
    // `check` only notes it.
    let out = rebound(&["-c", &via_env, "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream and the proxies need another.
async fn attempts_record_the_proxy_and_credentials_stay_out_of_the_database() {
    let sim = UpstreamSim::start().await.unwrap();
    let proxies = [
        ForwardProxy::start(Mode::Refuse).await,
        ForwardProxy::start(Mode::Forbidden).await,
        ForwardProxy::start(Mode::Forward).await,
    ];
    let urls: Vec<String> = proxies
        .iter()
        .map(|p| p.url_with_credentials("rebound", PASSWORD))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &format!(
            "[sources.nba_stats]\nbase_url = \"{}\"\nproxies = [\"${{P1}}\", \"${{P2}}\", \"${{P3}}\"]\n\n\
             [scrapers.ping]\nsource = \"nba_stats\"\npath = \"/healthz\"\n",
            sim.base_url()
        ),
    );
    let env = [
        ("P1", urls[0].as_str()),
        ("P2", urls[1].as_str()),
        ("P3", urls[2].as_str()),
    ];
    let mut outputs = String::new();
    let mut logs = String::new();
    // Each process starts its rotation at proxy 1, so every run meets the
    // dead proxy and the refused one before the third: three runs give
    // each of them three failures in a row.
    for _ in 0..3 {
        let out = rebound(&["-c", &config, "scrape", "ping", "--json"], &env);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        outputs.push_str(&text(&out.stdout));
        logs.push_str(&text(&out.stderr));
    }
    assert_eq!(proxies[2].forwarded(), 3);
    assert_eq!(proxies[1].refused(), 3);
    assert_eq!(sim.request_count("/healthz"), 3);

    let db = dir.path().join("rebound.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT proxy, http_status, error_kind, error_message FROM scraper_attempts \
         ORDER BY scraper_execution_id, attempt",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let proxies_used: Vec<Option<i64>> = rows.iter().map(|r| r.get("proxy")).collect();
    assert_eq!(
        proxies_used,
        [1, 2, 3]
            .repeat(3)
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>()
    );
    let statuses: Vec<Option<i64>> = rows.iter().take(3).map(|r| r.get("http_status")).collect();
    assert_eq!(statuses, [None, Some(403), Some(200)]);
    let message: Option<String> = rows[0].get("error_message");
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m == "via proxy 1 of 3: connect refused"),
        "{message:?}"
    );
    pool.close().await;

    // Health and breakers read each proxy's state back from those rows.
    // (Probing sends requests, so it needs the secrets; reading the
    // history alone does not.)
    let out = rebound(&["-c", &config, "health", "--json"], &env);
    let health: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let listed = &health["sources"][0]["proxies"];
    let states: Vec<(u64, &str, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["index"].as_u64().unwrap(),
                p["state"].as_str().unwrap(),
                p["consecutive_failures"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, [(1, "open", 3), (2, "open", 3), (3, "closed", 0)]);
    assert_eq!(health["sources"][0]["level"], "warning");
    assert_eq!(out.status.code(), Some(1));
    outputs.push_str(&text(&out.stdout));
    let out = rebound(&["-c", &config, "health", "--no-probe"], &[]);
    let table = text(&out.stdout);
    assert!(table.contains("proxy 1 of 3 open until"), "{table}");
    outputs.push_str(&table);
    // Wide, so no cell of the table is wrapped.
    let out = rebound(&["-c", &config, "breakers"], &[("COLUMNS", "400")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let breakers = text(&out.stdout);
    assert!(breakers.contains("proxy 2 of 3: open until"), "{breakers}");
    assert!(
        breakers.contains("proxy 3 of 3: closed, 0 failures in a row"),
        "{breakers}"
    );
    // One table style for every command: the same borders as `health`'s.
    assert!(
        breakers.contains('│') && breakers.contains("│ source"),
        "{breakers}"
    );
    outputs.push_str(&breakers);

    // The credentials nowhere: not in stdout or the debug logs, not in any
    // file of the database (the WAL included) or the raw store. (At debug
    // level reqwest and hyper log the proxy's address, never its
    // credentials; Rebound's own texts name no address either.)
    assert!(!outputs.contains(PASSWORD), "{outputs}");
    assert!(!logs.contains(PASSWORD), "{logs}");
    for proxy in &proxies {
        let address = proxy.url().trim_start_matches("http://").to_string();
        assert!(!outputs.contains(&address), "{address} in {outputs}");
    }
    for entry in walk(dir.path()) {
        let name = entry.display().to_string();
        assert!(!name.contains(PASSWORD), "{name}");
        let bytes = std::fs::read(&entry).unwrap();
        let contents = String::from_utf8_lossy(&bytes);
        assert!(!contents.contains(PASSWORD), "password in {name}");
        for proxy in &proxies {
            let address = proxy.url().trim_start_matches("http://").to_string();
            assert!(!contents.contains(&address), "{address} in {name}");
        }
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream and the proxies need another.
async fn a_call_finding_every_proxy_open_is_recorded_as_skipped_breaker_open() {
    let sim = UpstreamSim::start().await.unwrap();
    let proxies = [
        ForwardProxy::start(Mode::Refuse).await,
        ForwardProxy::start(Mode::AuthRequired).await,
    ];
    let urls: Vec<String> = proxies
        .iter()
        .map(|p| p.url_with_credentials("rebound", PASSWORD))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &format!(
            "[sources.nba_stats]\nbase_url = \"{}\"\nproxies = [\"${{P1}}\", \"${{P2}}\"]\n\
             proxy_breaker = {{ failures = 1 }}\n\n\
             [scrapers.first]\nsource = \"nba_stats\"\npath = \"/healthz\"\n\n\
             [scrapers.second]\nsource = \"nba_stats\"\npath = \"/healthz\"\n\n\
             [workflows.both]\nsteps = [{{ scrapers = [\"first\"] }}, {{ scrapers = [\"second\"] }}]\n",
            sim.base_url()
        ),
    );
    let env = [("P1", urls[0].as_str()), ("P2", urls[1].as_str())];
    let out = rebound(&["-c", &config, "run", "both", "--json"], &env);
    let stdout = text(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains(PASSWORD), "{stdout}");
    assert_eq!(sim.request_count("/healthz"), 0);

    let db = dir.path().join("rebound.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT scraper_name, status, error_kind, error_message, attempts \
         FROM scraper_execution_log ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let calls: Vec<(String, String, Option<String>, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.get("scraper_name"),
                r.get("status"),
                r.get("error_kind"),
                r.get("attempts"),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("first".into(), "failed".into(), Some("client".into()), 2),
            (
                "second".into(),
                "skipped".into(),
                Some("breaker_open".into()),
                0
            ),
        ]
    );
    let message: String = rows[1].get("error_message");
    assert!(
        message.starts_with(
            "every proxy of source nba_stats is open: proxy 1 of 2 (1 failure, skipped until "
        ) && message.contains("proxy 2 of 2 (1 failure,"),
        "{message}"
    );
    assert!(
        !message.contains(PASSWORD) && !message.contains("127.0.0.1"),
        "{message}"
    );
}

/// A breaker held open by its source's failing health probe says so in
/// `rebound breakers`: since when the probe fails, and that no trial call
/// goes out until it answers; `--json` carries `probe_failing_since`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakers_show_a_failing_health_probe() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "[sources.api]\nbase_url = \"http://127.0.0.1:9\"\n\
         health = { path = \"/status\" }\n\n\
         [scrapers.s]\nsource = \"api\"\npath = \"/s\"\n",
    );
    let db = dir.path().join("rebound.db");
    let store = rebound_storage_sqlite::SqliteStore::open(&db)
        .await
        .unwrap();
    let since: chrono::DateTime<chrono::Utc> = "2026-11-28T17:00:00Z".parse().unwrap();
    use rebound_storage::Store;
    store
        .update_breaker("api", since, &mut |state| {
            state.phase = rebound_domain::breaker::Phase::Open;
            state.opened_at = Some(since);
            state.health_failing_since = Some(since);
            Vec::new()
        })
        .await
        .unwrap();
    store.checkpoint().await.unwrap();
    drop(store);

    let out = rebound(&["-c", &config, "breakers"], &[]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        table.contains("health probe failing since 2026-11-28 17:00"),
        "{table}"
    );
    assert!(
        table.contains("(no trial call until it answers)"),
        "{table}"
    );

    let out = rebound(&["-c", &config, "breakers", "--json"], &[]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["probe_failing_since"], "2026-11-28T17:00:00Z");
    assert_eq!(rows[0]["state"], "open");
}

/// A half-open breaker is half-open since it went half-open, in `rebound
/// breakers` and its JSON (the API's `breaker` object), as `rebound health`
/// says; `opened_at` keeps when the outage's breaker opened. They said the
/// opening, days earlier after a long outage, and the API's `breaker.since`
/// contradicted its own `health.breaker_since`. A due trial reads as the
/// next call, not as a probe in the past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_breaker_is_dated_from_going_half_open() {
    use rebound_domain::breaker::{Phase, Transition};
    use rebound_storage::Store;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "[sources.api]\nbase_url = \"http://127.0.0.1:9\"\n\n\
         [scrapers.s]\nsource = \"api\"\npath = \"/s\"\n",
    );
    let store = rebound_storage_sqlite::SqliteStore::open(&dir.path().join("rebound.db"))
        .await
        .unwrap();
    let opened: chrono::DateTime<chrono::Utc> = "2026-11-27T00:20:00Z".parse().unwrap();
    let half: chrono::DateTime<chrono::Utc> = "2026-11-28T05:00:00Z".parse().unwrap();
    store
        .update_breaker("api", opened, &mut |state| {
            state.phase = Phase::Open;
            state.opened_at = Some(opened);
            state.open_until = Some(half);
            vec![Transition {
                at: opened,
                from: Phase::Closed,
                to: Phase::Open,
                reason: "5 consecutive failures".into(),
            }]
        })
        .await
        .unwrap();
    store
        .update_breaker("api", half, &mut |state| {
            state.phase = Phase::HalfOpen;
            vec![Transition {
                at: half,
                from: Phase::Open,
                to: Phase::HalfOpen,
                reason: "open period ended".into(),
            }]
        })
        .await
        .unwrap();
    store.checkpoint().await.unwrap();
    drop(store);

    let out = rebound(&["-c", &config, "breakers", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["state"], "half_open");
    assert_eq!(rows[0]["since"], "2026-11-28T05:00:00Z");
    assert_eq!(rows[0]["opened_at"], "2026-11-27T00:20:00Z");

    let out = rebound(&["-c", &config, "breakers"], &[("COLUMNS", "400")]);
    let table = text(&out.stdout);
    assert!(table.contains("2026-11-28 05:00"), "{table}");
    assert!(table.contains("the next call (trial)"), "{table}");
}

/// An open breaker whose open period has ended, with no call since, lets
/// the next call through as its trial: its next probe is that call, not a
/// time in the past (the state stays `open` until a call asks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_past_its_open_period_probes_with_the_next_call() {
    use rebound_domain::breaker::Phase;
    use rebound_storage::Store;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "[sources.api]\nbase_url = \"http://127.0.0.1:9\"\n\n\
         [scrapers.s]\nsource = \"api\"\npath = \"/s\"\n",
    );
    let store = rebound_storage_sqlite::SqliteStore::open(&dir.path().join("rebound.db"))
        .await
        .unwrap();
    let opened: chrono::DateTime<chrono::Utc> = "2026-11-27T00:20:00Z".parse().unwrap();
    store
        .update_breaker("api", opened, &mut |state| {
            state.phase = Phase::Open;
            state.opened_at = Some(opened);
            state.open_until = Some(opened + chrono::TimeDelta::minutes(5));
            Vec::new()
        })
        .await
        .unwrap();
    store.checkpoint().await.unwrap();
    drop(store);
    let out = rebound(&["-c", &config, "breakers"], &[("COLUMNS", "400")]);
    let table = text(&out.stdout);
    assert!(table.contains("the next call (trial)"), "{table}");
}
