//! The report of one simulation, computed after the run from the history
//! it wrote (the same rows `rebound status` and `rebound health` read),
//! plus what only the simulation saw: the alerts that reached the receiver
//! (with the simulated time they arrived) and each alert round's freshness.
//!
//! JSON is the contract (`docs/simulate.md`): every rate a fraction named
//! `*_rate`, every duration in seconds, instants RFC 3339 UTC. The CLI
//! renders the table from the same struct.

use crate::scenario::{Fault, Scenario, Targets};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use rebound_engine::Engine;
use rebound_service::scheduler::RecordedDecision;
use rebound_storage::{DecisionAction, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One notification that reached the alert receiver.
#[derive(Debug, Clone, Serialize)]
pub struct AlertSent {
    /// Simulated time of the round that delivered it.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// `opened`, `renotify` or `recovered`.
    pub event: String,
    pub condition: String,
    pub subject: String,
    pub level: String,
    pub message: String,
}

/// What the run loop saw besides the history.
#[derive(Debug, Default)]
pub struct Observed {
    pub alerts: Vec<AlertSent>,
    /// Per dataset with a freshness SLA: seconds past it.
    pub past_sla_seconds: BTreeMap<String, i64>,
    /// Incidents (condition, subject) the warm-up opened and that are still
    /// open: their reminders and recovery are the warm-up's, not the
    /// scenario's.
    pub warm_up_open: BTreeSet<(String, String)>,
    /// Those still open when the measured days began (`None` until then).
    pub open_at_start: Option<BTreeSet<(String, String)>>,
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Workflow runs by status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Runs {
    pub total: i64,
    pub success: i64,
    pub partial: i64,
    pub failed: i64,
    pub no_data: i64,
    /// Any other status (e.g. a run still `running`).
    pub other: i64,
}

/// Calls and their attempts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Calls {
    pub total: i64,
    /// Calls by status.
    pub by_status: BTreeMap<String, i64>,
    pub attempts: i64,
    /// Calls that made no request (no attempt): skipped ones (a breaker,
    /// a quota, a lockout, a failed step before them) and ones held back
    /// by their source's limits (a `Retry-After` pause). Named so the
    /// attempts per call below 1 read without the docs at hand.
    pub without_request: i64,
    /// Attempts per call, refused calls (no attempt) included.
    pub attempts_per_call: f64,
    /// Calls that made more attempts than they requested pages.
    pub retried: i64,
    /// Of those, the ones that ended `success` or `no_data`: retries that paid off.
    pub retries_paid_off: i64,
    pub retry_success_rate: f64,
    /// Failed or skipped calls whose scraper, target date and parameters
    /// were called again later in the simulation: the retries that are
    /// not attempts of one call (a source paused by a 429's `Retry-After`
    /// defers its calls to a later run, a follow-up run re-tries what a
    /// breaker refused). A fan-out skipped before it listed its entities
    /// is tried again by any later call of its scraper and date.
    pub tried_again_later: i64,
    /// Of those, the ones a later call of the same scraper, date and
    /// parameters ended `success` or `no_data`.
    pub tried_again_paid_off: i64,
    /// Calls refused by an open circuit breaker (no request made).
    pub refused_by_breaker: i64,
    /// Calls whose retries the source's retry budget refused.
    pub refused_by_budget: i64,
}

/// One fault and what followed it.
#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    /// Its place in the scenario's `faults`.
    pub index: usize,
    pub fault: String,
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub end: DateTime<Utc>,
    /// Requests the fault changed.
    pub requests_hit: u64,
    /// Calls on its source (or scraper) started during it, and their attempts.
    pub calls: i64,
    pub attempts: i64,
    pub attempts_per_call: Option<f64>,
    /// From its start to the first alert opened at or after it.
    pub first_alert_seconds: Option<i64>,
}

/// Notifications sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Alerts {
    pub opened: i64,
    pub reminders: i64,
    pub recovered: i64,
    /// From the first fault's start to the first alert opened after it.
    pub first_alert_seconds: Option<i64>,
    pub sent: Vec<AlertSent>,
}

/// Entities expected against collected.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Completeness {
    /// (scraper, target date, parameters) the pipeline set out to collect.
    pub expected: i64,
    /// Of those, the ones with a `success` call.
    pub collected: i64,
    pub completeness_rate: f64,
    /// The ones never collected: `scraper date params`.
    pub never_collected: Vec<String>,
}

/// One dataset's time past its freshness SLA (`fresh_warn`, else `fresh_error`).
#[derive(Debug, Clone, Serialize)]
pub struct Freshness {
    pub dataset: String,
    pub past_sla_seconds: i64,
}

/// One target of the scenario, measured.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    /// What the scenario asks, in words.
    pub wanted: String,
    /// What the run measured, in words.
    pub measured: String,
    pub met: bool,
}

/// The report of one scenario run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub description: String,
    pub config: String,
    /// `as written` or `original`.
    pub policy: String,
    pub seed: u64,
    pub from: NaiveDate,
    pub days: u32,
    pub timezone: String,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub ended_at: DateTime<Utc>,
    pub runs: Runs,
    /// Failed runs / runs.
    pub failure_rate: f64,
    /// Partial runs / runs.
    pub partial_rate: f64,
    /// Failed or partial runs with an error message / failed or partial
    /// runs (1 when there were none).
    pub error_message_coverage_rate: f64,
    pub calls: Calls,
    pub faults: Vec<FaultReport>,
    pub alerts: Alerts,
    /// How often alerts were evaluated on the simulated clock: the
    /// resolution of every `first_alert_seconds`.
    pub alert_resolution_seconds: i64,
    /// The same within a few hours of a fault's start or end.
    pub fault_alert_resolution_seconds: i64,
    pub freshness: Vec<Freshness>,
    pub completeness: Completeness,
    /// RUN decisions of one (workflow, target date, slot) made more than once.
    pub slots_run_twice: Vec<String>,
    /// `at` / `window` slots that got no decision at all on a date.
    pub slots_skipped: Vec<String>,
    /// Runs whose slot or target date does not match the local clock.
    pub misdated_runs: Vec<String>,
    pub targets: Vec<TargetCheck>,
    /// True when every target was met (or there were none).
    pub targets_met: bool,
    /// Why some calls could not be simulated, one line per scraper.
    pub warnings: Vec<String>,
    /// `--keep`'s folder, when kept.
    pub kept: Option<String>,
    /// Real time the simulation took.
    pub elapsed_seconds: f64,
    /// Where that real time went, for the benchmark (not part of the JSON
    /// report: it varies from run to run and machine to machine).
    #[serde(skip)]
    pub phases: Phases,
    #[serde(skip)]
    pub(crate) tz: Option<chrono_tz::Tz>,
    /// Calls started during any fault on what it covers, each once, and
    /// their attempts: what `fault_attempts_per_call_max` measures.
    #[serde(skip)]
    pub(crate) during_faults: (i64, i64),
}

