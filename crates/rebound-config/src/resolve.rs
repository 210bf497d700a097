//! From raw structs to a [`Plan`] in which every invariant holds.
//!
//! The resolver never stops at the first problem: it records each one
//! against its key path and carries on with a stand-in value, so a user
//! fixing a file sees every mistake in one run instead of one per run.
//! A plan is returned only when nothing was recorded.
//!
//! Environment substitution happens here (not before serde) because only
//! here is the key path of each string known, which the "variable not set"
//! message needs; it happens before `{param}` templates are parsed, with
//! variable values brace-escaped (see `env`).

use crate::bounds;
use crate::env::{Substituted, Target, substitute};
use crate::error::closest;
use crate::keypath::KeyPath;
use crate::location::{parse_database, parse_raw_store};
use crate::raw::{
    RawBreaker, RawConfig, RawDuration, RawQuota, RawRetry, RawRetryBudget, RawScraper, RawSource,
    RawWorkflow,
};
use chrono::NaiveDate;
use rebound_domain::breaker::BreakerConfig;
use rebound_domain::duration::{format_duration, parse_duration};
use rebound_domain::plan::{
    Calendar, ConfigValue, DatabaseLocation, DatasetPolicy, FollowRedirects, NoDataRules, Pipeline,
    Plan, RawStoreLocation, SchedulerSettings, Scraper, Source, Step, Validity, Workflow,
};
use rebound_domain::quota::{Quota, QuotaPeriod};
use rebound_domain::ratelimit::Rate;
use rebound_domain::redact::Redactor;
use rebound_domain::retry::{Jitter, RetryPolicy};
use rebound_domain::retry_budget::RetryBudgetConfig;
use rebound_domain::template::Template;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

mod alerts;
mod cron;
mod document;
mod handoff;
mod health;
mod late_data;
mod paginate;
mod proxy;
mod scheduling;
mod server;
mod supply;

const DEFAULT_TIMEZONE: &str = "UTC";
const DEFAULT_DATABASE: &str = "sqlite://rebound.db";
const DEFAULT_RAW_STORE: &str = "file://raw";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
const DEFAULT_MAX_CONCURRENCY: usize = 4;
const DEFAULT_MAX_BODY_BYTES: u64 = 52_428_800;
const DEFAULT_METHOD: &str = "GET";
/// The shortest `retention`: the health report (completeness, a
/// workflow's failures) and the scheduler (`only_missing`, today's runs)
/// read yesterday and today in the pipeline's zone, which starts up to
/// 48 hours back (see `check_retention_floor` for what makes it longer).
const RETENTION_FLOOR: Duration = Duration::from_secs(2 * 86_400);

/// Methods a scraper may use. Any RFC 9110 token is a legal method, but a
/// misspelt "GTE" is far likelier than a real custom method, so the list is
/// closed.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// A problem found while resolving: where, and what (already redacted).
pub(crate) type Found = (KeyPath, String);

/// What resolving found besides the plan.
pub(crate) struct Resolved {
    pub plan: Plan,
    /// Variables that were not set where that was allowed: (key, variable).
    pub unset: Vec<(KeyPath, String)>,
    /// `${VAR}`s in values sent to an upstream (URLs, paths, headers,
    /// query values, proxy URLs under `sources` and `scrapers`; not typed
    /// values such as a timeout): (key, variable, length in characters).
    pub upstream: Vec<(KeyPath, String, usize)>,
    /// `$NAME` without braces: (key, variable).
    pub bare: Vec<(KeyPath, String)>,
}

/// Resolves `raw` into a plan, or returns every problem found. A variable
/// that is not set is a problem only under the top-level keys `required`
/// names (`None`: everywhere); elsewhere it reads as empty, is reported in
/// [`Resolved::unset`], and problems of the keys that used it are dropped
/// (the empty stand-in is not what the user wrote).
pub(crate) fn resolve(
    raw: &RawConfig,
    config_path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    required: Option<&[&str]>,
) -> Result<Resolved, Vec<Found>> {
    let base_dir = config_path.parent().unwrap_or(Path::new(""));
    let mut resolver = Resolver {
        env,
        base_dir,
        problems: Vec::new(),
        secrets: Vec::new(),
        required: required.map(|r| r.iter().map(|k| k.to_string()).collect()),
        unset: Vec::new(),
        upstream: Vec::new(),
        bare: Vec::new(),
    };
    let plan = resolver.plan(raw, config_path);
    let redactor = Redactor::new(&resolver.secrets);
    let unset = std::mem::take(&mut resolver.unset);
    resolver
        .problems
        .retain(|(path, _)| !unset.iter().any(|(key, _)| path.starts_with(key)));
    if resolver.problems.is_empty() {
        return Ok(Resolved {
            plan: Plan { redactor, ..plan },
            unset,
            upstream: resolver.upstream,
            bare: resolver.bare,
        });
    }
    // A message may quote a value that came from the environment (a
    // malformed `${DATABASE_URL}`, say); errors are printed, so mask it,
    // and what a parser quoted of it: a piece or a changed copy.
    let secrets = resolver.secrets;
    Err(resolver
        .problems
        .into_iter()
        .map(|(path, message)| {
            let message = redactor.redact_message(&message);
            (path, mask_quoted_pieces(&message, &secrets))
        })
        .collect())
}

/// `message` with every quoted piece (between `"` or `'`) of at least six
/// characters that is part of a secret, in any case, written `***`. A
/// value from `${VAR}` that fails to parse stays a secret, and the
/// redactor masks it where it is quoted whole; but parsers quote what they
/// made of it: a method upper-cased (`"SK_LIVE_…"`), a cron crate's
/// `part 'SK_LIVE_…'`, a listen address's port alone, a duration's unit.
/// Shorter pieces are left: a proxy URL (a secret) holds its scheme, and
/// `unsupported proxy scheme "ftp"` must still say which.
fn mask_quoted_pieces(message: &str, secrets: &[String]) -> String {
    const SECRET_PIECE: usize = 6;
    let secrets: Vec<String> = secrets
        .iter()
        .filter(|s| s.chars().count() >= SECRET_PIECE)
        .map(|s| s.to_lowercase())
        .collect();
    if secrets.is_empty() {
        return message.to_string();
    }
    let mut out = message.to_string();
    for quote in ['"', '\''] {
        let mut masked = String::with_capacity(out.len());
        let mut parts = out.split(quote).peekable();
        let mut inside = false;
        while let Some(part) = parts.next() {
            let secret = inside
                && parts.peek().is_some()
                && part.chars().count() >= SECRET_PIECE
                && part != "***"
                && secrets.iter().any(|s| s.contains(&part.to_lowercase()));
            masked.push_str(if secret { "***" } else { part });
            if parts.peek().is_some() {
                masked.push(quote);
            }
            inside = !inside;
        }
        out = masked;
    }
    out
}

/// One level of retry overrides, each key parsed but not yet merged.
#[derive(Default)]
struct RetryLayer {
    path: KeyPath,
    max_attempts: Option<u32>,
    initial_delay: Option<Duration>,
    multiplier: Option<f64>,
    max_delay: Option<Duration>,
    jitter: Option<Jitter>,
    respect_retry_after: Option<bool>,
    max_retry_after: Option<Duration>,
}

struct Resolver<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    base_dir: &'a Path,
    problems: Vec<Found>,
    secrets: Vec<String>,
    /// Top-level keys under which an unset variable is an error; `None`:
    /// everywhere.
    required: Option<Vec<String>>,
    unset: Vec<(KeyPath, String)>,
    upstream: Vec<(KeyPath, String, usize)>,
    bare: Vec<(KeyPath, String)>,
}

