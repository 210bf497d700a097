//! Redirects, followed by hand so that credentials stay with their host.
//!
//! A source's headers and query parameters are its credentials
//! (`x-api-key`, `apiKey=…`). reqwest's automatic redirects re-send every
//! header except a few standard ones (`Authorization`, `Cookie`) to
//! whatever host a `Location` names, and put the previous URL, query key
//! included, in `Referer`. Its `redirect::Policy::custom` can only decide
//! follow-or-stop, not change what the next request carries, and the client
//! is shared by every source while `follow_redirects` is per source. So the
//! client follows nothing and never sends `Referer`, and this loop follows
//! each hop itself, under the source's policy:
//!
//! - same origin (scheme, host and port): followed with the configured
//!   headers, as reqwest did (`same_host` and `any`);
//! - another origin: with `any`, followed without any configured header and
//!   with the configured query parameters removed from the target; with
//!   `same_host` (the default) not followed: the attempt fails with kind
//!   `client`, `redirected to another host (URL): not followed`;
//! - `none`: no redirect is followed; a same-host one fails with kind
//!   `client` too, `redirected within the host (URL): not followed
//!   (follow_redirects = "none")`.
//!
//! A `Location` seen twice is a loop, and more than [`MAX_REDIRECTS`] hops
//! are too many: both kind `protocol` (the peer is misbehaving; asking
//! again meets the same loop). A 3xx without a `Location` (or a 304) is an
//! answer and goes to the classifier like any other status.

use crate::{Failure, transport_failure};
use rebound_domain::outcome::ErrorKind;
use rebound_domain::plan::{FollowRedirects, Scraper, Source};
use reqwest::{Method, StatusCode};

/// The most redirects one request follows (reqwest's own default).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// One request to send, with what it may carry.
pub(crate) struct Outgoing<'a> {
    pub method: Method,
    pub url: url::Url,
    /// Configured headers (already rendered): sent to the first origin only.
    pub headers: &'a [(String, String)],
    /// Names of the configured query parameters, removed from any target
    /// on another origin.
    pub query_names: Vec<&'a str>,
    pub policy: FollowRedirects,
    /// Sent through a proxy: a failed connection is the proxy's, so its
    /// message names no address (see `transport_failure`).
    pub proxied: bool,
}

/// Sends `request`, following redirects as its policy allows. Returns the
/// final response, or the failure of the hop that went wrong.
pub(crate) async fn send(
    client: &reqwest::Client,
    request: Outgoing<'_>,
) -> Result<reqwest::Response, Failure> {
    let origin = request.url.origin();
    let mut method = request.method;
    let mut url = request.url;
    let mut visited: Vec<url::Url> = vec![url.clone()];
    loop {
        let home = url.origin() == origin;
        let mut builder = client.request(method.clone(), url.clone());
        if home {
            for (name, value) in request.headers {
                builder = builder.header(name, value);
            }
        }
        let target = (!request.proxied).then_some(&url);
        let response = builder
            .send()
            .await
            .map_err(|e| transport_failure(&e, target))?;
        let status = response.status();
        if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let Some(location) = response.headers().get(reqwest::header::LOCATION) else {
            return Ok(response);
        };
        let code = status.as_u16();
        let mut target = location
            .to_str()
            .ok()
            .and_then(|text| url.join(text).ok())
            .ok_or_else(|| Failure {
                kind: ErrorKind::Protocol,
                dropped: false,
                message: format!(
                    "HTTP {code} with an invalid Location \"{}\"",
                    String::from_utf8_lossy(location.as_bytes())
                ),
            })?;
        let same_origin = target.origin() == origin;
        match (request.policy, same_origin) {
            (FollowRedirects::None, true) => {
                return Err(refused(format!(
                    "redirected within the host ({target}): not followed (follow_redirects = \"none\")"
                )));
            }
            (FollowRedirects::None | FollowRedirects::SameHost, false) => {
                return Err(refused(format!(
                    "redirected to another host ({target}): not followed"
                )));
            }
            _ => {}
        }
        if !matches!(target.scheme(), "http" | "https") {
            return Err(Failure {
                kind: ErrorKind::Protocol,
                dropped: false,
                message: format!("HTTP {code} redirected to a URL that is not HTTP ({target})"),
            });
        }
        if visited.contains(&target) {
            return Err(Failure {
                kind: ErrorKind::Protocol,
                dropped: false,
                message: format!("redirect loop: HTTP {code} back to {target}"),
            });
        }
        if visited.len() > MAX_REDIRECTS {
            return Err(Failure {
                kind: ErrorKind::Protocol,
                dropped: false,
                message: format!(
                    "too many redirects (more than {MAX_REDIRECTS}), last to {target}"
                ),
            });
        }
        if !same_origin {
            strip_query(&mut target, &request.query_names);
        }
        // What browsers and reqwest do: 303 becomes a GET, and so does a
        // POST answered by 301 or 302; 307 and 308 keep the method.
        let to_get = match code {
            303 => method != Method::HEAD,
            301 | 302 => method == Method::POST,
            _ => false,
        };
        if to_get {
            method = Method::GET;
        }
        visited.push(target.clone());
        url = target;
    }
}

/// The query parameters a cross-host redirect must not carry: all of the
/// source's (its `query` holds the credentials) and any of the scraper's
/// whose value is a secret. Other scraper parameters (`date=…`) stay, since
/// the upstream may have put them in the target on purpose.
pub(crate) fn credential_query_names<'a>(source: &'a Source, scraper: &'a Scraper) -> Vec<&'a str> {
    let source_names = source.query.iter().map(|(name, _)| name.as_str());
    let secret_names = scraper
        .query
        .iter()
        .filter(|(_, value)| value.secret)
        .map(|(name, _)| name.as_str());
    source_names.chain(secret_names).collect()
}

fn refused(message: String) -> Failure {
    Failure {
        kind: ErrorKind::Client,
        dropped: false,
        message,
    }
}

/// Removes the query parameters named `names` from `url` (keeping the
/// others in order); drops the `?` when nothing is left.
fn strip_query(url: &mut url::Url, names: &[&str]) {
    if url.query().is_none() || names.is_empty() {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !names.contains(&key.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::strip_query;

    #[test]
    fn strip_query_removes_only_the_named_parameters() {
        let mut url = url::Url::parse("http://h/p?apiKey=s&date=2026-01-01&apiKey=t").unwrap();
        strip_query(&mut url, &["apiKey"]);
        assert_eq!(url.as_str(), "http://h/p?date=2026-01-01");
        let mut url = url::Url::parse("http://h/p?apiKey=s").unwrap();
        strip_query(&mut url, &["apiKey"]);
        assert_eq!(url.as_str(), "http://h/p");
    }
}
