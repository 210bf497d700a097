//! Proxies per source: one HTTP client per proxy, the rotation, and each
//! proxy's breaker, in memory (per process).
//!
//! reqwest binds proxies to a client, so a source with `proxies` gets one
//! client per proxy, built once with the fetcher; a source without uses
//! the shared client, which ignores the environment's proxy variables
//! (reqwest would otherwise honour `HTTP_PROXY` silently). `proxy = "env"`
//! builds a client from those variables as the config read them, since
//! only the CLI reads the environment.
//!
//! Which proxy an exchange takes, what counts as the proxy's failure and
//! the breaker's rules are `rebound_domain::proxy`; this file holds their
//! state. The breakers live in this process only: a proxy's failures are
//! frequent and cheap to relearn, and a database write per exchange would
//! cost more than the breaker saves. `rebound health` and `rebound
//! breakers` replay the recorded attempts through the same state machine
//! instead (`rebound_domain::proxy::replay`).

use crate::{Fetcher, FetcherSetupError};
use chrono::{DateTime, Utc};
use rebound_domain::message::plural;
use rebound_domain::plan::{Plan, Source};
use rebound_domain::proxy::{EnvProxies, ProxyBreaker, ProxyRoute, Rotation, SourceProxies, label};
use rebound_domain::redact::Redactor;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One source's proxies.
pub(crate) struct ProxyPool {
    config: SourceProxies,
    /// One per proxy, in the config's order; `None` for a proxy whose
    /// variable was not set (a report command's plan).
    clients: Vec<Option<reqwest::Client>>,
    state: Mutex<PoolState>,
}

struct PoolState {
    rotation: Rotation,
    breakers: Vec<ProxyBreaker>,
}

/// Which way the next exchange goes.
pub(crate) enum Pick {
    /// The source has no proxies.
    Direct,
    /// Through this proxy (0-based).
    Via(usize),
    /// Every proxy not yet tried in this attempt is open (or all were
    /// tried): why, naming them by place, never by URL.
    Exhausted(String),
}

/// The settings every client shares: no redirects (followed by hand, see
/// `redirect.rs`), no `Referer`, and no proxy from the environment.
#[allow(clippy::disallowed_methods)] // the HTTP edge: the one place that builds clients
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("rebound/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(256)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .no_proxy()
}

/// The proxy pools of every source that has proxies.
pub(crate) fn pools(
    plan: &Plan,
    redactor: &Redactor,
) -> Result<HashMap<String, Arc<ProxyPool>>, FetcherSetupError> {
    let mut pools = HashMap::new();
    for source in plan.sources.values() {
        let Some(config) = &source.proxies else {
            continue;
        };
        let mut clients = Vec::with_capacity(config.routes.len());
        for (i, route) in config.routes.iter().enumerate() {
            let client = proxy_client(route).map_err(|e| {
                // reqwest's text may quote the URL: mask it.
                FetcherSetupError(redactor.redact_string(&format!(
                    "source {}, {}: {e}",
                    source.name,
                    label(i, config.routes.len())
                )))
            })?;
            clients.push(client);
        }
        let state = PoolState {
            rotation: Rotation::default(),
            breakers: vec![ProxyBreaker::default(); config.routes.len()],
        };
        pools.insert(
            source.name.clone(),
            Arc::new(ProxyPool {
                config: config.clone(),
                clients,
                state: Mutex::new(state),
            }),
        );
    }
    Ok(pools)
}

fn proxy_client(route: &ProxyRoute) -> Result<Option<reqwest::Client>, reqwest::Error> {
    let mut builder = client_builder();
    match route {
        ProxyRoute::Unset => return Ok(None),
        ProxyRoute::Url(url) => builder = builder.proxy(reqwest::Proxy::all(url)?),
        ProxyRoute::Env(EnvProxies {
            http,
            https,
            all,
            no_proxy,
        }) => {
            let bypass = || no_proxy.as_deref().and_then(reqwest::NoProxy::from_string);
            // Scheme-specific first: reqwest takes the first that matches,
            // and ALL_PROXY is the fallback, as in curl.
            if let Some(url) = http {
                builder = builder.proxy(reqwest::Proxy::http(url)?.no_proxy(bypass()));
            }
            if let Some(url) = https {
                builder = builder.proxy(reqwest::Proxy::https(url)?.no_proxy(bypass()));
            }
            if let Some(url) = all {
                builder = builder.proxy(reqwest::Proxy::all(url)?.no_proxy(bypass()));
            }
        }
    }
    builder.build().map(Some)
}

