//! Each schedule kind before / in / after its time, in America/New_York,
//! with the scenarios of the original system's checklist (7.1 items 6–10).

mod common;

use common::*;
use rebound_domain::decision::{AlertLevel, DecisionAction::*};
use rebound_domain::plan::ScheduleKind;
use rebound_schedule::{Facts, SlotFact, fact_dates};

// ----- cron ---------------------------------------------------------------

#[test]
fn cron_runs_the_due_slot_once() {
    let s = || schedule(cron("0 5 * * *"));
    let cases = [
        // (now ET, facts, action, reason contains, slot, next_check ET)
        (
            "2026-01-05 04:59",
            running(et("2026-01-05 04:58"), vec![]),
            Skip,
            "no slot due; next slot 05:00 on 2026-01-05 (cron 0 5 * * *)",
            "idle",
            "2026-01-05 05:00",
        ),
        (
            "2026-01-05 05:00:10",
            running(et("2026-01-05 04:59"), vec![]),
            Run,
            "cron 0 5 * * * slot 05:00",
            "05:00",
            "2026-01-06 00:01",
        ),
        (
            "2026-01-05 05:00:40",
            running(
                et("2026-01-05 05:00:10"),
                vec![claimed("2026-01-05", "05:00", et("2026-01-05 05:00:11"))],
            ),
            Skip,
            "slot 05:00 already claimed at 2026-01-05 05:00:11 EST",
            "05:00",
            "2026-01-06 00:01",
        ),
    ];
    for (now, facts, action, reason, slot, next) in cases {
        let evaluation = eval_with(s(), et(now), &facts, &no_calendars());
        assert_eq!(evaluation.decisions.len(), 1, "{now}");
        let decision = &evaluation.decisions[0];
        assert_eq!(decision.action, action, "{now}: {}", decision.reason);
        assert!(
            decision.reason.contains(reason),
            "{now}: {}",
            decision.reason
        );
        assert_eq!(decision.slot, slot, "{now}");
        assert_eq!(decision.target_date, d("2026-01-05"), "{now}");
        assert_eq!(evaluation.next_check, et(next), "{now}");
    }
}

#[test]
fn invalid_cron_is_an_abort_not_a_silent_skip() {
    let decision = primary(
        schedule(cron("0 5 * *")),
        et("2026-01-05 05:00"),
        &Facts::default(),
        &no_calendars(),
    );
    assert_eq!(decision.action, Abort);
    assert_eq!(decision.alert_level, AlertLevel::Critical);
    assert!(
        decision.reason.starts_with("evaluation error: "),
        "{}",
        decision.reason
    );
}

// ----- window (7.1 item 7) -------------------------------------------------

#[test]
fn window_before_in_after_and_already_done_in_et() {
    let s = || schedule(window("06:00", "10:00"));
    let done = |at: &str| vec![claimed("2026-01-05", "window", et(at))];
    let cases = [
        (
            "2026-01-05 05:00",
            vec![],
            Skip,
            "too early: window opens at 06:00",
            "2026-01-05 06:00",
        ),
        (
            "2026-01-05 06:00",
            vec![],
            Run,
            "in window 06:00–10:00 for 2026-01-05",
            "2026-01-05 10:00",
        ),
        (
            "2026-01-05 09:59",
            vec![],
            Run,
            "in window",
            "2026-01-05 10:00",
        ),
        (
            "2026-01-05 08:00",
            done("2026-01-05 06:00"),
            Skip,
            "already ran for 2026-01-05 (window)",
            "2026-01-05 10:00",
        ),
        (
            "2026-01-05 10:00",
            vec![],
            Skip,
            "window 06:00–10:00 closed; not run for 2026-01-05",
            "2026-01-06 00:01",
        ),
        // 21:00 ET is 02:00 UTC on the 6th: still the 5th's window, done.
        (
            "2026-01-05 21:00",
            done("2026-01-05 06:00"),
            Skip,
            "already ran for 2026-01-05 (window)",
            "2026-01-06 00:01",
        ),
    ];
    for (now, slots, action, reason, next) in cases {
        let facts = running(et(now) - chrono::Duration::minutes(1), slots);
        let evaluation = eval_with(s(), et(now), &facts, &no_calendars());
        let decision = &evaluation.decisions[0];
        assert_eq!(evaluation.decisions.len(), 1);
        assert_eq!(decision.action, action, "{now}: {}", decision.reason);
        assert!(
            decision.reason.contains(reason),
            "{now}: {}",
            decision.reason
        );
        assert_eq!(decision.slot, "window");
        assert_eq!(decision.target_date, d("2026-01-05"), "{now}");
        assert_eq!(decision.scheduled_for, et("2026-01-05 06:00"));
        assert_eq!(evaluation.next_check, et(next), "{now}");
    }
}

