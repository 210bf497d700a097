//! Builds a [`HealthReport`] from the store, the plan, the calendars and
//! the source probes, at one instant. The rules (what is a failure, when
//! something is a warning or critical) are written down in
//! `docs/health.md`; the constants below are the thresholds it names.

use crate::report::*;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rebound_domain::breaker::{BreakerState, Phase};
use rebound_domain::calendar::{Event, events_on};
use rebound_domain::duration::add_saturating;
use rebound_domain::plan::{DatasetPolicy, ForEach, HealthProbe, Plan, Severity, Source};
use rebound_domain::proxy::ProxyExchange;
use rebound_storage::{CallCountRow, CollectedAsk, ScraperLast, Store, StoreError};
use std::collections::BTreeMap;
use std::time::Duration;

/// Failed calls in a row that make a scraper critical: the default breaker
/// trips after 5 consecutive failures too.
pub const SCRAPER_CRITICAL_STREAK: i64 = 5;
/// Failed calls of one scraper in the period that warn even between
/// successes: the original's `check_scraper_failures` threshold (24 h).
pub const SCRAPER_WARN_FAILURES: i64 = 10;
/// A failure rate above this (with at least [`MIN_CALLS_FOR_RATE`] calls)
/// warns: the original's README alert idea.
pub const WARN_FAILURE_RATE: f64 = 0.2;
pub const MIN_CALLS_FOR_RATE: i64 = 5;
/// Failed or partial runs in a row that make a workflow critical.
pub const WORKFLOW_CRITICAL_STREAK: i64 = 3;
/// Failed runs over today's and yesterday's target dates that warn: the
/// original's `check_workflow_health` (5 failures in 48 h).
pub const WORKFLOW_WARN_FAILED_2D: i64 = 5;
/// Quota share that warns (the quota's own warning) and that is critical.
pub const QUOTA_WARN_SHARE: f64 = 0.8;
pub const QUOTA_CRITICAL_SHARE: f64 = 1.0;
/// A pending completion event older than this warns: the publisher's
/// backoff tops out at 5 minutes, so a quarter of an hour means a sink has
/// refused several rounds in a row, not one blip.
pub const HANDOFF_PENDING_WARN: TimeDelta = TimeDelta::minutes(15);
/// ... and older than this is critical: consumers are an hour behind.
pub const HANDOFF_PENDING_CRITICAL: TimeDelta = TimeDelta::hours(1);
/// Days of the daily failure-rate table.
pub const WORKFLOW_DAYS: i64 = 7;

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads a calendar's events (all dates). `Ok(None)`: no payload yet.
#[async_trait]
pub trait Calendars: Send + Sync {
    async fn events(&self, calendar: &str) -> Result<Option<Vec<Event>>, String>;
}

/// Each calendar read once per report: several datasets fan out over the
/// same calendar, and at one instant its events are the same for all of
/// them (each read is a store round trip and a payload to parse).
struct ReadOnce<'a> {
    calendars: &'a dyn Calendars,
    read: std::sync::Mutex<BTreeMap<String, CalendarRead>>,
}

/// What [`Calendars::events`] answers.
type CalendarRead = Result<Option<Vec<Event>>, String>;

#[async_trait]
impl Calendars for ReadOnce<'_> {
    async fn events(&self, calendar: &str) -> Result<Option<Vec<Event>>, String> {
        // The lock is never held across the read: a poisoned one only
        // means another read panicked, and then the map is still whole.
        let known = self
            .read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(calendar)
            .cloned();
        if let Some(events) = known {
            return events;
        }
        let events = self.calendars.events(calendar).await;
        self.read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(calendar.to_string(), events.clone());
        events
    }
}

/// Sends a source's health probe.
#[async_trait]
pub trait Prober: Send + Sync {
    /// Sends the probe and records its result wherever this prober
    /// records it (the service's feeds the source's breaker).
    async fn probe(&self, source: &Source, probe: &HealthProbe, now: DateTime<Utc>) -> ProbeResult;

    /// The first half of [`Prober::probe`]: sends it and records nothing;
    /// [`Prober::feed`] records the result. The report sends every probe,
    /// then reads the breakers once and feeds each result against that
    /// reading. The default is `probe` (for a prober that records nothing,
    /// the same).
    async fn send(&self, source: &Source, probe: &HealthProbe, now: DateTime<Utc>) -> ProbeResult {
        self.probe(source, probe, now).await
    }

    /// The second half of [`Prober::probe`]: records `result` of
    /// `source`'s probe at `now`, given its stored breaker as just read
    /// (`None`: it has none). Returns whether it may have written
    /// anything the report reads (then the report reads the breakers
    /// again). The default records nothing.
    async fn feed(
        &self,
        source: &Source,
        now: DateTime<Utc>,
        result: &ProbeResult,
        breaker: Option<&BreakerState>,
    ) -> bool {
        let _ = (source, now, result, breaker);
        false
    }
}

