//! `rebound quotas` and quota refusals through the binary.

use super::{rebound, text};
use rebound_upstream_sim::{Reply, UpstreamSim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn quotas_show_usage_warning_and_refusal() {
    let sim = UpstreamSim::start().await.expect("sim");
    sim.script(
        "/c/odds",
        vec![Reply::json(200, serde_json::json!({"ok": true})); 5],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rebound.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[pipeline]
name = "quotas"
timezone = "America/New_York"

[sources.odds_api]
base_url = "{}"
rate_limit = "50/s"
quota = {{ per = "month", requests = 5 }}

[sources.free]
base_url = "{}"

[scrapers.odds]
source = "odds_api"
path = "/c/odds"

[workflows.w]
scrapers = ["odds"]
"#,
            sim.base_url(),
            sim.base_url()
        ),
    )
    .expect("config");
    let c = config.to_str().expect("utf-8");
    let quotas = || {
        let out = rebound(&["-c", c, "quotas", "--json"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        value[0].clone()
    };
    let fresh = quotas();
    assert_eq!(fresh["source"], "odds_api");
    assert_eq!(
        (fresh["used"].clone(), fresh["limit"].clone()),
        (0.into(), 5.into())
    );
    assert_eq!(fresh["state"], "ok");
    for _ in 0..4 {
        let out = rebound(&["-c", c, "run", "w"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let warned = quotas();
    assert_eq!(warned["used"], 4);
    assert_eq!(warned["remaining"], 1);
    assert_eq!(warned["state"], "warning");
    assert!(warned["warned_at"].is_string(), "{warned:#}");
    // JSON instants are UTC: New York's midnight is 05:00Z (04:00Z in summer).
    assert!(
        warned["resets_at"]
            .as_str()
            .unwrap()
            .ends_with("T05:00:00Z")
            || warned["resets_at"]
                .as_str()
                .unwrap()
                .ends_with("T04:00:00Z"),
        "{warned:#}"
    );
    assert_eq!(rebound(&["-c", c, "run", "w"], &[]).status.code(), Some(0));
    // The sixth call is refused without a request: skipped, exit code 1.
    let refused = rebound(&["-c", c, "run", "w", "--json"], &[]);
    assert_eq!(refused.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&refused.stdout).expect("JSON");
    let call = &report["scrapers"][0];
    assert_eq!(call["status"], "skipped", "{report:#}");
    assert_eq!(call["error_kind"], "quota_exhausted", "{report:#}");
    assert!(
        call["message"]
            .as_str()
            .unwrap()
            .starts_with("quota of 5 requests per month for odds_api exhausted (5 requests since "),
        "{report:#}"
    );
    assert_eq!(sim.request_count("/c/odds"), 5);
    assert_eq!(quotas()["state"], "exhausted");
    let table = rebound(&["-c", c, "quotas"], &[]);
    let table = text(&table.stdout);
    assert!(
        table.contains("odds_api") && table.contains("EXHAUSTED"),
        "{table}"
    );
    assert!(
        !table.contains("free"),
        "sources without a quota are not listed: {table}"
    );
    sim.shutdown().await;
}