impl Fetcher {
    /// How many proxies `source` has (0: none).
    pub(crate) fn proxy_count(&self, source: &Source) -> usize {
        self.proxies
            .get(&source.name)
            .map_or(0, |pool| pool.clients.len())
    }

    /// The client for an exchange through `proxy` (the shared one
    /// without); `None` when that proxy's URL variable was not set, so
    /// nothing may be sent (never directly instead).
    pub(crate) fn client_for(
        &self,
        source: &Source,
        proxy: Option<usize>,
    ) -> Option<&reqwest::Client> {
        match proxy {
            None => Some(&self.client),
            Some(i) => self.proxies.get(&source.name)?.clients.get(i)?.as_ref(),
        }
    }

    /// The proxy for the next exchange of an attempt, marking it in
    /// `tried` (one entry per proxy).
    pub(crate) fn pick_proxy(&self, source: &Source, tried: &mut [bool]) -> Pick {
        let Some(pool) = self.proxies.get(&source.name) else {
            return Pick::Direct;
        };
        let now = self.clock.now();
        let draw = self.unit_random();
        let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        let PoolState { rotation, breakers } = &mut *state;
        match rotation.pick(pool.config.rotation, breakers, tried, now, draw) {
            Some(i) => {
                if let Some(slot) = tried.get_mut(i) {
                    *slot = true;
                }
                Pick::Via(i)
            }
            None => Pick::Exhausted(all_open_message(&source.name, breakers, now, self.timezone)),
        }
    }

    /// Feeds an exchange through `proxy` to its breaker. Returns true when
    /// it was the proxy's failure (so the attempt may go on to the next).
    pub(crate) fn settle_proxy(
        &self,
        source: &Source,
        proxy: usize,
        http_status: Option<u16>,
        kind: Option<rebound_domain::outcome::ErrorKind>,
        at: DateTime<Utc>,
    ) -> bool {
        let Some(pool) = self.proxies.get(&source.name) else {
            return false;
        };
        let failed = pool.config.is_proxy_failure(http_status, kind);
        let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        let count = state.breakers.len();
        if let Some(breaker) = state.breakers.get_mut(proxy)
            && breaker.record(failed, at, &pool.config.breaker)
        {
            tracing::warn!(
                source = %source.name,
                proxy = %label(proxy, count),
                failures = breaker.consecutive_failures,
                until = %breaker.open_until.unwrap_or(at),
                "Proxy breaker opened."
            );
        }
        failed
    }

    /// A proxy to probe `source` through: the first whose breaker is not
    /// open (the first of all when every one is), without moving the
    /// rotation or feeding a breaker: a probe asks whether the upstream
    /// is up, not whether a proxy is.
    pub(crate) fn probe_proxy(&self, source: &Source) -> Option<usize> {
        let pool = self.proxies.get(&source.name)?;
        let now = self.clock.now();
        let state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            state
                .breakers
                .iter()
                .position(|b| b.is_usable(now))
                .unwrap_or(0),
        )
    }
}

/// `every proxy of source nba_stats is open or already tried: proxy 1 of
/// 3 (3 failures, skipped until …), proxy 2 of 3 (…), …`.
fn all_open_message(
    source: &str,
    breakers: &[ProxyBreaker],
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let count = breakers.len();
    let each: Vec<String> = breakers
        .iter()
        .enumerate()
        .map(|(i, b)| match b.open_until.filter(|_| !b.is_usable(now)) {
            Some(until) => format!(
                "{} ({}, skipped until {})",
                label(i, count),
                plural(u64::from(b.consecutive_failures), "failure", "failures"),
                rebound_domain::message::when_exact(until, tz)
            ),
            None => format!("{} (tried)", label(i, count)),
        })
        .collect();
    let all_open = breakers.iter().all(|b| !b.is_usable(now));
    let what = if all_open {
        "is open"
    } else {
        "is open or already tried"
    };
    format!("every proxy of source {source} {what}: {}", each.join(", "))
}
