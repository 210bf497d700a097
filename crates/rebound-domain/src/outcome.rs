//! How attempts, calls and workflow runs end. Closed sets, spelled the same
//! way in the database, JSON output and docs (`as_str`).

/// How one HTTP attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    Success,
    NoData,
    Retryable,
    Permanent,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Success => "success",
            AttemptOutcome::NoData => "no_data",
            AttemptOutcome::Retryable => "retryable",
            AttemptOutcome::Permanent => "permanent",
        }
    }
}

/// Why an attempt failed. Only [`ErrorKind::is_retryable`] kinds are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// HTTP 429.
    Throttled,
    /// HTTP 5xx and 408.
    Server,
    /// No complete answer within the source's timeout.
    Timeout,
    /// Refused, reset, DNS failure: the host could not be talked to.
    Connect,
    /// The connection was reset or closed in the middle of a response
    /// (headers or body): a transient transport failure, retried.
    Interrupted,
    /// The peer did not speak HTTP properly: an invalid status line, a lone
    /// 1xx, oversized headers, a redirect loop. Not retried (the same
    /// request meets the same peer), but a fault of the source.
    Protocol,
    /// Any other 4xx: our request is wrong, retrying will not help.
    Client,
    /// The body is not the expected JSON.
    Decode,
    /// The body is larger than `max_body_bytes`.
    BodyTooLarge,
    /// The call cannot even be built (missing parameter, bad URL).
    Config,
    /// Not attempted because a dependency failed (skipped calls only).
    Dependency,
    /// The response arrived but could not be stored (raw store failure).
    Storage,
    /// Not attempted: the fan-out entity is locked out after repeated
    /// no_data/failures (skipped calls only; not a failure).
    LockedOut,
    /// Not attempted: the source's request quota for the period is used up
    /// (skipped calls only).
    QuotaExhausted,
    /// Not attempted because the source's circuit breaker is open (skipped
    /// calls only; not a scraper failure).
    BreakerOpen,
    /// Rebound itself could not start or finish the work: a scheduled slot
    /// that could not start, a worker that died and left its run behind.
    Internal,
    /// A paginated call could not finish its pages: a cursor (or next URL)
    /// came back a second time, `max_pages` was reached with more pages
    /// to go, or a next URL points to another host. Not retried: asking
    /// again walks the same pages into the same wall. Not a fault of the
    /// source either (for the breaker it is a proper answer, like
    /// `decode`): the upstream answered every page; what failed is the
    /// contract between its pages and the scraper's `paginate`.
    Pagination,
    /// Not attempted: no variant of the scraper (`valid_from` /
    /// `valid_until`) is valid on the target date (skipped calls only; not
    /// a failure: the config says there is nothing to collect).
    NotValid,
    /// The scraper's `transform` command failed: it exited non-zero, was
    /// killed at its timeout, could not start, or wrote more than the
    /// body limit. Not retried (the same document meets the same parser)
    /// and not a fault of the source (the upstream answered properly).
    Transform,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::Throttled,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::Interrupted,
        ErrorKind::Protocol,
        ErrorKind::Client,
        ErrorKind::Decode,
        ErrorKind::BodyTooLarge,
        ErrorKind::Config,
        ErrorKind::Dependency,
        ErrorKind::Storage,
        ErrorKind::LockedOut,
        ErrorKind::QuotaExhausted,
        ErrorKind::BreakerOpen,
        ErrorKind::Internal,
        ErrorKind::Pagination,
        ErrorKind::NotValid,
        ErrorKind::Transform,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Client => "client",
            ErrorKind::Decode => "decode",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Config => "config",
            ErrorKind::Dependency => "dependency",
            ErrorKind::Storage => "storage",
            ErrorKind::LockedOut => "locked_out",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::BreakerOpen => "breaker_open",
            ErrorKind::Internal => "internal",
            ErrorKind::Pagination => "pagination",
            ErrorKind::NotValid => "not_valid",
            ErrorKind::Transform => "transform",
        }
    }

    pub fn parse(text: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Transient kinds: the same request may well succeed later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Connect
                | ErrorKind::Interrupted
        )
    }

    /// Kinds of skipped calls that a policy declined on purpose (visible,
    /// with a message, but not a failure of the scraper or the run).
    pub fn is_policy_skip(self) -> bool {
        matches!(
            self,
            ErrorKind::LockedOut | ErrorKind::BreakerOpen | ErrorKind::NotValid
        )
    }

    /// Classifies an HTTP status that is not a success. `None` for 2xx.
    pub fn from_status(status: u16) -> Option<ErrorKind> {
        match status {
            200..=299 => None,
            429 => Some(ErrorKind::Throttled),
            408 | 500..=599 => Some(ErrorKind::Server),
            _ => Some(ErrorKind::Client),
        }
    }

    /// The kind of a health probe answered with `status` when another was
    /// expected: the status's class, and `server` for a 2xx that was not
    /// the expected one (the host answered, but not as it should). One rule
    /// for the prober, the breaker and the health report, which each had
    /// their own and disagreed on such a 2xx.
    pub fn of_probe_status(status: u16) -> ErrorKind {
        ErrorKind::from_status(status).unwrap_or(ErrorKind::Server)
    }
}

