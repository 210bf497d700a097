//! What a valid file resolves to: defaults, merges, normalisations and
//! path resolution.

use super::{BASE, fake_env, plan};
use rebound_config::load_str;
use rebound_domain::plan::{DatabaseLocation, RawStoreLocation};
use rebound_domain::retry::{Jitter, RetryPolicy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn render(template: &rebound_domain::template::Template, pairs: &[(&str, &str)]) -> String {
    let params: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    template.render(&params).unwrap()
}

#[test]
fn defaults() {
    let plan = plan(BASE);
    assert_eq!(plan.config_path, Some(PathBuf::from("rebound.toml")));
    assert_eq!(plan.pipeline.name, "t");
    assert_eq!(plan.pipeline.timezone, chrono_tz::UTC);
    assert_eq!(
        plan.pipeline.database,
        DatabaseLocation::Sqlite {
            path: "rebound.db".into()
        }
    );
    assert_eq!(
        plan.pipeline.raw_store,
        RawStoreLocation::File { path: "raw".into() }
    );
    let source = &plan.sources["api"];
    assert_eq!(source.timeout, Duration::from_secs(20));
    assert_eq!(source.max_concurrency, 4);
    assert_eq!(source.max_body_bytes, 52_428_800);
    assert_eq!(source.retry, RetryPolicy::default());
    let scraper = &plan.scrapers["events"];
    assert_eq!(scraper.method, "GET");
    assert_eq!(scraper.dataset, "events");
    assert_eq!(scraper.records, None);
    assert_eq!(scraper.retry, RetryPolicy::default());
    assert!(plan.workflows.is_empty());
    assert!(plan.redactor.is_empty());
}

#[test]
fn normalises_urls_and_methods() {
    let text = format!(
        "{BASE}\n[scrapers.post]\nsource = \"api\"\npath = \"/p/{{id}}\"\nmethod = \"post\"\n"
    );
    let plan = plan(&text);
    let source = &plan.sources["api"];
    assert_eq!(
        render(&source.base_url.value, &[]),
        "https://api.example/v1",
        "trailing slash removed"
    );
    assert!(!source.base_url.secret);
    let post = &plan.scrapers["post"];
    assert_eq!(post.method, "POST");
    assert_eq!(render(&post.path, &[("id", "7")]), "/p/7");
}

#[test]
fn retry_merges_key_by_key() {
    let text = format!(
        "{BASE}{}",
        r#"
[retry]
max_attempts = 5
jitter = "equal"

[sources.api.retry]
max_attempts = 2
max_delay = "5m"

[scrapers.events.retry]
initial_delay = "10s"
respect_retry_after = false
"#
    );
    let plan = plan(&text);
    let expected_source = RetryPolicy {
        max_attempts: 2,
        jitter: Jitter::Equal,
        max_delay: Duration::from_secs(300),
        ..RetryPolicy::default()
    };
    assert_eq!(plan.sources["api"].retry, expected_source);
    let expected_scraper = RetryPolicy {
        initial_delay: Duration::from_secs(10),
        respect_retry_after: false,
        ..expected_source
    };
    assert_eq!(plan.scrapers["events"].retry, expected_scraper);
}

#[test]
fn workflows_in_both_forms() {
    let text = format!(
        "{BASE}{}",
        r#"
[scrapers.props]
source = "api"
path = "/props/{event_id}"

[workflows.one]
scrapers = ["events", "props"]

[workflows.two]
steps = [
  { scrapers = ["events"] },
  { scrapers = ["props"], after = ["events", "events"] },
]
"#
    );
    let plan = plan(&text);
    let one = &plan.workflows["one"];
    assert_eq!(one.steps.len(), 1);
    assert_eq!(one.steps[0].scrapers, ["events", "props"]);
    assert!(one.steps[0].after.is_empty());
    let two = &plan.workflows["two"];
    assert_eq!(two.scraper_names().collect::<Vec<_>>(), ["events", "props"]);
    assert_eq!(
        two.steps[1].after,
        ["events"],
        "repeated names are kept once"
    );
}

#[test]
fn no_data_records_and_dataset() {
    let text = format!(
        "{BASE}{}",
        r#"
[scrapers.pbp]
source = "api"
path = "/pbp"
records = "/data/~1x"
dataset = "vendor/pbp"
no_data = { status = [404, 204], body_contains = ["No game found matching query"] }
"#
    );
    let plan = plan(&text);
    let pbp = &plan.scrapers["pbp"];
    assert_eq!(pbp.records.as_deref(), Some("/data/~1x"));
    assert_eq!(pbp.dataset, "vendor/pbp");
    assert_eq!(pbp.no_data.status, [404, 204]);
    assert_eq!(pbp.no_data.body_contains, ["No game found matching query"]);
}

#[test]
fn locations_resolve_against_the_config_folder() {
    let text = BASE.replace(
        "name = \"t\"",
        "name = \"t\"\ndatabase = \"sqlite://data/r.db\"\nraw_store = \"file:///srv/raw\"",
    );
    let abs = load_str(&text, Path::new("/etc/rebound/nba.toml"), &fake_env).unwrap();
    assert_eq!(
        abs.pipeline.database,
        DatabaseLocation::Sqlite {
            path: "/etc/rebound/data/r.db".into()
        }
    );
    assert_eq!(
        abs.pipeline.raw_store,
        RawStoreLocation::File {
            path: "/srv/raw".into()
        }
    );

    let text = BASE.replace(
        "name = \"t\"",
        "name = \"t\"\ndatabase = \"postgresql://app@db:5432/x\"\nraw_store = \"gs://bucket/nba/raw/\"",
    );
    let pg = plan(&text);
    assert_eq!(
        pg.pipeline.database,
        DatabaseLocation::Postgres {
            url: "postgresql://app@db:5432/x".into()
        }
    );
    assert_eq!(
        pg.pipeline.raw_store,
        RawStoreLocation::Gcs {
            bucket: "bucket".into(),
            prefix: "nba/raw".into()
        }
    );
}

/// The loader does not know whether the path came from `-c`, the
/// environment or the default, so it gives no advice about passing one:
/// "(pass -c FILE or set REBOUND_CONFIG)" was said to someone who had
/// passed -c. The CLI adds where the path came from.
#[test]
fn missing_file_is_named_without_advice_on_passing_one() {
    let err = rebound_config::load(Path::new("/nonexistent/rebound.toml"), &fake_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config file not found: /nonexistent/rebound.toml"
    );
    assert!(err.problems().is_empty());
}

#[test]
fn load_reads_the_file_and_reports_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, BASE).unwrap();
    let plan = rebound_config::load(&path, &fake_env).unwrap();
    assert_eq!(plan.config_path.as_deref(), Some(path.as_path()));
    assert_eq!(
        plan.pipeline.database,
        DatabaseLocation::Sqlite {
            path: dir.path().join("rebound.db")
        }
    );

    std::fs::write(&path, "[pipeline]\nname = 5\n").unwrap();
    let err = rebound_config::load(&path, &fake_env).unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!((problem.line, problem.column), (2, 8));
    assert_eq!(problem.key, "pipeline.name");
    assert!(err.to_string().starts_with(&format!(
        "{}:2:8: pipeline.name: expected a string",
        path.display()
    )));
}

#[test]
fn summary_lists_what_was_defined() {
    let text = format!("{BASE}\n[workflows.w]\nsteps = [{{ scrapers = [\"events\"] }}]\n");
    let text = rebound_config::summary(&plan(&text));
    let expected = "\
pipeline t (time zone UTC)
  config:    rebound.toml
  database:  sqlite://rebound.db
  raw store: file://raw
  retention: none (history is kept forever)
sources (1): api
scrapers (1): events
workflows (1):
  w
    1. events
";
    assert_eq!(text, expected);
}
