//! Proxies per source (issue 13, item 2): rotation, the next proxy after
//! a dead or refused one, each proxy's breaker on the manual clock, and
//! proxy credentials kept out of every message. The proxies are loopback
//! forward proxies of the test kit in front of the simulated upstream.

use chrono::{TimeZone, Utc};
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_domain::plan::Plan;
use rebound_fetch::{CallResult, CallSpec, Fetcher};
use rebound_testkit::forward_proxy::{ForwardProxy, Mode};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "pr0xy-passw0rd-XYZ";

struct Rig {
    sim: UpstreamSim,
    proxies: Vec<ForwardProxy>,
    plan: Plan,
    clock: Arc<ManualClock>,
    fetcher: Fetcher,
}

/// A source behind `modes.len()` proxies (`${P1}`, `${P2}`, … with
/// credentials), `extra` appended to the source table.
async fn rig(modes: &[Mode], extra: &str) -> Rig {
    let sim = UpstreamSim::start().await.unwrap();
    let mut proxies = Vec::new();
    for &mode in modes {
        proxies.push(ForwardProxy::start(mode).await);
    }
    let vars: Vec<String> = (1..=modes.len())
        .map(|i| format!("\"${{P{i}}}\""))
        .collect();
    let text = format!(
        r#"
[pipeline]
name = "t"
database = "sqlite://unused.db"
raw_store = "file://unused"

[retry]
max_attempts = 3
initial_delay = "2s"
jitter = "none"

[sources.up]
base_url = "{base}"
timeout = "2s"
proxies = [{list}]
{extra}

[scrapers.plain]
source = "up"
path = "/healthz"

[scrapers.cursor]
source = "up"
path = "/pages/cursor"
records = "/data"
paginate = {{ kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }}
"#,
        base = sim.base_url(),
        list = vars.join(", "),
    );
    let urls: Vec<String> = proxies
        .iter()
        .enumerate()
        .map(|(i, p)| p.url_with_credentials(&format!("user{}", i + 1), PASSWORD))
        .collect();
    let env = |name: &str| {
        let i: usize = name.strip_prefix('P')?.parse().ok()?;
        urls.get(i.checked_sub(1)?).cloned()
    };
    let plan = rebound_config::load_str(&text, Path::new("test.toml"), &env).expect("valid plan");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap().with_seed(7);
    Rig {
        sim,
        proxies,
        plan,
        clock,
        fetcher,
    }
}

impl Rig {
    async fn call(&self, scraper: &str) -> CallResult {
        let scraper = &self.plan.scrapers[scraper];
        let source = &self.plan.sources[&scraper.source];
        self.fetcher
            .call(CallSpec {
                source,
                scraper,
                params: &BTreeMap::new(),
            })
            .await
    }

    fn forwarded(&self) -> Vec<u32> {
        self.proxies.iter().map(ForwardProxy::forwarded).collect()
    }
}

fn proxies_used(result: &CallResult) -> Vec<Option<u32>> {
    result.attempts.iter().map(|a| a.proxy).collect()
}

/// Every text a call produced, for leak checks.
fn texts(result: &CallResult) -> String {
    let mut all = result.message.clone().unwrap_or_default();
    for attempt in &result.attempts {
        all.push('\n');
        all.push_str(attempt.message.as_deref().unwrap_or_default());
    }
    all
}

fn assert_no_proxy_secret(text: &str, rig: &Rig) {
    assert!(!text.contains(PASSWORD), "{text}");
    for proxy in &rig.proxies {
        let port = proxy.url().rsplit(':').next().unwrap().to_string();
        assert!(!text.contains(&format!(":{port}")), "{text}");
    }
}

#[tokio::test]
async fn round_robin_takes_the_next_proxy_for_each_request() {
    let rig = rig(&[Mode::Forward; 3], "").await;
    let mut used = Vec::new();
    for _ in 0..4 {
        let result = rig.call("plain").await;
        assert_eq!(
            result.status,
            ScraperStatus::Success,
            "{:?}",
            result.message
        );
        used.extend(proxies_used(&result));
    }
    assert_eq!(used, [Some(1), Some(2), Some(3), Some(1)]);
    assert_eq!(rig.forwarded(), [2, 1, 1]);
    assert_eq!(rig.sim.request_count("/healthz"), 4);
    // The credentials in each URL were sent to its proxy.
    let auth = rig.proxies[1].authorizations();
    assert_eq!(auth.len(), 1);
    assert!(auth[0].starts_with("Basic "), "{auth:?}");
}

