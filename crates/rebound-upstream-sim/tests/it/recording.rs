//! Request recording, the bench route under load, and server lifetime.

use crate::{client, get_text, start};
use futures::StreamExt;
use rebound_upstream_sim::UpstreamSim;
use std::time::Duration;

#[tokio::test]
async fn requests_are_recorded_in_arrival_order() {
    let sim = start().await;
    let client = client();
    client
        .get(format!(
            "{}/bdl/v1/box_scores?date=2026-11-28",
            sim.base_url()
        ))
        .header("Authorization", "demo-key")
        .header("User-Agent", "rebound-test")
        .send()
        .await
        .unwrap();
    get_text(&sim, "/healthz").await;
    get_text(&sim, "/healthz?probe=2").await;

    let requests = sim.requests();
    assert_eq!(requests.len(), 3);
    let first = &requests[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/bdl/v1/box_scores");
    assert_eq!(first.query.as_deref(), Some("date=2026-11-28"));
    assert_eq!(first.header("authorization"), Some("demo-key"));
    assert_eq!(first.header("User-Agent"), Some("rebound-test"));
    assert_eq!(requests[1].query, None);
    assert_eq!(requests[2].query.as_deref(), Some("probe=2"));
    assert!(requests.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(sim.request_count("/healthz"), 2);
    assert_eq!(sim.request_count("/bdl/v1/box_scores"), 1);
    assert_eq!(sim.request_count("/nowhere"), 0);
}

#[tokio::test]
async fn recording_can_be_switched_off_and_on() {
    let sim = start().await;
    sim.set_recording(false);
    assert_eq!(get_text(&sim, "/healthz").await.0, 200);
    assert!(sim.requests().is_empty());
    sim.set_recording(true);
    get_text(&sim, "/healthz").await;
    assert_eq!(sim.request_count("/healthz"), 1);
}

/// The benchmark's shape (64 calls in flight, recording off) against the
/// bench route: every call answered with its own index. Fewer calls than
/// the benchmark's 10,000 because debug builds are ~20x slower (10,000 take
/// about 0.4s in release, 9s in debug).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bench_route_serves_many_calls_at_concurrency_64() {
    const CALLS: u64 = 2_000;
    let sim = start().await;
    sim.set_recording(false);
    let client = client();
    let base = sim.base_url();
    let ok = futures::stream::iter(0..CALLS)
        .map(|i| {
            let request = client.get(format!("{base}/bench/item?i={i}"));
            async move {
                let body = request.send().await.unwrap().bytes().await.unwrap();
                let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                value["data"][0]["i"].as_u64() == Some(i)
            }
        })
        .buffer_unordered(64)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(ok, CALLS as usize);
    assert!(sim.requests().is_empty());
}

async fn refuses_connections(base: &str) -> bool {
    // A fresh client, so no pooled connection hides the closed listener.
    for _ in 0..50 {
        match client().get(format!("{base}/healthz")).send().await {
            Err(error) if error.is_connect() => return true,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    false
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = start().await;
    let base = sim.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with('/'));
    get_text(&sim, "/healthz").await;
    sim.shutdown().await;
    assert!(refuses_connections(&base).await);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let sim = UpstreamSim::start().await.unwrap();
    let base = sim.base_url();
    drop(sim);
    assert!(refuses_connections(&base).await);
}
