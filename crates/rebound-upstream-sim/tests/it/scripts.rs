//! Scripted replies: order, queueing, fallback to defaults and every
//! misbehaviour a `Reply` can produce.

use crate::{client, get_json, get_text, start};
use futures::StreamExt;
use rebound_upstream_sim::Reply;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn scripts_apply_in_order_then_defaults_resume() {
    let sim = start().await;
    sim.script(
        "/healthz",
        vec![Reply::status(500), Reply::text(201, "scripted")],
    );
    // The query is ignored when matching scripts.
    assert_eq!(
        get_text(&sim, "/healthz?attempt=1").await,
        (500, String::new())
    );
    assert_eq!(
        get_text(&sim, "/healthz").await,
        (201, "scripted".to_string())
    );
    assert_eq!(get_text(&sim, "/healthz").await, (200, "ok".to_string()));
    assert_eq!(get_text(&sim, "/healthz").await, (200, "ok".to_string()));
}

#[tokio::test]
async fn scripts_for_one_path_queue_up_and_paths_are_independent() {
    let sim = start().await;
    sim.script("/bdl/v1/games", vec![Reply::status(502)]);
    sim.script("/bdl/v1/games", vec![Reply::status(503)]);
    sim.script("/healthz", vec![Reply::status(504)]);
    assert_eq!(
        get_text(&sim, "/bdl/v1/games?dates[]=2026-11-28").await.0,
        502
    );
    assert_eq!(get_text(&sim, "/healthz").await.0, 504);
    assert_eq!(
        get_text(&sim, "/bdl/v1/games?dates[]=2026-11-28").await.0,
        503
    );
    assert_eq!(
        get_text(&sim, "/bdl/v1/games?dates[]=2026-11-28").await.0,
        200
    );
    assert_eq!(get_text(&sim, "/healthz").await.0, 200);
}

#[tokio::test]
async fn paths_without_a_default_route_can_be_scripted() {
    let sim = start().await;
    sim.script(
        "/custom/thing",
        vec![Reply::json(200, json!({"data": [1, 2]}))],
    );
    assert_eq!(
        get_json(&sim, "/custom/thing").await,
        (200, json!({"data": [1, 2]}))
    );
    assert_eq!(get_json(&sim, "/custom/thing").await.0, 404);
}

#[tokio::test]
async fn headers_and_content_types() {
    let sim = start().await;
    sim.script(
        "/x",
        vec![
            Reply::json(429, json!({"message": "slow down"})).header("Retry-After", "1"),
            Reply::text(200, "<a/>")
                .header("Content-Type", "application/xml")
                .header("X-Many", "1")
                .header("X-Many", "2"),
        ],
    );
    let url = format!("{}/x", sim.base_url());
    let first = client().get(&url).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 429);
    assert_eq!(first.headers()["retry-after"], "1");
    assert_eq!(first.headers()["content-type"], "application/json");
    let second = client().get(&url).send().await.unwrap();
    assert_eq!(second.headers()["content-type"], "application/xml");
    let many: Vec<_> = second.headers().get_all("x-many").iter().collect();
    assert_eq!(many, ["1", "2"]);
}

#[tokio::test]
async fn reset_drops_the_connection_without_a_status() {
    let sim = start().await;
    sim.script("/nba/schedule", vec![Reply::reset()]);
    let client = client();
    let url = format!("{}/nba/schedule", sim.base_url());
    let error = match client.get(&url).send().await {
        Ok(response) => match response.bytes().await {
            Ok(body) => panic!("expected a connection error, got a body: {body:?}"),
            Err(error) => error,
        },
        Err(error) => error,
    };
    assert_eq!(error.status(), None, "{error:?}");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    assert!(!error.is_timeout(), "{error:?}");
    // The server itself is fine: the next request gets the default.
    assert_eq!(
        client.get(&url).send().await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(sim.request_count("/nba/schedule"), 2);
}

#[tokio::test]
async fn reset_only_drops_its_own_connection() {
    let sim = start().await;
    sim.script(
        "/reset-me",
        vec![Reply::reset().delay(Duration::from_millis(100))],
    );
    sim.script(
        "/slow",
        vec![Reply::text(200, "done").delay(Duration::from_millis(300))],
    );
    let base = sim.base_url();
    // Two clients so the requests are on two connections.
    let (a, b) = (client(), client());
    let (reset, slow) = tokio::join!(a.get(format!("{base}/reset-me")).send(), async {
        b.get(format!("{base}/slow"))
            .send()
            .await
            .unwrap()
            .text()
            .await
    });
    assert!(reset.is_err());
    assert_eq!(slow.unwrap(), "done");
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // a test client, not Rebound's outbound edge
async fn delay_holds_the_answer_back() {
    let sim = start().await;
    sim.script(
        "/healthz",
        vec![
            Reply::text(200, "late").delay(Duration::from_millis(200)),
            Reply::text(200, "too late").delay(Duration::from_millis(200)),
        ],
    );
    let started = Instant::now();
    assert_eq!(get_text(&sim, "/healthz").await, (200, "late".to_string()));
    assert!(started.elapsed() >= Duration::from_millis(200));

    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let error = impatient
        .get(format!("{}/healthz", sim.base_url()))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn huge_streams_exactly_n_bytes_chunked() {
    let sim = start().await;
    let size: u64 = 5 * 1024 * 1024 + 17;
    sim.script("/big", vec![Reply::huge(size), Reply::huge(0)]);
    let url = format!("{}/big", sim.base_url());
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let mut stream = response.bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len() as u64;
    }
    assert_eq!(total, size);
    let empty = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(empty.is_empty());
}

#[tokio::test]
async fn echo_query_returns_the_raw_query() {
    let sim = start().await;
    sim.script(
        "/echo",
        vec![Reply::echo_query(418), Reply::echo_query(200)],
    );
    assert_eq!(
        get_text(&sim, "/echo?apiKey=s3cret&date=2026-11-28").await,
        (418, "apiKey=s3cret&date=2026-11-28".to_string())
    );
    assert_eq!(get_text(&sim, "/echo").await, (200, String::new()));
}

#[test]
#[should_panic(expected = "not an HTTP status")]
fn impossible_statuses_fail_where_the_reply_is_built() {
    let _ = Reply::status(42);
}