/// What [`build_report`] reads.
pub struct Inputs<'a> {
    pub plan: &'a Plan,
    pub store: &'a dyn Store,
    pub calendars: &'a dyn Calendars,
    /// `None`: do not probe (`--no-probe`); probe results are left out.
    pub prober: Option<&'a dyn Prober>,
    /// The report's instant (from a `Clock`).
    pub now: DateTime<Utc>,
    /// Start of the look-back period.
    pub since: DateTime<Utc>,
}

/// Builds the whole report. `alerts` is left empty for the alerts layer.
pub async fn build_report(inputs: &Inputs<'_>) -> Result<HealthReport, HealthError> {
    let Inputs {
        plan,
        store,
        now,
        since,
        ..
    } = *inputs;
    let names: Vec<String> = plan.scrapers.keys().cloned().collect();
    // The sections' reads go side by side. Each read is a round trip to a
    // store connection (a thread hand-off on SQLite, the network on
    // PostgreSQL) and the report mostly waits on them, so in sequence
    // their latencies add up (docs/benchmarks.md). Only the sources'
    // probes write (their breakers), and no other section reads what they
    // write; the probes themselves still go one after another.
    let counted = async {
        let (counts, lasts) = futures::try_join!(
            async { Ok::<_, HealthError>(store.call_counts(since).await?) },
            async { Ok(store.scrapers_last(&names).await?) },
        )?;
        let scraper_last: BTreeMap<String, ScraperLast> =
            names.iter().cloned().zip(lasts).collect();
        let (sources, scrapers, datasets) = futures::try_join!(
            sources(inputs, &counts),
            scrapers(plan, store, since, &counts, &scraper_last),
            datasets(plan, store, inputs.calendars, now, Some(&scraper_last)),
        )?;
        Ok::<_, HealthError>((counts, sources, scrapers, datasets))
    };
    let ((counts, sources, scrapers, datasets), workflows, coverage, handoff) = futures::try_join!(
        counted,
        workflows(plan, store, now),
        async { Ok(store.error_coverage(since).await?) },
        handoff(plan, store, now),
    )?;
    let error_coverage = ErrorCoverage {
        failed_or_partial: coverage.failed_or_partial,
        with_message: coverage.with_message,
        coverage_rate: if coverage.failed_or_partial == 0 {
            1.0
        } else {
            round3(coverage.with_message as f64 / coverage.failed_or_partial as f64)
        },
    };
    // Retries come from the same pass over the period as the counts: the
    // calls that made an attempt (a call deferred before its request, its
    // source paused, made none, and put attempts per call under one).
    let mut r = rebound_storage::RetryStatsRow::default();
    for c in counts.iter().filter(|c| c.status != "skipped") {
        r.calls += c.requested;
        r.attempts += c.attempts;
        r.retried += c.retried;
        if c.status == "success" || c.status == "no_data" {
            r.retried_then_succeeded += c.retried;
        }
    }
    let retries = Retries {
        calls: r.calls,
        attempts: r.attempts,
        retried: r.retried,
        retried_then_succeeded: r.retried_then_succeeded,
        attempts_per_call: if r.calls == 0 {
            0.0
        } else {
            round2(r.attempts as f64 / r.calls as f64)
        },
    };

    let mut level = Level::Ok;
    level = level.max(sources.iter().map(|s| s.level).max().unwrap_or_default());
    level = level.max(scrapers.iter().map(|s| s.level).max().unwrap_or_default());
    level = level.max(workflows.iter().map(|s| s.level).max().unwrap_or_default());
    level = level.max(datasets.iter().map(|s| s.level).max().unwrap_or_default());
    level = level.max(handoff.level);
    if error_coverage.with_message < error_coverage.failed_or_partial {
        level = level.max(Level::Warning);
    }
    Ok(HealthReport {
        generated_at: now,
        since,
        level,
        sources,
        scrapers,
        workflows,
        error_coverage,
        retries,
        datasets,
        handoff,
        alerts: Vec::new(),
    })
}

/// The sources section of [`build_report`] alone (`GET /api/v1/sources`):
/// the same figures, without computing the rest of the report.
pub async fn sources_only(inputs: &Inputs<'_>) -> Result<Vec<SourceHealth>, HealthError> {
    let counts = inputs.store.call_counts(inputs.since).await?;
    sources(inputs, &counts).await
}

