//! Every `*.toml` under the repository's `examples/` folder must load, so
//! the examples cannot rot. The folder is walked, so a new example is
//! covered without touching this file.

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
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, load_example(path))
        })
        .collect()
}

#[test]
fn every_example_loads() {
    let plans = examples();
    assert!(
        plans.contains_key("minimal") && plans.contains_key("nba"),
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

    let pbp = &nba.scrapers["bdb_pbp"];
    assert_eq!(pbp.no_data.body_contains, ["No game found matching query"]);

    let lines = &nba.workflows["betting_lines"];
    assert_eq!(lines.steps.len(), 2);
    assert_eq!(lines.steps[1].scrapers, ["oddsa_player_props"]);
    assert_eq!(lines.steps[1].after, ["oddsa_events"]);
    for name in ["morning_operations", "post_game_collection"] {
        assert!(nba.workflows.contains_key(name), "{name}");
    }
}