#[tokio::test]
async fn a_dead_proxy_and_a_refused_one_are_passed_over_for_the_third() {
    let rig = rig(&[Mode::Refuse, Mode::Forbidden, Mode::Forward], "").await;
    let result = rig.call("plain").await;
    assert_eq!(
        result.status,
        ScraperStatus::Success,
        "{:?}",
        result.message
    );
    assert_eq!(proxies_used(&result), [Some(1), Some(2), Some(3)]);
    let kinds: Vec<_> = result.attempts.iter().map(|a| a.error_kind).collect();
    assert_eq!(
        kinds,
        [Some(ErrorKind::Connect), Some(ErrorKind::Client), None]
    );
    assert_eq!(result.attempts[1].http_status, Some(403));
    let first = result.attempts[0].message.as_deref().unwrap_or_default();
    assert!(first.starts_with("via proxy 1 of 3: "), "{first}");
    let second = result.attempts[1].message.as_deref().unwrap_or_default();
    assert!(second.starts_with("via proxy 2 of 3: "), "{second}");
    // Moving to the next proxy costs no retry and no backoff.
    assert!(rig.clock.sleeps().is_empty(), "{:?}", rig.clock.sleeps());
    assert_eq!(rig.proxies[1].refused(), 1);
    assert_eq!(rig.forwarded(), [0, 0, 1]);
    assert_eq!(rig.sim.request_count("/healthz"), 1);
    assert_no_proxy_secret(&texts(&result), &rig);
}

