//! The read endpoints: reports (health, freshness, sources, lockouts,
//! alerts), history (runs, calls, decisions) and the plan of a day.
//!
//! Filters that are dates (`from`, `to`, `date`) are days in the
//! pipeline's zone, as everywhere in Rebound; `from` and `to` also take an
//! RFC 3339 instant. Lists of history are pages, newest first, with an
//! opaque `cursor` (a keyset on the sort columns, so a deep page costs what
//! the first does).

use super::types::{
    AlertsReport, AttemptView, CallDetail, CallView, CallsPage, DecisionView, DecisionsReport,
    ExecutionView, FreshnessReport, LockoutsReport, PlanReport, PlannedDecisionView, RunDetail,
    RunsPage, SourcesReport,
};
use super::{NoQuery, PathParam, Problem, QueryParams};
use crate::http::Web;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rebound_domain::duration::{format_duration, parse_duration, sub_saturating};
use rebound_health::HealthReport;
use rebound_storage::{CallFilter, RunFilter};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub const MAX_LIMIT: u32 = 500;
/// The longest look-back, as for `rebound health --since`.
const MAX_SINCE: Duration = Duration::from_secs(3_650 * 86_400);

type Answer<T> = Result<Json<T>, Problem>;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SinceQuery {
    /// Look-back period for call counts and failure rates, e.g. "24h" or
    /// "7d" (default "24h", at most "3650d").
    since: Option<String>,
}

/// `since` as the start of the period before `now`.
fn since(text: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, Problem> {
    let text = text.unwrap_or("24h");
    let period =
        parse_duration(text).map_err(|e| Problem::bad_request(format!("since \"{text}\": {e}")))?;
    if period > MAX_SINCE {
        return Err(Problem::bad_request(format!(
            "since \"{text}\": expected a period of at most {}",
            format_duration(MAX_SINCE)
        )));
    }
    // A zero period counted nothing: every source read 0 calls, 0 failed.
    if period.is_zero() {
        return Err(Problem::bad_request(format!(
            "since \"{text}\": expected a period longer than zero"
        )));
    }
    Ok(sub_saturating(now, period))
}

/// What `rebound health --json --no-probe` prints: the verdict and every
/// section. Sources' health probes are not sent (an HTTP read must not
/// cause upstream traffic), so `probe` is null. For the default period
/// (no `since`) the report is made by one request at a time and kept 5 s
/// (`generated_at` says when): twenty clients polling it used to build
/// twenty reports at once. What the API itself does (a call, a run, a
/// reset) clears it, so it shows at once; the workers' runs show within
/// the 5 s.
#[utoipa::path(get, path = "/api/v1/health", tag = "reports", params(SinceQuery),
    responses((status = 200, description = "The health report", body = HealthReport)))]
pub(crate) async fn health(
    State(web): State<Arc<Web>>,
    QueryParams(query): QueryParams<SinceQuery>,
) -> Answer<HealthReport> {
    let cached = query.since.is_none();
    let (engine, period) = (&web.engine, query.since.as_deref());
    let make = |now: DateTime<Utc>| async move {
        let since = since(period, now)?;
        super::reports::health(engine, None, now, since)
            .await
            .map_err(|e| Problem::internal("building the health report", e))
    };
    let report = match cached {
        true => web.health.get_or_make(web.clock.as_ref(), make).await?,
        false => make(web.clock.now()).await?,
    };
    Ok(Json(report))
}

/// What `rebound freshness --json` prints.
#[utoipa::path(get, path = "/api/v1/freshness", tag = "reports",
    responses((status = 200, description = "Every dataset's freshness and completeness", body = FreshnessReport)))]
pub(crate) async fn freshness(State(web): State<Arc<Web>>, _: NoQuery) -> Answer<FreshnessReport> {
    super::reports::freshness(&web.engine, web.clock.now())
        .await
        .map(Json)
        .map_err(|e| Problem::internal("reading freshness", e))
}

/// Every source: calls and failure rate over `since`, breaker, proxies and
/// quota.
#[utoipa::path(get, path = "/api/v1/sources", tag = "reports", params(SinceQuery),
    responses((status = 200, description = "Every source of the config", body = SourcesReport)))]