/// The final status of one scraper call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScraperStatus {
    Success,
    NoData,
    Failed,
    Skipped,
    /// no_data before the scraper's declared deadline: the data is not
    /// published yet. Not a failure; a re-check is scheduled.
    NotYetAvailable,
    /// Still no data at or after the scraper's declared deadline: a failure.
    Overdue,
}

impl ScraperStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScraperStatus::Success => "success",
            ScraperStatus::NoData => "no_data",
            ScraperStatus::Failed => "failed",
            ScraperStatus::Skipped => "skipped",
            ScraperStatus::NotYetAvailable => "not_yet_available",
            ScraperStatus::Overdue => "overdue",
        }
    }

    pub fn parse(text: &str) -> Option<ScraperStatus> {
        [
            ScraperStatus::Success,
            ScraperStatus::NoData,
            ScraperStatus::Failed,
            ScraperStatus::Skipped,
            ScraperStatus::NotYetAvailable,
            ScraperStatus::Overdue,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Failed, skipped or overdue: the call produced nothing to rely on.
    /// A skip a policy made on purpose (a lockout) is not a failure: use
    /// [`is_failure_call`] when the error kind is known.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            ScraperStatus::Failed | ScraperStatus::Skipped | ScraperStatus::Overdue
        )
    }
}

/// Whether a call with this status and error kind counts as a failure:
/// like [`ScraperStatus::is_failure`], except that skips a policy made on
/// purpose ([`ErrorKind::is_policy_skip`], e.g. `locked_out`) do not.
pub fn is_failure_call(status: ScraperStatus, kind: Option<ErrorKind>) -> bool {
    status.is_failure()
        && !(status == ScraperStatus::Skipped && kind.is_some_and(ErrorKind::is_policy_skip))
}

/// Per-status counts of a workflow run's scraper calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub succeeded: u32,
    pub no_data: u32,
    pub failed: u32,
    pub skipped: u32,
    /// no_data before the deadline: neither good data nor a failure.
    pub not_yet_available: u32,
    /// Still no data at the deadline: a failure.
    pub overdue: u32,
    /// Skipped on purpose by a policy (an entity lockout, no variant valid
    /// on the date): visible, not a failure.
    pub locked_out: u32,
    /// Of `skipped`, the calls refused by an open circuit breaker: they
    /// are not scraper failures (see [`WorkflowStatus::from_counts`]).
    pub breaker_skipped: u32,
}

impl StatusCounts {
    pub fn add(&mut self, status: ScraperStatus) {
        match status {
            ScraperStatus::Success => self.succeeded += 1,
            ScraperStatus::NoData => self.no_data += 1,
            ScraperStatus::Failed => self.failed += 1,
            ScraperStatus::Skipped => self.skipped += 1,
            ScraperStatus::NotYetAvailable => self.not_yet_available += 1,
            ScraperStatus::Overdue => self.overdue += 1,
        }
    }

