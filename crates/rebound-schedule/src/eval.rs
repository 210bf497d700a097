//! One evaluation of one workflow at one instant: the due slot, its decision,
//! catch-up decisions, and when to look again.
//!
//! The flow is the same for every kind: find the slot that is due now (or
//! the latest past one, for a SKIP that says why nothing is due), refuse it
//! when claimed, then pass it through the *gate* — calendar, event filters,
//! `only_missing` — that turns "time to run" into RUN for these entities or
//! SKIP with the reason. Catch-up reuses the same gate, so a caught-up run
//! is restricted exactly like an on-time one.

use crate::slots::{
    Slot, Within, at_slot, cron_slots_within, end_instant, grid_slots, grid_slots_within,
    parse_cron, target_of,
};
use crate::time::{chrono_dur, dur, hhmm, local_date, local_hhmm, local_stamp, next_midnight};
use crate::{CalendarSource, Decision, Evaluation, Facts, MAX_CATCH_UP_DECISIONS};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rebound_domain::calendar::{Event, events_on, skips_whole};
use rebound_domain::decision::{AlertLevel, DecisionAction};
use rebound_domain::message::plural;
use rebound_domain::plan::{ForEach, Plan, Schedule, ScheduleKind, Workflow};
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

/// Slot name of the discovery "max attempts reached" decision. A fixed name
/// lets the next evaluation see that the WARNING was already given for the
/// date (a decided fact for this slot) and stay quiet.
pub(crate) const CAP_SLOT: &str = "max_attempts";

/// Slot name of a SKIP that says why no slot is due now (cron, every, at), so
/// that such a SKIP never marks a real slot as decided.
const IDLE_SLOT: &str = "idle";

/// The target dates whose facts [`evaluate`] needs for `schedule` at `now`.
///
/// Covers the run dates from one day before `now − catch_up − 1 day` (the
/// catch-up look-back) to tomorrow (an `at` slot just after midnight is due
/// the evening before), shifted by the schedule's `target_date`.
pub fn fact_dates(
    schedule: &Schedule,
    tz: Tz,
    now: DateTime<Utc>,
    catch_up: std::time::Duration,
) -> RangeInclusive<NaiveDate> {
    let (lo, hi) = run_dates(tz, now, catch_up);
    target_of(schedule.target_date, lo)..=target_of(schedule.target_date, hi)
}

/// Run dates whose slots are generated for catch-up-capable kinds.
fn run_dates(tz: Tz, now: DateTime<Utc>, catch_up: std::time::Duration) -> (NaiveDate, NaiveDate) {
    let lookback = chrono_dur(catch_up) + Duration::days(1);
    let oldest = now.checked_sub_signed(lookback).unwrap_or(now);
    (
        local_date(tz, oldest) - Duration::days(1),
        local_date(tz, now) + Duration::days(1),
    )
}

/// The scrapers of `workflow` that fan out over the schedule's calendar
/// (`for_each = { calendar = <schedule.calendar> }`), with the parameter the
/// event id goes into. `None` when the workflow has no scheduled calendar or
/// no scraper fans out over it. When several scrapers fan out with different
/// parameter names, the first scraper's (in step order) is returned.
pub fn fanned_scrapers(plan: &Plan, workflow: &Workflow) -> Option<(String, Vec<String>)> {
    let calendar = workflow.schedule.as_ref()?.calendar.as_deref()?;
    let mut param: Option<String> = None;
    let mut names = Vec::new();
    for name in workflow.scraper_names() {
        let Some(scraper) = plan.scrapers.get(name) else {
            continue;
        };
        if let Some(ForEach::Calendar {
            calendar: c,
            param: p,
        }) = &scraper.for_each
            && c == calendar
        {
            param.get_or_insert_with(|| p.clone());
            names.push(name.to_string());
        }
    }
    param.map(|p| (p, names))
}

/// The slots an evaluation of `workflow` at `now` can read facts about,
/// given only the workflow's newest decision.
///
/// `Some` for `cron` and `every`: the current slot (the latest at or before
/// `now`) and the slots after `last_decided_at` up to `now`, the only ones
/// whose decisions and claims [`evaluate`] looks up for these kinds. A
/// minutely cron's tick then reads a slot or two instead of every slot of
/// [`fact_dates`]' three or four dates: each tick read some 2,000 rows, so a
/// simulated day cost the square of its 1,440 runs. `None` for the other
/// kinds: `at` retries and `window` and `discovery` read other slots of their
/// dates (retries, the attempt count), and they have a slot or a few a date.
pub fn fact_slots(
    plan: &Plan,
    workflow: &Workflow,
    now: DateTime<Utc>,
    last_decided_at: Option<DateTime<Utc>>,
) -> Option<Vec<(NaiveDate, String)>> {
    let schedule = workflow.schedule.as_ref()?;
    let facts = Facts {
        last_decided_at,
        ..Facts::default()
    };
    let no_calendars = BTreeMap::<String, Vec<Event>>::new();
    let ctx = Ctx::new(plan, workflow, schedule, now, &facts, &no_calendars);
    // A bad cron reads nothing: its evaluation is an ABORT.
    let slots = ctx.grid()?.ok()?;
    // As in `slotted`: the current slot, and the missed candidates (after
    // the last decision, not after now).
    let current = slots.iter().rposition(|s| s.at <= now);
    Some(
        slots
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                Some(*i) == current || last_decided_at.is_some_and(|l| s.at > l && s.at <= now)
            })
            .map(|(_, s)| (s.target, s.name.clone()))
            .collect(),
    )
}