#[tokio::test]
async fn an_upstream_error_through_a_good_proxy_is_retried_not_rotated_away() {
    let rig = rig(&[Mode::Forward; 2], "").await;
    rig.sim.script("/healthz", vec![Reply::text(503, "busy")]);
    let result = rig.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Success);
    // 503 is the upstream's answer, not the proxy's fault: a retry of the
    // policy (with its backoff), on the next proxy in the rotation.
    assert_eq!(proxies_used(&result), [Some(1), Some(2)]);
    assert_eq!(rig.clock.sleeps(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn every_proxy_open_skips_the_call_and_names_them_by_place() {
    let rig = rig(&[Mode::Refuse; 3], "").await;
    // Three attempts of the policy, each a pass over the three proxies:
    // each proxy fails three times in a row and opens.
    let first = rig.call("plain").await;
    assert_eq!(first.status, ScraperStatus::Failed);
    assert_eq!(first.error_kind, Some(ErrorKind::Connect));
    assert_eq!(first.attempts.len(), 9);
    let message = first.message.clone().unwrap_or_default();
    assert!(message.contains("(3 attempts)"), "{message}");

    let skipped = rig.call("plain").await;
    assert_eq!(skipped.status, ScraperStatus::Skipped);
    assert_eq!(skipped.error_kind, Some(ErrorKind::BreakerOpen));
    assert!(skipped.attempts.is_empty());
    let message = skipped.message.clone().unwrap_or_default();
    for n in 1..=3 {
        assert!(
            message.contains(&format!(
                "proxy {n} of 3 (3 failures, skipped until 2026-11-28 15:05:06 UTC (+00:00))"
            )),
            "{message}"
        );
    }
    assert_no_proxy_secret(&message, &rig);
    assert_no_proxy_secret(&texts(&first), &rig);
}

#[tokio::test]
async fn an_open_proxy_is_tried_again_after_open_for() {
    let rig = rig(
        &[Mode::Refuse, Mode::Refuse],
        "proxy_breaker = { failures = 2, open_for = \"5m\" }",
    )
    .await;
    let retry_once = |plan: &mut Plan| {
        plan.scrapers.get_mut("plain").unwrap().retry.max_attempts = 2;
    };
    let mut plan = rig.plan.clone();
    retry_once(&mut plan);
    let scraper = &plan.scrapers["plain"];
    let source = &plan.sources["up"];
    let params = BTreeMap::new();
    let call = || {
        rig.fetcher.call(CallSpec {
            source,
            scraper,
            params: &params,
        })
    };
    let failed = call().await;
    assert_eq!(failed.status, ScraperStatus::Failed);
    assert_eq!(failed.attempts.len(), 4);
    // Both open now, until 5 minutes after their second failure (the
    // backoff of 2 s passed on the clock between the two passes).
    rig.clock.advance(Duration::from_secs(299));
    assert_eq!(call().await.status, ScraperStatus::Skipped);
    rig.proxies[1].set_mode(Mode::Forward);
    rig.clock.advance(Duration::from_secs(1));
    let healed = call().await;
    assert_eq!(
        healed.status,
        ScraperStatus::Success,
        "{:?}",
        healed.message
    );
    // Proxy 1 is tried first again and fails, proxy 2 answers.
    assert_eq!(proxies_used(&healed), [Some(1), Some(2)]);
    // Proxy 1 failed right after its open period: open again at once.
    assert_eq!(call().await.attempts.first().and_then(|a| a.proxy), Some(2));
}

#[tokio::test]
async fn proxy_credentials_never_appear_in_messages() {
    let rig = rig(&[Mode::AuthRequired, Mode::AuthRequired], "").await;
    let result = rig.call("plain").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.http_status, Some(407));
    assert_eq!(proxies_used(&result), [Some(1), Some(2)]);
    let all = texts(&result);
    assert!(all.contains("HTTP 407"), "{all}");
    assert_no_proxy_secret(&all, &rig);
    // The plan's Debug and the redactor hide the URLs too.
    let debug = format!("{:?}", rig.plan.sources["up"]);
    assert_no_proxy_secret(&debug, &rig);
    let url = rig.proxies[0].url_with_credentials("user1", PASSWORD);
    assert_eq!(
        rig.plan.redactor.redact_string(&format!("via {url}/")),
        "via ***"
    );
}

#[tokio::test]
async fn random_rotation_is_repeatable_with_a_seed_and_uses_every_proxy() {
    let sequence = |seed: u64| async move {
        let rig = rig(&[Mode::Forward; 3], "proxy_rotation = \"random\"").await;
        let fetcher = Fetcher::new(&rig.plan, rig.clock.clone())
            .unwrap()
            .with_seed(seed);
        let mut used = Vec::new();
        for _ in 0..12 {
            let scraper = &rig.plan.scrapers["plain"];
            let result = fetcher
                .call(CallSpec {
                    source: &rig.plan.sources["up"],
                    scraper,
                    params: &BTreeMap::new(),
                })
                .await;
            used.extend(proxies_used(&result));
        }
        used
    };
    let first = sequence(11).await;
    assert_eq!(first, sequence(11).await);
    for n in 1..=3 {
        assert!(first.contains(&Some(n)), "{first:?}");
    }
    assert_ne!(
        first[..6],
        [Some(1), Some(2), Some(3), Some(1), Some(2), Some(3)]
    );
}

#[tokio::test]
async fn every_page_of_a_paginated_call_goes_through_the_rotation() {
    let rig = rig(&[Mode::Refuse, Mode::Forward], "").await;
    let result = rig.call("cursor").await;
    assert_eq!(
        result.status,
        ScraperStatus::Success,
        "{:?}",
        result.message
    );
    assert_eq!(result.pages, Some(3));
    let pages: Vec<(u32, Option<u32>)> =
        result.attempts.iter().map(|a| (a.page, a.proxy)).collect();
    // Round robin goes on from proxy 2 to proxy 1 for each page: the dead
    // proxy is met on every page, and passed over at once each time.
    assert_eq!(
        pages,
        [
            (1, Some(1)),
            (1, Some(2)),
            (2, Some(1)),
            (2, Some(2)),
            (3, Some(1)),
            (3, Some(2))
        ]
    );
    // Its third failure in a row opened it: the next call skips it.
    assert!(rig.clock.sleeps().is_empty());
    let next = rig.call("cursor").await;
    assert!(next.attempts.iter().all(|a| a.proxy == Some(2)), "{next:?}");
    assert_eq!(rig.proxies[1].forwarded(), 6);
}

#[tokio::test]
async fn proxy_env_uses_the_proxy_variables_the_config_was_given() {
    let sim = UpstreamSim::start().await.unwrap();
    let proxy = ForwardProxy::start(Mode::Forward).await;
    let text = format!(
        r#"
[pipeline]
name = "t"
database = "sqlite://unused.db"
raw_store = "file://unused"

[sources.direct]
base_url = "{base}"

[sources.via_env]
base_url = "{base}"
proxy = "env"

[scrapers.direct]
source = "direct"
path = "/healthz"

[scrapers.via_env]
source = "via_env"
path = "/healthz"
"#,
        base = sim.base_url()
    );
    let proxy_url = proxy.url();
    let env = |name: &str| (name == "HTTP_PROXY").then(|| proxy_url.clone());
    let plan = rebound_config::load_str(&text, Path::new("t.toml"), &env).unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock).unwrap();
    let params = BTreeMap::new();
    let call = |name: &'static str| {
        let scraper = &plan.scrapers[name];
        fetcher.call(CallSpec {
            source: &plan.sources[&scraper.source],
            scraper,
            params: &params,
        })
    };
    let direct = call("direct").await;
    assert_eq!(direct.status, ScraperStatus::Success);
    assert_eq!(direct.attempts[0].proxy, None);
    assert_eq!(proxy.forwarded(), 0);
    let via = call("via_env").await;
    assert_eq!(via.status, ScraperStatus::Success, "{:?}", via.message);
    assert_eq!(via.attempts[0].proxy, Some(1));
    assert_eq!(proxy.forwarded(), 1);
    assert_eq!(sim.request_count("/healthz"), 2);
}

#[tokio::test]
async fn a_paginated_call_refused_by_open_proxies_is_skipped_whole() {
    let rig = rig(&[Mode::Refuse], "proxy_breaker = { failures = 1 }").await;
    let failed = rig.call("cursor").await;
    assert_eq!(failed.status, ScraperStatus::Failed);
    // Its retry found the only proxy open: failed, saying so, on page 1.
    let message = failed.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("page 1: via proxy 1 of 1: connect reset by peer (1 attempt)"),
        "{message}"
    );
    assert!(
        message.contains("then every proxy of source up is open: proxy 1 of 1"),
        "{message}"
    );
    let skipped = rig.call("cursor").await;
    assert_eq!(skipped.status, ScraperStatus::Skipped);
    assert_eq!(skipped.pages, None);
    let message = skipped.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("every proxy of source up is open: proxy 1 of 1 (1 failure,"),
        "{message}"
    );
}
