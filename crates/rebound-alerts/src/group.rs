//! One incident for one cause: which observations a down source explains.
//!
//! A source whose `source_unhealthy` is observed is a cause. An observation
//! is caused by it when everything behind the observation calls that source
//! and nothing else:
//!
//! - `workflow_failed`: every source its newest run failed on
//!   (`failing_sources` in the health report) is the down source;
//! - `dataset_stale`, `completeness_shortfall`: every scraper producing the
//!   dataset calls the down source;
//! - `data_overdue`: the scraper calls the down source.
//!
//! A workflow that also failed on another source, or a dataset another
//! source also feeds, is not grouped: its failure says something the
//! source's incident does not. The evidence time of each such observation
//! (when the newest run or call behind it started) is what decides, after
//! the cause recovers, whether it persists on its own
//! ([`crate::incident::step_grouped`]).

use crate::conditions::{
    COMPLETENESS_SHORTFALL, DATA_OVERDUE, DATASET_STALE, Observation, SOURCE_UNHEALTHY,
    WORKFLOW_FAILED,
};
use crate::incident::{Causes, identity};
use chrono::{DateTime, Utc};
use rebound_health::HealthReport;
use std::collections::BTreeSet;

/// The causes and evidence in `report` for `observed` (`recovered` is
/// left empty: the evaluator fills it from the stored incidents).
pub fn causes(report: &HealthReport, observed: &[Observation]) -> Causes {
    let down: BTreeSet<&str> = observed
        .iter()
        .filter(|o| o.condition == SOURCE_UNHEALTHY)
        .map(|o| o.subject.as_str())
        .collect();
    let mut out = Causes::default();
    for o in observed {
        let (sources, evidence) = match o.condition {
            WORKFLOW_FAILED => {
                let Some(w) = report.workflows.iter().find(|w| w.name == o.subject) else {
                    continue;
                };
                let sources: BTreeSet<&str> =
                    w.failing_sources.iter().map(String::as_str).collect();
                (sources, w.last_run_at)
            }
            DATASET_STALE | COMPLETENESS_SHORTFALL | DATA_OVERDUE => {
                let producers: Vec<_> = report
                    .scrapers
                    .iter()
                    .filter(|s| {
                        if o.condition == DATA_OVERDUE {
                            s.name == o.subject
                        } else {
                            s.dataset == o.subject
                        }
                    })
                    .collect();
                let sources = producers.iter().map(|s| s.source.as_str()).collect();
                let evidence = producers
                    .iter()
                    .flat_map(|s| [s.last_success_at, s.last_error_at])
                    .flatten()
                    .max();
                (sources, evidence)
            }
            _ => continue,
        };
        let key = (o.condition.to_string(), o.subject.clone());
        if let Some(at) = evidence {
            out.evidence.insert(key.clone(), at);
        }
        if let [only] = sources.iter().collect::<Vec<_>>()[..]
            && down.contains(only)
        {
            out.caused.insert(key, identity(SOURCE_UNHEALTHY, only));
        }
    }
    out
}

/// When the newest resolved incident named `cause` (an identity) was
/// resolved, among `rows`.
pub fn recovered_at<'a>(
    cause: &str,
    rows: impl IntoIterator<Item = &'a rebound_storage::AlertIncidentRow>,
) -> Option<DateTime<Utc>> {
    rows.into_iter()
        .filter(|r| identity(&r.condition, &r.subject) == cause)
        .filter_map(|r| r.resolved_at)
        .max()
}
