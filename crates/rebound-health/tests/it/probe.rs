//! Source probes against a loopback server: ok, wrong status, timeout;
//! the key goes along but never into the result. The probe's results feed
//! the source's circuit breaker (a dead host costs no trial call).

use super::{SECRET, harness, start};
use rebound_domain::breaker::Phase;
use rebound_domain::clock::Clock;
use rebound_domain::outcome::ScraperStatus;
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
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
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

const DOWN: &str = r#"
[sources.up]
base_url = "{base}"
timeout = "2s"
health = { path = "/t/status", expect_status = 204, timeout = "300ms" }

[scrapers.s]
source = "up"
path = "/t/s"
"#;

/// The probe feeds the source's stored breaker (issue 17 item 4): failing
/// probes open it before any call; while the probe keeps failing, calls
/// are refused with a message naming it and no request reaches the host,
/// long after the breaker's own open period (1m) would have let a trial
/// through; the first call after the probe answers is the trial, and it
/// closes the breaker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_probe_holds_the_breaker_and_an_answer_lets_the_trial_through() {
    let h = harness(DOWN).await;
    h.sim.set_recording(true);
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
    let source = &h.plan.sources["up"];
    let probe = source.health.as_ref().unwrap();
    let day = start()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    let none = std::collections::BTreeMap::new();

    // The host refuses: five failed probes a minute apart open the breaker.
    h.sim.script("/t/status", vec![Reply::reset(); 6]);
    for _ in 0..5 {
        assert!(!prober.probe(source, probe, h.clock.now()).await.ok);
        h.clock.advance(Duration::from_secs(60));
    }
    let row = h
        .store
        .breaker_state("up")
        .await
        .unwrap()
        .expect("a breaker row");
    assert_eq!(row.state.phase, Phase::Open);
    assert_eq!(row.state.health_failing_since, Some(start()));
    let transitions = h.store.breaker_transitions(Some("up"), 10).await.unwrap();
    assert!(
        transitions[0]
            .reason
            .contains("health probe GET /t/status failing"),
        "{transitions:?}"
    );

    // Ten minutes on, one more failing probe; twenty more, a run: refused,
    // and no request reached the host.
    h.clock.advance(Duration::from_secs(600));
    assert!(!prober.probe(source, probe, h.clock.now()).await.ok);
    h.clock.advance(Duration::from_secs(1200));
    let call = h.engine.run_scraper("s", day, &none).await.unwrap();
    assert_eq!(call.status, ScraperStatus::Skipped);
    assert_eq!(call.attempts, 0);
    assert_eq!(
        call.message.as_deref(),
        Some(
            "circuit breaker open: health probe GET /t/status failing since \
             2026-11-28 12:00 EST (-05:00); calls resume when it answers"
        )
    );
    assert_eq!(
        h.sim.request_count("/t/s"),
        0,
        "no request while the probe fails"
    );

    // The probe answers: the next call is the trial, and it closes the breaker.
    h.sim.script("/t/status", vec![Reply::status(204)]);
    h.clock.advance(Duration::from_secs(60));
    assert!(prober.probe(source, probe, h.clock.now()).await.ok);
    let row = h.store.breaker_state("up").await.unwrap().unwrap();
    assert_eq!(row.state.phase, Phase::HalfOpen);
    assert_eq!(row.state.health_failing_since, None);
    h.sim.script(
        "/t/s",
        vec![Reply::json(200, serde_json::json!({"ok": true}))],
    );
    let call = h.engine.run_scraper("s", day, &none).await.unwrap();
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
    assert_eq!(call.attempts, 1);
    assert_eq!(h.sim.request_count("/t/s"), 1);
    let row = h.store.breaker_state("up").await.unwrap().unwrap();
    assert_eq!(row.state.phase, Phase::Closed);
    let transitions = h.store.breaker_transitions(Some("up"), 10).await.unwrap();
    let reasons: Vec<&str> = transitions.iter().map(|t| t.reason.as_str()).collect();
    assert_eq!(
        &reasons[..2],
        &[
            "probe succeeded",
            "health probe GET /t/status answered; the next call is the trial"
        ],
        "newest first"
    );
}

