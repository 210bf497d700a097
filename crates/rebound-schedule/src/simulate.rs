//! `rebound plan`: a dry run of one local day's decisions.
//!
//! Each scheduled workflow is evaluated from local midnight at its own
//! `next_check` times until the next local midnight, with in-memory facts
//! that assume every RUN claims its slot at once and succeeds with data.
//! Because it calls the same [`evaluate`] as the scheduler, the plan shows
//! what `rebound serve` would decide, not a second reading of the rules.

use crate::eval::evaluate;
use crate::time::{local_instant, midnight};
use crate::{Facts, SlotFact};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime};
use rebound_domain::calendar::{Event, events_on};
use rebound_domain::plan::Plan;
use rebound_storage::{AlertLevel, DecisionAction};
use std::collections::BTreeMap;

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
}

/// The decisions of `date` (local day in the pipeline zone), ordered by time
/// then workflow. Workflows without a schedule are left out. `calendars`
/// holds each calendar's events; a calendar missing from it has no data.
pub fn simulate_day(
    plan: &Plan,
    date: NaiveDate,
    calendars: &BTreeMap<String, Vec<Event>>,
) -> Result<Vec<PlannedDecision>, String> {
    let tz = plan.pipeline.timezone;
    let start = midnight(tz, date);
    let end = local_instant(tz, date + Duration::days(1), NaiveTime::MIN);
    let mut planned = Vec::new();
    for workflow in plan.workflows.values() {
        let Some(schedule) = &workflow.schedule else {
            continue;
        };
        // As if the scheduler had just decided: no catch-up flood at midnight.
        let mut facts = Facts {
            last_decided_at: Some(start),
            ..Facts::default()
        };
        let mut now = start;
        let mut evaluations = 0;
        while now < end {
            evaluations += 1;
            if evaluations > MAX_EVALUATIONS_PER_WORKFLOW {
                return Err(format!(
                    "workflow {}: more than {MAX_EVALUATIONS_PER_WORKFLOW} evaluations on {date}; \
                     its schedule never settles",
                    workflow.name
                ));
            }
            let evaluation = evaluate(plan, workflow, now, &facts, calendars);
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
                        schedule
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
                    facts
                        .collected
                        .entry(decision.target_date)
                        .or_default()
                        .extend(entities);
                    facts.data_found.insert(decision.target_date);
                }
                facts.slots.push(SlotFact {
                    target_date: decision.target_date,
                    slot: decision.slot.clone(),
                    decided: true,
                    claimed_at: claimed.then_some(now),
                });
                if !shown {
                    continue;
                }
                planned.push(PlannedDecision {
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
            facts.last_decided_at = Some(now);
            if evaluation.next_check <= now {
                return Err(format!(
                    "workflow {}: next check {} does not advance past {now}",
                    workflow.name, evaluation.next_check
                ));
            }
            now = evaluation.next_check;
        }
    }
    // Stable: decisions of one evaluation keep their order.
    planned.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.workflow.cmp(&b.workflow)));
    Ok(planned)
}
