//! Builders for plans, times and facts in America/New_York, so each test
//! reads as the scenario it checks.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use rebound_domain::calendar::Event;
use rebound_domain::plan::{
    DatabaseLocation, ForEach, Pipeline, Plan, RawStoreLocation, Schedule, ScheduleKind,
    SchedulerSettings, Scraper, Step, TargetDate, Workflow,
};
use rebound_domain::redact::Redactor;
use rebound_domain::retry::RetryPolicy;
use rebound_domain::template::Template;
use rebound_schedule::{
    CalendarSource, Decision, Evaluation, Facts, SlotFact, evaluate, local_instant,
};
use std::collections::BTreeMap;
use std::time::Duration;

pub const GAMES: &str = "nba_games";

pub fn ny() -> Tz {
    "America/New_York".parse().unwrap()
}

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn t(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap()
}

/// A New York wall-clock time, `2026-01-05 21:00` or with seconds.
pub fn et(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .unwrap();
    local_instant(ny(), naive.date(), naive.time())
}

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

pub fn schedule(kind: ScheduleKind) -> Schedule {
    Schedule {
        kind,
        calendar: None,
        target_date: TargetDate::Today,
        only_missing: false,
        retry: None,
    }
}

/// Retries of failed or partial runs (`retry_every`, `retry_max`).
pub fn with_retry(mut s: Schedule, every: Duration, max: u32) -> Schedule {
    s.retry = Some(rebound_domain::plan::ScheduleRetry { every, max });
    s
}

pub fn with_calendar(mut s: Schedule) -> Schedule {
    s.calendar = Some(GAMES.to_string());
    s
}

pub fn yesterday(mut s: Schedule) -> Schedule {
    s.target_date = TargetDate::Yesterday;
    s
}

pub fn only_missing(mut s: Schedule) -> Schedule {
    s.only_missing = true;
    s
}

pub fn cron(expr: &str) -> ScheduleKind {
    ScheduleKind::Cron {
        cron: expr.to_string(),
    }
}

pub fn window(start: &str, end: &str) -> ScheduleKind {
    ScheduleKind::Window {
        start: t(start),
        end: t(end),
    }
}

pub fn every(start: &str, end: &str, every: Duration, lead: Option<Duration>) -> ScheduleKind {
    ScheduleKind::Every {
        start: t(start),
        end: t(end),
        every,
        lead,
    }
}

pub fn at(at: &str, tolerance: Duration) -> ScheduleKind {
    ScheduleKind::At {
        at: t(at),
        tolerance,
        events_before: None,
        after_event_start: None,
    }
}

pub fn discovery(start: &str, end: &str, every: Duration, max_attempts: u32) -> ScheduleKind {
    ScheduleKind::Discovery {
        start: t(start),
        end: t(end),
        every,
        max_attempts,
    }
}

pub fn workflow(name: &str, schedule: Option<Schedule>) -> Workflow {
    Workflow {
        name: name.to_string(),
        steps: vec![Step {
            scrapers: vec![format!("{name}_scraper")],
            after: Vec::new(),
        }],
        schedule,
    }
}

pub fn scraper(name: &str, for_each: Option<ForEach>) -> Scraper {
    Scraper {
        name: name.to_string(),
        source: "sim".to_string(),
        method: "GET".to_string(),
        path: Template::literal("/x"),
        query: Vec::new(),
        headers: Vec::new(),
        records: None,
        no_data: Default::default(),
        dataset: name.to_string(),
        retry: RetryPolicy::default(),
        for_each,
        expected: None,
        lockout: None,
        timeout: None,
        paginate: None,
        item_params: Vec::new(),
        valid: Default::default(),
        format: Default::default(),
        min_bytes: 1,
        transform: None,
        conditional: false,
    }
}

/// A plan in New York with these workflows and the default `[scheduler]`
/// (catch_up 6h, max_idle 60s).
pub fn plan(workflows: Vec<Workflow>) -> Plan {
    Plan {
        config_path: None,
        pipeline: Pipeline {
            name: "test".to_string(),
            timezone: ny(),
            database: DatabaseLocation::Sqlite {
                path: "history.db".into(),
            },
            connect_timeout: None,
            raw_store: RawStoreLocation::File { path: "raw".into() },
            retention: None,
            season: None,
        },
        sources: BTreeMap::new(),
        scrapers: BTreeMap::new(),
        workflows: workflows.into_iter().map(|w| (w.name.clone(), w)).collect(),
        calendars: BTreeMap::new(),
        scheduler: SchedulerSettings::default(),
        alerts: Default::default(),
        handoff: Default::default(),
        datasets: BTreeMap::new(),
        server: Default::default(),
        redactor: Redactor::default(),
    }
}

/// Events with New York start times: `[("g1", "2026-01-05 19:00")]`.
pub fn games(list: &[(&str, &str)]) -> Vec<Event> {
    list.iter()
        .map(|(id, start)| Event {
            id: id.to_string(),
            start: et(start),
        })
        .collect()
}

pub fn calendars(events: Vec<Event>) -> BTreeMap<String, Vec<Event>> {
    BTreeMap::from([(GAMES.to_string(), events)])
}

pub fn no_calendars() -> BTreeMap<String, Vec<Event>> {
    BTreeMap::new()
}

/// A calendar whose read fails.
pub struct Broken;

impl CalendarSource for Broken {
    fn events(&self, _calendar: &str) -> Result<Option<Vec<Event>>, String> {
        Err("payload is not JSON".to_string())
    }
}

pub fn claimed(target: &str, slot: &str, at: DateTime<Utc>) -> SlotFact {
    SlotFact::claimed(d(target), slot, at)
}

pub fn decided(target: &str, slot: &str) -> SlotFact {
    SlotFact::decided(d(target), slot)
}

/// A slot whose run (execution `execution`) was claimed at `at` and
/// finished with `status` at `finished`.
pub fn finished(
    target: &str,
    slot: &str,
    execution: &str,
    at: DateTime<Utc>,
    status: &str,
    finished: DateTime<Utc>,
) -> SlotFact {
    SlotFact {
        execution_id: Some(execution.to_string()),
        result_status: Some(status.to_string()),
        finished_at: Some(finished),
        ..SlotFact::claimed(d(target), slot, at)
    }
}

/// Facts of a scheduler that has been running: it last decided just before `now`.
pub fn running(last: DateTime<Utc>, slots: Vec<SlotFact>) -> Facts {
    Facts {
        slots,
        last_decided_at: Some(last),
        ..Facts::default()
    }
}

/// Evaluates the only workflow of a one-workflow plan.
pub fn eval_with(
    s: Schedule,
    now: DateTime<Utc>,
    facts: &Facts,
    cals: &dyn CalendarSource,
) -> Evaluation {
    let p = plan(vec![workflow("wf", Some(s))]);
    let evaluation = evaluate(&p, &p.workflows["wf"], now, facts, cals);
    for decision in &evaluation.decisions {
        assert!(!decision.reason.is_empty(), "empty reason: {decision:?}");
        assert_eq!(decision.workflow, "wf");
    }
    evaluation
}

/// The first (primary) decision.
pub fn primary(
    s: Schedule,
    now: DateTime<Utc>,
    facts: &Facts,
    cals: &dyn CalendarSource,
) -> Decision {
    eval_with(s, now, facts, cals)
        .decisions
        .into_iter()
        .next()
        .expect("one decision")
}
