//! The mutations: the original service's `/scrape`, `/execute-workflow`
//! and `/evaluate`, and the operator's breaker and lockout resets. Each
//! goes through the entry point the CLI and the service use for the same
//! work (`Engine::run_scraper_as`, `Engine::run_workflow_with`,
//! `Scheduler::tick`, `Store::reset_breaker`, `Store::release_lockouts`),
//! so what they record is what `rebound scrape`, `rebound run` and
//! `rebound serve` record.

use super::reads::parse_target_date;
use super::types::{BreakerReset, CallReportView, LockoutsReleased, RunAccepted, RunReportView};
use super::{JsonBody, NoBody, NoQuery, PathParam, Problem, QueryParams, unknown};
use crate::http::Web;
use crate::scheduler::{RecordedDecision, Scheduler};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use rebound_domain::duration::{format_duration, parse_duration};
use rebound_domain::handoff::Trigger;
use rebound_domain::plan::ParamsFor;
use rebound_engine::{EngineError, RunOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// The longest `?wait=`: a client wanting longer polls `Location`.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// An engine error as a problem: what the caller asked for wrong is 400
/// (an unknown name is 404), a failure while running is 500.
fn engine_problem(error: EngineError) -> Problem {
    match &error {
        EngineError::UnknownScraper { .. } | EngineError::UnknownWorkflow { .. } => {
            Problem::not_found(error.to_string())
        }
        // The engine's words name the CLI's flags; the API's caller sends
        // a body.
        EngineError::MissingParams { scraper, missing } => {
            let names: Vec<String> = missing.iter().map(|m| format!("{{{m}}}")).collect();
            Problem::bad_request(format!(
                "params: scraper {scraper} needs {} {}: {}",
                if missing.len() == 1 {
                    "parameter"
                } else {
                    "parameters"
                },
                names.join(", "),
                missing_hint(missing)
            ))
        }
        EngineError::BuiltinParam { name } => Problem::bad_request(format!(
            "params: {name} is built in: {}",
            builtin_hint(name)
        )),
        _ if error.is_usage() => Problem::bad_request(error.to_string()),
        _ => Problem::internal("running", error),
    }
}

/// How the missing parameters can be supplied, in the API's terms (the
/// engine's words name `--param` and `--slot`).
fn missing_hint(missing: &[String]) -> String {
    use rebound_domain::params::{SEASON_PARAMS, SLOT_PARAMS};
    let mut hints: Vec<String> = Vec::new();
    let given: Vec<&str> = missing
        .iter()
        .map(String::as_str)
        .filter(|m| !SLOT_PARAMS.contains(m) && !SEASON_PARAMS.contains(m))
        .collect();
    if !given.is_empty() {
        let pairs: Vec<String> = given
            .iter()
            .map(|m| format!("\"{m}\": \"VALUE\""))
            .collect();
        hints.push(format!(
            "give {} in the request body's \"params\" ({{{}}})",
            if given.len() == 1 { "it" } else { "them" },
            pairs.join(", ")
        ));
    }
    if missing.iter().any(|m| SLOT_PARAMS.contains(&m.as_str())) {
        hints.push(builtin_hint("slot_hour").to_string());
    }
    if missing.iter().any(|m| SEASON_PARAMS.contains(&m.as_str())) {
        hints.push("set [pipeline] season_start (e.g. \"10-01\") to supply the season".to_string());
    }
    hints.join("; ")
}

/// Where a built-in parameter's value comes from, in the API's terms.
fn builtin_hint(name: &str) -> &'static str {
    use rebound_domain::params::{SEASON_PARAMS, SLOT_PARAMS};
    if SLOT_PARAMS.contains(&name) {
        "it comes from a scheduled slot, which a call or run started over the API does not have (the CLI's --slot HH:MM sets one)"
    } else if SEASON_PARAMS.contains(&name) {
        "it comes from the target date (\"date\") and [pipeline] season_start"
    } else {
        "set the target date with \"date\": \"YYYY-MM-DD\" in the request body instead"
    }
}

