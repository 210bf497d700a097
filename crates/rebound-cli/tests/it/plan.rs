//! `rebound plan` on the reference pipeline (`examples/nba/rebound.toml`)
//! with the calendar fixtures of `examples/nba/calendars/`: a game day, an
//! off day, the day after DST starts (and the switch day itself) and a day
//! with noon games. Every calendar comes from a file, so the database is
//! never opened.
//!
//! Expected decisions are derived from the fixture (game ids, tip-offs) and
//! the schedule keys of the config, not copied from the output, so a rule
//! change shows up here as a failure to look at.

use super::{rebound, text};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const NY: Tz = chrono_tz::America::New_York;

/// The `${VAR}`s the reference config needs; never sent anywhere.
const ENV: [(&str, &str); 7] = [
    ("SLACK_WEBHOOK_URL", "https://hooks.example/plan-test"),
    ("ODDS_API_KEY", "plan-test-odds"),
    ("BDL_API_KEY", "plan-test-bdl"),
    ("BP_API_KEY", "plan-test-bp"),
    ("NBA_PROXY_1_URL", "http://127.0.0.1:9/plan-test-1"),
    ("NBA_PROXY_2_URL", "http://127.0.0.1:9/plan-test-2"),
    ("NBA_PROXY_3_URL", "http://127.0.0.1:9/plan-test-3"),
];

fn example(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/nba")
        .join(path)
}

fn config() -> String {
    example("rebound.toml").to_str().unwrap().to_string()
}

fn calendar(name: &str) -> String {
    example(&format!("calendars/{name}.json"))
        .to_str()
        .unwrap()
        .to_string()
}

/// One row of `rebound plan --json`.
#[derive(Debug, Clone)]
struct Row {
    workflow: String,
    at: DateTime<FixedOffset>,
    action: String,
    reason: String,
    target_date: NaiveDate,
    entities: Vec<String>,
    slot: String,
}

impl Row {
    fn is_run(&self) -> bool {
        self.action == "RUN"
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn hm(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap()
}

/// A New York wall-clock time (never in a DST gap in these tests).
fn et(date: NaiveDate, time: &str) -> DateTime<Utc> {
    NY.from_local_datetime(&date.and_time(hm(time)))
        .single()
        .expect("unambiguous local time")
        .with_timezone(&Utc)
}

/// Runs `rebound plan --json` for `date` with the fixture `file` and parses
/// the rows, checking what must hold on every day.
fn plan(date: &str, file: &str) -> Vec<Row> {
    let cal = format!("nba_games={}", calendar(file));
    let out = rebound(
        &[
            "-c",
            &config(),
            "plan",
            "--date",
            date,
            "--calendar",
            &cal,
            "--json",
        ],
        &ENV,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let rows: Vec<Row> = json
        .as_array()
        .expect("a list of decisions")
        .iter()
        .map(|r| Row {
            workflow: r["workflow"].as_str().unwrap().to_string(),
            // JSON instants are UTC (`…Z`); the rows hold them in the
            // pipeline's zone, as the table prints them.
            at: {
                let at = r["at"].as_str().unwrap();
                assert!(at.ends_with('Z'), "{r}");
                DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .with_timezone(&NY)
                    .fixed_offset()
            },
            // JSON enum values are lowercase.
            action: {
                let action = r["action"].as_str().unwrap();
                assert_eq!(action, action.to_ascii_lowercase(), "{r}");
                action.to_ascii_uppercase()
            },
            reason: r["reason"].as_str().unwrap().to_string(),
            target_date: d(r["target_date"].as_str().unwrap()),
            entities: r["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_string())
                .collect(),
            slot: r["slot"].as_str().unwrap().to_string(),
        })
        .collect();
    common_checks(d(date), &rows);
    rows
}

/// Holds on any day: decisions belong to the day, with the zone's offset at
/// that instant, sorted, each with a reason; no slot runs twice; no
/// workflow outside the config.
fn common_checks(date: NaiveDate, rows: &[Row]) {
    assert!(!rows.is_empty());
    let workflows: BTreeSet<&str> = [
        "morning_operations",
        "betting_lines",
        "post_game_window_1",
        "post_game_window_2",
        "post_game_window_3",
        "early_game_window_1",
        "early_game_window_2",
        "early_game_window_3",
        "injury_discovery",
        "referee_discovery",
    ]
    .into();
    let mut runs = BTreeMap::new();
    for row in rows {
        assert!(workflows.contains(row.workflow.as_str()), "{row:?}");
        assert!(!row.reason.is_empty(), "{row:?}");
        assert!(
            ["RUN", "SKIP", "ABORT"].contains(&row.action.as_str()),
            "{row:?}"
        );
        assert_ne!(row.action, "ABORT", "{row:?}");
        let local = row.at.with_timezone(&NY);
        assert_eq!(
            local.date_naive(),
            date,
            "decided on the planned day: {row:?}"
        );
        // The offset printed is the zone's offset at that instant.
        assert_eq!(local.offset().fix(), *row.at.offset(), "{row:?}");
        if row.is_run() {
            let key = (row.workflow.clone(), row.target_date, row.slot.clone());
            *runs.entry(key).or_insert(0) += 1;
        }
    }
    assert!(
        rows.windows(2).all(|w| w[0].at <= w[1].at),
        "sorted by time"
    );
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "slots that run twice: {twice:?}");
}

fn of<'a>(rows: &'a [Row], workflow: &str) -> Vec<&'a Row> {
    rows.iter().filter(|r| r.workflow == workflow).collect()
}

fn runs_of<'a>(rows: &'a [Row], workflow: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.workflow == workflow && r.is_run())
        .collect()
}