/// Real time spent in each step of the simulation loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    /// The scheduler's ticks.
    pub ticks: std::time::Duration,
    /// The worker's runs (every call, its attempts and its bookkeeping).
    pub runs: std::time::Duration,
    /// The hand-off publisher's rounds.
    pub publishing: std::time::Duration,
    /// The alert rounds (health report, evaluator, deliverer).
    pub alert_rounds: std::time::Duration,
    /// How many alert rounds ran.
    pub alert_round_count: u64,
}

impl Report {
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.tz.unwrap_or(chrono_tz::UTC)
    }
}

/// Failed or skipped calls followed by a later call of the same scraper,
/// target date and parameters, and those of them a later call collected
/// (`success` or `no_data`). Rebound defers a throttled source's calls to
/// later runs rather than retrying them in place, so in a 429 storm the
/// report read "0 of 0 retried calls" while the deferred calls were tried
/// again and collected.
///
/// A fan-out skipped before it listed its entities (`fan_param` names the
/// parameter its calls lack, as in [`completeness`]) is a placeholder for
/// the date's entities: any later call of its scraper and date tries them
/// again, whatever entity it names. Matched on its empty parameters alone,
/// it was tried again only by a later skip of the same kind, which never
/// collects: `new-years-eve --policy original` read 5 of 7 paid off while
/// both unpaid placeholders' dates were fanned out and collected later.
fn tried_again<'p>(
    calls: &[rebound_storage::ScraperCallRow],
    fan_param: impl Fn(&str) -> Option<&'p str>,
) -> (i64, i64) {
    let mut by_date: BTreeMap<(&str, NaiveDate), Vec<&rebound_storage::ScraperCallRow>> =
        BTreeMap::new();
    for call in calls {
        by_date
            .entry((&call.scraper_name, call.target_date))
            .or_default()
            .push(call);
    }
    let (mut tried, mut paid_off) = (0, 0);
    for (&(scraper, _), date) in &mut by_date {
        date.sort_by_key(|c| (c.started_at, c.id));
        let fan = fan_param(scraper);
        for (i, call) in date.iter().enumerate() {
            if call.status != "failed" && call.status != "skipped" {
                continue;
            }
            let placeholder = fan.is_some_and(|param| !names_entity(call, param));
            let mut later = date[i + 1..]
                .iter()
                .filter(|c| placeholder || c.params == call.params)
                .peekable();
            if later.peek().is_none() {
                continue;
            }
            tried += 1;
            if later.any(|c| c.status == "success" || c.status == "no_data") {
                paid_off += 1;
            }
        }
    }
    (tried, paid_off)
}

/// Whether a call of a fan-out names the entity it is for (its
/// parameters hold `param`); one that does not stands for the date's
/// entities, which were never listed.
fn names_entity(call: &rebound_storage::ScraperCallRow, param: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&call.params)
        .is_ok_and(|p| p.contains_key(param))
}

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

pub(crate) fn utc(tz: chrono_tz::Tz, t: chrono::NaiveDateTime) -> DateTime<Utc> {
    tz.from_local_datetime(&t)
        .earliest()
        .map_or_else(|| Utc.from_utc_datetime(&t), |t| t.with_timezone(&Utc))
}

/// Each scraper's path template as written (`Names::scrapers`' second
/// field), by scraper name: what a fault on a route is matched against.
pub(crate) type Paths = BTreeMap<String, (String, String)>;

/// The alert subjects a fault is about: the scrapers it [`covers`], their
/// sources and datasets, and the workflows that run them.
fn subjects_of<'p>(
    plan: &'p rebound_domain::plan::Plan,
    paths: &Paths,
    fault: &Fault,
) -> BTreeSet<&'p str> {
    let mut about = BTreeSet::new();
    for (name, scraper) in &plan.scrapers {
        if covers(fault, paths, &scraper.source, name) {
            about.extend([
                name.as_str(),
                scraper.source.as_str(),
                scraper.dataset.as_str(),
            ]);
        }
    }
    if let Some(source) = fault
        .target
        .source
        .as_deref()
        .and_then(|s| plan.sources.get_key_value(s))
    {
        about.insert(source.0.as_str());
    }
    for (name, workflow) in &plan.workflows {
        if workflow.scraper_names().any(|s| about.contains(s)) {
            about.insert(name.as_str());
        }
    }
    about
}

/// Whether a fault meets the calls of `scraper` (of `source`): its own
/// scraper's, else its source's, and on a route only those of the
/// scrapers whose path can start with it, as the injector matches
/// requests. A route's fault counted every call of its source: one on
/// BallDontLie's `/box_scores` read the standings' and players' calls,
/// which it never touched, among its calls and attempts.
fn covers(fault: &Fault, paths: &Paths, source: &str, scraper: &str) -> bool {
    match &fault.target.scraper {
        Some(s) => s == scraper,
        None => {
            fault.target.source.as_deref() == Some(source)
                && fault.target.route.as_deref().is_none_or(|route| {
                    paths.get(scraper).is_none_or(|(_, template)| {
                        crate::scenario::route_can_match(route, template)
                    })
                })
        }
    }
}

