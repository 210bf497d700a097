//! `[alerts]`: limits, conditions and sinks (see docs/alerts.md).

use super::Resolver;
use crate::keypath::KeyPath;
use crate::raw::{RawAlertConditions, RawAlertSink, RawAlerts};
use rebound_domain::alerts::{
    AlertConditions, AlertSettings, AlertSink, DEFAULT_SINK_TIMEOUT, MinLevel, SinkKind,
};
use std::collections::BTreeMap;

impl Resolver<'_> {
    pub(super) fn alerts(&mut self, raw: &RawAlerts) -> AlertSettings {
        let path = KeyPath::root().key("alerts");
        let defaults = AlertSettings::default();
        let renotify = raw
            .renotify
            .as_ref()
            .and_then(|d| self.positive_duration(&path.key("renotify"), d))
            .unwrap_or(defaults.renotify);
        let evaluate_every = raw
            .evaluate_every
            .as_ref()
            .and_then(|d| self.positive_duration(&path.key("evaluate_every"), d))
            .unwrap_or(defaults.evaluate_every);
        let max_per_incident_per_hour = raw
            .max_per_incident_per_hour
            .and_then(|n| self.at_least(&path.key("max_per_incident_per_hour"), n, 1))
            .unwrap_or(defaults.max_per_incident_per_hour);
        let max_per_hour = raw
            .max_per_hour
            .and_then(|n| self.at_least(&path.key("max_per_hour"), n, 1))
            .unwrap_or(defaults.max_per_hour);
        let conditions = self.alert_conditions(&path.key("conditions"), &raw.conditions);
        let mut sinks = BTreeMap::new();
        for (name, sink) in &raw.sinks {
            if let Some(resolved) = self.alert_sink(&path.key("sinks").key(name), name, sink) {
                sinks.insert(name.clone(), resolved);
            }
        }
        AlertSettings {
            renotify,
            max_per_incident_per_hour,
            max_per_hour,
            evaluate_every,
            conditions,
            sinks,
        }
    }

    fn alert_conditions(&mut self, path: &KeyPath, raw: &RawAlertConditions) -> AlertConditions {
        let defaults = AlertConditions::default();
        let workflow_failed_after = match &raw.workflow_failed {
            Some(w) if w.enabled == Some(false) => None,
            Some(w) => w
                .after
                .and_then(|n| self.at_least(&path.key("workflow_failed").key("after"), n, 1))
                .or(defaults.workflow_failed_after),
            None => defaults.workflow_failed_after,
        };
        let source_unhealthy_grace = match &raw.source_unhealthy {
            Some(s) if s.enabled == Some(false) => None,
            Some(s) => match &s.grace {
                Some(grace) => self
                    .duration(&path.key("source_unhealthy").key("grace"), grace)
                    .or(defaults.source_unhealthy_grace),
                None => defaults.source_unhealthy_grace,
            },
            None => defaults.source_unhealthy_grace,
        };
        let quota_share = self.share(path, "quota_share", raw.quota_share, defaults.quota_share);
        let lockout_share = self.share(
            path,
            "lockout_share",
            raw.lockout_share,
            defaults.lockout_share,
        );
        AlertConditions {
            workflow_failed_after,
            source_unhealthy_grace,
            dataset_stale: raw.dataset_stale.unwrap_or(true),
            completeness_shortfall: raw.completeness_shortfall.unwrap_or(true),
            quota_share: quota_share.filter(|_| raw.quota_high != Some(false)),
            data_overdue: raw.data_overdue.unwrap_or(true),
            lockout_share: lockout_share.filter(|_| raw.lockouts_high != Some(false)),
        }
    }

    /// A share in (0, 1].
    fn share(
        &mut self,
        path: &KeyPath,
        key: &str,
        value: Option<f64>,
        default: Option<f64>,
    ) -> Option<f64> {
        match value {
            None => default,
            Some(v) if v.is_finite() && v > 0.0 && v <= 1.0 => Some(v),
            Some(v) => {
                self.fail(
                    &path.key(key),
                    format!("expected a share above 0 and at most 1 (e.g. 0.8 for 80%), found {v}"),
                );
                default
            }
        }
    }

    fn alert_sink(&mut self, path: &KeyPath, name: &str, raw: &RawAlertSink) -> Option<AlertSink> {
        self.check_name(path, name);
        let kind_path = path.key("kind");
        let read_from = self.secrets.len();
        let kind = match self.text(&kind_path, &raw.kind)?.as_str() {
            "webhook" => Some(SinkKind::Webhook),
            "slack" => Some(SinkKind::Slack),
            other => {
                self.fail(
                    &kind_path,
                    format!("expected \"webhook\" or \"slack\", found \"{other}\""),
                );
                None
            }
        };
        let kind = self.setting(read_from, kind);
        let url = self.sink_url(&path.key("url"), &raw.url);
        let min_level = match &raw.min_level {
            None => Some(MinLevel::Warning),
            Some(text) => {
                let key = path.key("min_level");
                let read_from = self.secrets.len();
                let level = match self.text(&key, text)?.as_str() {
                    "warning" => Some(MinLevel::Warning),
                    "critical" => Some(MinLevel::Critical),
                    other => {
                        self.fail(
                            &key,
                            format!("expected \"warning\" or \"critical\", found \"{other}\""),
                        );
                        None
                    }
                };
                self.setting(read_from, level)
            }
        };
        let timeout = match &raw.timeout {
            Some(d) => self.positive_duration(&path.key("timeout"), d),
            None => Some(DEFAULT_SINK_TIMEOUT),
        };
        Some(AlertSink {
            name: name.to_string(),
            kind: kind?,
            url: url?,
            min_level: min_level?,
            timeout: timeout?,
        })
    }

    /// The URL after `${VAR}` substitution. Messages quote what was written
    /// (`${SLACK_URL}`), never the value, which is a secret.
    pub(super) fn sink_url(&mut self, path: &KeyPath, raw: &str) -> Option<String> {
        let text = self.text(path, raw)?;
        let lower = text.to_ascii_lowercase();
        let rest = ["http://", "https://"]
            .iter()
            .find_map(|scheme| lower.strip_prefix(scheme));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Some(text),
            _ => {
                self.fail(
                    path,
                    format!(
                        "expected an http:// or https:// URL with a host, found \"{raw}\"{}",
                        if raw.contains("${") {
                            " (after substituting the environment variable)"
                        } else {
                            ""
                        }
                    ),
                );
                None
            }
        }
    }
}
