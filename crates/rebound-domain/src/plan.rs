//! The validated plan: what a config file means once every invariant holds.
//!
//! `rebound-config` parses TOML and resolves it into a [`Plan`]; everything
//! after that works only with these types. Invariants (checked by the
//! resolver, relied on everywhere else):
//! - every scraper's `source` names a source in [`Plan::sources`];
//! - every scraper named by a workflow exists, appears once per workflow, and
//!   every `after` names a scraper of an earlier step of that workflow;
//! - retry policies are already merged (scraper over source over `[retry]`)
//!   and satisfy [`crate::retry::RetryPolicy`]'s own invariants;
//! - limits are positive;
//! - every calendar's dataset is produced by some scraper, and its
//!   `refresh.scraper` exists and produces that dataset;
//! - every `for_each` names a defined calendar or a dataset some other
//!   scraper produces, and its `param` is used by the scraper's templates
//!   (never a built-in); within a workflow, the producer of a `for_each`
//!   dataset runs in an earlier step;
//! - every schedule's `calendar` names a calendar; `start < end`;
//!   durations are positive; `only_missing`, `lead`, `events_before` and
//!   `after_event_start` come with a `calendar`; cron expressions have five
//!   fields and parse with `croner`.

use crate::redact::Redactor;
use crate::retry::RetryPolicy;
use crate::template::Template;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A whole validated configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file this plan came from, for messages; `None` when built in code.
    pub config_path: Option<PathBuf>,
    pub pipeline: Pipeline,
    pub sources: BTreeMap<String, Source>,
    pub scrapers: BTreeMap<String, Scraper>,
    pub workflows: BTreeMap<String, Workflow>,
    /// `[calendars.X]`: event lists read from stored payloads.
    pub calendars: BTreeMap<String, Calendar>,
    /// `[scheduler]`: how `rebound serve` evaluates and executes.
    pub scheduler: SchedulerSettings,
    /// `[alerts]`: conditions, limits and sinks.
    pub alerts: crate::alerts::AlertSettings,
    /// `[datasets."NAME"]`: freshness and completeness expectations, by
    /// dataset name (only datasets that have some).
    pub datasets: BTreeMap<String, DatasetPolicy>,
    /// `[server]`: the HTTP endpoint of `rebound serve`.
    pub server: ServerSettings,
    /// `[handoff]`: the sinks of completion events.
    pub handoff: crate::handoff::HandoffSettings,
    /// Hides every value that came from `${VAR}`.
    pub redactor: Redactor,
}

/// `[pipeline]`: name, zone and where history and payloads go.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    /// Target dates such as `{date}` are dates in this zone.
    pub timezone: chrono_tz::Tz,
    pub database: DatabaseLocation,
    /// How long opening a PostgreSQL database waits for an answer
    /// (`connect_timeout`); `None` leaves it to the URL or the default.
    pub connect_timeout: Option<std::time::Duration>,
    pub raw_store: RawStoreLocation,
    /// How long history is kept (`retention`); `None` keeps everything.
    pub retention: Option<std::time::Duration>,
    /// `season_start` / `season_format`: supplies `{season}`,
    /// `{season_start_year}` and `{season_end_year}`; `None` when
    /// `season_start` is not set (then nothing supplies them).
    pub season: Option<crate::params::SeasonRule>,
}

/// Where history lives. Paths are already resolved against the config's folder.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    Sqlite {
        path: PathBuf,
    },
    /// The full `postgres://` URL; it may carry a password, so `Debug` hides it.
    Postgres {
        url: String,
    },
}

impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseLocation::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            DatabaseLocation::Postgres { .. } => write!(f, "postgres://…"),
        }
    }
}

impl DatabaseLocation {
    /// A description safe to print: no password.
    pub fn display_safe(&self) -> String {
        match self {
            DatabaseLocation::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseLocation::Postgres { url } => mask_url_password(url),
        }
    }
}

/// Replaces the passwords written in a URL by `***`: the userinfo's
/// (`scheme://user:password@host/...`) and a `password=` query parameter's
/// (`...?password=...`, which libpq and sqlx read as well).
pub fn mask_url_password(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut last = 0;
    for span in password_spans(url) {
        out.push_str(&url[last..span.start]);
        out.push_str(crate::redact::MASK);
        last = span.end;
    }
    out.push_str(&url[last..]);
    out
}

