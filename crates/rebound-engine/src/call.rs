//! One scraper call: fetch, store the payload, record. The one place where
//! the order of those steps is decided, and [`Engine::call`] reads as that
//! order:
//!
//! 1. an execution that already completed this call reports its row again;
//! 2. the guards, in their order: lockout (a fan-out entity locked out is
//!    skipped before it gets here, `fanout.rs`), circuit breaker, quota
//!    ([`Engine::guard`]); then, inside the fetcher, the source's rate
//!    limit before every attempt and its retry budget before every inline
//!    retry (`rebound-fetch`, `call.rs`);
//! 3. the fetch, with the previous payload looked up meanwhile;
//! 4. the guards settled: quota, then breaker ([`Engine::settle_guards`]);
//! 5. the payload stored, or the call turned into a `storage` failure;
//! 6. late data judged (a no_data before or after its deadline);
//! 7. the history row written with its completion event (one transaction,
//!    [`crate::handoff`]), then a lockout released on success.
//!
//! Store round trips per call: the breaker read (an update only when it is
//! not closed), the quota take and settle (only with a quota), the
//! previous-payload lookup (concurrent with the fetch), the breaker feed
//! (only when it changes something) and the history row.

use crate::breaker::Gate;
use crate::handoff::{EventFacts, completion_event};
use crate::{Engine, EngineError};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::handoff::Trigger;
use rebound_domain::message::attempts_phrase;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::paths::payload_path;
use rebound_domain::plan::{Scraper, Source};
use rebound_fetch::{CallResult, CallSpec};
use rebound_storage::{
    NewAttempt, NewScraperCall, PayloadRef, QuotaKey, ScraperCallRow, StoreError,
};
use std::collections::{BTreeMap, HashMap};

/// What happened to one scraper call, as reported to the user.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    /// Row id in `scraper_execution_log`.
    pub id: i64,
    pub scraper: String,
    pub source: String,
    /// The parameters this scraper used.
    pub params: BTreeMap<String, String>,
    pub status: ScraperStatus,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error_kind: Option<ErrorKind>,
    /// Why it failed, was skipped or had no data.
    pub message: Option<String>,
    pub duration_ms: i64,
    pub bytes: Option<i64>,
    pub records: Option<usize>,
    /// Pages fetched by a paginated scraper (the failing one included);
    /// `None` without `paginate`.
    pub pages: Option<u32>,
    pub output_uri: Option<String>,
    pub content_hash: Option<String>,
    pub unchanged: bool,
    /// The call stopped because its next retry wait exceeded the inline
    /// limit: when that retry may start (a later run makes it).
    pub deferred_until: Option<DateTime<Utc>>,
    /// `not_yet_available`: when to look again (`recheck`, never after the
    /// deadline). `rebound serve` stores it as a follow-up run.
    pub recheck_at: Option<DateTime<Utc>>,
}

impl CallReport {
    /// Whether this call counts as a failure (a lockout skip does not).
    pub fn is_failure(&self) -> bool {
        rebound_domain::outcome::is_failure_call(self.status, self.error_kind)
    }
}

impl CallReport {
    /// A call as read back from its row: how a rescued or follow-up run
    /// reports a call its execution already completed. `None` for a row
    /// whose status or params cannot be read (the call is then made again).
    pub(crate) fn from_row(row: &ScraperCallRow) -> Option<CallReport> {
        Some(CallReport {
            id: row.id,
            scraper: row.scraper_name.clone(),
            source: row.source_name.clone(),
            params: serde_json::from_str(&row.params).ok()?,
            status: ScraperStatus::parse(&row.status)?,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            http_status: row.http_status.and_then(|s| u16::try_from(s).ok()),
            error_kind: row.error_kind.as_deref().and_then(ErrorKind::parse),
            message: row.error_message.clone(),
            duration_ms: row.duration_ms,
            bytes: row.bytes,
            records: row.record_count.and_then(|n| usize::try_from(n).ok()),
            pages: row.pages.and_then(|n| u32::try_from(n).ok()),
            output_uri: row.output_uri.clone(),
            content_hash: row.content_hash.clone(),
            unchanged: row.unchanged,
            deferred_until: None,
            recheck_at: None,
        })
    }
}

/// The calls an execution already completed (`success` or `no_data`), by
/// scraper, params as stored (redacted JSON) and target date.
pub(crate) type Completed = HashMap<(String, String, NaiveDate), CallReport>;

