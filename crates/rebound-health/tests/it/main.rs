//! The health report end to end: simulated upstream over loopback HTTP →
//! engine → raw folder and SQLite file in a tempdir → report, with time
//! on a manual clock (days pass without sleeping).

mod completeness;
mod consistency;
mod freshness;
mod probe;
mod proxies;
mod queries;
mod report;

use chrono::{DateTime, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::plan::Plan;
use rebound_engine::Engine;
use rebound_fetch::Fetcher;
use rebound_raw::RawStore;
use rebound_service::observe::EngineCalendars;
use rebound_storage::Store;
use rebound_storage_sqlite::SqliteStore;
use rebound_upstream_sim::UpstreamSim;
use std::sync::Arc;

const SECRET: &str = "hk_51f0c3a9e2";

pub struct Harness {
    pub sim: UpstreamSim,
    _dir: tempfile::TempDir,
    pub plan: Arc<Plan>,
    pub engine: std::sync::Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub fetcher: Arc<Fetcher>,
}

impl Harness {
    /// The report now (on the manual clock) over the last 24 hours, without
    /// probes.
    pub async fn report(&self) -> rebound_health::HealthReport {
        let now = self.clock.now();
        rebound_health::build_report(&rebound_health::Inputs {
            plan: &self.plan,
            store: self.store.as_ref(),
            calendars: &EngineCalendars(&self.engine),
            prober: None,
            now,
            since: now - chrono::TimeDelta::hours(24),
        })
        .await
        .expect("report")
    }
}

/// Noon in New York on 2026-11-28.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 17, 0, 0).unwrap()
}

/// `extra` is appended to a config whose only source, `up`, points at the
/// simulated upstream (its `{base}`) and sends the secret as a query key.
pub async fn harness(extra: &str) -> Harness {
    let sim = UpstreamSim::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[pipeline]
name = "h"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

{}"#,
        extra.replace("{base}", &sim.base_url())
    );
    let env = |name: &str| (name == "TEST_KEY").then(|| SECRET.to_string());
    let plan = rebound_config::load_str(&text, &tmp.path().join("rebound.toml"), &env)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let plan = Arc::new(plan);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("history.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(start()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let raw = RawStore::open(&plan.pipeline.raw_store).unwrap();
    let fetcher = Arc::new(Fetcher::new(&plan, dyn_clock.clone()).unwrap());
    let engine = Arc::new(Engine::new(
        plan.clone(),
        store.clone(),
        raw,
        fetcher.clone(),
        dyn_clock,
    ));
    Harness {
        sim,
        _dir: tmp,
        plan,
        engine,
        store,
        clock,
        fetcher,
    }
}