#[test]
fn window_uses_the_et_date_when_the_utc_date_has_rolled_over() {
    // 21:00 ET on the 5th = 02:00 UTC on the 6th. A claim for the UTC date
    // (the 6th) must not count as "done" for the 5th.
    let now = et("2026-01-05 21:00");
    assert_eq!(now.date_naive(), d("2026-01-06"));
    let facts = running(
        now - chrono::Duration::minutes(1),
        vec![claimed(
            "2026-01-06",
            "window",
            now - chrono::Duration::hours(1),
        )],
    );
    let decision = primary(
        schedule(window("18:00", "23:00")),
        now,
        &facts,
        &no_calendars(),
    );
    assert_eq!(decision.action, Run, "{}", decision.reason);
    assert_eq!(decision.target_date, d("2026-01-05"));
}

#[test]
fn window_never_runs_after_end_even_after_downtime() {
    // Down all morning: the window closed at 10:00, it is not caught up.
    let facts = running(et("2026-01-05 05:00"), vec![]);
    let evaluation = eval_with(
        schedule(window("06:00", "10:00")),
        et("2026-01-05 11:00"),
        &facts,
        &no_calendars(),
    );
    assert_eq!(evaluation.decisions.len(), 1);
    assert_eq!(evaluation.decisions[0].action, Skip);
}

// ----- every + lead (7.1 item 8) -------------------------------------------

#[test]
fn every_with_lead_follows_the_first_game() {
    let s = || with_calendar(schedule(every("08:00", "20:00", hours(2), Some(hours(6)))));
    let game_day = || {
        calendars(games(&[
            ("g1", "2026-01-05 19:00"),
            ("g2", "2026-01-05 22:00"),
        ]))
    };
    let off_day = || calendars(games(&[("g0", "2026-01-04 19:00")]));
    let claim = |slot: &str, at: &str| vec![claimed("2026-01-05", slot, et(at))];
    let cases = [
        // no games today
        (
            "2026-01-05 14:00",
            vec![],
            off_day(),
            Skip,
            "no events in nba_games on 2026-01-05",
            "2026-01-05 16:00",
        ),
        // more than 6h before the first game
        (
            "2026-01-05 10:00",
            vec![],
            game_day(),
            Skip,
            "first event at 19:00; runs from 13:00 (lead 6h)",
            "2026-01-05 12:00",
        ),
        // outside 08–20
        (
            "2026-01-05 07:00",
            vec![],
            game_day(),
            Skip,
            "no slot due (every 2h from 08:00 to 20:00); next slot 08:00 on 2026-01-05",
            "2026-01-05 08:00",
        ),
        // ran < 2h ago: the 14:00 slot is claimed
        (
            "2026-01-05 15:00",
            claim("14:00", "2026-01-05 14:00"),
            game_day(),
            Skip,
            "slot 14:00 already claimed",
            "2026-01-05 16:00",
        ),
        // run
        (
            "2026-01-05 14:00:05",
            vec![],
            game_day(),
            Run,
            "every 2h from 08:00 to 20:00: slot 14:00; 2 events",
            "2026-01-05 16:00",
        ),
        // after tip-off it keeps running until 20:00
        (
            "2026-01-05 18:00",
            claim("16:00", "2026-01-05 16:00"),
            game_day(),
            Run,
            "slot 18:00",
            "2026-01-06 00:01",
        ),
    ];
    for (now, slots, cals, action, reason, next) in cases {
        let facts = running(et(now) - chrono::Duration::seconds(30), slots);
        let evaluation = eval_with(s(), et(now), &facts, &cals);
        let decision = &evaluation.decisions[0];
        assert_eq!(
            evaluation.decisions.len(),
            1,
            "{now}: {:?}",
            evaluation.decisions
        );
        assert_eq!(decision.action, action, "{now}: {}", decision.reason);
        assert!(
            decision.reason.contains(reason),
            "{now}: {}",
            decision.reason
        );
        assert_eq!(evaluation.next_check, et(next), "{now}");
        if action == Run {
            assert_eq!(decision.entities, ["g1", "g2"]);
            assert!(!decision.restrict_entities, "calendar only: not restricted");
        }
    }
}

