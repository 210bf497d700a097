//! Scenario files: TOML → [`RawScenario`] (serde, unknown keys refused) →
//! [`Scenario`] (dates, durations and time windows checked), then checked
//! against the plan it will run with ([`Scenario::check_against`]).
//!
//! Every problem is a [`rebound_config::Problem`], so a scenario error reads
//! like a config error: `file:line:col: key: message`. Serde errors carry
//! their own span; later checks find the key's span in the parsed document
//! (`locate`), because keeping `Spanned<T>` on every field would also put
//! it in the JSON Schema.

use chrono::{Duration as Span, NaiveDate, NaiveDateTime, NaiveTime};
use rebound_config::Problem;
use rebound_domain::duration::parse_duration;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::de::{DeTable, DeValue};

/// Longest simulation a scenario may ask for (a season and then some).
pub const MAX_DAYS: u32 = 400;

/// A scenario file as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Rebound simulation scenario")]
pub struct RawScenario {
    /// What the scenario reproduces, in a sentence.
    pub description: Option<String>,
    /// First simulated date, in the pipeline's zone ("YYYY-MM-DD").
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub from: String,
    /// How many days to simulate (1 to 400).
    #[schemars(range(min = 1, max = 400))]
    pub days: i64,
    /// Seed of the random draws (`flaky` faults). Default: 1.
    pub seed: Option<u64>,
    /// The faults, each on a source (or one route or scraper of it) for a
    /// period.
    #[serde(default)]
    pub faults: Vec<RawFault>,
    /// What the report must show; each is checked and reported met or
    /// missed.
    pub targets: Option<RawTargets>,
}

/// `[targets]`: the reliability goals the scenario measures.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTargets {
    /// Failed runs / runs, at most (0 to 1).
    pub failure_rate_max: Option<f64>,
    /// Failed or partial runs with a message, at least (0 to 1).
    pub error_coverage_min: Option<f64>,
    /// First alert opened within this of the first fault's start, e.g. "1h".
    pub first_alert_within: Option<String>,
    /// Attempts per call on the faulted sources during the faults, at most.
    pub fault_attempts_per_call_max: Option<f64>,
    /// Exactly this many recovery notifications.
    #[schemars(range(min = 0))]
    pub recovered_alerts: Option<i64>,
    /// Failed or partial runs, at most.
    #[schemars(range(min = 0))]
    pub failed_runs_max: Option<i64>,
    /// Alerts opened or reminded before a deadline, at most: every alert
    /// but a `completeness_shortfall`, which opens only once an entity's
    /// deadline has passed.
    #[schemars(range(min = 0))]
    pub alerts_before_deadline_max: Option<i64>,
    /// A `dataset_stale` alert must open for this dataset.
    pub stale_alert_for: Option<String>,
    /// Entities collected / expected, at least (0 to 1).
    pub completeness_min: Option<f64>,
    /// No (workflow, target date, slot) may run twice, and no daily slot
    /// (`at`, `window`) may go without a decision.
    #[serde(default)]
    pub slots_once: bool,
    /// Every run's target date is its local date or the day before.
    #[serde(default)]
    pub dates_correct: bool,
}

/// Checked targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    pub failure_rate_max: Option<f64>,
    pub error_coverage_min: Option<f64>,
    pub first_alert_within: Option<Duration>,
    pub fault_attempts_per_call_max: Option<f64>,
    pub recovered_alerts: Option<i64>,
    pub failed_runs_max: Option<i64>,
    pub alerts_before_deadline_max: Option<i64>,
    pub stale_alert_for: Option<String>,
    pub completeness_min: Option<f64>,
    pub slots_once: bool,
    pub dates_correct: bool,
}

