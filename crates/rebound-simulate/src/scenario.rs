//! Scenario files: TOML → [`RawScenario`] (serde, unknown keys refused) →
//! [`Scenario`] (dates, durations and time windows checked), then checked
//! against the plan it will run with ([`Scenario::check_against`]).
//!
//! Every problem is a [`rebound_config::Problem`], so a scenario error reads
//! like a config error: `file:line:col: key: message`. Serde errors carry
//! their own span; later checks find the key's span in the parsed document
//! (`locate`), because keeping `Spanned<T>` on every field would also put
//! it in the JSON Schema.

use chrono::{
    DateTime, Duration as Span, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike,
};
use rebound_config::Problem;
use rebound_domain::duration::parse_duration;
use rebound_domain::message::plural;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::de::{DeTable, DeValue};

/// Longest simulation a scenario may ask for (a season and then some).
pub const MAX_DAYS: u32 = 400;

/// Most faults a scenario may list: a fault every hour of a year is 8,760.
/// Checking them is n log n, except for faults that all overlap in time,
/// which are compared pairwise for contradictions; the cap bounds that.
pub const MAX_FAULTS: usize = 10_000;

/// Longest duration a scenario may give (`for`, `window`, `delay`,
/// `retry_after`, `first_alert_within`): the longest simulation. Beyond
/// it no run could tell the difference, and adding it to an instant could
/// overflow the calendar.
const MAX_SPAN: Duration = Duration::from_secs(MAX_DAYS as u64 * 86_400);

/// The first and last days the simulated upstream has a calendar for
/// (`rebound_upstream_sim::fixtures::calendar`: the seasons whose game ids
/// it can read back); far from chrono's own limits, so a day added to
/// either cannot overflow.
pub fn calendar() -> (NaiveDate, NaiveDate) {
    let (first, last) = rebound_upstream_sim::fixtures::calendar();
    // The warm-up day before the first simulated one is simulated too:
    // before the upstream's calendar, its calls failed and their entities
    // were counted as lost (a run with no fault missed its completeness).
    let first = first
        .checked_add_signed(crate::runner::WARM_UP)
        .unwrap_or(first);
    // Past the zone rules' last date, daylight saving would silently stop.
    (first, last.min(rebound_domain::calendar::LAST_DATE))
}

/// Checks a simulation's first date and length, from a scenario file or
/// from `--from` and `--days`.
pub fn check_calendar(from: NaiveDate, days: u32) -> Result<(), String> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(format!("expected 1 to {MAX_DAYS} days, found {days}"));
    }
    let (first, last_day) = calendar();
    match from.checked_add_signed(Span::days(i64::from(days) - 1)) {
        Some(last) if from >= first && last <= last_day => Ok(()),
        _ => Err(format!(
            "from {from}, {} would leave the simulated upstream's calendar ({first} to {last_day})",
            plural(u64::from(days), "day", "days"),
        )),
    }
}

/// A scenario file as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Rebound simulation scenario")]
pub struct RawScenario {
    /// What the scenario reproduces, in a sentence.
    pub description: Option<String>,
    /// First simulated date, in the pipeline's zone ("YYYY-MM-DD"); the
    /// simulated days lie between 2000-07-02 and 2099-12-31.
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub from: String,
    /// How many days to simulate (1 to 400).
    #[schemars(range(min = 1, max = 400))]
    pub days: i64,
    /// Seed of the random draws (`flaky` faults). Default: 1.
    pub seed: Option<u64>,
    /// The faults, each on a source (or one route or scraper of it) for a
    /// period; at most 10,000.
    #[serde(default)]
    #[schemars(length(max = 10000))]
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
    /// "YYYY-MM-DD" (midnight), without "Z" or a UTC offset (refused).
    pub start: String,
    /// End (exclusive), same forms; or give `for`.
    pub end: Option<String>,
    /// Length instead of `end`, e.g. "5d", "3h30m". Every duration in a
    /// scenario is at most "400d", the longest simulation.
    #[serde(rename = "for")]
    pub length: Option<String>,
    /// `status`, `late`, `flaky`: the status answered (status: required,
    /// 400 to 599; late: default 404, also 200 to 299; flaky: default 503,
    /// 400 to 599).
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
    /// `late`: each day, the time ("HH:MM", local in the pipeline's zone,
    /// without "Z" or a UTC offset: refused) data is published; before it
    /// the route answers `status`.
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
    /// A scraper's request once resolved: its path template and the
    /// literal values of its query. Two scrapers may share a path prefix
    /// (`/teams` and `/teams/{id}/roster`) or a whole path (one endpoint
    /// asked for different `markets`), so a scraper's fault matches the
    /// request's shape, not its prefix.
    pub request: Option<RequestShape>,
}

/// The requests one scraper makes, as far as its config tells them apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestShape {
    /// The path template as written, e.g. "/teams/{team_id}/roster".
    pub path: String,
    /// Query parameters whose value is literal text (no `{param}`).
    pub query: Vec<(String, String)>,
}

impl RequestShape {
    /// Whether a request (`path` under the source's base URL, `query` as
    /// sent) fits: the same number of path segments, each literal part of
    /// the template in place (a `{param}` stands for any text within its
    /// segment), and every literal query value present.
    pub fn matches(&self, path: &str, query: Option<&str>) -> bool {
        // Asked for every request a fault could cover: segment by segment
        // without collecting, and the query parsed only when it matters.
        let (mut template, mut segments) = (self.path.split('/'), path.split('/'));
        loop {
            match (template.next(), segments.next()) {
                (None, None) => break,
                (Some(t), Some(s)) if segment_matches(t, s) => {}
                _ => return false,
            }
        }
        if self.query.is_empty() {
            return true;
        }
        let sent: Vec<(String, String)> = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        self.query.iter().all(|pair| sent.contains(pair))
    }
}

/// One path segment against its template: the literal pieces between
/// `{param}`s must appear in order, the first at the start and the last at
/// the end.
fn segment_matches(template: &str, segment: &str) -> bool {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        pieces.push(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    pieces.push(rest);
    let [first, middle @ .., last] = pieces.as_slice() else {
        return segment == template;
    };
    if segment.len() < first.len() + last.len()
        || !segment.starts_with(first)
        || !segment.ends_with(last)
    {
        return false;
    }
    let mut inside = &segment[first.len()..segment.len() - last.len()];
    for piece in middle {
        match inside.find(piece) {
            Some(at) => inside = &inside[at + piece.len()..],
            None => return false,
        }
    }
    true
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
    /// How far [`Scenario::reframe`] moved the faults from the times the
    /// file gives (`--from`), so a problem found later can say so.
    moved: Span,
    /// Fault times written with `Z` or an offset, refused by
    /// [`Scenario::check_zone`], which knows the pipeline's zone to name.
    offsets: Vec<WithOffset>,
}

/// A fault's `start`, `end` or `publish_at` written with `Z` or a UTC
/// offset. Fault times are local times in the pipeline's zone (`--from`
/// moves them by days on that clock), so it is refused; once the zone is
/// known, the message names it and, for a start or end, the local time
/// the instant is there (a time of day has no one local time: it depends
/// on the day's offset).
#[derive(Debug, Clone)]
struct WithOffset {
    index: usize,
    key: &'static str,
    text: String,
    /// The instant, for a start or end; `None` for a `publish_at`.
    at: Option<DateTime<FixedOffset>>,
}

impl WithOffset {
    fn message(&self, tz: Option<chrono_tz::Tz>) -> String {
        let zone = match tz {
            Some(tz) => format!("the pipeline's timezone, {tz}"),
            None => "the pipeline's timezone ([pipeline] timezone)".to_string(),
        };
        let Some(at) = self.at else {
            return format!(
                "publish times are local times \"HH:MM\" in {zone}, written without \"Z\" or an offset: found \"{}\"",
                self.text
            );
        };
        let mut message = format!(
            "fault times are local times in {zone}, written without \"Z\" or an offset: found \"{}\"",
            self.text
        );
        if let Some(tz) = tz {
            let local = at.with_timezone(&tz).naive_local();
            if local.second() == 0 && local.nanosecond() == 0 {
                message.push_str(&format!(
                    ", which is \"{}\" there",
                    local.format("%Y-%m-%dT%H:%M")
                ));
            }
        }
        message
    }
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
    /// A key of `[targets]`.
    Target(&'a str),
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Top(key) => f.write_str(key),
            Key::Target(key) => write!(f, "targets.{key}"),
            Key::Fault(n, "") => write!(f, "faults[{n}]"),
            Key::Fault(n, key) => write!(f, "faults[{n}].{key}"),
        }
    }
}

struct Reporter<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
    /// Fault times with an offset, refused once the zone is known.
    offsets: Vec<WithOffset>,
    /// The file's tables, parsed at the first problem and kept: parsing it
    /// for each problem made a scenario of 2,000 overlapping faults check
    /// for minutes.
    root: std::cell::OnceCell<Option<toml::Spanned<DeTable<'a>>>>,
}

impl<'a> Reporter<'a> {
    fn new(file: &'a Path, text: &'a str) -> Reporter<'a> {
        Reporter {
            file,
            text,
            problems: Vec::new(),
            offsets: Vec::new(),
            root: std::cell::OnceCell::new(),
        }
    }

    /// The span of `key`'s value, else of its fault's table, else 0..0.
    fn locate(&self, key: Key<'_>) -> Range<usize> {
        let root = self.root.get_or_init(|| DeTable::parse(self.text).ok());
        root.as_ref()
            .map_or(0..0, |root| locate_in(root.get_ref(), key))
    }

    fn at_span(&mut self, span: Range<usize>, key: String, message: String) {
        let (line, column) = rebound_config::line_column(self.text, span.start);
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            key,
            message,
        });
    }

    fn at(&mut self, key: Key<'_>, message: String) {
        let span = self.locate(key);
        self.at_span(span, key.to_string(), message);
    }
}

/// Whether fault `n` was written with `end` (rather than `for`):
/// [`Reporter::locate`] falls back to the fault's table for a key it lacks.
fn has_end(report: &Reporter<'_>, n: usize) -> bool {
    report.locate(Key::Fault(n, "end")) != report.locate(Key::Fault(n, ""))
}