#[test]
fn every_without_lead_or_calendar_runs_each_slot() {
    let facts = running(et("2026-01-05 09:59"), vec![]);
    let decision = primary(
        schedule(every("08:00", "20:00", mins(30), None)),
        et("2026-01-05 10:00"),
        &facts,
        &no_calendars(),
    );
    assert_eq!(decision.action, Run);
    assert_eq!(decision.slot, "10:00");
    assert!(decision.entities.is_empty());
}

// ----- at (7.1 item 9) ------------------------------------------------------

#[test]
fn post_game_windows_target_yesterday_within_tolerance() {
    // An `at` slot is due from `at` to `at + tolerance`, never before.
    let cases = [
        // (at, now ET, action, target, slot, scheduled_for ET, next_check ET)
        (
            "22:00",
            "2026-01-05 22:05",
            Run,
            "2026-01-04",
            "22:00",
            "2026-01-05 22:00",
            "2026-01-05 22:30:01",
        ),
        (
            "22:00",
            "2026-01-05 21:29",
            Skip,
            "2026-01-04",
            "idle",
            "2026-01-05 22:00",
            "2026-01-05 22:00",
        ),
        // Within the tolerance, but before `at`: not early.
        (
            "22:00",
            "2026-01-05 21:45",
            Skip,
            "2026-01-04",
            "idle",
            "2026-01-05 22:00",
            "2026-01-05 22:00",
        ),
        (
            "22:00",
            "2026-01-05 21:59:59",
            Skip,
            "2026-01-04",
            "idle",
            "2026-01-05 22:00",
            "2026-01-05 22:00",
        ),
        (
            "22:00",
            "2026-01-05 22:00",
            Run,
            "2026-01-04",
            "22:00",
            "2026-01-05 22:00",
            "2026-01-05 22:30:01",
        ),
        (
            "01:00",
            "2026-01-06 01:10",
            Run,
            "2026-01-05",
            "01:00",
            "2026-01-06 01:00",
            "2026-01-06 01:30:01",
        ),
        (
            "01:00",
            "2026-01-06 00:30",
            Skip,
            "2026-01-05",
            "idle",
            "2026-01-06 01:00",
            "2026-01-06 01:00",
        ),
        // The last due instant: exactly `tolerance` late.
        (
            "01:00",
            "2026-01-06 01:30",
            Run,
            "2026-01-05",
            "01:00",
            "2026-01-06 01:00",
            "2026-01-06 01:30:01",
        ),
        (
            "01:00",
            "2026-01-06 01:31",
            Skip,
            "2026-01-06",
            "idle",
            "2026-01-07 01:00",
            "2026-01-07 00:01",
        ),
        (
            "04:00",
            "2026-01-06 04:30",
            Run,
            "2026-01-05",
            "04:00",
            "2026-01-06 04:00",
            "2026-01-06 04:30:01",
        ),
    ];
    for (at_time, now, action, target, slot, scheduled, next) in cases {
        let s = yesterday(schedule(at(at_time, mins(30))));
        let facts = running(et(now) - chrono::Duration::seconds(30), vec![]);
        let evaluation = eval_with(s, et(now), &facts, &no_calendars());
        assert_eq!(evaluation.decisions.len(), 1, "{at_time} {now}");
        let decision = &evaluation.decisions[0];
        assert_eq!(
            decision.action, action,
            "{at_time} {now}: {}",
            decision.reason
        );
        assert_eq!(decision.target_date, d(target), "{at_time} {now}");
        assert_eq!(decision.slot, slot, "{at_time} {now}");
        assert_eq!(decision.scheduled_for, et(scheduled), "{at_time} {now}");
        assert_eq!(evaluation.next_check, et(next), "{at_time} {now}");
        if action == Skip {
            assert_eq!(decision.reason, format!("outside {at_time} to 30m late"));
        } else {
            // More than max_idle + 1 minute after the slot, with no decision
            // for it, the run is labelled as a catch-up.
            let late = et(now) - et(scheduled) > chrono::Duration::minutes(2);
            let prefix = if late {
                format!("catch-up: slot {at_time} missed while down; ")
            } else {
                String::new()
            };
            assert_eq!(
                decision.reason,
                format!("{prefix}at {at_time} (up to 30m late) for {target}"),
                "{at_time} {now}"
            );
        }
    }
}

