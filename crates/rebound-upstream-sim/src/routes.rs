//! Default behaviour of every simulated route: NBA-shaped JSON generated
//! from [`crate::fixtures`], so answers are deterministic per date.
//!
//! Route paths live in [`crate::paths`]. Handlers take the raw URI and parse
//! the query themselves because the upstreams' query conventions differ
//! (BallDontLie repeats `dates[]`, NBA.com and Odds take `date`), and a
//! malformed date should get the upstream-style 400 body, not axum's.

use crate::fixtures::{
    self, Game, Injury, Play, PlayKind, PlayerLine, Team, game_by_event_id, game_by_id, games_on,
    injuries_on, parse_date, plays, season_label, season_start_year,
};
use crate::paths;
use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Duration as Days, NaiveDate};
use serde_json::{Value, json};
use std::borrow::Cow;

/// Dates served by the schedule on each side of its anchor date.
pub const SCHEDULE_DAYS_AROUND: i64 = 2;

/// The router with every default route.
pub(crate) fn router() -> Router {
    Router::new()
        .route(paths::HEALTH, get(health))
        .route(paths::BENCH_ITEM, get(bench_item))
        .route(paths::NBA_SCHEDULE, get(nba_schedule))
        .route(paths::NBA_INJURY_REPORT, get(nba_injury_report))
        .route("/nba/pbp/{game_id}", get(nba_pbp))
        .route("/nba/gamebooks/{day}/{file}", get(nba_gamebook))
        .route(paths::BDL_BOX_SCORES, get(bdl_box_scores))
        .route(paths::BDL_GAMES, get(bdl_games))
        .route(paths::ODDS_EVENTS, get(odds_events))
        .route(
            "/odds/v4/sports/basketball_nba/events/{event_id}/odds",
            get(odds_event_odds),
        )
        .route(paths::BDB_PBP, get(bdb_pbp))
        .route(paths::REDIRECT, get(redirect))
        .route(paths::ECHO, get(echo))
        .route("/echo/{*rest}", get(echo))
        .merge(crate::pages::router())
        .merge(crate::documents::router())
        .fallback(not_found)
}

/// Decoded `key=value` pairs of the query, in order.
fn query_pairs(uri: &Uri) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    uri.query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).collect())
        .unwrap_or_default()
}

pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A 400 in the upstreams' error shape; boxed because a `Response` is
/// large and rides in the `Err` of the date helpers.
fn bad_request(message: String) -> Box<Response> {
    Box::new(error(StatusCode::BAD_REQUEST, message))
}

/// The `date` query parameter, required.
fn required_date(uri: &Uri) -> Result<NaiveDate, Box<Response>> {
    match query_param(uri, "date") {
        None => Err(bad_request(
            "missing query parameter: date (YYYY-MM-DD)".to_string(),
        )),
        Some(text) => parse_date(&text).ok_or_else(|| {
            bad_request(format!(
                "invalid date {text:?}: expected YYYY-MM-DD or YYYYMMDD"
            ))
        }),
    }
}

/// The `date` query parameter, defaulting to [`crate::DEMO_DATE`]. Also
/// takes an ISO timestamp, as the Odds API's historical endpoints do.
fn optional_date(uri: &Uri) -> Result<NaiveDate, Box<Response>> {
    match query_param(uri, "date") {
        None => Ok(parse_date(crate::DEMO_DATE).expect("DEMO_DATE is a date")),
        Some(text) => parse_date(&text)
            .or_else(|| text.get(..10).and_then(parse_date))
            .ok_or_else(|| {
                bad_request(format!(
                    "invalid date {text:?}: expected YYYY-MM-DD, YYYYMMDD or an ISO timestamp"
                ))
            }),
    }
}

