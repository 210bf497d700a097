//! What the scheduler decided for a slot, and how loudly to say so.
//!
//! One [`DecisionAction`] per evaluated slot (stored in `workflow_decisions`
//! as `RUN`, `SKIP` or `ABORT`) and its [`AlertLevel`]. They are vocabulary,
//! shared by the pure scheduler (`rebound-schedule`), the store's record
//! types and the reports, so they live here rather than in any of them.

/// A decision's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionAction {
    Run,
    Skip,
    Abort,
}

impl DecisionAction {
    /// `RUN`, `SKIP` or `ABORT`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionAction::Run => "RUN",
            DecisionAction::Skip => "SKIP",
            DecisionAction::Abort => "ABORT",
        }
    }
}

/// How loudly a decision should be noticed: `NONE`, `INFO`, `WARNING`, `CRITICAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum AlertLevel {
    #[default]
    None,
    Info,
    Warning,
    Critical,
}

impl AlertLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::None => "NONE",
            AlertLevel::Info => "INFO",
            AlertLevel::Warning => "WARNING",
            AlertLevel::Critical => "CRITICAL",
        }
    }
}