#[test]
fn at_crosses_midnight_to_the_right_date() {
    // at 23:50 with 30m tolerance is still due at 00:10 the next day, for
    // the evening's date (or the day before it, with target yesterday).
    let cases = [
        (schedule(at("23:50", mins(30))), "2026-01-05"),
        (yesterday(schedule(at("23:50", mins(30)))), "2026-01-04"),
    ];
    for (s, target) in cases {
        let facts = running(et("2026-01-06 00:09"), vec![]);
        let evaluation = eval_with(s, et("2026-01-06 00:10"), &facts, &no_calendars());
        assert_eq!(evaluation.decisions.len(), 1, "{:?}", evaluation.decisions);
        let decision = &evaluation.decisions[0];
        assert_eq!(decision.action, Run, "{}", decision.reason);
        assert_eq!(decision.slot, "23:50");
        assert_eq!(decision.target_date, d(target));
        assert_eq!(decision.scheduled_for, et("2026-01-05 23:50"));
        assert_eq!(
            decision.reason,
            format!(
                "catch-up: slot 23:50 missed while down; at 23:50 (up to 30m late) for {target}"
            )
        );
        assert_eq!(evaluation.next_check, et("2026-01-06 00:20:01"));
    }

    // at 00:10 is not due at 23:45 the evening before: never early. The
    // check after that is capped at midnight + 1 minute; from there the
    // next one is the slot itself, which then runs for the right date.
    for (target_yesterday, target) in [(false, "2026-01-06"), (true, "2026-01-05")] {
        let s = || {
            let s = schedule(at("00:10", mins(30)));
            if target_yesterday { yesterday(s) } else { s }
        };
        let facts = running(et("2026-01-05 23:44"), vec![]);
        let evaluation = eval_with(s(), et("2026-01-05 23:45"), &facts, &no_calendars());
        assert_eq!(evaluation.decisions.len(), 1, "{:?}", evaluation.decisions);
        let decision = &evaluation.decisions[0];
        assert_eq!(decision.action, Skip, "{}", decision.reason);
        assert_eq!(decision.reason, "outside 00:10 to 30m late");
        assert_eq!(decision.slot, "idle");
        assert_eq!(decision.target_date, d(target));
        assert_eq!(decision.scheduled_for, et("2026-01-06 00:10"));
        assert_eq!(evaluation.next_check, et("2026-01-06 00:01"));

        let facts = running(et("2026-01-05 23:45"), vec![]);
        let evaluation = eval_with(s(), et("2026-01-06 00:01"), &facts, &no_calendars());
        let decision = &evaluation.decisions[0];
        assert_eq!(decision.action, Skip, "{}", decision.reason);
        assert_eq!(decision.reason, "outside 00:10 to 30m late");
        assert_eq!(evaluation.next_check, et("2026-01-06 00:10"));

        let facts = running(et("2026-01-06 00:01"), vec![]);
        let decision = primary(s(), et("2026-01-06 00:10"), &facts, &no_calendars());
        assert_eq!(decision.action, Run, "{}", decision.reason);
        assert_eq!(
            decision.reason,
            format!("at 00:10 (up to 30m late) for {target}")
        );
        assert_eq!(decision.slot, "00:10");
        assert_eq!(decision.target_date, d(target));
        assert_eq!(decision.scheduled_for, et("2026-01-06 00:10"));
    }
}

