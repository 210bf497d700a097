//! Checks of the health report's reads (`HealthStore`).
//!
//! Per-name lookups use tagged scraper/source/workflow names; the two
//! whole-store aggregates (error coverage, retries) are checked as the
//! difference before and after the check's own rows, so they pass on a
//! store that already holds other history.

use super::{Tag, date, record, sample_call, sample_execution, ts};
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus, WorkflowStatus};
use rebound_storage::{
    CallCountRow, NewAttempt, NewScraperCall, ScraperLast, SourceLast, Store, WorkflowDayRow,
    WorkflowStreak,
};

/// Runs every health check on `store`.
pub async fn run_all(store: &dyn Store) {
    call_counts_group_the_period_by_scraper_source_and_status(store).await;
    scraper_last_finds_newest_success_error_and_streak(store).await;
    source_last_says_since_when_it_fails(store).await;
    fresh_payload_ignores_empty_unchanged_and_no_data(store).await;
    workflow_days_and_streak(store).await;
    error_coverage_and_retries_count_the_period(store).await;
    first_calls_are_each_scrapers_oldest_start(store).await;
}

/// Each scraper's first call kept: the oldest start among its calls,
/// whatever their status or the order they were recorded in; `None` for a
/// scraper without calls; in the order asked.
pub async fn first_calls_are_each_scrapers_oldest_start(store: &dyn Store) {
    let tag = Tag::new();
    let t0 = ts("2031-06-01T10:00:00.250Z");
    let at = |hours: i64| t0 + TimeDelta::hours(hours);
    record(
        store,
        &call(&tag, "a", "src", ScraperStatus::Success, at(1), 1),
    )
    .await;
    record(
        store,
        &call(&tag, "a", "src", ScraperStatus::Skipped, t0, 0),
    )
    .await;
    record(
        store,
        &call(&tag, "b", "src", ScraperStatus::Failed, at(2), 1),
    )
    .await;
    let names = [tag.name("b"), tag.name("none"), tag.name("a")];
    assert_eq!(
        store.first_calls_at(&names).await.expect("first_calls_at"),
        vec![Some(at(2)), None, Some(t0)]
    );
}

// The single-name reads, each checked against the many-names form the
// health report uses: asked for the name between two others (one that has
// no history), it must answer the same, in the same place.

async fn scraper_last(store: &dyn Store, name: &str) -> ScraperLast {
    let one = store.scraper_last(name).await.expect("scraper_last");
    let many = store
        .scrapers_last(&around(name))
        .await
        .expect("scrapers_last");
    assert_eq!(many.len(), 3, "scrapers_last: one answer per name");
    assert_eq!(many[1], one, "scrapers_last agrees with scraper_last");
    assert_eq!(many[0], ScraperLast::default(), "a name without history");
    one
}

async fn source_last(store: &dyn Store, name: &str) -> SourceLast {
    let one = store.source_last(name).await.expect("source_last");
    let many = store
        .sources_last(&around(name))
        .await
        .expect("sources_last");
    assert_eq!(many.len(), 3, "sources_last: one answer per name");
    assert_eq!(many[1], one, "sources_last agrees with source_last");
    assert_eq!(many[2], SourceLast::default(), "a name without history");
    one
}

async fn last_fresh_payload(store: &dyn Store, name: &str) -> Option<DateTime<Utc>> {
    let one = store
        .last_fresh_payload(name)
        .await
        .expect("last_fresh_payload");
    let many = store
        .last_fresh_payloads(&around(name))
        .await
        .expect("last_fresh_payloads");
    assert_eq!(many, vec![None, one, None], "last_fresh_payloads agrees");
    one
}

async fn workflow_streak(store: &dyn Store, name: &str) -> WorkflowStreak {
    let one = store.workflow_streak(name).await.expect("workflow_streak");
    let many = store
        .workflow_streaks(&around(name))
        .await
        .expect("workflow_streaks");
    assert_eq!(
        many,
        vec![
            WorkflowStreak::default(),
            one.clone(),
            WorkflowStreak::default()
        ],
        "workflow_streaks agrees with workflow_streak"
    );
    one
}

/// `name` between two names no check records anything under.
fn around(name: &str) -> Vec<String> {
    vec![
        format!("{name}-none-before"),
        name.to_string(),
        format!("{name}-none-after"),
    ]
}