pub(crate) fn iso_utc(game: &Game) -> String {
    game.tipoff_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The request target as received (see [`paths::ECHO`]). Reads the raw
/// URI, not axum's decoded captures, so a test sees exactly what was sent.
async fn echo(uri: Uri) -> Response {
    let path = uri.path();
    let segments: Vec<String> = path
        .strip_prefix(paths::ECHO)
        .and_then(|rest| rest.strip_prefix('/'))
        .map(|rest| {
            rest.split('/')
                .map(|s| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    Json(json!({ "path": path, "query": uri.query(), "segments": segments })).into_response()
}

async fn health() -> &'static str {
    "ok"
}

/// Kept allocation-light on purpose: the benchmark calls it 10,000 times
/// and should measure the client, not fixture generation.
async fn bench_item(uri: Uri) -> Response {
    let i: u64 = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("i=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = format!(r#"{{"data":[{{"i":{i},"name":"bench","ok":true}}]}}"#);
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// See [`paths::REDIRECT`].
async fn redirect(uri: Uri) -> Response {
    let Some(to) = query_param(&uri, "to") else {
        return error(StatusCode::BAD_REQUEST, "missing query parameter: to");
    };
    let code = query_param(&uri, "status").unwrap_or_else(|| "302".to_string());
    let status = match code.parse::<u16>() {
        Ok(n @ (301 | 302 | 303 | 307 | 308)) => {
            StatusCode::from_u16(n).unwrap_or(StatusCode::FOUND)
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid status {code:?}: expected 301, 302, 303, 307 or 308"),
            );
        }
    };
    match axum::http::HeaderValue::try_from(to) {
        Ok(location) => (status, [(axum::http::header::LOCATION, location)]).into_response(),
        Err(_) => error(StatusCode::BAD_REQUEST, "invalid query parameter: to"),
    }
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not found", "path": uri.path() })),
    )
        .into_response()
}

pub(crate) fn nba_team(team: &Team, score: u32) -> Value {
    json!({
        "teamId": team.nba_id(),
        "teamName": team.name,
        "teamCity": team.city,
        "teamTricode": team.tricode,
        "teamSlug": team.slug(),
        "score": score,
    })
}

/// NBA.com CDN season schedule: [`SCHEDULE_DAYS_AROUND`] dates either side
/// of `?date=` (default [`crate::DEMO_DATE`]).
async fn nba_schedule(uri: Uri) -> Response {
    let anchor = match optional_date(&uri) {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let game_dates: Vec<Value> = (-SCHEDULE_DAYS_AROUND..=SCHEDULE_DAYS_AROUND)
        .map(|offset| {
            let date = anchor + Days::days(offset);
            let games: Vec<Value> = games_on(date)
                .iter()
                .map(|game| {
                    let tip = iso_utc(game);
                    json!({
                        "gameId": game.game_id(),
                        "gameCode": format!("{}/{}{}", date.format("%Y%m%d"), game.away.tricode, game.home.tricode),
                        "gameStatus": 1,
                        "gameStatusText": "Scheduled",
                        "gameSequence": game.index + 1,
                        "gameDateEst": format!("{}T00:00:00Z", date.format("%Y-%m-%d")),
                        "gameDateTimeUTC": tip,
                        "day": date.format("%a").to_string(),
                        "weekNumber": 0,
                        "gameLabel": "",
                        "arenaName": format!("{} Arena", game.home.city),
                        "arenaCity": game.home.city,
                        "postponedStatus": "N",
                        "homeTeam": nba_team(game.home, 0),
                        "awayTeam": nba_team(game.away, 0),
                    })
                })
                .collect();
            json!({
                "gameDate": date.format("%m/%d/%Y 00:00:00").to_string(),
                "games": games,
            })
        })
        .collect();
    Json(json!({
        "meta": { "version": 1, "request": "simulated://schedule", "time": "2026-07-01T00:00:00Z" },
        "leagueSchedule": {
            "seasonYear": season_label(anchor),
            "leagueId": "00",
            "gameDates": game_dates,
        },
    }))
    .into_response()
}

fn injury_record(injury: &Injury) -> Value {
    let game = &injury.game;
    json!({
        "gameDate": game.date.format("%m/%d/%Y").to_string(),
        "gameTime": format!("{:02}:{:02} (ET)", 7 + game.index / 2, 30 * (game.index % 2)),
        "matchup": format!("{}@{}", game.away.tricode, game.home.tricode),
        "team": injury.player.team.full_name,
        "player": format!("{}, {}", injury.player.last_name, injury.player.first_name),
        "status": injury.status,
        "reason": injury.reason,
    })
}

/// NBA.com injury report for `?date=` (required).
async fn nba_injury_report(uri: Uri) -> Response {
    let date = match required_date(&uri) {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let records: Vec<Value> = injuries_on(date).iter().map(injury_record).collect();
    Json(json!({
        "reportDate": date.format("%Y-%m-%d").to_string(),
        "reportTime": "05:00 PM ET",
        "season": season_label(date),
        "records": records,
    }))
    .into_response()
}

pub(crate) fn pbp_action(play: &Play) -> Value {
    let clock = format!(
        "PT{:02}M{:02}.00S",
        play.clock_seconds / 60,
        play.clock_seconds % 60
    );
    let (action_type, sub_type) = match play.kind {
        PlayKind::PeriodStart => ("period", "start"),
        PlayKind::PeriodEnd => ("period", "end"),
        PlayKind::TwoPointer => ("2pt", "Jump Shot"),
        PlayKind::ThreePointer => ("3pt", "Jump Shot"),
        PlayKind::FreeThrow => ("freethrow", "1 of 1"),
    };
    let mut action = json!({
        "actionNumber": play.number,
        "clock": clock,
        "period": play.period,
        "periodType": "REGULAR",
        "actionType": action_type,
        "subType": sub_type,
        "personId": 0,
        "scoreHome": play.score_home.to_string(),
        "scoreAway": play.score_away.to_string(),
        "isFieldGoal": u8::from(matches!(play.kind, PlayKind::TwoPointer | PlayKind::ThreePointer)),
        "description": play.description(),
    });
    if let Some(player) = &play.player {
        action["personId"] = json!(player.nba_id());
        action["teamId"] = json!(player.team.nba_id());
        action["teamTricode"] = json!(player.team.tricode);
        action["playerName"] = json!(player.last_name);
        action["playerNameI"] = json!(player.initial_name());
        action["shotResult"] = json!("Made");
    }
    action
}

/// NBA.com CDN play-by-play of one game; 404 for ids never scheduled.
async fn nba_pbp(Path(game_id): Path<String>) -> Response {
    let Some(game) = game_by_id(&game_id) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no play-by-play for game {game_id}"),
        );
    };
    let actions: Vec<Value> = plays(&game).iter().map(pbp_action).collect();
    Json(json!({
        "meta": { "version": 1, "code": 200, "request": format!("simulated://playbyplay/{game_id}") },
        "game": { "gameId": game.game_id(), "actions": actions },
    }))
    .into_response()
}

/// NBA.com game book of one game, addressed as the league does:
/// `/nba/gamebooks/YYYYMMDD/AWYHOM.pdf` (the date, then the away and home
/// tricodes). A small PDF naming the game; 404 (JSON) for a date and
/// matchup with no game, 400 for a date that is not `YYYYMMDD`.
async fn nba_gamebook(Path((day, file)): Path<(String, String)>) -> Response {
    let date = match NaiveDate::parse_from_str(&day, "%Y%m%d") {
        Ok(date) if day.len() == 8 => date,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid date {day:?}: expected YYYYMMDD"),
            );
        }
    };
    let Some(matchup) = file.strip_suffix(".pdf") else {
        return error(StatusCode::NOT_FOUND, format!("no game book {file:?}"));
    };
    let game = games_on(date)
        .into_iter()
        .find(|g| format!("{}{}", g.away.tricode, g.home.tricode) == matchup);
    let Some(game) = game else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no game {matchup} on {}", date.format("%Y-%m-%d")),
        );
    };
    let body = format!(
        "%PDF-1.4\n% simulated game book\n% game {} {} at {} on {}\n%%EOF\n",
        game.game_id(),
        game.away.tricode,
        game.home.tricode,
        date.format("%Y-%m-%d")
    );
    ([(CONTENT_TYPE, "application/pdf")], body).into_response()
}

