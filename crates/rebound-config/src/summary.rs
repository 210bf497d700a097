//! The short description `rebound check` prints of a valid plan.
//!
//! It answers "did Rebound read my file the way I meant?": resolved paths,
//! what is defined, and each workflow's step order. Everything is passed
//! through the plan's redactor on the way out, since names and locations
//! may themselves have come from `${VAR}`.

use chrono::NaiveTime;
use rebound_domain::duration::format_duration;
use rebound_domain::message::plural;
use rebound_domain::paginate::PageKind;
use rebound_domain::plan::{
    Due, FollowRedirects, ForEach, Plan, Schedule, ScheduleKind, TargetDate,
};
use std::fmt::Write;

mod alerts;

/// A human summary of `plan`, several lines, without secrets.
pub fn summary(plan: &Plan) -> String {
    summary_with(plan, &std::collections::BTreeMap::new())
}

/// [`summary`] of a loaded config (`rebound check`): a setting whose
/// `${VAR}` is unset here reads "from ${VAR}, not set here" instead of the
/// default the plan holds in its place. `check` used to print that default
/// (`time zone UTC`, `retention: none (history is kept forever)`) for a
/// `timezone` or `retention` that `run` would read from the variable.
pub fn summary_of(loaded: &crate::Loaded) -> String {
    summary_with(&loaded.plan, &loaded.unset)
}

