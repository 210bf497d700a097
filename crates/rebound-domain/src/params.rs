//! Built-in parameters: the values Rebound derives for every call from the
//! target date, the pipeline's season and, for a scheduled run, its slot.
//!
//! Three families, each with fixed names (a `--param` may not set them):
//! - the date: `{date}` (YYYY-MM-DD, also spelt `{target_date}`),
//!   `{date_compact}` (YYYYMMDD), `{day_start_utc}` / `{day_end_utc}`
//!   (the first and last second of the date in the pipeline's zone, in
//!   UTC);
//! - the season, when `[pipeline] season_start` is set: `{season}`,
//!   `{season_start_year}`, `{season_end_year}` ([`SeasonRule`]);
//! - the slot, for scheduled runs and manual runs given `--slot HH:MM`:
//!   `{slot_hour}` (00-23), `{slot_hour12}` (01-12), `{slot_ampm}` (AM or
//!   PM), `{slot_minute}` (00-59), the slot's local time.
//!
//! Date parameters accept a format filter, `{date|%Y%m%d}`: chrono's
//! strftime specifiers. A filter is checked when the template is parsed
//! ([`check_filter`]) by formatting a sample value, so a specifier that
//! does not apply (`%H` on a date) is a config error; rendering writes
//! through `fmt::Write`, which reports rather than panics, so even a
//! filter that slipped past would fail one call with a message.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The date family: always supplied.
pub const DATE_PARAMS: &[&str] = &[
    "date",
    "date_compact",
    "target_date",
    "day_start_utc",
    "day_end_utc",
];

/// The season family: supplied when `[pipeline] season_start` is set.
pub const SEASON_PARAMS: &[&str] = &["season", "season_start_year", "season_end_year"];

/// The slot family: supplied for scheduled runs and with `--slot HH:MM`.
pub const SLOT_PARAMS: &[&str] = &["slot_hour", "slot_hour12", "slot_ampm", "slot_minute"];

/// Every built-in name, whichever family supplies it.
pub const BUILTIN_PARAMS: &[&str] = &[
    "date",
    "date_compact",
    "target_date",
    "day_start_utc",
    "day_end_utc",
    "season",
    "season_start_year",
    "season_end_year",
    "slot_hour",
    "slot_hour12",
    "slot_ampm",
    "slot_minute",
];

/// True for a name Rebound fills itself.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_PARAMS.contains(&name)
}

/// The placeholders a `season_format` may use.
pub const SEASON_FORMAT_PLACEHOLDERS: &[&str] = &["start", "start2", "end", "end2"];

/// `season_format` when none is written: the NBA's and most leagues'
/// spelling, `2025-26`.
pub const DEFAULT_SEASON_FORMAT: &str = "{start}-{end2}";

/// `[pipeline] season_start` and `season_format`: which season a target
/// date belongs to and how its name is written.
///
/// A season starts on `start` (month and day) each year and ends the day
/// before the next start, so a date belongs to the season that started on
/// or before it: with `10-01`, 2025-12-01 and 2026-03-01 are both in the
/// season that started 2025-10-01. The season's end year is the year of
/// its last day (the start year itself when seasons start on 01-01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeasonRule {
    month: u32,
    day: u32,
    format: crate::template::Template,
}

