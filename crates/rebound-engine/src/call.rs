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
//! 3. the fetch, with the previous payload looked up meanwhile (a
//!    `conditional` scraper first reads the previous success's validators,
//!    which the fetch sends);
//! 4. the guards settled: quota, then breaker ([`Engine::settle_guards`]);
//! 5. a `transform` run on the document (`transform.rs`), whose failure is
//!    the call's (kind `transform`) but not the breaker's;
//! 6. the payload stored (a transform's output, then its document; after a
//!    304, nothing: the revalidated payload stands), or the call turned
//!    into a `storage` failure;
//! 7. late data judged (a no_data before or after its deadline);
//! 8. the history row written with its completion event, its
//!    `call_outputs` and validators (one transaction, [`crate::handoff`]),
//!    then a lockout released on success.
//!
//! Store round trips per call: the breaker read (an update only when it is
//! not closed), the quota take and settle (only with a quota), the
//! previous-payload lookup (concurrent with the fetch), the validators
//! lookup (only for `conditional` scrapers, before the fetch), the breaker
//! feed (only when it changes something) and the history row.

use crate::breaker::Gate;
use crate::handoff::{EventFacts, completion_event};
use crate::{Engine, EngineError};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use rebound_domain::document::PayloadFormat;
use rebound_domain::handoff::Trigger;
use rebound_domain::message::attempts_phrase;
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_domain::paths::payload_path;
use rebound_domain::plan::{Scraper, Source};
use rebound_fetch::{CallResult, CallSpec, Revalidate};
use rebound_storage::{
    NewAttempt, NewCallOutput, NewScraperCall, OutputRole, PayloadRef, QuotaKey, ScraperCallRow,
    StoreError,
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
        standalone: Trigger,
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
                        standalone,
                        ScraperStatus::Skipped,
                        Some(refused.kind),
                        &refused.message,
                    )
                    .await;
            }
        };
        // A half-open probe is one attempt: retrying it would multiply
        // the load on a source that is probably still down.
        let trial = matches!(admitted.gate, Gate::Probe(_));
        // Whether a retry would have come outside the trial: "not retried"
        // is only true of a scraper that retries at all.
        let would_retry = scraper.retry.max_attempts > 1;
        let probe_scraper;
        let scraper = if trial {
            let mut probe = scraper.clone();
            probe.retry.max_attempts = 1;
            probe_scraper = probe;
            &probe_scraper
        } else {
            scraper
        };
        let used = used_params(scraper, source, params);
        let params_json = self.plan.redactor.redact_string(&params_to_json(&used));
        // A conditional request needs the previous call's validators
        // before it is sent: one more round trip, for those scrapers only.
        let validators = if scraper.conditional {
            self.store
                .last_validators(scraper_name, &params_json)
                .await?
        } else {
            None
        };
        // A 304 points the call at the payload the validators came with;
        // when that object is gone (purged by retention, deleted outside
        // Rebound) the row would claim a payload nobody has, so the
        // request is sent without validators and the answer stored anew.
        let validators = match validators {
            Some(v)
                if !self
                    .raw
                    .confirm_exists(&v.output_uri, self.clock.now())
                    .await =>
            {
                tracing::info!(
                    scraper = scraper_name,
                    uri = %v.output_uri,
                    "The payload to revalidate is gone; requesting it in full."
                );
                None
            }
            other => other,
        };
        let revalidate = validators.as_ref().map(|v| Revalidate {
            etag: v.etag.clone(),
            last_modified: v.last_modified.clone(),
        });
        // The previous payload is looked up while the request is in flight:
        // the lookup is a database round trip that would otherwise add to
        // every call's latency.
        let pages = crate::pages::PageGuards::new(self, source, admitted.quota.as_ref());
        let (result, previous) = tokio::join!(
            self.fetcher.call_guarded(
                CallSpec {
                    source,
                    scraper,
                    params,
                },
                revalidate.as_ref(),
                &pages,
            ),
            self.store.last_payload(scraper_name, &params_json)
        );
        let pages_counted = pages.counted();
        let pages_unavailable = pages.unavailable();
        self.settle_guards(source, admitted, pages_counted, &result)
            .await?;
        // The history went away during the call: the run stops here and is
        // made again once its lease runs out (the worker leaves it so), as
        // it would when the call's own record failed. Taken for a storage
        // failure, it would end the run failed for an outage of seconds.
        let previous = match previous {
            Err(StoreError::Unavailable(detail)) => {
                return Err(StoreError::Unavailable(detail).into());
            }
            previous => previous,
        };
        // The same when a later page's guard met the outage.
        if let Some(detail) = pages_unavailable {
            return Err(StoreError::Unavailable(detail).into());
        }
        // After the guards: the breaker judges the upstream's answer, and a
        // parser's failure is not the upstream's.
        let (result, document) = self.transform(scraper, source, result).await;
        let mut verdict = Verdict::of(&result);
        let mut stored = match (&validators, result.not_modified) {
            // 304: the payload the validators came with stands; nothing is
            // written, and the row says unchanged (so freshness keeps its age).
            (Some(previous), true) => StoredPayload {
                uri: Some(previous.output_uri.clone()),
                hash: Some(previous.content_hash.clone()),
                unchanged: true,
                ..StoredPayload::default()
            },
            _ => {
                self.keep_payload(
                    scraper_name,
                    target_date,
                    &used,
                    previous,
                    &result,
                    &mut verdict,
                )
                .await
            }
        };
        if let Some(document) = document {
            self.keep_document(
                scraper,
                target_date,
                &used,
                &result,
                document,
                &mut stored,
                &mut verdict,
            )
            .await;
        }
        self.judge_late(scraper, target_date, event_start, &result, &mut verdict);
        if trial {
            name_the_trial(&mut verdict, &result, would_retry);
        }
        // Only a call that made a request has a duration: one held back
        // before it (its source paused) took no time of the upstream's,
        // and its sample of about 0 s pulled a throttled source's p95 down.
        let duration = (!result.attempts.is_empty())
            .then(|| (result.finished_at - result.started_at).to_std().ok())
            .flatten();
        self.metrics.record_call(
            &source.name,
            result.attempts.iter().map(|a| a.outcome),
            verdict.status,
            duration,
        );
        let mut record = self.history_row(
            run,
            scraper_name,
            source,
            params_json,
            target_date,
            &result,
            &verdict,
            &stored,
        );
        if result.not_modified {
            record.record_count = validators.as_ref().and_then(|v| v.record_count);
        }
        // A 304 may omit the validators; the ones it confirmed stay current.
        record.etag = result.etag.clone().or_else(|| {
            validators
                .as_ref()
                .and_then(|v| v.etag.clone())
                .filter(|_| result.not_modified)
        });
        record.last_modified = result.last_modified.clone().or_else(|| {
            validators
                .as_ref()
                .and_then(|v| v.last_modified.clone())
                .filter(|_| result.not_modified)
        });
        // A 304's records are those of the payload it revalidated.
        let records = record
            .record_count
            .filter(|_| result.not_modified)
            .and_then(|n| usize::try_from(n).ok())
            .or(result.records);
        let event = completion_event(
            &record,
            self.event_facts(
                scraper,
                &used,
                run,
                standalone,
                records,
                result.content_type.as_deref(),
            ),
        );
        let id = match self
            .store
            .record_call_with_event(&record, event.as_ref())
            .await
        {
            Ok(id) => id,
            Err(error) => {
                // The payload is in the raw store with no row: checked,
                // and deleted if still unreferenced, once it has settled.
                if let Some(uri) = stored.uri.as_ref().filter(|_| !stored.unchanged) {
                    self.orphans.remember(crate::orphans::Orphan {
                        uri: uri.clone(),
                        scraper: scraper_name.to_string(),
                        params: record.params.clone(),
                        since: self.clock.now(),
                    });
                }
                return Err(error.into());
            }
        };
        self.delete_settled_orphans().await;
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
            records,
            pages: result.pages,
            output_uri: stored.uri,
            content_hash: stored.hash,
            unchanged: stored.unchanged,
            deferred_until: result.deferred_until,
            recheck_at: verdict.recheck_at,
        })
    }

    /// Deletes the payloads of lost rows ([`crate::orphans`]) that have
    /// settled and that no row points at; called after a row was written,
    /// so the history is there to ask.
    async fn delete_settled_orphans(&self) {
        let due = self.orphans.due(self.clock.now());
        if due.is_empty() {
            return;
        }
        let mut left = Vec::new();
        for orphan in due {
            match self
                .store
                .payload_kept(
                    DateTime::UNIX_EPOCH,
                    &orphan.scraper,
                    &orphan.params,
                    &orphan.uri,
                )
                .await
            {
                // Its row was written after all (the answer was lost).
                Ok(true) => {}
                Ok(false) => match self.raw.delete_uri(&orphan.uri).await {
                    Ok(_) => tracing::info!(
                        scraper = %orphan.scraper,
                        uri = %orphan.uri,
                        "Deleted a payload whose call could not be recorded; its run made the call again."
                    ),
                    Err(error) => tracing::warn!(
                        scraper = %orphan.scraper,
                        uri = %orphan.uri,
                        %error,
                        "Could not delete a payload whose call could not be recorded; it stays in the raw store."
                    ),
                },
                Err(_) => left.push(orphan),
            }
        }
        self.orphans.put_back(left);
    }

    /// What a call's completion event holds beyond its row.
    fn event_facts<'a>(
        &'a self,
        scraper: &'a Scraper,
        used: &BTreeMap<String, String>,
        run: Option<RunContext<'_>>,
        standalone: Trigger,
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
            // A call outside any workflow: `rebound scrape` (a person), or
            // a calendar refresh the scheduler started.
            trigger: run.map_or(standalone, |r| r.trigger),
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
        pages_counted: i64,
        result: &CallResult,
    ) -> Result<(), EngineError> {
        if let Some(quota) = admitted.quota {
            self.quota_settle(source, quota, pages_counted, result)
                .await?;
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
            etag: None,
            last_modified: None,
            outputs: stored.outputs.clone(),
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
            run.trigger,
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
        standalone: Trigger,
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
            etag: None,
            last_modified: None,
            outputs: Vec::new(),
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
        let event = completion_event(
            &record,
            self.event_facts(scraper, &used, run, standalone, None, None),
        );
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
                ..StoredPayload::default()
            });
        }
        let scraper = &self.plan.scrapers[scraper_name];
        // A JSON scraper's extension follows the content type, as it always
        // has; a declared document format names its own.
        let extension = match scraper
            .transform
            .as_ref()
            .map_or(scraper.format, |t| t.format)
        {
            PayloadFormat::Json => {
                rebound_raw::extension_for(result.content_type.as_deref(), &body)
            }
            format => format.extension(),
        };
        let path = self.object_path(
            scraper,
            target_date,
            used,
            result.finished_at,
            &hash,
            extension,
        );
        let uri = self.raw.put(&path, body).await.map_err(|e| e.to_string())?;
        Ok(StoredPayload {
            uri: Some(uri),
            hash: Some(hash),
            unchanged: false,
            ..StoredPayload::default()
        })
    }
}

