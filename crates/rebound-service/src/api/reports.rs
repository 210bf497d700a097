//! The report documents the API serves and the CLI's `--json` prints,
//! assembled in one place so `GET /api/v1/health` and `rebound health
//! --json` (and likewise freshness, lockouts, alerts) cannot drift apart.

use super::types::{
    AlertsReport, BreakerView, FreshnessReport, IncidentView, LockoutView, LockoutsReport,
    NotificationView, QuotaView, SourceView, SourcesReport,
};
use crate::observe::EngineCalendars;
use chrono::{DateTime, TimeDelta, Utc};
use rebound_domain::plan::Plan;
use rebound_domain::quota::{QuotaState, effective_used, period_at};
use rebound_engine::Engine;
use rebound_health::{HealthError, HealthReport, Inputs, Prober, build_report};
use rebound_storage::{AlertIncidentRow, Store, StoreError};
use std::collections::BTreeMap;

/// `rebound health --json` and `GET /api/v1/health`: the health report
/// for `now` over calls since `since`, with the open alert incidents as
/// `rebound serve` keeps them. `prober` sends the sources' health probes
/// (`None`: no network, `probe` null).
pub async fn health(
    engine: &Engine,
    prober: Option<&dyn Prober>,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<HealthReport, HealthError> {
    use chrono::SubsecRound;
    let plan = engine.plan();
    let inputs = Inputs {
        plan,
        store: engine.store().as_ref(),
        calendars: &EngineCalendars(engine),
        prober,
        now,
        since,
    };
    let mut report = build_report(&inputs).await?;
    // Shown in whole seconds, as every time in JSON is (docs/output.md);
    // they had nanoseconds. The report was made at the exact instants.
    report.generated_at = now.trunc_subsecs(0);
    report.since = since.trunc_subsecs(0);
    report.alerts = rebound_alerts::open_incident_summaries(engine.store().as_ref()).await?;
    Ok(report)
}

/// `rebound freshness --json` and `GET /api/v1/freshness`.
pub async fn freshness(
    engine: &Engine,
    now: DateTime<Utc>,
) -> Result<FreshnessReport, HealthError> {
    let datasets = rebound_health::freshness(
        engine.plan(),
        engine.store().as_ref(),
        &EngineCalendars(engine),
        now,
    )
    .await?;
    Ok(FreshnessReport {
        generated_at: now,
        level: datasets.iter().map(|d| d.level).max().unwrap_or_default(),
        datasets,
    })
}

/// `rebound breakers --json`: every source's breaker, in config order.
pub async fn breakers(
    plan: &Plan,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<BreakerView>, StoreError> {
    let stored = store.breaker_states().await?;
    // A half-open breaker's "since" is its newest transition (to
    // half-open), as `rebound health` says; one read for all of them.
    let half_open: Vec<String> = stored
        .iter()
        .filter(|r| r.state.phase == rebound_domain::breaker::Phase::HalfOpen)
        .map(|r| r.source_name.clone())
        .collect();
    let went_half_open: Vec<(String, DateTime<Utc>)> = half_open
        .iter()
        .zip(store.newest_breaker_transitions(&half_open).await?)
        .filter_map(|(name, t)| Some((name.clone(), t?.at)))
        .collect();
    let mut out = Vec::new();
    for (name, source) in &plan.sources {
        let state = stored
            .iter()
            .find(|r| &r.source_name == name)
            .map(|r| &r.state);
        let since = went_half_open
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, at)| *at);
        let proxies = rebound_health::proxy_health(source, store, now).await?;
        out.push(BreakerView::new(source, state, since, &proxies));
    }
    Ok(out)
}

