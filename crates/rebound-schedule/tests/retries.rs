//! Retries of a failed or partial `window` or `at` run (`retry_every`,
//! `retry_max`): due `retry_every` after the failed try finished, only
//! inside the window (`at`: until the end of the day), at most `retry_max`,
//! under the failed run's execution id; a success needs none.

mod common;

use common::*;
use rebound_domain::decision::DecisionAction::*;
use rebound_schedule::Facts;

const DAY: &str = "2026-01-05";

fn window_retrying() -> rebound_domain::plan::Schedule {
    with_retry(schedule(window("06:00", "12:00")), hours(1), 3)
}

/// The window slot claimed at 06:00, its run finished at 06:05 with `status`.
fn window_ran(status: &str) -> Vec<rebound_schedule::SlotFact> {
    vec![finished(
        DAY,
        "window",
        "exec-1",
        et("2026-01-05 06:00"),
        status,
        et("2026-01-05 06:05"),
    )]
}

fn facts(now: &str, slots: Vec<rebound_schedule::SlotFact>) -> Facts {
    running(et(now) - chrono::Duration::minutes(1), slots)
}

#[test]
fn a_failed_window_run_is_retried_retry_every_after_it_finished() {
    let cases = [
        // (now ET, latest status, action, slot, reason contains, next_check ET)
        (
            "2026-01-05 06:30",
            "failed",
            Skip,
            "window+retry1",
            "retry 1 of 3 due at 07:05 after failed run (execution exec-1) finished at 06:05",
            "2026-01-05 07:05",
        ),
        (
            "2026-01-05 07:05",
            "failed",
            Run,
            "window+retry1",
            "retry 1 of 3 after failed run (execution exec-1) finished at 06:05",
            "2026-01-05 08:05",
        ),
        (
            "2026-01-05 07:05",
            "partial",
            Run,
            "window+retry1",
            "retry 1 of 3 after partial run",
            "2026-01-05 08:05",
        ),
        // A success (or no data) needs no retry.
        (
            "2026-01-05 07:05",
            "success",
            Skip,
            "window",
            "already ran for 2026-01-05 (window)",
            "2026-01-05 12:00",
        ),
        (
            "2026-01-05 07:05",
            "no_data",
            Skip,
            "window",
            "already ran for 2026-01-05 (window)",
            "2026-01-05 12:00",
        ),
    ];
    for (now, status, action, slot, reason, next) in cases {
        let evaluation = eval_with(
            window_retrying(),
            et(now),
            &facts(now, window_ran(status)),
            &no_calendars(),
        );
        assert_eq!(evaluation.decisions.len(), 1, "{now} {status}");
        let decision = &evaluation.decisions[0];
        assert_eq!(
            decision.action, action,
            "{now} {status}: {}",
            decision.reason
        );
        assert_eq!(decision.slot, slot, "{now} {status}");
        assert!(
            decision.reason.contains(reason),
            "{now} {status}: {}",
            decision.reason
        );
        assert_eq!(decision.target_date, d(DAY));
        assert_eq!(evaluation.next_check, et(next), "{now} {status}");
        // A retry continues the failed execution; nothing else does.
        let expected = (action == Run).then(|| "exec-1".to_string());
        assert_eq!(decision.execution_id, expected, "{now} {status}");
    }
}

#[test]
fn a_run_that_has_not_finished_is_looked_at_again_after_retry_every() {
    let now = "2026-01-05 06:10";
    let slots = vec![claimed(DAY, "window", et("2026-01-05 06:00"))];
    let evaluation = eval_with(
        window_retrying(),
        et(now),
        &facts(now, slots),
        &no_calendars(),
    );
    let decision = &evaluation.decisions[0];
    assert_eq!(decision.action, Skip);
    assert!(
        decision.reason.contains("already ran"),
        "{}",
        decision.reason
    );
    assert_eq!(evaluation.next_check, et("2026-01-05 07:10"));

    // The RUN of the window itself also looks again after retry_every,
    // not only when the window closes.
    let evaluation = eval_with(
        window_retrying(),
        et("2026-01-05 06:00"),
        &facts("2026-01-05 06:00", vec![]),
        &no_calendars(),
    );
    assert_eq!(evaluation.decisions[0].action, Run);
    assert_eq!(evaluation.decisions[0].execution_id, None);
    assert_eq!(evaluation.next_check, et("2026-01-05 07:00"));
}