/// A probe answered 429 is a throttled source, not a down one: five such
/// probes a minute apart leave the breaker closed, and the next call is
/// made. They used to open it, as a refused connection does, so a source
/// that throttled some of its requests had all its calls refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_answered_429_does_not_open_the_breaker() {
    let h = harness(DOWN).await;
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
    let source = &h.plan.sources["up"];
    let probe = source.health.as_ref().unwrap();
    let day = start()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    h.sim.script(
        "/t/status",
        vec![Reply::status(429).header("retry-after", "1"); 5],
    );
    for _ in 0..5 {
        let result = prober.probe(source, probe, h.clock.now()).await;
        assert!(!result.ok, "a 429 is not the expected status");
        assert_eq!(result.http_status, Some(429));
        h.clock.advance(Duration::from_secs(60));
    }
    let phase = h
        .store
        .breaker_state("up")
        .await
        .unwrap()
        .map(|row| row.state.phase);
    assert!(
        matches!(phase, None | Some(Phase::Closed)),
        "the breaker opened on a throttled probe: {phase:?}"
    );
    h.sim.script(
        "/t/s",
        vec![Reply::json(200, serde_json::json!({"ok": true}))],
    );
    let call = h
        .engine
        .run_scraper("s", day, &std::collections::BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(call.status, ScraperStatus::Success, "{call:?}");
}

/// A host that came back throttling: after probes that found it down
/// opened the breaker, a probe answered 429 says it is up. It clears
/// "health probe failing since" and lets the next call be the trial. It
/// used to be ignored, so the breaker stayed held by the old outage and
/// `rebound breakers` kept saying the probe was failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_answered_429_after_an_outage_ends_the_probes_hold() {
    let h = harness(DOWN).await;
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
    let source = &h.plan.sources["up"];
    let probe = source.health.as_ref().unwrap();
    h.sim.script("/t/status", vec![Reply::reset(); 5]);
    for _ in 0..5 {
        assert!(!prober.probe(source, probe, h.clock.now()).await.ok);
        h.clock.advance(Duration::from_secs(60));
    }
    let held = h.store.breaker_state("up").await.unwrap().expect("a row");
    assert_eq!(held.state.phase, Phase::Open);
    assert!(held.state.health_failing_since.is_some());
    h.sim.script(
        "/t/status",
        vec![Reply::status(429).header("retry-after", "1")],
    );
    let throttled = prober.probe(source, probe, h.clock.now()).await;
    assert_eq!(throttled.http_status, Some(429));
    let row = h.store.breaker_state("up").await.unwrap().expect("a row");
    assert_eq!(row.state.health_failing_since, None, "{:?}", row.state);
    assert_eq!(
        row.state.phase,
        Phase::HalfOpen,
        "the next call is the trial"
    );
}

/// A secret in the probe's path never reaches what the breaker stores or
/// says: its transitions and the refusal of a call name the probe masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_the_probe_path_stays_out_of_the_breaker() {
    let h = harness(
        r#"
[sources.up]
base_url = "{base}"
timeout = "2s"
health = { path = "/t/status/${TEST_KEY}", expect_status = 204, timeout = "300ms" }

[scrapers.s]
source = "up"
path = "/t/s"
"#,
    )
    .await;
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
    let source = &h.plan.sources["up"];
    let probe = source.health.as_ref().unwrap();
    for _ in 0..5 {
        assert!(!prober.probe(source, probe, h.clock.now()).await.ok);
        h.clock.advance(Duration::from_secs(60));
    }
    let row = h.store.breaker_state("up").await.unwrap().unwrap();
    assert_eq!(row.state.phase, Phase::Open);
    let transitions = h.store.breaker_transitions(Some("up"), 10).await.unwrap();
    let day = start()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    let call = h
        .engine
        .run_scraper("s", day, &std::collections::BTreeMap::new())
        .await
        .unwrap();
    let said = format!("{:?} {:?} {:?}", transitions, row.state, call.message);
    assert!(said.contains("health probe GET"), "{said}");
    assert!(!said.contains(SECRET), "the secret leaked: {said}");
}