/// One `[[faults]]` entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// What goes wrong.
    #[schemars(extend("enum" = ["status", "down", "late", "empty", "slow", "rate_limit", "changed_shape", "flaky"]))]
    pub kind: String,
    /// The config's source (`[sources.NAME]`) the fault is on.
    pub source: Option<String>,
    /// Only this scraper's requests (its source is implied).
    pub scraper: Option<String>,
    /// Only requests whose path (under the source's base URL) starts with
    /// this, e.g. "/box_scores".
    pub route: Option<String>,
    /// Start, local time in the pipeline's zone: "YYYY-MM-DDTHH:MM" or
    /// "YYYY-MM-DD" (midnight).
    pub start: String,
    /// End (exclusive), same forms; or give `for`.
    pub end: Option<String>,
    /// Length instead of `end`, e.g. "5d", "3h30m".
    #[serde(rename = "for")]
    pub length: Option<String>,
    /// `status`, `late`, `flaky`: the status answered (status: required;
    /// late: default 404; flaky: default 503).
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<i64>,
    /// `status`, `rate_limit`, `flaky`: a `Retry-After` sent with the
    /// answer, e.g. "30s" (rate_limit: default, the rest of the window).
    pub retry_after: Option<String>,
    /// `down`: "refused" (connection closed unanswered), "unavailable"
    /// (503) or "timeout" (no answer for the source's timeout). Default:
    /// "refused".
    #[schemars(extend("enum" = ["refused", "unavailable", "timeout"]))]
    pub mode: Option<String>,
    /// `late`: each day, the local time ("HH:MM") data is published;
    /// before it the route answers `status`.
    pub publish_at: Option<String>,
    /// `slow`: how long each answer takes, e.g. "8s".
    pub delay: Option<String>,
    /// `rate_limit`: requests allowed per `window`; 429 beyond.
    #[schemars(range(min = 1))]
    pub requests: Option<i64>,
    /// `rate_limit`: the window, e.g. "1m".
    pub window: Option<String>,
    /// `flaky`: the share of requests that fail, above 0 and at most 1.
    pub rate: Option<f64>,
}

/// How a host that is down behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownMode {
    Refused,
    Unavailable,
    Timeout,
}

/// What goes wrong, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    Down {
        mode: DownMode,
    },
    Late {
        publish_at: NaiveTime,
        status: u16,
    },
    Empty,
    Slow {
        delay: Duration,
    },
    RateLimit {
        requests: u32,
        window: Duration,
        retry_after: Option<Duration>,
    },
    ChangedShape,
    Flaky {
        rate: f64,
        status: u16,
        retry_after: Option<Duration>,
    },
}

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Status { .. } => "status",
            FaultKind::Down { .. } => "down",
            FaultKind::Late { .. } => "late",
            FaultKind::Empty => "empty",
            FaultKind::Slow { .. } => "slow",
            FaultKind::RateLimit { .. } => "rate_limit",
            FaultKind::ChangedShape => "changed_shape",
            FaultKind::Flaky { .. } => "flaky",
        }
    }

    /// Kinds that decide the whole answer: two of them on the same
    /// requests at the same time contradict each other.
    fn replaces_answer(&self) -> bool {
        matches!(
            self,
            FaultKind::Status { .. }
                | FaultKind::Down { .. }
                | FaultKind::Late { .. }
                | FaultKind::Empty
                | FaultKind::ChangedShape
        )
    }
}

/// Which requests a fault is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Set from `source`, or from the scraper's source by
    /// [`Scenario::check_against`].
    pub source: Option<String>,
    pub scraper: Option<String>,
    /// A path prefix under the source's base URL; a scraper's literal path
    /// prefix once resolved.
    pub route: Option<String>,
}

/// One checked fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// 0-based place in `faults`.
    pub index: usize,
    pub target: Target,
    pub kind: FaultKind,
    /// Local times in the pipeline's zone; `end` exclusive.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Fault {
    /// "faults[2] (down on balldontlie)", for messages and reports.
    pub fn label(&self) -> String {
        let on = match (
            &self.target.scraper,
            &self.target.source,
            &self.target.route,
        ) {
            (Some(scraper), _, _) => format!("scraper {scraper}"),
            (None, Some(source), Some(route)) => format!("{source}{route}"),
            (None, Some(source), None) => source.clone(),
            (None, None, _) => "?".to_string(),
        };
        format!("{} on {on}", self.kind.name())
    }
}

/// A checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from: a path, or `built-in NAME`.
    pub origin: PathBuf,
    pub from: NaiveDate,
    pub days: u32,
    pub seed: u64,
    pub faults: Vec<Fault>,
    pub targets: Targets,
    /// The file's text, kept to place problems found later.
    text: String,
}

/// Why a scenario was refused: one problem per line.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ScenarioError {
    pub problems: Vec<Problem>,
}

