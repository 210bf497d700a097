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
//! Every notice passes two limits: per incident signature (condition +
//! subject, so a flapping problem that reopens counts as one) and for all
//! incidents, both per sliding hour. A notice over a limit is still
//! returned, marked suppressed with the reason, so it is stored, never
//! silently dropped; the next notice that goes out says how many were
//! held back. A suppressed notice is not tried again: the reminder cycle
//! carries on from it, and `rebound alerts` lists it.

use crate::conditions::Observation;
use crate::format::{duration, when};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_health::Level;

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
    /// `Some(reason)` when a rate limit held it back.
    pub suppressed: Option<String>,
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
        let notice = limiter.notice(
            &inc.condition,
            &inc.subject,
            Event::Recovered,
            inc.peak_level,
            text,
        );
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
        let text = format!("{} {}: {}", upper(o.level), o.condition, o.summary);
        let notice = limiter.notice(o.condition, &o.subject, Event::Opened, o.level, text);
        changes.push(Change::Open {
            condition: o.condition.to_string(),
            subject: o.subject.clone(),
            level: o.level,
            summary: o.summary.clone(),
            notice,
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
        let notice = (escalated || due).then(|| {
            let text = if escalated {
                format!(
                    "{} {} (was {}): {}",
                    upper(level),
                    o.condition,
                    inc.level.as_str(),
                    o.summary
                )
            } else {
                format!(
                    "{} {} still open after {} (since {}): {}",
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
        }
    }
}