#[test]
fn post_game_window_runs_only_for_missing_games() {
    let s = || only_missing(with_calendar(yesterday(schedule(at("01:00", mins(30))))));
    let cals = calendars(games(&[
        ("g1", "2026-01-05 19:00"),
        ("g2", "2026-01-05 19:30"), // 00:30 UTC on the 6th: still the 5th's game
        ("g3", "2026-01-05 22:00"),
        ("g9", "2026-01-06 19:00"),
    ]));
    let now = et("2026-01-06 01:00");
    let mut facts = running(now - chrono::Duration::minutes(1), vec![]);
    facts
        .collected
        .insert(d("2026-01-05"), ["g1".to_string()].into());
    let decision = primary(s(), now, &facts, &cals);
    assert_eq!(decision.action, Run, "{}", decision.reason);
    assert_eq!(decision.entities, ["g2", "g3"]);
    assert!(decision.restrict_entities);
    assert!(
        decision.reason.contains("2 of 3 missing"),
        "{}",
        decision.reason
    );

    facts
        .collected
        .insert(d("2026-01-05"), ["g1", "g2", "g3"].map(String::from).into());
    let decision = primary(s(), now, &facts, &cals);
    assert_eq!(decision.action, Skip);
    assert_eq!(
        decision.reason,
        "all 3 events already collected for 2026-01-05"
    );
}

// ----- early games (7.1 item 10) --------------------------------------------

fn early_games(after: bool, missing: bool) -> rebound_domain::plan::Schedule {
    let mut s = with_calendar(schedule(ScheduleKind::At {
        at: t("21:30"),
        tolerance: mins(30),
        events_before: Some(t("19:00")),
        after_event_start: after.then(|| hours(3)),
    }));
    s.only_missing = missing;
    s
}

#[test]
fn early_games_only_before_19_only_3h_after_tip_only_uncollected() {
    let slate = || {
        calendars(games(&[
            ("g1", "2026-01-05 13:00"),
            ("g2", "2026-01-05 16:00"),
            ("g3", "2026-01-05 18:45"), // 3h old at 21:45, inside the slot's tolerance
            ("g4", "2026-01-05 19:00"), // not early
            ("g5", "2026-01-05 19:30"),
        ]))
    };
    let collected = |ids: &[&str]| -> Facts {
        let mut f = running(et("2026-01-05 20:59"), vec![]);
        f.collected
            .insert(d("2026-01-05"), ids.iter().map(|s| s.to_string()).collect());
        f
    };
    // (schedule, now, facts, calendars, action, entities, reason contains, next_check)
    let cases = [
        // 21:10: g1 and g2 are 3h old, but the slot is 21:30: never early.
        (
            early_games(true, true),
            "2026-01-05 21:10",
            collected(&["g1"]),
            slate(),
            Skip,
            vec![],
            "outside 21:30 to 30m late",
            "2026-01-05 21:30",
        ),
        // 21:30: g3 (18:45) is not 3h old yet; g1, g2 are; g1 collected.
        // Look again when g3 is.
        (
            early_games(true, true),
            "2026-01-05 21:30",
            collected(&["g1"]),
            slate(),
            Run,
            vec!["g2"],
            "1 of 2 missing",
            "2026-01-05 21:45",
        ),
        (
            early_games(true, true),
            "2026-01-05 21:45",
            collected(&["g1"]),
            slate(),
            Run,
            vec!["g2", "g3"],
            "2 of 3 missing",
            "2026-01-05 22:00:01",
        ),
        (
            early_games(true, true),
            "2026-01-05 21:50",
            collected(&["g1", "g2", "g3"]),
            slate(),
            Skip,
            vec![],
            "all 3 events already collected for 2026-01-05",
            "2026-01-05 22:00:01",
        ),
        // Without only_missing the filtered events are the run's entities.
        (
            early_games(true, false),
            "2026-01-05 21:45",
            collected(&["g1"]),
            slate(),
            Run,
            vec!["g1", "g2", "g3"],
            "3 events",
            "2026-01-05 22:00:01",
        ),
        // Only a late game: nothing early.
        (
            early_games(true, true),
            "2026-01-05 21:30",
            collected(&[]),
            calendars(games(&[("g4", "2026-01-05 19:00")])),
            Skip,
            vec![],
            "no events before 19:00 on 2026-01-05",
            "2026-01-05 22:00:01",
        ),
        // The only early game started 2h40m ago: not yet, look again at 21:50.
        (
            early_games(true, true),
            "2026-01-05 21:30",
            collected(&[]),
            calendars(games(&[("g3", "2026-01-05 18:50")])),
            Skip,
            vec![],
            "no event started 3h ago yet",
            "2026-01-05 21:50",
        ),
        // events_before alone.
        (
            early_games(false, false),
            "2026-01-05 21:30",
            collected(&[]),
            slate(),
            Run,
            vec!["g1", "g2", "g3"],
            "3 events",
            "2026-01-05 22:00:01",
        ),
    ];
    for (s, now, facts, cals, action, entities, reason, next) in cases {
        let evaluation = eval_with(s, et(now), &facts, &cals);
        let decision = &evaluation.decisions[0];
        assert_eq!(decision.action, action, "{now}: {}", decision.reason);
        assert_eq!(decision.entities, entities, "{now}");
        assert!(
            decision.reason.contains(reason),
            "{now}: {}",
            decision.reason
        );
        assert_eq!(decision.restrict_entities, action == Run, "{now}");
        assert_eq!(evaluation.next_check, et(next), "{now}");
    }
}

