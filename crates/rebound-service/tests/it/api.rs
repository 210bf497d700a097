//! The JSON API of `rebound serve` (issue 16, docs/api.md), over loopback
//! HTTP against the service started in-process: every endpoint on both
//! backends (a real SQLite file, a PostgreSQL schema of the test's own),
//! the bearer token (401, 403, 200), pagination, problem documents for bad
//! input, and no secret in any answer.
//!
//! The service runs on a `VirtualClock` at 05:00 in New York: the one
//! scheduled workflow's window opens at 06:00, so the service's own
//! scheduler decides once and sleeps until the test moves time (it never
//! does), and everything in the history was asked for by the test.
//! Retries are off (`max_attempts = 1`): a retry would sleep on that clock.

use chrono::{DateTime, TimeZone, Utc};
use rebound_domain::clock::VirtualClock;
use rebound_domain::plan::{DatabaseLocation, Plan};
use rebound_service::{Handle, Role, Service, ServiceConfig};
use rebound_storage::Store;
use rebound_storage_postgres::PostgresStore;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "api_token_3f9c1d2e7b5a4c68";
const UPSTREAM_KEY: &str = "upstream_key_93ad17c2e8";

/// 05:00 in New York on 2026-11-28.
fn five_am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
        .single()
        .expect("valid instant")
}

fn config(database: &str, sim: &str, server: &str) -> String {
    format!(
        r#"
[pipeline]
name = "api"
timezone = "America/New_York"
database = "{database}"
raw_store = "file://raw"

[retry]
max_attempts = 1

[server]
{server}

[sources.up]
base_url = "{sim}"
timeout = "10s"
query = {{ key = "${{UP_KEY}}" }}

[sources.up.breaker]
consecutive_failures = 1
open_for = "1h"

[sources.other]
base_url = "{sim}"
timeout = "10s"

[scrapers.item]
source = "other"
path = "/a/item"
dataset = "other/item"

[scrapers.slow]
source = "other"
path = "/a/slow"

[scrapers.broken]
source = "up"
path = "/a/broken"

[workflows.daily]
scrapers = ["item"]

[workflows.patient]
scrapers = ["slow"]

[workflows.failing]
scrapers = ["broken"]

[workflows.timed]
scrapers = ["item"]
schedule = {{ kind = "window", start = "06:00", end = "18:00" }}
"#
    )
}