/// Entities expected and collected: each (scraper, target date,
/// parameters) a call was made for, collected when one of its calls
/// succeeded; calls skipped as not valid on their date were never
/// expected.
///
/// A fan-out scraper (`fan_param` names its parameter) whose fan-out did
/// not happen (the step before it failed, or its breaker refused the run)
/// is recorded once, without the parameter: a placeholder for the date's
/// entities, whose ids were never read. It is not an entity of its own:
/// it is dropped when calls of the same scraper and date name entities
/// (another run fanned out), and otherwise stands for as many entities as
/// the scraper fanned out to on the nearest date it did (the earlier one
/// on a tie), or one when it never did. Counting it as one entity hid a
/// day's loss: ESPN down for a day lost the 30 teams' rosters, and the
/// report said one. The warm-up's fan-outs (`before`, calls of the day
/// before the scenario, not counted themselves) are nearest dates too: an
/// outage from the first simulated day on used to leave a placeholder with
/// no date to stand in for, so it counted one entity for a day's thirty.
fn completeness<'p>(
    calls: &[rebound_storage::ScraperCallRow],
    before: &[rebound_storage::ScraperCallRow],
    fan_param: impl Fn(&str) -> Option<&'p str>,
) -> Completeness {
    // Key → (collected, how many entities it stands for).
    let mut expected: BTreeMap<String, (bool, i64)> = BTreeMap::new();
    let mut placeholders: BTreeMap<(String, NaiveDate), String> = BTreeMap::new();
    // Scraper → date → entities it fanned out to.
    let mut fanned_out: BTreeMap<String, BTreeMap<NaiveDate, BTreeSet<String>>> = BTreeMap::new();
    // The warm-up's fan-outs: only ever a nearest date to stand in for.
    let mut warm_up: BTreeMap<String, BTreeMap<NaiveDate, BTreeSet<String>>> = BTreeMap::new();
    for call in before {
        if call.error_kind.as_deref() == Some("not_valid") {
            continue;
        }
        if let Some(param) = fan_param(&call.scraper_name)
            && names_entity(call, param)
        {
            warm_up
                .entry(call.scraper_name.clone())
                .or_default()
                .entry(call.target_date)
                .or_default()
                .insert(call.params.clone());
        }
    }
    for call in calls {
        if call.error_kind.as_deref() == Some("not_valid") {
            continue;
        }
        let key = format!("{} {} {}", call.scraper_name, call.target_date, call.params);
        if let Some(param) = fan_param(&call.scraper_name) {
            if !names_entity(call, param) {
                placeholders.insert((call.scraper_name.clone(), call.target_date), key);
                continue;
            }
            fanned_out
                .entry(call.scraper_name.clone())
                .or_default()
                .entry(call.target_date)
                .or_default()
                .insert(call.params.clone());
        }
        expected.entry(key).or_insert((false, 1)).0 |= call.status == "success";
    }
    for ((scraper, date), key) in placeholders {
        if fanned_out
            .get(&scraper)
            .is_some_and(|d| d.contains_key(&date))
        {
            continue;
        }
        let mut dates = warm_up.get(&scraper).cloned().unwrap_or_default();
        dates.extend(fanned_out.get(&scraper).cloned().unwrap_or_default());
        let dates = (!dates.is_empty()).then_some(&dates);
        let nearest = dates.and_then(|dates| {
            let before = dates.range(..date).next_back();
            let after = dates.range(date..).next();
            match (before, after) {
                (Some(b), Some(a)) if (date - *b.0) <= (*a.0 - date) => Some(b),
                (Some(b), None) => Some(b),
                (_, Some(a)) => Some(a),
                (None, None) => None,
            }
        });
        let (key, weight) = match nearest {
            Some((on, entities)) => (
                format!(
                    "{key} (its entities were never listed: {} as on {on})",
                    entities.len()
                ),
                entities.len() as i64,
            ),
            None => (key, 1),
        };
        expected.entry(key).or_insert((false, weight));
    }
    let total: i64 = expected.values().map(|(_, n)| n).sum();
    let collected: i64 = expected
        .values()
        .filter(|(got, _)| *got)
        .map(|(_, n)| n)
        .sum();
    Completeness {
        expected: total,
        collected,
        completeness_rate: if total == 0 {
            1.0
        } else {
            rate(collected, total)
        },
        never_collected: expected
            .iter()
            .filter(|(_, (got, _))| !*got)
            .map(|(k, _)| k.clone())
            .collect(),
    }
}

