//! `rebound generate-history`: writes realistic synthetic history into the
//! config's database, for benchmarks (`docs/benchmarks.md`) and demos.
//!
//! The shape comes from the config: its workflows, their scrapers (in step
//! order, fanned-out ones once per entity), sources and datasets. Runs are
//! spread evenly (with jitter) over the last `--days`, oldest first, so ids
//! grow with time as in a real history; each run's calls follow it. The
//! mix is deterministic for a `--seed`: mostly success, some no_data,
//! retried calls with their attempts, failures with messages, unchanged
//! payloads pointing at the previous payload of the same scraper and
//! params, and a few calls held by an open breaker. Payload files are not
//! written (the rows point where they would be).
//!
//! Rows go in through `RetentionStore::insert_history`: one transaction per
//! chunk, multi-row statements on SQLite, `COPY` on PostgreSQL.

use crate::{Failure, setup};
use anyhow::anyhow;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use clap::Args;
use rebound_clock::SystemClock;
use rebound_domain::clock::Clock;
use rebound_domain::message::aggregate_errors;
use rebound_domain::outcome::{
    AttemptOutcome, ErrorKind, ScraperStatus, StatusCounts, WorkflowStatus,
};
use rebound_domain::plan::Plan;
use rebound_storage::{NewAttempt, NewScraperCall, NewWorkflowExecution, NumberedCall};
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// For benchmarks and demos only: writes synthetic runs, calls and
/// attempts spread over the last DAYS into the config's database. Refuses
/// a database that already has history unless --force.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Scraper calls (scraper_execution_log rows) to write. The default is
    /// small enough to try in seconds; the benchmarks ask for 10,000,000.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub calls: u64,
    /// Workflow runs (workflow_executions rows) to write; the calls are
    /// shared out among them.
    /// At least 1 (every run makes a call, so --calls is at least --runs),
    /// and enough that no run makes more than 100,000 calls.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub runs: u64,
    /// How far back the history reaches, in days.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Seed of the pseudo-random mix; the same seed writes the same history.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write even into a database that already has history.
    #[arg(long)]
    pub force: bool,
}

/// Runs per transaction: about a hundred thousand calls with the default
/// ratio, a few tens of MB of rows in memory.
const RUNS_PER_CHUNK: u64 = 10_000;

/// Calls per transaction at most, when runs make many calls each: a chunk
/// of [`RUNS_PER_CHUNK`] runs of 10,000 calls held a hundred million rows.
const CALLS_PER_CHUNK: u64 = 100_000;

/// The most calls one run makes. A run's calls are made (and held) together,
/// so `--calls 1000000000 --runs 1` asked for 384 GB at once and aborted.
const MAX_CALLS_PER_RUN: u64 = CALLS_PER_CHUNK;

/// SplitMix64: tiny, fast and deterministic, which is all a synthetic mix
/// needs (and it keeps the output stable across `rand` versions).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// One scraper as the generator uses it.
struct ScraperShape {
    name: String,
    source: String,
    dataset: String,
    /// The fan-out parameter, for fanned-out scrapers.
    fan_out: Option<String>,
}

struct WorkflowShape {
    name: String,
    scrapers: Vec<usize>,
}

fn shapes(plan: &Plan) -> Result<(Vec<ScraperShape>, Vec<WorkflowShape>), Failure> {
    let scrapers: Vec<ScraperShape> = plan
        .scrapers
        .values()
        .map(|s| ScraperShape {
            name: s.name.clone(),
            source: s.source.clone(),
            dataset: s.dataset.clone(),
            fan_out: s.for_each.as_ref().map(|f| f.param().to_string()),
        })
        .collect();
    let index: HashMap<&str, usize> = scrapers
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let workflows: Vec<WorkflowShape> = plan
        .workflows
        .values()
        .map(|w| WorkflowShape {
            name: w.name.clone(),
            scrapers: w
                .scraper_names()
                .filter_map(|n| index.get(n).copied())
                .collect(),
        })
        .filter(|w| !w.scrapers.is_empty())
        .collect();
    if workflows.is_empty() {
        return Err(Failure::Usage(anyhow!(
            "the config defines no workflow with scrapers, so there is nothing to generate history for"
        )));
    }
    Ok((scrapers, workflows))
}

