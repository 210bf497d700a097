//! Transport faults only a raw socket can produce (issue 11, item 17),
//! served by the simulated upstream's `RawFaultServer`: a malformed answer
//! is `protocol` (not retried), a connection lost mid-body is
//! `interrupted` (retried), never `decode`.

use super::{DEFAULT_RETRY, plan};
use chrono::{TimeZone, Utc};
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_fetch::{CallResult, CallSpec, Fetcher};
use rebound_upstream_sim::{RawFault, RawFaultServer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Calls the raw server's `fault` path once (with up to 3 attempts).
async fn call(server: &RawFaultServer, fault: RawFault) -> CallResult {
    let extra = format!(
        "[scrapers.raw]\nsource = \"up\"\npath = \"{}\"\n",
        fault.path()
    );
    let plan = plan(&server.base_url(), DEFAULT_RETRY, &extra);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock).unwrap().with_seed(7);
    let params = BTreeMap::new();
    fetcher
        .call(CallSpec {
            source: &plan.sources["up"],
            scraper: &plan.scrapers["raw"],
            params: &params,
        })
        .await
}

#[tokio::test]
async fn malformed_responses_are_protocol_errors_not_retried() {
    let server = RawFaultServer::start().await.unwrap();
    for (fault, says) in [
        (
            RawFault::BadStatusLine,
            "malformed response: invalid status line",
        ),
        (
            RawFault::HugeHeaders,
            "malformed response: headers too large",
        ),
    ] {
        let result = call(&server, fault).await;
        assert_eq!(result.status, ScraperStatus::Failed, "{fault:?}");
        assert_eq!(result.error_kind, Some(ErrorKind::Protocol), "{fault:?}");
        assert_eq!(result.attempts.len(), 1, "{fault:?}");
        assert_eq!(result.attempts[0].outcome, AttemptOutcome::Permanent);
        assert_eq!(result.attempts[0].message.as_deref(), Some(says));
        assert_eq!(result.message, Some(format!("{says} (1 attempt)")));
        assert_eq!(server.request_count(fault.path()), 1, "{fault:?}");
    }
}

/// Before: a chunk size that is not hexadecimal was `interrupted`
/// ("connection lost mid-body"), retried twice against the same peer.
#[tokio::test]
async fn a_broken_chunked_body_is_a_protocol_error_not_retried() {
    let server = RawFaultServer::start().await.unwrap();
    let fault = RawFault::BadChunkSize;
    let result = call(&server, fault).await;
    assert_eq!(result.error_kind, Some(ErrorKind::Protocol), "{result:?}");
    assert_eq!(result.attempts.len(), 1);
    assert_eq!(result.attempts[0].http_status, Some(200));
    let message = result.message.unwrap();
    assert!(
        message.starts_with("HTTP 200, then malformed response body: Invalid chunk size"),
        "{message}"
    );
    assert_eq!(server.request_count(fault.path()), 1);
}

#[tokio::test]
async fn connections_lost_mid_body_are_interrupted_and_retried() {
    let server = RawFaultServer::start().await.unwrap();
    for (fault, cause) in [
        (
            RawFault::ShortBody,
            "end of file before message length reached",
        ),
        (RawFault::ResetMidBody, "Connection reset by peer"),
    ] {
        let result = call(&server, fault).await;
        assert_eq!(result.status, ScraperStatus::Failed, "{fault:?}");
        assert_eq!(result.error_kind, Some(ErrorKind::Interrupted), "{fault:?}");
        assert_eq!(result.attempts.len(), 3, "retried: {fault:?}");
        assert!(
            result
                .attempts
                .iter()
                .all(|a| a.outcome == AttemptOutcome::Retryable
                    && a.error_kind == Some(ErrorKind::Interrupted)),
            "{fault:?}: {:?}",
            result.attempts
        );
        let message = result.message.unwrap();
        assert!(
            message.starts_with("HTTP 200, then connection lost mid-body: "),
            "{message}"
        );
        assert!(message.contains(cause), "{message}");
        assert!(message.ends_with("(3 attempts)"), "{message}");
        assert_eq!(server.request_count(fault.path()), 3, "{fault:?}");
    }
}

#[tokio::test]
async fn a_lone_interim_answer_is_a_lost_connection_and_retried() {
    // hyper skips the `100 Continue` and then meets the end of the stream,
    // which it reports exactly as a close before any answer: reqwest gives
    // no way to tell the two apart, so both stay `connect` (retried).
    let server = RawFaultServer::start().await.unwrap();
    let result = call(&server, RawFault::LoneContinue).await;
    assert_eq!(result.error_kind, Some(ErrorKind::Connect));
    assert_eq!(result.attempts.len(), 3);
    let message = result.message.unwrap();
    assert!(
        message.starts_with("connection lost: ")
            && message.contains("connection closed before message completed"),
        "{message}"
    );
}