/// A call of `scraper` (tagged) to `source` with `status` and `attempts`
/// attempts (the last one ending as the call did).
fn call(
    tag: &Tag,
    scraper: &str,
    source: &str,
    status: ScraperStatus,
    at: DateTime<Utc>,
    attempts: u32,
) -> NewScraperCall {
    let mut c = sample_call(tag, scraper, None, at);
    c.source_name = source.to_string();
    c.status = status;
    c.attempts = attempts;
    let failed = matches!(status, ScraperStatus::Failed | ScraperStatus::Overdue);
    if failed {
        c.error_kind = Some(ErrorKind::Server);
        c.error_message = Some(format!("HTTP 503 at {at}"));
        c.http_status = Some(503);
    }
    if status == ScraperStatus::Skipped {
        c.error_kind = Some(ErrorKind::BreakerOpen);
        c.error_message = Some("breaker open".to_string());
        c.http_status = None;
    }
    c.attempt_rows = (1..=attempts)
        .map(|n| NewAttempt {
            attempt: n,
            page: 1,
            proxy: None,
            started_at: at,
            finished_at: at,
            http_status: c.http_status,
            outcome: if n < attempts || failed {
                AttemptOutcome::Retryable
            } else {
                AttemptOutcome::Success
            },
            error_kind: None,
            error_message: None,
            delay_before_ms: 0,
        })
        .collect();
    c
}

/// Calls before `since` are not counted; the rest are grouped per scraper,
/// source and status; distinct parameter sets are counted per scraper.
pub async fn call_counts_group_the_period_by_scraper_source_and_status(store: &dyn Store) {
    let tag = Tag::new();
    let src = tag.name("src");
    let t0 = ts("2031-03-01T00:00:00.000Z");
    let since = t0 + TimeDelta::hours(1);
    record(store, &call(&tag, "a", &src, ScraperStatus::Failed, t0, 1)).await;
    for (i, status) in [
        ScraperStatus::Success,
        ScraperStatus::Success,
        ScraperStatus::Failed,
        ScraperStatus::NoData,
        ScraperStatus::Skipped,
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = call(
            &tag,
            "a",
            &src,
            status,
            since + TimeDelta::minutes(i as i64),
            // The second success needed three attempts.
            if i == 1 { 3 } else { 1 },
        );
        c.params = format!(r#"{{"game_id":"{}"}}"#, i % 2);
        record(store, &c).await;
    }
    record(
        store,
        &call(&tag, "b", &src, ScraperStatus::Overdue, since, 1),
    )
    .await;
    // Deferred before its request (its source paused): failed, and made
    // no request.
    let mut paused = call(&tag, "a", &src, ScraperStatus::Failed, since, 0);
    paused.params = r#"{"game_id":"0"}"#.to_string();
    paused.error_kind = Some(ErrorKind::Throttled);
    record(store, &paused).await;
    // A fan-out that could not read its items: no request either, but a
    // failure of its scraper, not a deferral.
    let mut unlisted = call(&tag, "a", &src, ScraperStatus::Failed, since, 0);
    unlisted.params = "{}".to_string();
    unlisted.error_kind = Some(ErrorKind::Dependency);
    record(store, &unlisted).await;
    // Paginated: three pages in three attempts was not retried; three
    // pages in four attempts was.
    for attempts in [3, 4] {
        let mut c = call(&tag, "p", &src, ScraperStatus::Success, since, attempts);
        c.pages = Some(3);
        record(store, &c).await;
    }
    let rows: Vec<CallCountRow> = store
        .call_counts(since)
        .await
        .expect("call_counts")
        .into_iter()
        .filter(|r| r.source_name == src)
        .collect();
    let got: Vec<(String, &str, i64, i64, i64, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.scraper_name.clone(),
                r.status.as_str(),
                r.calls,
                r.requested,
                r.deferred,
                r.attempts,
                r.retried,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (tag.name("a"), "failed", 3, 1, 1, 1, 0),
            (tag.name("a"), "no_data", 1, 1, 0, 1, 0),
            (tag.name("a"), "skipped", 1, 1, 0, 1, 0),
            (tag.name("a"), "success", 2, 2, 0, 4, 1),
            (tag.name("b"), "overdue", 1, 1, 0, 1, 0),
            (tag.name("p"), "success", 2, 2, 0, 7, 1),
        ]
    );
    let distinct: Vec<(String, i64)> = store
        .distinct_params(since)
        .await
        .expect("distinct_params")
        .into_iter()
        .filter(|(name, _)| name.starts_with(&tag.name("")))
        .collect();
    assert_eq!(
        distinct,
        vec![(tag.name("a"), 3), (tag.name("b"), 1), (tag.name("p"), 1)]
    );
}

