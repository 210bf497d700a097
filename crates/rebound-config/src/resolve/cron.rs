//! Why croner refused a five-field cron expression, in the config's words.
//!
//! croner's own errors name neither the field nor what it allows:
//! `0 25 * * *` was "Component error: Number out of bounds.", and a range
//! written backwards was "Range out of bounds.". Here the field that fails
//! is found by parsing it alone, and a number in it that is out of range
//! (in a list, a range, a step's start or a `W`/`#`/`L` form) is named
//! with the field's range. croner's text is kept only as the detail of a
//! field this reading cannot explain.
//!
//! The dialect is croner's with seconds and years disallowed, the one
//! `rebound-schedule` evaluates: minute 0–59, hour 0–23, day of month
//! 1–31, month 1–12 (or JAN–DEC), day of week 0–7 (or SUN–SAT; 0 and 7
//! are both Sunday), each `*`, a number, a range `a-b`, a step `*/n`,
//! `a/n` or `a-b/n`, or a list of these; names in any case.

use croner::errors::CronError;
use croner::parser::CronParser;

/// One of the five fields, with what croner accepts in it.
struct Field {
    name: &'static str,
    min: u64,
    max: u64,
    /// Names standing for `first_name`, `first_name + 1`, ….
    names: &'static [&'static str],
    first_name: u64,
    /// Said after the range when a number is out of it.
    note: &'static str,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// In the order they are written.
const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        first_name: 0,
        note: "",
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        first_name: 0,
        note: "",
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        first_name: 0,
        note: "",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        first_name: 1,
        note: "",
    },
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: WEEKDAYS,
        first_name: 0,
        note: " (0 and 7 are both Sunday)",
    },
];

/// A mistake in an expression croner accepted: a step past its field's
/// span (below), or a month's or weekday's name written in a field that
/// does not take it: croner swaps every name for its
/// number wherever it stands, so `0 0 * MON *` loaded as month 1 (January
/// only) and `0 MON * * *` as hour 1, a schedule other than the one meant,
/// with nothing said. `None` when there is neither.
pub(super) fn accepted_mistake(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    for (index, (field, part)) in FIELDS.iter().zip(parts.iter().copied()).enumerate() {
        // A step past the field's span matches only the item's start:
        // `*/90` in the minutes fires once an hour, not every 90 minutes
        // (cron cannot say that; an `every` schedule can).
        for item in part.split(',') {
            let Some((_, step)) = item.split_once('/') else {
                continue;
            };
            let Ok(step) = step.parse::<u64>() else {
                continue;
            };
            // A step of the whole cycle (`*/60` minutes, `*/24` hours,
            // `*/12` months, `*/7` days of the week) matches once a cycle,
            // as meant; only a longer one cannot be what it says.
            if step > field.cycle() {
                // Every N minutes through the day is an `every` schedule,
                // when no other field narrows the times.
                let only_minutes = parts
                    .iter()
                    .enumerate()
                    .all(|(i, p)| i == index || *p == "*");
                let instead = if field.name == "minute" && only_minutes {
                    format!(
                        "; for every {step} minutes write schedule = {{ kind = \"every\", start = \"00:00\", end = \"23:59\", every = \"{step}m\" }} (docs/scheduling.md)"
                    )
                } else {
                    String::new()
                };
                return Some(format!(
                    "{} step {step} in \"{item}\" is more than the field's {}–{}, so it matches only where the item starts{instead}",
                    field.name, field.min, field.max
                ));
            }
        }
        let tokens = part
            .split([',', '-', '/', '#'])
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphabetic()));
        for token in tokens {
            if field.names.iter().any(|n| n.eq_ignore_ascii_case(token)) {
                continue;
            }
            let belongs = FIELDS
                .iter()
                .find(|other| other.names.iter().any(|n| n.eq_ignore_ascii_case(token)));
            if let Some(other) = belongs {
                return Some(format!(
                    "{} \"{part}\" holds {token}, a name of the {} field; the {} field takes {}",
                    field.name,
                    other.name,
                    field.name,
                    field.expected()
                ));
            }
        }
    }
    None
}

/// What is wrong with `text`, a five-field expression `parser` refused
/// with `error`: the first field that fails on its own, and why.
pub(super) fn explain(text: &str, parser: &CronParser, error: &CronError) -> String {
    let written: Vec<&str> = text.split_whitespace().collect();
    for (index, field) in FIELDS.iter().enumerate() {
        let Some(part) = written.get(index) else {
            break;
        };
        // The field among `*`s: croner checks each field on its own, so
        // the first that fails here is the first it stumbled on.
        let alone: Vec<&str> = (0..FIELDS.len())
            .map(|i| if i == index { *part } else { "*" })
            .collect();
        if let Err(field_error) = parser.parse(&alone.join(" ")) {
            return field.problem(part).unwrap_or_else(|| {
                // croner's text as a detail only where it adds to "expected
                // …": its illegal-character message quotes the field after
                // its own rewriting (`Monday` as `1DAY`), which misleads.
                let detail = match field_error {
                    CronError::IllegalCharacters(_) => String::new(),
                    other => format!(" ({other})"),
                };
                format!(
                    "{} \"{part}\" is not valid: expected {}{detail}",
                    field.name,
                    field.expected()
                )
            });
        }
    }
    // Every field parses alone, which croner 3 never refuses together;
    // still say more than croner if a later version does.
    format!("not a valid five-field cron expression ({error})")
}

