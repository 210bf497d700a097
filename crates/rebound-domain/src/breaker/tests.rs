use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn fail(state: &mut BreakerState, cfg: &BreakerConfig, now: DateTime<Utc>) -> Vec<Transition> {
    state.record(
        cfg,
        now,
        Signal::Unhealthy,
        Some((ErrorKind::Server, "HTTP 503")),
        None,
    )
}

#[test]
fn signals() {
    use ErrorKind::*;
    let f = |k| Signal::of(ScraperStatus::Failed, Some(k));
    assert_eq!(f(Server), Signal::Unhealthy);
    assert_eq!(f(Timeout), Signal::Unhealthy);
    assert_eq!(f(Connect), Signal::Unhealthy);
    assert_eq!(f(Throttled), Signal::Ignore);
    assert_eq!(f(Client), Signal::Healthy);
    assert_eq!(f(Decode), Signal::Healthy);
    assert_eq!(f(Config), Signal::Ignore);
    assert_eq!(f(Storage), Signal::Ignore);
    assert_eq!(Signal::of(ScraperStatus::NoData, None), Signal::Healthy);
    assert_eq!(
        Signal::of(ScraperStatus::Skipped, Some(BreakerOpen)),
        Signal::Ignore
    );
}

#[test]
fn five_consecutive_failures_open_then_probe_closes() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    for i in 0..4 {
        assert!(fail(&mut s, &cfg, t0() + chrono::Duration::seconds(i)).is_empty());
    }
    let t = fail(&mut s, &cfg, t0() + chrono::Duration::seconds(4));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].reason, "5 consecutive failures; open for 1m");
    assert_eq!(s.phase, Phase::Open);
    let now = t0() + chrono::Duration::seconds(30);
    match s.admit(&cfg, "nba", now, chrono_tz::UTC).0 {
        Admission::Reject(m) => assert_eq!(
            m,
            "circuit breaker for source nba open since 2026-01-01 00:00:04 UTC (+00:00) after 5 consecutive failures; next probe at 2026-01-01 00:01:04 UTC (+00:00)"
        ),
        other => panic!("{other:?}"),
    }
    let now = t0() + chrono::Duration::seconds(64);
    let (a, t) = s.admit(&cfg, "nba", now, chrono_tz::UTC);
    assert_eq!(a, Admission::Probe(now));
    assert_eq!(t[0].to, Phase::HalfOpen);
    // A second caller is refused while the probe is in flight.
    assert!(matches!(
        s.admit(&cfg, "nba", now, chrono_tz::UTC).0,
        Admission::Reject(_)
    ));
    // The probe fails: open again for twice as long.
    let t = s.record(
        &cfg,
        now,
        Signal::Unhealthy,
        Some((ErrorKind::Connect, "refused")),
        Some(now),
    );
    assert_eq!(t[0].reason, "probe failed (connect); open for 2m");
    assert_eq!(s.open_until, Some(now + chrono::Duration::minutes(2)));
    let later = now + chrono::Duration::minutes(2);
    let (a, _) = s.admit(&cfg, "nba", later, chrono_tz::UTC);
    let t = s.record(
        &cfg,
        later,
        Signal::Healthy,
        None,
        match a {
            Admission::Probe(t) => Some(t),
            _ => None,
        },
    );
    assert_eq!(t[0].to, Phase::Closed);
    assert_eq!(s.streak, 0);
    assert_eq!(s.trips, 2);
}

#[test]
fn failure_rate_needs_min_calls() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    let mut now = t0();
    // F S F S F: 3 of 5 failed (60%) ≥ 50% with 5 calls → open.
    for (i, bad) in [true, false, true, false].into_iter().enumerate() {
        now = t0() + chrono::Duration::seconds(i as i64);
        let t = if bad {
            fail(&mut s, &cfg, now)
        } else {
            s.record(&cfg, now, Signal::Healthy, None, None)
        };
        assert!(t.is_empty());
    }
    let t = fail(&mut s, &cfg, now);
    assert_eq!(
        t[0].reason,
        "3 of 5 calls failed (60%) within 10m; open for 1m"
    );
}

#[test]
fn healthy_calls_before_any_failure_are_not_counted() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    assert!(s.is_quiet(&cfg, t0()));
    s.record(&cfg, t0(), Signal::Healthy, None, None);
    assert!(s.buckets.is_empty());
    fail(&mut s, &cfg, t0());
    assert!(!s.is_quiet(&cfg, t0()));
    // The failure leaves the window after 10 minutes.
    assert!(s.is_quiet(&cfg, t0() + chrono::Duration::minutes(11)) || s.consecutive_failures > 0);
}