/// The newest success and the newest failed/overdue call are found;
/// the streak counts failed and overdue calls after the newest other
/// outcome, passing over skipped calls and calls deferred before their
/// request by the source's limits (not a fan-out's failure to list its
/// items, which made no request either).
pub async fn scraper_last_finds_newest_success_error_and_streak(store: &dyn Store) {
    let tag = Tag::new();
    let name = tag.name("box");
    let empty = scraper_last(store, &name).await;
    assert_eq!(empty, Default::default(), "a scraper without calls");
    let t0 = ts("2031-04-01T10:00:00.000Z");
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let s = |status, m| call(&tag, "box", "sim", status, at(m), 1);
    record(store, &s(ScraperStatus::Failed, 0)).await;
    record(store, &s(ScraperStatus::Success, 1)).await;
    record(store, &s(ScraperStatus::NoData, 2)).await;
    let last = scraper_last(store, &name).await;
    assert_eq!(last.consecutive_failures, 0);
    assert_eq!(
        last.last_success_at,
        Some(at(1) + TimeDelta::milliseconds(120))
    );
    assert_eq!(
        last.last_error_at,
        Some(at(0) + TimeDelta::milliseconds(120))
    );
    assert_eq!(last.last_call_at, Some(at(2)));
    record(store, &s(ScraperStatus::Failed, 3)).await;
    record(store, &s(ScraperStatus::Skipped, 4)).await;
    record(store, &s(ScraperStatus::Overdue, 5)).await;
    record(store, &s(ScraperStatus::Failed, 6)).await;
    let last = scraper_last(store, &name).await;
    assert_eq!(last.consecutive_failures, 3, "skipped is passed over");
    assert_eq!(
        last.last_error_at,
        Some(at(6) + TimeDelta::milliseconds(120))
    );
    assert_eq!(
        last.last_error.as_deref(),
        Some(format!("HTTP 503 at {}", at(6)).as_str())
    );
    assert_eq!(
        last.last_success_at,
        Some(at(1) + TimeDelta::milliseconds(120))
    );
    let mut deferred = call(&tag, "box", "sim", ScraperStatus::Failed, at(7), 0);
    deferred.error_kind = Some(ErrorKind::Throttled);
    record(store, &deferred).await;
    let last = scraper_last(store, &name).await;
    assert_eq!(
        last.consecutive_failures, 3,
        "a deferred call is passed over"
    );
    assert_eq!(
        last.last_call_at,
        Some(at(6)),
        "a call that made no request checked nothing"
    );
    assert_eq!(
        last.last_error_at,
        Some(at(6) + TimeDelta::milliseconds(120)),
        "the streak's last error is its own, not the deferral's"
    );
    let mut unlisted = call(&tag, "box", "sim", ScraperStatus::Failed, at(8), 0);
    unlisted.error_kind = Some(ErrorKind::Dependency);
    record(store, &unlisted).await;
    let last = scraper_last(store, &name).await;
    assert_eq!(
        last.consecutive_failures, 4,
        "a fan-out that could not list its items is a failure"
    );
    record(store, &s(ScraperStatus::NotYetAvailable, 9)).await;
    let last = scraper_last(store, &name).await;
    assert_eq!(
        last.consecutive_failures, 0,
        "not_yet_available ends the streak"
    );
}

