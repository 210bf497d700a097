//! A source's proxies: `proxy` (one URL, or "env"), `proxies` (a list),
//! `proxy_rotation`, `proxy_retry_on` and `proxy_breaker` (see
//! docs/resilience.md).
//!
//! Proxy URLs carry credentials, so every one is a secret whether it came
//! from `${VAR}` or was written in the file: its text (and its password
//! alone) goes to the plan's redactor, and no message here quotes it,
//! only its scheme or the variable it came from.

use super::Resolver;
use crate::keypath::KeyPath;
use crate::raw::RawSource;
use rebound_domain::proxy::{
    DEFAULT_RETRY_ON, EnvProxies, ProxyBreakerConfig, ProxyRotation, ProxyRoute, SourceProxies,
};

/// The schemes reqwest can proxy through (`socks5h` resolves names at
/// the proxy).
const SCHEMES: &[&str] = &["http", "https", "socks5", "socks5h"];

/// The environment variables `proxy = "env"` reads, upper case first as
/// curl and reqwest do.
const ENV_VARS: [(&str, &str); 4] = [
    ("HTTP_PROXY", "http_proxy"),
    ("HTTPS_PROXY", "https_proxy"),
    ("ALL_PROXY", "all_proxy"),
    ("NO_PROXY", "no_proxy"),
];

impl Resolver<'_> {
    /// The source's proxies, `None` without `proxy` and `proxies`.
    pub(super) fn proxies(&mut self, path: &KeyPath, raw: &RawSource) -> Option<SourceProxies> {
        let routes = match (&raw.proxy, &raw.proxies) {
            (Some(_), Some(_)) => {
                self.fail(
                    &path.key("proxies"),
                    "set either proxy or proxies, not both",
                );
                return None;
            }
            (Some(one), None) => {
                let key = path.key("proxy");
                if one == "env" {
                    vec![self.env_proxies(&key)?]
                } else {
                    vec![self.proxy_url(&key, one)?]
                }
            }
            (None, Some(list)) => {
                let key = path.key("proxies");
                if list.is_empty() {
                    self.fail(&key, "expected at least one proxy URL, found an empty list");
                    return None;
                }
                let mut routes = Vec::with_capacity(list.len());
                for (i, text) in list.iter().enumerate() {
                    let item = key.index(i);
                    if text == "env" {
                        self.fail(
                            &item,
                            "\"env\" is allowed only as proxy = \"env\", not in a list",
                        );
                        continue;
                    }
                    if let Some(route) = self.proxy_url(&item, text) {
                        routes.push(route);
                    }
                }
                if routes.len() != list.len() {
                    return None;
                }
                routes
            }
            (None, None) => {
                for (key, set) in [
                    ("proxy_rotation", raw.proxy_rotation.is_some()),
                    ("proxy_retry_on", raw.proxy_retry_on.is_some()),
                    (
                        "proxy_breaker",
                        raw.proxy_breaker.failures.is_some()
                            || raw.proxy_breaker.open_for.is_some(),
                    ),
                ] {
                    if set {
                        self.fail(
                            &path.key(key),
                            format!("{key} has no effect without proxy or proxies"),
                        );
                    }
                }
                return None;
            }
        };
        let rotation = self.proxy_rotation(&path.key("proxy_rotation"), raw);
        let retry_on = self.proxy_retry_on(&path.key("proxy_retry_on"), raw);
        let breaker = self.proxy_breaker(&path.key("proxy_breaker"), raw);
        Some(SourceProxies {
            routes,
            rotation,
            retry_on,
            breaker,
        })
    }

    /// One proxy URL, after `${VAR}` substitution, remembered as a secret.
    fn proxy_url(&mut self, path: &KeyPath, raw: &str) -> Option<ProxyRoute> {
        let unset_before = self.unset.len();
        let text = self.sent_text(path, raw)?;
        if self.unset.len() > unset_before {
            return Some(ProxyRoute::Unset);
        }
        self.keep_proxy_secret(&text);
        match check_proxy_url(&text) {
            Ok(()) => Some(ProxyRoute::Url(text)),
            Err(why) => {
                self.fail(path, why);
                None
            }
        }
    }

    /// Masks a proxy URL, its normalized form and its password wherever
    /// they appear (see the module doc).
    fn keep_proxy_secret(&mut self, text: &str) {
        self.secrets.push(text.to_string());
        if let Ok(url) = url::Url::parse(text) {
            self.secrets.push(url.as_str().to_string());
            if let Some(password) = url.password() {
                self.secrets.push(password.to_string());
                if let Ok(decoded) = percent_encoding_decode(password) {
                    self.secrets.push(decoded);
                }
            }
        }
    }

    /// `proxy = "env"`: the environment's proxy variables, read through the
    /// lookup the caller passed (only the CLI reads the process
    /// environment). At least one of `HTTP_PROXY`, `HTTPS_PROXY` and
    /// `ALL_PROXY` must be set for commands that send requests: a source
    /// that says it needs a proxy must not silently go direct.
    fn env_proxies(&mut self, path: &KeyPath) -> Option<ProxyRoute> {
        let env = self.env;
        let mut values: [Option<(String, String)>; 4] = Default::default();
        for (slot, (upper, lower)) in values.iter_mut().zip(ENV_VARS) {
            *slot = env(upper)
                .map(|v| (upper.to_string(), v))
                .or_else(|| env(lower).map(|v| (lower.to_string(), v)))
                .filter(|(_, v)| !v.trim().is_empty());
        }
        let [http, https, all, no_proxy] = values;
        let mut ok = true;
        for (name, value) in [&http, &https, &all].into_iter().flatten() {
            self.keep_proxy_secret(value);
            if let Err(why) = check_proxy_url(value) {
                self.fail(path, format!("environment variable {name}: {why}"));
                ok = false;
            }
        }
        if http.is_none() && https.is_none() && all.is_none() {
            let may_be_unset = self
                .required
                .as_ref()
                .is_some_and(|required| !required.iter().any(|k| k == "sources"));
            if may_be_unset {
                self.unset.push((path.clone(), "HTTP_PROXY".to_string()));
                return Some(ProxyRoute::Unset);
            } else {
                self.fail(
                    path,
                    "proxy = \"env\", but none of HTTP_PROXY, HTTPS_PROXY and ALL_PROXY (nor their lower-case forms) is set",
                );
            }
            return None;
        }
        ok.then(|| {
            ProxyRoute::Env(EnvProxies {
                http: http.map(|(_, v)| v),
                https: https.map(|(_, v)| v),
                all: all.map(|(_, v)| v),
                no_proxy: no_proxy.map(|(_, v)| v),
            })
        })
    }

    fn proxy_rotation(&mut self, path: &KeyPath, raw: &RawSource) -> ProxyRotation {
        let read_from = self.secrets.len();
        let Some(text) = raw
            .proxy_rotation
            .as_deref()
            .and_then(|raw| self.text(path, raw))
        else {
            return ProxyRotation::default();
        };
        let rotation = ProxyRotation::parse(&text);
        let rotation = self.setting(read_from, rotation);
        rotation.unwrap_or_else(|| {
            self.fail(
                path,
                format!("expected \"round_robin\" or \"random\", found \"{text}\""),
            );
            ProxyRotation::default()
        })
    }

    fn proxy_retry_on(&mut self, path: &KeyPath, raw: &RawSource) -> Vec<u16> {
        let Some(list) = &raw.proxy_retry_on else {
            return DEFAULT_RETRY_ON.to_vec();
        };
        let mut statuses = Vec::with_capacity(list.len());
        for (i, &status) in list.iter().enumerate() {
            match u16::try_from(status) {
                Ok(status) if (100..=599).contains(&status) => statuses.push(status),
                _ => self.fail(
                    &path.index(i),
                    format!("expected an HTTP status from 100 to 599, found {status}"),
                ),
            }
        }
        statuses
    }

    fn proxy_breaker(&mut self, path: &KeyPath, raw: &RawSource) -> ProxyBreakerConfig {
        let d = ProxyBreakerConfig::default();
        let failures = raw
            .proxy_breaker
            .failures
            .and_then(|n| self.at_least(&path.key("failures"), n, 1))
            .unwrap_or(d.failures);
        let open_for = self.breaker_duration(
            &path.key("open_for"),
            &raw.proxy_breaker.open_for,
            d.open_for,
        );
        ProxyBreakerConfig { failures, open_for }
    }
}