fn summary_with(plan: &Plan, unset: &std::collections::BTreeMap<String, String>) -> String {
    let from = |key: &str| {
        unset
            .get(key)
            .map(|var| format!("from ${{{var}}}, not set here"))
    };
    let mut out = String::new();
    // Writing to a String cannot fail; `let _` keeps that visible.
    let p = &plan.pipeline;
    let zone = from("pipeline.timezone").unwrap_or_else(|| p.timezone.name().to_string());
    let _ = writeln!(out, "pipeline {} (time zone {zone})", p.name);
    if let Some(path) = &plan.config_path {
        let _ = writeln!(out, "  config:    {}", path.display());
    }
    let _ = writeln!(out, "  database:  {}", plan.database_display());
    let _ = writeln!(out, "  raw store: {}", p.raw_store.display());
    let _ = match (from("pipeline.retention"), p.retention) {
        (Some(from), _) => writeln!(out, "  retention: {from}"),
        (None, Some(keep)) => writeln!(
            out,
            "  retention: {} (older history and raw payloads are purged)",
            format_duration(keep)
        ),
        (None, None) => writeln!(out, "  retention: none (history is kept forever)"),
    };
    if let Some(season) = &p.season {
        // The day before a season starts and its first day show the rule
        // at work: two fixed dates either side of New Year both fell in
        // one season for an October start, and showed nothing. A fixed
        // year keeps the summary the same from one day to the next (and
        // free of the wall clock); the start is found through the rule,
        // whose month and day are its own.
        let year = 2026;
        let first_day = (1..=366)
            .filter_map(|ordinal| chrono::NaiveDate::from_yo_opt(year, ordinal))
            .find(|date| season.start_year(*date) == year);
        if let Some(first_day) = first_day
            && let Some(day_before) = first_day.pred_opt()
        {
            let _ = writeln!(
                out,
                "  season:    {{season}} is {} through {day_before} and {} from {first_day}",
                season.name(day_before),
                season.name(first_day)
            );
        }
    }
    list(&mut out, "sources", plan.sources.keys());
    list(&mut out, "scrapers", plan.scrapers.keys());
    let limited: Vec<_> = plan
        .sources
        .values()
        .filter(|s| s.rate_limit.is_some() || s.quota.is_some())
        .collect();
    if !limited.is_empty() {
        let _ = writeln!(out, "rate limits and quotas ({}):", limited.len());
        for source in limited {
            let mut parts: Vec<String> = Vec::new();
            if let Some(rate) = &source.rate_limit {
                parts.push(format!("at most {} (spread evenly)", rate.display()));
            }
            if let Some(quota) = &source.quota {
                parts.push(format!(
                    "quota {} per {} (warn at {}%)",
                    plural(quota.requests, "request", "requests"),
                    quota.per.as_str(),
                    rebound_domain::quota::WARN_PERCENT
                ));
            }
            let _ = writeln!(out, "  {}: {}", source.name, parts.join(", "));
        }
    }
    // Only the sources that differ from the default (`same_host`), which
    // is the one that keeps credentials on their host.
    let redirects: Vec<_> = plan
        .sources
        .values()
        .filter(|s| s.follow_redirects != FollowRedirects::SameHost)
        .collect();
    if !redirects.is_empty() {
        let _ = writeln!(out, "redirects ({}):", redirects.len());
        for source in redirects {
            let what = match source.follow_redirects {
                FollowRedirects::Any => {
                    "follow_redirects = \"any\": other hosts too, without the source's headers and query"
                }
                _ => "follow_redirects = \"none\": no redirect is followed",
            };
            let _ = writeln!(out, "  {}: {what}", source.name);
        }
    }
    // By count and place only: proxy URLs are secrets.
    let proxied: Vec<_> = plan
        .sources
        .values()
        .filter_map(|s| s.proxies.as_ref().map(|p| (&s.name, p)))
        .collect();
    if !proxied.is_empty() {
        let _ = writeln!(out, "proxies ({}):", proxied.len());
        for (name, proxies) in proxied {
            let how = match proxies.routes.first() {
                Some(rebound_domain::proxy::ProxyRoute::Env(_)) => {
                    "the environment's HTTP_PROXY / HTTPS_PROXY / ALL_PROXY".to_string()
                }
                _ => format!(
                    "{} prox{}, {}",
                    proxies.routes.len(),
                    if proxies.routes.len() == 1 {
                        "y"
                    } else {
                        "ies"
                    },
                    proxies.rotation.as_str()
                ),
            };
            let statuses: Vec<String> = proxies.retry_on.iter().map(u16::to_string).collect();
            let _ = writeln!(
                out,
                "  {name}: {how}; next proxy on connect errors, timeouts and HTTP {}; each skipped for {} after {} in a row",
                statuses.join("/"),
                format_duration(proxies.breaker.open_for),
                plural(u64::from(proxies.breaker.failures), "failure", "failures")
            );
        }
    }
    let fan_outs: Vec<_> = plan
        .scrapers
        .values()
        .filter_map(|s| s.for_each.as_ref().map(|f| (&s.name, f)))
        .collect();
    if !fan_outs.is_empty() {
        let _ = writeln!(out, "fan-out ({}):", fan_outs.len());
        for (name, for_each) in fan_outs {
            let more: Vec<String> = plan.scrapers[name.as_str()]
                .item_params
                .iter()
                .map(|p| format!(", its \"{}\" as {{{}}}", p.path, p.param))
                .collect();
            let more = more.concat();
            let _ = match for_each {
                ForEach::Calendar { calendar, param } => writeln!(
                    out,
                    "  {name}: one call per event of calendar {calendar}, id as {{{param}}}{more}"
                ),
                ForEach::Dataset {
                    dataset,
                    items,
                    value,
                    param,
                } => writeln!(
                    out,
                    "  {name}: one call per item {items} of dataset {dataset}, its \"{value}\" as {{{param}}}{more}"
                ),
            };
        }
    }
    let paginated: Vec<_> = plan
        .scrapers
        .values()
        .filter_map(|s| s.paginate.as_ref().map(|p| (s, p)))
        .collect();
    if !paginated.is_empty() {
        let _ = writeln!(out, "pagination ({}):", paginated.len());
        for (scraper, paginate) in paginated {
            let how = match &paginate.kind {
                PageKind::Cursor { cursor, param } => {
                    format!("cursor at {cursor} sent as {param}")
                }
                PageKind::NextUrl { next } => format!("next URL at {next}, same host only"),
                PageKind::Link => "Link header rel=\"next\", same host only".to_string(),
                PageKind::Page { param, start, .. } => {
                    format!("{param} = {start}, {}, ... until an empty page", start + 1)
                }
                PageKind::Offset {
                    param,
                    limit_param,
                    limit,
                    ..
                } => format!("{param} += {limit} ({limit_param} = {limit}) until an empty page"),
            };
            let total = paginate
                .kind
                .total()
                .map(|t| format!(" or {t} records"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}: {how}{total}; records joined at {}; at most {}",
                scraper.name,
                scraper.records.as_deref().unwrap_or_default(),
                plural(u64::from(paginate.max_pages), "page", "pages")
            );
        }
    }
    let variants: Vec<_> = plan
        .scrapers
        .values()
        .filter(|s| !s.valid.is_always())
        .collect();
    if !variants.is_empty() {
        let _ = writeln!(out, "variants ({}):", variants.len());
        for scraper in variants {
            let _ = writeln!(
                out,
                "  {}: dataset {}, target dates {}",
                scraper.name,
                scraper.dataset,
                scraper.valid.describe()
            );
        }
    }
    let policies: Vec<String> = plan
        .scrapers
        .values()
        .filter_map(|s| {
            let mut parts = Vec::new();
            if let Some(expected) = &s.expected {
                parts.push(match expected.due {
                    Due::AfterEventStart { after, deadline } => format!(
                        "data expected {} after the event starts, overdue {} after it",
                        format_duration(after),
                        format_duration(deadline)
                    ),
                    Due::By { time } => {
                        format!("data expected by {} local", time.format("%H:%M"))
                    }
                });
                parts.push(format!(
                    "re-checked every {}",
                    format_duration(expected.recheck)
                ));
            }
            if let Some(lockout) = &s.lockout {
                parts.push(format!(
                    "an entity is locked out for {} after {} no-data or failed calls in a row",
                    format_duration(lockout.duration),
                    lockout.after
                ));
            }
            (!parts.is_empty()).then(|| format!("  {}: {}", s.name, parts.join("; ")))
        })
        .collect();
    if !policies.is_empty() {
        let _ = writeln!(out, "late data and lockouts ({}):", policies.len());
        for line in policies {
            let _ = writeln!(out, "{line}");
        }
    }
    if !plan.calendars.is_empty() {
        let _ = writeln!(out, "calendars ({}):", plan.calendars.len());
        for (name, calendar) in &plan.calendars {
            let _ = writeln!(
                out,
                "  {name}: events {} of dataset {} (id \"{}\", start \"{}\")",
                calendar.events, calendar.dataset, calendar.id, calendar.start
            );
            if let Some(refresh) = &calendar.refresh {
                let _ = write!(
                    out,
                    "    refreshed by {} when older than {}",
                    refresh.scraper,
                    format_duration(refresh.max_age)
                );
                if let Some(age) = refresh.override_max_age {
                    let _ = write!(out, " ({} instead", format_duration(age));
                    if let Some(until) = refresh.override_until {
                        let _ = write!(out, " until {}", until.to_rfc3339());
                    }
                    out.push(')');
                }
                out.push('\n');
            }
        }
    }
    health(&mut out, plan);
    let any_schedule = plan.workflows.values().any(|w| w.schedule.is_some());
    if any_schedule {
        let s = &plan.scheduler;
        let _ = writeln!(
            out,
            "scheduler: lease {}, catch up {}, max idle {}, shutdown grace {}, max inline wait {}",
            format_duration(s.lease),
            format_duration(s.catch_up),
            format_duration(s.max_idle),
            format_duration(s.shutdown_grace),
            format_duration(s.max_inline_wait)
        );
    }
    alerts::write(&mut out, plan);
    match plan.server.listen {
        Some(addr) => {
            let server = &plan.server;
            // What `serve` will do, as its API's auth decides it.
            let api = match (&server.token, &server.token_unset) {
                (_, Some(var)) => format!(
                    "the API (/api/v1/, token from {var}, which is not set: serve refuses to start until it is)"
                ),
                (Some(_), None) if server.reads_need_token() => {
                    "the API (/api/v1/, reads and mutations with the token)".to_string()
                }
                (Some(_), None) => "the API (/api/v1/, mutations with the token)".to_string(),
                (None, None) if server.reads_need_token() => {
                    "the API (/api/v1/, every request refused: no token, and reads off loopback need one)".to_string()
                }
                (None, None) => "the API (/api/v1/, read-only: no token)".to_string(),
            };
            let _ = writeln!(
                out,
                "server: rebound serve answers /metrics, /healthz and {api} on http://{addr}"
            );
        }
        // Only worth saying where `rebound serve` has something to run.
        None if any_schedule => {
            let _ = writeln!(
                out,
                "server: no HTTP endpoint (set [server] listen for /metrics)"
            );
        }
        None => {}
    }
    let _ = writeln!(out, "workflows ({}):", plan.workflows.len());
    for (name, workflow) in &plan.workflows {
        let _ = writeln!(out, "  {name}");
        // Said of every workflow once any is scheduled, so that "runs only
        // by hand" is visible rather than inferred from a missing line.
        if any_schedule {
            let when = match &workflow.schedule {
                Some(schedule) => describe_schedule(schedule),
                None => "only when started by hand".to_string(),
            };
            let _ = writeln!(out, "    schedule: {when}");
        }
        for (n, step) in workflow.steps.iter().enumerate() {
            let _ = write!(out, "    {}. {}", n + 1, step.scrapers.join(", "));
            if !step.after.is_empty() {
                let _ = write!(out, " (after {})", step.after.join(", "));
            }
            out.push('\n');
        }
    }
    plan.redactor.redact_string(&out)
}

