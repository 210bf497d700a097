//! When a scheduled workflow runs: pure rules from (plan, now, facts) to
//! RUN / SKIP / ABORT decisions with reasons a person can read.
//!
//! This crate does no I/O, reads no clock and has no async: `rebound serve`
//! gathers the [`Facts`] from the store, passes `now` and a
//! [`CalendarSource`], records the returned [`Decision`]s, claims the slots of
//! the RUNs and sleeps until [`Evaluation::next_check`]. `rebound plan` uses
//! [`simulate_day`] to show a day's decisions without touching anything.
//!
//! # Dates, zones and slots
//!
//! All local times are in `plan.pipeline.timezone`. Every "already done"
//! test is made against the **target date in that zone**, never a UTC date
//! (19:00–20:00 ET is already the next day in UTC).
//!
//! A *slot* is one chance to run. Its name is deterministic so that two
//! schedulers evaluating a few seconds apart pick the same one: the local
//! time `"HH:MM"` of the slot on its *run date* (e.g. `"05:00"`), except the
//! window kind, whose only slot is `"window"`. The run date is the local date
//! of the slot; the target date is the run date, or the day before with
//! `target_date = "yesterday"`. The store keeps at most one claim per
//! (workflow, target date, slot), which is what makes a slot run once.
//!
//! A retry of a failed or partial `window` or `at` run is the slot
//! `<slot>+retryN` (`window+retry1`): deterministic too, and the name the
//! service's follow-ups of stored waits use, so the two share one claim.
//!
//! Two names are not times: a SKIP that only says why no slot is due now
//! (cron, every, at) is recorded under `idle`, so it never marks a real slot
//! as decided before its time (which would hide it from catch-up); and the
//! discovery cap is recorded under `max_attempts`, whose decided fact is how
//! the next evaluation knows the WARNING was already given for that date.
//!
//! # Daylight-saving rule
//!
//! Local times are turned into instants by [`local_instant`]:
//! - a local time that does not exist (spring-forward gap) maps to the first
//!   instant after the gap: 02:30 on 2026-03-08 in New York runs at 03:00 EDT;
//! - an ambiguous local time (fall-back) maps to the **earlier** instant only:
//!   01:30 on 2026-11-01 runs once, at 01:30 EDT.
//!
//! Slots of the same run date that land on the same instant (several local
//! times inside a gap) collapse into one, named by the latest local time, so
//! an hourly cron runs once at 03:00 on the spring-forward day, not twice.
//! A window or discovery span that lies wholly inside the gap (02:00–02:45)
//! opens at the first instant after it and stays open for its local length
//! (03:00–03:45 EDT), rather than closing as it opens.
//! Slots of a repeating kind (`every`, `discovery`) step in wall-clock time:
//! `start + k·every` local, not elapsed time, so the names stay the same
//! every day. A schedule never crosses midnight: an `end` at or before
//! `start` (typically `00:00`) means the end of that local day.
//!
//! # Kinds
//!
//! - **cron**: the five-field cron's local minutes of each date. The due
//!   slot is the latest fire time ≤ now. Unclaimed → RUN, claimed → SKIP.
//! - **window** `{start, end}`: before start SKIP "too early"; inside RUN
//!   once per target date (slot `"window"`); at or after `end` never runs,
//!   not even as catch-up.
//! - **every** `{start, end, every, lead}`: slots `start + k·every < end`.
//!   With a calendar and `lead`, only slots at or after (first event of the
//!   target date − lead) are eligible. The latest due slot runs unless claimed.
//! - **at** `{at, tolerance, events_before, after_event_start}`: one slot at
//!   `at`, due from `at` until `at + tolerance`: never early (post-game
//!   data is wanted at the stated time), and late only within the tolerance
//!   (a scheduler that was busy or restarting). The run dates yesterday,
//!   today and tomorrow (local) are considered, so `at 23:50` with 30m
//!   tolerance is still due at 00:10 for the evening's date. `events_before` keeps only the
//!   target date's events starting before that local time; `after_event_start`
//!   keeps only events that started at least that long ago.
//! - **discovery** `{start, end, every, max_attempts}`: poll on the grid
//!   `start + k·every < end` until a run returned data for the target date
//!   ([`Facts::data_found`]), at most `max_attempts` claimed attempts per
//!   target date; reaching the cap is a WARNING once per date.
//!
//! - **retries** (`window`, `at`; `retry_every`, `retry_max`): when the
//!   latest try of the slot for the target date ended failed or partial
//!   ([`SlotFact::result_status`]), the next retry is due `retry_every`
//!   after it finished ([`SlotFact::finished_at`]), only before the window
//!   closes (`at`: before the local day ends), at most `retry_max`; it is
//!   a RUN under the failed run's execution id ([`Decision::execution_id`])
//!   through the same gate, and a SKIP saying when while not yet due.
//!
//! Common keys: `calendar` requires events on the target date (SKIP
//! otherwise); a calendar with no stored payload yet is a SKIP at WARNING;
//! a calendar read error, an invalid cron or a key that needs a missing
//! calendar is an ABORT at CRITICAL ("evaluation error: …") — an error is
//! never a silent RUN or SKIP. `only_missing` restricts the run to the
//! (filtered) events not yet collected for the target date.
//!
//! # Catch-up
//!
//! For cron, every and at: slots after [`Facts::last_decided_at`] and up to
//! now that have neither a decision nor a claim were missed while the
//! scheduler was down. Per target date, the latest of them that is within
//! `scheduler.catch_up` of now runs (reason "catch-up: …"), unless a later
//! slot of that date is due anyway; every other missed slot gets its own
//! SKIP "missed while down" so the gap is visible. On a first start
//! (`last_decided_at` is `None`) nothing in the past runs: only a slot at
//! the very instant of the first evaluation is due; the next one runs on
//! time. For cron and every, a slot before the workflow's first decision
//! ([`Facts::first_decided_at`]) stays in the past for every scheduler:
//! a second scheduler started a second after the first sees a decision
//! and would otherwise run, as a slot it slept through, the slot the first
//! start passed over. Later evaluations count a slot as due within `max_idle` + 1 minute. Missed
//! slots older than `catch_up` + 1 day are not reported, and at most
//! [`MAX_CATCH_UP_DECISIONS`] are reported per evaluation.