/// Everything that stays the same between runs.
struct Generator {
    scrapers: Vec<ScraperShape>,
    workflows: Vec<WorkflowShape>,
    tz: chrono_tz::Tz,
    raw_base: String,
    mix: Mix,
    /// The newest payload URI per (scraper, params): what an unchanged
    /// call points at, as the engine does.
    last_uri: HashMap<(usize, String), String>,
    next_id: i64,
    run_number: u64,
}

impl Generator {
    /// One run at `at` with `calls` calls, appended to the two buffers.
    fn run(
        &mut self,
        at: DateTime<Utc>,
        calls: u64,
        executions: &mut Vec<NewWorkflowExecution>,
        out: &mut Vec<NumberedCall>,
    ) {
        let w = self.mix.below(self.workflows.len() as u64) as usize;
        let target_date = at.with_timezone(&self.tz).date_naive();
        self.run_number += 1;
        let execution_id = format!("gen-{:08x}-{:012x}", self.run_number, self.mix.next() >> 16);
        let workflow_name = self.workflows[w].name.clone();
        let mut counts = StatusCounts::default();
        let mut failures: Vec<(String, String)> = Vec::new();
        let mut t = at;
        for k in 0..calls {
            let plan_scrapers = &self.workflows[w].scrapers;
            let s = plan_scrapers[(k as usize) % plan_scrapers.len()];
            let call = self.call(s, &execution_id, &workflow_name, target_date, t, k);
            counts.add_call(call.status, call.error_kind);
            if let Some(message) = &call.error_message {
                failures.push((call.scraper_name.clone(), message.clone()));
            }
            t = call.finished_at + TimeDelta::milliseconds(5);
            out.push(NumberedCall {
                id: self.next_id,
                call,
            });
            self.next_id += 1;
        }
        let status = WorkflowStatus::from_counts(counts);
        let error_message = match status {
            WorkflowStatus::Success | WorkflowStatus::NoData => None,
            // Synthetic messages hold no secret.
            _ => aggregate_errors(
                failures.iter().map(|(s, m)| (s.as_str(), m.as_str())),
                &rebound_domain::redact::Redactor::default(),
            ),
        };
        executions.push(NewWorkflowExecution {
            execution_id,
            workflow_name,
            target_date,
            execution_time: at,
            finished_at: t,
            status,
            scrapers_requested: calls as u32,
            scrapers_succeeded: counts.succeeded,
            scrapers_failed: counts.failed + counts.overdue,
            scrapers_no_data: counts.no_data + counts.not_yet_available,
            scrapers_skipped: counts.skipped,
            error_message,
            duration_ms: (t - at).num_milliseconds(),
            params: format!(r#"{{"date":"{target_date}"}}"#),
        });
    }

    fn call(
        &mut self,
        s: usize,
        execution_id: &str,
        workflow_name: &str,
        date: NaiveDate,
        started_at: DateTime<Utc>,
        k: u64,
    ) -> NewScraperCall {
        let shape = &self.scrapers[s];
        let params = match &shape.fan_out {
            // About a dozen games a day, ids as the NBA writes them.
            Some(param) => format!(
                r#"{{"date":"{date}","{param}":"00226{:05}"}}"#,
                (date.ordinal() * 16 + (k % 13) as u32) % 100_000
            ),
            None => format!(r#"{{"date":"{date}"}}"#),
        };
        let roll = self.mix.below(1000);
        let latency = 80 + self.mix.below(400) as i64;
        let mut attempts = Vec::new();
        let mut t = started_at;
        let mut attempt = |outcome: AttemptOutcome,
                           status: Option<u16>,
                           kind: Option<ErrorKind>,
                           message: Option<String>,
                           delay: i64,
                           t: &mut DateTime<Utc>| {
            *t += TimeDelta::milliseconds(delay);
            let start = *t;
            *t += TimeDelta::milliseconds(latency);
            attempts.push(NewAttempt {
                attempt: attempts.len() as u32 + 1,
                page: 1,
                proxy: None,
                started_at: start,
                finished_at: *t,
                http_status: status,
                outcome,
                error_kind: kind,
                error_message: message,
                delay_before_ms: delay,
            });
        };
        // The mix, per thousand calls: 10 breaker_open skips, 40 failures,
        // 60 retried successes, 90 no_data, the rest plain successes.
        let (status, kind, message, http) = if roll < 10 {
            (
                ScraperStatus::Skipped,
                Some(ErrorKind::BreakerOpen),
                Some(format!(
                    "source {} circuit breaker is open (5 consecutive failures) since {}; next probe after {}",
                    shape.source,
                    (started_at - TimeDelta::minutes(3)).format("%H:%M:%S"),
                    (started_at + TimeDelta::minutes(2)).format("%H:%M:%S"),
                )),
                None,
            )
        } else if roll < 50 {
            let (kind, http, text) = match self.mix.below(4) {
                0 => (ErrorKind::Server, Some(503), "HTTP 503 Service Unavailable"),
                1 => (ErrorKind::Timeout, None, "no response within 20s"),
                2 => (
                    ErrorKind::Throttled,
                    Some(429),
                    "HTTP 429 Too Many Requests",
                ),
                _ => (ErrorKind::Client, Some(404), "HTTP 404 Not Found"),
            };
            let tries = if kind == ErrorKind::Client { 1 } else { 3 };
            for n in 0..tries {
                let delay = if n == 0 { 0 } else { 2_000 << (n - 1) };
                let outcome = if kind == ErrorKind::Client {
                    AttemptOutcome::Permanent
                } else {
                    AttemptOutcome::Retryable
                };
                attempt(
                    outcome,
                    http,
                    Some(kind),
                    Some(text.to_string()),
                    delay,
                    &mut t,
                );
            }
            let message = format!(
                "{text} after {tries} attempt{}",
                if tries == 1 { "" } else { "s" }
            );
            (ScraperStatus::Failed, Some(kind), Some(message), http)
        } else {
            let retried = roll < 110;
            if retried {
                let extra = 1 + self.mix.below(2);
                for n in 0..extra {
                    let delay = if n == 0 { 0 } else { 2_000 };
                    attempt(
                        AttemptOutcome::Retryable,
                        Some(503),
                        Some(ErrorKind::Server),
                        Some("HTTP 503 Service Unavailable".to_string()),
                        delay,
                        &mut t,
                    );
                }
            }
            let no_data = (110..200).contains(&roll);
            let outcome = if no_data {
                AttemptOutcome::NoData
            } else {
                AttemptOutcome::Success
            };
            let delay = if retried { 2_000 } else { 0 };
            attempt(outcome, Some(200), None, None, delay, &mut t);
            let status = if no_data {
                ScraperStatus::NoData
            } else {
                ScraperStatus::Success
            };
            (status, None, None, Some(200))
        };
        // Payloads: success and no_data responses have one; about a third
        // are identical to the previous one of the same scraper and params.
        let (output_uri, content_hash, unchanged, bytes) = match status {
            ScraperStatus::Success | ScraperStatus::NoData => {
                let key = (s, params.clone());
                let previous = self.last_uri.get(&key).cloned();
                let bytes = if status == ScraperStatus::NoData {
                    64
                } else {
                    2_000 + self.mix.below(60_000) as i64
                };
                match previous {
                    Some(uri) if self.mix.chance(330) => {
                        let hash = uri
                            .rsplit('_')
                            .next()
                            .unwrap_or_default()
                            .trim_end_matches(".json")
                            .to_string();
                        (Some(uri), Some(hash), true, Some(bytes))
                    }
                    _ => {
                        let hash = format!("{:016x}{:016x}", self.mix.next(), self.mix.next());
                        let uri = format!(
                            "{}/{}/{date}/{}/{}/{}_{hash}.json",
                            self.raw_base,
                            shape.dataset,
                            shape.name,
                            params_slug(&params),
                            started_at.format("%Y%m%dT%H%M%S%3fZ"),
                        );
                        self.last_uri.insert(key, uri.clone());
                        (Some(uri), Some(hash), false, Some(bytes))
                    }
                }
            }
            _ => (None, None, false, None),
        };
        let finished_at = t;
        NewScraperCall {
            etag: None,
            last_modified: None,
            outputs: Vec::new(),
            execution_id: Some(execution_id.to_string()),
            workflow_name: Some(workflow_name.to_string()),
            scraper_name: shape.name.clone(),
            source_name: shape.source.clone(),
            params,
            target_date: date,
            status,
            attempts: attempts.len() as u32,
            http_status: http,
            error_kind: kind,
            error_message: message,
            started_at,
            finished_at,
            duration_ms: (finished_at - started_at).num_milliseconds(),
            bytes,
            output_uri,
            content_hash,
            unchanged,
            pages: None,
            record_count: None,
            attempt_rows: attempts,
        }
    }
}

/// `date=2026-01-01,game_id=0022600001`: a folder name for params.
fn params_slug(params: &str) -> String {
    params
        .trim_matches(|c| c == '{' || c == '}')
        .replace("\":\"", "=")
        .replace('"', "")
}

use chrono::Datelike;

pub async fn generate(config: &Path, args: GenerateArgs) -> Result<ExitCode, Failure> {
    // Both are at least 1 (the parser's range, which the message of a
    // value out of it states).
    if args.calls < args.runs {
        return Err(Failure::Usage(anyhow!(
            "--calls must be at least --runs (every run makes a call); got --calls {} --runs {}",
            args.calls,
            args.runs
        )));
    }
    let per_run = args.calls.div_ceil(args.runs);
    if per_run > MAX_CALLS_PER_RUN {
        return Err(Failure::Usage(anyhow!(
            "--calls {} --runs {} is {per_run} calls per run; a run makes at most {MAX_CALLS_PER_RUN}: give --runs {} or more",
            args.calls,
            args.runs,
            args.calls.div_ceil(MAX_CALLS_PER_RUN)
        )));
    }
    let plan = setup::load_report_plan(config)?.plan;
    let (scrapers, workflows) = shapes(&plan)?;
    let store = setup::open_store(&plan).await?;
    if store.has_history().await? && !args.force {
        return Err(Failure::Usage(anyhow!(
            "{} already has history; generate-history writes synthetic rows for benchmarks and demos \
             and will not mix them into real history (use an empty database, or --force)",
            plan.database_display()
        )));
    }
    let raw_base = rebound_raw::RawStore::open(&plan.pipeline.raw_store)?
        .uri_base()
        .to_string();
    let now = SystemClock.now();
    let start = now - TimeDelta::days(i64::from(args.days));
    let spacing_ms = (TimeDelta::days(i64::from(args.days)).num_milliseconds() as f64
        / args.runs as f64)
        .max(1.0);
    let mut generator = Generator {
        scrapers,
        workflows,
        tz: plan.pipeline.timezone,
        raw_base,
        mix: Mix(args.seed),
        last_uri: HashMap::new(),
        next_id: store.next_call_id().await?,
        run_number: 0,
    };
    eprintln!(
        "generate-history: {} runs, {} calls over {} days into {} (synthetic, for benchmarks and demos)",
        args.runs,
        args.calls,
        args.days,
        plan.database_display()
    );
    let began = Instant::now();
    let (base, extra) = (args.calls / args.runs, args.calls % args.runs);
    let (mut calls_done, mut attempts_done) = (0u64, 0u64);
    let mut run = 0u64;
    // Fewer runs per chunk when each makes many calls, so a chunk holds
    // about CALLS_PER_CHUNK calls whatever the ratio.
    let runs_per_chunk = (CALLS_PER_CHUNK / (base + 1)).clamp(1, RUNS_PER_CHUNK);
    while run < args.runs {
        let end = (run + runs_per_chunk).min(args.runs);
        let mut executions = Vec::with_capacity((end - run) as usize);
        let mut calls = Vec::with_capacity(((end - run) * (base + 1)) as usize);
        for r in run..end {
            let jitter = generator.mix.below(spacing_ms as u64 / 2 + 1) as f64;
            let at = start + TimeDelta::milliseconds((r as f64 * spacing_ms + jitter) as i64);
            let n = base + u64::from(r < extra);
            generator.run(at, n, &mut executions, &mut calls);
        }
        calls_done += calls.len() as u64;
        attempts_done += calls
            .iter()
            .map(|c| c.call.attempt_rows.len() as u64)
            .sum::<u64>();
        store.insert_history(&executions, &calls).await?;
        run = end;
        let secs = began.elapsed().as_secs_f64().max(1e-3);
        eprintln!(
            "  {run}/{} runs, {calls_done}/{} calls, {attempts_done} attempts; {:.0} rows/s",
            args.runs,
            args.calls,
            (run + calls_done + attempts_done) as f64 / secs
        );
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "wrote {run} runs, {calls_done} calls and {attempts_done} attempts in {secs:.1}s ({:.0} rows/s)",
        (run + calls_done + attempts_done) as f64 / secs.max(1e-3)
    );
    Ok(ExitCode::SUCCESS)
}
