//! The dashboard in a real browser: Debian's `chromium`, headless, driven
//! through `chromedriver` by the `fantoccini` WebDriver client, against
//! the in-process service (`Role::Web`) on a SQLite history of a
//! realistic week: two workflows run all week (one every two hours, one
//! hourly), the balldontlie source has been down since this morning (its
//! breaker open, every call failing, its dataset stale), an alert
//! incident is open, and one failure carries markup in its message.
//!
//! Each page must load with no error in the browser's console (script
//! errors and policy violations land there), show the figures the week
//! implies, and its filters must work by the controls a person uses; a
//! screenshot of each page goes to `<target>/dashboard-screenshots/` (the
//! overview's is the one in the README).
//!
//! Without `chromedriver` the test says so and passes, unless
//! `REBOUND_REQUIRE_BROWSER=1` or `CI` is set (as `.ci/run` does): then a
//! missing browser is a failure, not a skip.

use super::dashboard::{HOSTILE, HOSTILE_ESCAPED, call, run, ts};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use rebound_domain::breaker::{BreakerConfig, BreakerState, Signal};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::outcome::{ErrorKind, WorkflowStatus};
use rebound_service::{Handle, Role, Service, ServiceConfig};
use rebound_storage::{AlertLevel, DecisionAction, NewAlertIncident, NewDecision, Store};
use rebound_storage_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

/// Saturday 2026-11-28, 12:00 EST.
fn now() -> DateTime<Utc> {
    ts("2026-11-28T17:00:00Z")
}

/// balldontlie went down at 09:00 EST today.
fn outage() -> DateTime<Utc> {
    ts("2026-11-28T14:00:00Z")
}

const CONFIG: &str = r#"
[pipeline]
name = "nba-week"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[server]
listen = "127.0.0.1:0"

[sources.nbacom]
base_url = "http://127.0.0.1:9/nba"

[sources.bdl]
base_url = "http://127.0.0.1:9/bdl"

[scrapers.injuries]
source = "nbacom"
path = "/injury-report"
dataset = "nbacom/injury_report"

[scrapers.bdl_games]
source = "bdl"
path = "/games"
dataset = "bdl/games"

[workflows.injuries]
scrapers = ["injuries"]
schedule = { kind = "cron", cron = "0 */2 * * *" }

[workflows.games]
scrapers = ["bdl_games"]
schedule = { kind = "cron", cron = "0 * * * *" }

[datasets."bdl/games"]
fresh_warn = "2h"
fresh_error = "12h"
"#;