/// A key path inside the document: `faults[2].start`.
#[derive(Debug, Clone, Copy)]
enum Key<'a> {
    Top(&'a str),
    Fault(usize, &'a str),
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Top(key) => f.write_str(key),
            Key::Fault(n, "") => write!(f, "faults[{n}]"),
            Key::Fault(n, key) => write!(f, "faults[{n}].{key}"),
        }
    }
}

struct Reporter<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Reporter<'_> {
    fn at_span(&mut self, span: Range<usize>, key: String, message: String) {
        let (line, column) = position(self.text, span.start);
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            key,
            message,
        });
    }

    fn at(&mut self, key: Key<'_>, message: String) {
        let span = locate(self.text, key);
        self.at_span(span, key.to_string(), message);
    }
}

/// 1-based line and column (in characters) of byte `offset`, clamped.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// The span of `key`'s value, else of its fault's table, else 0..0.
fn locate(text: &str, key: Key<'_>) -> Range<usize> {
    let Ok(root) = DeTable::parse(text) else {
        return 0..0;
    };
    match key {
        Key::Top(name) => find(root.get_ref(), name).map_or(0..0, |v| v.span()),
        Key::Fault(n, name) => {
            let Some(faults) = find(root.get_ref(), "faults") else {
                return 0..0;
            };
            let DeValue::Array(items) = faults.get_ref() else {
                return faults.span();
            };
            let Some(item) = items.get(n) else {
                return faults.span();
            };
            if let DeValue::Table(table) = item.get_ref()
                && let Some(value) = find(table, name)
            {
                return value.span();
            }
            item.span()
        }
    }
}

fn find<'a, 'b>(table: &'a DeTable<'b>, name: &str) -> Option<&'a toml::Spanned<DeValue<'b>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == name)
        .map(|(_, v)| v)
}

fn parse_instant(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN));
    }
    Err(format!(
        "expected a local time \"YYYY-MM-DDTHH:MM\" or a date \"YYYY-MM-DD\", found \"{text}\""
    ))
}

fn parse_span(text: &str) -> Result<Duration, String> {
    if text.trim_start().starts_with('-') {
        return Err(format!(
            "a negative duration (\"{text}\"); durations are lengths, e.g. \"5m\""
        ));
    }
    parse_duration(text)
}