impl SeasonRule {
    /// Parses `MM-DD` and a format using [`SEASON_FORMAT_PLACEHOLDERS`];
    /// the error says what is wrong with which.
    pub fn parse(start: &str, format: &str) -> Result<SeasonRule, SeasonError> {
        let (month, day) = parse_month_day(start).ok_or_else(|| {
            SeasonError::Start(format!(
                "expected a month and day as MM-DD, e.g. \"10-01\", found \"{start}\""
            ))
        })?;
        if (month, day) == (2, 29) {
            return Err(SeasonError::Start(
                "\"02-29\" is not a day every year; start the season on 02-28 or 03-01".into(),
            ));
        }
        let template = crate::template::Template::parse(format).map_err(SeasonError::Format)?;
        if let Some(unknown) = template
            .params()
            .into_iter()
            .find(|p| !SEASON_FORMAT_PLACEHOLDERS.contains(p))
        {
            return Err(SeasonError::Format(format!(
                "unknown placeholder {{{unknown}}} in \"{format}\"; use {}",
                placeholder_list()
            )));
        }
        if template.has_filters() {
            return Err(SeasonError::Format(format!(
                "\"{format}\": season_format placeholders take no filter; use {}",
                placeholder_list()
            )));
        }
        // Without a placeholder `{season}` is the same text every year (or
        // empty): the hand-edited season this rule exists to replace.
        if template.params().is_empty() {
            return Err(SeasonError::Format(format!(
                "\"{format}\" has no placeholder, so every season would read the same; use {}",
                placeholder_list()
            )));
        }
        Ok(SeasonRule {
            month,
            day,
            format: template,
        })
    }

    /// The year the season containing `date` started.
    pub fn start_year(&self, date: NaiveDate) -> i32 {
        if (date.month(), date.day()) >= (self.month, self.day) {
            date.year()
        } else {
            date.year() - 1
        }
    }

    /// The year of the last day of the season containing `date`.
    pub fn end_year(&self, date: NaiveDate) -> i32 {
        let start = self.start_year(date);
        if (self.month, self.day) == (1, 1) {
            start
        } else {
            start + 1
        }
    }

    /// The season's name for `date`, e.g. `2025-26`.
    pub fn name(&self, date: NaiveDate) -> String {
        let start = self.start_year(date);
        let end = self.end_year(date);
        let values = BTreeMap::from([
            ("start".to_string(), year_text(start)),
            ("start2".to_string(), two_digits(start)),
            ("end".to_string(), year_text(end)),
            ("end2".to_string(), two_digits(end)),
        ]);
        // Every placeholder was checked at parse time and none has a
        // filter, so rendering cannot fail; the fallback keeps it total.
        self.format
            .render(&values)
            .unwrap_or_else(|_| format!("{start}-{}", two_digits(end)))
    }
}

/// What is wrong with a season rule: its start or its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeasonError {
    Start(String),
    Format(String),
}

fn placeholder_list() -> String {
    SEASON_FORMAT_PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A year as `{date|%Y}` writes it: four digits at least, so a season of
/// year 999 reads `0999-00`, as that date's `{date}` does (`999-00` made a
/// path that no other placeholder of the same date matched).
fn year_text(year: i32) -> String {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .map_or_else(|| year.to_string(), |d| d.format("%Y").to_string())
}

fn two_digits(year: i32) -> String {
    format!("{:02}", year.rem_euclid(100))
}

/// `MM-DD`, a day that exists in a leap year.
fn parse_month_day(text: &str) -> Option<(u32, u32)> {
    let (month, day) = text.split_once('-')?;
    if month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month: u32 = month.parse().ok()?;
    let day: u32 = day.parse().ok()?;
    NaiveDate::from_ymd_opt(2000, month, day)?;
    Some((month, day))
}

/// Parses `HH:MM` (24-hour), as `--slot` takes it.
pub fn parse_slot(text: &str) -> Result<NaiveTime, String> {
    let valid = text.len() == 5 && text.as_bytes().get(2) == Some(&b':');
    let time = valid
        .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten();
    time.ok_or_else(|| {
        format!("expected a time of day as HH:MM (24-hour), e.g. 14:00, found \"{text}\"")
    })
}

/// Every built-in parameter for one call: the date family always, the
/// season family with a rule, the slot family with a slot time.
pub fn builtin_values(
    tz: chrono_tz::Tz,
    season: Option<&SeasonRule>,
    date: NaiveDate,
    slot: Option<NaiveTime>,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let day = date.format("%Y-%m-%d").to_string();
    values.insert("date".to_string(), day.clone());
    values.insert("target_date".to_string(), day);
    values.insert(
        "date_compact".to_string(),
        date.format("%Y%m%d").to_string(),
    );
    let (start, end) = crate::calendar::local_day_bounds(tz, date);
    values.insert("day_start_utc".to_string(), utc_text(start));
    values.insert("day_end_utc".to_string(), utc_text(end));
    if let Some(rule) = season {
        values.insert("season".to_string(), rule.name(date));
        values.insert(
            "season_start_year".to_string(),
            year_text(rule.start_year(date)),
        );
        values.insert(
            "season_end_year".to_string(),
            year_text(rule.end_year(date)),
        );
    }
    if let Some(slot) = slot {
        values.extend(slot_values(slot));
    }
    values
}

/// The slot family for a local time: `14:05` gives slot_hour 14,
/// slot_hour12 02, slot_ampm PM, slot_minute 05. Midnight is 12 AM and
/// noon 12 PM, as clocks write them.
pub fn slot_values(slot: NaiveTime) -> BTreeMap<String, String> {
    let (pm, hour12) = slot.hour12();
    BTreeMap::from([
        ("slot_hour".to_string(), format!("{:02}", slot.hour())),
        ("slot_hour12".to_string(), format!("{hour12:02}")),
        (
            "slot_ampm".to_string(),
            if pm { "PM" } else { "AM" }.to_string(),
        ),
        ("slot_minute".to_string(), format!("{:02}", slot.minute())),
    ])
}

fn utc_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a date parameter's value is, which decides which specifiers apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateKind {
    /// `YYYY-MM-DD`: date specifiers only.
    Date,
    /// `YYYY-MM-DDTHH:MM:SSZ`: date, time and offset specifiers.
    Instant,
}

