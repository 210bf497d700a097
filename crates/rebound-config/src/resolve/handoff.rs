//! `[handoff]`: the sinks of completion events (see docs/handoff.md).

use super::Resolver;
use crate::keypath::KeyPath;
use crate::raw::{RawHandoff, RawHandoffSink};
use rebound_domain::handoff::{
    AckSettings, DEFAULT_HANDOFF_TIMEOUT, DEFAULT_PUBLISH_WAIT, EVENT_STATUSES, HandoffSettings,
    HandoffSink, HandoffSinkKind,
};
use rebound_domain::outcome::ScraperStatus;
use std::collections::BTreeMap;

impl Resolver<'_> {
    pub(super) fn handoff(&mut self, raw: &RawHandoff) -> HandoffSettings {
        let path = KeyPath::root().key("handoff");
        let publish_wait = match &raw.publish_wait {
            Some(d) => self
                .positive_duration(&path.key("publish_wait"), d)
                .unwrap_or(DEFAULT_PUBLISH_WAIT),
            None => DEFAULT_PUBLISH_WAIT,
        };
        let mut sinks = BTreeMap::new();
        for (name, sink) in &raw.sinks {
            if let Some(resolved) = self.handoff_sink(&path.key("sinks").key(name), name, sink) {
                sinks.insert(name.clone(), resolved);
            }
        }
        let ack = self.handoff_ack(&path, raw);
        HandoffSettings {
            sinks,
            publish_wait,
            ack,
        }
    }

    /// `ack_required`, `redeliver_after`, `max_redeliveries`, `storm_ratio`,
    /// `storm_min`; a bad value is reported and its default kept.
    fn handoff_ack(&mut self, path: &KeyPath, raw: &RawHandoff) -> AckSettings {
        let defaults = AckSettings::default();
        let redeliver_after = match &raw.redeliver_after {
            Some(d) => self
                .positive_duration(&path.key("redeliver_after"), d)
                .unwrap_or(defaults.redeliver_after),
            None => defaults.redeliver_after,
        };
        let max_redeliveries = raw
            .max_redeliveries
            .and_then(|n| self.at_least(&path.key("max_redeliveries"), n, 0))
            .unwrap_or(defaults.max_redeliveries);
        let storm_ratio = match raw.storm_ratio {
            None => defaults.storm_ratio,
            // 1 would never trip (more than all is impossible): refused.
            Some(v) if v.is_finite() && v > 0.0 && v < 1.0 => v,
            Some(v) => {
                self.fail(
                    &path.key("storm_ratio"),
                    format!("expected a share above 0 and below 1 (e.g. 0.8 for 80%), found {v}"),
                );
                defaults.storm_ratio
            }
        };
        let storm_min = raw
            .storm_min
            .and_then(|n| self.at_least(&path.key("storm_min"), n, 1))
            .unwrap_or(defaults.storm_min);
        AckSettings {
            ack_required: raw.ack_required.unwrap_or(defaults.ack_required),
            redeliver_after,
            max_redeliveries,
            storm_ratio,
            storm_min,
        }
    }

    fn handoff_sink(
        &mut self,
        path: &KeyPath,
        name: &str,
        raw: &RawHandoffSink,
    ) -> Option<HandoffSink> {
        self.check_name(path, name);
        let kind_path = path.key("kind");
        let kind = match self.text(&kind_path, &raw.kind)?.as_str() {
            "webhook" => Some(HandoffSinkKind::Webhook),
            other => {
                self.fail(
                    &kind_path,
                    format!("expected \"webhook\", found \"{other}\""),
                );
                None
            }
        };
        let url = self.sink_url(&path.key("url"), &raw.url);
        let signing_secret = match &raw.signing_secret {
            None => Some(None),
            Some(text) => {
                let key = path.key("signing_secret");
                match self.text(&key, text) {
                    Some(secret) if !secret.is_empty() => Some(Some(secret)),
                    Some(_) => {
                        self.fail(
                            &key,
                            "expected a non-empty key (or leave signing_secret out)",
                        );
                        None
                    }
                    None => None,
                }
            }
        };
        let mut datasets = Vec::new();
        let mut datasets_ok = true;
        for (i, glob) in raw.datasets.iter().flatten().enumerate() {
            let key = path.key("datasets").index(i);
            match self.text(&key, glob) {
                Some(glob) if !glob.is_empty() => datasets.push(glob),
                Some(_) => {
                    self.fail(&key, "expected a dataset name or glob, found \"\"");
                    datasets_ok = false;
                }
                None => datasets_ok = false,
            }
        }
        let statuses = match &raw.statuses {
            None => Some(EVENT_STATUSES.to_vec()),
            Some(list) => self.handoff_statuses(&path.key("statuses"), list),
        };
        let timeout = match &raw.timeout {
            Some(d) => self.positive_duration(&path.key("timeout"), d),
            None => Some(DEFAULT_HANDOFF_TIMEOUT),
        };
        if !datasets_ok {
            return None;
        }
        Some(HandoffSink {
            name: name.to_string(),
            kind: kind?,
            url: url?,
            signing_secret: signing_secret?,
            datasets,
            statuses: statuses?,
            timeout: timeout?,
        })
    }

    fn handoff_statuses(&mut self, path: &KeyPath, list: &[String]) -> Option<Vec<ScraperStatus>> {
        let names: Vec<&str> = EVENT_STATUSES.iter().map(|s| s.as_str()).collect();
        let mut statuses = Vec::new();
        let mut ok = true;
        for (i, text) in list.iter().enumerate() {
            let key = path.index(i);
            let Some(text) = self.text(&key, text) else {
                ok = false;
                continue;
            };
            match ScraperStatus::parse(&text).filter(|s| EVENT_STATUSES.contains(s)) {
                Some(status) if !statuses.contains(&status) => statuses.push(status),
                Some(_) => {}
                None => {
                    self.fail(
                        &key,
                        format!(
                            "expected one of {}, found \"{text}\" (only calls with an outcome make events)",
                            names
                                .iter()
                                .map(|n| format!("\"{n}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    ok = false;
                }
            }
        }
        if ok && statuses.is_empty() {
            self.fail(
                path,
                "expected at least one status (or leave statuses out for all four)",
            );
            ok = false;
        }
        ok.then_some(statuses)
    }
}