impl Resolver<'_> {
    fn fail(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.problems.push((path.clone(), message.into()));
    }

    /// Substitutes `${VAR}` in one string value, remembering what came from
    /// the environment. `None` means a problem was recorded.
    fn substitute(&mut self, path: &KeyPath, raw: &str, target: Target) -> Option<Substituted> {
        let top = path.top_key().unwrap_or("");
        let may_be_unset = self
            .required
            .as_ref()
            .is_some_and(|required| !required.iter().any(|k| k == top));
        let env = self.env;
        let unset = std::cell::RefCell::new(Vec::new());
        let empty = std::cell::RefCell::new(Vec::new());
        let lookup = |name: &str| {
            env(name)
                .inspect(|value| {
                    if value.is_empty() {
                        empty.borrow_mut().push(name.to_string());
                    }
                })
                .or_else(|| {
                    may_be_unset.then(|| {
                        unset.borrow_mut().push(name.to_string());
                        String::new()
                    })
                })
        };
        let result = substitute(raw, target, &lookup);
        // Every `${VAR}` is a secret; an empty one is a mistake (an
        // `export KEY=` with the value forgotten), and sent as is it would
        // fail upstream with a confusing 401, so it is refused here.
        for name in empty.into_inner() {
            self.fail(
                path,
                format!(
                    "environment variable {name} is set but empty; a secret needs a value (set it, or unset it)"
                ),
            );
        }
        match result {
            Ok(out) => {
                for name in &out.bare {
                    self.bare.push((path.clone(), name.clone()));
                }
                for name in unset.into_inner() {
                    self.unset.push((path.clone(), name));
                }
                self.secrets.extend(out.values.iter().cloned());
                Some(out)
            }
            Err(message) => {
                self.fail(path, message);
                None
            }
        }
    }

    /// [`Self::substitute`] for a value that is sent in requests to an
    /// upstream (a URL, a path, a header, a query value, a proxy URL): its
    /// `${VAR}`s are remembered in [`Resolved::upstream`], for the rule
    /// that such a secret be long enough to be masked in an echo. A typed
    /// value (a timeout, a count, a method) only configures Rebound and
    /// goes nowhere, so it is not held to that rule.
    fn substitute_sent(
        &mut self,
        path: &KeyPath,
        raw: &str,
        target: Target,
    ) -> Option<Substituted> {
        let out = self.substitute(path, raw, target)?;
        if matches!(path.top_key(), Some("sources" | "scrapers")) {
            for (name, value) in out.names.iter().zip(&out.values) {
                self.upstream
                    .push((path.clone(), name.clone(), value.chars().count()));
            }
        }
        Some(out)
    }

    /// A plain (non-template) string value after substitution.
    fn text(&mut self, path: &KeyPath, raw: &str) -> Option<String> {
        self.substitute(path, raw, Target::Plain).map(|s| s.text)
    }

    /// A plain string value sent to an upstream (see
    /// [`Self::substitute_sent`]).
    fn sent_text(&mut self, path: &KeyPath, raw: &str) -> Option<String> {
        self.substitute_sent(path, raw, Target::Plain)
            .map(|s| s.text)
    }

    /// A `{param}` template value after substitution, sent to an upstream.
    fn config_value(&mut self, path: &KeyPath, raw: &str) -> Option<ConfigValue> {
        let substituted = self.substitute_sent(path, raw, Target::Template)?;
        self.parse_template(path, &substituted.text)
            .map(|value| ConfigValue {
                value,
                secret: substituted.secret,
            })
    }

    fn parse_template(&mut self, path: &KeyPath, text: &str) -> Option<Template> {
        match Template::parse(text) {
            Ok(template) => Some(template),
            Err(message) => {
                // The offset counts in the text with `${VAR}` values put in:
                // beside a masked value it told the secret's length, and it
                // matched neither the file nor the message.
                let holds_secret = self
                    .secrets
                    .iter()
                    .any(|secret| !secret.is_empty() && text.contains(secret.as_str()));
                let message = if holds_secret {
                    without_offset(&message)
                } else {
                    message
                };
                self.fail(path, message);
                None
            }
        }
    }

    /// The `${VAR}` values read since the secrets numbered `read_from`
    /// were put aside are not secrets after all: the key read them as a
    /// setting of Rebound's own (a time zone, a duration, a rate, a
    /// method, a cron expression, a date, one of a key's named choices),
    /// which no one would hide. Masked, a zone from
    /// `${PIPELINE_TZ}` read `time zone ***` in `check`, and every
    /// `Europe/Paris` of every message, log line and stored row would have
    /// been masked too. Called only once the value has parsed: one that
    /// does not (an API key set in the wrong variable) stays masked, since
    /// its error quotes it. A value that is also used as a secret elsewhere
    /// stays a secret through that use.
    fn not_secret(&mut self, read_from: usize) {
        self.secrets.truncate(read_from);
    }

    /// `value`, a key's setting read since the secrets numbered
    /// `read_from` were put aside; when it parsed (`Some`), what it read is
    /// not a secret ([`Self::not_secret`]). Called right after the key is
    /// parsed, before any other key is read, whose secrets would go too.
    fn setting<T>(&mut self, read_from: usize, value: Option<T>) -> Option<T> {
        if value.is_some() {
            self.not_secret(read_from);
        }
        value
    }

    /// A duration, at most the key's bound (see `bounds`).
    fn duration(&mut self, path: &KeyPath, raw: &RawDuration) -> Option<Duration> {
        let read_from = self.secrets.len();
        let text = self.text(path, &raw.0)?;
        // `parse_duration` trims, for a CLI argument's stray space; in the
        // file spaces around a duration are a slip (or a value pasted with
        // its surroundings) and were read silently. Refused like any other
        // malformed value. Only blank text is left to `parse_duration`,
        // which words it.
        let trimmed = text.trim();
        if trimmed != text && !trimmed.is_empty() {
            self.fail(
                path,
                format!(
                    "expected a duration without spaces around it, e.g. \"{trimmed}\", found \"{text}\""
                ),
            );
            return None;
        }
        match parse_duration(&text) {
            Ok(duration) if duration > bounds::duration_max(path) => {
                self.fail(
                    path,
                    format!(
                        "expected a duration of at most {}, found \"{text}\"",
                        format_duration(bounds::duration_max(path))
                    ),
                );
                None
            }
            Ok(duration) => {
                self.not_secret(read_from);
                Some(duration)
            }
            Err(message) => {
                self.fail(path, message);
                None
            }
        }
    }

    /// An integer that must be at least `min` and at most the key's bound
    /// (see `bounds`), converted to `T`.
    fn at_least<T: TryFrom<i64>>(&mut self, path: &KeyPath, value: i64, min: i64) -> Option<T> {
        if value < min {
            self.fail(path, format!("expected an integer >= {min}, found {value}"));
            return None;
        }
        let max = bounds::count_max(path);
        if value > max {
            self.fail(path, format!("expected an integer <= {max}, found {value}"));
            return None;
        }
        match T::try_from(value) {
            Ok(converted) => Some(converted),
            Err(_) => {
                self.fail(path, format!("{value} is too large"));
                None
            }
        }
    }

    /// Names become CLI arguments, metric labels and storage folders, so
    /// they are kept to characters that are safe and unquoted in all three.
    fn check_name(&mut self, path: &KeyPath, name: &str) {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            self.fail(
                path,
                format!("bad name \"{name}\": use ASCII letters, digits, '_' and '-'"),
            );
        }
    }

    /// Free-text names (the pipeline's, a dataset's) are printed in every
    /// report and header: a control character in one wrote escape
    /// sequences to the terminal or split a line, and dataset names that
    /// differ only by one shared a raw folder.
    fn refuse_controls(&mut self, path: &KeyPath, text: &str, what: &str) {
        if let Some(control) = text.chars().find(|c| c.is_control()) {
            self.fail(
                path,
                format!(
                    "{what} must not contain control characters (found {})",
                    control.escape_default()
                ),
            );
        }
    }

    fn plan(&mut self, raw: &RawConfig, config_path: &Path) -> Plan {
        let root = KeyPath::root();
        let pipeline = self.pipeline(raw);
        let top = self.retry_layer(root.key("retry"), &raw.retry);
        let default_policy = self.apply_retry(&RetryPolicy::default(), &top);

        let mut sources = BTreeMap::new();
        for (name, source) in &raw.sources {
            let resolved = self.source(name, source, &default_policy);
            sources.insert(name.clone(), resolved);
        }
        let mut scrapers = BTreeMap::new();
        for (name, scraper) in &raw.scrapers {
            let base = sources.get(&scraper.source).map(|s: &Source| &s.retry);
            let base = base.unwrap_or(&default_policy).clone();
            let resolved = self.scraper(name, scraper, raw, &base);
            scrapers.insert(name.clone(), resolved);
        }
        let scheduler = self.scheduler(&raw.scheduler);
        let alerts = self.alerts(&raw.alerts);
        let server = self.server(&raw.server);
        let handoff = self.handoff(&raw.handoff);
        let mut calendars = BTreeMap::new();
        for (name, calendar) in &raw.calendars {
            if let Some(resolved) = self.calendar(name, calendar, &scrapers) {
                calendars.insert(name.clone(), resolved);
            }
        }
        // `for_each` needs every scraper resolved (its `param` is checked
        // against the templates, its dataset against every producer).
        let mut fan_outs = BTreeMap::new();
        for (name, scraper) in &raw.scrapers {
            if let Some(for_each) = &scraper.for_each
                && let Some(resolved) = self.for_each(name, for_each, raw, &sources, &scrapers)
            {
                fan_outs.insert(name.clone(), resolved);
            }
        }
        for (name, (for_each, item_params)) in fan_outs {
            if let Some(scraper) = scrapers.get_mut(&name) {
                scraper.for_each = Some(for_each);
                scraper.item_params = item_params;
            }
        }
        let mut workflows = BTreeMap::new();
        for (name, workflow) in &raw.workflows {
            let resolved = self.workflow(name, workflow, raw, &scrapers);
            workflows.insert(name.clone(), resolved);
        }
        self.check_supplied_params(
            &workflows,
            &calendars,
            &scrapers,
            &sources,
            // Written but refused (`"02-30"`) has its own error; the
            // season's parameters are not "missing" besides, with a hint
            // to set what is set.
            pipeline.season.is_some() || raw.pipeline.season_start.is_some(),
        );
        let datasets = self.datasets(raw, &scrapers);
        let written = raw.pipeline.retention.as_ref().map(|r| r.0.as_str());
        self.check_retention_floor(written, &pipeline, &scheduler, &datasets, &calendars);
        Plan {
            config_path: Some(config_path.to_path_buf()),
            pipeline,
            sources,
            scrapers,
            workflows,
            calendars,
            scheduler,
            alerts,
            datasets,
            server,
            handoff,
            redactor: Redactor::default(),
        }
    }

    fn pipeline(&mut self, raw: &RawConfig) -> Pipeline {
        let path = KeyPath::root().key("pipeline");
        let p = &raw.pipeline;
        let name = self.text(&path.key("name"), &p.name);
        if name.as_ref().is_some_and(|n| n.trim().is_empty()) {
            self.fail(&path.key("name"), "the pipeline name must not be empty");
        } else if let Some(n) = &name {
            self.refuse_controls(&path.key("name"), n, "the pipeline name");
        }
        let name = name.unwrap_or_default();

        let tz_path = path.key("timezone");
        let tz_text = p.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE);
        let read_from = self.secrets.len();
        let timezone = match self.text(&tz_path, tz_text) {
            Some(text) => match text.parse::<chrono_tz::Tz>() {
                Ok(tz) => {
                    self.not_secret(read_from);
                    tz
                }
                Err(_) => {
                    self.fail(&tz_path, timezone_message(&text));
                    chrono_tz::Tz::UTC
                }
            },
            None => chrono_tz::Tz::UTC,
        };

        let db_path = path.key("database");
        let db_text = p.database.as_deref().unwrap_or(DEFAULT_DATABASE);
        let database = self
            .text(&db_path, db_text)
            .and_then(|text| match parse_database(&text, self.base_dir) {
                Ok(location) => Some(location),
                Err(message) => {
                    self.fail(&db_path, message);
                    None
                }
            })
            .unwrap_or_else(|| database_as_written(db_text, self.base_dir));

        let store_path = path.key("raw_store");
        let store_text = p.raw_store.as_deref().unwrap_or(DEFAULT_RAW_STORE);
        let raw_store = self
            .text(&store_path, store_text)
            .and_then(|text| match parse_raw_store(&text, self.base_dir) {
                Ok(location) => Some(location),
                Err(message) => {
                    self.fail(&store_path, message);
                    None
                }
            })
            .unwrap_or_else(|| raw_store_as_written(store_text, self.base_dir));

        // Zero would purge every row as soon as it is written.
        let retention = p
            .retention
            .as_ref()
            .and_then(|d| self.positive_duration(&path.key("retention"), d));

        let connect_timeout = p
            .connect_timeout
            .as_ref()
            .and_then(|d| self.positive_duration(&path.key("connect_timeout"), d));

        let season = self.season(&path, p);

        Pipeline {
            name,
            timezone,
            database,
            connect_timeout,
            raw_store,
            retention,
            season,
        }
    }

    /// A `retention` shorter than the history Rebound reads back would
    /// purge what the next decision needs: yesterday and today
    /// ([`RETENTION_FLOOR`]), the slots `catch_up` looks back on (the
    /// scheduler reads one day more than `catch_up`), a dataset's newest change until it
    /// is judged by `fresh_error` (or `fresh_warn`), and a calendar's
    /// payload until its `refresh` `max_age` (a purged calendar plans no
    /// events). The floor is the longest of those, named in the message.
    fn check_retention_floor(
        &mut self,
        written: Option<&str>,
        pipeline: &Pipeline,
        scheduler: &SchedulerSettings,
        datasets: &BTreeMap<String, DatasetPolicy>,
        calendars: &BTreeMap<String, Calendar>,
    ) {
        let Some(retention) = pipeline.retention else {
            return;
        };
        let mut floor = (
            RETENTION_FLOOR,
            "the health report and the scheduler read yesterday and today in the pipeline's \
             zone, up to 48 hours back"
                .to_string(),
        );
        let mut longer = |needed: Duration, why: String| {
            if needed > floor.0 {
                floor = (needed, why);
            }
        };
        longer(
            scheduler.catch_up + Duration::from_secs(86_400),
            format!(
                "the scheduler reads a day more than scheduler.catch_up = \"{}\" back",
                format_duration(scheduler.catch_up)
            ),
        );
        for (name, policy) in datasets {
            let (key, threshold) = match (policy.fresh_error, policy.fresh_warn) {
                (Some(error), _) => ("fresh_error", error),
                (None, Some(warn)) => ("fresh_warn", warn),
                (None, None) => continue,
            };
            let key = KeyPath::root().key("datasets").key(name).key(key);
            longer(
                threshold,
                format!(
                    "{key} = \"{}\" judges the newest change that far back",
                    format_duration(threshold)
                ),
            );
        }
        for (name, calendar) in calendars {
            let Some(refresh) = &calendar.refresh else {
                continue;
            };
            let refresh_key = KeyPath::root().key("calendars").key(name).key("refresh");
            for (key, age) in [
                ("max_age", Some(refresh.max_age)),
                ("override_max_age", refresh.override_max_age),
            ] {
                if let Some(age) = age {
                    longer(
                        age,
                        format!(
                            "{refresh_key}.{key} = \"{}\" keeps using the calendar's payload that long",
                            format_duration(age)
                        ),
                    );
                }
            }
        }
        if retention < floor.0 {
            let path = KeyPath::root().key("pipeline").key("retention");
            self.fail(
                &path,
                format!(
                    "expected at least \"{}\", found \"{}\": {}; a shorter retention purges \
                     history that is still read",
                    format_duration(floor.0),
                    written.unwrap_or_default(),
                    floor.1
                ),
            );
        }
    }

    /// `season_start` and `season_format`; a format without a start is
    /// an error (it would silently do nothing).
    fn season(
        &mut self,
        path: &KeyPath,
        p: &crate::raw::RawPipeline,
    ) -> Option<rebound_domain::params::SeasonRule> {
        use rebound_domain::params::{DEFAULT_SEASON_FORMAT, SeasonError, SeasonRule};
        let format_path = path.key("season_format");
        // The format is a template with free text of its own, sent in
        // `{season}`: a `${VAR}` in it stays a secret however the rule
        // parses. Only the start is a setting.
        let format = match &p.season_format {
            Some(raw) => self.text(&format_path, raw)?,
            None => DEFAULT_SEASON_FORMAT.to_string(),
        };
        let read_from = self.secrets.len();
        let Some(raw_start) = &p.season_start else {
            if p.season_format.is_some() {
                self.fail(
                    &format_path,
                    "season_format needs season_start (the first day of a season, \"MM-DD\")",
                );
            }
            return None;
        };
        let start_path = path.key("season_start");
        let start = self.text(&start_path, raw_start)?;
        match SeasonRule::parse(&start, &format) {
            Ok(rule) => self.setting(read_from, Some(rule)),
            Err(SeasonError::Start(message)) => {
                self.fail(&start_path, message);
                None
            }
            Err(SeasonError::Format(message)) => {
                self.fail(&format_path, message);
                None
            }
        }
    }

    /// Parses each key of one `retry` table on its own, so a bad key is
    /// reported once, where it is written, however many scrapers inherit it.
    fn retry_layer(&mut self, path: KeyPath, raw: &RawRetry) -> RetryLayer {
        let mut layer = RetryLayer::default();
        if let Some(n) = raw.max_attempts {
            layer.max_attempts = self.at_least(&path.key("max_attempts"), n, 1);
        }
        if let Some(d) = &raw.initial_delay {
            layer.initial_delay = self.duration(&path.key("initial_delay"), d);
        }
        if let Some(m) = raw.multiplier {
            if m.is_finite() && m > bounds::MAX_MULTIPLIER {
                self.fail(
                    &path.key("multiplier"),
                    format!(
                        "expected a number <= {}, found {m:?}",
                        bounds::MAX_MULTIPLIER
                    ),
                );
            } else if m.is_finite() && m >= 1.0 {
                layer.multiplier = Some(m);
            } else {
                self.fail(
                    &path.key("multiplier"),
                    format!("expected a number >= 1.0, found {m}"),
                );
            }
        }
        if let Some(d) = &raw.max_delay {
            layer.max_delay = self.duration(&path.key("max_delay"), d);
        }
        if let Some(j) = &raw.jitter {
            let key = path.key("jitter");
            let read_from = self.secrets.len();
            if let Some(text) = self.text(&key, j) {
                layer.jitter = Jitter::parse(&text);
                layer.jitter = self.setting(read_from, layer.jitter);
                if layer.jitter.is_none() {
                    self.fail(
                        &key,
                        format!("expected \"full\", \"equal\" or \"none\", found \"{text}\""),
                    );
                }
            }
        }
        layer.respect_retry_after = raw.respect_retry_after;
        if let Some(d) = &raw.max_retry_after {
            layer.max_retry_after = self.duration(&path.key("max_retry_after"), d);
        }
        layer.path = path;
        layer
    }

    /// Merges `layer` over `base` key by key. The cross-key rule
    /// (`initial_delay <= max_delay`) is checked only where this layer sets
    /// one of the two keys, so a conflict is reported at the level that
    /// introduced it rather than at every level that inherits it.
    fn apply_retry(&mut self, base: &RetryPolicy, layer: &RetryLayer) -> RetryPolicy {
        let merged = RetryPolicy {
            max_attempts: layer.max_attempts.unwrap_or(base.max_attempts),
            initial_delay: layer.initial_delay.unwrap_or(base.initial_delay),
            multiplier: layer.multiplier.unwrap_or(base.multiplier),
            max_delay: layer.max_delay.unwrap_or(base.max_delay),
            jitter: layer.jitter.unwrap_or(base.jitter),
            respect_retry_after: layer
                .respect_retry_after
                .unwrap_or(base.respect_retry_after),
            max_retry_after: layer.max_retry_after.unwrap_or(base.max_retry_after),
        };
        let touched = layer.initial_delay.is_some() || layer.max_delay.is_some();
        if touched && merged.initial_delay > merged.max_delay {
            let key = if layer.initial_delay.is_some() {
                "initial_delay"
            } else {
                "max_delay"
            };
            self.fail(
                &layer.path.key(key),
                format!(
                    "initial_delay ({}) must not be longer than max_delay ({})",
                    format_duration(merged.initial_delay),
                    format_duration(merged.max_delay)
                ),
            );
        }
        merged
    }

    fn source(&mut self, name: &str, raw: &RawSource, default_policy: &RetryPolicy) -> Source {
        let path = KeyPath::root().key("sources").key(name);
        self.check_name(&path, name);

        let url_path = path.key("base_url");
        let base_url = self
            .base_url(&url_path, &raw.base_url)
            .unwrap_or_else(|| ConfigValue {
                value: Template::literal(""),
                secret: false,
            });

        let timeout = match &raw.timeout {
            Some(d) => {
                let key = path.key("timeout");
                let timeout = self.duration(&key, d);
                if timeout == Some(Duration::ZERO) {
                    self.fail(&key, "expected a duration longer than zero, found \"0s\"");
                }
                timeout.unwrap_or(DEFAULT_TIMEOUT)
            }
            None => DEFAULT_TIMEOUT,
        };
        let max_concurrency = match raw.max_concurrency {
            Some(n) => self.at_least(&path.key("max_concurrency"), n, 1),
            None => Some(DEFAULT_MAX_CONCURRENCY),
        };
        let max_body_bytes = match raw.max_body_bytes {
            Some(n) => self.at_least(&path.key("max_body_bytes"), n, 1),
            None => Some(DEFAULT_MAX_BODY_BYTES),
        };
        let headers = self.headers(&path.key("headers"), &raw.headers);
        let query = self.query(&path.key("query"), &raw.query);
        let layer = self.retry_layer(path.key("retry"), &raw.retry);
        let retry = self.apply_retry(default_policy, &layer);
        let rate_limit = self.rate_limit(&path.key("rate_limit"), raw.rate_limit.as_deref());
        let quota = raw
            .quota
            .as_ref()
            .and_then(|q| self.quota(&path.key("quota"), q));
        let breaker = self.breaker(&path.key("breaker"), &raw.breaker);
        let retry_budget = self.retry_budget(&path.key("retry_budget"), &raw.retry_budget);
        let follow_redirects = self.follow_redirects(
            &path.key("follow_redirects"),
            raw.follow_redirects.as_deref(),
        );
        let mut source = Source {
            name: name.to_string(),
            base_url,
            timeout,
            max_concurrency: max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY),
            max_body_bytes: max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            headers,
            query,
            retry,
            rate_limit,
            quota,
            pause_on_rate_limit: raw.pause_on_rate_limit.unwrap_or(true),
            breaker,
            retry_budget,
            health: None,
            follow_redirects,
            proxies: self.proxies(&path, raw),
        };
        // Last: the probe checks the source's own templates.
        if let Some(probe) = &raw.health {
            source.health = self.health_probe(&path.key("health"), probe, &source);
        }
        source
    }

    /// A positive duration, or `default` when absent.
    fn breaker_duration(
        &mut self,
        path: &KeyPath,
        raw: &Option<RawDuration>,
        default: Duration,
    ) -> Duration {
        match raw {
            Some(d) => match self.duration(path, d) {
                Some(Duration::ZERO) => {
                    self.fail(path, "expected a duration longer than zero, found \"0s\"");
                    default
                }
                Some(d) => d,
                None => default,
            },
            None => default,
        }
    }

    fn breaker(&mut self, path: &KeyPath, raw: &RawBreaker) -> BreakerConfig {
        let d = BreakerConfig::default();
        let window = self.breaker_duration(&path.key("window"), &raw.window, d.window);
        let open_for = self.breaker_duration(&path.key("open_for"), &raw.open_for, d.open_for);
        let max_open_for = self.breaker_duration(
            &path.key("max_open_for"),
            &raw.max_open_for,
            d.max_open_for.max(open_for),
        );
        if max_open_for < open_for {
            self.fail(
                &path.key("max_open_for"),
                "expected a duration at least as long as open_for",
            );
        }
        let min_calls = raw
            .min_calls
            .and_then(|n| self.at_least(&path.key("min_calls"), n, 1))
            .unwrap_or(d.min_calls);
        let consecutive_failures = raw
            .consecutive_failures
            .and_then(|n| self.at_least(&path.key("consecutive_failures"), n, 1))
            .unwrap_or(d.consecutive_failures);
        let failure_rate = match raw.failure_rate {
            Some(r) if r.is_finite() && r > 0.0 && r <= 1.0 => r,
            Some(r) => {
                self.fail(
                    &path.key("failure_rate"),
                    format!("expected a number above 0 and at most 1, found {r}"),
                );
                d.failure_rate
            }
            None => d.failure_rate,
        };
        BreakerConfig {
            enabled: raw.enabled.unwrap_or(true),
            window,
            min_calls,
            failure_rate,
            consecutive_failures,
            open_for,
            max_open_for: max_open_for.max(open_for),
            probe_timeout: d.probe_timeout,
            follow_health: raw.follow_health.unwrap_or(true),
        }
    }

    fn retry_budget(&mut self, path: &KeyPath, raw: &RawRetryBudget) -> RetryBudgetConfig {
        let d = RetryBudgetConfig::default();
        let ratio = match raw.ratio {
            Some(r) if r.is_finite() && (0.0..=bounds::MAX_RATIO).contains(&r) => r,
            Some(r) if r.is_finite() && r > bounds::MAX_RATIO => {
                self.fail(
                    &path.key("ratio"),
                    format!("expected a number <= {}, found {r:?}", bounds::MAX_RATIO),
                );
                d.ratio
            }
            Some(r) => {
                self.fail(
                    &path.key("ratio"),
                    format!("expected a number of 0 or more, found {r}"),
                );
                d.ratio
            }
            None => d.ratio,
        };
        let min_retries = raw
            .min_retries
            .and_then(|n| self.at_least(&path.key("min_retries"), n, 0))
            .unwrap_or(d.min_retries);
        let window = self.breaker_duration(&path.key("window"), &raw.window, d.window);
        RetryBudgetConfig {
            ratio,
            min_retries,
            window,
        }
    }

    fn rate_limit(&mut self, path: &KeyPath, raw: Option<&str>) -> Option<Rate> {
        let read_from = self.secrets.len();
        let text = self.text(path, raw?)?;
        // As for a duration: `Rate::parse` trims, and spaces around the
        // value in the file were read silently while a duration's are
        // refused. Spaces inside (`20 / min`) stay accepted, as the parser
        // and the editor schema have always allowed them. Blank text is
        // left to `Rate::parse`, which words it.
        let trimmed = text.trim();
        if trimmed != text && !trimmed.is_empty() {
            self.fail(
                path,
                format!(
                    "expected a rate without spaces around it, e.g. \"{trimmed}\", found \"{text}\""
                ),
            );
            return None;
        }
        match Rate::parse(&text) {
            Ok(rate) => self.setting(read_from, Some(rate)),
            Err(_) if zero_window(&text) => {
                self.fail(
                    path,
                    format!(
                        "the window of a rate is one unit, s, min, h or d, never zero: found \"{text}\"; write e.g. \"1/s\", \"20/min\", \"100/h\", \"1000/d\""
                    ),
                );
                None
            }
            Err(_) if let Some(message) = multi_unit_window(&text) => {
                self.fail(path, message);
                None
            }
            Err(message) => {
                self.fail(path, message);
                None
            }
        }
    }

    fn quota(&mut self, path: &KeyPath, raw: &RawQuota) -> Option<Quota> {
        let per_path = path.key("per");
        let read_from = self.secrets.len();
        let per = self.text(&per_path, &raw.per).and_then(|text| {
            let per = QuotaPeriod::parse(&text);
            if per.is_none() {
                self.fail(
                    &per_path,
                    format!("expected \"day\" or \"month\", found \"{text}\""),
                );
            }
            per
        });
        let per = self.setting(read_from, per);
        let requests = self.at_least::<u64>(&path.key("requests"), raw.requests, 1);
        let remaining_header = match &raw.remaining_header {
            Some(name) => {
                let key = path.key("remaining_header");
                let name = self.text(&key, name)?;
                if !is_http_token(&name) {
                    self.fail(
                        &key,
                        format!("\"{name}\" is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
                    );
                    return None;
                }
                Some(name.to_ascii_lowercase())
            }
            None => None,
        };
        Some(Quota {
            per: per?,
            requests: requests?,
            remaining_header,
        })
    }

    /// `follow_redirects`, default `same_host`.
    fn follow_redirects(&mut self, path: &KeyPath, raw: Option<&str>) -> FollowRedirects {
        let read_from = self.secrets.len();
        let Some(text) = raw.and_then(|raw| self.text(path, raw)) else {
            return FollowRedirects::default();
        };
        let parsed = FollowRedirects::parse(&text);
        let parsed = self.setting(read_from, parsed);
        parsed.unwrap_or_else(|| {
            self.fail(
                path,
                format!("expected \"same_host\", \"any\" or \"none\", found \"{text}\""),
            );
            FollowRedirects::default()
        })
    }

    fn base_url(&mut self, path: &KeyPath, raw: &str) -> Option<ConfigValue> {
        let substituted = self.substitute_sent(path, raw, Target::Template)?;
        let text = substituted.text.trim_end_matches('/');
        let lower = text.to_ascii_lowercase();
        let after_scheme = ["http://", "https://"]
            .iter()
            .find_map(|scheme| lower.strip_prefix(scheme));
        match after_scheme {
            None => {
                self.fail(
                    path,
                    format!(
                        "expected a URL starting with \"http://\" or \"https://\", found \"{raw}\""
                    ),
                );
                return None;
            }
            // `https:///v1` would quietly become host `v1`, and `http://:80`
            // has none at all.
            Some(rest) if rest.is_empty() || rest.starts_with(['/', ':']) => {
                self.fail(path, format!("the URL \"{raw}\" has no host"));
                return None;
            }
            Some(_) => {}
        }
        // Scraper paths are appended to the base URL, so a query or fragment
        // here would end up in the middle of the final URL.
        if text.contains('?') || text.contains('#') {
            self.fail(
                path,
                "base_url must not contain '?' or '#'; put query parameters under `query`",
            );
            return None;
        }
        let value = self.parse_template(path, text)?;
        // Parse it now rather than at the first call: every `{param}` gets a
        // stand-in that fits a host, a port and a path alike.
        // Built-ins get sample values of their own shape, so a filtered
        // date renders too.
        let samples = rebound_domain::params::builtin_values(
            chrono_tz::Tz::UTC,
            None,
            NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default(),
            None,
        );
        let stand_ins: BTreeMap<String, String> = value
            .params()
            .into_iter()
            .map(|name| {
                let sample = samples
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| "1".to_string());
                (name.to_string(), sample)
            })
            .collect();
        let sample = value
            .render(&stand_ins)
            .unwrap_or_else(|_| text.to_string());
        match url::Url::parse(&sample) {
            // Every connection to port 0 fails; the URL would parse.
            Ok(url) if url.port() == Some(0) => {
                self.fail(
                    path,
                    format!("the URL \"{raw}\" has port 0, which no connection can reach"),
                );
                return None;
            }
            Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => {
                self.keep_basic_credential(&url);
            }
            Ok(_) => {
                self.fail(path, format!("the URL \"{raw}\" has no host"));
                return None;
            }
            Err(e) => {
                self.fail(path, format!("not a valid URL ({e}): \"{raw}\""));
                return None;
            }
        }
        Some(ConfigValue {
            value,
            secret: substituted.secret,
        })
    }

    /// Masks the `Authorization: Basic …` value the HTTP client builds from
    /// a base URL's userinfo (base64 of `user:password`, each decoded): an
    /// upstream that echoes request headers printed it, and base64 is no
    /// secret-keeping.
    fn keep_basic_credential(&mut self, url: &url::Url) {
        use base64::Engine as _;
        if url.username().is_empty() && url.password().is_none() {
            return;
        }
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = decode(url.username());
        let password = url.password().map(decode).unwrap_or_default();
        let credential =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.secrets.push(credential);
    }

    fn headers(
        &mut self,
        path: &KeyPath,
        raw: &BTreeMap<String, String>,
    ) -> Vec<(String, ConfigValue)> {
        let mut out = Vec::new();
        for (name, value) in raw {
            let key = path.key(name);
            if !is_http_token(name) {
                self.fail(
                    &key,
                    format!("\"{name}\" is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
                );
                continue;
            }
            let Some(substituted) = self.substitute_sent(&key, value, Target::Template) else {
                continue;
            };
            // A line break in a header value would let the value inject
            // headers of its own (or be refused by the HTTP client at call
            // time, far from the cause).
            if substituted.text.contains(['\r', '\n']) {
                self.fail(&key, "header values must not contain line breaks");
                continue;
            }
            // Other control characters (but tab) the HTTP client refuses at
            // call time as "failed to parse header value", naming neither
            // the header nor the key.
            if let Some(control) = substituted
                .text
                .chars()
                .find(|c| c.is_ascii_control() && *c != '\t')
            {
                self.fail(
                    &key,
                    format!(
                        "header values must not contain control characters (found {})",
                        control.escape_default()
                    ),
                );
                continue;
            }
            if let Some(value) = self.parse_template(&key, &substituted.text) {
                let secret = substituted.secret;
                out.push((name.clone(), ConfigValue { value, secret }));
            }
        }
        out
    }

    fn query(
        &mut self,
        path: &KeyPath,
        raw: &BTreeMap<String, String>,
    ) -> Vec<(String, ConfigValue)> {
        let mut out = Vec::new();
        for (name, value) in raw {
            let key = path.key(name);
            if name.is_empty() {
                self.fail(&key, "query parameter names must not be empty");
                continue;
            }
            if let Some(value) = self.config_value(&key, value) {
                out.push((name.clone(), value));
            }
        }
        out
    }

    fn scraper(
        &mut self,
        name: &str,
        raw: &RawScraper,
        config: &RawConfig,
        base_policy: &RetryPolicy,
    ) -> Scraper {
        let path = KeyPath::root().key("scrapers").key(name);
        self.check_name(&path, name);

        let source_path = path.key("source");
        let source = self.text(&source_path, &raw.source);
        if let Some(source) = source.as_ref().filter(|s| !config.sources.contains_key(*s)) {
            let defined: Vec<String> = config.sources.keys().cloned().collect();
            self.fail(&source_path, unknown_reference("source", source, &defined));
        }
        let source = source.unwrap_or_default();

        let method_path = path.key("method");
        let read_from = self.secrets.len();
        let method = match &raw.method {
            Some(m) => self.text(&method_path, m).map(|m| m.to_ascii_uppercase()),
            None => Some(DEFAULT_METHOD.to_string()),
        };
        let method = match method {
            Some(m) if METHODS.contains(&m.as_str()) => {
                self.not_secret(read_from);
                m
            }
            Some(m) => {
                self.fail(
                    &method_path,
                    format!("expected one of {}, found \"{m}\"", METHODS.join(", ")),
                );
                DEFAULT_METHOD.to_string()
            }
            None => DEFAULT_METHOD.to_string(),
        };

        let url_path = path.key("path");
        let url_template = self
            .substitute_sent(&url_path, &raw.path, Target::Template)
            .and_then(|s| {
                if !s.text.is_empty() && !s.text.starts_with('/') {
                    self.fail(
                        &url_path,
                        format!(
                            "expected a path starting with \"/\", found \"{}\"",
                            raw.path
                        ),
                    );
                    return None;
                }
                // URL parsing resolves dot segments away: `/../x` climbs out
                // of base_url's path and a request goes elsewhere than it
                // reads. Percent-encoded dots are resolved the same way.
                let dotted = s.text.split('/').find(|segment| {
                    let lower = segment.to_ascii_lowercase().replace("%2e", ".");
                    lower == "." || lower == ".."
                });
                if let Some(segment) = dotted {
                    self.fail(
                        &url_path,
                        format!(
                            "the path \"{}\" has a \"{segment}\" segment, which URL parsing resolves away (so the request would not go where the path reads); write the path it means",
                            raw.path
                        ),
                    );
                    return None;
                }
                self.parse_template(&url_path, &s.text)
            })
            .unwrap_or_else(|| Template::literal(""));

        let query = self.query(&path.key("query"), &raw.query);
        let headers = self.headers(&path.key("headers"), &raw.headers);

        let records = raw.records.as_ref().and_then(|r| {
            let key = path.key("records");
            let text = self.text(&key, r)?;
            match check_json_pointer(&text) {
                Ok(()) => Some(text),
                Err(message) => {
                    self.fail(&key, message);
                    None
                }
            }
        });

        let no_data = self.no_data(&path.key("no_data"), raw);

        let dataset = match &raw.dataset {
            Some(d) => {
                let key = path.key("dataset");
                let text = self.text(&key, d).unwrap_or_default();
                if text.trim_matches('/').trim().is_empty() {
                    self.fail(&key, "the dataset name must not be empty");
                } else {
                    self.refuse_controls(&key, &text, "a dataset name");
                }
                text
            }
            None => name.to_string(),
        };

        let layer = self.retry_layer(path.key("retry"), &raw.retry);
        let retry = self.apply_retry(base_policy, &layer);
        let expected = self.expectation(&path, raw);
        let lockout = self.lockout(&path, raw);
        let timeout = self.scraper_timeout(&path, raw);
        let paginate = self.paginate(&path, raw, records.as_deref());
        let valid = self.validity(&path, raw);
        let document = self.document_keys(&path, raw);
        Scraper {
            name: name.to_string(),
            source,
            method,
            path: url_template,
            query,
            headers,
            records,
            no_data,
            dataset,
            retry,
            for_each: None,
            expected,
            lockout,
            timeout,
            paginate,
            item_params: Vec::new(),
            valid,
            format: document.format,
            min_bytes: document.min_bytes,
            transform: document.transform,
            conditional: document.conditional,
        }
    }

    /// `valid_from` / `valid_until`: dates, the first not after the second.
    fn validity(&mut self, path: &KeyPath, raw: &RawScraper) -> Validity {
        let mut date = |key: &str, raw: &Option<String>| -> Option<NaiveDate> {
            let key_path = path.key(key);
            let read_from = self.secrets.len();
            let text = self.text(&key_path, raw.as_ref()?)?;
            match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                Ok(date) if text.len() == 10 => self.setting(read_from, Some(date)),
                _ => {
                    self.fail(
                        &key_path,
                        format!("expected a date as YYYY-MM-DD, e.g. 2025-12-23, found \"{text}\""),
                    );
                    None
                }
            }
        };
        let from = date("valid_from", &raw.valid_from);
        let until = date("valid_until", &raw.valid_until);
        if let (Some(from), Some(until)) = (from, until)
            && from > until
        {
            self.fail(
                &path.key("valid_until"),
                format!(
                    "valid_until ({until}) is before valid_from ({from}): no date would be valid"
                ),
            );
        }
        Validity { from, until }
    }

    fn no_data(&mut self, path: &KeyPath, raw: &RawScraper) -> NoDataRules {
        let mut rules = NoDataRules::default();
        for (n, &status) in raw.no_data.status.iter().enumerate() {
            match u16::try_from(status) {
                Ok(code) if (100..=599).contains(&code) => rules.status.push(code),
                _ => self.fail(
                    &path.key("status").index(n),
                    format!("expected an HTTP status code from 100 to 599, found {status}"),
                ),
            }
        }
        for (n, needle) in raw.no_data.body_contains.iter().enumerate() {
            let key = path.key("body_contains").index(n);
            let Some(text) = self.text(&key, needle) else {
                continue;
            };
            if text.is_empty() {
                // Every body contains the empty string: this would turn
                // every response into "no data" and hide real failures.
                self.fail(&key, "an empty string would match every body");
            } else {
                rules.body_contains.push(text);
            }
        }
        rules
    }

    fn workflow(
        &mut self,
        name: &str,
        raw: &RawWorkflow,
        config: &RawConfig,
        resolved: &BTreeMap<String, Scraper>,
    ) -> Workflow {
        let path = KeyPath::root().key("workflows").key(name);
        self.check_name(&path, name);
        let defined: Vec<String> = config.scrapers.keys().cloned().collect();

        // Both forms become (step path, scraper names, after names).
        struct RawStepRef<'r> {
            path: KeyPath,
            scrapers_path: KeyPath,
            scrapers: &'r [String],
            after: &'r [String],
        }
        let steps: Vec<RawStepRef<'_>> = match (&raw.steps, &raw.scrapers) {
            (Some(steps), None) => {
                if steps.is_empty() {
                    self.fail(&path.key("steps"), "a workflow needs at least one step");
                }
                steps
                    .iter()
                    .enumerate()
                    .map(|(n, step)| {
                        let step_path = path.key("steps").index(n);
                        RawStepRef {
                            scrapers_path: step_path.key("scrapers"),
                            path: step_path,
                            scrapers: &step.scrapers,
                            after: &step.after,
                        }
                    })
                    .collect()
            }
            (None, Some(scrapers)) => vec![RawStepRef {
                path: path.clone(),
                scrapers_path: path.key("scrapers"),
                scrapers,
                after: &[],
            }],
            (Some(_), Some(_)) => {
                self.fail(
                    &path.key("scrapers"),
                    "give either `steps` or `scrapers` (a single step), not both",
                );
                Vec::new()
            }
            (None, None) => {
                self.fail(
                    &path,
                    "missing `steps` (or `scrapers` for a workflow of one step)",
                );
                Vec::new()
            }
        };

        // First pass: every scraper's step, so `after` can tell "later step"
        // from "not in this workflow".
        let mut step_of: HashMap<String, (usize, KeyPath)> = HashMap::new();
        let mut names_per_step: Vec<Vec<String>> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            if step.scrapers.is_empty() {
                self.fail(&step.scrapers_path, "a step needs at least one scraper");
            }
            let mut names = Vec::new();
            for (m, raw_name) in step.scrapers.iter().enumerate() {
                let key = step.scrapers_path.index(m);
                let Some(scraper) = self.text(&key, raw_name) else {
                    continue;
                };
                if !config.scrapers.contains_key(&scraper) {
                    self.fail(&key, unknown_reference("scraper", &scraper, &defined));
                    continue;
                }
                if let Some((_, first)) = step_of.get(&scraper) {
                    let message = format!(
                        "scraper \"{scraper}\" appears more than once in this workflow (first at {first})"
                    );
                    self.fail(&key, message);
                    continue;
                }
                step_of.insert(scraper.clone(), (n, key));
                names.push(scraper);
            }
            names_per_step.push(names);
        }

        let mut out = Vec::new();
        for (n, (step, scrapers)) in steps.iter().zip(names_per_step).enumerate() {
            let mut after: Vec<String> = Vec::new();
            let mut named: HashSet<String> = HashSet::new();
            for (m, raw_name) in step.after.iter().enumerate() {
                let key = step.path.key("after").index(m);
                let Some(dependency) = self.text(&key, raw_name) else {
                    continue;
                };
                match step_of.get(&dependency) {
                    Some((k, _)) if *k < n => {
                        if named.insert(dependency.clone()) {
                            after.push(dependency);
                        }
                    }
                    Some((k, _)) => {
                        let when = if *k == n { "this step" } else { "a later step" };
                        self.fail(
                            &key,
                            format!("\"{dependency}\" runs in {when}; `after` may only name scrapers of earlier steps"),
                        );
                    }
                    None if config.scrapers.contains_key(&dependency) => self.fail(
                        &key,
                        format!("\"{dependency}\" is not in an earlier step of this workflow"),
                    ),
                    None => self.fail(&key, unknown_reference("scraper", &dependency, &defined)),
                }
            }
            out.push(Step { scrapers, after });
        }
        self.check_fan_out_order(&step_of, resolved);
        self.check_variants(&step_of, resolved);
        let schedule = raw
            .schedule
            .as_ref()
            .and_then(|s| self.schedule(&path.key("schedule"), s, config));
        Workflow {
            name: name.to_string(),
            steps: out,
            schedule,
        }
    }
}