/// The hand-off section: the outbox's pending events and their errors by
/// sink, unacknowledged events by dataset, and (with `ack_required`) the
/// storm guard's sample counted with the reconciler's own rule. Levels:
/// pending older than [`HANDOFF_PENDING_WARN`] warns, older than
/// [`HANDOFF_PENDING_CRITICAL`] is critical; any `unacknowledged` event
/// warns (someone should look and replay); the storm guard tripping is
/// critical (nothing is being processed downstream).
pub async fn handoff(
    plan: &Plan,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<HandoffHealth, HealthError> {
    let summary = store.handoff_summary().await?;
    let ack = plan.handoff.ack;
    let oldest_age = summary.oldest_pending_at.map(|t| now - t);
    let sinks = plan
        .handoff
        .sinks
        .values()
        .map(|sink| {
            // Errors read "sink NAME: why; sink OTHER: why"; the newest
            // (they come newest first) naming this sink is its last.
            let prefix = format!("sink {}: ", sink.name);
            let found = summary.pending_errors.iter().find_map(|(at, error)| {
                error
                    .split("; ")
                    .find_map(|part| part.strip_prefix(&prefix))
                    .map(|why| (*at, why.to_string()))
            });
            HandoffSinkHealth {
                name: sink.name.clone(),
                kind: sink.kind.as_str().to_string(),
                last_error_at: found.as_ref().map(|(at, _)| *at),
                last_error: found.map(|(_, why)| why),
            }
        })
        .collect();
    let not_acknowledging = if ack.ack_required {
        let policy = rebound_storage::ReconcilePolicy::at(now, ack, 0);
        let window = store.ack_window(&policy).await?;
        let due: u64 = window.iter().map(|w| w.due).sum();
        let unacknowledged: u64 = window.iter().map(|w| w.unacknowledged).sum();
        ack.is_storm(due, unacknowledged).then(|| {
            let datasets: Vec<String> = window
                .iter()
                .filter(|w| w.unacknowledged > 0)
                .map(|w| w.dataset.clone())
                .collect();
            let sinks = plan
                .handoff
                .sinks
                .values()
                .filter(|s| {
                    datasets
                        .iter()
                        .any(|d| EVENT_STATUS_NAMES.iter().any(|st| s.wants(d, st)))
                })
                .map(|s| s.name.clone())
                .collect();
            NotAcknowledging {
                due,
                unacknowledged,
                datasets,
                sinks,
            }
        })
    } else {
        None
    };
    let mut level = Level::Ok;
    // Without a sink the outbox table is the only one: its consumers poll
    // it, nothing publishes, and `pending` is every event's normal state.
    let publishing = !plan.handoff.sinks.is_empty();
    match oldest_age {
        Some(age) if publishing && age > HANDOFF_PENDING_CRITICAL => level = Level::Critical,
        Some(age) if publishing && age > HANDOFF_PENDING_WARN => level = Level::Warning,
        _ => {}
    }
    if !summary.unacknowledged.is_empty() {
        level = level.max(Level::Warning);
    }
    if not_acknowledging.is_some() {
        level = Level::Critical;
    }
    Ok(HandoffHealth {
        level,
        ack_required: ack.ack_required,
        pending: summary.pending,
        oldest_pending_age_seconds: oldest_age.map(|a| a.num_seconds().max(0)),
        unacknowledged: summary
            .unacknowledged
            .into_iter()
            .map(|(dataset, count)| DatasetCount { dataset, count })
            .collect(),
        sinks,
        not_acknowledging,
    })
}

/// The statuses that make events, as stored.
const EVENT_STATUS_NAMES: [&str; 4] = ["success", "no_data", "failed", "overdue"];

/// Freshness (and completeness) of every dataset some scraper produces,
/// by name: what `rebound freshness` shows.
pub async fn freshness(
    plan: &Plan,
    store: &dyn Store,
    calendars: &dyn Calendars,
    now: DateTime<Utc>,
) -> Result<Vec<DatasetHealth>, HealthError> {
    datasets(plan, store, calendars, now, None).await
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

async fn sources(
    inputs: &Inputs<'_>,
    counts: &[CallCountRow],
) -> Result<Vec<SourceHealth>, HealthError> {
    let Inputs {
        plan, store, now, ..
    } = *inputs;
    // Probes first, then their results into the sources' breakers, so the
    // breakers read below show what the probes found (a probe that opened
    // a breaker, and since when it has been failing). Every probe is sent
    // before the breakers are read once for all of them: a result is fed
    // against a reading taken after it arrived, as if each probe read its
    // own, and the report reads them again only if a feed wrote.
    let mut probes = BTreeMap::new();
    for (name, source) in &plan.sources {
        if let (Some(probe), Some(prober)) = (&source.health, inputs.prober) {
            probes.insert(name.clone(), prober.send(source, probe, now).await);
        }
    }
    let mut breakers = store.breaker_states().await?;
    if let Some(prober) = inputs.prober.filter(|_| !probes.is_empty()) {
        let mut wrote = false;
        for (name, result) in &probes {
            let Some(source) = plan.sources.get(name) else {
                continue;
            };
            let stored = breakers
                .iter()
                .find(|b| &b.source_name == name)
                .map(|b| &b.state);
            wrote |= prober.feed(source, now, result, stored).await;
        }
        if wrote {
            breakers = store.breaker_states().await?;
        }
    }
    let names: Vec<String> = plan.sources.keys().cloned().collect();
    let lasts = store.sources_last(&names).await?;
    // A closed or half-open breaker's "since" is its newest transition:
    // read for every such source at once. An open one's is `opened_at`,
    // the outage's start, kept when a failed trial re-opens it; a
    // half-open one used to read it too, so a breaker half-open for half
    // an hour read "half-open since" the day the outage began.
    let by_transition: Vec<String> = names
        .iter()
        .filter(|name| {
            breakers.iter().any(|b| {
                b.source_name == **name
                    && (b.state.phase != Phase::Open || b.state.opened_at.is_none())
            })
        })
        .cloned()
        .collect();
    let newest: BTreeMap<String, DateTime<Utc>> = by_transition
        .iter()
        .zip(store.newest_breaker_transitions(&by_transition).await?)
        .filter_map(|(name, t)| Some((name.clone(), t?.at)))
        .collect();
    let mut out = Vec::new();
    for ((name, source), last) in plan.sources.iter().zip(lasts) {
        let mine = counts.iter().filter(|c| &c.source_name == name);
        let (mut calls, mut failed) = (0, 0);
        // Calls that made a request: a skipped call made none, nor did
        // one deferred before its request because the source was paused
        // (failed, 0 attempts), which used to count as a failed call of
        // the source.
        for c in mine.filter(|c| c.status != "skipped") {
            calls += c.requested;
            if c.status == "failed" {
                failed += c.requested;
            }
        }
        let failure_rate = if calls == 0 {
            0.0
        } else {
            round2(failed as f64 / calls as f64)
        };
        let state = breakers.iter().find(|b| &b.source_name == name);
        let phase = state.map(|b| b.state.phase).unwrap_or(Phase::Closed);
        let breaker_since = match state {
            Some(b) if b.state.phase == Phase::Open && b.state.opened_at.is_some() => {
                b.state.opened_at
            }
            // No transition recorded (a row written by hand): the
            // outage's start is all there is.
            Some(b) if b.state.phase == Phase::HalfOpen && !newest.contains_key(name) => {
                b.state.opened_at
            }
            Some(_) => newest.get(name).copied(),
            None => None,
        };
        let probe = probes.remove(name);
        let quota = match &source.quota {
            None => None,
            Some(q) => {
                let window = rebound_domain::quota::period_at(q.per, plan.pipeline.timezone, now);
                let row = store.quota_usage(name, window.start).await?;
                let limit = i64::try_from(q.requests).unwrap_or(i64::MAX);
                let used = row.map_or(0, |r| {
                    let counted = u64::try_from(r.requests).unwrap_or(0);
                    let reported = r.remaining_reported.map(|x| u64::try_from(x).unwrap_or(0));
                    rebound_domain::quota::effective_used(q.requests, counted, reported)
                });
                let used = i64::try_from(used).unwrap_or(i64::MAX);
                Some(QuotaHealth {
                    period_start: window.start,
                    resets_at: window.end,
                    used,
                    limit,
                    used_rate: round2((used as f64 / limit.max(1) as f64).min(1.0)),
                })
            }
        };
        let mut level = Level::Ok;
        match phase {
            Phase::Open => level = level.max(Level::Critical),
            Phase::HalfOpen => level = level.max(Level::Warning),
            Phase::Closed => {}
        }
        if let Some(p) = &probe {
            if p.failing() {
                level = level.max(Level::Critical);
            } else if p.throttled {
                level = level.max(Level::Warning);
            }
        }
        if last.failing_since.is_some() {
            level = level.max(Level::Warning);
        }
        if calls >= MIN_CALLS_FOR_RATE && failure_rate > WARN_FAILURE_RATE {
            level = level.max(Level::Warning);
        }
        let proxies = proxy_health(source, store, now).await?;
        if proxies.iter().any(|p| p.state == "open") {
            // Every proxy open means every call is skipped.
            let all = proxies.iter().all(|p| p.state == "open");
            level = level.max(if all { Level::Critical } else { Level::Warning });
        }
        if let Some(q) = &quota {
            if q.used_rate >= QUOTA_CRITICAL_SHARE {
                level = level.max(Level::Critical);
            } else if q.used_rate >= QUOTA_WARN_SHARE {
                level = level.max(Level::Warning);
            }
        }
        out.push(SourceHealth {
            name: name.clone(),
            level,
            probe,
            breaker: phase.as_str().to_string(),
            breaker_since,
            breaker_opened_at: state
                .filter(|b| b.state.phase != Phase::Closed)
                .and_then(|b| b.state.opened_at),
            last_success_at: last.last_answer_at,
            last_error_at: last.last_error_at,
            last_error: last.last_error,
            failing_since: last.failing_since,
            calls,
            failed,
            failure_rate,
            quota,
            proxies,
            probe_failing_since: state.and_then(|b| b.state.health_failing_since),
        });
    }
    Ok(out)
}

/// Attempts per proxy replayed to rebuild its breaker: a success resets
/// the breaker, so the newest attempts decide its state (at least the
/// configured failures, so a long failing streak still opens it).
pub const PROXY_REPLAY_ATTEMPTS: i64 = 200;

/// The newest attempts read first when rebuilding a proxy's breaker; more
/// (up to [`PROXY_REPLAY_ATTEMPTS`]) only when none of them reset it.
const PROXY_FIRST_READ: i64 = 8;

/// Each proxy of `source` at `now`: its recorded attempts (the newest
/// [`PROXY_REPLAY_ATTEMPTS`]) replayed through the proxy breaker
/// (`rebound_domain::proxy::replay`), so a report in any process shows
/// what a fetcher with that history holds. `rebound breakers` shows the
/// same.
pub async fn proxy_health(
    source: &Source,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<ProxyHealth>, StoreError> {
    let Some(proxies) = &source.proxies else {
        return Ok(Vec::new());
    };
    let limit = PROXY_REPLAY_ATTEMPTS.max(i64::from(proxies.breaker.failures));
    // A success resets the breaker, so replaying from the newest one gives
    // the same state as replaying all `limit`: read a few, and more only
    // while none of them is a success. Reading all `limit` every time made
    // each alert round cost more as the history grew (their rows leave
    // SQLite's page cache): 0.25 ms a read in a simulated season's first
    // days, 1.5 ms sixty days on. The first read asks for every proxy of
    // the source at once: one statement per source and alert round.
    let first = PROXY_FIRST_READ.min(limit);
    let indexes: Vec<i64> = (1..=proxies.routes.len())
        .map(|i| i64::try_from(i).unwrap_or(i64::MAX))
        .collect();
    let firsts = store
        .proxies_exchanges(&source.name, &indexes, first)
        .await?;
    let settled = |exchanges: &[ProxyExchange], read: i64| {
        exchanges
            .iter()
            .any(|e| !proxies.is_proxy_failure(e.http_status, e.error_kind))
            || (exchanges.len() as i64) < read
            || read >= limit
    };
    let mut out = Vec::with_capacity(proxies.routes.len());
    for (&proxy, mut exchanges) in indexes.iter().zip(firsts) {
        let index = u32::try_from(proxy).unwrap_or(u32::MAX);
        let mut read = first;
        while !settled(&exchanges, read) {
            read = read.saturating_mul(8).min(limit);
            exchanges = store.proxy_exchanges(&source.name, proxy, read).await?;
        }
        let breaker = rebound_domain::proxy::replay(proxies, &exchanges);
        out.push(ProxyHealth {
            index,
            state: breaker.state(now).to_string(),
            consecutive_failures: breaker.consecutive_failures,
            open_until: breaker.open_until.filter(|_| !breaker.is_usable(now)),
            last_used_at: exchanges.last().map(|e| e.finished_at),
        });
    }
    Ok(out)
}

async fn scrapers(
    plan: &Plan,
    store: &dyn Store,
    since: DateTime<Utc>,
    counts: &[CallCountRow],
    last: &BTreeMap<String, ScraperLast>,
) -> Result<Vec<ScraperHealth>, HealthError> {
    let distinct = store.distinct_params(since).await?;
    let lockouts = store.open_lockouts(None).await?;
    let mut out = Vec::new();
    for (name, scraper) in &plan.scrapers {
        let mut s = ScraperHealth {
            name: name.clone(),
            source: scraper.source.clone(),
            dataset: scraper.dataset.clone(),
            level: Level::Ok,
            runs: 0,
            failures: 0,
            deferred: 0,
            no_data: 0,
            not_yet_available: 0,
            overdue: 0,
            skipped: 0,
            last_success_at: None,
            last_error_at: None,
            last_error: None,
            consecutive_failures: 0,
            locked_out: lockouts.iter().filter(|l| &l.scraper_name == name).count() as i64,
            entities: if scraper.for_each.is_some() {
                distinct
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, n)| *n)
            } else {
                0
            },
        };
        for c in counts.iter().filter(|c| &c.scraper_name == name) {
            s.runs += c.calls;
            match c.status.as_str() {
                "failed" => {
                    s.failures += c.calls;
                    s.deferred += c.deferred;
                }
                "no_data" => s.no_data += c.calls,
                "not_yet_available" => s.not_yet_available += c.calls,
                "overdue" => s.overdue += c.calls,
                "skipped" => s.skipped += c.calls,
                _ => {}
            }
        }
        if let Some(l) = last.get(name) {
            s.last_success_at = l.last_success_at;
            s.last_error_at = l.last_error_at;
            s.last_error = l.last_error.clone();
            s.consecutive_failures = l.consecutive_failures;
        }
        // Calls held back by the source's limits are the source's story
        // (its level and figures tell it): a throttled source's scrapers
        // read WARNING for tens of "failures" none of which was a request
        // (`new-years-eve`: 56 of oddsa_game_lines, none sent).
        let attempted = s.runs - s.skipped - s.deferred;
        let failed = s.failures - s.deferred;
        if s.consecutive_failures >= SCRAPER_CRITICAL_STREAK {
            s.level = Level::Critical;
        } else if s.consecutive_failures > 0
            || failed >= SCRAPER_WARN_FAILURES
            || (attempted >= MIN_CALLS_FOR_RATE
                && (failed + s.overdue) as f64 / attempted as f64 > WARN_FAILURE_RATE)
        {
            s.level = Level::Warning;
        }
        out.push(s);
    }
    Ok(out)
}

async fn workflows(
    plan: &Plan,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<WorkflowHealth>, HealthError> {
    let today = now.with_timezone(&plan.pipeline.timezone).date_naive();
    let from = today - TimeDelta::days(WORKFLOW_DAYS - 1);
    let rows = store.workflow_days(from, today).await?;
    let names: Vec<String> = plan.workflows.keys().cloned().collect();
    let streaks = store.workflow_streaks(&names).await?;
    let mut out = Vec::new();
    for (name, streak) in names.iter().zip(streaks) {
        let mut days: Vec<WorkflowDay> = rows
            .iter()
            .filter(|r| &r.workflow_name == name)
            .map(|r| WorkflowDay {
                target_date: r.target_date,
                runs: r.runs,
                failed: r.failed,
                partial: r.partial,
                failure_rate: if r.runs == 0 {
                    0.0
                } else {
                    round3((r.failed + r.partial) as f64 / r.runs as f64)
                },
            })
            .collect();
        days.sort_by_key(|d| std::cmp::Reverse(d.target_date));
        let failed_2d: i64 = days
            .iter()
            .filter(|d| d.target_date >= today - TimeDelta::days(1))
            .map(|d| d.failed)
            .sum();
        let level = if streak.consecutive_failed >= WORKFLOW_CRITICAL_STREAK {
            Level::Critical
        } else if streak.consecutive_failed > 0 || failed_2d >= WORKFLOW_WARN_FAILED_2D {
            Level::Warning
        } else {
            Level::Ok
        };
        let failing_sources = if streak.consecutive_failed > 0 {
            failing_sources(store, name).await?
        } else {
            Vec::new()
        };
        out.push(WorkflowHealth {
            failing_sources,
            name: name.clone(),
            level,
            last_status: streak.last_status,
            last_run_at: streak.last_run_at,
            last_error: streak.last_error,
            consecutive_failed: streak.consecutive_failed,
            failing_since: streak.failing_since,
            days,
        });
    }
    Ok(out)
}

/// The sources the newest run of `workflow` failed on: those of its calls
/// that failed or were skipped (a breaker's refusal is a skip), each once.
/// A run that failed as a whole, before any call, names none.
async fn failing_sources(store: &dyn Store, workflow: &str) -> Result<Vec<String>, HealthError> {
    let filter = rebound_storage::RunFilter {
        workflow: Some(workflow.to_string()),
        ..Default::default()
    };
    // The streak counts finished runs only; so does this (a run still
    // going has not failed yet). A few suffice: runs rarely overlap.
    let runs = store.workflow_executions_page(&filter, 5).await?;
    let Some(run) = runs.into_iter().find(|r| r.status != "running") else {
        return Ok(Vec::new());
    };
    let sources: std::collections::BTreeSet<String> = store
        .scraper_calls_for_execution(&run.execution_id)
        .await?
        .into_iter()
        .filter(|c| c.status == "failed" || c.status == "skipped")
        .map(|c| c.source_name)
        .collect();
    Ok(sources.into_iter().collect())
}

/// Every dataset some scraper produces, by name.
async fn datasets(
    plan: &Plan,
    store: &dyn Store,
    calendars: &dyn Calendars,
    now: DateTime<Utc>,
    known_last: Option<&BTreeMap<String, ScraperLast>>,
) -> Result<Vec<DatasetHealth>, HealthError> {
    let mut producers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in plan.scrapers.values() {
        producers
            .entry(s.dataset.as_str())
            .or_default()
            .push(s.name.as_str());
    }
    // Every producer's newest fresh payload and newest call, each in one
    // read for all of them.
    let names: Vec<String> = producers
        .values()
        .flatten()
        .map(|s| s.to_string())
        .collect();
    // Each producer's first call kept: a dataset that never changed is
    // aged from its scrapers' first call.
    let first: BTreeMap<&str, Option<DateTime<Utc>>> = names
        .iter()
        .map(String::as_str)
        .zip(store.first_calls_at(&names).await?)
        .collect();
    let fresh: BTreeMap<&str, Option<DateTime<Utc>>> = names
        .iter()
        .map(String::as_str)
        .zip(store.last_fresh_payloads(&names).await?)
        .collect();
    let read_last;
    let last = match known_last {
        Some(known) => known,
        None => {
            read_last = names
                .iter()
                .cloned()
                .zip(store.scrapers_last(&names).await?)
                .collect::<BTreeMap<String, ScraperLast>>();
            &read_last
        }
    };
    // Freshness, and what completeness must read, per dataset; then every
    // dataset's collected entities in one read (both dates of each).
    let calendars = ReadOnce {
        calendars,
        read: Default::default(),
    };
    let mut pending = Vec::new();
    for (dataset, scrapers) in producers {
        let policy = plan.datasets.get(dataset);
        let mut last_change_at: Option<DateTime<Utc>> = None;
        let mut last_checked_at: Option<DateTime<Utc>> = None;
        let mut watched_since: Option<DateTime<Utc>> = None;
        for scraper in &scrapers {
            if let Some(t) = first.get(scraper).copied().flatten() {
                watched_since = Some(watched_since.map_or(t, |w| w.min(t)));
            }
            last_change_at = last_change_at.max(fresh.get(scraper).copied().flatten());
            last_checked_at = last_checked_at.max(last.get(*scraper).and_then(|l| l.last_call_at));
        }
        let freshness = freshness_of(policy, last_change_at, last_checked_at, watched_since, now);
        let completeness = match policy {
            Some(policy) => completeness_to_read(plan, &calendars, policy, now).await,
            None => None,
        };
        pending.push((dataset, freshness, completeness));
    }
    let asks: Vec<CollectedAsk> = pending
        .iter()
        .filter_map(|(_, _, c)| match c {
            Some(ToRead::Collected(c)) => Some(c),
            _ => None,
        })
        .flat_map(|c| c.asks())
        .collect();
    let mut collected = rebound_storage::collected_values_checked(store, &asks)
        .await?
        .into_iter();
    let mut out = Vec::new();
    for (dataset, freshness, completeness) in pending {
        let completeness = match completeness {
            None => None,
            Some(ToRead::Known(c)) => Some(c),
            Some(ToRead::Collected(c)) => {
                let [yesterday, today] = [collected.next(), collected.next()];
                Some(c.finish(now, [yesterday, today].map(Option::unwrap_or_default)))
            }
        };
        let level = freshness
            .level
            .max(completeness.as_ref().map_or(Level::Ok, |c| c.level));
        out.push(DatasetHealth {
            name: dataset.to_string(),
            level,
            freshness,
            completeness,
        });
    }
    Ok(out)
}

/// Age and level of a dataset's newest real change. A dataset that never
/// changed is graded by the time since its scrapers' first call kept
/// (`watched_since`): it was expected and has not come in that long. It
/// used to be as bad as its strongest threshold at once, so a new
/// pipeline's first `serve` sent critical alerts for datasets no workflow
/// had been due to fetch yet.
pub fn freshness_of(
    policy: Option<&DatasetPolicy>,
    last_change_at: Option<DateTime<Utc>>,
    last_checked_at: Option<DateTime<Utc>>,
    watched_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Freshness {
    let warn = policy.and_then(|p| p.fresh_warn);
    let error = policy.and_then(|p| p.fresh_error);
    let age = last_change_at.map(|t| (now - t).num_seconds().max(0));
    // A dataset that never changed has gone without data since its
    // scrapers' first call; with none, nothing has run to judge.
    let graded = age.or_else(|| watched_since.map(|t| (now - t).num_seconds().max(0)));
    let past = |limit: Option<Duration>| match (limit, graded) {
        (Some(limit), Some(age)) => age >= secs(limit),
        (Some(_), None) | (None, _) => false,
    };
    let level = if past(error) {
        Level::Critical
    } else if past(warn) {
        Level::Warning
    } else {
        Level::Ok
    };
    Freshness {
        level,
        last_change_at,
        last_checked_at,
        age_seconds: age,
        fresh_warn_seconds: warn.map(secs),
        fresh_error_seconds: error.map(secs),
        watched_since,
    }
}

/// The target dates completeness looks at: yesterday and today in the
/// pipeline's zone (last night's games are checked in the morning,
/// tonight's as their deadlines pass).
fn completeness_dates(plan: &Plan, now: DateTime<Utc>) -> [NaiveDate; 2] {
    let today = now.with_timezone(&plan.pipeline.timezone).date_naive();
    [today - TimeDelta::days(1), today]
}

/// A dataset's completeness, known without reading the history (a
/// calendar with no data or that cannot be read), or to finish with the
/// entities collected on its two dates.
enum ToRead {
    Known(Completeness),
    Collected(CompletenessInputs),
}

/// What a dataset's completeness needs besides the collected entities.
struct CompletenessInputs {
    scrapers: Vec<String>,
    param: String,
    dates: [NaiveDate; 2],
    /// The calendar's events on each of `dates`.
    expected: [Vec<Event>; 2],
    severity: Level,
    after: Duration,
}

impl CompletenessInputs {
    /// The two asks, yesterday's then today's, whose answers
    /// [`CompletenessInputs::finish`] takes in that order.
    fn asks(&self) -> [CollectedAsk; 2] {
        self.dates.map(|target_date| CollectedAsk {
            scrapers: self.scrapers.clone(),
            param: self.param.clone(),
            target_date,
        })
    }

    /// The worse of the two dates; on a tie, yesterday when it had events
    /// (the night that should be complete), else today.
    fn finish(self, now: DateTime<Utc>, collected: [Vec<String>; 2]) -> Completeness {
        let after = self.after;
        let [yesterday, today] = [0, 1].map(|i| {
            let expected = &self.expected[i];
            let missing: Vec<&Event> = expected
                .iter()
                .filter(|e| !collected[i].contains(&e.id))
                .collect();
            let deadline = missing.iter().map(|e| add_saturating(e.start, after)).min();
            let overdue: Vec<String> = missing
                .iter()
                .filter(|e| add_saturating(e.start, after) <= now)
                .map(|e| e.id.clone())
                .collect();
            Completeness {
                level: if overdue.is_empty() {
                    Level::Ok
                } else {
                    self.severity
                },
                target_date: self.dates[i],
                expected: expected.len() as i64,
                collected: (expected.len() - missing.len()) as i64,
                missing: missing.iter().map(|e| e.id.clone()).collect(),
                deadline,
                overdue,
                error: None,
            }
        });
        if today.level > yesterday.level
            || (today.level == yesterday.level && yesterday.expected == 0)
        {
            today
        } else {
            yesterday
        }
    }
}

/// What `policy`'s completeness needs, or `None` when it has no
/// `complete_by` or no producer fans out over a calendar.
async fn completeness_to_read(
    plan: &Plan,
    calendars: &dyn Calendars,
    policy: &DatasetPolicy,
    now: DateTime<Utc>,
) -> Option<ToRead> {
    let complete_by = policy.complete_by?;
    // The producers that fan out over a calendar (the config guarantees one).
    let fan: Vec<(&str, &str, &str)> = plan
        .scrapers
        .values()
        .filter(|s| s.dataset == policy.name)
        .filter_map(|s| match &s.for_each {
            Some(ForEach::Calendar { calendar, param }) => {
                Some((s.name.as_str(), calendar.as_str(), param.as_str()))
            }
            _ => None,
        })
        .collect();
    let &(_, calendar, param) = fan.first()?;
    let scrapers: Vec<String> = fan
        .iter()
        .filter(|(_, c, p)| *c == calendar && *p == param)
        .map(|(s, _, _)| s.to_string())
        .collect();
    let dates = completeness_dates(plan, now);
    let events = match calendars.events(calendar).await {
        Ok(Some(events)) => events,
        Ok(None) => {
            return Some(ToRead::Known(unknown_completeness(
                dates[1],
                format!("calendar {calendar} has no data yet: expected entities unknown"),
            )));
        }
        Err(e) => {
            return Some(ToRead::Known(unknown_completeness(
                dates[1],
                format!("calendar {calendar} cannot be read: {e}"),
            )));
        }
    };
    let severity = match complete_by.severity {
        Severity::Warning => Level::Warning,
        Severity::Critical => Level::Critical,
    };
    Some(ToRead::Collected(CompletenessInputs {
        scrapers,
        param: param.to_string(),
        dates,
        expected: dates.map(|date| events_on(&events, plan.pipeline.timezone, date)),
        severity,
        after: complete_by.after_event_start,
    }))
}

fn unknown_completeness(date: NaiveDate, error: String) -> Completeness {
    Completeness {
        level: Level::Warning,
        target_date: date,
        expected: 0,
        collected: 0,
        missing: Vec::new(),
        deadline: None,
        overdue: Vec::new(),
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its reads; `broken` cannot be read.
    struct Counting(AtomicUsize);

    #[async_trait]
    impl Calendars for Counting {
        async fn events(&self, calendar: &str) -> Result<Option<Vec<Event>>, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            match calendar {
                "broken" => Err("cannot be read".to_string()),
                _ => Ok(Some(Vec::new())),
            }
        }
    }

    #[test]
    fn a_report_reads_each_calendar_once() {
        let inner = Counting(AtomicUsize::new(0));
        let once = ReadOnce {
            calendars: &inner,
            read: Default::default(),
        };
        futures::executor::block_on(async {
            for _ in 0..3 {
                assert_eq!(once.events("games").await, Ok(Some(Vec::new())));
                assert_eq!(
                    once.events("broken").await,
                    Err("cannot be read".to_string())
                );
            }
        });
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }
}