/// Reads the run's history and puts the report together.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn build(
    scenario: &Scenario,
    paths: &Paths,
    engine: &Engine,
    observed: &Observed,
    decisions: &[(DateTime<Utc>, RecordedDecision)],
    hits: &[crate::inject::FaultHits],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let store = engine.store();
    let plan = engine.plan();
    let tz = plan.pipeline.timezone;
    // The warm-up's runs are not the scenario's, but what they fanned out
    // to is the best guess of a first day's entities (below).
    let (executions, warm_up): (Vec<_>, Vec<_>) = store
        .recent_workflow_executions(u32::MAX)
        .await?
        .into_iter()
        .partition(|r| r.execution_time >= start);
    let mut warm_up_calls = Vec::new();
    for row in &warm_up {
        warm_up_calls.extend(store.scraper_calls_for_execution(&row.execution_id).await?);
    }
    let mut runs = Runs::default();
    let mut failing = 0;
    let mut with_message = 0;
    let mut calls = Vec::new();
    for row in &executions {
        runs.total += 1;
        match row.status.as_str() {
            "success" => runs.success += 1,
            "partial" => runs.partial += 1,
            "failed" => runs.failed += 1,
            "no_data" => runs.no_data += 1,
            _ => runs.other += 1,
        }
        if row.status == "failed" || row.status == "partial" {
            failing += 1;
            if row
                .error_message
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty())
            {
                with_message += 1;
            }
        }
        calls.extend(store.scraper_calls_for_execution(&row.execution_id).await?);
    }
    // The calls made outside any run (the calendars' refreshes, as `serve`
    // makes them) are calls and attempts too, and a fault meets them:
    // stale-schedule's fault on the schedule read "3 calls" (the runs')
    // beside 60 requests hit, 57 of them refreshes. Entities stay the
    // runs' (below).
    let mut outside_runs: Vec<_> = store
        .recent_standalone_calls(u32::MAX)
        .await?
        .into_iter()
        .filter(|c| c.started_at >= start && c.started_at < end)
        .collect();
    outside_runs.reverse();
    let run_calls = calls.len();
    calls.extend(outside_runs);

    let mut totals = Calls::default();
    for call in &calls {
        totals.total += 1;
        *totals.by_status.entry(call.status.clone()).or_insert(0) += 1;
        totals.attempts += call.attempts;
        if call.attempts == 0 {
            totals.without_request += 1;
        }
        if call.retried() {
            totals.retried += 1;
            if call.status == "success" || call.status == "no_data" {
                totals.retries_paid_off += 1;
            }
        }
        if call.error_kind.as_deref() == Some("breaker_open") {
            totals.refused_by_breaker += 1;
        }
        if call
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("retry budget"))
        {
            totals.refused_by_budget += 1;
        }
    }
    totals.attempts_per_call = rate(totals.attempts, totals.total);
    totals.retry_success_rate = rate(totals.retries_paid_off, totals.retried);
    let fan_param = |scraper: &str| {
        plan.scrapers
            .get(scraper)
            .and_then(|s| s.for_each.as_ref())
            .map(|f| f.param())
    };
    (totals.tried_again_later, totals.tried_again_paid_off) = tried_again(&calls, fan_param);
    let completeness = completeness(&calls[..run_calls], &warm_up_calls, fan_param);

    let mut alerts = Alerts {
        sent: observed.alerts.clone(),
        ..Alerts::default()
    };
    for alert in &observed.alerts {
        match alert.event.as_str() {
            "opened" => alerts.opened += 1,
            "renotify" => alerts.reminders += 1,
            "recovered" => alerts.recovered += 1,
            _ => {}
        }
    }
    // An alert answers a fault when its subject is what the fault hit: its
    // source, the source's (or its one) scrapers, their datasets and the
    // workflows that run them. Any alert at all used to count, so a fault
    // on ESPN was "alerted in 0s" by an alert about the Odds API.
    // Up to `until`: once a later fault about the same subjects starts, an
    // alert is that one's (a `down` after a `changed_shape` on one source
    // credited the earlier fault with the later one's alert, hours after
    // it had ended).
    let first_opened_after =
        |t: DateTime<Utc>, until: Option<DateTime<Utc>>, about: &BTreeSet<&str>| {
            observed
                .alerts
                .iter()
                .filter(|a| {
                    a.event == "opened"
                        && a.at >= t
                        && until.is_none_or(|u| a.at < u)
                        && about.contains(a.subject.as_str())
                })
                .map(|a| (a.at - t).num_seconds())
                .min()
        };
    let mut faults = Vec::new();
    // Every call during some fault, once: two faults on one source at the
    // same time both list its calls, and adding up the faults' figures
    // counted those twice in fault_attempts_per_call.
    let mut during_any: BTreeMap<i64, i64> = BTreeMap::new();
    let mut about_any: BTreeSet<&str> = BTreeSet::new();
    // A fault outside the simulated days (a scenario shortened by --days)
    // was not armed: the warnings name it, and listing it here read as a
    // fault measured with nothing hit.
    let armed: Vec<(&Fault, BTreeSet<&str>)> = scenario
        .faults
        .iter()
        .filter(|f| !scenario.is_outside(f))
        .map(|f| (f, subjects_of(plan, paths, f)))
        .collect();
    for (fault, about) in &armed {
        let (fault, about) = (*fault, about.clone());
        let next_about_the_same = armed
            .iter()
            .filter(|(other, subjects)| other.start > fault.start && !subjects.is_disjoint(&about))
            .map(|(other, _)| utc(tz, other.start))
            .min();
        about_any.extend(about.iter().copied());
        // Within the simulated days: a fault that --days or --from left
        // running past them was listed ending after the simulation did.
        let (from, to) = (utc(tz, fault.start).max(start), utc(tz, fault.end).min(end));
        let during: Vec<_> = calls
            .iter()
            .filter(|c| {
                c.started_at >= from
                    && c.started_at < to
                    && covers(fault, paths, &c.source_name, &c.scraper_name)
            })
            .collect();
        let attempts: i64 = during.iter().map(|c| c.attempts).sum();
        during_any.extend(during.iter().map(|c| (c.id, c.attempts)));
        let hit = hits.iter().find(|h| h.index == fault.index);
        faults.push(FaultReport {
            index: fault.index,
            fault: fault.label(),
            start: from,
            end: to,
            requests_hit: hit.map_or(0, |h| h.hits),
            calls: during.len() as i64,
            attempts,
            attempts_per_call: (!during.is_empty()).then(|| rate(attempts, during.len() as i64)),
            first_alert_seconds: first_opened_after(from, next_about_the_same, &about),
        });
    }
    alerts.first_alert_seconds = faults
        .iter()
        .map(|f| f.start)
        .min()
        .and_then(|t| first_opened_after(t, None, &about_any));

    // Slots: each (workflow, date, slot) RUN once; `HH:MM` slots at their
    // local time on their target date (or the day after, for workflows
    // collecting yesterday).
    let mut seen: BTreeMap<(String, NaiveDate, String), i64> = BTreeMap::new();
    for (_, d) in decisions
        .iter()
        .filter(|(_, d)| d.action == DecisionAction::Run)
    {
        *seen
            .entry((d.workflow.clone(), d.target_date, d.slot.clone()))
            .or_insert(0) += 1;
    }
    let slots_run_twice = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((w, d, s), n)| format!("{w} {d} {s}: {n} runs"))
        .collect();
    // Skipped: an `at` or `window` slot (one a day) with no decision at
    // all on a date between its first and last decided dates; a SKIP with
    // a reason is a decision, a slot lost to a clock change is not. A date
    // the zone skipped whole (Samoa's 2011-12-30) has no slot to lose; a
    // `yesterday` slot whose run date was that day is still listed, under
    // the target date nobody collected.
    let daily: BTreeSet<&str> = plan
        .workflows
        .iter()
        .filter(|(_, w)| {
            w.schedule.as_ref().is_some_and(|s| {
                matches!(
                    s.kind,
                    rebound_domain::plan::ScheduleKind::At { .. }
                        | rebound_domain::plan::ScheduleKind::Window { .. }
                )
            })
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let on_the_clock = |date: NaiveDate| {
        date.succ_opt().is_none_or(|next| {
            rebound_domain::calendar::local_instant(tz, next, NaiveTime::MIN)
                > rebound_domain::calendar::local_instant(tz, date, NaiveTime::MIN)
        })
    };
    let mut decided: BTreeMap<(&str, &str), std::collections::BTreeSet<NaiveDate>> =
        BTreeMap::new();
    for (_, d) in decisions
        .iter()
        .filter(|(_, d)| daily.contains(d.workflow.as_str()) && !d.slot.contains('+'))
    {
        decided
            .entry((d.workflow.as_str(), d.slot.as_str()))
            .or_default()
            .insert(d.target_date);
    }
    let mut slots_skipped = Vec::new();
    for ((workflow, slot), dates) in &decided {
        let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
            continue;
        };
        let mut date = *first;
        while date < *last {
            if !dates.contains(&date) && on_the_clock(date) {
                slots_skipped.push(format!("{workflow} {date} {slot}: no decision"));
            }
            date = date.succ_opt().unwrap_or(*last);
        }
    }
    let misdated_runs = misdated(decisions, plan, start);

    let freshness = observed
        .past_sla_seconds
        .iter()
        .map(|(dataset, seconds)| Freshness {
            dataset: dataset.clone(),
            past_sla_seconds: *seconds,
        })
        .collect();

    let mut report = Report {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        config: String::new(),
        policy: String::new(),
        seed: scenario.seed,
        from: scenario.from,
        days: scenario.days,
        timezone: tz.name().to_string(),
        started_at: start,
        ended_at: end,
        failure_rate: rate(runs.failed, runs.total),
        partial_rate: rate(runs.partial, runs.total),
        error_message_coverage_rate: if failing == 0 {
            1.0
        } else {
            rate(with_message, failing)
        },
        runs,
        calls: totals,
        faults,
        alerts,
        alert_resolution_seconds: 0,
        fault_alert_resolution_seconds: 0,
        freshness,
        completeness,
        slots_run_twice,
        slots_skipped,
        misdated_runs,
        targets: Vec::new(),
        targets_met: true,
        warnings: Vec::new(),
        kept: None,
        elapsed_seconds: 0.0,
        phases: Phases::default(),
        tz: Some(tz),
        during_faults: (during_any.len() as i64, during_any.values().sum()),
    };
    let open_at_start = observed.open_at_start.clone().unwrap_or_default();
    report.targets = check_targets(&scenario.targets, &report, &open_at_start);
    report.targets_met = report.targets.iter().all(|t| t.met);
    report.warnings.extend(unserved_paths(&calls));
    if report.runs.total == 0 {
        report.warnings.push(
            "no workflow ran in the simulated days (does the config schedule any?): the targets about runs measured nothing".to_string(),
        );
    }
    if !open_at_start.is_empty() {
        let open: Vec<String> = open_at_start
            .iter()
            .map(|(condition, subject)| format!("{condition} {subject}"))
            .collect();
        report.warnings.push(format!(
            "alerts the warm-up opened were still open when the simulated days began, so their reminders and recovery are not counted: {}",
            open.join(", ")
        ));
    }
    Ok(report)
}