#[test]
fn event_filters_without_a_calendar_are_an_abort() {
    let mut s = early_games(true, true);
    s.calendar = None;
    let facts = running(et("2026-01-05 21:29"), vec![]);
    let decision = primary(s, et("2026-01-05 21:30"), &facts, &no_calendars());
    assert_eq!(decision.action, Abort);
    assert_eq!(decision.alert_level, AlertLevel::Critical);
    assert!(
        decision.reason.contains("needs a calendar"),
        "{}",
        decision.reason
    );
}

// ----- discovery (7.1 item 6) ------------------------------------------------

fn injuries() -> rebound_domain::plan::Schedule {
    schedule(discovery("08:00", "20:00", hours(1), 12))
}

#[test]
fn discovery_polls_until_data_then_stops_for_the_et_day() {
    let attempts = |n: usize| -> Vec<SlotFact> {
        (0..n)
            .map(|k| {
                let slot = format!("{:02}:00", 8 + k);
                claimed("2026-01-05", &slot, et(&format!("2026-01-05 {slot}")))
            })
            .collect()
    };
    let cases = [
        (
            "2026-01-05 07:00",
            attempts(0),
            false,
            Skip,
            "too early: discovery starts at 08:00",
            "08:00",
            "2026-01-05 08:00",
        ),
        (
            "2026-01-05 08:00:05",
            attempts(0),
            false,
            Run,
            "discovery attempt 1/12",
            "08:00",
            "2026-01-05 09:00",
        ),
        // no_data: the 08:00 attempt is claimed, wait for the next interval
        (
            "2026-01-05 08:30",
            attempts(1),
            false,
            Skip,
            "attempt 08:00 claimed at 2026-01-05 08:00:00 EST, no data yet; next attempt at 09:00",
            "08:00",
            "2026-01-05 09:00",
        ),
        (
            "2026-01-05 09:00",
            attempts(1),
            false,
            Run,
            "discovery attempt 2/12",
            "09:00",
            "2026-01-05 10:00",
        ),
        // data found: done for the ET day
        (
            "2026-01-05 10:00",
            attempts(2),
            true,
            Skip,
            "data found for 2026-01-05; discovery done",
            "10:00",
            "2026-01-05 11:00",
        ),
        (
            "2026-01-05 21:00",
            attempts(4),
            false,
            Skip,
            "discovery window 08:00–20:00 closed; 4 attempts without data for 2026-01-05",
            "19:00",
            "2026-01-06 00:01",
        ),
    ];
    for (now, slots, found, action, reason, slot, next) in cases {
        let mut facts = running(et(now) - chrono::Duration::minutes(1), slots);
        if found {
            facts.data_found.insert(d("2026-01-05"));
        }
        let evaluation = eval_with(injuries(), et(now), &facts, &no_calendars());
        let decision = &evaluation.decisions[0];
        assert_eq!(evaluation.decisions.len(), 1);
        assert_eq!(decision.action, action, "{now}: {}", decision.reason);
        assert_eq!(decision.reason, reason, "{now}");
        assert_eq!(decision.slot, slot, "{now}");
        assert_eq!(decision.target_date, d("2026-01-05"));
        assert_eq!(evaluation.next_check, et(next), "{now}");
    }
}

