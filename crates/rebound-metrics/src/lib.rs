//! Prometheus metrics of a Rebound process (`/metrics` on `rebound serve`).
//!
//! Two kinds of figures, kept apart on purpose:
//!
//! - **Per-process counters and histograms** ([`Metrics`]): attempts, calls,
//!   call durations, finished runs, schedule-to-start delay. The engine and
//!   the workers count into them as things happen. Each `rebound serve`
//!   process exposes its own; sum them across processes in PromQL
//!   (`sum by (source) (rate(rebound_attempts_total[5m]))`).
//! - **Shared state** ([`exporter::Exporter`]): breaker state, queue depth and
//!   dataset age live in the database that every process shares, so they
//!   are read from the store when `/metrics` is scraped, at most once per
//!   cache period, never counted in memory (two processes would disagree).
//!
//! Label values come only from bounded sets: source, workflow and dataset
//! names from the config (anything else is counted under `other`, so a bug
//! can never blow up cardinality), and the closed enums of
//! `rebound_domain::outcome` and `rebound_domain::breaker`. Never a URL, a
//! parameter value or an error text. `docs/metrics.md` lists every metric.
//!
//! This crate knows no HTTP server: `rebound-cli` serves [`Metrics::encode`]
//! from its axum endpoint.

pub mod exporter;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use rebound_domain::breaker::Phase;
use rebound_domain::outcome::{AttemptOutcome, ScraperStatus};
use rebound_domain::plan::Plan;
use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The label value for a name the config does not define.
pub const OTHER: &str = "other";

/// Upper bounds (seconds) of the call duration buckets. A call includes its
/// retries and their backoff, so the range runs from a fast answer to the
/// two minutes of a call that retried a slow source several times.
pub const CALL_DURATION_BUCKETS: &[f64] = &[
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// Upper bounds (seconds) of the schedule-to-start buckets: from a worker
/// that was idle (milliseconds) to a run that waited behind a full queue or
/// a process that was down (an hour).
pub const SCHEDULE_TO_START_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Which text format `/metrics` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4, what every scraper understands.
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it in `Accept`.
    OpenMetrics,
}

