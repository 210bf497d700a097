//! The runtime: runs a workflow or a single scraper once, end to end.
//!
//! For each call, in this order (the order is the invariant):
//! plan → guarded fetch ([`rebound_fetch::Fetcher`]: permits, timeout,
//! classification, retries) → store the payload ([`rebound_raw::RawStore`],
//! unless it equals the previous one) → record the call and its attempts
//! ([`rebound_storage::Store`]) → report. A workflow runs its steps in
//! order and the scrapers of a step concurrently; a scraper whose `after`
//! dependency failed or was skipped is recorded as skipped, saying which.
//!
//! A scraper with `for_each` fans out ([`fanout`]): one call per event of a
//! calendar on the target date, or per item of a stored dataset payload.
//! Calendars are read from stored payloads ([`calendar`]).
//!
//! Every call with an outcome gets a completion event ([`handoff`]), written
//! with its row in one transaction: the outbox the publisher drains.

mod breaker;
pub mod calendar;
mod call;
mod fanout;
pub mod handoff;
pub mod liveness;
mod mask;
mod orphans;
mod pages;
mod quota;
mod transform;
mod workflow;

pub use breaker::ProbeAnswer;
pub use calendar::{
    BoundItem, BoundParams, CalendarData, CalendarError, bind_events, extract_events,
    extract_items, extract_values,
};
pub use call::CallReport;
pub use fanout::{FanoutSummary, MAX_FAN_OUT_ITEMS};
pub use workflow::{RunOptions, RunReport};

use chrono::{NaiveDate, NaiveTime};
use rebound_domain::clock::Clock;
use rebound_domain::handoff::Trigger;
use rebound_domain::plan::Plan;
use rebound_domain::template::BUILTIN_PARAMS;
use rebound_fetch::Fetcher;
use rebound_metrics::Metrics;
use rebound_raw::RawStore;
use rebound_storage::{Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a run could not start or could not be recorded.
///
/// A name the caller gave (an unknown workflow, scraper or calendar: a
/// CLI argument or an API body's field) is written with its control
/// characters escaped, line breaks included ([`one_line`]): the CLI prints
/// every error with line breaks kept, since some messages are several
/// lines by design, and from the finished text a break inside a name
/// cannot be told from one of the message's own.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unknown workflow \"{}\"; the config defines: {available}", one_line(.name))]
    UnknownWorkflow { name: String, available: String },
    #[error("unknown scraper \"{}\"; the config defines: {available}", one_line(.name))]
    UnknownScraper { name: String, available: String },
    #[error("scraper {scraper} needs {}: {}", plural_params(.missing), pass_hint(.missing))]
    MissingParams {
        scraper: String,
        missing: Vec<String>,
    },
    #[error("--param {name} is built in: {}", builtin_hint(.name))]
    BuiltinParam { name: String },
    /// `rebound scrape` of a variant outside its `valid_from` / `valid_until`.
    #[error("scraper {scraper} is not valid on {date} (valid {valid}){}", variant_hint(.others))]
    NotValidOn {
        scraper: String,
        date: NaiveDate,
        valid: String,
        /// Scrapers of the same dataset valid on the date.
        others: Vec<String>,
    },
    /// A date the pipeline's zone skips whole (Samoa's 2011-12-30).
    #[error("{date} does not exist in {zone}: its clocks skip it whole, so nothing runs on it")]
    NoSuchDay { date: NaiveDate, zone: String },
    #[error("unknown calendar \"{}\"; the config defines: {available}", one_line(.name))]
    UnknownCalendar { name: String, available: String },
    /// The calendar's payload exists but cannot be read or has bad events.
    #[error("calendar {calendar}: {detail}")]
    CalendarUnreadable { calendar: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    /// True for errors in what the user asked for (exit code 2), as opposed
    /// to failures while running (exit code 1).
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            EngineError::Store(_) | EngineError::CalendarUnreadable { .. }
        )
    }
}

/// A name the caller gave, as an error shows it: see [`EngineError`].
fn one_line(name: &str) -> String {
    rebound_domain::message::escape_controls(name, false)
}

fn plural_params(missing: &[String]) -> String {
    let names: Vec<String> = missing.iter().map(|m| format!("{{{m}}}")).collect();
    if missing.len() == 1 {
        format!("parameter {}", names[0])
    } else {
        format!("parameters {}", names.join(", "))
    }
}

/// How each missing parameter could be supplied: `--param`, `--slot` or
/// `[pipeline] season_start`.
fn pass_hint(missing: &[String]) -> String {
    use rebound_domain::params::{SEASON_PARAMS, SLOT_PARAMS};
    let mut hints: Vec<String> = Vec::new();
    let mut push = |hint: String| {
        if !hints.contains(&hint) {
            hints.push(hint);
        }
    };
    for name in missing {
        if SLOT_PARAMS.contains(&name.as_str()) {
            push("pass --slot HH:MM".to_string());
        } else if SEASON_PARAMS.contains(&name.as_str()) {
            push("set [pipeline] season_start (e.g. \"10-01\") to supply the season".to_string());
        } else {
            push(format!("pass --param {name}=VALUE"));
        }
    }
    hints.join("; ")
}

