//! The config a simulation runs: the user's (or the reference) file,
//! checked as written, then changed as TOML (not as a `Plan`) so the
//! changed file is loaded by the same loader with the same checks:
//!
//! - every source the simulated upstream serves (`/ref/<source>`) points
//!   at it; any other source points at a closed port, and each of its
//!   scrapers is named in a warning (its calls are connect failures);
//! - proxies point at the simulated upstream, which stands in for a
//!   forward proxy, for `proxy = "env"` (the environment's proxy) too;
//! - every alert sink becomes a `webhook` sink on the loopback receiver,
//!   so the report can count what was sent; hand-off webhook sinks post
//!   there too, other hand-off sinks are dropped (with a warning);
//! - history goes to `history.db` and payloads to `raw/` in the run's
//!   folder;
//! - with [`Policy::Original`], the original pipeline's policies replace
//!   Rebound's (`docs/simulate.md` lists each change).
//!
//! `${VAR}`s get placeholder values: a simulation never needs, reads or
//! sends a real secret. A placeholder is any text, shaped as a URL, which
//! serves keys, tokens, headers and URLs; a field the loader reads as a
//! typed value (a time zone, a duration, a NATS URL) refuses it. Only the
//! variables of the fields that refused it are then read from the caller's
//! environment, as `check` and `serve` read them ([`Environment`]).

use crate::scenario::Names;
use rebound_config::ConfigError;
use rebound_domain::plan::Plan;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The alert sink a simulation adds to a config that has none, so that
/// the alerts it opens are counted.
pub(crate) const MEASURING_SINK: &str = "simulate";

/// The sources the simulated upstream serves under `/ref/<source>`.
pub const SIMULATED_SOURCES: [&str; 9] = [
    "nba_cdn",
    "nba_stats",
    "nba_official",
    "nba_statsdmz",
    "nba_referees",
    "balldontlie",
    "odds_api",
    "bettingpros",
    "espn",
];

/// The reference pipeline, as shipped in `examples/nba/`.
pub const REFERENCE_CONFIG: &str = include_str!("../../../examples/nba/rebound.toml");
/// Its injury-report transform, written beside the config it runs with.
pub const REFERENCE_INJURY_SCRIPT: &str =
    include_str!("../../../examples/nba/scripts/injury_report.py");

/// Which policies the simulated pipeline runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// The config as written.
    #[default]
    AsWritten,
    /// The original pipeline's: 3 attempts at 2 s / 4 s, no jitter,
    /// Retry-After ignored (no wait, and no source-wide pause), no
    /// breaker, no retry budget, no late-data deadlines, one alert per
    /// failure.
    Original,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::AsWritten => "as written",
            Policy::Original => "original",
        }
    }
}

/// A config ready to simulate.
#[derive(Debug)]
pub struct Prepared {
    pub plan: Plan,
    pub names: Names,
    /// One line per scraper whose source the upstream does not serve.
    pub warnings: Vec<String>,
    /// The changed file, as loaded (kept in the run's folder).
    pub text: String,
}

/// Where a `${VAR}` the simulation cannot stand in for is read: the
/// caller's environment (the CLI passes its own reader; this crate reads
/// none). A plain function, so [`crate::Options`] stays `Debug` without
/// ever holding a value.
pub type Environment = fn(&str) -> Option<String>;

/// Why a config cannot be simulated.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A `${VAR}` in a typed field, read from the environment, and unset
    /// or wrong there.
    #[error(
        "{error}\n(a simulation stands in for a ${{VAR}} in keys, tokens, headers and URLs, \
         but a field read as a typed value cannot take a stand-in: {} {} read from the \
         environment, as `rebound check` reads it)",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    )]
    TypedVariable {
        names: Vec<String>,
        error: ConfigError,
    },
    /// The simulation's own change of the file was refused by the loader:
    /// a defect of the simulator, said plainly.
    #[error("the simulation could not adapt {}: {reason}", path.display())]
    Adapt { path: PathBuf, reason: String },
}

/// Where the simulation's parts listen, and where its files go.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `http://127.0.0.1:PORT` of the simulated upstream.
    pub upstream: String,
    /// `http://127.0.0.1:PORT` of the alert receiver.
    pub receiver: String,
    /// A loopback address where nothing listens (sources with no route).
    pub closed: String,
    /// The run's folder (database and raw payloads).
    pub dir: PathBuf,
}