fn target_date(web: &Web, text: Option<&str>) -> Result<NaiveDate, Problem> {
    match text {
        Some(text) => parse_target_date("date", text),
        None => {
            let tz = web.engine.plan().pipeline.timezone;
            Ok(web.clock.now().with_timezone(&tz).date_naive())
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScrapeRequest {
    /// The scraper to call.
    scraper: String,
    /// Its target date, YYYY-MM-DD (default: today in the pipeline's zone).
    date: Option<String>,
    /// Values of its `{param}`s, e.g. `{"game_id": "0022600301"}`.
    params: Option<BTreeMap<String, String>>,
}

/// Runs one call of a scraper now, outside any workflow (`rebound
/// scrape`), and answers its record.
#[utoipa::path(post, path = "/api/v1/scrape", tag = "mutations", request_body = ScrapeRequest,
    responses((status = 200, description = "The call's record (its status says how it went)", body = CallReportView)))]
pub(crate) async fn scrape(
    State(web): State<Arc<Web>>,
    _: NoQuery,
    JsonBody(body): JsonBody<ScrapeRequest>,
) -> Result<Json<CallReportView>, Problem> {
    refuse_in_web_role(&web, "call a scraper")?;
    let plan = web.engine.plan();
    if body.scraper.is_empty() {
        return Err(Problem::bad_request(
            "request body: missing field `scraper` (the scraper to call)",
        ));
    }
    if !plan.scrapers.contains_key(&body.scraper) {
        return Err(unknown("scraper", &body.scraper, plan.scrapers.keys()));
    }
    let date = target_date(&web, body.date.as_deref())?;
    let params = body.params.unwrap_or_default();
    if let Some(why) = plan.unknown_param(ParamsFor::Scraper(&body.scraper), &params) {
        return Err(Problem::bad_request(format!("params: {why}")));
    }
    let report = web
        .engine
        .run_scraper_as(&body.scraper, date, &params, None, Trigger::Manual)
        .await
        .map_err(engine_problem)?;
    // What the API itself did shows in its health at once.
    web.health.clear();
    Ok(Json(CallReportView::from(&report)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRequest {
    /// The run's target date, YYYY-MM-DD (default: today in the pipeline's
    /// zone).
    date: Option<String>,
    /// Values of the workflow's `{param}`s.
    params: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct WaitQuery {
    /// How long to wait for the run to finish before answering 202, e.g.
    /// "30s" (default "0s": answer as soon as it started; at most "5m").
    wait: Option<String>,
}

/// Runs a workflow now (`rebound run`). Answers `202 Accepted` with its
/// execution id and `Location: /api/v1/runs/{execution_id}` once it has
/// started, or, with `?wait=`, `200` and its report if it finished in that
/// time.
#[utoipa::path(post, path = "/api/v1/workflows/{name}/runs", tag = "mutations",
    params(("name" = String, Path, description = "The workflow to run"), WaitQuery),
    request_body(content = RunRequest, description = "Optional: target date and parameters"),
    responses(
        (status = 200, description = "The run finished within `wait`", body = RunReportView),
        (status = 202, description = "The run started; poll `Location`", body = RunAccepted,
            headers(("Location" = String, description = "/api/v1/runs/{execution_id}")))))]
pub(crate) async fn run_workflow(
    State(web): State<Arc<Web>>,
    PathParam(name): PathParam,
    QueryParams(query): QueryParams<WaitQuery>,
    JsonBody(body): JsonBody<RunRequest>,
) -> Result<Response, Problem> {
    refuse_in_web_role(&web, "run a workflow")?;
    let plan = web.engine.plan();
    if !plan.workflows.contains_key(&name) {
        return Err(unknown("workflow", &name, plan.workflows.keys()));
    }
    let wait = match query.wait.as_deref() {
        None => Duration::ZERO,
        Some(text) => {
            let wait = parse_duration(text)
                .map_err(|e| Problem::bad_request(format!("wait \"{text}\": {e}")))?;
            if wait > MAX_WAIT {
                return Err(Problem::bad_request(format!(
                    "wait \"{text}\": expected at most {}; poll the run's Location for longer runs",
                    format_duration(MAX_WAIT)
                )));
            }
            wait
        }
    };
    let date = target_date(&web, body.date.as_deref())?;
    let params = body.params.unwrap_or_default();
    if let Some(why) = plan.unknown_param(ParamsFor::Workflow(&name), &params) {
        return Err(Problem::bad_request(format!("params: {why}")));
    }
    let execution_id = uuid::Uuid::now_v7().to_string();
    let options = RunOptions {
        execution_id: Some(execution_id.clone()),
        ..Default::default()
    };
    // The run goes on when the client stops waiting (or disconnects): it is
    // recorded like any other and can be polled. It runs among the
    // service's API runs, which a stop lets finish within the grace period.
    let service = web.clone();
    let workflow = name.clone();
    let (done, mut running) = tokio::sync::oneshot::channel();
    web.api_runs.spawn(async move {
        let result = service
            .engine
            .run_workflow_with(&workflow, date, &params, &options)
            .await;
        service.health.clear();
        let _ = done.send(result);
    });
    // Waiting is about the HTTP exchange, not the schedule: real time.
    let waited = tokio::time::Instant::now();
    loop {
        tokio::select! {
            joined = &mut running => {
                return match joined {
                    Ok(Ok(report)) => Ok(Json(RunReportView::from(&report)).into_response()),
                    Ok(Err(error)) => Err(engine_problem(error)),
                    // The documented answer of a stop: a warning, not an
                    // error of the service (it logged ERROR after "stopped").
                    Err(_) => {
                        tracing::warn!(workflow = %name, "A run started over the API was stopped with the service.");
                        Err(Problem::new(
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "running the workflow failed: the run ended without a result (the service is stopping)",
                        ))
                    }
                };
            }
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if waited.elapsed() < wait {
                    continue;
                }
                // Answer 202 only once the run's row exists, so polling
                // Location finds it (a run refused before it starts
                // answers its problem above instead).
                let started = web
                    .engine
                    .store()
                    .workflow_execution(&execution_id)
                    .await
                    .map_err(|e| Problem::internal("reading the run", e))?
                    .is_some();
                if started {
                    return Ok(accepted(execution_id, name, date));
                }
            }
        }
    }
}

fn accepted(execution_id: String, workflow: String, target_date: NaiveDate) -> Response {
    let location = format!("/api/v1/runs/{execution_id}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(RunAccepted {
            execution_id,
            location: location.clone(),
            workflow,
            target_date,
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// One decision of `POST /api/v1/evaluate`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EvaluatedDecision {
    pub workflow: String,
    pub slot: String,
    pub target_date: NaiveDate,
    /// `run`, `skip` or `abort`.
    pub action: String,
    pub reason: String,
    pub entities: Vec<String>,
    /// True when this RUN queued a run (false: its slot was taken).
    pub queued: bool,
    pub execution_id: Option<String>,
}

impl From<&RecordedDecision> for EvaluatedDecision {
    fn from(d: &RecordedDecision) -> Self {
        EvaluatedDecision {
            workflow: d.workflow.clone(),
            slot: d.slot.clone(),
            target_date: d.target_date,
            action: d.action.as_str().to_ascii_lowercase(),
            reason: d.reason.clone(),
            entities: d.entities.clone(),
            queued: d.queued,
            execution_id: d.execution_id.clone(),
        }
    }
}

/// `POST /api/v1/evaluate`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Evaluation {
    /// The decisions of this pass; RUNs were queued for the workers.
    pub decisions: Vec<EvaluatedDecision>,
}

/// Runs one scheduling pass now over every scheduled workflow (the
/// original's `/evaluate`) and answers its decisions. Runs it queues are
/// executed by the workers as usual.
#[utoipa::path(post, path = "/api/v1/evaluate", tag = "mutations",
    responses((status = 200, description = "The decisions of the pass", body = Evaluation)))]
