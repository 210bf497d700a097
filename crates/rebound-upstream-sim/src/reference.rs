//! The reference router: the real paths of `examples/nba/rebound.toml`,
//! one prefix per source, so the reference pipeline runs unchanged against
//! the simulation once each `[sources.X] base_url` points at
//! `{base_url}/ref/X`.
//!
//! | source          | paths (under `/ref/<source>`)                                   |
//! | --------------- | --------------------------------------------------------------- |
//! | `nba_cdn`       | `/staticData/scheduleLeagueV2_1.json`, `/liveData/playbyplay/playbyplay_<id>.json` |
//! | `nba_stats`     | `/playerindex`, `/boxscoretraditionalv2`, `/leaguegamelog`: only through a proxy (a request without `Via` gets 403) |
//! | `nba_official`  | `/referee/injury/Injury-Report_<date>_<hh><AM/PM>.pdf` (until 2025-12-22), `…_<hh>_<mm><AM/PM>.pdf` (from 2025-12-23) |
//! | `nba_statsdmz`  | `/pdfs/<YYYYMMDD>/<YYYYMMDD>_<AWY><HOM>.pdf` (game books)        |
//! | `nba_referees`  | `/get-game-officials?date=`                                     |
//! | `balldontlie`   | `/standings`, `/players/active`, `/box_scores?date=`: cursor pages (`per_page`, `cursor`, `meta.next_cursor`) |
//! | `odds_api`      | `/sports/basketball_nba/events`, `.../events/<id>/odds`         |
//! | `bettingpros`   | `/events?date=`, `/offers?date=&page=&limit=` (`_pagination.total_items`) |
//! | `espn`          | `/teams`, `/teams/<id>/roster`                                  |
//!
//! The health probes of the config (`nba_cdn`'s
//! `/liveData/odds/odds_todaysGames.json`, `balldontlie`'s `/teams`,
//! `odds_api`'s `/sports`) answer 200.
//!
//! The PDFs are real documents laid out like NBA.com's (`reference_docs.rs`).
//! BigDataBall is not here: it has no public HTTP API (its files are on a
//! Google Drive folder), so the reference config leaves it out.
//!
//! Shapes follow the real payloads closely enough for the config's
//! `records` pointers, `for_each` item paths and calendar JSONPath; the
//! data is the generated [`crate::fixtures`], so a test can count the calls
//! a fan-out should make. The season schedule (which on the real CDN has no
//! date parameter) holds the dates within [`REFERENCE_DAYS_AROUND`] of an
//! anchor date set with [`crate::UpstreamSim::set_reference_anchor`]
//! (default [`crate::DEMO_DATE`]).
//!
//! Filters behave like the real APIs': the Odds API events route keeps only
//! games whose tip-off is inside `commenceTimeFrom..=commenceTimeTo` (UTC
//! instants, RFC 3339), whatever ET date they belong to; the config asks for
//! the Eastern day with `{day_start_utc}`/`{day_end_utc}`.

use crate::fixtures::{
    Game, TEAMS, Team, game_by_id, games_on, parse_date, plays, roster, season_label,
    season_start_year,
};
use crate::routes::{
    bdl_game_fields, bdl_line, bdl_team, error, iso_utc, nba_team, not_found, odds_event,
    odds_event_odds, pbp_action, query_param,
};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// Dates the reference schedule serves on each side of its anchor.
pub const REFERENCE_DAYS_AROUND: i64 = 3;

/// The prefix the reference routes live under.
pub const REFERENCE_PREFIX: &str = "/ref";

/// The anchor date of the reference schedule, shared with the handle.
#[derive(Clone)]
pub(crate) struct Anchor(Arc<AtomicI32>);

impl Anchor {
    pub(crate) fn new() -> Anchor {
        let demo = parse_date(crate::DEMO_DATE).expect("DEMO_DATE is a date");
        Anchor(Arc::new(AtomicI32::new(demo.num_days_from_ce())))
    }

