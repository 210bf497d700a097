//! Calendar events: what "a game day" and "the games of a date" mean.
//!
//! Events are extracted from a stored payload by `rebound-engine` (JSONPath)
//! and consumed by the scheduler's rules and by fan-out. A date's events are
//! those whose start, seen in the pipeline's zone, falls on that date; never
//! the UTC date (a 19:30 ET tip-off is 00:30 UTC the next day).

use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// One event of a calendar (e.g. one game).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub id: String,
    pub start: DateTime<Utc>,
}

/// The last date whose local times Rebound can compute: chrono-tz's
/// tables of daylight-saving changes end in 2099, after which every zone
/// keeps its last offset (New York stays on EST all of 2100). Dates given
/// on the command line or by a scenario stop here, so a plan is never
/// silently an hour off.
pub const LAST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2099, 12, 31).expect("a date");

/// The first date Rebound plans: year 0 and before, which `YYYY-MM-DD`
/// parsing accepts, left `plan` finding no slot at all ("no slot in the
/// next day") while `scrape` filed payloads under `0000-01-01`. The API's
/// dates already started here.
pub const FIRST_DATE: NaiveDate = NaiveDate::from_ymd_opt(1, 1, 1).expect("a date");

/// Whether `text` is a date written exactly `YYYY-MM-DD`: chrono's
/// `%Y-%m-%d` also takes `2026-1-1` and `+2026-01-01`, which a typo should
/// not pass as. The CLI's dates and a scenario's share this rule.
pub fn is_date_shaped(text: &str) -> bool {
    text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// A local time of day written exactly `HH:MM`, 24-hour: the config's
/// schedule times and a scenario's share this rule.
pub fn time_of_day(text: &str) -> Option<NaiveTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let digits = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u32>().ok())?
    };
    let hour = digits(&text[..2])?;
    let minute = digits(&text[3..])?;
    NaiveTime::from_hms_opt(hour, minute, 0)
}

/// `date`, or why it is outside [`FIRST_DATE`] to [`LAST_DATE`], for a
/// message that names where it came from.
pub fn within_zone_rules(date: NaiveDate) -> Result<NaiveDate, String> {
    if date < FIRST_DATE {
        return Err(format!(
            "before {FIRST_DATE}: expected a date from {FIRST_DATE} to {LAST_DATE}"
        ));
    }
    if date > LAST_DATE {
        return Err(format!(
            "after {LAST_DATE}, where the time-zone rules Rebound knows end (local times would be wrong)"
        ));
    }
    Ok(date)
}

/// The events starting on `date` in zone `tz`, in start order (then id).
pub fn events_on(events: &[Event], tz: Tz, date: NaiveDate) -> Vec<Event> {
    let mut out: Vec<Event> = events
        .iter()
        .filter(|e| e.start.with_timezone(&tz).date_naive() == date)
        .cloned()
        .collect();
    out.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    out.dedup_by(|a, b| a.id == b.id);
    out
}

/// The first and last second of `date` in zone `tz`, as UTC instants:
/// what an API that filters by UTC time needs to ask for one local day
/// (an evening game in New York starts on the next UTC date). A midnight
/// that does not exist (a zone that moves its clocks at 00:00) starts the
/// day at the first instant after the gap.
pub fn local_day_bounds(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = local_instant(tz, date, NaiveTime::MIN);
    let next = local_instant(tz, date.succ_opt().unwrap_or(date), NaiveTime::MIN);
    (start, next - chrono::Duration::seconds(1))
}

/// Whether `tz` skips `date` whole, so that no local time of it exists
/// (Samoa's 2011-12-30, when it moved across the date line): nothing can
/// run on it, and its "day" would end before it starts.
pub fn skips_whole(tz: Tz, date: NaiveDate) -> bool {
    date.succ_opt().is_some_and(|next| {
        local_instant(tz, next, NaiveTime::MIN) == local_instant(tz, date, NaiveTime::MIN)
    })
}

/// The instant of local `time` on `date` in `tz`.
///
/// A local time inside a spring-forward gap maps to the first instant after
/// the gap (02:30 → 03:00 EDT); an ambiguous local time (fall-back) maps to
/// the earlier instant, so it happens once.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Gaps start and end on whole minutes in every zone the tz
            // database has used since 1970, so the first existing whole
            // minute after `local` is the end of the gap.
            let mut probe = local
                .with_second(0)
                .unwrap_or(local)
                .with_nanosecond(0)
                .unwrap_or(local);
            for _ in 0..(2 * 24 * 60) {
                probe += chrono::Duration::minutes(1);
                match tz.from_local_datetime(&probe) {
                    LocalResult::Single(t) => return t.with_timezone(&Utc),
                    LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
                    LocalResult::None => {}
                }
            }
            // Unreachable with real zones; reading the wall clock as UTC keeps
            // the function total instead of panicking in a scheduler.
            Utc.from_utc_datetime(&local)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LAST_DATE follows chrono-tz's tables: daylight saving is known in
    /// its year and not after. When chrono-tz extends them, this fails and
    /// LAST_DATE can move.
    #[test]
    fn the_last_date_is_the_last_year_with_daylight_saving_rules() {
        use chrono::Datelike;
        let tz: Tz = "America/New_York".parse().unwrap();
        let july = |year| {
            let noon = NaiveDate::from_ymd_opt(year, 7, 1)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap();
            tz.from_utc_datetime(&noon).format("%Z").to_string()
        };
        assert_eq!(july(LAST_DATE.year()), "EDT");
        assert_eq!(july(LAST_DATE.year() + 1), "EST");
    }
    use chrono::TimeZone;

    #[test]
    fn a_late_tip_off_belongs_to_the_local_date_not_the_utc_one() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let late = Event {
            id: "g1".into(),
            // 19:30 EST on 2026-01-05 is 00:30 UTC on 2026-01-06.
            start: Utc.with_ymd_and_hms(2026, 1, 6, 0, 30, 0).unwrap(),
        };
        let d5 = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let d6 = NaiveDate::from_ymd_opt(2026, 1, 6).unwrap();
        assert_eq!(
            events_on(std::slice::from_ref(&late), ny, d5),
            vec![late.clone()]
        );
        assert!(events_on(&[late], ny, d6).is_empty());
    }

    #[test]
    fn day_bounds_are_local_midnights_in_utc() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let (start, end) = local_day_bounds(ny, d);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 1, 5, 5, 0, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 1, 6, 4, 59, 59).unwrap());
        // The day DST starts is 23 hours long.
        let dst = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let (start, end) = local_day_bounds(ny, dst);
        assert_eq!(
            end - start,
            chrono::Duration::hours(23) - chrono::Duration::seconds(1)
        );
        // A zone whose clocks skip midnight (Santiago, 2026-09-06) starts at 01:00.
        let scl: Tz = "America/Santiago".parse().unwrap();
        let skip = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let (start, _) = local_day_bounds(scl, skip);
        assert_eq!(
            start.with_timezone(&scl).format("%H:%M").to_string(),
            "01:00"
        );
    }
}