/// The span of `key`'s value in `root`, else of its fault's table, else 0..0.
fn locate_in(root: &DeTable<'_>, key: Key<'_>) -> Range<usize> {
    match key {
        Key::Top(name) => find(root, name).map_or(0..0, |v| v.span()),
        Key::Target(name) => {
            let Some(targets) = find(root, "targets") else {
                return 0..0;
            };
            match targets.get_ref() {
                DeValue::Table(table) => find(table, name).map_or(targets.span(), |v| v.span()),
                _ => targets.span(),
            }
        }
        Key::Fault(n, name) => {
            let Some(faults) = find(root, "faults") else {
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

/// `a "down"`, `an "empty"`: a fault kind with its article.
fn a_kind(kind: &str) -> String {
    let vowel = kind.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} \"{kind}\"", if vowel { "an" } else { "a" })
}

/// serde's path to a value as a scenario key: `faults[2].start`.
fn key_path(path: &serde_path_to_error::Path) -> String {
    let mut key = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key: k }
            | serde_path_to_error::Segment::Enum { variant: k } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(k);
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    key
}

fn find<'a, 'b>(table: &'a DeTable<'b>, name: &str) -> Option<&'a toml::Spanned<DeValue<'b>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == name)
        .map(|(_, v)| v)
}

/// A date "YYYY-MM-DD", in exactly that form (chrono's `%m` also takes
/// one digit, so "2026-1-15" parsed though the documented form and the
/// JSON Schema's pattern refuse it). The CLI's dates follow the same rule
/// (`rebound_domain::calendar::is_date_shaped`).
fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    rebound_domain::calendar::is_date_shaped(text)
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// A local time or a date (midnight); with `Z` or an offset, also the
/// instant it names (refused later, by [`WithOffset`], with the time as
/// written standing in meanwhile).
fn parse_instant(text: &str) -> Result<(NaiveDateTime, Option<DateTime<FixedOffset>>), String> {
    let text = text.trim();
    if let Some((date, time)) = text.split_once('T')
        && rebound_domain::calendar::is_date_shaped(date)
        && let (Ok(date), Some(time)) = (
            NaiveDate::parse_from_str(date, "%Y-%m-%d"),
            rebound_domain::calendar::time_of_day(time),
        )
    {
        return Ok((date.and_time(time), None));
    }
    if let Some(d) = parse_date(text) {
        return Ok((d.and_time(NaiveTime::MIN), None));
    }
    if let Some(at) = with_offset(text) {
        return Ok((at.naive_local(), Some(at)));
    }
    Err(format!(
        "expected a local time \"YYYY-MM-DDTHH:MM\" or a date \"YYYY-MM-DD\", found \"{text}\""
    ))
}

/// `text` split into what comes before its `Z` or UTC offset, and the
/// offset as "+HH:MM" ("Z" is "+00:00"; "+01", "+0100" and "+01:00" are
/// taken), when it ends with one placed at or after byte `from` (so a
/// date's own dashes are not taken for a sign). One reading of an offset
/// for the fault times and the publish times, which each had their own,
/// and one of them cut a non-ASCII offset inside a character.
fn split_offset(text: &str, from: usize) -> Option<(&str, String)> {
    if let Some(wall) = text.strip_suffix(['Z', 'z']) {
        return Some((wall, "+00:00".to_string()));
    }
    let at = text.rfind(['+', '-']).filter(|&at| at >= from)?;
    let (sign, digits) = text[at..].split_at(1);
    // ASCII only before any cut: "+1é2" is five bytes too.
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let bytes = digits.as_bytes();
    let (hours, minutes) = match bytes.len() {
        2 => (digits, "00"),
        4 => (&digits[..2], &digits[2..]),
        5 if bytes[2] == b':' => (&digits[..2], &digits[3..]),
        _ => return None,
    };
    let numeric = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    (numeric(hours) && numeric(minutes)).then(|| (&text[..at], format!("{sign}{hours}:{minutes}")))
}

/// `text` as a date and time with `Z` or a UTC offset (`+01:00`, `+0100`,
/// `+01`), seconds optional: "2026-12-31T18:00Z", "2026-12-31T18:00:00+01:00".
fn with_offset(text: &str) -> Option<DateTime<FixedOffset>> {
    let (wall, offset) = split_offset(text, 11)?;
    if !wall
        .get(..10)
        .is_some_and(rebound_domain::calendar::is_date_shaped)
    {
        return None;
    }
    let text = format!("{wall}{offset}");
    ["%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M:%S%.f%:z"]
        .iter()
        .find_map(|format| DateTime::parse_from_str(&text, format).ok())
}

/// `text` as a time of day "HH:MM" (or "HH:MM:SS") with `Z` or a UTC
/// offset (`+01:00`, `-0500`, `+01`): "09:00Z", "09:00+01:00". The time as
/// written, its offset dropped.
fn time_with_offset(text: &str) -> Option<NaiveTime> {
    let (wall, _) = split_offset(text, 5)?;
    rebound_domain::calendar::time_of_day(wall)
        .or_else(|| (wall.len() == 8).then(|| NaiveTime::parse_from_str(wall, "%H:%M:%S").ok())?)
}

fn parse_span(text: &str) -> Result<Duration, String> {
    if text.trim_start().starts_with('-') {
        return Err(format!(
            "a negative duration (\"{text}\"); durations are lengths, e.g. \"5m\""
        ));
    }
    let span = parse_duration(text)?;
    if span > MAX_SPAN {
        return Err(format!(
            "\"{text}\" is longer than {MAX_DAYS}d, the longest simulation"
        ));
    }
    Ok(span)
}

