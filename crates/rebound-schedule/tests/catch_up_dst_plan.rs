//! Catch-up after downtime, duplicate evaluations (7.1 item 13), DST and
//! UTC-midnight boundaries (item 19), and the `rebound plan` dry run.

mod common;

use chrono::Duration as Cd;
use common::*;
use rebound_domain::decision::{AlertLevel, DecisionAction::*};
use rebound_domain::plan::ScheduleKind;
use rebound_schedule::{Facts, MAX_CATCH_UP_DECISIONS, PlannedDecision, simulate_day};

fn summary(decisions: &[rebound_schedule::Decision]) -> Vec<(String, String, String)> {
    decisions
        .iter()
        .map(|d| {
            (
                d.slot.clone(),
                d.action.as_str().to_string(),
                d.target_date.to_string(),
            )
        })
        .collect()
}

fn row(slot: &str, action: &str, target: &str) -> (String, String, String) {
    (slot.into(), action.into(), target.into())
}

// ----- catch-up ---------------------------------------------------------------

#[test]
fn down_from_two_to_five_runs_the_latest_slot_and_skips_the_rest() {
    let hourly = schedule(cron("0 * * * *"));
    let facts = running(et("2026-01-05 01:59:30"), vec![]);
    let evaluation = eval_with(hourly, et("2026-01-05 05:00:20"), &facts, &no_calendars());
    assert_eq!(
        summary(&evaluation.decisions),
        [
            row("05:00", "RUN", "2026-01-05"),
            row("02:00", "SKIP", "2026-01-05"),
            row("03:00", "SKIP", "2026-01-05"),
            row("04:00", "SKIP", "2026-01-05"),
        ]
    );
    assert_eq!(evaluation.decisions[0].reason, "cron 0 * * * * slot 05:00");
    for skip in &evaluation.decisions[1..] {
        assert!(skip.reason.contains("missed while down"), "{}", skip.reason);
        assert!(
            skip.reason.contains("superseded by slot 05:00"),
            "{}",
            skip.reason
        );
    }
    assert_eq!(evaluation.next_check, et("2026-01-05 06:00"));
}

#[test]
fn catch_up_runs_the_latest_missed_slot_of_each_target_date() {
    // Down 22:30 → 01:00: the 5th's 23:00 slot runs late, the 6th's 00:00 is
    // superseded by the on-time 01:00.
    let hourly = schedule(cron("0 * * * *"));
    let facts = running(et("2026-01-05 22:30"), vec![]);
    let evaluation = eval_with(hourly, et("2026-01-06 01:00:10"), &facts, &no_calendars());
    assert_eq!(
        summary(&evaluation.decisions),
        [
            row("01:00", "RUN", "2026-01-06"),
            row("23:00", "RUN", "2026-01-05"),
            row("00:00", "SKIP", "2026-01-06"),
        ]
    );
    assert_eq!(
        evaluation.decisions[1].reason,
        "catch-up: slot 23:00 missed while down; cron 0 * * * * slot 23:00"
    );
}

#[test]
fn a_late_current_slot_is_labelled_catch_up_and_older_than_catch_up_is_skipped() {
    let daily = || schedule(cron("0 5 * * *"));
    let facts = running(et("2026-01-04 20:00"), vec![]);
    // 5h late: within catch_up (6h).
    let late = eval_with(daily(), et("2026-01-05 10:00"), &facts, &no_calendars());
    assert_eq!(
        summary(&late.decisions),
        [row("05:00", "RUN", "2026-01-05")]
    );
    assert_eq!(
        late.decisions[0].reason,
        "catch-up: slot 05:00 missed while down; cron 0 5 * * * slot 05:00"
    );
    // 7h late: too old, skipped with its own decision.
    let old = eval_with(daily(), et("2026-01-05 12:00"), &facts, &no_calendars());
    assert_eq!(
        summary(&old.decisions),
        [row("05:00", "SKIP", "2026-01-05")]
    );
    assert_eq!(
        old.decisions[0].reason,
        "slot 05:00 missed while down; older than catch_up 6h"
    );
}

