//! Posting JSON to configured sinks (alert webhooks, Slack, hand-off
//! webhooks), under the fetch crate's rules.
//!
//! [`SinkClient`] implements the domain's [`Poster`], so the crates that
//! deliver messages never build an HTTP client of their own. The rules are
//! those of scraper calls: a per-post timeout, no redirect followed (a
//! webhook that redirects is misconfigured, and following it could carry
//! the payload somewhere unexpected), no `Referer`, and error texts built
//! from `reqwest::Error::without_url`, since a webhook URL is a secret.

use crate::FetcherSetupError;
use rebound_domain::outbound::{JsonPost, PostError, PostFuture, Poster};

/// The HTTP client for sink posts. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct SinkClient {
    client: reqwest::Client,
}

impl SinkClient {
    #[allow(clippy::disallowed_methods)] // the HTTP edge: the one place that builds clients
    pub fn new() -> Result<SinkClient, FetcherSetupError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("rebound/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            // The environment's HTTP(S)_PROXY is not honoured, as for
            // sources without `proxy = "env"`: a sink's URL is a secret and
            // goes straight to its host.
            .no_proxy()
            .build()
            .map_err(|e| FetcherSetupError(e.to_string()))?;
        Ok(SinkClient { client })
    }
}

impl Poster for SinkClient {
    fn post_json<'a>(&'a self, post: JsonPost<'a>) -> PostFuture<'a> {
        Box::pin(async move {
            let mut request = self
                .client
                .post(post.url)
                .timeout(post.timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json");
            for (name, value) in post.headers {
                // A header name or value that HTTP cannot carry is refused
                // here, in words, rather than by the client later.
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| PostError(format!("bad header name {name:?}")))?;
                let value = reqwest::header::HeaderValue::from_str(value)
                    .map_err(|_| PostError(format!("bad value for header {name}")))?;
                request = request.header(name, value);
            }
            let sent = request.body(post.body.to_owned()).send().await;
            match sent {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(PostError(format!("HTTP {}", response.status()))),
                Err(e) => {
                    let kind = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "cannot connect"
                    } else {
                        "request failed"
                    };
                    // The causes say what went wrong ("connection reset by
                    // peer", "invalid HTTP version parsed"); alone, the
                    // error said only "error sending request".
                    let causes = crate::cause_chain(&e);
                    let e = e.without_url();
                    let text = if causes.is_empty() {
                        format!("{kind}: {e}")
                    } else {
                        format!("{kind}: {e}: {causes}")
                    };
                    Err(PostError(rebound_domain::message::escape_controls(
                        &text, false,
                    )))
                }
            }
        })
    }
}
