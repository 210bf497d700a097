//! The `rebound demo` scenario: a config pointing every source at the
//! simulator, and the faults that make each interesting outcome happen once.
//!
//! | workflow | scraper | fault installed by [`script_demo_faults`] | expected outcome |
//! | --- | --- | --- | --- |
//! | `morning_operations` | `nbac_schedule` | none | success |
//! | `morning_operations` | `nbac_injury_report` | every attempt answered after 3s (timeout 1s) | failed, `timeout` |
//! | `morning_operations` | `bdl_games` | `{"data":[],"meta":{}}` | no_data (empty list) |
//! | `betting_lines` | `oddsa_events` | 429 `Retry-After: 1`, then default | success after a retry |
//! | `betting_lines` | `oddsa_player_props` (after `oddsa_events`) | none | success |
//! | `post_game_collection` | `bdl_box_scores` | 503, 503, then default | success on attempt 3 |
//! | `post_game_collection` | `nbac_play_by_play` | 404 | failed, `client` (not retried) |
//! | `post_game_collection` | `bdb_play_by_play` | 404 "No game found matching query" | no_data (not published) |
//!
//! Two more faults take a date or time and are installed by their own
//! functions: [`UpstreamSim::script_demo_props_pending`] (the fan-out
//! `oddsa_player_props`, one call per event of `oddsa_events`: the date's
//! last event has no props yet, so "N-1 of N collected (1 no data)") and
//! [`UpstreamSim::script_demo_outage`] (every BallDontLie box-score request
//! answers 503 until [`UpstreamSim::end_demo_outage`]: `live_box_scores`
//! fails, trips the `bdl` breaker, is refused, then probes and recovers).

use crate::fixtures::{games_on, parse_date};
use crate::routes::BDB_NOT_FOUND;
use crate::{Reply, UpstreamSim, paths};
use serde_json::json;
use std::time::Duration;

/// The date the demo's fixed ids (event, game) belong to.
pub const DEMO_DATE: &str = "2026-11-28";
/// `[retry] max_attempts` of [`demo_config`].
pub const DEMO_MAX_ATTEMPTS: usize = 3;
/// Every demo source's `timeout`.
pub const DEMO_SOURCE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the demo's slow injury-report replies take.
pub const DEMO_SLOW_REPLY: Duration = Duration::from_secs(3);

/// The first Odds API event of [`DEMO_DATE`].
pub fn demo_event_id() -> String {
    demo_game(0).event_id()
}

/// The first NBA.com game of [`DEMO_DATE`]; the demo's play-by-play
/// scrapers name it literally.
pub fn demo_game_id() -> String {
    demo_game(0).game_id()
}

/// `[sources.bdl.breaker] consecutive_failures` of the demo config.
pub const DEMO_BREAKER_FAILURES: u32 = 2;
/// `[sources.bdl.breaker] open_for` of the demo config, in minutes.
pub const DEMO_BREAKER_OPEN_MINUTES: u32 = 15;
/// `fresh_warn` of `odds_api/player_props`, in minutes.
pub const DEMO_PROPS_FRESH_MINUTES: u32 = 90;

fn demo_game(index: usize) -> crate::fixtures::Game {
    let date = parse_date(DEMO_DATE).expect("DEMO_DATE is a date");
    games_on(date).swap_remove(index)
}