fn percent(x: f64) -> String {
    // `+ 0.0` turns a -0.0 (a target written `-0.0`) into 0.0: it read
    // "at most -0.0%".
    let p = x * 100.0 + 0.0;
    // Enough digits that a rate just short of a target never reads as it.
    if (p != 0.0 && p.abs() < 0.1) || (p > 99.0 && p < 100.0) {
        format!("{p:.3}%")
    } else {
        format!("{p:.1}%")
    }
}

/// The body the simulated upstream answers a path it does not serve with
/// (its router's fallback, not a fault's reply).
const UNSERVED: &str = r#"{"error":"not found","path":"#;

/// A warning per scraper every one of whose calls met a path the
/// simulated upstream does not serve: a source named like a reference one
/// whose scraper asks for another endpoint (`rebound init`'s starter, say)
/// failed every run with 404s, and the report read as the policy's doing.
fn unserved_paths(calls: &[rebound_storage::ScraperCallRow]) -> Vec<String> {
    let mut by_scraper: BTreeMap<&str, (usize, Option<&str>)> = BTreeMap::new();
    for call in calls {
        let entry = by_scraper
            .entry(call.scraper_name.as_str())
            .or_insert((0, None));
        let message = call.error_message.as_deref().unwrap_or_default();
        match message.find(UNSERVED) {
            Some(at) if call.http_status == Some(404) => {
                entry.1.get_or_insert(&message[at + UNSERVED.len()..]);
            }
            _ => entry.0 += 1,
        }
    }
    by_scraper
        .into_iter()
        .filter_map(|(scraper, (served, unserved))| {
            let path = unserved.filter(|_| served == 0)?;
            let path = path.trim_end_matches('}').trim_matches('"');
            Some(format!(
                "scrapers.{scraper}: every call asked the simulated upstream for a path it does not serve ({path}), and got 404: the report says nothing of this scraper's policies"
            ))
        })
        .collect()
}