impl Scenario {
    /// Parses and checks scenario `text` (from `origin`, named `name`).
    pub fn parse(name: &str, origin: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let mut report = Reporter::new(origin, text);
        // Parsed first, then deserialized with the path serde was at, so a
        // value of the wrong type is named by its key (`days: expected an
        // integer`), not only by its line and column.
        let parsed =
            DeTable::parse(text).map_err(|e| (e.span(), e.message().to_string(), String::new()));
        let raw: Result<RawScenario, _> = parsed.and_then(|root| {
            serde_path_to_error::deserialize(toml::Deserializer::from(root)).map_err(|e| {
                let key = key_path(e.path());
                let inner = e.into_inner();
                (inner.span(), inner.message().to_string(), key)
            })
        });
        let raw: RawScenario = match raw {
            Ok(raw) => raw,
            Err((span, message, key)) => {
                let span = span.unwrap_or(0..0);
                // A NUL or another control character, as the config loader
                // names it ("key with no value" one column past it, before).
                if let Some((at, message)) =
                    rebound_config::misplaced_control_character(text, &span)
                {
                    report.at_span(at, String::new(), message);
                    return Err(ScenarioError {
                        problems: report.problems,
                    });
                }
                let mut message = rebound_config::reword_serde(&message);
                // toml's syntax messages do not quote the text ("duplicate
                // key", but not which): a short span on one line is shown,
                // as the config loader does.
                if let Some(snippet) = text
                    .get(span.clone())
                    .filter(|s| !s.is_empty() && s.len() <= 40 && !s.contains('\n'))
                    .filter(|s| !message.contains(*s))
                {
                    message.push_str(&format!(" (at `{snippet}`)"));
                }
                report.at_span(span, key, message);
                return Err(ScenarioError {
                    problems: report.problems,
                });
            }
        };
        let from = parse_date(&raw.from).ok_or(());
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
        if raw.faults.len() > MAX_FAULTS {
            report.at(
                Key::Fault(MAX_FAULTS, ""),
                format!(
                    "a scenario holds at most {MAX_FAULTS} faults; this one has {}",
                    raw.faults.len()
                ),
            );
            return Err(ScenarioError {
                problems: report.problems,
            });
        }
        let days = raw.days.clamp(1, i64::from(MAX_DAYS)) as u32;
        let from = from
            .map_err(|_| ())
            .and_then(|from| match check_calendar(from, days) {
                Ok(()) => Ok(from),
                Err(message) => {
                    report.at(Key::Top("from"), message);
                    Err(())
                }
            });
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
                            "{} to {} is outside the simulated calendar ({} to {}, {})",
                            fault.start.format("%Y-%m-%dT%H:%M"),
                            fault.end.format("%Y-%m-%dT%H:%M"),
                            first.format("%Y-%m-%d"),
                            last.format("%Y-%m-%d"),
                            plural(u64::from(days), "day", "days"),
                        ),
                    );
                }
                faults.push(fault);
            }
        }
        let raw_targets = raw.targets.unwrap_or_default();
        let first_alert_within = raw_targets.first_alert_within.as_ref().and_then(|text| {
            parse_span(text)
                .map_err(|message| report.at(Key::Target("first_alert_within"), message))
                .ok()
        });
        if first_alert_within.is_some() && raw.faults.is_empty() {
            // Measured from the first fault's start: with none, it could
            // only be reported missed.
            report.at(
                Key::Target("first_alert_within"),
                "is measured from the first fault's start, and the scenario has no [[faults]]"
                    .to_string(),
            );
        }
        for (name, value) in [
            ("failure_rate_max", raw_targets.failure_rate_max),
            ("error_coverage_min", raw_targets.error_coverage_min),
            ("completeness_min", raw_targets.completeness_min),
        ] {
            if let Some(v) = value
                && !(0.0..=1.0).contains(&v)
            {
                report.at(
                    Key::Target(name),
                    format!("expected a fraction from 0 to 1, found {v}"),
                );
            }
        }
        if let Some(v) = raw_targets.fault_attempts_per_call_max {
            if !(v.is_finite() && v >= 0.0) {
                report.at(
                    Key::Target("fault_attempts_per_call_max"),
                    format!("expected a number of attempts, 0 or more, found {v}"),
                );
            } else if raw.faults.is_empty() {
                // Measured on the faulted sources during the faults: with
                // none it could only ever read "not measured".
                report.at(
                    Key::Target("fault_attempts_per_call_max"),
                    "is measured during the faults, and the scenario has no [[faults]]".to_string(),
                );
            }
        }
        for (name, value) in [
            ("recovered_alerts", raw_targets.recovered_alerts),
            ("failed_runs_max", raw_targets.failed_runs_max),
            (
                "alerts_before_deadline_max",
                raw_targets.alerts_before_deadline_max,
            ),
        ] {
            if let Some(v) = value
                && v < 0
            {
                report.at(
                    Key::Target(name),
                    format!("expected a count, 0 or more, found {v}"),
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
        let offsets = std::mem::take(&mut report.offsets);
        if !report.problems.is_empty() {
            // Refused now: said without the zone, which the config gives.
            if !offsets.is_empty() {
                for o in &offsets {
                    report.at(Key::Fault(o.index, o.key), o.message(None));
                }
                report.problems.sort_by_key(|p| (p.line, p.column));
            }
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
            moved: Span::zero(),
            offsets,
        })
    }

    /// Whether `fault` lies wholly outside the simulated days: such a
    /// fault is named in the report's warnings and is not armed.
    pub fn is_outside(&self, fault: &Fault) -> bool {
        let first = self.from.and_time(NaiveTime::MIN);
        let last = first + Span::days(i64::from(self.days));
        fault.end <= first || fault.start >= last
    }

    /// Moves the scenario to start on `from` (every fault shifts with it)
    /// and to last `days` days; refused (with the reason) when that leaves
    /// the simulated calendar ([`check_calendar`]), or leaves every fault
    /// outside the simulated days (the run would inject nothing). Returns
    /// a warning for each fault that no longer falls within them: it has
    /// no effect, and targets about faults measure nothing.
    pub fn reframe(
        &mut self,
        from: Option<NaiveDate>,
        days: Option<u32>,
    ) -> Result<Vec<String>, String> {
        let new_from = from.unwrap_or(self.from);
        let new_days = days.unwrap_or(self.days);
        check_calendar(new_from, new_days)?;
        // Both calendars lie within `calendar()`, so the shift and every fault
        // moved by it stay far from the calendar's limits.
        let shift = new_from - self.from;
        for fault in &mut self.faults {
            fault.start += shift;
            fault.end += shift;
        }
        self.moved += shift;
        self.from = new_from;
        self.days = new_days;
        let first = new_from.and_time(NaiveTime::MIN);
        let last = first + Span::days(i64::from(new_days));
        // Faults move with `--from`, so only `--days` leaves them out,
        // after the last day: it ran, injected nothing, and read MISSED
        // for every target about faults.
        if let Some(earliest) = self
            .faults
            .iter()
            .min_by_key(|f| (f.start, f.index))
            .filter(|_| self.faults.iter().all(|f| self.is_outside(f)))
        {
            let needed = ((earliest.start.date() - new_from).num_days() + 1).max(1);
            return Err(format!(
                "no fault falls within the simulated days ({} to {}, {}): the first, faults[{}] ({}), starts {}, so the run would inject nothing and measure no fault; simulate at least {needed} days (--days {needed})",
                first.format("%Y-%m-%d"),
                last.format("%Y-%m-%d"),
                plural(u64::from(new_days), "day", "days"),
                earliest.index,
                earliest.label(),
                earliest.start.format("%Y-%m-%dT%H:%M"),
            ));
        }
        Ok(self
            .faults
            .iter()
            .filter_map(|f| {
                let period = format!(
                    "faults[{}] ({}, {} to {})",
                    f.index,
                    f.label(),
                    f.start.format("%Y-%m-%dT%H:%M"),
                    f.end.format("%Y-%m-%dT%H:%M"),
                );
                let days = format!("{} to {}", first.format("%Y-%m-%d"), last.format("%Y-%m-%d"));
                if self.is_outside(f) {
                    Some(format!(
                        "{period} is outside the simulated days ({days}): it has no effect"
                    ))
                } else if f.start < first || f.end > last {
                    // Listed with its period as written, it read as
                    // measured where nothing ran.
                    Some(format!(
                        "{period} runs past the simulated days ({days}): it is measured within them only"
                    ))
                } else {
                    None
                }
            })
            .collect())
    }

    /// Checks that every fault's start and end exist in the pipeline's
    /// zone `tz`: a local time in the hour clocks skip in spring never
    /// comes, so a fault starting there would silently start later (or,
    /// ending there, never end where it says).
    pub fn check_zone(&self, tz: chrono_tz::Tz) -> Result<(), ScenarioError> {
        use chrono::TimeZone as _;
        let mut report = Reporter::new(&self.origin, &self.text);
        for o in &self.offsets {
            report.at(Key::Fault(o.index, o.key), o.message(Some(tz)));
        }
        for fault in &self.faults {
            for (key, at) in [("start", fault.start), ("end", fault.end)] {
                let written_with_offset = self
                    .offsets
                    .iter()
                    .any(|o| o.index == fault.index && o.key == key);
                if !written_with_offset && tz.from_local_datetime(&at).earliest().is_none() {
                    let key = if key == "end" && !has_end(&report, fault.index) {
                        "for"
                    } else {
                        key
                    };
                    // Where the clocks land: the gap may be an hour, half
                    // an hour (Lord Howe) or a whole day (Samoa, 2011).
                    let after = rebound_domain::calendar::local_instant(tz, at.date(), at.time())
                        .with_timezone(&tz)
                        .naive_local();
                    let fix = if key == "for" {
                        "change `for` so the fault ends outside the jump"
                    } else {
                        "give a time outside the jump"
                    };
                    let moved = if self.moved.is_zero() {
                        String::new()
                    } else {
                        format!(
                            " (the file says {}; --from moved it)",
                            (at - self.moved).format("%Y-%m-%dT%H:%M")
                        )
                    };
                    report.at(
                        Key::Fault(fault.index, key),
                        format!(
                            "{}{moved} does not exist in {tz}: the clocks jump past it to {}; {fix}",
                            at.format("%Y-%m-%dT%H:%M"),
                            after.format("%Y-%m-%dT%H:%M"),
                        ),
                    );
                }
            }
        }
        if !self.offsets.is_empty() {
            report.problems.sort_by_key(|p| (p.line, p.column));
        }
        if report.problems.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError {
                problems: report.problems,
            })
        }
    }

    /// A warning per scraper fault whose requests other scrapers' fit too
    /// (their templates and literal queries cannot be told apart, as the
    /// injector tells them): the fault strikes those as well, while its
    /// figures count its own scraper's calls. A fault on the injury
    /// report's first variant, out of use, broke the second's every call
    /// and read "no calls" beside "requests hit 16", with no word why.
    pub fn shared_requests(&self, plan: &Names) -> Vec<String> {
        let mut out = Vec::new();
        for fault in &self.faults {
            let (Some(scraper), Some(shape), Some(source)) = (
                &fault.target.scraper,
                &fault.target.request,
                &fault.target.source,
            ) else {
                continue;
            };
            let others: Vec<&String> = plan
                .scrapers
                .iter()
                .filter(|(name, (of, path))| {
                    *name != scraper && of == source && templates_meet(&shape.path, path)
                })
                .filter(|(name, _)| {
                    let query = plan.queries.get(*name).map_or(&[][..], Vec::as_slice);
                    shape
                        .query
                        .iter()
                        .all(|(k, v)| query.iter().all(|(k2, v2)| k2 != k || v2 == v))
                })
                .map(|(name, _)| name)
                .collect();
            if !others.is_empty() {
                out.push(format!(
                    "faults[{}] ({}) also strikes the requests of {}, which its path and query cannot be told from; its calls and attempts count {scraper}'s only",
                    fault.index,
                    fault.label(),
                    names(others.into_iter())
                ));
            }
        }
        out
    }

    /// A warning per fault start or end that the zone's fall-back repeats:
    /// it is taken at its first occurrence (as the injector and the report
    /// both read it), which a reader of the file could not tell.
    pub fn repeated_times(&self, tz: chrono_tz::Tz) -> Vec<String> {
        use chrono::TimeZone as _;
        let mut out = Vec::new();
        for fault in &self.faults {
            for (key, at) in [("start", fault.start), ("end", fault.end)] {
                if let chrono::LocalResult::Ambiguous(first, second) = tz.from_local_datetime(&at) {
                    out.push(format!(
                        "faults[{}].{key}: {} happens twice in {tz} (clocks fall back); the first is taken, {} (UTC{}), not {} (UTC{})",
                        fault.index,
                        at.format("%Y-%m-%dT%H:%M"),
                        first.format("%H:%M %Z"),
                        first.format("%:z"),
                        second.format("%H:%M %Z"),
                        second.format("%:z"),
                    ));
                }
            }
        }
        out
    }

    /// Checks names against `plan` (sources, scrapers, routes) and that no
    /// two faults contradict each other; fills each target's source and a
    /// scraper's route.
    pub fn check_against(&mut self, plan: &Names) -> Result<(), ScenarioError> {
        let text = self.text.clone();
        let mut report = Reporter::new(&self.origin, &text);
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
                        // A changed shape moves a JSON answer's records;
                        // a document passes through it unchanged, so the
                        // fault would count its requests as hit and
                        // change nothing.
                        if matches!(fault.kind, FaultKind::ChangedShape)
                            && let Some(format) = plan.documents.get(&scraper)
                        {
                            report.at(
                                Key::Fault(n, "kind"),
                                format!(
                                    "changed_shape moves a JSON answer's records under \"data_v2\", but scraper \"{scraper}\" fetches a {format} document, which it would leave unchanged; use empty, status or down"
                                ),
                            );
                        }
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
                        // Its calls never reach the upstream: a fault
                        // on it was accepted, and measured nothing.
                        if plan.unrouted.contains(&spec.0) {
                            report.at(
                                Key::Fault(n, "scraper"),
                                format!(
                                    "scraper \"{scraper}\" calls source \"{}\", which {}",
                                    spec.0,
                                    unrouted()
                                ),
                            );
                        }
                        fault.target.source = Some(spec.0.clone());
                        fault.target.route = Some(literal_prefix(&spec.1));
                        fault.target.request = Some(RequestShape {
                            path: spec.1.clone(),
                            query: plan.queries.get(&scraper).cloned().unwrap_or_default(),
                        });
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
            if plan.unrouted.contains(&source) {
                report.at(
                    Key::Fault(n, "source"),
                    format!("source \"{source}\" {}", unrouted()),
                );
                continue;
            }
            if let Some(route) = &fault.target.route {
                // A route may be a prefix of a scraper's path, or go on
                // past its literal part into a `{param}`; past a path
                // with no `{param}` it could match nothing.
                let known = plan
                    .scrapers
                    .values()
                    .filter(|s| s.0 == source)
                    .any(|s| route_can_match(route, &s.1));
                if !known {
                    report.at(
                        Key::Fault(n, "route"),
                        format!(
                            "no scraper of source \"{source}\" calls a path starting with \"{route}\""
                        ),
                    );
                    continue;
                }
            }
            // As for one scraper above: on a source (or route) whose every
            // scraper fetches a document, a changed shape changes nothing.
            if matches!(fault.kind, FaultKind::ChangedShape) {
                let hit: Vec<&String> = plan
                    .scrapers
                    .iter()
                    .filter(|(_, s)| s.0 == source)
                    .filter(|(_, s)| {
                        fault
                            .target
                            .route
                            .as_ref()
                            .is_none_or(|route| route_can_match(route, &s.1))
                    })
                    .map(|(name, _)| name)
                    .collect();
                if !hit.is_empty() && hit.iter().all(|name| plan.documents.contains_key(*name)) {
                    report.at(
                        Key::Fault(n, "kind"),
                        format!(
                            "changed_shape moves a JSON answer's records under \"data_v2\", but every scraper it covers ({}) fetches a document, which it would leave unchanged; use empty, status or down",
                            names(hit.into_iter())
                        ),
                    );
                }
            }
        }
        if let Some(dataset) = &self.targets.stale_alert_for {
            if !plan.datasets.contains(dataset) {
                report.at(
                    Key::Target("stale_alert_for"),
                    format!(
                        "unknown dataset \"{dataset}\"; the config has {}",
                        names(plan.datasets.iter())
                    ),
                );
            } else if let Some(why) = plan.never_stale.get(dataset) {
                // A target no run could meet: it read MISSED ("none")
                // after the whole simulation, as if the policy had failed.
                report.at(
                    Key::Target("stale_alert_for"),
                    format!("no dataset_stale alert can open for \"{dataset}\": {why}"),
                );
            }
        }
        // Contradictions: two faults that each decide the whole answer, on
        // requests both cover, at the same time.
        // Each fault is reported with the first earlier one it contradicts:
        // n faults that all overlap are n - 1 problems, not n²/2. Faults are
        // swept in order of start, each compared only with those still
        // running when it starts (comparing every earlier fault took
        // minutes for 100,000 faults at separate times).
        let faults = &self.faults;
        let mut order: Vec<usize> = (0..faults.len())
            .filter(|&i| faults[i].kind.replaces_answer())
            .collect();
        order.sort_by_key(|&i| (faults[i].start, i));
        let mut first: Vec<Option<usize>> = vec![None; faults.len()];
        let mut running: Vec<usize> = Vec::new();
        for &j in &order {
            let b = &faults[j];
            running.retain(|&i| faults[i].end > b.start);
            // Each running fault started no later than b and ends after b
            // starts: their periods overlap.
            for &i in &running {
                if overlap(&faults[i].target, &b.target) {
                    let (earlier, later) = (i.min(j), i.max(j));
                    if first[later].is_none_or(|f| earlier < f) {
                        first[later] = Some(earlier);
                    }
                }
            }
            running.push(j);
        }
        for (j, a) in first.iter().enumerate() {
            let (Some(i), b) = (a, &faults[j]) else {
                continue;
            };
            let a = &faults[*i];
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
    /// Scraper → its query parameters with literal values.
    pub queries: BTreeMap<String, Vec<(String, String)>>,
    /// Datasets: `[datasets.X]` and every scraper's `dataset`.
    pub datasets: BTreeSet<String>,
    /// Scraper → its `format`, for those whose payload is not JSON.
    pub documents: BTreeMap<String, String>,
    /// Sources the simulated upstream does not serve: their calls go to a
    /// closed port and never reach a fault.
    pub unrouted: BTreeSet<String>,
    /// Datasets no `dataset_stale` alert can open for, with the reason
    /// (no `fresh_warn` or `fresh_error`, or the condition turned off).
    pub never_stale: BTreeMap<String, String>,
}