/// A source fails since the first failed call that finished after its
/// newest answer (no_data counts as an answer; both by finish time, the
/// order the health report states them in); skipped calls are ignored; an answer
/// clears `failing_since` but keeps the last error.
pub async fn source_last_says_since_when_it_fails(store: &dyn Store) {
    let tag = Tag::new();
    let src = tag.name("api");
    let t0 = ts("2031-05-01T10:00:00.000Z");
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let c = |status, m| call(&tag, "x", &src, status, at(m), 1);
    record(store, &c(ScraperStatus::Failed, 0)).await;
    let never = source_last(store, &src).await;
    assert_eq!(never.last_answer_at, None);
    assert_eq!(
        never.failing_since,
        Some(at(0) + TimeDelta::milliseconds(120)),
        "never answered: since the first failure (when it finished)"
    );
    record(store, &c(ScraperStatus::NoData, 1)).await;
    let ok = source_last(store, &src).await;
    assert_eq!(ok.failing_since, None);
    assert_eq!(
        ok.last_answer_at,
        Some(at(1) + TimeDelta::milliseconds(120))
    );
    assert_eq!(ok.last_error_at, Some(at(0) + TimeDelta::milliseconds(120)));
    record(store, &c(ScraperStatus::Failed, 2)).await;
    record(store, &c(ScraperStatus::Skipped, 3)).await;
    record(store, &c(ScraperStatus::Failed, 4)).await;
    let down = source_last(store, &src).await;
    assert_eq!(
        down.failing_since,
        Some(at(2) + TimeDelta::milliseconds(120))
    );
    assert_eq!(
        down.last_error_at,
        Some(at(4) + TimeDelta::milliseconds(120))
    );
    assert!(down.last_error.unwrap().contains("HTTP 503"));
}

/// Only a success with bytes that is not unchanged, and whose content
/// differs from the success before it, makes data fresh.
pub async fn fresh_payload_ignores_empty_unchanged_and_no_data(store: &dyn Store) {
    let tag = Tag::new();
    let name = tag.name("injuries");
    assert_eq!(last_fresh_payload(store, &name).await, None);
    let t0 = ts("2031-06-01T10:00:00.000Z");
    let at = |h: i64| t0 + TimeDelta::hours(h);
    record(
        store,
        &call(&tag, "injuries", "sim", ScraperStatus::Success, at(0), 1),
    )
    .await;
    let mut unchanged = call(&tag, "injuries", "sim", ScraperStatus::Success, at(1), 1);
    unchanged.unchanged = true;
    record(store, &unchanged).await;
    let mut empty = call(&tag, "injuries", "sim", ScraperStatus::Success, at(2), 1);
    empty.bytes = Some(0);
    record(store, &empty).await;
    let mut unknown_size = call(&tag, "injuries", "sim", ScraperStatus::Success, at(3), 1);
    unknown_size.bytes = None;
    record(store, &unknown_size).await;
    record(
        store,
        &call(&tag, "injuries", "sim", ScraperStatus::NoData, at(4), 1),
    )
    .await;
    record(
        store,
        &call(&tag, "injuries", "sim", ScraperStatus::Failed, at(5), 1),
    )
    .await;
    assert_eq!(
        last_fresh_payload(store, &name).await,
        Some(at(0) + TimeDelta::milliseconds(120))
    );
    // The same payload fetched again (for another date, so not
    // `unchanged`) is not new data either; a different one is.
    let again = call(&tag, "injuries", "sim", ScraperStatus::Success, at(6), 1);
    record(store, &again).await;
    assert_eq!(
        last_fresh_payload(store, &name).await,
        Some(at(0) + TimeDelta::milliseconds(120)),
        "the same content again"
    );
    let mut new = call(&tag, "injuries", "sim", ScraperStatus::Success, at(7), 1);
    new.content_hash = Some(format!("{}-new", tag.name("injuries")));
    record(store, &new).await;
    assert_eq!(
        last_fresh_payload(store, &name).await,
        Some(at(7) + TimeDelta::milliseconds(120))
    );
}

