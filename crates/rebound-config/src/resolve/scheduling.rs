//! The scheduling keys: `[scheduler]`, `[calendars.X]`, scrapers'
//! `for_each` and workflows' `schedule`.
//!
//! Kept apart from the rest of the resolver because these keys refer to
//! one another across sections (a schedule names a calendar, a calendar a
//! dataset and the scraper that refreshes it, a `for_each` a dataset that
//! an earlier step must produce), so they are resolved after every scraper
//! is known.

use super::{Resolver, unknown_reference};
use crate::error::closest;
use crate::keypath::KeyPath;
use crate::raw::{RawCalendar, RawConfig, RawDuration, RawForEach, RawSchedule, RawScheduler};
use chrono::NaiveTime;
use rebound_domain::plan::{
    Calendar, CalendarRefresh, ForEach, ItemParam, Schedule, ScheduleKind, ScheduleRetry,
    SchedulerSettings, Scraper, Source, TargetDate,
};
use rebound_domain::template::BUILTIN_PARAMS;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The `tolerance` of an `at` schedule when none is written.
pub(crate) const DEFAULT_TOLERANCE: Duration = Duration::from_secs(30 * 60);

/// Keys every kind of schedule accepts.
const COMMON_KEYS: &[&str] = &["kind", "calendar", "target_date", "only_missing"];

/// Each kind with its own keys.
const KIND_KEYS: &[(&str, &[&str])] = &[
    ("cron", &["cron"]),
    ("window", &["start", "end", "retry_every", "retry_max"]),
    ("every", &["start", "end", "every", "lead"]),
    (
        "at",
        &[
            "at",
            "tolerance",
            "events_before",
            "after_event_start",
            "retry_every",
            "retry_max",
        ],
    ),
    ("discovery", &["start", "end", "every", "max_attempts"]),
];

const TIME_EXPECTED: &str = "a time of day \"HH:MM\" (24-hour, 00:00 to 23:59)";