pub(crate) async fn evaluate(
    State(web): State<Arc<Web>>,
    _: NoQuery,
    _: NoBody,
) -> Result<Json<Evaluation>, Problem> {
    refuse_in_web_role(&web, "evaluate the schedules")?;
    // A scheduler of its own with nothing remembered: every scheduled
    // workflow is evaluated now. Slots are claimed in the store, so a
    // pass here and the service's loop never queue one slot twice.
    let scheduler = Scheduler::new(
        web.engine.clone(),
        web.clock.clone(),
        crate::instance_name(&web.host, "api"),
        web.wake.clone(),
    );
    let report = scheduler
        .tick()
        .await
        .map_err(|e| Problem::internal("evaluating the schedules", e))?;
    Ok(Json(Evaluation {
        decisions: report
            .decisions
            .iter()
            .map(EvaluatedDecision::from)
            .collect(),
    }))
}

/// Closes a source's circuit breaker by hand (`rebound breakers reset`).
#[utoipa::path(post, path = "/api/v1/breakers/{source}/reset", tag = "mutations",
    params(("source" = String, Path, description = "The source whose breaker to close")),
    responses((status = 200, description = "The breaker is closed", body = BreakerReset)))]
pub(crate) async fn reset_breaker(
    State(web): State<Arc<Web>>,
    PathParam(source): PathParam,
    _: NoQuery,
    _: NoBody,
) -> Result<Json<BreakerReset>, Problem> {
    let plan = web.engine.plan();
    if !plan.sources.contains_key(&source) {
        return Err(unknown("source", &source, plan.sources.keys()));
    }
    let made = web
        .engine
        .store()
        .reset_breaker(&source, web.clock.now(), "reset by operator (API)")
        .await
        .map_err(|e| Problem::internal("resetting the breaker", e))?;
    // The operator reads health next and must see the reset.
    web.health.clear();
    Ok(Json(BreakerReset {
        source,
        reset: !made.is_empty(),
        was: made
            .first()
            .map_or("closed", |t| t.from.as_str())
            .to_string(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LockoutsResetRequest {
    /// The scraper whose lockouts to release.
    scraper: String,
    /// Only this entity's (default: every entity of the scraper).
    entity: Option<String>,
}

/// Releases entity lockouts by hand (`rebound lockouts reset`).
#[utoipa::path(post, path = "/api/v1/lockouts/reset", tag = "mutations",
    request_body = LockoutsResetRequest,
    responses(
        (status = 200, description = "How many locks were released (0 when no entity was named and the scraper holds none)", body = LockoutsReleased),
        (status = 404, description = "An unknown scraper (the detail lists those the config defines), or an entity named that holds no lock of the scraper", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn reset_lockouts(
    State(web): State<Arc<Web>>,
    _: NoQuery,
    JsonBody(body): JsonBody<LockoutsResetRequest>,
) -> Result<Json<LockoutsReleased>, Problem> {
    let plan = web.engine.plan();
    if body.scraper.is_empty() {
        return Err(Problem::bad_request(
            "request body: missing field `scraper` (whose lockouts to release)",
        ));
    }
    // An empty entity names none: it was looked up and answered 404 "holds
    // no lock", as `rebound lockouts reset SCRAPER ""` refuses it.
    if body.entity.as_deref() == Some("") {
        return Err(Problem::bad_request(
            "entity \"\": expected an entity's id; leave entity out to release every lock of the scraper",
        ));
    }
    let resettable =
        super::reports::lockouts_resettable(plan, web.engine.store().as_ref(), &body.scraper)
            .await
            .map_err(|e| Problem::internal("reading lockouts", e))?;
    if !resettable {
        return Err(unknown("scraper", &body.scraper, plan.scrapers.keys()));
    }
    let released = web
        .engine
        .store()
        .release_lockouts(
            &body.scraper,
            body.entity.as_deref(),
            web.clock.now(),
            "reset by operator (API)",
        )
        .await
        .map_err(|e| Problem::internal("releasing lockouts", e))?;
    // An entity named that holds no lock is a request that found nothing
    // to act on (a mistyped id, or one released already), as `rebound
    // lockouts reset SCRAPER ENTITY` exits 1 for it: a 404 saying so, as
    // an unknown run id is. A scraper with no locks at all is left as it
    // was asked to be (as a reset of a closed breaker): 200, released 0.
    if released == 0
        && let Some(entity) = &body.entity
    {
        return Err(Problem::not_found(format!(
            "entity \"{entity}\" holds no lock of scraper \"{}\"; nothing released (GET /api/v1/lockouts lists the locked entities)",
            body.scraper
        )));
    }
    web.health.clear();
    Ok(Json(LockoutsReleased {
        scraper: body.scraper,
        entity: body.entity,
        released,
    }))
}

/// A 409 in `--role web`, which runs, schedules and sends nothing: the
/// API made calls and queued runs there that no worker of it would take.
fn refuse_in_web_role(web: &Web, what: &str) -> Result<(), Problem> {
    if web.runs_nothing {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!(
                "this process serves --role web, which runs, schedules and sends nothing: {what} through a process with the scheduler or worker role"
            ),
        ));
    }
    Ok(())
}
