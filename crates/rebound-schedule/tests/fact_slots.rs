//! `fact_slots` names every slot whose facts an evaluation reads: a
//! scheduler that reads only those slots decides exactly as one that reads
//! whole dates, through steady ticks, an outage with missed slots, slots
//! decided but never claimed (another scheduler's SKIP) and DST changes.

mod common;

use common::*;
use rebound_domain::decision::DecisionAction;
use rebound_domain::plan::ScheduleKind;
use rebound_schedule::{Facts, SlotFact, evaluate, fact_dates, fact_slots};
use std::collections::BTreeMap;

/// The facts a scheduler reading `keys` would get out of `all`.
fn only(all: &Facts, keys: &[(chrono::NaiveDate, String)]) -> Facts {
    Facts {
        slots: all
            .slots
            .iter()
            .filter(|f| {
                keys.iter()
                    .any(|(d, s)| *d == f.target_date && *s == f.slot)
            })
            .cloned()
            .collect(),
        ..all.clone()
    }
}

/// Steps a scheduler through `from..to` in `step` minutes, down between
/// `down.0` and `down.1`, and checks at each instant that the decisions
/// and next check from the slots `fact_slots` names equal those from the
/// dates `fact_dates` covers. Returns how many evaluations used fewer rows.
fn same_decisions(
    kind: ScheduleKind,
    from: &str,
    to: &str,
    step: i64,
    down: (&str, &str),
) -> usize {
    let s = schedule(kind);
    let plan = plan(vec![workflow("w", Some(s.clone()))]);
    let wf = &plan.workflows["w"];
    let calendars: BTreeMap<String, Vec<rebound_domain::calendar::Event>> = BTreeMap::new();
    let mut all = Facts::default();
    let (mut now, end) = (et(from), et(to));
    let (down_from, down_to) = (et(down.0), et(down.1));
    let mut smaller = 0;
    let mut tick = 0u32;
    while now < end {
        tick += 1;
        if now >= down_from && now < down_to {
            now += chrono::Duration::minutes(step);
            continue;
        }
        let dates = fact_dates(&s, ny(), now, plan.scheduler.catch_up);
        let by_dates = Facts {
            slots: all
                .slots
                .iter()
                .filter(|f| dates.contains(&f.target_date))
                .cloned()
                .collect(),
            ..all.clone()
        };
        let keys = fact_slots(&plan, wf, now, all.last_decided_at)
            .expect("cron and every name their slots");
        let by_slots = only(&all, &keys);
        if by_slots.slots.len() < by_dates.slots.len() {
            smaller += 1;
        }
        let want = evaluate(&plan, wf, now, &by_dates, &calendars);
        let got = evaluate(&plan, wf, now, &by_slots, &calendars);
        assert_eq!(got.decisions, want.decisions, "at {now}");
        assert_eq!(got.next_check, want.next_check, "at {now}");
        for decision in &want.decisions {
            // Every fifth RUN stands for another scheduler's decision that
            // lost the claim: decided, never claimed.
            let claimed = decision.action == DecisionAction::Run && !tick.is_multiple_of(5);
            all.slots.push(SlotFact {
                claimed_at: claimed.then_some(now),
                ..SlotFact::decided(decision.target_date, &decision.slot)
            });
        }
        if !want.decisions.is_empty() {
            all.last_decided_at = Some(now);
        }
        now += chrono::Duration::minutes(step);
    }
    smaller
}

#[test]
fn a_minutely_cron_reads_its_current_and_missed_slots_only() {
    let smaller = same_decisions(
        cron("* * * * *"),
        "2026-01-05 00:00",
        "2026-01-06 12:00",
        1,
        ("2026-01-05 09:10", "2026-01-05 13:45"),
    );
    assert!(smaller > 1_000, "fewer rows on most ticks, was {smaller}");
}

#[test]
fn an_uneven_cron_ticked_off_its_slots_decides_the_same() {
    same_decisions(
        cron("*/7 * * * *"),
        "2026-01-05 00:00",
        "2026-01-07 00:00",
        3,
        ("2026-01-05 22:00", "2026-01-06 07:00"),
    );
}

#[test]
fn every_slots_across_both_dst_changes_decide_the_same() {
    for (from, to, down) in [
        (
            "2026-03-07 00:00",
            "2026-03-09 06:00",
            ("2026-03-08 01:10", "2026-03-08 04:20"),
        ),
        (
            "2026-10-31 00:00",
            "2026-11-02 06:00",
            ("2026-11-01 00:40", "2026-11-01 01:20"),
        ),
    ] {
        same_decisions(every("00:00", "23:30", mins(15), None), from, to, 5, down);
        same_decisions(cron("*/10 * * * *"), from, to, 4, down);
    }
}

#[test]
fn the_other_kinds_read_whole_dates() {
    for kind in [
        at("05:00", mins(30)),
        window("06:00", "10:00"),
        discovery("06:00", "12:00", mins(30), 4),
    ] {
        let plan = plan(vec![workflow("w", Some(schedule(kind)))]);
        let wf = &plan.workflows["w"];
        assert_eq!(fact_slots(&plan, wf, et("2026-01-05 09:00"), None), None);
    }
    let none = plan(vec![workflow("w", None)]);
    assert_eq!(
        fact_slots(&none, &none.workflows["w"], et("2026-01-05 09:00"), None),
        None
    );
}