    pub(crate) fn set(&self, date: NaiveDate) {
        self.0.store(date.num_days_from_ce(), Ordering::Relaxed);
    }

    fn get(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0.load(Ordering::Relaxed))
            .expect("stored from a NaiveDate")
    }
}

/// The reference routes, to be nested under [`REFERENCE_PREFIX`].
pub(crate) fn router(anchor: Anchor) -> Router {
    // stats.nba.com answers cloud hosts only through proxies: here, only
    // requests that came through a forward proxy (which adds `Via`).
    let stats = Router::new()
        .route("/nba_stats/playerindex", get(stats_player_index))
        .route("/nba_stats/boxscoretraditionalv2", get(stats_team_boxscore))
        .route("/nba_stats/leaguegamelog", get(stats_league_game_log))
        .layer(axum::middleware::from_fn(through_a_proxy));
    Router::new()
        .route(
            "/nba_cdn/staticData/scheduleLeagueV2_1.json",
            get(cdn_schedule),
        )
        .route("/nba_cdn/liveData/playbyplay/{file}", get(cdn_play_by_play))
        .merge(stats)
        .route(
            "/nba_official/referee/injury/{file}",
            get(crate::reference_docs::injury_report),
        )
        .route(
            "/nba_statsdmz/pdfs/{day}/{file}",
            get(crate::reference_docs::game_book),
        )
        .route("/nba_referees/get-game-officials", get(referee_assignments))
        .route("/balldontlie/standings", get(bdl_standings))
        .route("/balldontlie/players/active", get(bdl_active_players))
        .route("/balldontlie/box_scores", get(bdl_box_scores_paged))
        .route("/odds_api/sports/basketball_nba/events", get(odds_events))
        .route(
            "/odds_api/sports/basketball_nba/events/{event_id}/odds",
            get(odds_event_odds),
        )
        .route("/bettingpros/events", get(bp_events))
        .route("/bettingpros/offers", get(bp_offers))
        .route("/espn/teams", get(espn_teams))
        // The health probes the reference config declares (`health = {...}`).
        .route(
            "/nba_cdn/liveData/odds/odds_todaysGames.json",
            get(probe_ok),
        )
        .route("/balldontlie/teams", get(probe_ok))
        .route("/odds_api/sports", get(probe_ok))
        .route("/espn/teams/{team_id}/roster", get(espn_roster))
        .fallback(not_found)
        .with_state(anchor)
}

/// The sources' health endpoints: up whenever the host is (faults decide
/// otherwise).
async fn probe_ok() -> Response {
    Json(json!({ "data": [{ "ok": true }] })).into_response()
}

/// The `Via` header a forward proxy adds (RFC 9110, section 7.6.3); without
/// it the request came straight from a "cloud host" and gets what
/// stats.nba.com's CDN gives those: 403 and an Akamai-style HTML page.
async fn through_a_proxy(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.headers().contains_key(axum::http::header::VIA) {
        return next.run(request).await;
    }
    (
        StatusCode::FORBIDDEN,
        [(CONTENT_TYPE, "text/html")],
        "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>You don't have permission \
         to access this server. (simulated: stats.nba.com answers only through a proxy)\
         </BODY></HTML>",
    )
        .into_response()
}

/// The value of a cursor or page query parameter, if any.
fn number_param(uri: &Uri, name: &str) -> Result<Option<usize>, Box<Response>> {
    match query_param(uri, name) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                format!("invalid {name} {text:?}"),
            ))
        }),
    }
}

/// One page of `items` the BallDontLie way: `per_page` (default 25, at most
/// 100) items after position `cursor` (the API's cursor is the last id
/// returned; here it is the position, as opaque to clients), and
/// `meta.next_cursor` only when more remain.
fn bdl_page(uri: &Uri, items: Vec<Value>) -> Response {
    let per_page = match number_param(uri, "per_page") {
        Ok(n) => n.unwrap_or(25).clamp(1, 100),
        Err(response) => return *response,
    };
    let cursor = match number_param(uri, "cursor") {
        Ok(n) => n.unwrap_or(0),
        Err(response) => return *response,
    };
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip(cursor).take(per_page).collect();
    let end = cursor + data.len();
    let mut meta = json!({ "per_page": per_page });
    if end < total {
        meta["next_cursor"] = json!(end);
    }
    Json(json!({ "data": data, "meta": meta })).into_response()
}