impl Scenario {
    /// Parses and checks scenario `text` (from `origin`, named `name`).
    pub fn parse(name: &str, origin: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let mut report = Reporter {
            file: origin,
            text,
            problems: Vec::new(),
        };
        let raw: RawScenario = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                let message = error.message().trim_end().replace("field", "key");
                report.at_span(span, String::new(), message);
                return Err(ScenarioError {
                    problems: report.problems,
                });
            }
        };
        let from = NaiveDate::parse_from_str(raw.from.trim(), "%Y-%m-%d");
        if from.is_err() {
            report.at(
                Key::Top("from"),
                format!("expected a date \"YYYY-MM-DD\", found \"{}\"", raw.from),
            );
        }
        if !(1..=i64::from(MAX_DAYS)).contains(&raw.days) {
            report.at(
                Key::Top("days"),
                format!("expected 1 to {MAX_DAYS} days, found {}", raw.days),
            );
        }
        let days = raw.days.clamp(1, i64::from(MAX_DAYS)) as u32;
        let first = from.unwrap_or_default().and_time(NaiveTime::MIN);
        let last = first + Span::days(i64::from(days));
        let mut faults = Vec::new();
        for (n, fault) in raw.faults.iter().enumerate() {
            if let Some(fault) = check_fault(&mut report, n, fault) {
                if from.is_ok() && (fault.start < first || fault.end > last) {
                    let key = if fault.start < first || fault.start >= last {
                        "start"
                    } else if raw.faults[n].end.is_some() {
                        "end"
                    } else {
                        "for"
                    };
                    report.at(
                        Key::Fault(n, key),
                        format!(
                            "{} to {} is outside the simulated calendar ({} to {}, {days} days)",
                            fault.start.format("%Y-%m-%dT%H:%M"),
                            fault.end.format("%Y-%m-%dT%H:%M"),
                            first.format("%Y-%m-%d"),
                            last.format("%Y-%m-%d"),
                        ),
                    );
                }
                faults.push(fault);
            }
        }
        let raw_targets = raw.targets.unwrap_or_default();
        let first_alert_within = raw_targets.first_alert_within.as_ref().and_then(|text| {
            parse_span(text)
                .map_err(|message| {
                    report.at(
                        Key::Top("targets"),
                        format!("first_alert_within: {message}"),
                    )
                })
                .ok()
        });
        for (name, value) in [
            ("failure_rate_max", raw_targets.failure_rate_max),
            ("error_coverage_min", raw_targets.error_coverage_min),
            ("completeness_min", raw_targets.completeness_min),
        ] {
            if let Some(v) = value
                && !(0.0..=1.0).contains(&v)
            {
                report.at(
                    Key::Top("targets"),
                    format!("{name}: expected a fraction from 0 to 1, found {v}"),
                );
            }
        }
        let targets = Targets {
            failure_rate_max: raw_targets.failure_rate_max,
            error_coverage_min: raw_targets.error_coverage_min,
            first_alert_within,
            fault_attempts_per_call_max: raw_targets.fault_attempts_per_call_max,
            recovered_alerts: raw_targets.recovered_alerts,
            failed_runs_max: raw_targets.failed_runs_max,
            alerts_before_deadline_max: raw_targets.alerts_before_deadline_max,
            stale_alert_for: raw_targets.stale_alert_for,
            completeness_min: raw_targets.completeness_min,
            slots_once: raw_targets.slots_once,
            dates_correct: raw_targets.dates_correct,
        };
        if !report.problems.is_empty() {
            return Err(ScenarioError {
                problems: report.problems,
            });
        }
        Ok(Scenario {
            targets,
            name: name.to_string(),
            description: raw.description.unwrap_or_default(),
            origin: origin.to_path_buf(),
            from: from.unwrap_or_default(),
            days,
            seed: raw.seed.unwrap_or(1),
            faults,
            text: text.to_string(),
        })
    }

    /// Moves the scenario to start on `from` (every fault shifts with it)
    /// and to last `days` days.
    pub fn reframe(&mut self, from: Option<NaiveDate>, days: Option<u32>) {
        if let Some(from) = from {
            let shift = from - self.from;
            for fault in &mut self.faults {
                fault.start += shift;
                fault.end += shift;
            }
            self.from = from;
        }
        if let Some(days) = days {
            self.days = days;
        }
    }

    /// Checks names against `plan` (sources, scrapers, routes) and that no
    /// two faults contradict each other; fills each target's source and a
    /// scraper's route.
    pub fn check_against(&mut self, plan: &Names) -> Result<(), ScenarioError> {
        let text = self.text.clone();
        let mut report = Reporter {
            file: &self.origin,
            text: &text,
            problems: Vec::new(),
        };
        for fault in &mut self.faults {
            let n = fault.index;
            if let Some(scraper) = fault.target.scraper.clone() {
                match plan.scrapers.get(&scraper) {
                    None => report.at(
                        Key::Fault(n, "scraper"),
                        format!(
                            "unknown scraper \"{scraper}\"; the config has {}",
                            names(plan.scrapers.keys())
                        ),
                    ),
                    Some(spec) => {
                        if let Some(source) = &fault.target.source
                            && *source != spec.0
                        {
                            report.at(
                                Key::Fault(n, "source"),
                                format!(
                                    "scraper \"{scraper}\" calls source \"{}\", not \"{source}\"",
                                    spec.0
                                ),
                            );
                        }
                        fault.target.source = Some(spec.0.clone());
                        fault.target.route = Some(literal_prefix(&spec.1));
                    }
                }
                continue;
            }
            let Some(source) = fault.target.source.clone() else {
                continue;
            };
            if !plan.sources.contains(&source) {
                report.at(
                    Key::Fault(n, "source"),
                    format!(
                        "unknown source \"{source}\"; the config has {}",
                        names(plan.sources.iter())
                    ),
                );
                continue;
            }
            if let Some(route) = &fault.target.route {
                let known = plan.scrapers.values().filter(|s| s.0 == source).any(|s| {
                    let prefix = literal_prefix(&s.1);
                    prefix.starts_with(route.as_str()) || route.starts_with(prefix.as_str())
                });
                if !known {
                    report.at(
                        Key::Fault(n, "route"),
                        format!(
                            "no scraper of source \"{source}\" calls a path starting with \"{route}\""
                        ),
                    );
                }
            }
        }
        // Contradictions: two faults that each decide the whole answer, on
        // requests both cover, at the same time.
        for (i, a) in self.faults.iter().enumerate() {
            for b in &self.faults[i + 1..] {
                if a.kind.replaces_answer()
                    && b.kind.replaces_answer()
                    && a.start < b.end
                    && b.start < a.end
                    && overlap(&a.target, &b.target)
                {
                    report.at(
                        Key::Fault(b.index, "start"),
                        format!(
                            "faults[{}] ({}) and faults[{}] ({}) both decide the answer to the same requests from {}: they contradict each other; make their periods or targets disjoint",
                            a.index,
                            a.label(),
                            b.index,
                            b.label(),
                            a.start.max(b.start).format("%Y-%m-%dT%H:%M"),
                        ),
                    );
                }
            }
        }
        if report.problems.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError {
                problems: report.problems,
            })
        }
    }
}

