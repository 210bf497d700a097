//! The dashboard's charts, drawn as SVG on the server (see
//! `docs/adr/0004-dashboard-charts.md`): stacked bars of runs per day by
//! status, bars of calls per hour with a line of the failure share, and
//! sparklines of a source's failure rate.
//!
//! Each function returns a complete `<svg>` element. Colours come from
//! CSS classes (`s-success`, `s-failed`, …) so the page's light and dark
//! schemes apply; every label passes through [`esc`], so a name from the
//! config can never break out of the markup. Each bar carries a `<title>`
//! (the exact figures on hover or long press) and the chart an
//! `aria-label` summarising it.

use std::fmt::Write as _;

/// Escapes text for an SVG or HTML text node or attribute value.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The run statuses in the order bars stack them (bottom first) and the
/// legend lists them.
pub(crate) const RUN_STATUSES: [&str; 5] = ["success", "no_data", "partial", "failed", "running"];

/// One day's bar: its label (`11-28`), its full date for the title, and
/// runs per status (in [`RUN_STATUSES`] order).
pub(crate) struct DayBar {
    pub label: String,
    pub date: String,
    pub counts: [i64; 5],
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// A "nice" axis maximum at or above `max` (1, 2, 5 × 10ⁿ).
fn nice_max(max: i64) -> i64 {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// Stacked bars of runs per day by status.
pub(crate) fn runs_per_day(days: &[DayBar]) -> String {
    let total: i64 = days.iter().map(|d| d.counts.iter().sum::<i64>()).sum();
    let top = nice_max(
        days.iter()
            .map(|d| d.counts.iter().sum())
            .max()
            .unwrap_or(0),
    );
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / days.len().max(1) as f64;
    let bar_w = (slot * 0.7).max(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}"><g class="axis">"#,
        esc(&format!(
            "Runs per day by status over {} days: {total} in all",
            days.len()
        ))
    );
    axis_lines(&mut svg, top, &top.to_string(), "0");
    svg.push_str("</g>");
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let sum: i64 = day.counts.iter().sum();
        let mut parts = Vec::new();
        for (status, n) in RUN_STATUSES.iter().zip(day.counts) {
            if n > 0 {
                parts.push(format!("{n} {status}"));
            }
        }
        let title = if sum == 0 {
            format!("{}: no runs", day.date)
        } else {
            format!(
                "{}: {} ({})",
                day.date,
                plural(sum, "run", "runs"),
                parts.join(", ")
            )
        };
        let _ = write!(svg, r#"<g class="bar"><title>{}</title>"#, esc(&title));
        // A transparent full-height target, so a day with few runs is as
        // easy to hover as a busy one.
        let _ = write!(
            svg,
            r#"<rect class="hit" x="{x:.1}" y="{TOP}" width="{bar_w:.1}" height="{plot_h:.1}"/>"#
        );
        let mut y = TOP + plot_h;
        for (status, n) in RUN_STATUSES.iter().zip(day.counts) {
            if n == 0 {
                continue;
            }
            let h = plot_h * n as f64 / top as f64;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect class="s-{status}" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}"/>"#
            );
        }
        svg.push_str("</g>");
        // Every other label when there are many days, so they do not collide.
        if days.len() <= 8 || i % 2 == (days.len() - 1) % 2 {
            let _ = write!(
                svg,
                r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + bar_w / 2.0,
                H - 6.0,
                esc(&day.label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One hour's calls: its label (`14h`, shown every few hours), its full
/// time for the title, calls and failed calls.
pub(crate) struct HourBar {
    pub label: Option<String>,
    pub time: String,
    /// Every call started in the hour.
    pub calls: i64,
    /// Of those, the ones that made a request: the failure share's whole,
    /// as in `rebound health` (a skipped call, or one held back by its
    /// source's limits, asked the upstream nothing).
    pub requested: i64,
    pub failed: i64,
}

/// Bars of calls per hour, the failed part of each bar marked, and a line
/// of the failure share (right axis, 0–100 %: failed calls of those that
/// made a request) over hours with requests.
pub(crate) fn calls_per_hour(hours: &[HourBar]) -> String {
    let total: i64 = hours.iter().map(|h| h.calls).sum();
    let failed: i64 = hours.iter().map(|h| h.failed).sum();
    let top = nice_max(hours.iter().map(|h| h.calls).max().unwrap_or(0));
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / hours.len().max(1) as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}"><g class="axis">"#,
        esc(&format!(
            "Calls per hour over {} hours: {total} calls, {failed} failed",
            hours.len()
        ))
    );
    axis_lines(&mut svg, top, &top.to_string(), "0");
    let _ = write!(
        svg,
        r#"<text class="label share" x="{:.1}" y="{:.1}">100%</text><text class="label share" x="{:.1}" y="{:.1}">0%</text>"#,
        W - RIGHT + 4.0,
        TOP + 4.0,
        W - RIGHT + 4.0,
        TOP + plot_h
    );
    svg.push_str("</g>");
    let mut line = Vec::new();
    for (i, hour) in hours.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let share = if hour.requested > 0 {
            hour.failed as f64 / hour.requested as f64
        } else {
            0.0
        };
        let title = if hour.calls == 0 {
            format!("{}: no calls", hour.time)
        } else if hour.requested == hour.calls {
            format!(
                "{}: {}, {} failed ({:.0}%)",
                hour.time,
                plural(hour.calls, "call", "calls"),
                hour.failed,
                share * 100.0
            )
        } else {
            // Skipped and held-back calls are calls, not requests: the
            // share is of the requests, as `rebound health` counts it.
            format!(
                "{}: {}, {} made a request, {} failed ({:.0}% of requests)",
                hour.time,
                plural(hour.calls, "call", "calls"),
                hour.requested,
                hour.failed,
                share * 100.0
            )
        };
        let _ = write!(
            svg,
            r#"<g class="bar"><title>{}</title><rect class="hit" x="{x:.1}" y="{TOP}" width="{bar_w:.1}" height="{plot_h:.1}"/>"#,
            esc(&title)
        );
        if hour.calls > 0 {
            let h = plot_h * hour.calls as f64 / top as f64;
            let hf = plot_h * hour.failed as f64 / top as f64;
            let y = TOP + plot_h - h;
            let _ = write!(
                svg,
                r#"<rect class="s-calls" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{:.1}"/>"#,
                h - hf
            );
            if hour.failed > 0 {
                let _ = write!(
                    svg,
                    r#"<rect class="s-failed" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{hf:.1}"/>"#,
                    y + h - hf
                );
            }
            line.push(
                (hour.requested > 0).then(|| (x + bar_w / 2.0, TOP + plot_h * (1.0 - share))),
            );
        } else {
            line.push(None);
        }
        svg.push_str("</g>");
        if let Some(label) = &hour.label {
            let _ = write!(
                svg,
                r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + bar_w / 2.0,
                H - 6.0,
                esc(label)
            );
        }
    }
    let path = path_of(&line);
    if !path.is_empty() {
        let _ = write!(svg, r#"<path class="share-line" d="{path}"/>"#);
    }
    svg.push_str("</svg>");
    svg
}

/// A sparkline of a failure rate (0–1) per hour; `None` for an hour
/// without calls, where the line breaks.
pub(crate) fn sparkline(rates: &[Option<f64>], label: &str) -> String {
    const SW: f64 = 160.0;
    const SH: f64 = 28.0;
    let step = SW / rates.len().saturating_sub(1).max(1) as f64;
    let points: Vec<Option<(f64, f64)>> = rates
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.map(|r| {
                (
                    i as f64 * step,
                    2.0 + (SH - 4.0) * (1.0 - r.clamp(0.0, 1.0)),
                )
            })
        })
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="spark" viewBox="0 0 {SW} {SH}" role="img" aria-label="{}"><title>{}</title><line class="base" x1="0" y1="{:.1}" x2="{SW}" y2="{:.1}"/>"#,
        esc(label),
        esc(label),
        SH - 2.0,
        SH - 2.0
    );
    let path = path_of(&points);
    if !path.is_empty() {
        let _ = write!(svg, r#"<path class="share-line" d="{path}"/>"#);
    }
    // A lone point (one hour with calls between gaps) draws no segment:
    // a dot keeps it visible.
    for (i, p) in points.iter().enumerate() {
        let alone = |j: Option<usize>| j.and_then(|j| points.get(j)).is_none_or(|q| q.is_none());
        if let Some((x, y)) = p
            && alone(i.checked_sub(1))
            && alone(Some(i + 1))
        {
            let _ = write!(
                svg,
                r#"<circle class="dot" cx="{x:.1}" cy="{y:.1}" r="1.5"/>"#
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// An SVG path through the points, broken where a point is missing.
fn path_of(points: &[Option<(f64, f64)>]) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for p in points {
        match p {
            Some((x, y)) => {
                let _ = write!(d, "{}{x:.1} {y:.1} ", if pen_down { "L" } else { "M" });
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d.trim_end().to_string()
}

/// The left axis: a baseline, a top line and their labels.
fn axis_lines(svg: &mut String, _top: i64, top_label: &str, zero_label: &str) {
    let base = H - BOTTOM;
    let _ = write!(
        svg,
        r#"<line x1="{LEFT}" y1="{base}" x2="{:.1}" y2="{base}"/><line class="grid" x1="{LEFT}" y1="{TOP}" x2="{:.1}" y2="{TOP}"/><text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text class="label" x="{:.1}" y="{base}" text-anchor="end">{}</text>"#,
        W - RIGHT,
        W - RIGHT,
        LEFT - 4.0,
        TOP + 4.0,
        esc(top_label),
        LEFT - 4.0,
        esc(zero_label)
    );
}

/// "1 run", "2 runs" (the domain's rule, for counts that may be large).
fn plural(n: i64, one: &str, many: &str) -> String {
    rebound_domain::message::plural(n.max(0) as u64, one, many)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_stack_to_the_total() {
        let days = [DayBar {
            label: "<b>".into(),
            date: "2026-11-28".into(),
            counts: [3, 0, 1, 1, 0],
        }];
        let svg = runs_per_day(&days);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("2026-11-28: 5 runs (3 success, 1 partial, 1 failed)"));
        assert_eq!(svg.matches("class=\"s-").count(), 3);
    }

    #[test]
    fn the_share_line_breaks_over_hours_without_calls() {
        let hour = |calls, failed| HourBar {
            label: None,
            time: "t".into(),
            calls,
            requested: calls,
            failed,
        };
        let svg = calls_per_hour(&[hour(4, 1), hour(0, 0), hour(2, 2), hour(2, 0)]);
        let d = svg.split("d=\"").nth(1).expect("a line");
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert!(svg.contains("t: 4 calls, 1 failed (25%)"));
        assert!(svg.contains("8 calls, 3 failed"));
    }

    /// The share is of the calls that made a request, as `rebound health`
    /// counts a source's failure rate: an hour of a throttled source, 32
    /// calls of which 22 were held back before their request and 4 of the
    /// 10 requests failed, read 12.5% (4 of 32) beside health's 40%. An
    /// hour whose calls made no request has no point on the line.
    #[test]
    fn the_share_is_of_the_calls_that_made_a_request() {
        let hour = |calls, requested, failed| HourBar {
            label: None,
            time: "t".into(),
            calls,
            requested,
            failed,
        };
        let svg = calls_per_hour(&[hour(32, 10, 4), hour(5, 0, 0), hour(2, 2, 0)]);
        assert!(
            svg.contains("t: 32 calls, 10 made a request, 4 failed (40% of requests)"),
            "{svg}"
        );
        let d = svg.split("d=\"").nth(1).expect("a line");
        assert_eq!(
            d.matches('M').count(),
            2,
            "the held-back hour breaks it: {d}"
        );
        // 40% of the plot's height above its floor.
        let plot_h = H - TOP - BOTTOM;
        let y = TOP + plot_h * 0.6;
        assert!(d.contains(&format!("{y:.1}")), "{d}");
    }

    #[test]
    fn nice_axis_maxima() {
        assert_eq!(
            [0, 1, 3, 7, 10, 11, 480].map(nice_max),
            [1, 1, 5, 10, 10, 20, 500]
        );
    }
}
