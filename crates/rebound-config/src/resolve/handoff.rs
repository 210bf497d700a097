//! `[handoff]`: the sinks of completion events (see docs/handoff.md).

use super::Resolver;
use crate::keypath::KeyPath;
use crate::raw::{RawHandoff, RawHandoffSink};
use rebound_domain::handoff::{
    AckSettings, DEFAULT_HANDOFF_TIMEOUT, DEFAULT_PUBLISH_WAIT, EVENT_STATUSES, HandoffSettings,
    HandoffSink, HandoffSinkKind, NatsSink, nats,
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
        let read_from = self.secrets.len();
        let kind = match self.text(&kind_path, &raw.kind)?.as_str() {
            "webhook" => Some(HandoffSinkKind::Webhook),
            "nats" => Some(HandoffSinkKind::Nats),
            other => {
                self.fail(
                    &kind_path,
                    format!("expected \"webhook\" or \"nats\", found \"{other}\""),
                );
                None
            }
        };
        let kind = self.setting(read_from, kind);
        let is_nats = kind == Some(HandoffSinkKind::Nats);
        let url = if is_nats {
            self.nats_url(&path.key("url"), &raw.url)
        } else {
            self.sink_url(&path.key("url"), &raw.url)
        };
        // An unset `${VAR}` (allowed only for commands that send nothing,
        // such as `rebound check`) keeps the sink, URL-less, so the rest of
        // it is still checked and reported on.
        let url_path = path.key("url");
        let url = url.or_else(|| {
            self.unset
                .iter()
                .any(|(p, _)| *p == url_path)
                .then(String::new)
        });
        let nats = match kind {
            Some(HandoffSinkKind::Nats) => self.nats_sink(path, raw).map(Some),
            Some(HandoffSinkKind::Webhook) => {
                self.refuse_nats_keys(path, raw);
                Some(None)
            }
            None => Some(None),
        };
        if is_nats && raw.signing_secret.is_some() {
            self.fail(
                &path.key("signing_secret"),
                "signing_secret is for webhook sinks; a NATS sink is trusted through its connection",
            );
        }
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
            nats: nats?,
        })
    }

    /// `nats://host:port` (or `tls://`), several separated by commas.
    fn nats_url(&mut self, path: &KeyPath, raw: &str) -> Option<String> {
        let text = self.text(path, raw)?;
        // Parsed as the client will: `nats://[::1` or a port above 65535
        // passed here and failed only at the first connection.
        let ok = text.split(',').all(|one| {
            let lower = one.trim().to_ascii_lowercase();
            ["nats://", "tls://"]
                .iter()
                .find_map(|scheme| lower.strip_prefix(scheme))
                .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
                && url::Url::parse(one.trim()).is_ok_and(|u| u.host().is_some())
        });
        if ok {
            return Some(text);
        }
        // The value may be a secret: say what is expected, not what it is,
        // unless it was written in the file.
        let found = if raw.contains("${") {
            "the environment variable's value is not one".to_string()
        } else {
            format!("found \"{raw}\"")
        };
        self.fail(
            path,
            format!("expected a nats:// or tls:// URL with a host (several separated by commas); {found}"),
        );
        None
    }

    fn nats_sink(&mut self, path: &KeyPath, raw: &RawHandoffSink) -> Option<NatsSink> {
        let subject = match &raw.subject {
            None => nats::SubjectTemplate::parse(nats::DEFAULT_SUBJECT).ok(),
            Some(text) => {
                let key = path.key("subject");
                let text = self.text(&key, text)?;
                match nats::SubjectTemplate::parse(&text) {
                    Ok(template) => Some(template),
                    Err(message) => {
                        self.fail(&key, message);
                        None
                    }
                }
            }
        };
        let stream = match &raw.stream {
            None => Some(nats::DEFAULT_STREAM.to_string()),
            Some(text) => {
                let key = path.key("stream");
                let text = self.text(&key, text)?;
                match nats::stream_name_problem(&text) {
                    None => Some(text),
                    Some(problem) => {
                        self.fail(&key, problem);
                        None
                    }
                }
            }
        };
        let max_age = match &raw.max_age {
            Some(d) => self.positive_duration(&path.key("max_age"), d),
            None => Some(nats::DEFAULT_MAX_AGE),
        };
        let dedupe_window = match &raw.dedupe_window {
            Some(d) => self.positive_duration(&path.key("dedupe_window"), d),
            None => Some(nats::DEFAULT_DEDUPE_WINDOW),
        };
        // JetStream refuses a duplicate window longer than the stream keeps
        // messages; say so here rather than at the first publish.
        if let (Some(age), Some(window)) = (max_age, dedupe_window)
            && window > age
        {
            self.fail(
                &path.key("dedupe_window"),
                "dedupe_window must not be longer than max_age (JetStream refuses such a stream)",
            );
            return None;
        }
        let ack_subject = match &raw.ack_subject {
            None => Some(nats::DEFAULT_ACK_SUBJECT.to_string()),
            Some(text) => {
                let key = path.key("ack_subject");
                let text = self.text(&key, text)?;
                if nats::ack_subject_ok(&text) {
                    Some(text)
                } else {
                    self.fail(
                        &key,
                        format!(
                            "expected a NATS subject such as \"rebound.ack\", found \"{text}\""
                        ),
                    );
                    None
                }
            }
        };
        Some(NatsSink {
            subject: subject?,
            stream: stream?,
            max_age: max_age?,
            dedupe_window: dedupe_window?,
            ack_subject: ack_subject?,
        })
    }

    /// A webhook given a NATS-only key: refused, so a typo in `kind` does
    /// not silently drop the subject.
    fn refuse_nats_keys(&mut self, path: &KeyPath, raw: &RawHandoffSink) {
        let given = [
            ("subject", raw.subject.is_some()),
            ("stream", raw.stream.is_some()),
            ("max_age", raw.max_age.is_some()),
            ("dedupe_window", raw.dedupe_window.is_some()),
            ("ack_subject", raw.ack_subject.is_some()),
        ];
        for (key, present) in given {
            if present {
                self.fail(
                    &path.key(key),
                    format!("{key} is for kind = \"nats\" sinks only"),
                );
            }
        }
    }

    fn handoff_statuses(&mut self, path: &KeyPath, list: &[String]) -> Option<Vec<ScraperStatus>> {
        let names: Vec<&str> = EVENT_STATUSES.iter().map(|s| s.as_str()).collect();
        let mut statuses = Vec::new();
        let mut ok = true;
        for (i, text) in list.iter().enumerate() {
            let key = path.index(i);
            let read_from = self.secrets.len();
            let Some(text) = self.text(&key, text) else {
                ok = false;
                continue;
            };
            let status = ScraperStatus::parse(&text).filter(|s| EVENT_STATUSES.contains(s));
            match self.setting(read_from, status) {
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