/// Why a fault on a source the simulated upstream does not serve could
/// change nothing: "source X " comes before it.
fn unrouted() -> String {
    format!(
        "has no simulated route (the simulated upstream serves the reference pipeline's sources by name: {}): its calls are counted as connect failures, and no fault can change them",
        crate::prepare::SIMULATED_SOURCES.join(", ")
    )
}

fn overlap(a: &Target, b: &Target) -> bool {
    if a.source != b.source {
        return false;
    }
    // Two scrapers' faults share requests only when one request can fit
    // both shapes: templates that some path fills both, and no literal
    // query value that differs (a path-level check would call `/teams`
    // and `/teams/{id}/roster` overlapping, which their shapes are not).
    // Compared as written, `/games/{date}` and `/games/{game_id}` did not
    // overlap, though the injector gives every `/games/X` request both
    // faults, the first listed deciding it.
    if let (Some(x), Some(y)) = (&a.request, &b.request) {
        return templates_meet(&x.path, &y.path)
            && x.query
                .iter()
                .all(|(k, v)| y.query.iter().all(|(k2, v2)| k2 != k || v2 == v));
    }
    // A scraper's fault against a route's: whether a path of the scraper's
    // template starts with the route (the injector's test for a route).
    // Compared by the template's literal prefix, `/teams` (espn_teams) and
    // the route `/teams/1` (one team's roster) contradicted each other,
    // though no request fits both.
    match (&a.request, &b.request, &a.route, &b.route) {
        (Some(shape), None, _, Some(route)) | (None, Some(shape), Some(route), _) => {
            route_can_match(route, &shape.path)
        }
        (_, _, Some(x), Some(y)) => x.starts_with(y.as_str()) || y.starts_with(x.as_str()),
        _ => true,
    }
}

/// Whether some path fits both templates: as many segments, each pair of
/// which some text fits (a literal one fits the other's pattern; two with
/// `{param}`s need compatible literal heads and tails, and are taken to
/// meet whatever lies between, which a parameter can absorb).
fn templates_meet(x: &str, y: &str) -> bool {
    let (xs, ys): (Vec<&str>, Vec<&str>) = (x.split('/').collect(), y.split('/').collect());
    xs.len() == ys.len()
        && xs
            .iter()
            .zip(&ys)
            .all(|(a, b)| match (a.contains('{'), b.contains('{')) {
                (false, false) => a == b,
                (true, false) => segment_matches(a, b),
                (false, true) => segment_matches(b, a),
                (true, true) => {
                    let head = |s: &'_ str| s.split('{').next().unwrap_or("").to_string();
                    let tail = |s: &'_ str| s.rsplit('}').next().unwrap_or("").to_string();
                    let (ha, hb, ta, tb) = (head(a), head(b), tail(a), tail(b));
                    (ha.starts_with(&hb) || hb.starts_with(&ha))
                        && (ta.ends_with(&tb) || tb.ends_with(&ta))
                }
            })
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

/// Whether some path `template` fills in (`/teams/{team_id}/roster`)
/// starts with `route`, segment by segment: a segment with a `{param}`
/// takes any text between its literal head and tail
/// (`playbyplay_{game_id}.json`), the route's last segment may stop
/// anywhere, and a route with more segments than the path matches none
/// of its requests (`/teams/1/roster/x`). A parameter's value is taken
/// to hold no `/`, as the ids of every reference source do.
pub(crate) fn route_can_match(route: &str, template: &str) -> bool {
    let route: Vec<&str> = route.split('/').collect();
    let path: Vec<&str> = template.split('/').collect();
    if route.len() > path.len() {
        return false;
    }
    let last = route.len() - 1;
    route
        .iter()
        .zip(&path)
        .enumerate()
        .all(|(i, (given, shape))| {
            let head = shape.split('{').next().unwrap_or("");
            let Some(close) = shape.rfind('}') else {
                // No parameter: the segment itself.
                return if i == last {
                    shape.starts_with(given)
                } else {
                    given == shape
                };
            };
            let tail = &shape[close + 1..];
            if i == last {
                // Stops inside the segment: inside its head, or past it.
                head.starts_with(given) || given.starts_with(head)
            } else {
                given.len() > head.len() + tail.len()
                    && given.starts_with(head)
                    && given.ends_with(tail)
            }
        })
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
                format!("{} fault needs a \"status\"", a_kind(&raw.kind)),
            );
            None
        }
        None => default,
        // A `status` or `flaky` answer stands for an error, so 400 to 599.
        // A `late` route may also answer an empty success before it
        // publishes. 1xx and 3xx are never whole answers of an API: a 101
        // would switch protocols, a 304 claims a cached copy the client
        // never asked to revalidate.
        Some(code) if (400..=599).contains(&code) => Some(code as u16),
        Some(code) if raw.kind == "late" && (200..=299).contains(&code) => Some(code as u16),
        Some(code) => {
            let wanted = if raw.kind == "late" {
                "200 to 299 or 400 to 599"
            } else {
                "an error status from 400 to 599"
            };
            report.at(
                Key::Fault(n, "status"),
                format!("expected {wanted}, found {code}"),
            );
            None
        }
    }
}

