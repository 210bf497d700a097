//! Proxies per source (issue 13, item 2): `proxy`, `proxies`,
//! `proxy_rotation`, `proxy_retry_on` and `proxy_breaker` resolved, and
//! every bad value refused at its line and column without quoting the URL.

use super::bad_files::{Case, check};
use super::{BASE, FILE, plan};
use rebound_domain::proxy::{ProxyBreakerConfig, ProxyRotation, ProxyRoute};
use std::path::Path;
use std::time::Duration;

fn source(
    name: &'static str,
    keys: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        text: format!("{BASE}[sources.b]\nbase_url = \"https://b\"\n{keys}\n"),
        key,
        at,
        says,
    }
}

#[test]
fn proxies_resolve_with_their_defaults() {
    let text = format!(
        "{BASE}[sources.b]\nbase_url = \"https://b\"\nproxies = [\"${{PROXY_ONE_URL}}\", \"socks5://u:p4ssw0rd-lit@proxy.example:1080\"]\n\
         [sources.c]\nbase_url = \"https://c\"\nproxy = \"http://proxy.example:8080\"\nproxy_rotation = \"random\"\n\
         proxy_retry_on = [403, 407, 429]\nproxy_breaker = {{ failures = 5, open_for = \"10m\" }}\n"
    );
    let plan = plan(&text);
    let b = plan.sources["b"].proxies.as_ref().expect("b has proxies");
    assert_eq!(
        b.routes,
        [
            ProxyRoute::Url("https://fake-PROXY_ONE_URL.example/hook".to_string()),
            ProxyRoute::Url("socks5://u:p4ssw0rd-lit@proxy.example:1080".to_string())
        ]
    );
    assert_eq!(b.rotation, ProxyRotation::RoundRobin);
    assert_eq!(b.retry_on, [403, 407]);
    assert_eq!(b.breaker, ProxyBreakerConfig::default());
    assert_eq!(b.breaker.failures, 3);
    assert_eq!(b.breaker.open_for, Duration::from_secs(300));
    let c = plan.sources["c"].proxies.as_ref().expect("c has a proxy");
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.rotation, ProxyRotation::Random);
    assert_eq!(c.retry_on, [403, 407, 429]);
    assert_eq!(
        c.breaker,
        ProxyBreakerConfig {
            failures: 5,
            open_for: Duration::from_secs(600)
        }
    );
    assert!(plan.sources["api"].proxies.is_none());
    // `rebound check` lists them by count, never by URL.
    let summary = rebound_config::summary(&plan);
    assert!(
        summary.contains("  b: 2 proxies, round_robin; next proxy on connect errors, timeouts and HTTP 403/407; each skipped for 5m after 3 failures in a row"),
        "{summary}"
    );
    assert!(summary.contains("  c: 1 proxy, random;"), "{summary}");
    assert!(!summary.contains("proxy.example"), "{summary}");
    // A proxy written in the file is a secret too: masked, whole and its
    // password alone.
    let masked = plan
        .redactor
        .redact_string("via socks5://u:p4ssw0rd-lit@proxy.example:1080 (p4ssw0rd-lit)");
    assert_eq!(masked, "via *** (***)");
    assert_eq!(
        plan.redactor.redact_string("http://proxy.example:8080/"),
        "***"
    );
}

#[test]
fn proxy_env_reads_the_proxy_variables_through_the_lookup() {
    let text = format!("{BASE}[sources.b]\nbase_url = \"https://b\"\nproxy = \"env\"\n");
    let env = |name: &str| match name {
        "https_proxy" => Some("http://corp:pw-12345678@gw.example:3128".to_string()),
        "NO_PROXY" => Some("localhost,.internal".to_string()),
        _ => None,
    };
    let plan = rebound_config::load_str(&text, Path::new(FILE), &env).unwrap();
    let proxies = plan.sources["b"].proxies.as_ref().unwrap();
    let ProxyRoute::Env(vars) = &proxies.routes[0] else {
        panic!("expected the environment's proxies");
    };
    assert_eq!(vars.http, None);
    assert_eq!(
        vars.https.as_deref(),
        Some("http://corp:pw-12345678@gw.example:3128")
    );
    assert_eq!(vars.no_proxy.as_deref(), Some("localhost,.internal"));
    assert_eq!(
        plan.redactor
            .redact_string("http://corp:pw-12345678@gw.example:3128"),
        "***"
    );
    // Without any of the variables, commands that send requests refuse it.
    let none = |_: &str| None;
    let error = rebound_config::load_str(&text, Path::new(FILE), &none)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("rebound.toml:")
            && error.contains("sources.b.proxy: proxy = \"env\", but none of HTTP_PROXY"),
        "{error}"
    );
}

