//! Fan-out: a scraper with `for_each` makes one call per item, each its own
//! `scraper_execution_log` row with the item in the scraper's parameter.
//!
//! Items come from a calendar (its events on the target date, in the
//! pipeline's zone) or from the newest successful payload of a dataset for
//! the target date. When the items cannot be read (no payload, a bad
//! JSONPath, a malformed event), the scraper gets ONE `failed` row of kind
//! `dependency` saying why; zero items give one `no_data` row. Either way
//! the run says what happened instead of silently making no call.

use crate::call::{CallReport, RunContext};
use crate::{Engine, EngineError};
use chrono::NaiveDate;
use futures::future::join_all;
use rebound_domain::calendar::events_on;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::plan::ForEach;
use std::collections::{BTreeMap, HashMap};

/// How one fanned-out scraper did in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutSummary {
    pub scraper: String,
    /// Calls that ended `success` or `no_data`.
    pub succeeded: u32,
    /// Calls made (items fanned out over); 0 when no call was made.
    pub total: u32,
    /// When no call was made: why (the message of the scraper's one row).
    pub note: Option<String>,
}

/// What a fan-out found to call.
pub(crate) enum Items {
    /// One call per value.
    Values(Vec<String>),
    /// Nothing to call: the message of a `no_data` row.
    Empty(String),
    /// The items cannot be read: the message of a `failed` row.
    Unreadable(String),
}

/// How each scraper of the run has ended so far, for `after` and for
/// explaining an empty fan-out.
pub(crate) type Finished = HashMap<String, (ScraperStatus, Option<String>)>;

impl Engine {
    /// Runs one scraper of a step: one call, or its fan-out.
    pub(crate) async fn run_step_scraper(
        &self,
        scraper_name: &str,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
        run: RunContext<'_>,
        entities: Option<&[String]>,
        finished: &Finished,
    ) -> Result<(Vec<CallReport>, Option<FanoutSummary>), EngineError> {
        let scraper = &self.plan.scrapers[scraper_name];
        let Some(for_each) = &scraper.for_each else {
            let report = self
                .call(scraper_name, target_date, params, Some(run))
                .await?;
            return Ok((vec![report], None));
        };
        let items = self
            .fanout_items(for_each, target_date, entities, finished)
            .await?;
        let (status, kind, message) = match items {
            Items::Values(values) => {
                return self
                    .fan_out(scraper_name, for_each, values, target_date, params, run)
                    .await;
            }
            Items::Empty(message) => (ScraperStatus::NoData, None, message),
            Items::Unreadable(message) => {
                tracing::warn!(scraper = scraper_name, error = %message, "Fan-out failed.");
                (ScraperStatus::Failed, Some(ErrorKind::Dependency), message)
            }
        };
        let report = self
            .record_without_call(
                scraper_name,
                target_date,
                params,
                run,
                status,
                kind,
                &message,
            )
            .await?;
        let note = no_calls(scraper_name, report.message.as_deref().unwrap_or(""));
        Ok((vec![report], Some(note)))
    }