#[test]
fn downtime_longer_than_catch_up_skips_the_older_slots() {
    let hourly = schedule(cron("0 * * * *"));
    // Down 10 hours; catch_up is 6h. 03:00–11:00 (target 5th) are missed,
    // 12:00 is on time and supersedes them all.
    let facts = running(et("2026-01-05 02:30"), vec![]);
    let evaluation = eval_with(hourly, et("2026-01-05 12:00:05"), &facts, &no_calendars());
    assert_eq!(evaluation.decisions[0].slot, "12:00");
    assert_eq!(evaluation.decisions[0].action, Run);
    let skips: Vec<&str> = evaluation.decisions[1..]
        .iter()
        .inspect(|d| assert_eq!(d.action, Skip))
        .map(|d| d.slot.as_str())
        .collect();
    assert_eq!(
        skips,
        [
            "03:00", "04:00", "05:00", "06:00", "07:00", "08:00", "09:00", "10:00", "11:00"
        ]
    );
}

#[test]
fn decided_or_claimed_slots_are_not_caught_up() {
    let hourly = schedule(cron("0 * * * *"));
    let facts = running(
        et("2026-01-05 01:59"),
        vec![
            decided("2026-01-05", "02:00"),
            claimed("2026-01-05", "03:00", et("2026-01-05 03:00")),
        ],
    );
    let evaluation = eval_with(hourly, et("2026-01-05 05:00"), &facts, &no_calendars());
    assert_eq!(
        summary(&evaluation.decisions),
        [
            row("05:00", "RUN", "2026-01-05"),
            row("04:00", "SKIP", "2026-01-05")
        ]
    );
}

#[test]
fn at_catch_up_ignores_tolerance_within_catch_up() {
    let s = || yesterday(schedule(at("01:00", mins(30))));
    let facts = running(et("2026-01-06 00:00"), vec![]);
    let evaluation = eval_with(s(), et("2026-01-06 03:00"), &facts, &no_calendars());
    assert_eq!(
        summary(&evaluation.decisions),
        [row("01:00", "RUN", "2026-01-05")]
    );
    assert!(
        evaluation.decisions[0]
            .reason
            .starts_with("catch-up: slot 01:00 missed while down; ")
    );

    // Beyond catch_up (6h): SKIP, not RUN.
    let evaluation = eval_with(s(), et("2026-01-06 07:30"), &facts, &no_calendars());
    assert_eq!(
        summary(&evaluation.decisions),
        [row("01:00", "SKIP", "2026-01-05")]
    );
}

#[test]
fn catch_up_goes_through_the_same_calendar_gate() {
    let s = only_missing(with_calendar(yesterday(schedule(at("01:00", mins(30))))));
    let mut facts = running(et("2026-01-06 00:00"), vec![]);
    facts
        .collected
        .insert(d("2026-01-05"), ["g1".to_string()].into());
    let cals = calendars(games(&[
        ("g1", "2026-01-05 19:00"),
        ("g2", "2026-01-05 20:00"),
    ]));
    let evaluation = eval_with(s, et("2026-01-06 02:30"), &facts, &cals);
    let decision = &evaluation.decisions[0];
    assert_eq!(decision.action, Run);
    assert_eq!(decision.entities, ["g2"]);
    assert!(decision.restrict_entities);
}

#[test]
fn a_first_start_does_not_catch_up_the_past() {
    let hourly = schedule(cron("0 * * * *"));
    let evaluation = eval_with(
        hourly,
        et("2026-01-05 05:30"),
        &Facts::default(),
        &no_calendars(),
    );
    assert_eq!(evaluation.decisions.len(), 1);
    assert_eq!(evaluation.decisions[0].action, Skip);
    assert_eq!(evaluation.decisions[0].slot, "idle");
    assert_eq!(evaluation.next_check, et("2026-01-05 06:00"));
}

/// Item 8 of issue 15: a first start 55 s after a cron slot ran that slot
/// (it counted as "on time"), although nothing from the past should run.
#[test]
fn a_first_start_seconds_after_a_slot_does_not_run_it() {
    let hourly = schedule(cron("0 * * * *"));
    let evaluation = eval_with(
        hourly.clone(),
        et("2026-01-05 05:00:55"),
        &Facts::default(),
        &no_calendars(),
    );
    assert_eq!(
        summary(&evaluation.decisions),
        [row("idle", "SKIP", "2026-01-05")]
    );
    assert_eq!(evaluation.next_check, et("2026-01-05 06:00"));
    // A slot at the very instant of the first evaluation is not the past.
    let evaluation = eval_with(
        hourly,
        et("2026-01-05 06:00"),
        &Facts::default(),
        &no_calendars(),
    );
    assert_eq!(
        summary(&evaluation.decisions),
        [row("06:00", "RUN", "2026-01-05")]
    );
}