/// The names a scenario may use, read from the config it runs with.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub sources: BTreeSet<String>,
    /// Scraper → (its source, its path template as written).
    pub scrapers: BTreeMap<String, (String, String)>,
}

fn overlap(a: &Target, b: &Target) -> bool {
    if a.source != b.source {
        return false;
    }
    match (&a.route, &b.route) {
        (Some(x), Some(y)) => x.starts_with(y.as_str()) || y.starts_with(x.as_str()),
        _ => true,
    }
}

fn names<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<&str> = keys.map(String::as_str).collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

/// The part of a path template before its first `{param}`.
pub fn literal_prefix(template: &str) -> String {
    template.split('{').next().unwrap_or("").to_string()
}

/// Keys each kind takes besides kind, source, scraper, route, start, end, for.
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "status" => &["status", "retry_after"],
        "down" => &["mode"],
        "late" => &["publish_at", "status"],
        "slow" => &["delay"],
        "rate_limit" => &["requests", "window", "retry_after"],
        "flaky" => &["rate", "status", "retry_after"],
        _ => &[],
    }
}

/// The fault's `status`, or `default`; `None` (with a problem) when
/// missing without a default or out of range.
fn status_of(
    report: &mut Reporter<'_>,
    n: usize,
    raw: &RawFault,
    default: Option<u16>,
) -> Option<u16> {
    match raw.status {
        None if default.is_none() => {
            report.at(
                Key::Fault(n, ""),
                format!("a \"{}\" fault needs a \"status\"", raw.kind),
            );
            None
        }
        None => default,
        Some(code) if (100..=599).contains(&code) => Some(code as u16),
        Some(code) => {
            report.at(
                Key::Fault(n, "status"),
                format!("expected an HTTP status from 100 to 599, found {code}"),
            );
            None
        }
    }
}

