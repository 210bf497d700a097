//! `rebound plan`: a dry run of one local day's decisions.
//!
//! Each scheduled workflow is evaluated from local midnight at its own
//! `next_check` times until the next local midnight, with in-memory facts
//! that assume every RUN claims its slot at once and succeeds with data.
//! Retries of failed runs (`retry_every`, `retry_max`) therefore never
//! happen in the dry run; a RUN that could be retried lists when its
//! retries would run if it failed ([`PlannedDecision::retries_if_failed`]).
//! Because it calls the same [`evaluate`] as the scheduler, the plan shows
//! what `rebound serve` would decide, not a second reading of the rules.
//!
//! Collected events are kept like the service keeps them: per fanned-out
//! scraper and target date, shared by every workflow (two workflows that fan
//! the same scraper out over the same calendar see each other's calls). A
//! RUN marks its events (all of the target date's when it is not restricted)
//! as collected for each scraper [`fanned_scrapers`] names for its workflow,
//! and a workflow's [`Facts::collected`] is the intersection over its fanned
//! scrapers: an event is collected when every one of them has it. The
//! workflows are evaluated on one merged timeline, and evaluations at the
//! same instant do not see each other's runs (the scheduler evaluates them in
//! one tick, before any of those runs has been executed). The day before is
//! simulated first for its collections, so a window after midnight for
//! yesterday sees what a window collected that evening.

use crate::eval::{evaluate, fanned_scrapers, retries_if_failed};
use crate::time::{local_instant, midnight};
use crate::{Facts, SlotFact};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use rebound_domain::calendar::{Event, events_on};
use rebound_domain::decision::{AlertLevel, DecisionAction};
use rebound_domain::plan::{Plan, Schedule, Workflow};
use std::collections::{BTreeMap, BTreeSet};

/// Evaluations of one workflow in one simulated day before the dry run
/// gives up: far more than a minutely cron needs (1440), so reaching it
/// means `next_check` stopped advancing.
const MAX_EVALUATIONS_PER_WORKFLOW: usize = 10_000;

/// One decision the scheduler would make on the simulated day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDecision {
    pub workflow: String,
    /// When it would be decided, with the pipeline zone's offset.
    pub at: DateTime<FixedOffset>,
    pub action: DecisionAction,
    pub reason: String,
    pub target_date: NaiveDate,
    pub entities: Vec<String>,
    pub slot: String,
    pub alert_level: AlertLevel,
    /// For a RUN of a schedule that retries failed runs (`retry_every`,
    /// `retry_max`): when the retries would run if this run and each retry
    /// failed at once. The dry run assumes success, so these are
    /// conditional, never decisions of their own.
    pub retries_if_failed: Vec<DateTime<FixedOffset>>,
}

/// Entity ids collected per (scraper, target date), across workflows.
type Collected = BTreeMap<(String, NaiveDate), BTreeSet<String>>;

/// One workflow's simulated scheduler state.
struct Simulated<'a> {
    workflow: &'a Workflow,
    schedule: &'a Schedule,
    /// The scrapers fanned out over the schedule's calendar.
    fanned: Vec<String>,
    /// Slots, data found and last decision; `collected` is rebuilt from the
    /// shared map before each evaluation.
    facts: Facts,
    now: DateTime<Utc>,
    evaluations: usize,
}

impl Simulated<'_> {
    /// Events collected per target date for this workflow: those every
    /// fanned scraper has.
    fn collected(&self, shared: &Collected) -> BTreeMap<NaiveDate, BTreeSet<String>> {
        let mut out: BTreeMap<NaiveDate, BTreeSet<String>> = BTreeMap::new();
        let Some((first, rest)) = self.fanned.split_first() else {
            return out;
        };
        for ((scraper, date), ids) in shared {
            if scraper != first {
                continue;
            }
            let mut all = ids.clone();
            for other in rest {
                match shared.get(&(other.clone(), *date)) {
                    Some(theirs) => all.retain(|id| theirs.contains(id)),
                    None => all.clear(),
                }
            }
            out.insert(*date, all);
        }
        out
    }
}

/// The decisions of `date` (local day in the pipeline zone), ordered by time
/// then workflow. Workflows without a schedule are left out. `calendars`
/// holds each calendar's events; a calendar missing from it has no data.
///
/// The day before is simulated first, unshown, for its collections only:
/// the dry run assumes that day's runs happened, so a window after midnight
/// for yesterday sees what a same-night window collected the evening before.
pub fn simulate_day(
    plan: &Plan,
    date: NaiveDate,
    calendars: &BTreeMap<String, Vec<Event>>,
) -> Result<Vec<PlannedDecision>, String> {
    let previous = date.pred_opt().unwrap_or(date);
    let (_, collected) = simulate(plan, previous, calendars, Collected::new())?;
    let (planned, _) = simulate(plan, date, calendars, collected)?;
    Ok(planned)
}

