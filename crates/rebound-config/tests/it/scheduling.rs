//! The scheduling keys: `[scheduler]`, `[calendars.X]`, `for_each` and
//! `schedule`, as a valid file resolves them.

use super::{BASE, error, plan};
use chrono::NaiveTime;
use rebound_config::summary;
use rebound_domain::plan::{
    CalendarRefresh, ForEach, Schedule, ScheduleKind, ScheduleRetry, SchedulerSettings, TargetDate,
};
use std::time::Duration;

/// BASE plus a schedule scraper, a calendar over it and two fanned-out
/// scrapers, one per form of `for_each`.
pub(crate) const CALENDAR: &str = r#"
[scrapers.schedule]
source = "api"
path = "/schedule"
dataset = "league/schedule"

[scrapers.box]
source = "api"
path = "/box/{game_id}"
for_each = { calendar = "games", param = "game_id" }

[scrapers.props]
source = "api"
path = "/events/{event_id}/odds"
for_each = { dataset = "events", items = "$[*]", value = "id", param = "event_id" }

[calendars.games]
dataset = "league/schedule"
events = "$.leagueSchedule.gameDates[*].games[*]"
id = "gameId"
start = "gameDateTimeUTC"
refresh = { scraper = "schedule", max_age = "6h" }
"#;

