//! The scenario's faults as the simulated upstream's [`FaultHook`]: each
//! request is matched against the faults on its path that are active at
//! the simulation clock's local time, and gets what they say.
//!
//! Waiting (`slow`, `down` in `timeout` mode) is a sleep on the
//! simulation's clock, which jumps time forward: a 45 s timeout costs no
//! real time. The client's own timer runs on real time and never fires, so
//! a `timeout` ends with the connection closed after the virtual wait; the
//! fetcher records a drop that came once the source's timeout had passed
//! on its clock as kind `timeout`, so the history reads as a real outage's
//! would (`rebound-fetch` `call.rs`, `docs/simulate.md`).
//!
//! `flaky` draws are a hash of the seed, the fault, the request's path and
//! query and how many times that request was made before: the same run
//! with the same seed fails the same requests, whatever order concurrent
//! requests arrive in.

use crate::scenario::{DownMode, Fault, FaultKind};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rebound_domain::clock::Clock;
use rebound_upstream_sim::{FaultAction, FaultFuture, FaultHook, FaultRequest, Reply};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One fault with the path prefix it covers on the upstream.
struct Armed {
    fault: Fault,
    /// The fault's start and end as instants (see [`Injector::new`]).
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    /// `/ref/<source>`: the source's folder on the simulated upstream.
    folder: String,
    /// The route for a fault on a route, else empty.
    route: String,
    /// The source's timeout (for `down` in `timeout` mode).
    timeout: Duration,
}

#[derive(Default)]
struct State {
    /// Request times inside each rate-limited fault's window.
    windows: HashMap<usize, VecDeque<DateTime<Utc>>>,
    /// How often each (fault, path?query) was drawn for.
    draws: HashMap<(usize, String), u64>,
    /// Requests each fault changed.
    hits: BTreeMap<usize, u64>,
    /// When each fault first changed a request.
    first_hit: BTreeMap<usize, DateTime<Utc>>,
}

/// The hook: faults, clock, zone and seed.
pub struct Injector {
    armed: Vec<Armed>,
    clock: Arc<dyn Clock>,
    tz: Tz,
    seed: u64,
    state: Mutex<State>,
}

/// What a fault did over the run.
#[derive(Debug, Clone)]
pub struct FaultHits {
    pub index: usize,
    pub hits: u64,
    pub first_hit: Option<DateTime<Utc>>,
}

impl Injector {
    /// `timeouts`: each source's timeout, by name.
    pub fn new(
        faults: &[Fault],
        timeouts: &BTreeMap<String, Duration>,
        clock: Arc<dyn Clock>,
        tz: Tz,
        seed: u64,
    ) -> Injector {
        let armed = faults
            .iter()
            .filter_map(|fault| {
                let source = fault.target.source.as_ref()?;
                // A scraper's fault matches its request's shape below the
                // source's folder, not the route prefix.
                let route = match &fault.target.request {
                    Some(_) => "",
                    None => fault.target.route.as_deref().unwrap_or(""),
                };
                Some(Armed {
                    // Compared as instants, as the report reads them: a
                    // local time the fall-back hour repeats is its first
                    // occurrence. Compared on the wall clock, a fault of
                    // 01:00 to 01:30 struck in both occurrences while the
                    // report counted the calls of the first only.
                    from: crate::report::utc(tz, fault.start),
                    until: crate::report::utc(tz, fault.end),
                    fault: fault.clone(),
                    folder: format!("/ref/{source}"),
                    route: route.to_string(),
                    timeout: timeouts
                        .get(source)
                        .copied()
                        .unwrap_or(Duration::from_secs(30)),
                })
            })
            .collect();
        Injector {
            armed,
            clock,
            tz,
            seed,
            state: Mutex::new(State::default()),
        }
    }