fn builtin_hint(name: &str) -> &'static str {
    use rebound_domain::params::{SEASON_PARAMS, SLOT_PARAMS};
    if SLOT_PARAMS.contains(&name) {
        "set the slot with --slot HH:MM instead"
    } else if SEASON_PARAMS.contains(&name) {
        "it comes from the target date and [pipeline] season_start"
    } else {
        "set the target date with --date YYYY-MM-DD instead"
    }
}

fn variant_hint(others: &[String]) -> String {
    if others.is_empty() {
        String::new()
    } else {
        format!("; valid on that date: {}", others.join(", "))
    }
}

/// Per calendar name: the payload (`output_uri`) its events were read
/// from, and those events.
type CalendarCache =
    std::collections::HashMap<String, (String, Arc<Vec<rebound_domain::calendar::Event>>)>;

/// Runs workflows and scrapers of one plan.
pub struct Engine {
    plan: Arc<Plan>,
    store: Arc<dyn Store>,
    raw: RawStore,
    fetcher: Arc<Fetcher>,
    clock: Arc<dyn Clock>,
    /// Counts attempts, calls and durations (see `rebound-metrics`).
    metrics: Arc<Metrics>,
    /// Run a step's scrapers and a fan-out's calls one after another, in
    /// order, instead of side by side (see [`Engine::with_calls_in_order`]).
    calls_in_order: bool,
    /// Per calendar: the payload its events were last read from, and
    /// those events (see `calendar_events`).
    calendar_cache: std::sync::Mutex<CalendarCache>,
    /// The processes of the `keep_running` transforms, started on their
    /// first document and stopped with the engine.
    kept_transforms: transform::KeptTransforms,
    /// Payloads stored for calls whose row could not be written, deleted
    /// once the history says no row points at them ([`orphans`]).
    orphans: orphans::Orphans,
}

impl Engine {
    pub fn new(
        plan: Arc<Plan>,
        store: Arc<dyn Store>,
        raw: RawStore,
        fetcher: Arc<Fetcher>,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        // Its own registry unless the caller shares one (`with_metrics`):
        // counting into a registry nobody reads costs a few atomics.
        let metrics = Arc::new(Metrics::for_plan(&plan));
        Engine {
            plan,
            store,
            raw,
            fetcher,
            clock,
            metrics,
            calls_in_order: false,
            calendar_cache: Default::default(),
            kept_transforms: Default::default(),
            orphans: Default::default(),
        }
    }

    /// Runs the calls of a step and of a fan-out one after another, in
    /// their configured order, instead of side by side.
    ///
    /// For `rebound simulate`: on its manual clock every retry wait moves
    /// time for everybody, so with calls side by side which call meets a
    /// pause, a breaker or a lockout first depends on the machine's real
    /// timing, and the same seed gave different histories. In order, a
    /// seed replays exactly. Nothing else changes: the same calls are
    /// made with the same policies.
    pub fn with_calls_in_order(mut self) -> Engine {
        self.calls_in_order = true;
        self
    }

    /// Awaits `futures` side by side, or one after another in order when
    /// [`Engine::with_calls_in_order`] was asked for; results in order.
    pub(crate) async fn all<F: std::future::Future>(
        &self,
        futures: impl IntoIterator<Item = F>,
    ) -> Vec<F::Output> {
        if self.calls_in_order {
            // Each future boxed, and all of them collected before the first
            // is awaited: the iterator (and the closure in it) must not live
            // across an await, or the caller's future stops being `Send`;
            // and awaiting a step's future in place would nest its whole
            // state (calls inside fan-outs inside steps) into this one,
            // which overflowed a debug build's stack.
            let futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
            let mut out = Vec::with_capacity(futures.len());
            for future in futures {
                out.push(future.await);
            }
            out
        } else {
            futures::future::join_all(futures).await
        }
    }