fn check_fault(report: &mut Reporter<'_>, n: usize, raw: &RawFault) -> Option<Fault> {
    let before = report.problems.len();
    let at = |key: &'static str| Key::Fault(n, key);
    // Keys this kind does not read are refused, not ignored: a `delay` on a
    // `down` fault is a mistake the author should hear about.
    let given: [(&'static str, bool); 8] = [
        ("status", raw.status.is_some()),
        ("retry_after", raw.retry_after.is_some()),
        ("mode", raw.mode.is_some()),
        ("publish_at", raw.publish_at.is_some()),
        ("delay", raw.delay.is_some()),
        ("requests", raw.requests.is_some()),
        ("window", raw.window.is_some()),
        ("rate", raw.rate.is_some()),
    ];
    const KINDS: [&str; 8] = [
        "status",
        "down",
        "late",
        "empty",
        "slow",
        "rate_limit",
        "changed_shape",
        "flaky",
    ];
    if !KINDS.contains(&raw.kind.as_str()) {
        report.at(
            at("kind"),
            format!(
                "unknown fault kind \"{}\"; expected one of {}",
                raw.kind,
                KINDS.join(", ")
            ),
        );
        return None;
    }
    let allowed = allowed_keys(&raw.kind);
    for (key, present) in given {
        if present && !allowed.contains(&key) {
            report.at(
                Key::Fault(n, key),
                format!("a \"{}\" fault takes no \"{key}\"", raw.kind),
            );
        }
    }
    if raw.source.is_none() && raw.scraper.is_none() {
        report.at(
            Key::Fault(n, ""),
            "a fault needs a \"source\" (optionally with \"route\") or a \"scraper\"".to_string(),
        );
    }
    if raw.scraper.is_some() && raw.route.is_some() {
        report.at(
            at("route"),
            "give \"route\" or \"scraper\", not both (a scraper's route is its path)".to_string(),
        );
    }
    if let Some(route) = &raw.route
        && !route.starts_with('/')
    {
        report.at(
            at("route"),
            format!("a route is a path under the source's base URL and starts with \"/\", found \"{route}\""),
        );
    }
    let mut duration = |key: &'static str, value: &Option<String>| -> Option<Duration> {
        let text = value.as_ref()?;
        match parse_span(text) {
            Ok(d) => Some(d),
            Err(message) => {
                report.at(at(key), message);
                None
            }
        }
    };
    let length = duration("for", &raw.length);
    let retry_after = duration("retry_after", &raw.retry_after);
    let delay = duration("delay", &raw.delay);
    let window = duration("window", &raw.window);
    let start = match parse_instant(&raw.start) {
        Ok(t) => Some(t),
        Err(message) => {
            report.at(at("start"), message);
            None
        }
    };
    let end = match (&raw.end, length) {
        (Some(_), Some(_)) => {
            report.at(at("for"), "give \"end\" or \"for\", not both".to_string());
            None
        }
        (Some(text), None) => match parse_instant(text) {
            Ok(t) => Some(t),
            Err(message) => {
                report.at(at("end"), message);
                None
            }
        },
        (None, Some(d)) => start.map(|s| s + Span::from_std(d).unwrap_or(Span::MAX)),
        (None, None) => {
            if raw.length.is_none() {
                report.at(
                    Key::Fault(n, ""),
                    "a fault needs an \"end\" or a \"for\"".to_string(),
                );
            }
            None
        }
    };
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        report.at(
            at(if raw.end.is_some() { "end" } else { "for" }),
            format!(
                "the fault ends ({}) before it starts ({}): a negative or empty period",
                e.format("%Y-%m-%dT%H:%M"),
                s.format("%Y-%m-%dT%H:%M")
            ),
        );
    }
    let kind = match raw.kind.as_str() {
        "status" => status_of(report, n, raw, None).map(|status| FaultKind::Status {
            status,
            retry_after,
        }),
        "down" => match raw.mode.as_deref().unwrap_or("refused") {
            "refused" => Some(DownMode::Refused),
            "unavailable" => Some(DownMode::Unavailable),
            "timeout" => Some(DownMode::Timeout),
            other => {
                report.at(
                    at("mode"),
                    format!(
                        "expected \"refused\", \"unavailable\" or \"timeout\", found \"{other}\""
                    ),
                );
                None
            }
        }
        .map(|mode| FaultKind::Down { mode }),
        "late" => {
            let publish_at = match raw.publish_at.as_deref() {
                None => {
                    report.at(
                        Key::Fault(n, ""),
                        "a \"late\" fault needs \"publish_at\" (local \"HH:MM\")".to_string(),
                    );
                    None
                }
                Some(text) => match NaiveTime::parse_from_str(text.trim(), "%H:%M") {
                    Ok(t) => Some(t),
                    Err(_) => {
                        report.at(
                            at("publish_at"),
                            format!("expected a local time \"HH:MM\", found \"{text}\""),
                        );
                        None
                    }
                },
            };
            let status = status_of(report, n, raw, Some(404));
            publish_at
                .zip(status)
                .map(|(publish_at, status)| FaultKind::Late { publish_at, status })
        }
        "empty" => Some(FaultKind::Empty),
        "changed_shape" => Some(FaultKind::ChangedShape),
        "slow" => {
            if raw.delay.is_none() {
                report.at(
                    Key::Fault(n, ""),
                    "a \"slow\" fault needs a \"delay\"".to_string(),
                );
            }
            delay.map(|delay| FaultKind::Slow { delay })
        }
        "rate_limit" => {
            let requests = match raw.requests {
                Some(r) if r >= 1 && r <= i64::from(u32::MAX) => Some(r as u32),
                Some(r) => {
                    report.at(
                        at("requests"),
                        format!("expected at least 1 request per window, found {r}"),
                    );
                    None
                }
                None => {
                    report.at(
                        Key::Fault(n, ""),
                        "a \"rate_limit\" fault needs \"requests\" and \"window\"".to_string(),
                    );
                    None
                }
            };
            let window = match window {
                Some(w) if w.is_zero() => {
                    report.at(
                        at("window"),
                        "the window must be longer than 0s".to_string(),
                    );
                    None
                }
                Some(w) => Some(w),
                None if raw.window.is_none() && raw.requests.is_some() => {
                    report.at(
                        Key::Fault(n, ""),
                        "a \"rate_limit\" fault needs a \"window\"".to_string(),
                    );
                    None
                }
                None => None,
            };
            requests
                .zip(window)
                .map(|(requests, window)| FaultKind::RateLimit {
                    requests,
                    window,
                    retry_after,
                })
        }
        "flaky" => {
            let rate = match raw.rate {
                Some(r) if r > 0.0 && r <= 1.0 => Some(r),
                Some(r) => {
                    report.at(
                        at("rate"),
                        format!("expected a share above 0 and at most 1 (0.02 for 2%), found {r}"),
                    );
                    None
                }
                None => {
                    report.at(
                        Key::Fault(n, ""),
                        "a \"flaky\" fault needs a \"rate\"".to_string(),
                    );
                    None
                }
            };
            let status = status_of(report, n, raw, Some(503));
            rate.zip(status).map(|(rate, status)| FaultKind::Flaky {
                rate,
                status,
                retry_after,
            })
        }
        _ => None,
    };
    if report.problems.len() > before {
        return None;
    }
    Some(Fault {
        index: n,
        target: Target {
            source: raw.source.clone(),
            scraper: raw.scraper.clone(),
            route: raw.route.clone(),
        },
        kind: kind?,
        start: start?,
        end: end?,
    })
}

