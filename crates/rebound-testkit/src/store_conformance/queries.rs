//! A fixture for testing the operator queries of `docs/queries.md`.
//!
//! Those queries are documentation, and documentation rots silently: a
//! renamed column or a dialect slip is only found by the operator who pastes
//! the query during an incident. So each backend's tests pull every block of
//! its dialect out of the document ([`dialect_queries`]), seed the history
//! through the [`Store`] trait ([`seed`]) and compare each query's result
//! with the values [`Expected`] says the seed must produce. Keeping the seed
//! and the expected values here means both dialects are held to the very
//! same numbers.
//!
//! The seed is placed relative to the current time, because the queries
//! look at "the last 7 days" and "the last 24 hours" of the database clock.
//! It expects an empty store.

use super::date;
use chrono::{DateTime, NaiveDate, SubsecRound, TimeDelta, Utc};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_storage::{
    AlertLevel, DecisionAction, NewAttempt, NewDecision, NewScheduledRun, NewScraperCall,
    NewWorkflowExecution, Store,
};

/// The `### ` headings of `docs/queries.md`, in document order. A query
/// added to the document without a test fails the tests until it is listed
/// here and checked.
pub const HEADINGS: [&str; 10] = [
    FAILURE_RATE,
    MESSAGE_COVERAGE,
    RETRIES_PAID_OFF,
    LATEST_STATUS,
    ATTEMPTS_PER_ERROR_KIND,
    RECENT_DECISIONS,
    HEALTH_WORKFLOW_DAYS,
    HEALTH_ERROR_COVERAGE,
    HEALTH_RETRIES,
    HEALTH_FRESHNESS,
];
/// The queries `rebound health` must agree with (checked in `rebound-health`'s tests).
pub const HEALTH_WORKFLOW_DAYS: &str =
    "Health: workflow failure rate per target date (last 7 target dates)";
pub const HEALTH_ERROR_COVERAGE: &str = "Health: error coverage of failed and partial runs";
pub const HEALTH_RETRIES: &str = "Health: retries in the last 24 hours";
pub const HEALTH_FRESHNESS: &str = "Health: dataset freshness";
pub const FAILURE_RATE: &str = "Failure rate per workflow per day (last 7 days)";
pub const MESSAGE_COVERAGE: &str = "Error-message coverage of failed and skipped calls";
pub const RETRIES_PAID_OFF: &str = "Retries that paid off";
pub const LATEST_STATUS: &str = "Latest status per scraper";
pub const ATTEMPTS_PER_ERROR_KIND: &str = "Attempts per error kind (last 24 hours)";
pub const RECENT_DECISIONS: &str = "Scheduler decisions of the last 24 hours, and why";

/// One query of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlBlock {
    /// The text of the `### ` heading above it.
    pub heading: String,
    pub sql: String,
}

/// The blocks fenced as ```` ```sql <dialect> ```` (`sqlite` or `postgres`),
/// in document order. Panics unless every `### ` heading is followed by
/// exactly one such block and no block stands outside a heading, because a
/// document that breaks that rule has lost a query for one dialect.
pub fn dialect_queries(markdown: &str, dialect: &str) -> Vec<SqlBlock> {
    let fence = format!("```sql {dialect}");
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut open: Option<String> = None;
    for (number, line) in markdown.lines().enumerate() {
        if let Some(body) = open.as_mut() {
            if line.trim_end() == "```" {
                let sql = std::mem::take(body);
                open = None;
                let Some((_, blocks)) = sections.last_mut() else {
                    panic!(
                        "a ```sql {dialect} block ending on line {} has no heading",
                        number + 1
                    );
                };
                blocks.push(sql);
            } else {
                body.push_str(line);
                body.push('\n');
            }
        } else if let Some(heading) = line.strip_prefix("### ") {
            sections.push((heading.trim().to_string(), Vec::new()));
        } else if line.trim_end() == fence {
            open = Some(String::new());
        }
    }
    assert!(open.is_none(), "an unterminated ```sql {dialect} block");
    sections
        .into_iter()
        .map(|(heading, mut blocks)| {
            assert_eq!(
                blocks.len(),
                1,
                "heading {heading:?} must have exactly one ```sql {dialect} block"
            );
            SqlBlock {
                heading,
                sql: blocks.remove(0),
            }
        })
        .collect()
}