impl Resolver<'_> {
    /// A duration that must be longer than zero.
    pub(super) fn positive_duration(
        &mut self,
        path: &KeyPath,
        raw: &RawDuration,
    ) -> Option<Duration> {
        let duration = self.duration(path, raw)?;
        if duration.is_zero() {
            self.fail(
                path,
                format!("expected a duration longer than zero, found \"{}\"", raw.0),
            );
            return None;
        }
        Some(duration)
    }

    pub(super) fn scheduler(&mut self, raw: &RawScheduler) -> SchedulerSettings {
        let path = KeyPath::root().key("scheduler");
        let defaults = SchedulerSettings::default();
        let mut setting = |key: &str, value: &Option<RawDuration>, default: Duration| {
            value
                .as_ref()
                .and_then(|d| self.positive_duration(&path.key(key), d))
                .unwrap_or(default)
        };
        SchedulerSettings {
            lease: setting("lease", &raw.lease, defaults.lease),
            catch_up: setting("catch_up", &raw.catch_up, defaults.catch_up),
            max_idle: setting("max_idle", &raw.max_idle, defaults.max_idle),
            shutdown_grace: setting(
                "shutdown_grace",
                &raw.shutdown_grace,
                defaults.shutdown_grace,
            ),
            max_inline_wait: setting(
                "max_inline_wait",
                &raw.max_inline_wait,
                defaults.max_inline_wait,
            ),
        }
    }

    pub(super) fn calendar(
        &mut self,
        name: &str,
        raw: &RawCalendar,
        scrapers: &BTreeMap<String, Scraper>,
    ) -> Option<Calendar> {
        let path = KeyPath::root().key("calendars").key(name);
        self.check_name(&path, name);
        let dataset_path = path.key("dataset");
        let dataset = self.text(&dataset_path, &raw.dataset).unwrap_or_default();
        if !dataset.is_empty() && producers(&dataset, scrapers).is_empty() {
            self.fail(&dataset_path, unknown_dataset(&dataset, scrapers));
        }
        let events = self.json_path(&path.key("events"), &raw.events);
        let id = self.member(&path.key("id"), &raw.id, "gameId");
        let start = self.member(&path.key("start"), &raw.start, "gameDateTimeUTC");

        let refresh = raw.refresh.as_ref().and_then(|r| {
            let path = path.key("refresh");
            let scraper_path = path.key("scraper");
            let scraper = self.text(&scraper_path, &r.scraper);
            match scraper.as_ref().map(|s| (s, scrapers.get(s))) {
                Some((s, None)) => {
                    let defined: Vec<String> = scrapers.keys().cloned().collect();
                    self.fail(&scraper_path, unknown_reference("scraper", s, &defined));
                }
                Some((s, Some(found))) if !dataset.is_empty() && found.dataset != dataset => {
                    self.fail(
                        &scraper_path,
                        format!(
                            "scraper \"{s}\" produces dataset \"{}\", not this calendar's dataset \"{dataset}\"",
                            found.dataset
                        ),
                    );
                }
                _ => {}
            }
            let max_age = self.positive_duration(&path.key("max_age"), &r.max_age);
            let override_max_age = r
                .override_max_age
                .as_ref()
                .and_then(|d| self.positive_duration(&path.key("override_max_age"), d));
            let until_path = path.key("override_until");
            let override_until = r.override_until.as_ref().and_then(|u| {
                let read_from = self.secrets.len();
                let text = self.text(&until_path, u)?;
                match chrono::DateTime::parse_from_rfc3339(text.trim()) {
                    Ok(t) => self.setting(read_from, Some(t.with_timezone(&chrono::Utc))),
                    Err(_) => {
                        self.fail(
                            &until_path,
                            format!(
                                "expected an RFC 3339 time such as \"2026-12-01T00:00:00Z\", found \"{text}\""
                            ),
                        );
                        None
                    }
                }
            });
            if r.override_until.is_some() && r.override_max_age.is_none() {
                self.fail(
                    &until_path,
                    "override_until needs override_max_age (the max_age in force until then)",
                );
            }
            Some(CalendarRefresh {
                scraper: scraper?,
                max_age: max_age?,
                override_max_age,
                override_until,
            })
        });
        Some(Calendar {
            name: name.to_string(),
            dataset,
            events: events?,
            id: id?,
            start: start?,
            refresh,
        })
    }

    /// An RFC 9535 JSONPath, checked for syntax.
    fn json_path(&mut self, path: &KeyPath, raw: &str) -> Option<String> {
        let text = self.text(path, raw)?;
        match serde_json_path::JsonPath::parse(&text) {
            Ok(_) => match bad_regex(&text) {
                None => Some(text),
                Some(why) => {
                    self.fail(path, format!("bad JSONPath \"{text}\": {why}"));
                    None
                }
            },
            Err(e) => {
                self.fail(
                    path,
                    format!(
                        "bad JSONPath \"{text}\": {}; expected an RFC 9535 JSONPath such as \"$.data[*]\"",
                        e
                    ),
                );
                None
            }
        }
    }

    /// The name of a member of each item (not a path).
    fn member(&mut self, path: &KeyPath, raw: &str, example: &str) -> Option<String> {
        let text = self.text(path, raw)?;
        if text.trim().is_empty() || text.starts_with('$') || text.starts_with('/') {
            self.fail(
                path,
                format!("expected the name of a member of each item, such as \"{example}\", found \"{text}\""),
            );
            return None;
        }
        Some(text)
    }

    /// One parameter a fan-out binds from each item: a plain name that is
    /// not built in and that the scraper's templates use.
    fn bound_param(
        &mut self,
        path: &KeyPath,
        label: &str,
        param: &str,
        scraper: &Scraper,
        sources: &BTreeMap<String, Source>,
    ) -> bool {
        if rebound_domain::params::is_builtin(param) {
            self.fail(
                path,
                format!(
                    "\"{param}\" is a built-in parameter ({}); name the parameter that receives each item",
                    BUILTIN_PARAMS.join(", ")
                ),
            );
            return false;
        }
        let Some(source) = sources.get(&scraper.source) else {
            return true;
        };
        let used = scraper.required_params(source);
        if used.iter().any(|u| u == param) {
            return true;
        }
        let used: Vec<&String> = used
            .iter()
            .filter(|p| !BUILTIN_PARAMS.contains(&p.as_str()))
            .collect();
        let mut message =
            format!("{label} \"{param}\" is not used by this scraper's path, query or headers");
        if used.is_empty() {
            message.push_str(" (they use no parameter besides the built-ins)");
        } else {
            let list: Vec<String> = used.iter().map(|p| format!("{{{p}}}")).collect();
            message.push_str(&format!(" (they use {})", list.join(", ")));
        }
        self.fail(path, message);
        false
    }

    /// `for_each.params`: each name checked like `param`, each path a
    /// dotted path of member names.
    fn item_params(
        &mut self,
        path: &KeyPath,
        raw: &RawForEach,
        scraper: &Scraper,
        sources: &BTreeMap<String, Source>,
    ) -> Option<Vec<ItemParam>> {
        let raw_params = raw.params.as_ref()?;
        let params_path = path.key("params");
        if raw_params.0.is_empty() {
            self.fail(
                &params_path,
                "`params` is empty; bind at least one parameter, e.g. { home = \"homeTeam.teamTricode\" }",
            );
            return Some(Vec::new());
        }
        let mut out: Vec<ItemParam> = Vec::new();
        for (name, raw_path) in &raw_params.0 {
            let key = params_path.key(name);
            if raw.param.as_deref() == Some(name.as_str()) {
                self.fail(
                    &key,
                    format!("\"{name}\" is already bound by `param`; bind each parameter once"),
                );
                continue;
            }
            if !self.bound_param(
                &key,
                &format!("for_each.params.{name}"),
                name,
                scraper,
                sources,
            ) {
                continue;
            }
            let Some(text) = self.text(&key, raw_path) else {
                continue;
            };
            let bad = text.starts_with('$')
                || text.starts_with('/')
                || text.split('.').any(|m| m.trim().is_empty());
            if bad {
                self.fail(
                    &key,
                    format!("expected a member of each item or a dotted path of members, such as \"homeTeam.teamTricode\", found \"{text}\""),
                );
                continue;
            }
            out.push(ItemParam {
                param: name.clone(),
                path: text,
            });
        }
        Some(out)
    }

    /// `for_each`, and the parameters it binds from each item besides its
    /// `param` (the scraper's `item_params`).
    pub(super) fn for_each(
        &mut self,
        scraper_name: &str,
        raw: &RawForEach,
        config: &RawConfig,
        sources: &BTreeMap<String, Source>,
        scrapers: &BTreeMap<String, Scraper>,
    ) -> Option<(ForEach, Vec<ItemParam>)> {
        let path = KeyPath::root()
            .key("scrapers")
            .key(scraper_name)
            .key("for_each");
        let scraper = scrapers.get(scraper_name)?;

        let param_path = path.key("param");
        // With `params`, `param` may only identify the item (a game book
        // addressed by its teams still has a game id): it need not appear
        // in a template, as it is stored with each call all the same.
        let param = match &raw.param {
            Some(raw_param) => self.text(&param_path, raw_param).and_then(|param| {
                let ok = if raw.params.is_some() && !rebound_domain::params::is_builtin(&param) {
                    true
                } else {
                    self.bound_param(&param_path, "for_each.param", &param, scraper, sources)
                };
                ok.then_some(param)
            }),
            None => None,
        };
        let mut extra = self.item_params(&path, raw, scraper, sources);

        match (&raw.calendar, &raw.dataset) {
            (Some(calendar), None) => {
                for (key, value) in [("items", &raw.items), ("value", &raw.value)] {
                    if value.is_some() {
                        self.fail(
                            &path.key(key),
                            format!("`{key}` belongs to the dataset form; with `calendar` give only `calendar`, `param` and `params`"),
                        );
                    }
                }
                if raw.param.is_none() {
                    self.fail(
                        &param_path,
                        "missing required key: the calendar form needs `param`, the parameter that receives each event's id",
                    );
                }
                let calendar_path = path.key("calendar");
                let calendar = self.text(&calendar_path, calendar)?;
                if !config.calendars.contains_key(&calendar) {
                    let defined: Vec<String> = config.calendars.keys().cloned().collect();
                    self.fail(
                        &calendar_path,
                        unknown_reference("calendar", &calendar, &defined),
                    );
                }
                Some((
                    ForEach::Calendar {
                        calendar,
                        param: param?,
                    },
                    extra.unwrap_or_default(),
                ))
            }
            (None, Some(dataset)) => {
                let dataset_path = path.key("dataset");
                let dataset = self.text(&dataset_path, dataset);
                if let Some(dataset) = &dataset {
                    if *dataset == scraper.dataset {
                        self.fail(
                            &dataset_path,
                            format!("\"{dataset}\" is this scraper's own dataset; a scraper cannot fan out over its own payloads"),
                        );
                    } else if producers(dataset, scrapers).is_empty() {
                        self.fail(&dataset_path, unknown_dataset(dataset, scrapers));
                    }
                }
                let items = match &raw.items {
                    Some(items) => self.json_path(&path.key("items"), items),
                    None => {
                        self.fail(
                            &path.key("items"),
                            "missing required key: the dataset form needs `items`, a JSONPath selecting the items, e.g. \"$.data[*]\"",
                        );
                        None
                    }
                };
                // The item's identity: `value` into `param`, or else the
                // first of `params`.
                let (value, param) = match (&raw.value, &raw.param) {
                    (Some(value), Some(_)) => (self.member(&path.key("value"), value, "id"), param),
                    (None, None) if raw.params.is_some() => {
                        let first = extra
                            .as_mut()
                            .filter(|e| !e.is_empty())
                            .map(|e| e.remove(0));
                        let value = first.as_ref().map(|f| f.path.clone());
                        (value, first.map(|f| f.param))
                    }
                    (None, _) => {
                        self.fail(
                            &path.key("value"),
                            "missing required key: the dataset form needs `value`, the member of each item passed as `param`, e.g. \"id\" (or `params`)",
                        );
                        (None, None)
                    }
                    (Some(_), None) => {
                        self.fail(
                            &param_path,
                            "missing required key: `value` needs `param`, the parameter that receives it",
                        );
                        (None, None)
                    }
                };
                Some((
                    ForEach::Dataset {
                        dataset: dataset?,
                        items: items?,
                        value: value?,
                        param: param?,
                    },
                    extra.unwrap_or_default(),
                ))
            }
            (Some(_), Some(_)) => {
                self.fail(
                    &path.key("dataset"),
                    "give either `calendar` (one call per event) or `dataset` (one call per item of a payload), not both",
                );
                None
            }
            (None, None) => {
                self.fail(
                    &path,
                    "missing `calendar` (one call per calendar event) or `dataset`, `items` and `value` (one call per item of a dataset's payload)",
                );
                None
            }
        }
    }

    /// A scraper that fans out over a dataset reads that dataset's latest
    /// payload; when the same workflow also produces the dataset, it must
    /// do so in an earlier step, or the fan-out would read yesterday's
    /// list (or race the producer).
    pub(super) fn check_fan_out_order(
        &mut self,
        step_of: &HashMap<String, (usize, KeyPath)>,
        scrapers: &BTreeMap<String, Scraper>,
    ) {
        let mut members: Vec<(&String, &(usize, KeyPath))> = step_of.iter().collect();
        members.sort_by(|a, b| a.0.cmp(b.0));
        // The producers of each dataset, in name order: looked up per
        // fan-out instead of scanning every member for each.
        let mut producers: HashMap<&str, Vec<(&String, usize)>> = HashMap::new();
        for (name, (step, _)) in &members {
            if let Some(scraper) = scrapers.get(*name) {
                producers
                    .entry(scraper.dataset.as_str())
                    .or_default()
                    .push((*name, *step));
            }
        }
        for (name, (step, key)) in &members {
            let Some(Some(ForEach::Dataset { dataset, .. })) =
                scrapers.get(*name).map(|s| &s.for_each)
            else {
                continue;
            };
            let listed = producers.get(dataset.as_str()).map(Vec::as_slice);
            for &(producer, producer_step) in listed.unwrap_or_default() {
                if producer == *name || producer_step < *step {
                    continue;
                }
                let when = if producer_step == *step {
                    "this step"
                } else {
                    "a later step"
                };
                self.fail(
                    key,
                    format!(
                        "\"{name}\" fans out over dataset \"{dataset}\", which \"{producer}\" produces in {when} of this workflow; put \"{producer}\" in an earlier step"
                    ),
                );
            }
        }
    }

    pub(super) fn schedule(
        &mut self,
        path: &KeyPath,
        raw: &RawSchedule,
        config: &RawConfig,
    ) -> Option<Schedule> {
        let kind_path = path.key("kind");
        let read_from = self.secrets.len();
        let kind = self.text(&kind_path, &raw.kind)?;
        let own = KIND_KEYS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, keys)| *keys);
        let allowed: Vec<String> = match own {
            Some(keys) => COMMON_KEYS
                .iter()
                .take(1)
                .chain(keys.iter())
                .chain(COMMON_KEYS.iter().skip(1))
                .map(|k| k.to_string())
                .collect(),
            None => {
                let kinds: Vec<String> = KIND_KEYS.iter().map(|(k, _)| k.to_string()).collect();
                let mut message = format!(
                    "expected one of {}, found \"{kind}\"",
                    kinds
                        .iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(best) = closest(&kind, &kinds) {
                    message.push_str(&format!(" (did you mean \"{best}\"?)"));
                }
                self.fail(&kind_path, message);
                return None;
            }
        };
        self.not_secret(read_from);
        let for_kind = format!("allowed keys for kind \"{kind}\": {}", allowed.join(", "));
        let mut ok = true;
        for key in present_keys(raw) {
            if !allowed.iter().any(|a| a == key) {
                self.fail(
                    &path.key(key),
                    format!("key \"{key}\" does not apply to kind \"{kind}\"; {for_kind}"),
                );
                ok = false;
            }
        }
        for key in raw.unknown.keys() {
            let mut message = format!("unknown key \"{key}\"");
            if let Some(best) = closest(key, &allowed) {
                message.push_str(&format!(" (did you mean \"{best}\"?)"));
            }
            message.push_str(&format!("; {for_kind}"));
            self.fail(&path.key(key), message);
            ok = false;
        }

        let calendar = raw.calendar.as_ref().and_then(|c| {
            let key = path.key("calendar");
            let name = self.text(&key, c)?;
            if !config.calendars.contains_key(&name) {
                let defined: Vec<String> = config.calendars.keys().cloned().collect();
                self.fail(&key, unknown_reference("calendar", &name, &defined));
                return None;
            }
            Some(name)
        });
        let target_date = match &raw.target_date {
            None => TargetDate::Today,
            Some(t) => {
                let key = path.key("target_date");
                let read_from = self.secrets.len();
                match self.text(&key, t).as_deref() {
                    Some("today") => {
                        self.not_secret(read_from);
                        TargetDate::Today
                    }
                    Some("yesterday") => {
                        self.not_secret(read_from);
                        TargetDate::Yesterday
                    }
                    Some(other) => {
                        self.fail(
                            &key,
                            format!("expected \"today\" or \"yesterday\", found \"{other}\""),
                        );
                        TargetDate::Today
                    }
                    None => TargetDate::Today,
                }
            }
        };
        let only_missing = raw.only_missing.unwrap_or(false);
        if raw.calendar.is_none() {
            let needs: [(&str, bool); 4] = [
                ("only_missing", only_missing),
                ("lead", raw.lead.is_some()),
                ("events_before", raw.events_before.is_some()),
                ("after_event_start", raw.after_event_start.is_some()),
            ];
            for (key, set) in needs {
                if set {
                    self.fail(
                        &path.key(key),
                        format!("`{key}` needs `calendar`: it is about the calendar's events"),
                    );
                }
            }
        }
        if !ok {
            return None;
        }

        let kind = match kind.as_str() {
            "cron" => {
                let cron = self.required(path, &kind, "cron", &raw.cron, "a cron expression")?;
                let cron = self.cron(&path.key("cron"), cron)?;
                ScheduleKind::Cron { cron }
            }
            "window" => {
                let (start, end) = self.start_end(path, &kind, raw)?;
                ScheduleKind::Window { start, end }
            }
            "every" => {
                let start_end = self.start_end(path, &kind, raw);
                let every = self.every(path, &kind, raw);
                let lead = raw
                    .lead
                    .as_ref()
                    .and_then(|d| self.positive_duration(&path.key("lead"), d));
                let (start, end) = start_end?;
                ScheduleKind::Every {
                    start,
                    end,
                    every: every?,
                    lead,
                }
            }
            "at" => {
                let at = self.required(path, &kind, "at", &raw.at, TIME_EXPECTED);
                let at = at.and_then(|t| self.time_of_day(&path.key("at"), t));
                let tolerance = match &raw.tolerance {
                    Some(d) => self.positive_duration(&path.key("tolerance"), d),
                    None => Some(DEFAULT_TOLERANCE),
                };
                let events_before = raw
                    .events_before
                    .as_ref()
                    .and_then(|t| self.time_of_day(&path.key("events_before"), t));
                let after_event_start = raw
                    .after_event_start
                    .as_ref()
                    .and_then(|d| self.positive_duration(&path.key("after_event_start"), d));
                ScheduleKind::At {
                    at: at?,
                    tolerance: tolerance?,
                    events_before,
                    after_event_start,
                }
            }
            _ => {
                let start_end = self.start_end(path, &kind, raw);
                let every = self.every(path, &kind, raw);
                let ((start, end), every) = (start_end?, every?);
                let max_attempts = match raw.max_attempts {
                    Some(n) => self.at_least(&path.key("max_attempts"), n, 1)?,
                    None => slots(start, end, every),
                };
                ScheduleKind::Discovery {
                    start,
                    end,
                    every,
                    max_attempts,
                }
            }
        };
        let retry = match &kind {
            ScheduleKind::Window { .. } | ScheduleKind::At { .. } => {
                self.schedule_retry(path, raw)?
            }
            _ => None,
        };
        Some(Schedule {
            kind,
            calendar,
            target_date,
            only_missing,
            retry,
        })
    }

    /// `retry_every` and `retry_max` of a `window` or `at` schedule, with
    /// their defaults; `Some(None)` when `retry_max = 0` turns retries off.
    fn schedule_retry(
        &mut self,
        path: &KeyPath,
        raw: &RawSchedule,
    ) -> Option<Option<ScheduleRetry>> {
        let every = match &raw.retry_every {
            None => Some(ScheduleRetry::DEFAULT_EVERY),
            Some(d) => {
                let key = path.key("retry_every");
                self.duration(&key, d).and_then(|every| {
                    if (ScheduleRetry::MIN_EVERY..=ScheduleRetry::MAX_EVERY).contains(&every) {
                        Some(every)
                    } else {
                        self.fail(
                            &key,
                            format!(
                                "expected a duration from \"1m\" to \"24h\", found \"{}\"",
                                d.0
                            ),
                        );
                        None
                    }
                })
            }
        };
        let max = match raw.retry_max {
            None => Some(ScheduleRetry::DEFAULT_MAX),
            Some(n) => {
                let key = path.key("retry_max");
                let limit = i64::from(ScheduleRetry::MAX_MAX);
                if (0..=limit).contains(&n) {
                    u32::try_from(n).ok()
                } else {
                    self.fail(
                        &key,
                        format!("expected an integer from 0 to {limit}, found {n}"),
                    );
                    None
                }
            }
        };
        let (every, max) = (every?, max?);
        Some((max > 0).then_some(ScheduleRetry { every, max }))
    }

    /// A key a kind cannot do without.
    fn required<'v>(
        &mut self,
        path: &KeyPath,
        kind: &str,
        key: &str,
        value: &'v Option<String>,
        expected: &str,
    ) -> Option<&'v str> {
        if value.is_none() {
            self.fail(
                &path.key(key),
                format!("missing required key `{key}` of kind \"{kind}\": expected {expected}"),
            );
        }
        value.as_deref()
    }

    fn start_end(
        &mut self,
        path: &KeyPath,
        kind: &str,
        raw: &RawSchedule,
    ) -> Option<(NaiveTime, NaiveTime)> {
        let start = self.required(path, kind, "start", &raw.start, TIME_EXPECTED);
        let end = self.required(path, kind, "end", &raw.end, TIME_EXPECTED);
        let start = start.and_then(|t| self.time_of_day(&path.key("start"), t));
        let end = end.and_then(|t| self.time_of_day(&path.key("end"), t));
        let (start, end) = (start?, end?);
        if end <= start {
            self.fail(
                &path.key("end"),
                format!(
                    "end ({}) must be later than start ({}); a schedule's day does not cross midnight",
                    end.format("%H:%M"),
                    start.format("%H:%M")
                ),
            );
            return None;
        }
        Some((start, end))
    }

    fn every(&mut self, path: &KeyPath, kind: &str, raw: &RawSchedule) -> Option<Duration> {
        match &raw.every {
            // Slots are local minutes named "HH:MM": a step of seconds was
            // run once a minute while the reasons said "every 1s", and one
            // of 90s gave two slots the same name.
            Some(d) => match self.positive_duration(&path.key("every"), d)? {
                every if every.as_secs() % 60 != 0 || every.subsec_nanos() != 0 => {
                    self.fail(
                        &path.key("every"),
                        format!(
                            "expected a whole number of minutes such as \"1m\" or \"15m\" (slots are local minutes, named HH:MM), found \"{}\"",
                            d.0
                        ),
                    );
                    None
                }
                every => Some(every),
            },
            None => {
                self.fail(
                    &path.key("every"),
                    format!(
                        "missing required key `every` of kind \"{kind}\": expected a duration such as \"2h\""
                    ),
                );
                None
            }
        }
    }

    pub(super) fn time_of_day(&mut self, path: &KeyPath, raw: &str) -> Option<NaiveTime> {
        let read_from = self.secrets.len();
        let text = self.text(path, raw)?;
        match parse_time_of_day(&text) {
            Some(time) => self.setting(read_from, Some(time)),
            None => {
                self.fail(path, format!("expected {TIME_EXPECTED}, found \"{text}\""));
                None
            }
        }
    }

    fn cron(&mut self, path: &KeyPath, raw: &str) -> Option<String> {
        let read_from = self.secrets.len();
        let text = self.text(path, raw)?;
        let fields = text.split_whitespace().count();
        if fields != 5 {
            self.fail(
                path,
                format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week), found {fields} in \"{text}\""
                ),
            );
            return None;
        }
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build();
        match parser.parse(&text) {
            // A day that never comes (`0 0 31 2 *`, February 31st) parses,
            // and the workflow would never run, with nothing saying why.
            // 28 years hold every weekday of every date, leap days too.
            Ok(cron) if !fires_within_28_years(&cron) => {
                self.fail(
                    path,
                    format!(
                        "cron \"{text}\" never fires: no date has that day of the month in that month (and that day of the week)"
                    ),
                );
                None
            }
            Ok(_) => match super::cron::accepted_mistake(&text) {
                Some(why) => {
                    self.fail(path, format!("bad cron expression \"{text}\": {why}"));
                    None
                }
                None => self.setting(read_from, Some(text.trim().to_string())),
            },
            Err(e) => {
                let why = super::cron::explain(&text, &parser, &e);
                self.fail(path, format!("bad cron expression \"{text}\": {why}"));
                None
            }
        }
    }
}

