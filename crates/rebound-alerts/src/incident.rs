//! The incident state machine: observations in, changes and notices out.
//!
//! Pure: no clock, no store. Given the open incidents, what the conditions
//! see now, and the notifications of the last day (for the rate limits),
//! [`step`] decides per identity (condition + subject):
//!
//! - seen and not open → open it, notice `opened`;
//! - open and seen → keep it; notice `renotify` when `renotify` has passed
//!   since the last notice, or at once when its level rose (warning →
//!   critical: the page that matters must not wait six hours); a level
//!   that falls waits for the next reminder;
//! - open and not seen → resolve it, notice `recovered` with how long it lasted.
//!
//! One cause, one incident ([`Causes`], from [`crate::group`]): an
//! observation caused by a source's open `source_unhealthy` is still opened,
//! kept and resolved as its own incident (stored with `caused_by`), but its
//! notices are stored suppressed (`caused by source_unhealthy X`), and the
//! source's own opened and reminder texts list what it affects. An incident
//! already open (and announced) when its cause opens joins it the same way. After the
//! cause recovers, a dependent still seen stays silent until there is new
//! evidence (a run or call that started after the recovery); then it is
//! announced on its own with an `opened` notice. One that clears without
//! new evidence resolves silently: nobody was told it was open.
//!
//! Every notice passes two limits: per incident signature (condition +
//! subject, so a flapping problem that reopens counts as one) and for all
//! incidents, both per sliding hour. A notice over a limit is still
//! returned, marked suppressed with the reason, so it is stored, never
//! silently dropped; the next notice that goes out says how many were
//! held back. A suppressed notice is not tried again: the reminder cycle
//! carries on from it, and `rebound alerts` lists it.

use crate::conditions::{
    COMPLETENESS_SHORTFALL, DATA_OVERDUE, DATASET_STALE, Observation, WORKFLOW_FAILED,
};
use crate::format::{duration, when};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_health::Level;
use rebound_storage::CAUSED_BY_PREFIX;
use std::collections::BTreeMap;

/// An incident's identity: (condition, subject).
pub type Key = (String, String);

/// `source_unhealthy balldontlie`: how a cause is named in `caused_by`
/// and in texts.
pub fn identity(condition: &str, subject: &str) -> String {
    format!("{condition} {subject}")
}

/// What grouping knows at this step (built by [`crate::group::causes`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Causes {
    /// Observations explained by a cause observed now: key → the cause's
    /// [`identity`].
    pub caused: BTreeMap<Key, String>,
    /// Per dependent observation: when the newest run or call behind it
    /// started, the evidence that it persists on its own.
    pub evidence: BTreeMap<Key, DateTime<Utc>>,
    /// When each cause (by [`identity`]) last recovered, for causes not
    /// open any more (from the stored incidents).
    pub recovered: BTreeMap<String, DateTime<Utc>>,
}

/// An open incident, as the machine needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenIncident {
    pub id: i64,
    pub condition: String,
    pub subject: String,
    pub level: Level,
    pub peak_level: Level,
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    pub last_notified_at: Option<DateTime<Utc>>,
    /// The cause it is grouped under (an [`identity`]), while not announced
    /// on its own.
    pub caused_by: Option<String>,
}

/// A past notification decision, for the rate limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub condition: String,
    pub subject: String,
    pub at: DateTime<Utc>,
    pub suppressed: bool,
}

/// `renotify` and the two hourly caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The pipeline's zone, for the times in reminder and recovery texts.
    pub timezone: chrono_tz::Tz,
    pub renotify: TimeDelta,
    pub per_incident_per_hour: u32,
    pub per_hour: u32,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Opened,
    Renotify,
    Recovered,
}

impl Event {
    /// `opened`, `renotify` or `recovered`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Opened => "opened",
            Event::Renotify => "renotify",
            Event::Recovered => "recovered",
        }
    }
}

/// One notification decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: Event,
    /// The incident's level at the time (its peak, for `recovered`).
    pub level: Level,
    pub text: String,
    /// `Some(reason)` when a rate limit held it back, or when its
    /// incident's cause speaks for it ([`Notice::grouped`]).
    pub suppressed: Option<String>,
    /// Held back because its incident has a cause (`caused_by`), not by a
    /// rate limit: counted apart, so a summary of the rate limits' work
    /// does not count the notices grouping kept quiet.
    pub grouped: bool,
}