impl Field {
    fn is_day_of_week(&self) -> bool {
        self.max == 7
    }

    /// How many values the field goes through before it repeats (the
    /// day of week's 7 is its 0 again).
    fn cycle(&self) -> u64 {
        if self.is_day_of_week() {
            7
        } else {
            self.max - self.min + 1
        }
    }

    fn expected(&self) -> String {
        let names = match self.names.first().zip(self.names.last()) {
            Some((first, last)) => format!(", a name {first}–{last}"),
            None => String::new(),
        };
        format!(
            "a number {}–{}{names}, *, a range a-b, a step */n or a-b/n, or a list of these separated by commas",
            self.min, self.max
        )
    }

    /// The first definite mistake in the field as written: a number out
    /// of range, a step of 0, a range written backwards, a `#` past the
    /// fifth. `None` when the field does not read as the dialect's
    /// grammar at all (a stray letter, say), which is then left to the
    /// caller's general message rather than guessed at.
    fn problem(&self, written: &str) -> Option<String> {
        // croner reads a leading `+` on the day of week as "day of month
        // and day of week", not as part of the first item.
        let written = if self.is_day_of_week() {
            written.strip_prefix('+').unwrap_or(written)
        } else {
            written
        };
        written.split(',').find_map(|item| self.item_problem(item))
    }

    fn item_problem(&self, item: &str) -> Option<String> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let zero = !step.is_empty()
                && step.bytes().all(|b| b.is_ascii_digit())
                && step.bytes().all(|b| b == b'0');
            if zero {
                return Some(format!(
                    "{} step 0 in \"{item}\" never moves on; a step is 1 or more",
                    self.name
                ));
            }
        }
        if matches!(range, "*" | "?") {
            return None;
        }
        // `5#2` (the second Friday), `5L` (the last Friday) and `15W`
        // (the weekday nearest the 15th) hold a value too, but only
        // without a step.
        let (range, nth) = match (step, self.is_day_of_week()) {
            (None, true) => match range.split_once('#') {
                Some((value, nth)) => (value, Some(nth)),
                None => (range.strip_suffix(['L', 'l']).unwrap_or(range), None),
            },
            (None, false) if self.max == 31 => {
                (range.strip_suffix(['W', 'w']).unwrap_or(range), None)
            }
            _ => (range, None),
        };
        let (start, end) = match range.split_once('-') {
            Some((start, end)) => (start, Some(end)),
            None => (range, None),
        };
        let start_value = self.value(start, false)?;
        let end_value = match end {
            Some(end) => Some(self.value(end, true)?),
            None => None,
        };
        let out_of_range = |value: u64| value < self.min || value > self.max;
        let outside = [(start, Some(start_value)), (end.unwrap_or(""), end_value)]
            .into_iter()
            .find(|(_, value)| value.is_some_and(out_of_range));
        if let Some((token, _)) = outside {
            return Some(format!(
                "{} {token} is out of range {}–{}{}",
                self.name, self.min, self.max, self.note
            ));
        }
        if let (Some(end), Some(end_value)) = (end, end_value)
            && start_value > end_value
        {
            // Sunday is 0 as well as 7: the wrapped part ends on Saturday.
            // With a step the two ranges would not keep its phase, so no
            // rewrite is offered then.
            let last = if self.is_day_of_week() { 6 } else { self.max };
            let rewrite = match step {
                None => format!(" (write {start_value}-{last},{}-{end_value})", self.min),
                Some(_) => String::new(),
            };
            return Some(format!(
                "{} range {start}-{end} runs backwards; a range cannot wrap past {last}{rewrite}",
                self.name
            ));
        }
        if let Some(nth) = nth
            && let Ok(n) = nth.parse::<u64>()
            && !(1..=5).contains(&n)
        {
            return Some(format!(
                "{} \"{item}\": the number after # says which one in the month, 1–5, not {n}",
                self.name
            ));
        }
        None
    }

    /// A number or a name as croner reads it; a number too long for any
    /// integer reads as `u64::MAX`, out of every range. `None`: neither.
    /// croner reads `SUN` ending a range as 7, so that `MON-SUN` runs
    /// forwards.
    fn value(&self, token: &str, ends_range: bool) -> Option<u64> {
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            return Some(token.parse().unwrap_or(u64::MAX));
        }
        let index = self
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(token))?;
        if ends_range && self.is_day_of_week() && index == 0 {
            return Some(7);
        }
        u64::try_from(index).ok().map(|i| i + self.first_name)
    }
}
