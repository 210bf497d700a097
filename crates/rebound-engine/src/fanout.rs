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
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::calendar::events_on;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::plan::{ForEach, Lockout};
use rebound_storage::{LockoutRow, NewLockout};
use std::collections::{BTreeMap, HashMap};

/// How one fanned-out scraper did in a run: `x of N collected`, where only
/// `success` calls count as collected (a `no_data` answer or a call an open
/// breaker refused collected nothing, and saying otherwise is how a run of
/// three refused calls once read "3 of 3 calls succeeded").
/// `total = succeeded + no_data + failed + skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutSummary {
    pub scraper: String,
    /// Calls that ended `success`.
    pub succeeded: u32,
    /// Calls made (items fanned out over, locked-out ones included); 0
    /// when no call was made.
    pub total: u32,
    /// Calls that ended `no_data` or `not_yet_available`.
    pub no_data: u32,
    /// Calls that ended `failed` or `overdue`.
    pub failed: u32,
    /// Calls that made no request: refused by an open breaker or a used-up
    /// quota, or locked out.
    pub skipped: u32,
    /// When no call was made: why (the message of the scraper's one row);
    /// otherwise why calls were skipped, if any were: `2 refused by the
    /// open breaker of nba_stats, 1 locked out`.
    pub note: Option<String>,
}

/// The most items one fan-out calls in a run. The items come from an
/// upstream's payload, and a broken or hostile one listing 20,000 made
/// 20,000 calls in one run, holding each report until the run ended
/// (about 35 KB a call). The reference pipeline's largest fan-out is a
/// few hundred players; past this the fan-out fails, saying so, and makes
/// no call.
pub const MAX_FAN_OUT_ITEMS: usize = 10_000;

/// The parameters `for_each.params` binds from each item, by the item's
/// value, or why they cannot be bound (that item's call fails); empty
/// without `for_each.params`.
pub(crate) type Bound = HashMap<String, crate::calendar::BoundParams>;