pub(crate) fn script_demo_faults(sim: &UpstreamSim) {
    sim.script(
        paths::ODDS_EVENTS,
        vec![
            Reply::json(
                429,
                json!({ "message": "Rate limit exceeded, slow down", "error_code": "EXCEEDED_FREQ_LIMIT" }),
            )
            .header("Retry-After", "1"),
        ],
    );
    sim.script(
        paths::BDL_BOX_SCORES,
        vec![
            Reply::text(503, "Service Unavailable"),
            Reply::text(503, "Service Unavailable"),
        ],
    );
    // Timeouts are retryable, so one slow reply would only show a retry
    // that succeeds; the demo wants a timeout *failure*, so every attempt
    // the demo's retry policy allows is slow.
    sim.script(
        paths::NBA_INJURY_REPORT,
        (0..DEMO_MAX_ATTEMPTS)
            .map(|_| Reply::text(504, "Gateway Timeout").delay(DEMO_SLOW_REPLY))
            .collect(),
    );
    sim.script(
        &paths::nba_pbp(&demo_game_id()),
        vec![Reply::json(
            404,
            json!({ "error": "play-by-play not available" }),
        )],
    );
    sim.script(
        paths::BDB_PBP,
        vec![Reply::json(404, json!({ "error": BDB_NOT_FOUND }))],
    );
    sim.script(
        paths::BDL_GAMES,
        vec![Reply::json(200, json!({ "data": [], "meta": {} }))],
    );
}

/// The event of `date` whose props are "not posted yet" under
/// [`UpstreamSim::script_demo_props_pending`]: the day's last.
pub fn demo_pending_event_id(date: chrono::NaiveDate) -> Option<String> {
    games_on(date).last().map(|game| game.event_id())
}

pub(crate) fn script_demo_props_pending(sim: &UpstreamSim, date: chrono::NaiveDate) {
    let Some(event_id) = demo_pending_event_id(date) else {
        return;
    };
    sim.script(
        &paths::odds_event_odds(&event_id),
        vec![Reply::json(
            200,
            json!({ "id": event_id, "sport_key": "basketball_nba", "bookmakers": [] }),
        )],
    );
}

/// Replies queued by [`script_demo_outage`]: more than any demo outage
/// asks for; [`end_demo_outage`] drops the rest.
const OUTAGE_REPLIES: usize = 100;

pub(crate) fn script_demo_outage(sim: &UpstreamSim) {
    sim.script(
        paths::BDL_BOX_SCORES,
        (0..OUTAGE_REPLIES)
            .map(|_| Reply::text(503, "Service Unavailable"))
            .collect(),
    );
}

pub(crate) fn end_demo_outage(sim: &UpstreamSim) {
    sim.clear_script(paths::BDL_BOX_SCORES);
}

/// A TOML string literal (basic string) holding `text`.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the demo's config points at besides the simulated upstream.
#[derive(Debug, Clone, Default)]
pub struct DemoConfig {
    /// The simulated upstream, e.g. [`UpstreamSim::base_url`].
    pub base_url: String,
    /// Where alert notifications are posted (a loopback
    /// [`crate::WebhookReceiver`]); no `[alerts.sinks]` without one.
    pub alerts_url: Option<String>,
    /// The command that serves this upstream (and receiver) again after the
    /// demo, written into the config's header comment.
    pub serve_command: Option<String>,
}

/// The demo's config (TOML) with every source under `base_url` (e.g.
/// [`UpstreamSim::base_url`]). See the module table for what each
/// workflow shows once [`UpstreamSim::script_demo_faults`] is installed.
pub fn demo_config(base_url: &str) -> String {
    demo_config_with(&DemoConfig {
        base_url: base_url.to_string(),
        ..DemoConfig::default()
    })
}

