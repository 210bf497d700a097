//! The fault hook: each request is put to it first; its answer replaces,
//! drops, empties or reshapes the route's. And the upstream as its own
//! forward proxy: a request in absolute form gets `Via`.

use crate::{client, get_json, start};
use rebound_upstream_sim::{FaultAction, FaultFuture, FaultHook, FaultRequest, Reply};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Decides by path: `/ref/espn/teams` → 503, the BallDontLie standings →
/// dropped, its active players → emptied, the BettingPros events → reshaped;
/// counts what it was asked.
struct ByPath(AtomicUsize);

impl FaultHook for ByPath {
    fn decide(&self, request: &FaultRequest) -> FaultFuture {
        self.0.fetch_add(1, Ordering::Relaxed);
        let action = match request.path.as_str() {
            "/ref/espn/teams" => FaultAction::Reply(Reply::status(503).header("Retry-After", "7")),
            "/ref/balldontlie/standings" => FaultAction::Drop,
            "/ref/balldontlie/players/active" => FaultAction::Empty,
            "/ref/bettingpros/events" => FaultAction::Reshape,
            _ => FaultAction::Pass,
        };
        Box::pin(std::future::ready(action))
    }
}

#[tokio::test]
async fn the_hook_replaces_drops_empties_and_reshapes_answers() {
    let sim = start().await;
    let hook = Arc::new(ByPath(AtomicUsize::new(0)));
    sim.set_fault_hook(Some(hook.clone()));
    let base = sim.base_url();

    let teams = client()
        .get(format!("{base}/ref/espn/teams"))
        .send()
        .await
        .unwrap();
    assert_eq!(teams.status().as_u16(), 503);
    assert_eq!(teams.headers()["retry-after"], "7");

    let dropped = client()
        .get(format!("{base}/ref/balldontlie/standings"))
        .send()
        .await;
    assert!(dropped.is_err(), "the connection closed unanswered");

    let (status, players) = get_json(&sim, "/ref/balldontlie/players/active?per_page=100").await;
    assert_eq!(status, 200);
    assert_eq!(players["data"], serde_json::json!([]));
    assert!(
        players["meta"]["next_cursor"].is_number(),
        "shape kept: {players}"
    );

    let (status, events) = get_json(&sim, "/ref/bettingpros/events?date=2026-01-15").await;
    assert_eq!(status, 200);
    assert!(
        events["data_v2"]["events"].is_array(),
        "moved under data_v2: {events}"
    );

    // Anything else passes; without the hook every route answers again.
    assert_eq!(
        get_json(&sim, "/ref/balldontlie/box_scores?date=2026-01-15")
            .await
            .0,
        200
    );
    assert_eq!(hook.0.load(Ordering::Relaxed), 5);
    sim.set_fault_hook(None);
    assert_eq!(get_json(&sim, "/ref/espn/teams").await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_upstream_is_its_own_forward_proxy() {
    let sim = start().await;
    // stats.nba.com answers only requests that came through a proxy.
    let direct = client()
        .get(format!(
            "{}/ref/nba_stats/playerindex?Season=2025-26",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status().as_u16(), 403);
    #[allow(clippy::disallowed_methods)] // a test client, not Rebound's outbound edge
    let proxied_client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(sim.base_url()).unwrap())
        .build()
        .unwrap();
    let proxied = proxied_client
        .get(format!(
            "{}/ref/nba_stats/playerindex?Season=2025-26",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status().as_u16(), 200);
    let seen = sim.requests();
    assert_eq!(
        seen.last().and_then(|r| r.header("via")),
        Some("1.1 rebound-upstream-sim")
    );
    sim.shutdown().await;
}