/// Tip-offs of the fixture, by ET date: (game id, start).
fn games(file: &str) -> BTreeMap<NaiveDate, Vec<(String, DateTime<Utc>)>> {
    let text = std::fs::read_to_string(calendar(file)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out: BTreeMap<NaiveDate, Vec<(String, DateTime<Utc>)>> = BTreeMap::new();
    for date in json["leagueSchedule"]["gameDates"].as_array().unwrap() {
        for game in date["games"].as_array().unwrap() {
            let start: DateTime<Utc> = game["gameDateTimeUTC"].as_str().unwrap().parse().unwrap();
            let id = game["gameId"].as_str().unwrap().to_string();
            out.entry(start.with_timezone(&NY).date_naive())
                .or_default()
                .push((id, start));
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|(_, start)| *start);
    }
    out
}

fn ids(list: &[(String, DateTime<Utc>)]) -> Vec<String> {
    let mut ids: Vec<String> = list.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    ids
}

/// The betting_lines slots the config calls for on a game day: every 2h
/// from 08:00 until 20:00 (exclusive), from 12h before the first tip.
fn betting_slots(date: NaiveDate, first_tip: DateTime<Utc>) -> Vec<String> {
    (8..20)
        .step_by(2)
        .map(|h| format!("{h:02}:00"))
        .filter(|slot| et(date, slot) >= first_tip - Duration::hours(12))
        .collect()
}

/// Morning runs once in its window; checks shared by every day.
fn assert_morning_once(rows: &[Row], date: NaiveDate) {
    let morning = runs_of(rows, "morning_operations");
    assert_eq!(morning.len(), 1, "{morning:?}");
    let at = morning[0].at.with_timezone(&Utc);
    assert!(
        at >= et(date, "06:00") && at < et(date, "10:00"),
        "{morning:?}"
    );
    assert_eq!(morning[0].target_date, date);
    assert_eq!(morning[0].slot, "window");
}

/// The ids (sorted) of `list` that started at or before `at`.
fn started_by(list: &[(String, DateTime<Utc>)], at: DateTime<Utc>) -> Vec<String> {
    let mut ids: Vec<String> = list
        .iter()
        .filter(|(_, start)| *start <= at)
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    ids
}

/// `all` without `taken`, sorted.
fn minus(all: &[String], taken: &[String]) -> Vec<String> {
    all.iter()
        .filter(|id| !taken.contains(id))
        .cloned()
        .collect()
}

/// What one post-game window does on the planned day.
enum Post<'a> {
    /// Runs once, at `at` (ET, on the planned day), for these games.
    Run { at: &'a str, ids: Vec<String> },
    /// Never runs; some decision's reason contains this text.
    Skip(&'a str),
}

/// An `at` post-game window (30m tolerance): never before its time, and
/// for `target`. The dry run assumes every run collects its games, and a
/// game counts as collected when every scraper the window fans out over the
/// calendar has it, whichever workflow called it (windows 1 and 2 and the
/// early windows share nbac_team_boxscore; window 3's scrapers are those of
/// early_game_window_3).
fn assert_post_game(
    rows: &[Row],
    date: NaiveDate,
    workflow: &str,
    time: &str,
    target: NaiveDate,
    expect: Post,
) {
    let slot = et(date, time);
    for row in of(rows, workflow) {
        assert!(
            !row.is_run() || row.at.with_timezone(&Utc) >= slot,
            "never early: {row:?}"
        );
    }
    let runs = runs_of(rows, workflow);
    match expect {
        Post::Run { at, ids } => {
            assert_eq!(runs.len(), 1, "{workflow}: {runs:?}");
            let run = runs[0];
            assert_eq!(run.slot, time, "{run:?}");
            assert_eq!(run.target_date, target, "{run:?}");
            assert_eq!(run.entities, ids, "{run:?}");
            assert_eq!(run.at.with_timezone(&Utc), et(date, at), "{run:?}");
            assert!(
                run.reason
                    .starts_with(&format!("at {time} (up to 30m late) for {target}")),
                "{run:?}"
            );
        }
        Post::Skip(reason) => {
            assert!(runs.is_empty(), "{workflow}: {runs:?}");
            assert!(
                of(rows, workflow)
                    .iter()
                    .any(|r| r.target_date == target && r.reason.contains(reason)),
                "{workflow}: {:?}",
                of(rows, workflow)
            );
        }
    }
}

/// Discovery: one attempt at the first slot, then "data found" (the dry run
/// assumes every run finds data) for every later slot of the window.
fn assert_discovery_stops_after_data(rows: &[Row], date: NaiveDate) {
    for workflow in ["injury_discovery", "referee_discovery"] {
        let runs = runs_of(rows, workflow);
        assert_eq!(runs.len(), 1, "{workflow}: {runs:?}");
        assert_eq!(runs[0].slot, "09:00");
        assert_eq!(runs[0].at.with_timezone(&Utc), et(date, "09:00"));
        assert_eq!(runs[0].target_date, date);
        let after: Vec<&Row> = of(rows, workflow)
            .into_iter()
            .filter(|r| r.at > runs[0].at)
            .collect();
        assert!(!after.is_empty(), "{workflow} is looked at again");
        for row in after {
            assert_eq!(row.action, "SKIP", "{row:?}");
            assert!(row.reason.contains("data found"), "{row:?}");
        }
    }
}

#[test]
fn game_day() {
    let date = d("2026-01-15");
    let rows = plan("2026-01-15", "game-day");
    let games = games("game-day");
    let today = &games[&date];
    let yesterday = &games[&date.pred_opt().unwrap()];

    assert_morning_once(&rows, date);

    // Betting lines: every eligible 2h slot once, at the slot, for today's
    // games; nothing outside 08:00–20:00 or before first tip − 12h.
    let betting = runs_of(&rows, "betting_lines");
    let slots: Vec<&str> = betting.iter().map(|r| r.slot.as_str()).collect();
    assert_eq!(slots, betting_slots(date, today[0].1));
    for run in &betting {
        assert_eq!(run.at.with_timezone(&Utc), et(date, &run.slot), "{run:?}");
        assert_eq!(run.target_date, date);
        assert_eq!(run.entities, ids(today), "{run:?}");
    }

    // Window 1, same night: today's games that started by 19:00 (3h before
    // 22:00). Window 2, after midnight: yesterday's games but those the
    // evening's window 1 took. Window 3: all of yesterday's (no early games).
    let yday = date.pred_opt().unwrap();
    let three_h_before_22 = |day| et(day, "22:00") - Duration::hours(3);
    let tonight = started_by(today, three_h_before_22(date));
    assert_eq!(tonight.len(), 1, "the 19:00 tip");
    let last_night = started_by(yesterday, three_h_before_22(yday));
    assert_eq!(last_night.len(), 1, "the 19:00 tip");
    let window_2 = minus(&ids(yesterday), &last_night);
    assert_eq!(window_2.len(), 2);
    assert_post_game(
        &rows,
        date,
        "post_game_window_1",
        "22:00",
        date,
        Post::Run {
            at: "22:00",
            ids: tonight,
        },
    );
    assert_post_game(
        &rows,
        date,
        "post_game_window_2",
        "01:00",
        yday,
        Post::Run {
            at: "01:00",
            ids: window_2,
        },
    );
    assert_post_game(
        &rows,
        date,
        "post_game_window_3",
        "04:00",
        yday,
        Post::Run {
            at: "04:00",
            ids: ids(yesterday),
        },
    );

    // Early-game windows: today has no tip before 19:00.
    for workflow in [
        "early_game_window_1",
        "early_game_window_2",
        "early_game_window_3",
    ] {
        assert!(runs_of(&rows, workflow).is_empty(), "{workflow}");
        assert!(
            of(&rows, workflow)
                .iter()
                .any(|r| r.reason.contains("no events before 19:00")),
            "{workflow}: {:?}",
            of(&rows, workflow)
        );
    }

    assert_discovery_stops_after_data(&rows, date);
}

#[test]
fn off_day() {
    let date = d("2026-02-18");
    let rows = plan("2026-02-18", "off-day");
    let games = games("off-day");
    assert!(!games.contains_key(&date) && !games.contains_key(&date.pred_opt().unwrap()));

    // The morning (and its calendar refresh) runs every day, games or not.
    assert_morning_once(&rows, date);
    let runs: Vec<&Row> = rows.iter().filter(|r| r.is_run()).collect();
    assert_eq!(runs.len(), 1, "only the morning runs: {runs:?}");

    let no_games = "no events in nba_games on 2026-02-18";
    for workflow in ["betting_lines", "injury_discovery", "referee_discovery"] {
        let skips = of(&rows, workflow);
        assert!(
            skips.iter().any(|r| r.reason.contains(no_games)),
            "{workflow}: {skips:?}"
        );
    }
    // Every betting slot is looked at and skipped for the same reason.
    let betting: Vec<&str> = of(&rows, "betting_lines")
        .iter()
        .filter(|r| r.reason.contains(no_games))
        .map(|r| r.slot.as_str())
        .collect();
    assert_eq!(
        betting,
        ["08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]
    );
    // Window 1 looks at today, windows 2 and 3 at yesterday: no games either.
    for (workflow, time, target) in [
        ("post_game_window_1", "22:00", date),
        ("post_game_window_2", "01:00", date.pred_opt().unwrap()),
        ("post_game_window_3", "04:00", date.pred_opt().unwrap()),
    ] {
        let reason = format!("no events in nba_games on {target}");
        assert_post_game(&rows, date, workflow, time, target, Post::Skip(&reason));
    }
}

#[test]
fn the_day_after_dst_starts() {
    let date = d("2026-03-09");
    let rows = plan("2026-03-09", "dst-start");
    let games = games("dst-start");
    let edt = FixedOffset::west_opt(4 * 3600).unwrap();

    // The whole day is on EDT, including the first evaluations at midnight.
    for row in &rows {
        assert_eq!(*row.at.offset(), edt, "{row:?}");
    }
    assert_morning_once(&rows, date);

    // First tip 21:00 EDT: betting runs from 09:00, so the 08:00 slot is
    // skipped (with EST it would wrongly have started at 08:00).
    let today = &games[&date];
    let betting = runs_of(&rows, "betting_lines");
    let slots: Vec<&str> = betting.iter().map(|r| r.slot.as_str()).collect();
    assert_eq!(slots, betting_slots(date, today[0].1));
    assert_eq!(slots, ["10:00", "12:00", "14:00", "16:00", "18:00"]);
    let first = of(&rows, "betting_lines")
        .into_iter()
        .find(|r| r.slot == "08:00")
        .expect("08:00 decided");
    assert_eq!(first.action, "SKIP");
    assert!(first.reason.contains("runs from 09:00"), "{first:?}");
    for run in &betting {
        assert_eq!(run.at.with_timezone(&Utc), et(date, &run.slot), "{run:?}");
    }

    // Tonight's tips are 21:00 and 22:30 EDT: none is 3h old by 22:30, so
    // window 1 does not run (windows 2 and 3 take them tomorrow).
    assert_post_game(
        &rows,
        date,
        "post_game_window_1",
        "22:00",
        date,
        Post::Skip("no event started 3h ago yet"),
    );

    // Target dates are ET dates: the 21:30 EDT game of 03-08 starts at 01:30
    // UTC on 03-09 and still belongs to 03-08's post-game windows.
    let yday = date.pred_opt().unwrap();
    let yesterday = &games[&yday];
    assert_eq!(yesterday.len(), 3);
    let late = &yesterday[2];
    assert_eq!(
        late.1,
        "2026-03-09T01:30:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    // Yesterday evening: the 15:30 tip was an early game (early windows 1-3
    // collected it for every scraper), window 1 at 22:00 took the 19:00 tip,
    // so window 2 only has the 21:30 one, and window 3 (scrapers of
    // early_game_window_3) has the two evening games.
    let early = started_by(yesterday, et(yday, "19:00") - Duration::minutes(1));
    assert_eq!(early.len(), 1, "the 15:30 tip");
    let evening = minus(&ids(yesterday), &early);
    let window_1 = started_by(yesterday, et(yday, "19:00"));
    assert_post_game(
        &rows,
        date,
        "post_game_window_2",
        "01:00",
        yday,
        Post::Run {
            at: "01:00",
            ids: minus(&ids(yesterday), &window_1),
        },
    );
    assert_eq!(
        minus(&ids(yesterday), &window_1),
        std::slice::from_ref(&late.0)
    );
    assert_post_game(
        &rows,
        date,
        "post_game_window_3",
        "04:00",
        yday,
        Post::Run {
            at: "04:00",
            ids: evening,
        },
    );
    assert_discovery_stops_after_data(&rows, date);
}

#[test]
fn the_dst_switch_day_itself() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT. Decisions before the gap
    // carry -05:00, after it -04:00 (checked for every row by
    // `common_checks`); the 04:00 post-game slot is after the gap.
    let date = d("2026-03-08");
    let rows = plan("2026-03-08", "dst-start");
    let games = games("dst-start");
    let offsets: BTreeSet<i32> = rows
        .iter()
        .map(|r| r.at.offset().local_minus_utc())
        .collect();
    assert_eq!(offsets, [-5 * 3600, -4 * 3600].into());

    // Yesterday's only game tipped at 19:30 EST: the evening's window 1 ran
    // at 22:30 (3h later, the end of its tolerance) and collected it, so
    // window 2 has nothing left; window 3's scrapers still need it.
    let yday = date.pred_opt().unwrap();
    let yesterday = &games[&yday];
    assert_eq!(yesterday.len(), 1);
    assert_eq!(yesterday[0].1, et(yday, "19:30"));
    assert_post_game(
        &rows,
        date,
        "post_game_window_2",
        "01:00",
        yday,
        Post::Skip("all 1 event already collected for 2026-03-07"),
    );
    assert_post_game(
        &rows,
        date,
        "post_game_window_3",
        "04:00",
        yday,
        Post::Run {
            at: "04:00",
            ids: ids(yesterday),
        },
    );
    let window_3 = runs_of(&rows, "post_game_window_3");
    assert_eq!(window_3[0].at.offset().local_minus_utc(), -4 * 3600);

    // Tonight at 22:00 EDT: the 15:30 and 19:00 tips are 3h old; the early
    // windows already have the 15:30 one, so window 1 takes the 19:00 one.
    let today = &games[&date];
    let three_h_old = started_by(today, et(date, "19:00"));
    assert_eq!(three_h_old.len(), 2);
    assert_post_game(
        &rows,
        date,
        "post_game_window_1",
        "22:00",
        date,
        Post::Run {
            at: "22:00",
            ids: minus(&three_h_old, std::slice::from_ref(&today[0].0)),
        },
    );

    // The 15:30 EDT tip is an early game: 3h later is 18:30 EDT, the last
    // instant of the 18:00 window (30m tolerance, never early).
    let early = &games[&date][0];
    let window_2 = runs_of(&rows, "early_game_window_2");
    assert_eq!(window_2.len(), 1, "{window_2:?}");
    assert_eq!(window_2[0].entities, std::slice::from_ref(&early.0));
    assert_eq!(
        window_2[0].at.with_timezone(&Utc),
        early.1 + Duration::hours(3)
    );
}

#[test]
fn noon_games() {
    let date = d("2026-12-25");
    let rows = plan("2026-12-25", "noon-games");
    let games = games("noon-games");
    let today = &games[&date];
    let before_19: Vec<&(String, DateTime<Utc>)> = today
        .iter()
        .filter(|(_, start)| *start < et(date, "19:00"))
        .collect();
    let noon_ids: BTreeSet<String> = before_19.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(noon_ids.len(), 2, "12:00 and 14:30 tips");

    // Each early window runs once, for exactly the early games that started
    // at least 3h before the run and that its scrapers have not collected
    // yet (`only_missing`): window 2 has window 1's scrapers, so it skips
    // the game window 1 collected; window 3 adds play-by-play and game
    // books, so every early game is missing something there.
    let mut seen = BTreeSet::new();
    for (workflow, time, same_scrapers_as_before) in [
        ("early_game_window_1", "15:00", false),
        ("early_game_window_2", "18:00", true),
        ("early_game_window_3", "21:00", false),
    ] {
        let runs = runs_of(&rows, workflow);
        assert_eq!(runs.len(), 1, "{workflow}: {runs:?}");
        let run = runs[0];
        assert_eq!(run.slot, time);
        assert_eq!(run.target_date, date);
        let at = run.at.with_timezone(&Utc);
        let slot = et(date, time);
        assert!(at >= slot && at <= slot + Duration::minutes(30), "{run:?}");
        let mut expected: Vec<String> = before_19
            .iter()
            .filter(|(_, start)| *start + Duration::hours(3) <= at)
            .map(|(id, _)| id.clone())
            .filter(|id| !(same_scrapers_as_before && seen.contains(id)))
            .collect();
        expected.sort();
        assert!(!expected.is_empty());
        assert_eq!(run.entities, expected, "{run:?}");
        seen.extend(run.entities.iter().cloned());
    }
    assert_eq!(seen, noon_ids, "only the noon games, and all of them");

    // Window 1 first waits for the 12:00 game's 3 hours: no run before 15:00.
    let window_1 = runs_of(&rows, "early_game_window_1")[0];
    assert_eq!(window_1.entities, std::slice::from_ref(&today[0].0));
    assert!(window_1.at.with_timezone(&Utc) >= today[0].1 + Duration::hours(3));

    // Betting starts at 08:00 (first tip − 12h is midnight).
    let betting: Vec<&str> = runs_of(&rows, "betting_lines")
        .iter()
        .map(|r| r.slot.as_str())
        .collect();
    assert_eq!(
        betting,
        ["08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]
    );
    // Window 1 at 22:00: the noon games are 3h old but the early windows
    // have them (window 1 fans out only nbac_team_boxscore, which they all
    // call); it runs at 22:30, when the 19:30 tip is 3h old, for that game.
    let w1 = of(&rows, "post_game_window_1");
    let at_22: Vec<&&Row> = w1
        .iter()
        .filter(|r| r.at.with_timezone(&Utc) == et(date, "22:00"))
        .collect();
    assert_eq!(at_22.len(), 1, "{w1:?}");
    assert_eq!(at_22[0].action, "SKIP");
    assert_eq!(
        at_22[0].reason,
        "all 2 events already collected for 2026-12-25"
    );
    let evening = &today[2];
    assert_eq!(evening.1, et(date, "19:30"));
    assert_post_game(
        &rows,
        date,
        "post_game_window_1",
        "22:00",
        date,
        Post::Run {
            at: "22:30",
            ids: vec![evening.0.clone()],
        },
    );
    // Christmas Eve had no games.
    let yday = date.pred_opt().unwrap();
    assert!(!games.contains_key(&yday));
    for (workflow, time) in [
        ("post_game_window_2", "01:00"),
        ("post_game_window_3", "04:00"),
    ] {
        assert_post_game(
            &rows,
            date,
            workflow,
            time,
            yday,
            Post::Skip("no events in nba_games on 2026-12-24"),
        );
    }

    assert_morning_once(&rows, date);
    assert_discovery_stops_after_data(&rows, date);
}

#[test]
fn table_output() {
    let cal = format!("nba_games={}", calendar("game-day"));
    let out = rebound(
        &[
            "-c",
            &config(),
            "plan",
            "--date",
            "2026-01-15",
            "--calendar",
            &cal,
        ],
        &ENV,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for column in [
        "time",
        "workflow",
        "action",
        "target date",
        "entities",
        "reason",
    ] {
        assert!(stdout.contains(column), "{stdout}");
    }
    assert!(stdout.contains("betting_lines"), "{stdout}");
    assert!(stdout.contains("decisions on 2026-01-15"), "{stdout}");
}

#[test]
fn retries_of_failed_window_and_at_runs_are_shown_as_conditions() {
    let date = "2026-01-15";
    let cal = format!("nba_games={}", calendar("game-day"));
    let args = ["-c", &config(), "plan", "--date", date, "--calendar", &cal];
    // JSON: the morning window (06:00–10:00, default retry_every 1h and
    // retry_max 3) would retry at 07:00, 08:00, 09:00; the plan assumes
    // success, so no retry is a decision of its own.
    let out = rebound(&[&args[..], &["--json"]].concat(), &ENV);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = json.as_array().expect("rows");
    let morning: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["workflow"] == "morning_operations" && r["action"] == "run")
        .collect();
    assert_eq!(morning.len(), 1, "{morning:#?}");
    let retries: Vec<DateTime<Utc>> = morning[0]["retries_if_failed"]
        .as_array()
        .expect("retries_if_failed")
        .iter()
        .map(|t| {
            DateTime::parse_from_rfc3339(t.as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect();
    let day = d(date);
    assert_eq!(
        retries,
        [et(day, "07:00"), et(day, "08:00"), et(day, "09:00")]
    );
    assert!(
        rows.iter()
            .all(|r| !r["slot"].as_str().unwrap().contains("+retry"))
    );
    // Skips and schedules that do not retry (discovery) list none.
    for row in rows {
        let listed = !row["retries_if_failed"].as_array().unwrap().is_empty();
        if row["action"] != "run" || row["workflow"] == "injury_discovery" {
            assert!(!listed, "{row}");
        }
    }

    // Text: the condition beside the run's reason (a wide table, so the
    // cell is not wrapped).
    let wide: Vec<(&str, &str)> = ENV.iter().copied().chain([("COLUMNS", "400")]).collect();
    let out = rebound(&args, &wide);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("if the window run fails: retry at 07:00, 08:00, 09:00"),
        "{stdout}"
    );
    // The run's time in the pipeline's zone with its offset, as every
    // command prints an instant.
    assert!(stdout.contains("2026-01-15 06:00 EST (-05:00)"), "{stdout}");
}

#[test]
fn calendar_argument_errors() {
    // A calendar the config does not define.
    let cal = format!("nba_gmaes={}", calendar("game-day"));
    let out = rebound(
        &[
            "-c",
            &config(),
            "plan",
            "--date",
            "2026-01-15",
            "--calendar",
            &cal,
        ],
        &ENV,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--calendar nba_gmaes: no such calendar"),
        "{stderr}"
    );
    assert!(stderr.contains("defined calendars: nba_games"), "{stderr}");

    // A file that is not JSON.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schedule.json");
    std::fs::write(&file, "<html>not the schedule</html>").unwrap();
    let cal = format!("nba_games={}", file.display());
    let out = rebound(
        &[
            "-c",
            &config(),
            "plan",
            "--date",
            "2026-01-15",
            "--calendar",
            &cal,
        ],
        &ENV,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("is not JSON"), "{stderr}");

    // A device without end, given by mistake: refused after a bounded
    // read (it was read whole, until the system killed the process).
    let out = rebound(
        &[
            "-c",
            &config(),
            "plan",
            "--date",
            "2026-01-15",
            "--calendar",
            "nba_games=/dev/zero",
        ],
        &ENV,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--calendar nba_games: /dev/zero is larger than 256 MiB"),
        "{}",
        text(&out.stderr)
    );
    let out = rebound(&["-c", "/dev/zero", "check"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot read config file /dev/zero: it is larger than 16 MiB"),
        "{}",
        text(&out.stderr)
    );
}

/// A date the pipeline's zone skips whole (Samoa, 2011-12-30) is named as
/// such; it printed "0 decisions" as if nothing were due.
#[test]
fn a_date_the_zone_skips_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let apia = std::fs::read_to_string(config()).unwrap().replace(
        "timezone = \"America/New_York\"",
        "timezone = \"Pacific/Apia\"",
    );
    let path = dir.path().join("rebound.toml");
    std::fs::write(&path, apia).unwrap();
    let path = path.to_str().unwrap();
    let out = rebound(&["-c", path, "plan", "--date", "2011-12-30"], &ENV);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("--date 2011-12-30: that date does not exist in Pacific/Apia"),
        "{}",
        text(&out.stderr)
    );
    let out = rebound(&["-c", path, "plan", "--date", "2011-12-31"], &ENV);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

fn plan_with_calendars(calendars: &[String]) -> std::process::Output {
    let config = config();
    let mut args = vec!["-c", config.as_str(), "plan", "--date", "2026-01-15"];
    for cal in calendars {
        args.extend(["--calendar", cal.as_str()]);
    }
    rebound(&args, &ENV)
}

/// Before: the last file given for a calendar won, silently.
#[test]
fn a_calendar_given_twice_is_a_usage_error_naming_it() {
    let out = plan_with_calendars(&[
        format!("nba_games={}", calendar("game-day")),
        format!("nba_games={}", calendar("off-day")),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--calendar nba_games: given twice (")
            && stderr.contains("game-day.json and ")
            && stderr.contains("off-day.json); give each calendar once"),
        "{stderr}"
    );
}

/// Before: `{}` or a list of other objects selected no events and planned
/// the day as one without games.
#[test]
fn a_calendar_file_of_another_shape_is_refused_naming_the_file_and_the_shape() {
    let dir = tempfile::tempdir().unwrap();
    for (body, why) in [
        ("{}", "$ is an object with no member \"leagueSchedule\""),
        (
            r#"[{"gameId": "1", "gameDateTimeUTC": "2026-01-15T00:00:00Z"}]"#,
            "$ is an array with no member \"leagueSchedule\"",
        ),
        (
            r#"{"leagueSchedule": {"gameDates": [{"date": "01/15/2026"}]}}"#,
            "$.leagueSchedule.gameDates[*] is an object with no member \"games\"",
        ),
        // An object where `[*]` reads an array's items (it planned as a
        // day without games, as an empty array does).
        (
            r#"{"leagueSchedule": {"gameDates": [{"games": {}}]}}"#,
            "$.leagueSchedule.gameDates[*].games is an empty object, not an array",
        ),
    ] {
        let file = dir.path().join("schedule.json");
        std::fs::write(&file, body).unwrap();
        let out = plan_with_calendars(&[format!("nba_games={}", file.display())]);
        assert_eq!(out.status.code(), Some(2), "{body}: {}", text(&out.stdout));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "--calendar nba_games: {} is not shaped like the payload of dataset nba_com/schedule: {why} (the calendar reads its events at $.leagueSchedule.gameDates[*].games[*])",
                file.display()
            )),
            "{body}: {stderr}"
        );
    }
    // The right shape with no games is a day without games, as before.
    let file = dir.path().join("empty.json");
    std::fs::write(&file, r#"{"leagueSchedule": {"gameDates": []}}"#).unwrap();
    let out = plan_with_calendars(&[format!("nba_games={}", file.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A stored calendar that cannot be read said so twice: "calendar games:
/// calendar games: payload … is missing from the raw store".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn an_unreadable_stored_calendar_is_named_once() {
    use rebound_upstream_sim::{Reply, UpstreamSim};
    let sim = UpstreamSim::start().await.unwrap();
    sim.script(
        "/schedule",
        vec![Reply::json(
            200,
            serde_json::json!({"games": [{"id": "g1", "start": "2026-11-28T00:30:00Z"}]}),
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            r#"[pipeline]
name = "p"
timezone = "America/New_York"

[sources.up]
base_url = "{}"

[scrapers.schedule]
source = "up"
path = "/schedule"
dataset = "up/schedule"

[calendars.games]
dataset = "up/schedule"
events = "$.games[*]"
id = "id"
start = "start"

[workflows.gameday]
scrapers = ["schedule"]
schedule = {{ kind = "window", start = "06:00", end = "10:00", calendar = "games" }}
"#,
            sim.base_url()
        ),
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let out = rebound(&["-c", config, "scrape", "schedule"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir.path().join("raw")).unwrap();
    let out = rebound(&["-c", config, "plan", "--date", "2026-11-27"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: calendar games: payload "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("calendar games").count(), 1, "{stderr}");
    assert!(stderr.contains("is missing from the raw store"), "{stderr}");
}

/// Before: an empty table and "0 decisions on DATE, 0 runs", as if the
/// date were a quiet one; `rebound init`'s minimal template has no
/// schedule, so every date planned so.
#[test]
fn a_config_without_schedules_says_so_instead_of_an_empty_plan() {
    let dir = tempfile::tempdir().unwrap();
    let config = super::one_workflow(dir.path(), "rebound.db");
    let config = config.to_str().unwrap();
    let out = rebound(&["-c", config, "plan", "--date", "2026-01-15"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "No workflow in this config has a schedule, so `rebound serve` makes no decisions on 2026-01-15 or any day; give one a `schedule` (docs/scheduling.md), or run it by hand with `rebound run WORKFLOW`\n"
    );
    // JSON stays the list of decisions; the note goes to stderr.
    let out = rebound(
        &["-c", config, "plan", "--date", "2026-01-15", "--json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "[]");
    assert!(
        text(&out.stderr).contains("note: no workflow in this config has a schedule"),
        "{}",
        text(&out.stderr)
    );
}