/// Why `text` is not a proxy URL Rebound can use. Never quotes the URL:
/// it may carry a password.
fn check_proxy_url(text: &str) -> Result<(), String> {
    if !text.contains("://") {
        return Err(
            "not a proxy URL: expected scheme://[user:password@]host:port, e.g. http://proxy:8080"
                .to_string(),
        );
    }
    let url = url::Url::parse(text).map_err(|e| format!("not a proxy URL: {e}"))?;
    if !SCHEMES.contains(&url.scheme()) {
        return Err(format!(
            "unsupported proxy scheme \"{}\": expected http, https, socks5 or socks5h",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("a proxy URL needs a host".to_string());
    }
    Ok(())
}

/// A URL password as the proxy receives it (percent-decoded).
fn percent_encoding_decode(text: &str) -> Result<String, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::check_proxy_url;

    #[test]
    fn proxy_urls_are_checked_without_quoting_them() {
        let table = [
            ("http://user:pw@proxy:8080", None),
            ("socks5://user:pw@proxy:1080", None),
            ("socks5h://proxy:1080", None),
            ("https://proxy", None),
            (
                "ftp://user:pw@proxy",
                Some("unsupported proxy scheme \"ftp\""),
            ),
            ("proxy:8080", Some("not a proxy URL")),
            ("user:pw@proxy", Some("not a proxy URL")),
            ("not a url", Some("not a proxy URL")),
        ];
        for (text, expected) in table {
            let got = check_proxy_url(text).err();
            match (expected, &got) {
                (None, None) => {}
                (Some(needle), Some(message)) => {
                    assert!(message.contains(needle), "{text}: {message}");
                    assert!(!message.contains("pw"), "{text}: {message}");
                }
                _ => panic!("{text}: {got:?}"),
            }
        }
    }
}
