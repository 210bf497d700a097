//! Reading a Prometheus text page in tests: every line must parse, and a
//! sample is found by name and labels.

use prometheus_parse::{LineInfo, Scrape, Value};

/// Parses a page, failing the test on any line the parser does not
/// understand (the parser itself would skip such a line silently).
pub fn parse(text: &str) -> Scrape {
    for line in text.lines() {
        assert!(
            !matches!(LineInfo::parse(line), LineInfo::Ignored),
            "not Prometheus text: {line:?}\n{text}"
        );
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text")
}

/// The value of the first sample of `metric` carrying every one of
/// `labels`; for a histogram, its count (the largest bucket count).
pub fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => f64::NAN,
        })
}