/// A template error without its ` at offset N`.
fn without_offset(message: &str) -> String {
    const MARK: &str = " at offset ";
    let Some(at) = message.find(MARK) else {
        return message.to_string();
    };
    let rest = &message[at + MARK.len()..];
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    format!("{}{}", &message[..at], &rest[digits..])
}

/// Where the database is when its text could not be read: as written, so
/// `check` with an unset `${VAR}` shows the variables, not a default the
/// pipeline will never use (it showed `sqlite://sqlite://rebound.db` for a
/// PostgreSQL URL). Only shown: a plan that runs has every variable set.
fn database_as_written(written: &str, base_dir: &std::path::Path) -> DatabaseLocation {
    parse_database(written, base_dir).unwrap_or_else(|_| match written.strip_prefix("sqlite://") {
        Some(path) => DatabaseLocation::Sqlite { path: path.into() },
        None => DatabaseLocation::Postgres {
            url: written.to_string(),
        },
    })
}

/// The raw store as written, for the same reason as [`database_as_written`].
fn raw_store_as_written(written: &str, base_dir: &std::path::Path) -> RawStoreLocation {
    parse_raw_store(written, base_dir).unwrap_or_else(|_| RawStoreLocation::File {
        path: written.strip_prefix("file://").unwrap_or(written).into(),
    })
}

