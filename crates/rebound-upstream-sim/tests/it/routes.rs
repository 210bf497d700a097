//! Default routes: shapes, record counts derived from the date, errors.

use crate::{date, get_json, get_text, start};
use rebound_upstream_sim::fixtures::{
    PLAYS_PER_PERIOD, ROSTER_SIZE, game_count, games_on, injuries_on,
};
use rebound_upstream_sim::{BDB_NOT_FOUND, DEMO_DATE, SCHEDULE_DAYS_AROUND, paths};
use serde_json::Value;

fn array<'a>(value: &'a Value, pointer: &str) -> &'a Vec<Value> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no array at {pointer} in {value}"))
}

#[tokio::test]
async fn health_says_ok() {
    let sim = start().await;
    assert_eq!(get_text(&sim, "/healthz").await, (200, "ok".to_string()));
}

#[tokio::test]
async fn unknown_paths_are_json_404s() {
    let sim = start().await;
    let (status, body) = get_json(&sim, "/nope/nothing?x=1").await;
    assert_eq!(status, 404);
    assert_eq!(body["path"], "/nope/nothing");
}

#[tokio::test]
async fn schedule_lists_dates_around_the_anchor_with_their_games() {
    let sim = start().await;
    let (status, body) = get_json(&sim, "/nba/schedule?date=2026-11-28").await;
    assert_eq!(status, 200);
    assert_eq!(body["leagueSchedule"]["seasonYear"], "2026-27");
    let dates = array(&body, "/leagueSchedule/gameDates");
    assert_eq!(dates.len() as i64, 2 * SCHEDULE_DAYS_AROUND + 1);
    let middle = &dates[SCHEDULE_DAYS_AROUND as usize];
    assert_eq!(middle["gameDate"], "11/28/2026 00:00:00");
    let games = array(middle, "/games");
    assert_eq!(games.len(), game_count(date("2026-11-28")));
    assert!((3..=9).contains(&games.len()));
    let first = &games[0];
    let expected = &games_on(date("2026-11-28"))[0];
    assert_eq!(first["gameId"], expected.game_id());
    assert_eq!(first["gameDateTimeUTC"], "2026-11-29T00:00:00Z");
    assert_eq!(first["homeTeam"]["teamTricode"], expected.home.tricode);
    assert_eq!(first["awayTeam"]["teamTricode"], expected.away.tricode);

    // The compact date form and the default (the demo date) agree.
    let (_, compact) = get_json(&sim, "/nba/schedule?date=20261128").await;
    let (_, default) = get_json(&sim, "/nba/schedule").await;
    assert_eq!(compact, body);
    assert_eq!(DEMO_DATE, "2026-11-28");
    assert_eq!(default, body);
}

#[tokio::test]
async fn answers_are_the_same_on_every_server() {
    let (a, b) = (start().await, start().await);
    for path in [
        "/nba/schedule?date=2027-01-05",
        "/bdl/v1/box_scores?date=2027-01-05",
        "/odds/v4/sports/basketball_nba/events?date=2027-01-05",
    ] {
        assert_eq!(get_json(&a, path).await, get_json(&b, path).await, "{path}");
    }
}