fn plan(dir: &Path, toml: &str) -> Plan {
    let lookup = |name: &str| match name {
        "API_TOKEN" => Some(TOKEN.to_string()),
        "UP_KEY" => Some(UPSTREAM_KEY.to_string()),
        _ => None,
    };
    rebound_config::load_str(toml, &dir.join("rebound.toml"), &lookup).expect("config is valid")
}

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
fn pg_url() -> String {
    std::env::var("REBOUND_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A started service and what the test needs to talk to it.
struct Api {
    handle: Handle,
    base: String,
    client: reqwest::Client,
    store: Arc<dyn Store>,
    /// The service's clock: moves only when the test moves it.
    clock: Arc<VirtualClock>,
    /// Every body answered, to check none carries a secret.
    bodies: std::sync::Mutex<Vec<String>>,
    schema: Option<(String, sqlx::PgPool)>,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl Answer {
    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an RFC 9457 problem document with this status.
    fn problem(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert_eq!(self.json["type"], "about:blank");
        assert!(self.json["title"].as_str().is_some_and(|t| !t.is_empty()));
        self.json["detail"].as_str().expect("a detail")
    }
}

impl Api {
    #[allow(clippy::disallowed_methods)] // the test's own client of the API, not a request Rebound sends
    async fn start(backend: Backend, sim: &UpstreamSim, server: &str) -> Api {
        Api::start_as(backend, sim, server, Role::All).await
    }

    #[allow(clippy::disallowed_methods)] // the test's own client of the API, not a request Rebound sends
    async fn start_as(backend: Backend, sim: &UpstreamSim, server: &str, role: Role) -> Api {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database, store, schema): (String, Arc<dyn Store>, _) = match backend {
            Backend::Sqlite => {
                let path = dir.path().join("history.db");
                let store = SqliteStore::open(&path).await.expect("sqlite");
                ("sqlite://history.db".to_string(), Arc::new(store), None)
            }
            Backend::Postgres => {
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                let store = PostgresStore::connect_with_schema(&pg_url(), &name)
                    .await
                    .expect("PostgreSQL must be running for this test: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start");
                let pool = store.pool().clone();
                (pg_url(), Arc::new(store), Some((name, pool)))
            }
        };
        let plan = plan(dir.path(), &config(&database, &sim.base_url(), server));
        if let DatabaseLocation::Sqlite { path } = &plan.pipeline.database {
            assert!(path.starts_with(dir.path()));
        }
        let clock = Arc::new(VirtualClock::new(five_am()));
        let handle = Service::start(
            ServiceConfig {
                plan,
                role,
                workers: 1,
                host: "api-test".to_string(),
            },
            store.clone(),
            clock.clone(),
        )
        .await
        .expect("service starts");
        let addr = handle.local_addr().expect("listening");
        Api {
            handle,
            clock,
            base: format!("http://127.0.0.1:{}", addr.port()),
            client: reqwest::Client::new(),
            store,
            bodies: std::sync::Mutex::new(Vec::new()),
            schema,
            _dir: dir,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.bodies.lock().expect("bodies").push(text.clone());
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn get_with(&self, path: &str, token: &str) -> Answer {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.send(request).await
    }

    async fn stop(self) {
        let bodies = self.bodies.lock().expect("bodies").clone();
        for body in &bodies {
            assert!(!body.contains(UPSTREAM_KEY), "upstream key in {body}");
            assert!(!body.contains(TOKEN), "API token in {body}");
        }
        tokio::time::timeout(Duration::from_secs(20), self.handle.stop())
            .await
            .expect("the service stops");
        if let Some((name, pool)) = self.schema {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
                .execute(&pool)
                .await;
        }
    }
}

fn script(sim: &UpstreamSim) {
    let ok = || Reply::json(200, json!({"data": [1, 2, 3]}));
    sim.script("/a/item", vec![ok(), ok(), ok(), ok(), ok(), ok()]);
    sim.script(
        "/a/slow",
        vec![Reply::json(200, json!({"data": [1]})).delay(Duration::from_millis(1500))],
    );
    sim.script(
        "/a/broken",
        vec![Reply::text(503, "down: try later"), Reply::status(503)],
    );
}

const SERVER: &str = "listen = \"127.0.0.1:0\"\ntoken = \"${API_TOKEN}\"";

/// Every path the issue names, as the OpenAPI document must list them.
const PATHS: [&str; 15] = [
    "/api/v1/health",
    "/api/v1/freshness",
    "/api/v1/sources",
    "/api/v1/lockouts",
    "/api/v1/alerts",
    "/api/v1/runs",
    "/api/v1/runs/{execution_id}",
    "/api/v1/calls",
    "/api/v1/decisions",
    "/api/v1/plan",
    "/api/v1/scrape",
    "/api/v1/workflows/{name}/runs",
    "/api/v1/evaluate",
    "/api/v1/breakers/{source}/reset",
    "/api/v1/lockouts/reset",
];

async fn every_endpoint(backend: Backend) {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(backend, &sim, SERVER).await;

    // The document lists every endpoint, as OpenAPI 3.1.
    let doc = api.get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert!(
        doc.json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let listed: BTreeSet<&str> = doc.json["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(listed, PATHS.into_iter().collect());
    // `status` lists the values it takes (another is a 400).
    for (list, expected) in [
        (
            "/api/v1/runs",
            json!(["running", "success", "partial", "failed", "no_data"]),
        ),
        (
            "/api/v1/calls",
            json!([
                "success",
                "no_data",
                "failed",
                "skipped",
                "not_yet_available",
                "overdue"
            ]),
        ),
    ] {
        let status = doc.json["paths"][list]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "status")
            .expect("a status parameter");
        let schema = &status["schema"];
        let values = schema["enum"].clone();
        let values = if values.is_null() {
            schema["oneOf"]
                .as_array()
                .and_then(|one| one.iter().find_map(|s| s.get("enum").cloned()))
                .unwrap_or(Value::Null)
        } else {
            values
        };
        assert_eq!(values, expected, "{list}: {status}");
    }
    assert_eq!(
        doc.json["paths"]["/api/v1/scrape"]["post"]["responses"]["401"]["content"]["application/problem+json"]
            ["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    // The lockout reset's own 404 (an entity without a lock) is listed,
    // as a problem document.
    let not_found = &doc.json["paths"]["/api/v1/lockouts/reset"]["post"]["responses"]["404"];
    assert!(
        not_found["description"]
            .as_str()
            .is_some_and(|d| d.contains("entity named that holds no lock")),
        "{not_found}"
    );
    assert_eq!(
        not_found["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );

    // Mutations: one call, by the original's /scrape.
    let call = api
        .post(
            "/api/v1/scrape",
            Some(json!({"scraper": "item", "date": "2026-11-27"})),
        )
        .await;
    assert_eq!(call.status, 200, "{}", call.text);
    assert_eq!(call.json["status"], "success");
    assert_eq!(call.json["scraper"], "item");
    assert!(call.json["id"].as_i64().is_some_and(|id| id > 0));

    // A workflow run that finishes within the wait: 200 and its report.
    let run = api
        .post(
            "/api/v1/workflows/daily/runs?wait=30s",
            Some(json!({"date": "2026-11-28"})),
        )
        .await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json["status"], "success");
    assert_eq!(run.json["target_date"], "2026-11-28");
    let daily_id = run.json["execution_id"].as_str().expect("id").to_string();

    // One that outlasts it: 202, the execution id and where to poll.
    let accepted = api.post("/api/v1/workflows/patient/runs", None).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let patient_id = accepted.json["execution_id"]
        .as_str()
        .expect("id")
        .to_string();
    let location = format!("/api/v1/runs/{patient_id}");
    assert_eq!(accepted.headers["location"], location.as_str());
    assert_eq!(accepted.json["location"], location.as_str());
    assert_eq!(
        accepted.json["target_date"], "2026-11-28",
        "today at 05:00 New York"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let finished = loop {
        let polled = api.get(&location).await;
        assert_eq!(polled.status, 200, "{}", polled.text);
        if polled.json["run"]["status"] != "running" {
            break polled;
        }
        assert!(Instant::now() < deadline, "the run never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished.json["run"]["status"], "success");
    let attempts = &finished.json["calls"][0]["attempts_detail"];
    assert_eq!(
        attempts.as_array().map(Vec::len),
        Some(1),
        "{}",
        finished.text
    );
    assert_eq!(attempts[0]["http_status"], 200);
    assert!(attempts[0]["duration_ms"].as_i64().is_some());

    // A failing run opens the breaker of `up` (one failure opens it).
    let failed = api
        .post("/api/v1/workflows/failing/runs?wait=30s", None)
        .await;
    assert_eq!(failed.status, 200, "{}", failed.text);
    assert_eq!(failed.json["status"], "failed");

    // Runs, newest first, in pages of one: all three, no repeat.
    let mut seen = Vec::new();
    let mut path = "/api/v1/runs?limit=1".to_string();
    loop {
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let runs = page.json["runs"].as_array().expect("runs").clone();
        assert!(runs.len() <= 1);
        seen.extend(
            runs.iter()
                .map(|r| r["execution_id"].as_str().unwrap_or("").to_string()),
        );
        match page.json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/runs?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    let failed_id = failed.json["execution_id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        seen,
        [failed_id.clone(), patient_id.clone(), daily_id.clone()]
    );
    let only_failed = api.get("/api/v1/runs?status=failed").await;
    assert_eq!(only_failed.json["runs"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        only_failed.json["runs"][0]["execution_id"],
        failed_id.as_str()
    );
    let of_daily = api
        .get("/api/v1/runs?workflow=daily&from=2026-11-28&to=2026-11-28")
        .await;
    assert_eq!(
        of_daily.json["runs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        of_daily.text
    );
    let before = api.get("/api/v1/runs?to=2026-11-27").await;
    assert_eq!(
        before.json["runs"],
        json!([]),
        "runs started on the 28th only"
    );

    // Calls, with filters.
    let calls = api.get("/api/v1/calls?scraper=item").await;
    assert_eq!(calls.status, 200, "{}", calls.text);
    assert_eq!(
        calls.json["calls"].as_array().map(Vec::len),
        Some(2),
        "{}",
        calls.text
    );
    let mut ids = Vec::new();
    let mut path = "/api/v1/calls?limit=1".to_string();
    loop {
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        ids.extend(
            page.json["calls"]
                .as_array()
                .expect("calls")
                .iter()
                .map(|c| c["id"].clone()),
        );
        match page.json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/calls?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 4, "scrape, daily, patient, failing: {ids:?}");
    let distinct: BTreeSet<String> = ids.iter().map(Value::to_string).collect();
    assert_eq!(distinct.len(), 4, "no call twice: {ids:?}");
    let failed_calls = api.get("/api/v1/calls?status=failed&limit=500").await;
    assert_eq!(failed_calls.json["calls"][0]["scraper_name"], "broken");

    // Reports.
    let health = api.get("/api/v1/health?since=7d").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_ne!(health.json["level"], "ok", "an open breaker");
    let up = health.json["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == "up")
        .expect("up")
        .clone();
    assert_eq!(up["breaker"], "open");
    // The same document as `rebound health --json --no-probe` at that time.
    let engine = api.handle.engine().clone();
    let now: DateTime<Utc> = health.json["generated_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("generated_at");
    let since: DateTime<Utc> = health.json["since"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("since");
    let same = rebound_service::api::reports::health(&engine, None, now, since)
        .await
        .expect("report");
    // The hand-off section moves on its own (the service's publisher sends
    // the runs' completion events meanwhile); everything else is equal.
    let mut served = health.json.clone();
    let mut built = serde_json::to_value(&same).expect("json");
    for doc in [&mut served, &mut built] {
        doc.as_object_mut().expect("object").remove("handoff");
    }
    assert_eq!(served, built);

    let freshness = api.get("/api/v1/freshness").await;
    assert_eq!(freshness.status, 200, "{}", freshness.text);
    assert!(
        freshness.json["datasets"]
            .as_array()
            .expect("datasets")
            .iter()
            .any(|d| d["name"] == "other/item"),
        "{}",
        freshness.text
    );

    let sources = api.get("/api/v1/sources").await;
    assert_eq!(sources.status, 200, "{}", sources.text);
    let up = sources.json["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == "up")
        .cloned()
        .expect("up");
    assert_eq!(up["breaker"]["state"], "open");
    assert_eq!(up["health"]["failed"], 1);
    assert_eq!(up["health"]["failure_rate"], 1.0);
    assert_eq!(up["quota"], Value::Null);

    let reset = api.post("/api/v1/breakers/up/reset", None).await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(
        reset.json,
        json!({"source": "up", "reset": true, "was": "open"})
    );
    let again = api.post("/api/v1/breakers/up/reset", None).await;
    assert_eq!(again.json["reset"], false);

    let lockouts = api.get("/api/v1/lockouts").await;
    assert_eq!(lockouts.status, 200, "{}", lockouts.text);
    assert_eq!(lockouts.json["lockouts"], json!([]));
    let released = api
        .post("/api/v1/lockouts/reset", Some(json!({"scraper": "item"})))
        .await;
    assert_eq!(
        released.json,
        json!({"scraper": "item", "entity": null, "released": 0})
    );

    let alerts = api.get("/api/v1/alerts?limit=5").await;
    assert_eq!(alerts.status, 200, "{}", alerts.text);
    assert!(alerts.json["open"].is_array());

    // The schedule: a pass now, its decisions, and the day's plan.
    let pass = api.post("/api/v1/evaluate", None).await;
    assert_eq!(pass.status, 200, "{}", pass.text);
    let timed = pass.json["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["workflow"] == "timed")
        .cloned()
        .expect("timed was evaluated");
    assert_eq!(timed["action"], "skip", "{timed}");
    assert_eq!(timed["queued"], false);
    let decisions = api
        .get("/api/v1/decisions?date=2026-11-28&workflow=timed")
        .await;
    assert_eq!(decisions.status, 200, "{}", decisions.text);
    let recorded = decisions.json["decisions"].as_array().expect("decisions");
    assert!(
        recorded.len() >= 2,
        "the service's own and the API's: {recorded:?}"
    );
    assert!(recorded.iter().all(|d| d["workflow"] == "timed"));
    assert!(recorded.iter().any(|d| {
        d["decided_by"]
            .as_str()
            .is_some_and(|b| b.ends_with(":api"))
    }));
    let other_day = api.get("/api/v1/decisions?date=2026-11-20").await;
    assert_eq!(other_day.json["decisions"], json!([]));
    let planned = api.get("/api/v1/plan?date=2026-11-28").await;
    assert_eq!(planned.status, 200, "{}", planned.text);
    let runs: Vec<&Value> = planned.json["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|d| d["workflow"] == "timed" && d["action"] == "run")
        .collect();
    assert_eq!(runs.len(), 1, "{}", planned.text);

    // What the store holds is what the API said.
    let stored = api
        .store
        .workflow_execution(&daily_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.status, "success");

    api.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_on_sqlite() {
    every_endpoint(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_on_postgres() {
    every_endpoint(Backend::Postgres).await;
}

/// Before: no limit; 20,000 idle connections took every descriptor of the
/// process, and its scheduled runs failed to reach their upstreams. Past
/// the cap a connection waits in the backlog until one closes.
#[tokio::test]
#[allow(clippy::disallowed_methods)] // the test's own client of the endpoint, not a request Rebound sends
async fn the_http_endpoint_holds_at_most_its_cap_of_connections() {
    let sim = UpstreamSim::start().await.expect("sim");
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let addr = api.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..rebound_service::MAX_CONNECTIONS {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    // Brief real waits: this is about connections, not a simulated clock.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .expect("client");
    let url = format!("{}/healthz", api.base);
    assert!(
        client.get(&url).send().await.is_err(),
        "answered past the cap"
    );
    idle.clear();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let answer = client
        .get(&url)
        .send()
        .await
        .expect("answered once a slot is free");
    assert_eq!(answer.status().as_u16(), 200);
}

/// Before: `--role web`, documented to run, schedule and send nothing,
/// called upstreams over `POST /scrape` and queued runs over `/evaluate`.
#[tokio::test]
async fn the_web_role_runs_nothing_over_the_api() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start_as(Backend::Sqlite, &sim, SERVER, Role::Web).await;
    for (path, body) in [
        ("/api/v1/scrape", Some(json!({"scraper": "item"}))),
        ("/api/v1/workflows/daily/runs", None),
        ("/api/v1/evaluate", None),
    ] {
        let answer = api.post(path, body).await;
        assert!(
            answer.problem(409).starts_with(
                "this process serves --role web, which runs, schedules and sends nothing"
            ),
            "{path}"
        );
    }
    assert_eq!(sim.requests().len(), 0, "nothing was sent upstream");
}

async fn bad_input(backend: Backend) {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(backend, &sim, SERVER).await;

    // The token: missing, wrong, then right.
    let missing = api
        .send(
            api.client
                .post(format!("{}/api/v1/evaluate", api.base))
                .header("content-type", "application/json"),
        )
        .await;
    assert!(missing.problem(401).contains("Authorization: Bearer"));
    assert!(
        missing.headers["www-authenticate"]
            .to_str()
            .is_ok_and(|v| v.starts_with("Bearer"))
    );
    let wrong = api
        .send(
            api.client
                .post(format!("{}/api/v1/evaluate", api.base))
                .bearer_auth("not-the-token-at-all"),
        )
        .await;
    assert!(wrong.problem(401).contains("not the one configured"));
    assert!(
        wrong.headers["www-authenticate"]
            .to_str()
            .is_ok_and(|v| v.contains("invalid_token"))
    );

    // Unknown names: 404 naming what the config defines.
    let scraper = api
        .post("/api/v1/scrape", Some(json!({"scraper": "nope"})))
        .await;
    let detail = scraper.problem(404);
    assert!(
        detail.contains("unknown scraper \"nope\"") && detail.contains("item"),
        "{detail}"
    );
    let workflow = api.post("/api/v1/workflows/nope/runs", None).await;
    assert!(
        workflow
            .problem(404)
            .contains("daily, failing, patient, timed")
    );
    let source = api.post("/api/v1/breakers/nope/reset", None).await;
    assert!(source.problem(404).contains("other, up"));
    let lockouts = api
        .post("/api/v1/lockouts/reset", Some(json!({"scraper": "nope"})))
        .await;
    assert!(lockouts.problem(404).contains("unknown scraper"));
    // A scraper the config no longer has, while it holds a lock (listed
    // by GET /api/v1/lockouts): released, not refused as unknown.
    let now = rebound_domain::clock::Clock::now(api.clock.as_ref());
    api.store
        .lock_entity(&rebound_storage::NewLockout {
            scraper_name: "old_item".into(),
            entity: "e1".into(),
            locked_at: now,
            until: now + chrono::TimeDelta::hours(1),
            consecutive: 3,
            reason: "3 consecutive failures".into(),
            source_hash: None,
        })
        .await
        .expect("lock");
    let old = api
        .post(
            "/api/v1/lockouts/reset",
            Some(json!({"scraper": "old_item"})),
        )
        .await;
    assert_eq!(old.status, 200, "{}", old.text);
    assert_eq!(old.json["released"], 1, "{}", old.text);
    // An entity named that holds no lock is a 404 saying so (as `rebound
    // lockouts reset SCRAPER ENTITY` exits 1), not a 200 with released 0;
    // the other entity's lock stays.
    for entity in ["e1", "e2"] {
        api.store
            .lock_entity(&rebound_storage::NewLockout {
                scraper_name: "item".into(),
                entity: entity.into(),
                locked_at: now,
                until: now + chrono::TimeDelta::hours(1),
                consecutive: 3,
                reason: "3 consecutive failures".into(),
                source_hash: None,
            })
            .await
            .expect("lock");
    }
    let one = json!({"scraper": "item", "entity": "e1"});
    let first = api.post("/api/v1/lockouts/reset", Some(one.clone())).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        first.json,
        json!({"scraper": "item", "entity": "e1", "released": 1})
    );
    let again = api.post("/api/v1/lockouts/reset", Some(one)).await;
    let detail = again.problem(404);
    assert_eq!(
        detail,
        "entity \"e1\" holds no lock of scraper \"item\"; nothing released (GET /api/v1/lockouts lists the locked entities)"
    );
    let locked: Vec<String> = api
        .store
        .open_lockouts(Some("item"))
        .await
        .expect("lockouts")
        .into_iter()
        .map(|row| row.entity)
        .collect();
    assert_eq!(locked, ["e2"]);
    let run = api.get("/api/v1/runs/no-such-run").await;
    assert!(run.problem(404).contains("no-such-run"));
    let endpoint = api.get("/api/v1/nothing/here").await;
    assert!(endpoint.problem(404).contains("/api/v1/openapi.json"));

    // Bodies: unknown fields, bad JSON, wrong type, too large, not JSON.
    let unknown = api
        .post(
            "/api/v1/scrape",
            Some(json!({"scraper": "item", "bogus": 1})),
        )
        .await;
    assert!(unknown.problem(400).contains("unknown field `bogus`"));
    let broken = api
        .send(
            api.client
                .post(format!("{}/api/v1/scrape", api.base))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body("{\"scraper\": "),
        )
        .await;
    assert!(broken.problem(400).starts_with("request body:"));
    let typed = api
        .post("/api/v1/scrape", Some(json!({"scraper": 7})))
        .await;
    assert!(typed.problem(400).contains("invalid type"));
    // serde reads an array as the struct's fields by position: this one
    // ran the scraper (200), and `[]` read "invalid length 0, expected
    // struct ScrapeRequest with 3 elements".
    for (path, body) in [
        ("/api/v1/scrape", json!(["item", "2026-11-28", {}])),
        ("/api/v1/scrape", json!([])),
        ("/api/v1/workflows/daily/runs", json!(["2026-11-28"])),
        ("/api/v1/lockouts/reset", json!(["item", "x"])),
    ] {
        let array = api.post(path, Some(body)).await;
        assert_eq!(
            array.problem(400),
            "request body: expected a JSON object ({\"name\": value, ...})",
            "{path}"
        );
    }
    let missing_field = api.post("/api/v1/scrape", None).await;
    assert!(missing_field.problem(400).contains("scraper"));
    let date = api
        .post(
            "/api/v1/scrape",
            Some(json!({"scraper": "item", "date": "28/11/2026"})),
        )
        .await;
    assert!(date.problem(400).contains("YYYY-MM-DD"));
    // Past the zone rules' last year, local times would be silently off.
    let far = api
        .post(
            "/api/v1/scrape",
            Some(json!({"scraper": "item", "date": "2100-03-14"})),
        )
        .await;
    assert_eq!(
        far.problem(400),
        "date \"2100-03-14\": after 2099-12-31, where the time-zone rules Rebound knows end (local times would be wrong)"
    );
    // A parameter no template uses is refused, not ignored (as the CLI's
    // --param), for one call and for a workflow run.
    let param = api
        .post(
            "/api/v1/scrape",
            Some(json!({"scraper": "item", "params": {"game_id": "g1"}})),
        )
        .await;
    assert_eq!(
        param.problem(400),
        "params: unknown parameter \"game_id\" for scraper \"item\"; it takes no parameters"
    );
    let param = api
        .post(
            "/api/v1/workflows/daily/runs",
            Some(json!({"params": {"gameid": "g1"}})),
        )
        .await;
    assert!(
        param
            .problem(400)
            .contains("unknown parameter \"gameid\" for workflow \"daily\""),
    );
    let huge = api
        .post(
            "/api/v1/lockouts/reset",
            Some(json!({"scraper": "item", "entity": "x".repeat(70_000)})),
        )
        .await;
    assert!(huge.problem(413).contains("64 KB"));
    // Before: a length announced past the limit, with less sent, held the
    // request open unanswered; it is refused from the header.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(api.base.trim_start_matches("http://"))
            .await
            .expect("connect");
        let head = format!(
            "POST /api/v1/lockouts/reset HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{}}"
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = vec![0u8; 64];
        // A guard against hanging, not a speed bound.
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
            .await
            .expect("answered before the body came")
            .expect("read");
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }
    let text = api
        .send(
            api.client
                .post(format!("{}/api/v1/lockouts/reset", api.base))
                .bearer_auth(TOKEN)
                .header("content-type", "text/plain")
                .body("scraper=item"),
        )
        .await;
    assert!(text.problem(415).contains("application/json"));
    // Before: a charset other than UTF-8 was accepted and its bytes read
    // as UTF-8.
    let latin1 = api
        .send(
            api.client
                .post(format!("{}/api/v1/lockouts/reset", api.base))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json; charset=latin1")
                .body("{\"scraper\": \"item\"}"),
        )
        .await;
    assert_eq!(
        latin1.problem(415),
        "request body: JSON is UTF-8; charset=latin1 is not accepted"
    );
    let wait = api.post("/api/v1/workflows/daily/runs?wait=1h", None).await;
    assert!(wait.problem(400).contains("at most 5m"));

    // Query strings.
    assert!(
        api.get("/api/v1/runs?limit=0")
            .await
            .problem(400)
            .contains("1 to 500")
    );
    assert!(
        api.get("/api/v1/runs?limit=501")
            .await
            .problem(400)
            .contains("1 to 500")
    );
    assert!(
        api.get("/api/v1/runs?limit=abc")
            .await
            .problem(400)
            .contains("limit")
    );
    assert!(
        api.get("/api/v1/runs?cursor=zz")
            .await
            .problem(400)
            .contains("cursor")
    );
    assert!(
        api.get("/api/v1/calls?cursor=abcd")
            .await
            .problem(400)
            .contains("cursor")
    );
    // Well-formed hex of a malformed key: "|", "12|" (no key), "12|x" (a
    // call id that is not a number), a time beyond chrono's range.
    for cursor in [
        "7c",
        "31327c",
        "31327c78",
        "393939393939393939393939393939397c61",
        // Within chrono's range, past four-digit years: a 500 on PostgreSQL.
        "2d383231303239383431323830303030307c78",
    ] {
        for list in ["runs", "calls"] {
            let path = format!("/api/v1/{list}?cursor={cursor}");
            if list == "runs" && cursor == "31327c78" {
                continue; // "x" is a valid execution id
            }
            assert!(
                api.get(&path).await.problem(400).contains("cursor"),
                "{path}"
            );
        }
    }
    // Before: each of these was a 500 on PostgreSQL ("invalid byte
    // sequence for encoding UTF8: 0x00").
    for path in [
        "/api/v1/runs?status=%00",
        "/api/v1/calls?scraper=a%00b",
        "/api/v1/runs/%00",
        "/runs/%00",
    ] {
        assert!(
            api.get(path)
                .await
                .problem(400)
                .contains("holds a NUL character (%00)"),
            "{path}"
        );
    }
    let nul = api
        .post(
            "/api/v1/lockouts/reset",
            Some(json!({"scraper": "item", "entity": "\u{0}"})),
        )
        .await;
    assert!(
        nul.problem(400).contains("holds a NUL character"),
        "{:?}",
        nul.json
    );
    assert!(
        api.get("/api/v1/runs?from=yesterday")
            .await
            .problem(400)
            .contains("from")
    );
    assert!(
        api.get("/api/v1/runs?colour=red")
            .await
            .problem(400)
            .contains("unknown field `colour`")
    );
    // Before: an unknown status and a reversed range answered 200 with an
    // empty page, as if nothing matched; an endpoint without parameters
    // ignored any (`/runs?colour=red` was already a 400).
    assert_eq!(
        api.get("/api/v1/runs?status=bogus").await.problem(400),
        "status \"bogus\": expected one of running, success, partial, failed, no_data"
    );
    assert_eq!(
        api.get("/api/v1/calls?status=bogus").await.problem(400),
        "status \"bogus\": expected one of success, no_data, failed, skipped, not_yet_available, overdue"
    );
    for list in ["runs", "calls"] {
        let path = format!("/api/v1/{list}?from=2026-01-06&to=2026-01-05");
        let answer = api.get(&path).await;
        let detail = answer.problem(400);
        assert!(
            detail.starts_with("from \"2026-01-06\" is not before to \"2026-01-05\""),
            "{path}: {detail}"
        );
        // One day, and a status that exists: still answered.
        let path = format!("/api/v1/{list}?from=2026-01-05&to=2026-01-05&status=failed");
        assert_eq!(api.get(&path).await.status, 200, "{path}");
    }
    for path in [
        "/api/v1/freshness?x=1",
        "/api/v1/lockouts?x=1",
        "/api/v1/runs/abc?x=1",
    ] {
        assert_eq!(
            api.get(path).await.problem(400),
            "query string: unknown field `x`, this endpoint takes no query parameters",
            "{path}"
        );
    }
    let evaluate = api.post("/api/v1/evaluate?x=1", None).await;
    assert!(evaluate.problem(400).contains("unknown field `x`"));
    // A built-in parameter, in the API's words (it said "--param").
    let builtin = api
        .post(
            "/api/v1/scrape",
            Some(json!({"scraper": "item", "params": {"date": "2026-01-05"}})),
        )
        .await;
    let detail = builtin.problem(400);
    assert!(!detail.contains("--"), "{detail}");
    assert!(detail.starts_with("params: date is built in: "), "{detail}");
    assert!(
        api.get("/api/v1/plan?date=2026-13-01")
            .await
            .problem(400)
            .contains("date")
    );
    assert!(
        api.get("/api/v1/health?since=forever")
            .await
            .problem(400)
            .contains("since")
    );
    // A zero period counted nothing: every source read 0 calls, 0 failed.
    for path in ["/api/v1/health?since=0s", "/api/v1/sources?since=0ms"] {
        assert!(
            api.get(path)
                .await
                .problem(400)
                .ends_with("expected a period longer than zero"),
            "{path}"
        );
    }

    // A method the path does not answer.
    let method = api
        .send(
            api.client
                .delete(format!("{}/api/v1/health", api.base))
                .bearer_auth(TOKEN),
        )
        .await;
    let detail = method.problem(405);
    assert!(detail.contains("does not answer DELETE"), "{detail}");
    assert_eq!(method.headers["allow"], "GET,HEAD");

    api.stop().await;
    sim.shutdown().await;
}

/// The engine's refusals of parameters named the CLI's flags in the API's
/// answers: "--param season_start_year is built in", "pass --param
/// game_id=VALUE". They name the request body's fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_refusals_are_worded_for_the_api() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    // A scraper with a parameter of its own, after the [server] keys.
    let server =
        format!("{SERVER}\n\n[scrapers.game]\nsource = \"up\"\npath = \"/a/game/{{game_id}}\"\n");
    let api = Api::start(Backend::Sqlite, &sim, &server).await;
    let missing = api
        .post("/api/v1/scrape", Some(json!({"scraper": "game"})))
        .await;
    assert_eq!(
        missing.problem(400),
        "params: scraper game needs parameter {game_id}: give it in the request body's \"params\" ({\"game_id\": \"VALUE\"})"
    );
    for (name, says) in [
        (
            "date",
            "set the target date with \"date\": \"YYYY-MM-DD\" in the request body instead",
        ),
        (
            "season_start_year",
            "it comes from the target date (\"date\") and [pipeline] season_start",
        ),
        (
            "slot_hour",
            "which a call or run started over the API does not have",
        ),
    ] {
        let builtin = api
            .post(
                "/api/v1/scrape",
                Some(json!({"scraper": "game", "params": {"game_id": "g1", name: "1"}})),
            )
            .await;
        let detail = builtin.problem(400);
        assert!(
            detail.starts_with(&format!("params: {name} is built in: ")),
            "{detail}"
        );
        assert!(detail.contains(says), "{detail}");
        assert!(!detail.contains("--param"), "{detail}");
    }
    api.stop().await;
    sim.shutdown().await;
}

/// Before: a name from the request echoed in a problem's detail kept its
/// bidirectional controls, so `x\u{202e}gnp.exe` read `xexe.png` wherever
/// the detail was shown. Now a detail writes them, and control characters,
/// as escapes (`\u{202e}`), as the CLI's tables and messages do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_problem_detail_escapes_bidi_and_control_characters() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let answers = [
        (
            api.post(
                "/api/v1/scrape",
                Some(json!({"scraper": "x\u{202e}gnp.exe\u{1b}[2J"})),
            )
            .await,
            404,
            "unknown scraper \"x\\u{202e}gnp.exe\\u{1b}[2J\"; the config defines",
        ),
        (
            api.get("/api/v1/runs?status=a%E2%80%AEb%E2%81%A6c").await,
            400,
            "status \"a\\u{202e}b\\u{2066}c\": expected one of",
        ),
        (
            api.post("/api/v1/workflows/w%E2%80%8F/runs", None).await,
            404,
            "w\\u{200f}",
        ),
    ];
    for (answer, status, says) in &answers {
        let detail = answer.problem(*status);
        assert!(detail.contains(says), "{says:?} not in {detail:?}");
        for c in ['\u{202e}', '\u{2066}', '\u{200f}', '\u{1b}'] {
            assert!(!answer.text.contains(c), "{c:?} in {}", answer.text);
        }
    }
    api.stop().await;
    sim.shutdown().await;
}

/// A mutation that takes no body refused nothing in one: `POST
/// /api/v1/breakers/up/reset` with `{"source": "other"}` closed `up`'s
/// breaker (200), and `POST /api/v1/evaluate` with `{"workflow": "timed"}`
/// evaluated every workflow, while every other body's unknown field is a
/// 400. An empty JSON object or no body at all is still none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_to_a_mutation_that_takes_none_is_refused() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let day = five_am()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    api.handle
        .engine()
        .run_scraper("broken", day, &Default::default())
        .await
        .expect("call");
    assert_eq!(up_breaker(&api, "/api/v1/health?since=24h").await.0, "open");

    for (path, body) in [
        ("/api/v1/breakers/up/reset", json!({"source": "other"})),
        ("/api/v1/evaluate", json!({"workflow": "timed"})),
    ] {
        let answer = api.post(path, Some(body)).await;
        let field = if path.ends_with("reset") {
            "source"
        } else {
            "workflow"
        };
        assert_eq!(
            answer.problem(400),
            format!("request body: unknown field `{field}`, this endpoint takes no request body"),
            "{path}"
        );
    }
    let text = api
        .send(
            api.client
                .post(format!("{}/api/v1/breakers/up/reset", api.base))
                .bearer_auth(TOKEN)
                .header("content-type", "text/plain")
                .body("source=up"),
        )
        .await;
    assert_eq!(
        text.problem(400),
        "request body: this endpoint takes no request body; send none"
    );
    assert_eq!(
        up_breaker(&api, "/api/v1/health?since=24h").await.0,
        "open",
        "no refused request reset it"
    );

    // No body, or an empty object, is what these endpoints take.
    let empty = api.post("/api/v1/evaluate", Some(json!({}))).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    let reset = api.post("/api/v1/breakers/up/reset", None).await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(reset.json["was"], "open", "{}", reset.text);
    api.stop().await;
    sim.shutdown().await;
}

/// `?workflow=` (or `?scraper=`) left empty filtered on a name no
/// workflow can have and answered an empty page, as if nothing had run,
/// while every other empty filter (`status`, `from`, `cursor`, `date`) is
/// a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_name_filter_is_refused() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let run = api
        .post("/api/v1/workflows/daily/runs?wait=30s", None)
        .await;
    assert_eq!(run.status, 200, "{}", run.text);
    for (path, says) in [
        (
            "/api/v1/runs?workflow=",
            "workflow \"\": expected a workflow's name; leave workflow out for every workflow",
        ),
        (
            "/api/v1/calls?scraper=",
            "scraper \"\": expected a scraper's name; leave scraper out for every scraper",
        ),
        (
            "/api/v1/decisions?workflow=",
            "workflow \"\": expected a workflow's name; leave workflow out for every workflow",
        ),
    ] {
        assert_eq!(api.get(path).await.problem(400), says, "{path}");
    }
    // An empty entity of a lockout reset names none (it was a 404, "holds
    // no lock"), as the CLI refuses it.
    let entity = api
        .post(
            "/api/v1/lockouts/reset",
            Some(json!({"scraper": "item", "entity": ""})),
        )
        .await;
    assert_eq!(
        entity.problem(400),
        "entity \"\": expected an entity's id; leave entity out to release every lock of the scraper"
    );
    // Left out, every run is answered.
    let all = api.get("/api/v1/runs").await;
    assert_eq!(
        all.json["runs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        all.text
    );
    api.stop().await;
    sim.shutdown().await;
}

/// `/api/v1/openapi.json?x=1` answered the document, where every endpoint
/// refuses a query parameter it does not take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_refuses_a_query_parameter() {
    let sim = UpstreamSim::start().await.expect("sim");
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let answer = api.get("/api/v1/openapi.json?format=yaml").await;
    assert_eq!(
        answer.problem(400),
        "query string: unknown field `format`, this endpoint takes no query parameters"
    );
    assert_eq!(api.get("/api/v1/openapi.json").await.status, 200);
    api.stop().await;
    sim.shutdown().await;
}

/// A query value that is not UTF-8 once percent-decoded was read with
/// U+FFFD in its place: `?workflow=%C3%28` filtered on "\u{fffd}(" and
/// answered an empty page, as if nothing had run, while a path segment
/// like it is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_value_that_is_not_utf8_is_refused() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    for (path, piece) in [
        ("/api/v1/runs?workflow=%C3%28", "workflow=%C3%28"),
        ("/api/v1/calls?limit=5&scraper=it%FFem", "scraper=it%FFem"),
        ("/api/v1/decisions?workflow=%E2%82", "workflow=%E2%82"),
        ("/api/v1/freshness?%FF=1", "%FF=1"),
    ] {
        assert_eq!(
            api.get(path).await.problem(400),
            format!("query string: \"{piece}\" is not UTF-8 text once its %XX escapes are decoded"),
            "{path}"
        );
    }
    // Escaped UTF-8, and a `%` that escapes nothing, are read as before.
    let runs = api.get("/api/v1/runs?workflow=%C3%A9t%C3%A9").await;
    assert_eq!(runs.status, 200, "{}", runs.text);
    let percent = api.get("/api/v1/runs?workflow=100%25").await;
    assert_eq!(percent.status, 200, "{}", percent.text);
    api.stop().await;
    sim.shutdown().await;
}

/// A chunked body whose chunk size is not hex was answered with hyper's
/// "Failed to buffer the request body: error reading a body from
/// connection"; the detail says what is wrong with the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunked_body_is_named() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = UpstreamSim::start().await.expect("sim");
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let mut stream = tokio::net::TcpStream::connect(api.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let request = format!(
        "POST /api/v1/lockouts/reset HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{{}}\r\n0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    // A guard against hanging, not a speed bound.
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("request body: could not be read whole: the connection broke off, or its chunked encoding is malformed"),
        "{answer}"
    );
    api.stop().await;
    sim.shutdown().await;
}

/// A stored decision whose `entities` is not the JSON array the scheduler
/// writes was answered with `"entities": []`, as if its RUN had covered
/// no entity; it is a 500 naming the decision and what the column holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_whose_stored_entities_do_not_parse_is_an_error_not_none() {
    use rebound_storage::{AlertLevel, DecisionAction};
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    for (id, entities) in [("d1", "[\"g1\", \"g2\"]"), ("d2", "g3,g4")] {
        api.store
            .record_decision(
                &rebound_storage::NewDecision {
                    decision_id: id.to_string(),
                    workflow_name: "timed".to_string(),
                    decided_at: five_am(),
                    slot: "window".to_string(),
                    target_date: five_am().date_naive(),
                    action: DecisionAction::Skip,
                    reason: "test".to_string(),
                    entities: entities.to_string(),
                    alert_level: AlertLevel::None,
                    execution_id: None,
                    decided_by: "test".to_string(),
                },
                None,
            )
            .await
            .expect("decision");
    }
    let answer = api.get("/api/v1/decisions?date=2026-11-28").await;
    let detail = answer.problem(500);
    assert!(
        detail.starts_with(
            "reading decisions failed: decision d2: column entities holds \"g3,g4\", not a JSON array of entity ids"
        ),
        "{detail}"
    );
    api.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_problem_documents_on_sqlite() {
    bad_input(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_problem_documents_on_postgres() {
    bad_input(Backend::Postgres).await;
}

/// No token configured: reads on loopback answer, every mutation is 403
/// saying how to enable it, and no work is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_every_mutation_is_forbidden() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, "listen = \"127.0.0.1:0\"").await;
    assert_eq!(api.get("/api/v1/health").await.status, 200);
    for path in [
        "/api/v1/scrape",
        "/api/v1/workflows/daily/runs",
        "/api/v1/evaluate",
        "/api/v1/breakers/up/reset",
        "/api/v1/lockouts/reset",
    ] {
        let answer = api.post(path, Some(json!({"scraper": "item"}))).await;
        let detail = answer.problem(403);
        assert!(
            detail.contains("[server] token = \"${REBOUND_API_TOKEN}\""),
            "{path}: {detail}"
        );
    }
    assert_eq!(sim.request_count("/a/item"), 0, "nothing ran");
    api.stop().await;
    sim.shutdown().await;
}

/// On an address beyond loopback, reads need the token too, unless
/// `public_read`; mutations always do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_reads_need_the_token_unless_public_read() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(
        Backend::Sqlite,
        &sim,
        "listen = \"0.0.0.0:0\"\ntoken = \"${API_TOKEN}\"",
    )
    .await;
    for path in ["/api/v1/health", "/api/v1/runs", "/api/v1/openapi.json"] {
        assert!(
            api.get(path).await.problem(401).contains("Bearer"),
            "{path}"
        );
        assert_eq!(api.get_with(path, TOKEN).await.status, 200, "{path}");
    }
    assert_eq!(api.get("/healthz").await.status, 200, "liveness stays open");
    // The dashboard's pages are reads too (they were open to anyone).
    for path in ["/", "/runs", "/sources"] {
        api.get(path).await.problem(401);
        assert_eq!(api.get_with(path, TOKEN).await.status, 200, "{path}");
    }
    api.stop().await;

    let open = Api::start(
        Backend::Sqlite,
        &sim,
        "listen = \"0.0.0.0:0\"\ntoken = \"${API_TOKEN}\"\npublic_read = true",
    )
    .await;
    assert_eq!(open.get("/api/v1/health").await.status, 200);
    assert_eq!(
        open.get("/").await.status,
        200,
        "the dashboard with public_read"
    );
    let evaluate = open
        .send(open.client.post(format!("{}/api/v1/evaluate", open.base)))
        .await;
    evaluate.problem(401);
    open.stop().await;

    let untokened = Api::start(Backend::Sqlite, &sim, "listen = \"0.0.0.0:0\"").await;
    let detail = untokened
        .get("/api/v1/health")
        .await
        .problem(403)
        .to_string();
    assert!(detail.contains("public_read = true"), "{detail}");
    untokened.stop().await;
    sim.shutdown().await;
}

/// The breaker of source `up` as `GET {path}` reports it, and when the
/// report was made.
async fn up_breaker(api: &Api, path: &str) -> (String, String) {
    let health = api.get(path).await;
    assert_eq!(health.status, 200, "{}", health.text);
    let up = health.json["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == "up")
        .expect("up")
        .clone();
    (
        up["breaker"].as_str().expect("breaker").to_string(),
        health.json["generated_at"]
            .as_str()
            .expect("generated_at")
            .to_string(),
    )
}

/// `GET /api/v1/health` (default period) is made once and kept 5 s on the
/// service's clock: a change a worker records meanwhile shows once it
/// expires, at once with an explicit `since`, and at once after the API's
/// own reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_health_document_is_kept_five_seconds_and_a_reset_clears_it() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let (breaker, made_at) = up_breaker(&api, "/api/v1/health").await;
    assert_eq!(breaker, "closed");

    // A call outside the API (as a worker's) trips `up`'s breaker.
    let engine = api.handle.engine().clone();
    let day = five_am()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    engine
        .run_scraper("broken", day, &Default::default())
        .await
        .expect("call");
    assert_eq!(
        up_breaker(&api, "/api/v1/health").await,
        ("closed".to_string(), made_at.clone()),
        "the kept document"
    );
    assert_eq!(
        up_breaker(&api, "/api/v1/health?since=24h").await.0,
        "open",
        "an explicit period is made on each request"
    );
    api.clock.advance(Duration::from_secs(4));
    assert_eq!(up_breaker(&api, "/api/v1/health").await.1, made_at);
    api.clock.advance(Duration::from_secs(2));
    let (breaker, remade_at) = up_breaker(&api, "/api/v1/health").await;
    assert_eq!(breaker, "open", "5 s on: made again");
    assert_ne!(remade_at, made_at);

    // The operator's reset shows in the very next read.
    let reset = api.post("/api/v1/breakers/up/reset", None).await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(
        up_breaker(&api, "/api/v1/health").await,
        ("closed".to_string(), remade_at),
        "made again at the same instant, after the reset"
    );
    api.stop().await;
    sim.shutdown().await;
}

/// A run started over the API outlives its request, and a stop lets it
/// finish within the shutdown grace, like a worker's run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_a_run_started_over_the_api_finish() {
    let sim = UpstreamSim::start().await.expect("sim");
    script(&sim);
    let api = Api::start(Backend::Sqlite, &sim, SERVER).await;
    let accepted = api.post("/api/v1/workflows/patient/runs", None).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let id = accepted.json["execution_id"]
        .as_str()
        .expect("id")
        .to_string();
    let store = api.store.clone();
    api.stop().await;
    let row = store
        .workflow_execution(&id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(row.status, "success", "finished before the stop returned");
    assert_eq!(sim.request_count("/a/slow"), 1);
    sim.shutdown().await;
}