/// A prober whose probe is out while the source's breaker opens (a
/// worker's failed calls landing meanwhile): it trips the breaker, then
/// sends the real probe.
struct TripsWhileOut {
    inner: HttpProber,
    store: std::sync::Arc<dyn rebound_storage::Store>,
}

#[async_trait::async_trait]
impl Prober for TripsWhileOut {
    async fn probe(
        &self,
        source: &rebound_domain::plan::Source,
        probe: &rebound_domain::plan::HealthProbe,
        now: chrono::DateTime<chrono::Utc>,
    ) -> rebound_health::ProbeResult {
        self.inner.probe(source, probe, now).await
    }

    async fn send(
        &self,
        source: &rebound_domain::plan::Source,
        probe: &rebound_domain::plan::HealthProbe,
        now: chrono::DateTime<chrono::Utc>,
    ) -> rebound_health::ProbeResult {
        let cfg = source.breaker.clone();
        let mut change = |state: &mut rebound_domain::breaker::BreakerState| {
            (0..cfg.consecutive_failures)
                .flat_map(|_| {
                    state.record(
                        &cfg,
                        now,
                        rebound_domain::breaker::Signal::Unhealthy,
                        Some((rebound_domain::outcome::ErrorKind::Server, "HTTP 503")),
                        None,
                    )
                })
                .collect()
        };
        self.store
            .update_breaker(&source.name, now, &mut change)
            .await
            .unwrap();
        self.inner.send(source, probe, now).await
    }

    async fn feed(
        &self,
        source: &rebound_domain::plan::Source,
        now: chrono::DateTime<chrono::Utc>,
        result: &rebound_health::ProbeResult,
        breaker: Option<&rebound_domain::breaker::BreakerState>,
    ) -> bool {
        self.inner.feed(source, now, result, breaker).await
    }
}

/// The report feeds each probe's answer against the breaker as it is once
/// the probe is back: a breaker that opened while the probe was out is
/// made half-open by the answer (the next call is the trial), and the
/// report shows that. Reading the breakers before sending the probes, the
/// answer met a closed breaker, wrote nothing and left it open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_that_opened_while_the_probe_was_out_is_half_opened_by_its_answer() {
    let h = harness(DOWN).await;
    h.sim.script("/t/status", vec![Reply::status(204)]);
    let prober = TripsWhileOut {
        inner: HttpProber::new(h.fetcher.clone(), h.engine.clone()),
        store: h.store.clone(),
    };
    let now = h.clock.now();
    let report = build_report(&Inputs {
        plan: &h.plan,
        store: h.store.as_ref(),
        calendars: &EngineCalendars(&h.engine),
        prober: Some(&prober),
        now,
        since: now - chrono::TimeDelta::hours(24),
    })
    .await
    .unwrap();
    let row = h.store.breaker_state("up").await.unwrap().expect("a row");
    assert_eq!(row.state.phase, Phase::HalfOpen, "{:?}", row.state);
    let newest = &h.store.breaker_transitions(Some("up"), 1).await.unwrap()[0];
    assert_eq!(
        newest.reason,
        "health probe GET /t/status answered; the next call is the trial"
    );
    assert_eq!(report.sources[0].breaker, "half_open");
    assert!(report.sources[0].probe.as_ref().is_some_and(|p| p.ok));
}

