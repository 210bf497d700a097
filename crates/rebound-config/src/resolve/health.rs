//! Health settings: `[datasets."NAME"]` (freshness and completeness) and
//! a source's `health` probe (see docs/health.md).

use super::Resolver;
use crate::error::closest;
use crate::keypath::KeyPath;
use crate::raw::{RawConfig, RawDataset, RawHealthProbe};
use rebound_domain::duration::format_duration;
use rebound_domain::params::DATE_PARAMS;
use rebound_domain::plan::{
    CompleteBy, DatasetPolicy, ForEach, HealthProbe, Scraper, Severity, Source,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// The original system's `check_api_health` waited 10 seconds.
pub(crate) const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_EXPECT_STATUS: u16 = 200;

impl Resolver<'_> {
    /// `health = { ... }` of source `source` (already resolved but for
    /// this key): the probe can only fill built-in parameters, so every
    /// template it sends (base_url, headers, query, path) must use no
    /// others.
    pub(super) fn health_probe(
        &mut self,
        path: &KeyPath,
        raw: &RawHealthProbe,
        source: &Source,
    ) -> Option<HealthProbe> {
        let path_key = path.key("path");
        let text = self.sent_text(&path_key, &raw.path)?;
        if !text.starts_with('/') {
            self.fail(
                &path_key,
                format!("expected a path starting with \"/\", found \"{text}\""),
            );
            return None;
        }
        let template = self.parse_template(&path_key, &text)?;
        let mut templates = vec![("path", &template)];
        templates.push(("base_url", &source.base_url.value));
        templates.extend(source.headers.iter().map(|(_, v)| ("headers", &v.value)));
        templates.extend(source.query.iter().map(|(_, v)| ("query", &v.value)));
        for (what, t) in templates {
            if let Some(param) = t.params().into_iter().find(|p| !DATE_PARAMS.contains(p)) {
                self.fail(
                    &path_key,
                    format!(
                        "the probe cannot fill {{{param}}} (used by the source's {what}): a probe \
                         sends only the date parameters ({})",
                        DATE_PARAMS.join(", ")
                    ),
                );
                return None;
            }
        }
        let expect_status = match raw.expect_status {
            None => DEFAULT_EXPECT_STATUS,
            Some(n) if (100..=599).contains(&n) => n as u16,
            Some(n) => {
                self.fail(
                    &path.key("expect_status"),
                    format!("expected an HTTP status from 100 to 599, found {n}"),
                );
                return None;
            }
        };
        let timeout = match &raw.timeout {
            None => DEFAULT_PROBE_TIMEOUT,
            Some(d) => {
                let key = path.key("timeout");
                let timeout = self.duration(&key, d)?;
                if timeout.is_zero() {
                    self.fail(&key, "expected a duration longer than zero, found \"0s\"");
                    return None;
                }
                timeout
            }
        };
        Some(HealthProbe {
            path: template,
            path_text: text,
            expect_status,
            timeout,
        })
    }

    /// `[datasets]`, once every scraper (and its `for_each`) is resolved.
    pub(super) fn datasets(
        &mut self,
        raw: &RawConfig,
        scrapers: &BTreeMap<String, Scraper>,
    ) -> BTreeMap<String, DatasetPolicy> {
        let mut out = BTreeMap::new();
        for (name, dataset) in &raw.datasets {
            let path = KeyPath::root().key("datasets").key(name);
            let producers: Vec<&Scraper> =
                scrapers.values().filter(|s| &s.dataset == name).collect();
            if producers.is_empty() {
                let mut known: Vec<String> = scrapers.values().map(|s| s.dataset.clone()).collect();
                known.sort();
                known.dedup();
                let mut message = format!("no scraper produces dataset \"{name}\"");
                if let Some(best) = closest(name, &known) {
                    message.push_str(&format!(" (did you mean \"{best}\"?)"));
                }
                message.push_str(&format!(
                    "; a scraper declares its dataset with `dataset = ...` (default: its name); \
                     datasets produced: {}",
                    known.join(", ")
                ));
                self.fail(&path, message);
                continue;
            }
            if let Some(policy) = self.dataset(&path, name, dataset, &producers) {
                out.insert(name.clone(), policy);
            }
        }
        out
    }

    fn dataset(
        &mut self,
        path: &KeyPath,
        name: &str,
        raw: &RawDataset,
        producers: &[&Scraper],
    ) -> Option<DatasetPolicy> {
        let positive = |this: &mut Self, key: &str, d: &Option<crate::raw::RawDuration>| {
            let d = d.as_ref()?;
            let key = path.key(key);
            let value = this.duration(&key, d)?;
            if value.is_zero() {
                this.fail(&key, "expected a duration longer than zero, found \"0s\"");
                return None;
            }
            Some(value)
        };
        let fresh_warn = positive(self, "fresh_warn", &raw.fresh_warn);
        let fresh_error = positive(self, "fresh_error", &raw.fresh_error);
        if let (Some(warn), Some(error)) = (fresh_warn, fresh_error)
            && warn >= error
        {
            self.fail(
                &path.key("fresh_warn"),
                format!(
                    "fresh_warn ({}) must be shorter than fresh_error ({})",
                    format_duration(warn),
                    format_duration(error)
                ),
            );
        }
        let complete_by = match &raw.complete_by {
            None => None,
            Some(complete) => {
                let key = path.key("complete_by");
                let fans_over_calendar = producers
                    .iter()
                    .any(|s| matches!(s.for_each, Some(ForEach::Calendar { .. })));
                if !fans_over_calendar {
                    let names: Vec<&str> = producers.iter().map(|s| s.name.as_str()).collect();
                    self.fail(
                        &key,
                        format!(
                            "complete_by needs a dataset fanned out over a calendar, but no \
                             scraper producing \"{name}\" ({}) has for_each = {{ calendar, param }}: \
                             without a calendar there is no list of expected entities",
                            names.join(", ")
                        ),
                    );
                }
                let after =
                    self.duration(&key.key("after_event_start"), &complete.after_event_start);
                let read_from = self.secrets.len();
                let severity = match complete.severity.as_deref() {
                    None => Some(Severity::Warning),
                    Some(text) => match self.text(&key.key("severity"), text).as_deref() {
                        Some("warning") => Some(Severity::Warning),
                        Some("critical") => Some(Severity::Critical),
                        Some(other) => {
                            self.fail(
                                &key.key("severity"),
                                format!("expected \"warning\" or \"critical\", found \"{other}\""),
                            );
                            None
                        }
                        None => None,
                    },
                };
                let severity = self.setting(read_from, severity);
                match (after, severity, fans_over_calendar) {
                    (Some(after_event_start), Some(severity), true) => Some(CompleteBy {
                        after_event_start,
                        severity,
                    }),
                    _ => None,
                }
            }
        };
        Some(DatasetPolicy {
            name: name.to_string(),
            fresh_warn,
            fresh_error,
            complete_by,
        })
    }
}