#[test]
fn catch_up_decisions_are_capped() {
    let minutely = schedule(cron("* * * * *"));
    let facts = running(et("2026-01-05 00:00"), vec![]);
    let evaluation = eval_with(minutely, et("2026-01-05 12:00"), &facts, &no_calendars());
    assert_eq!(evaluation.decisions[0].slot, "12:00");
    assert_eq!(evaluation.decisions[0].action, Run);
    assert_eq!(evaluation.decisions.len(), 1 + MAX_CATCH_UP_DECISIONS);
    // The newest are kept.
    assert_eq!(evaluation.decisions.last().unwrap().slot, "11:59");
}

#[test]
fn a_broken_calendar_during_catch_up_is_one_abort() {
    let s = with_calendar(schedule(cron("0 * * * *")));
    let facts = running(et("2026-01-05 01:59"), vec![]);
    let evaluation = eval_with(s, et("2026-01-05 05:00"), &facts, &Broken);
    assert_eq!(evaluation.decisions.len(), 1);
    assert_eq!(evaluation.decisions[0].action, Abort);
    assert_eq!(evaluation.decisions[0].alert_level, AlertLevel::Critical);
}

// ----- duplicates (7.1 item 13) ------------------------------------------------

#[test]
fn a_claimed_slot_is_never_run_again() {
    let s = || schedule(cron("0 5 * * *"));
    // Two schedulers a few seconds apart pick the same slot name.
    let a = primary(
        s(),
        et("2026-01-05 05:00:00"),
        &running(et("2026-01-05 04:59"), vec![]),
        &no_calendars(),
    );
    let b = primary(
        s(),
        et("2026-01-05 05:00:04"),
        &running(et("2026-01-05 04:59"), vec![]),
        &no_calendars(),
    );
    assert_eq!((a.action, b.action), (Run, Run));
    assert_eq!((&a.slot, a.target_date), (&b.slot, b.target_date));

    let claim = vec![claimed("2026-01-05", "05:00", et("2026-01-05 05:00:01"))];
    let cases = [
        // a second evaluation a few seconds later
        (
            "2026-01-05 05:00:05",
            running(et("2026-01-05 05:00:00"), claim.clone()),
        ),
        // after a restart (no last decision known)
        (
            "2026-01-05 05:00:30",
            Facts {
                slots: claim.clone(),
                ..Facts::default()
            },
        ),
        // after a restart, later in the day
        (
            "2026-01-05 09:00",
            running(et("2026-01-05 05:00"), claim.clone()),
        ),
    ];
    for (now, facts) in cases {
        let evaluation = eval_with(s(), et(now), &facts, &no_calendars());
        assert!(
            evaluation.decisions.iter().all(|d| d.action != Run),
            "{now}: {:?}",
            evaluation.decisions
        );
    }
}

// ----- DST and UTC midnight (7.1 item 19) ----------------------------------------

fn runs(planned: &[PlannedDecision]) -> Vec<(String, String, String, String)> {
    planned
        .iter()
        .filter(|p| p.action == Run)
        .map(|p| {
            (
                p.workflow.clone(),
                p.at.to_rfc3339(),
                p.slot.clone(),
                p.target_date.to_string(),
            )
        })
        .collect()
}

fn run(wf: &str, at: &str, slot: &str, target: &str) -> (String, String, String, String) {
    (wf.into(), at.into(), slot.into(), target.into())
}

#[test]
fn spring_forward_cron_in_the_gap_runs_once_at_three_edt() {
    let p = plan(vec![workflow("gap", Some(schedule(cron("30 2 * * *"))))]);
    let planned = simulate_day(&p, d("2026-03-08"), &no_calendars()).unwrap();
    assert_eq!(
        runs(&planned),
        [run(
            "gap",
            "2026-03-08T03:00:00-04:00",
            "02:30",
            "2026-03-08"
        )]
    );
    // And a live evaluation just after: claimed, not again.
    let facts = running(
        utc("2026-03-08T07:00:00Z"),
        vec![claimed("2026-03-08", "02:30", utc("2026-03-08T07:00:00Z"))],
    );
    let d2 = primary(
        schedule(cron("30 2 * * *")),
        utc("2026-03-08T07:00:30Z"),
        &facts,
        &no_calendars(),
    );
    assert_eq!(d2.action, Skip);
    assert_eq!(d2.scheduled_for, utc("2026-03-08T07:00:00Z"));
}