/// Whether `cron` matches a minute between 2000 and 2028.
fn fires_within_28_years(cron: &croner::Cron) -> bool {
    use chrono::TimeZone as _;
    let start = chrono::Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    let end = chrono::Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).single();
    match (start, end) {
        (Some(start), Some(end)) => cron
            .find_next_occurrence(&start, true)
            .is_ok_and(|next| next < end),
        _ => true,
    }
}

/// Every key written in a schedule table (other than unknown ones).
fn present_keys(raw: &RawSchedule) -> Vec<&'static str> {
    let keys = [
        ("cron", raw.cron.is_some()),
        ("start", raw.start.is_some()),
        ("end", raw.end.is_some()),
        ("every", raw.every.is_some()),
        ("lead", raw.lead.is_some()),
        ("at", raw.at.is_some()),
        ("tolerance", raw.tolerance.is_some()),
        ("events_before", raw.events_before.is_some()),
        ("after_event_start", raw.after_event_start.is_some()),
        ("max_attempts", raw.max_attempts.is_some()),
        ("retry_every", raw.retry_every.is_some()),
        ("retry_max", raw.retry_max.is_some()),
    ];
    keys.iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect()
}

/// "HH:MM", 24-hour, exactly two digits each (one rule with scenarios).
fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    rebound_domain::calendar::time_of_day(text)
}