    /// One call per value, the value in the scraper's item parameter.
    async fn fan_out(
        &self,
        scraper_name: &str,
        for_each: &ForEach,
        values: Vec<String>,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
        run: RunContext<'_>,
    ) -> Result<(Vec<CallReport>, Option<FanoutSummary>), EngineError> {
        let param = for_each.param();
        let item_params: Vec<BTreeMap<String, String>> = values
            .into_iter()
            .map(|value| {
                let mut p = params.clone();
                p.insert(param.to_string(), value);
                p
            })
            .collect();
        // All calls are started together; the fetcher's per-source
        // semaphore bounds how many are in flight, as for any other calls.
        let reports = join_all(
            item_params
                .iter()
                .map(|p| self.call(scraper_name, target_date, p, Some(run))),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        let fanout = summary(scraper_name, &reports);
        Ok((reports, Some(fanout)))
    }

    /// The values a fan-out calls with, or why there are none.
    async fn fanout_items(
        &self,
        for_each: &ForEach,
        target_date: NaiveDate,
        entities: Option<&[String]>,
        finished: &Finished,
    ) -> Result<Items, EngineError> {
        match for_each {
            ForEach::Calendar { calendar, .. } => {
                let data = match self.calendar_events(calendar).await {
                    Ok(Some(data)) => data,
                    Ok(None) => {
                        let dataset = self
                            .plan
                            .calendars
                            .get(calendar)
                            .map(|c| c.dataset.as_str())
                            .unwrap_or("?");
                        return Ok(Items::Unreadable(format!(
                            "no payload of {dataset} (calendar {calendar}): nothing to fan out over"
                        )));
                    }
                    Err(EngineError::Store(e)) => return Err(EngineError::Store(e)),
                    Err(other) => return Ok(Items::Unreadable(other.to_string())),
                };
                let on_date = events_on(&data.events, self.plan.pipeline.timezone, target_date);
                let day_total = on_date.len();
                let ids: Vec<String> = on_date
                    .into_iter()
                    .map(|e| e.id)
                    // A restriction only narrows: an id that is not an event
                    // of the date (postponed since the decision) is not called.
                    .filter(|id| entities.is_none_or(|only| only.contains(id)))
                    .collect();
                if let Some(only) = entities {
                    let dropped: Vec<&String> =
                        only.iter().filter(|id| !ids.contains(id)).collect();
                    if !dropped.is_empty() {
                        tracing::warn!(
                            calendar = calendar.as_str(),
                            %target_date,
                            ?dropped,
                            "Requested entities are not events of the date; not called."
                        );
                    }
                }
                if ids.is_empty() {
                    let mut message = format!(
                        "fan-out over calendar {calendar} found 0 events for {target_date}"
                    );
                    if let Some(only) = entities {
                        message.push_str(&format!(
                            " (restricted to {} of the date's {day_total} events)",
                            only.len()
                        ));
                    }
                    return Ok(Items::Empty(message));
                }
                Ok(Items::Values(ids))
            }
            ForEach::Dataset {
                dataset,
                items,
                value,
                ..
            } => {
                let producers = self.producers(dataset);
                let latest = self
                    .store
                    .latest_payload(&producers, Some(target_date))
                    .await?;
                let Some(latest) = latest else {
                    // A producer that answered "no data" in this very run
                    // means the dataset is empty for the date, not missing.
                    if let Some((name, why)) =
                        producers.iter().find_map(|p| match finished.get(p) {
                            Some((ScraperStatus::NoData, why)) => Some((p, why.clone())),
                            _ => None,
                        })
                    {
                        let why = why.map(|w| format!(": {w}")).unwrap_or_default();
                        return Ok(Items::Empty(format!(
                            "fan-out over {dataset} found 0 items for {target_date} ({name} had no data{why})"
                        )));
                    }
                    return Ok(Items::Unreadable(format!(
                        "no payload of {dataset} for {target_date}: nothing to fan out over"
                    )));
                };
                let payload = match self.read_json_payload(&latest.output_uri).await {
                    Ok(payload) => payload,
                    Err(detail) => {
                        return Ok(Items::Unreadable(format!(
                            "fan-out over {dataset}: {detail}"
                        )));
                    }
                };
                match crate::calendar::extract_values(&payload, items, value) {
                    Ok(values) if values.is_empty() => Ok(Items::Empty(format!(
                        "fan-out over {dataset} found 0 items for {target_date}"
                    ))),
                    Ok(values) => Ok(Items::Values(values)),
                    Err(e) => Ok(Items::Unreadable(format!(
                        "fan-out over {dataset} ({}): {e}",
                        latest.output_uri
                    ))),
                }
            }
        }
    }
}

/// A fan-out that made no call (nothing, or nothing readable, to fan out
/// over; or skipped for a failed dependency): `0 of 0`, with the reason.
pub(crate) fn no_calls(scraper: &str, why: &str) -> FanoutSummary {
    FanoutSummary {
        scraper: scraper.to_string(),
        succeeded: 0,
        total: 0,
        note: Some(why.to_string()),
    }
}

/// Counts a fanned scraper's calls.
fn summary(scraper: &str, reports: &[CallReport]) -> FanoutSummary {
    FanoutSummary {
        scraper: scraper.to_string(),
        succeeded: reports.iter().filter(|r| !r.status.is_failure()).count() as u32,
        total: reports.len() as u32,
        note: None,
    }
}