/// The passwords written in a URL, as written (percent-encoded), where
/// [`mask_url_password`] finds them; empty ones left out.
pub fn url_passwords(url: &str) -> Vec<&str> {
    password_spans(url)
        .into_iter()
        .map(|span| &url[span])
        .filter(|p| !p.is_empty())
        .collect()
}

/// Where a URL's passwords are, in order, not overlapping.
fn password_spans(url: &str) -> Vec<std::ops::Range<usize>> {
    let Some(scheme_end) = url.find("://") else {
        return Vec::new();
    };
    let start = scheme_end + 3;
    let rest = &url[start..];
    let mut spans = Vec::new();
    // The authority ends at the first `/`: a `?` or `#` before it may be an
    // unencoded character of the password, and masking too much is safe.
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let mut query_from = 0;
    if let (Some(at), Some(colon)) = (authority.rfind('@'), authority.find(':'))
        && colon < at
    {
        spans.push(start + colon + 1..start + at);
        query_from = at + 1;
    }
    if let Some(q) = rest[query_from..].find('?') {
        let query_start = query_from + q + 1;
        let query_end = rest[query_start..]
            .find('#')
            .map_or(rest.len(), |h| query_start + h);
        let mut pair_start = query_start;
        for pair in rest[query_start..query_end].split('&') {
            if let Some(value) = pair.strip_prefix("password=") {
                let value_start = start + pair_start + "password=".len();
                spans.push(value_start..value_start + value.len());
            }
            pair_start += pair.len() + 1;
        }
    }
    spans
}

/// Where raw payloads go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawStoreLocation {
    /// A local folder, already resolved against the config's folder.
    File {
        path: PathBuf,
    },
    S3 {
        bucket: String,
        prefix: String,
    },
    Gcs {
        bucket: String,
        prefix: String,
    },
}

impl RawStoreLocation {
    pub fn display(&self) -> String {
        match self {
            RawStoreLocation::File { path } => format!("file://{}", path.display()),
            RawStoreLocation::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
            RawStoreLocation::Gcs { bucket, prefix } => format!("gs://{bucket}/{prefix}"),
        }
    }
}

/// A string from the config that may be (or contain) a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigValue {
    pub value: Template,
    /// True when any part came from `${VAR}`; `Debug` then hides the value.
    pub secret: bool,
}

impl std::fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            write!(f, "***")
        } else {
            write!(f, "{:?}", self.value)
        }
    }
}

/// `[sources.X]`: an upstream API and how to treat it.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// Without a trailing slash; scraper paths are appended to it.
    pub base_url: ConfigValue,
    /// Per attempt, covering connect, headers and the whole body.
    pub timeout: Duration,
    /// Calls in flight to this source at once (> 0).
    pub max_concurrency: usize,
    /// Larger bodies fail with kind `body_too_large` (> 0).
    pub max_body_bytes: u64,
    pub headers: Vec<(String, ConfigValue)>,
    pub query: Vec<(String, ConfigValue)>,
    /// `[retry]` merged with `[sources.X.retry]`; scrapers merge on top.
    pub retry: RetryPolicy,
    /// `rate_limit = "20/min"`: requests to this source are spaced evenly.
    pub rate_limit: Option<crate::ratelimit::Rate>,
    /// `quota = { per, requests, remaining_header }`.
    pub quota: Option<crate::quota::Quota>,
    /// `pause_on_rate_limit` (default true): rate-limit headers in a
    /// response pause the whole source (`ratelimit::source_pause`). False
    /// leaves them to the call that got them, which is how a pipeline
    /// that ignores them behaves (the simulator's `--policy original`).
    pub pause_on_rate_limit: bool,
    /// `[sources.X.breaker]`: the source's circuit breaker.
    pub breaker: crate::breaker::BreakerConfig,
    /// `retry_budget`: the share of extra load retries may add.
    pub retry_budget: crate::retry_budget::RetryBudgetConfig,
    /// `health = { path, expect_status, timeout }`: the probe `rebound
    /// health` sends; `None` when the source has none.
    pub health: Option<HealthProbe>,
    /// `follow_redirects`: which redirects calls and probes follow.
    pub follow_redirects: FollowRedirects,
    /// `proxy` / `proxies` and their rotation, retry statuses and
    /// breaker; `None`: requests go directly (environment proxy variables
    /// are ignored unless `proxy = "env"`).
    pub proxies: Option<crate::proxy::SourceProxies>,
}