fn date_kind(name: &str) -> Option<DateKind> {
    match name {
        "date" | "target_date" => Some(DateKind::Date),
        "day_start_utc" | "day_end_utc" => Some(DateKind::Instant),
        _ => None,
    }
}

/// The parameters a format filter may follow.
pub const FILTERABLE_PARAMS: &[&str] = &["date", "target_date", "day_start_utc", "day_end_utc"];

/// Checks the filter of `{name|spec}` when a template is parsed: the
/// parameter is a date, the specifiers are chrono's, and they apply to
/// that kind of value (formatting a sample proves it).
pub fn check_filter(name: &str, spec: &str) -> Result<(), String> {
    let Some(kind) = date_kind(name) else {
        return Err(format!(
            "{{{name}|{spec}}}: a format filter applies only to the date parameters ({}); {{{name}}} is not one",
            FILTERABLE_PARAMS.join(", ")
        ));
    };
    if spec.is_empty() {
        return Err(format!(
            "{{{name}|}}: the format after '|' is empty; write e.g. {{{name}|%Y%m%d}}"
        ));
    }
    if StrftimeItems::new(spec).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "{{{name}|{spec}}}: \"{spec}\" is not a valid strftime format (chrono's specifiers, e.g. %Y%m%d or %b %-d; write %% for a literal %)"
        ));
    }
    let sample = match kind {
        DateKind::Date => "2025-12-01",
        DateKind::Instant => "2025-12-01T05:00:00Z",
    };
    format_filtered(name, sample, spec).map(|_| ()).map_err(|_| {
        format!(
            "{{{name}|{spec}}}: \"{spec}\" asks for a time of day or an offset, but {{{name}}} is a date without one"
        )
    })
}