#[tokio::test]
async fn injury_report_has_one_record_per_generated_injury() {
    let sim = start().await;
    let (status, body) = get_json(&sim, "/nba/injury-report?date=2026-12-02").await;
    assert_eq!(status, 200);
    let records = array(&body, "/records");
    assert_eq!(records.len(), injuries_on(date("2026-12-02")).len());
    assert!(!records.is_empty());
    for record in records {
        for key in ["player", "team", "status", "reason", "matchup"] {
            assert!(record[key].is_string(), "{key} in {record}");
        }
    }
    let (status, body) = get_json(&sim, "/nba/injury-report").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("date"));
    let (status, _) = get_json(&sim, "/nba/injury-report?date=yesterday").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bdl_box_scores_nest_players_in_teams_and_scores_add_up() {
    let sim = start().await;
    let (status, body) = get_json(&sim, "/bdl/v1/box_scores?date=2026-11-28").await;
    assert_eq!(status, 200);
    let data = array(&body, "/data");
    assert_eq!(data.len(), game_count(date("2026-11-28")));
    for game in data {
        for (side, score) in [
            ("home_team", "home_team_score"),
            ("visitor_team", "visitor_team_score"),
        ] {
            let players = array(&game[side], "/players");
            assert_eq!(players.len(), ROSTER_SIZE);
            let points: u64 = players.iter().map(|p| p["pts"].as_u64().unwrap()).sum();
            assert_eq!(game[score].as_u64(), Some(points));
            assert!(players[0]["player"]["last_name"].is_string());
        }
        assert_eq!(game["status"], "Final");
    }
    assert!(body["meta"].is_object());
    assert_eq!(get_json(&sim, "/bdl/v1/box_scores").await.0, 400);
}

#[tokio::test]
async fn bdl_games_take_repeated_encoded_dates() {
    let sim = start().await;
    // The fetcher percent-encodes `dates[]` (url's query_pairs); accept both.
    let (status, one) = get_json(&sim, "/bdl/v1/games?dates%5B%5D=2026-11-28").await;
    assert_eq!(status, 200);
    assert_eq!(array(&one, "/data").len(), game_count(date("2026-11-28")));
    let (_, raw) = get_json(&sim, "/bdl/v1/games?dates[]=2026-11-28").await;
    assert_eq!(raw, one);
    let (_, two) = get_json(&sim, "/bdl/v1/games?dates[]=2026-11-28&dates[]=2026-11-29").await;
    assert_eq!(
        array(&two, "/data").len(),
        game_count(date("2026-11-28")) + game_count(date("2026-11-29"))
    );
    let first = &array(&one, "/data")[0];
    assert!(first["id"].is_u64());
    assert!(first["home_team"]["abbreviation"].is_string());
    assert!(first["visitor_team"]["full_name"].is_string());
    assert_eq!(get_json(&sim, "/bdl/v1/games").await.0, 400);
}

#[tokio::test]
async fn odds_events_are_a_top_level_array_with_stable_ids() {
    let sim = start().await;
    let (status, body) = get_json(
        &sim,
        "/odds/v4/sports/basketball_nba/events?date=2026-11-28",
    )
    .await;
    assert_eq!(status, 200);
    let events = body.as_array().unwrap();
    let games = games_on(date("2026-11-28"));
    assert_eq!(events.len(), games.len());
    for (event, game) in events.iter().zip(&games) {
        let id = event["id"].as_str().unwrap();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(id, game.event_id());
        assert_eq!(event["sport_key"], "basketball_nba");
        assert_eq!(event["home_team"], game.home.full_name);
        assert_eq!(event["away_team"], game.away.full_name);
        assert!(event["commence_time"].as_str().unwrap().ends_with('Z'));
    }
    // Historical endpoints pass an ISO timestamp; the day is what counts.
    let (_, iso) = get_json(
        &sim,
        "/odds/v4/sports/basketball_nba/events?date=2026-11-28T12:00:00Z",
    )
    .await;
    assert_eq!(iso, body);
}