#[test]
fn bad_proxy_settings_are_refused_where_they_are_written() {
    check(vec![
        source(
            "unsupported scheme",
            "proxy = \"ftp://user:secretpw1@p.example\"",
            "sources.b.proxy",
            "\"ftp://",
            "unsupported proxy scheme \"ftp\": expected http, https, socks5 or socks5h",
        ),
        source(
            "not a URL",
            "proxies = [\"http://p.example:1\", \"p.example:3128\"]",
            "sources.b.proxies[1]",
            "\"p.example:3128\"",
            "not a proxy URL: expected scheme://[user:password@]host:port",
        ),
        source(
            "bad port",
            "proxy = \"http://p.example:99999\"",
            "sources.b.proxy",
            "\"http://p.example:99999\"",
            "not a proxy URL: invalid port number",
        ),
        source(
            "both",
            "proxy = \"http://p.example:1\"\nproxies = [\"http://q.example:1\"]",
            "sources.b.proxies",
            "[\"http://q",
            "set either proxy or proxies, not both",
        ),
        source(
            "empty list",
            "proxies = []",
            "sources.b.proxies",
            "[]",
            "expected at least one proxy URL, found an empty list",
        ),
        source(
            "env in a list",
            "proxies = [\"env\"]",
            "sources.b.proxies[0]",
            "\"env\"",
            "\"env\" is allowed only as proxy = \"env\"",
        ),
        source(
            "unknown rotation",
            "proxy = \"http://p.example:1\"\nproxy_rotation = \"shuffle\"",
            "sources.b.proxy_rotation",
            "\"shuffle\"",
            "expected \"round_robin\" or \"random\", found \"shuffle\"",
        ),
        source(
            "status out of range",
            "proxy = \"http://p.example:1\"\nproxy_retry_on = [403, 4070]",
            "sources.b.proxy_retry_on[1]",
            "4070",
            "expected an HTTP status from 100 to 599, found 4070",
        ),
        source(
            "zero failures",
            "proxy = \"http://p.example:1\"\nproxy_breaker = { failures = 0 }",
            "sources.b.proxy_breaker.failures",
            "0 }",
            "expected an integer >= 1, found 0",
        ),
        source(
            "open_for above its bound",
            "proxy = \"http://p.example:1\"\nproxy_breaker = { open_for = \"30d\" }",
            "sources.b.proxy_breaker.open_for",
            "\"30d\"",
            "expected a duration of at most 7d",
        ),
        source(
            "rotation without proxies",
            "proxy_rotation = \"random\"",
            "sources.b.proxy_rotation",
            "\"random\"",
            "proxy_rotation has no effect without proxy or proxies",
        ),
        source(
            "unknown breaker key",
            "proxy = \"http://p.example:1\"\nproxy_breaker = { failure = 2 }",
            "sources.b.proxy_breaker.failure",
            "failure = 2",
            "unknown key \"failure\" (did you mean \"failures\"?)",
        ),
    ]);
}

#[test]
fn a_refused_proxy_url_is_never_quoted() {
    let text = format!(
        "{BASE}[sources.b]\nbase_url = \"https://b\"\nproxies = [\"ftp://user:hunter2-secret@p.example\", \"${{BAD_PROXY}}\"]\n"
    );
    let env =
        |name: &str| (name == "BAD_PROXY").then(|| "gopher://me:pw-9876543@q.example".to_string());
    let error = rebound_config::load_str(&text, Path::new(FILE), &env)
        .unwrap_err()
        .to_string();
    assert!(error.contains("sources.b.proxies[0]"), "{error}");
    assert!(error.contains("sources.b.proxies[1]"), "{error}");
    for secret in ["hunter2-secret", "pw-9876543", "p.example", "q.example"] {
        assert!(!error.contains(secret), "{secret} in {error}");
    }
}

#[test]
fn an_unset_proxy_variable_is_a_note_for_check_and_keeps_its_place() {
    let text = format!(
        "{BASE}[sources.b]\nbase_url = \"https://b\"\nproxies = [\"${{MISSING_P1}}\", \"http://p.example:1\"]\n"
    );
    let loaded = rebound_config::load_str_with(
        &text,
        Path::new(FILE),
        &super::fake_env,
        rebound_config::Secrets::None,
    )
    .unwrap();
    let proxies = loaded.plan.sources["b"].proxies.as_ref().unwrap();
    assert_eq!(proxies.routes[0], ProxyRoute::Unset);
    assert_eq!(proxies.routes.len(), 2);
    assert_eq!(
        loaded.notes,
        ["environment variable MISSING_P1 is not set (used by sources.b.proxies[0])"]
    );
}