/// Context of the workflow run a call belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunContext<'a> {
    pub execution_id: &'a str,
    pub workflow_name: &'a str,
    /// Calls of this execution that need not be made again.
    pub completed: &'a Completed,
    /// What started the run (the events' `trigger`).
    pub trigger: Trigger,
}

impl Engine {
    /// The earlier row of this call when its execution already completed
    /// it: a rescued or follow-up run makes only what is still missing.
    pub(crate) fn completed_call(
        &self,
        run: RunContext<'_>,
        scraper_name: &str,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
    ) -> Option<CallReport> {
        if run.completed.is_empty() {
            return None;
        }
        let scraper = self.plan.scrapers.get(scraper_name)?;
        let source = self.plan.sources.get(&scraper.source)?;
        let used = used_params(scraper, source, params);
        let key = (
            scraper_name.to_string(),
            self.plan.redactor.redact_string(&params_to_json(&used)),
            target_date,
        );
        run.completed.get(&key).cloned()
    }
}

impl Engine {
    /// Runs and records one call; `params` must already hold everything the scraper needs.
    pub(crate) async fn call(
        &self,
        scraper_name: &str,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
        run: Option<RunContext<'_>>,
        event_start: Option<DateTime<Utc>>,
    ) -> Result<CallReport, EngineError> {
        if let Some(done) =
            run.and_then(|r| self.completed_call(r, scraper_name, target_date, params))
        {
            tracing::info!(
                scraper = scraper_name,
                id = done.id,
                "Already completed in this execution; not called again."
            );
            return Ok(done);
        }
        let scraper = &self.plan.scrapers[scraper_name];
        let source = &self.plan.sources[&scraper.source];
        let admitted = match self.guard(source).await? {
            Ok(admitted) => admitted,
            Err(refused) => {
                return self
                    .record_no_request(
                        scraper_name,
                        target_date,
                        params,
                        run,
                        ScraperStatus::Skipped,
                        Some(refused.kind),
                        &refused.message,
                    )
                    .await;
            }
        };
        // A half-open probe is one attempt: retrying it would multiply
        // the load on a source that is probably still down.
        let probe_scraper;
        let scraper = if matches!(admitted.gate, Gate::Probe(_)) {
            let mut probe = scraper.clone();
            probe.retry.max_attempts = 1;
            probe_scraper = probe;
            &probe_scraper
        } else {
            scraper
        };
        let used = used_params(scraper, source, params);
        let params_json = self.plan.redactor.redact_string(&params_to_json(&used));
        // The previous payload is looked up while the request is in flight:
        // the lookup is a database round trip that would otherwise add to
        // every call's latency.
        let (result, previous) = tokio::join!(
            self.fetcher.call(CallSpec {
                source,
                scraper,
                params,
            }),
            self.store.last_payload(scraper_name, &params_json)
        );
        self.settle_guards(source, admitted, &result).await?;
        let mut verdict = Verdict::of(&result);
        let stored = self
            .keep_payload(
                scraper_name,
                target_date,
                &used,
                previous,
                &result,
                &mut verdict,
            )
            .await;
        self.judge_late(scraper, target_date, event_start, &result, &mut verdict);
        self.metrics.record_call(
            &source.name,
            result.attempts.iter().map(|a| a.outcome),
            verdict.status,
            (result.finished_at - result.started_at).to_std().ok(),
        );
        let record = self.history_row(
            run,
            scraper_name,
            source,
            params_json,
            target_date,
            &result,
            &verdict,
            &stored,
        );
        let event = completion_event(
            &record,
            self.event_facts(
                scraper,
                &used,
                run,
                result.records,
                result.content_type.as_deref(),
            ),
        );
        let id = self
            .store
            .record_call_with_event(&record, event.as_ref())
            .await?;
        if verdict.status == ScraperStatus::Success {
            // After the row, so the release names a call that exists.
            self.release_on_success(scraper_name, params, id).await?;
        }
        Ok(CallReport {
            id,
            scraper: scraper_name.to_string(),
            source: source.name.clone(),
            params: used,
            status: verdict.status,
            attempts: record.attempts,
            http_status: record.http_status,
            error_kind: verdict.error_kind,
            message: record.error_message,
            duration_ms: record.duration_ms,
            bytes: record.bytes,
            records: result.records,
            pages: result.pages,
            output_uri: stored.uri,
            content_hash: stored.hash,
            unchanged: stored.unchanged,
            deferred_until: result.deferred_until,
            recheck_at: verdict.recheck_at,
        })
    }