#[test]
fn retries_follow_the_latest_try_and_stop_at_retry_max() {
    let tries = |n: usize, status: &str| {
        let mut slots = window_ran("failed");
        for i in 1..=n {
            let at = et("2026-01-05 06:05") + chrono::Duration::hours(i as i64);
            slots.push(finished(
                DAY,
                &format!("window+retry{i}"),
                "exec-1",
                at,
                if i == n { status } else { "failed" },
                at + chrono::Duration::minutes(2),
            ));
        }
        slots
    };
    // Retry 1 failed at 07:07: retry 2 is due at 08:07.
    let now = "2026-01-05 08:07";
    let decision = primary(
        window_retrying(),
        et(now),
        &facts(now, tries(1, "failed")),
        &no_calendars(),
    );
    assert_eq!(decision.action, Run, "{}", decision.reason);
    assert_eq!(decision.slot, "window+retry2");
    assert!(
        decision.reason.starts_with("retry 2 of 3 after failed run"),
        "{}",
        decision.reason
    );
    assert_eq!(decision.execution_id.as_deref(), Some("exec-1"));

    // Retry 2 succeeded: done.
    let now = "2026-01-05 10:00";
    let decision = primary(
        window_retrying(),
        et(now),
        &facts(now, tries(2, "success")),
        &no_calendars(),
    );
    assert_eq!(decision.action, Skip);
    assert_eq!(decision.slot, "window");
    assert!(
        decision.reason.contains("already ran"),
        "{}",
        decision.reason
    );

    // Three retries failed: no fourth.
    let now = "2026-01-05 11:30";
    let evaluation = eval_with(
        window_retrying(),
        et(now),
        &facts(now, tries(3, "failed")),
        &no_calendars(),
    );
    let decision = &evaluation.decisions[0];
    assert_eq!(decision.action, Skip);
    assert_eq!(decision.slot, "window");
    assert!(
        decision
            .reason
            .contains("retried 3 of 3 times for 2026-01-05 (retry_max); the last try ended failed"),
        "{}",
        decision.reason
    );
    assert_eq!(evaluation.next_check, et("2026-01-05 12:00"));
}

#[test]
fn a_retry_due_after_the_window_closes_is_not_run() {
    // Failed at 11:30: the retry would be due at 12:30, after the window.
    let slots = vec![finished(
        DAY,
        "window",
        "exec-1",
        et("2026-01-05 11:00"),
        "failed",
        et("2026-01-05 11:30"),
    )];
    for now in ["2026-01-05 11:45", "2026-01-05 12:30"] {
        let decision = primary(
            window_retrying(),
            et(now),
            &facts(now, slots.clone()),
            &no_calendars(),
        );
        assert_eq!(decision.action, Skip, "{now}");
        assert_eq!(decision.slot, "window", "{now}");
        assert!(
            decision
                .reason
                .contains("retry 1 of 3 not run: due at 12:30")
                && decision.reason.contains("the window closes at 12:00"),
            "{now}: {}",
            decision.reason
        );
    }
}

#[test]
fn no_retry_without_retry_settings() {
    let now = "2026-01-05 07:05";
    let decision = primary(
        schedule(window("06:00", "12:00")),
        et(now),
        &facts(now, window_ran("failed")),
        &no_calendars(),
    );
    assert_eq!(decision.action, Skip);
    assert!(
        decision.reason.contains("already ran"),
        "{}",
        decision.reason
    );
}

#[test]
fn a_failed_at_run_is_retried_until_the_end_of_its_day() {
    let s = || with_retry(schedule(at("19:00", mins(30))), hours(2), 3);
    let ran = |finished_at: &str| {
        vec![finished(
            DAY,
            "19:00",
            "exec-9",
            et("2026-01-05 19:00"),
            "failed",
            et(finished_at),
        )]
    };
    // Failed at 19:10: retry 1 at 21:10, in place of the "outside" SKIP.
    let now = "2026-01-05 20:00";
    let evaluation = eval_with(
        s(),
        et(now),
        &facts(now, ran("2026-01-05 19:10")),
        &no_calendars(),
    );
    assert_eq!(evaluation.decisions.len(), 1, "{:?}", evaluation.decisions);
    let decision = &evaluation.decisions[0];
    assert_eq!(decision.action, Skip);
    assert_eq!(decision.slot, "19:00+retry1");
    assert!(
        decision.reason.starts_with("retry 1 of 3 due at 21:10"),
        "{}",
        decision.reason
    );
    assert_eq!(evaluation.next_check, et("2026-01-05 21:10"));

    let now = "2026-01-05 21:10";
    let decision = primary(
        s(),
        et(now),
        &facts(now, ran("2026-01-05 19:10")),
        &no_calendars(),
    );
    assert_eq!(decision.action, Run, "{}", decision.reason);
    assert_eq!(decision.slot, "19:00+retry1");
    assert_eq!(decision.target_date, d(DAY));
    assert_eq!(decision.execution_id.as_deref(), Some("exec-9"));

    // Failed at 22:30: 00:30 is the next day; no retry.
    let now = "2026-01-05 23:00";
    let decision = primary(
        s(),
        et(now),
        &facts(now, ran("2026-01-05 22:30")),
        &no_calendars(),
    );
    assert_eq!(decision.action, Skip);
    assert!(
        decision.reason.contains("not run: due at 00:30")
            && decision.reason.contains("the day ends"),
        "{}",
        decision.reason
    );
}