pub(crate) fn bdl_team(team: &Team) -> Value {
    json!({
        "id": team.bdl_id(),
        "conference": team.conference,
        "division": team.division,
        "city": team.city,
        "name": team.name,
        "full_name": team.full_name,
        "abbreviation": team.tricode,
    })
}

pub(crate) fn bdl_line(line: &PlayerLine) -> Value {
    let pct = |made: u32, tried: u32| {
        if tried == 0 {
            0.0
        } else {
            f64::from(made) / f64::from(tried)
        }
    };
    let p = &line.player;
    json!({
        "min": line.minutes.to_string(),
        "fgm": line.fgm, "fga": line.fga, "fg_pct": pct(line.fgm, line.fga),
        "fg3m": line.fg3m, "fg3a": line.fg3a, "fg3_pct": pct(line.fg3m, line.fg3a),
        "ftm": line.ftm, "fta": line.fta, "ft_pct": pct(line.ftm, line.fta),
        "oreb": line.oreb, "dreb": line.dreb, "reb": line.oreb + line.dreb,
        "ast": line.ast, "stl": line.stl, "blk": line.blk,
        "turnover": line.turnover, "pf": line.pf, "pts": line.pts(),
        "player": {
            "id": p.bdl_id(),
            "first_name": p.first_name,
            "last_name": p.last_name,
            "position": p.position,
            "jersey_number": p.jersey.to_string(),
            "team_id": p.team.bdl_id(),
        },
    })
}