/// A row of the failure-rate query.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRateRow {
    pub workflow_name: String,
    pub day: NaiveDate,
    pub runs: i64,
    pub failed: i64,
    pub partial: i64,
    pub failure_rate_pct: f64,
    pub failed_or_partial_pct: f64,
}

/// The one row of the message-coverage query.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRow {
    pub failed_or_skipped: i64,
    pub with_message: i64,
    pub coverage_pct: f64,
}

/// A row of the retries-that-paid-off query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetriedRow {
    pub scraper_name: String,
    pub attempts: i64,
    pub calls: i64,
}

/// A row of the latest-status query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestStatusRow {
    pub scraper_name: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// A row of the attempts-per-error-kind query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorKindRow {
    pub error_kind: String,
    pub attempts: i64,
    pub retryable: i64,
    pub permanent: i64,
}

/// A row of the recent-decisions query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionReportRow {
    pub decided_at: DateTime<Utc>,
    pub workflow_name: String,
    pub target_date: NaiveDate,
    pub slot: String,
    pub action: String,
    pub alert_level: String,
    pub reason: String,
    pub execution_id: Option<String>,
    pub run_state: Option<String>,
    pub result_status: Option<String>,
}

/// What each query must return for the [`seed`], in the query's row order.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub failure_rate: Vec<FailureRateRow>,
    pub coverage: CoverageRow,
    /// Coverage after the test adds one failed call with a NULL message and
    /// one skipped call with an empty message, with raw SQL (the Store would
    /// not be asked to write such rows by the engine).
    pub coverage_with_two_missing: CoverageRow,
    pub retries_paid_off: Vec<RetriedRow>,
    pub latest_status: Vec<LatestStatusRow>,
    pub attempts_per_error_kind: Vec<ErrorKindRow>,
    pub recent_decisions: Vec<DecisionReportRow>,
}

/// Seeds `store` (expected empty) with a week of runs and calls, relative to
/// now, and returns what the queries must say about them.
#[allow(clippy::disallowed_methods)] // seed rows relative to the wall clock, as the commands under test read it
pub async fn seed(store: &dyn Store) -> Expected {
    let now = Utc::now().trunc_subsecs(3);
    seed_workflows(store, now).await;
    let latest_status = seed_calls(store, now).await;
    let recent_decisions = seed_decisions(store, now).await;

    let d2 = (now - TimeDelta::days(2)).date_naive();
    let d1 = (now - TimeDelta::days(1)).date_naive();
    let rate = |workflow: &str, day, runs, failed, partial, pct, pct2| FailureRateRow {
        workflow_name: workflow.to_string(),
        day,
        runs,
        failed,
        partial,
        failure_rate_pct: pct,
        failed_or_partial_pct: pct2,
    };
    let retried = |scraper: &str, attempts, calls| RetriedRow {
        scraper_name: scraper.to_string(),
        attempts,
        calls,
    };
    let kind = |kind: &str, attempts, retryable, permanent| ErrorKindRow {
        error_kind: kind.to_string(),
        attempts,
        retryable,
        permanent,
    };
    Expected {
        // Newest day first, then by workflow; the 10-day-old run is outside.
        failure_rate: vec![
            rate("wf_alpha", d1, 2, 0, 0, 0.0, 0.0),
            rate("wf_alpha", d2, 4, 1, 1, 25.0, 50.0),
            rate("wf_beta", d2, 3, 2, 0, 66.7, 66.7),
        ],
        coverage: CoverageRow {
            failed_or_skipped: 3,
            with_message: 3,
            coverage_pct: 100.0,
        },
        coverage_with_two_missing: CoverageRow {
            failed_or_skipped: 5,
            with_message: 3,
            coverage_pct: 60.0,
        },
        retries_paid_off: vec![
            retried("news", 2, 1),
            retried("prices", 2, 1),
            retried("prices", 3, 2),
            retried("rates", 2, 1),
        ],
        latest_status,
        // Most frequent first, ties by name; the 2- and 10-day-old
        // attempts are outside the window.
        attempts_per_error_kind: vec![
            kind("server", 5, 5, 0),
            kind("client", 1, 0, 1),
            kind("connect", 1, 1, 0),
            kind("throttled", 1, 1, 0),
            kind("timeout", 1, 1, 0),
        ],
        recent_decisions,
    }
}

