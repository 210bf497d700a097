//! `script_demo_faults` produces the documented sequence on each route.

use crate::{client, get_json, get_text, start};
use rebound_upstream_sim::{
    BDB_NOT_FOUND, DEMO_MAX_ATTEMPTS, DEMO_SLOW_REPLY, demo_game_id, paths,
};
use std::time::Duration;

#[tokio::test]
async fn demo_faults_happen_once_each_then_defaults_resume() {
    let sim = start().await;
    sim.script_demo_faults();

    // Odds events: 429 asking to wait a second, then the events.
    let events = "/odds/v4/sports/basketball_nba/events?date=2026-11-28&apiKey=demo-key";
    let throttled = client()
        .get(format!("{}{events}", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status().as_u16(), 429);
    assert_eq!(throttled.headers()["retry-after"], "1");
    let (status, body) = get_json(&sim, events).await;
    assert_eq!(
        (status, body.as_array().map(|a| !a.is_empty())),
        (200, Some(true))
    );

    // BallDontLie box scores: a 503 burst, then data.
    let boxes = "/bdl/v1/box_scores?date=2026-11-28";
    assert_eq!(get_text(&sim, boxes).await.0, 503);
    assert_eq!(get_text(&sim, boxes).await.0, 503);
    assert_eq!(get_json(&sim, boxes).await.0, 200);

    // BallDontLie games: an empty list once.
    let games = "/bdl/v1/games?dates[]=2026-11-28";
    let (status, body) = get_json(&sim, games).await;
    assert_eq!((status, body["data"].as_array().unwrap().len()), (200, 0));
    assert!(
        !get_json(&sim, games).await.1["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // NBA.com play-by-play of the demo game: 404 once.
    let pbp = paths::nba_pbp(&demo_game_id());
    assert_eq!(get_json(&sim, &pbp).await.0, 404);
    assert_eq!(get_json(&sim, &pbp).await.0, 200);

    // BigDataBall: "not published" once, even for a game it knows.
    let bdb = format!("/bdb/pbp?game_id={}", demo_game_id());
    let (status, text) = get_text(&sim, &bdb).await;
    assert_eq!(status, 404);
    assert!(text.contains(BDB_NOT_FOUND));
    assert_eq!(get_json(&sim, &bdb).await.0, 200);
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // a test client, not Rebound's outbound edge
async fn demo_injury_report_is_too_slow_for_every_attempt() {
    let sim = start().await;
    sim.script_demo_faults();
    // Any timeout shorter than the slow reply shows the fault; a short one
    // keeps the test fast.
    assert!(DEMO_SLOW_REPLY > Duration::from_secs(1));
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let url = format!("{}/nba/injury-report?date=2026-11-28", sim.base_url());
    for attempt in 1..=DEMO_MAX_ATTEMPTS {
        let error = impatient.get(&url).send().await.unwrap_err();
        assert!(error.is_timeout(), "attempt {attempt}: {error:?}");
    }
    // Generous timeout: the default answer must not race a short one.
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        sim.request_count("/nba/injury-report"),
        DEMO_MAX_ATTEMPTS + 1
    );
}
