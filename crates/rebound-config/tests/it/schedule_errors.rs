//! Bad `[scheduler]`, `[calendars]`, `for_each` and `schedule` keys: each
//! refused with its key path, position and what was expected (the table
//! style of `bad_files`).

use super::bad_files::{Case, check};
use super::scheduling::CALENDAR;
use super::{BASE, FILE, error, plan};

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

/// A workflow `w` running `events` on `schedule`.
fn sched(
    name: &'static str,
    schedule: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    let extra = format!("\n[workflows.w]\nscrapers = [\"events\"]\nschedule = {schedule}\n");
    case(name, &extra, key, at, says)
}

fn cases() -> Vec<Case> {
    vec![
        // [scheduler]
        case(
            "scheduler unknown key",
            "\n[scheduler]\nleases = \"1m\"\n",
            "scheduler.leases",
            "leases",
            "unknown key \"leases\" (did you mean \"lease\"?); allowed keys: lease, catch_up, max_idle, shutdown_grace, max_inline_wait",
        ),
        case(
            "scheduler zero",
            "\n[scheduler]\nmax_idle = \"0s\"\n",
            "scheduler.max_idle",
            "\"0s\"",
            "expected a duration longer than zero, found \"0s\"",
        ),
        case(
            "scheduler bad duration",
            "\n[scheduler]\ncatch_up = \"six hours\"\n",
            "scheduler.catch_up",
            "\"six hours\"",
            "expected a duration",
        ),
        // [calendars]
        case(
            "calendar dataset not produced",
            "\n[calendars.c]\ndataset = \"league/shedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\n",
            "calendars.c.dataset",
            "\"league/shedule\"",
            "no scraper produces dataset \"league/shedule\" (did you mean \"league/schedule\"?); datasets produced: box, events, league/schedule, props",
        ),
        case(
            "calendar bad JSONPath",
            "\n[calendars.c]\ndataset = \"events\"\nevents = \"$.games[*\"\nid = \"id\"\nstart = \"s\"\n",
            "calendars.c.events",
            "\"$.games[*\"",
            "bad JSONPath \"$.games[*\"",
        ),
        case(
            "calendar JSON Pointer instead of JSONPath",
            "\n[calendars.c]\ndataset = \"events\"\nevents = \"/games\"\nid = \"id\"\nstart = \"s\"\n",
            "calendars.c.events",
            "\"/games\"",
            "expected an RFC 9535 JSONPath such as \"$.data[*]\"",
        ),
        case(
            "calendar id is a path",
            "\n[calendars.c]\ndataset = \"events\"\nevents = \"$[*]\"\nid = \"$.id\"\nstart = \"s\"\n",
            "calendars.c.id",
            "\"$.id\"",
            "expected the name of a member of each item, such as \"gameId\", found \"$.id\"",
        ),
        case(
            "calendar missing start",
            "\n[calendars.c]\ndataset = \"events\"\nevents = \"$[*]\"\nid = \"id\"\n",
            "calendars.c.start",
            "[calendars.c]",
            "missing required key",
        ),
        case(
            "calendar unknown key",
            "\n[calendars.c]\ndataset = \"events\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\nstart_time = \"x\"\n",
            "calendars.c.start_time",
            "start_time",
            "unknown key \"start_time\"",
        ),
        case(
            "refresh unknown scraper",
            "\n[calendars.c]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\nrefresh = { scraper = \"schedul\", max_age = \"6h\" }\n",
            "calendars.c.refresh.scraper",
            "\"schedul\"",
            "unknown scraper \"schedul\" (did you mean \"schedule\"?)",
        ),
        case(
            "refresh scraper of another dataset",
            "\n[calendars.c]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\nrefresh = { scraper = \"events\", max_age = \"6h\" }\n",
            "calendars.c.refresh.scraper",
            "\"events\", max_age",
            "scraper \"events\" produces dataset \"events\", not this calendar's dataset \"league/schedule\"",
        ),
        case(
            "refresh missing max_age",
            "\n[calendars.c]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\nrefresh = { scraper = \"schedule\" }\n",
            "calendars.c.refresh.max_age",
            "{ scraper = \"schedule\" }",
            "missing required key",
        ),
        case(
            "refresh zero max_age",
            "\n[calendars.c]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\nrefresh = { scraper = \"schedule\", max_age = \"0s\" }\n",
            "calendars.c.refresh.max_age",
            "\"0s\"",
            "longer than zero",
        ),
        case(
            "refresh override_until not RFC 3339",
            "\n[calendars.c]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\nrefresh = { scraper = \"schedule\", max_age = \"6h\", override_max_age = \"48h\", override_until = \"2026-12-01\" }\n",
            "calendars.c.refresh.override_until",
            "\"2026-12-01\"",
            "expected an RFC 3339 time such as \"2026-12-01T00:00:00Z\", found \"2026-12-01\"",
        ),
        case(
            "refresh override_until alone",
            "\n[calendars.c]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\nrefresh = { scraper = \"schedule\", max_age = \"6h\", override_until = \"2026-12-01T00:00:00Z\" }\n",
            "calendars.c.refresh.override_until",
            "\"2026-12-01T00:00:00Z\"",
            "override_until needs override_max_age",
        ),
        case(
            "calendar bad name",
            "\n[calendars.\"nba games\"]\ndataset = \"events\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\n",
            "calendars.\"nba games\"",
            "[calendars.\"nba games\"]",
            "bad name \"nba games\"",
        ),
        // for_each
        case(
            "for_each unknown calendar",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{game_id}\"\nfor_each = { calendar = \"game\", param = \"game_id\" }\n",
            "scrapers.f.for_each.calendar",
            "\"game\",",
            "unknown calendar \"game\" (did you mean \"games\"?); defined calendars: games",
        ),
        case(
            "for_each param unused",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { calendar = \"games\", param = \"gid\" }\n",
            "scrapers.f.for_each.param",
            "\"gid\"",
            "for_each.param \"gid\" is not used by this scraper's path, query or headers (they use {id})",
        ),
        case(
            "for_each param built in",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{date}\"\nfor_each = { calendar = \"games\", param = \"date\" }\n",
            "scrapers.f.for_each.param",
            "\"date\" }",
            "\"date\" is a built-in parameter (date, date_compact, target_date, day_start_utc, day_end_utc, season, season_start_year, season_end_year, slot_hour, slot_hour12, slot_ampm, slot_minute)",
        ),
        case(
            "for_each dataset not produced",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { dataset = \"event\", items = \"$[*]\", value = \"id\", param = \"id\" }\n",
            "scrapers.f.for_each.dataset",
            "\"event\",",
            "no scraper produces dataset \"event\" (did you mean \"events\"?)",
        ),
        case(
            "for_each own dataset",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { dataset = \"f\", items = \"$[*]\", value = \"id\", param = \"id\" }\n",
            "scrapers.f.for_each.dataset",
            "\"f\",",
            "is this scraper's own dataset",
        ),
        case(
            "for_each bad items",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { dataset = \"events\", items = \"data[*]\", value = \"id\", param = \"id\" }\n",
            "scrapers.f.for_each.items",
            "\"data[*]\"",
            "bad JSONPath \"data[*]\"",
        ),
        // Before: accepted; the fan-out then found 0 items as a success.
        case(
            "for_each items regex that does not compile",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { dataset = \"events\", items = \"$.data[?match(@.id, '[')]\", value = \"id\", param = \"id\" }\n",
            "scrapers.f.for_each.items",
            "\"$.data[?match",
            "the regular expression \"[\" of match() does not compile (",
        ),
        case(
            "for_each missing items",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { dataset = \"events\", value = \"id\", param = \"id\" }\n",
            "scrapers.f.for_each.items",
            "{ dataset = \"events\", value",
            "the dataset form needs `items`",
        ),
        case(
            "for_each both forms",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { calendar = \"games\", dataset = \"events\", param = \"id\" }\n",
            "scrapers.f.for_each.dataset",
            "\"events\", param",
            "give either `calendar` (one call per event) or `dataset`",
        ),
        case(
            "for_each items with calendar",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { calendar = \"games\", items = \"$[*]\", param = \"id\" }\n",
            "scrapers.f.for_each.items",
            "\"$[*]\", param",
            "`items` belongs to the dataset form",
        ),
        case(
            "for_each neither form",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { param = \"id\" }\n",
            "scrapers.f.for_each",
            "{ param = \"id\" }",
            "missing `calendar`",
        ),
        case(
            "for_each unknown key",
            "\n[scrapers.f]\nsource = \"api\"\npath = \"/f/{id}\"\nfor_each = { calendar = \"games\", parm = \"id\" }\n",
            "scrapers.f.for_each.parm",
            "parm",
            "unknown key \"parm\" (did you mean \"param\"?)",
        ),
        case(
            "for_each producer in the same step",
            "\n[workflows.w]\nscrapers = [\"events\", \"props\"]\n",
            "workflows.w.scrapers[1]",
            "\"props\"]",
            "\"props\" fans out over dataset \"events\", which \"events\" produces in this step of this workflow; put \"events\" in an earlier step",
        ),
        case(
            "for_each producer in a later step",
            "\n[workflows.w]\nsteps = [{ scrapers = [\"props\"] }, { scrapers = [\"events\"] }]\n",
            "workflows.w.steps[0].scrapers[0]",
            "\"props\"",
            "which \"events\" produces in a later step of this workflow",
        ),
        // schedule
        sched(
            "schedule missing kind",
            "{ cron = \"0 5 * * *\" }",
            "workflows.w.schedule.kind",
            "{ cron",
            "missing required key",
        ),
        sched(
            "schedule unknown kind",
            "{ kind = \"daily\" }",
            "workflows.w.schedule.kind",
            "\"daily\"",
            "expected one of \"cron\", \"window\", \"every\", \"at\", \"discovery\", found \"daily\"",
        ),
        sched(
            "schedule kind typo",
            "{ kind = \"windw\", start = \"06:00\", end = \"10:00\" }",
            "workflows.w.schedule.kind",
            "\"windw\"",
            "(did you mean \"window\"?)",
        ),
        sched(
            "schedule wrong-kind key",
            "{ kind = \"window\", start = \"06:00\", end = \"10:00\", every = \"2h\" }",
            "workflows.w.schedule.every",
            "\"2h\"",
            "key \"every\" does not apply to kind \"window\"; allowed keys for kind \"window\": kind, start, end, retry_every, retry_max, calendar, target_date, only_missing",
        ),
        sched(
            "schedule unknown key",
            "{ kind = \"at\", at = \"01:00\", tolerence = \"30m\" }",
            "workflows.w.schedule.tolerence",
            "\"30m\"",
            "unknown key \"tolerence\" (did you mean \"tolerance\"?); allowed keys for kind \"at\": kind, at, tolerance, events_before, after_event_start, retry_every, retry_max, calendar, target_date, only_missing",
        ),
        sched(
            "schedule value type",
            "{ kind = \"window\", start = 6, end = \"10:00\" }",
            "workflows.w.schedule.start",
            "6, end",
            "expected a string, found integer `6`",
        ),
        sched(
            "cron missing",
            "{ kind = \"cron\" }",
            "workflows.w.schedule.cron",
            "{ kind = \"cron\" }",
            "missing required key `cron` of kind \"cron\"",
        ),
        sched(
            "cron six fields",
            "{ kind = \"cron\", cron = \"0 0 5 * * *\" }",
            "workflows.w.schedule.cron",
            "\"0 0 5 * * *\"",
            "expected 5 fields (minute hour day-of-month month day-of-week), found 6",
        ),
        sched(
            "cron bad field",
            "{ kind = \"cron\", cron = \"0 25 * * *\" }",
            "workflows.w.schedule.cron",
            "\"0 25 * * *\"",
            "bad cron expression \"0 25 * * *\"",
        ),
        sched(
            "time not HH:MM",
            "{ kind = \"window\", start = \"6am\", end = \"10:00\" }",
            "workflows.w.schedule.start",
            "\"6am\"",
            "expected a time of day \"HH:MM\" (24-hour, 00:00 to 23:59), found \"6am\"",
        ),
        sched(
            "time out of range",
            "{ kind = \"at\", at = \"24:00\" }",
            "workflows.w.schedule.at",
            "\"24:00\"",
            "expected a time of day \"HH:MM\"",
        ),
        sched(
            "window end before start",
            "{ kind = \"window\", start = \"10:00\", end = \"06:00\" }",
            "workflows.w.schedule.end",
            "\"06:00\"",
            "end (06:00) must be later than start (10:00); a schedule's day does not cross midnight",
        ),
        sched(
            "window missing end",
            "{ kind = \"window\", start = \"06:00\" }",
            "workflows.w.schedule.end",
            "{ kind = \"window\"",
            "missing required key `end` of kind \"window\"",
        ),
        sched(
            "every equal start and end",
            "{ kind = \"every\", start = \"08:00\", end = \"08:00\", every = \"2h\" }",
            "workflows.w.schedule.end",
            "\"08:00\", every",
            "must be later than start",
        ),
        sched(
            "every missing every",
            "{ kind = \"every\", start = \"08:00\", end = \"20:00\" }",
            "workflows.w.schedule.every",
            "{ kind = \"every\"",
            "missing required key `every` of kind \"every\": expected a duration such as \"2h\"",
        ),
        sched(
            "every zero",
            "{ kind = \"every\", start = \"08:00\", end = \"20:00\", every = \"0m\" }",
            "workflows.w.schedule.every",
            "\"0m\"",
            "expected a duration longer than zero, found \"0m\"",
        ),
        // Before: accepted, and run once a minute as "every 1s" (90s gave
        // two slots one name).
        // Before: accepted, and the workflow never ran.
        sched(
            "cron that never fires",
            "{ kind = \"cron\", cron = \"0 0 31 2 *\" }",
            "workflows.w.schedule.cron",
            "\"0 0 31 2 *\"",
            "cron \"0 0 31 2 *\" never fires",
        ),
        sched(
            "every in seconds",
            "{ kind = \"every\", start = \"08:00\", end = \"20:00\", every = \"90s\" }",
            "workflows.w.schedule.every",
            "\"90s\"",
            "expected a whole number of minutes such as \"1m\" or \"15m\" (slots are local minutes, named HH:MM), found \"90s\"",
        ),
        sched(
            "discovery every in seconds",
            "{ kind = \"discovery\", start = \"09:00\", end = \"21:00\", every = \"1s\" }",
            "workflows.w.schedule.every",
            "\"1s\"",
            "expected a whole number of minutes such as \"1m\" or \"15m\" (slots are local minutes, named HH:MM), found \"1s\"",
        ),
        sched(
            "lead without calendar",
            "{ kind = \"every\", start = \"08:00\", end = \"20:00\", every = \"2h\", lead = \"5h\" }",
            "workflows.w.schedule.lead",
            "\"5h\"",
            "`lead` needs `calendar`",
        ),
        sched(
            "tolerance zero",
            "{ kind = \"at\", at = \"01:00\", tolerance = \"0s\" }",
            "workflows.w.schedule.tolerance",
            "\"0s\"",
            "expected a duration longer than zero, found \"0s\"",
        ),
        sched(
            "only_missing without calendar",
            "{ kind = \"at\", at = \"01:00\", only_missing = true }",
            "workflows.w.schedule.only_missing",
            "true",
            "`only_missing` needs `calendar`",
        ),
        sched(
            "events_before without calendar",
            "{ kind = \"at\", at = \"15:00\", events_before = \"19:00\" }",
            "workflows.w.schedule.events_before",
            "\"19:00\"",
            "`events_before` needs `calendar`",
        ),
        sched(
            "after_event_start without calendar",
            "{ kind = \"at\", at = \"15:00\", after_event_start = \"3h\" }",
            "workflows.w.schedule.after_event_start",
            "\"3h\"",
            "`after_event_start` needs `calendar`",
        ),
        sched(
            "events_before not a time",
            "{ kind = \"at\", at = \"15:00\", calendar = \"games\", events_before = \"7pm\" }",
            "workflows.w.schedule.events_before",
            "\"7pm\"",
            "expected a time of day",
        ),
        sched(
            "unknown calendar",
            "{ kind = \"window\", start = \"06:00\", end = \"10:00\", calendar = \"gams\" }",
            "workflows.w.schedule.calendar",
            "\"gams\"",
            "unknown calendar \"gams\" (did you mean \"games\"?); defined calendars: games",
        ),
        sched(
            "target_date",
            "{ kind = \"window\", start = \"06:00\", end = \"10:00\", target_date = \"tomorrow\" }",
            "workflows.w.schedule.target_date",
            "\"tomorrow\"",
            "expected \"today\" or \"yesterday\", found \"tomorrow\"",
        ),
        sched(
            "discovery zero attempts",
            "{ kind = \"discovery\", start = \"09:00\", end = \"21:00\", every = \"2h\", max_attempts = 0 }",
            "workflows.w.schedule.max_attempts",
            "0 }",
            "expected an integer >= 1, found 0",
        ),
        sched(
            "discovery max_attempts on window",
            "{ kind = \"window\", start = \"09:00\", end = \"21:00\", max_attempts = 3 }",
            "workflows.w.schedule.max_attempts",
            "3 }",
            "key \"max_attempts\" does not apply to kind \"window\"",
        ),
        sched(
            "retry_every too short",
            "{ kind = \"window\", start = \"06:00\", end = \"12:00\", retry_every = \"30s\" }",
            "workflows.w.schedule.retry_every",
            "\"30s\"",
            "expected a duration from \"1m\" to \"24h\", found \"30s\"",
        ),
        sched(
            "retry_every too long",
            "{ kind = \"at\", at = \"19:00\", retry_every = \"25h\" }",
            "workflows.w.schedule.retry_every",
            "\"25h\"",
            "expected a duration from \"1m\" to \"24h\", found \"25h\"",
        ),
        sched(
            "retry_max too large",
            "{ kind = \"window\", start = \"06:00\", end = \"12:00\", retry_max = 25 }",
            "workflows.w.schedule.retry_max",
            "25 }",
            "expected an integer from 0 to 24, found 25",
        ),
        sched(
            "retry_max negative",
            "{ kind = \"window\", start = \"06:00\", end = \"12:00\", retry_max = -1 }",
            "workflows.w.schedule.retry_max",
            "-1 }",
            "expected an integer from 0 to 24, found -1",
        ),
        sched(
            "retry_every on cron",
            "{ kind = \"cron\", cron = \"0 5 * * *\", retry_every = \"1h\" }",
            "workflows.w.schedule.retry_every",
            "\"1h\"",
            "key \"retry_every\" does not apply to kind \"cron\"",
        ),
    ]
}

#[test]
fn each_bad_scheduling_key_names_key_position_and_expectation() {
    check(cases());
}

#[test]
fn a_calendar_without_a_producer_is_refused_even_unused() {
    // No scraper at all produces anything but `events`.
    let text = format!(
        "{BASE}\n[calendars.c]\ndataset = \"league/schedule\"\nevents = \"$[*]\"\nid = \"id\"\nstart = \"s\"\n"
    );
    let message = error(&text);
    assert!(message.starts_with(&format!("{FILE}:")), "{message}");
    assert!(message.contains("datasets produced: events"), "{message}");
}

/// A leap day fires, once every four years: not refused as "never".
#[test]
fn a_leap_day_cron_is_accepted() {
    let p = plan(&format!(
        "{BASE}{CALENDAR}\n[workflows.w]\nscrapers = [\"events\"]\nschedule = {{ kind = \"cron\", cron = \"0 0 29 2 *\" }}\n"
    ));
    assert!(p.workflows["w"].schedule.is_some());
}
