//! The alert conditions, read off a [`HealthReport`]: each active one is an
//! [`Observation`] with an identity (condition + subject), a level and a
//! one-line summary. A condition not observed in a report is over.
//!
//! Conditions only look at what the report calls failures, so
//! not-yet-available data and no_data never alert before their deadline:
//! the report counts neither as a failure, and a scraper becomes
//! `overdue` only once its deadline has passed.

use crate::format::{ago, percent, when};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use rebound_domain::alerts::AlertConditions;
use rebound_domain::message::plural;
use rebound_health::{HealthReport, Level, SourceHealth};
use std::collections::{BTreeMap, BTreeSet};

/// The names of the conditions, as stored in `alert_incidents.condition`.
pub const WORKFLOW_FAILED: &str = "workflow_failed";
pub const SOURCE_UNHEALTHY: &str = "source_unhealthy";
pub const DATASET_STALE: &str = "dataset_stale";
pub const COMPLETENESS_SHORTFALL: &str = "completeness_shortfall";
pub const QUOTA_HIGH: &str = "quota_high";
pub const DATA_OVERDUE: &str = "data_overdue";
pub const LOCKOUTS_HIGH: &str = "lockouts_high";
/// The hand-off storm guard tripped (`[handoff] ack_required`): always
/// on, since it only exists when acknowledgements were asked for.
pub const DOWNSTREAM_NOT_ACKNOWLEDGING: &str = "downstream_not_acknowledging";
/// The subject of [`DOWNSTREAM_NOT_ACKNOWLEDGING`]: one incident for the
/// whole hand-off, however many datasets, so a broken consumer makes one
/// message and its recovery one more.
pub const HANDOFF_SUBJECT: &str = "handoff";

/// One active condition about one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub condition: &'static str,
    pub subject: String,
    /// `Warning` or `Critical`, never `Ok`.
    pub level: Level,
    pub summary: String,
}

/// What an evaluator knows beyond one report, for `source_unhealthy`: the
/// report dates an outage only from what was recorded (failed calls, a
/// breaker that follows the health probe), and a failing probe with
/// neither (no breaker, or one that does not follow health) has no
/// recorded start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    /// Source → when this evaluator first saw it unhealthy (breaker not
    /// closed, or probe failing), in the stretch still going on.
    pub unhealthy_seen: BTreeMap<String, DateTime<Utc>>,
    /// Sources with an open `source_unhealthy` incident: observed while
    /// unhealthy, whatever the grace, so an open incident cannot flap
    /// (an evaluator that restarted has forgotten when it first saw them).
    pub open: BTreeSet<String>,
}

/// Every active condition in `report`, in a stable order.
/// Times in the summaries read in `tz`, the pipeline's zone.
pub fn observe(report: &HealthReport, rules: &AlertConditions, tz: Tz) -> Vec<Observation> {
    observe_with(report, rules, tz, &Memory::default())
}

