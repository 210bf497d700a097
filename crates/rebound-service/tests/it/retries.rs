//! Item 15 of issue 11: a failed or partial `window` run is retried inside
//! its window (`retry_every`, `retry_max`) under the failed run's execution
//! id, on the manual clock over a whole day.

use super::*;

/// `morning` collects two scrapers in its 06:00–10:00 window, with the
/// default retries (every hour, at most 3).
fn retry_config(base_url: &str) -> String {
    format!(
        r#"
[pipeline]
name = "retries"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

[sources.nba]
base_url = "{base_url}/nba"
timeout = "5s"

[scrapers.stable]
source = "nba"
path = "/stable"

[scrapers.flaky]
source = "nba"
path = "/flaky"

[workflows.morning]
scrapers = ["stable", "flaky"]
schedule = {{ kind = "window", start = "06:00", end = "10:00" }}
"#
    )
}

/// The upstream: `/stable` always answers; `/flaky` fails once (503), then
/// recovers.
async fn flaky_upstream() -> UpstreamSim {
    let sim = UpstreamSim::start().await.expect("sim");
    let ok = Reply::json(200, serde_json::json!({"ok": true}));
    sim.script("/nba/stable", vec![ok.clone(); 4]);
    sim.script("/nba/flaky", vec![Reply::status(503), ok.clone(), ok]);
    sim
}

/// A day with the morning window: the first run is partial, one retry an
/// hour after it finished succeeds, and nothing else runs.
async fn a_day_with_one_failure(
    sim: &UpstreamSim,
    dir: &Path,
) -> (Harness, Vec<RecordedDecision>, Vec<RunOutcome>) {
    let mut h = harness(dir, &retry_config(&sim.base_url()), local(day(), 5, 0)).await;
    h.run_until(local(day() + chrono::Days::new(1), 0, 0)).await;
    let decisions: Vec<RecordedDecision> = h.runs_of("morning").into_iter().cloned().collect();
    let runs: Vec<RunOutcome> = h
        .runs
        .iter()
        .filter(|r| r.workflow == "morning")
        .cloned()
        .collect();
    (h, decisions, runs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_window_run_is_retried_once_in_its_window_and_the_day_ends_in_success() {
    let sim = flaky_upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (h, decisions, runs) = a_day_with_one_failure(&sim, dir.path()).await;

    let slots: Vec<&str> = decisions.iter().map(|d| d.slot.as_str()).collect();
    assert_eq!(slots, ["window", "window+retry1"], "{decisions:#?}");
    let (first, retry) = (&decisions[0], &decisions[1]);
    assert!(
        retry
            .reason
            .starts_with("retry 1 of 3 after partial run (execution "),
        "{}",
        retry.reason
    );
    // The retry continues the failed run's execution.
    assert!(first.execution_id.is_some());
    assert_eq!(retry.execution_id, first.execution_id);

    let statuses: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["partial", "success"], "{runs:#?}");
    assert_eq!(runs[1].execution_id, runs[0].execution_id);
    // Due retry_every (1h) after the failed run, inside the window.
    assert!(
        runs[1].started_at >= runs[0].started_at + chrono::Duration::hours(1)
            && runs[1].started_at < local(day(), 10, 0),
        "{runs:#?}"
    );
    // The execution ends in success: one row, its latest result.
    let executions = h
        .engine
        .store()
        .executions_for_date("morning", day())
        .await
        .expect("executions");
    assert_eq!(executions.len(), 1, "{executions:#?}");
    assert_eq!(executions[0].status, "success");
    // After the success the scheduler says so and runs nothing more.
    let skips: Vec<&RecordedDecision> = h
        .decisions
        .iter()
        .filter(|d| d.workflow == "morning" && d.action == DecisionAction::Skip)
        .collect();
    assert!(
        skips.iter().any(|d| d.reason.contains("already ran for")),
        "{skips:#?}"
    );
    assert_eq!(sim.request_count("/nba/flaky"), 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_re_runs_only_the_call_that_failed() {
    let sim = flaky_upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (h, _, runs) = a_day_with_one_failure(&sim, dir.path()).await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    // `stable` succeeded in the first run and is not asked again.
    assert_eq!(sim.request_count("/nba/stable"), 1);
    assert_eq!(sim.request_count("/nba/flaky"), 2);
    let calls = h
        .engine
        .store()
        .scraper_calls_for_execution(&runs[0].execution_id)
        .await
        .expect("calls");
    // Scrapers of one step run concurrently: compare as a set.
    let mut seen: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.scraper_name.as_str(), c.status.as_str()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("flaky", "failed"),
            ("flaky", "success"),
            ("stable", "success")
        ]
    );
    sim.shutdown().await;
}
