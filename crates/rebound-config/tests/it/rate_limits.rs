//! `rate_limit` and `quota` on a source: valid forms resolve, bad values
//! are refused with the key path and position.

use super::bad_files::{Case, check};
use super::{BASE, plan};
use rebound_domain::quota::QuotaPeriod;
use std::time::Duration;

fn source(extra: &str) -> String {
    format!("{BASE}\n[sources.b]\nbase_url = \"https://b\"\n{extra}\n")
}

fn bad(
    name: &'static str,
    extra: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        text: source(extra),
        key,
        at,
        says,
    }
}

#[test]
fn rate_limit_and_quota_resolve() {
    let p = plan(&source(
        "rate_limit = \"20/min\"\nquota = { per = \"month\", requests = 20000, remaining_header = \"X-Requests-Remaining\" }",
    ));
    let b = &p.sources["b"];
    let rate = b.rate_limit.unwrap();
    assert_eq!(rate.requests, 20);
    assert_eq!(rate.interval(), Duration::from_secs(3));
    let quota = b.quota.as_ref().unwrap();
    assert_eq!(quota.per, QuotaPeriod::Month);
    assert_eq!(quota.requests, 20000);
    // Header names are matched case-insensitively; kept lower-case.
    assert_eq!(
        quota.remaining_header.as_deref(),
        Some("x-requests-remaining")
    );
    // Both are optional and default to "no limit".
    assert!(p.sources["api"].rate_limit.is_none());
    assert!(p.sources["api"].quota.is_none());
    // Spaces inside are a form the parser and the editor schema have
    // always accepted; only spaces around the value are refused.
    for form in ["5/s", "1000/h", "50000/d", "20 / min"] {
        let p = plan(&source(&format!("rate_limit = \"{form}\"")));
        assert!(p.sources["b"].rate_limit.is_some(), "{form}");
    }
    let summary = rebound_config::summary(&plan(&source(
        "rate_limit = \"20/min\"\nquota = { per = \"day\", requests = 500 }",
    )));
    assert!(
        summary.contains(
            "  b: at most 20/min (spread evenly), quota 500 requests per day (warn at 80%)"
        ),
        "{summary}"
    );
}

/// `pause_on_rate_limit` (issue 17): on unless a source says otherwise,
/// so every existing config keeps its source-wide pauses.
#[test]
fn pause_on_rate_limit_defaults_to_true_and_can_be_switched_off() {
    let p = plan(&source("pause_on_rate_limit = false"));
    assert!(!p.sources["b"].pause_on_rate_limit);
    assert!(p.sources["api"].pause_on_rate_limit, "default");
    let p = plan(&source("pause_on_rate_limit = true"));
    assert!(p.sources["b"].pause_on_rate_limit);
}

#[test]
fn bad_rate_limits_and_quotas_are_refused() {
    check(vec![
        bad(
            "pause_on_rate_limit not a boolean",
            "pause_on_rate_limit = \"no\"",
            "sources.b.pause_on_rate_limit",
            "\"no\"",
            "expected a boolean",
        ),
        bad(
            "pause_on_rate_limit as a number",
            "pause_on_rate_limit = 0",
            "sources.b.pause_on_rate_limit",
            "0\n",
            "expected a boolean",
        ),
        bad(
            "rate without unit",
            "rate_limit = \"20\"",
            "sources.b.rate_limit",
            "\"20\"",
            "expected a rate such as \"5/s\", \"20/min\" or \"1000/h\", found \"20\"",
        ),
        bad(
            "rate unit",
            "rate_limit = \"20/week\"",
            "sources.b.rate_limit",
            "\"20/week\"",
            "unknown unit in rate \"20/week\": use s, min, h or d",
        ),
        // Before: read silently as 20/min, while a duration's spaces
        // around it are refused (73a5c12).
        bad(
            "rate with spaces around it",
            "rate_limit = \" 20 / minute \"",
            "sources.b.rate_limit",
            "\" 20 / minute",
            "expected a rate without spaces around it, e.g. \"20 / minute\", found \" 20 / minute \"",
        ),
        bad(
            "rate with a trailing tab",
            "rate_limit = \"5/s\\t\"",
            "sources.b.rate_limit",
            "\"5/s",
            "expected a rate without spaces around it, e.g. \"5/s\", found \"5/s\\t\"",
        ),
        bad(
            "zero rate",
            "rate_limit = \"0/min\"",
            "sources.b.rate_limit",
            "\"0/min\"",
            "a rate limit must allow at least 1 request",
        ),
        bad(
            "rate as number",
            "rate_limit = 20",
            "sources.b.rate_limit",
            "20\n",
            "expected a string, found integer `20`",
        ),
        bad(
            "quota period",
            "quota = { per = \"week\", requests = 10 }",
            "sources.b.quota.per",
            "\"week\"",
            "expected \"day\" or \"month\", found \"week\"",
        ),
        bad(
            "quota zero",
            "quota = { per = \"day\", requests = 0 }",
            "sources.b.quota.requests",
            "0 }",
            "expected an integer >= 1, found 0",
        ),
        bad(
            "quota missing requests",
            "quota = { per = \"day\" }",
            "sources.b.quota.requests",
            "{ per",
            "missing required key",
        ),
        bad(
            "quota unknown key",
            "quota = { per = \"day\", requests = 5, limit = 3 }",
            "sources.b.quota.limit",
            "limit",
            "unknown key \"limit\"",
        ),
        bad(
            "quota header name",
            "quota = { per = \"day\", requests = 5, remaining_header = \"x remaining\" }",
            "sources.b.quota.remaining_header",
            "\"x remaining\"",
            "is not a valid HTTP header name",
        ),
    ]);
}