fn with(extra: &str) -> String {
    format!("{BASE}{CALENDAR}{extra}")
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// The schedule of workflow `w` in `BASE + CALENDAR + [workflows.w]`.
fn schedule(line: &str) -> Schedule {
    let text = with(&format!(
        "\n[workflows.w]\nscrapers = [\"events\"]\nschedule = {line}\n"
    ));
    plan(&text).workflows["w"]
        .schedule
        .clone()
        .expect("a schedule")
}

#[test]
fn defaults_without_scheduling_keys() {
    let plan = plan(BASE);
    assert!(plan.calendars.is_empty());
    assert_eq!(plan.scheduler, SchedulerSettings::default());
    assert_eq!(plan.scheduler.lease, Duration::from_secs(60));
    assert_eq!(plan.scheduler.catch_up, hours(6));
    assert_eq!(plan.scheduler.max_inline_wait, Duration::from_secs(5));
    assert!(plan.scrapers["events"].for_each.is_none());
}

#[test]
fn scheduler_settings() {
    let plan = plan(&format!(
        "{BASE}\n[scheduler]\nlease = \"2m\"\ncatch_up = \"1h\"\nmax_idle = \"10s\"\nshutdown_grace = \"1m\"\nmax_inline_wait = \"1s\"\n"
    ));
    assert_eq!(
        plan.scheduler,
        SchedulerSettings {
            lease: Duration::from_secs(120),
            catch_up: hours(1),
            max_idle: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(60),
            max_inline_wait: Duration::from_secs(1),
        }
    );
}

#[test]
fn calendars_and_fan_outs() {
    let plan = plan(&with(
        "\n[calendars.later]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"start\"\nrefresh = { scraper = \"schedule\", max_age = \"6h\", override_max_age = \"48h\", override_until = \"2026-12-01T00:00:00Z\" }\n",
    ));
    let games = &plan.calendars["games"];
    assert_eq!(games.name, "games");
    assert_eq!(games.dataset, "league/schedule");
    assert_eq!(games.events, "$.leagueSchedule.gameDates[*].games[*]");
    assert_eq!(
        (games.id.as_str(), games.start.as_str()),
        ("gameId", "gameDateTimeUTC")
    );
    assert_eq!(
        games.refresh,
        Some(CalendarRefresh {
            scraper: "schedule".into(),
            max_age: hours(6),
            override_max_age: None,
            override_until: None,
        })
    );
    let later = plan.calendars["later"].refresh.clone().unwrap();
    assert_eq!(later.override_max_age, Some(hours(48)));
    let until = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap();
    assert_eq!(later.override_until, Some(until.to_utc()));
    assert_eq!(later.max_age_at(until.to_utc() - hours(1)), hours(48));

    assert_eq!(
        plan.scrapers["box"].for_each,
        Some(ForEach::Calendar {
            calendar: "games".into(),
            param: "game_id".into()
        })
    );
    assert_eq!(
        plan.scrapers["props"].for_each,
        Some(ForEach::Dataset {
            dataset: "events".into(),
            items: "$[*]".into(),
            value: "id".into(),
            param: "event_id".into()
        })
    );
}

#[test]
fn a_param_used_only_by_the_source_counts() {
    let text = format!(
        "{BASE}{CALENDAR}\n[sources.regional]\nbase_url = \"https://{{region}}.example\"\n\n[scrapers.r]\nsource = \"regional\"\npath = \"/x\"\nfor_each = {{ calendar = \"games\", param = \"region\" }}\n"
    );
    let plan = plan(&text);
    assert_eq!(
        plan.scrapers["r"].for_each.as_ref().unwrap().param(),
        "region"
    );
}

#[test]
fn cron() {
    let s = schedule("{ kind = \"cron\", cron = \"0 5 * * *\" }");
    assert_eq!(
        s,
        Schedule {
            kind: ScheduleKind::Cron {
                cron: "0 5 * * *".into()
            },
            calendar: None,
            target_date: TargetDate::Today,
            only_missing: false,
            retry: None,
        }
    );
    // Names of days and ranges are cron too.
    let s = schedule("{ kind = \"cron\", cron = \"*/15 6-22 * * MON-FRI\" }");
    assert_eq!(s.kind.name(), "cron");
}

#[test]
fn window() {
    let s = schedule("{ kind = \"window\", start = \"06:00\", end = \"10:00\" }");
    assert_eq!(
        s.kind,
        ScheduleKind::Window {
            start: hm(6, 0),
            end: hm(10, 0)
        }
    );
    assert_eq!(s.calendar, None);
    // A failed or partial window run is retried every hour, 3 times, by default.
    assert_eq!(
        s.retry,
        Some(ScheduleRetry {
            every: hours(1),
            max: 3
        })
    );
}

#[test]
fn retry_every_and_retry_max_of_window_and_at() {
    let s = schedule(
        "{ kind = \"window\", start = \"06:00\", end = \"12:00\", retry_every = \"30m\", retry_max = 5 }",
    );
    assert_eq!(
        s.retry,
        Some(ScheduleRetry {
            every: Duration::from_secs(1800),
            max: 5
        })
    );
    let s = schedule("{ kind = \"at\", at = \"19:00\", retry_every = \"2h\" }");
    assert_eq!(
        s.retry,
        Some(ScheduleRetry {
            every: hours(2),
            max: 3
        })
    );
    // retry_max = 0 turns retries off.
    let s = schedule("{ kind = \"window\", start = \"06:00\", end = \"12:00\", retry_max = 0 }");
    assert_eq!(s.retry, None);
    // Other kinds never retry a run (cron and every have their next slot,
    // discovery its next attempt).
    let s = schedule("{ kind = \"cron\", cron = \"0 5 * * *\" }");
    assert_eq!(s.retry, None);
}

#[test]
fn every() {
    let s = schedule(
        "{ kind = \"every\", start = \"08:00\", end = \"20:00\", every = \"2h\", calendar = \"games\", lead = \"6h\" }",
    );
    assert_eq!(
        s.kind,
        ScheduleKind::Every {
            start: hm(8, 0),
            end: hm(20, 0),
            every: hours(2),
            lead: Some(hours(6)),
        }
    );
    assert_eq!(s.calendar.as_deref(), Some("games"));
    let s = schedule("{ kind = \"every\", start = \"08:00\", end = \"20:00\", every = \"30m\" }");
    assert!(matches!(s.kind, ScheduleKind::Every { lead: None, .. }));
}

#[test]
fn at_for_yesterday() {
    let s = schedule(
        "{ kind = \"at\", at = \"01:00\", tolerance = \"30m\", target_date = \"yesterday\", calendar = \"games\", only_missing = true }",
    );
    assert_eq!(
        s,
        Schedule {
            kind: ScheduleKind::At {
                at: hm(1, 0),
                tolerance: Duration::from_secs(1800),
                events_before: None,
                after_event_start: None,
            },
            calendar: Some("games".into()),
            target_date: TargetDate::Yesterday,
            only_missing: true,
            retry: Some(ScheduleRetry {
                every: hours(1),
                max: 3
            }),
        }
    );
}

#[test]
fn at_for_early_games() {
    let s = schedule(
        "{ kind = \"at\", at = \"15:00\", tolerance = \"30m\", calendar = \"games\", events_before = \"19:00\", after_event_start = \"3h\", only_missing = true }",
    );
    assert_eq!(
        s.kind,
        ScheduleKind::At {
            at: hm(15, 0),
            tolerance: Duration::from_secs(1800),
            events_before: Some(hm(19, 0)),
            after_event_start: Some(hours(3)),
        }
    );
    assert_eq!(s.target_date, TargetDate::Today);
    // tolerance defaults to 30m.
    let s = schedule("{ kind = \"at\", at = \"04:00\" }");
    assert!(
        matches!(s.kind, ScheduleKind::At { tolerance, .. } if tolerance == Duration::from_secs(1800))
    );
}

#[test]
fn discovery() {
    let s = schedule(
        "{ kind = \"discovery\", start = \"09:00\", end = \"21:00\", every = \"2h\", max_attempts = 12, calendar = \"games\" }",
    );
    assert_eq!(
        s.kind,
        ScheduleKind::Discovery {
            start: hm(9, 0),
            end: hm(21, 0),
            every: hours(2),
            max_attempts: 12,
        }
    );
    // Without max_attempts: one per slot (09, 11, 13, 15, 17, 19).
    let s =
        schedule("{ kind = \"discovery\", start = \"09:00\", end = \"21:00\", every = \"2h\" }");
    assert!(matches!(
        s.kind,
        ScheduleKind::Discovery {
            max_attempts: 6,
            ..
        }
    ));
}

#[test]
fn a_producer_in_an_earlier_step_is_fine() {
    let plan = plan(&with(
        "\n[workflows.w]\nsteps = [{ scrapers = [\"events\"] }, { scrapers = [\"props\"], after = [\"events\"] }]\n\n[workflows.alone]\nscrapers = [\"props\"]\n",
    ));
    assert_eq!(plan.workflows["w"].steps.len(), 2);
}

#[test]
fn summary_says_when_and_how() {
    let plan = plan(&with(
        r#"
[workflows.lines]
steps = [{ scrapers = ["events"] }, { scrapers = ["props"] }]
schedule = { kind = "every", start = "08:00", end = "20:00", every = "2h", calendar = "games", lead = "12h" }

[workflows.late]
scrapers = ["box"]
schedule = { kind = "at", at = "01:00", target_date = "yesterday", calendar = "games", only_missing = true }

[workflows.early]
scrapers = ["props"]
schedule = { kind = "at", at = "15:00", calendar = "games", events_before = "19:00", after_event_start = "3h" }

[workflows.manual]
scrapers = ["schedule"]
"#,
    ));
    let text = summary(&plan);
    for needle in [
        "every 2h from 08:00 until before 20:00, starting 12h before the first event; only on dates with events in games",
        "at 01:00 (up to 30m late); collects yesterday's date; only on dates with events in games; only events not yet collected",
        "schedule: only when started by hand",
        "at 15:00 (up to 30m late), counting events that start before 19:00 and started at least 3h ago; only on dates with events in games",
        "games: events $.leagueSchedule.gameDates[*].games[*] of dataset league/schedule (id \"gameId\", start \"gameDateTimeUTC\")",
        "refreshed by schedule when older than 6h",
        "box: one call per event of calendar games, id as {game_id}",
        "props: one call per item $[*] of dataset events, its \"id\" as {event_id}",
        "scheduler: lease 1m, catch up 6h",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn problems_of_one_schedule_are_all_reported() {
    let message = error(&with(
        "\n[workflows.w]\nscrapers = [\"events\"]\nschedule = { kind = \"every\", start = \"10:00\", end = \"09:00\", every = \"0s\", calendar = \"nope\" }\n",
    ));
    for needle in [
        "must be later than start",
        "longer than zero",
        "unknown calendar \"nope\"",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
}