/// The number of slots `start`, `start + every`, … before `end`.
fn slots(start: NaiveTime, end: NaiveTime, every: Duration) -> u32 {
    let span = (end - start).to_std().unwrap_or_default();
    let every = every.as_millis().max(1);
    u32::try_from(span.as_millis().div_ceil(every))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// The scrapers producing `dataset`, by name.
fn producers<'s>(dataset: &str, scrapers: &'s BTreeMap<String, Scraper>) -> Vec<&'s str> {
    scrapers
        .values()
        .filter(|s| s.dataset == dataset)
        .map(|s| s.name.as_str())
        .collect()
}

/// "no scraper produces dataset "x" (did you mean "y"?); datasets: ...".
fn unknown_dataset(dataset: &str, scrapers: &BTreeMap<String, Scraper>) -> String {
    let mut known: Vec<String> = scrapers.values().map(|s| s.dataset.clone()).collect();
    known.sort();
    known.dedup();
    let mut message = format!("no scraper produces dataset \"{dataset}\"");
    if let Some(best) = closest(dataset, &known) {
        message.push_str(&format!(" (did you mean \"{best}\"?)"));
    }
    if known.is_empty() {
        message.push_str("; no scrapers are defined");
    } else {
        message.push_str(&format!("; datasets produced: {}", known.join(", ")));
    }
    message
}