#[test]
fn discovery_cap_warns_once_per_date() {
    let mut slots: Vec<SlotFact> = (8..20)
        .map(|h| {
            let slot = format!("{h:02}:00");
            claimed("2026-01-05", &slot, et(&format!("2026-01-05 {slot}")))
        })
        .collect();
    let now = et("2026-01-05 19:30");
    let first = primary(
        injuries(),
        now,
        &running(now, slots.clone()),
        &no_calendars(),
    );
    assert_eq!(first.action, Skip);
    assert_eq!(first.alert_level, AlertLevel::Warning);
    assert_eq!(
        first.reason,
        "max attempts (12) reached without data for 2026-01-05"
    );
    assert_eq!(first.slot, "max_attempts");

    slots.push(decided("2026-01-05", "max_attempts"));
    let later = primary(
        injuries(),
        now,
        &running(now, slots.clone()),
        &no_calendars(),
    );
    assert_eq!(later.action, Skip);
    assert_eq!(later.alert_level, AlertLevel::None);

    // The next ET day starts afresh.
    let tomorrow = et("2026-01-06 08:00");
    let next_day = primary(
        injuries(),
        tomorrow,
        &running(tomorrow, slots),
        &no_calendars(),
    );
    assert_eq!(next_day.action, Run);
    assert_eq!(next_day.reason, "discovery attempt 1/12");
}

#[test]
fn discovery_skips_off_days_and_ignores_utc_dates() {
    let s = || with_calendar(schedule(discovery("08:00", "23:00", hours(1), 12)));
    let now = et("2026-01-05 21:00");
    let off = primary(
        s(),
        now,
        &running(now, vec![]),
        &calendars(games(&[("g", "2026-01-06 19:00")])),
    );
    assert_eq!(off.action, Skip);
    assert_eq!(off.reason, "no events in nba_games on 2026-01-05");

    // Data found for the UTC date (the 6th) does not end the 5th's discovery.
    let mut facts = running(now, vec![]);
    facts.data_found.insert(d("2026-01-06"));
    let on = primary(
        s(),
        now,
        &facts,
        &calendars(games(&[("g", "2026-01-05 19:00")])),
    );
    assert_eq!(on.action, Run, "{}", on.reason);
    assert_eq!(on.target_date, d("2026-01-05"));
}

// ----- calendars ---------------------------------------------------------------

#[test]
fn calendar_without_data_warns_and_a_broken_one_aborts() {
    let s = || with_calendar(schedule(window("06:00", "10:00")));
    let now = et("2026-01-05 07:00");
    let facts = running(now, vec![]);
    let missing = primary(s(), now, &facts, &no_calendars());
    assert_eq!(missing.action, Skip);
    assert_eq!(missing.alert_level, AlertLevel::Warning);
    assert_eq!(missing.reason, "calendar nba_games has no data yet");

    let broken = primary(s(), now, &facts, &Broken);
    assert_eq!(broken.action, Abort);
    assert_eq!(broken.alert_level, AlertLevel::Critical);
    assert_eq!(
        broken.reason,
        "evaluation error: calendar nba_games: payload is not JSON"
    );

    // Too early: the calendar is not read, so no alert all night.
    let early = primary(s(), et("2026-01-05 03:00"), &facts, &Broken);
    assert_eq!(early.action, Skip);
    assert_eq!(early.alert_level, AlertLevel::None);
}