/// `follow_redirects = "same_host" | "any" | "none"`: which redirects a
/// source's calls and health probe follow. "Another host" means another
/// origin: scheme, host or port differ from the request's.
///
/// Configured headers and query values are the source's credentials, so
/// they never travel to another host: with `Any` a cross-host redirect is
/// followed bare (no configured header, none of the configured query
/// parameters, no `Referer`); with `SameHost` it is not followed at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowRedirects {
    /// Follow redirects within the source's host, with its headers; a
    /// redirect to another host fails the call (kind `client`).
    #[default]
    SameHost,
    /// Also follow redirects to other hosts, stripped of every configured
    /// header, query parameter and the `Referer`.
    Any,
    /// Follow no redirect: every 3xx with a `Location` fails the call
    /// (kind `client`).
    None,
}

impl FollowRedirects {
    pub const ALL: [FollowRedirects; 3] = [
        FollowRedirects::SameHost,
        FollowRedirects::Any,
        FollowRedirects::None,
    ];

    /// As written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowRedirects::SameHost => "same_host",
            FollowRedirects::Any => "any",
            FollowRedirects::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<FollowRedirects> {
        FollowRedirects::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

/// A source's health probe: a GET of `base_url + path` with the source's
/// headers and query, healthy when it answers `expect_status` in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthProbe {
    /// Starts with `/`; may use the built-in date parameters only.
    pub path: Template,
    /// The path as written (after `${VAR}`), for messages; redact it.
    pub path_text: String,
    pub expect_status: u16,
    pub timeout: Duration,
}

/// `[datasets."NAME"]`: when a dataset counts as stale or incomplete. The
/// dataset is produced by at least one scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetPolicy {
    pub name: String,
    /// Older than this (since its newest real change): warning.
    pub fresh_warn: Option<Duration>,
    /// Older than this: critical. Longer than `fresh_warn` when both are set.
    pub fresh_error: Option<Duration>,
    /// Fanned-out datasets (a producer has `for_each = { calendar, param }`):
    /// every event of the target date collected by its start plus this.
    pub complete_by: Option<CompleteBy>,
}

/// `complete_by = { after_event_start = "6h", severity = "critical" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompleteBy {
    pub after_event_start: Duration,
    pub severity: Severity,
}

/// How bad a configured shortfall is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Rules that make a response `no_data`, checked before anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoDataRules {
    /// Any of these statuses means no data.
    pub status: Vec<u16>,
    /// A body containing any of these strings means no data.
    pub body_contains: Vec<String>,
}

/// `[scrapers.X]`: one HTTP request against a source.
#[derive(Debug, Clone)]
pub struct Scraper {
    pub name: String,
    pub source: String,
    /// Upper-case HTTP method.
    pub method: String,
    pub path: Template,
    pub query: Vec<(String, ConfigValue)>,
    pub headers: Vec<(String, ConfigValue)>,
    /// JSON Pointer (RFC 6901) to the records array; missing or empty means no_data.
    pub records: Option<String>,
    pub no_data: NoDataRules,
    /// Dataset name; defaults to the scraper's name.
    pub dataset: String,
    /// Fully merged policy used for this scraper's calls.
    pub retry: RetryPolicy,
    /// One call per item instead of one call per run.
    pub for_each: Option<ForEach>,
    /// When the data is due (`expected_within` / `expected_by`): a no_data
    /// before the deadline is `not_yet_available`, after it `overdue`.
    pub expected: Option<Expectation>,
    /// `lockout = { after, for }` (fanned-out scrapers only).
    pub lockout: Option<Lockout>,
    /// `timeout`: this scraper's per-attempt time limit, overriding its
    /// source's; see [`Scraper::timeout`].
    pub timeout: Option<Duration>,
    /// `paginate`: follow the API's pages within one call; `None` makes
    /// one request per call (and its retries).
    pub paginate: Option<crate::paginate::Paginate>,
    /// With `for_each`: parameters bound from each item besides
    /// [`ForEach::param`] (`for_each.params`), in the order written.
    pub item_params: Vec<ItemParam>,
    /// `valid_from` / `valid_until`: the target dates this scraper (one
    /// variant of a dataset's scraper) is for.
    pub valid: Validity,
    // Documents and conditional requests (issue 13, items 4 and 5).
    /// `format`: what the payload is; checked against its content type
    /// and first bytes (`rebound_domain::document`).
    pub format: crate::document::PayloadFormat,
    /// `min_bytes`: for formats other than JSON, a payload (or transform
    /// output) shorter than this is no_data. Default 1.
    pub min_bytes: u64,
    /// `transform`: the command that turns the document into the primary output.
    pub transform: Option<crate::document::Transform>,
    /// `conditional`: send `If-None-Match` / `If-Modified-Since` from the
    /// previous successful call with the same parameters.
    pub conditional: bool,
}