/// Placeholder `${VAR}` values: never a real secret, long enough for the
/// loader's secret rules, and shaped as a URL (with the name as its user)
/// so a variable that stands for a webhook or proxy URL passes the check
/// as written; the simulation replaces those URLs anyway.
///
/// A transform's inherited variables (`PATH`, `HOME`, `LANG`, none of them
/// a secret) are the caller's `passed` (the CLI's own, as `serve` passes
/// them), so the command is found where the user's shell finds it. A
/// variable not passed stays unset: without `PATH` the system's default
/// search path (`/bin:/usr/bin`) finds the command.
pub fn placeholder_env(name: &str, passed: &[(String, String)]) -> Option<String> {
    if rebound_domain::document::Transform::PASSED_ENV.contains(&name) {
        return passed
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
    }
    Some(format!(
        "http://simulated-{}@127.0.0.1:9",
        name.to_ascii_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    ))
}

fn table<'a>(root: &'a mut Table, key: &str) -> &'a mut Table {
    let entry = root
        .entry(key.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    entry.as_table_mut().expect("made a table above")
}

/// Checks `text` (from `path`) as written, then loads the changed copy.
pub fn prepare(
    text: &str,
    path: &Path,
    at: &Endpoints,
    policy: Policy,
    transform_env: &[(String, String)],
    environment: Option<Environment>,
) -> Result<Prepared, PrepareError> {
    let read = read_from_environment(text, path, transform_env, environment)?;
    let placeholder_env = |name: &str| {
        if read.contains(name) {
            environment.and_then(|env| env(name))
        } else {
            placeholder_env(name, transform_env)
        }
    };
    let adapt = |reason: String| PrepareError::Adapt {
        path: path.to_path_buf(),
        reason,
    };
    let mut root: Table = toml::from_str(text).map_err(|e| adapt(e.to_string()))?;
    let mut names = Names::default();
    let mut warnings = Vec::new();

    let pipeline = table(&mut root, "pipeline");
    let database = at.dir.join("history.db");
    let raw = at.dir.join("raw");
    pipeline.insert(
        "database".into(),
        Value::String(format!("sqlite://{}", database.display())),
    );
    pipeline.insert(
        "raw_store".into(),
        Value::String(format!("file://{}", raw.display())),
    );

    // Each scraper's name and source, for the warnings below; its source,
    // path, literal query and dataset for checking the scenario.
    let mut scrapers: Vec<(String, String)> = Vec::new();
    for (name, scraper) in root
        .get("scrapers")
        .and_then(Value::as_table)
        .into_iter()
        .flatten()
    {
        let field = |k: &str| {
            scraper
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let source = field("source");
        names
            .scrapers
            .insert(name.clone(), (source.clone(), field("path")));
        // A query value with a `{param}` or `${VAR}` differs per request
        // or per machine; only literal ones tell a scraper's requests
        // apart.
        let literal: Vec<(String, String)> = scraper
            .get("query")
            .and_then(Value::as_table)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .filter(|(_, v)| !v.contains('{'))
            .collect();
        names.queries.insert(name.clone(), literal);
        let format = field("format");
        if !format.is_empty() && format != "json" {
            names.documents.insert(name.clone(), format);
        }
        if let Some(dataset) = scraper.get("dataset").and_then(Value::as_str) {
            names.datasets.insert(dataset.to_string());
        }
        scrapers.push((name.clone(), source));
    }
    if let Some(datasets) = root.get("datasets").and_then(Value::as_table) {
        names.datasets.extend(datasets.keys().cloned());
    }

    anchor_commands(&mut root, path);

    // Parsed once, for every source's reference base URL below.
    let reference: Option<Table> = toml::from_str(REFERENCE_CONFIG).ok();
    let sources = table(&mut root, "sources");
    for (name, source) in sources.iter_mut() {
        names.sources.insert(name.clone());
        let Some(source) = source.as_table_mut() else {
            continue;
        };
        let simulated = SIMULATED_SOURCES.contains(&name.as_str());
        // What the base URL adds to its host (or, for a reference source,
        // to the reference base URL) is kept: a `{param}` there is filled
        // per call, and dropping it left a `for_each.param` the loader
        // found unused.
        let written = source
            .get("base_url")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let base = if simulated {
            let reference_url = reference_base(reference.as_ref(), name);
            let rest = reference_url
                .as_deref()
                .and_then(|reference| written.strip_prefix(reference.trim_end_matches('/')))
                .filter(|rest| rest.is_empty() || rest.starts_with('/'));
            // The stand-in is chosen by the source's name: a base URL that
            // is not the reference one (another host, another version)
            // was answered as if it were, and the report read healthy
            // for calls a real run would make somewhere else.
            if let Some(reference) = reference_url.as_deref()
                && rest.is_none()
                && !written.contains("${")
            {
                warnings.push(format!(
                    "sources.{name}.base_url is {}, not the reference pipeline's {} (or a path under it): the simulated upstream answers its calls as the reference source's, which says nothing of what {} would answer",
                    shown_url(written),
                    shown_url(reference),
                    shown_url(written),
                ));
            }
            format!("{}/ref/{name}{}", at.upstream, rest.unwrap_or_default())
        } else {
            names.unrouted.insert(name.clone());
            for (scraper, of) in &scrapers {
                if of == name {
                    warnings.push(format!(
                        "no simulated route for scrapers.{scraper}: its calls are counted as connect failures"
                    ));
                }
            }
            format!("{}{}", at.closed, url_path(written))
        };
        source.insert("base_url".into(), Value::String(base));
        if let Some(list) = source.get("proxies").and_then(Value::as_array) {
            let count = list.len();
            let proxies = (1..=count)
                .map(|n| Value::String(proxy_url(&at.upstream, n)))
                .collect();
            source.insert("proxies".into(), Value::Array(proxies));
        }
        // `"env"` too: it says the calls go through a proxy (the
        // environment's), and a route that answers only through one
        // would refuse every call without the stand-in.
        if source.contains_key("proxy") {
            source.insert("proxy".into(), Value::String(proxy_url(&at.upstream, 1)));
        }
    }

    // A config without alert sinks still opens incidents; with nothing
    // to send them to, the report said "0 alerts" and missed every
    // first-alert target. A measuring webhook sink receives what one sink
    // would have, and the report says the config has none.
    let has_sinks = root
        .get("alerts")
        .and_then(|a| a.get("sinks"))
        .and_then(Value::as_table)
        .is_some_and(|sinks| !sinks.is_empty());
    if !has_sinks {
        let alerts = root
            .entry("alerts")
            .or_insert_with(|| Value::Table(Table::new()));
        if let Some(alerts) = alerts.as_table_mut() {
            let mut sink = Table::new();
            sink.insert("kind".into(), Value::String("webhook".into()));
            let mut sinks = Table::new();
            sinks.insert(MEASURING_SINK.into(), Value::Table(sink));
            alerts.insert("sinks".into(), Value::Table(sinks));
            warnings.push(format!(
                "the config has no [alerts.sinks]: the report counts the alerts one webhook sink would have received (alerts.sinks.{MEASURING_SINK}, added for the simulation)"
            ));
        }
    }
    if let Some(sinks) = root
        .get_mut("alerts")
        .and_then(|a| a.get_mut("sinks"))
        .and_then(Value::as_table_mut)
    {
        for (name, sink) in sinks.iter_mut() {
            if let Some(sink) = sink.as_table_mut() {
                sink.insert("kind".into(), Value::String("webhook".into()));
                sink.insert(
                    "url".into(),
                    Value::String(format!("{}/alerts/{name}", at.receiver)),
                );
            }
        }
    }

    // Hand-off: webhook sinks post to the receiver too (never to a real
    // consumer); other kinds (NATS) need a server the simulation does not
    // run, so their events stay published to the outbox only. Nobody
    // acknowledges here, so acknowledgements are not required.
    if let Some(handoff) = root.get_mut("handoff").and_then(Value::as_table_mut) {
        handoff.remove("ack_required");
        if let Some(sinks) = handoff.get_mut("sinks").and_then(Value::as_table_mut) {
            let names: Vec<String> = sinks.keys().cloned().collect();
            for name in names {
                let webhook = sinks
                    .get(&name)
                    .and_then(|s| s.get("kind"))
                    .and_then(Value::as_str)
                    == Some("webhook");
                if !webhook {
                    sinks.remove(&name);
                    warnings.push(format!(
                        "handoff.sinks.{name} is not simulated (no server for its kind): its events stay in the outbox"
                    ));
                    continue;
                }
                if let Some(sink) = sinks.get_mut(&name).and_then(Value::as_table_mut) {
                    sink.insert(
                        "url".into(),
                        Value::String(format!("{}/handoff/{name}", at.receiver)),
                    );
                }
            }
        }
    }

    if policy == Policy::Original {
        original_policies(&mut root);
    }

    let changed = toml::to_string(&root).map_err(|e| adapt(e.to_string()))?;
    let plan = rebound_config::load_str(&changed, path, &placeholder_env)
        .map_err(|e| adapt(adapt_reason(&e)))?;
    warnings.extend(never_called(&plan));
    warnings.extend(unanswered_methods(&plan, &names.unrouted));
    // A scraper without `dataset` produces the dataset of its own name:
    // read from the TOML alone, a `stale_alert_for` naming it was refused
    // as unknown ("the config has none").
    names
        .datasets
        .extend(plan.scrapers.values().map(|s| s.dataset.clone()));
    // What a `dataset_stale` alert needs: the condition on, and a limit.
    for dataset in &names.datasets {
        let limits = plan
            .datasets
            .get(dataset)
            .is_some_and(|p| p.fresh_warn.is_some() || p.fresh_error.is_some());
        let why = if !plan.alerts.conditions.dataset_stale {
            "the config turns the condition off ([alerts.conditions] dataset_stale = false)"
                .to_string()
        } else if !limits {
            format!(
                "it has no fresh_warn or fresh_error ([datasets.\"{dataset}\"]), so it is never stale"
            )
        } else {
            continue;
        };
        names.never_stale.insert(dataset.clone(), why);
    }
    Ok(Prepared {
        plan,
        names,
        warnings,
        text: changed,
    })
}

/// A warning per scraper that nothing the simulation runs calls: it is in
/// no scheduled workflow (only in workflows run by hand, or in none) and
/// refreshes no calendar. The simulation runs what `serve` would, so such
/// a scraper is never called; the report said nothing of it, and a fault
/// on it was accepted and measured nothing, without a word why.
fn never_called(plan: &Plan) -> Vec<String> {
    let mut called: BTreeSet<&str> = plan
        .workflows
        .values()
        .filter(|w| w.schedule.is_some())
        .flat_map(|w| w.scraper_names())
        .collect();
    called.extend(
        plan.calendars
            .values()
            .filter_map(|c| c.refresh.as_ref())
            .map(|r| r.scraper.as_str()),
    );
    plan.scrapers
        .keys()
        .filter(|name| !called.contains(name.as_str()))
        .map(|name| {
            format!(
                "scrapers.{name} is in no scheduled workflow and refreshes no calendar: the simulation runs what `serve` would, so it is never called and the report says nothing of it"
            )
        })
        .collect()
}

/// A warning per scraper of a simulated source that sends a method other
/// than GET or HEAD: the simulated upstream serves the reference routes to
/// GET (and HEAD) only, so every call got 405, and the report read as the
/// policy's doing (a 404 for a path it does not serve is named, after the
/// run; a 405 is known before it).
fn unanswered_methods(plan: &Plan, unrouted: &BTreeSet<String>) -> Vec<String> {
    plan.scrapers
        .iter()
        .filter(|(_, s)| !unrouted.contains(&s.source))
        .filter(|(_, s)| s.method != "GET" && s.method != "HEAD")
        .map(|(name, s)| {
            format!(
                "scrapers.{name} sends {}, and the simulated upstream answers GET only: every call gets 405, and the report says nothing of this scraper's policies",
                s.method
            )
        })
        .collect()
}

/// Checks `text` as written (its errors name the user's own lines) and
/// returns the variables to read from `environment`: those of every field
/// that refused its placeholder, found from the loader's own errors, so no
/// list of typed fields is kept here. Each round moves at least one
/// variable from placeholder to environment, so the rounds end.
fn read_from_environment(
    text: &str,
    path: &Path,
    transform_env: &[(String, String)],
    environment: Option<Environment>,
) -> Result<BTreeSet<String>, PrepareError> {
    let mut read = BTreeSet::new();
    loop {
        let env = |name: &str| {
            if read.contains(name) {
                environment.and_then(|env| env(name))
            } else {
                placeholder_env(name, transform_env)
            }
        };
        let Err(error) = rebound_config::load_str(text, path, &env) else {
            return Ok(read);
        };
        let (already, refused): (BTreeSet<String>, BTreeSet<String>) = error
            .problems()
            .iter()
            .flat_map(|p| variables_at(text, p.line, p.column))
            .partition(|name| read.contains(name));
        if refused.is_empty() {
            return Err(if already.is_empty() {
                PrepareError::Config(error)
            } else {
                PrepareError::TypedVariable {
                    names: already.into_iter().collect(),
                    error,
                }
            });
        }
        read.extend(refused);
    }
}

/// The `${VAR}` names of the string value that starts at `line`:`column`
/// (1-based, in characters, as the loader's problems give them): up to
/// its closing quote, or the end of the line for one that does not close
/// there (a multi-line string, whose first line is all that is looked at).
fn variables_at(text: &str, line: usize, column: usize) -> Vec<String> {
    let Some(row) = text.lines().nth(line.saturating_sub(1)) else {
        return Vec::new();
    };
    let value: String = row.chars().skip(column.saturating_sub(1)).collect();
    let value = match value.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            // A multi-line string opens with three quotes and closes with
            // three; read as one-quote strings its body was empty, so its
            // variables were never read from the environment.
            let three = quote.to_string().repeat(3);
            let triple = value.starts_with(&three);
            let body = &value[if triple { 3 } else { 1 }..];
            let mut end = body.len();
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                if quote == '"' && c == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if c == quote && !escaped && (!triple || body[i..].starts_with(&three)) {
                    end = i;
                    break;
                }
                escaped = false;
            }
            body[..end].to_string()
        }
        _ => return Vec::new(),
    };
    let mut names = Vec::new();
    let mut rest = value.as_str();
    while let Some(at) = rest.find("${") {
        // `$${` is a literal `${`, not a variable.
        let literal = at > 0 && rest[..at].ends_with('$');
        let after = &rest[at + 2..];
        let Some(close) = after.find('}') else { break };
        if !literal {
            names.push(after[..close].to_string());
        }
        rest = &after[close + 1..];
    }
    names
}

