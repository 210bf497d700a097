//! The slots of each schedule kind on one run date.
//!
//! Every kind is reduced to a list of [`Slot`]s (name, run date, target date,
//! instant) so the due / claimed / catch-up rules are written once. Slots are
//! built from local wall-clock times and converted with
//! [`crate::local_instant`], so the DST rule lives in one place.

use crate::time::{hhmm, local_instant};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use rebound_domain::plan::TargetDate;

/// One chance to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    /// `HH:MM` local on the run date, or `window`.
    pub name: String,
    pub run_date: NaiveDate,
    pub target: NaiveDate,
    pub at: DateTime<Utc>,
}

/// The target date of a run date.
pub(crate) fn target_of(target_date: TargetDate, run_date: NaiveDate) -> NaiveDate {
    match target_date {
        TargetDate::Today => run_date,
        TargetDate::Yesterday => run_date - Duration::days(1),
    }
}

/// Parses a five-field cron (minute hour day-of-month month day-of-week).
/// Seconds and years are refused: the config documents five fields, and a
/// six-field string silently meaning something else would be worse.
pub(crate) fn parse_cron(expr: &str) -> Result<Cron, String> {
    if expr.split_whitespace().count() != 5 {
        return Err(format!(
            "cron \"{expr}\" must have five fields (minute hour day-of-month month day-of-week)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("invalid cron \"{expr}\": {e}"))
}

/// The cron's slots on `run_date`.
///
/// The cron is matched against the *wall clock*: the local date and time are
/// handed to croner dressed as UTC, a zone without DST, so croner's own gap
/// handling never applies and every local minute is seen exactly once. Our
/// [`local_instant`] then places each minute on the time line.
#[cfg(test)]
pub(crate) fn cron_slots(
    cron: &Cron,
    tz: Tz,
    run_date: NaiveDate,
    target_date: TargetDate,
) -> Vec<Slot> {
    cron_slots_within(cron, tz, run_date, target_date, &Within::ALL)
}

/// The part of a date's slots an evaluation looks at: from `from` (earlier
/// slots may be left out) through the first slot after `until` (with every
/// slot sharing its instant; later ones are left out). Without it every
/// tick built every slot of two or three dates: 4,320 for a minutely cron.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Within {
    /// `None`: from the date's first slot.
    pub from: Option<DateTime<Utc>>,
    /// `None`: through the date's last slot.
    pub until: Option<DateTime<Utc>>,
}

impl Within {
    /// No bound: every slot of the date.
    pub const ALL: Within = Within {
        from: None,
        until: None,
    };

