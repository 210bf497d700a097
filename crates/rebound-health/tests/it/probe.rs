//! Source probes against a loopback server: ok, wrong status, timeout;
//! the key goes along but never into the result.

use super::{SECRET, harness};
use rebound_domain::clock::Clock;
use rebound_health::{Inputs, Level, Prober, build_report};
use rebound_service::observe::{EngineCalendars, HttpProber};
use rebound_upstream_sim::Reply;
use std::time::Duration;

const CONFIG: &str = r#"
[sources.up]
base_url = "{base}"
timeout = "2s"
query = { apiKey = "${TEST_KEY}" }
headers = { "X-Day" = "{date}" }
health = { path = "/t/status", expect_status = 204, timeout = "300ms" }

[scrapers.s]
source = "up"
path = "/t/s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_ok_wrong_status_and_timeout() {
    let h = harness(CONFIG).await;
    h.sim.set_recording(true);
    let prober = HttpProber {
        fetcher: h.fetcher.clone(),
        tz: h.plan.pipeline.timezone,
    };
    let source = &h.plan.sources["up"];
    let probe = source.health.as_ref().unwrap();
    let now = h.clock.now();

    h.sim.script("/t/status", vec![Reply::status(204)]);
    let ok = prober.probe(source, probe, now).await;
    assert!(ok.ok, "{ok:?}");
    assert_eq!(ok.http_status, Some(204));
    assert_eq!(ok.error, None);
    let sent = h.sim.requests();
    let request = sent
        .iter()
        .find(|r| r.path == "/t/status")
        .expect("request");
    assert!(
        request.query.as_deref().unwrap_or("").contains(SECRET),
        "the source's query goes along"
    );
    assert_eq!(request.header("x-day"), Some("2026-11-28"));

    h.sim.script("/t/status", vec![Reply::text(503, "down")]);
    let bad = prober.probe(source, probe, now).await;
    assert!(!bad.ok);
    assert_eq!(bad.http_status, Some(503));
    let message = bad.error.unwrap();
    assert!(
        message.contains("GET /t/status answered HTTP 503, expected 204"),
        "{message}"
    );

    h.sim.script(
        "/t/status",
        vec![Reply::status(204).delay(Duration::from_secs(3))],
    );
    let slow = prober.probe(source, probe, now).await;
    assert!(!slow.ok);
    assert_eq!(slow.http_status, None);
    let message = slow.error.unwrap();
    assert!(message.contains("no answer within 300ms"), "{message}");
    assert!(!message.contains(SECRET));

    // In the report: a failing probe makes the source critical; without a
    // prober (--no-probe) there is no probe result.
    h.sim.script("/t/status", vec![Reply::text(500, "x")]);
    let inputs = Inputs {
        plan: &h.plan,
        store: h.store.as_ref(),
        calendars: &EngineCalendars(&h.engine),
        prober: Some(&prober as &dyn Prober),
        now,
        since: now - chrono::TimeDelta::hours(24),
    };
    let report = build_report(&inputs).await.unwrap();
    assert_eq!(report.sources[0].level, Level::Critical);
    assert_eq!(report.level, Level::Critical);
    assert!(!serde_json::to_string(&report).unwrap().contains(SECRET));
    let quiet = build_report(&Inputs {
        prober: None,
        ..inputs
    })
    .await
    .unwrap();
    assert_eq!(quiet.sources[0].probe, None);
    assert_eq!(quiet.level, Level::Ok);
}