/// One day of decisions, starting from `collected`; returns them and the
/// collections at the end of the day.
fn simulate(
    plan: &Plan,
    date: NaiveDate,
    calendars: &BTreeMap<String, Vec<Event>>,
    mut collected: Collected,
) -> Result<(Vec<PlannedDecision>, Collected), String> {
    let tz = plan.pipeline.timezone;
    let start = midnight(tz, date);
    let end = local_instant(tz, date + Duration::days(1), NaiveTime::MIN);
    let mut states: Vec<Simulated> = plan
        .workflows
        .values()
        .filter_map(|workflow| {
            let schedule = workflow.schedule.as_ref()?;
            Some(Simulated {
                workflow,
                schedule,
                fanned: fanned_scrapers(plan, workflow)
                    .map(|(_, scrapers)| scrapers)
                    .unwrap_or_default(),
                // As if the scheduler had just decided: no catch-up flood at midnight.
                facts: Facts {
                    last_decided_at: Some(start),
                    ..Facts::default()
                },
                now: start,
                evaluations: 0,
            })
        })
        .collect();
    // Collections of the evaluations at `pending_at`, applied once the
    // timeline moves past that instant.
    let mut pending: Vec<((String, NaiveDate), Vec<String>)> = Vec::new();
    let mut pending_at = start;
    let mut planned = Vec::new();
    // The earliest workflow first; ties in workflow-name order.
    while let Some(index) = (0..states.len())
        .filter(|i| states[*i].now < end)
        .min_by_key(|i| (states[*i].now, *i))
    {
        let state = &mut states[index];
        let now = state.now;
        if now > pending_at {
            for (key, ids) in pending.drain(..) {
                collected.entry(key).or_default().extend(ids);
            }
            pending_at = now;
        }
        let workflow = state.workflow;
        state.evaluations += 1;
        if state.evaluations > MAX_EVALUATIONS_PER_WORKFLOW {
            return Err(format!(
                "workflow {}: more than {MAX_EVALUATIONS_PER_WORKFLOW} evaluations on {date}; \
                 its schedule never settles",
                workflow.name
            ));
        }
        state.facts.collected = state.collected(&collected);
        let evaluation = evaluate(plan, workflow, now, &state.facts, calendars);
        for decision in evaluation.decisions {
            // A slot of the previous day (e.g. its 18:00 slot, still
            // within catch_up at midnight) was that day's business: the
            // dry run assumes it was handled then and does not show it.
            let shown = decision.scheduled_for >= start;
            let claimed = decision.action == DecisionAction::Run;
            if claimed {
                let entities: Vec<String> = if decision.restrict_entities {
                    decision.entities.clone()
                } else {
                    state
                        .schedule
                        .calendar
                        .as_ref()
                        .and_then(|c| calendars.get(c))
                        .map(|events| {
                            events_on(events, tz, decision.target_date)
                                .into_iter()
                                .map(|e| e.id)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                for scraper in &state.fanned {
                    pending.push(((scraper.clone(), decision.target_date), entities.clone()));
                }
                state.facts.data_found.insert(decision.target_date);
            }
            // A claimed run succeeds at once (the dry run's assumption).
            let fact = SlotFact::decided(decision.target_date, &decision.slot);
            state.facts.slots.push(if claimed {
                SlotFact {
                    execution_id: Some(format!("plan-{}", decision.slot)),
                    result_status: Some("success".to_string()),
                    finished_at: Some(now),
                    ..SlotFact::claimed(decision.target_date, &decision.slot, now)
                }
            } else {
                fact
            });
            if !shown {
                continue;
            }
            let retries_if_failed = if claimed {
                retries_if_failed(state.schedule, tz, &decision.slot, now)
                    .into_iter()
                    .map(|at| at.with_timezone(&tz).fixed_offset())
                    .collect()
            } else {
                Vec::new()
            };
            planned.push(PlannedDecision {
                retries_if_failed,
                workflow: decision.workflow,
                at: now.with_timezone(&tz).fixed_offset(),
                action: decision.action,
                reason: decision.reason,
                target_date: decision.target_date,
                entities: decision.entities,
                slot: decision.slot,
                alert_level: decision.alert_level,
            });
        }
        state.facts.last_decided_at = Some(now);
        if evaluation.next_check <= now {
            return Err(format!(
                "workflow {}: next check {} does not advance past {now}",
                workflow.name, evaluation.next_check
            ));
        }
        state.now = evaluation.next_check;
    }
    for (key, ids) in pending {
        collected.entry(key).or_default().extend(ids);
    }
    // Stable: decisions of one evaluation keep their order.
    planned.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.workflow.cmp(&b.workflow)));
    Ok((planned, collected))
}