    /// The local time of `run_date` from which slots can lie at or after
    /// `from`: midnight unless `from` falls on that date; `None` when the
    /// whole date lies before it. An hour's margin covers a fall-back
    /// hour, whose local times map to the earlier of their two instants.
    fn start_on(&self, tz: Tz, run_date: NaiveDate) -> Option<NaiveTime> {
        let Some(from) = self.from else {
            return Some(NaiveTime::MIN);
        };
        let from = from.checked_sub_signed(Duration::hours(1)).unwrap_or(from);
        let local = from.with_timezone(&tz).naive_local();
        match local.date().cmp(&run_date) {
            std::cmp::Ordering::Less => Some(NaiveTime::MIN),
            std::cmp::Ordering::Equal => Some(
                local
                    .time()
                    .with_second(0)
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or(NaiveTime::MIN),
            ),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// Whether a slot at `at`, coming after those of `*first_after`, lies
    /// past the first slot after `until` (and the caller can stop).
    fn past(&self, at: DateTime<Utc>, first_after: &mut Option<DateTime<Utc>>) -> bool {
        match *first_after {
            Some(first) => at > first,
            None => {
                if self.until.is_some_and(|until| at > until) {
                    *first_after = Some(at);
                }
                false
            }
        }
    }
}

/// [`cron_slots`] of the part [`Within`] says.
pub(crate) fn cron_slots_within(
    cron: &Cron,
    tz: Tz,
    run_date: NaiveDate,
    target_date: TargetDate,
    within: &Within,
) -> Vec<Slot> {
    let mut out = Vec::new();
    let Some(start) = within.start_on(tz, run_date) else {
        return out;
    };
    let mut probe = Utc.from_utc_datetime(&run_date.and_time(start));
    let mut inclusive = true;
    let mut first_after = None;
    // A day has 1440 minutes; the bound only guards against a library bug.
    for _ in 0..=1440 {
        let Ok(next) = cron.find_next_occurrence(&probe, inclusive) else {
            break;
        };
        if next.date_naive() != run_date {
            break;
        }
        let time = next.time().with_second(0).unwrap_or(next.time());
        let slot = Slot {
            name: hhmm(time),
            run_date,
            target: target_of(target_date, run_date),
            at: local_instant(tz, run_date, time),
        };
        if within.past(slot.at, &mut first_after) {
            break;
        }
        out.push(slot);
        probe = next;
        inclusive = false;
    }
    collapse(out)
}

/// `start + k·every < end` in local wall-clock time on `run_date`.
pub(crate) fn grid_slots(
    start: NaiveTime,
    end: NaiveTime,
    every: std::time::Duration,
    tz: Tz,
    run_date: NaiveDate,
    target_date: TargetDate,
) -> Vec<Slot> {
    grid_slots_within(start, end, every, tz, run_date, target_date, &Within::ALL)
}

/// [`grid_slots`] of the part [`Within`] says.
pub(crate) fn grid_slots_within(
    start: NaiveTime,
    end: NaiveTime,
    every: std::time::Duration,
    tz: Tz,
    run_date: NaiveDate,
    target_date: TargetDate,
    within: &Within,
) -> Vec<Slot> {
    // Positive `every` is a config invariant; a zero one would loop forever,
    // so it is read as one minute rather than trusted.
    let step = Duration::from_std(every)
        .unwrap_or(Duration::days(1))
        .max(Duration::minutes(1));
    let day_start = run_date.and_time(NaiveTime::MIN);
    let end_local = local_end(run_date, start, end);
    let mut out = Vec::new();
    let Some(from) = within.start_on(tz, run_date) else {
        return out;
    };
    // The grid stays anchored at `start` (slot names must not move): skip
    // the whole steps before `from`.
    let skipped = if from > start {
        (from - start).num_seconds() / step.num_seconds().max(1)
    } else {
        0
    };
    let mut local = run_date.and_time(start) + step * skipped as i32;
    let mut first_after = None;
    while local < end_local && local.date() == day_start.date() {
        let at = local_instant(tz, run_date, local.time());
        if within.past(at, &mut first_after) {
            break;
        }
        out.push(Slot {
            name: hhmm(local.time()),
            run_date,
            target: target_of(target_date, run_date),
            at,
        });
        local += step;
    }
    collapse(out)
}

/// The one slot of `at` on `run_date`.
pub(crate) fn at_slot(at: NaiveTime, tz: Tz, run_date: NaiveDate, target_date: TargetDate) -> Slot {
    Slot {
        name: hhmm(at),
        run_date,
        target: target_of(target_date, run_date),
        at: local_instant(tz, run_date, at),
    }
}

/// The instant an exclusive `end` stands for on `run_date`: `end` at or
/// before `start` (e.g. `00:00`) is the end of that local day.
///
/// A span that lies wholly inside a spring-forward gap (02:00–02:45 in New
/// York on 2026-03-08) has both ends at the gap's end, so it would close
/// the instant it opens and never run; it is kept open for its local length
/// from that instant instead (03:00–03:45 EDT).
pub(crate) fn end_instant(
    tz: Tz,
    run_date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
) -> DateTime<Utc> {
    if end <= start {
        return local_instant(tz, run_date + Duration::days(1), NaiveTime::MIN);
    }
    let opens = local_instant(tz, run_date, start);
    let closes = local_instant(tz, run_date, end);
    if closes > opens {
        closes
    } else {
        opens.checked_add_signed(end - start).unwrap_or(closes)
    }
}

fn local_end(run_date: NaiveDate, start: NaiveTime, end: NaiveTime) -> chrono::NaiveDateTime {
    if end <= start {
        (run_date + Duration::days(1)).and_time(NaiveTime::MIN)
    } else {
        run_date.and_time(end)
    }
}

/// Slots of one date that share an instant (local times in a DST gap) are
/// one slot, named by the latest local time: it runs once.
fn collapse(mut slots: Vec<Slot>) -> Vec<Slot> {
    slots.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.name.cmp(&b.name)));
    let mut out: Vec<Slot> = Vec::with_capacity(slots.len());
    for slot in slots {
        match out.last_mut() {
            Some(last) if last.at == slot.at => *last = slot,
            _ => out.push(slot),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Tz {
        "America/New_York".parse().unwrap()
    }

    fn names(slots: &[Slot]) -> Vec<&str> {
        slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// The windowed slots are the full day's, cut to the window: every
    /// slot from `from` to `until`, then the first slot after `until`
    /// (with any sharing its instant), nothing beyond; on ordinary and
    /// both DST days, for a minutely cron and a 7-minute grid.
    #[test]
    fn a_window_keeps_exactly_the_slots_an_evaluation_needs() {
        let minutely = parse_cron("* * * * *").unwrap();
        let tz = ny();
        for day in ["2026-01-05", "2026-03-08", "2026-11-01"] {
            let day: NaiveDate = day.parse().unwrap();
            let full_cron = cron_slots(&minutely, tz, day, TargetDate::Today);
            // Every 7 minutes from 00:03 to the end of the day.
            let grid_within = |within: &Within| {
                grid_slots_within(
                    NaiveTime::from_hms_opt(0, 3, 0).unwrap(),
                    NaiveTime::MIN,
                    std::time::Duration::from_secs(7 * 60),
                    tz,
                    day,
                    TargetDate::Today,
                    within,
                )
            };
            let full_grid = grid_within(&Within::ALL);
            let midnight = local_instant(tz, day, NaiveTime::MIN);
            for (from_min, until_min) in [(0, 0), (30, 95), (90, 150), (100, 101), (600, 1500)] {
                let within = Within {
                    from: Some(midnight + Duration::minutes(from_min)),
                    until: Some(midnight + Duration::minutes(until_min)),
                };
                let cut = cron_slots_within(&minutely, tz, day, TargetDate::Today, &within);
                let grid = grid_within(&within);
                for (full, cut) in [(&full_cron, &cut), (&full_grid, &grid)] {
                    let (from, until) = (within.from.unwrap(), within.until.unwrap());
                    let first_after = full.iter().find(|s| s.at > until).map(|s| s.at);
                    let wanted: Vec<&Slot> = full
                        .iter()
                        .filter(|s| s.at >= from && first_after.is_none_or(|f| s.at <= f))
                        .collect();
                    for slot in &wanted {
                        assert!(cut.contains(slot), "{day} {from_min}-{until_min}: {slot:?}");
                    }
                    for slot in cut {
                        assert!(full.contains(slot), "{day}: {slot:?} not in the full day");
                        assert!(
                            first_after.is_none_or(|f| slot.at <= f),
                            "{day}: {slot:?} past the first slot after {until}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn an_hourly_cron_runs_once_in_the_spring_forward_hour() {
        let cron = parse_cron("0 * * * *").unwrap();
        let day: NaiveDate = "2026-03-08".parse().unwrap();
        let slots = cron_slots(&cron, ny(), day, TargetDate::Today);
        // 02:00 does not exist and collapses into 03:00.
        assert_eq!(slots.len(), 23);
        assert_eq!(names(&slots)[..4], ["00:00", "01:00", "03:00", "04:00"]);
    }

    #[test]
    fn the_repeated_fall_back_hour_has_one_slot_per_local_time() {
        let cron = parse_cron("30 * * * *").unwrap();
        let day: NaiveDate = "2026-11-01".parse().unwrap();
        let slots = cron_slots(&cron, ny(), day, TargetDate::Today);
        assert_eq!(slots.len(), 24);
        let one_thirty = slots.iter().find(|s| s.name == "01:30").unwrap();
        assert_eq!(
            one_thirty.at,
            "2026-11-01T05:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn cron_needs_five_fields_and_respects_day_of_week() {
        assert!(parse_cron("0 0 5 * * *").is_err());
        assert!(parse_cron("0 5 * *").is_err());
        assert!(parse_cron("61 5 * * *").is_err());
        // 2026-01-05 is a Monday.
        let mondays = parse_cron("0 5 * * 1").unwrap();
        let monday: NaiveDate = "2026-01-05".parse().unwrap();
        assert_eq!(
            cron_slots(&mondays, ny(), monday, TargetDate::Today).len(),
            1
        );
        assert!(
            cron_slots(
                &mondays,
                ny(),
                monday + Duration::days(1),
                TargetDate::Today
            )
            .is_empty()
        );
    }

    #[test]
    fn grids_stop_before_end_and_at_midnight() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let day: NaiveDate = "2026-01-05".parse().unwrap();
        let two_h = std::time::Duration::from_secs(7200);
        let slots = grid_slots(t("08:00"), t("20:00"), two_h, ny(), day, TargetDate::Today);
        assert_eq!(
            names(&slots),
            ["08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]
        );
        let late = grid_slots(
            t("20:00"),
            t("00:00"),
            two_h,
            ny(),
            day,
            TargetDate::Yesterday,
        );
        assert_eq!(names(&late), ["20:00", "22:00"]);
        assert_eq!(late[0].target, day - Duration::days(1));
    }
}
