//! Integration tests of the simulated upstream, driven over real loopback
//! HTTP with reqwest (the client the fetcher uses), one binary for speed.

mod demo;
mod fault_hook;
mod faults;
mod recording;
mod reference;
mod routes;
mod scripts;

use rebound_upstream_sim::UpstreamSim;
use serde_json::Value;

/// A client that ignores proxy variables: CI machines may set them, and a
/// proxy would see (and answer) our loopback requests.
#[allow(clippy::disallowed_methods)] // a test client, not Rebound's outbound edge
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub async fn start() -> UpstreamSim {
    UpstreamSim::start().await.unwrap()
}

/// GET `path_and_query` on `sim`: status and body parsed as JSON.
pub async fn get_json(sim: &UpstreamSim, path_and_query: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path_and_query}: not JSON ({e}): {body:?}"));
    (status, json)
}

/// GET `path_and_query` on `sim`: status and body as text.
pub async fn get_text(sim: &UpstreamSim, path_and_query: &str) -> (u16, String) {
    let response = client()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

pub fn date(text: &str) -> chrono::NaiveDate {
    rebound_upstream_sim::fixtures::parse_date(text).unwrap()
}