/// The week, as the scheduler and the workers would have left it: 7 days
/// of hourly `games` and two-hourly `injuries` runs, each with its RUN
/// decision; every 11th injuries run timed out; balldontlie failing since
/// [`outage`], its breaker open since; one incident open.
async fn seed_week(store: &dyn Store) -> (usize, usize) {
    let start = now() - TimeDelta::days(7);
    let mut runs = 0;
    let mut failed = 0;
    let mut t = start;
    let mut n: u32 = 0;
    while t < now() {
        let hour = t.with_timezone(&NY).hour();
        for (workflow, scraper, source) in [
            ("games", "bdl_games", "bdl"),
            ("injuries", "injuries", "nbacom"),
        ] {
            if workflow == "injuries" && !hour.is_multiple_of(2) {
                continue;
            }
            n += 1;
            let id = format!("{workflow}-{}", t.format("%m%d-%H"));
            let ok = match workflow {
                "games" => t < outage(),
                _ => !n.is_multiple_of(11),
            };
            let error = match (ok, workflow) {
                (true, _) => None,
                (false, "games") if t == outage() => Some(HOSTILE.to_string()),
                (false, "games") => Some(format!(
                    "{scraper}: HTTP 503 after 3 attempts: Service Unavailable"
                )),
                (false, _) => Some(format!("{scraper}: timeout after 10s (3 attempts)")),
            };
            let status = if ok {
                WorkflowStatus::Success
            } else {
                WorkflowStatus::Failed
            };
            let at = t.to_rfc3339();
            store
                .record_workflow_execution(&run(&id, workflow, &at, status, error.as_deref()))
                .await
                .expect("run");
            let mut c = call(&id, scraper, source, &at, ok);
            if let Some(e) = &error {
                c.error_message = Some(e.clone());
            }
            store.record_scraper_call(&c).await.expect("call");
            store
                .record_decision(
                    &NewDecision {
                        decision_id: format!("d-{id}"),
                        workflow_name: workflow.to_string(),
                        decided_at: t,
                        slot: t.with_timezone(&NY).format("%H:%M").to_string(),
                        target_date: t.with_timezone(&NY).date_naive(),
                        action: DecisionAction::Run,
                        reason: "cron slot due".to_string(),
                        entities: "[]".to_string(),
                        alert_level: AlertLevel::None,
                        execution_id: Some(id.clone()),
                        decided_by: "week:scheduler".to_string(),
                    },
                    None,
                )
                .await
                .expect("decision");
            runs += 1;
            failed += usize::from(!ok);
        }
        t += TimeDelta::hours(1);
    }
    let cfg = BreakerConfig::default();
    let at = now() - TimeDelta::seconds(30);
    for _ in 0..cfg.consecutive_failures {
        let mut change = |s: &mut BreakerState| {
            s.record(
                &cfg,
                at,
                Signal::Unhealthy,
                Some((ErrorKind::Server, "HTTP 503")),
                None,
            )
        };
        store
            .update_breaker("bdl", at, &mut change)
            .await
            .expect("breaker");
    }
    store
        .open_alert_incident(
            &NewAlertIncident {
                condition: "source_unhealthy".to_string(),
                subject: "bdl".to_string(),
                level: "critical".to_string(),
                summary: "source bdl: every call fails since 09:00".to_string(),
                opened_at: outage() + TimeDelta::minutes(5),
                last_notified_at: None,
                caused_by: None,
            },
            &[],
        )
        .await
        .expect("incident");
    (runs, failed)
}

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(clippy::disallowed_methods)] // test knobs: is a browser required here?
fn browser_required() -> bool {
    std::env::var("REBOUND_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

#[allow(clippy::disallowed_methods)] // where the test finds the browser driver
fn find_chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
}

async fn start_driver(program: &Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver { child, url };
    for _ in 0..100 {
        if reqwest::get(format!("{}/status", driver.url))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {}", driver.url);
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1700", "--hide-scrollbars", "--lang=en-US"]
        }),
    );
    caps.insert(
        "goog:loggingPrefs".to_string(),
        serde_json::json!({ "browser": "ALL" }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a headless chromium session")
}

/// The console messages of level SEVERE since the last call (reading the
/// log empties it): script errors, policy violations, failed loads.
#[allow(clippy::disallowed_methods)] // a test's client for chromedriver's log endpoint
async fn console_errors(driver: &Driver, client: &Client) -> Vec<String> {
    let session = client.session_id().await.expect("session").expect("an id");
    // chromedriver's own endpoint (W3C WebDriver has none for logs).
    let body = reqwest::Client::new()
        .post(format!("{}/session/{session}/se/log", driver.url))
        .header("content-type", "application/json")
        .body(r#"{"type":"browser"}"#)
        .send()
        .await
        .expect("log request")
        .text()
        .await
        .expect("log body");
    let logs: serde_json::Value = serde_json::from_str(&body).expect("log JSON");
    logs["value"]
        .as_array()
        .expect("a list of entries")
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Emulates the system's colour scheme (`light` or `dark`) through
/// chromedriver's DevTools endpoint, as a phone in dark mode would ask.
#[allow(clippy::disallowed_methods)] // a test's client for chromedriver's DevTools endpoint
async fn color_scheme(driver: &Driver, client: &Client, scheme: &str) {
    let session = client.session_id().await.expect("session").expect("an id");
    let body = serde_json::json!({
        "cmd": "Emulation.setEmulatedMedia",
        "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] }
    });
    let response = reqwest::Client::new()
        .post(format!("{}/session/{session}/goog/cdp/execute", driver.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("cdp request");
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}

fn screenshots() -> PathBuf {
    // `<target>/tmp` for integration tests; its parent is the target dir.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Opens `path`, waits for its heading, checks the console and saves a
/// screenshot `name.png`; returns the page's HTML.
async fn visit(driver: &Driver, client: &Client, base: &str, path: &str, name: &str) -> String {
    client
        .goto(&format!("{base}{path}"))
        .await
        .expect("page loads");
    check(driver, client, name).await
}

async fn check(driver: &Driver, client: &Client, name: &str) -> String {
    client
        .wait()
        .for_element(Locator::Css("main h1"))
        .await
        .expect("a heading");
    let errors = console_errors(driver, client).await;
    assert!(errors.is_empty(), "console errors on {name}: {errors:#?}");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
    client.source().await.expect("source")
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .expect("find_all")
        .len()
}

/// Waits until the browser's URL satisfies `ok` (a form submitted by
/// script navigates asynchronously).
async fn wait_for_url(client: &Client, ok: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let url = client.current_url().await.expect("url").to_string();
        if ok(&url) {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page did not navigate as expected");
}

async fn serve(dir: &Path, store: Arc<dyn Store>) -> Handle {
    let plan = rebound_config::load_str(CONFIG, &dir.join("rebound.toml"), &|_| None)
        .expect("config is valid");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let config = ServiceConfig {
        plan,
        role: Role::Web,
        workers: 1,
        host: "browser-test".to_string(),
    };
    Service::start(config, store, clock)
        .await
        .expect("service starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_works_in_a_real_browser() {
    let Some(program) = find_chromedriver() else {
        assert!(
            !browser_required(),
            "chromedriver is not on PATH, and REBOUND_REQUIRE_BROWSER=1 or CI says the browser test must run: apt-get install -y chromium chromium-driver"
        );
        eprintln!(
            "SKIPPED every_page_works_in_a_real_browser: chromedriver is not on PATH (apt-get install -y chromium chromium-driver); set REBOUND_REQUIRE_BROWSER=1 to make this a failure"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("history.db"))
            .await
            .expect("sqlite"),
    );
    let (runs, failed) = seed_week(store.as_ref()).await;
    let handle = serve(dir.path(), store).await;
    let base = format!("http://{}", handle.local_addr().expect("listening"));
    let driver = start_driver(&program).await;
    let client = browser(&driver).await;

    // The console is read for real: an error logged by a script is seen
    // (and the log is empty again after reading it).
    client
        .goto(&format!("{base}/healthz"))
        .await
        .expect("healthz");
    client
        .execute("console.error('rebound console probe')", vec![])
        .await
        .expect("script");
    let probe = console_errors(&driver, &client).await;
    assert!(
        probe.iter().any(|m| m.contains("rebound console probe")),
        "{probe:?}"
    );

    // Overview: critical (the open breaker), the charts' totals, the
    // incident, the stale dataset, the markup shown as text.
    let html = visit(&driver, &client, &base, "/", "overview").await;
    assert_eq!(text(&client, "#level").await, "critical");
    let in_fortnight: usize = text(&client, "#runs-total").await.parse().expect("a count");
    assert_eq!(in_fortnight, runs, "the whole week is inside the 14 days");
    let calls_failed: usize = text(&client, "#calls-failed")
        .await
        .parse()
        .expect("a count");
    assert!(
        calls_failed >= 3,
        "balldontlie's calls since 09:00 at least"
    );
    assert!(text(&client, "#broken").await.contains("source bdl"));
    assert!(
        text(&client, "#incidents")
            .await
            .contains("source_unhealthy")
    );
    assert!(text(&client, "#stale").await.contains("bdl/games"));
    assert_eq!(
        count(&client, "#runs-chart svg g.bar").await,
        14,
        "one bar a day"
    );
    assert_eq!(
        count(&client, "#calls-chart svg g.bar").await,
        48,
        "one bar an hour"
    );
    assert!(html.contains(HOSTILE_ESCAPED) || !html.contains("<script>alert"));
    assert_eq!(
        client.execute("return window.__x === undefined && document.querySelectorAll('main script').length", vec![])
            .await
            .expect("script"),
        serde_json::json!(0),
        "the upstream's <script> is text, not an element"
    );

    // Runs: choosing a status in the filter reloads the table with it,
    // and the filter survives a reload.
    visit(&driver, &client, &base, "/runs", "runs").await;
    assert_eq!(
        count(&client, "#runs tbody tr").await,
        200,
        "the newest 200 of the week"
    );
    let select = client
        .find(Locator::Id("filter-status"))
        .await
        .expect("status filter");
    select
        .select_by_value("failed")
        .await
        .expect("choose failed");
    wait_for_url(&client, |u| u.contains("status=failed")).await;
    let _ = check(&driver, &client, "runs-failed").await;
    assert_eq!(count(&client, "#runs tbody tr").await, failed);
    assert_eq!(
        count(&client, "#runs tbody tr[data-status=\"failed\"]").await,
        failed
    );
    client.refresh().await.expect("reload");
    let _ = check(&driver, &client, "runs-failed").await;
    assert_eq!(
        count(&client, "#runs tbody tr").await,
        failed,
        "the filter is in the URL"
    );
    let workflow = client
        .find(Locator::Id("filter-workflow"))
        .await
        .expect("workflow filter");
    workflow
        .select_by_value("injuries")
        .await
        .expect("choose injuries");
    wait_for_url(&client, |u| {
        u.contains("workflow=injuries") && u.contains("status=failed")
    })
    .await;
    let _ = check(&driver, &client, "runs-failed-injuries").await;
    let injuries_failed = count(&client, "#runs tbody tr").await;
    assert!(
        injuries_failed > 0 && injuries_failed < failed,
        "{injuries_failed} of {failed}"
    );

    // A run: open the failed run with the markup; three attempts, waits.
    let outage_id = format!("games-{}", outage().format("%m%d-%H"));
    visit(
        &driver,
        &client,
        &base,
        &format!("/runs/{outage_id}"),
        "run",
    )
    .await;
    assert_eq!(text(&client, "#run-status").await, "failed");
    assert_eq!(count(&client, "table.attempts tbody tr").await, 3);
    assert!(
        text(&client, "#run-error")
            .await
            .contains("<script>alert(\"x\")</script>"),
        "shown as text"
    );

    // Sources: balldontlie's breaker open, its failures; NBA.com closed.
    visit(&driver, &client, &base, "/sources", "sources").await;
    assert_eq!(text(&client, "#source-bdl .breaker").await, "open");
    assert_eq!(text(&client, "#source-nbacom .breaker").await, "closed");
    assert_eq!(count(&client, "svg.spark").await, 2);

    // Datasets: bdl/games past its warning limit (3 hours without data).
    visit(&driver, &client, &base, "/datasets", "datasets").await;
    let games = client
        .find(Locator::Css("tr[id=\"dataset-bdl/games\"]"))
        .await
        .expect("bdl/games row");
    assert_eq!(
        games.attr("data-level").await.expect("attr").as_deref(),
        Some("warning")
    );

    // Schedule: today's decisions; the date picker shows another day.
    visit(&driver, &client, &base, "/schedule", "schedule").await;
    assert_eq!(text(&client, "#schedule-date").await, "2026-11-28");
    let today_decisions = count(&client, "#decisions tbody tr").await;
    assert_eq!(
        today_decisions,
        12 + 6,
        "00:00 to 11:00: 12 games runs, 6 injuries runs"
    );
    client
        .execute(
            "const d = document.getElementById('date-picker'); d.value = '2026-11-25'; d.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await
        .expect("pick a date");
    wait_for_url(&client, |u| u.contains("date=2026-11-25")).await;
    let _ = check(&driver, &client, "schedule-2026-11-25").await;
    assert_eq!(text(&client, "#schedule-date").await, "2026-11-25");
    assert_eq!(
        count(&client, "#decisions tbody tr").await,
        24 + 12,
        "a whole day"
    );

    // Dark mode when the system asks for it.
    let background = "return getComputedStyle(document.body).backgroundColor";
    client.goto(&format!("{base}/")).await.expect("overview");
    let light = client.execute(background, vec![]).await.expect("script");
    color_scheme(&driver, &client, "dark").await;
    visit(&driver, &client, &base, "/", "overview-dark").await;
    let dark = client.execute(background, vec![]).await.expect("script");
    assert_eq!(light, serde_json::json!("rgb(247, 248, 250)"));
    assert_eq!(dark, serde_json::json!("rgb(17, 20, 24)"));
    color_scheme(&driver, &client, "light").await;

    // A phone: nothing wider than the screen.
    client.set_window_size(390, 844).await.expect("phone size");
    visit(&driver, &client, &base, "/", "overview-phone").await;
    let fits = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        fits,
        serde_json::json!(true),
        "the overview fits a 390 px screen"
    );
    visit(&driver, &client, &base, "/runs", "runs-phone").await;

    client.close().await.expect("close the browser");
    drop(driver);
    handle.stop().await;
}
