//! Every `*.toml` under the repository's `examples/` folder, subfolders
//! included, must load, so the examples cannot rot. The folder is walked,
//! so a new example is covered without touching this file. Examples are
//! named by their path below `examples/` without ".toml" ("nba",
//! "nba/rebound").

use super::fake_env;
use rebound_config::{load_str, summary};
use rebound_domain::plan::{DatabaseLocation, Plan};
use rebound_domain::redact::MASK;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

fn load_example(path: &Path) -> Plan {
    let text = std::fs::read_to_string(path).unwrap();
    load_str(&text, path, &fake_env).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()))
}

fn examples() -> BTreeMap<String, Plan> {
    let mut files = Vec::new();
    toml_files(&examples_dir(), &mut files);
    files
        .iter()
        .map(|path| {
            let relative = path
                .strip_prefix(examples_dir())
                .unwrap()
                .with_extension("");
            let name = relative.to_string_lossy().replace('\\', "/");
            (name, load_example(path))
        })
        .collect()
}

#[test]
fn every_example_loads() {
    let plans = examples();
    assert!(
        ["minimal", "nba", "nba/rebound"]
            .iter()
            .all(|name| plans.contains_key(*name)),
        "{:?}",
        plans.keys()
    );
    for (name, plan) in &plans {
        assert!(!plan.scrapers.is_empty(), "{name} has no scrapers");
        assert!(!plan.workflows.is_empty(), "{name} has no workflows");
        // Relative database paths land next to the example, not in the
        // test's working directory.
        if let DatabaseLocation::Sqlite { path } = &plan.pipeline.database {
            assert!(
                path.starts_with(examples_dir()),
                "{name}: {}",
                path.display()
            );
        }
        let text = summary(plan);
        assert!(
            !text.contains("fake-"),
            "{name} summary leaks a secret:\n{text}"
        );
    }
}

#[test]
fn nba_reference_means_what_it_says() {
    let plans = examples();
    let nba = &plans["nba"];
    assert_eq!(nba.pipeline.timezone, chrono_tz::America::New_York);

    let events = &nba.scrapers["oddsa_events"];
    assert_eq!(events.records.as_deref(), Some(""), "top-level array");
    assert_eq!(events.dataset, "odds_api/events");
    assert_eq!(events.retry.max_attempts, 2, "from sources.odds_api.retry");

    let props = &nba.scrapers["oddsa_player_props"];
    let source = &nba.sources[&props.source];
    assert!(
        props
            .required_params(source)
            .contains(&"event_id".to_string())
    );
    let api_key = source.query.iter().find(|(k, _)| k == "apiKey").unwrap();
    assert!(api_key.1.secret);
    assert_eq!(format!("{:?}", api_key.1), MASK);

    let bdl = &nba.sources["balldontlie"];
    let auth = bdl
        .headers
        .iter()
        .find(|(k, _)| k == "Authorization")
        .unwrap();
    assert!(auth.1.secret);
    assert_eq!(nba.redactor.redact("key fake-BDL_API_KEY"), "key ***");
    assert_eq!(
        nba.scrapers["bdl_box_scores"].records.as_deref(),
        Some("/data")
    );

    // The Eastern day, not the UTC one (issue 15 item 9).
    let from = events
        .query
        .iter()
        .find(|(k, _)| k == "commenceTimeFrom")
        .unwrap();
    assert_eq!(from.1.value.params(), ["day_start_utc"]);
    assert!(!nba.sources.contains_key("bigdataball"), "no made-up hosts");

    let lines = &nba.workflows["betting_lines"];
    assert_eq!(lines.steps.len(), 2);
    assert_eq!(lines.steps[1].scrapers, ["oddsa_player_props"]);
    assert_eq!(lines.steps[1].after, ["oddsa_events"]);
    for name in ["morning_operations", "post_game_collection"] {
        assert!(nba.workflows.contains_key(name), "{name}");
    }
}