/// One parameter a fan-out binds from each item: `home =
/// "homeTeam.teamTricode"` reads member `teamTricode` of member `homeTeam`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemParam {
    pub param: String,
    /// The dotted path as written, for messages.
    pub path: String,
}

impl ItemParam {
    /// The members to walk, in order. A member whose own name contains a
    /// dot is found too: the whole path is tried as one name first.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.path.split('.')
    }
}

/// The target dates a scraper is valid on, both ends inclusive; unbounded
/// by default. A workflow lists several variants of one dataset's scraper
/// (an API that changed its URL on a date) and runs the one valid on the
/// target date; the resolver makes sure variants in one workflow never
/// overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub from: Option<chrono::NaiveDate>,
    pub until: Option<chrono::NaiveDate>,
}

impl Validity {
    /// True when neither end is set.
    pub fn is_always(&self) -> bool {
        self.from.is_none() && self.until.is_none()
    }

    pub fn contains(&self, date: chrono::NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= date) && self.until.is_none_or(|until| date <= until)
    }

    /// True when some date is in both.
    pub fn overlaps(&self, other: &Validity) -> bool {
        let start = match (self.from, other.from) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let end = match (self.until, other.until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (start, end) {
            (Some(start), Some(end)) => start <= end,
            _ => true,
        }
    }

    /// `2025-12-23..` , `..2025-12-22`, `2025-12-01..2025-12-22` or `always`.
    pub fn describe(&self) -> String {
        let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        if self.is_always() {
            "always".to_string()
        } else {
            format!("{}..{}", day(self.from), day(self.until))
        }
    }
}

/// When a scraper's data is due, and how often to look again meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    pub due: Due,
    /// A `not_yet_available` call is checked again this long after
    /// (never later than the deadline).
    pub recheck: Duration,
}

/// The two ways to declare a due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// `expected_within = { after_event_start, deadline }`: counted from the
    /// start of the call's calendar event (or, without one, from the local
    /// midnight starting the target date). Expected `after` the start,
    /// overdue `deadline` after it (`deadline >= after`).
    AfterEventStart { after: Duration, deadline: Duration },
    /// `expected_by = "HH:MM"`: local time on the target date; the deadline.
    By { time: chrono::NaiveTime },
}

/// `lockout = { after = 3, for = "24h" }`: an entity whose calls had no
/// data or failed `after` times in a row is not called for `duration`, or
/// until the dataset the fan-out reads gets a new payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub after: u32,
    pub duration: Duration,
}