/// A required date query parameter; the error is boxed because a
/// `Response` is large.
fn date_param(uri: &Uri, name: &str) -> Result<NaiveDate, Box<Response>> {
    let text = query_param(uri, name).ok_or_else(|| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("missing query parameter: {name}"),
        ))
    })?;
    parse_date(&text).ok_or_else(|| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid {name} {text:?}"),
        ))
    })
}

// ---------------------------------------------------------------- nba_cdn

fn schedule_game(game: &Game) -> Value {
    let date = game.date;
    json!({
        "gameId": game.game_id(),
        "gameCode": format!("{}/{}{}", date.format("%Y%m%d"), game.away.tricode, game.home.tricode),
        "gameStatus": 1,
        "gameStatusText": "Scheduled",
        "gameSequence": game.index + 1,
        "gameDateEst": format!("{}T00:00:00Z", date.format("%Y-%m-%d")),
        "gameDateTimeUTC": iso_utc(game),
        "day": date.format("%a").to_string(),
        "arenaName": format!("{} Arena", game.home.city),
        "postponedStatus": "N",
        "homeTeam": nba_team(game.home, 0),
        "awayTeam": nba_team(game.away, 0),
    })
}

/// The CDN season schedule: every date within [`REFERENCE_DAYS_AROUND`] of
/// the anchor, one `gameDates` entry per date.
async fn cdn_schedule(State(anchor): State<Anchor>) -> Response {
    let anchor = anchor.get();
    let game_dates: Vec<Value> = (-REFERENCE_DAYS_AROUND..=REFERENCE_DAYS_AROUND)
        .map(|offset| {
            let date = anchor + Days::days(offset);
            let games: Vec<Value> = games_on(date).iter().map(schedule_game).collect();
            json!({ "gameDate": date.format("%m/%d/%Y 00:00:00").to_string(), "games": games })
        })
        .collect();
    Json(json!({
        "meta": { "version": 1, "request": "simulated://scheduleLeagueV2_1.json" },
        "leagueSchedule": {
            "seasonYear": season_label(anchor),
            "leagueId": "00",
            "gameDates": game_dates,
        },
    }))
    .into_response()
}

/// `playbyplay_<game id>.json`; 403 for games the CDN does not have (the
/// real CDN answers S3's AccessDenied for missing keys).
async fn cdn_play_by_play(Path(file): Path<String>) -> Response {
    let game = file
        .strip_prefix("playbyplay_")
        .and_then(|rest| rest.strip_suffix(".json"))
        .and_then(game_by_id);
    let Some(game) = game else {
        return (
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code></Error>",
        )
            .into_response();
    };
    let actions: Vec<Value> = plays(&game).iter().map(pbp_action).collect();
    Json(json!({
        "meta": { "version": 1, "code": 200 },
        "game": { "gameId": game.game_id(), "actions": actions },
    }))
    .into_response()
}

// ---------------------------------------------------------------- nba_stats

/// A stats.nba.com result set: `{"name", "headers", "rowSet"}`.
fn result_set(name: &str, headers: &[&str], rows: Vec<Value>) -> Value {
    json!({ "name": name, "headers": headers, "rowSet": rows })
}

fn stats(resource: &str, uri: &Uri, sets: Vec<Value>) -> Response {
    let parameters: serde_json::Map<String, Value> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        })
        .unwrap_or_default();
    Json(json!({ "resource": resource, "parameters": parameters, "resultSets": sets }))
        .into_response()
}