#[test]
fn spring_forward_window_inside_the_gap_runs_once_for_its_local_length() {
    // 02:00–02:45 does not exist on 2026-03-08 in New York: both ends map to
    // 03:00 EDT, which used to leave a window that closed as it opened.
    let gap = || schedule(window("02:00", "02:45"));
    let p = plan(vec![workflow("gap", Some(gap()))]);
    let planned = simulate_day(&p, d("2026-03-08"), &no_calendars()).unwrap();
    assert_eq!(
        runs(&planned),
        [run(
            "gap",
            "2026-03-08T03:00:00-04:00",
            "window",
            "2026-03-08"
        )]
    );
    // Live: open from 03:00 EDT for 45 minutes, closed after.
    let facts = running(utc("2026-03-08T07:10:00Z"), vec![]);
    let open = primary(gap(), utc("2026-03-08T07:10:30Z"), &facts, &no_calendars());
    assert_eq!(open.action, Run, "{}", open.reason);
    let facts = running(utc("2026-03-08T07:45:00Z"), vec![]);
    let closed = primary(gap(), utc("2026-03-08T07:45:30Z"), &facts, &no_calendars());
    assert_eq!(closed.action, Skip);
    assert!(closed.reason.contains("closed"), "{}", closed.reason);
}

#[test]
fn fall_back_cron_in_the_repeated_hour_runs_once() {
    let p = plan(vec![workflow(
        "overlap",
        Some(schedule(cron("30 1 * * *"))),
    )]);
    let planned = simulate_day(&p, d("2026-11-01"), &no_calendars()).unwrap();
    assert_eq!(
        runs(&planned),
        [run(
            "overlap",
            "2026-11-01T01:30:00-04:00",
            "01:30",
            "2026-11-01"
        )]
    );
    // During the second 01:30 (EST) the slot is still the same one.
    let facts = running(
        utc("2026-11-01T05:31:00Z"),
        vec![claimed("2026-11-01", "01:30", utc("2026-11-01T05:30:00Z"))],
    );
    let second = eval_with(
        schedule(cron("30 1 * * *")),
        utc("2026-11-01T06:30:00Z"),
        &facts,
        &no_calendars(),
    );
    assert!(
        second.decisions.iter().all(|d| d.action != Run),
        "{:?}",
        second.decisions
    );
}

#[test]
fn hourly_cron_on_dst_days_has_23_and_24_runs() {
    let p = plan(vec![workflow("hourly", Some(schedule(cron("0 * * * *"))))]);
    let spring = simulate_day(&p, d("2026-03-08"), &no_calendars()).unwrap();
    assert_eq!(runs(&spring).len(), 23);
    let fall = simulate_day(&p, d("2026-11-01"), &no_calendars()).unwrap();
    assert_eq!(runs(&fall).len(), 24);
    let names: Vec<String> = runs(&fall).into_iter().map(|r| r.2).collect();
    assert_eq!(names.iter().filter(|n| *n == "01:00").count(), 1);
}

#[test]
fn seven_to_eight_pm_et_is_utc_midnight_but_dates_stay_et() {
    let cals = calendars(games(&[
        ("late", "2026-01-05 19:30"),
        ("next", "2026-01-06 19:30"),
    ]));
    let s = with_calendar(schedule(every("18:00", "23:00", hours(1), None)));
    let now = et("2026-01-05 19:00:10"); // 00:00:10 UTC on the 6th
    assert_eq!(now.date_naive(), d("2026-01-06"));
    let decision = primary(s, now, &running(now - Cd::seconds(20), vec![]), &cals);
    assert_eq!(decision.action, Run);
    assert_eq!(decision.target_date, d("2026-01-05"));
    assert_eq!(decision.entities, ["late"]);

    let window_now = et("2026-01-05 19:59");
    let facts = running(
        window_now - Cd::seconds(20),
        vec![claimed("2026-01-05", "window", et("2026-01-05 18:00"))],
    );
    let w = primary(
        schedule(window("18:00", "23:00")),
        window_now,
        &facts,
        &no_calendars(),
    );
    assert_eq!(w.action, Skip);
    assert_eq!(w.reason, "already ran for 2026-01-05 (window)");
}

