//! Fan-out item values come from an upstream payload: whatever they hold,
//! each call stays under the scraper's configured path and the value
//! arrives intact as one path segment (simulated upstream's echo route,
//! over loopback, into a real SQLite file).

use super::date;
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::ScraperStatus;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::{Reply, UpstreamSim};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "e"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

[sources.up]
base_url = "{base_url}"
timeout = "2s"

[scrapers.events]
source = "up"
path = "/t/events"
records = "/data"
dataset = "odds_api/events"

[scrapers.props]
source = "up"
path = "/echo/props/{{event_id}}/odds"
for_each = {{ dataset = "odds_api/events", items = "$.data[*]", value = "id", param = "event_id" }}

[workflows.lines]
steps = [
  {{ scrapers = ["events"] }},
  {{ scrapers = ["props"], after = ["events"] }},
]
"#
    )
}

#[tokio::test]
async fn fan_out_values_with_slashes_stay_one_segment() {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rebound.toml");
    let plan = rebound_config::load_str(&config(&sim.base_url()), &path, &|_| None).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store, raw, fetcher, clock);

    let ids = ["a/b", "../../admin", "x?y=1#z"];
    sim.script(
        "/t/events",
        vec![Reply::json(
            200,
            json!({"data": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()}),
        )],
    );
    let report = engine
        .run_workflow("lines", date(), &BTreeMap::new())
        .await
        .unwrap();
    let props: Vec<_> = report
        .calls
        .iter()
        .filter(|c| c.scraper == "props")
        .collect();
    assert_eq!(props.len(), ids.len());
    assert!(
        props.iter().all(|c| c.status == ScraperStatus::Success),
        "{props:?}"
    );
    let mut paths: Vec<String> = sim
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p != "/t/events")
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            "/echo/props/..%2F..%2Fadmin/odds",
            "/echo/props/a%2Fb/odds",
            "/echo/props/x%3Fy%3D1%23z/odds",
        ]
    );
}