/// [`observe`], with what the evaluator remembers from earlier reports.
pub fn observe_with(
    report: &HealthReport,
    rules: &AlertConditions,
    tz: Tz,
    memory: &Memory,
) -> Vec<Observation> {
    let now = report.generated_at;
    let mut out = Vec::new();
    if let Some(after) = rules.workflow_failed_after {
        for w in &report.workflows {
            if w.consecutive_failed >= i64::from(after) {
                let level = if w.last_status.as_deref() == Some("failed") {
                    Level::Critical
                } else {
                    Level::Warning
                };
                let since = w
                    .failing_since
                    .map(|t| format!(" since {}", ago(now, t, tz)))
                    .unwrap_or_default();
                let why = w
                    .last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default();
                out.push(Observation {
                    condition: WORKFLOW_FAILED,
                    subject: w.name.clone(),
                    level,
                    summary: format!(
                        "workflow {}: {} in a row failed or partial{since}{why}",
                        w.name,
                        plural(w.consecutive_failed.unsigned_abs(), "run", "runs")
                    ),
                });
            }
        }
    }
    if let Some(grace) = rules.source_unhealthy_grace {
        let grace = rebound_domain::duration::to_chrono_saturating(grace);
        for s in &report.sources {
            if let Some(obs) = source_unhealthy(s, now, grace, tz, memory) {
                out.push(obs);
            }
        }
    }
    for d in &report.datasets {
        let f = &d.freshness;
        if rules.dataset_stale && f.level > Level::Ok {
            let age = match (f.last_change_at, f.age_seconds) {
                (Some(at), _) => format!("last changed {}", ago(now, at, tz)),
                (None, _) => match f.watched_since {
                    Some(t) => format!("never changed since its first call {}", ago(now, t, tz)),
                    None => "never changed".to_string(),
                },
            };
            let limit = match (f.level, f.fresh_error_seconds, f.fresh_warn_seconds) {
                (Level::Critical, Some(s), _) | (_, _, Some(s)) => {
                    format!(
                        " (limit {})",
                        crate::format::duration(TimeDelta::seconds(s))
                    )
                }
                _ => String::new(),
            };
            out.push(Observation {
                condition: DATASET_STALE,
                subject: d.name.clone(),
                level: f.level,
                summary: format!("dataset {}: {age}{limit}", d.name),
            });
        }
        if rules.completeness_shortfall
            && let Some(c) = &d.completeness
            && c.level > Level::Ok
        {
            let summary = match &c.error {
                // The report could not tell what to expect: say why.
                Some(error) => format!(
                    "dataset {}: completeness for {} unknown: {error}",
                    d.name, c.target_date
                ),
                None => format!(
                    "dataset {}: {} of {} collected for {} past the deadline; missing {}",
                    d.name,
                    c.collected,
                    c.expected,
                    c.target_date,
                    shorten(&c.overdue, 10)
                ),
            };
            out.push(Observation {
                condition: COMPLETENESS_SHORTFALL,
                subject: d.name.clone(),
                level: c.level,
                summary,
            });
        }
    }
    if let Some(share) = rules.quota_share {
        for s in &report.sources {
            if let Some(q) = &s.quota
                && q.used_rate >= share
            {
                out.push(Observation {
                    condition: QUOTA_HIGH,
                    subject: s.name.clone(),
                    level: if q.used_rate >= 1.0 {
                        Level::Critical
                    } else {
                        Level::Warning
                    },
                    summary: format!(
                        "source {}: quota {} used ({} of {}), resets {}",
                        s.name,
                        percent(q.used_rate),
                        q.used,
                        q.limit,
                        when(q.resets_at, tz)
                    ),
                });
            }
        }
    }
    for sc in &report.scrapers {
        // Overdue calls in the period while the newest call is still a
        // failure: data that arrived since ends the incident.
        if rules.data_overdue && sc.overdue > 0 && sc.consecutive_failures > 0 {
            let why = sc
                .last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            out.push(Observation {
                condition: DATA_OVERDUE,
                subject: sc.name.clone(),
                level: Level::Warning,
                summary: format!(
                    "scraper {}: data overdue ({} overdue calls){why}",
                    sc.name, sc.overdue
                ),
            });
        }
        if let Some(share) = rules.lockout_share
            && sc.entities > 0
            && sc.locked_out > 0
        {
            let locked = sc.locked_out as f64 / sc.entities as f64;
            if locked > share {
                out.push(Observation {
                    condition: LOCKOUTS_HIGH,
                    subject: sc.name.clone(),
                    level: Level::Warning,
                    summary: format!(
                        "scraper {}: {} of {} entities locked out ({})",
                        sc.name,
                        sc.locked_out,
                        sc.entities,
                        percent(locked)
                    ),
                });
            }
        }
    }
    if let Some(storm) = &report.handoff.not_acknowledging {
        let list = |names: &[String]| {
            if names.is_empty() {
                "none".to_string()
            } else {
                shorten(names, 10)
            }
        };
        out.push(Observation {
            condition: DOWNSTREAM_NOT_ACKNOWLEDGING,
            subject: HANDOFF_SUBJECT.to_string(),
            level: Level::Critical,
            summary: format!(
                "hand-off: {} of {} events due in the last hour unacknowledged \
                 (sinks: {}; datasets: {}), redeliveries held back: \
                 the consumer is not acknowledging; check it before replaying",
                storm.unacknowledged,
                storm.due,
                list(&storm.sinks),
                list(&storm.datasets),
            ),
        });
    }
    out
}

/// Whether the report shows `s` unhealthy in the sense of
/// `source_unhealthy`: its breaker not closed, or its health probe failing.
/// A probe answered 429 is a throttled host, not a down one
/// ([`rebound_health::ProbeResult::throttled`]).
pub fn is_unhealthy(s: &SourceHealth) -> bool {
    s.breaker != "closed" || s.probe.as_ref().is_some_and(|p| p.failing())
}