/// Runs are counted per workflow and target date in the range; the streak
/// counts the newest failed/partial runs and says when it began.
pub async fn workflow_days_and_streak(store: &dyn Store) {
    let tag = Tag::new();
    let wf = tag.name("wf");
    assert_eq!(workflow_streak(store, &wf).await, WorkflowStreak::default());
    let t0 = ts("2031-07-10T08:00:00.000Z");
    let runs = [
        ("r1", "2031-07-08", WorkflowStatus::Success, 0),
        ("r2", "2031-07-09", WorkflowStatus::Failed, 1),
        ("r3", "2031-07-09", WorkflowStatus::Success, 2),
        ("r4", "2031-07-10", WorkflowStatus::Partial, 3),
        ("r5", "2031-07-10", WorkflowStatus::Failed, 4),
        ("r6", "2031-07-01", WorkflowStatus::Failed, -100),
    ];
    for (id, day, status, hours) in runs {
        let mut run = sample_execution(&tag, id, t0 + TimeDelta::hours(hours));
        run.target_date = date(day);
        run.status = status;
        if status != WorkflowStatus::Success {
            run.error_message = Some(format!("{id}: broke"));
        }
        store
            .record_workflow_execution(&run)
            .await
            .expect("record_workflow_execution");
    }
    let days: Vec<WorkflowDayRow> = store
        .workflow_days(date("2031-07-04"), date("2031-07-10"))
        .await
        .expect("workflow_days")
        .into_iter()
        .filter(|d| d.workflow_name == wf)
        .collect();
    let got: Vec<(String, i64, i64, i64)> = days
        .iter()
        .map(|d| (d.target_date.to_string(), d.runs, d.failed, d.partial))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2031-07-08".to_string(), 1, 0, 0),
            ("2031-07-09".to_string(), 2, 1, 0),
            ("2031-07-10".to_string(), 2, 1, 1),
        ]
    );
    let streak = workflow_streak(store, &wf).await;
    assert_eq!(streak.last_status.as_deref(), Some("failed"));
    assert_eq!(streak.last_run_at, Some(t0 + TimeDelta::hours(4)));
    assert_eq!(streak.last_error.as_deref(), Some("r5: broke"));
    assert_eq!(streak.consecutive_failed, 2);
    assert_eq!(streak.failing_since, Some(t0 + TimeDelta::hours(3)));
}

/// Error coverage counts failed/partial runs started in the period and
/// those with a non-blank message; retries count non-skipped calls.
pub async fn error_coverage_and_retries_count_the_period(store: &dyn Store) {
    let tag = Tag::new();
    let since = ts("2031-08-01T00:00:00.000Z");
    let cov0 = store.error_coverage(since).await.expect("error_coverage");
    let ret0 = store.retry_stats(since).await.expect("retry_stats");
    let before = since - TimeDelta::hours(1);
    let messages = [
        ("old", before, WorkflowStatus::Failed, None),
        ("f1", since, WorkflowStatus::Failed, Some("box: HTTP 503")),
        ("f2", since, WorkflowStatus::Partial, Some("   ")),
        ("f3", since, WorkflowStatus::Failed, None),
        ("ok", since, WorkflowStatus::Success, None),
    ];
    for (id, at, status, message) in messages {
        let mut run = sample_execution(&tag, id, at);
        run.status = status;
        run.error_message = message.map(str::to_string);
        store.record_workflow_execution(&run).await.unwrap();
    }
    let cov = store.error_coverage(since).await.unwrap();
    assert_eq!(cov.failed_or_partial - cov0.failed_or_partial, 3);
    assert_eq!(
        cov.with_message - cov0.with_message,
        1,
        "a blank message says nothing"
    );

    let c = |status, attempts| call(&tag, "r", "sim", status, since, attempts);
    record(
        store,
        &call(&tag, "r", "sim", ScraperStatus::Success, before, 3),
    )
    .await;
    record(store, &c(ScraperStatus::Success, 1)).await;
    record(store, &c(ScraperStatus::Success, 3)).await;
    record(store, &c(ScraperStatus::NoData, 2)).await;
    record(store, &c(ScraperStatus::Failed, 3)).await;
    record(store, &c(ScraperStatus::Skipped, 0)).await;
    // A call deferred before any request (its source paused by a 429's
    // Retry-After) failed without an attempt: it made none, and counting
    // it put 'attempts per call' under one for calls that each made one
    // or more (rebound simulate new-years-eve: 0.88, 479 attempts over
    // 542 calls, of which 95 made none).
    let mut paused = c(ScraperStatus::Failed, 0);
    paused.error_kind = Some(ErrorKind::Throttled);
    paused.http_status = None;
    record(store, &paused).await;
    // Each page is an attempt: two pages in two attempts were not retried,
    // two pages in three attempts were.
    for attempts in [2, 3] {
        let mut paged = c(ScraperStatus::Success, attempts);
        paged.pages = Some(2);
        record(store, &paged).await;
    }
    let ret = store.retry_stats(since).await.unwrap();
    assert_eq!(
        ret.calls - ret0.calls,
        6,
        "skipped and paused calls made no attempt"
    );
    assert_eq!(ret.attempts - ret0.attempts, 14);
    assert_eq!(ret.retried - ret0.retried, 4);
    assert_eq!(ret.retried_then_succeeded - ret0.retried_then_succeeded, 3);
}