/// The fields BallDontLie puts on every game object.
pub(crate) fn bdl_game_fields(game: &Game, home_score: u32, away_score: u32) -> Value {
    json!({
        "id": game.bdl_id(),
        "date": game.date.format("%Y-%m-%d").to_string(),
        "season": season_start_year(game.date),
        "status": "Final",
        "period": 4,
        "time": "Final",
        "postseason": false,
        "home_team_score": home_score,
        "visitor_team_score": away_score,
        "datetime": game.tipoff_utc().format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
    })
}

/// BallDontLie box scores of `?date=` (required): one object per game, the
/// players nested in each team like the real API.
pub(crate) async fn bdl_box_scores(uri: Uri) -> Response {
    let date = match required_date(&uri) {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let data: Vec<Value> = games_on(date)
        .iter()
        .map(|game| {
            let box_score = game.box_score();
            let mut object = bdl_game_fields(game, box_score.home_score(), box_score.away_score());
            let mut home = bdl_team(game.home);
            home["players"] = box_score.home.iter().map(bdl_line).collect();
            let mut away = bdl_team(game.away);
            away["players"] = box_score.away.iter().map(bdl_line).collect();
            object["home_team"] = home;
            object["visitor_team"] = away;
            object
        })
        .collect();
    Json(json!({ "data": data, "meta": { "per_page": 100 } })).into_response()
}

/// BallDontLie games of every `dates[]=` given (at least one).
async fn bdl_games(uri: Uri) -> Response {
    let mut dates = Vec::new();
    for (key, value) in query_pairs(&uri) {
        if key == "dates[]" || key == "dates" {
            match parse_date(&value) {
                Some(date) => dates.push(date),
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("invalid date {value:?}: expected YYYY-MM-DD"),
                    );
                }
            }
        }
    }
    if dates.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "missing query parameter: dates[] (YYYY-MM-DD)",
        );
    }
    let data: Vec<Value> = dates
        .into_iter()
        .flat_map(games_on)
        .map(|game| {
            let box_score = game.box_score();
            let mut object = bdl_game_fields(&game, box_score.home_score(), box_score.away_score());
            object["home_team"] = bdl_team(game.home);
            object["visitor_team"] = bdl_team(game.away);
            object
        })
        .collect();
    Json(json!({ "data": data, "meta": { "per_page": 100 } })).into_response()
}

pub(crate) fn odds_event(game: &Game) -> Value {
    json!({
        "id": game.event_id(),
        "sport_key": "basketball_nba",
        "sport_title": "NBA",
        "commence_time": iso_utc(game),
        "home_team": game.home.full_name,
        "away_team": game.away.full_name,
    })
}