    /// What a call's completion event holds beyond its row.
    fn event_facts<'a>(
        &'a self,
        scraper: &'a Scraper,
        used: &BTreeMap<String, String>,
        run: Option<RunContext<'_>>,
        record_count: Option<usize>,
        content_type: Option<&'a str>,
    ) -> EventFacts<'a> {
        EventFacts {
            pipeline: &self.plan.pipeline.name,
            dataset: &scraper.dataset,
            params: used
                .iter()
                .map(|(k, v)| (k.clone(), self.plan.redactor.redact_string(v)))
                .collect(),
            record_count,
            content_type,
            // A call outside any workflow is `rebound scrape`: a person.
            trigger: run.map_or(Trigger::Manual, |r| r.trigger),
        }
    }

    /// The engine's guards before any request, in their order: the
    /// circuit breaker, then the quota. (The lockout of a fan-out entity
    /// came before, in `fanout.rs`; the fetcher applies the rate limit and
    /// the retry budget after.) `Ok(Err(_))`: refused, no request made.
    async fn guard(&self, source: &Source) -> Result<Result<Admitted, Refused>, EngineError> {
        // An open circuit breaker refuses the call before any request.
        let gate = self.breaker_admit(source).await?;
        if let Gate::Reject(message) = gate {
            return Ok(Err(Refused {
                kind: ErrorKind::BreakerOpen,
                message,
            }));
        }
        // A used-up quota refuses it too (quota.rs). Checked after the
        // breaker, so a refused call never uses quota.
        let quota = match self.quota_take(source).await? {
            Ok(quota) => quota,
            Err(message) => {
                return Ok(Err(Refused {
                    kind: ErrorKind::QuotaExhausted,
                    message,
                }));
            }
        };
        Ok(Ok(Admitted { gate, quota }))
    }

    /// Tells the guards the call passed how it went: the quota counts its
    /// retries (or gives the take back), the breaker learns its outcome.
    async fn settle_guards(
        &self,
        source: &Source,
        admitted: Admitted,
        result: &CallResult,
    ) -> Result<(), EngineError> {
        if let Some(quota) = admitted.quota {
            self.quota_settle(source, quota, result).await?;
        }
        self.breaker_feed(
            source,
            &admitted.gate,
            result.status,
            result.error_kind,
            result.message.as_deref(),
        )
        .await
    }

    /// Stores the body of a success or no_data. A body that cannot be
    /// stored turns the call into a `storage` failure.
    async fn keep_payload(
        &self,
        scraper_name: &str,
        target_date: NaiveDate,
        used: &BTreeMap<String, String>,
        previous: Result<Option<PayloadRef>, StoreError>,
        result: &CallResult,
        verdict: &mut Verdict,
    ) -> StoredPayload {
        let Some(body) = &result.body else {
            return StoredPayload::default();
        };
        match self
            .store_payload(scraper_name, target_date, used, previous, body, result)
            .await
        {
            Ok(payload) => payload,
            Err(detail) => {
                // The data arrived but is not kept: that is a failure,
                // or downstream would believe in a payload that is not there.
                verdict.status = ScraperStatus::Failed;
                verdict.error_kind = Some(ErrorKind::Storage);
                verdict.message = Some(format!(
                    "fetched {} bytes ({}) but could not store the payload: {detail}",
                    body.len(),
                    attempts_phrase(result.attempts.len() as u32)
                ));
                StoredPayload::default()
            }
        }
    }

    /// A scraper that declared when its data is due: a no_data is "not
    /// yet available" before the deadline, "overdue" (a failure) after.
    fn judge_late(
        &self,
        scraper: &Scraper,
        target_date: NaiveDate,
        event_start: Option<DateTime<Utc>>,
        result: &CallResult,
        verdict: &mut Verdict,
    ) {
        if let (ScraperStatus::NoData, Some(expected)) = (verdict.status, &scraper.expected) {
            let late = rebound_domain::late::judge_no_data(
                expected,
                self.plan.pipeline.timezone,
                target_date,
                event_start,
                result.finished_at,
                verdict.message.as_deref(),
            );
            verdict.status = late.status;
            verdict.message = Some(late.message);
            verdict.recheck_at = late.recheck_at;
        }
    }

    /// The call's history row, its attempts included, every message redacted.
    #[allow(clippy::too_many_arguments)] // One call site; the row needs every one of them.
    fn history_row(
        &self,
        run: Option<RunContext<'_>>,
        scraper_name: &str,
        source: &Source,
        params_json: String,
        target_date: NaiveDate,
        result: &CallResult,
        verdict: &Verdict,
        stored: &StoredPayload,
    ) -> NewScraperCall {
        let redact =
            |text: &Option<String>| text.as_deref().map(|t| self.plan.redactor.redact_string(t));
        let duration_ms = (result.finished_at - result.started_at).num_milliseconds();
        NewScraperCall {
            execution_id: run.map(|r| r.execution_id.to_string()),
            workflow_name: run.map(|r| r.workflow_name.to_string()),
            scraper_name: scraper_name.to_string(),
            source_name: source.name.clone(),
            params: params_json,
            target_date,
            status: verdict.status,
            attempts: result.attempts.len() as u32,
            http_status: result.http_status,
            error_kind: verdict.error_kind,
            error_message: redact(&verdict.message),
            started_at: result.started_at,
            finished_at: result.finished_at,
            duration_ms,
            bytes: result.body.as_ref().map(|b| b.len() as i64),
            output_uri: stored.uri.clone(),
            content_hash: stored.hash.clone(),
            unchanged: stored.unchanged,
            pages: result.pages,
            record_count: record_count(
                self.plan
                    .scrapers
                    .get(scraper_name)
                    .and_then(|s| s.records.as_deref()),
                result,
                stored,
            ),
            attempt_rows: result
                .attempts
                .iter()
                .map(|a| NewAttempt {
                    attempt: a.attempt,
                    page: a.page,
                    proxy: a.proxy.map(i64::from),
                    started_at: a.started_at,
                    finished_at: a.finished_at,
                    http_status: a.http_status,
                    outcome: a.outcome,
                    error_kind: a.error_kind,
                    error_message: redact(&a.message),
                    delay_before_ms: a.delay_before.as_millis() as i64,
                })
                .collect(),
        }
    }

    /// Records a row for a scraper that made no request: skipped for a
    /// failed dependency, or a fan-out that had nothing (or nothing
    /// readable) to fan out over. `message` must say why.
    #[allow(clippy::too_many_arguments)] // Three call sites, each naming every field anyway.
    pub(crate) async fn record_without_call(
        &self,
        scraper_name: &str,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
        run: RunContext<'_>,
        status: ScraperStatus,
        error_kind: Option<ErrorKind>,
        message: &str,
    ) -> Result<CallReport, EngineError> {
        self.record_no_request(
            scraper_name,
            target_date,
            params,
            Some(run),
            status,
            error_kind,
            message,
        )
        .await
    }

    /// [`Engine::record_without_call`], also outside a workflow run
    /// (`rebound scrape` refused by a breaker or a quota).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn record_no_request(
        &self,
        scraper_name: &str,
        target_date: NaiveDate,
        params: &BTreeMap<String, String>,
        run: Option<RunContext<'_>>,
        status: ScraperStatus,
        error_kind: Option<ErrorKind>,
        message: &str,
    ) -> Result<CallReport, EngineError> {
        let scraper = &self.plan.scrapers[scraper_name];
        let source = &self.plan.sources[&scraper.source];
        let used = used_params(scraper, source, params);
        let message = self.plan.redactor.excerpt(message, 500);
        let now = self.clock.now();
        // No request, so no attempt and no duration; the call still counts.
        self.metrics.record_call(&source.name, [], status, None);
        let record = NewScraperCall {
            execution_id: run.map(|r| r.execution_id.to_string()),
            workflow_name: run.map(|r| r.workflow_name.to_string()),
            scraper_name: scraper_name.to_string(),
            source_name: source.name.clone(),
            params: self.plan.redactor.redact_string(&params_to_json(&used)),
            target_date,
            status,
            attempts: 0,
            http_status: None,
            error_kind,
            error_message: Some(message.clone()),
            started_at: now,
            finished_at: now,
            duration_ms: 0,
            bytes: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
            pages: None,
            record_count: None,
            attempt_rows: Vec::new(),
        };
        let event = completion_event(&record, self.event_facts(scraper, &used, run, None, None));
        let id = self
            .store
            .record_call_with_event(&record, event.as_ref())
            .await?;
        Ok(CallReport {
            id,
            scraper: scraper_name.to_string(),
            source: source.name.clone(),
            params: used,
            status,
            attempts: 0,
            http_status: None,
            error_kind,
            message: Some(message),
            duration_ms: 0,
            bytes: None,
            records: None,
            pages: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
            deferred_until: None,
            recheck_at: None,
        })
    }

    /// Hashes the payload and writes it unless it equals the previous
    /// payload of this scraper with these parameters and that payload's
    /// object still exists.
    async fn store_payload(
        &self,
        scraper_name: &str,
        target_date: NaiveDate,
        used: &BTreeMap<String, String>,
        previous: Result<Option<PayloadRef>, StoreError>,
        body: &Bytes,
        result: &CallResult,
    ) -> Result<StoredPayload, String> {
        // A body that echoes the request may carry a secret; the raw store
        // is as readable as the database, so the secret is masked there too
        // (without breaking the payload: see `mask`).
        let body = match crate::mask::mask_payload(&self.plan.redactor, body) {
            std::borrow::Cow::Borrowed(_) => body.clone(),
            std::borrow::Cow::Owned(masked) => Bytes::from(masked),
        };
        let hash = blake3::hash(&body).to_hex().to_string();
        let previous = previous.map_err(|e| e.to_string())?;
        // The earlier object may have been deleted outside Rebound since;
        // a row pointing at it would then claim a payload nobody has, so
        // a missing one is stored again (a new object, not unchanged).
        if let Some(previous) = previous.filter(|p| p.content_hash == hash)
            && self
                .raw
                .confirm_exists(&previous.output_uri, self.clock.now())
                .await
        {
            return Ok(StoredPayload {
                uri: Some(previous.output_uri),
                hash: Some(hash),
                unchanged: true,
            });
        }
        let scraper = &self.plan.scrapers[scraper_name];
        let extension = rebound_raw::extension_for(result.content_type.as_deref(), &body);
        let path_params: BTreeMap<String, String> = used
            .iter()
            .filter(|(k, _)| !rebound_domain::template::BUILTIN_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), self.plan.redactor.redact_string(v)))
            .collect();
        let path = payload_path(
            &scraper.dataset,
            target_date,
            scraper_name,
            &path_params,
            result.finished_at,
            &hash,
            extension,
        );
        let uri = self.raw.put(&path, body).await.map_err(|e| e.to_string())?;
        Ok(StoredPayload {
            uri: Some(uri),
            hash: Some(hash),
            unchanged: false,
        })
    }
}