/// One change to the incidents.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Open {
        condition: String,
        subject: String,
        level: Level,
        summary: String,
        notice: Notice,
        /// The cause it is grouped under, if any.
        caused_by: Option<String>,
    },
    /// Seen again; `notice` when a reminder or escalation was decided,
    /// which then moves `last_notified_at` from `previous_notified` to now.
    Update {
        id: i64,
        level: Level,
        peak_level: Level,
        summary: String,
        previous_notified: Option<DateTime<Utc>>,
        notice: Option<Notice>,
        /// The cause it stays grouped under; `None` once announced.
        caused_by: Option<String>,
    },
    Resolve {
        id: i64,
        condition: String,
        subject: String,
        opened_at: DateTime<Utc>,
        notice: Notice,
    },
}

/// Decides the changes at `now`. Recoveries come first, then openings,
/// then reminders, so under a tight global cap good news and new problems
/// win over repeats.
pub fn step(
    now: DateTime<Utc>,
    open: &[OpenIncident],
    observed: &[Observation],
    stamps: &[Stamp],
    limits: &Limits,
) -> Vec<Change> {
    step_grouped(now, open, observed, &Causes::default(), stamps, limits)
}

/// A notice held back because its incident has a cause: stored, not sent,
/// and not counted by the rate limits.
fn grouped(event: Event, level: Level, text: String, reason: String) -> Notice {
    Notice {
        event,
        level,
        text,
        suppressed: Some(reason),
        grouped: true,
    }
}