pub(crate) async fn sources(
    State(web): State<Arc<Web>>,
    QueryParams(query): QueryParams<SinceQuery>,
) -> Answer<SourcesReport> {
    let now = web.clock.now();
    let since = since(query.since.as_deref(), now)?;
    super::reports::sources(&web.engine, now, since)
        .await
        .map(Json)
        .map_err(|e| Problem::internal("reading the sources", e))
}

/// What `rebound lockouts --json` prints.
#[utoipa::path(get, path = "/api/v1/lockouts", tag = "reports",
    responses((status = 200, description = "Entity lockouts", body = LockoutsReport)))]
pub(crate) async fn lockouts(State(web): State<Arc<Web>>, _: NoQuery) -> Answer<LockoutsReport> {
    super::reports::lockouts(
        web.engine.plan(),
        web.engine.store().as_ref(),
        web.clock.now(),
    )
    .await
    .map(Json)
    .map_err(|e| Problem::internal("reading lockouts", e))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AlertsQuery {
    /// How many of the newest notifications (default 20, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// What `rebound alerts --json` prints: open incidents, those resolved in
/// the last 7 days, and the newest notifications.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "reports", params(AlertsQuery),
    responses((status = 200, description = "Alert incidents and notifications", body = AlertsReport)))]
pub(crate) async fn alerts(
    State(web): State<Arc<Web>>,
    QueryParams(query): QueryParams<AlertsQuery>,
) -> Answer<AlertsReport> {
    let limit = limit(query.limit, 20)?;
    super::reports::alerts(web.engine.store().as_ref(), web.clock.now(), limit)
        .await
        .map(Json)
        .map_err(|e| Problem::internal("reading alerts", e))
}

fn limit(given: Option<u32>, default: u32) -> Result<u32, Problem> {
    match given {
        None => Ok(default),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!(
            "limit {n}: expected 1 to {MAX_LIMIT}"
        ))),
    }
}

/// The first instant of `date` in `tz` (the next one that exists when
/// midnight is skipped by a DST change).
pub(crate) fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut time = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&time).earliest() {
            return t.with_timezone(&Utc);
        }
        time += chrono::TimeDelta::minutes(30);
    }
    Utc.from_utc_datetime(&time)
}

/// `YYYY-MM-DD` as a date, the error naming the parameter.
pub(crate) fn parse_date(name: &str, text: &str) -> Result<NaiveDate, Problem> {
    use chrono::Datelike;
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        // Four-digit years: what every stored date and schedule can reach.
        Ok(date) if (1..=9999).contains(&date.year()) => Ok(date),
        _ => Err(Problem::bad_request(format!(
            "{name} \"{text}\": expected a date as YYYY-MM-DD from 0001-01-01 to 9999-12-31, e.g. 2026-11-28"
        ))),
    }
}

/// A target date (of a run, a plan, a day's decisions): `YYYY-MM-DD` up to
/// [`rebound_domain::calendar::LAST_DATE`], past which local times would be
/// silently wrong. Range bounds (`from`, `to`) keep four-digit years.
pub(crate) fn parse_target_date(name: &str, text: &str) -> Result<NaiveDate, Problem> {
    use rebound_domain::calendar::{FIRST_DATE, LAST_DATE};
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) if date >= FIRST_DATE => rebound_domain::calendar::within_zone_rules(date)
            .map_err(|why| Problem::bad_request(format!("{name} \"{text}\": {why}"))),
        _ => Err(Problem::bad_request(format!(
            "{name} \"{text}\": expected a date as YYYY-MM-DD from {FIRST_DATE} to {LAST_DATE}, e.g. 2026-11-28"
        ))),
    }
}

/// `from` / `to`: an RFC 3339 instant, or a date in the pipeline's zone
/// (`from` its first instant, `to` the end of that day).
fn bound(
    name: &str,
    text: Option<&str>,
    tz: Tz,
    end: bool,
) -> Result<Option<DateTime<Utc>>, Problem> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    match parse_date(name, text) {
        Ok(date) if end => Ok(Some(day_start(tz, date.succ_opt().unwrap_or(date)))),
        Ok(date) => Ok(Some(day_start(tz, date))),
        Err(_) => Err(Problem::bad_request(format!(
            "{name} \"{text}\": expected a date as YYYY-MM-DD (a day in the pipeline's zone) or an RFC 3339 instant such as 2026-11-28T07:56:00Z"
        ))),
    }
}