    /// Counts into `metrics`, e.g. the registry `rebound serve` exposes.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Engine {
        self.metrics = metrics;
        self
    }

    /// The registry this engine counts into; workers count runs into it too.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Today in the pipeline's zone: the default target date.
    pub fn today(&self) -> NaiveDate {
        self.clock
            .now()
            .with_timezone(&self.plan.pipeline.timezone)
            .date_naive()
    }

    /// User parameters plus the built-ins: the date's, the season's (with
    /// `[pipeline] season_start`) and the slot's (with a slot time).
    fn full_params(
        &self,
        target_date: NaiveDate,
        user: &BTreeMap<String, String>,
        slot: Option<NaiveTime>,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        if let Some(name) = BUILTIN_PARAMS.iter().find(|b| user.contains_key(**b)) {
            return Err(EngineError::BuiltinParam {
                name: name.to_string(),
            });
        }
        let mut params = user.clone();
        params.extend(rebound_domain::params::builtin_values(
            self.plan.pipeline.timezone,
            self.plan.pipeline.season.as_ref(),
            target_date,
            slot,
        ));
        Ok(params)
    }

    /// Checks that every scraper has all its parameters before any call is
    /// made. With `fan_out`, a `for_each` scraper's item parameter is not
    /// required: the fan-out supplies it.
    fn check_params(
        &self,
        scrapers: &[&str],
        params: &BTreeMap<String, String>,
        fan_out: bool,
    ) -> Result<(), EngineError> {
        for name in scrapers {
            let scraper = &self.plan.scrapers[*name];
            let source = &self.plan.sources[&scraper.source];
            let item_params = if fan_out {
                scraper.fan_out_params()
            } else {
                Vec::new()
            };
            let missing: Vec<String> = scraper
                .required_params(source)
                .into_iter()
                .filter(|p| !params.contains_key(p) && !item_params.contains(&p.as_str()))
                .collect();
            if !missing.is_empty() {
                return Err(EngineError::MissingParams {
                    scraper: name.to_string(),
                    missing,
                });
            }
        }
        Ok(())
    }

    /// Runs one scraper outside any workflow (`rebound scrape`): one call.
    /// A `for_each` scraper does not fan out here; its item parameter must
    /// be given (`--param game_id=X`), which makes exactly that one call.
    pub async fn run_scraper(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
    ) -> Result<CallReport, EngineError> {
        self.run_scraper_at(name, target_date, user_params, None)
            .await
    }

    /// [`Engine::run_scraper`] for a slot (`rebound scrape --slot HH:MM`):
    /// `slot` supplies `{slot_hour}` and the rest of the slot parameters.
    /// A variant (`valid_from` / `valid_until`) is refused outside its
    /// dates, naming the variants valid on the date.
    pub async fn run_scraper_at(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
        slot: Option<NaiveTime>,
    ) -> Result<CallReport, EngineError> {
        self.run_scraper_as(name, target_date, user_params, slot, Trigger::Manual)
            .await
    }

    /// [`EngineError::NoSuchDay`] for a date the pipeline's zone skips
    /// whole: run anyway, its calls were sent a `{day_start_utc}` after its
    /// `{day_end_utc}`.
    pub(crate) fn refuse_a_skipped_day(&self, date: NaiveDate) -> Result<(), EngineError> {
        let tz = self.plan.pipeline.timezone;
        if rebound_domain::calendar::skips_whole(tz, date) {
            return Err(EngineError::NoSuchDay {
                date,
                zone: tz.name().to_string(),
            });
        }
        Ok(())
    }

    /// [`Engine::run_scraper_at`] started by `trigger` rather than a
    /// person: `rebound serve` refreshing a calendar is `Schedule`.
    pub async fn run_scraper_as(
        &self,
        name: &str,
        target_date: NaiveDate,
        user_params: &BTreeMap<String, String>,
        slot: Option<NaiveTime>,
        trigger: Trigger,
    ) -> Result<CallReport, EngineError> {
        let Some(scraper) = self.plan.scrapers.get(name) else {
            return Err(EngineError::UnknownScraper {
                name: name.to_string(),
                available: names(self.plan.scrapers.keys()),
            });
        };
        self.refuse_a_skipped_day(target_date)?;
        if !scraper.valid.contains(target_date) {
            let others = self
                .plan
                .scrapers
                .values()
                .filter(|s| s.dataset == scraper.dataset && s.valid.contains(target_date))
                .map(|s| s.name.clone())
                .collect();
            return Err(EngineError::NotValidOn {
                scraper: name.to_string(),
                date: target_date,
                valid: scraper.valid.describe(),
                others,
            });
        }
        let params = self.full_params(target_date, user_params, slot)?;
        self.check_params(&[name], &params, false)?;
        let event_start = self.event_start_for(name, &params).await;
        self.call(name, target_date, &params, None, event_start, trigger)
            .await
    }
}

impl Engine {
    /// For a calendar fan-out scraper called for one item by hand: the
    /// start of that event, which anchors `expected_within`. `None` when the
    /// scraper has no expectation, is no calendar fan-out, or the calendar
    /// cannot be read (then the target date's local midnight anchors).
    async fn event_start_for(
        &self,
        name: &str,
        params: &BTreeMap<String, String>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let scraper = &self.plan.scrapers[name];
        scraper.expected.as_ref()?;
        let rebound_domain::plan::ForEach::Calendar { calendar, param } =
            scraper.for_each.as_ref()?
        else {
            return None;
        };
        let id = params.get(param)?;
        let data = self.calendar_events(calendar).await.ok()??;
        data.events.iter().find(|e| &e.id == id).map(|e| e.start)
    }
}

/// The names an "unknown …" error lists as the config's own: comma-joined,
/// `(none)` when there are none. Public so the CLI, which names an unknown
/// target before it loads the secrets the engine needs, says it the same.
pub fn names<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let all: Vec<&str> = keys.map(String::as_str).collect();
    if all.is_empty() {
        "(none)".to_string()
    } else {
        all.join(", ")
    }
}