// ----- the dry run ----------------------------------------------------------------

fn game_day_plan() -> rebound_domain::plan::Plan {
    plan(vec![
        workflow("schedule_refresh", Some(schedule(cron("0 */6 * * *")))),
        workflow(
            "morning_operations",
            Some(schedule(window("06:00", "10:00"))),
        ),
        workflow(
            "betting_lines",
            Some(with_calendar(schedule(every(
                "08:00",
                "20:00",
                hours(2),
                Some(hours(6)),
            )))),
        ),
        workflow(
            "post_game_window_2",
            Some(only_missing(with_calendar(yesterday(schedule(at(
                "01:00",
                mins(30),
            )))))),
        ),
        workflow(
            "early_game_window",
            Some(only_missing(with_calendar(schedule(ScheduleKind::At {
                at: t("22:00"),
                tolerance: mins(30),
                events_before: Some(t("19:00")),
                after_event_start: Some(hours(3)),
            })))),
        ),
        workflow(
            "injury_discovery",
            Some(with_calendar(schedule(discovery(
                "08:00",
                "20:00",
                hours(1),
                12,
            )))),
        ),
        workflow("manual_backfill", None),
    ])
}

#[test]
fn a_game_day_plan_runs_what_we_expect() {
    let cals = calendars(games(&[
        ("y1", "2026-01-04 19:00"),
        ("y2", "2026-01-04 21:30"),
        ("e1", "2026-01-05 13:00"),
        ("e2", "2026-01-05 16:00"),
        ("n1", "2026-01-05 19:00"),
        ("n2", "2026-01-05 19:30"),
    ]));
    let planned = simulate_day(&game_day_plan(), d("2026-01-05"), &cals).unwrap();
    assert_eq!(
        runs(&planned),
        [
            run(
                "schedule_refresh",
                "2026-01-05T00:00:00-05:00",
                "00:00",
                "2026-01-05"
            ),
            run(
                "post_game_window_2",
                "2026-01-05T01:00:00-05:00",
                "01:00",
                "2026-01-04"
            ),
            run(
                "morning_operations",
                "2026-01-05T06:00:00-05:00",
                "window",
                "2026-01-05"
            ),
            run(
                "schedule_refresh",
                "2026-01-05T06:00:00-05:00",
                "06:00",
                "2026-01-05"
            ),
            run(
                "betting_lines",
                "2026-01-05T08:00:00-05:00",
                "08:00",
                "2026-01-05"
            ),
            run(
                "injury_discovery",
                "2026-01-05T08:00:00-05:00",
                "08:00",
                "2026-01-05"
            ),
            run(
                "betting_lines",
                "2026-01-05T10:00:00-05:00",
                "10:00",
                "2026-01-05"
            ),
            run(
                "betting_lines",
                "2026-01-05T12:00:00-05:00",
                "12:00",
                "2026-01-05"
            ),
            run(
                "schedule_refresh",
                "2026-01-05T12:00:00-05:00",
                "12:00",
                "2026-01-05"
            ),
            run(
                "betting_lines",
                "2026-01-05T14:00:00-05:00",
                "14:00",
                "2026-01-05"
            ),
            run(
                "betting_lines",
                "2026-01-05T16:00:00-05:00",
                "16:00",
                "2026-01-05"
            ),
            run(
                "betting_lines",
                "2026-01-05T18:00:00-05:00",
                "18:00",
                "2026-01-05"
            ),
            run(
                "schedule_refresh",
                "2026-01-05T18:00:00-05:00",
                "18:00",
                "2026-01-05"
            ),
            run(
                "early_game_window",
                "2026-01-05T22:00:00-05:00",
                "22:00",
                "2026-01-05"
            ),
        ]
    );
    let post = planned
        .iter()
        .find(|p| p.workflow == "post_game_window_2" && p.action == Run)
        .unwrap();
    assert_eq!(post.entities, ["y1", "y2"]);
    let early = planned
        .iter()
        .find(|p| p.workflow == "early_game_window" && p.action == Run)
        .unwrap();
    assert_eq!(early.entities, ["e1", "e2"]);
    // `at` slots never run early: before their time they SKIP as idle.
    let before = |wf: &str, until: &str| -> Vec<(String, String)> {
        planned
            .iter()
            .filter(|p| p.workflow == wf && p.at.format("%H:%M").to_string().as_str() < until)
            .map(|p| (p.at.format("%H:%M").to_string(), p.reason.clone()))
            .collect()
    };
    assert_eq!(
        before("post_game_window_2", "01:00"),
        [("00:00".to_string(), "outside 01:00 to 30m late".to_string())]
    );
    assert_eq!(
        before("early_game_window", "22:00"),
        [("00:00".to_string(), "outside 22:00 to 30m late".to_string())]
    );
    // Every decision has a reason, none is an ABORT, and times are ordered.
    assert!(
        planned
            .iter()
            .all(|p| !p.reason.is_empty() && p.action != Abort)
    );
    assert!(
        planned
            .windows(2)
            .all(|w| (&w[0].at, &w[0].workflow) <= (&w[1].at, &w[1].workflow))
    );
    assert!(planned.iter().all(|p| p.workflow != "manual_backfill"));
}

