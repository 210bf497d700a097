//! Redirects and credentials (issue 11, item 1): a source's headers, query
//! key and Referer never reach another host. A second simulated upstream on
//! another port plays "the other host" and records what it received.

use super::{DEFAULT_RETRY, SECRET, harness};
use chrono::NaiveDate;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_upstream_sim::{RecordedRequest, Reply, UpstreamSim};

/// The source sends its key both ways: `x-api-key` and `?apiKey=`.
fn source_keys(follow: &str) -> String {
    let follow = if follow.is_empty() {
        String::new()
    } else {
        format!("follow_redirects = \"{follow}\"\n")
    };
    format!(
        "headers = {{ x-api-key = \"${{TEST_API_KEY}}\" }}\n\
         health = {{ path = \"/t/health\" }}\n\
         {follow}\
         [scrapers.hop]\nsource = \"up\"\npath = \"/t/hop\"\n"
    )
}

fn assert_bare(seen: &RecordedRequest) {
    assert_eq!(seen.header("x-api-key"), None, "{seen:?}");
    assert_eq!(seen.header("referer"), None, "{seen:?}");
    let query = seen.query.clone().unwrap_or_default();
    assert!(!query.contains("apiKey"), "{query}");
    assert!(!query.contains(SECRET), "{query}");
    assert!(
        seen.headers.iter().all(|(_, v)| !v.contains(SECRET)),
        "{seen:?}"
    );
}

/// 302, 307 and a scheme-relative `//host:port/…` to another port.
async fn cross_host_locations(other: &UpstreamSim) -> Vec<(u16, String, String)> {
    let port = other.base_url().rsplit(':').next().unwrap().to_string();
    vec![
        (
            302,
            format!("{}/landing", other.base_url()),
            format!("http://127.0.0.1:{port}/landing"),
        ),
        (
            307,
            format!("{}/landing?apiKey={SECRET}&keep=1", other.base_url()),
            format!("http://127.0.0.1:{port}/landing?apiKey=***&keep=1"),
        ),
        (
            301,
            format!("//127.0.0.1:{port}/landing"),
            format!("http://127.0.0.1:{port}/landing"),
        ),
    ]
}

#[tokio::test]
async fn cross_host_redirects_are_not_followed_by_default() {
    let h = harness(DEFAULT_RETRY, &source_keys("")).await;
    let other = UpstreamSim::start().await.unwrap();
    for (code, location, shown) in cross_host_locations(&other).await {
        h.sim
            .script("/t/hop", vec![Reply::redirect(code, &location)]);
        let result = h.call("hop").await;
        assert_eq!(result.status, ScraperStatus::Failed, "{location}");
        assert_eq!(result.error_kind, Some(ErrorKind::Client), "{location}");
        assert_eq!(result.attempts.len(), 1, "not retried: {location}");
        let expected = format!("redirected to another host ({shown}): not followed");
        assert_eq!(
            result.attempts[0].message.as_deref(),
            Some(expected.as_str())
        );
        assert_eq!(result.message, Some(format!("{expected} (1 attempt)")));
    }
    assert!(other.requests().is_empty(), "{:?}", other.requests());
    // Asked three times, never followed.
    assert_eq!(h.sim.request_count("/t/hop"), 3);
}

#[tokio::test]
async fn with_any_cross_host_redirects_are_followed_without_credentials() {
    let h = harness(DEFAULT_RETRY, &source_keys("any")).await;
    let other = UpstreamSim::start().await.unwrap();
    let locations = cross_host_locations(&other).await;
    for (code, location, _) in &locations {
        h.sim
            .script("/t/hop", vec![Reply::redirect(*code, location)]);
        other.script("/landing", vec![Reply::text(200, "landed")]);
        let result = h.call("hop").await;
        assert_eq!(
            result.status,
            ScraperStatus::Success,
            "{location}: {result:?}"
        );
        assert_eq!(result.body.as_deref(), Some(&b"landed"[..]));
    }
    let seen = other.requests();
    assert_eq!(seen.len(), locations.len());
    for request in &seen {
        assert_eq!(request.path, "/landing");
        assert_bare(request);
    }
    // The configured parameter was removed, the upstream's own kept.
    assert_eq!(seen[1].query.as_deref(), Some("keep=1"));
    // The first host did get the key, as configured.
    let first = &h.sim.requests()[0];
    assert_eq!(first.header("x-api-key"), Some(SECRET));
}

#[tokio::test]
async fn same_host_redirects_keep_working_with_their_headers() {
    for follow in ["", "any"] {
        let h = harness(DEFAULT_RETRY, &source_keys(follow)).await;
        h.sim
            .script("/t/hop", vec![Reply::redirect(307, "/t/moved")]);
        h.sim.script("/t/moved", vec![Reply::text(200, "moved")]);
        let result = h.call("hop").await;
        assert_eq!(
            result.status,
            ScraperStatus::Success,
            "{follow}: {result:?}"
        );
        let moved: Vec<_> = h
            .sim
            .requests()
            .into_iter()
            .filter(|r| r.path == "/t/moved")
            .collect();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].header("x-api-key"), Some(SECRET));
        assert_eq!(moved[0].header("referer"), None);
    }
}

