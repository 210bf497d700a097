//! Config texts that tests of several crates build on.

/// A pipeline of two sources of the simulated upstream at `sim`: NBA.com
/// (`nbacom`, scraper and workflow `injuries`) and balldontlie (`bdl`,
/// scraper `bdl_games`, workflow `games`), with two quick attempts per call
/// and history in `history.db` beside the config. The alert tests make one
/// source fail while the other stays healthy; they append their
/// `[alerts]` tables to this text.
pub fn two_source_pipeline(sim: &str) -> String {
    format!(
        r#"
[pipeline]
name = "nba"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 2
initial_delay = "10ms"
max_delay = "20ms"

[sources.nbacom]
base_url = "{sim}/nba"
timeout = "2s"

[sources.bdl]
base_url = "{sim}/bdl/v1"
timeout = "2s"

[scrapers.injuries]
source = "nbacom"
path = "/injury-report"
query = {{ date = "{{date}}" }}
records = "/records"
dataset = "nbacom/injury_report"

[scrapers.bdl_games]
source = "bdl"
path = "/games"
query = {{ "dates[]" = "{{date}}" }}
records = "/data"
dataset = "bdl/games"

[workflows.injuries]
scrapers = ["injuries"]

[workflows.games]
scrapers = ["bdl_games"]
"#
    )
}