/// A workflow `at` `time` (target yesterday, only_missing) fanning out
/// `scrapers` over the games calendar, optionally only over events before
/// `events_before`.
fn sweep(
    name: &str,
    time: &str,
    events_before: Option<&str>,
    scrapers: &[&str],
) -> rebound_domain::plan::Workflow {
    let mut wf = workflow(
        name,
        Some(only_missing(with_calendar(yesterday(schedule(
            ScheduleKind::At {
                at: t(time),
                tolerance: mins(30),
                events_before: events_before.map(t),
                after_event_start: None,
            },
        ))))),
    );
    wf.steps = vec![rebound_domain::plan::Step {
        scrapers: scrapers.iter().map(|s| s.to_string()).collect(),
        after: Vec::new(),
    }];
    wf
}

#[test]
fn workflows_sharing_fanned_scrapers_see_each_others_collections() {
    let mut p = plan(vec![
        // 01:00: only the early game of last night (y1).
        sweep("first", "01:00", Some("20:00"), &["box", "team"]),
        // 04:00, same scrapers: only what `first` left (y2).
        sweep("second", "04:00", None, &["box", "team"]),
        // 04:00, one more scraper nobody ran yet: every game is missing,
        // since an event counts only when all fanned scrapers have it.
        sweep("with_players", "04:00", None, &["box", "team", "players"]),
        // 05:00, a subset of the scrapers: all games already collected.
        sweep("third", "05:00", None, &["team"]),
    ]);
    for name in ["box", "team", "players"] {
        p.scrapers.insert(
            name.to_string(),
            scraper(
                name,
                Some(rebound_domain::plan::ForEach::Calendar {
                    calendar: GAMES.to_string(),
                    param: "game_id".to_string(),
                }),
            ),
        );
    }
    let cals = calendars(games(&[
        ("y1", "2026-01-04 19:00"),
        ("y2", "2026-01-04 21:30"),
        ("n1", "2026-01-05 19:00"),
    ]));
    let planned = simulate_day(&p, d("2026-01-05"), &cals).unwrap();
    /// (workflow, at, action, target date, entities, reason)
    type Shown<'a> = (&'a str, String, &'a str, String, Vec<String>, &'a str);
    let decided: Vec<Shown> = planned
        .iter()
        .filter(|p| p.slot != "idle")
        .map(|p| {
            (
                p.workflow.as_str(),
                p.at.format("%H:%M").to_string(),
                p.action.as_str(),
                p.target_date.to_string(),
                p.entities.clone(),
                p.reason.as_str(),
            )
        })
        .collect();
    let row = |wf, at: &str, action, ids: &[&str], reason| {
        (
            wf,
            at.to_string(),
            action,
            "2026-01-04".to_string(),
            ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            reason,
        )
    };
    assert_eq!(
        decided,
        [
            row(
                "first",
                "01:00",
                "RUN",
                &["y1"],
                "at 01:00 (up to 30m late) for 2026-01-04; 1 of 1 missing"
            ),
            row(
                "second",
                "04:00",
                "RUN",
                &["y2"],
                "at 04:00 (up to 30m late) for 2026-01-04; 1 of 2 missing"
            ),
            row(
                "with_players",
                "04:00",
                "RUN",
                &["y1", "y2"],
                "at 04:00 (up to 30m late) for 2026-01-04; 2 of 2 missing"
            ),
            row(
                "third",
                "05:00",
                "SKIP",
                &[],
                "all 2 events already collected for 2026-01-04"
            ),
        ]
    );
}