/// Records a day of scheduler decisions (one slot claimed twice, one run
/// that ran, one still queued, a SKIP, an ABORT, and a decision older than
/// 24 hours) and returns the expected recent-decisions rows.
async fn seed_decisions(store: &dyn Store, now: DateTime<Utc>) -> Vec<DecisionReportRow> {
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let day = now.date_naive();
    let decision = |id: &str, workflow: &str, minutes_ago: i64, slot: &str| NewDecision {
        decision_id: id.to_string(),
        workflow_name: workflow.to_string(),
        decided_at: ago(minutes_ago),
        slot: slot.to_string(),
        target_date: day,
        action: DecisionAction::Run,
        reason: format!("slot {slot} is due"),
        entities: "[]".to_string(),
        alert_level: AlertLevel::None,
        execution_id: None,
        decided_by: "scheduler:1".to_string(),
    };
    let run = |id: &str, workflow: &str, slot: &str, run_at: DateTime<Utc>| NewScheduledRun {
        run_id: format!("run-{id}"),
        workflow_name: workflow.to_string(),
        target_date: day,
        slot: slot.to_string(),
        params: "{}".to_string(),
        entities: "null".to_string(),
        run_at,
        scheduled_for: run_at,
        execution_id: format!("exec-{id}"),
        decision_id: Some(id.to_string()),
        created_at: run_at,
    };
    let record = |decision: NewDecision, run: Option<NewScheduledRun>| async move {
        store
            .record_decision(&decision, run.as_ref())
            .await
            .expect("seed record_decision")
    };

    let mut old = decision("d-old", "wf_alpha", 25 * 60, "05:00");
    old.action = DecisionAction::Skip;
    old.reason = "outside the window".to_string();
    record(old, None).await;
    let ran = run("d-ran", "wf_alpha", "05:00", ago(180));
    record(decision("d-ran", "wf_alpha", 180, "05:00"), Some(ran)).await;
    let dup = run("d-dup", "wf_alpha", "05:00", ago(120));
    record(decision("d-dup", "wf_alpha", 120, "05:00"), Some(dup)).await;
    let mut skip = decision("d-skip", "wf_beta", 60, "window");
    skip.action = DecisionAction::Skip;
    skip.alert_level = AlertLevel::Info;
    skip.reason = "no game today".to_string();
    record(skip, None).await;
    let mut abort = decision("d-abort", "wf_beta", 30, "backfill");
    abort.action = DecisionAction::Abort;
    abort.alert_level = AlertLevel::Critical;
    abort.reason = "calendar source failed 3 times: HTTP 503".to_string();
    record(abort, None).await;
    let later = run("d-later", "wf_alpha", "17:00", now + TimeDelta::hours(1));
    record(decision("d-later", "wf_alpha", 10, "17:00"), Some(later)).await;

    // Only the 05:00 run is due; it runs to the end.
    let claimed = store
        .claim_run("seed-worker", now, std::time::Duration::from_secs(600))
        .await
        .expect("seed claim_run")
        .expect("a due run");
    assert!(
        store
            .finish_run(&claimed.run_id, "seed-worker", now, "success", None)
            .await
            .expect("seed finish_run")
    );

    let row = |minutes_ago: i64, workflow: &str, slot: &str, action: &str, alert: &str| {
        DecisionReportRow {
            decided_at: ago(minutes_ago),
            workflow_name: workflow.to_string(),
            target_date: day,
            slot: slot.to_string(),
            action: action.to_string(),
            alert_level: alert.to_string(),
            reason: format!("slot {slot} is due"),
            execution_id: None,
            run_state: None,
            result_status: None,
        }
    };
    // Newest first.
    vec![
        DecisionReportRow {
            execution_id: Some("exec-d-later".to_string()),
            run_state: Some("queued".to_string()),
            ..row(10, "wf_alpha", "17:00", "RUN", "NONE")
        },
        DecisionReportRow {
            reason: "calendar source failed 3 times: HTTP 503".to_string(),
            ..row(30, "wf_beta", "backfill", "ABORT", "CRITICAL")
        },
        DecisionReportRow {
            reason: "no game today".to_string(),
            ..row(60, "wf_beta", "window", "SKIP", "INFO")
        },
        DecisionReportRow {
            reason: format!("slot 05:00 for {day} already claimed (execution exec-d-ran)"),
            ..row(120, "wf_alpha", "05:00", "SKIP", "NONE")
        },
        DecisionReportRow {
            execution_id: Some("exec-d-ran".to_string()),
            run_state: Some("done".to_string()),
            result_status: Some("success".to_string()),
            ..row(180, "wf_alpha", "05:00", "RUN", "NONE")
        },
    ]
}