    /// Per fault, how many requests it changed and when it first did.
    pub fn hits(&self) -> Vec<FaultHits> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.armed
            .iter()
            .map(|a| FaultHits {
                index: a.fault.index,
                hits: state.hits.get(&a.fault.index).copied().unwrap_or(0),
                first_hit: state.first_hit.get(&a.fault.index).copied(),
            })
            .collect()
    }

    /// The action for one request at `now`, plus a wait before it.
    fn decide_now(&self, request: &FaultRequest) -> (Duration, FaultAction) {
        let now = self.clock.now();
        let local = now.with_timezone(&self.tz).naive_local();
        let mut wait = Duration::ZERO;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for armed in &self.armed {
            let fault = &armed.fault;
            if now < armed.from || now >= armed.until || !armed.covers(request) {
                continue;
            }
            let action = match &fault.kind {
                FaultKind::Slow { delay } => {
                    wait += *delay;
                    note(&mut state, fault.index, now);
                    // A client gives up at the source's timeout, so an
                    // answer slower than that never arrives: the wait
                    // ends there with the connection dropped, which the
                    // fetcher records as a `timeout`, as with `down` in
                    // `timeout` mode.
                    if wait >= armed.timeout {
                        return (armed.timeout, FaultAction::Drop);
                    }
                    continue;
                }
                FaultKind::Status {
                    status,
                    retry_after,
                } => {
                    let mut reply = Reply::status(*status);
                    if let Some(after) = retry_after {
                        reply = reply.header("Retry-After", &after.as_secs().to_string());
                    }
                    FaultAction::Reply(reply)
                }
                FaultKind::Down { mode } => match mode {
                    DownMode::Refused => FaultAction::Drop,
                    DownMode::Unavailable => FaultAction::Reply(Reply::status(503)),
                    DownMode::Timeout => {
                        wait += armed.timeout;
                        FaultAction::Drop
                    }
                },
                FaultKind::Late { publish_at, status } => {
                    if local.time() >= *publish_at {
                        continue;
                    }
                    FaultAction::Reply(Reply::status(*status))
                }
                FaultKind::Empty => FaultAction::Empty,
                FaultKind::ChangedShape => FaultAction::Reshape,
                FaultKind::RateLimit {
                    requests,
                    window,
                    retry_after,
                } => {
                    let span =
                        chrono::TimeDelta::from_std(*window).unwrap_or(chrono::TimeDelta::MAX);
                    let times = state.windows.entry(fault.index).or_default();
                    while times.front().is_some_and(|t| *t + span <= now) {
                        times.pop_front();
                    }
                    if times.len() < *requests as usize {
                        times.push_back(now);
                        continue;
                    }
                    let left = times
                        .front()
                        .map(|t| (*t + span - now).num_seconds().max(1))
                        .unwrap_or(1);
                    let after = retry_after
                        .map_or(left, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                    FaultAction::Reply(Reply::status(429).header("Retry-After", &after.to_string()))
                }
                FaultKind::Flaky {
                    rate,
                    status,
                    retry_after,
                } => {
                    let key = (
                        fault.index,
                        format!(
                            "{}?{}",
                            request.path,
                            request.query.as_deref().unwrap_or("")
                        ),
                    );
                    let draw = state.draws.entry(key.clone()).or_insert(0);
                    let n = *draw;
                    *draw += 1;
                    if unit(self.seed, fault.index, &key.1, n) >= *rate {
                        continue;
                    }
                    let mut reply = Reply::status(*status);
                    if let Some(after) = retry_after {
                        reply = reply.header("Retry-After", &after.as_secs().to_string());
                    }
                    FaultAction::Reply(reply)
                }
            };
            note(&mut state, fault.index, now);
            return (wait, action);
        }
        (wait, FaultAction::Pass)
    }
}

impl Armed {
    fn covers(&self, request: &FaultRequest) -> bool {
        // The folder ends at a segment boundary: a fault on `nba_stats`
        // must not reach `/ref/nba_statsdmz/...`.
        let Some(under) = request.path.strip_prefix(&self.folder) else {
            return false;
        };
        if !(under.is_empty() || under.starts_with('/')) {
            return false;
        }
        match &self.fault.target.request {
            Some(shape) => shape.matches(under, request.query.as_deref()),
            None => under.starts_with(&self.route),
        }
    }
}

fn note(state: &mut State, index: usize, now: DateTime<Utc>) {
    *state.hits.entry(index).or_insert(0) += 1;
    state.first_hit.entry(index).or_insert(now);
}

