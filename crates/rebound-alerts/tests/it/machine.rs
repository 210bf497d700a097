//! The incident state machine over simulated hours and days: what is
//! notified, when, and what the rate limits hold back.

use chrono::{DateTime, TimeDelta, Utc};
use rebound_alerts::conditions::Observation;
use rebound_alerts::incident::{Change, Event, Limits, OpenIncident, Stamp, step};
use rebound_health::Level;

fn t0() -> DateTime<Utc> {
    "2026-01-15T04:00:00Z".parse().unwrap()
}

fn limits() -> Limits {
    Limits {
        timezone: chrono_tz::America::New_York,
        renotify: TimeDelta::hours(6),
        per_incident_per_hour: 2,
        per_hour: 30,
    }
}

fn obs(condition: &'static str, subject: &str, level: Level) -> Observation {
    Observation {
        condition,
        subject: subject.to_string(),
        level,
        summary: format!("{subject} is broken"),
    }
}

/// What the store would do with the changes, in memory.
#[derive(Default)]
struct World {
    open: Vec<OpenIncident>,
    stamps: Vec<Stamp>,
    next_id: i64,
    /// (time, event, subject, text, suppressed)
    log: Vec<(DateTime<Utc>, Event, String, String, bool)>,
}

impl World {
    fn tick(&mut self, now: DateTime<Utc>, observed: &[Observation], limits: &Limits) {
        for change in step(now, &self.open, observed, &self.stamps, limits) {
            let (condition, subject, notice) = match change {
                Change::Open {
                    condition,
                    subject,
                    level,
                    summary,
                    notice,
                    ..
                } => {
                    self.next_id += 1;
                    self.open.push(OpenIncident {
                        id: self.next_id,
                        condition: condition.clone(),
                        subject: subject.clone(),
                        level,
                        peak_level: level,
                        summary,
                        opened_at: now,
                        last_notified_at: Some(now),
                        caused_by: None,
                    });
                    (condition, subject, Some(notice))
                }
                Change::Update {
                    id,
                    level,
                    peak_level,
                    summary,
                    notice,
                    ..
                } => {
                    let inc = self.open.iter_mut().find(|i| i.id == id).unwrap();
                    inc.level = level;
                    inc.peak_level = peak_level;
                    inc.summary = summary;
                    if notice.is_some() {
                        inc.last_notified_at = Some(now);
                    }
                    (inc.condition.clone(), inc.subject.clone(), notice)
                }
                Change::Resolve {
                    id,
                    condition,
                    subject,
                    notice,
                    ..
                } => {
                    self.open.retain(|i| i.id != id);
                    (condition, subject, Some(notice))
                }
            };
            if let Some(n) = notice {
                self.stamps.push(Stamp {
                    condition: condition.clone(),
                    subject: subject.clone(),
                    at: now,
                    suppressed: n.suppressed.is_some(),
                });
                self.log
                    .push((now, n.event, subject, n.text, n.suppressed.is_some()));
            }
        }
    }

    fn sent(&self) -> Vec<(DateTime<Utc>, Event, String)> {
        self.log
            .iter()
            .filter(|l| !l.4)
            .map(|l| (l.0, l.1, l.2.clone()))
            .collect()
    }
}

/// Evaluating every minute for `minutes`, observing what `seen(minute)` says.
fn run(
    world: &mut World,
    start: DateTime<Utc>,
    minutes: i64,
    limits: &Limits,
    seen: impl Fn(i64) -> Vec<Observation>,
) {
    for m in 0..minutes {
        world.tick(start + TimeDelta::minutes(m), &seen(m), limits);
    }
}

#[test]
fn one_message_to_open_reminders_every_renotify_one_to_recover() {
    let mut w = World::default();
    // Broken for 15h 12m, evaluated every minute.
    let broken = 15 * 60 + 12;
    run(&mut w, t0(), broken + 30, &limits(), |m| {
        if m < broken {
            vec![obs("source_unhealthy", "nba_stats", Level::Critical)]
        } else {
            vec![]
        }
    });
    let sent = w.sent();
    let events: Vec<(i64, Event)> = sent
        .iter()
        .map(|(at, e, _)| ((*at - t0()).num_minutes(), *e))
        .collect();
    assert_eq!(
        events,
        [
            (0, Event::Opened),
            (360, Event::Renotify),
            (720, Event::Renotify),
            (broken, Event::Recovered)
        ]
    );
    let recovered = &w.log.last().unwrap().3;
    assert_eq!(
        recovered,
        "RECOVERED source_unhealthy nba_stats: recovered after 15h 12m (opened 2026-01-14 23:00 EST (-05:00))"
    );
    assert!(
        w.log[0]
            .3
            .starts_with("CRITICAL source_unhealthy: nba_stats is broken"),
        "{}",
        w.log[0].3
    );
    assert!(
        w.log[1]
            .3
            .contains("still open after 6h (since 2026-01-14 23:00 EST (-05:00))"),
        "{}",
        w.log[1].3
    );
    assert!(w.log.iter().all(|l| !l.4), "nothing suppressed");
}