async fn seed_workflows(store: &dyn Store, now: DateTime<Utc>) {
    let at = |days_ago: i64, hour: u32| {
        (now - TimeDelta::days(days_ago))
            .date_naive()
            .and_hms_opt(hour, 0, 0)
            .expect("valid hour")
            .and_utc()
    };
    use WorkflowStatus::{Failed, NoData, Partial, Success};
    let runs = [
        ("wf_alpha", at(2, 8), Success),
        ("wf_alpha", at(2, 9), Failed),
        ("wf_alpha", at(2, 10), Partial),
        ("wf_alpha", at(2, 11), NoData),
        ("wf_alpha", at(1, 8), Success),
        ("wf_alpha", at(1, 9), Success),
        ("wf_beta", at(2, 8), Failed),
        ("wf_beta", at(2, 9), Failed),
        ("wf_beta", at(2, 10), Success),
        // Outside the 7-day window.
        ("wf_alpha", at(10, 8), Failed),
    ];
    for (i, (workflow, start, status)) in runs.into_iter().enumerate() {
        let failed = u32::from(matches!(status, Failed | Partial));
        let run = NewWorkflowExecution {
            execution_id: format!("run-{i}"),
            workflow_name: workflow.to_string(),
            target_date: start.date_naive(),
            execution_time: start,
            finished_at: start + TimeDelta::seconds(30),
            status,
            scrapers_requested: 2,
            scrapers_succeeded: 2 - failed,
            scrapers_failed: failed,
            scrapers_no_data: 0,
            scrapers_skipped: 0,
            error_message: (failed > 0).then(|| "prices: HTTP 500".to_string()),
            duration_ms: 30_000,
            params: "{}".to_string(),
        };
        store
            .record_workflow_execution(&run)
            .await
            .expect("seed record_workflow_execution");
    }
}