/// What a fan-out found to call.
pub(crate) enum Items {
    /// One call per value, with the event starts of a calendar fan-out
    /// and the parameters bound from each item.
    Values(Vec<String>, HashMap<String, DateTime<Utc>>, Bound),
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
                .call(
                    scraper_name,
                    target_date,
                    params,
                    Some(run),
                    None,
                    run.trigger,
                )
                .await?;
            return Ok((vec![report], None));
        };
        let items = self
            .fanout_items(scraper, for_each, target_date, entities, finished)
            .await?;
        let (status, kind, message) = match items {
            Items::Values(values, ..) if values.len() > MAX_FAN_OUT_ITEMS => {
                let message = format!(
                    "fan-out of {scraper_name} found {} items for {target_date}, more than the {MAX_FAN_OUT_ITEMS} one run calls; no call made (is the payload it reads what it should be?)",
                    values.len()
                );
                tracing::warn!(scraper = scraper_name, error = %message, "Fan-out failed.");
                (ScraperStatus::Failed, Some(ErrorKind::Dependency), message)
            }
            Items::Values(values, starts, bound) => {
                let found = Found {
                    values,
                    starts: &starts,
                    bound: &bound,
                };
                return self
                    .fan_out(scraper_name, for_each, found, target_date, params, run)
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

    /// One call per value, the value in the scraper's item parameter and
    /// the item's other bound parameters beside it; entities locked out
    /// (`lockout`) are recorded as skipped instead, and an item whose
    /// other parameters cannot be bound as failed (kind `dependency`).
    async fn fan_out(
        &self,
        scraper_name: &str,
        for_each: &ForEach,
        found: Found<'_>,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
        run: RunContext<'_>,
    ) -> Result<(Vec<CallReport>, Option<FanoutSummary>), EngineError> {
        let Found {
            values,
            starts,
            bound,
        } = found;
        let param = for_each.param();
        let lockout = self.plan.scrapers[scraper_name].lockout;
        let gate = match lockout {
            Some(_) => Some(
                self.lockout_gate(scraper_name, for_each, target_date)
                    .await?,
            ),
            None => None,
        };
        let item_params: Vec<(String, BTreeMap<String, String>, Option<&String>)> = values
            .into_iter()
            .map(|value| {
                let mut p = params.clone();
                p.insert(param.to_string(), value.clone());
                let unbound = match bound.get(&value) {
                    Some(Ok(more)) => {
                        p.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
                        None
                    }
                    Some(Err(why)) => Some(why),
                    None => None,
                };
                (value, p, unbound)
            })
            .collect();
        // All calls are started together; the fetcher's per-source
        // semaphore bounds how many are in flight, as for any other calls.
        let gate = &gate;
        let reports = self
            .all(item_params.iter().map(|(value, p, unbound)| async move {
                // An item missing a member another parameter is bound from
                // cannot be called; it fails alone, saying which item and member.
                if let Some(why) = unbound {
                    return self
                        .record_without_call(
                            scraper_name,
                            target_date,
                            p,
                            run,
                            ScraperStatus::Failed,
                            Some(ErrorKind::Dependency),
                            why,
                        )
                        .await;
                }
                // Completed earlier in this execution (a rescue, a follow-up):
                // reported as it was, before any lockout could refuse it.
                if let Some(done) = self.completed_call(run, scraper_name, target_date, p) {
                    return Ok(done);
                }
                if let Some(lock) = gate.as_ref().and_then(|g| g.locked.get(value)) {
                    let dataset = gate.as_ref().map(|g| g.dataset.as_str()).unwrap_or("?");
                    let tz = self.plan.pipeline.timezone;
                    let local = move |t: DateTime<Utc>| {
                        t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
                    };
                    let message = locked_message(param, value, lock, dataset, &local);
                    return self
                        .record_without_call(
                            scraper_name,
                            target_date,
                            p,
                            run,
                            ScraperStatus::Skipped,
                            Some(ErrorKind::LockedOut),
                            &message,
                        )
                        .await;
                }
                let report = self
                    .call(
                        scraper_name,
                        target_date,
                        p,
                        Some(run),
                        starts.get(value).copied(),
                        run.trigger,
                    )
                    .await?;
                if let (Some(lockout), Some(gate)) = (lockout, gate.as_ref()) {
                    self.maybe_lock(scraper_name, param, value, &report, lockout, gate)
                        .await?;
                }
                Ok(report)
            }))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let fanout = summary(scraper_name, &reports);
        Ok((reports, Some(fanout)))
    }

    /// Reads the open locks of a scraper before its fan-out, releasing
    /// those that expired or whose dependency dataset has a new payload.
    async fn lockout_gate(
        &self,
        scraper_name: &str,
        for_each: &ForEach,
        target_date: NaiveDate,
    ) -> Result<LockoutGate, EngineError> {
        let (dataset, date) = match for_each {
            ForEach::Calendar { calendar, .. } => (
                self.plan
                    .calendars
                    .get(calendar)
                    .map(|c| c.dataset.clone())
                    .unwrap_or_default(),
                None,
            ),
            ForEach::Dataset { dataset, .. } => (dataset.clone(), Some(target_date)),
        };
        let producers = self.producers(&dataset);
        let hash = self
            .store
            .latest_payload(&producers, date)
            .await?
            .map(|p| p.content_hash);
        let now = self.clock.now();
        let mut locked = HashMap::new();
        for lock in self.store.open_lockouts(Some(scraper_name)).await? {
            let release = if lock.until <= now {
                Some((
                    lock.until,
                    format!("expired at {}", lock.until.format("%Y-%m-%dT%H:%M:%SZ")),
                ))
            } else if hash.is_some() && lock.source_hash != hash {
                Some((
                    now,
                    format!(
                        "{dataset} has a new payload ({} -> {})",
                        short_hash(lock.source_hash.as_deref()),
                        short_hash(hash.as_deref())
                    ),
                ))
            } else {
                None
            };
            match release {
                Some((at, reason)) => {
                    tracing::info!(scraper = scraper_name, entity = %lock.entity, %reason, "Lockout released.");
                    self.store
                        .release_lockouts(scraper_name, Some(&lock.entity), at, &reason)
                        .await?;
                }
                None => {
                    locked.insert(lock.entity.clone(), lock);
                }
            }
        }
        Ok(LockoutGate {
            dataset,
            hash,
            locked,
        })
    }

    /// Lifts the open lock of the entity a successful call was for: its own
    /// data arrived, whatever the fan-out's dataset says. Called after every
    /// successful call of a scraper with a `lockout` policy, however it was
    /// made (`rebound scrape --param`, a fan-out in another process), so a
    /// lock never outlives the data gap it was taken for.
    pub(crate) async fn release_on_success(
        &self,
        scraper_name: &str,
        params: &BTreeMap<String, String>,
        call_id: i64,
    ) -> Result<(), EngineError> {
        let scraper = &self.plan.scrapers[scraper_name];
        let (Some(_), Some(for_each)) = (scraper.lockout, &scraper.for_each) else {
            return Ok(());
        };
        let param = for_each.param();
        let Some(entity) = params.get(param) else {
            return Ok(());
        };
        let reason = format!("{param}={entity} collected by call {call_id}");
        let released = self
            .store
            .release_lockouts(scraper_name, Some(entity), self.clock.now(), &reason)
            .await?;
        if released > 0 {
            tracing::info!(scraper = scraper_name, entity = %entity, %reason, "Lockout released.");
        }
        Ok(())
    }

    /// Locks an entity whose calls had no data or failed `after` times in a row.
    async fn maybe_lock(
        &self,
        scraper_name: &str,
        param: &str,
        entity: &str,
        report: &CallReport,
        lockout: Lockout,
        gate: &LockoutGate,
    ) -> Result<(), EngineError> {
        // A throttled call (429, or its source paused after one) was
        // deferred for the source's rate: it says nothing of the entity.
        if !matches!(
            report.status,
            ScraperStatus::NoData | ScraperStatus::Failed | ScraperStatus::Overdue
        ) || report.error_kind == Some(rebound_domain::outcome::ErrorKind::Throttled)
        {
            return Ok(());
        }
        let streak = self
            .store
            .entity_streak(scraper_name, param, entity, lockout.after)
            .await?;
        if streak < lockout.after {
            return Ok(());
        }
        let now = self.clock.now();
        let until = rebound_domain::duration::add_saturating(now, lockout.duration);
        let last = report.message.as_deref().unwrap_or("");
        let reason = self.plan.redactor.excerpt(
            &format!(
                "{streak} consecutive no_data/failures (last: {}{}{last})",
                report.status.as_str(),
                if last.is_empty() { "" } else { ": " }
            ),
            500,
        );
        let stored = self
            .store
            .lock_entity(&NewLockout {
                scraper_name: scraper_name.to_string(),
                entity: entity.to_string(),
                locked_at: now,
                until,
                consecutive: streak,
                reason: reason.clone(),
                source_hash: gate.hash.clone(),
            })
            .await?;
        if stored {
            tracing::warn!(scraper = scraper_name, entity, %until, %reason, "Entity locked out.");
        }
        Ok(())
    }

    /// The values a fan-out calls with, or why there are none.
    async fn fanout_items(
        &self,
        scraper: &rebound_domain::plan::Scraper,
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
                let starts: HashMap<String, DateTime<Utc>> = data
                    .events
                    .iter()
                    .map(|e| (e.id.clone(), e.start))
                    .collect();
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
                if scraper.item_params.is_empty() {
                    return Ok(Items::Values(ids, starts, Bound::new()));
                }
                // The other parameters come from the events' objects, which
                // the calendar does not keep: read them from its payload.
                let bound = match self.read_json_payload(&data.output_uri).await {
                    Ok(payload) => self.plan.calendars.get(calendar).map(|cal| {
                        crate::calendar::bind_events(&payload, cal, &scraper.item_params)
                    }),
                    Err(detail) => {
                        return Ok(Items::Unreadable(format!(
                            "fan-out over calendar {calendar}: {detail}"
                        )));
                    }
                };
                match bound {
                    Some(Ok(bound)) => Ok(Items::Values(ids, starts, bound)),
                    Some(Err(e)) => Ok(Items::Unreadable(format!(
                        "fan-out over calendar {calendar}: {e}"
                    ))),
                    None => Ok(Items::Unreadable(format!("unknown calendar {calendar}"))),
                }
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
                match crate::calendar::extract_items(&payload, items, value, &scraper.item_params) {
                    Ok(found) if found.is_empty() => Ok(Items::Empty(format!(
                        "fan-out over {dataset} found 0 items for {target_date}"
                    ))),
                    Ok(found) => {
                        let values = found.iter().map(|item| item.value.clone()).collect();
                        let bound = found
                            .into_iter()
                            .filter(|_| !scraper.item_params.is_empty())
                            .map(|item| (item.value, item.params))
                            .collect();
                        Ok(Items::Values(values, HashMap::new(), bound))
                    }
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
        no_data: 0,
        failed: 0,
        skipped: 0,
        note: Some(why.to_string()),
    }
}

/// Counts a fanned scraper's calls by how they ended; the note splits the
/// skipped ones by why.
fn summary(scraper: &str, reports: &[CallReport]) -> FanoutSummary {
    let count = |f: &dyn Fn(&CallReport) -> bool| reports.iter().filter(|r| f(r)).count() as u32;
    let skipped_for = |kind: ErrorKind| {
        count(&|r: &CallReport| r.status == ScraperStatus::Skipped && r.error_kind == Some(kind))
    };
    let skipped = count(&|r: &CallReport| r.status == ScraperStatus::Skipped);
    let breaker = skipped_for(ErrorKind::BreakerOpen);
    let quota = skipped_for(ErrorKind::QuotaExhausted);
    let locked = skipped_for(ErrorKind::LockedOut);
    // Every call of one scraper goes to the same source.
    let source = reports.first().map(|r| r.source.as_str()).unwrap_or("?");
    let why: Vec<String> = [
        (breaker, format!("refused by the open breaker of {source}")),
        (quota, format!("refused by the used-up quota of {source}")),
        (locked, "locked out".to_string()),
        (skipped - breaker - quota - locked, "skipped".to_string()),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    FanoutSummary {
        scraper: scraper.to_string(),
        succeeded: count(&|r: &CallReport| r.status == ScraperStatus::Success),
        total: reports.len() as u32,
        no_data: count(&|r: &CallReport| {
            matches!(
                r.status,
                ScraperStatus::NoData | ScraperStatus::NotYetAvailable
            )
        }),
        failed: count(&|r: &CallReport| {
            matches!(r.status, ScraperStatus::Failed | ScraperStatus::Overdue)
        }),
        skipped,
        note: (!why.is_empty()).then(|| why.join(", ")),
    }
}

/// The items a fan-out found: their values, the event starts of a
/// calendar fan-out, and the parameters bound from each.
pub(crate) struct Found<'a> {
    values: Vec<String>,
    starts: &'a HashMap<String, DateTime<Utc>>,
    bound: &'a Bound,
}

/// The open locks of a fan-out and the dataset its items come from.
struct LockoutGate {
    dataset: String,
    /// The dataset's current payload hash.
    hash: Option<String>,
    locked: HashMap<String, LockoutRow>,
}

/// `game_id=X locked out since … after 3 consecutive no_data/failures;
/// unlocks at … or when nbacom/schedule changes`.
fn locked_message(
    param: &str,
    value: &str,
    lock: &LockoutRow,
    dataset: &str,
    local: &dyn Fn(DateTime<Utc>) -> String,
) -> String {
    format!(
        "{param}={value} locked out since {} after {} consecutive no_data/failures; unlocks at {} or when {dataset} changes",
        local(lock.locked_at),
        lock.consecutive,
        local(lock.until)
    )
}

fn short_hash(hash: Option<&str>) -> String {
    hash.map(|h| h.chars().take(12).collect())
        .unwrap_or_else(|| "none".to_string())
}