/// `; also affected: workflows a, b; dataset d` for the cause `key`, from
/// the observations grouped under it now ("" when none).
fn affected(key: &str, observed: &[Observation], causes: &Causes) -> String {
    let mut groups: BTreeMap<(u8, &str, &str), Vec<&str>> = BTreeMap::new();
    for o in observed {
        let k = (o.condition.to_string(), o.subject.clone());
        if causes.caused.get(&k).map(String::as_str) != Some(key) {
            continue;
        }
        let group = match o.condition {
            WORKFLOW_FAILED => (0, "workflow", "workflows"),
            DATASET_STALE | COMPLETENESS_SHORTFALL => (1, "dataset", "datasets"),
            DATA_OVERDUE => (2, "scraper", "scrapers"),
            _ => (3, "incident", "incidents"),
        };
        let names = groups.entry(group).or_default();
        if !names.contains(&o.subject.as_str()) {
            names.push(&o.subject);
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = groups
        .into_iter()
        .map(|((_, one, many), names)| {
            format!(
                "{} {}",
                if names.len() == 1 { one } else { many },
                names.join(", ")
            )
        })
        .collect();
    format!("; also affected: {}", parts.join("; "))
}

/// [`step`] with grouping under causes (see the module doc).
pub fn step_grouped(
    now: DateTime<Utc>,
    open: &[OpenIncident],
    observed: &[Observation],
    causes: &Causes,
    stamps: &[Stamp],
    limits: &Limits,
) -> Vec<Change> {
    let mut limiter = Limiter::new(now, stamps, limits);
    let mut changes = Vec::new();
    let key = |c: &str, s: &str| (c.to_string(), s.to_string());
    let seen: std::collections::BTreeMap<(String, String), &Observation> = observed
        .iter()
        .map(|o| (key(o.condition, &o.subject), o))
        .collect();

    for inc in open {
        if seen.contains_key(&key(&inc.condition, &inc.subject)) {
            continue;
        }
        let lasted = duration(now - inc.opened_at);
        let text = format!(
            "RECOVERED {} {}: recovered after {lasted} (opened {})",
            inc.condition,
            inc.subject,
            when(inc.opened_at, limits.timezone)
        );
        let notice = match &inc.caused_by {
            // Never announced on its own: its recovery is the cause's.
            Some(cause) => {
                let cause_open = observed
                    .iter()
                    .any(|o| identity(o.condition, &o.subject) == *cause);
                let reason = if cause_open {
                    format!("{CAUSED_BY_PREFIX}{cause}")
                } else {
                    format!(
                        "{CAUSED_BY_PREFIX}{cause}, which recovered; never announced on its own"
                    )
                };
                grouped(Event::Recovered, inc.peak_level, text, reason)
            }
            None => limiter.notice(
                &inc.condition,
                &inc.subject,
                Event::Recovered,
                inc.peak_level,
                text,
            ),
        };
        changes.push(Change::Resolve {
            id: inc.id,
            condition: inc.condition.clone(),
            subject: inc.subject.clone(),
            opened_at: inc.opened_at,
            notice,
        });
    }
    let is_open = |o: &Observation| {
        open.iter()
            .any(|i| i.condition == o.condition && i.subject == o.subject)
    };
    for o in observed.iter().filter(|o| !is_open(o)) {
        if o.level == Level::Ok {
            continue;
        }
        let caused_by = causes.caused.get(&key(o.condition, &o.subject)).cloned();
        let also = affected(&identity(o.condition, &o.subject), observed, causes);
        let text = format!("{} {}: {}{also}", upper(o.level), o.condition, o.summary);
        let notice = match &caused_by {
            Some(cause) => grouped(
                Event::Opened,
                o.level,
                text,
                format!("{CAUSED_BY_PREFIX}{cause}"),
            ),
            None => limiter.notice(o.condition, &o.subject, Event::Opened, o.level, text),
        };
        changes.push(Change::Open {
            condition: o.condition.to_string(),
            subject: o.subject.clone(),
            level: o.level,
            summary: o.summary.clone(),
            notice,
            caused_by,
        });
    }
    for inc in open {
        let Some(o) = seen.get(&key(&inc.condition, &inc.subject)) else {
            continue;
        };
        let level = if o.level == Level::Ok {
            inc.level
        } else {
            o.level
        };
        let escalated = level > inc.level;
        let due = inc
            .last_notified_at
            .is_none_or(|t| now - t >= limits.renotify);
        let k = key(&inc.condition, &inc.subject);
        let now_caused = causes.caused.get(&k);
        // An incident announced before its cause opened (a workflow's third
        // failed run can come before the source's grace ends) joins the
        // cause from now on: the source's messages name it.
        if let Some(cause) = inc.caused_by.as_ref().or(now_caused) {
            // The cause is still open while it is observed.
            let cause_open = observed
                .iter()
                .any(|x| identity(x.condition, &x.subject) == *cause);
            let recovered_at = if cause_open {
                None
            } else {
                // Resolving in this very step, or recovered before.
                Some(
                    if open
                        .iter()
                        .any(|i| identity(&i.condition, &i.subject) == *cause)
                    {
                        now
                    } else {
                        causes
                            .recovered
                            .get(cause)
                            .copied()
                            .unwrap_or(DateTime::<Utc>::MIN_UTC)
                    },
                )
            };
            let announce = match (now_caused, recovered_at) {
                // Still explained by its open cause.
                (Some(c), _) if c == cause => None,
                // Its cause is open but it now fails on more than that.
                (_, None) => Some(format!(
                    "no longer only caused by {cause}, which is still open"
                )),
                (_, Some(at)) => causes.evidence.get(&k).filter(|e| **e > at).map(|_| {
                    format!(
                        "persists after {cause} recovered ({})",
                        when(at, limits.timezone)
                    )
                }),
            };
            let notice = match &announce {
                Some(why) => Some(limiter.notice(
                    &inc.condition,
                    &inc.subject,
                    Event::Opened,
                    level,
                    format!("{} {}: {}; {why}", upper(level), o.condition, o.summary),
                )),
                None => (escalated || due).then(|| {
                    let reason = match recovered_at {
                        None => format!("{CAUSED_BY_PREFIX}{cause}"),
                        Some(_) => format!(
                            "{CAUSED_BY_PREFIX}{cause}, which recovered; \
                             waiting for a run that started after the recovery"
                        ),
                    };
                    grouped(
                        Event::Renotify,
                        level,
                        format!(
                            "{} {} still open after {} (since {}): {}",
                            upper(level),
                            o.condition,
                            duration(now - inc.opened_at),
                            when(inc.opened_at, limits.timezone),
                            o.summary
                        ),
                        reason,
                    )
                }),
            };
            changes.push(Change::Update {
                id: inc.id,
                level,
                peak_level: inc.peak_level.max(level),
                summary: o.summary.clone(),
                previous_notified: inc.last_notified_at,
                notice,
                caused_by: announce.is_none().then(|| cause.clone()),
            });
            continue;
        }
        let also = affected(&identity(&inc.condition, &inc.subject), observed, causes);
        let notice = (escalated || due).then(|| {
            let text = if escalated {
                format!(
                    "{} {} (was {}): {}{also}",
                    upper(level),
                    o.condition,
                    inc.level.as_str(),
                    o.summary
                )
            } else {
                format!(
                    "{} {} still open after {} (since {}): {}{also}",
                    upper(level),
                    o.condition,
                    duration(now - inc.opened_at),
                    when(inc.opened_at, limits.timezone),
                    o.summary
                )
            };
            limiter.notice(&inc.condition, &inc.subject, Event::Renotify, level, text)
        });
        changes.push(Change::Update {
            id: inc.id,
            level,
            peak_level: inc.peak_level.max(level),
            summary: o.summary.clone(),
            previous_notified: inc.last_notified_at,
            notice,
            caused_by: None,
        });
    }
    changes
}

fn upper(level: Level) -> &'static str {
    match level {
        Level::Ok => "OK",
        Level::Warning => "WARNING",
        Level::Critical => "CRITICAL",
    }
}

/// The two hourly caps, counted over sent (not suppressed) notices of the
/// last hour, including the ones decided in this step.
struct Limiter<'a> {
    limits: &'a Limits,
    hour_ago: DateTime<Utc>,
    now: DateTime<Utc>,
    sent: Vec<(String, String, DateTime<Utc>)>,
    held_back: usize,
}

