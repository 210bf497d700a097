//! The reference router against the reference config itself: every scraper
//! of `examples/nba/rebound.toml`, called on `/ref/<source><path>` with its
//! query and its `{...}` parameters filled in, answers 2xx with a non-empty
//! array at its `records` pointer; the calendar's events and the `for_each`
//! items are where the config looks for them.

use crate::{client, get_json, start};
use chrono::NaiveDate;
use rebound_upstream_sim::fixtures::games_on;
use serde_json::Value;

fn reference_config() -> toml::Table {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/nba/rebound.toml"
    );
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
}

/// Fills the built-in parameters (`{date}`, `{date_compact}`, and
/// `{day_start_utc}`/`{day_end_utc}`: [`day`] in New York, on EST, is
/// 05:00Z to 04:59:59Z the next day) and the fan-out parameters.
fn fill(text: &str, params: &[(&str, String)]) -> String {
    let mut out = text
        .replace("{date}", &day().format("%Y-%m-%d").to_string())
        .replace("{date_compact}", &day().format("%Y%m%d").to_string())
        .replace("{day_start_utc}", "2026-01-15T05:00:00Z")
        .replace("{day_end_utc}", "2026-01-16T04:59:59Z");
    for (name, value) in params {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[tokio::test]
async fn every_reference_scraper_gets_records_where_the_config_looks() {
    let sim = start().await;
    sim.set_reference_anchor(day());
    let config = reference_config();
    let game = games_on(day()).remove(0);
    let params = [
        ("game_id", game.game_id()),
        ("event_id", game.event_id()),
        ("team_id", "1".to_string()),
    ];
    let scrapers = config["scrapers"].as_table().unwrap();
    assert_eq!(
        scrapers.len(),
        19,
        "every scraper of the reference config is covered"
    );
    for (name, scraper) in scrapers {
        let source = scraper["source"].as_str().unwrap();
        let path = fill(scraper["path"].as_str().unwrap(), &params);
        let mut url = url::Url::parse(&format!("{}/ref/{source}{path}", sim.base_url())).unwrap();
        if let Some(query) = scraper.get("query").and_then(|q| q.as_table()) {
            for (key, value) in query {
                url.query_pairs_mut()
                    .append_pair(key, &fill(value.as_str().unwrap(), &params));
            }
        }
        let response = client().get(url.clone()).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{name}: {} {url}",
            response.status()
        );
        let body = response.bytes().await.unwrap();
        let Some(records) = scraper.get("records").and_then(|r| r.as_str()) else {
            // No records pointer (the injury report PDF): any body is data.
            assert!(body.starts_with(b"%PDF"), "{name}");
            continue;
        };
        let json: Value = serde_json::from_slice(&body).unwrap();
        let found = json.pointer(records).and_then(Value::as_array);
        assert!(
            found.is_some_and(|a| !a.is_empty()),
            "{name}: nothing at {records:?} of {url}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_schedule_holds_the_anchor_dates_and_fan_out_items_are_where_the_config_looks() {
    let sim = start().await;
    sim.set_reference_anchor(day());
    let (status, schedule) =
        get_json(&sim, "/ref/nba_cdn/staticData/scheduleLeagueV2_1.json").await;
    assert_eq!(status, 200);
    let dates = schedule["leagueSchedule"]["gameDates"].as_array().unwrap();
    assert_eq!(
        dates.len(),
        2 * rebound_upstream_sim::REFERENCE_DAYS_AROUND as usize + 1
    );
    // The calendar's events and members: `$.leagueSchedule.gameDates[*].games[*]`,
    // `gameId`, `gameDateTimeUTC`.
    let games: Vec<&Value> = dates
        .iter()
        .flat_map(|d| d["games"].as_array().unwrap())
        .collect();
    let today: Vec<String> = games_on(day()).iter().map(|g| g.game_id()).collect();
    for id in &today {
        assert!(games.iter().any(|g| g["gameId"] == id.as_str()), "{id}");
    }
    assert!(
        games
            .iter()
            .all(|g| g["gameDateTimeUTC"].as_str().unwrap().ends_with('Z'))
    );

    // espn_roster fans out over `$.sports[*].leagues[*].teams[*].team` `id`.
    let (_, teams) = get_json(&sim, "/ref/espn/teams").await;
    let ids: Vec<&str> = teams["sports"][0]["leagues"][0]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 30);
    for id in ids {
        let (status, _) = get_json(&sim, &format!("/ref/espn/teams/{id}/roster")).await;
        assert_eq!(status, 200, "{id}");
    }

    // Odds events: a top-level array filtered by tip-off in UTC, like the
    // real API. The config asks for the Eastern day
    // (`{day_start_utc}..{day_end_utc}`): the games of that ET date, whose
    // evening tips are at 00:00Z and later of the next UTC date.
    let (status, events) = get_json(
        &sim,
        "/ref/odds_api/sports/basketball_nba/events?commenceTimeFrom=2026-01-15T05:00:00Z&commenceTimeTo=2026-01-16T04:59:59Z",
    )
    .await;
    assert_eq!(status, 200);
    let events = events.as_array().unwrap();
    let today = games_on(day());
    assert_eq!(events.len(), today.len());
    for (event, game) in events.iter().zip(&today) {
        assert_eq!(event["id"], game.event_id().as_str());
    }
    // Percent-encoded, as a client may send it: the same events.
    let (status, encoded) = get_json(
        &sim,
        "/ref/odds_api/sports/basketball_nba/events?commenceTimeFrom=2026-01-15T05%3A00%3A00Z&commenceTimeTo=2026-01-16T04%3A59%3A59Z",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(encoded.as_array().unwrap(), events);
    // The filter is on the UTC instant, not the ET date: a UTC day holds
    // the previous ET evening's games.
    let (status, utc_day) = get_json(
        &sim,
        "/ref/odds_api/sports/basketball_nba/events?commenceTimeFrom=2026-01-15T00:00:00Z&commenceTimeTo=2026-01-15T23:59:59Z",
    )
    .await;
    assert_eq!(status, 200);
    let utc_day = utc_day.as_array().unwrap();
    let yesterday = games_on(day().pred_opt().unwrap());
    assert_eq!(utc_day.len(), yesterday.len());
    for (event, game) in utc_day.iter().zip(&yesterday) {
        assert_eq!(event["id"], game.event_id().as_str());
    }

    // Unknown ids answer what the config's no_data rules expect.
    let (status, _) = get_json(&sim, "/ref/bigdataball/pbp/0029999999").await;
    assert_eq!(status, 404);
    let response = client()
        .get(format!(
            "{}/ref/nba_cdn/liveData/playbyplay/playbyplay_0029999999.json",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    sim.shutdown().await;
}