/// Makes each transform's relative program and script paths absolute,
/// from the folder of the config they were written in (as the loader
/// reads them): the changed copy is also kept (`--keep`) in another
/// folder, where `check` and `serve` would look for them in vain. Only
/// paths that exist there are changed; the loader's own checks stay with
/// the rest.
fn anchor_commands(root: &mut Table, path: &Path) {
    let folder = path.parent().unwrap_or(Path::new(""));
    let Some(scrapers) = root.get_mut("scrapers").and_then(Value::as_table_mut) else {
        return;
    };
    for (_, scraper) in scrapers.iter_mut() {
        let Some(command) = scraper
            .get_mut("transform")
            .and_then(|t| t.get_mut("command"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for part in command.iter_mut() {
            let Some(text) = part.as_str() else { continue };
            let relative = text.contains('/')
                && !text.starts_with('-')
                && !text.contains('=')
                && !text.contains("://")
                && Path::new(text).is_relative();
            if !relative {
                continue;
            }
            let file = folder.join(text);
            if file.exists()
                && let Ok(absolute) = std::path::absolute(&file)
            {
                *part = Value::String(absolute.display().to_string());
            }
        }
    }
}

/// The reference pipeline's (`reference`, parsed) base URL of `source`.
fn reference_base(reference: Option<&Table>, source: &str) -> Option<String> {
    reference?
        .get("sources")?
        .get(source)?
        .get("base_url")?
        .as_str()
        .map(str::to_string)
}

/// `url` as a warning may show it: without credentials or a query (where
/// keys go), and as written when it does not parse.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "a URL that does not parse".to_string(),
    }
}