impl<'a> Limiter<'a> {
    fn new(now: DateTime<Utc>, stamps: &[Stamp], limits: &'a Limits) -> Limiter<'a> {
        let hour_ago = now - TimeDelta::hours(1);
        let last_sent = stamps.iter().filter(|s| !s.suppressed).map(|s| s.at).max();
        // Suppressed at the same instant as the last sent one counts too:
        // the caps hold back the tail of a step, after what went out.
        let held_back = stamps
            .iter()
            .filter(|s| s.suppressed && last_sent.is_none_or(|t| s.at >= t))
            .count();
        Limiter {
            limits,
            hour_ago,
            now,
            sent: stamps
                .iter()
                .filter(|s| !s.suppressed && s.at > hour_ago)
                .map(|s| (s.condition.clone(), s.subject.clone(), s.at))
                .collect(),
            held_back,
        }
    }

    fn notice(
        &mut self,
        condition: &str,
        subject: &str,
        event: Event,
        level: Level,
        mut text: String,
    ) -> Notice {
        let hour_ago = self.hour_ago;
        let recent = self.sent.iter().filter(|(_, _, at)| *at > hour_ago);
        let total = recent.clone().count();
        let mine = recent
            .filter(|(c, s, _)| c == condition && s == subject)
            .count();
        let suppressed = if mine >= self.limits.per_incident_per_hour as usize {
            Some(format!(
                "rate limit: {mine} notifications for {condition} {subject} in the last hour (max_per_incident_per_hour = {})",
                self.limits.per_incident_per_hour
            ))
        } else if total >= self.limits.per_hour as usize {
            Some(format!(
                "rate limit: {total} notifications in the last hour (max_per_hour = {})",
                self.limits.per_hour
            ))
        } else {
            None
        };
        if suppressed.is_some() {
            self.held_back += 1;
        } else {
            if self.held_back > 0 {
                text.push_str(&format!(
                    " [{} more notification{} held back by rate limits; see `rebound alerts`]",
                    self.held_back,
                    if self.held_back == 1 {
                        " was"
                    } else {
                        "s were"
                    }
                ));
                self.held_back = 0;
            }
            self.sent
                .push((condition.to_string(), subject.to_string(), self.now));
        }
        Notice {
            event,
            level,
            text,
            suppressed,
            grouped: false,
        }
    }
}