async fn stats_player_index(uri: Uri) -> Response {
    let rows: Vec<Value> = TEAMS
        .iter()
        .flat_map(roster)
        .map(|p| {
            json!([
                p.nba_id(),
                p.last_name,
                p.first_name,
                p.team.nba_id(),
                p.team.tricode,
                p.jersey.to_string(),
                p.position
            ])
        })
        .collect();
    let headers = [
        "PERSON_ID",
        "PLAYER_LAST_NAME",
        "PLAYER_FIRST_NAME",
        "TEAM_ID",
        "TEAM_ABBREVIATION",
        "JERSEY_NUMBER",
        "POSITION",
    ];
    stats(
        "playerindex",
        &uri,
        vec![result_set("PlayerIndex", &headers, rows)],
    )
}

fn game_param(uri: &Uri) -> Option<Game> {
    query_param(uri, "GameID").and_then(|id| game_by_id(&id))
}

/// boxscoretraditionalv2: PlayerStats, TeamStats (two rows), starters/bench.
/// An unknown game gets empty result sets, as stats.nba.com answers.
async fn stats_team_boxscore(uri: Uri) -> Response {
    let player_headers = [
        "GAME_ID",
        "TEAM_ID",
        "TEAM_ABBREVIATION",
        "PLAYER_ID",
        "PLAYER_NAME",
        "PTS",
    ];
    let team_headers = ["GAME_ID", "TEAM_ID", "TEAM_ABBREVIATION", "PTS"];
    let (players, teams) = match game_param(&uri) {
        None => (Vec::new(), Vec::new()),
        Some(game) => {
            let box_score = game.box_score();
            let id = game.game_id();
            let sides = [(game.home, &box_score.home), (game.away, &box_score.away)];
            let players = sides
                .iter()
                .flat_map(|(team, lines)| {
                    let id = id.clone();
                    lines.iter().map(move |l| {
                        json!([
                            id,
                            team.nba_id(),
                            team.tricode,
                            l.player.nba_id(),
                            l.player.full_name(),
                            l.pts()
                        ])
                    })
                })
                .collect();
            let teams = sides
                .iter()
                .map(|(team, lines)| {
                    let pts: u32 = lines.iter().map(|l| l.pts()).sum();
                    json!([id, team.nba_id(), team.tricode, pts])
                })
                .collect();
            (players, teams)
        }
    };
    stats(
        "boxscore",
        &uri,
        vec![
            result_set("PlayerStats", &player_headers, players),
            result_set("TeamStats", &team_headers, teams),
            result_set("TeamStarterBenchStats", &team_headers, Vec::new()),
        ],
    )
}