/// What call parameters are given for: a workflow's scrapers, or one
/// scraper.
#[derive(Debug, Clone, Copy)]
pub enum ParamsFor<'a> {
    Workflow(&'a str),
    Scraper(&'a str),
}

impl Plan {
    /// The history database for people: [`DatabaseLocation::display_safe`]
    /// with every `${VAR}` value masked too (a user, a host, a
    /// `?password=` may come from the environment).
    pub fn database_display(&self) -> String {
        self.redactor
            .redact(&self.pipeline.database.display_safe())
            .into_owned()
    }

    /// Why `params` cannot be given to `target`: the first parameter no
    /// template of its scrapers uses (a misspelt name would otherwise be
    /// ignored, or worse, mistaken for another's), with the ones it takes.
    /// `None` when every one is known. Built-in names (`date`, …) are left
    /// to the engine, which says to pass the date instead; an unknown
    /// workflow or scraper too. `rebound run`, `scrape` and `backfill` and
    /// the API's `POST /scrape` and workflow runs all refuse with it.
    pub fn unknown_param(
        &self,
        target: ParamsFor<'_>,
        params: &BTreeMap<String, String>,
    ) -> Option<String> {
        use crate::template::BUILTIN_PARAMS;
        let (kind, name, scrapers): (&str, &str, Vec<&str>) = match target {
            ParamsFor::Workflow(name) => {
                let workflow = self.workflows.get(name)?;
                ("workflow", name, workflow.scraper_names().collect())
            }
            ParamsFor::Scraper(name) => ("scraper", name, vec![name]),
        };
        let mut takes: Vec<String> = Vec::new();
        for scraper in scrapers {
            let scraper = self.scrapers.get(scraper)?;
            let Some(source) = self.sources.get(&scraper.source) else {
                continue;
            };
            takes.extend(scraper.required_params(source));
            // A fan-out's item id may be in no template (a game book
            // addressed by its teams) yet identifies the call and its
            // lockout.
            takes.extend(scraper.fan_out_params().into_iter().map(String::from));
        }
        takes.retain(|p| !BUILTIN_PARAMS.contains(&p.as_str()));
        takes.sort();
        takes.dedup();
        let param = params
            .keys()
            .find(|p| !BUILTIN_PARAMS.contains(&p.as_str()) && !takes.contains(p))?;
        let known = if takes.is_empty() {
            "it takes no parameters".to_string()
        } else {
            format!("it takes: {}", takes.join(", "))
        };
        // The parameter's name is the caller's (`--param`, an API body),
        // so written on one line whatever it holds: the CLI keeps the line
        // breaks of the errors it prints, and from the finished text one
        // inside a name cannot be told from one of the message's own.
        Some(format!(
            "unknown parameter \"{}\" for {kind} \"{name}\"; {known}",
            crate::message::escape_controls(param, false)
        ))
    }
}

impl Scraper {
    /// The time limit of one attempt: the scraper's own `timeout` when it
    /// sets one, else its source's.
    pub fn timeout(&self, source: &Source) -> Duration {
        self.timeout.unwrap_or(source.timeout)
    }

    /// The parameters a fan-out of this scraper binds from each item:
    /// [`ForEach::param`] then [`Scraper::item_params`]. Empty without
    /// `for_each`.
    pub fn fan_out_params(&self) -> Vec<&str> {
        match &self.for_each {
            Some(for_each) => std::iter::once(for_each.param())
                .chain(self.item_params.iter().map(|p| p.param.as_str()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Every parameter the scraper's templates use, built-ins included, sorted.
    pub fn required_params(&self, source: &Source) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let templates = std::iter::once(&self.path)
            .chain(std::iter::once(&source.base_url.value))
            .chain(self.query.iter().map(|(_, v)| &v.value))
            .chain(self.headers.iter().map(|(_, v)| &v.value))
            .chain(source.query.iter().map(|(_, v)| &v.value))
            .chain(source.headers.iter().map(|(_, v)| &v.value));
        for template in templates {
            for name in template.params() {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        names
    }
}

/// `[workflows.X]`: scrapers in steps.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    /// Run in order; the scrapers of one step run concurrently.
    pub steps: Vec<Step>,
    /// When `rebound serve` runs it; `None` means only by hand.
    pub schedule: Option<Schedule>,
}

impl Workflow {
    /// Every scraper of the workflow, in step order.
    pub fn scraper_names(&self) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .flat_map(|s| s.scrapers.iter().map(String::as_str))
    }
}

/// One step of a workflow.
#[derive(Debug, Clone)]
pub struct Step {
    pub scrapers: Vec<String>,
    /// Scrapers of earlier steps that must not have failed or been skipped.
    pub after: Vec<String>,
}

/// `for_each` on a scraper: fan out to one call per item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForEach {
    /// One call per event of the calendar on the target date;
    /// the event's id goes into parameter `param`.
    Calendar { calendar: String, param: String },
    /// One call per item of the latest payload of `dataset` for the target
    /// date: `items` is an RFC 9535 JSONPath selecting the items, `value` the
    /// member of each item that goes into parameter `param`.
    Dataset {
        dataset: String,
        items: String,
        value: String,
        param: String,
    },
}

impl ForEach {
    /// The parameter each item's value is passed as.
    pub fn param(&self) -> &str {
        match self {
            ForEach::Calendar { param, .. } | ForEach::Dataset { param, .. } => param,
        }
    }
}

/// `[calendars.X]`: the events (games) of each date, read from the latest
/// stored payload of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub name: String,
    pub dataset: String,
    /// RFC 9535 JSONPath selecting the event objects.
    pub events: String,
    /// Member of each event holding its id (string or number).
    pub id: String,
    /// Member of each event holding its RFC 3339 start time.
    pub start: String,
    pub refresh: Option<CalendarRefresh>,
}

/// `refresh = { scraper, max_age, override_max_age, override_until }`:
/// run `scraper` before using the calendar when its payload is older than
/// `max_age`. While `override_until` is in the future, `override_max_age`
/// applies instead (for "the schedule host is down, stop hammering it").
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarRefresh {
    pub scraper: String,
    pub max_age: Duration,
    pub override_max_age: Option<Duration>,
    pub override_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl CalendarRefresh {
    /// The staleness threshold in force at `now`.
    pub fn max_age_at(&self, now: chrono::DateTime<chrono::Utc>) -> Duration {
        match (self.override_max_age, self.override_until) {
            (Some(age), Some(until)) if now < until => age,
            (Some(age), None) => age,
            _ => self.max_age,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSettings {
    /// Where `rebound serve` answers `/metrics` and `/healthz`; `None`: no
    /// HTTP server. Port 0 lets the system pick a free port.
    pub listen: Option<std::net::SocketAddr>,
    /// The JSON API's bearer token; `None`: every mutation is refused.
    pub token: Option<ApiToken>,
    /// Reads need no token even on a non-loopback `listen`.
    pub public_read: bool,
    /// The variable `token` names when it was not set (a command that
    /// allows that: `check`, the reports), so that `check` does not
    /// describe a token it could not read as absent: `serve` refuses to
    /// start without it.
    pub token_unset: Option<String>,
}

impl ServerSettings {
    /// True when `listen` is reachable from other machines: reads then
    /// need the token unless `public_read` (on loopback only this
    /// machine's users reach it, as with the CLI). An IPv4-mapped
    /// loopback (`[::ffff:127.0.0.1]`) is loopback: `check` warned it was
    /// reachable from other machines.
    pub fn listens_beyond_loopback(&self) -> bool {
        self.listen
            .is_some_and(|addr| !addr.ip().to_canonical().is_loopback())
    }

    /// Whether reads (GET) need the bearer token.
    pub fn reads_need_token(&self) -> bool {
        self.listens_beyond_loopback() && !self.public_read
    }
}

/// `[server] token`: a secret. Its `Debug` never shows the value, so a
/// plan printed with `{:?}` (in a log or a panic message) cannot leak it;
/// the value is also registered with the plan's [`Redactor`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn new(value: String) -> ApiToken {
        ApiToken(value)
    }

    /// The token itself, for comparing with a request's.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// `[scheduler]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerSettings {
    /// A running job's lease; renewed at a third of it while the run works.
    pub lease: Duration,
    /// Slots missed while down run once when younger than this.
    pub catch_up: Duration,
    /// Longest pause between evaluations, even when nothing is due (so new
    /// data, such as a calendar refresh, is noticed).
    pub max_idle: Duration,
    /// How long in-flight runs may finish on shutdown before they are released.
    pub shutdown_grace: Duration,
    /// Retry waits longer than this are stored as scheduled work instead of slept.
    pub max_inline_wait: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            lease: Duration::from_secs(60),
            catch_up: Duration::from_secs(6 * 3600),
            max_idle: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            max_inline_wait: Duration::from_secs(5),
        }
    }
}

/// Which date a scheduled run collects for, relative to the local date of its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetDate {
    #[default]
    Today,
    Yesterday,
}

impl TargetDate {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetDate::Today => "today",
            TargetDate::Yesterday => "yesterday",
        }
    }
}

