//! The reference pipeline (`examples/nba/rebound.toml`, unchanged but for
//! its base URLs, database and raw store) for one simulated game day
//! against the simulated upstream's reference routes (`/ref/<source>/...`),
//! scheduler and worker on a manual clock from 00:00 to 24:00 ET.
//!
//! What it checks is the "done when": each of the ten workflows
//! makes the RUN decisions its rule calls for and no more, the calendar is
//! fetched before anything that needs it, fan-outs make one call per game or
//! event and all succeed, discovery stops once it has data, no slot runs
//! twice, and every run leaves a `workflow_executions` row. And the real
//! APIs' shapes (issue 13 item 7): BallDontLie's cursor pages and
//! BettingPros' numbered pages are walked and joined, stats.nba.com is
//! reached only through the three proxies (one dead, one answering 403, one
//! working: rotation skips the first two), the season comes from
//! `season_start`, the injury report's URL names the slot's hour in the
//! form of its date and its PDF goes through the shipped parser, and game
//! books are asked for by "YYYYMMDD/AWYHOM".

use super::{harness_for, local};
use chrono::NaiveDate;
use rebound_service::scheduler::RecordedDecision;
use rebound_storage::DecisionAction;
use rebound_testkit::forward_proxy::{ForwardProxy, Mode};
use rebound_upstream_sim::fixtures::{TEAMS, games_on, injuries_on};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The production base URL of each source in the reference config.
const SOURCES: [(&str, &str); 9] = [
    ("nba_statsdmz", "https://statsdmz.nba.com"),
    ("nba_cdn", "https://cdn.nba.com/static/json"),
    ("nba_stats", "https://stats.nba.com/stats"),
    ("nba_official", "https://ak-static.cms.nba.com"),
    ("nba_referees", "https://official.nba.com/wp-json/api/v1"),
    ("balldontlie", "https://api.balldontlie.io/v1"),
    ("odds_api", "https://api.the-odds-api.com/v4"),
    ("bettingpros", "https://api.bettingpros.com/v3"),
    (
        "espn",
        "https://site.api.espn.com/apis/site/v2/sports/basketball/nba",
    ),
];

/// A winter Thursday: games tip from 19:00 EST (00:00Z).
fn game_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).expect("date")
}

/// The reference config pointed at the simulation, with its history in
/// `dir/history.db` (where the shared harness opens it) and raw payloads in
/// `dir/raw`.
fn reference_plan(
    dir: &Path,
    sim: &UpstreamSim,
    proxies: [String; 3],
) -> rebound_domain::plan::Plan {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/nba/rebound.toml"
    );
    let mut text = std::fs::read_to_string(path).expect("reference config");
    for (source, url) in SOURCES {
        let from = format!("base_url = \"{url}\"");
        assert!(
            text.contains(&from),
            "{source}: base URL changed in the config"
        );
        text = text.replace(
            &from,
            &format!("base_url = \"{}/ref/{source}\"", sim.base_url()),
        );
    }
    assert!(
        !text.contains("base_url = \"https://"),
        "every source points at the simulation"
    );
    text = text.replace(
        "database = \"sqlite://nba.db\"",
        "database = \"sqlite://history.db\"",
    );
    // `${VAR}`s come from an injected lookup: tests do not touch the process
    // environment (setting it is unsafe and leaks into parallel tests).
    // The transform's script, where the config says it is (relative to
    // the config's folder).
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).expect("scripts folder");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/nba/scripts/injury_report.py"
        ),
        scripts.join("injury_report.py"),
    )
    .expect("copy the injury report parser");
    rebound_config::load_str(&text, &dir.join("rebound.toml"), &|name| match name {
        "SLACK_WEBHOOK_URL" => Some("http://127.0.0.1:9/hook".to_string()),
        "NBA_PROXY_1_URL" => Some(proxies[0].clone()),
        "NBA_PROXY_2_URL" => Some(proxies[1].clone()),
        "NBA_PROXY_3_URL" => Some(proxies[2].clone()),
        _ => name.ends_with("_API_KEY").then(|| format!("test-{name}")),
    })
    .expect("the reference config loads")
}

fn game_ids(date: NaiveDate) -> Vec<String> {
    let mut ids: Vec<String> = games_on(date).iter().map(|g| g.game_id()).collect();
    ids.sort();
    ids
}