/// Why a regular expression given to `match()` or `search()` as a string
/// literal does not compile, as serde_json_path compiles it. It compiles
/// one at each evaluation and reads a failure as "no match", so a typo
/// such as `'['` passed `check` and the fan-out then found 0 items, run
/// after run, as a success.
fn bad_regex(path: &str) -> Option<String> {
    let tokens = json_path_tokens(path);
    for (at, token) in tokens.iter().enumerate() {
        let Token::Name(function) = token else {
            continue;
        };
        if !matches!(function.as_str(), "match" | "search")
            || tokens.get(at + 1) != Some(&Token::Punct('('))
        {
            continue;
        }
        // The second argument: after the first comma at this call's depth,
        // when it is a literal alone.
        let mut depth = 0usize;
        let mut comma = None;
        for (n, token) in tokens.iter().enumerate().skip(at + 1) {
            match token {
                Token::Punct('(' | '[') => depth += 1,
                Token::Punct(')' | ']') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                Token::Punct(',') if depth == 1 => {
                    comma = Some(n);
                    break;
                }
                _ => {}
            }
        }
        let Some(comma) = comma else { continue };
        let (Some(Token::Literal(pattern)), Some(Token::Punct(')'))) =
            (tokens.get(comma + 1), tokens.get(comma + 2))
        else {
            continue;
        };
        let anchored = if function == "match" {
            format!("(?R)^({pattern})$")
        } else {
            format!("(?R)({pattern})")
        };
        if let Err(error) = regex::Regex::new(&anchored) {
            let why = match error {
                regex::Error::CompiledTooBig(limit) => {
                    format!("it compiles past the size limit of {limit} bytes")
                }
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string(),
            };
            return Some(format!(
                "the regular expression {pattern:?} of {function}() does not compile ({why}), so it would match nothing"
            ));
        }
    }
    None
}