/// A workflow's `schedule`. Times are local to the pipeline's zone; every
/// `end` is exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    /// The target date must have events in this calendar, otherwise SKIP.
    pub calendar: Option<String>,
    pub target_date: TargetDate,
    /// Fan out only over the calendar's events not yet collected
    /// successfully for the target date; SKIP when none are missing.
    pub only_missing: bool,
    /// Re-runs of a failed or partial run (`retry_every`, `retry_max`):
    /// kinds `window` (inside the window) and `at` (until the end of the
    /// slot's local day) only; `None` for the other kinds and with
    /// `retry_max = 0`.
    pub retry: Option<ScheduleRetry>,
}

/// How a schedule re-runs a run that ended failed or partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleRetry {
    /// How long after the failed run finished the next try is due.
    pub every: Duration,
    /// Most re-runs per slot and target date (at least 1).
    pub max: u32,
}

impl ScheduleRetry {
    /// `retry_every` when none is written: the original pipeline re-ran its
    /// morning operations every hour until they succeeded.
    pub const DEFAULT_EVERY: Duration = Duration::from_secs(3600);
    /// `retry_max` when none is written.
    pub const DEFAULT_MAX: u32 = 3;
    /// Bounds of `retry_every`: at least a minute (slots are minutes; a
    /// quicker retry would hammer a source that just failed), at most a day.
    pub const MIN_EVERY: Duration = Duration::from_secs(60);
    pub const MAX_EVERY: Duration = Duration::from_secs(24 * 3600);
    /// Bound of `retry_max`: a day of retries a minute apart is far more
    /// than any source deserves; 24 is one an hour.
    pub const MAX_MAX: u32 = 24;
}