#[test]
fn open_period_grows_and_caps() {
    let cfg = BreakerConfig::default();
    let secs: Vec<u64> = (1..=8).map(|n| cfg.open_period(n).as_secs()).collect();
    assert_eq!(secs, vec![60, 120, 240, 480, 960, 1800, 1800, 1800]);
}

#[test]
fn buckets_round_trip() {
    let s = BreakerState {
        buckets: vec![
            Bucket {
                start: 60,
                calls: 3,
                failures: 2,
            },
            Bucket {
                start: 120,
                calls: 1,
                failures: 0,
            },
        ],
        ..BreakerState::default()
    };
    assert_eq!(s.encode_buckets(), "60:3:2,120:1:0");
    assert_eq!(BreakerState::decode_buckets(&s.encode_buckets()), s.buckets);
    assert!(BreakerState::decode_buckets("").is_empty());
}

#[test]
fn lost_probe_is_replaced_after_probe_timeout() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    for _ in 0..5 {
        fail(&mut s, &cfg, t0());
    }
    let p1 = t0() + chrono::Duration::minutes(1);
    assert_eq!(
        s.admit(&cfg, "x", p1, chrono_tz::UTC).0,
        Admission::Probe(p1)
    );
    let p2 = p1 + chrono::Duration::minutes(5);
    assert_eq!(
        s.admit(&cfg, "x", p2, chrono_tz::UTC).0,
        Admission::Probe(p2)
    );
    // The lost probe's late report changes nothing.
    assert!(
        s.record(&cfg, p2, Signal::Healthy, None, Some(p1))
            .is_empty()
    );
    assert_eq!(s.phase, Phase::HalfOpen);
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Admit,
    /// Report the in-flight call at this index (mod len) with this signal.
    Report(usize, u8),
    /// A health probe's result: answered or not.
    Health(bool),
    Reset,
}

/// How long a failing probe holds the breaker in the property test.
const HOLD: Duration = Duration::from_secs(90);

