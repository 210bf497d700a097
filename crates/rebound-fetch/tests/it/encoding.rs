//! Template values in URLs and headers, against the simulated upstream's
//! echo route over loopback: whatever a `--param` or a fan-out item holds,
//! the request stays under the configured path and the value arrives
//! intact, as one path segment or one query value.

use super::{DEFAULT_RETRY, harness};
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_fetch::{CallResult, CallSpec};
use std::collections::BTreeMap;

const ECHO_SCRAPERS: &str = r#"
[scrapers.echo]
source = "up"
path = "/echo/items/{id}/tail"
query = { q = "{id}" }

[scrapers.header]
source = "up"
path = "/echo/h"
headers = { X-Item = "item {id}" }
"#;

async fn call(h: &super::Harness, scraper: &str, id: &str) -> CallResult {
    let scraper = &h.plan.scrapers[scraper];
    let source = &h.plan.sources[&scraper.source];
    let params = BTreeMap::from([("id".to_string(), id.to_string())]);
    h.fetcher
        .call(CallSpec {
            source,
            scraper,
            params: &params,
        })
        .await
}

#[tokio::test]
async fn path_values_are_one_segment_and_arrive_intact() {
    let h = harness(DEFAULT_RETRY, ECHO_SCRAPERS).await;
    let values = [
        "../../x", "a/b", "a?b=c", "a#b", "a\nb", "ü", "%2F", "..%2F..", " a b ",
    ];
    for value in values {
        let result = call(&h, "echo", value).await;
        assert_eq!(
            result.status,
            ScraperStatus::Success,
            "{value:?}: {result:?}"
        );
        let echo: serde_json::Value =
            serde_json::from_slice(result.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            echo["segments"],
            serde_json::json!(["items", value, "tail"]),
            "{value:?} arrives as one decoded segment: {echo}"
        );
        let path = echo["path"].as_str().unwrap();
        assert!(path.starts_with("/echo/items/"), "{value:?} went to {path}");
        let query = echo["query"].as_str().unwrap();
        let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .filter(|(k, _)| k == "q")
            .collect();
        assert_eq!(
            q,
            vec![("q".to_string(), value.to_string())],
            "query {query}"
        );
    }
    let requests = h.sim.requests();
    assert_eq!(requests.len(), values.len());
    assert!(
        requests.iter().all(|r| r.path.starts_with("/echo/items/")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn values_that_cannot_be_written_fail_naming_the_parameter() {
    let h = harness(DEFAULT_RETRY, ECHO_SCRAPERS).await;
    // A whole segment of `.` or `..` is a dot-segment in every encoding.
    for value in ["..", "."] {
        let result = call(&h, "echo", value).await;
        assert_eq!(result.status, ScraperStatus::Failed);
        assert_eq!(result.error_kind, Some(ErrorKind::Config));
        let message = result.message.unwrap();
        assert!(
            message.starts_with(&format!(
                "parameter {{id}} (used by path): \"{value}\" would make the URL path segment"
            )),
            "{message}"
        );
    }
    // A header cannot carry a line break; it is not dropped silently.
    let result = call(&h, "header", "a\r\nX-Evil: 1").await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Config));
    let message = result.message.unwrap();
    assert!(
        message.starts_with("parameter {id} (used by headers.X-Item): ")
            && message.contains("control character"),
        "{message}"
    );
    assert!(h.sim.requests().is_empty(), "nothing was sent");
    let ok = call(&h, "header", "ü/ok").await;
    assert_eq!(ok.status, ScraperStatus::Success);
    assert_eq!(h.sim.requests()[0].header("x-item"), Some("item ü/ok"));
}