mod eval;
mod simulate;
mod slots;
mod time;

pub use eval::{evaluate, fact_dates, fact_slots, fanned_scrapers};
pub use simulate::{PlannedDecision, simulate_day};
pub use time::local_instant;

use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::calendar::Event;
use rebound_domain::decision::{AlertLevel, DecisionAction};
use std::collections::{BTreeMap, BTreeSet};

/// Cap on catch-up decisions of one evaluation, so a long outage does not
/// flood the decision table.
pub const MAX_CATCH_UP_DECISIONS: usize = 200;

/// What the store knows about one slot of the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotFact {
    pub target_date: NaiveDate,
    pub slot: String,
    /// A decision (any action) was recorded for this slot.
    pub decided: bool,
    /// When a run claimed this slot; `None` when nobody did.
    pub claimed_at: Option<DateTime<Utc>>,
    /// The claimed run's execution id.
    pub execution_id: Option<String>,
    /// The claimed run's workflow status once it finished (`success`,
    /// `partial`, `failed`, …); `None` while it is queued or running.
    pub result_status: Option<String>,
    /// When the claimed run finished.
    pub finished_at: Option<DateTime<Utc>>,
}

impl SlotFact {
    /// A slot with a decision and no run.
    pub fn decided(target_date: NaiveDate, slot: &str) -> SlotFact {
        SlotFact {
            target_date,
            slot: slot.to_string(),
            decided: true,
            claimed_at: None,
            execution_id: None,
            result_status: None,
            finished_at: None,
        }
    }