/// Source probes and dataset expectations, as `rebound health` will apply them.
fn health(out: &mut String, plan: &Plan) {
    let probes: Vec<_> = plan
        .sources
        .values()
        .filter_map(|s| s.health.as_ref().map(|p| (&s.name, p)))
        .collect();
    if !probes.is_empty() {
        let _ = writeln!(out, "health probes ({}):", probes.len());
        for (name, probe) in probes {
            let _ = writeln!(
                out,
                "  {name}: GET {} expects {} within {}",
                probe.path_text,
                probe.expect_status,
                format_duration(probe.timeout)
            );
        }
    }
    if !plan.datasets.is_empty() {
        let _ = writeln!(out, "dataset expectations ({}):", plan.datasets.len());
        for (name, d) in &plan.datasets {
            let mut parts = Vec::new();
            match (d.fresh_warn, d.fresh_error) {
                (Some(w), Some(e)) => parts.push(format!(
                    "stale (warning) after {}, critical after {} without new data",
                    format_duration(w),
                    format_duration(e)
                )),
                (Some(w), None) => parts.push(format!(
                    "stale (warning) after {} without new data",
                    format_duration(w)
                )),
                (None, Some(e)) => parts.push(format!(
                    "stale (critical) after {} without new data",
                    format_duration(e)
                )),
                (None, None) => {}
            }
            if let Some(c) = d.complete_by {
                parts.push(format!(
                    "every event collected by {} after it starts (else {})",
                    format_duration(c.after_event_start),
                    c.severity.as_str()
                ));
            }
            let _ = writeln!(out, "  {name}: {}", parts.join("; "));
        }
    }
}