/// A probe answered 429 makes the source WARNING, not CRITICAL: the host
/// is up and throttles us. It read CRITICAL, as a host that refuses
/// connections does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_probe_is_a_warning_not_an_outage() {
    let h = harness(CONFIG).await;
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
    let now = h.clock.now();
    let calendars = EngineCalendars(&h.engine);
    let inputs = Inputs {
        plan: &h.plan,
        store: h.store.as_ref(),
        calendars: &calendars,
        prober: Some(&prober as &dyn Prober),
        now,
        since: now - chrono::TimeDelta::hours(24),
    };
    h.sim.script(
        "/t/status",
        vec![Reply::status(429).header("retry-after", "1")],
    );
    let report = build_report(&inputs).await.unwrap();
    let probe = report.sources[0].probe.clone().expect("probed");
    assert!(probe.throttled && !probe.failing(), "{probe:?}");
    assert_eq!(report.sources[0].level, Level::Warning);
    // Said in the JSON too, not left to a reader of `http_status`.
    let json = serde_json::to_value(&probe).unwrap();
    assert_eq!(
        (json["ok"].clone(), json["throttled"].clone()),
        (false.into(), true.into())
    );
    h.sim.script("/t/status", vec![Reply::status(503)]);
    let report = build_report(&inputs).await.unwrap();
    let probe = report.sources[0].probe.clone().expect("probed");
    assert!(probe.failing() && !probe.throttled, "{probe:?}");
    assert_eq!(report.sources[0].level, Level::Critical);
}

/// Before: a probe that failed without an HTTP status was stored in the
/// breaker as kind `connect` whatever went wrong (the engine guessed the
/// kind from the message: "no answer within" was a timeout, anything else
/// a refused connection), so `rebound breakers` said `connect` of a host
/// that answered with a malformed status line or sent the probe round a
/// redirect loop. Now the probe's result carries the kind the fetcher
/// gives a call's attempt failing that way (`protocol` for both), the
/// breaker stores it, and the report's JSON says it as `failure_kind`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_failing_without_a_status_keeps_its_own_kind() {
    let raw = rebound_upstream_sim::RawFaultServer::start().await.unwrap();
    let h = harness(&format!(
        r#"
[sources.up]
base_url = "{{base}}"
timeout = "2s"
health = {{ path = "/t/status", expect_status = 204, timeout = "500ms" }}

[sources.raw]
base_url = "{raw}"
timeout = "2s"
health = {{ path = "{bad}", expect_status = 204, timeout = "2s" }}

[scrapers.s]
source = "up"
path = "/t/s"
"#,
        raw = raw.base_url(),
        bad = rebound_upstream_sim::RawFault::BadStatusLine.path(),
    ))
    .await;
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
    // Round and round: /t/status sends the probe to /t/loop and back.
    h.sim
        .script("/t/status", vec![Reply::redirect(302, "/t/loop"); 2]);
    h.sim
        .script("/t/loop", vec![Reply::redirect(302, "/t/status"); 2]);
    for (name, says) in [("up", "redirect loop"), ("raw", "malformed response")] {
        let source = &h.plan.sources[name];
        let probe = source.health.as_ref().unwrap();
        let result = prober.probe(source, probe, h.clock.now()).await;
        assert!(!result.ok, "{name}: {result:?}");
        assert_eq!(result.http_status, None, "{name}: {result:?}");
        let error = result.error.clone().unwrap_or_default();
        assert!(error.contains(says), "{name}: {error}");
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["failure_kind"], "protocol", "{name}: {json}");
        let row = h.store.breaker_state(name).await.unwrap().expect("a row");
        assert_eq!(
            row.state.last_failure_kind,
            Some(rebound_domain::outcome::ErrorKind::Protocol),
            "{name}: {:?}",
            row.state
        );
    }

    // Those the guess got right keep their kind: no answer in time is a
    // timeout, a refused connection `connect`, a wrong status by its class.
    let source = &h.plan.sources["up"];
    let probe = source.health.as_ref().unwrap();
    for (reply, kind) in [
        (Reply::status(204).delay(Duration::from_secs(1)), "timeout"),
        (Reply::reset(), "connect"),
        (Reply::text(503, "down"), "server"),
        (Reply::text(404, "no such page"), "client"),
    ] {
        h.sim.clear_script("/t/status");
        h.sim.script("/t/status", vec![reply]);
        let result = prober.probe(source, probe, h.clock.now()).await;
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["failure_kind"], kind, "{json}");
    }
    h.sim.script("/t/status", vec![Reply::status(204)]);
    let ok = prober.probe(source, probe, h.clock.now()).await;
    assert!(ok.ok);
    assert_eq!(
        serde_json::to_value(&ok).unwrap()["failure_kind"],
        serde_json::Value::Null
    );
}

