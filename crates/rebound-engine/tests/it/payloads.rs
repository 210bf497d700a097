//! An unchanged payload points at the object stored for an earlier call.
//! When that object is gone (an operator cleaned the raw folder, a bucket's
//! lifecycle rule expired it), the next identical payload must be stored
//! again, and a fan-out reading a missing payload must say so plainly.

use super::date;
use chrono::{TimeDelta, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_domain::plan::ForEach;
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
name = "p"
database = "sqlite://history.db"
raw_store = "file://raw"

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
path = "/t/props/{{event_id}}"

[workflows.lines]
steps = [
  {{ scrapers = ["events"] }},
  {{ scrapers = ["props"], after = ["events"] }},
]

[workflows.props_only]
scrapers = ["props"]
"#
    )
}

struct Payloads {
    sim: UpstreamSim,
    _dir: tempfile::TempDir,
    engine: Engine,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

async fn harness() -> Payloads {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rebound.toml");
    let mut plan = rebound_config::load_str(&config(&sim.base_url()), &path, &|_| None).unwrap();
    plan.scrapers.get_mut("props").unwrap().for_each = Some(ForEach::Dataset {
        dataset: "odds_api/events".into(),
        items: "$.data[*]".into(),
        value: "id".into(),
        param: "event_id".into(),
    });
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).unwrap());
    let engine = Engine::new(Arc::new(plan), store.clone(), raw, fetcher, dyn_clock);
    Payloads {
        sim,
        _dir: tmp,
        engine,
        store,
        clock,
    }
}

fn events_body() -> serde_json::Value {
    json!({"data": [{"id": "e1"}]})
}

fn file_of(uri: &str) -> std::path::PathBuf {
    uri.strip_prefix("file://").unwrap().into()
}

#[tokio::test]
async fn an_unchanged_payload_whose_object_is_gone_is_stored_again() {
    let p = harness().await;
    p.sim
        .script("/t/events", vec![Reply::json(200, events_body()); 4]);
    p.sim.script("/t/props/e1", vec![Reply::text(200, "p1"); 4]);
    let no_params = BTreeMap::new();
    let run = || p.engine.run_workflow("lines", date(), &no_params);

    let first = run().await.unwrap();
    let second = run().await.unwrap();
    let (a, b) = (&first.calls[0], &second.calls[0]);
    assert!(!a.unchanged);
    assert!(b.unchanged, "the same payload twice is unchanged");
    let old_uri = a.output_uri.clone().unwrap();
    assert_eq!(b.output_uri.as_deref(), Some(old_uri.as_str()));

    // Deleted outside Rebound. Existence is remembered for a while once
    // checked, so the next run comes after that.
    std::fs::remove_file(file_of(&old_uri)).unwrap();
    p.clock.advance(TimeDelta::hours(1).to_std().unwrap());

    let third = run().await.unwrap();
    assert_eq!(third.status, WorkflowStatus::Success, "{third:?}");
    let c = &third.calls[0];
    assert_eq!(c.status, ScraperStatus::Success);
    assert!(
        !c.unchanged,
        "a payload whose object is gone is stored again"
    );
    let new_uri = c.output_uri.clone().unwrap();
    assert_ne!(new_uri, old_uri);
    assert_eq!(
        std::fs::read(file_of(&new_uri)).unwrap(),
        serde_json::to_vec(&events_body()).unwrap()
    );
    let rows = p
        .store
        .scraper_calls_for_execution(&third.execution_id)
        .await
        .unwrap();
    let events = rows.iter().find(|r| r.scraper_name == "events").unwrap();
    assert!(!events.unchanged);
    assert_eq!(events.output_uri.as_deref(), Some(new_uri.as_str()));
    // And the fan-out over that dataset reads it.
    let props = &third.calls[1];
    assert_eq!(props.status, ScraperStatus::Success, "{props:?}");

    // With the object in place again, the next identical payload is
    // unchanged and points at the new object.
    let fourth = run().await.unwrap();
    assert!(fourth.calls[0].unchanged);
    assert_eq!(
        fourth.calls[0].output_uri.as_deref(),
        Some(new_uri.as_str())
    );
}

#[tokio::test]
async fn a_fan_out_over_a_missing_payload_names_it_once() {
    let p = harness().await;
    p.sim
        .script("/t/events", vec![Reply::json(200, events_body())]);
    p.sim.script("/t/props/e1", vec![Reply::text(200, "p1")]);
    let first = p
        .engine
        .run_workflow("lines", date(), &BTreeMap::new())
        .await
        .unwrap();
    let uri = first.calls[0].output_uri.clone().unwrap();
    std::fs::remove_file(file_of(&uri)).unwrap();

    let report = p
        .engine
        .run_workflow("props_only", date(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(report.status, WorkflowStatus::Failed);
    let call = &report.calls[0];
    assert_eq!(call.error_kind, Some(ErrorKind::Dependency));
    assert_eq!(
        call.message.as_deref(),
        Some(
            format!("fan-out over odds_api/events: payload {uri} is missing from the raw store")
                .as_str()
        )
    );
}