fn probe(ok: bool) -> HealthProbe<'static> {
    HealthProbe {
        request: "GET /teams",
        ok,
        error: (!ok).then_some("connection refused"),
        kind: ErrorKind::Connect,
        hold: HOLD,
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..400).prop_map(Op::Advance),
        4 => Just(Op::Admit),
        4 => (0usize..8, 0u8..3).prop_map(|(i, s)| Op::Report(i, s)),
        2 => any::<bool>().prop_map(Op::Health),
        1 => Just(Op::Reset),
    ]
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    (1u32..8, 1u32..8, 1u32..=10, 1u64..300, 1u64..8, 60u64..1200).prop_map(
        |(min_calls, consecutive, rate, open, cap, window)| BreakerConfig {
            enabled: true,
            window: Duration::from_secs(window),
            min_calls,
            failure_rate: f64::from(rate) / 10.0,
            consecutive_failures: consecutive,
            open_for: Duration::from_secs(open),
            max_open_for: Duration::from_secs(open * cap),
            probe_timeout: Duration::from_secs(300),
            follow_health: true,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn state_machine_invariants(cfg in config(), ops in proptest::collection::vec(op(), 1..200)) {
        let mut s = BreakerState::default();
        let mut now = t0();
        // Calls admitted and not yet reported: their probe token, if any.
        let mut in_flight: Vec<Option<DateTime<Utc>>> = Vec::new();
        let mut signals = 0u32;
        let mut health_seen = false;
        for op in ops {
            let before = s.phase;
            match op {
                Op::Advance(secs) => now += chrono::Duration::seconds(secs as i64),
                Op::Admit => {
                    let (admission, transitions) = s.admit(&cfg, "src", now, chrono_tz::UTC);
                    for t in &transitions { prop_assert_eq!(t.from, before); prop_assert!(t.from != t.to); }
                    match admission {
                        Admission::Allow => { prop_assert_eq!(before, Phase::Closed); in_flight.push(None); }
                        Admission::Probe(token) => {
                            prop_assert!(before != Phase::Closed);
                            if before == Phase::Open { prop_assert!(now >= s.opened_at.unwrap()); }
                            in_flight.push(Some(token));
                        }
                        Admission::Reject(message) => {
                            prop_assert!(before != Phase::Closed);
                            prop_assert!(message.contains("next probe at"));
                        }
                    }
                }
                Op::Report(i, sig) if !in_flight.is_empty() => {
                    let token = in_flight.remove(i % in_flight.len());
                    let signal = [Signal::Healthy, Signal::Unhealthy, Signal::Ignore][sig as usize];
                    if signal != Signal::Ignore { signals += 1; }
                    let ts = s.record(&cfg, now, signal, Some((ErrorKind::Server, "503")), token);
                    for t in &ts { prop_assert_eq!(t.from, before); }
                }
                Op::Report(..) => {}
                Op::Health(ok) => {
                    health_seen = true;
                    if !ok { signals += 1; }
                    let ts = s.health(&cfg, now, probe(ok));
                    for t in &ts { prop_assert_eq!(t.from, before); prop_assert!(t.from != t.to); }
                    if !ok && s.phase != Phase::Closed {
                        // No trial while the probe says the host is down.
                        prop_assert_eq!(s.phase, Phase::Open);
                        prop_assert!(matches!(s.clone().admit(&cfg, "src", now, chrono_tz::UTC).0, Admission::Reject(_)));
                    }
                    if ok && before == Phase::Open {
                        // Recovery is tried at once.
                        prop_assert!(matches!(s.clone().admit(&cfg, "src", now, chrono_tz::UTC).0, Admission::Probe(_)));
                    }
                }
                Op::Reset => { s.reset(now, "reset by operator"); }
            }
            // Counts consistent.
            let (calls, failures) = s.window_counts();
            prop_assert!(failures <= calls);
            prop_assert!(calls <= signals);
            prop_assert!(s.streak <= s.trips);
            match s.phase {
                Phase::Closed => {
                    prop_assert_eq!(s.streak, 0);
                    prop_assert!(s.probe_started_at.is_none());
                    prop_assert!(s.consecutive_failures < cfg.consecutive_failures);
                }
                Phase::Open => {
                    prop_assert!(s.streak >= 1);
                    prop_assert!(s.open_until.unwrap() > s.opened_at.unwrap());
                    // From its last trip (or failed probe), never longer than
                    // the longest open period or a probe's hold.
                    let longest = cfg.max_open_for.max(HOLD);
                    prop_assert!(s.open_until.unwrap() - now <= chrono::Duration::from_std(longest).unwrap());
                }
                Phase::HalfOpen => prop_assert!(s.streak >= 1),
            }
            // Never more than one live probe: admitted, unreported, and still the breaker's token.
            // (A probe that answers ends the open period at once, so a new
            // trial can be admitted within the millisecond of one a failing
            // probe superseded: tokens are instants, and such a late report
            // is indistinguishable from, and as telling as, the new trial's.)
            let live = in_flight.iter().filter(|t| t.is_some() && **t == s.probe_started_at && s.phase == Phase::HalfOpen).count();
            prop_assert!(live <= 1 || health_seen);
            // Never stuck open: once the open period (or a lost probe's
            // timeout) has passed, a probe is admitted.
            if s.phase != Phase::Closed {
                let mut copy = s.clone();
                let at = copy.next_probe(&cfg).unwrap().max(now);
                let admitted = copy.admit(&cfg, "src", at, chrono_tz::UTC).0;
                prop_assert!(matches!(admitted, Admission::Probe(_)), "stuck: {:?}", s);
            }
        }
    }
}

#[test]
fn a_huge_open_for_saturates_instead_of_panicking() {
    // The config bounds open_for to 7d; this is the arithmetic's own guard.
    let cfg = BreakerConfig {
        open_for: Duration::MAX,
        max_open_for: Duration::MAX,
        probe_timeout: Duration::MAX,
        ..BreakerConfig::default()
    };
    let mut s = BreakerState::default();
    for i in 0..5 {
        fail(&mut s, &cfg, t0() + chrono::Duration::seconds(i));
    }
    assert_eq!(s.phase, Phase::Open);
    assert_eq!(s.open_until, Some(DateTime::<Utc>::MAX_UTC));
    assert!(matches!(
        s.admit(
            &cfg,
            "nba",
            t0() + chrono::Duration::days(365),
            chrono_tz::UTC
        )
        .0,
        Admission::Reject(_)
    ));
}

fn probe_at(
    s: &mut BreakerState,
    cfg: &BreakerConfig,
    now: DateTime<Utc>,
    ok: bool,
) -> Vec<Transition> {
    s.health(
        cfg,
        now,
        HealthProbe {
            request: "GET /teams",
            ok,
            error: (!ok).then_some("GET /teams: connection refused"),
            kind: ErrorKind::Connect,
            hold: Duration::from_secs(31 * 60),
        },
    )
}

#[test]
fn failing_probes_open_the_breaker_before_any_call() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    for i in 0..4 {
        assert!(probe_at(&mut s, &cfg, t0() + chrono::Duration::minutes(i), false).is_empty());
        assert_eq!(s.phase, Phase::Closed);
    }
    let t = probe_at(&mut s, &cfg, t0() + chrono::Duration::minutes(4), false);
    assert_eq!(s.phase, Phase::Open);
    assert_eq!(t.len(), 1);
    assert_eq!(
        t[0].reason,
        "5 consecutive failures; open for 1m (health probe GET /teams failing)"
    );
    assert_eq!(s.health_failing_since, Some(t0()));
    assert!(s.held_by_health());
    // Held for the probe's hold, not the first open period of 1m.
    assert_eq!(s.open_until, Some(t0() + chrono::Duration::minutes(4 + 31)));
}