/// Breaker open or half-open, or a failing probe, for longer than `grace`.
/// The outage is dated from its earliest recorded sign: the first failed
/// call after the last success (`failing_since`), the first failed health
/// probe (`probe_failing_since`) or the breaker's opening
/// (`breaker_opened_at`, which stays put while it moves between open and
/// half-open; `breaker_since` of a half-open breaker is when it went
/// half-open, and dating the outage from it moved the incident's "since"
/// forward at every trial). With none recorded, from
/// when the evaluator first saw it ([`Memory`]). It used to fall back on
/// the last successful call, which says when the source last worked, not
/// when it stopped: a probe failing with nothing recorded (no breaker)
/// fired at once, as "since 06:00, 9h ago" for an outage begun a minute
/// before. When the evaluator saw it unhealthy earlier than all of these
/// (a failing probe's start is cleared once the probe answers again, while
/// the breaker stays half-open), that is the start, so the outage's start
/// never moves later while it lasts; and an open incident stays observed,
/// so it does not fall back under the grace period and flap.
///
/// The summary dates each sign by its own time (the breaker's state since
/// it took it, the probe since it began failing) and the outage's start
/// apart when it is earlier: it read "breaker open since 18:45" for a
/// breaker that opened at 18:55 after calls began failing at 18:45, and
/// "breaker half-open since" the day the outage began.
fn source_unhealthy(
    s: &SourceHealth,
    now: DateTime<Utc>,
    grace: TimeDelta,
    tz: Tz,
    memory: &Memory,
) -> Option<Observation> {
    if !is_unhealthy(s) {
        return None;
    }
    let breaker = s.breaker != "closed";
    let probe = s.probe.as_ref().filter(|p| p.failing());
    // The breaker's own date: when an open one opened, when a half-open
    // one went half-open.
    let breaker_at = if !breaker {
        None
    } else if s.breaker == "open" {
        s.breaker_opened_at.or(s.breaker_since)
    } else {
        s.breaker_since
    };
    let probe_at = probe.and(s.probe_failing_since);
    let since = [
        s.failing_since,
        s.probe_failing_since,
        breaker
            .then(|| s.breaker_opened_at.or(s.breaker_since))
            .flatten(),
        memory.unhealthy_seen.get(&s.name).copied(),
    ]
    .into_iter()
    .flatten()
    .min();
    // Unknown start (nothing recorded, not seen before): count it as
    // unhealthy now; a probe that never worked is worth a message.
    if !memory.open.contains(&s.name)
        && let Some(since) = since
        && now - since < grace
    {
        return None;
    }
    let dated = |at: Option<DateTime<Utc>>| {
        at.map(|t| format!(" since {}", ago(now, t, tz)))
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    if breaker {
        parts.push(format!(
            "breaker {}{}",
            s.breaker.replace('_', "-"),
            dated(breaker_at)
        ));
    }
    if let Some(p) = probe {
        let what = match (&p.http_status, &p.error) {
            (_, Some(e)) => e.clone(),
            (Some(code), None) => format!("HTTP {code}"),
            (None, None) => "no answer".to_string(),
        };
        parts.push(format!("health probe failing ({what}){}", dated(probe_at)));
    }
    // The outage's start, when no sign named above began it: with no sign
    // dated, after them; when earlier than every dated one, apart.
    let shown = [breaker_at, probe_at].into_iter().flatten().min();
    let since = match (since, shown) {
        (Some(t), None) => dated(Some(t)),
        (Some(t), Some(first)) if t < first => {
            format!("; unhealthy since {}", ago(now, t, tz))
        }
        _ => String::new(),
    };
    let why = s
        .last_error
        .as_deref()
        .map(|e| format!("; last error: {e}"))
        .unwrap_or_default();
    Some(Observation {
        condition: SOURCE_UNHEALTHY,
        subject: s.name.clone(),
        level: Level::Critical,
        summary: format!("source {}: {}{since}{why}", s.name, parts.join(", ")),
    })
}

fn shorten(ids: &[String], max: usize) -> String {
    if ids.len() <= max {
        ids.join(", ")
    } else {
        format!("{} and {} more", ids[..max].join(", "), ids.len() - max)
    }
}