impl Engine {
    /// With a `transform`: runs the command on a successful fetch's
    /// document. Its output becomes the result's body, judged by
    /// `records` (JSON) or the output format and `min_bytes`; the document
    /// comes back to be kept as the secondary output. A command that fails
    /// makes the call a `transform` failure, storing nothing.
    async fn transform(
        &self,
        scraper: &Scraper,
        source: &Source,
        mut result: CallResult,
    ) -> (CallResult, Option<Document>) {
        let Some(transform) = &scraper.transform else {
            return (result, None);
        };
        if result.status != ScraperStatus::Success || result.not_modified {
            return (result, None);
        }
        let Some(fetched) = result.body.take() else {
            return (result, None);
        };
        // The command reads what the raw store would keep: a secret the
        // upstream echoed is masked before it leaves this process.
        let document = match crate::mask::mask_payload(&self.plan.redactor, &fetched) {
            std::borrow::Cow::Borrowed(_) => fetched,
            std::borrow::Cow::Owned(masked) => Bytes::from(masked),
        };
        let redactor = &self.plan.redactor;
        let output = if transform.keep_running {
            self.kept_transforms
                .run(
                    &scraper.name,
                    transform,
                    &document,
                    source.max_body_bytes,
                    redactor,
                )
                .await
        } else {
            crate::transform::run(transform, &document, source.max_body_bytes, redactor).await
        };
        let output = match output {
            Ok(output) => output,
            Err(message) => {
                tracing::warn!(
                    scraper = %scraper.name,
                    error = %redactor.redact(&message),
                    "Transform failed."
                );
                result.status = ScraperStatus::Failed;
                result.error_kind = Some(ErrorKind::Transform);
                result.message = Some(message);
                result.records = None;
                return (result, None);
            }
        };
        let judged = judge_output(scraper, transform, &output, redactor);
        match judged.outcome {
            AttemptOutcome::Success => {
                result.records = judged.records;
            }
            AttemptOutcome::NoData => {
                result.status = ScraperStatus::NoData;
                result.message = Some(judged.message);
                result.records = None;
            }
            AttemptOutcome::Retryable | AttemptOutcome::Permanent => {
                result.status = ScraperStatus::Failed;
                result.error_kind = Some(ErrorKind::Transform);
                result.message = Some(format!(
                    "transform {} wrote an unusable output: {}",
                    transform.command.first().map_or("", String::as_str),
                    judged.message
                ));
                result.records = None;
                return (result, None);
            }
        }
        let document = Document {
            body: document,
            content_type: result
                .content_type
                .replace(transform.format.content_type().to_string()),
        };
        result.body = Some(output);
        (result, Some(document))
    }

