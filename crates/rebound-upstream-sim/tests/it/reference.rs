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

/// Fills the built-in parameters (`{date}`, its `|%Y%m%d` filter,
/// `{day_start_utc}`/`{day_end_utc}`: [`day`] in New York, on EST, is
/// 05:00Z to 04:59:59Z the next day; the season of `season_start = "10-01"`;
/// the 13:00 slot) and the fan-out parameters.
fn fill(text: &str, date: NaiveDate, params: &[(&str, String)]) -> String {
    let mut out = text
        .replace("{date}", &date.format("%Y-%m-%d").to_string())
        .replace("{date|%Y%m%d}", &date.format("%Y%m%d").to_string())
        .replace("{day_start_utc}", "2026-01-15T05:00:00Z")
        .replace("{day_end_utc}", "2026-01-16T04:59:59Z")
        .replace("{season}", "2025-26")
        .replace("{season_start_year}", "2025")
        .replace("{slot_hour12}", "01")
        .replace("{slot_minute}", "00")
        .replace("{slot_ampm}", "PM");
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
        ("away", game.away.tricode.to_string()),
        ("home", game.home.tricode.to_string()),
    ];
    let scrapers = config["scrapers"].as_table().unwrap();
    assert_eq!(
        scrapers.len(),
        19,
        "every scraper of the reference config is covered"
    );
    for (name, scraper) in scrapers {
        let source = scraper["source"].as_str().unwrap();
        // A dated variant is asked for on a date it is valid on.
        let date = match scraper.get("valid_until") {
            Some(_) => NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
            None => day(),
        };
        let path = fill(scraper["path"].as_str().unwrap(), date, &params);
        let mut url = url::Url::parse(&format!("{}/ref/{source}{path}", sim.base_url())).unwrap();
        if let Some(query) = scraper.get("query").and_then(|q| q.as_table()) {
            for (key, value) in query {
                url.query_pairs_mut()
                    .append_pair(key, &fill(value.as_str().unwrap(), date, &params));
            }
        }
        let mut request = client().get(url.clone());
        if source == "nba_stats" {
            // What a forward proxy adds; stats.nba.com answers only those.
            request = request.header("via", "1.1 test-proxy");
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{name}: {} {url}",
            response.status()
        );
        let body = response.bytes().await.unwrap();
        if scraper.get("format").and_then(|f| f.as_str()) == Some("pdf") {
            // Documents: a PDF (the injury report's records come from its
            // transform, tested in the CLI's tests).
            assert!(body.starts_with(b"%PDF-"), "{name}");
            continue;
        }
        let records = scraper["records"].as_str().unwrap();
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
    let response = client()
        .get(format!(
            "{}/ref/nba_statsdmz/pdfs/20260115/20260115_XXXYYY.pdf",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
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

#[tokio::test]
async fn real_api_shapes_pages_proxies_and_dated_pdf_names() {
    let sim = start().await;
    let base = sim.base_url();
    // BallDontLie: cursor pages of `per_page`, `next_cursor` only when more
    // remain.
    let mut cursor: Option<u64> = None;
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let mut url = "/ref/balldontlie/players/active?per_page=100".to_string();
        if let Some(c) = cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get_json(&sim, &url).await;
        assert_eq!(status, 200);
        pages += 1;
        seen += page["data"].as_array().unwrap().len();
        match page["meta"]["next_cursor"].as_u64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, 240));
    // BettingPros: numbered pages with `_pagination.total_items`.
    let (_, first) = get_json(
        &sim,
        "/ref/bettingpros/offers?date=2026-01-15&limit=25&page=1",
    )
    .await;
    let total = first["_pagination"]["total_items"].as_u64().unwrap() as usize;
    assert_eq!(total, games_on(day()).len() * 8);
    assert_eq!(first["offers"].as_array().unwrap().len(), 25);
    let last = total.div_ceil(25);
    let (_, tail) = get_json(
        &sim,
        &format!("/ref/bettingpros/offers?date=2026-01-15&limit=25&page={last}"),
    )
    .await;
    assert_eq!(
        tail["offers"].as_array().unwrap().len(),
        total - 25 * (last - 1)
    );
    // stats.nba.com: 403 without a proxy's `Via`.
    let direct = client()
        .get(format!(
            "{base}/ref/nba_stats/playerindex?LeagueID=00&Season=2025-26"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status().as_u16(), 403);
    // The injury report: the name form of its date; the other form is the
    // CDN's 403 for a missing key.
    for (file, ok) in [
        ("Injury-Report_2025-12-22_05PM.pdf", true),
        ("Injury-Report_2025-12-22_05_00PM.pdf", false),
        ("Injury-Report_2025-12-23_05_00PM.pdf", true),
        ("Injury-Report_2025-12-23_05_15PM.pdf", true),
        ("Injury-Report_2025-12-23_05PM.pdf", false),
        ("Injury-Report_2025-12-23_05_10PM.pdf", false),
        ("Injury-Report_2025-12-23_13_00PM.pdf", false),
    ] {
        let response = client()
            .get(format!("{base}/ref/nba_official/referee/injury/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            if ok { 200 } else { 403 },
            "{file}"
        );
        if ok {
            let body = response.bytes().await.unwrap();
            assert!(
                body.starts_with(b"%PDF-1.4") && body.ends_with(b"%%EOF\n"),
                "{file}"
            );
        }
    }
    // Game books by game code.
    let game = games_on(day()).remove(0);
    let (day_code, teams) = (
        "20260115",
        format!("{}{}", game.away.tricode, game.home.tricode),
    );
    let response = client()
        .get(format!(
            "{base}/ref/nba_statsdmz/pdfs/{day_code}/{day_code}_{teams}.pdf"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.bytes().await.unwrap().len() > 1024,
        "over the config's min_bytes"
    );
    sim.shutdown().await;
}
