//! The built-in scenarios, embedded at build time from `scenarios/`, each
//! reproducing one real incident of the pipeline Rebound re-implements.

use crate::scenario::{Scenario, ScenarioError};
use std::path::PathBuf;

/// (name, file text) of every built-in scenario, in the order they are listed.
pub const BUILTIN: [(&str, &str); 8] = [
    (
        "new-years-eve",
        include_str!("../scenarios/new-years-eve.toml"),
    ),
    (
        "host-down-5-days",
        include_str!("../scenarios/host-down-5-days.toml"),
    ),
    (
        "late-play-by-play",
        include_str!("../scenarios/late-play-by-play.toml"),
    ),
    (
        "empty-after-url-change",
        include_str!("../scenarios/empty-after-url-change.toml"),
    ),
    (
        "dst-spring-forward",
        include_str!("../scenarios/dst-spring-forward.toml"),
    ),
    (
        "dst-fall-back",
        include_str!("../scenarios/dst-fall-back.toml"),
    ),
    (
        "stale-schedule",
        include_str!("../scenarios/stale-schedule.toml"),
    ),
    ("full-season", include_str!("../scenarios/full-season.toml")),
];

/// The names of the built-ins.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// The built-in `name`, parsed; `None` when there is none of that name.
pub fn load(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let (name, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
    let origin = PathBuf::from(format!("scenarios/{name}.toml"));
    Some(Scenario::parse(name, &origin, text))
}

/// The largest scenario file read: a thousand faults take about 100 KB.
const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// Whether a scenario argument is written as a path: it holds a `/` (or
/// the platform's separator) or ends in `.toml`. Such an argument is always
/// a file, whatever the built-ins are named.
pub fn is_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || arg.ends_with(".toml")
}

/// A scenario argument: a file when written as a path ([`is_path`]), else
/// a built-in's name, else a file. A bare name that is both a built-in and
/// a file in the current folder is refused: the built-in silently shadowed
/// the file.
pub fn resolve(arg: &str) -> Result<Scenario, String> {
    if !is_path(arg)
        && let Some(scenario) = load(arg)
    {
        if std::fs::metadata(arg).is_ok_and(|m| !m.is_dir()) {
            return Err(format!(
                "\"{arg}\" is both a built-in scenario and a file in the current folder: write ./{arg} to run the file; to run the built-in, rename the file or run from another folder"
            ));
        }
        return scenario.map_err(|e| e.to_string());
    }
    let path = PathBuf::from(arg);
    // Through a bound: `rebound simulate /dev/zero` read until the memory
    // ran out.
    let bytes = match rebound_config::read_at_most(&path, MAX_SCENARIO_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(format!(
                "cannot read scenario file {arg}: it is larger than {} MiB, which no scenario is (is it the right file?)",
                MAX_SCENARIO_BYTES >> 20
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "no built-in scenario or file named \"{arg}\"; the built-ins are {}",
                names().join(", ")
            ));
        }
        Err(e) => {
            return Err(format!(
                "cannot read scenario file {arg}: {}",
                rebound_config::read_error_reason(&e)
            ));
        }
    };
    let text = rebound_config::decode_utf8(bytes).map_err(|e| {
        format!(
            "{arg}:{}:{}: not UTF-8 at byte {}: a scenario file is UTF-8 text",
            e.line, e.column, e.byte
        )
    })?;
    let name = path
        .file_stem()
        .map_or_else(|| arg.to_string(), |s| s.to_string_lossy().into_owned());
    Scenario::parse(&name, &path, &text).map_err(|e| e.to_string())
}