#[test]
fn open_with_a_failing_probe_admits_no_trial() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    for i in 0..5 {
        fail(&mut s, &cfg, t0() + chrono::Duration::seconds(i));
    }
    let opened = s.opened_at;
    // Probe after probe fails, each every 30 minutes, for a day: no call
    // is ever admitted as the trial, whatever the open period says.
    let mut now = t0();
    for _ in 0..48 {
        now += chrono::Duration::minutes(30);
        assert!(probe_at(&mut s, &cfg, now, false).is_empty());
        let later = now + chrono::Duration::minutes(30);
        assert!(
            matches!(
                s.clone().admit(&cfg, "nba", later, chrono_tz::UTC).0,
                Admission::Reject(_)
            ),
            "no trial at {later}"
        );
    }
    assert_eq!(s.phase, Phase::Open);
    assert_eq!(s.opened_at, opened, "the outage's start does not move");
    // Probes stop (no serve running): the hold ends and the breaker
    // behaves as without them, one trial call at a time.
    let (a, t) = s.admit(
        &cfg,
        "nba",
        now + chrono::Duration::minutes(31),
        chrono_tz::UTC,
    );
    assert!(matches!(a, Admission::Probe(_)));
    assert_eq!(t[0].to, Phase::HalfOpen);
}

#[test]
fn a_probe_that_answers_while_open_lets_the_next_call_be_the_trial() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    for i in 0..5 {
        probe_at(&mut s, &cfg, t0() + chrono::Duration::minutes(i), false);
    }
    assert_eq!(s.phase, Phase::Open);
    let now = t0() + chrono::Duration::minutes(10);
    let t = probe_at(&mut s, &cfg, now, true);
    assert_eq!(s.phase, Phase::HalfOpen);
    assert_eq!(s.health_failing_since, None);
    assert_eq!(
        t[0].reason,
        "health probe GET /teams answered; the next call is the trial"
    );
    let (a, _) = s.admit(&cfg, "nba", now, chrono_tz::UTC);
    assert_eq!(a, Admission::Probe(now));
    let t = s.record(&cfg, now, Signal::Healthy, None, Some(now));
    assert_eq!(t[0].to, Phase::Closed);
    // A probe that answers while closed changes nothing.
    let before = s.clone();
    assert!(probe_at(&mut s, &cfg, now, true).is_empty());
    assert_eq!(s, before);
}

#[test]
fn a_failing_probe_re_opens_a_half_open_breaker_keeping_its_start() {
    let cfg = BreakerConfig::default();
    let mut s = BreakerState::default();
    for i in 0..5 {
        fail(&mut s, &cfg, t0() + chrono::Duration::seconds(i));
    }
    let opened = s.opened_at;
    let later = t0() + chrono::Duration::minutes(2);
    assert!(matches!(
        s.admit(&cfg, "nba", later, chrono_tz::UTC).0,
        Admission::Probe(_)
    ));
    let t = probe_at(&mut s, &cfg, later, false);
    assert_eq!((t[0].from, t[0].to), (Phase::HalfOpen, Phase::Open));
    assert!(
        t[0].reason.starts_with("health probe GET /teams failing"),
        "{}",
        t[0].reason
    );
    assert_eq!(s.opened_at, opened);
    // A failed trial call re-opens it too, from the same start.
    let mut s2 = BreakerState::default();
    for i in 0..5 {
        fail(&mut s2, &cfg, t0() + chrono::Duration::seconds(i));
    }
    let (a, _) = s2.admit(&cfg, "nba", later, chrono_tz::UTC);
    let Admission::Probe(token) = a else {
        panic!("{a:?}")
    };
    s2.record(
        &cfg,
        later,
        Signal::Unhealthy,
        Some((ErrorKind::Connect, "refused")),
        Some(token),
    );
    assert_eq!(s2.phase, Phase::Open);
    assert_eq!(s2.opened_at, opened);
}

#[test]
fn follow_health_false_ignores_probes() {
    let cfg = BreakerConfig {
        follow_health: false,
        ..BreakerConfig::default()
    };
    let mut s = BreakerState::default();
    for i in 0..10 {
        assert!(probe_at(&mut s, &cfg, t0() + chrono::Duration::minutes(i), false).is_empty());
    }
    assert_eq!(s, BreakerState::default());
}
