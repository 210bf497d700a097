//! Derived parameters (issue 13, item 3): `season_start` / `season_format`,
//! date filters, `for_each.params`, `valid_from` / `valid_until` variants,
//! and the check that every template parameter of a scheduled run is
//! supplied by something — each bad key refused with its place.

use super::bad_files::{Case, check};
use super::scheduling::CALENDAR;
use super::{BASE, load, plan};
use chrono::NaiveDate;
use rebound_domain::plan::{ForEach, ItemParam};
use std::collections::BTreeMap;

fn case(
    name: &'static str,
    extra: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        text: format!("{BASE}{CALENDAR}{extra}"),
        key,
        at,
        says,
    }
}

/// `[pipeline]` keys go in the BASE's pipeline table, so those cases
/// rewrite it.
fn pipeline_case(
    name: &'static str,
    keys: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    let base = BASE.replace("name = \"t\"\n", &format!("name = \"t\"\n{keys}\n"));
    Case {
        name,
        text: format!("{base}{CALENDAR}"),
        key,
        at,
        says,
    }
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

const GOOD: &str = r#"
[scrapers.gamebook]
source = "api"
path = "/gamebooks/{date|%Y%m%d}/{away}{home}.pdf"
query = { season = "{season}", label = "{target_date|%b %-d}" }
headers = { X-Slot = "{slot_hour12}{slot_ampm}" }
for_each = { calendar = "games", param = "game_id", params = { home = "homeTeam.teamTricode", away = "awayTeam.teamTricode" } }

[scrapers.lineups]
source = "api"
path = "/lineups/{game}/{home}"
for_each = { dataset = "events", items = "$[*]", params = { game = "gameId", home = "home.abbr" } }

[scrapers.report_v1]
source = "api"
path = "/injury/Injury-Report_{date}_{slot_hour}{slot_ampm}.pdf"
dataset = "injury_report"
valid_until = "2025-12-22"

[scrapers.report_v2]
source = "api"
path = "/injury/Injury-Report_{date}_{slot_hour12}_{slot_minute}{slot_ampm}.pdf"
dataset = "injury_report"
valid_from = "2025-12-23"

[workflows.injuries]
scrapers = ["report_v1", "report_v2"]
schedule = { kind = "every", start = "08:00", end = "20:00", every = "1h" }

[workflows.games]
steps = [{ scrapers = ["schedule", "events"] }, { scrapers = ["gamebook", "lineups"] }]
schedule = { kind = "at", at = "05:00" }
"#;

#[test]
fn season_filters_item_params_and_variants_resolve() {
    let base = BASE.replace(
        "name = \"t\"\n",
        "name = \"t\"\nseason_start = \"10-01\"\nseason_format = \"{start}/{end2}\"\n",
    );
    let plan = plan(&format!("{base}{CALENDAR}{GOOD}"));
    let season = plan.pipeline.season.as_ref().expect("a season rule");
    assert_eq!(season.name(date("2025-12-01")), "2025/26");
    assert_eq!(season.start_year(date("2026-03-01")), 2025);

    let gamebook = &plan.scrapers["gamebook"];
    assert_eq!(
        gamebook.for_each,
        Some(ForEach::Calendar {
            calendar: "games".into(),
            param: "game_id".into()
        })
    );
    // In the order written, which the resolver keeps.
    assert_eq!(
        gamebook.item_params,
        vec![
            ItemParam {
                param: "home".into(),
                path: "homeTeam.teamTricode".into()
            },
            ItemParam {
                param: "away".into(),
                path: "awayTeam.teamTricode".into()
            },
        ]
    );
    let values = BTreeMap::from([
        ("date".to_string(), "2025-12-01".to_string()),
        ("away".to_string(), "BOS".to_string()),
        ("home".to_string(), "NYK".to_string()),
    ]);
    assert_eq!(
        gamebook.path.render(&values).unwrap(),
        "/gamebooks/20251201/BOSNYK.pdf"
    );

    // The dataset form with `params` only: the first one identifies the item.
    let lineups = &plan.scrapers["lineups"];
    match &lineups.for_each {
        Some(ForEach::Dataset { value, param, .. }) => {
            assert_eq!((value.as_str(), param.as_str()), ("gameId", "game"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(lineups.fan_out_params(), vec!["game", "home"]);

    let v1 = plan.scrapers["report_v1"].valid;
    let v2 = plan.scrapers["report_v2"].valid;
    assert!(v1.contains(date("2025-12-22")) && !v1.contains(date("2025-12-23")));
    assert!(v2.contains(date("2025-12-23")) && !v2.contains(date("2025-12-22")));
    assert_eq!(v2.describe(), "2025-12-23..");

    // `rebound check` says how it read them.
    let summary = rebound_config::summary(&plan);
    for line in [
        "  season:    {season} is 2025/26 through 2026-09-30 and 2026/27 from 2026-10-01",
        "  gamebook: one call per event of calendar games, id as {game_id}, its \"homeTeam.teamTricode\" as {home}, its \"awayTeam.teamTricode\" as {away}",
        "  lineups: one call per item $[*] of dataset events, its \"gameId\" as {game}, its \"home.abbr\" as {home}",
        "variants (2):",
        "  report_v1: dataset injury_report, target dates ..2025-12-22",
    ] {
        assert!(summary.contains(line), "{line}\n{summary}");
    }
}

/// `check`'s season line shows the rule with the day before the season
/// starts and its first day, whatever `season_start` is. It showed
/// 2025-12-01 and 2026-09-01, both in one season for an October start
/// (the reference pipeline read "2025-26 for … and 2025-26 for …").
#[test]
fn the_season_summary_shows_both_sides_of_season_start() {
    for (start, line) in [
        (
            "10-01",
            "  season:    {season} is 2025-26 through 2026-09-30 and 2026-27 from 2026-10-01",
        ),
        (
            "07-15",
            "  season:    {season} is 2025-26 through 2026-07-14 and 2026-27 from 2026-07-15",
        ),
        (
            "03-01",
            "  season:    {season} is 2025-26 through 2026-02-28 and 2026-27 from 2026-03-01",
        ),
        (
            "01-01",
            "  season:    {season} is 2025-25 through 2025-12-31 and 2026-26 from 2026-01-01",
        ),
    ] {
        let text = BASE.replace(
            "name = \"t\"\n",
            &format!("name = \"t\"\nseason_start = \"{start}\"\n"),
        );
        let summary = rebound_config::summary(&plan(&text));
        let season = summary.lines().find(|l| l.starts_with("  season:"));
        assert_eq!(season, Some(line), "{start}\n{summary}");
    }
}

#[test]
fn scrapers_run_only_by_hand_may_take_any_parameter() {
    // In no workflow (`rebound scrape --param`), and in an unscheduled
    // workflow (`rebound run --param`, `--slot`): not errors.
    let extra = r#"
[scrapers.roster]
source = "api"
path = "/teams/{team_abbr}/roster/{slot_hour}"

[scrapers.by_hand]
source = "api"
path = "/x/{anything}"

[workflows.manual]
scrapers = ["by_hand"]
"#;
    plan(&format!("{BASE}{CALENDAR}{extra}"));
}

fn cases() -> Vec<Case> {
    vec![
        pipeline_case(
            "season_start not MM-DD",
            "season_start = \"Oct 1\"",
            "pipeline.season_start",
            "\"Oct 1\"",
            "expected a month and day as MM-DD, e.g. \"10-01\", found \"Oct 1\"",
        ),
        pipeline_case(
            "season_start not a day",
            "season_start = \"02-30\"",
            "pipeline.season_start",
            "\"02-30\"",
            "expected a month and day as MM-DD",
        ),
        pipeline_case(
            "season_format unknown placeholder",
            "season_start = \"10-01\"\nseason_format = \"{start}-{finish}\"",
            "pipeline.season_format",
            "\"{start}-{finish}\"",
            "unknown placeholder {finish} in \"{start}-{finish}\"; use {start}, {start2}, {end}, {end2}",
        ),
        // Before: accepted; `{season}` read "static" every year.
        pipeline_case(
            "season_format without a placeholder",
            "season_start = \"10-01\"\nseason_format = \"static\"",
            "pipeline.season_format",
            "\"static\"",
            "\"static\" has no placeholder, so every season would read the same; use {start}, {start2}, {end}, {end2}",
        ),
        pipeline_case(
            "season_format without season_start",
            "season_format = \"{start}\"",
            "pipeline.season_format",
            "\"{start}\"",
            "season_format needs season_start",
        ),
        case(
            "filter not strftime",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{date|%Q}\"\n",
            "scrapers.f.path",
            "\"/f/{date|%Q}\"",
            "{date|%Q}: \"%Q\" is not a valid strftime format",
        ),
        case(
            "filter asks a date for a time",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f\"\nquery = { at = \"{target_date|%H:%M}\" }\n",
            "scrapers.f.query.at",
            "\"{target_date|%H:%M}\"",
            "asks for a time of day or an offset, but {target_date} is a date without one",
        ),
        case(
            "filter on a parameter that is no date",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f\"\nheaders = { X-Id = \"{game_id|%Y}\" }\n",
            "scrapers.f.headers.X-Id",
            "\"{game_id|%Y}\"",
            "a format filter applies only to the date parameters",
        ),
        case(
            "valid_from not a date",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f\"\nvalid_from = \"2025-12-32\"\n",
            "scrapers.f.valid_from",
            "\"2025-12-32\"",
            "expected a date as YYYY-MM-DD, e.g. 2025-12-23, found \"2025-12-32\"",
        ),
        case(
            "valid_until before valid_from",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f\"\nvalid_from = \"2025-12-23\"\nvalid_until = \"2025-12-01\"\n",
            "scrapers.f.valid_until",
            "\"2025-12-01\"",
            "valid_until (2025-12-01) is before valid_from (2025-12-23)",
        ),
        case(
            "overlapping variants in one workflow",
            "\n[scrapers.v1]\nsource = \"api\"\npath = \"/a\"\ndataset = \"report\"\nvalid_until = \"2025-12-23\"\n\n[scrapers.v2]\nsource = \"api\"\npath = \"/b\"\ndataset = \"report\"\nvalid_from = \"2025-12-23\"\n\n[workflows.w]\nscrapers = [\"v1\", \"v2\"]\n",
            "workflows.w.scrapers[1]",
            "\"v2\"]",
            "\"v2\" (valid 2025-12-23..) and \"v1\" (valid ..2025-12-23) are variants of dataset \"report\" in this workflow and both are valid on some date",
        ),
        case(
            "a bounded variant beside an unbounded one",
            "\n[scrapers.v1]\nsource = \"api\"\npath = \"/a\"\ndataset = \"report\"\n\n[scrapers.v2]\nsource = \"api\"\npath = \"/b\"\ndataset = \"report\"\nvalid_from = \"2025-12-23\"\n\n[workflows.w]\nsteps = [{ scrapers = [\"v1\"] }, { scrapers = [\"v2\"] }]\n",
            "workflows.w.steps[1].scrapers[0]",
            "\"v2\"] }]",
            "\"v2\" (valid 2025-12-23..) and \"v1\" (valid always)",
        ),
        case(
            "for_each.params binds an unused parameter",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{game_id}\"\nfor_each = { calendar = \"games\", param = \"game_id\", params = { home = \"homeTeam.teamTricode\" } }\n",
            "scrapers.f.for_each.params.home",
            "\"homeTeam.teamTricode\"",
            "for_each.params.home \"home\" is not used by this scraper's path, query or headers (they use {game_id})",
        ),
        case(
            "for_each.params binds a built-in",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{game_id}/{season}\"\nfor_each = { calendar = \"games\", param = \"game_id\", params = { season = \"season\" } }\n",
            "scrapers.f.for_each.params.season",
            "\"season\" } }",
            "\"season\" is a built-in parameter",
        ),
        case(
            "for_each.params path is no member path",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{game_id}/{home}\"\nfor_each = { calendar = \"games\", param = \"game_id\", params = { home = \"homeTeam..abbr\" } }\n",
            "scrapers.f.for_each.params.home",
            "\"homeTeam..abbr\"",
            "expected a member of each item or a dotted path of members",
        ),
        case(
            "for_each.params binds the param again",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{game_id}\"\nfor_each = { calendar = \"games\", param = \"game_id\", params = { game_id = \"id\" } }\n",
            "scrapers.f.for_each.params.game_id",
            "\"id\" } }",
            "\"game_id\" is already bound by `param`",
        ),
        case(
            "unsupplied parameter in a scheduled workflow",
            "\n[scrapers.espn_roster]\nsource = \"api\"\npath = \"/teams/{team_abbr}/roster\"\n\n[workflows.morning_operations]\nscrapers = [\"espn_roster\"]\nschedule = { kind = \"at\", at = \"08:00\" }\n",
            "scrapers.espn_roster.path",
            "\"/teams/{team_abbr}/roster\"",
            "{team_abbr} is not supplied by workflow morning_operations (it supplies: date, date_compact, target_date, day_start_utc, day_end_utc, slot_hour, slot_hour12, slot_ampm, slot_minute)",
        ),
        case(
            "the season without season_start",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f\"\nquery = { Season = \"{season}\" }\n\n[workflows.w]\nscrapers = [\"f\"]\nschedule = { kind = \"at\", at = \"08:00\" }\n",
            "scrapers.f.query.Season",
            "\"{season}\" }",
            "{season} is not supplied by workflow w (it supplies: date, date_compact, target_date, day_start_utc, day_end_utc, slot_hour, slot_hour12, slot_ampm, slot_minute); set [pipeline] season_start to supply it",
        ),
        case(
            "a slot parameter in a calendar refresh",
            "\n[calendars.hourly]\ndataset = \"hourly\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"start\"\nrefresh = { scraper = \"h\", max_age = \"1h\" }\n\n[scrapers.h]\nsource = \"api\"\npath = \"/h/{slot_hour}\"\ndataset = \"hourly\"\n",
            "scrapers.h.path",
            "\"/h/{slot_hour}\"",
            "{slot_hour} is not supplied by the refresh of calendar hourly (it supplies: date, date_compact, target_date, day_start_utc, day_end_utc); only scheduled workflows (or `--slot HH:MM`) supply it",
        ),
        case(
            "a source template a scheduled scraper cannot fill",
            "\n[sources.keyed]\nbase_url = \"https://keyed.example\"\nquery = { key = \"{api_key}\" }\n\n[scrapers.f]\nsource = \"keyed\"\npath = \"/f\"\n\n[workflows.w]\nscrapers = [\"f\"]\nschedule = { kind = \"at\", at = \"08:00\" }\n",
            "sources.keyed.query.key",
            "\"{api_key}\"",
            "{api_key} is not supplied by workflow w (for scraper f)",
        ),
    ]
}

#[test]
fn each_bad_parameter_key_names_key_position_and_expectation() {
    check(cases());
}

#[test]
fn the_schema_describes_the_new_keys() {
    let schema = rebound_config::json_schema();
    for pointer in [
        "/$defs/RawPipeline/properties/season_start/pattern",
        "/$defs/RawPipeline/properties/season_format/description",
        "/$defs/RawScraper/properties/valid_from/pattern",
        "/$defs/RawScraper/properties/valid_until/pattern",
        "/$defs/RawForEach/properties/params",
        "/$defs/ItemParams/additionalProperties",
    ] {
        assert!(schema.pointer(pointer).is_some(), "no {pointer} in schema");
    }
    let path_doc = schema
        .pointer("/$defs/RawScraper/properties/path/description")
        .and_then(|d| d.as_str())
        .unwrap();
    assert!(
        path_doc.contains("{slot_hour12}") && path_doc.contains("{date|%Y%m%d}"),
        "{path_doc}"
    );
}

/// A `season_start` written but refused is one problem: the season's
/// parameters it would supply are not also reported missing, with a hint
/// to set what is set.
#[test]
fn a_refused_season_start_is_not_reported_again_as_missing() {
    let base = BASE.replace("name = \"t\"\n", "name = \"t\"\nseason_start = \"02-30\"\n");
    let text = format!(
        "{base}{CALENDAR}\n[scrapers.f]\nsource = \"api\"\npath = \"/f\"\nquery = {{ Season = \"{{season}}\" }}\n\n[workflows.w]\nscrapers = [\"f\"]\nschedule = {{ kind = \"at\", at = \"08:00\" }}\n"
    );
    let error = load(&text).unwrap_err();
    let keys: Vec<&str> = error.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["pipeline.season_start"], "{error}");
}