#[test]
fn nba_scheduled_reference_means_what_it_says() {
    use rebound_domain::plan::{ForEach, ScheduleKind, TargetDate};
    use std::time::Duration;

    let plans = examples();
    let nba = &plans["nba/rebound"];
    let hm = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let hours = |h: u64| Duration::from_secs(h * 3600);

    assert_eq!(nba.pipeline.timezone, chrono_tz::America::New_York);
    assert_eq!(nba.workflows.len(), 10, "{:?}", nba.workflows.keys());
    assert!(nba.workflows.values().all(|w| w.schedule.is_some()));
    // What `rebound health` holds it to.
    let injuries = &nba.datasets["nba_com/injury_report"];
    assert_eq!(
        (injuries.fresh_warn, injuries.fresh_error),
        (Some(hours(26)), Some(hours(50)))
    );
    let box_scores = nba.datasets["nba_com/team_boxscore"].complete_by.unwrap();
    assert_eq!(box_scores.after_event_start, hours(6));
    assert_eq!(
        box_scores.severity,
        rebound_domain::plan::Severity::Critical
    );
    assert_eq!(
        nba.sources["odds_api"]
            .health
            .as_ref()
            .map(|p| p.expect_status),
        Some(200)
    );

    let games = &nba.calendars["nba_games"];
    assert_eq!(games.dataset, nba.scrapers["nbac_schedule_api"].dataset);
    assert_eq!(games.events, "$.leagueSchedule.gameDates[*].games[*]");
    assert_eq!(
        (games.id.as_str(), games.start.as_str()),
        ("gameId", "gameDateTimeUTC")
    );
    let refresh = games.refresh.as_ref().unwrap();
    assert_eq!(
        (refresh.scraper.as_str(), refresh.max_age),
        ("nbac_schedule_api", hours(6))
    );

    let schedule = |name: &str| nba.workflows[name].schedule.clone().unwrap();
    assert_eq!(
        schedule("morning_operations").kind,
        ScheduleKind::Window {
            start: hm(6, 0),
            end: hm(10, 0)
        }
    );
    let lines = schedule("betting_lines");
    assert_eq!(
        lines.kind,
        ScheduleKind::Every {
            start: hm(8, 0),
            end: hm(20, 0),
            every: hours(2),
            lead: Some(hours(12))
        }
    );
    assert_eq!(lines.calendar.as_deref(), Some("nba_games"));
    let betting = &nba.workflows["betting_lines"];
    assert_eq!(betting.steps[0].scrapers, ["oddsa_events", "bp_events"]);
    for props in ["oddsa_player_props", "oddsa_game_lines"] {
        assert!(
            betting.steps[1].scrapers.iter().any(|s| s == props),
            "{props}"
        );
        assert!(matches!(
            &nba.scrapers[props].for_each,
            Some(ForEach::Dataset { dataset, param, .. }) if dataset == "odds_api/events" && param == "event_id"
        ));
    }

    // Window 1 is same-night (tonight's games started 3h ago); windows 2
    // and 3 run after midnight, so "yesterday" is the same night.
    for (name, at, target, after) in [
        (
            "post_game_window_1",
            22,
            TargetDate::Today,
            Some(Duration::from_secs(3 * 3600)),
        ),
        ("post_game_window_2", 1, TargetDate::Yesterday, None),
        ("post_game_window_3", 4, TargetDate::Yesterday, None),
    ] {
        let s = schedule(name);
        assert_eq!(s.target_date, target, "{name}");
        assert!(s.only_missing, "{name}");
        assert_eq!(
            s.kind,
            ScheduleKind::At {
                at: hm(at, 0),
                tolerance: Duration::from_secs(1800),
                events_before: None,
                after_event_start: after
            },
            "{name}"
        );
    }
    for (name, at) in [
        ("early_game_window_1", 15),
        ("early_game_window_2", 18),
        ("early_game_window_3", 21),
    ] {
        let s = schedule(name);
        assert_eq!(s.target_date, TargetDate::Today, "{name}");
        assert!(s.only_missing, "{name}");
        assert_eq!(
            s.kind,
            ScheduleKind::At {
                at: hm(at, 0),
                tolerance: Duration::from_secs(1800),
                events_before: Some(hm(19, 0)),
                after_event_start: Some(hours(3))
            },
            "{name}"
        );
    }
    for name in ["injury_discovery", "referee_discovery"] {
        let s = schedule(name);
        assert_eq!(s.calendar.as_deref(), Some("nba_games"), "{name}");
        assert!(
            matches!(
                s.kind,
                ScheduleKind::Discovery {
                    max_attempts: 12,
                    ..
                }
            ),
            "{name}"
        );
    }
    // Per-game APIs fan out over the calendar; date-level ones do not.
    for name in [
        "nbac_team_boxscore",
        "nbac_play_by_play",
        "nbac_gamebook_pdf",
    ] {
        assert_eq!(
            nba.scrapers[name].for_each,
            Some(ForEach::Calendar {
                calendar: "nba_games".into(),
                param: "game_id".into()
            }),
            "{name}"
        );
    }
    for name in ["bdl_box_scores", "nbac_player_boxscore"] {
        assert_eq!(nba.scrapers[name].for_each, None, "{name}");
    }
    // The real APIs' shapes (issue 13 item 7): cursor and page walks,
    // stats.nba.com through three proxies, the season from season_start,
    // the injury report's two dated variants with a transform, game books
    // by game code, and the newer policies.
    use rebound_domain::paginate::PageKind;
    let kind = |name: &str| nba.scrapers[name].paginate.as_ref().map(|p| p.kind.clone());
    assert!(matches!(
        kind("bdl_active_players"),
        Some(PageKind::Cursor { .. })
    ));
    assert!(matches!(
        kind("bdl_box_scores"),
        Some(PageKind::Cursor { .. })
    ));
    assert!(matches!(
        kind("bp_player_props"),
        Some(PageKind::Page { .. })
    ));
    assert_eq!(
        nba.sources["nba_stats"]
            .proxies
            .as_ref()
            .map(|p| p.routes.len()),
        Some(3)
    );
    assert!(nba.pipeline.season.is_some());
    let params = nba.scrapers["nbac_gamebook_pdf"].path.params();
    assert_eq!(params, ["date", "away", "home"], "{params:?}");
    let (v1, v2) = (
        &nba.scrapers["nbac_injury_report_v1"],
        &nba.scrapers["nbac_injury_report_v2"],
    );
    assert_eq!(
        v1.valid.until,
        chrono::NaiveDate::from_ymd_opt(2025, 12, 22)
    );
    assert_eq!(v2.valid.from, chrono::NaiveDate::from_ymd_opt(2025, 12, 23));
    assert!(v1.transform.is_some() && v2.transform.is_some());
    assert!(nba.sources["odds_api"].quota.is_some());
    for name in [
        "espn_roster",
        "oddsa_player_props",
        "oddsa_game_lines",
        "nbac_team_boxscore",
    ] {
        assert!(nba.scrapers[name].lockout.is_some(), "{name}");
    }
    assert!(nba.scrapers["nbac_gamebook_pdf"].expected.is_some());
    assert!(!nba.sources.contains_key("bigdataball"), "no made-up hosts");
    let text = format!("{:?}", nba.sources);
    assert!(!text.contains(".example"), "no made-up hosts: {text}");
    // Secrets stay secret.
    assert_eq!(nba.redactor.redact("k=fake-ODDS_API_KEY"), "k=***");
    let text = summary(nba);
    assert!(text.contains("betting_lines"), "{text}");
    assert!(
        text.contains(
            "every 2h from 08:00 until before 20:00, starting 12h before the first event"
        ),
        "{text}"
    );
}
