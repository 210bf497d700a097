//! A `cron` schedule croner refuses is explained in the config's words:
//! which field, which number, and the field's range. croner's own text
//! ("Component error: Number out of bounds.") named neither.

use super::{BASE, FILE, error, plan};

/// `BASE` with a workflow `w` on `cron`, whose value starts on the last
/// line at this column.
fn with_cron(cron: &str) -> String {
    format!(
        "{BASE}\n[workflows.w]\nscrapers = [\"events\"]\nschedule = {{ kind = \"cron\", cron = \"{cron}\" }}\n"
    )
}

const CRON_COLUMN: usize = "schedule = { kind = \"cron\", cron = ".len() + 1;

/// The whole message for `cron`, which must be refused.
fn cron_error(cron: &str) -> String {
    error(&with_cron(cron))
}

/// The message `cron` must get: one line, at the value, naming the key.
fn expected(cron: &str, why: &str) -> String {
    let line = with_cron(cron).lines().count();
    format!(
        "{FILE}:{line}:{CRON_COLUMN}: workflows.w.schedule.cron: bad cron expression \"{cron}\": {why}"
    )
}

#[test]
fn a_number_out_of_range_names_its_field_and_the_range() {
    let cases = [
        ("60 * * * *", "minute 60 is out of range 0–59"),
        ("0 25 * * *", "hour 25 is out of range 0–23"),
        ("0 0 0 * *", "day of month 0 is out of range 1–31"),
        ("0 0 32 * *", "day of month 32 is out of range 1–31"),
        ("0 0 1 13 *", "month 13 is out of range 1–12"),
        ("0 0 1 0 *", "month 0 is out of range 1–12"),
        (
            "0 0 * * 8",
            "day of week 8 is out of range 0–7 (0 and 7 are both Sunday)",
        ),
        // Anywhere in a list, a range, a step's start, or a W or # form.
        ("0,15,75 * * * *", "minute 75 is out of range 0–59"),
        ("0 9-25 * * *", "hour 25 is out of range 0–23"),
        ("*/15 1,2,24 * * *", "hour 24 is out of range 0–23"),
        ("10-70/5 * * * *", "minute 70 is out of range 0–59"),
        ("0 30/2 * * *", "hour 30 is out of range 0–23"),
        ("0 0 32W * *", "day of month 32 is out of range 1–31"),
        ("0 0 * JAN-13 *", "month 13 is out of range 1–12"),
        (
            "0 0 * * mon-9",
            "day of week 9 is out of range 0–7 (0 and 7 are both Sunday)",
        ),
        (
            "0 0 * * 9#2",
            "day of week 9 is out of range 0–7 (0 and 7 are both Sunday)",
        ),
        // Too long for any integer: still a number, still out of range.
        (
            "0 99999999999999999999 * * *",
            "hour 99999999999999999999 is out of range 0–23",
        ),
        // The first field that is wrong, in the order they are written.
        ("0 24 * 13 *", "hour 24 is out of range 0–23"),
    ];
    let mut failures = Vec::new();
    for (cron, why) in cases {
        let got = cron_error(cron);
        let want = expected(cron, why);
        if got != want {
            failures.push(format!("{cron}:\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn other_definite_mistakes_are_named_too() {
    let cases = [
        (
            "*/0 * * * *",
            "minute step 0 in \"*/0\" never moves on; a step is 1 or more",
        ),
        (
            "0 22-2 * * *",
            "hour range 22-2 runs backwards; a range cannot wrap past 23 (write 22-23,0-2)",
        ),
        (
            "0 0 * * FRI-MON",
            "day of week range FRI-MON runs backwards; a range cannot wrap past 6 (write 5-6,0-1)",
        ),
        (
            "0 22-2/2 * * *",
            "hour range 22-2 runs backwards; a range cannot wrap past 23",
        ),
        (
            "0 0 * * 5#6",
            "day of week \"5#6\": the number after # says which one in the month, 1–5, not 6",
        ),
    ];
    let mut failures = Vec::new();
    for (cron, why) in cases {
        let got = cron_error(cron);
        let want = expected(cron, why);
        if got != want {
            failures.push(format!("{cron}:\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What is not a number at all gets the field, what it takes, and
/// croner's detail last, never croner's text alone.
#[test]
fn a_field_that_does_not_read_names_the_field_and_what_it_takes() {
    assert_eq!(
        cron_error("0 x * * *"),
        expected(
            "0 x * * *",
            "hour \"x\" is not valid: expected a number 0–23, *, a range a-b, a step */n or a-b/n, or a list of these separated by commas"
        )
    );
    assert_eq!(
        cron_error("0 0 * * Monday"),
        expected(
            "0 0 * * Monday",
            "day of week \"Monday\" is not valid: expected a number 0–7, a name SUN–SAT, *, a range a-b, a step */n or a-b/n, or a list of these separated by commas"
        )
    );
}

/// Where croner's reason says more than the grammar, it comes last.
#[test]
fn croner_reason_is_only_a_detail() {
    assert_eq!(
        cron_error("0 0 * * 5#"),
        expected(
            "0 0 * * 5#",
            "day of week \"5#\" is not valid: expected a number 0–7, a name SUN–SAT, *, a range a-b, a step */n or a-b/n, or a list of these separated by commas (Component error: Invalid nth specifier.)"
        )
    );
}

/// The forms the dialect takes are still accepted: 7 for Sunday, names in
/// any case, `SUN` ending a range, steps over ranges, `?`.
#[test]
fn valid_crons_at_the_edges_of_each_range_are_accepted() {
    for cron in [
        "59 23 31 12 7",
        "0 0 1 1 0",
        "0 0 * jan,Dec MON-SUN",
        "*/15 0-23/2 1,15 1-12 SUN",
        "0 5 ? * 1-5",
        "0 0 15W * *",
        "0 0 * * 5#2",
    ] {
        let p = plan(&with_cron(cron));
        assert!(p.workflows["w"].schedule.is_some(), "{cron}");
    }
}

/// The field count is checked before croner sees the expression, with
/// its own message (unchanged here).
#[test]
fn the_field_count_message_is_unchanged() {
    assert_eq!(cron_error("0 0 5 * * *"), expected_count("0 0 5 * * *"));
}

fn expected_count(cron: &str) -> String {
    let line = with_cron(cron).lines().count();
    format!(
        "{FILE}:{line}:{CRON_COLUMN}: workflows.w.schedule.cron: expected 5 fields (minute hour day-of-month month day-of-week), found 6 in \"{cron}\""
    )
}

/// A month's or weekday's name in a field that does not take it is
/// refused: croner swaps names for numbers wherever they stand, so
/// `0 0 * MON *` loaded as January only and `0 MON * * *` as 01:00, with
/// nothing said. Names in their own fields still load.
#[test]
fn a_name_in_a_field_that_does_not_take_it_is_refused() {
    assert_eq!(
        cron_error("0 0 * MON *"),
        expected(
            "0 0 * MON *",
            "month \"MON\" holds MON, a name of the day of week field; the month field takes a number 1–12, a name JAN–DEC, *, a range a-b, a step */n or a-b/n, or a list of these separated by commas"
        )
    );
    assert!(
        cron_error("0 mon * * *")
            .contains("hour \"mon\" holds mon, a name of the day of week field"),
        "{}",
        cron_error("0 mon * * *")
    );
    assert!(
        cron_error("0 0 * * JAN-MAR")
            .contains("day of week \"JAN-MAR\" holds JAN, a name of the month field"),
        "{}",
        cron_error("0 0 * * JAN-MAR")
    );
    for fine in [
        "0 9 * JAN-MAR MON-FRI",
        "0 9 * * mon,wed",
        "0 0 L * *",
        "30 6 * DEC SUN#2",
    ] {
        plan(&with_cron(fine));
    }
}

/// A step past its field's span matches only where the item starts:
/// `*/90` in the minutes fired once an hour, at minute 0, where every 90
/// minutes was meant (an `every` schedule says that). It loaded silently.
#[test]
fn a_step_past_the_fields_span_is_refused() {
    assert_eq!(
        cron_error("*/90 * * * *"),
        expected(
            "*/90 * * * *",
            "minute step 90 in \"*/90\" is more than the field's 0–59, so it matches only where the item starts; for every 90 minutes write schedule = { kind = \"every\", start = \"00:00\", end = \"23:59\", every = \"90m\" } (docs/scheduling.md)"
        )
    );
    assert!(
        cron_error("0 */36 * * *")
            .contains("hour step 36 in \"*/36\" is more than the field's 0–23"),
        "{}",
        cron_error("0 */36 * * *")
    );
    for fine in [
        "*/59 * * * *",
        "0 */23 * * *",
        "0 0 */30 * *",
        "0 0 1 */11 *",
        "0 0 * * */7",
        // A step of the whole cycle matches once a cycle, as meant.
        "*/60 * * * *",
        "0 */24 * * *",
        "0 0 */31 * *",
        "0 0 1 */12 *",
    ] {
        plan(&with_cron(fine));
    }
    // The schedule the message offers loads as written.
    plan(&format!(
        "{BASE}\n[workflows.w]\nscrapers = [\"events\"]\nschedule = {{ kind = \"every\", start = \"00:00\", end = \"23:59\", every = \"90m\" }}\n"
    ));
}

/// The `every` schedule is offered only when no other field narrows the
/// times: `*/90 9-17 * * *` runs in business hours, which an all-day
/// `every` would not.
#[test]
fn the_every_schedule_is_offered_only_for_a_step_through_the_whole_day() {
    let narrowed = cron_error("*/90 9-17 * * *");
    assert!(
        narrowed.contains("minute step 90 in \"*/90\""),
        "{narrowed}"
    );
    assert!(!narrowed.contains("kind = \"every\""), "{narrowed}");
    assert!(cron_error("*/61 * * * *").contains("kind = \"every\""));
    assert!(cron_error("0 0 * * */8").contains("day of week step 8"));
}

/// Hostile values reach the checks of accepted expressions and the
/// explanation of refused ones: a step too long for any integer, non-ASCII
/// names, empty steps and ranges. Each is a refusal naming its field, never
/// a panic.
#[test]
fn hostile_cron_values_are_refused_naming_the_field() {
    for (cron, field) in [
        ("*/99999999999999999999 * * * *", "minute"),
        ("0 0 * * MON-ÄÖ", "day of week"),
        ("0 0 * ÿ *", "month"),
        ("*/ * * * *", "minute"),
        ("0 0 * JAN/99999999999999999999 *", "month"),
        ("- - - - -", "minute"),
        ("0 0 1-/5 * *", "day of month"),
        ("0 */18446744073709551616 * * *", "hour"),
    ] {
        let message = cron_error(cron);
        assert!(
            message.contains(&format!("bad cron expression \"{cron}\": {field}")),
            "{cron}: {message}"
        );
    }
}