/// "unknown source "odds" (did you mean "odds_api"?); defined sources: ...".
fn unknown_reference(kind: &str, name: &str, defined: &[String]) -> String {
    let mut message = format!("unknown {kind} \"{name}\"");
    if let Some(best) = closest(name, defined) {
        message.push_str(&format!(" (did you mean \"{best}\"?)"));
    }
    if defined.is_empty() {
        message.push_str(&format!("; no {kind}s are defined"));
    } else {
        message.push_str(&format!("; defined {kind}s: {}", defined.join(", ")));
    }
    message
}

/// Whether a rate `Rate::parse` refused has a window of zero (`1/0s`,
/// `5/0min`, `5/0`): a count of none of some unit. Its parser only knows
/// the bare units, so it called the `0s` of `1/0s` an unknown unit, when
/// the unit was fine and the zero was the mistake.
fn zero_window(rate: &str) -> bool {
    let Some((count, window)) = rate.split_once('/') else {
        return false;
    };
    // Only a rate whose count and unit are right is about its window: in
    // "abc/0s", "0/0s" or "1/0x" the count or the unit is the mistake,
    // which `Rate::parse` words.
    let count = count.trim();
    if count.is_empty()
        || !count.bytes().all(|b| b.is_ascii_digit())
        || count.parse::<u64>().map_or(true, |n| n == 0)
    {
        return false;
    }
    let window = window.trim();
    let digits = window.len()
        - window
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    let (zeros, unit) = window.split_at(digits);
    !zeros.is_empty()
        && zeros.bytes().all(|b| b == b'0')
        && (matches!(unit.trim(), "" | "ms") || window_unit_seconds(unit).is_some())
}

