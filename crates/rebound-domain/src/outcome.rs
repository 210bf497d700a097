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
    /// Not attempted because the source's circuit breaker is open (skipped
    /// calls only; not a scraper failure).
    BreakerOpen,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Throttled,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::Client,
        ErrorKind::Decode,
        ErrorKind::BodyTooLarge,
        ErrorKind::Config,
        ErrorKind::Dependency,
        ErrorKind::Storage,
        ErrorKind::BreakerOpen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Client => "client",
            ErrorKind::Decode => "decode",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Config => "config",
            ErrorKind::Dependency => "dependency",
            ErrorKind::Storage => "storage",
            ErrorKind::BreakerOpen => "breaker_open",
        }
    }

    pub fn parse(text: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Transient kinds: the same request may well succeed later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::Server | ErrorKind::Timeout | ErrorKind::Connect
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
}

/// The final status of one scraper call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScraperStatus {
    Success,
    NoData,
    Failed,
    Skipped,
}

impl ScraperStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScraperStatus::Success => "success",
            ScraperStatus::NoData => "no_data",
            ScraperStatus::Failed => "failed",
            ScraperStatus::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<ScraperStatus> {
        [
            ScraperStatus::Success,
            ScraperStatus::NoData,
            ScraperStatus::Failed,
            ScraperStatus::Skipped,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Failed or skipped: the call produced nothing to rely on.
    pub fn is_failure(self) -> bool {
        matches!(self, ScraperStatus::Failed | ScraperStatus::Skipped)
    }
}

/// Per-status counts of a workflow run's scraper calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub succeeded: u32,
    pub no_data: u32,
    pub failed: u32,
    pub skipped: u32,
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
        }
    }

    pub fn total(&self) -> u32 {
        self.succeeded + self.no_data + self.failed + self.skipped
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

    /// The rules, in order: only calls held by an open circuit breaker →
    /// `no_data` (nothing collected, nothing failed: the source is known to
    /// be down and the breaker says so); all failed or skipped (or nothing
    /// ran) → `failed`; some failed or skipped → `partial`; all no_data →
    /// `no_data`; otherwise (nothing failed, something succeeded) →
    /// `success`. Breaker skips are left out of "failed or skipped": they
    /// never by themselves make a run failed or partial.
    pub fn from_counts(counts: StatusCounts) -> WorkflowStatus {
        let held = counts.breaker_skipped.min(counts.skipped);
        let bad = counts.failed + counts.skipped - held;
        let good = counts.succeeded + counts.no_data;
        if good == 0 && bad == 0 && held > 0 {
            WorkflowStatus::NoData
        } else if good == 0 {
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
        assert_eq!(retried, vec!["throttled", "server", "timeout", "connect"]);
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
            breaker_skipped: 0,
        };
        let held = |succeeded, failed, skipped, breaker_skipped| StatusCounts {
            succeeded,
            no_data: 0,
            failed,
            skipped,
            breaker_skipped,
        };
        let table = [
            (c(3, 0, 0, 0), WorkflowStatus::Success),
            (c(1, 2, 0, 0), WorkflowStatus::Success),
            (c(0, 3, 0, 0), WorkflowStatus::NoData),
            (c(1, 0, 1, 0), WorkflowStatus::Partial),
            (c(0, 1, 0, 1), WorkflowStatus::Partial),
            (c(0, 0, 2, 1), WorkflowStatus::Failed),
            (c(0, 0, 0, 0), WorkflowStatus::Failed),
            // Breaker skips alone never fail a run.
            (held(2, 0, 1, 1), WorkflowStatus::Success),
            (held(0, 0, 2, 2), WorkflowStatus::NoData),
            (held(1, 1, 1, 1), WorkflowStatus::Partial),
            (held(0, 1, 1, 1), WorkflowStatus::Failed),
            (held(1, 0, 2, 1), WorkflowStatus::Partial),
        ];
        for (counts, expected) in table {
            assert_eq!(WorkflowStatus::from_counts(counts), expected, "{counts:?}");
        }
    }
}