#[tokio::test]
async fn the_redirect_route_of_the_simulated_upstream_is_refused_too() {
    // Through the sim's own `/redirect?to=…&status=…` route rather than a
    // scripted reply.
    let other = UpstreamSim::start().await.unwrap();
    let extra = format!(
        "headers = {{ x-api-key = \"${{TEST_API_KEY}}\" }}\n\
         [scrapers.bounce]\nsource = \"up\"\npath = \"/redirect\"\n\
         query = {{ to = \"{}/landing\", status = \"307\" }}\n",
        other.base_url()
    );
    let h = harness(DEFAULT_RETRY, &extra).await;
    let result = h.call("bounce").await;
    assert_eq!(result.error_kind, Some(ErrorKind::Client));
    assert_eq!(
        result.attempts[0].message,
        Some(format!(
            "redirected to another host ({}/landing): not followed",
            other.base_url()
        ))
    );
    assert!(other.requests().is_empty());
}

#[tokio::test]
async fn with_none_no_redirect_is_followed() {
    let h = harness(DEFAULT_RETRY, &source_keys("none")).await;
    let other = UpstreamSim::start().await.unwrap();
    h.sim
        .script("/t/hop", vec![Reply::redirect(302, "/t/moved")]);
    let result = h.call("hop").await;
    assert_eq!(result.error_kind, Some(ErrorKind::Client));
    assert_eq!(
        result.attempts[0].message,
        Some(format!(
            "redirected within the host ({}/t/moved): not followed (follow_redirects = \"none\")",
            h.sim.base_url()
        ))
    );
    h.sim.script(
        "/t/hop",
        vec![Reply::redirect(
            302,
            &format!("{}/landing", other.base_url()),
        )],
    );
    let result = h.call("hop").await;
    assert_eq!(result.error_kind, Some(ErrorKind::Client));
    assert_eq!(
        result.attempts[0].message,
        Some(format!(
            "redirected to another host ({}/landing): not followed",
            other.base_url()
        ))
    );
    assert_eq!(h.sim.request_count("/t/moved"), 0);
    assert!(other.requests().is_empty());
}

#[tokio::test]
async fn redirect_loops_and_chains_are_protocol_errors_not_retried() {
    let h = harness(DEFAULT_RETRY, &source_keys("")).await;
    // /t/hop → /t/loop → /t/loop: a loop.
    h.sim
        .script("/t/hop", vec![Reply::redirect(302, "/t/loop")]);
    h.sim
        .script("/t/loop", vec![Reply::redirect(302, "/t/loop"); 2]);
    let result = h.call("hop").await;
    assert_eq!(result.error_kind, Some(ErrorKind::Protocol));
    assert_eq!(result.attempts.len(), 1);
    assert_eq!(
        result.attempts[0].message,
        Some(format!(
            "redirect loop: HTTP 302 back to {}/t/loop",
            h.sim.base_url()
        ))
    );
    // A chain of distinct URLs longer than 10 hops.
    h.sim
        .script("/t/hop", vec![Reply::redirect(302, "/t/chain/0")]);
    for i in 0..20 {
        h.sim.script(
            &format!("/t/chain/{i}"),
            vec![Reply::redirect(307, &format!("/t/chain/{}", i + 1))],
        );
    }
    let result = h.call("hop").await;
    assert_eq!(result.error_kind, Some(ErrorKind::Protocol));
    assert_eq!(result.attempts.len(), 1);
    assert_eq!(
        result.attempts[0].message,
        Some(format!(
            "too many redirects (more than 10), last to {}/t/chain/10",
            h.sim.base_url()
        ))
    );
    assert_eq!(h.sim.request_count("/t/chain/9"), 1);
    assert_eq!(h.sim.request_count("/t/chain/10"), 0);
}

#[tokio::test]
async fn health_probes_follow_the_same_rules() {
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let tz = chrono_tz::America::New_York;
    let other = UpstreamSim::start().await.unwrap();
    let landing = format!("{}/landing", other.base_url());

    let h = harness(DEFAULT_RETRY, &source_keys("")).await;
    let source = &h.plan.sources["up"];
    h.sim
        .script("/t/health", vec![Reply::redirect(302, &landing)]);
    let outcome = h
        .fetcher
        .probe(source, source.health.as_ref().unwrap(), date, tz)
        .await;
    assert!(!outcome.ok);
    assert_eq!(
        outcome.error,
        Some(format!(
            "GET /t/health: redirected to another host ({landing}): not followed"
        ))
    );
    assert!(other.requests().is_empty());

    let h = harness(DEFAULT_RETRY, &source_keys("any")).await;
    let source = &h.plan.sources["up"];
    h.sim
        .script("/t/health", vec![Reply::redirect(307, &landing)]);
    other.script("/landing", vec![Reply::text(200, "up")]);
    let outcome = h
        .fetcher
        .probe(source, source.health.as_ref().unwrap(), date, tz)
        .await;
    assert!(outcome.ok, "{outcome:?}");
    let seen = other.requests();
    assert_eq!(seen.len(), 1);
    assert_bare(&seen[0]);
}

/// A `Location` that is not a URL (hostile or broken upstream) is a
/// protocol error naming it, never a panic, and a secret it echoes is
/// masked in the message.
#[tokio::test]
async fn an_invalid_location_is_a_protocol_error_with_secrets_masked() {
    let h = harness(DEFAULT_RETRY, &source_keys("")).await;
    let location = format!("http://[::1/?apiKey={}", super::SECRET);
    h.sim
        .script("/t/hop", vec![Reply::redirect(302, &location)]);
    let result = h.call("hop").await;
    assert_eq!(result.error_kind, Some(ErrorKind::Protocol));
    assert_eq!(result.attempts.len(), 1, "not retried");
    let message = result.attempts[0].message.clone().unwrap_or_default();
    assert!(message.contains("invalid Location"), "{message}");
    let call_message = result.message.clone().unwrap_or_default();
    for text in [&message, &call_message] {
        assert!(!text.contains(super::SECRET), "{text}");
        assert!(!text.contains("sk_live"), "{text}");
    }
}