/// The seconds of a window's unit as people write it ("s", "secs",
/// "minutes", "h", "day", …), shared by [`zero_window`] and
/// [`multi_unit_window`]; `None` for another word.
fn window_unit_seconds(unit: &str) -> Option<u64> {
    match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
        "h" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86_400),
        _ => None,
    }
}

/// Why `rate` (`"1/30s"`, `"5/2h"`) is refused, when its window is a
/// count of units: a rate is a count per one second, minute, hour or day
/// (`Rate` keeps no other window, and shows and spaces requests by it), so
/// it says that and, when a one-unit rate keeps the same pace (the same
/// spacing between requests), which ("1/30s" is "2/min"). `None` for other
/// mistakes, which `Rate::parse` words.
fn multi_unit_window(rate: &str) -> Option<String> {
    let (count, window) = rate.split_once('/')?;
    let count = count.trim();
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let requests: u64 = count.parse().ok().filter(|&n| n >= 1)?;
    let window = window.trim();
    let digits = window.len()
        - window
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    let (units, unit) = window.split_at(digits);
    let units: u64 = units.parse().ok().filter(|&n| n >= 1)?;
    let unit_secs = window_unit_seconds(unit)?;
    let window_secs = units.checked_mul(unit_secs)?;
    let same_pace = [("s", 1u64), ("min", 60), ("h", 3600), ("d", 86_400)]
        .iter()
        .find_map(|&(name, secs)| {
            let per = requests.checked_mul(secs)?;
            (per % window_secs == 0 && per >= window_secs)
                .then(|| u32::try_from(per / window_secs).ok())
                .flatten()
                .map(|n| format!(" (\"{n}/{name}\" keeps the same pace)"))
        })
        .unwrap_or_default();
    Some(format!(
        "the window of a rate is one unit, s, min, h or d: a window of {window} is not supported, found \"{rate}\"; write e.g. \"1/s\", \"20/min\", \"100/h\", \"1000/d\"{same_pace}"
    ))
}

