//! A source's health probe (`health = { path, expect_status, timeout }`):
//! one GET of `base_url + path` with the source's headers and query, no
//! retries, no rate limit, no quota, no breaker. It answers "is the
//! upstream up right now?" for `rebound health`, separately from how our
//! scrapers fare, so an operator can tell "them" from "us". Redirects are
//! followed as for calls (`follow_redirects`, see `redirect.rs`).

use crate::{Fetcher, redirect, render};
use chrono::NaiveDate;
use rebound_domain::duration::format_duration;
use rebound_domain::outcome::ErrorKind;
use rebound_domain::plan::{HealthProbe, Source};
use std::collections::BTreeMap;

/// How a probe went. Every text is redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub ok: bool,
    /// The answer's status, when one came back.
    pub http_status: Option<u16>,
    /// Why it is not ok.
    pub error: Option<String>,
    /// What kind of failure it was, when it was one: the kind a call's
    /// attempt failing the same way gets (`protocol` for a malformed answer
    /// or a redirect loop, `timeout`, `connect`, …; a wrong status by its
    /// class, as [`ErrorKind::from_status`] has it, and `server` for an
    /// unexpected 2xx), so the breaker and the report need not guess it
    /// from the message.
    pub failure_kind: Option<ErrorKind>,
    /// Wall time the probe took, in milliseconds.
    pub duration_ms: i64,
}

impl Fetcher {
    /// Sends `source`'s probe, filling the built-in parameters from `date`
    /// (in zone `tz`). Never fails: every problem is a not-ok outcome with
    /// a message.
    pub async fn probe(
        &self,
        source: &Source,
        probe: &HealthProbe,
        date: NaiveDate,
        tz: chrono_tz::Tz,
    ) -> ProbeOutcome {
        // Real time on purpose: this measures a live request, not a
        // simulated schedule.
        let started = std::time::Instant::now();
        let result = self.probe_inner(source, probe, date, tz).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let redact = |text: String| self.redactor.redact_string(&text);
        match result {
            Ok(status) if status == probe.expect_status => ProbeOutcome {
                ok: true,
                http_status: Some(status),
                error: None,
                failure_kind: None,
                duration_ms,
            },
            Ok(status) => ProbeOutcome {
                ok: false,
                http_status: Some(status),
                error: Some(redact(format!(
                    "GET {} answered HTTP {status}, expected {}",
                    probe.path_text, probe.expect_status
                ))),
                failure_kind: Some(ErrorKind::of_probe_status(status)),
                duration_ms,
            },
            Err((kind, message)) => ProbeOutcome {
                ok: false,
                http_status: None,
                error: Some(redact(format!("GET {}: {message}", probe.path_text))),
                failure_kind: Some(kind),
                duration_ms,
            },
        }
    }

    async fn probe_inner(
        &self,
        source: &Source,
        probe: &HealthProbe,
        date: NaiveDate,
        tz: chrono_tz::Tz,
    ) -> Result<u16, (ErrorKind, String)> {
        // A request that cannot be made is the config's doing.
        let config = |message: String| (ErrorKind::Config, message);
        let params = builtin_params(date, tz);
        let base = render(&source.base_url.value, &params, "base_url").map_err(config)?;
        let path = render(&probe.path, &params, "health.path").map_err(config)?;
        let joined = format!("{}{}", base.trim_end_matches('/'), path);
        let mut url = url::Url::parse(&joined).map_err(|e| config(format!("bad URL: {e}")))?;
        if !source.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in &source.query {
                pairs.append_pair(
                    key,
                    &render(&value.value, &params, "query").map_err(config)?,
                );
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in &source.headers {
            headers.push((
                name.clone(),
                render(&value.value, &params, "headers").map_err(config)?,
            ));
        }
        // The probe carries the source's credentials too, so it follows
        // redirects under the same rules as a call.
        // Through a proxy when the source has them: an upstream that answers
        // only through proxies would look down otherwise.
        let proxy = self.probe_proxy(source);
        let outgoing = redirect::Outgoing {
            method: reqwest::Method::GET,
            url,
            headers: &headers,
            query_names: source.query.iter().map(|(name, _)| name.as_str()).collect(),
            policy: source.follow_redirects,
            proxied: proxy.is_some(),
        };
        let Some(client) = self.client_for(source, proxy) else {
            return Err(config(
                "its proxy's URL is not set (its environment variable is missing)".into(),
            ));
        };
        // The failure's kind is the one the transport's classification
        // gives a call's attempt (`transport_failure`, the redirect rules).
        match tokio::time::timeout(probe.timeout, redirect::send(client, outgoing)).await {
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(failure)) => Err((failure.kind, failure.message)),
            Err(_) => Err((
                ErrorKind::Timeout,
                format!("no answer within {}", format_duration(probe.timeout)),
            )),
        }
    }
}

/// The date parameters of `date`, as the engine fills them (a probe is
/// no run: it has no slot, and the resolver lets it use nothing else).
fn builtin_params(date: NaiveDate, tz: chrono_tz::Tz) -> BTreeMap<String, String> {
    rebound_domain::params::builtin_values(tz, None, date, None)
}
