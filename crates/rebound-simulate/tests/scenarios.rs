//! The reliability suite: every built-in scenario on the reference
//! pipeline, each asserting the targets its file sets (issue 17 item 4).
//! A missed target fails here with the report's own words.

use rebound_simulate::{Options, Report, builtin, simulate};

async fn run(name: &str) -> Report {
    let scenario = builtin::load(name).expect("a built-in").expect("it parses");
    simulate(scenario, &Options::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_targets(report: &Report) {
    let missed: Vec<String> = report
        .targets
        .iter()
        .filter(|t| !t.met)
        .map(|t| format!("{}: wanted {}, measured {}", t.target, t.wanted, t.measured))
        .collect();
    assert!(
        missed.is_empty(),
        "{}: targets missed:\n{}\n{}",
        report.scenario,
        missed.join("\n"),
        serde_json::to_string_pretty(report).unwrap_or_default()
    );
    assert!(
        !report.targets.is_empty(),
        "{} sets targets",
        report.scenario
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_down_5_days() {
    let report = run("host-down-5-days").await;
    assert_targets(&report);
}