#[test]
fn a_workflow_without_schedule_is_never_evaluated() {
    let p = plan(vec![workflow("manual", None)]);
    let now = et("2026-01-05 12:00");
    let evaluation =
        rebound_schedule::evaluate(&p, &p.workflows["manual"], now, &Facts::default(), &Broken);
    assert!(evaluation.decisions.is_empty());
    assert!(evaluation.next_check > now + chrono::Duration::days(30));
}

#[test]
fn next_check_stays_between_one_second_and_midnight_plus_a_minute() {
    let kinds = [
        schedule(cron("*/7 * * * *")),
        schedule(window("06:00", "10:00")),
        with_calendar(schedule(every("08:00", "20:00", hours(2), Some(hours(6))))),
        yesterday(schedule(at("00:10", mins(30)))),
        early_games(true, true),
        injuries(),
    ];
    let cals = calendars(games(&[
        ("g1", "2026-01-05 13:00"),
        ("g2", "2026-01-05 19:30"),
    ]));
    for s in kinds {
        let mut now = et("2026-01-05 00:00");
        while now < et("2026-01-06 00:00") {
            let evaluation = eval_with(s.clone(), now, &running(now, vec![]), &cals);
            let midnight = if now < et("2026-01-06 00:00") {
                et("2026-01-06 00:01")
            } else {
                et("2026-01-07 00:01")
            };
            assert!(
                evaluation.next_check >= now + chrono::Duration::seconds(1),
                "{s:?} {now}"
            );
            assert!(evaluation.next_check <= midnight, "{s:?} {now}");
            now += chrono::Duration::minutes(13);
        }
    }
}

#[test]
fn fact_dates_cover_catch_up_and_tomorrow_in_target_dates() {
    let now = et("2026-01-05 12:00");
    let today = fact_dates(&schedule(cron("0 5 * * *")), ny(), now, hours(6));
    assert_eq!(today, d("2026-01-03")..=d("2026-01-06"));
    let yday = fact_dates(&yesterday(schedule(cron("0 5 * * *"))), ny(), now, hours(6));
    assert_eq!(yday, d("2026-01-02")..=d("2026-01-05"));
    // 21:00 ET is the 6th in UTC; the dates are still ET dates.
    let evening = fact_dates(
        &schedule(cron("0 5 * * *")),
        ny(),
        et("2026-01-05 21:00"),
        hours(6),
    );
    assert_eq!(*evening.end(), d("2026-01-06"));
}

#[test]
fn fanned_scrapers_are_those_over_the_schedule_calendar() {
    use rebound_domain::plan::{ForEach, Step};
    let mut p = plan(vec![]);
    let over = |cal: &str, param: &str| {
        Some(ForEach::Calendar {
            calendar: cal.to_string(),
            param: param.to_string(),
        })
    };
    p.scrapers
        .insert("box".into(), scraper("box", over(GAMES, "game_id")));
    p.scrapers
        .insert("pbp".into(), scraper("pbp", over(GAMES, "game_id")));
    p.scrapers
        .insert("other".into(), scraper("other", over("wnba", "game_id")));
    p.scrapers.insert("sched".into(), scraper("sched", None));
    let mut wf = workflow("post", Some(with_calendar(schedule(at("01:00", mins(30))))));
    wf.steps = vec![
        Step {
            scrapers: vec!["sched".into(), "pbp".into()],
            after: vec![],
        },
        Step {
            scrapers: vec!["box".into(), "other".into()],
            after: vec![],
        },
    ];
    assert_eq!(
        rebound_schedule::fanned_scrapers(&p, &wf),
        Some((
            "game_id".to_string(),
            vec!["pbp".to_string(), "box".to_string()]
        ))
    );
    wf.schedule = Some(schedule(at("01:00", mins(30))));
    assert_eq!(rebound_schedule::fanned_scrapers(&p, &wf), None);
}