fn list<'a>(out: &mut String, what: &str, names: impl ExactSizeIterator<Item = &'a String>) {
    let count = names.len();
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        let _ = writeln!(out, "{what} (0)");
    } else {
        let _ = writeln!(out, "{what} ({count}): {}", names.join(", "));
    }
}

/// How a schedule reads in `rebound check`.
pub(crate) fn describe_schedule(schedule: &Schedule) -> String {
    let hm = |t: &NaiveTime| t.format("%H:%M").to_string();
    let mut out = match &schedule.kind {
        ScheduleKind::Cron { cron } => format!("cron \"{cron}\""),
        ScheduleKind::Window { start, end } => {
            format!("once a day between {} and {}", hm(start), hm(end))
        }
        ScheduleKind::Every {
            start,
            end,
            every,
            lead,
        } => {
            let mut s = format!(
                "every {} from {} until before {}",
                format_duration(*every),
                hm(start),
                hm(end)
            );
            if let Some(lead) = lead {
                s.push_str(&format!(
                    ", starting {} before the first event",
                    format_duration(*lead)
                ));
            }
            s
        }
        ScheduleKind::At {
            at,
            tolerance,
            events_before,
            after_event_start,
        } => {
            let mut s = format!("at {} (up to {} late)", hm(at), format_duration(*tolerance));
            let mut only = Vec::new();
            if let Some(before) = events_before {
                only.push(format!("start before {}", hm(before)));
            }
            if let Some(after) = after_event_start {
                only.push(format!("started at least {} ago", format_duration(*after)));
            }
            if !only.is_empty() {
                s.push_str(&format!(", counting events that {}", only.join(" and ")));
            }
            s
        }
        ScheduleKind::Discovery {
            start,
            end,
            every,
            max_attempts,
        } => format!(
            "every {} from {} until before {}, until data is found (at most {})",
            format_duration(*every),
            hm(start),
            hm(end),
            plural(u64::from(*max_attempts), "try", "tries")
        ),
    };
    if schedule.target_date == TargetDate::Yesterday {
        out.push_str("; collects yesterday's date");
    }
    if let Some(calendar) = &schedule.calendar {
        out.push_str(&format!("; only on dates with events in {calendar}"));
    }
    if schedule.only_missing {
        out.push_str("; only events not yet collected");
    }
    out
}