/// `from` and `to` of a list, in order: a range whose end is not after its
/// start holds nothing, and is a mistake (the two swapped) rather than a
/// question whose answer is an empty page.
fn range(query_from: Option<&str>, query_to: Option<&str>, tz: Tz) -> RangeResult {
    let from = bound("from", query_from, tz, false)?;
    let to = bound("to", query_to, tz, true)?;
    if let (Some(start), Some(end), Some(from_text), Some(to_text)) =
        (from, to, query_from, query_to)
        && start >= end
    {
        return Err(Problem::bad_request(format!(
            "from \"{from_text}\" is not before to \"{to_text}\": from is the first instant included and to the first excluded (a date as to includes that whole day); swap them"
        )));
    }
    Ok((from, to))
}

type RangeResult = Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), Problem>;

/// The statuses a run is recorded with.
const RUN_STATUSES: &[&str] = &["running", "success", "partial", "failed", "no_data"];

/// `status` of a list, one of `allowed`: an unknown one matched nothing
/// and answered an empty page, as if no run had that status.
fn status(text: Option<String>, allowed: &[&str]) -> Result<Option<String>, Problem> {
    match text {
        Some(text) if !allowed.contains(&text.as_str()) => Err(Problem::bad_request(format!(
            "status \"{text}\": expected one of {}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

/// A `workflow` or `scraper` filter: a name, or left out. Empty, it
/// filtered on a name nothing can have and answered an empty page, as if
/// nothing had run (a client's `?workflow=$NAME` with the variable unset).
/// A name the config no longer defines is still asked for: its history is
/// stored.
fn name_filter(param: &str, text: Option<String>) -> Result<Option<String>, Problem> {
    match text {
        Some(text) if text.is_empty() => Err(Problem::bad_request(format!(
            "{param} \"\": expected a {param}'s name; leave {param} out for every {param}"
        ))),
        other => Ok(other),
    }
}

/// The statuses a call is recorded with.
fn call_statuses() -> Vec<&'static str> {
    use rebound_domain::outcome::ScraperStatus;
    [
        ScraperStatus::Success,
        ScraperStatus::NoData,
        ScraperStatus::Failed,
        ScraperStatus::Skipped,
        ScraperStatus::NotYetAvailable,
        ScraperStatus::Overdue,
    ]
    .map(ScraperStatus::as_str)
    .to_vec()
}

/// Cursors are opaque to clients: hex of the keyset position.
/// The cursor after a page whose last row started at `at` with key `id`:
/// opaque to clients (hex of `millis|id`), read back by [`decode_cursor`].
fn encode_cursor(at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    format!("{}|{id}", at.timestamp_millis())
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bad_cursor(text: &str) -> Problem {
    Problem::bad_request(format!(
        "cursor \"{text}\": not a cursor this API gave out (pass next_cursor of the previous page as it is)"
    ))
}

/// The `(started at, key)` of an [`encode_cursor`] cursor, the key parsed
/// as `K` (an execution id, a call id); anything else is a 400.
fn decode_cursor<K: std::str::FromStr>(text: &str) -> Result<(DateTime<Utc>, K), Problem> {
    let bad = || bad_cursor(text);
    if !text.len().is_multiple_of(2) || text.len() > 512 {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>, _> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
        .collect();
    let decoded = String::from_utf8(bytes.map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = decoded.split_once('|').ok_or_else(bad)?;
    // Four-digit years, as every cursor given out: PostgreSQL refuses
    // timestamps past them (a 500 before).
    let at = at
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .filter(|t| (1..=9999).contains(&chrono::Datelike::year(t)))
        .ok_or_else(bad)?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((at, id.parse::<K>().map_err(|_| bad())?))
}

/// A run's status, for the OpenAPI document of `status` (the value is
/// read as text and checked against [`RUN_STATUSES`]).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used
pub(crate) enum RunStatusParam {
    Running,
    Success,
    Partial,
    Failed,
    NoData,
}

/// A call's status, for the OpenAPI document of `status` (checked
/// against [`call_statuses`]).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used
pub(crate) enum CallStatusParam {
    Success,
    NoData,
    Failed,
    Skipped,
    NotYetAvailable,
    Overdue,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// Only runs of this workflow.
    workflow: Option<String>,
    /// Only runs with this status: `running`, `success`, `partial`,
    /// `failed` or `no_data` (another is a 400).
    #[param(value_type = Option<RunStatusParam>, inline)]
    status: Option<String>,
    /// Runs started at or after: a date (YYYY-MM-DD, pipeline zone) or an
    /// RFC 3339 instant.
    from: Option<String>,
    /// Runs started before: an RFC 3339 instant, or a date (through the end
    /// of that day).
    to: Option<String>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Workflow runs, newest first, one page at a time.
#[utoipa::path(get, path = "/api/v1/runs", tag = "history", params(RunsQuery),
    responses((status = 200, description = "One page of runs", body = RunsPage)))]
pub(crate) async fn runs(
    State(web): State<Arc<Web>>,
    QueryParams(query): QueryParams<RunsQuery>,
) -> Answer<RunsPage> {
    let tz = web.engine.plan().pipeline.timezone;
    let limit = limit(query.limit, DEFAULT_LIMIT)?;
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let (from, to) = range(query.from.as_deref(), query.to.as_deref(), tz)?;
    let filter = RunFilter {
        workflow: name_filter("workflow", query.workflow)?,
        status: status(query.status, RUN_STATUSES)?,
        from,
        to,
        before,
    };
    let rows = web
        .engine
        .store()
        .workflow_executions_page(&filter, limit + 1)
        .await
        .map_err(|e| Problem::internal("reading runs", e))?;
    let more = rows.len() > limit as usize;
    let runs: Vec<ExecutionView> = rows
        .iter()
        .take(limit as usize)
        .map(ExecutionView::from)
        .collect();
    let next_cursor = match (more, runs.last()) {
        (true, Some(last)) => Some(encode_cursor(last.execution_time, &last.execution_id)),
        _ => None,
    };
    Ok(Json(RunsPage { runs, next_cursor }))
}

/// One run with its calls and every attempt of each, with timings (the
/// waits between attempts are `delay_before_ms`).
#[utoipa::path(get, path = "/api/v1/runs/{execution_id}", tag = "history",
    params(("execution_id" = String, Path, description = "The run's execution id")),
    responses((status = 200, description = "The run", body = RunDetail)))]
pub(crate) async fn run(
    State(web): State<Arc<Web>>,
    PathParam(execution_id): PathParam,
    _: NoQuery,
) -> Answer<RunDetail> {
    let store = web.engine.store();
    let Some(row) = store
        .workflow_execution(&execution_id)
        .await
        .map_err(|e| Problem::internal("reading the run", e))?
    else {
        return Err(Problem::not_found(format!(
            "no run with execution id \"{execution_id}\" (GET /api/v1/runs lists them)"
        )));
    };
    let rows = store
        .scraper_calls_for_execution(&execution_id)
        .await
        .map_err(|e| Problem::internal("reading the run's calls", e))?;
    let mut calls = Vec::new();
    for call in &rows {
        let attempts = store
            .attempts_for_call(call.id)
            .await
            .map_err(|e| Problem::internal("reading attempts", e))?;
        calls.push(CallDetail {
            call: CallView::from(call),
            workflow_name: call.workflow_name.clone(),
            execution_id: call.execution_id.clone(),
            finished_at: call.finished_at,
            attempts_detail: attempts.iter().map(AttemptView::from).collect(),
        });
    }
    Ok(Json(RunDetail {
        run: ExecutionView::from(&row),
        calls,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallsQuery {
    /// Only calls of this scraper.
    scraper: Option<String>,
    /// Only calls with this status: `success`, `no_data`, `failed`,
    /// `skipped`, `not_yet_available` or `overdue` (another is a 400).
    #[param(value_type = Option<CallStatusParam>, inline)]
    status: Option<String>,
    /// Calls started at or after: a date (YYYY-MM-DD, pipeline zone) or an
    /// RFC 3339 instant.
    from: Option<String>,
    /// Calls started before: an RFC 3339 instant, or a date (through the
    /// end of that day).
    to: Option<String>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Calls (of runs and standalone), newest first (by start time), one page
/// at a time.
#[utoipa::path(get, path = "/api/v1/calls", tag = "history", params(CallsQuery),
    responses((status = 200, description = "One page of calls", body = CallsPage)))]
pub(crate) async fn calls(
    State(web): State<Arc<Web>>,
    QueryParams(query): QueryParams<CallsQuery>,
) -> Answer<CallsPage> {
    let tz = web.engine.plan().pipeline.timezone;
    let limit = limit(query.limit, DEFAULT_LIMIT)?;
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let (from, to) = range(query.from.as_deref(), query.to.as_deref(), tz)?;
    let filter = CallFilter {
        scraper: name_filter("scraper", query.scraper)?,
        status: status(query.status, &call_statuses())?,
        from,
        to,
        before,
    };
    let rows = web
        .engine
        .store()
        .scraper_calls_page(&filter, limit + 1)
        .await
        .map_err(|e| Problem::internal("reading calls", e))?;
    let more = rows.len() > limit as usize;
    let calls: Vec<CallView> = rows
        .iter()
        .take(limit as usize)
        .map(CallView::from)
        .collect();
    let next_cursor = match (more, calls.last()) {
        (true, Some(last)) => Some(encode_cursor(last.started_at, last.id)),
        _ => None,
    };
    Ok(Json(CallsPage { calls, next_cursor }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DecisionsQuery {
    /// The day the decisions were made, YYYY-MM-DD in the pipeline's zone
    /// (default: today).
    date: Option<String>,
    /// Only this workflow's decisions (calendar refreshes are
    /// `calendar:NAME`).
    workflow: Option<String>,
}

/// The decisions the scheduler recorded on one day, oldest first.
#[utoipa::path(get, path = "/api/v1/decisions", tag = "history", params(DecisionsQuery),
    responses((status = 200, description = "The day's decisions", body = DecisionsReport)))]
pub(crate) async fn decisions(
    State(web): State<Arc<Web>>,
    QueryParams(query): QueryParams<DecisionsQuery>,
) -> Answer<DecisionsReport> {
    let tz = web.engine.plan().pipeline.timezone;
    let workflow = name_filter("workflow", query.workflow)?;
    let date = match query.date.as_deref() {
        Some(text) => parse_target_date("date", text)?,
        None => web.clock.now().with_timezone(&tz).date_naive(),
    };
    let from = day_start(tz, date);
    let to = day_start(tz, date.succ_opt().unwrap_or(date));
    let rows = web
        .engine
        .store()
        .decisions_between(workflow.as_deref(), from, to)
        .await
        .map_err(|e| Problem::internal("reading decisions", e))?;
    let decisions = rows
        .iter()
        .map(DecisionView::from_row)
        .collect::<Result<_, _>>()
        .map_err(|e| Problem::internal("reading decisions", e))?;
    Ok(Json(DecisionsReport { decisions }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PlanQuery {
    /// The day to plan, YYYY-MM-DD (default: today in the pipeline's zone).
    date: Option<String>,
}

/// What `rebound plan --date` prints: the decisions the schedule would
/// make that day, on the stored calendars.
#[utoipa::path(get, path = "/api/v1/plan", tag = "reports", params(PlanQuery),
    responses((status = 200, description = "The day's plan", body = PlanReport)))]
pub(crate) async fn plan(
    State(web): State<Arc<Web>>,
    QueryParams(query): QueryParams<PlanQuery>,
) -> Answer<PlanReport> {
    let engine = &web.engine;
    let plan = engine.plan();
    let tz = plan.pipeline.timezone;
    let date = match query.date.as_deref() {
        Some(text) => parse_target_date("date", text)?,
        None => web.clock.now().with_timezone(&tz).date_naive(),
    };
    let mut calendars = BTreeMap::new();
    let mut without = Vec::new();
    let needed: std::collections::BTreeSet<&String> = plan
        .workflows
        .values()
        .filter_map(|w| w.schedule.as_ref()?.calendar.as_ref())
        .collect();
    for name in needed {
        match engine.calendar_events(name).await {
            Ok(Some(data)) => {
                calendars.insert(name.clone(), data.events);
            }
            Ok(None) => {
                without.push(name.clone());
                calendars.insert(name.clone(), Vec::new());
            }
            Err(error) => {
                return Err(Problem::internal(
                    &format!("reading calendar {name}"),
                    error,
                ));
            }
        }
    }
    // What cannot be planned is the date asked for (the config is valid).
    let decisions = rebound_schedule::simulate_day(plan, date, &calendars)
        .map_err(|e| Problem::bad_request(format!("date {date}: cannot plan it: {e}")))?;
    Ok(Json(PlanReport {
        date,
        decisions: decisions.iter().map(PlannedDecisionView::from).collect(),
        calendars_without_data: without,
    }))
}