/// Records the calls and returns the expected latest-status rows, which
/// need the exact seeded times.
async fn seed_calls(store: &dyn Store, now: DateTime<Utc>) -> Vec<LatestStatusRow> {
    use AttemptOutcome::{NoData, Permanent, Retryable, Success};
    use ErrorKind::{Client, Connect, Dependency, Server, Throttled, Timeout};
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);

    // Attempts as (outcome, error kind, http status); calls as (scraper,
    // started, status, error kind and message of the call, attempts).
    type Attempt = (AttemptOutcome, Option<ErrorKind>, Option<u16>);
    type SeedCall = (
        &'static str,
        DateTime<Utc>,
        ScraperStatus,
        Option<(ErrorKind, &'static str)>,
        Vec<Attempt>,
    );
    let ok: Attempt = (Success, None, Some(200));
    let calls: Vec<SeedCall> = vec![
        // Ten days old: a paid-off retry outside every window.
        (
            "prices",
            now - TimeDelta::days(10),
            ScraperStatus::Success,
            None,
            vec![(Retryable, Some(Server), Some(500)); 3]
                .into_iter()
                .chain([ok])
                .collect(),
        ),
        // Two days old: a failure inside 7 days, outside 24 hours.
        (
            "prices",
            now - TimeDelta::days(2),
            ScraperStatus::Failed,
            Some((Timeout, "no answer within 10s")),
            vec![(Retryable, Some(Timeout), None)],
        ),
        ("prices", ago(300), ScraperStatus::Success, None, vec![ok]),
        (
            "news",
            ago(280),
            ScraperStatus::NoData,
            None,
            vec![(NoData, None, Some(200))],
        ),
        (
            "prices",
            ago(240),
            ScraperStatus::Success,
            None,
            vec![
                (Retryable, Some(Server), Some(503)),
                (Retryable, Some(Timeout), None),
                ok,
            ],
        ),
        (
            "rates",
            ago(230),
            ScraperStatus::Success,
            None,
            vec![(Retryable, Some(Connect), None), ok],
        ),
        (
            "prices",
            ago(220),
            ScraperStatus::Success,
            None,
            vec![
                (Retryable, Some(Server), Some(502)),
                (Retryable, Some(Server), Some(500)),
                ok,
            ],
        ),
        (
            "prices",
            ago(200),
            ScraperStatus::Success,
            None,
            vec![(Retryable, Some(Server), Some(500)), ok],
        ),
        (
            "prices",
            ago(60),
            ScraperStatus::Failed,
            Some((Client, "HTTP 404 Not Found — «symbol» inconnu")),
            vec![
                (Retryable, Some(Throttled), Some(429)),
                (Permanent, Some(Client), Some(404)),
            ],
        ),
        (
            "rates",
            ago(50),
            ScraperStatus::Skipped,
            Some((Dependency, "skipped: prices failed")),
            vec![],
        ),
        (
            "news",
            ago(30),
            ScraperStatus::Success,
            None,
            vec![(Retryable, Some(Server), Some(500)), ok],
        ),
    ];

    for (scraper, started_at, status, error, attempts) in calls {
        let attempt_rows: Vec<NewAttempt> = attempts
            .iter()
            .zip(1u32..)
            .map(|(&(outcome, kind, http_status), n)| NewAttempt {
                attempt: n,
                page: 1,
                proxy: None,
                started_at: started_at + TimeDelta::seconds(i64::from(n)),
                finished_at: started_at
                    + TimeDelta::seconds(i64::from(n))
                    + TimeDelta::milliseconds(400),
                http_status,
                outcome,
                error_kind: kind,
                error_message: kind.map(|k| format!("attempt {n}: {}", k.as_str())),
                delay_before_ms: if n == 1 { 0 } else { 600 },
            })
            .collect();
        let last_status = attempts.last().and_then(|a| a.2);
        let call = NewScraperCall {
            etag: None,
            last_modified: None,
            outputs: Vec::new(),
            execution_id: None,
            workflow_name: None,
            scraper_name: scraper.to_string(),
            source_name: "sim".to_string(),
            params: r#"{"date":"2026-01-01"}"#.to_string(),
            target_date: date("2026-01-01"),
            status,
            attempts: u32::try_from(attempts.len()).expect("few attempts"),
            http_status: last_status,
            error_kind: error.map(|(kind, _)| kind),
            error_message: error.map(|(_, message)| message.to_string()),
            started_at,
            finished_at: started_at + TimeDelta::seconds(10),
            duration_ms: 10_000,
            bytes: None,
            output_uri: None,
            content_hash: None,
            unchanged: false,
            pages: None,
            record_count: None,
            attempt_rows,
        };
        store
            .record_scraper_call(&call)
            .await
            .expect("seed record_scraper_call");
    }

    vec![
        LatestStatusRow {
            scraper_name: "news".to_string(),
            status: "success".to_string(),
            started_at: ago(30),
            error_kind: None,
            error_message: None,
            last_success_at: Some(ago(30)),
        },
        LatestStatusRow {
            scraper_name: "prices".to_string(),
            status: "failed".to_string(),
            started_at: ago(60),
            error_kind: Some("client".to_string()),
            error_message: Some("HTTP 404 Not Found — «symbol» inconnu".to_string()),
            last_success_at: Some(ago(200)),
        },
        LatestStatusRow {
            scraper_name: "rates".to_string(),
            status: "skipped".to_string(),
            started_at: ago(50),
            error_kind: Some("dependency".to_string()),
            error_message: Some("skipped: prices failed".to_string()),
            last_success_at: Some(ago(230)),
        },
    ]
}
