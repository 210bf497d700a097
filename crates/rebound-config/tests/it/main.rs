//! Integration tests of `rebound-config`, built as one binary (see
//! `autotests = false` in Cargo.toml): the public API only, driven by
//! tables of config files.

mod alerts;
mod bad_files;
mod bounds;
mod cron;
mod documents;
mod examples;
mod handoff;
mod health;
mod late_data;
mod no_panic;
mod pagination;
mod params;
mod proxies;
mod rate_limits;
mod resolve;
mod retention;
mod schedule_errors;
mod scheduling;
mod schema;
mod secrets;
mod server;
mod source_urls;

use rebound_config::{ConfigError, load_str};
use rebound_domain::plan::Plan;
use std::path::Path;

/// The name bad files are reported under.
const FILE: &str = "rebound.toml";

/// A pretend environment: every variable is set to `fake-NAME`, except
/// those whose name starts with `MISSING`, which are unset, and those whose
/// name ends in `_URL`, which are a URL (`https://fake-NAME.example/hook`)
/// since URL keys check what they are given.
fn fake_env(name: &str) -> Option<String> {
    if name.starts_with("MISSING") {
        None
    } else if name.ends_with("_URL") {
        Some(format!("https://fake-{name}.example/hook"))
    } else {
        Some(format!("fake-{name}"))
    }
}

fn load(text: &str) -> Result<Plan, ConfigError> {
    load_str(text, Path::new(FILE), &fake_env)
}

/// Loads a file that must be valid; the panic shows why it is not.
fn plan(text: &str) -> Plan {
    match load(text) {
        Ok(plan) => plan,
        Err(e) => panic!("expected a valid config, got:\n{e}\n--- file:\n{text}"),
    }
}

/// Loads a file that must be invalid, returning the full message.
fn error(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The smallest valid file, to which tests append sections.
const BASE: &str = r#"
[pipeline]
name = "t"

[sources.api]
base_url = "https://api.example/v1/"

[scrapers.events]
source = "api"
path = "/events"
"#;