#[test]
fn escalation_notifies_at_once_and_de_escalation_waits() {
    let mut w = World::default();
    let levels = |m: i64| match m {
        0..=9 => Level::Warning,
        10..=19 => Level::Critical,
        20..=29 => Level::Warning,
        _ => Level::Critical,
    };
    run(&mut w, t0(), 40, &limits(), |m| {
        vec![obs("dataset_stale", "injuries", levels(m))]
    });
    let events: Vec<(i64, Event)> = w
        .log
        .iter()
        .map(|l| ((l.0 - t0()).num_minutes(), l.1))
        .collect();
    // Opened as a warning; critical at 10 notifies at once; back to warning
    // at 20 is quiet; critical again at 30 notifies (the per-incident limit
    // of 2 per hour holds it back: opened and the first escalation used it).
    assert_eq!(
        events,
        [
            (0, Event::Opened),
            (10, Event::Renotify),
            (30, Event::Renotify)
        ]
    );
    assert!(
        w.log[1]
            .3
            .starts_with("CRITICAL dataset_stale (was warning)"),
        "{}",
        w.log[1].3
    );
    assert!(!w.log[0].4 && !w.log[1].4);
    assert!(w.log[2].4, "third message within the hour is suppressed");
    assert_eq!(w.open[0].peak_level, Level::Critical);
}

#[test]
fn a_flapping_problem_is_held_to_its_hourly_limit_and_the_next_message_counts_the_rest() {
    let mut w = World::default();
    // Broken on even 5-minute blocks, fine on odd ones, for two hours.
    run(&mut w, t0(), 120, &limits(), |m| {
        if (m / 5) % 2 == 0 {
            vec![obs("workflow_failed", "post_game", Level::Critical)]
        } else {
            vec![]
        }
    });
    let sent = w.sent();
    // Per sliding hour at most 2 go out.
    for (at, _, _) in &sent {
        let in_hour = sent
            .iter()
            .filter(|(t, _, _)| *t > *at - TimeDelta::hours(1) && *t <= *at)
            .count();
        assert!(in_hour <= 2, "{in_hour} messages in the hour before {at}");
    }
    // 24 transitions (12 openings, 12 recoveries): all recorded, most held back.
    assert_eq!(w.log.len(), 24);
    let held = w.log.iter().filter(|l| l.4).count();
    assert_eq!(held + sent.len(), 24);
    assert!(held >= 20, "{held}");
    let first_after_hold = w
        .log
        .iter()
        .find(|l| !l.4 && l.0 >= t0() + TimeDelta::hours(1))
        .unwrap();
    assert!(
        first_after_hold
            .3
            .contains("more notifications were held back by rate limits"),
        "{}",
        first_after_hold.3
    );
}

#[test]
fn the_global_cap_holds_back_a_flood_and_says_so_later() {
    let mut w = World::default();
    let many: Vec<Observation> = (0..40)
        .map(|n| obs("dataset_stale", &format!("d{n:02}"), Level::Warning))
        .collect();
    let lim = Limits {
        per_hour: 30,
        ..limits()
    };
    w.tick(t0(), &many, &lim);
    assert_eq!(w.open.len(), 40, "every incident opens, sent or not");
    assert_eq!(w.sent().len(), 30);
    let held: Vec<_> = w.log.iter().filter(|l| l.4).collect();
    assert_eq!(held.len(), 10);
    assert!(held.iter().all(|l| l.1 == Event::Opened));
    // An hour later one recovers: it goes out and reports the 10 held back.
    let later = t0() + TimeDelta::minutes(61);
    w.tick(later, &many[1..], &lim);
    let last = w.log.last().unwrap();
    assert_eq!((last.1, last.4), (Event::Recovered, false));
    assert!(
        last.3
            .contains("[10 more notifications were held back by rate limits"),
        "{}",
        last.3
    );
}

#[test]
fn ok_observations_open_nothing_and_each_identity_is_its_own_incident() {
    let mut w = World::default();
    w.tick(
        t0(),
        &[
            obs("quota_high", "odds", Level::Ok),
            obs("quota_high", "bdl", Level::Warning),
            obs("source_unhealthy", "bdl", Level::Critical),
        ],
        &limits(),
    );
    let subjects: Vec<(String, String)> = w
        .open
        .iter()
        .map(|i| (i.condition.clone(), i.subject.clone()))
        .collect();
    assert_eq!(
        subjects,
        [
            ("quota_high".to_string(), "bdl".to_string()),
            ("source_unhealthy".to_string(), "bdl".to_string())
        ]
    );
}