/// Measures each target the scenario sets.
fn check_targets(
    targets: &Targets,
    r: &Report,
    open_at_start: &BTreeSet<(String, String)>,
) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    // No run is nothing measured, not a policy that held: a config that
    // schedules nothing met every target about runs (0 of 0 read as 100%).
    const NO_RUNS: &str = "not measured: no workflow ran";
    let ran = r.runs.total > 0;
    let mut check = |target: &str, wanted: String, measured: String, met: bool| {
        out.push(TargetCheck {
            target: target.to_string(),
            wanted,
            measured,
            met,
        });
    };
    if let Some(max) = targets.failure_rate_max {
        check(
            "failure_rate",
            format!("at most {}", percent(max)),
            if ran {
                format!(
                    "{} ({} of {} runs)",
                    percent(r.failure_rate),
                    r.runs.failed,
                    r.runs.total
                )
            } else {
                NO_RUNS.to_string()
            },
            ran && r.failure_rate <= max,
        );
    }
    if let Some(min) = targets.error_coverage_min {
        check(
            "error_message_coverage_rate",
            format!("at least {}", percent(min)),
            if ran {
                percent(r.error_message_coverage_rate)
            } else {
                NO_RUNS.to_string()
            },
            ran && r.error_message_coverage_rate >= min,
        );
    }
    if let Some(within) = targets.first_alert_within {
        let got = r.alerts.first_alert_seconds;
        let nothing_hit = r.faults.iter().all(|f| f.requests_hit == 0);
        check(
            "first_alert_seconds",
            format!("within {}s of the first fault", within.as_secs()),
            match got {
                Some(s) => format!("{s}s"),
                None if nothing_hit => "no alert (no fault changed a request)".to_string(),
                None => "no alert".to_string(),
            },
            got.is_some_and(|s| s <= i64::try_from(within.as_secs()).unwrap_or(i64::MAX)),
        );
    }
    if let Some(max) = targets.fault_attempts_per_call_max {
        let (calls, attempts) = r.during_faults;
        // No calls is nothing measured, not a policy that held: a fault
        // outside the simulated days passed this target while failing the
        // others.
        let got = (calls > 0).then(|| rate(attempts, calls));
        check(
            "fault_attempts_per_call",
            format!("at most {max}"),
            got.map_or(
                "not measured: no calls on the faulted sources during the faults".to_string(),
                |got| format!("{got:.3} ({attempts} attempts, {calls} calls)"),
            ),
            got.is_some_and(|got| got <= max),
        );
    }
    if let Some(n) = targets.recovered_alerts {
        check(
            "recovered_alerts",
            format!("exactly {n}"),
            r.alerts.recovered.to_string(),
            r.alerts.recovered == n,
        );
    }
    if let Some(max) = targets.failed_runs_max {
        let got = r.runs.failed + r.runs.partial;
        check(
            "failed_runs",
            format!("at most {max} failed or partial"),
            if ran {
                got.to_string()
            } else {
                NO_RUNS.to_string()
            },
            ran && got <= max,
        );
    }
    if let Some(max) = targets.alerts_before_deadline_max {
        // A completeness shortfall opens only past an entity's deadline.
        let got = r
            .alerts
            .sent
            .iter()
            .filter(|a| a.event != "recovered" && a.condition != "completeness_shortfall")
            .count() as i64;
        check(
            "alerts_before_deadline",
            format!("at most {max} (any alert but a completeness shortfall)"),
            got.to_string(),
            got <= max,
        );
    }
    if let Some(dataset) = &targets.stale_alert_for {
        let got = r.alerts.sent.iter().find(|a| {
            a.event == "opened" && a.condition == "dataset_stale" && a.subject == *dataset
        });
        // Opened in the warm-up and still open when the measured days
        // began: the alert was there all along (it used to read "none").
        let already = open_at_start.contains(&("dataset_stale".to_string(), dataset.clone()));
        check(
            "stale_alert",
            format!("dataset_stale opened for {dataset}"),
            match got {
                Some(a) => a.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                None if already => "open since the warm-up, before the simulated days".to_string(),
                None => "none".to_string(),
            },
            got.is_some() || already,
        );
    }
    if let Some(min) = targets.completeness_min {
        check(
            "completeness_rate",
            format!("at least {}", percent(min)),
            if r.completeness.expected > 0 {
                format!(
                    "{} ({} of {})",
                    percent(r.completeness.completeness_rate),
                    r.completeness.collected,
                    r.completeness.expected
                )
            } else {
                "not measured: no entity was expected (no calls)".to_string()
            },
            r.completeness.expected > 0 && r.completeness.completeness_rate >= min,
        );
    }
    if targets.slots_once {
        check(
            "slots_once",
            "no slot run twice or skipped".to_string(),
            if ran {
                format!(
                    "{} run twice, {} skipped",
                    r.slots_run_twice.len(),
                    r.slots_skipped.len()
                )
            } else {
                NO_RUNS.to_string()
            },
            ran && r.slots_run_twice.is_empty() && r.slots_skipped.is_empty(),
        );
    }
    if targets.dates_correct {
        check(
            "dates_correct",
            "every run for the local date of its slot (the day before for `yesterday` schedules)"
                .to_string(),
            if ran {
                format!("{} misdated", r.misdated_runs.len())
            } else {
                NO_RUNS.to_string()
            },
            ran && r.misdated_runs.is_empty(),
        );
    }
    out
}