/// Evaluates `workflow` at `now`. See the crate docs for the rules.
///
/// A workflow without a schedule gets no decisions and a `next_check` a year
/// away: it only runs by hand.
pub fn evaluate(
    plan: &Plan,
    workflow: &Workflow,
    now: DateTime<Utc>,
    facts: &Facts,
    calendars: &dyn CalendarSource,
) -> Evaluation {
    let Some(schedule) = &workflow.schedule else {
        return Evaluation {
            decisions: Vec::new(),
            next_check: now + Duration::days(365),
        };
    };
    let ctx = Ctx::new(plan, workflow, schedule, now, facts, calendars);
    let mut bounds = Vec::new();
    let decisions = ctx.evaluate(&mut bounds);
    Evaluation {
        decisions,
        next_check: ctx.next_check(&bounds),
    }
}

/// What a decision says, before it is tied to a slot.
struct Outcome {
    action: DecisionAction,
    reason: String,
    alert: AlertLevel,
    entities: Vec<String>,
    restrict: bool,
}

impl Outcome {
    fn skip(reason: impl Into<String>) -> Outcome {
        Outcome::skip_alert(reason, AlertLevel::None)
    }

    fn skip_alert(reason: impl Into<String>, alert: AlertLevel) -> Outcome {
        Outcome {
            action: DecisionAction::Skip,
            reason: reason.into(),
            alert,
            entities: Vec::new(),
            restrict: false,
        }
    }

    fn abort(error: impl std::fmt::Display) -> Outcome {
        Outcome {
            action: DecisionAction::Abort,
            reason: format!("evaluation error: {error}"),
            alert: AlertLevel::Critical,
            entities: Vec::new(),
            restrict: false,
        }
    }

    fn run(reason: String, allowed: Allowed) -> Outcome {
        let reason = if allowed.note.is_empty() {
            reason
        } else {
            format!("{reason}; {}", allowed.note)
        };
        Outcome {
            action: DecisionAction::Run,
            reason,
            alert: AlertLevel::None,
            entities: allowed.entities,
            restrict: allowed.restrict,
        }
    }

    fn prefixed(mut self, prefix: &str) -> Outcome {
        self.reason = format!("{prefix}{}", self.reason);
        self
    }
}

/// When the retries of a run of `slot` started at `run_at` would run if it
/// and each retry failed at once: every `retry_every` after it, before the
/// window closes (`window`) or the day ends (`at`), at most `retry_max`.
/// Empty for a schedule without retries and for a retry's own run.
pub(crate) fn retries_if_failed(
    schedule: &Schedule,
    tz: Tz,
    slot: &str,
    run_at: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let Some(retry) = schedule.retry else {
        return Vec::new();
    };
    if slot.contains("+retry") {
        return Vec::new();
    }
    let run_date = local_date(tz, run_at);
    let until = match &schedule.kind {
        ScheduleKind::Window { start, end } => end_instant(tz, run_date, *start, *end),
        ScheduleKind::At { .. } => next_midnight(tz, run_at),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut at = run_at;
    for _ in 0..retry.max {
        match at.checked_add_signed(chrono_dur(retry.every)) {
            Some(next) if next < until => {
                out.push(next);
                at = next;
            }
            _ => break,
        }
    }
    out
}

/// Where retries of a slot stop, and how a reason says so.
struct Until {
    at: DateTime<Utc>,
    what: String,
}

/// The slot name of the `n`th retry of `base`: `window+retry1`, `19:00+retry2`.
pub(crate) fn retry_slot(base: &str, n: u32) -> String {
    format!("{base}+retry{n}")
}

/// What the gate lets a run do.
struct Allowed {
    entities: Vec<String>,
    restrict: bool,
    /// Appended to the RUN reason, e.g. "7 of 9 missing".
    note: String,
}

struct Ctx<'a> {
    plan: &'a Plan,
    workflow: &'a Workflow,
    schedule: &'a Schedule,
    tz: Tz,
    now: DateTime<Utc>,
    facts: &'a Facts,
    calendars: &'a dyn CalendarSource,
    /// The schedule's calendar, read at most once per evaluation and only
    /// when a decision depends on it (a too-early SKIP must not raise a
    /// "calendar has no data" WARNING every minute of the night).
    loaded: OnceCell<Result<Option<Vec<Event>>, String>>,
}