/// Keeps fault `n`'s `key`, written `text` with an offset (`at`), to refuse
/// once the zone is known.
fn note_offset(
    report: &mut Reporter<'_>,
    n: usize,
    key: &'static str,
    text: &str,
    at: Option<DateTime<FixedOffset>>,
) {
    if let Some(at) = at {
        report.offsets.push(WithOffset {
            index: n,
            key,
            text: text.trim().to_string(),
            at: Some(at),
        });
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
                format!("{} fault takes no \"{key}\"", a_kind(&raw.kind)),
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
    } else if let Some(route) = &raw.route
        && route.contains(['{', '}'])
    {
        report.at(
            at("route"),
            format!("a route is a literal path prefix, matched against the paths requested (\"/teams/1610612737/roster\"), so \"{route}\" would match nothing; for every request of one scraper give \"scraper\""),
        );
    } else if let Some(route) = &raw.route
        && route.contains(['?', '#'])
    {
        report.at(
            at("route"),
            format!("a route is matched against the path only, so \"{route}\" would match nothing; leave out the query"),
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
    // `Retry-After` is sent in whole seconds: "500ms" went out as "0"
    // (retry at once) and "1500ms" as "1", whatever the file said.
    let retry_after = match retry_after {
        Some(d) if d.subsec_nanos() != 0 => {
            report.at(
                at("retry_after"),
                format!(
                    "Retry-After is sent in whole seconds, so \"{}\" would be sent as {}s; give whole seconds",
                    raw.retry_after.as_deref().unwrap_or_default(),
                    d.as_secs()
                ),
            );
            None
        }
        other => other,
    };
    let start = match parse_instant(&raw.start) {
        Ok((t, at)) => {
            note_offset(report, n, "start", &raw.start, at);
            Some(t)
        }
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
            Ok((t, at)) => {
                note_offset(report, n, "end", text, at);
                Some(t)
            }
            Err(message) => {
                report.at(at("end"), message);
                None
            }
        },
        // Past the last representable instant, the fault ends "never": the
        // calendar check below then names it (an unchecked sum panicked).
        (None, Some(d)) => start.map(|s| {
            Span::from_std(d)
                .ok()
                .and_then(|d| s.checked_add_signed(d))
                .unwrap_or(NaiveDateTime::MAX)
        }),
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
                Some(text) => match rebound_domain::calendar::time_of_day(text.trim()).ok_or(()) {
                    Ok(t) if t == NaiveTime::MIN => {
                        report.at(
                            at("publish_at"),
                            "\"00:00\" publishes at the start of every day, so the fault would never answer late; give a later time".to_string(),
                        );
                        None
                    }
                    Ok(t) => Some(t),
                    Err(()) => match time_with_offset(text.trim()) {
                        // Refused once the zone is known, which the
                        // message names; the time as written stands in.
                        Some(t) => {
                            report.offsets.push(WithOffset {
                                index: n,
                                key: "publish_at",
                                text: text.trim().to_string(),
                                at: None,
                            });
                            Some(t)
                        }
                        None => {
                            report.at(
                                at("publish_at"),
                                format!("expected a local time \"HH:MM\", found \"{text}\""),
                            );
                            None
                        }
                    },
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
            match delay {
                // A slow answer with no delay changes nothing, yet its
                // requests were counted as hit.
                Some(delay) if delay.is_zero() => {
                    report.at(at("delay"), "the delay must be longer than 0s".to_string());
                    None
                }
                delay => delay.map(|delay| FaultKind::Slow { delay }),
            }
        }
        "rate_limit" => {
            let requests = match raw.requests {
                Some(r) if r >= 1 && r <= i64::from(u32::MAX) => Some(r as u32),
                Some(r) => {
                    report.at(
                        at("requests"),
                        format!("expected 1 to {} requests per window, found {r}", u32::MAX),
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
            request: None,
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

    /// Before: `for = "999999999d"` panicked adding it to the start, and a
    /// huge `window` panicked in the injector mid-run.
    #[test]
    fn durations_beyond_the_longest_simulation_are_refused_at_their_key() {
        for (key, line) in [
            ("for = \"999999999d\"", "faults[0].for"),
            (
                "for = \"1h\"\nretry_after = \"401d\"",
                "faults[0].retry_after",
            ),
        ] {
            let text = format!(
                "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"status\"\nstatus = 429\nsource = \"a\"\nstart = \"2026-01-01\"\n{key}\n"
            );
            let error = parse(&text).unwrap_err().to_string();
            assert!(
                error.contains(&format!("{line}: ")) && error.contains("is longer than 400d"),
                "{error}"
            );
        }
        let text = "from = \"2026-01-01\"\ndays = 2\n[targets]\nfirst_alert_within = \"18446744073709551615s\"\n";
        let error = parse(text).unwrap_err().to_string();
        assert!(
            error.starts_with("t.toml:4:22: targets.first_alert_within: "),
            "{error}"
        );
        // 400 days is the longest simulation, and allowed.
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"rate_limit\"\nsource = \"a\"\nrequests = 1\nwindow = \"400d\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n";
        assert!(parse(text).is_ok());
    }

    /// Before: a `retry_after` of "500ms" was sent as `Retry-After: 0`.
    #[test]
    fn a_retry_after_is_whole_seconds() {
        for (kind, extra) in [
            ("status", "status = 429\n"),
            ("flaky", "rate = 0.5\n"),
            ("rate_limit", "requests = 1\nwindow = \"1m\"\n"),
        ] {
            let text = |after: &str| {
                format!(
                    "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"{kind}\"\n{extra}source = \"a\"\nretry_after = \"{after}\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n"
                )
            };
            let error = parse(&text("1500ms")).unwrap_err().to_string();
            assert!(
                error.contains("faults[0].retry_after: Retry-After is sent in whole seconds, so \"1500ms\" would be sent as 1s"),
                "{kind}: {error}"
            );
            assert!(parse(&text("2s")).is_ok(), "{kind}");
            assert!(parse(&text("2000ms")).is_ok(), "{kind}");
        }
    }

    /// Before: 101, 200 and 304 were accepted as fault answers.
    #[test]
    fn a_fault_answers_an_error_status_or_a_late_empty_success() {
        let fault = |kind: &str, extra: &str, status: u16| {
            format!(
                "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"{kind}\"\n{extra}source = \"a\"\nstatus = {status}\nstart = \"2026-01-01\"\nfor = \"1h\"\n"
            )
        };
        for (kind, extra) in [
            ("status", ""),
            ("flaky", "rate = 0.5\n"),
            ("late", "publish_at = \"09:00\"\n"),
        ] {
            for status in [101, 304, 399, 600] {
                let error = parse(&fault(kind, extra, status)).unwrap_err().to_string();
                assert!(
                    error.contains("faults[0].status: expected"),
                    "{kind} {status}: {error}"
                );
            }
            for status in [400, 429, 503, 599] {
                assert!(
                    parse(&fault(kind, extra, status)).is_ok(),
                    "{kind} {status}"
                );
            }
            assert_eq!(
                parse(&fault(kind, extra, 200)).is_ok(),
                kind == "late",
                "{kind} 200"
            );
        }
    }

    /// Before: a `late` fault publishing at midnight was accepted and
    /// never did anything.
    #[test]
    fn a_late_fault_published_at_midnight_is_refused() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"late\"\nsource = \"a\"\npublish_at = \"00:00\"\nstart = \"2026-01-01\"\nfor = \"1d\"\n";
        let error = parse(text).unwrap_err().to_string();
        assert!(
            error
                .starts_with("t.toml:6:14: faults[0].publish_at: \"00:00\" publishes at the start"),
            "{error}"
        );
        assert!(parse(&text.replace("00:00", "00:01")).is_ok());
    }

    /// Before: any year was accepted; far ones panicked in the runner.
    #[test]
    fn a_calendar_outside_the_upstreams_years_is_refused() {
        // Before: 2000-01-01 to 2199-12-31, whose ends the upstream
        // scheduled games for and then could not find by their ids.
        // After 2099 the zone rules end (rebound_domain::calendar::LAST_DATE).
        // 2000-07-01: its warm-up day is before the upstream's calendar.
        for from in [
            "2000-06-30",
            "2000-07-01",
            "2099-12-31",
            "2100-06-29",
            "2150-01-15",
        ] {
            let text = format!("from = \"{from}\"\ndays = 2\n");
            let error = parse(&text).unwrap_err().to_string();
            assert!(
                error.starts_with("t.toml:1:8: from: ")
                    && error.contains("would leave the simulated upstream's calendar"),
                "{error}"
            );
        }
        assert!(parse("from = \"2099-12-30\"\ndays = 2\n").is_ok());
        assert!(parse("from = \"2000-07-02\"\ndays = 2\n").is_ok());
        assert!(check_calendar(NaiveDate::MAX, 1).is_err());
        assert!(check_calendar(NaiveDate::MIN, 1).is_err());
        assert!(check_calendar(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), 401).is_err());
    }

    /// Before: negative counts and NaN were accepted and reported as
    /// missed after the whole run, and errors pointed at `[targets]`.
    #[test]
    fn targets_out_of_range_are_refused_at_their_key() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[targets]\nrecovered_alerts = -5\nfault_attempts_per_call_max = nan\ncompleteness_min = 1.5\n";
        let error = parse(text).unwrap_err().to_string();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines.len(), 3, "{error}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("t.toml:4:20: targets.recovered_alerts: expected a count")),
            "{error}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("t.toml:5:31: targets.fault_attempts_per_call_max: ")),
            "{error}"
        );
        assert!(
            lines.iter().any(
                |l| l.starts_with("t.toml:6:20: targets.completeness_min: expected a fraction")
            ),
            "{error}"
        );
    }

    /// Before: a start in the skipped hour was read as UTC, hours early,
    /// and the fault never fired.
    #[test]
    fn a_fault_in_the_spring_forward_gap_is_refused() {
        let text = "from = \"2026-03-08\"\ndays = 1\n[[faults]]\nkind = \"empty\"\nsource = \"a\"\nstart = \"2026-03-08T02:30\"\nfor = \"1h\"\n[[faults]]\nkind = \"empty\"\nsource = \"b\"\nstart = \"2026-03-08T01:30\"\nfor = \"45m\"\n";
        let scenario = parse(text).expect("parses");
        let error = scenario
            .check_zone(chrono_tz::America::New_York)
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines.len(), 2, "{error}");
        assert!(
            lines[0].starts_with(
                "t.toml:6:9: faults[0].start: 2026-03-08T02:30 does not exist in America/New_York"
            ),
            "{error}"
        );
        assert!(
            lines[0].ends_with(
                "the clocks jump past it to 2026-03-08T03:00; give a time outside the jump"
            ),
            "{error}"
        );
        assert!(
            lines[1].starts_with("t.toml:12:7: faults[1].for: 2026-03-08T02:15 does not exist"),
            "{error}"
        );
        assert!(
            lines[1].ends_with("change `for` so the fault ends outside the jump"),
            "{error}"
        );
        // The same times exist in a zone without DST.
        assert!(scenario.check_zone(chrono_tz::UTC).is_ok());
    }

    /// A time that `--from` moved into a gap names the time the file
    /// gives, and a gap of a whole day (Samoa skipped 2011-12-30) is named
    /// as such, not as "that hour".
    #[test]
    fn a_time_the_fall_back_repeats_is_warned_of() {
        let scenario = parse("from = \"2025-11-01\"\ndays = 2\n[[faults]]\nkind = \"down\"\nsource = \"api\"\nstart = \"2025-11-02T01:00\"\nend = \"2025-11-02T03:00\"\n").unwrap();
        assert_eq!(
            scenario.repeated_times(chrono_tz::America::New_York),
            [
                "faults[0].start: 2025-11-02T01:00 happens twice in America/New_York (clocks fall back); the first is taken, 01:00 EDT (UTC-04:00), not 01:00 EST (UTC-05:00)"
            ]
        );
        assert!(scenario.repeated_times(chrono_tz::UTC).is_empty());
    }

    #[test]
    fn a_fault_moved_into_a_gap_says_so() {
        let text = "from = \"2011-12-01\"\ndays = 1\n[[faults]]\nkind = \"empty\"\nsource = \"a\"\nstart = \"2011-12-01T10:00\"\nfor = \"1h\"\n";
        let mut scenario = parse(text).expect("parses");
        assert!(scenario.check_zone(chrono_tz::Pacific::Apia).is_ok());
        scenario
            .reframe(NaiveDate::from_ymd_opt(2011, 12, 30), None)
            .expect("in the calendar");
        let error = scenario
            .check_zone(chrono_tz::Pacific::Apia)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "t.toml:6:9: faults[0].start: 2011-12-30T10:00 (the file says 2011-12-01T10:00; --from moved it) \
                 does not exist in Pacific/Apia: the clocks jump past it to 2011-12-31T00:00"
            ),
            "{error}"
        );
    }

    /// Before: `--days 1` on a five-day outage said nothing, and a far
    /// `--from` panicked.
    #[test]
    fn reframing_checks_the_calendar_and_names_faults_left_outside() {
        let text = "from = \"2026-01-01\"\ndays = 5\n[[faults]]\nkind = \"empty\"\nsource = \"a\"\nstart = \"2026-01-03\"\nfor = \"1d\"\n";
        let mut scenario = parse(text).expect("parses");
        assert!(
            scenario
                .clone()
                .reframe(Some(NaiveDate::MAX), None)
                .is_err()
        );
        assert!(scenario.clone().reframe(None, Some(401)).is_err());
        // One fault of two left outside: a warning, and the other is run.
        let two = format!(
            "{text}[[faults]]\nkind = \"empty\"\nsource = \"b\"\nstart = \"2026-01-01T06:00\"\nfor = \"1h\"\n"
        );
        let warnings = parse(&two)
            .expect("parses")
            .reframe(None, Some(2))
            .expect("fits");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("faults[0] (empty on a, 2026-01-03T00:00 to 2026-01-04T00:00) is outside the simulated days (2026-01-01 to 2026-01-03)"), "{warnings:?}");
        // Cut by the new end: measured within the days only (before: no
        // word, and the report listed it ending after the simulation).
        let mut across = parse(&text.replace("2026-01-03", "2026-01-02T12:00")).expect("parses");
        let warnings = across.reframe(None, Some(2)).expect("fits");
        assert_eq!(
            warnings,
            [
                "faults[0] (empty on a, 2026-01-02T12:00 to 2026-01-03T12:00) runs past the simulated days (2026-01-01 to 2026-01-03): it is measured within them only"
            ]
        );
        let moved = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        assert!(
            scenario
                .reframe(Some(moved), None)
                .expect("fits")
                .is_empty()
        );
        assert_eq!(
            scenario.faults[0].start.date(),
            NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()
        );
    }

    /// Before: a fault on `/teams` also hit `/teams/{id}/roster`, and one
    /// on a scraper hit every scraper of the same endpoint.
    #[test]
    fn a_scrapers_request_shape_tells_it_from_its_neighbours() {
        let teams = RequestShape {
            path: "/teams".into(),
            query: vec![],
        };
        assert!(teams.matches("/teams", None));
        assert!(!teams.matches("/teams/12/roster", None));
        let roster = RequestShape {
            path: "/teams/{team_id}/roster".into(),
            query: vec![],
        };
        assert!(roster.matches("/teams/12/roster", Some("x=1")));
        assert!(!roster.matches("/teams", None));
        assert!(!roster.matches("/teams/12/roster/old", None));
        let props = RequestShape {
            path: "/events/{id}/odds".into(),
            query: vec![
                ("markets".into(), "player_points".into()),
                ("bookmakers".into(), "draftkings,fanduel".into()),
            ],
        };
        assert!(props.matches(
            "/events/e1/odds",
            Some("regions=us&markets=player_points&bookmakers=draftkings%2Cfanduel")
        ));
        assert!(!props.matches(
            "/events/e1/odds",
            Some("markets=spreads%2Ctotals&bookmakers=draftkings%2Cfanduel")
        ));
        assert!(!props.matches("/events/e1/odds", None));
        let report = RequestShape {
            path: "/injury/Report_{date}_{hour}{ampm}.pdf".into(),
            query: vec![],
        };
        assert!(report.matches("/injury/Report_2026-01-10_05PM.pdf", None));
        assert!(!report.matches("/injury/Summary_2026-01-10_05PM.pdf", None));
        assert!(!report.matches("/injury/Report_2026-01-10_05PM.json", None));
    }

    #[test]
    fn a_stale_alert_target_names_a_dataset_of_the_config() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[targets]\nstale_alert_for = \"api/gone\"\n";
        let mut scenario = parse(text).expect("parses");
        let mut names = Names::default();
        names.datasets.insert("api/games".into());
        let error = scenario.check_against(&names).unwrap_err().to_string();
        assert!(error.starts_with("t.toml:4:19: targets.stale_alert_for: unknown dataset \"api/gone\"; the config has api/games"), "{error}");
        names.datasets.insert("api/gone".into());
        assert!(scenario.check_against(&names).is_ok());
    }

    /// Before: a `stale_alert_for` dataset that can never be stale (no
    /// `fresh_warn` or `fresh_error`) was accepted, and the target read
    /// MISSED ("none") after the whole run.
    #[test]
    fn a_stale_alert_target_that_cannot_open_is_refused() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[targets]\nstale_alert_for = \"api/games\"\n";
        let mut names = Names::default();
        names.datasets.insert("api/games".into());
        assert!(parse(text).expect("parses").check_against(&names).is_ok());
        names.never_stale.insert(
            "api/games".into(),
            "it has no fresh_warn or fresh_error".into(),
        );
        let error = parse(text)
            .expect("parses")
            .check_against(&names)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "t.toml:4:19: targets.stale_alert_for: no dataset_stale alert can open for \"api/games\": it has no fresh_warn or fresh_error"
        );
    }

    /// Two scrapers' faults contradict each other only when a request can
    /// fit both (before: any shared path prefix was a contradiction).
    #[test]
    fn scrapers_with_a_shared_prefix_do_not_contradict() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"empty\"\nscraper = \"teams\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"changed_shape\"\nscraper = \"roster\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"empty\"\nscraper = \"lines\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"changed_shape\"\nscraper = \"props\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n";
        let mut names = Names::default();
        names.sources.insert("api".into());
        for (scraper, path, market) in [
            ("teams", "/teams", None),
            ("roster", "/teams/{id}/roster", None),
            ("lines", "/odds/{id}", Some("spreads")),
            ("props", "/odds/{id}", Some("points")),
        ] {
            names
                .scrapers
                .insert(scraper.into(), ("api".into(), path.into()));
            if let Some(market) = market {
                names
                    .queries
                    .insert(scraper.into(), vec![("markets".into(), market.into())]);
            }
        }
        let mut scenario = parse(text).expect("parses");
        assert!(scenario.check_against(&names).is_ok());
        // The same endpoint and market: one request fits both.
        names
            .queries
            .insert("props".into(), vec![("markets".into(), "spreads".into())]);
        let mut scenario = parse(text).expect("parses");
        let error = scenario.check_against(&names).unwrap_err().to_string();
        assert!(
            error.contains("faults[3].start: faults[2]") && error.contains("contradict"),
            "{error}"
        );
    }

    /// A scraper's fault and a route's contradict each other only when a
    /// request of the scraper starts with the route, and two scrapers'
    /// when one request fits both templates. Before: the scraper `/teams`
    /// and the route `/teams/1` (one team's roster) were refused as
    /// contradicting (the template's literal prefix starts the route), and
    /// `/games/{date}` and `/games/{game_id}`, which the injector applies
    /// to the same requests, were accepted (their templates differ).
    #[test]
    fn contradictions_are_judged_on_the_requests_both_faults_fit() {
        let mut names = Names::default();
        names.sources.insert("api".into());
        for (scraper, path) in [
            ("teams", "/teams"),
            ("roster", "/teams/{team_id}/roster"),
            ("by_date", "/games/{date}"),
            ("by_id", "/games/{game_id}"),
            ("today", "/games/today"),
            ("pdf", "/books/{id}.pdf"),
            ("json", "/books/{id}.json"),
        ] {
            names
                .scrapers
                .insert(scraper.into(), ("api".into(), path.into()));
        }
        let on = |target: &str| {
            if target.starts_with('/') {
                format!("source = \"api\"\nroute = \"{target}\"")
            } else {
                format!("scraper = \"{target}\"")
            }
        };
        let check = |a: &str, b: &str| {
            let text = format!(
                "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"down\"\n{}\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"empty\"\n{}\nstart = \"2026-01-01\"\nfor = \"1h\"\n",
                on(a),
                on(b)
            );
            let mut scenario = parse(&text).expect("parses");
            scenario.check_against(&names).map_err(|e| e.to_string())
        };
        for (a, b) in [
            ("teams", "/teams/1"),
            ("/teams/1", "teams"),
            ("teams", "/teams/"),
            ("pdf", "json"),
            ("today", "/games/yesterday"),
        ] {
            assert!(check(a, b).is_ok(), "{a} and {b}: {:?}", check(a, b));
        }
        for (a, b) in [
            ("teams", "/teams"),
            ("teams", "/tea"),
            ("roster", "/teams/1"),
            ("/teams/1", "roster"),
            ("by_date", "by_id"),
            ("by_id", "today"),
            ("today", "/games/to"),
        ] {
            let error = check(a, b).expect_err(&format!("{a} and {b} contradict"));
            assert!(
                error.contains("faults[1].start: faults[0]") && error.contains("contradict"),
                "{a} and {b}: {error}"
            );
        }
    }

    /// Before: a fault on a source the simulated upstream does not serve
    /// (or on one of its scrapers) was accepted, though its calls go to a
    /// closed port and never reach a fault: it measured nothing.
    #[test]
    fn a_fault_on_a_source_without_a_simulated_route_is_refused() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"down\"\nsource = \"own\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"empty\"\nscraper = \"items\"\nstart = \"2026-01-02\"\nfor = \"1h\"\n";
        let mut names = Names::default();
        names.sources.insert("own".into());
        names
            .scrapers
            .insert("items".into(), ("own".into(), "/items".into()));
        assert!(parse(text).expect("parses").check_against(&names).is_ok());
        names.unrouted.insert("own".into());
        let error = parse(text)
            .expect("parses")
            .check_against(&names)
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines.len(), 2, "{error}");
        assert!(
            lines[0].starts_with("t.toml:5:10: faults[0].source: source \"own\" has no simulated route (the simulated upstream serves the reference pipeline's sources by name: nba_cdn, "),
            "{error}"
        );
        assert!(
            lines[1].starts_with(
                "t.toml:10:11: faults[1].scraper: scraper \"items\" calls source \"own\", which has no simulated route"
            ),
            "{error}"
        );
    }

    /// Before: a fault on a scraper whose requests another scraper's fit
    /// too (the injury report's two variants) struck both, and nothing
    /// said so.
    #[test]
    fn a_fault_that_strikes_another_scrapers_requests_is_named() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"down\"\nscraper = \"v1\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"down\"\nscraper = \"teams\"\nstart = \"2026-01-01T02:00\"\nfor = \"1h\"\n";
        let mut names = Names::default();
        names.sources.insert("api".into());
        for (scraper, path) in [
            ("v1", "/report/Report_{date}_{hour}{ampm}.pdf"),
            ("v2", "/report/Report_{date}_{hour}_{minute}{ampm}.pdf"),
            ("teams", "/teams"),
            ("roster", "/teams/{id}/roster"),
        ] {
            names
                .scrapers
                .insert(scraper.into(), ("api".into(), path.into()));
        }
        let mut scenario = parse(text).expect("parses");
        scenario.check_against(&names).expect("checks");
        assert_eq!(
            scenario.shared_requests(&names),
            [
                "faults[0] (down on scraper v1) also strikes the requests of v2, which its path and query cannot be told from; its calls and attempts count v1's only"
            ]
        );
    }

    /// Before: accepted, counted as hitting the PDF's requests, and the
    /// PDF passed through unchanged.
    #[test]
    fn a_changed_shape_on_a_document_scraper_is_refused() {
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"changed_shape\"\nscraper = \"report\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"changed_shape\"\nscraper = \"games\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n";
        let mut names = Names::default();
        names.sources.insert("api".into());
        for (scraper, path) in [("report", "/report.pdf"), ("games", "/games")] {
            names
                .scrapers
                .insert(scraper.into(), ("api".into(), path.into()));
        }
        names.documents.insert("report".into(), "pdf".into());
        let mut scenario = parse(text).expect("parses");
        let error = scenario.check_against(&names).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert!(
            error.to_string().contains("t.toml:4:8: faults[0].kind: changed_shape moves a JSON answer's records under \"data_v2\", but scraper \"report\" fetches a pdf document"),
            "{error}"
        );
        // On a source, or a route, whose every scraper fetches a document
        // (before: accepted, and its requests counted as hit).
        let text = "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"changed_shape\"\nsource = \"api\"\nroute = \"/report\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"changed_shape\"\nsource = \"docs\"\nstart = \"2026-01-02\"\nfor = \"1h\"\n[[faults]]\nkind = \"changed_shape\"\nsource = \"api\"\nstart = \"2026-01-02\"\nfor = \"1h\"\n";
        names.sources.insert("docs".into());
        names
            .scrapers
            .insert("book".into(), ("docs".into(), "/book/{date}.pdf".into()));
        names.documents.insert("book".into(), "pdf".into());
        let mut scenario = parse(text).expect("parses");
        let error = scenario.check_against(&names).unwrap_err();
        let text = error.to_string();
        assert_eq!(error.problems.len(), 2, "{text}");
        assert!(text.contains("t.toml:4:8: faults[0].kind: changed_shape moves a JSON answer's records under \"data_v2\", but every scraper it covers (report) fetches a document"), "{text}");
        assert!(text.contains("t.toml:10:8: faults[1].kind: changed_shape moves a JSON answer's records under \"data_v2\", but every scraper it covers (book) fetches a document"), "{text}");
    }

    /// Before: "duplicate key", without naming it.
    #[test]
    fn a_duplicate_key_is_named() {
        let error = parse("from = \"2026-01-01\"\ndays = 1\ndays = 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("t.toml:3:1: duplicate key (at `days`)"),
            "{error}"
        );
    }

    /// Before: a `slow` fault of "0s" was accepted, changed nothing and
    /// still counted its requests as hit; and a one-day calendar read
    /// "1 days".
    #[test]
    fn a_slow_fault_without_delay_and_a_one_day_calendar_are_worded() {
        let text = "from = \"2026-01-01\"\ndays = 1\n[[faults]]\nkind = \"slow\"\nsource = \"a\"\ndelay = \"0s\"\nstart = \"2026-01-01T02:00\"\nfor = \"1h\"\n[[faults]]\nkind = \"down\"\nsource = \"a\"\nstart = \"2026-01-03T02:00\"\nfor = \"1h\"\n";
        let error = parse(text).unwrap_err().to_string();
        assert!(
            error.contains("t.toml:6:9: faults[0].delay: the delay must be longer than 0s"),
            "{error}"
        );
        assert!(
            error.contains("is outside the simulated calendar (2026-01-01 to 2026-01-02, 1 day)"),
            "{error}"
        );
    }

    /// Before: a `for` that took the fault's end past the last instant
    /// chrono represents panicked (exit 101) instead of naming the fault.
    #[test]
    fn a_fault_that_would_end_past_the_last_instant_is_outside_the_calendar() {
        let text = "from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"down\"\nsource = \"a\"\nstart = \"9999-12-31T23:00\"\nfor = \"400d\"\n";
        let error = parse(text).unwrap_err().to_string();
        assert!(
            error.contains("t.toml:6:9: faults[0].start:")
                && error.contains("is outside the simulated calendar"),
            "{error}"
        );
        // chrono's own extended years are not the documented form.
        let text = text.replace("9999-12-31T23:00", "+262142-12-31T23:00");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.contains("t.toml:6:9: faults[0].start: expected a local time"),
            "{error}"
        );
    }

    /// Before: every pair was a problem, each of which parsed the whole file
    /// again to find its line; 2,000 faults of one outage ran for minutes.
    /// Now each fault names the first earlier one it contradicts, and the
    /// file is parsed once.
    #[test]
    fn faults_that_all_overlap_are_one_problem_each() {
        let mut text = String::from("from = \"2026-01-01\"\ndays = 2\n");
        for minute in 0..300 {
            text.push_str(&format!(
                "[[faults]]\nkind = \"down\"\nsource = \"api\"\nstart = \"2026-01-01T{:02}:{:02}\"\nfor = \"6h\"\n",
                minute / 60,
                minute % 60
            ));
        }
        let mut names = Names::default();
        names.sources.insert("api".into());
        let mut scenario = parse(&text).expect("parses");
        let error = scenario.check_against(&names).unwrap_err();
        assert_eq!(error.problems.len(), 299);
        let last = error.problems.last().unwrap();
        assert_eq!(
            (last.line, last.key.as_str()),
            (3 + 299 * 5 + 3, "faults[299].start")
        );
        assert!(
            last.message
                .starts_with("faults[0] (down on api) and faults[299]"),
            "{}",
            last.message
        );
    }

    /// Each fault names the first earlier fault (by position in the file)
    /// it contradicts, whatever order their periods start in; faults that
    /// only touch do not contradict.
    #[test]
    fn a_contradiction_names_the_first_earlier_fault_whatever_the_starts() {
        let mut text = String::from("from = \"2026-01-01\"\ndays = 2\n");
        for (start, length) in [
            ("10:00", "2h"),
            ("08:00", "3h"),
            ("09:00", "4h"),
            ("13:00", "1h"),
        ] {
            text.push_str(&format!(
                "[[faults]]\nkind = \"down\"\nsource = \"api\"\nstart = \"2026-01-01T{start}\"\nfor = \"{length}\"\n"
            ));
        }
        let mut names = Names::default();
        names.sources.insert("api".into());
        let mut scenario = parse(&text).expect("parses");
        let error = scenario.check_against(&names).unwrap_err();
        let found: Vec<(&str, &str)> = error
            .problems
            .iter()
            .map(|p| (p.key.as_str(), &p.message[..p.message.find(" (").unwrap()]))
            .collect();
        assert_eq!(
            found,
            [
                ("faults[1].start", "faults[0]"),
                ("faults[2].start", "faults[0]")
            ]
        );
    }

    /// Before: 100,000 faults were accepted, and checking them took minutes.
    #[test]
    fn a_scenario_of_more_faults_than_the_cap_is_refused_at_the_first_beyond_it() {
        let mut text = String::from("from = \"2026-01-01\"\ndays = 2\n");
        for _ in 0..=MAX_FAULTS {
            text.push_str("[[faults]]\nkind = \"down\"\nsource = \"api\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n");
        }
        let error = parse(&text).unwrap_err();
        assert_eq!(error.problems.len(), 1);
        let problem = &error.problems[0];
        assert_eq!(
            (problem.line, problem.key.as_str()),
            (3 + MAX_FAULTS * 5, "faults[10000]")
        );
        assert_eq!(
            problem.message,
            "a scenario holds at most 10000 faults; this one has 10001"
        );
        // The schema says the same.
        assert!(
            include_str!("../../../docs/scenario.schema.json")
                .contains(&format!("\"maxItems\": {MAX_FAULTS},"))
        );
    }

    /// Before: accepted, then reported as missed ("no alert") on every run;
    /// and 2^32 requests were "expected at least 1".
    #[test]
    fn a_first_alert_target_without_faults_and_too_many_requests_are_refused() {
        let error =
            parse("from = \"2026-01-01\"\ndays = 2\n[targets]\nfirst_alert_within = \"1h\"\n")
                .unwrap_err()
                .to_string();
        assert!(
            error.starts_with("t.toml:4:22: targets.first_alert_within: is measured from the first fault's start, and the scenario has no [[faults]]"),
            "{error}"
        );
        // Before: accepted, and reported "not measured" on every run.
        let error = parse(
            "from = \"2026-01-01\"\ndays = 2\n[targets]\nfault_attempts_per_call_max = 0.05\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("t.toml:4:31: targets.fault_attempts_per_call_max: is measured during the faults, and the scenario has no [[faults]]"),
            "{error}"
        );
        let error = parse("from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"rate_limit\"\nsource = \"api\"\nrequests = 4294967296\nwindow = \"1m\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(
                "faults[0].requests: expected 1 to 4294967295 requests per window, found 4294967296"
            ),
            "{error}"
        );
    }

    /// Before: `a "empty" fault takes no "delay"`.
    #[test]
    fn a_fault_kind_takes_its_article() {
        let error = parse("from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"empty\"\nsource = \"api\"\ndelay = \"1s\"\nstart = \"2026-01-15\"\nfor = \"1h\"\n").unwrap_err().to_string();
        assert!(
            error.contains("faults[0].delay: an \"empty\" fault takes no \"delay\""),
            "{error}"
        );
        let error = parse("from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"down\"\nsource = \"api\"\ndelay = \"1s\"\nstart = \"2026-01-15\"\nfor = \"1h\"\n").unwrap_err().to_string();
        assert!(
            error.contains("faults[0].delay: a \"down\" fault takes no \"delay\""),
            "{error}"
        );
    }

    /// Before: chrono's `%m`, `%d` and `%H` took one digit, so these were
    /// accepted though the documented forms (and the schema) refuse them.
    #[test]
    fn dates_and_times_must_have_their_documented_form() {
        for (text, wanted) in [
            (
                "from = \"2026-1-15\"\ndays = 1\n",
                "t.toml:1:8: from: expected a date \"YYYY-MM-DD\", found \"2026-1-15\"",
            ),
            (
                "from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"down\"\nsource = \"api\"\nstart = \"2026-1-15\"\nfor = \"1h\"\n",
                "t.toml:6:9: faults[0].start: expected a local time \"YYYY-MM-DDTHH:MM\" or a date \"YYYY-MM-DD\", found \"2026-1-15\"",
            ),
            (
                "from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"down\"\nsource = \"api\"\nstart = \"2026-01-15T9:00\"\nfor = \"1h\"\n",
                "t.toml:6:9: faults[0].start: expected a local time",
            ),
            (
                "from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"late\"\nsource = \"api\"\npublish_at = \"9:00\"\nstart = \"2026-01-15\"\nfor = \"1h\"\n",
                "t.toml:6:14: faults[0].publish_at: expected a local time \"HH:MM\", found \"9:00\"",
            ),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.starts_with(wanted), "{error}");
        }
        // The documented forms still parse.
        let scenario = parse("from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"late\"\nsource = \"api\"\npublish_at = \"09:00\"\nstart = \"2026-01-15T01:30\"\nfor = \"1h\"\n").expect("parses");
        assert_eq!(
            scenario.faults[0].start.format("%H:%M").to_string(),
            "01:30"
        );
    }

    /// Before: "/games?x=1" and "/gamesXYZ" were accepted and hit nothing.
    #[test]
    fn a_route_that_can_match_nothing_is_refused() {
        let fault = |route: &str| {
            format!(
                "from = \"2026-01-01\"\ndays = 2\n[[faults]]\nkind = \"empty\"\nsource = \"api\"\nroute = \"{route}\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n"
            )
        };
        // Before: a `{param}` written into a route was accepted and
        // matched nothing (requests carry the value, not the name).
        let error = parse(&fault("/teams/{team}/roster"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("t.toml:6:9: faults[0].route: a route is a literal path prefix"),
            "{error}"
        );
        let error = parse(&fault("/games?x=1")).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "t.toml:6:9: faults[0].route: a route is matched against the path only"
            ),
            "{error}"
        );
        let mut names = Names::default();
        names.sources.insert("api".into());
        names
            .scrapers
            .insert("games".into(), ("api".into(), "/games".into()));
        names
            .scrapers
            .insert("box".into(), ("api".into(), "/box/{id}".into()));
        names
            .scrapers
            .insert("pbp".into(), ("api".into(), "/pbp/play_{id}.json".into()));
        names.scrapers.insert(
            "roster".into(),
            ("api".into(), "/teams/{team}/roster".into()),
        );
        for (route, known) in [
            ("/gamesXYZ", false),
            ("/gam", true),
            ("/games", true),
            ("/box/12", true),
            ("/boxes", false),
            // Before: one segment past the path, accepted, hit nothing.
            ("/teams/1/roster/x", false),
            ("/box/12/more", false),
            ("/teams/1/roster", true),
            ("/teams/1/ros", true),
            ("/teams/1/players", false),
            ("/pbp/play_", true),
            ("/pbp/pl", true),
            ("/pbp/play_42.json", true),
            ("/pbp/other_42.json", false),
        ] {
            let mut scenario = parse(&fault(route)).expect("parses");
            assert_eq!(scenario.check_against(&names).is_ok(), known, "{route}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_place() {
        let error = parse("from = \"2026-01-01\"\ndays = 2\nspeed = 3\n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("t.toml:3:1: "), "{error}");
        assert!(
            error.contains("unknown key \"speed\" (did you mean \"seed\"?); allowed keys: "),
            "{error}"
        );
        // Before: "invalid type: map, expected a string" and Rust's type
        // names ("expected i64", "expected struct RawTargets").
        for (text, wanted) in [
            (
                "from = 2026-01-01\ndays = 2\n",
                "t.toml:1:8: from: expected a string, found a table or an unquoted date or time (write dates and times in quotes",
            ),
            (
                "from = \"2026-01-01\"\ndays = 1.5\n",
                "t.toml:2:8: days: expected an integer, found floating point `1.5`",
            ),
            (
                "from = \"2026-01-01\"\ndays = 1\ntargets = \"x\"\n",
                "t.toml:3:11: targets: expected a table, found string \"x\"",
            ),
            // Before: "t.toml:2:8: expected an integer, found string" with
            // no key, in a file of many faults.
            (
                "from = \"2026-01-01\"\ndays = \"3\"\n",
                "t.toml:2:8: days: expected an integer, found string \"3\"",
            ),
            (
                "from = \"2026-01-01\"\ndays = 1\n[[faults]]\nkind = \"down\"\nsource = \"espn\"\nstart = \"2026-01-01\"\nfor = \"1h\"\n[[faults]]\nkind = \"flaky\"\nsource = \"espn\"\nstart = \"2026-01-01\"\nfor = \"1h\"\nrate = \"5%\"\n",
                "t.toml:13:8: faults[1].rate: expected a number",
            ),
            (
                "from = \"2026-01-01\"\ndays = 1\n[targets]\nslots_once = 1\n",
                "t.toml:4:14: targets.slots_once: expected a boolean, found integer `1`",
            ),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.starts_with(wanted), "{error}");
        }
    }

    /// Before: a fault time written with `Z` or an offset read "expected a
    /// local time", with no word that fault times are the pipeline's local
    /// times. Refused once the zone is known, naming it and the local time
    /// the instant is there; at once, without the zone, when the file has
    /// other problems.
    #[test]
    fn a_fault_time_with_an_offset_is_refused_naming_the_zone() {
        let text = "from = \"2026-12-31\"\ndays = 1\n[[faults]]\nkind = \"empty\"\nsource = \"a\"\nstart = \"2026-12-31T18:00:00Z\"\nend = \"2026-12-31T20:00+01:00\"\n";
        let scenario = parse(text).expect("refused once the zone is known");
        let error = scenario
            .check_zone(chrono_tz::America::New_York)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "t.toml:6:9: faults[0].start: fault times are local times in the pipeline's timezone, America/New_York, written without \"Z\" or an offset: found \"2026-12-31T18:00:00Z\", which is \"2026-12-31T13:00\" there\n\
             t.toml:7:7: faults[0].end: fault times are local times in the pipeline's timezone, America/New_York, written without \"Z\" or an offset: found \"2026-12-31T20:00+01:00\", which is \"2026-12-31T14:00\" there"
        );
        let error = parse(&text.replace("days = 1", "days = 0"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("t.toml:6:9: faults[0].start: fault times are local times in the pipeline's timezone ([pipeline] timezone), written without \"Z\" or an offset: found \"2026-12-31T18:00:00Z\"\n"),
            "{error}"
        );
        assert!(error.starts_with("t.toml:2:8: days: "), "{error}");
        // Not an offset: still the form it expects.
        for bad in ["18:00Q", "18:00+1é2", "18:00-é1"] {
            let error = parse(&text.replace("18:00:00Z", bad))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with("t.toml:6:9: faults[0].start: expected a local time"),
                "{bad}: {error}"
            );
        }
    }

    /// A control character is named at its own place, as in a config: a
    /// NUL on a line of its own read "key with no value" one column past it.
    #[test]
    fn a_nul_is_named_at_its_own_place() {
        let text = "from = \"2026-01-15\"\ndays = 1\n\0\n";
        let error = parse(text).unwrap_err().to_string();
        assert_eq!(
            error,
            "t.toml:3:1: invalid TOML: control character \\0 is not allowed (TOML takes none but tab, in strings and comments too)"
        );
    }

    /// Before: a `publish_at` with `Z` or an offset read "expected a local
    /// time \"HH:MM\"", with no word of the pipeline's zone, as fault
    /// times did before.
    #[test]
    fn a_publish_time_with_an_offset_is_refused_naming_the_zone() {
        let text = "from = \"2026-01-15\"\ndays = 1\n[[faults]]\nkind = \"late\"\nsource = \"a\"\npublish_at = \"09:00Z\"\nstart = \"2026-01-15\"\nfor = \"1d\"\n";
        let scenario = parse(text).expect("refused once the zone is known");
        let error = scenario
            .check_zone(chrono_tz::America::New_York)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "t.toml:6:14: faults[0].publish_at: publish times are local times \"HH:MM\" in the pipeline's timezone, America/New_York, written without \"Z\" or an offset: found \"09:00Z\""
        );
        for offset in ["09:00+01:00", "09:00-0500", "09:00+01", "09:00:00z"] {
            let error = parse(&text.replace("09:00Z", offset))
                .expect("refused once the zone is known")
                .check_zone(chrono_tz::Europe::Paris)
                .unwrap_err()
                .to_string();
            assert!(
                error.ends_with(&format!("in the pipeline's timezone, Europe/Paris, written without \"Z\" or an offset: found \"{offset}\"")),
                "{error}"
            );
        }
        // With other problems, refused at once, without the zone.
        let error = parse(&text.replace("days = 1", "days = 0"))
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("t.toml:6:14: faults[0].publish_at: publish times are local times \"HH:MM\" in the pipeline's timezone ([pipeline] timezone), written without \"Z\" or an offset: found \"09:00Z\""),
            "{error}"
        );
        // Not an offset: still the form it expects.
        for bad in ["09:00Q", "9:00Z", "09:00+1", "09:00+01:0"] {
            let error = parse(&text.replace("09:00Z", bad)).unwrap_err().to_string();
            assert_eq!(
                error,
                format!(
                    "t.toml:6:14: faults[0].publish_at: expected a local time \"HH:MM\", found \"{bad}\""
                )
            );
        }
    }

    /// Before: `--days` that left every fault outside the simulated days
    /// ran anyway, warned that each had no effect, and read MISSED for
    /// every target about faults (exit 1). It is refused, naming the first
    /// fault's start, the simulated days and the `--days` that reaches it.
    #[test]
    fn a_reframe_that_leaves_every_fault_outside_is_refused() {
        let text = "from = \"2026-01-01\"\ndays = 5\n[[faults]]\nkind = \"empty\"\nsource = \"a\"\nstart = \"2026-01-04T06:00\"\nfor = \"1d\"\n[[faults]]\nkind = \"empty\"\nsource = \"b\"\nstart = \"2026-01-03T12:00\"\nfor = \"1h\"\n";
        let scenario = parse(text).expect("parses");
        let error = scenario.clone().reframe(None, Some(2)).unwrap_err();
        assert_eq!(
            error,
            "no fault falls within the simulated days (2026-01-01 to 2026-01-03, 2 days): the first, faults[1] (empty on b), starts 2026-01-03T12:00, so the run would inject nothing and measure no fault; simulate at least 3 days (--days 3)"
        );
        // Moved by --from, the faults move with it and stay inside.
        let moved = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        assert!(scenario.clone().reframe(Some(moved), None).is_ok());
        assert!(scenario.clone().reframe(None, Some(3)).is_ok());
        // A scenario without faults has none to leave outside.
        let none = parse("from = \"2026-01-01\"\ndays = 5\n").expect("parses");
        assert!(none.clone().reframe(None, Some(1)).is_ok());
    }
}
