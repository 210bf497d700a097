//! Hand-made health reports: everything healthy, then one thing changed.

use chrono::{DateTime, NaiveDate, Utc};
use rebound_health::*;

pub fn empty(at: DateTime<Utc>) -> HealthReport {
    HealthReport {
        generated_at: at,
        since: at - chrono::TimeDelta::hours(24),
        level: Level::Ok,
        sources: vec![],
        scrapers: vec![],
        workflows: vec![],
        error_coverage: ErrorCoverage {
            failed_or_partial: 0,
            with_message: 0,
            coverage_rate: 1.0,
        },
        retries: Retries {
            calls: 0,
            attempts: 0,
            retried: 0,
            retried_then_succeeded: 0,
            attempts_per_call: 0.0,
        },
        datasets: vec![],
        handoff: HandoffHealth::default(),
        alerts: vec![],
    }
}

pub fn source(name: &str) -> SourceHealth {
    SourceHealth {
        name: name.to_string(),
        level: Level::Ok,
        probe: None,
        breaker: "closed".to_string(),
        breaker_since: None,
        breaker_opened_at: None,
        last_success_at: None,
        last_error_at: None,
        last_error: None,
        failing_since: None,
        calls: 10,
        failed: 0,
        failure_rate: 0.0,
        quota: None,
        proxies: vec![],
        probe_failing_since: None,
    }
}

pub fn scraper(name: &str) -> ScraperHealth {
    ScraperHealth {
        name: name.to_string(),
        source: "api".to_string(),
        dataset: format!("api/{name}"),
        level: Level::Ok,
        runs: 10,
        failures: 0,
        deferred: 0,
        no_data: 0,
        not_yet_available: 0,
        overdue: 0,
        skipped: 0,
        last_success_at: None,
        last_error_at: None,
        last_error: None,
        consecutive_failures: 0,
        locked_out: 0,
        entities: 0,
    }
}

pub fn workflow(name: &str) -> WorkflowHealth {
    WorkflowHealth {
        name: name.to_string(),
        level: Level::Ok,
        last_status: Some("success".to_string()),
        last_run_at: None,
        last_error: None,
        consecutive_failed: 0,
        failing_since: None,
        days: vec![],
        failing_sources: Vec::new(),
    }
}

pub fn dataset(name: &str) -> DatasetHealth {
    DatasetHealth {
        name: name.to_string(),
        level: Level::Ok,
        freshness: Freshness {
            level: Level::Ok,
            last_change_at: None,
            last_checked_at: None,
            age_seconds: None,
            fresh_warn_seconds: None,
            fresh_error_seconds: None,
            watched_since: None,
        },
        completeness: None,
    }
}

pub fn completeness(level: Level, expected: i64, missing: &[&str]) -> Completeness {
    Completeness {
        level,
        target_date: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        expected,
        collected: expected - missing.len() as i64,
        missing: missing.iter().map(|s| s.to_string()).collect(),
        deadline: None,
        overdue: missing.iter().map(|s| s.to_string()).collect(),
        error: None,
    }
}