#[derive(Debug, PartialEq)]
enum Token {
    /// A function or member name.
    Name(String),
    /// A string literal, its escapes decoded.
    Literal(String),
    Punct(char),
}

/// The names, string literals and punctuation of a JSONPath that parsed
/// (so its literals are well formed); spaces and numbers are left out.
fn json_path_tokens(path: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let quote = c;
                let mut literal = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('b') => literal.push('\u{8}'),
                            Some('f') => literal.push('\u{c}'),
                            Some('n') => literal.push('\n'),
                            Some('r') => literal.push('\r'),
                            Some('t') => literal.push('\t'),
                            Some('u') => {
                                let hex: String = chars.by_ref().take(4).collect();
                                let mut code = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                                // A high surrogate pairs with the `\uXXXX` after it.
                                if (0xD800..0xDC00).contains(&code) && chars.peek() == Some(&'\\') {
                                    chars.next();
                                    chars.next();
                                    let low: String = chars.by_ref().take(4).collect();
                                    let low = u32::from_str_radix(&low, 16).unwrap_or(0xDC00);
                                    code = 0x10000
                                        + ((code - 0xD800) << 10)
                                        + (low.saturating_sub(0xDC00) & 0x3FF);
                                }
                                literal.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                            }
                            Some(other) => literal.push(other),
                            None => {}
                        },
                        c if c == quote => break,
                        other => literal.push(other),
                    }
                }
                tokens.push(Token::Literal(literal));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' {
                        name.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Name(name));
            }
            c if c.is_whitespace() || c.is_ascii_digit() => {}
            c => tokens.push(Token::Punct(c)),
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: each of these passed `check`; serde_json_path reads a
    /// pattern that does not compile as "no match", so the fan-out found
    /// nothing as a success.
    #[test]
    fn a_match_or_search_pattern_that_does_not_compile_is_found() {
        for (path, pattern, function) in [
            ("$.data[?match(@.id, '[')]", "[", "match"),
            ("$.data[?search(@.name, \"a(\")]", "a(", "search"),
            (
                "$.data[?@.x == 1 && match(@.id, 'a{1000}{1000}{1000}')]",
                "a{1000}{1000}{1000}",
                "match",
            ),
            // An escaped quote inside the literal, and nesting.
            (
                "$.data[?count(@.t[?match(@, 'it\\'s(')]) > 0]",
                "it's(",
                "match",
            ),
        ] {
            let why = bad_regex(path).unwrap_or_else(|| panic!("{path}: not found"));
            assert!(
                why.starts_with(&format!(
                    "the regular expression {pattern:?} of {function}() does not compile ("
                )),
                "{path}: {why}"
            );
            assert!(why.ends_with("so it would match nothing"), "{why}");
        }
        for fine in [
            "$.data[?match(@.id, '[a-z]+')]",
            "$.data[?search(@.name, 'x\\\\d')]",
            "$.data[?match(@.id, @.pattern)]",
            "$.data[?@.note == 'match(@, \\'[\\')']",
            "$.data[*]",
        ] {
            assert_eq!(bad_regex(fine), None, "{fine}");
            assert!(serde_json_path::JsonPath::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_of_day("06:00"), NaiveTime::from_hms_opt(6, 0, 0));
        assert_eq!(
            parse_time_of_day("23:59"),
            NaiveTime::from_hms_opt(23, 59, 0)
        );
        for bad in [
            "6:00", "24:00", "12:60", "12-00", "12:0a", "+1:00", "12:00:00", "",
        ] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn slot_counts() {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(slots(t(9), t(21), hours(2)), 6);
        assert_eq!(slots(t(9), t(20), hours(2)), 6, "09,11,…,19");
        assert_eq!(slots(t(9), t(10), hours(2)), 1);
    }
}
