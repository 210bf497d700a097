//! A connection the server drops once the source's timeout has passed on
//! the injected clock is recorded as a timeout (issue 17): that is what a
//! `down` fault in `timeout` mode of `rebound simulate` does, holding the
//! request for the timeout on its simulated clock before closing it, while
//! the client's own timer runs on real time. A drop before the deadline
//! stays a lost connection.

use super::{Harness, harness};
use rebound_domain::clock::{Clock, ManualClock};
use rebound_domain::outcome::{AttemptOutcome, ErrorKind, ScraperStatus};
use rebound_upstream_sim::{FaultAction, FaultFuture, FaultHook, FaultRequest};
use std::sync::Arc;
use std::time::Duration;

const ONE_ATTEMPT: &str = "max_attempts = 1\njitter = \"none\"";

/// Holds every request for `stall` on the test's clock, then closes the
/// connection unanswered.
struct StallThenDrop {
    clock: Arc<ManualClock>,
    stall: Duration,
}

impl FaultHook for StallThenDrop {
    fn decide(&self, _request: &FaultRequest) -> FaultFuture {
        let stall = self.clock.sleep(self.stall);
        Box::pin(async move {
            stall.await;
            FaultAction::Drop
        })
    }
}

/// One call of `plain` (source timeout 2 s) against a server that stalls
/// for `stall` on the clock, then drops the connection.
async fn dropped_after(retry: &str, stall: Duration) -> (Harness, rebound_fetch::CallResult) {
    let h = harness(retry, "").await;
    h.sim.set_fault_hook(Some(Arc::new(StallThenDrop {
        clock: h.clock.clone(),
        stall,
    })));
    let result = h.call("plain").await;
    (h, result)
}

#[tokio::test]
async fn a_drop_after_the_timeout_on_the_clock_is_a_timeout() {
    let (h, result) = dropped_after(ONE_ATTEMPT, Duration::from_secs(2)).await;
    assert_eq!(result.status, ScraperStatus::Failed);
    assert_eq!(result.error_kind, Some(ErrorKind::Timeout));
    assert_eq!(
        result.message.as_deref(),
        Some("timeout after 2s (1 attempt)")
    );
    let attempt = &result.attempts[0];
    assert_eq!(attempt.message.as_deref(), Some("timeout after 2s"));
    assert_eq!(attempt.outcome, AttemptOutcome::Retryable);
    assert_eq!(
        attempt.finished_at - attempt.started_at,
        chrono::Duration::seconds(2)
    );
    assert_eq!(h.sim.requests().len(), 1);

    // Retried like any timeout, each attempt saying so.
    let (_, result) = dropped_after(
        &super::DEFAULT_RETRY.replace("max_attempts = 3", "max_attempts = 2"),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        result.message.as_deref(),
        Some("timeout after 2s (2 attempts)")
    );
    assert_eq!(
        result
            .attempts
            .iter()
            .map(|a| a.error_kind)
            .collect::<Vec<_>>(),
        vec![Some(ErrorKind::Timeout); 2]
    );
}

#[tokio::test]
async fn a_drop_before_the_timeout_stays_a_lost_connection() {
    for stall in [Duration::ZERO, Duration::from_millis(1_999)] {
        let (_, result) = dropped_after(ONE_ATTEMPT, stall).await;
        assert_eq!(result.error_kind, Some(ErrorKind::Connect), "{stall:?}");
        let message = result.message.unwrap();
        assert!(
            message.starts_with("connection lost"),
            "{stall:?}: {message}"
        );
    }
}