/// The kinds of schedule, with their own keys.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleKind {
    /// Five-field cron (minute hour day-of-month month day-of-week), local time.
    Cron { cron: String },
    /// Once per date, between `start` and `end`, never after `end`.
    Window {
        start: chrono::NaiveTime,
        end: chrono::NaiveTime,
    },
    /// Slots at `start`, `start + every`, … before `end`; with a calendar and
    /// `lead`, only slots from `lead` before the date's first event.
    Every {
        start: chrono::NaiveTime,
        end: chrono::NaiveTime,
        every: Duration,
        lead: Option<Duration>,
    },
    /// One slot at `at`, due from `at` until `at + tolerance` (never early). With
    /// `events_before`, only events starting before that local time count;
    /// with `after_event_start`, only events started at least that long ago.
    At {
        at: chrono::NaiveTime,
        tolerance: Duration,
        events_before: Option<chrono::NaiveTime>,
        after_event_start: Option<Duration>,
    },
    /// Poll at `start`, `start + every`, … before `end` until a run returns
    /// data for the target date, at most `max_attempts` times.
    Discovery {
        start: chrono::NaiveTime,
        end: chrono::NaiveTime,
        every: Duration,
        max_attempts: u32,
    },
}

impl ScheduleKind {
    pub fn name(&self) -> &'static str {
        match self {
            ScheduleKind::Cron { .. } => "cron",
            ScheduleKind::Window { .. } => "window",
            ScheduleKind::Every { .. } => "every",
            ScheduleKind::At { .. } => "at",
            ScheduleKind::Discovery { .. } => "discovery",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_in_urls() {
        assert_eq!(
            mask_url_password("postgres://app:hunter2@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            mask_url_password("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        // A password given as a query parameter, as libpq and sqlx take it.
        assert_eq!(
            mask_url_password("postgres://app@db/x?sslmode=require&password=hunter2#f"),
            "postgres://app@db/x?sslmode=require&password=***#f"
        );
        assert_eq!(
            mask_url_password("postgres://app:ab@db?password=cd&user=app"),
            "postgres://app:***@db?password=***&user=app"
        );
        // `passwordx=` is another parameter; no scheme, no URL.
        assert_eq!(
            mask_url_password("postgres://db/x?passwordx=1"),
            "postgres://db/x?passwordx=1"
        );
        assert_eq!(mask_url_password("password=1"), "password=1");
        assert_eq!(
            url_passwords("postgres://app:p%40ss@db/x?password=cd&password="),
            vec!["p%40ss", "cd"]
        );
    }
}
