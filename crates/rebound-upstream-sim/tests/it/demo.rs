//! `demo_config`: valid TOML in the documented layout, consistent with
//! itself, and — run by a miniature fetcher — producing the documented
//! outcome for every scraper.

use crate::start;
use rebound_upstream_sim::{DEMO_DATE, DEMO_MAX_ATTEMPTS, demo_config, demo_event_id};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::{Table, Value as Toml};

fn parse(base_url: &str) -> Table {
    let text = demo_config(base_url);
    toml::from_str(&text).unwrap_or_else(|e| panic!("demo config is not TOML: {e}\n{text}"))
}

fn table<'a>(value: &'a Table, key: &str) -> &'a Table {
    value[key]
        .as_table()
        .unwrap_or_else(|| panic!("{key} is not a table"))
}

fn string<'a>(value: &'a Table, key: &str) -> &'a str {
    value
        .get(key)
        .and_then(Toml::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

#[test]
fn demo_config_has_the_documented_layout() {
    let base = "http://127.0.0.1:4242";
    let text = demo_config(base);
    assert!(text.contains(base));
    let config = parse(base);

    let pipeline = table(&config, "pipeline");
    assert_eq!(string(pipeline, "name"), "nba-demo");
    assert_eq!(string(pipeline, "timezone"), "America/New_York");
    assert_eq!(string(pipeline, "database"), "sqlite://rebound.db");
    assert_eq!(string(pipeline, "raw_store"), "file://raw");

    let retry = table(&config, "retry");
    assert_eq!(
        retry["max_attempts"].as_integer(),
        Some(DEMO_MAX_ATTEMPTS as i64)
    );
    assert_eq!(string(retry, "initial_delay"), "200ms");
    assert_eq!(retry["multiplier"].as_float(), Some(2.0));
    assert_eq!(string(retry, "jitter"), "full");
    assert_eq!(retry["respect_retry_after"].as_bool(), Some(true));

    let sources = table(&config, "sources");
    let expected = [
        ("nbacom", "/nba"),
        ("bdl", "/bdl/v1"),
        ("odds_api", "/odds/v4"),
        ("bdb", "/bdb"),
    ];
    assert_eq!(sources.len(), expected.len());
    for (name, suffix) in expected {
        let source = table(sources, name);
        assert_eq!(string(source, "base_url"), format!("{base}{suffix}"));
        assert_eq!(string(source, "timeout"), "1s");
        assert!(source["max_concurrency"].as_integer().unwrap() > 0);
        assert_eq!(source["max_body_bytes"].as_integer(), Some(52_428_800));
    }
    assert_eq!(
        string(table(table(sources, "bdl"), "headers"), "Authorization"),
        "demo-key"
    );
    assert_eq!(
        string(table(table(sources, "odds_api"), "query"), "apiKey"),
        "demo-key"
    );

    // Every scraper names a source; every workflow names scrapers that
    // exist, once, and `after` only points at earlier steps.
    let scrapers = table(&config, "scrapers");
    for (name, scraper) in scrapers {
        let scraper = scraper.as_table().unwrap();
        assert!(sources.contains_key(string(scraper, "source")), "{name}");
        assert_eq!(string(scraper, "method"), "GET", "{name}");
        assert!(string(scraper, "path").starts_with('/'), "{name}");
        assert!(!string(scraper, "dataset").is_empty(), "{name}");
    }
    let workflows = table(&config, "workflows");
    let mut used = Vec::new();
    for name in [
        "morning_operations",
        "betting_lines",
        "post_game_collection",
        "live_box_scores",
    ] {
        let steps = table(workflows, name)["steps"].as_array().unwrap();
        let mut earlier: Vec<&str> = Vec::new();
        for step in steps {
            let step = step.as_table().unwrap();
            for after in step
                .get("after")
                .and_then(Toml::as_array)
                .into_iter()
                .flatten()
            {
                assert!(
                    earlier.contains(&after.as_str().unwrap()),
                    "{name}: {after}"
                );
            }
            for scraper in step["scrapers"].as_array().unwrap() {
                let scraper = scraper.as_str().unwrap();
                assert!(scrapers.contains_key(scraper), "{name}: {scraper}");
                assert!(!earlier.contains(&scraper), "{name}: {scraper} twice");
                used.push(scraper.to_string());
            }
            earlier.extend(
                step["scrapers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap()),
            );
        }
    }
    used.sort();
    let mut all: Vec<String> = scrapers.keys().cloned().collect();
    all.sort();
    assert_eq!(used, all, "every scraper is in exactly one workflow");
}

#[test]
fn trailing_slashes_on_the_base_url_are_ignored() {
    let config = parse("http://127.0.0.1:4242/");
    let nbacom = table(table(&config, "sources"), "nbacom");
    assert_eq!(string(nbacom, "base_url"), "http://127.0.0.1:4242/nba");
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Success,
    NoData,
    Failed(&'static str),
}

/// `{date}`, `{date_compact}` filled in, and the fan-out's `{event_id}`
/// with one event of the date; the demo needs no other params.
fn render(template: &str) -> String {
    let rendered = template
        .replace("{date}", DEMO_DATE)
        .replace("{event_id}", &demo_event_id())
        .replace("{date_compact}", &DEMO_DATE.replace('-', ""));
    assert!(
        !rendered.contains('{'),
        "unexpected parameter in {template}"
    );
    rendered
}

fn pairs(table: Option<&Toml>) -> Vec<(String, String)> {
    table
        .and_then(Toml::as_table)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), render(v.as_str().unwrap())))
        .collect()
}