    /// Keeps a transform's document beside its output (already kept as
    /// the primary in `stored`), and lists both for `call_outputs`. A
    /// document that cannot be stored fails the call like its output.
    #[allow(clippy::too_many_arguments)] // One call site; each is a step's input.
    async fn keep_document(
        &self,
        scraper: &Scraper,
        target_date: NaiveDate,
        used: &BTreeMap<String, String>,
        result: &CallResult,
        document: Document,
        stored: &mut StoredPayload,
        verdict: &mut Verdict,
    ) {
        let (Some(uri), Some(hash), Some(output)) = (&stored.uri, &stored.hash, &result.body)
        else {
            return;
        };
        let primary = NewCallOutput {
            role: OutputRole::Primary,
            uri: uri.clone(),
            content_hash: hash.clone(),
            bytes: output.len() as i64,
            content_type: result.content_type.clone(),
        };
        let doc_hash = blake3::hash(&document.body).to_hex().to_string();
        let extension = match scraper.format {
            PayloadFormat::Json => {
                rebound_raw::extension_for(document.content_type.as_deref(), &document.body)
            }
            format => format.extension(),
        };
        let path = self.object_path(
            scraper,
            target_date,
            used,
            result.finished_at,
            &doc_hash,
            extension,
        );
        let bytes = document.body.len() as i64;
        match self.raw.put(&path, document.body).await {
            Ok(doc_uri) => {
                stored.outputs = vec![
                    primary,
                    NewCallOutput {
                        role: OutputRole::Secondary,
                        uri: doc_uri,
                        content_hash: doc_hash,
                        bytes,
                        content_type: document.content_type,
                    },
                ];
            }
            Err(e) => {
                verdict.status = ScraperStatus::Failed;
                verdict.error_kind = Some(ErrorKind::Storage);
                verdict.message = Some(format!(
                    "transformed the document but could not store it ({bytes} bytes): {e}"
                ));
                *stored = StoredPayload::default();
            }
        }
    }