/// leaguegamelog (players): every player line of the games on `DateFrom`.
async fn stats_league_game_log(uri: Uri) -> Response {
    let date = match date_param(&uri, "DateFrom") {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let rows: Vec<Value> = games_on(date)
        .iter()
        .flat_map(|game| {
            let box_score = game.box_score();
            let id = game.game_id();
            let home = box_score.home.into_iter().map(|l| (game.home, l));
            let away = box_score.away.into_iter().map(|l| (game.away, l));
            home.chain(away)
                .map(|(team, l)| {
                    json!([
                        season_start_year(date).to_string(),
                        l.player.nba_id(),
                        l.player.full_name(),
                        team.tricode,
                        id,
                        date.format("%Y-%m-%d").to_string(),
                        l.minutes,
                        l.pts()
                    ])
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let headers = [
        "SEASON_ID",
        "PLAYER_ID",
        "PLAYER_NAME",
        "TEAM_ABBREVIATION",
        "GAME_ID",
        "GAME_DATE",
        "MIN",
        "PTS",
    ];
    stats(
        "leaguegamelog",
        &uri,
        vec![result_set("LeagueGameLog", &headers, rows)],
    )
}

/// Three synthetic officials per game.
fn officials(game: &Game) -> Vec<(u64, String)> {
    (0..3u64)
        .map(|k| {
            let n = (game.index as u64) * 3 + k;
            (202_000 + n, format!("Official {}", n + 1))
        })
        .collect()
}

// ---------------------------------------------------------------- nba_official, nba_referees

/// Officials of `?date=` in the official.nba.com shape: `nba`, `gl` and
/// `wnba` tables, only `nba` filled.
async fn referee_assignments(uri: Uri) -> Response {
    let date = match date_param(&uri, "date") {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let rows: Vec<Value> = games_on(date)
        .iter()
        .map(|game| {
            let mut row = json!({
                "game_id": game.game_id(),
                "game_date": date.format("%Y-%m-%d").to_string(),
                "season": season_label(date),
                "game_code": format!("{}/{}{}", date.format("%Y%m%d"), game.away.tricode, game.home.tricode),
                "home_team_abbr": game.home.tricode,
                "away_team_abbr": game.away.tricode,
            });
            for (k, (id, name)) in officials(game).into_iter().enumerate() {
                row[format!("official{}", k + 1)] = json!(name);
                row[format!("official{}_code", k + 1)] = json!(id.to_string());
            }
            row
        })
        .collect();
    let empty = json!({ "Table": { "rows": [] } });
    Json(json!({ "nba": { "Table": { "rows": rows } }, "gl": empty, "wnba": empty }))
        .into_response()
}

// ---------------------------------------------------------------- balldontlie

async fn bdl_standings() -> Response {
    let data: Vec<Value> = TEAMS
        .iter()
        .map(|team| {
            let wins = (team.index * 7 % 31) as u32;
            json!({ "team": bdl_team(team), "wins": wins, "losses": 30 - wins, "season": 2025 })
        })
        .collect();
    Json(json!({ "data": data })).into_response()
}

/// Active players, a page at a time behind a cursor (240 players: three
/// pages of 100).
async fn bdl_active_players(uri: Uri) -> Response {
    let players: Vec<Value> = TEAMS
        .iter()
        .flat_map(roster)
        .map(|p| {
            json!({ "id": p.bdl_id(), "first_name": p.first_name, "last_name": p.last_name,
                    "position": p.position, "team": bdl_team(p.team) })
        })
        .collect();
    bdl_page(&uri, players)
}

/// Box scores of `?date=`, one per game, a page at a time behind a cursor.
async fn bdl_box_scores_paged(uri: Uri) -> Response {
    let date = match date_param(&uri, "date") {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let games: Vec<Value> = games_on(date)
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
    bdl_page(&uri, games)
}

// ---------------------------------------------------------------- odds_api

fn utc_param(uri: &Uri, name: &str) -> Result<Option<DateTime<Utc>>, Box<Response>> {
    match query_param(uri, name) {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(&text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                Box::new(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Invalid {name} parameter, must be in format YYYY-MM-DDTHH:MM:SSZ"),
                ))
            }),
    }
}

/// Events with a tip-off inside `commenceTimeFrom..=commenceTimeTo` (UTC),
/// looked up among the generated games of the dates around it: a top-level
/// array, like the real API.
async fn odds_events(uri: Uri) -> Response {
    let (from, to) = match (
        utc_param(&uri, "commenceTimeFrom"),
        utc_param(&uri, "commenceTimeTo"),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(response), _) | (_, Err(response)) => return *response,
    };
    let Some(center) = from.or(to) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this simulation needs commenceTimeFrom or commenceTimeTo",
        );
    };
    let center = center.date_naive();
    let events: Vec<Value> = (-1..=1)
        .flat_map(|offset| games_on(center + Days::days(offset)))
        .filter(|game| {
            let tip = game.tipoff_utc().and_utc();
            from.is_none_or(|f| tip >= f) && to.is_none_or(|t| tip <= t)
        })
        .map(|game| odds_event(&game))
        .collect();
    Json(Value::Array(events)).into_response()
}

// ---------------------------------------------------------------- bettingpros

fn bp_event_id(game: &Game) -> u64 {
    // Unique per game: the BallDontLie id already encodes date and index.
    game.bdl_id()
}

async fn bp_events(uri: Uri) -> Response {
    let date = match date_param(&uri, "date") {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let events: Vec<Value> = games_on(date)
        .iter()
        .map(|game| {
            json!({
                "id": bp_event_id(game),
                "sport": "NBA",
                "scheduled": game.tipoff_utc().format("%Y-%m-%d %H:%M:%S").to_string(),
                "season": season_start_year(date),
                "season_type": "REG",
                "status": "scheduled",
                "home": game.home.tricode,
                "visitor": game.away.tricode,
            })
        })
        .collect();
    Json(json!({ "_parameters": { "sport": "NBA", "date": date.to_string() }, "events": events }))
        .into_response()
}

/// Point props (market 156) of the date's games: four players a team.
async fn bp_offers(uri: Uri) -> Response {
    let date = match date_param(&uri, "date") {
        Ok(date) => date,
        Err(response) => return *response,
    };
    let market: u64 = query_param(&uri, "market_id")
        .and_then(|m| m.parse().ok())
        .unwrap_or(156);
    let offers: Vec<Value> = games_on(date)
        .iter()
        .flat_map(|game| {
            let players = roster(game.home).into_iter().take(4).chain(roster(game.away).into_iter().take(4));
            players
                .map(|p| {
                    let line = 8.5 + ((p.nba_id() % 20) as f64);
                    json!({
                        "event_id": bp_event_id(game),
                        "market_id": market,
                        "participants": [{ "id": p.bdl_id().to_string(), "name": p.full_name() }],
                        "selections": [
                            { "label": "Over", "books": [{ "id": 12, "lines": [{ "line": line, "cost": -110 }] }] },
                            { "label": "Under", "books": [{ "id": 12, "lines": [{ "line": line, "cost": -110 }] }] },
                        ],
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // Pages of `limit` offers (default 25), `page` counted from 1, with the
    // `_pagination` block of the real API; a page past the end is empty.
    let limit = match number_param(&uri, "limit") {
        Ok(n) => n.unwrap_or(25).clamp(1, 100),
        Err(response) => return *response,
    };
    let page = match number_param(&uri, "page") {
        Ok(n) => n.unwrap_or(1).max(1),
        Err(response) => return *response,
    };
    let total = offers.len();
    let items: Vec<Value> = offers
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    Json(json!({
        "offers": items,
        "_pagination": {
            "page": page,
            "limit": limit,
            "total_items": total,
            "total_pages": total.div_ceil(limit),
        },
    }))
    .into_response()
}

// ---------------------------------------------------------------- espn

fn espn_team(team: &Team) -> Value {
    json!({
        "id": team.bdl_id().to_string(),
        "abbreviation": team.tricode,
        "displayName": team.full_name,
        "location": team.city,
        "name": team.name,
    })
}

async fn espn_teams() -> Response {
    let teams: Vec<Value> = TEAMS
        .iter()
        .map(|team| json!({ "team": espn_team(team) }))
        .collect();
    Json(json!({
        "sports": [{ "id": "40", "name": "Basketball", "leagues": [{
            "id": "46", "abbreviation": "NBA", "teams": teams,
        }] }],
    }))
    .into_response()
}

/// One team's roster; 404 in ESPN's error shape for unknown team ids.
async fn espn_roster(Path(team_id): Path<String>) -> Response {
    let team = team_id
        .parse::<usize>()
        .ok()
        .and_then(|id| id.checked_sub(1))
        .and_then(|index| TEAMS.get(index));
    let Some(team) = team else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "code": 404, "message": "Failed to get roster" })),
        )
            .into_response();
    };
    let athletes: Vec<Value> = roster(team)
        .iter()
        .map(|p| {
            json!({ "id": p.nba_id().to_string(), "fullName": p.full_name(),
                    "jersey": p.jersey.to_string(), "position": { "abbreviation": p.position } })
        })
        .collect();
    Json(json!({ "team": espn_team(team), "athletes": athletes })).into_response()
}