fn run_slots<'a>(decisions: &'a [RecordedDecision], workflow: &str) -> Vec<&'a str> {
    decisions
        .iter()
        .filter(|d| d.workflow == workflow && d.action == DecisionAction::Run)
        .map(|d| d.slot.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_pipeline_runs_a_simulated_game_day() {
    let started = Instant::now();
    let day = game_day();
    let yesterday = day.pred_opt().expect("date");
    let sim = UpstreamSim::start().await.expect("sim");
    sim.set_reference_anchor(day);
    // Discovery needs something to discover: the injury report PDF is not
    // published (403) at 09:00 and 11:00, the referee assignments have no
    // NBA rows at 09:00.
    // (The date is after 2025-12-23: the file name has minutes.)
    for hour in ["09", "11"] {
        let pdf = format!("/ref/nba_official/referee/injury/Injury-Report_{day}_{hour}_00AM.pdf");
        sim.script(&pdf, vec![Reply::status(403)]);
    }
    // stats.nba.com's proxies: the first refuses connections, the second
    // answers 403 (the upstream blocks its address), the third works.
    let dead = ForwardProxy::start(Mode::Refuse).await;
    let blocked = ForwardProxy::start(Mode::Forbidden).await;
    let working = ForwardProxy::start(Mode::Forward).await;
    let no_rows = serde_json::json!({
        "nba": { "Table": { "rows": [] } }, "gl": { "Table": { "rows": [] } },
        "wnba": { "Table": { "rows": [] } },
    });
    sim.script(
        "/ref/nba_referees/get-game-officials",
        vec![Reply::json(200, no_rows)],
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let plan = reference_plan(
        dir.path(),
        &sim,
        [
            dead.url_with_credentials("user", "dead-proxy-password"),
            blocked.url_with_credentials("user", "blocked-proxy-password"),
            working.url_with_credentials("user", "working-proxy-password"),
        ],
    );
    let mut h = harness_for(dir.path(), plan, local(day, 0, 0)).await;
    h.run_until(local(day + chrono::Days::new(1), 0, 0)).await;
    let decisions = h.decisions.clone();

    // The calendar had no data: fetched first, before any workflow decided.
    let first = decisions.first().expect("decisions");
    assert_eq!(first.workflow, "calendar:nba_games", "{first:?}");
    assert_eq!(first.action, DecisionAction::Run);
    let refreshes: Vec<_> = h
        .runs
        .iter()
        .filter(|r| r.workflow == "calendar:nba_games")
        .collect();
    assert!(!refreshes.is_empty());
    assert!(
        refreshes.iter().all(|r| r.status == "success"),
        "{refreshes:?}"
    );

    // RUN decisions per workflow: exactly what the rules call for.
    let expected: [(&str, &[&str]); 10] = [
        ("morning_operations", &["window"]),
        (
            "betting_lines",
            // First tip 19:00 EST, lead 12h: every 2h slot of 08:00–20:00.
            &["08:00", "10:00", "12:00", "14:00", "16:00", "18:00"],
        ),
        // Window 1 (22:00) is same-night: today's games tipped 3h ago.
        ("post_game_window_1", &["22:00"]),
        ("post_game_window_2", &["01:00"]),
        ("post_game_window_3", &["04:00"]),
        // The generated games all tip at 19:00 or later.
        ("early_game_window_1", &[]),
        ("early_game_window_2", &[]),
        ("early_game_window_3", &[]),
        // Not published at 09:00 and 11:00, found at 13:00.
        ("injury_discovery", &["09:00", "11:00", "13:00"]),
        // No rows at 09:00, found at 11:00.
        ("referee_discovery", &["09:00", "11:00"]),
    ];
    for (workflow, slots) in expected {
        assert_eq!(run_slots(&decisions, workflow), slots, "{workflow}");
    }
    // `at` slots run at their time, never early: each post-game run started
    // in [slot, slot + 30m].
    for (workflow, hour) in [
        ("post_game_window_1", 22),
        ("post_game_window_2", 1),
        ("post_game_window_3", 4),
    ] {
        let run = h
            .runs
            .iter()
            .find(|r| r.workflow == workflow)
            .unwrap_or_else(|| panic!("{workflow} ran"));
        let slot = local(day, hour, 0);
        assert_eq!(run.scheduled_for, slot, "{workflow}: {run:?}");
        assert!(
            run.started_at >= slot && run.started_at <= slot + chrono::Duration::minutes(30),
            "{workflow}: {run:?}"
        );
    }
    for workflow in [
        "early_game_window_1",
        "early_game_window_2",
        "early_game_window_3",
    ] {
        assert!(
            decisions
                .iter()
                .any(|d| d.workflow == workflow && d.reason.contains("no events before 19:00")),
            "{workflow}"
        );
    }
    // Target dates: windows 2 and 3 collect yesterday (ET), with every game
    // of it (nothing ran the evening before: the history starts today);
    // window 1 collects today's games that tipped at least 3h before 22:00,
    // i.e. the 19:00 tip; everything else is for today.
    let tipped_by_19: Vec<String> = games_on(day)
        .iter()
        .filter(|g| g.tipoff_utc().and_utc() <= local(day, 19, 0))
        .map(|g| g.game_id())
        .collect();
    assert_eq!(tipped_by_19.len(), 1, "the first game tips at 19:00 EST");
    for d in decisions
        .iter()
        .filter(|d| d.action == DecisionAction::Run && !d.workflow.starts_with("calendar:"))
    {
        match d.workflow.as_str() {
            "post_game_window_1" => {
                assert_eq!(d.target_date, day, "{d:?}");
                assert_eq!(d.entities, tipped_by_19, "{d:?}");
            }
            "post_game_window_2" | "post_game_window_3" => {
                assert_eq!(d.target_date, yesterday, "{d:?}");
                assert_eq!(d.entities, game_ids(yesterday), "{d:?}");
            }
            _ => assert_eq!(d.target_date, day, "{d:?}"),
        }
    }
    // Discovery stopped once it had data.
    for (workflow, last) in [
        ("injury_discovery", "13:00"),
        ("referee_discovery", "11:00"),
    ] {
        let after_data = decisions
            .iter()
            .filter(|d| d.workflow == workflow && d.reason.contains("data found"))
            .count();
        assert!(after_data > 0, "{workflow} said it was done");
        assert_eq!(run_slots(&decisions, workflow).last(), Some(&last));
    }

    // No slot ran twice; every RUN was queued and executed once.
    let mut seen = BTreeMap::new();
    for d in decisions.iter().filter(|d| d.action == DecisionAction::Run) {
        *seen
            .entry((d.workflow.clone(), d.target_date, d.slot.clone()))
            .or_insert(0) += 1;
        assert!(d.queued, "{d:?}");
    }
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(h.runs.len(), seen.len(), "one run per RUN decision");

    // Every run left its execution row: success, or partial with a message;
    // no_data only for the scripted discovery attempts.
    let store = h.engine.store().clone();
    // Odds events per betting run: today's games (see the end of the test).
    let odds_events = games_on(day).len();
    for run in h
        .runs
        .iter()
        .filter(|r| !r.workflow.starts_with("calendar:"))
    {
        let rows = store
            .executions_for_date(&run.workflow, run.target_date)
            .await
            .expect("executions");
        let row = rows
            .iter()
            .find(|r| r.execution_id == run.execution_id)
            .unwrap_or_else(|| panic!("no workflow_executions row for {run:?}"));
        match row.status.as_str() {
            "success" => {}
            "partial" => assert!(
                row.error_message.as_deref().is_some_and(|m| !m.is_empty()),
                "{row:?}"
            ),
            "no_data" => assert!(
                run.workflow.ends_with("_discovery") && run.slot != "13:00",
                "{row:?}"
            ),
            other => panic!("{} {}: status {other}: {row:?}", run.workflow, run.slot),
        }
        assert_eq!(run.status, row.status, "{run:?}");

        // Fan-outs: one call per game, event or team, each succeeded.
        let calls = store
            .scraper_calls_for_execution(&run.execution_id)
            .await
            .expect("calls");
        let mut per_scraper: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for call in &calls {
            per_scraper
                .entry(call.scraper_name.as_str())
                .or_default()
                .push(call.status.as_str());
        }
        let games_yesterday = games_on(yesterday).len();
        let expected_calls: &[(&str, usize)] = match run.workflow.as_str() {
            "morning_operations" => &[
                ("nbac_schedule_api", 1),
                ("nbac_player_list", 1),
                ("bdl_standings", 1),
                ("bdl_active_players", 1),
                ("espn_teams", 1),
                ("espn_roster", 30),
            ],
            "betting_lines" => &[
                ("oddsa_events", 1),
                ("bp_events", 1),
                ("oddsa_player_props", odds_events),
                ("oddsa_game_lines", odds_events),
                ("bp_player_props", 1),
            ],
            "post_game_window_1" => &[
                ("bdl_box_scores", 1),
                ("nbac_team_boxscore", tipped_by_19.len()),
                ("nbac_player_boxscore", 1),
            ],
            "post_game_window_2" => &[
                ("bdl_box_scores", 1),
                ("nbac_team_boxscore", games_yesterday),
                ("nbac_player_boxscore", 1),
            ],
            "post_game_window_3" => &[
                ("bdl_box_scores", 1),
                ("nbac_play_by_play", games_yesterday),
                ("nbac_gamebook_pdf", games_yesterday),
            ],
            // The date is after the URL change: only v2 runs.
            "injury_discovery" => &[("nbac_injury_report_v2", 1)],
            "referee_discovery" => &[("nbac_referee_assignments", 1)],
            other => panic!("unexpected run of {other}"),
        };
        let counts: BTreeMap<&str, usize> =
            per_scraper.iter().map(|(k, v)| (*k, v.len())).collect();
        let want: BTreeMap<&str, usize> = expected_calls.iter().copied().collect();
        assert_eq!(counts, want, "{} {}", run.workflow, run.slot);
        if row.status == "success" {
            for (scraper, statuses) in &per_scraper {
                assert!(
                    statuses.iter().all(|s| *s == "success"),
                    "{} {}: {scraper}: {statuses:?}",
                    run.workflow,
                    run.slot
                );
            }
        }
    }

    // Odds events: the config asks for the Eastern day
    // (`{day_start_utc}..{day_end_utc}`, 05:00Z to 04:59:59Z the next day in
    // winter) and the simulation filters on tip-off like the real API, so
    // the events, and the per-event odds calls above, are today's games,
    // whose evening tips fall on the next UTC date.
    let requests = sim.requests();
    let events_queries: Vec<String> = requests
        .iter()
        .filter(|r| r.path == "/ref/odds_api/sports/basketball_nba/events")
        .map(|r| r.query.as_deref().unwrap_or("").replace("%3A", ":"))
        .collect();
    assert_eq!(events_queries.len(), 6, "{events_queries:?}");
    for query in &events_queries {
        let params: Vec<&str> = query.split('&').collect();
        assert!(
            params.contains(&"commenceTimeFrom=2026-01-15T05:00:00Z")
                && params.contains(&"commenceTimeTo=2026-01-16T04:59:59Z"),
            "{query}"
        );
    }
    let today_events: Vec<String> = games_on(day).iter().map(|g| g.event_id()).collect();
    let mut odds_paths: Vec<String> = requests
        .iter()
        .filter(|r| r.path.ends_with("/odds") && r.path.starts_with("/ref/odds_api/"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(odds_paths.len(), 6 * 2 * today_events.len());
    odds_paths.sort();
    odds_paths.dedup();
    let mut expected_paths: Vec<String> = today_events
        .iter()
        .map(|id| format!("/ref/odds_api/sports/basketball_nba/events/{id}/odds"))
        .collect();
    expected_paths.sort();
    assert_eq!(
        odds_paths, expected_paths,
        "today's events, not yesterday's"
    );

    real_api_shapes(&store, &h, &sim, day, [&dead, &blocked, &working]).await;

    let elapsed = started.elapsed();
    assert!(elapsed.as_secs() < 30, "the simulated day took {elapsed:?}");
    sim.shutdown().await;
}

/// The issue 13 item 7 checks on the day's history and the requests seen.
async fn real_api_shapes(
    store: &std::sync::Arc<dyn rebound_storage::Store>,
    h: &super::Harness,
    sim: &UpstreamSim,
    day: NaiveDate,
    [dead, blocked, working]: [&ForwardProxy; 3],
) {
    let mut calls = Vec::new();
    for run in &h.runs {
        calls.extend(
            store
                .scraper_calls_for_execution(&run.execution_id)
                .await
                .expect("calls"),
        );
    }
    let of = |name: &str| -> Vec<&rebound_storage::ScraperCallRow> {
        calls.iter().filter(|c| c.scraper_name == name).collect()
    };

    // BallDontLie: 30 teams of 8 players, 100 a page behind the cursor:
    // three pages joined into one payload of every player.
    let players = of("bdl_active_players");
    assert_eq!(players.len(), 1);
    assert_eq!(players[0].pages, Some(3), "{:?}", players[0]);
    assert_eq!(players[0].record_count, Some((TEAMS.len() * 8) as i64));
    let cursors: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/ref/balldontlie/players/active")
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(cursors.len(), 3, "{cursors:?}");
    assert!(
        cursors[1].contains("cursor=100") && cursors[2].contains("cursor=200"),
        "{cursors:?}"
    );

    // BettingPros: 8 offers a game, 25 a page, stopping at total_items.
    let offers = games_on(day).len() * 8;
    for call in of("bp_player_props") {
        assert_eq!(call.pages, Some(offers.div_ceil(25) as i64), "{call:?}");
        assert_eq!(call.record_count, Some(offers as i64), "{call:?}");
    }

    // stats.nba.com: every request reached the simulation through the
    // working proxy (the simulation answers 403 to any other); the dead one
    // was tried until its breaker opened, the blocked one answered 403.
    let stats_requests = sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/ref/nba_stats/"))
        .inspect(|r| assert!(r.header("via").is_some(), "{r:?}"))
        .count();
    assert!(stats_requests > 0);
    assert_eq!(working.forwarded() as usize, stats_requests);
    assert!(blocked.refused() > 0, "the 403 proxy was asked");
    assert_eq!(dead.forwarded() + blocked.forwarded(), 0);
    let stats_calls: Vec<_> = calls
        .iter()
        .filter(|c| c.source_name == "nba_stats")
        .collect();
    assert!(
        stats_calls.iter().all(|c| c.status == "success"),
        "{stats_calls:?}"
    );
    // Season from season_start: 2026-01-15 is in 2025-26.
    let seasons: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/ref/nba_stats/playerindex")
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert!(
        seasons.iter().all(|q| q.contains("Season=2025-26")),
        "{seasons:?}"
    );
    let standings: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/ref/balldontlie/standings")
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert!(
        standings.iter().all(|q| q.contains("season=2025")),
        "{standings:?}"
    );

    // The injury report: the slots' hours in the file name, and the 13:00
    // report parsed into one record per injury of the day.
    let injury_paths: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/ref/nba_official/"))
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        injury_paths,
        [
            format!("Injury-Report_{day}_09_00AM.pdf"),
            format!("Injury-Report_{day}_11_00AM.pdf"),
            format!("Injury-Report_{day}_01_00PM.pdf"),
        ]
    );
    let reports = of("nbac_injury_report_v2");
    let found = reports
        .iter()
        .find(|c| c.status == "success")
        .expect("a report");
    assert_eq!(
        found.record_count,
        Some(injuries_on(day).len() as i64),
        "{found:?}"
    );
    let outputs = store.call_outputs(found.id).await.expect("outputs");
    assert_eq!(outputs.len(), 2, "records and the PDF: {outputs:?}");

    // Game books: "YYYYMMDD/AWYHOM" of each of yesterday's games.
    let yesterday = day.pred_opt().expect("date");
    let mut books: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/ref/nba_statsdmz/"))
        .map(|r| r.path.clone())
        .collect();
    books.sort();
    let compact = yesterday.format("%Y%m%d");
    let mut expected: Vec<String> = games_on(yesterday)
        .iter()
        .map(|g| {
            format!(
                "/ref/nba_statsdmz/pdfs/{compact}/{compact}_{}{}.pdf",
                g.away.tricode, g.home.tricode
            )
        })
        .collect();
    expected.sort();
    assert_eq!(books, expected);
    assert!(
        of("nbac_gamebook_pdf")
            .iter()
            .all(|c| c.status == "success")
    );
}
