//! Posts to sinks (`SinkClient`, the alerts' webhook client) against
//! hostile answers: a redirect to another host is not followed, a hung
//! sink times out, and no error text carries the sink's URL (a secret).

use rebound_domain::outbound::{JsonPost, Poster};
use rebound_fetch::sink::SinkClient;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::time::Duration;

const SECRET_PATH: &str = "/hooks/T0SECRET77/B0SECRET88";

#[tokio::test]
async fn a_redirecting_sink_is_not_followed_and_errors_never_hold_the_url() {
    let sink = UpstreamSim::start().await.expect("sink");
    let elsewhere = UpstreamSim::start().await.expect("elsewhere");
    let target = format!("{}/collect", elsewhere.base_url());
    sink.script(SECRET_PATH, vec![Reply::redirect(307, &target)]);
    let client = SinkClient::new().expect("client");
    let url = format!("{}{SECRET_PATH}", sink.base_url());
    let body = r#"{"event":"opened"}"#;
    let sent = client
        .post_json(JsonPost {
            url: &url,
            body,
            timeout: Duration::from_secs(5),
            headers: &[],
        })
        .await;
    let error = sent.expect_err("a redirect is not a delivery").to_string();
    assert_eq!(error, "HTTP 307 Temporary Redirect");
    assert_eq!(sink.request_count(SECRET_PATH), 1);
    assert_eq!(
        elsewhere.request_count("/collect"),
        0,
        "the payload never reached the other host"
    );

    // A sink that never answers: a timeout, named without the URL.
    sink.script(
        SECRET_PATH,
        vec![Reply::json(200, serde_json::json!({})).delay(Duration::from_secs(30))],
    );
    let error = client
        .post_json(JsonPost {
            url: &url,
            body,
            timeout: Duration::from_millis(200),
            headers: &[],
        })
        .await
        .expect_err("timed out")
        .to_string();
    assert!(error.starts_with("timed out: "), "{error}");
    assert!(!error.contains("SECRET"), "{error}");

    // Nothing listens: cannot connect, still without the URL.
    let closed = format!("http://127.0.0.1:9{SECRET_PATH}");
    let error = client
        .post_json(JsonPost {
            url: &closed,
            body,
            timeout: Duration::from_secs(2),
            headers: &[],
        })
        .await
        .expect_err("refused")
        .to_string();
    assert!(error.starts_with("cannot connect: "), "{error}");
    assert!(!error.contains("SECRET"), "{error}");
}

/// Before: a sink that answered something other than HTTP, or reset the
/// connection, was recorded as "request failed: error sending request",
/// with nothing of why.
#[tokio::test]
async fn a_failed_post_says_why() {
    use rebound_upstream_sim::{RawFault, RawFaultServer};
    let server = RawFaultServer::start().await.expect("raw server");
    let client = SinkClient::new().expect("client");
    let url = format!("{}{}", server.base_url(), RawFault::BadStatusLine.path());
    let error = client
        .post_json(JsonPost {
            url: &url,
            body: "{}",
            timeout: Duration::from_secs(5),
            headers: &[],
        })
        .await
        .expect_err("not HTTP")
        .to_string();
    assert!(
        error.starts_with("request failed: error sending request: ")
            && error.contains("invalid HTTP status-code parsed"),
        "{error}"
    );
}