#[tokio::test]
async fn odds_for_an_event_carry_player_props() {
    let sim = start().await;
    let game = &games_on(date("2026-11-28"))[1];
    let path = paths::odds_event_odds(&game.event_id());
    let (status, body) = get_json(&sim, &format!("{path}?markets=player_points&apiKey=k")).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], game.event_id());
    let bookmakers = array(&body, "/bookmakers");
    assert_eq!(bookmakers.len(), 2);
    let market = &array(&bookmakers[0], "/markets")[0];
    assert_eq!(market["key"], "player_points");
    let outcomes = array(market, "/outcomes");
    assert_eq!(outcomes.len(), 16);
    assert_eq!(outcomes[0]["name"], "Over");
    assert!(outcomes[0]["description"].is_string());
    assert!(outcomes[0]["point"].as_f64().unwrap() > 0.0);

    let (_, several) = get_json(&sim, &format!("{path}?markets=h2h,totals")).await;
    assert_eq!(array(&several, "/bookmakers/0/markets").len(), 2);
    assert_eq!(
        get_json(&sim, &format!("{path}?markets=nonsense")).await.0,
        422
    );
    let unknown = paths::odds_event_odds(&"ab".repeat(16));
    let (status, body) = get_json(&sim, &unknown).await;
    assert_eq!(status, 404);
    assert_eq!(body["error_code"], "EVENT_NOT_FOUND");
}

#[tokio::test]
async fn play_by_play_for_scheduled_games_only() {
    let sim = start().await;
    let game = &games_on(date("2026-11-28"))[0];
    let (status, body) = get_json(&sim, &paths::nba_pbp(&game.game_id())).await;
    assert_eq!(status, 200);
    assert_eq!(body["game"]["gameId"], game.game_id());
    let actions = array(&body, "/game/actions");
    assert_eq!(actions.len(), 4 * (PLAYS_PER_PERIOD + 2));
    assert_eq!(actions[0]["actionType"], "period");
    assert!(actions[1]["playerNameI"].is_string());
    assert_eq!(get_json(&sim, &paths::nba_pbp("0022699999")).await.0, 404);
    assert_eq!(get_json(&sim, &paths::nba_pbp("not-a-game")).await.0, 404);
}

#[tokio::test]
async fn game_books_are_addressed_by_date_and_matchup() {
    let sim = start().await;
    let game = &games_on(date("2026-11-28"))[1];
    let path = paths::nba_gamebook("20261128", game.away.tricode, game.home.tricode);
    let (status, body) = get_text(&sim, &path).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("%PDF-"), "{body}");
    assert!(body.contains(&game.game_id()), "{body}");
    // Home and away swapped, another date, a bad date: no game book.
    let swapped = paths::nba_gamebook("20261128", game.home.tricode, game.away.tricode);
    assert_eq!(get_json(&sim, &swapped).await.0, 404);
    let elsewhere = paths::nba_gamebook("20261001", game.away.tricode, game.home.tricode);
    assert_eq!(get_json(&sim, &elsewhere).await.0, 404);
    let (status, body) = get_json(&sim, "/nba/gamebooks/2026-11-28/BOSNYK.pdf").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("YYYYMMDD"));
}

#[tokio::test]
async fn bigdataball_serves_known_games_and_says_unpublished_otherwise() {
    let sim = start().await;
    let game = &games_on(date("2026-11-28"))[2];
    let (status, body) = get_json(&sim, &format!("/bdb/pbp?game_id={}", game.game_id())).await;
    assert_eq!(status, 200);
    let rows = array(&body, "/rows");
    assert_eq!(rows.len(), 4 * (PLAYS_PER_PERIOD + 2));
    assert_eq!(rows[0]["event_type"], "start of period");
    // BigDataBall writes ids without the leading zeros; both work.
    let (_, short) = get_json(&sim, &format!("/bdb/pbp?game_id={}", &game.game_id()[2..])).await;
    assert_eq!(short, body);

    for query in ["?game_id=0022699999", "?game_id=nope", ""] {
        let (status, text) = get_text(&sim, &format!("/bdb/pbp{query}")).await;
        assert_eq!(status, 404, "{query}");
        assert!(text.contains(BDB_NOT_FOUND), "{query}: {text}");
    }
}

#[tokio::test]
async fn bench_item_echoes_its_index() {
    let sim = start().await;
    let (status, body) = get_json(&sim, "/bench/item?i=42").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["i"], 42);
    assert_eq!(get_json(&sim, "/bench/item").await.1["data"][0]["i"], 0);
}