/// A uniform draw in [0, 1) from (seed, fault, request, repeat): FNV-1a
/// over the inputs, then SplitMix64 to spread the bits.
fn unit(seed: u64, fault: usize, request: &str, repeat: u64) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&seed.to_le_bytes());
    eat(&(fault as u64).to_le_bytes());
    eat(request.as_bytes());
    eat(&repeat.to_le_bytes());
    let mut z = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl FaultHook for Injector {
    fn decide(&self, request: &FaultRequest) -> FaultFuture {
        let (wait, action) = self.decide_now(request);
        if wait.is_zero() {
            return Box::pin(std::future::ready(action));
        }
        let sleep = self.clock.sleep(wait);
        Box::pin(async move {
            sleep.await;
            action
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Names, Scenario};
    use chrono::TimeZone;
    use rebound_domain::clock::ManualClock;

    const NY: Tz = chrono_tz::America::New_York;

    fn injector(faults: &str, clock: Arc<ManualClock>) -> Injector {
        let text = format!("from = \"2026-01-10\"\ndays = 2\n{faults}");
        let mut scenario = Scenario::parse("t", std::path::Path::new("t.toml"), &text).unwrap();
        let mut names = Names::default();
        names.sources.insert("api".into());
        names
            .scrapers
            .insert("pbp".into(), ("api".into(), "/pbp/{game_id}".into()));
        names
            .scrapers
            .insert("other".into(), ("api".into(), "/other".into()));
        scenario.check_against(&names).unwrap();
        let timeouts = BTreeMap::from([("api".to_string(), Duration::from_secs(20))]);
        Injector::new(&scenario.faults, &timeouts, clock, NY, 7)
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        NY.with_ymd_and_hms(2026, 1, 10, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ask(i: &Injector, path: &str) -> (Duration, String) {
        let (wait, action) = i.decide_now(&FaultRequest {
            path: path.to_string(),
            query: None,
        });
        let what = match action {
            FaultAction::Pass => "pass".to_string(),
            FaultAction::Reply(reply) => format!("{reply:?}").chars().take(40).collect(),
            FaultAction::Drop => "drop".to_string(),
            FaultAction::Empty => "empty".to_string(),
            FaultAction::Reshape => "reshape".to_string(),
        };
        (wait, what)
    }

    #[test]
    fn faults_follow_the_simulated_local_time() {
        let clock = Arc::new(ManualClock::new(at(5, 0)));
        let i = injector(
            "[[faults]]\nkind = \"late\"\nscraper = \"pbp\"\npublish_at = \"09:00\"\nstart = \"2026-01-10\"\nfor = \"1d\"\n\
             [[faults]]\nkind = \"down\"\nsource = \"api\"\nroute = \"/other\"\nmode = \"timeout\"\nstart = \"2026-01-10T12:00\"\nfor = \"1h\"\n",
            clock.clone(),
        );
        assert!(
            ask(&i, "/ref/api/pbp/1").1.contains("404"),
            "before publish_at"
        );
        assert_eq!(ask(&i, "/ref/api/other").1, "pass");
        clock.advance(Duration::from_secs(4 * 3600));
        assert_eq!(ask(&i, "/ref/api/pbp/1").1, "pass", "published at 09:00");
        clock.advance(Duration::from_secs(3 * 3600));
        assert_eq!(
            ask(&i, "/ref/api/other"),
            (Duration::from_secs(20), "drop".into())
        );
        clock.advance(Duration::from_secs(3600));
        assert_eq!(
            ask(&i, "/ref/api/other").1,
            "pass",
            "the outage ended at 13:00"
        );
        let hits = i.hits();
        assert_eq!((hits[0].hits, hits[1].hits), (1, 1));
    }

    /// Before: compared on the wall clock, a fault in the hour the fall-back
    /// repeats struck in both occurrences, while the report (which reads
    /// instants) counted the calls of the first only.
    #[test]
    fn a_fault_in_the_repeated_hour_strikes_its_first_occurrence_only() {
        let text = "from = \"2025-11-01\"\ndays = 2\n[[faults]]\nkind = \"down\"\nsource = \"api\"\nstart = \"2025-11-02T01:00\"\nend = \"2025-11-02T01:30\"\n";
        let mut scenario = Scenario::parse("t", std::path::Path::new("t.toml"), text).unwrap();
        let mut names = Names::default();
        names.sources.insert("api".into());
        names
            .scrapers
            .insert("other".into(), ("api".into(), "/other".into()));
        scenario.check_against(&names).unwrap();
        let first: DateTime<Utc> = "2025-11-02T05:15:00Z".parse().unwrap(); // 01:15 EDT
        let clock = Arc::new(ManualClock::new(first));
        let timeouts = BTreeMap::from([("api".to_string(), Duration::from_secs(20))]);
        let i = Injector::new(&scenario.faults, &timeouts, clock.clone(), NY, 7);
        assert_eq!(ask(&i, "/ref/api/other").1, "drop", "01:15 EDT");
        clock.advance(Duration::from_secs(3600)); // 01:15 EST
        assert_eq!(ask(&i, "/ref/api/other").1, "pass", "01:15 EST");
    }

    /// Before: a `slow` answer longer than the source's timeout still
    /// arrived, and the call was recorded as a success.
    #[test]
    fn an_answer_slower_than_the_timeout_is_dropped_at_the_timeout() {
        let clock = Arc::new(ManualClock::new(at(10, 0)));
        let slow = |delay: &str| {
            injector(
                &format!(
                    "[[faults]]\nkind = \"slow\"\nsource = \"api\"\ndelay = \"{delay}\"\nstart = \"2026-01-10\"\nfor = \"1d\"\n"
                ),
                clock.clone(),
            )
        };
        assert_eq!(
            ask(&slow("19s"), "/ref/api/other"),
            (Duration::from_secs(19), "pass".into())
        );
        for delay in ["20s", "5m", "400d"] {
            assert_eq!(
                ask(&slow(delay), "/ref/api/other"),
                (Duration::from_secs(20), "drop".into()),
                "{delay}"
            );
        }
    }

    /// Before: a scraper's fault matched its literal path prefix, so one
    /// on `/other` also hit `/other/x`.
    #[test]
    fn a_scrapers_fault_hits_only_its_requests() {
        let clock = Arc::new(ManualClock::new(at(10, 0)));
        let i = injector(
            "[[faults]]\nkind = \"empty\"\nscraper = \"other\"\nstart = \"2026-01-10\"\nfor = \"1d\"\n",
            clock,
        );
        assert_eq!(ask(&i, "/ref/api/other").1, "empty");
        assert_eq!(ask(&i, "/ref/api/other/x").1, "pass");
        assert_eq!(ask(&i, "/ref/api/otherwise").1, "pass");
        assert_eq!(ask(&i, "/ref/api/pbp/1").1, "pass");
    }

    /// Before: a fault on source `api` also hit source `apix`, whose
    /// folder `/ref/apix` starts with `/ref/api`.
    #[test]
    fn a_sources_fault_stops_at_its_folder() {
        let clock = Arc::new(ManualClock::new(at(10, 0)));
        let i = injector(
            "[[faults]]\nkind = \"empty\"\nsource = \"api\"\nstart = \"2026-01-10\"\nfor = \"1d\"\n",
            clock,
        );
        assert_eq!(ask(&i, "/ref/api/other").1, "empty");
        assert_eq!(ask(&i, "/ref/api").1, "empty");
        assert_eq!(ask(&i, "/ref/apix/other").1, "pass");
    }

    #[test]
    fn a_rate_limit_counts_requests_in_its_sliding_window() {
        let clock = Arc::new(ManualClock::new(at(10, 0)));
        let i = injector(
            "[[faults]]\nkind = \"rate_limit\"\nsource = \"api\"\nrequests = 2\nwindow = \"1m\"\nstart = \"2026-01-10\"\nfor = \"1d\"\n",
            clock.clone(),
        );
        assert_eq!(ask(&i, "/ref/api/a").1, "pass");
        clock.advance(Duration::from_secs(20));
        assert_eq!(ask(&i, "/ref/api/b").1, "pass");
        let third = ask(&i, "/ref/api/c").1;
        assert!(third.contains("429"), "{third}");
        clock.advance(Duration::from_secs(41));
        assert_eq!(ask(&i, "/ref/api/d").1, "pass", "the first left the window");
    }

    #[test]
    fn draws_are_uniform_enough_and_repeatable() {
        let draws: Vec<f64> = (0..10_000).map(|n| unit(7, 0, "/a", n)).collect();
        assert_eq!(draws[17], unit(7, 0, "/a", 17));
        let below = draws.iter().filter(|d| **d < 0.02).count();
        assert!((120..=280).contains(&below), "{below} of 10000 below 0.02");
        assert_ne!(unit(7, 0, "/a", 0), unit(8, 0, "/a", 0));
    }
}