    /// Adds a call, telling policy skips (lockouts, an open breaker) from
    /// other skips. A breaker skip stays in `skipped` and is also counted
    /// in `breaker_skipped`, which [`Self::failures`] leaves out.
    pub fn add_call(&mut self, status: ScraperStatus, kind: Option<ErrorKind>) {
        match kind {
            Some(ErrorKind::BreakerOpen) if status == ScraperStatus::Skipped => {
                self.skipped += 1;
                self.breaker_skipped += 1;
            }
            Some(k) if status == ScraperStatus::Skipped && k.is_policy_skip() => {
                self.locked_out += 1;
            }
            _ => self.add(status),
        }
    }

    pub fn total(&self) -> u32 {
        self.succeeded
            + self.no_data
            + self.failed
            + self.skipped
            + self.not_yet_available
            + self.overdue
            + self.locked_out
    }

    /// Calls that count as failures of their scrapers: failed, skipped
    /// (not by policy), overdue.
    pub fn failures(&self) -> u32 {
        self.failed + self.skipped - self.refused() + self.overdue
    }

    /// Calls refused by an open circuit breaker: not failures of their
    /// scrapers, but nothing was collected (a run with one is not
    /// `success`, see [`WorkflowStatus::from_counts`]).
    pub fn refused(&self) -> u32 {
        self.breaker_skipped.min(self.skipped)
    }
}