    /// A slot claimed at `at` by a run that has not finished.
    pub fn claimed(target_date: NaiveDate, slot: &str, at: DateTime<Utc>) -> SlotFact {
        SlotFact {
            claimed_at: Some(at),
            ..SlotFact::decided(target_date, slot)
        }
    }
}

/// The history [`evaluate`] needs, for the target dates of [`fact_dates`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Slots of this workflow with a decision and/or a claimed run.
    pub slots: Vec<SlotFact>,
    /// Entity ids collected successfully per target date.
    pub collected: BTreeMap<NaiveDate, BTreeSet<String>>,
    /// Target dates where a run of this workflow returned data.
    pub data_found: BTreeSet<NaiveDate>,
    /// Newest decision of this workflow (any slot).
    pub last_decided_at: Option<DateTime<Utc>>,
    /// Oldest decision of this workflow (any slot): when a scheduler first
    /// looked at it. A `cron` or `every` slot before it is from before
    /// Rebound ran it, so it is never due, whichever scheduler looks next
    /// (`None`: no such bound, as on a first start).
    pub first_decided_at: Option<DateTime<Utc>>,
}

impl Facts {
    /// The fact of one slot, if the store has one.
    pub fn slot(&self, target_date: NaiveDate, slot: &str) -> Option<&SlotFact> {
        self.slots
            .iter()
            .find(|f| f.target_date == target_date && f.slot == slot)
    }

    /// When the slot was claimed, if it was.
    pub fn claimed_at(&self, target_date: NaiveDate, slot: &str) -> Option<DateTime<Utc>> {
        // Several rows for one slot can exist (e.g. decided by two schedulers);
        // any claim counts.
        self.slots
            .iter()
            .filter(|f| f.target_date == target_date && f.slot == slot)
            .find_map(|f| f.claimed_at)
    }

    /// The claimed fact of a slot, if anyone claimed it.
    pub fn claim(&self, target_date: NaiveDate, slot: &str) -> Option<&SlotFact> {
        self.slots
            .iter()
            .find(|f| f.target_date == target_date && f.slot == slot && f.claimed_at.is_some())
    }

    /// True when any decision was recorded for the slot.
    pub fn decided(&self, target_date: NaiveDate, slot: &str) -> bool {
        self.slots
            .iter()
            .any(|f| f.target_date == target_date && f.slot == slot && f.decided)
    }
}

/// One decision about one slot of one workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub workflow: String,
    pub slot: String,
    pub target_date: NaiveDate,
    /// The slot's instant.
    pub scheduled_for: DateTime<Utc>,
    pub action: DecisionAction,
    /// In plain words; never empty.
    pub reason: String,
    /// Entity ids the run is for (sorted); empty when not calendar-restricted.
    pub entities: Vec<String>,
    /// True when the run must only fan out over `entities`
    /// (`only_missing`, `events_before`, `after_event_start`).
    pub restrict_entities: bool,
    pub alert_level: AlertLevel,
    /// The execution a RUN continues: a retry of a failed or partial run
    /// runs under that run's execution id, so it re-runs only what did not
    /// succeed. `None`: a new execution.
    pub execution_id: Option<String>,
}

/// The result of one evaluation of one workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision for the current (or latest due) slot first, then
    /// catch-up decisions, oldest first.
    pub decisions: Vec<Decision>,
    /// The earliest instant at which the answer could change; in
    /// `[now + 1s, next local midnight + 1 minute]`.
    pub next_check: DateTime<Utc>,
}

/// Calendar lookup supplied by the caller.
pub trait CalendarSource {
    /// `Ok(None)`: the calendar has no stored payload yet;
    /// `Err`: read or parse error text.
    fn events(&self, calendar: &str) -> Result<Option<Vec<Event>>, String>;
}

/// Calendars held in memory (tests, `rebound plan`): a name that is not in
/// the map has no payload yet.
impl CalendarSource for BTreeMap<String, Vec<Event>> {
    fn events(&self, calendar: &str) -> Result<Option<Vec<Event>>, String> {
        Ok(self.get(calendar).cloned())
    }
}
