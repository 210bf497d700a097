//! Who supplies each `{param}`: the template check of `rebound check`.
//!
//! A scheduled run has no `--param`, so every parameter a scraper's
//! templates use (path, query, headers, and its source's base URL, query
//! and headers) must come from what the run itself supplies: the date
//! built-ins, the season ones when `[pipeline] season_start` is set, the
//! slot ones, and the parameters the scraper's own `for_each` binds. A
//! parameter nothing supplies would fail every slot at run time (the
//! original pipeline's morning roster scraper failed daily for exactly
//! this), so it is a config error at the template that uses it.
//!
//! Runs a person starts can pass `--param` and `--slot`, so scrapers only
//! in unscheduled workflows, or in none, are not checked. Calendar refresh
//! scrapers run from the scheduler too, with the date and season only.
//!
//! Also here: the variants rule (`valid_from` / `valid_until`), which is
//! about what one workflow runs on one date.

use super::Resolver;
use crate::keypath::KeyPath;
use rebound_domain::params::{DATE_PARAMS, SEASON_PARAMS, SLOT_PARAMS};
use rebound_domain::plan::{Calendar, Scraper, Source, Workflow};
use rebound_domain::template::Template;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Who runs a scraper without `--param`, for the message.
enum Supplier<'a> {
    Workflow(&'a str),
    Refresh(&'a str),
}

impl Resolver<'_> {
    /// Fails every template parameter of a scheduled workflow's or a
    /// calendar refresh's scrapers that nothing supplies.
    pub(super) fn check_supplied_params(
        &mut self,
        workflows: &BTreeMap<String, Workflow>,
        calendars: &BTreeMap<String, Calendar>,
        scrapers: &BTreeMap<String, Scraper>,
        sources: &BTreeMap<String, Source>,
        has_season: bool,
    ) {
        let mut base: Vec<&str> = DATE_PARAMS.to_vec();
        if has_season {
            base.extend(SEASON_PARAMS);
        }
        // One problem per template and parameter, however many runs miss it.
        let mut reported: BTreeSet<(KeyPath, String)> = BTreeSet::new();
        let mut runs: Vec<(Supplier<'_>, Vec<&str>, Vec<&str>)> = Vec::new();
        for workflow in workflows.values().filter(|w| w.schedule.is_some()) {
            let mut supplied = base.clone();
            supplied.extend(SLOT_PARAMS);
            runs.push((
                Supplier::Workflow(&workflow.name),
                supplied,
                workflow.scraper_names().collect(),
            ));
        }
        for calendar in calendars.values() {
            if let Some(refresh) = &calendar.refresh {
                runs.push((
                    Supplier::Refresh(&calendar.name),
                    base.clone(),
                    vec![refresh.scraper.as_str()],
                ));
            }
        }
        for (supplier, supplied, names) in runs {
            for name in names {
                let Some(scraper) = scrapers.get(name) else {
                    continue;
                };
                let Some(source) = sources.get(&scraper.source) else {
                    continue;
                };
                let mut all: Vec<&str> = supplied.clone();
                if matches!(supplier, Supplier::Workflow(_)) {
                    all.extend(scraper.fan_out_params());
                }
                for (key, template) in templates(scraper, source) {
                    for param in template.params() {
                        if all.contains(&param) || !reported.insert((key.clone(), param.into())) {
                            continue;
                        }
                        let by = match &supplier {
                            Supplier::Workflow(w) => format!("workflow {w}"),
                            Supplier::Refresh(c) => format!("the refresh of calendar {c}"),
                        };
                        let mut message = format!("{{{param}}} is not supplied by {by}");
                        if key.top_key() == Some("sources") {
                            message.push_str(&format!(" (for scraper {name})"));
                        }
                        message.push_str(&format!(" (it supplies: {})", all.join(", ")));
                        message.push_str(&hint(param, has_season));
                        self.fail(&key, message);
                    }
                }
            }
        }
    }

    /// Variants listed in one workflow (scrapers of one dataset, at least
    /// one with `valid_from` / `valid_until`) must not share a date:
    /// exactly one runs on any date.
    pub(super) fn check_variants(
        &mut self,
        step_of: &HashMap<String, (usize, KeyPath)>,
        scrapers: &BTreeMap<String, Scraper>,
    ) {
        let mut listed: Vec<(&String, &KeyPath, &Scraper)> = step_of
            .iter()
            .filter_map(|(name, (_, key))| scrapers.get(name).map(|s| (name, key, s)))
            .collect();
        listed.sort_by(|a, b| a.1.cmp(b.1));
        // Only scrapers of one dataset are compared: comparing every pair
        // made a workflow of 40,000 scrapers take 16 s to load.
        let mut by_dataset: HashMap<&str, Vec<(&String, &KeyPath, &Scraper)>> = HashMap::new();
        for entry in &listed {
            by_dataset
                .entry(entry.2.dataset.as_str())
                .or_default()
                .push(*entry);
        }
        for (name, key, scraper) in &listed {
            let same = &by_dataset[scraper.dataset.as_str()];
            let before = same.iter().take_while(|(other, _, _)| other != name);
            for (other_name, _, other) in before {
                let bounded = !scraper.valid.is_always() || !other.valid.is_always();
                if !bounded {
                    continue;
                }
                if scraper.valid.overlaps(&other.valid) {
                    self.fail(
                        key,
                        format!(
                            "\"{name}\" (valid {}) and \"{other_name}\" (valid {}) are variants of dataset \"{}\" in this workflow and both are valid on some date; give them valid_from / valid_until ranges that do not overlap",
                            scraper.valid.describe(),
                            other.valid.describe(),
                            scraper.dataset
                        ),
                    );
                }
            }
        }
    }
}

/// Every template a call of `scraper` renders, with the key it is written
/// at. Source query keys and headers the scraper overrides are left out.
fn templates<'a>(scraper: &'a Scraper, source: &'a Source) -> Vec<(KeyPath, &'a Template)> {
    let scraper_key = KeyPath::root().key("scrapers").key(&scraper.name);
    let source_key = KeyPath::root().key("sources").key(&source.name);
    let mut out = vec![
        (scraper_key.key("path"), &scraper.path),
        (source_key.key("base_url"), &source.base_url.value),
    ];
    for (name, value) in &scraper.query {
        out.push((scraper_key.key("query").key(name), &value.value));
    }
    for (name, value) in &scraper.headers {
        out.push((scraper_key.key("headers").key(name), &value.value));
    }
    for (name, value) in &source.query {
        if !scraper.query.iter().any(|(k, _)| k == name) {
            out.push((source_key.key("query").key(name), &value.value));
        }
    }
    for (name, value) in &source.headers {
        if !scraper
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            out.push((source_key.key("headers").key(name), &value.value));
        }
    }
    out
}

/// What would supply a built-in that is missing here.
fn hint(param: &str, has_season: bool) -> String {
    if SEASON_PARAMS.contains(&param) && !has_season {
        "; set [pipeline] season_start to supply it".to_string()
    } else if SLOT_PARAMS.contains(&param) {
        "; only scheduled workflows (or `--slot HH:MM`) supply it".to_string()
    } else {
        String::new()
    }
}