/// A miniature of the real fetcher: the documented classification order
/// (no_data rules, status class, records) and retries of transient
/// failures, with the source timeout shortened (any timeout below the slow
/// reply shows the fault) and Retry-After checked rather than waited out.
async fn run_scraper(config: &Table, name: &str, client: &reqwest::Client) -> (Outcome, usize) {
    let scraper = table(table(config, "scrapers"), name);
    let source = table(table(config, "sources"), string(scraper, "source"));
    let mut url = url::Url::parse(&format!(
        "{}{}",
        string(source, "base_url"),
        render(string(scraper, "path"))
    ))
    .unwrap();
    let query: Vec<_> = pairs(source.get("query"))
        .into_iter()
        .chain(pairs(scraper.get("query")))
        .collect();
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let no_data = scraper.get("no_data").and_then(Toml::as_table);
    let no_data_statuses: Vec<i64> = no_data
        .and_then(|t| t.get("status"))
        .and_then(Toml::as_array)
        .into_iter()
        .flatten()
        .map(|v| v.as_integer().unwrap())
        .collect();
    let no_data_bodies: Vec<&str> = no_data
        .and_then(|t| t.get("body_contains"))
        .and_then(Toml::as_array)
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap())
        .collect();
    let max_attempts = table(config, "retry")["max_attempts"].as_integer().unwrap() as usize;
    let mut outcome = Outcome::Failed("never tried");
    for attempt in 1..=max_attempts {
        let mut request = client.get(url.clone());
        for (key, value) in pairs(source.get("headers"))
            .into_iter()
            .chain(pairs(scraper.get("headers")))
        {
            request = request.header(key, value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                outcome = Outcome::Failed(if error.is_timeout() {
                    "timeout"
                } else {
                    "connect"
                });
                continue;
            }
        };
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                outcome = Outcome::Failed(if error.is_timeout() {
                    "timeout"
                } else {
                    "connect"
                });
                continue;
            }
        };
        let text = String::from_utf8_lossy(&body);
        if no_data_statuses.contains(&i64::from(status))
            || no_data_bodies.iter().any(|needle| text.contains(needle))
        {
            return (Outcome::NoData, attempt);
        }
        match status {
            200..=299 => {}
            429 => {
                assert!(retry_after.is_some(), "{name}: 429 without Retry-After");
                outcome = Outcome::Failed("throttled");
                continue;
            }
            408 | 500..=599 => {
                outcome = Outcome::Failed("server");
                continue;
            }
            _ => return (Outcome::Failed("client"), attempt),
        }
        let json: Value = serde_json::from_slice(&body).unwrap();
        let pointer = scraper.get("records").and_then(Toml::as_str).unwrap_or("");
        return match json.pointer(pointer).and_then(Value::as_array) {
            Some(records) if !records.is_empty() => (Outcome::Success, attempt),
            _ => (Outcome::NoData, attempt),
        };
    }
    (outcome, max_attempts)
}

#[allow(clippy::disallowed_methods)] // a test client, not Rebound's outbound edge
async fn run_all(config: &Table) -> BTreeMap<String, (Outcome, usize)> {
    let names: Vec<String> = table(config, "scrapers").keys().cloned().collect();
    // One client for all: building one is slow (it loads TLS roots) and,
    // done inside concurrently running calls, would eat their timeouts.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    // `live_box_scores` shares its path with `bdl_box_scores` and runs in
    // a later workflow: after the others, so it doesn't take their faults.
    let (later, first): (Vec<String>, Vec<String>) = names
        .into_iter()
        .partition(|name| name == "bdl_live_box_scores");
    let runs = first.iter().map(|name| run_scraper(config, name, &client));
    let results = futures::future::join_all(runs).await;
    let mut all: BTreeMap<String, (Outcome, usize)> = first.into_iter().zip(results).collect();
    for name in later {
        let result = run_scraper(config, &name, &client).await;
        all.insert(name, result);
    }
    all
}

#[tokio::test]
async fn without_faults_every_demo_scraper_succeeds() {
    let sim = start().await;
    let config = parse(&sim.base_url());
    for (name, result) in run_all(&config).await {
        assert_eq!(result, (Outcome::Success, 1), "{name}");
    }
    // The sources' auth reached the upstream.
    let requests = sim.requests();
    let bdl = requests.iter().find(|r| r.path == "/bdl/v1/games").unwrap();
    assert_eq!(bdl.header("authorization"), Some("demo-key"));
    assert_eq!(bdl.header("user-agent"), Some("rebound-demo"));
    let odds = requests
        .iter()
        .find(|r| r.path == "/odds/v4/sports/basketball_nba/events")
        .unwrap();
    assert!(odds.query.as_deref().unwrap().contains("apiKey=demo-key"));
}

#[tokio::test]
async fn with_demo_faults_each_scraper_shows_its_documented_outcome() {
    let sim = start().await;
    sim.script_demo_faults();
    let config = parse(&sim.base_url());
    let results = run_all(&config).await;
    let expected = [
        ("nbac_schedule", Outcome::Success, 1),
        (
            "nbac_injury_report",
            Outcome::Failed("timeout"),
            DEMO_MAX_ATTEMPTS,
        ),
        ("bdl_games", Outcome::NoData, 1),
        ("oddsa_events", Outcome::Success, 2),
        ("oddsa_player_props", Outcome::Success, 1),
        ("bdl_box_scores", Outcome::Success, 3),
        ("nbac_play_by_play", Outcome::Failed("client"), 1),
        ("bdb_play_by_play", Outcome::NoData, 1),
        ("bdl_live_box_scores", Outcome::Success, 1),
    ];
    assert_eq!(results.len(), expected.len());
    for (name, outcome, attempts) in expected {
        assert_eq!(results[name], (outcome, attempts), "{name}");
    }
}