/// `rebound quotas --json`: the sources with a quota, in config order.
pub async fn quotas(
    plan: &Plan,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<QuotaView>, StoreError> {
    let tz = plan.pipeline.timezone;
    let mut out = Vec::new();
    for source in plan.sources.values() {
        let Some(quota) = &source.quota else { continue };
        let window = period_at(quota.per, tz, now);
        let usage = store.quota_usage(&source.name, window.start).await?;
        let counted = usage.as_ref().map_or(0, |u| u.requests.max(0) as u64);
        let reported = usage
            .as_ref()
            .and_then(|u| u.remaining_reported)
            .map(|r| r.max(0) as u64);
        let used = effective_used(quota.requests, counted, reported);
        out.push(QuotaView {
            source: source.name.clone(),
            per: quota.per.as_str().to_string(),
            limit: quota.requests,
            used,
            counted,
            remaining: quota.requests.saturating_sub(used),
            remaining_reported: reported,
            period_start: window.start,
            resets_at: window.end,
            state: QuotaState::of(quota.requests, used).as_str().to_string(),
            warned_at: usage.as_ref().and_then(|u| u.warned_at),
        });
    }
    Ok(out)
}

/// `GET /api/v1/sources`: per source, its health over calls since
/// `since`, its breaker and its quota.
pub async fn sources(
    engine: &Engine,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<SourcesReport, HealthError> {
    let inputs = Inputs {
        plan: engine.plan(),
        store: engine.store().as_ref(),
        calendars: &EngineCalendars(engine),
        prober: None,
        now,
        since,
    };
    let health = rebound_health::sources_only(&inputs).await?;
    let store = engine.store().as_ref();
    let mut breakers = breakers(engine.plan(), store, now).await?;
    let mut quotas = quotas(engine.plan(), store, now).await?;
    let mut sources = Vec::new();
    for health in health {
        let Some(at) = breakers.iter().position(|b| b.source == health.name) else {
            continue;
        };
        let breaker = breakers.remove(at);
        let quota = quotas
            .iter()
            .position(|q| q.source == health.name)
            .map(|at| quotas.remove(at));
        sources.push(SourceView {
            name: health.name.clone(),
            health,
            breaker,
            quota,
        });
    }
    Ok(SourcesReport {
        generated_at: now,
        since,
        sources,
    })
}

/// `rebound lockouts --json` and `GET /api/v1/lockouts`.
pub async fn lockouts(
    plan: &Plan,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<LockoutsReport, StoreError> {
    let rows = store.open_lockouts(None).await?;
    let mut counts: BTreeMap<String, usize> = plan
        .scrapers
        .values()
        .filter(|s| s.lockout.is_some())
        .map(|s| (s.name.clone(), 0))
        .collect();
    for row in rows.iter().filter(|r| r.until > now) {
        *counts.entry(row.scraper_name.clone()).or_default() += 1;
    }
    Ok(LockoutsReport {
        counts,
        lockouts: rows.iter().map(|r| LockoutView::new(r, now)).collect(),
    })
}

/// Whether `rebound lockouts reset` and `POST /api/v1/lockouts/reset` may
/// release `scraper`'s locks: a scraper of the config, or one renamed or
/// removed since that still holds locks ([`lockouts`] lists them).
pub async fn lockouts_resettable(
    plan: &Plan,
    store: &dyn Store,
    scraper: &str,
) -> Result<bool, StoreError> {
    Ok(
        plan.scrapers.contains_key(scraper)
            || !store.open_lockouts(Some(scraper)).await?.is_empty(),
    )
}

/// `rebound alerts --json` and `GET /api/v1/alerts`: open incidents, those
/// resolved in the last 7 days, and the newest `limit` notifications.
/// Callers mask the config's secrets in what they print.
pub async fn alerts(
    store: &dyn Store,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<AlertsReport, StoreError> {
    let open = store.open_alert_incidents().await?;
    let recent: Vec<AlertIncidentRow> = store
        .recent_alert_incidents(now - TimeDelta::days(7), 50)
        .await?
        .into_iter()
        .filter(|i| i.resolved_at.is_some())
        .collect();
    let notifications = store.recent_alerts(limit).await?;
    Ok(AlertsReport {
        open: open.iter().map(IncidentView::from).collect(),
        recent_incidents: recent.iter().map(IncidentView::from).collect(),
        notifications: notifications.iter().map(NotificationView::from).collect(),
    })
}