/// The status of a whole workflow run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowStatus {
    Success,
    Partial,
    Failed,
    NoData,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Success => "success",
            WorkflowStatus::Partial => "partial",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::NoData => "no_data",
        }
    }

    pub fn parse(text: &str) -> Option<WorkflowStatus> {
        [
            WorkflowStatus::Success,
            WorkflowStatus::Partial,
            WorkflowStatus::Failed,
            WorkflowStatus::NoData,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// The rules, in order: every call refused (by an open circuit breaker,
    /// or locked out, at least one by a breaker) → `failed`: nothing was
    /// collected because nothing was asked; nothing answered and something
    /// failed, was refused or skipped (or nothing ran) → `failed`; some of
    /// those → `partial`; nothing succeeded → `no_data`; otherwise (nothing
    /// failed or refused, something succeeded) → `success`.
    /// `not_yet_available` and locked-out calls are not failures: they
    /// count like `no_data` (nothing to collect now, and that is expected).
    /// Breaker refusals are not failures of their scrapers (see
    /// [`StatusCounts::failures`]), but their data was not collected, so a
    /// run with one is never `success`.
    pub fn from_counts(counts: StatusCounts) -> WorkflowStatus {
        let refused = counts.refused();
        let failures = counts.failures();
        let answered = counts.succeeded + counts.no_data + counts.not_yet_available;
        let good = answered + counts.locked_out;
        let bad = failures + refused;
        if good == 0 || (answered == 0 && failures == 0 && refused > 0) {
            WorkflowStatus::Failed
        } else if bad > 0 {
            WorkflowStatus::Partial
        } else if counts.succeeded == 0 {
            WorkflowStatus::NoData
        } else {
            WorkflowStatus::Success
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probes_unexpected_status_has_one_kind() {
        for (status, kind) in [
            (204, ErrorKind::Server),
            (200, ErrorKind::Server),
            (301, ErrorKind::Client),
            (404, ErrorKind::Client),
            (429, ErrorKind::Throttled),
            (503, ErrorKind::Server),
        ] {
            assert_eq!(ErrorKind::of_probe_status(status), kind, "{status}");
        }
    }

    #[test]
    fn status_classes() {
        let table = [
            (200, None),
            (204, None),
            (429, Some(ErrorKind::Throttled)),
            (408, Some(ErrorKind::Server)),
            (500, Some(ErrorKind::Server)),
            (503, Some(ErrorKind::Server)),
            (404, Some(ErrorKind::Client)),
            (403, Some(ErrorKind::Client)),
            (301, Some(ErrorKind::Client)),
        ];
        for (status, expected) in table {
            assert_eq!(ErrorKind::from_status(status), expected, "{status}");
        }
    }

    #[test]
    fn only_transient_kinds_retry() {
        let retried: Vec<&str> = ErrorKind::ALL
            .iter()
            .filter(|k| k.is_retryable())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            retried,
            vec!["throttled", "server", "timeout", "connect", "interrupted"]
        );
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn workflow_status_rules() {
        let c = |succeeded, no_data, failed, skipped| StatusCounts {
            succeeded,
            no_data,
            failed,
            skipped,
            ..StatusCounts::default()
        };
        let held = |succeeded, failed, skipped, breaker_skipped| StatusCounts {
            succeeded,
            no_data: 0,
            failed,
            skipped,
            breaker_skipped,
            ..StatusCounts::default()
        };
        let table = [
            (c(3, 0, 0, 0), WorkflowStatus::Success),
            (c(1, 2, 0, 0), WorkflowStatus::Success),
            (c(0, 3, 0, 0), WorkflowStatus::NoData),
            (c(1, 0, 1, 0), WorkflowStatus::Partial),
            (c(0, 1, 0, 1), WorkflowStatus::Partial),
            (c(0, 0, 2, 1), WorkflowStatus::Failed),
            (c(0, 0, 0, 0), WorkflowStatus::Failed),
            // Calls refused by an open breaker collected nothing: never
            // success; every call refused is failed.
            (held(2, 0, 1, 1), WorkflowStatus::Partial),
            (held(0, 0, 2, 2), WorkflowStatus::Failed),
            (held(1, 1, 1, 1), WorkflowStatus::Partial),
            (held(0, 1, 1, 1), WorkflowStatus::Failed),
            (held(1, 0, 2, 1), WorkflowStatus::Partial),
        ];
        for (counts, expected) in table {
            assert_eq!(WorkflowStatus::from_counts(counts), expected, "{counts:?}");
        }
    }

    #[test]
    fn refused_calls_are_not_failures_but_never_a_success() {
        let mut counts = StatusCounts::default();
        counts.add_call(ScraperStatus::Skipped, Some(ErrorKind::BreakerOpen));
        counts.add_call(ScraperStatus::Skipped, Some(ErrorKind::BreakerOpen));
        counts.add_call(ScraperStatus::Skipped, Some(ErrorKind::LockedOut));
        assert_eq!((counts.failures(), counts.refused()), (0, 2));
        // Refused or locked out, nothing asked: nothing collected.
        assert_eq!(WorkflowStatus::from_counts(counts), WorkflowStatus::Failed);
        counts.add(ScraperStatus::NoData);
        assert_eq!(WorkflowStatus::from_counts(counts), WorkflowStatus::Partial);
        counts.add(ScraperStatus::Success);
        assert_eq!(WorkflowStatus::from_counts(counts), WorkflowStatus::Partial);
        // Lockouts alone stay what they were: nothing to collect now.
        let mut locked = StatusCounts::default();
        locked.add_call(ScraperStatus::Skipped, Some(ErrorKind::LockedOut));
        assert_eq!(WorkflowStatus::from_counts(locked), WorkflowStatus::NoData);
    }

    #[test]
    fn late_data_and_lockouts_are_not_failures_but_overdue_is() {
        let mut waiting = StatusCounts::default();
        waiting.add(ScraperStatus::NotYetAvailable);
        waiting.add_call(ScraperStatus::Skipped, Some(ErrorKind::LockedOut));
        assert_eq!(waiting.failures(), 0);
        assert_eq!(WorkflowStatus::from_counts(waiting), WorkflowStatus::NoData);
        waiting.add(ScraperStatus::Success);
        assert_eq!(
            WorkflowStatus::from_counts(waiting),
            WorkflowStatus::Success
        );
        waiting.add(ScraperStatus::Overdue);
        assert_eq!(
            WorkflowStatus::from_counts(waiting),
            WorkflowStatus::Partial
        );
        assert!(!is_failure_call(
            ScraperStatus::Skipped,
            Some(ErrorKind::LockedOut)
        ));
        assert!(is_failure_call(
            ScraperStatus::Skipped,
            Some(ErrorKind::Dependency)
        ));
        assert!(is_failure_call(ScraperStatus::Overdue, None));
        assert!(!is_failure_call(ScraperStatus::NotYetAvailable, None));
        for s in ["not_yet_available", "overdue"] {
            assert_eq!(ScraperStatus::parse(s).unwrap().as_str(), s);
        }
    }
}
