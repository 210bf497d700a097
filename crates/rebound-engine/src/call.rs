//! One scraper call: fetch, store the payload, record. The one place where
//! the order of those steps is decided.

use crate::breaker::Gate;
use crate::{Engine, EngineError};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::message::attempts_phrase;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::paths::payload_path;
use rebound_domain::plan::{Scraper, Source};
use rebound_fetch::{CallResult, CallSpec};
use rebound_storage::{NewAttempt, NewScraperCall, PayloadRef, ScraperCallRow, StoreError};
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
            records: None,
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
        // An open circuit breaker refuses the call before any request.
        let gate = self.breaker_admit(source).await?;
        if let Gate::Reject(message) = &gate {
            return self
                .record_no_request(
                    scraper_name,
                    target_date,
                    params,
                    run,
                    ScraperStatus::Skipped,
                    Some(ErrorKind::BreakerOpen),
                    message,
                )
                .await;
        }
        // A used-up quota refuses it too (quota.rs). Checked after the
        // breaker, so a refused call never uses quota.
        let quota = match self.quota_take(source).await? {
            Ok(quota) => quota,
            Err(message) => {
                return self
                    .record_no_request(
                        scraper_name,
                        target_date,
                        params,
                        run,
                        ScraperStatus::Skipped,
                        Some(ErrorKind::QuotaExhausted),
                        &message,
                    )
                    .await;
            }
        };
        // A half-open probe is one attempt: retrying it would multiply
        // the load on a source that is probably still down.
        let probe_scraper;
        let scraper = if matches!(gate, Gate::Probe(_)) {
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
        if let Some(quota) = quota {
            self.quota_settle(source, quota, &result).await?;
        }
        self.breaker_feed(
            source,
            &gate,
            result.status,
            result.error_kind,
            result.message.as_deref(),
        )
        .await?;
        let mut stored = StoredPayload::default();
        let mut status = result.status;
        let mut error_kind = result.error_kind;
        let mut message = result.message.clone();
        if let Some(body) = &result.body {
            match self
                .store_payload(scraper_name, target_date, &used, previous, body, &result)
                .await
            {
                Ok(payload) => stored = payload,
                Err(detail) => {
                    // The data arrived but is not kept: that is a failure,
                    // or downstream would believe in a payload that is not there.
                    status = ScraperStatus::Failed;
                    error_kind = Some(ErrorKind::Storage);
                    message = Some(format!(
                        "fetched {} bytes ({}) but could not store the payload: {detail}",
                        body.len(),
                        attempts_phrase(result.attempts.len() as u32)
                    ));
                }
            }
        }
        // A scraper that declared when its data is due: a no_data is "not
        // yet available" before the deadline, "overdue" (a failure) after.
        let mut recheck_at = None;
        if let (ScraperStatus::NoData, Some(expected)) = (status, &scraper.expected) {
            let verdict = rebound_domain::late::judge_no_data(
                expected,
                self.plan.pipeline.timezone,
                target_date,
                event_start,
                result.finished_at,
                message.as_deref(),
            );
            status = verdict.status;
            message = Some(verdict.message);
            recheck_at = verdict.recheck_at;
        }
        let redact =
            |text: &Option<String>| text.as_deref().map(|t| self.plan.redactor.redact_string(t));
        let message = redact(&message);
        let duration_ms = (result.finished_at - result.started_at).num_milliseconds();
        self.metrics.record_call(
            &source.name,
            result.attempts.iter().map(|a| a.outcome),
            status,
            (result.finished_at - result.started_at).to_std().ok(),
        );
        let record = NewScraperCall {
            execution_id: run.map(|r| r.execution_id.to_string()),
            workflow_name: run.map(|r| r.workflow_name.to_string()),
            scraper_name: scraper_name.to_string(),
            source_name: source.name.clone(),
            params: params_json,
            target_date,
            status,
            attempts: result.attempts.len() as u32,
            http_status: result.http_status,
            error_kind,
            error_message: message.clone(),
            started_at: result.started_at,
            finished_at: result.finished_at,
            duration_ms,
            bytes: result.body.as_ref().map(|b| b.len() as i64),
            output_uri: stored.uri.clone(),
            content_hash: stored.hash.clone(),
            unchanged: stored.unchanged,
            attempt_rows: result
                .attempts
                .iter()
                .map(|a| NewAttempt {
                    attempt: a.attempt,
                    started_at: a.started_at,
                    finished_at: a.finished_at,
                    http_status: a.http_status,
                    outcome: a.outcome,
                    error_kind: a.error_kind,
                    error_message: redact(&a.message),
                    delay_before_ms: a.delay_before.as_millis() as i64,
                })
                .collect(),
        };
        let id = self.store.record_scraper_call(&record).await?;
        if status == ScraperStatus::Success {
            // After the row, so the release names a call that exists.
            self.release_on_success(scraper_name, params, id).await?;
        }
        Ok(CallReport {
            id,
            scraper: scraper_name.to_string(),
            source: source.name.clone(),
            params: used,
            status,
            attempts: record.attempts,
            http_status: record.http_status,
            error_kind,
            message,
            duration_ms,
            bytes: record.bytes,
            records: result.records,
            output_uri: stored.uri,
            content_hash: stored.hash,
            unchanged: stored.unchanged,
            deferred_until: result.deferred_until,
            recheck_at,
        })
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
            attempt_rows: Vec::new(),
        };
        let id = self.store.record_scraper_call(&record).await?;
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

#[derive(Debug, Default)]
struct StoredPayload {
    uri: Option<String>,
    hash: Option<String>,
    unchanged: bool,
}

/// The parameters a scraper's templates actually use: what identifies
/// "the same call" for history and for unchanged-payload detection.
pub(crate) fn used_params(
    scraper: &Scraper,
    source: &Source,
    params: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    scraper
        .required_params(source)
        .into_iter()
        .filter_map(|name| params.get(&name).map(|v| (name, v.clone())))
        .collect()
}

/// Parameters as a JSON object with sorted keys (a `BTreeMap` keeps them
/// sorted), so equal parameters always give equal text.
pub(crate) fn params_to_json(params: &BTreeMap<String, String>) -> String {
    serde_json::to_string(params).unwrap_or_else(|_| "{}".to_string())
}
