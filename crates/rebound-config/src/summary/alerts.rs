//! The `[alerts]` lines of `rebound check`. Sink URLs are never printed,
//! not even masked: the sink's name and kind say which one it is.

use rebound_domain::duration::format_duration;
use rebound_domain::plan::Plan;
use std::fmt::Write;

/// Nothing when `[alerts]` is left at its defaults without sinks, which is
/// most small configs: "alerts are off" needs no line of its own.
pub(super) fn write(out: &mut String, plan: &Plan) {
    let a = &plan.alerts;
    if *a == rebound_domain::alerts::AlertSettings::default() {
        return;
    }
    let c = &a.conditions;
    let _ = writeln!(
        out,
        "alerts: evaluated every {}, reminders every {}, at most {} per incident and {} in all per hour",
        format_duration(a.evaluate_every),
        format_duration(a.renotify),
        a.max_per_incident_per_hour,
        a.max_per_hour
    );
    let mut on = Vec::new();
    let mut off = Vec::new();
    let mut toggle = |name: &str, enabled: Option<String>| match enabled {
        Some(text) => on.push(text),
        None => off.push(name.to_string()),
    };
    toggle(
        "workflow_failed",
        c.workflow_failed_after
            .map(|n| format!("workflow_failed (after {n} failed or partial runs in a row)")),
    );
    toggle(
        "source_unhealthy",
        c.source_unhealthy_grace
            .map(|g| format!("source_unhealthy (after {})", format_duration(g))),
    );
    toggle(
        "dataset_stale",
        c.dataset_stale.then(|| "dataset_stale".to_string()),
    );
    toggle(
        "completeness_shortfall",
        c.completeness_shortfall
            .then(|| "completeness_shortfall".to_string()),
    );
    toggle(
        "quota_high",
        c.quota_share
            .map(|s| format!("quota_high (above {:.0}%)", s * 100.0)),
    );
    toggle(
        "data_overdue",
        c.data_overdue.then(|| "data_overdue".to_string()),
    );
    toggle(
        "lockouts_high",
        c.lockout_share
            .map(|s| format!("lockouts_high (above {:.0}% of entities)", s * 100.0)),
    );
    let _ = writeln!(out, "  conditions: {}", on.join(", "));
    if !off.is_empty() {
        let _ = writeln!(out, "  turned off: {}", off.join(", "));
    }
    if a.sinks.is_empty() {
        let _ = writeln!(
            out,
            "  sinks (0): incidents are recorded (rebound alerts) but nobody is notified"
        );
    } else {
        let _ = writeln!(out, "  sinks ({}):", a.sinks.len());
        for sink in a.sinks.values() {
            let _ = writeln!(
                out,
                "    {}: {} (level {} and above, timeout {})",
                sink.name,
                sink.kind.as_str(),
                sink.min_level.as_str(),
                format_duration(sink.timeout)
            );
        }
    }
}