/// A window of zero is not an unknown unit: `"1/0s"` read "unknown unit
/// in rate", which sent the reader looking for a unit that was there.
#[test]
fn a_rate_whose_window_is_zero_says_so() {
    let says = "the window of a rate is one unit, s, min, h or d, never zero";
    check(vec![
        bad(
            "zero seconds",
            "rate_limit = \"1/0s\"",
            "sources.b.rate_limit",
            "\"1/0s\"",
            "the window of a rate is one unit, s, min, h or d, never zero: found \"1/0s\"; write e.g. \"1/s\", \"20/min\", \"100/h\", \"1000/d\"",
        ),
        // The count or the unit is the mistake there, not the window.
        bad(
            "a bad count",
            "rate_limit = \"abc/0s\"",
            "sources.b.rate_limit",
            "\"abc/0s\"",
            "expected",
        ),
        bad(
            "no request",
            "rate_limit = \"0/0s\"",
            "sources.b.rate_limit",
            "\"0/0s\"",
            "must allow at least 1 request",
        ),
        bad(
            "an unknown unit",
            "rate_limit = \"1/0x\"",
            "sources.b.rate_limit",
            "\"1/0x\"",
            "unknown unit",
        ),
        bad(
            "zero minutes",
            "rate_limit = \"5/0min\"",
            "sources.b.rate_limit",
            "\"5/0min\"",
            says,
        ),
        bad(
            "zero without a unit",
            "rate_limit = \"5/0\"",
            "sources.b.rate_limit",
            "\"5/0\"",
            says,
        ),
        bad(
            "zero milliseconds",
            "rate_limit = \"5/00ms\"",
            "sources.b.rate_limit",
            "\"5/00ms\"",
            says,
        ),
        // A window of more than one unit is still not a form the rate
        // takes (a_window_of_several_units_is_not_supported_and_says_so).
        bad(
            "thirty seconds",
            "rate_limit = \"1/30s\"",
            "sources.b.rate_limit",
            "\"1/30s\"",
            "a window of 30s is not supported",
        ),
    ]);
}

/// Before: `"1/30s"` read "unknown unit in rate \"1/30s\": use s, min, h
/// or d", though `s` is one of them: the count before the unit was the
/// problem. A window is one unit; the message says so, shows the accepted
/// forms, and gives the one-unit rate of the same pace when there is one.
#[test]
fn a_window_of_several_units_is_not_supported_and_says_so() {
    check(vec![
        bad(
            "thirty seconds",
            "rate_limit = \"1/30s\"",
            "sources.b.rate_limit",
            "\"1/30s\"",
            "the window of a rate is one unit, s, min, h or d: a window of 30s is not supported, found \"1/30s\"; write e.g. \"1/s\", \"20/min\", \"100/h\", \"1000/d\" (\"2/min\" keeps the same pace)",
        ),
        bad(
            "forty-five seconds",
            "rate_limit = \"1/45s\"",
            "sources.b.rate_limit",
            "\"1/45s\"",
            "a window of 45s is not supported, found \"1/45s\"; write e.g. \"1/s\", \"20/min\", \"100/h\", \"1000/d\" (\"80/h\" keeps the same pace)",
        ),
        bad(
            "two hours",
            "rate_limit = \"5/2h\"",
            "sources.b.rate_limit",
            "\"5/2h\"",
            "a window of 2h is not supported, found \"5/2h\"; write e.g. \"1/s\", \"20/min\", \"100/h\", \"1000/d\" (\"60/d\" keeps the same pace)",
        ),
        bad(
            "fifteen minutes, spelled out",
            "rate_limit = \"100/15 minutes\"",
            "sources.b.rate_limit",
            "\"100/15 minutes\"",
            "a window of 15 minutes is not supported",
        ),
        // No one-unit rate keeps a pace of one request a week.
        bad(
            "seven days",
            "rate_limit = \"1/7d\"",
            "sources.b.rate_limit",
            "\"1/7d\"",
            "a window of 7d is not supported, found \"1/7d\"; write e.g. \"1/s\", \"20/min\", \"100/h\", \"1000/d\"",
        ),
        // An unknown unit is still that.
        bad(
            "an unknown unit",
            "rate_limit = \"1/30w\"",
            "sources.b.rate_limit",
            "\"1/30w\"",
            "unknown unit in rate \"1/30w\": use s, min, h or d",
        ),
    ]);
}