#[test]
fn a_night_window_sees_what_the_evening_window_collected() {
    // Like the reference pipeline's post-game windows 1 and 2: a same-night
    // window at 22:00 for today's games started 3h ago, then one at 01:00
    // for yesterday, over the same scraper. The plan of the 5th shows the
    // 01:00 run only for the game the 4th's 22:00 run left.
    let mut evening = workflow(
        "evening",
        Some(only_missing(with_calendar(schedule(ScheduleKind::At {
            at: t("22:00"),
            tolerance: mins(30),
            events_before: None,
            after_event_start: Some(hours(3)),
        })))),
    );
    evening.steps = vec![rebound_domain::plan::Step {
        scrapers: vec!["box".to_string()],
        after: Vec::new(),
    }];
    let mut p = plan(vec![evening, sweep("night", "01:00", None, &["box"])]);
    p.scrapers.insert(
        "box".to_string(),
        scraper(
            "box",
            Some(rebound_domain::plan::ForEach::Calendar {
                calendar: GAMES.to_string(),
                param: "game_id".to_string(),
            }),
        ),
    );
    let cals = calendars(games(&[
        ("y1", "2026-01-04 19:00"),
        ("y2", "2026-01-04 21:30"),
        ("n1", "2026-01-05 18:30"),
        ("n2", "2026-01-05 19:30"),
    ]));
    let planned = simulate_day(&p, d("2026-01-05"), &cals).unwrap();
    assert_eq!(
        runs(&planned),
        [
            run("night", "2026-01-05T01:00:00-05:00", "01:00", "2026-01-04"),
            run(
                "evening",
                "2026-01-05T22:00:00-05:00",
                "22:00",
                "2026-01-05"
            ),
        ]
    );
    let entities: Vec<(&str, &[String], &str)> = planned
        .iter()
        .filter(|p| p.action == Run)
        .map(|p| {
            (
                p.workflow.as_str(),
                p.entities.as_slice(),
                p.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        entities,
        [
            (
                "night",
                &["y2".to_string()][..],
                "at 01:00 (up to 30m late) for 2026-01-04; 1 of 2 missing"
            ),
            (
                "evening",
                &["n1".to_string()][..],
                "at 22:00 (up to 30m late) for 2026-01-05; 1 of 1 missing"
            ),
        ]
    );
}

#[test]
fn an_off_day_plan_skips_game_workflows() {
    let cals = calendars(games(&[("x", "2026-01-08 19:00")]));
    let planned = simulate_day(&game_day_plan(), d("2026-01-05"), &cals).unwrap();
    let ran: Vec<String> = runs(&planned).into_iter().map(|r| r.0).collect();
    assert!(
        ran.iter()
            .all(|w| w == "schedule_refresh" || w == "morning_operations"),
        "{ran:?}"
    );
    let discovery: Vec<&PlannedDecision> = planned
        .iter()
        .filter(|p| p.workflow == "injury_discovery")
        .collect();
    assert!(!discovery.is_empty());
    let reasons: Vec<(String, &str)> = discovery
        .iter()
        .map(|p| (p.at.format("%H:%M").to_string(), p.reason.as_str()))
        .collect();
    assert_eq!(
        reasons[0],
        ("00:00".into(), "too early: discovery starts at 08:00")
    );
    let in_window: Vec<&(String, &str)> = reasons
        .iter()
        .filter(|(at, _)| at.as_str() >= "08:00" && at.as_str() < "20:00")
        .collect();
    assert_eq!(in_window.len(), 12, "{reasons:?}");
    assert!(
        in_window
            .iter()
            .all(|(_, r)| *r == "no events in nba_games on 2026-01-05"),
        "{reasons:?}"
    );
}

#[test]
fn a_five_minute_cron_plans_every_slot_of_the_day() {
    let p = plan(vec![workflow("often", Some(schedule(cron("*/5 * * * *"))))]);
    let planned = simulate_day(&p, d("2026-01-05"), &no_calendars()).unwrap();
    assert_eq!(runs(&planned).len(), 288);
    assert!(planned.iter().all(|p| p.action == Run));
}
