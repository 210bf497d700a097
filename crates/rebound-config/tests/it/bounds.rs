//! Upper bounds of durations and counts (the "Bounds" table of
//! `docs/resilience.md`): a value above its key's bound is refused at load
//! with file:line:col, where before it was accepted and then panicked or
//! never ended at run time.

use super::BASE;
use super::bad_files::{Case, check};

/// The largest `u64` seconds: the value that used to overflow everywhere.
const HUGE: &str = "\"18446744073709551615s\"";

const PIPELINE: &str = r#"
[sources.api]
base_url = "https://api.example/v1/"

[scrapers.events]
source = "api"
path = "/events"
"#;

const FAN: &str = r#"
[calendars.games]
dataset = "events"
events = "$[*]"
id = "id"
start = "start"

[scrapers.box]
source = "api"
path = "/box/{game_id}"
for_each = { calendar = "games", param = "game_id" }
"#;

fn case(
    name: &'static str,
    extra: String,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        text: format!("{BASE}{extra}"),
        key,
        at,
        says,
    }
}

fn source(keys: &str) -> String {
    format!("[sources.b]\nbase_url = \"https://b\"\n{keys}\n")
}

#[test]
fn durations_above_their_bound_are_refused_where_written() {
    check(vec![
        Case {
            name: "retention",
            text: format!("[pipeline]\nname = \"t\"\nretention = {HUGE}\n{PIPELINE}"),
            key: "pipeline.retention",
            at: HUGE,
            says: "expected a duration of at most 3650d, found \"18446744073709551615s\"",
        },
        case(
            "breaker open_for",
            source(&format!("breaker = {{ open_for = {HUGE} }}")),
            "sources.b.breaker.open_for",
            HUGE,
            "expected a duration of at most 7d, found \"18446744073709551615s\"",
        ),
        case(
            "breaker window",
            source("breaker = { window = \"8d\" }"),
            "sources.b.breaker.window",
            "\"8d\"",
            "expected a duration of at most 7d, found \"8d\"",
        ),
        case(
            "breaker max_open_for",
            source("breaker = { max_open_for = \"169h\" }"),
            "sources.b.breaker.max_open_for",
            "\"169h\"",
            "expected a duration of at most 7d",
        ),
        case(
            "retry budget window",
            source("retry_budget = { window = \"8d\" }"),
            "sources.b.retry_budget.window",
            "\"8d\"",
            "expected a duration of at most 7d",
        ),
        case(
            "source timeout",
            source(&format!("timeout = {HUGE}")),
            "sources.b.timeout",
            HUGE,
            "expected a duration of at most 1h, found \"18446744073709551615s\"",
        ),
        case(
            "initial_delay",
            format!("[retry]\ninitial_delay = {HUGE}\n"),
            "retry.initial_delay",
            HUGE,
            "expected a duration of at most 1h",
        ),
        case(
            "scraper max_delay",
            "[scrapers.events.retry]\nmax_delay = \"2d\"\n".into(),
            "scrapers.events.retry.max_delay",
            "\"2d\"",
            "expected a duration of at most 1d",
        ),
        case(
            "max_retry_after",
            "[retry]\nmax_retry_after = \"25h\"\n".into(),
            "retry.max_retry_after",
            "\"25h\"",
            "expected a duration of at most 1d",
        ),
        case(
            "scheduler lease",
            format!("[scheduler]\nlease = {HUGE}\n"),
            "scheduler.lease",
            HUGE,
            "expected a duration of at most 1d",
        ),
        case(
            "scheduler max_idle",
            "[scheduler]\nmax_idle = \"2d\"\n".into(),
            "scheduler.max_idle",
            "\"2d\"",
            "expected a duration of at most 1d",
        ),
        case(
            "alerts renotify",
            "[alerts]\nrenotify = \"31d\"\n".into(),
            "alerts.renotify",
            "\"31d\"",
            "expected a duration of at most 30d",
        ),
        case(
            "lockout for",
            format!("{FAN}lockout = {{ for = {HUGE} }}\n"),
            "scrapers.box.lockout.for",
            HUGE,
            "expected a duration of at most 365d",
        ),
        case(
            "recheck",
            format!("{FAN}expected_by = \"15:00\"\nrecheck = \"2d\"\n"),
            "scrapers.box.recheck",
            "\"2d\"",
            "expected a duration of at most 1d",
        ),
    ]);
}

#[test]
fn counts_above_their_bound_are_refused_where_written() {
    check(vec![
        case(
            "max_concurrency",
            source("max_concurrency = 10001"),
            "sources.b.max_concurrency",
            "10001",
            "expected an integer <= 10000, found 10001",
        ),
        case(
            "max_concurrency past the semaphore",
            source("max_concurrency = 9223372036854775807"),
            "sources.b.max_concurrency",
            "9223372036854775807",
            "expected an integer <= 10000",
        ),
        case(
            "max_body_bytes",
            source("max_body_bytes = 4294967297"),
            "sources.b.max_body_bytes",
            "4294967297",
            "expected an integer <= 4294967296",
        ),
        case(
            "max_attempts",
            "[retry]\nmax_attempts = 101\n".into(),
            "retry.max_attempts",
            "101",
            "expected an integer <= 100, found 101",
        ),
        case(
            "breaker min_calls",
            source("breaker = { min_calls = 100001 }"),
            "sources.b.breaker.min_calls",
            "100001",
            "expected an integer <= 100000",
        ),
        case(
            "quota requests",
            source("quota = { per = \"day\", requests = 1000000001 }"),
            "sources.b.quota.requests",
            "1000000001",
            "expected an integer <= 1000000000",
        ),
        case(
            "lockout after",
            format!("{FAN}lockout = {{ after = 1001 }}\n"),
            "scrapers.box.lockout.after",
            "1001",
            "expected an integer <= 1000",
        ),
        case(
            "alerts max_per_hour",
            "[alerts]\nmax_per_hour = 3601\n".into(),
            "alerts.max_per_hour",
            "3601",
            "expected an integer <= 3600",
        ),
        case(
            "multiplier",
            "[retry]\nmultiplier = 1e300\n".into(),
            "retry.multiplier",
            "1e300",
            "expected a number <= 100, found 1e300",
        ),
        case(
            "retry budget ratio",
            source("retry_budget = { ratio = 101.0 }"),
            "sources.b.retry_budget.ratio",
            "101.0",
            "expected a number <= 100, found 101.0",
        ),
    ]);
}

#[test]
fn values_at_their_bound_are_accepted() {
    let text = format!(
        "[pipeline]\nname = \"t\"\nretention = \"3650d\"\n{}{}",
        PIPELINE.replace(
            "base_url = \"https://api.example/v1/\"",
            "base_url = \"https://api.example/v1/\"\ntimeout = \"1h\"\nmax_concurrency = 10000\n\
             breaker = { open_for = \"7d\", window = \"7d\" }"
        ),
        "[retry]\ninitial_delay = \"1h\"\nmax_delay = \"1d\"\nmax_attempts = 100\n"
    );
    let plan = super::plan(&text);
    assert_eq!(plan.sources["api"].max_concurrency, 10_000);
}