    /// Where a payload of this call is written in the raw store.
    fn object_path(
        &self,
        scraper: &Scraper,
        target_date: NaiveDate,
        used: &BTreeMap<String, String>,
        finished_at: DateTime<Utc>,
        hash: &str,
        extension: &str,
    ) -> String {
        let path_params: BTreeMap<String, String> = used
            .iter()
            .filter(|(k, _)| !rebound_domain::template::BUILTIN_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), self.plan.redactor.redact_string(v)))
            .collect();
        payload_path(
            &scraper.dataset,
            target_date,
            &scraper.name,
            &path_params,
            finished_at,
            hash,
            extension,
        )
    }
}

/// A transform's input, kept as the call's secondary output.
struct Document {
    /// Masked, as stored.
    body: Bytes,
    /// As the upstream labelled it.
    content_type: Option<String>,
}

/// A transform's output judged as a response would be: by `records` when
/// it writes JSON and the scraper has them, else by its format (contents
/// and `min_bytes`).
fn judge_output(
    scraper: &Scraper,
    transform: &rebound_domain::document::Transform,
    output: &[u8],
    redactor: &rebound_domain::redact::Redactor,
) -> rebound_fetch::classify::Classified {
    use rebound_fetch::classify::{Classified, check_document, classify_response};
    match (transform.format, scraper.records.as_deref()) {
        (PayloadFormat::Json, Some(pointer)) => {
            classify_response(200, output, &Default::default(), Some(pointer), redactor)
        }
        (format, _) => check_document(
            Classified {
                outcome: AttemptOutcome::Success,
                kind: None,
                message: format!("{} bytes", output.len()),
                records: None,
            },
            format,
            scraper.min_bytes,
            None,
            output,
            redactor,
        ),
    }
}

/// A failed half-open trial says it was one, so whoever reads its single
/// attempt knows why there was no second: the trial is one attempt by
/// design (see [`Engine::call`]), whatever the retry policy. "not retried"
/// only where a retry would otherwise have come: a retryable kind, from a
/// scraper whose policy retries (`would_retry`).
fn name_the_trial(verdict: &mut Verdict, result: &CallResult, would_retry: bool) {
    if verdict.status != ScraperStatus::Failed || result.attempts.is_empty() {
        return;
    }
    let Some(message) = verdict.message.as_mut() else {
        return;
    };
    match would_retry && verdict.error_kind.is_some_and(ErrorKind::is_retryable) {
        true => message.push_str(" (half-open trial: not retried)"),
        false => message.push_str(" (half-open trial)"),
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
    /// With a `transform`: the output (primary) and the document
    /// (secondary), for `call_outputs`; empty otherwise.
    outputs: Vec<NewCallOutput>,
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
    let document = rebound_fetch::classify::payload_json(body).ok()?;
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