/// Dates: every RUN decided from `start` on is for the local date of the
/// instant it was decided, or the day before for a `target_date =
/// "yesterday"` schedule, and for nothing else: a UTC date, or a clock
/// change that moves a slot across midnight, shows here. One line per
/// misdated decision.
fn misdated(
    decisions: &[(DateTime<Utc>, RecordedDecision)],
    plan: &rebound_domain::plan::Plan,
    start: DateTime<Utc>,
) -> Vec<String> {
    let tz = plan.pipeline.timezone;
    let mut out = Vec::new();
    for (at, d) in decisions
        .iter()
        .filter(|(at, d)| *at >= start && d.action == DecisionAction::Run)
    {
        let local = at.with_timezone(&tz).date_naive();
        let yesterday = plan
            .workflows
            .get(&d.workflow)
            .and_then(|w| w.schedule.as_ref())
            .is_some_and(|s| s.target_date == rebound_domain::plan::TargetDate::Yesterday);
        let expected = if yesterday {
            local.pred_opt().unwrap_or(local)
        } else {
            local
        };
        if d.target_date != expected {
            out.push(format!(
                "{} slot {} decided {} for {}, expected {expected}",
                d.workflow,
                d.slot,
                at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
                d.target_date,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: no word that a scraper's every call met a path the
    /// simulated upstream does not serve.
    #[test]
    fn a_scraper_whose_every_call_met_an_unserved_path_is_named() {
        let mut unserved = call("score", "2026-01-10", "{}", "failed");
        unserved.http_status = Some(404);
        unserved.error_message = Some(
            r#"HTTP 404 after 1 attempt: {"error":"not found","path":"/ref/espn/scoreboard"}"#
                .to_string(),
        );
        let mut late = call("pbp", "2026-01-10", "{}", "failed");
        late.http_status = Some(404);
        late.error_message = Some("HTTP 404 after 1 attempt: not published yet".to_string());
        let mut once = unserved.clone();
        once.scraper_name = "teams".into();
        let fine = call("teams", "2026-01-11", "{}", "success");
        assert_eq!(
            unserved_paths(&[unserved.clone(), unserved, late, once, fine]),
            [
                "scrapers.score: every call asked the simulated upstream for a path it does not serve (/ref/espn/scoreboard), and got 404: the report says nothing of this scraper's policies"
            ]
        );
    }

    /// Before: a target written `-0.0` read "at most -0.0%".
    #[test]
    fn negative_zero_reads_as_zero() {
        assert_eq!(percent(-0.0), "0.0%");
        assert_eq!(percent(0.5), "50.0%");
    }

    fn call(
        scraper: &str,
        date: &str,
        params: &str,
        status: &str,
    ) -> rebound_storage::ScraperCallRow {
        let at: DateTime<Utc> = "2025-12-10T15:00:00Z".parse().expect("an instant");
        rebound_storage::ScraperCallRow {
            id: 0,
            execution_id: Some("run".into()),
            workflow_name: Some("wf".into()),
            scraper_name: scraper.into(),
            source_name: "s".into(),
            params: params.into(),
            target_date: date.parse().expect("a date"),
            status: status.into(),
            attempts: 1,
            http_status: None,
            error_kind: (status == "skipped").then(|| "dependency".to_string()),
            error_message: None,
            started_at: at,
            finished_at: at,
            duration_ms: 0,
            bytes: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
            pages: None,
            record_count: None,
        }
    }

    /// A fan-out skipped before it read its entities stands for the
    /// date's entities: gone when another run of the day fanned out, one
    /// missing entity when none did. Other scrapers' empty parameters are
    /// entities as always.
    #[test]
    fn a_skipped_fan_out_is_a_placeholder_not_an_entity() {
        let fan = |scraper: &str| (scraper == "props").then_some("event_id");
        let calls = [
            // 10 Dec: skipped at 15:00, collected by the run at 23:00.
            call("props", "2025-12-10", "{}", "skipped"),
            call("props", "2025-12-10", r#"{"event_id":"e1"}"#, "success"),
            call("props", "2025-12-10", r#"{"event_id":"e2"}"#, "success"),
            // 11 Dec: every run was skipped.
            call("props", "2025-12-11", "{}", "skipped"),
            call("props", "2025-12-11", "{}", "skipped"),
            // A scraper without a fan-out, failed on the 11th.
            call("roster", "2025-12-10", "{}", "success"),
            call("roster", "2025-12-11", "{}", "failed"),
        ];
        let c = completeness(&calls, &[], fan);
        // The 11th's placeholder stands for the 10th's two events.
        assert_eq!(c.expected, 6, "{:?}", c.never_collected);
        assert_eq!(c.collected, 3);
        assert_eq!(
            c.never_collected,
            vec![
                "props 2025-12-11 {} (its entities were never listed: 2 as on 2025-12-10)"
                    .to_string(),
                "roster 2025-12-11 {}".to_string()
            ]
        );
        // The nearest date decides, the earlier on a tie; a scraper that
        // never fanned out stands for one.
        let calls = [
            call("props", "2025-12-08", r#"{"event_id":"a"}"#, "success"),
            call("props", "2025-12-10", "{}", "skipped"),
            call("props", "2025-12-12", r#"{"event_id":"b"}"#, "success"),
            call("props", "2025-12-12", r#"{"event_id":"c"}"#, "success"),
            call("props", "2025-12-13", "{}", "skipped"),
            call("lines", "2025-12-13", "{}", "skipped"),
        ];
        let fan = |scraper: &str| matches!(scraper, "props" | "lines").then_some("event_id");
        let c = completeness(&calls, &[], fan);
        assert_eq!(
            (c.expected, c.collected),
            (3 + 1 + 2 + 1, 3),
            "{:?}",
            c.never_collected
        );
        assert_eq!(
            c.never_collected,
            vec![
                "lines 2025-12-13 {}".to_string(),
                "props 2025-12-10 {} (its entities were never listed: 1 as on 2025-12-08)"
                    .to_string(),
                "props 2025-12-13 {} (its entities were never listed: 2 as on 2025-12-12)"
                    .to_string(),
            ]
        );
        // Down from the first simulated day: the warm-up's fan-out (not
        // counted itself) is the nearest date. Before: one entity.
        let warm_up = [
            call("props", "2025-12-09", r#"{"event_id":"x"}"#, "success"),
            call("props", "2025-12-09", r#"{"event_id":"y"}"#, "success"),
        ];
        let calls = [
            call("props", "2025-12-10", "{}", "skipped"),
            call("lines", "2025-12-10", "{}", "skipped"),
        ];
        let c = completeness(&calls, &warm_up, fan);
        assert_eq!(
            (c.expected, c.collected),
            (2 + 1, 0),
            "{:?}",
            c.never_collected
        );
    }

    /// A fan-out skipped before it listed its entities is tried again by
    /// any later call of its scraper and date, and paid off when one
    /// collects; a call naming an entity only by calls naming the same.
    /// Before: (2, 1), the 10th's first placeholder tried again by its
    /// second, which collects nothing, and the other two not at all.
    #[test]
    fn a_skipped_fan_out_is_tried_again_by_the_later_fan_out() {
        let fan = |scraper: &str| (scraper == "props").then_some("event_id");
        let at = |hour: u32, mut call: rebound_storage::ScraperCallRow| {
            call.started_at = Utc.with_ymd_and_hms(2025, 12, 10, hour, 0, 0).unwrap();
            call
        };
        let calls = [
            // 10 Dec: skipped twice, then fanned out and collected.
            at(15, call("props", "2025-12-10", "{}", "skipped")),
            at(17, call("props", "2025-12-10", "{}", "skipped")),
            at(
                19,
                call("props", "2025-12-10", r#"{"event_id":"e1"}"#, "failed"),
            ),
            at(
                20,
                call("props", "2025-12-10", r#"{"event_id":"e2"}"#, "success"),
            ),
            // e1 failed at 19:00 and was not called again.
            // 11 Dec: skipped, then fanned out, its one event failed.
            at(15, call("props", "2025-12-11", "{}", "skipped")),
            at(
                19,
                call("props", "2025-12-11", r#"{"event_id":"e3"}"#, "failed"),
            ),
            // Not a fan-out: only the same parameters try it again.
            at(
                15,
                call("roster", "2025-12-10", r#"{"team":"a"}"#, "failed"),
            ),
            at(
                16,
                call("roster", "2025-12-10", r#"{"team":"b"}"#, "success"),
            ),
            at(
                17,
                call("roster", "2025-12-10", r#"{"team":"b"}"#, "failed"),
            ),
            at(
                18,
                call("roster", "2025-12-10", r#"{"team":"b"}"#, "success"),
            ),
        ];
        // Tried again: the three placeholders and roster b's failure;
        // paid off: the 10th's two placeholders and roster b.
        assert_eq!(tried_again(&calls, fan), (4, 3));
    }

    /// Before: any alert opened after a fault's start was its "first
    /// alert", so a fault on one source was answered by another's alert.
    #[test]
    fn a_fault_is_answered_only_by_alerts_about_what_it_hit() {
        let text = r#"
[pipeline]
name = "t"
[sources.espn]
base_url = "http://127.0.0.1:9"
[sources.odds]
base_url = "http://127.0.0.1:9"
[scrapers.teams]
source = "espn"
path = "/teams"
dataset = "espn/teams"
[scrapers.lines]
source = "odds"
path = "/lines"
dataset = "odds/lines"
[workflows.morning]
scrapers = ["teams"]
[workflows.evening]
scrapers = ["lines"]
[workflows.both]
scrapers = ["teams", "lines"]
"#;
        let plan = rebound_config::load_str(text, std::path::Path::new("t.toml"), &|_| None)
            .expect("a valid config");
        let scenario = Scenario::parse(
            "s",
            std::path::Path::new("s.toml"),
            "from = \"2026-01-01\"\ndays = 1\n[[faults]]\nkind = \"down\"\nsource = \"espn\"\nstart = \"2026-01-01T01:00\"\nfor = \"1h\"\n[[faults]]\nkind = \"empty\"\nscraper = \"lines\"\nstart = \"2026-01-01T01:00\"\nfor = \"1h\"\n",
        )
        .expect("a valid scenario");
        let about: Vec<BTreeSet<&str>> = scenario
            .faults
            .iter()
            .map(|f| subjects_of(&plan, &Paths::new(), f))
            .collect();
        assert_eq!(
            about[0],
            BTreeSet::from(["espn", "teams", "espn/teams", "morning", "both"])
        );
        assert_eq!(
            about[1],
            BTreeSet::from(["odds", "lines", "odds/lines", "evening", "both"])
        );
    }

    fn plan() -> rebound_domain::plan::Plan {
        let text = r#"
[pipeline]
name = "t"
timezone = "America/New_York"

[sources.s]
base_url = "http://127.0.0.1:9"

[scrapers.a]
source = "s"
path = "/a"

[workflows.evening]
scrapers = ["a"]
schedule = { kind = "at", at = "22:00" }

[workflows.overnight]
scrapers = ["a"]
schedule = { kind = "at", at = "01:00", target_date = "yesterday" }
"#;
        rebound_config::load_str(text, std::path::Path::new("t.toml"), &|_| None)
            .expect("a valid config")
    }

    fn run(workflow: &str, at: &str, date: &str) -> (DateTime<Utc>, RecordedDecision) {
        (
            at.parse().expect("an instant"),
            RecordedDecision {
                workflow: workflow.into(),
                slot: "x".into(),
                target_date: date.parse().expect("a date"),
                action: DecisionAction::Run,
                reason: String::new(),
                entities: Vec::new(),
                queued: true,
                execution_id: None,
            },
        )
    }

    #[test]
    fn a_run_for_the_utc_date_is_misdated_and_yesterday_schedules_take_the_day_before() {
        let plan = plan();
        let start = "2026-01-01T05:00:00Z".parse().expect("an instant");
        // 22:00 EST on Jan 5 is 03:00 UTC on Jan 6.
        let right = run("evening", "2026-01-06T03:00:00Z", "2026-01-05");
        let utc_date = run("evening", "2026-01-06T03:00:00Z", "2026-01-06");
        // 01:00 EST on Jan 6 collects Jan 5.
        let overnight = run("overnight", "2026-01-06T06:00:00Z", "2026-01-05");
        let overnight_today = run("overnight", "2026-01-06T06:00:00Z", "2026-01-06");
        // Before the measured period: not judged.
        let warm_up = run("evening", "2025-12-31T03:00:00Z", "2025-12-31");
        let found = misdated(
            &[right, utc_date, overnight, overnight_today, warm_up],
            &plan,
            start,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with(
                "evening slot x decided 2026-01-05 22:00 EST for 2026-01-06, expected 2026-01-05"
            ),
            "{found:?}"
        );
        assert!(
            found[1].starts_with(
                "overnight slot x decided 2026-01-06 01:00 EST for 2026-01-06, expected 2026-01-05"
            ),
            "{found:?}"
        );
    }
}