/// The path of `url` (after `scheme://authority`), without a trailing
/// `/`; empty when it has none.
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("", |at| &after_scheme[at..])
        .trim_end_matches('/')
}

/// The loader's refusal of the adapted copy, without its file:line:col:
/// those would point into the copy, not the user's file.
fn adapt_reason(error: &ConfigError) -> String {
    match error.problems() {
        [] => error.to_string(),
        problems => problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The upstream standing in for proxy `n` (credentials make each URL
/// distinct, as real proxies' are, and keep it from matching base URLs).
fn proxy_url(upstream: &str, n: usize) -> String {
    let host = upstream.trim_start_matches("http://");
    format!("http://sim:simulated-proxy-{n}@{host}")
}

/// The original pipeline's policies, on the TOML.
fn original_policies(root: &mut Table) {
    let retry = table(root, "retry");
    retry.clear();
    retry.insert("max_attempts".into(), Value::Integer(3));
    retry.insert("initial_delay".into(), Value::String("2s".into()));
    retry.insert("multiplier".into(), Value::Float(2.0));
    retry.insert("max_delay".into(), Value::String("4s".into()));
    retry.insert("jitter".into(), Value::String("none".into()));
    retry.insert("respect_retry_after".into(), Value::Boolean(false));
    let sources = table(root, "sources");
    for (_, source) in sources.iter_mut() {
        if let Some(source) = source.as_table_mut() {
            source.remove("retry");
            // Retry-After ignored means for the whole source too: the
            // original hammered on through a 429 storm, where Rebound's
            // pause would hold every other call back.
            source.insert("pause_on_rate_limit".into(), Value::Boolean(false));
            let mut breaker = Table::new();
            breaker.insert("enabled".into(), Value::Boolean(false));
            source.insert("breaker".into(), Value::Table(breaker));
            // No budget: the largest allowance the loader takes, more
            // retries than a window of this pipeline ever holds.
            let mut budget = Table::new();
            budget.insert("min_retries".into(), Value::Integer(100_000));
            budget.insert("ratio".into(), Value::Float(100.0));
            source.insert("retry_budget".into(), Value::Table(budget));
        }
    }
    let scrapers = table(root, "scrapers");
    for (_, scraper) in scrapers.iter_mut() {
        if let Some(scraper) = scraper.as_table_mut() {
            scraper.remove("retry");
            scraper.remove("expected_within");
            scraper.remove("expected_by");
            scraper.remove("recheck");
        }
    }
    // One alert per failure: every failed run, no reminders held back.
    let alerts = table(root, "alerts");
    alerts.insert("renotify".into(), Value::String("1m".into()));
    alerts.insert("max_per_incident_per_hour".into(), Value::Integer(60));
    alerts.insert("max_per_hour".into(), Value::Integer(1000));
    let conditions = table(alerts, "conditions");
    let mut failed = Table::new();
    failed.insert("after".into(), Value::Integer(1));
    conditions.insert("workflow_failed".into(), Value::Table(failed));
}

/// The reference config and its script, written into `dir` (the config's
/// relative script path resolves there); returns the config's path.
pub fn write_reference(dir: &Path) -> std::io::Result<PathBuf> {
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts)?;
    std::fs::write(scripts.join("injury_report.py"), REFERENCE_INJURY_SCRIPT)?;
    let path = dir.join("rebound.toml");
    std::fs::write(&path, REFERENCE_CONFIG)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback endpoints nothing listens on, the history under `dir`.
    fn endpoints(dir: &Path) -> Endpoints {
        Endpoints {
            upstream: "http://127.0.0.1:7".into(),
            receiver: "http://127.0.0.1:8".into(),
            closed: "http://127.0.0.1:9".into(),
            dir: dir.to_path_buf(),
        }
    }

    /// Before: the base URL was replaced whole, so a `{param}` in it was
    /// lost and the loader refused the adapted copy ("for_each.param
    /// \"team_id\" is not used"), at a line of the copy.
    #[test]
    fn a_base_url_keeps_what_it_adds_to_its_host() {
        let dir = tempfile::tempdir().unwrap();
        let at = endpoints(dir.path());
        let text = r#"
[pipeline]
name = "mini"
timezone = "America/New_York"

[sources.espn]
base_url = "https://site.api.espn.com/apis/site/v2/sports/basketball/nba/teams/{team_id}"

[sources.own_team]
base_url = "https://own.example.com/v2/teams/{team_id}/"

[sources.nba_cdn]
base_url = "https://cdn.nba.com/static/json"

[scrapers.espn_teams]
source = "nba_cdn"
path = "/x"
records = "/teams"
dataset = "espn/teams"

[scrapers.espn_roster]
source = "espn"
path = "/roster"
records = "/athletes"
for_each = { dataset = "espn/teams", items = "$.teams[*]", value = "id", param = "team_id" }

[scrapers.own_roster]
source = "own_team"
path = "/roster"
records = "/athletes"
for_each = { dataset = "espn/teams", items = "$.teams[*]", value = "id", param = "team_id" }

[workflows.w]
steps = [ { scrapers = ["espn_teams"] }, { scrapers = ["espn_roster", "own_roster"], after = ["espn_teams"] } ]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
        let path = dir.path().join("rebound.toml");
        let prepared = prepare(text, &path, &at, Policy::AsWritten, &[], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let team = std::collections::BTreeMap::from([("team_id".to_string(), "13".to_string())]);
        let base = |source: &str| {
            prepared.plan.sources[source]
                .base_url
                .value
                .render(&team)
                .unwrap()
        };
        assert_eq!(base("espn"), "http://127.0.0.1:7/ref/espn/teams/13");
        assert_eq!(base("own_team"), "http://127.0.0.1:9/v2/teams/13");
        assert_eq!(base("nba_cdn"), "http://127.0.0.1:7/ref/nba_cdn");
        // The reference URLs, and paths under them: no warning.
        assert!(
            !prepared.warnings.iter().any(|w| w.contains("base_url")),
            "{:?}",
            prepared.warnings
        );
        // Before: another host under a reference source's name was
        // answered as the reference source, and nothing said so.
        let other = text.replace(
            "https://cdn.nba.com/static/json",
            "https://user:s3cret@example.com/whatever",
        );
        let prepared = prepare(&other, &path, &at, Policy::AsWritten, &[], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let warning = prepared
            .warnings
            .iter()
            .find(|w| w.contains("base_url"))
            .unwrap_or_else(|| panic!("no warning in {:?}", prepared.warnings));
        assert!(
            warning.starts_with("sources.nba_cdn.base_url is https://example.com/whatever, not the reference pipeline's https://cdn.nba.com/static/json (or a path under it)"),
            "{warning}"
        );
        assert!(!warning.contains("s3cret"), "{warning}");
    }

    /// Before: a scraper only a workflow run by hand (or none) calls was
    /// never called by the simulation, and nothing said so.
    #[test]
    fn a_scraper_nothing_scheduled_calls_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let at = endpoints(dir.path());
        let text = r#"
[pipeline]
name = "mini"
timezone = "America/New_York"

[sources.nba_cdn]
base_url = "https://cdn.nba.com/static/json"

[scrapers.scheduled]
source = "nba_cdn"
path = "/a"

[scrapers.by_hand]
source = "nba_cdn"
path = "/b"

[scrapers.nowhere]
source = "nba_cdn"
path = "/c"

[workflows.daily]
scrapers = ["scheduled"]
schedule = { kind = "window", start = "06:00", end = "10:00" }

[workflows.manual]
scrapers = ["by_hand"]
"#;
        let path = dir.path().join("rebound.toml");
        let prepared = prepare(text, &path, &at, Policy::AsWritten, &[], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let never: Vec<&String> = prepared
            .warnings
            .iter()
            .filter(|w| w.contains("never called"))
            .collect();
        assert_eq!(never.len(), 2, "{:?}", prepared.warnings);
        assert!(never[0].starts_with("scrapers.by_hand is in no scheduled workflow"));
        assert!(never[1].starts_with("scrapers.nowhere is in no scheduled workflow"));
        // The reference pipeline calls every scraper it has.
        let reference = write_reference(dir.path()).unwrap();
        let prepared = prepare(
            REFERENCE_CONFIG,
            &reference,
            &at,
            Policy::AsWritten,
            &[],
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !prepared.warnings.iter().any(|w| w.contains("never called")),
            "{:?}",
            prepared.warnings
        );
    }

    /// Before: a scraper's default dataset (its name) was no dataset a
    /// scenario could name, and nothing told a dataset that can never be
    /// stale from one that can.
    #[test]
    fn datasets_are_the_plans_with_those_that_can_go_stale() {
        let dir = tempfile::tempdir().unwrap();
        let at = endpoints(dir.path());
        let text = r#"
[pipeline]
name = "mini"
timezone = "America/New_York"

[sources.nba_cdn]
base_url = "https://cdn.nba.com/static/json"

[scrapers.plain]
source = "nba_cdn"
path = "/a"

[scrapers.named]
source = "nba_cdn"
path = "/b"
dataset = "cdn/named"

[datasets."cdn/named"]
fresh_warn = "1h"

[workflows.daily]
scrapers = ["plain", "named"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
        let path = dir.path().join("rebound.toml");
        let prepared = prepare(text, &path, &at, Policy::AsWritten, &[], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let datasets: Vec<&str> = prepared.names.datasets.iter().map(String::as_str).collect();
        assert_eq!(datasets, ["cdn/named", "plain"]);
        let never: Vec<&str> = prepared
            .names
            .never_stale
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(never, ["plain"]);
        let off = format!("{text}\n[alerts.conditions]\ndataset_stale = false\n");
        let prepared = prepare(&off, &path, &at, Policy::AsWritten, &[], None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(prepared.names.never_stale.len(), 2);
        assert!(prepared.names.never_stale["cdn/named"].contains("dataset_stale = false"));
    }

    /// Before: a POST scraper of a simulated source got 405 on every call,
    /// and nothing said the simulation could not answer it.
    #[test]
    fn a_method_the_upstream_does_not_answer_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let at = endpoints(dir.path());
        let text = r#"
[pipeline]
name = "mini"
timezone = "America/New_York"

[sources.balldontlie]
base_url = "https://api.balldontlie.io/v1"

[sources.own]
base_url = "https://own.example.com"

[scrapers.get]
source = "balldontlie"
path = "/standings"

[scrapers.post]
source = "balldontlie"
path = "/standings"
method = "post"

[scrapers.own_post]
source = "own"
path = "/x"
method = "POST"

[workflows.daily]
scrapers = ["get", "post", "own_post"]
schedule = { kind = "window", start = "06:00", end = "10:00" }
"#;
        let path = dir.path().join("rebound.toml");
        let prepared = prepare(text, &path, &at, Policy::AsWritten, &[], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let methods: Vec<&String> = prepared
            .warnings
            .iter()
            .filter(|w| w.contains("405"))
            .collect();
        assert_eq!(methods.len(), 1, "{:?}", prepared.warnings);
        assert!(
            methods[0].starts_with(
                "scrapers.post sends POST, and the simulated upstream answers GET only"
            ),
            "{}",
            methods[0]
        );
    }

    #[test]
    fn the_variables_of_the_string_at_a_position_are_found() {
        let text = "a = 1\ntz = \"${ZONE}\" # ${NOT_THIS}\n\
                    t = { x = '${X}', y = \"at \\\"${Y}\\\" $${LITERAL} ${Z}\" }\n";
        assert_eq!(variables_at(text, 2, 6), ["ZONE"]);
        assert_eq!(variables_at(text, 3, 11), ["X"]);
        assert_eq!(variables_at(text, 3, 23), ["Y", "Z"]);
        // Not at a string, or past the text: nothing.
        assert!(variables_at(text, 1, 5).is_empty());
        assert!(variables_at(text, 9, 1).is_empty());
        assert!(variables_at(text, 2, 99).is_empty());
        // Multi-line strings (before: an empty body, no variables).
        let text = "tz = \"\"\"${ZONE}\"\"\"\nt = '''${A} \"${B}\"'''\nu = \"\"\"${C}\n${NEXT_LINE}\"\"\"\n";
        assert_eq!(variables_at(text, 1, 6), ["ZONE"]);
        assert_eq!(variables_at(text, 2, 5), ["A", "B"]);
        assert_eq!(variables_at(text, 3, 5), ["C"]);
    }

    /// The reference pipeline's transform runs with the `PATH` the CLI
    /// passes (it once had none, and `python3` came from `/bin`, whatever
    /// the user's `PATH` said).
    #[test]
    fn a_transform_inherits_this_process_path() {
        let dir = tempfile::tempdir().unwrap();
        let at = Endpoints {
            upstream: "http://127.0.0.1:9".into(),
            receiver: "http://127.0.0.1:9".into(),
            closed: "http://127.0.0.1:9".into(),
            dir: dir.path().to_path_buf(),
        };
        let path = write_reference(dir.path()).unwrap();
        let wanted = "/opt/users-python/bin:/usr/bin".to_string();
        let passed = [("PATH".to_string(), wanted.clone())];
        let prepared = prepare(
            REFERENCE_CONFIG,
            &path,
            &at,
            Policy::AsWritten,
            &passed,
            None,
        )
        .unwrap();
        let transform = prepared.plan.scrapers["nbac_injury_report_v2"]
            .transform
            .clone()
            .unwrap();
        assert!(
            transform
                .env
                .iter()
                .any(|(k, v)| k == "PATH" && *v == wanted),
            "{:?}",
            transform.env
        );
        assert!(transform.keep_running);
    }
}