fn timezone_message(text: &str) -> String {
    let mut message = format!(
        "expected an IANA time zone name such as \"America/New_York\" or \"UTC\", found \"{text}\""
    );
    // Zone names are long and mixed-case, so typos are usually a wrong
    // case or a swapped letter; both are worth a suggestion.
    let names: Vec<String> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name().to_string())
        .collect();
    let near = names
        .iter()
        .find(|name| name.eq_ignore_ascii_case(text))
        .map(String::as_str)
        .or_else(|| closest(text, &names));
    if let Some(name) = near {
        message.push_str(&format!(" (did you mean \"{name}\"?)"));
    }
    message
}

/// RFC 9110 `token`: the characters allowed in a header name.
fn is_http_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 6901: empty (the whole document) or `/`-separated reference tokens
/// in which `~` appears only as `~0` or `~1`.
fn check_json_pointer(pointer: &str) -> Result<(), String> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(format!(
            "expected a JSON Pointer such as \"/data\" (or \"\" for the whole body), found \"{pointer}\""
        ));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "bad JSON Pointer \"{pointer}\": '~' must be written \"~0\" and '/' inside a key \"~1\""
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pointers() {
        for ok in ["", "/data", "/a/0/b", "/a~0b/c~1d", "/"] {
            assert!(check_json_pointer(ok).is_ok(), "{ok}");
        }
        for bad in ["data", "/a~", "/a~2"] {
            assert!(check_json_pointer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_names() {
        assert!(is_http_token("User-Agent"));
        assert!(is_http_token("x-api_key"));
        assert!(!is_http_token("Bad Header"));
        assert!(!is_http_token("a:b"));
        assert!(!is_http_token(""));
    }

    #[test]
    fn timezone_suggestion() {
        for typo in ["america/new_york", "America/New_Yrok"] {
            let message = timezone_message(typo);
            assert!(
                message.contains("did you mean \"America/New_York\""),
                "{message}"
            );
        }
    }
}