/// Formats `value` of date parameter `name` with `spec`. Errors (a value
/// that is not the parameter's kind, a specifier that does not apply) are
/// returned, never panicked on: `to_string` on a chrono format panics
/// where `write!` reports.
pub fn format_filtered(name: &str, value: &str, spec: &str) -> Result<String, String> {
    let mut out = String::new();
    let written = match date_kind(name) {
        Some(DateKind::Date) => {
            let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map_err(|_| format!("\"{value}\" is not a date (YYYY-MM-DD)"))?;
            write!(out, "{}", date.format_with_items(StrftimeItems::new(spec)))
        }
        Some(DateKind::Instant) => {
            let instant = DateTime::parse_from_rfc3339(value)
                .map_err(|_| format!("\"{value}\" is not an RFC 3339 time"))?
                .with_timezone(&Utc);
            write!(
                out,
                "{}",
                instant.format_with_items(StrftimeItems::new(spec))
            )
        }
        None => return Err(format!("{{{name}}} is not a date parameter")),
    };
    written.map_err(|_| format!("the format \"{spec}\" does not apply to {{{name}}}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn season_years_around_the_start() {
        let rule = SeasonRule::parse("10-01", DEFAULT_SEASON_FORMAT).unwrap();
        for (day, start, end, name) in [
            ("2025-09-30", 2024, 2025, "2024-25"),
            ("2025-10-01", 2025, 2026, "2025-26"),
            ("2025-12-01", 2025, 2026, "2025-26"),
            ("2025-12-31", 2025, 2026, "2025-26"),
            ("2026-01-01", 2025, 2026, "2025-26"),
            ("2026-03-01", 2025, 2026, "2025-26"),
            ("2026-09-30", 2025, 2026, "2025-26"),
            ("2026-10-01", 2026, 2027, "2026-27"),
            ("2099-12-01", 2099, 2100, "2099-00"),
        ] {
            let d = date(day);
            assert_eq!(rule.start_year(d), start, "{day}");
            assert_eq!(rule.end_year(d), end, "{day}");
            assert_eq!(rule.name(d), name, "{day}");
        }
    }

    #[test]
    fn calendar_year_seasons_end_in_their_start_year() {
        let rule = SeasonRule::parse("01-01", "{start}").unwrap();
        assert_eq!(rule.start_year(date("2026-01-01")), 2026);
        assert_eq!(rule.end_year(date("2026-12-31")), 2026);
        assert_eq!(rule.name(date("2025-12-31")), "2025");
    }

    #[test]
    fn season_formats_use_every_placeholder() {
        let rule = SeasonRule::parse("10-01", "{start2}{end2}/{start}-{end}").unwrap();
        assert_eq!(rule.name(date("2026-03-01")), "2526/2025-2026");
    }

    #[test]
    fn bad_season_rules_say_what_is_wrong() {
        for (start, format, expected) in [
            (
                "10/01",
                DEFAULT_SEASON_FORMAT,
                "expected a month and day as MM-DD",
            ),
            (
                "13-01",
                DEFAULT_SEASON_FORMAT,
                "expected a month and day as MM-DD",
            ),
            (
                "10-1",
                DEFAULT_SEASON_FORMAT,
                "expected a month and day as MM-DD",
            ),
            (
                "02-30",
                DEFAULT_SEASON_FORMAT,
                "expected a month and day as MM-DD",
            ),
            ("02-29", DEFAULT_SEASON_FORMAT, "not a day every year"),
            ("10-01", "{start}-{finish}", "unknown placeholder {finish}"),
            (
                "10-01",
                "{start|%Y}",
                "a format filter applies only to the date",
            ),
            ("10-01", "{start", "unclosed"),
        ] {
            let error = SeasonRule::parse(start, format).unwrap_err();
            let text = match error {
                SeasonError::Start(t) | SeasonError::Format(t) => t,
            };
            assert!(text.contains(expected), "{start} {format}: {text}");
        }
    }

    #[test]
    fn slot_hours_at_midnight_and_noon() {
        for (slot, hour, hour12, ampm, minute) in [
            ("00:00", "00", "12", "AM", "00"),
            ("00:30", "00", "12", "AM", "30"),
            ("01:05", "01", "01", "AM", "05"),
            ("11:59", "11", "11", "AM", "59"),
            ("12:00", "12", "12", "PM", "00"),
            ("12:45", "12", "12", "PM", "45"),
            ("13:00", "13", "01", "PM", "00"),
            ("23:15", "23", "11", "PM", "15"),
        ] {
            let values = slot_values(parse_slot(slot).unwrap());
            assert_eq!(values["slot_hour"], hour, "{slot}");
            assert_eq!(values["slot_hour12"], hour12, "{slot}");
            assert_eq!(values["slot_ampm"], ampm, "{slot}");
            assert_eq!(values["slot_minute"], minute, "{slot}");
        }
    }

    #[test]
    fn bad_slots_are_refused() {
        for bad in [
            "24:00", "14", "2pm", "14:60", "1:00", "14:00:00", "", " 14:00",
        ] {
            let error = parse_slot(bad).unwrap_err();
            assert!(error.contains("HH:MM"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_year_before_1000_is_written_with_four_digits_as_date_writes_it() {
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let rule = SeasonRule::parse("10-01", DEFAULT_SEASON_FORMAT).unwrap();
        let d = date("0999-12-01");
        let values = builtin_values(tz, Some(&rule), d, None);
        assert_eq!(values["date"], "0999-12-01");
        assert_eq!(values["season"], "0999-00");
        assert_eq!(values["season_start_year"], "0999");
        assert_eq!(values["season_end_year"], "1000");
        let early = builtin_values(tz, Some(&rule), date("0010-03-01"), None);
        assert_eq!(early["season"], "0009-10");
        assert_eq!(early["season_start_year"], "0009");
    }

    #[test]
    fn builtin_values_by_family() {
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let d = date("2026-03-01");
        let plain = builtin_values(tz, None, d, None);
        assert_eq!(plain["date"], "2026-03-01");
        assert_eq!(plain["target_date"], "2026-03-01");
        assert_eq!(plain["date_compact"], "20260301");
        assert_eq!(plain["day_start_utc"], "2026-03-01T05:00:00Z");
        assert!(!plain.contains_key("season") && !plain.contains_key("slot_hour"));
        let rule = SeasonRule::parse("10-01", DEFAULT_SEASON_FORMAT).unwrap();
        let slot = parse_slot("17:00").unwrap();
        let all = builtin_values(tz, Some(&rule), d, Some(slot));
        assert_eq!(all["season"], "2025-26");
        assert_eq!(all["season_start_year"], "2025");
        assert_eq!(all["season_end_year"], "2026");
        assert_eq!(all["slot_hour12"], "05");
        assert_eq!(all["slot_ampm"], "PM");
        let names: Vec<&str> = all.keys().map(String::as_str).collect();
        for name in &names {
            assert!(is_builtin(name), "{name}");
        }
        assert_eq!(names.len(), BUILTIN_PARAMS.len());
    }

    #[test]
    fn filters_format_dates_and_instants() {
        for (name, value, spec, expected) in [
            ("date", "2025-12-01", "%Y%m%d", "20251201"),
            ("target_date", "2025-12-01", "%b %-d", "Dec 1"),
            ("date", "2025-12-23", "%A %e %B", "Tuesday 23 December"),
            ("date", "2025-12-01", "%%Y", "%Y"),
            ("day_start_utc", "2025-12-01T05:00:00Z", "%H%M", "0500"),
            ("day_end_utc", "2025-12-02T04:59:59Z", "%s", "1764651599"),
        ] {
            assert_eq!(
                format_filtered(name, value, spec).unwrap(),
                expected,
                "{name}|{spec}"
            );
        }
    }

    #[test]
    fn bad_filters_are_caught_when_parsed() {
        for (name, spec, expected) in [
            ("date", "%Q", "not a valid strftime format"),
            ("date", "%Y%", "not a valid strftime format"),
            ("date", "", "is empty"),
            ("date", "%H", "a time of day or an offset"),
            ("target_date", "%Y %z", "a time of day or an offset"),
            ("game_id", "%Y", "applies only to the date parameters"),
            ("season", "%Y", "applies only to the date parameters"),
        ] {
            let error = check_filter(name, spec).unwrap_err();
            assert!(error.contains(expected), "{name}|{spec}: {error}");
        }
        assert!(check_filter("day_start_utc", "%H:%M %z").is_ok());
        // A specifier that slipped past the check fails as a value, not a panic.
        assert!(format_filtered("date", "2025-12-01", "%H").is_err());
        assert!(format_filtered("date", "not a date", "%Y").is_err());
    }
}