/// A half-open breaker is half-open since it went half-open, as the
/// report's `breaker_since` ("when the breaker last changed state") and
/// the table's "half_open since" say. It read the time the breaker had
/// opened: `rebound simulate host-down-5-days` kept a history whose
/// breaker went open at 2025-12-27 05:20Z and half-open at 2026-01-01
/// 05:00Z, and the report of 05:30Z said "breaker half-open since
/// 2025-12-27 00:20 EST, 5d ago". An open breaker stays dated from its
/// opening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_breaker_is_dated_from_going_half_open() {
    let h = harness(DOWN).await;
    let prober = HttpProber::new(h.fetcher.clone(), h.engine.clone());
    let source = &h.plan.sources["up"];
    let probe = source.health.as_ref().unwrap();
    let calendars = EngineCalendars(&h.engine);
    let report_now = |now| Inputs {
        plan: &h.plan,
        store: h.store.as_ref(),
        calendars: &calendars,
        prober: None,
        now,
        since: now - chrono::TimeDelta::hours(24),
    };
    h.sim.script("/t/status", vec![Reply::reset(); 5]);
    for _ in 0..5 {
        assert!(!prober.probe(source, probe, h.clock.now()).await.ok);
        h.clock.advance(Duration::from_secs(60));
    }
    let opened = h
        .store
        .breaker_state("up")
        .await
        .unwrap()
        .and_then(|row| row.state.opened_at)
        .expect("opened");
    // A day later it still refuses; its report dates it from the opening.
    h.clock.advance(Duration::from_secs(86_400));
    let report = build_report(&report_now(h.clock.now())).await.unwrap();
    assert_eq!(report.sources[0].breaker, "open");
    assert_eq!(report.sources[0].breaker_since, Some(opened));
    // The probe answers: half-open from now on.
    h.sim.script("/t/status", vec![Reply::status(204)]);
    let half_open_at = h.clock.now();
    assert!(prober.probe(source, probe, half_open_at).await.ok);
    h.clock.advance(Duration::from_secs(1800));
    let report = build_report(&report_now(h.clock.now())).await.unwrap();
    assert_eq!(report.sources[0].breaker, "half_open");
    assert_eq!(
        report.sources[0].breaker_since,
        Some(half_open_at),
        "opened at {opened}"
    );
}

/// A probe answered with a 2xx other than the one expected failed as the
/// prober and the breaker say, `server`; the report's own rule left it
/// without a kind.
#[test]
fn an_unexpected_success_status_is_a_server_failure() {
    let probe = rebound_health::ProbeResult::new(false, Some(204), None, 3);
    assert_eq!(
        probe.failure_kind,
        Some(rebound_domain::outcome::ErrorKind::Server)
    );
    let probe = rebound_health::ProbeResult::new(false, Some(404), None, 3);
    assert_eq!(
        probe.failure_kind,
        Some(rebound_domain::outcome::ErrorKind::Client)
    );
    assert_eq!(
        rebound_health::ProbeResult::new(true, Some(200), None, 3).failure_kind,
        None
    );
}