/// Odds API events of `?date=` (default [`crate::DEMO_DATE`]): a top-level
/// array, one event per game.
async fn odds_events(uri: Uri) -> Response {
    let date = match optional_date(&uri) {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let events: Vec<Value> = games_on(date).iter().map(odds_event).collect();
    Json(Value::Array(events)).into_response()
}

/// Markets the odds route can price.
pub const ODDS_MARKETS: [&str; 6] = [
    "h2h",
    "spreads",
    "totals",
    "player_points",
    "player_rebounds",
    "player_assists",
];

fn price(rng: &mut fixtures::Rng) -> f64 {
    (180 + rng.below(25)) as f64 / 100.0
}

fn market(game: &Game, key: &str, rng: &mut fixtures::Rng) -> Value {
    let outcomes: Vec<Value> = match key {
        "h2h" => vec![
            json!({ "name": game.home.full_name, "price": price(rng) }),
            json!({ "name": game.away.full_name, "price": price(rng) }),
        ],
        "spreads" => {
            let point = rng.below(12) as f64 + 0.5;
            vec![
                json!({ "name": game.home.full_name, "price": price(rng), "point": -point }),
                json!({ "name": game.away.full_name, "price": price(rng), "point": point }),
            ]
        }
        "totals" => {
            let point = 210.5 + rng.below(30) as f64;
            vec![
                json!({ "name": "Over", "price": price(rng), "point": point }),
                json!({ "name": "Under", "price": price(rng), "point": point }),
            ]
        }
        _ => {
            // Player props: the four most-used players of each team, an
            // Over and an Under each.
            let scale = match key {
                "player_points" => 30,
                "player_rebounds" => 12,
                _ => 9,
            };
            let players = fixtures::roster(game.home)
                .into_iter()
                .take(4)
                .chain(fixtures::roster(game.away).into_iter().take(4));
            players
                .flat_map(|player| {
                    let point = 2.5 + rng.below(scale) as f64;
                    let name = player.full_name();
                    [
                        json!({ "name": "Over", "description": name, "price": price(rng), "point": point }),
                        json!({ "name": "Under", "description": name, "price": price(rng), "point": point }),
                    ]
                })
                .collect()
        }
    };
    json!({ "key": key, "last_update": iso_utc(game), "outcomes": outcomes })
}

/// Odds API odds of one event for `?markets=` (comma-separated, default
/// `player_points`); 404 for unknown event ids, 422 when no market is known.
pub(crate) async fn odds_event_odds(Path(event_id): Path<String>, uri: Uri) -> Response {
    let Some(game) = game_by_event_id(&event_id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "message": format!("Event not found: {event_id}"),
                "error_code": "EVENT_NOT_FOUND",
            })),
        )
            .into_response();
    };
    let requested = query_param(&uri, "markets").unwrap_or_else(|| "player_points".to_string());
    let markets: Vec<&str> = requested
        .split(',')
        .map(str::trim)
        .filter(|m| ODDS_MARKETS.contains(m))
        .collect();
    if markets.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "message": format!("Invalid markets: {requested}"),
                "error_code": "INVALID_MARKET",
            })),
        )
            .into_response();
    }
    let mut rng = fixtures::Rng::new(u64::from_str_radix(&event_id[..16], 16).unwrap_or(0));
    let bookmakers: Vec<Value> = [("draftkings", "DraftKings"), ("fanduel", "FanDuel")]
        .into_iter()
        .map(|(key, title)| {
            let markets: Vec<Value> = markets.iter().map(|m| market(&game, m, &mut rng)).collect();
            json!({ "key": key, "title": title, "last_update": iso_utc(&game), "markets": markets })
        })
        .collect();
    let mut body = odds_event(&game);
    body["bookmakers"] = Value::Array(bookmakers);
    Json(body).into_response()
}

/// The body BigDataBall answers when a game's file is not published yet.
pub const BDB_NOT_FOUND: &str = "No game found matching query";

fn bdb_clock(seconds: u32) -> String {
    format!("0:{:02}:{:02}", seconds / 60, seconds % 60)
}

/// BigDataBall-style play-by-play rows of `?game_id=`; 404 with
/// [`BDB_NOT_FOUND`] for games it has not published (never scheduled).
async fn bdb_pbp(uri: Uri) -> Response {
    let game = query_param(&uri, "game_id").and_then(|id| game_by_id(&id));
    let Some(game) = game else {
        return error(StatusCode::NOT_FOUND, BDB_NOT_FOUND);
    };
    let data_set = format!("NBA {} Regular Season", season_label(game.date));
    let rows: Vec<Value> = plays(&game)
        .iter()
        .map(|play| {
            let (event_type, team, player) = match (&play.player, play.kind) {
                (_, PlayKind::PeriodStart) => ("start of period", "", String::new()),
                (_, PlayKind::PeriodEnd) => ("end of period", "", String::new()),
                (Some(p), PlayKind::FreeThrow) => ("free throw", p.team.tricode, p.full_name()),
                (Some(p), _) => ("shot", p.team.tricode, p.full_name()),
                (None, _) => ("unknown", "", String::new()),
            };
            json!({
                "game_id": &game.game_id()[2..],
                "data_set": data_set,
                "date": game.date.format("%Y-%m-%d").to_string(),
                "period": play.period,
                "away_score": play.score_away,
                "home_score": play.score_home,
                "remaining_time": bdb_clock(play.clock_seconds),
                "elapsed": bdb_clock(720 - play.clock_seconds),
                "play_id": play.number,
                "team": team,
                "event_type": event_type,
                "player": player,
                "points": play.points,
                "result": if play.player.is_some() { "made" } else { "" },
                "description": play.description(),
            })
        })
        .collect();
    Json(json!({ "game_id": game.game_id(), "data_set": data_set, "rows": rows })).into_response()
}