impl<'a> Ctx<'a> {
    fn new(
        plan: &'a Plan,
        workflow: &'a Workflow,
        schedule: &'a Schedule,
        now: DateTime<Utc>,
        facts: &'a Facts,
        calendars: &'a dyn CalendarSource,
    ) -> Self {
        Ctx {
            plan,
            workflow,
            schedule,
            tz: plan.pipeline.timezone,
            now,
            facts,
            calendars,
            loaded: OnceCell::new(),
        }
    }
}

impl Ctx<'_> {
    /// The slots a `cron` or `every` evaluation looks at (an `Err` for a
    /// cron that does not parse); `None` for the other kinds.
    fn grid(&self) -> Option<Result<Vec<Slot>, String>> {
        match &self.schedule.kind {
            ScheduleKind::Cron { cron } => Some(parse_cron(cron).map(|parsed| {
                self.slots_over_run_dates(|d, within| {
                    cron_slots_within(&parsed, self.tz, d, self.schedule.target_date, within)
                })
            })),
            ScheduleKind::Every {
                start, end, every, ..
            } => Some(Ok(self.slots_over_run_dates(|d, within| {
                grid_slots_within(
                    *start,
                    *end,
                    *every,
                    self.tz,
                    d,
                    self.schedule.target_date,
                    within,
                )
            }))),
            ScheduleKind::At { .. }
            | ScheduleKind::Window { .. }
            | ScheduleKind::Discovery { .. } => None,
        }
    }

    fn evaluate(&self, bounds: &mut Vec<DateTime<Utc>>) -> Vec<Decision> {
        match &self.schedule.kind {
            ScheduleKind::Cron { .. } | ScheduleKind::Every { .. } => match self.grid() {
                Some(Ok(slots)) => self.slotted(&slots, bounds),
                Some(Err(e)) => vec![self.decision(&self.idle_slot(), Outcome::abort(e))],
                // `grid` covers both kinds; nothing to decide otherwise.
                None => Vec::new(),
            },
            ScheduleKind::At { at, .. } => {
                let slots = self.slots_over_run_dates(|d, _| {
                    vec![at_slot(*at, self.tz, d, self.schedule.target_date)]
                });
                let mut decisions = self.slotted(&slots, bounds);
                self.at_retry(*at, &mut decisions, bounds);
                decisions
            }
            ScheduleKind::Window { start, end } => vec![self.window(*start, *end, bounds)],
            ScheduleKind::Discovery {
                start,
                end,
                every,
                max_attempts,
            } => vec![self.discovery(*start, *end, *every, *max_attempts, bounds)],
        }
    }

    fn slots_over_run_dates(
        &self,
        per_date: impl Fn(NaiveDate, &Within) -> Vec<Slot>,
    ) -> Vec<Slot> {
        let (lo, hi) = run_dates(self.tz, self.now, self.plan.scheduler.catch_up);
        // Only dates that can hold a slot this evaluation looks at: missed
        // ones (after the last decision), the current one (within catch_up,
        // or within tolerance for `at`). A running scheduler thus builds two
        // or three dates instead of the whole look-back, which keeps a
        // minutely cron cheap.
        let tolerance = match &self.schedule.kind {
            ScheduleKind::At { tolerance, .. } => chrono_dur(*tolerance),
            _ => Duration::zero(),
        };
        let reach = self.catch_up().max(self.on_time_grace()) + tolerance;
        let earliest = self
            .facts
            .last_decided_at
            .unwrap_or(self.now)
            .min(self.now.checked_sub_signed(reach).unwrap_or(self.now));
        let lo = lo.max(local_date(self.tz, earliest));
        // Within those dates, only the slots from `earliest` (no missed
        // or current slot lies before it) through the first after now
        // (the next check): a minutely cron's tick then builds the hours
        // of `reach`, not every minute of three dates.
        let within = Within {
            from: Some(earliest),
            until: Some(self.now),
        };
        // A date the zone skips whole (Samoa's 2011-12-30) has no slot,
        // and no data to collect: as a run date its `at` slot fell on the
        // next day's midnight, and as a target the engine refuses it.
        let mut slots: Vec<Slot> = lo
            .iter_days()
            .take_while(|d| *d <= hi)
            .filter(|d| !skips_whole(self.tz, *d))
            .flat_map(|d| per_date(d, &within))
            .filter(|slot| !skips_whole(self.tz, slot.target))
            .collect();
        slots.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.name.cmp(&b.name)));
        slots
    }

    /// How late a slot may be and still count as on time: the scheduler
    /// wakes at least every `max_idle`, plus a minute for a slow store.
    fn on_time_grace(&self) -> Duration {
        chrono_dur(self.plan.scheduler.max_idle) + Duration::minutes(1)
    }

    fn catch_up(&self) -> Duration {
        chrono_dur(self.plan.scheduler.catch_up)
    }

    fn next_check(&self, bounds: &[DateTime<Utc>]) -> DateTime<Utc> {
        let cap = next_midnight(self.tz, self.now) + Duration::minutes(1);
        let earliest = bounds
            .iter()
            .copied()
            .filter(|b| *b > self.now)
            .min()
            .unwrap_or(cap);
        earliest.min(cap).max(self.now + Duration::seconds(1))
    }

    fn decision(&self, slot: &Slot, outcome: Outcome) -> Decision {
        debug_assert!(!outcome.reason.is_empty());
        Decision {
            workflow: self.workflow.name.clone(),
            slot: slot.name.clone(),
            target_date: slot.target,
            scheduled_for: slot.at,
            action: outcome.action,
            reason: outcome.reason,
            entities: outcome.entities,
            restrict_entities: outcome.restrict,
            alert_level: outcome.alert,
            execution_id: None,
        }
    }

    fn idle_slot(&self) -> Slot {
        let run_date = local_date(self.tz, self.now);
        Slot {
            name: IDLE_SLOT.to_string(),
            run_date,
            target: target_of(self.schedule.target_date, run_date),
            at: self.now,
        }
    }

    // ----- cron, every, at: slots with catch-up -------------------------

    fn slotted(&self, slots: &[Slot], bounds: &mut Vec<DateTime<Utc>>) -> Vec<Decision> {
        let now = self.now;
        let last = self.facts.last_decided_at;
        let tolerance = match &self.schedule.kind {
            ScheduleKind::At { tolerance, .. } => Some(chrono_dur(*tolerance)),
            _ => None,
        };
        for slot in slots {
            match tolerance {
                Some(tol) => {
                    bounds.push(slot.at);
                    bounds.push(slot.at + tol + Duration::seconds(1));
                }
                None => bounds.push(slot.at),
            }
        }

        // The current slot.
        let current: Option<&Slot> = match tolerance {
            // Never early: an `at` slot runs at its time, and `tolerance`
            // is how late it may still start (a scheduler that was busy,
            // restarting or down for a moment).
            Some(tol) => slots
                .iter()
                .filter(|s| now >= s.at && now - s.at <= tol)
                .max_by_key(|s| s.at),
            None => {
                // After a restart the latest slot within catch_up is still
                // due. A first start runs nothing from the past, not even a
                // slot a few seconds old: the on-time grace is for a
                // scheduler that slept through its slot, and none did (a
                // `rebound serve` started at 05:00:55 ran the 05:00 slot,
                // which docs/scheduling.md said it would not).
                let horizon = match last {
                    Some(_) => self.catch_up().max(self.on_time_grace()),
                    None => Duration::zero(),
                };
                // A slot before the workflow's first decision is one a
                // first start passed over, even when another scheduler
                // (started a second later, so not a first start) looks.
                let first = self.facts.first_decided_at;
                slots
                    .iter()
                    .rfind(|s| s.at <= now)
                    .filter(|s| now - s.at <= horizon)
                    .filter(|s| first.is_none_or(|first| s.at >= first))
            }
        };

        // Slots missed while down: after the last decision, past, never
        // decided nor claimed. Eligibility (lead) is checked once the
        // calendar is known to be readable.
        let lookback = now
            .checked_sub_signed(self.catch_up() + Duration::days(1))
            .unwrap_or(now);
        let candidates: Vec<&Slot> = match last {
            None => Vec::new(),
            Some(last) => slots
                .iter()
                .filter(|s| s.at > last && s.at <= now && s.at >= lookback)
                .filter(|s| Some(*s) != current)
                .filter(|s| {
                    !self.facts.decided(s.target, &s.name)
                        && self.facts.claimed_at(s.target, &s.name).is_none()
                })
                .collect(),
        };

        // Read the calendar once, up front, when anything depends on it: a
        // broken calendar is then one ABORT, not one per missed slot.
        if (current.is_some() || !candidates.is_empty())
            && let Err(outcome) = self.calendar_events()
        {
            let slot = current
                .or(candidates.last().copied())
                .cloned()
                .unwrap_or_else(|| self.idle_slot());
            return vec![self.decision(&slot, outcome)];
        }
        let missed: Vec<&Slot> = candidates
            .into_iter()
            .filter(|s| self.eligible(s).is_ok())
            .collect();

        let mut decisions = Vec::new();
        match current {
            Some(slot) => {
                let outcome = if let Some(at) = self.facts.claimed_at(slot.target, &slot.name) {
                    Outcome::skip(format!(
                        "slot {} already claimed at {}",
                        slot.name,
                        local_stamp(self.tz, at)
                    ))
                } else if let Err(outcome) = self.eligible(slot) {
                    outcome
                } else {
                    match self.gate(slot.target, bounds) {
                        Ok(allowed) => {
                            let late = last.is_some()
                                && now - slot.at > self.on_time_grace()
                                && !self.facts.decided(slot.target, &slot.name);
                            let reason = self.run_reason(slot);
                            let reason = if late {
                                format!("catch-up: slot {} missed while down; {reason}", slot.name)
                            } else {
                                reason
                            };
                            Outcome::run(reason, allowed)
                        }
                        Err(outcome) => outcome,
                    }
                };
                decisions.push(self.decision(slot, outcome));
            }
            None => {
                // Nothing is due: say why under the `idle` slot, dated like
                // the next slot. Using the next slot's own name would mark it
                // decided before its time and hide it from catch-up if the
                // scheduler then goes down.
                let previous = slots.iter().rfind(|s| s.at <= now);
                let covered = previous.is_some_and(|p| missed.contains(&p));
                if !covered {
                    let next = slots.iter().find(|s| s.at > now);
                    let mut slot = self.idle_slot();
                    if let Some(next) = next {
                        slot.target = next.target;
                        slot.at = next.at;
                    }
                    decisions.push(self.decision(&slot, Outcome::skip(self.not_due_reason(next))));
                }
            }
        }

        decisions.extend(self.catch_up_decisions(current, &missed, bounds));
        decisions
    }

    /// Per target date, the latest missed slot within catch_up runs (unless
    /// the current slot is of the same date and supersedes it); the others
    /// are SKIPped so the gap shows.
    fn catch_up_decisions(
        &self,
        current: Option<&Slot>,
        missed: &[&Slot],
        bounds: &mut Vec<DateTime<Utc>>,
    ) -> Vec<Decision> {
        let mut by_target: BTreeMap<NaiveDate, Vec<&Slot>> = BTreeMap::new();
        for slot in missed {
            by_target.entry(slot.target).or_default().push(slot);
        }
        let mut runs: Vec<Decision> = Vec::new();
        let mut skips: Vec<Decision> = Vec::new();
        for (target, group) in by_target {
            let superseded_by = current.filter(|c| c.target == target);
            let winner = match superseded_by {
                Some(_) => None,
                None => group
                    .iter()
                    .rfind(|s| self.now - s.at <= self.catch_up())
                    .copied(),
            };
            for slot in group {
                if Some(slot) == winner {
                    let prefix = format!("catch-up: slot {} missed while down; ", slot.name);
                    let outcome = match self.gate(slot.target, bounds) {
                        Ok(allowed) => Outcome::run(self.run_reason(slot), allowed),
                        Err(outcome) => outcome,
                    };
                    runs.push(self.decision(slot, outcome.prefixed(&prefix)));
                    continue;
                }
                let why = if let Some(c) = superseded_by {
                    format!("superseded by slot {}", c.name)
                } else if let Some(w) = winner {
                    format!("superseded by slot {}", w.name)
                } else {
                    format!("older than catch_up {}", dur(self.plan.scheduler.catch_up))
                };
                skips.push(self.decision(
                    slot,
                    Outcome::skip(format!("slot {} missed while down; {why}", slot.name)),
                ));
            }
        }
        // Keep the newest SKIPs when there are too many; RUNs always stay.
        let room = MAX_CATCH_UP_DECISIONS.saturating_sub(runs.len());
        if skips.len() > room {
            skips.sort_by_key(|d| d.scheduled_for);
            skips.drain(..skips.len() - room);
        }
        let mut out: Vec<Decision> = runs.into_iter().chain(skips).collect();
        out.sort_by(|a, b| {
            a.scheduled_for
                .cmp(&b.scheduled_for)
                .then_with(|| a.slot.cmp(&b.slot))
        });
        out
    }

    fn run_reason(&self, slot: &Slot) -> String {
        match &self.schedule.kind {
            ScheduleKind::Cron { cron } => format!("cron {cron} slot {}", slot.name),
            ScheduleKind::Every {
                start, end, every, ..
            } => format!(
                "every {} from {} to {}: slot {}",
                dur(*every),
                hhmm(*start),
                hhmm(*end),
                slot.name
            ),
            ScheduleKind::At { tolerance, .. } => {
                format!(
                    "at {} (up to {} late) for {}",
                    slot.name,
                    dur(*tolerance),
                    slot.target
                )
            }
            // Window and discovery build their own reasons.
            ScheduleKind::Window { .. } | ScheduleKind::Discovery { .. } => {
                format!("slot {}", slot.name)
            }
        }
    }

    fn not_due_reason(&self, next: Option<&Slot>) -> String {
        let next_text = next
            .map(|n| format!("next slot {} on {}", n.name, n.run_date))
            .unwrap_or_else(|| "no slot in the next day".to_string());
        match &self.schedule.kind {
            ScheduleKind::Cron { cron } => format!("no slot due; {next_text} (cron {cron})"),
            ScheduleKind::Every {
                start, end, every, ..
            } => format!(
                "no slot due (every {} from {} to {}); {next_text}",
                dur(*every),
                hhmm(*start),
                hhmm(*end)
            ),
            ScheduleKind::At { at, tolerance, .. } => {
                format!("outside {} to {} late", hhmm(*at), dur(*tolerance))
            }
            ScheduleKind::Window { .. } | ScheduleKind::Discovery { .. } => {
                format!("no slot due; {next_text}")
            }
        }
    }

    /// `every` with a calendar and `lead`: only slots from `lead` before the
    /// target date's first event.
    fn eligible(&self, slot: &Slot) -> Result<(), Outcome> {
        let ScheduleKind::Every {
            lead: Some(lead), ..
        } = &self.schedule.kind
        else {
            return Ok(());
        };
        let Some(events) = self.calendar_events()? else {
            // `lead` without a calendar has nothing to lead up to.
            return Ok(());
        };
        let day = events_on(events, self.tz, slot.target);
        let Some(first) = day.first() else {
            return Err(Outcome::skip(self.no_events_reason(slot.target)));
        };
        let from = first.start - chrono_dur(*lead);
        if slot.at < from {
            return Err(Outcome::skip(format!(
                "first event at {}; runs from {} (lead {})",
                local_hhmm(self.tz, first.start),
                local_hhmm(self.tz, from),
                dur(*lead)
            )));
        }
        Ok(())
    }

    // ----- window ---------------------------------------------------------

    fn window(
        &self,
        start: NaiveTime,
        end: NaiveTime,
        bounds: &mut Vec<DateTime<Utc>>,
    ) -> Decision {
        let run_date = local_date(self.tz, self.now);
        let opens = crate::local_instant(self.tz, run_date, start);
        let closes = end_instant(self.tz, run_date, start, end);
        bounds.extend([opens, closes]);
        let slot = Slot {
            name: "window".to_string(),
            run_date,
            target: target_of(self.schedule.target_date, run_date),
            at: opens,
        };
        let span = format!("{}–{}", hhmm(start), hhmm(end));
        let outcome = if let Some(gone) = self.no_such_day(slot.target) {
            gone
        } else if self.now < opens {
            Outcome::skip(format!("too early: window opens at {}", hhmm(start)))
        } else if self.facts.claimed_at(slot.target, &slot.name).is_some() {
            let until = Until {
                at: closes,
                what: format!("the window closes at {}", hhmm(end)),
            };
            if let Some(retry) = self.retry(&slot, &until, bounds) {
                return retry;
            }
            Outcome::skip(format!("already ran for {} (window)", slot.target))
        } else if self.now >= closes {
            Outcome::skip(format!("window {span} closed; not run for {}", slot.target))
        } else {
            match self.gate(slot.target, bounds) {
                Ok(allowed) => {
                    Outcome::run(format!("in window {span} for {}", slot.target), allowed)
                }
                Err(outcome) => outcome,
            }
        };
        if outcome.action == DecisionAction::Run {
            self.watch_for_retry(closes, bounds);
        }
        self.decision(&slot, outcome)
    }

    // ----- retries of failed runs (window, at) ------------------------------

    /// After a RUN that may be retried, look again once a retry could be
    /// due (the run finishes at the earliest now, so its retry is due at
    /// the earliest `retry_every` from now): without this bound the next
    /// evaluation would wait for the window to close.
    fn watch_for_retry(&self, until: DateTime<Utc>, bounds: &mut Vec<DateTime<Utc>>) {
        if let Some(retry) = self.schedule.retry
            && let Some(again) = self.now.checked_add_signed(chrono_dur(retry.every))
            && again < until
        {
            bounds.push(again);
        }
    }

    /// `at`: the retry of today's slot, in place of the SKIP that says the
    /// slot is not due (or already claimed). Retries end with the slot's
    /// local day.
    fn at_retry(
        &self,
        at: NaiveTime,
        decisions: &mut Vec<Decision>,
        bounds: &mut Vec<DateTime<Utc>>,
    ) {
        if self.schedule.retry.is_none() {
            return;
        }
        let run_date = local_date(self.tz, self.now);
        let base = at_slot(at, self.tz, run_date, self.schedule.target_date);
        let until = Until {
            at: next_midnight(self.tz, self.now),
            what: format!("the day ends ({run_date})"),
        };
        if decisions
            .iter()
            .any(|d| d.action == DecisionAction::Run && d.scheduled_for <= self.now)
        {
            self.watch_for_retry(until.at, bounds);
        }
        let Some(retry) = self.retry(&base, &until, bounds) else {
            return;
        };
        decisions.retain(|d| {
            let base_skip = d.slot == base.name
                && d.target_date == base.target
                && d.action == DecisionAction::Skip;
            d.slot != IDLE_SLOT && !base_skip
        });
        decisions.insert(0, retry);
    }

    /// The retry of `base` after its latest try ended failed or partial:
    /// slot `<base>+retryN` (the names follow-up runs of stored waits use
    /// too, so the two share the slot and never both run), due
    /// `retry_every` after that try finished, only before `until`, at most
    /// `retry_max` per target date. A due retry is a RUN under the failed
    /// run's execution id, through the same gate as the slot itself, so it
    /// re-runs only what did not succeed; a retry not yet due is a SKIP
    /// saying when. `None` when there is nothing to retry: no schedule
    /// retries, the latest try succeeded, or it has not finished (then
    /// look again in `retry_every`).
    fn retry(
        &self,
        base: &Slot,
        until: &Until,
        bounds: &mut Vec<DateTime<Utc>>,
    ) -> Option<Decision> {
        let retry = self.schedule.retry?;
        let mut tries = 0;
        let mut latest = self.facts.claim(base.target, &base.name)?;
        while tries < retry.max {
            match self
                .facts
                .claim(base.target, &retry_slot(&base.name, tries + 1))
            {
                Some(fact) => {
                    tries += 1;
                    latest = fact;
                }
                None => break,
            }
        }
        let Some(status) = latest.result_status.as_deref() else {
            // Queued or running: by the time it may have failed.
            self.watch_for_retry(until.at, bounds);
            return None;
        };
        if status != "failed" && status != "partial" {
            return None;
        }
        let Some(finished) = latest.finished_at else {
            // Marked done without a finish time: nothing to measure from.
            return None;
        };
        let execution = latest.execution_id.as_deref().unwrap_or("?");
        let after = format!(
            "after {status} run (execution {execution}) finished at {}",
            local_hhmm(self.tz, finished)
        );
        if tries >= retry.max {
            return Some(self.decision(
                base,
                Outcome::skip(format!(
                    "retried {tries} of {} times for {} (retry_max); the last try ended {status}",
                    retry.max, base.target
                )),
            ));
        }
        let n = tries + 1;
        let of = format!("retry {n} of {}", retry.max);
        let due = finished.checked_add_signed(chrono_dur(retry.every))?;
        if due >= until.at {
            return Some(self.decision(
                base,
                Outcome::skip(format!(
                    "{of} not run: due at {} {after}, but {}",
                    local_hhmm(self.tz, due),
                    until.what
                )),
            ));
        }
        let slot = Slot {
            name: retry_slot(&base.name, n),
            at: due,
            ..base.clone()
        };
        if self.now < due {
            bounds.push(due);
            return Some(self.decision(
                &slot,
                Outcome::skip(format!("{of} due at {} {after}", local_hhmm(self.tz, due))),
            ));
        }
        let outcome = match self.gate(base.target, bounds) {
            Ok(allowed) => Outcome::run(format!("{of} {after}"), allowed),
            Err(outcome) => outcome,
        };
        let run = outcome.action == DecisionAction::Run;
        if run {
            self.watch_for_retry(until.at, bounds);
        }
        let mut decision = self.decision(&slot, outcome);
        if run {
            decision.execution_id = latest.execution_id.clone();
        }
        Some(decision)
    }

    /// A SKIP for a target date the zone skips whole: the engine refuses
    /// to run it, which would be a failed run for a day that never was.
    fn no_such_day(&self, target: NaiveDate) -> Option<Outcome> {
        skips_whole(self.tz, target).then(|| {
            Outcome::skip(format!(
                "{target} does not exist in {}: its clocks skip it whole, so nothing runs for it",
                self.tz
            ))
        })
    }

    // ----- discovery ------------------------------------------------------

    fn discovery(
        &self,
        start: NaiveTime,
        end: NaiveTime,
        every: std::time::Duration,
        max_attempts: u32,
        bounds: &mut Vec<DateTime<Utc>>,
    ) -> Decision {
        let run_date = local_date(self.tz, self.now);
        let target = target_of(self.schedule.target_date, run_date);
        let grid = grid_slots(
            start,
            end,
            every,
            self.tz,
            run_date,
            self.schedule.target_date,
        );
        let closes = end_instant(self.tz, run_date, start, end);
        bounds.extend(grid.iter().map(|s| s.at));
        bounds.push(closes);
        let previous = grid.iter().rfind(|s| s.at <= self.now);
        let reference = previous
            .or(grid.first())
            .cloned()
            .unwrap_or_else(|| self.idle_slot());

        if let Some(gone) = self.no_such_day(target) {
            return self.decision(&reference, gone);
        }
        if self.facts.data_found.contains(&target) {
            return self.decision(
                &reference,
                Outcome::skip(format!("data found for {target}; discovery done")),
            );
        }
        let attempts = self
            .facts
            .slots
            .iter()
            .filter(|f| f.target_date == target && f.claimed_at.is_some() && f.slot != CAP_SLOT)
            .count();
        if attempts >= max_attempts as usize {
            let alert = if self.facts.decided(target, CAP_SLOT) {
                AlertLevel::None
            } else {
                AlertLevel::Warning
            };
            let slot = Slot {
                name: CAP_SLOT.to_string(),
                ..reference
            };
            return self.decision(
                &slot,
                Outcome::skip_alert(
                    format!("max attempts ({max_attempts}) reached without data for {target}"),
                    alert,
                ),
            );
        }
        let span = format!("{}–{}", hhmm(start), hhmm(end));
        let Some(current) = previous.filter(|_| self.now < closes) else {
            let outcome = if self.now >= closes {
                Outcome::skip(format!(
                    "discovery window {span} closed; {} without data for {target}",
                    plural(attempts as u64, "attempt", "attempts")
                ))
            } else {
                Outcome::skip(format!("too early: discovery starts at {}", hhmm(start)))
            };
            return self.decision(&reference, outcome);
        };
        if let Some(at) = self.facts.claimed_at(current.target, &current.name) {
            let next = grid
                .iter()
                .find(|s| s.at > self.now)
                .map(|s| format!("next attempt at {}", s.name))
                .unwrap_or_else(|| "no attempt left today".to_string());
            return self.decision(
                current,
                Outcome::skip(format!(
                    "attempt {} claimed at {}, no data yet; {next}",
                    current.name,
                    local_stamp(self.tz, at)
                )),
            );
        }
        let outcome = match self.gate(target, bounds) {
            Ok(allowed) => Outcome::run(
                format!("discovery attempt {}/{max_attempts}", attempts + 1),
                allowed,
            ),
            Err(outcome) => outcome,
        };
        self.decision(current, outcome)
    }

    // ----- the gate: calendar, filters, only_missing ------------------------

    /// The calendar's events; `Ok(None)` when the schedule has no calendar.
    fn calendar_events(&self) -> Result<Option<&[Event]>, Outcome> {
        let Some(name) = self.schedule.calendar.as_deref() else {
            return Ok(None);
        };
        let loaded = self.loaded.get_or_init(|| self.calendars.events(name));
        match loaded {
            Ok(Some(events)) => Ok(Some(events)),
            Ok(None) => Err(Outcome::skip_alert(
                format!("calendar {name} has no data yet"),
                AlertLevel::Warning,
            )),
            Err(e) => Err(Outcome::abort(format!("calendar {name}: {e}"))),
        }
    }

    fn no_events_reason(&self, target: NaiveDate) -> String {
        format!(
            "no events in {} on {target}",
            self.schedule.calendar.as_deref().unwrap_or("calendar")
        )
    }

    /// Whether a run for `target` may go ahead now, and for which entities.
    fn gate(&self, target: NaiveDate, bounds: &mut Vec<DateTime<Utc>>) -> Result<Allowed, Outcome> {
        let (events_before, after_start) = match &self.schedule.kind {
            ScheduleKind::At {
                events_before,
                after_event_start,
                ..
            } => (*events_before, *after_event_start),
            _ => (None, None),
        };
        let Some(events) = self.calendar_events()? else {
            // These keys select events; without a calendar they would be
            // silently ignored, which is a configuration error.
            let needs = [
                (self.schedule.only_missing, "only_missing"),
                (events_before.is_some(), "events_before"),
                (after_start.is_some(), "after_event_start"),
            ];
            if let Some((_, key)) = needs.iter().find(|(set, _)| *set) {
                return Err(Outcome::abort(format!("{key} needs a calendar")));
            }
            return Ok(Allowed {
                entities: Vec::new(),
                restrict: false,
                note: String::new(),
            });
        };
        let mut day = events_on(events, self.tz, target);
        if day.is_empty() {
            return Err(Outcome::skip(self.no_events_reason(target)));
        }
        let filtered = events_before.is_some() || after_start.is_some();
        if let Some(before) = events_before {
            day.retain(|e| e.start.with_timezone(&self.tz).time() < before);
            if day.is_empty() {
                return Err(Outcome::skip(format!(
                    "no events before {} on {target}",
                    hhmm(before)
                )));
            }
        }
        if let Some(after_std) = after_start {
            let after = chrono_dur(after_std);
            // Later starts change the answer (more entities, or the first
            // one): look again then.
            bounds.extend(
                day.iter()
                    .map(|e| e.start + after)
                    .filter(|t| *t > self.now),
            );
            day.retain(|e| e.start + after <= self.now);
            if day.is_empty() {
                return Err(Outcome::skip(format!(
                    "no event started {} ago yet",
                    dur(after_std)
                )));
            }
        }
        let ids: BTreeSet<String> = day.into_iter().map(|e| e.id).collect();
        if self.schedule.only_missing {
            let empty = BTreeSet::new();
            let collected = self.facts.collected.get(&target).unwrap_or(&empty);
            let missing: Vec<String> = ids.difference(collected).cloned().collect();
            if missing.is_empty() {
                return Err(Outcome::skip(format!(
                    "all {} already collected for {target}",
                    plural(ids.len() as u64, "event", "events")
                )));
            }
            let note = format!("{} of {} missing", missing.len(), ids.len());
            return Ok(Allowed {
                entities: missing,
                restrict: true,
                note,
            });
        }
        let note = plural(ids.len() as u64, "event", "events");
        Ok(Allowed {
            entities: ids.into_iter().collect(),
            restrict: filtered,
            note,
        })
    }
}