/// [`demo_config`] with an alert sink and the command that serves the
/// upstream again.
pub fn demo_config_with(demo: &DemoConfig) -> String {
    let base = demo.base_url.trim_end_matches('/');
    let url = |suffix: &str| toml_string(&format!("{base}{suffix}"));
    let timeout = format!("{}s", DEMO_SOURCE_TIMEOUT.as_secs());
    let (nbacom, bdl, odds, bdb) = (url("/nba"), url("/bdl/v1"), url("/odds/v4"), url("/bdb"));
    let game_id = demo_game_id();
    let max_attempts = DEMO_MAX_ATTEMPTS;
    let serve = match &demo.serve_command {
        Some(command) => format!(
            "# The simulated upstream stopped when the demo ended; to run this config\n# again (`rebound run WORKFLOW --date {DEMO_DATE}`), start it first, in\n# another terminal:\n#   {command}\n# No workflow here has a schedule: `rebound serve` would run none of them.\n"
        ),
        None => String::new(),
    };
    let alert_sink = match &demo.alerts_url {
        Some(url) => format!(
            r#"
# The demo's loopback webhook receiver. Outside the demo, write a sink's
# URL as "${{VAR}}": it is a secret.
[alerts.sinks.demo_receiver]
kind = "webhook"
url = {}
"#,
            toml_string(url)
        ),
        None => String::new(),
    };
    format!(
        r#"# Rebound demo: NBA-style collection against the built-in simulated
# upstream at {base}.
# The demo scripts one fault per scraper (see the comments) to show
# retries, a timeout, a permanent failure and "no data", then an outage of
# the BallDontLie API that trips its circuit breaker.
{serve}
[pipeline]
name = "nba-demo"
timezone = "America/New_York"
database = "sqlite://rebound.db"
raw_store = "file://raw"

[retry]
max_attempts = {max_attempts}
initial_delay = "200ms"
multiplier = 2.0
max_delay = "2s"
jitter = "full"
respect_retry_after = true
max_retry_after = "10m"

[sources.nbacom]
base_url = {nbacom}
timeout = "{timeout}"
max_concurrency = 4
max_body_bytes = 52428800
headers = {{ "User-Agent" = "rebound-demo" }}

[sources.bdl]
base_url = {bdl}
timeout = "{timeout}"
max_concurrency = 4
max_body_bytes = 52428800
headers = {{ "User-Agent" = "rebound-demo", "Authorization" = "demo-key" }}

# Tighter than the defaults (5 failures, 1m) so the demo's short outage
# trips it: 2 failed calls in a row open it for 15 minutes, then one
# probe call decides whether it closes.
[sources.bdl.breaker]
consecutive_failures = {DEMO_BREAKER_FAILURES}
window = "30m"
open_for = "{DEMO_BREAKER_OPEN_MINUTES}m"

[sources.odds_api]
base_url = {odds}
timeout = "{timeout}"
max_concurrency = 4
max_body_bytes = 52428800
headers = {{ "User-Agent" = "rebound-demo" }}
query = {{ apiKey = "demo-key" }}

[sources.bdb]
base_url = {bdb}
timeout = "{timeout}"
max_concurrency = 4
max_body_bytes = 52428800
headers = {{ "User-Agent" = "rebound-demo" }}

# --- morning_operations ------------------------------------------------

[scrapers.nbac_schedule]
source = "nbacom"
method = "GET"
path = "/schedule"
records = "/leagueSchedule/gameDates"
dataset = "nbacom/schedule"

# Demo fault: every attempt answers after 3s, past the 1s timeout.
[scrapers.nbac_injury_report]
source = "nbacom"
method = "GET"
path = "/injury-report"
query = {{ date = "{{date}}" }}
records = "/records"
dataset = "nbacom/injury_report"

# Demo fault: an empty list, which is "no data", not a failure.
[scrapers.bdl_games]
source = "bdl"
method = "GET"
path = "/games"
query = {{ "dates[]" = "{{date}}" }}
records = "/data"
dataset = "bdl/games"

# --- betting_lines -----------------------------------------------------

# Demo fault: 429 with Retry-After: 1, then success.
[scrapers.oddsa_events]
source = "odds_api"
method = "GET"
path = "/sports/basketball_nba/events"
query = {{ date = "{{date}}" }}
records = ""
dataset = "odds_api/events"

# Fan-out: one call per event of the events list just collected.
# Demo fault: the day's last event has no props posted yet (no data).
[scrapers.oddsa_player_props]
source = "odds_api"
method = "GET"
path = "/sports/basketball_nba/events/{{event_id}}/odds"
query = {{ markets = "player_points" }}
records = "/bookmakers"
dataset = "odds_api/player_props"
for_each = {{ dataset = "odds_api/events", items = "$[*]", value = "id", param = "event_id" }}

# --- post_game_collection ----------------------------------------------

# Demo fault: 503, 503, then success.
[scrapers.bdl_box_scores]
source = "bdl"
method = "GET"
path = "/box_scores"
query = {{ date = "{{date}}" }}
records = "/data"
dataset = "bdl/box_scores"

# Demo fault: 404, a permanent failure (not retried).
[scrapers.nbac_play_by_play]
source = "nbacom"
method = "GET"
path = "/pbp/{game_id}"
records = "/game/actions"
dataset = "nbacom/play_by_play"

# Demo fault: the file is not published yet, which is "no data".
[scrapers.bdb_play_by_play]
source = "bdb"
method = "GET"
path = "/pbp"
query = {{ game_id = "{game_id}" }}
records = "/rows"
no_data = {{ body_contains = [{not_found}] }}
dataset = "bigdataball/play_by_play"

# --- live_box_scores ---------------------------------------------------

# Demo fault: the BallDontLie API goes down (503) for a while.
[scrapers.bdl_live_box_scores]
source = "bdl"
method = "GET"
path = "/box_scores"
query = {{ date = "{{date}}" }}
records = "/data"
dataset = "bdl/live_box_scores"

[workflows.morning_operations]
steps = [
  {{ scrapers = ["nbac_schedule", "nbac_injury_report", "bdl_games"] }},
]

[workflows.betting_lines]
steps = [
  {{ scrapers = ["oddsa_events"] }},
  {{ scrapers = ["oddsa_player_props"], after = ["oddsa_events"] }},
]

[workflows.post_game_collection]
steps = [
  {{ scrapers = ["bdl_box_scores", "nbac_play_by_play", "bdb_play_by_play"] }},
]

[workflows.live_box_scores]
steps = [
  {{ scrapers = ["bdl_live_box_scores"] }},
]

# Props change through the day; none for 90 minutes means the feed is stuck
# (an identical payload is no news either).
[datasets."odds_api/player_props"]
fresh_warn = "{DEMO_PROPS_FRESH_MINUTES}m"

[alerts.conditions]
# An open breaker pages after 5 minutes instead of the default 15.
source_unhealthy = {{ grace = "5m" }}
{alert_sink}"#,
        not_found = toml_string(BDB_NOT_FOUND),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn the_config_names_its_alert_sink_and_how_to_serve_it_again() {
        let text = demo_config_with(&DemoConfig {
            base_url: "http://127.0.0.1:4242".into(),
            alerts_url: Some("http://127.0.0.1:4343/alerts".into()),
            serve_command: Some("rebound demo upstream --port 4242".into()),
        });
        assert!(text.starts_with("# Rebound demo:"), "{text}");
        assert!(
            text.contains("\n#   rebound demo upstream --port 4242\n"),
            "{text}"
        );
        // Its workflows have no schedule: the header named `serve` as a way
        // to run it again, which then idled.
        assert!(
            text.contains(&format!("`rebound run WORKFLOW --date {DEMO_DATE}`")),
            "{text}"
        );
        assert!(
            text.contains(
                "No workflow here has a schedule: `rebound serve` would run none of them."
            ),
            "{text}"
        );
        assert!(!text.contains("(`run`, `serve`)"), "{text}");
        assert!(text.contains("[alerts.sinks.demo_receiver]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:4343/alerts\""), "{text}");
        // Without them, neither appears.
        let plain = demo_config("http://127.0.0.1:4242");
        assert!(!plain.contains("alerts.sinks") && !plain.contains("demo upstream"));
    }

    #[test]
    fn demo_ids_belong_to_the_demo_date() {
        let game = crate::fixtures::game_by_event_id(&demo_event_id()).unwrap();
        assert_eq!(game.date.to_string(), DEMO_DATE);
        assert_eq!(game.game_id(), demo_game_id());
    }
}