impl Format {
    /// The format a request's `Accept` header asks for: OpenMetrics only
    /// when named, the classic text format otherwise.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceOutcome {
    source: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceStatus {
    source: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceState {
    source: String,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkflowStatus {
    workflow: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatasetLabel {
    dataset: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkOutcome {
    sink: String,
    outcome: &'static str,
}

/// The outcomes of `rebound_events_total`: a post a sink accepted
/// (`delivered`; `redelivered` when the reconciler sent it again), one it
/// refused or did not answer (`failed`).
pub const EVENT_OUTCOMES: [&str; 3] = ["delivered", "redelivered", "failed"];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn call_duration_histogram() -> Histogram {
    Histogram::new(CALL_DURATION_BUCKETS.iter().copied())
}

/// The registry and every metric of one process.
pub struct Metrics {
    registry: Registry,
    sources: BTreeSet<String>,
    workflows: BTreeSet<String>,
    datasets: BTreeSet<String>,
    sinks: BTreeSet<String>,
    attempts: Family<SourceOutcome, Counter>,
    calls: Family<SourceStatus, Counter>,
    call_duration: HistogramFamily<SourceLabel>,
    runs: Family<WorkflowStatus, Counter>,
    schedule_to_start: Histogram,
    breaker_state: Family<SourceState, Gauge>,
    dataset_age: Family<DatasetLabel, Gauge<f64, AtomicU64>>,
    queue_depth: Gauge,
    refresh_errors: Counter,
    events: Family<SinkOutcome, Counter>,
    events_pending: Gauge,
    events_oldest_pending: Gauge<f64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics for the sources, workflows and datasets of `plan`: the only
    /// label values they will show besides [`OTHER`]. Calendar refresh runs
    /// are counted under their run name (`calendar:NAME`).
    pub fn for_plan(plan: &Plan) -> Metrics {
        let workflows = plan
            .workflows
            .keys()
            .cloned()
            .chain(plan.calendars.keys().map(|c| format!("calendar:{c}")));
        let mut metrics = Metrics::new(
            plan.sources.keys().cloned(),
            workflows,
            plan.scrapers.values().map(|s| s.dataset.clone()),
        );
        metrics.sinks = plan.handoff.sinks.keys().cloned().collect();
        metrics
    }

    /// Metrics whose labels may take the given names.
    pub fn new(
        sources: impl IntoIterator<Item = String>,
        workflows: impl IntoIterator<Item = String>,
        datasets: impl IntoIterator<Item = String>,
    ) -> Metrics {
        let mut registry = Registry::default();
        let attempts = Family::<SourceOutcome, Counter>::default();
        registry.register(
            "rebound_attempts",
            "HTTP attempts by source and how each ended (success, no_data, retryable, permanent)",
            attempts.clone(),
        );
        let calls = Family::<SourceStatus, Counter>::default();
        registry.register(
            "rebound_calls",
            "Scraper calls by source and final status (success, no_data, failed, skipped, not_yet_available, overdue)",
            calls.clone(),
        );
        let call_duration: HistogramFamily<SourceLabel> =
            Family::new_with_constructor(call_duration_histogram);
        registry.register_with_unit(
            "rebound_call_duration",
            "Duration of scraper calls that made a request, retries and backoff included",
            Unit::Seconds,
            call_duration.clone(),
        );
        let runs = Family::<WorkflowStatus, Counter>::default();
        registry.register(
            "rebound_runs",
            "Runs finished by this process's workers, by workflow and status",
            runs.clone(),
        );
        let schedule_to_start = Histogram::new(SCHEDULE_TO_START_BUCKETS.iter().copied());
        registry.register_with_unit(
            "rebound_schedule_to_start",
            "Delay from a run's scheduled time to a worker starting it",
            Unit::Seconds,
            schedule_to_start.clone(),
        );
        let breaker_state = Family::<SourceState, Gauge>::default();
        registry.register(
            "rebound_breaker_state",
            "Circuit breaker of each source: 1 for its current state (closed, open, half_open), 0 for the others",
            breaker_state.clone(),
        );
        let dataset_age = Family::<DatasetLabel, Gauge<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "rebound_dataset_age",
            "Age of each dataset's newest fresh data (a non-empty payload that changed)",
            Unit::Seconds,
            dataset_age.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "rebound_queue_depth",
            "Queued runs that are due and not yet started (shared by every process)",
            queue_depth.clone(),
        );
        let refresh_errors = Counter::default();
        registry.register(
            "rebound_metrics_refresh_errors",
            "Scrapes whose read of breaker, queue or dataset state from the database failed",
            refresh_errors.clone(),
        );
        let events = Family::<SinkOutcome, Counter>::default();
        registry.register(
            "rebound_events",
            "Completion event posts by hand-off sink and outcome (delivered, redelivered, failed)",
            events.clone(),
        );
        let events_pending = Gauge::default();
        registry.register(
            "rebound_events_pending",
            "Completion events not yet accepted by every sink that wants them (shared by every process)",
            events_pending.clone(),
        );
        let events_oldest_pending = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "rebound_events_oldest_pending",
            "Age of the oldest pending completion event (0 when none is pending)",
            Unit::Seconds,
            events_oldest_pending.clone(),
        );
        Metrics {
            registry,
            sources: sources.into_iter().collect(),
            workflows: workflows.into_iter().collect(),
            datasets: datasets.into_iter().collect(),
            sinks: BTreeSet::new(),
            events,
            events_pending,
            events_oldest_pending,
            attempts,
            calls,
            call_duration,
            runs,
            schedule_to_start,
            breaker_state,
            dataset_age,
            queue_depth,
            refresh_errors,
        }
    }

    fn bounded(known: &BTreeSet<String>, name: &str) -> String {
        if known.contains(name) {
            name.to_string()
        } else {
            OTHER.to_string()
        }
    }

    /// One finished call: its attempts by outcome, its final status, and
    /// (when it made a request) its duration.
    pub fn record_call(
        &self,
        source: &str,
        attempts: impl IntoIterator<Item = AttemptOutcome>,
        status: ScraperStatus,
        duration: Option<Duration>,
    ) {
        let source = Metrics::bounded(&self.sources, source);
        for outcome in attempts {
            self.attempts
                .get_or_create(&SourceOutcome {
                    source: source.clone(),
                    outcome: outcome.as_str(),
                })
                .inc();
        }
        self.calls
            .get_or_create(&SourceStatus {
                source: source.clone(),
                status: status.as_str(),
            })
            .inc();
        if let Some(duration) = duration {
            self.call_duration
                .get_or_create(&SourceLabel { source })
                .observe(duration.as_secs_f64());
        }
    }

    /// One run a worker finished (`status` is a workflow status, or
    /// `failed` for a run that could not start), and how long after its
    /// scheduled time the worker started it.
    pub fn record_run(&self, workflow: &str, status: &str, schedule_to_start: Duration) {
        const STATUSES: &[&str] = &["success", "no_data", "partial", "failed"];
        let status = if STATUSES.contains(&status) {
            status
        } else {
            OTHER
        };
        self.runs
            .get_or_create(&WorkflowStatus {
                workflow: Metrics::bounded(&self.workflows, workflow),
                status: status.to_string(),
            })
            .inc();
        self.schedule_to_start
            .observe(schedule_to_start.as_secs_f64());
    }

    /// Sets the breaker gauges of `source` (1 for `phase`, 0 for the rest).
    pub fn set_breaker(&self, source: &str, phase: Phase) {
        let source = Metrics::bounded(&self.sources, source);
        for state in [Phase::Closed, Phase::Open, Phase::HalfOpen] {
            self.breaker_state
                .get_or_create(&SourceState {
                    source: source.clone(),
                    state: state.as_str(),
                })
                .set(i64::from(state == phase));
        }
    }

    /// Sets the age of `dataset`'s newest fresh data.
    pub fn set_dataset_age(&self, dataset: &str, age: Duration) {
        self.dataset_age
            .get_or_create(&DatasetLabel {
                dataset: Metrics::bounded(&self.datasets, dataset),
            })
            .set(age.as_secs_f64());
    }

    /// Sets the number of due queued runs.
    pub fn set_queue_depth(&self, depth: u64) {
        self.queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Hand-off sinks the `sink` label may name (besides [`OTHER`]).
    pub fn with_sinks(mut self, sinks: impl IntoIterator<Item = String>) -> Metrics {
        self.sinks = sinks.into_iter().collect();
        self
    }

    /// One post of a completion event to a sink; `outcome` is one of
    /// [`EVENT_OUTCOMES`] (anything else counts as `failed`).
    pub fn record_event(&self, sink: &str, outcome: &str) {
        let outcome = EVENT_OUTCOMES
            .iter()
            .find(|o| **o == outcome)
            .copied()
            .unwrap_or("failed");
        self.events
            .get_or_create(&SinkOutcome {
                sink: Metrics::bounded(&self.sinks, sink),
                outcome,
            })
            .inc();
    }

    /// Sets the pending-event gauges.
    pub fn set_events_pending(&self, pending: u64, oldest: Option<Duration>) {
        self.events_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.events_oldest_pending
            .set(oldest.map_or(0.0, |d| d.as_secs_f64()));
    }

    /// Counts a scrape whose shared-state read failed.
    pub fn refresh_failed(&self) {
        self.refresh_errors.inc();
    }

    /// The configured source names (every one gets a breaker gauge).
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(String::as_str)
    }

    /// Everything, in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a
        // bug in a metric, and an empty page says so to the scraper.
        let written = match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
        };
        if let Err(error) = written {
            tracing::error!(%error, "Could not encode the metrics.");
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests;