/// What the guards before the request decided, kept to settle them after it.
struct Admitted {
    /// The breaker's verdict: allowed, or the half-open probe.
    gate: Gate,
    /// The quota period the call was counted in, when the source has a quota.
    quota: Option<QuotaKey>,
}

/// A guard's refusal: the call is recorded as skipped, with no request.
struct Refused {
    kind: ErrorKind,
    message: String,
}

/// The call's status, as the steps after the fetch revise it: a payload
/// that cannot be stored makes it a failure, late-data rules judge a no_data.
struct Verdict {
    status: ScraperStatus,
    error_kind: Option<ErrorKind>,
    /// Not yet redacted: [`Engine::history_row`] redacts it.
    message: Option<String>,
    recheck_at: Option<DateTime<Utc>>,
}

impl Verdict {
    fn of(result: &CallResult) -> Verdict {
        Verdict {
            status: result.status,
            error_kind: result.error_kind,
            message: result.message.clone(),
            recheck_at: None,
        }
    }
}

#[derive(Debug, Default)]
struct StoredPayload {
    uri: Option<String>,
    hash: Option<String>,
    unchanged: bool,
}

/// `record_count` of a call's row: the records of the payload it stored
/// (or found unchanged). A success already counted them (every page's, for
/// a paginated call); a no_data payload is counted here, 0 when its
/// records are missing, null or empty. `None` without a `records` pointer,
/// without a stored payload, or when the payload is not JSON.
fn record_count(pointer: Option<&str>, result: &CallResult, stored: &StoredPayload) -> Option<i64> {
    let pointer = pointer?;
    stored.uri.as_ref()?;
    if let Some(n) = result.records {
        return i64::try_from(n).ok();
    }
    let body = result.body.as_ref()?;
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(match document.pointer(pointer) {
        Some(serde_json::Value::Array(items)) => i64::try_from(items.len()).unwrap_or(i64::MAX),
        _ => 0,
    })
}

/// The parameters a scraper's templates actually use, and those its
/// fan-out binds (an item's identity even where no template uses it): what
/// identifies "the same call" for history and for unchanged-payload
/// detection.
pub(crate) fn used_params(
    scraper: &Scraper,
    source: &Source,
    params: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    scraper
        .required_params(source)
        .into_iter()
        .chain(scraper.fan_out_params().into_iter().map(String::from))
        .filter_map(|name| params.get(&name).map(|v| (name, v.clone())))
        .collect()
}

/// Parameters as a JSON object with sorted keys (a `BTreeMap` keeps them
/// sorted), so equal parameters always give equal text.
pub(crate) fn params_to_json(params: &BTreeMap<String, String>) -> String {
    serde_json::to_string(params).unwrap_or_else(|_| "{}".to_string())
}