/// The JSON Schema of scenario files (`docs/scenario.schema.json`).
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(RawScenario).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse("t", Path::new("t.toml"), text)
    }

    #[test]
    fn a_fault_outside_the_calendar_is_refused_at_its_line() {
        let text = "from = \"2026-01-01\"\ndays = 2\n\n[[faults]]\nkind = \"down\"\nsource = \"a\"\nstart = \"2026-01-05\"\nfor = \"1h\"\n";
        let error = parse(text).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "t.toml:7:9: faults[0].start: 2026-01-05T00:00 to 2026-01-05T01:00 is outside"
            ),
            "{error}"
        );
    }

    #[test]
    fn negative_and_reversed_periods_are_refused() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"slow\"\nsource = \"a\"\ndelay = \"-5s\"\nstart = \"2026-01-01T02:00\"\nend = \"2026-01-01T01:00\"\n";
        let error = parse(text).unwrap_err().to_string();
        assert!(
            error.contains("t.toml:6:9: faults[0].delay: a negative duration"),
            "{error}"
        );
        assert!(
            error.contains("t.toml:8:7: faults[0].end: the fault ends"),
            "{error}"
        );
    }

    #[test]
    fn unknown_scrapers_and_routes_are_refused_against_the_config() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"empty\"\nscraper = \"box\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"slow\"\nsource = \"api\"\nroute = \"/nowhere\"\ndelay = \"2s\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"slow\"\nsource = \"api\"\nroute = \"/games\"\ndelay = \"2s\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n";
        let mut scenario = parse(text).expect("parses");
        let mut names = Names::default();
        names.sources.insert("api".into());
        names
            .scrapers
            .insert("games".into(), ("api".into(), "/games/{date}".into()));
        let error = scenario.check_against(&names).unwrap_err().to_string();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines.len(), 2, "{error}");
        assert!(
            lines[0].starts_with(
                "t.toml:5:11: faults[0].scraper: unknown scraper \"box\"; the config has games"
            ),
            "{error}"
        );
        assert!(
            lines[1].starts_with("t.toml:11:9: faults[1].route: no scraper of source \"api\" calls a path starting with \"/nowhere\""),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_place() {
        let error = parse("from = \"2026-01-01\"\ndays = 2\nspeed = 3\n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("t.toml:3:1: "), "{error}");
        assert!(error.contains("unknown key `speed`"), "{error}");
    }
}
