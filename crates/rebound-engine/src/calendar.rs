//! Calendars: the events (games) of each date, read from the newest stored
//! payload of a dataset with an RFC 9535 JSONPath.
//!
//! Extraction is strict: a selected event without its id or start, or with
//! a start that is not RFC 3339, is an error naming the event's index and
//! the member. Dropping it silently would make a game day look like it has
//! fewer games, and the scheduler and fan-out would never say why a game
//! was not collected. The same rules read the items of a dataset fan-out
//! ([`extract_values`]).
//!
//! What an error quotes from the payload (a start's text, an item's value,
//! the location of a node under a member the upstream named) has its
//! control and bidi characters escaped (`escape_controls`): these messages
//! reach the terminal, the log, the API and the history's rows, and a line
//! break or an escape sequence from an upstream split or rewrote them.

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use rebound_domain::calendar::Event;
use rebound_domain::message::escape_controls;
use rebound_domain::plan::{Calendar, ItemParam};
use serde_json::Value;
use serde_json_path::JsonPath;
use std::collections::{BTreeMap, HashMap};

/// Why events (or fan-out items) cannot be read from a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("bad JSONPath \"{path}\": {detail}")]
    BadPath { path: String, detail: String },
    #[error("{what} {index} ({location}) is not an object")]
    NotAnObject {
        what: &'static str,
        index: usize,
        location: String,
    },
    #[error("{what} {index} ({location}) has no member \"{member}\"")]
    MissingMember {
        what: &'static str,
        index: usize,
        location: String,
        member: String,
    },
    #[error(
        "{what} {index} ({location}): member \"{member}\" is a number too large to keep exactly (read as {read}): it would call another id"
    )]
    InexactNumber {
        what: &'static str,
        index: usize,
        location: String,
        member: String,
        read: String,
    },
    #[error("{what} {index} ({location}): member \"{member}\" is {found}, not a string or number")]
    BadValue {
        what: &'static str,
        index: usize,
        location: String,
        member: String,
        found: String,
    },
    #[error(
        "{what} {index} ({location}): member \"{member}\" = \"{value}\" is not an RFC 3339 time: {detail}"
    )]
    BadTime {
        what: &'static str,
        index: usize,
        location: String,
        member: String,
        value: String,
        detail: String,
    },
}

/// A calendar's events and when the payload they come from was fetched
/// (or last confirmed unchanged): the scheduler's staleness check reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarData {
    pub events: Vec<Event>,
    pub fetched_at: DateTime<Utc>,
    /// The payload the events were read from.
    pub output_uri: String,
}

/// The events of `cal` in `payload`, in document order. Ids may be strings
/// or numbers (numbers are written as JSON writes them: `22500123`); starts
/// may carry any offset and are converted to UTC.
pub fn extract_events(payload: &Value, cal: &Calendar) -> Result<Vec<Event>, CalendarError> {
    select(payload, &cal.events)?
        .into_iter()
        .enumerate()
        .map(|(index, (location, node))| {
            let id = member_text(node, &cal.id, "event", index, &location)?;
            let start_text = member_text(node, &cal.start, "event", index, &location)?;
            let start = DateTime::parse_from_rfc3339(&start_text)
                .map_err(|e| CalendarError::BadTime {
                    what: "event",
                    index,
                    location: location.clone(),
                    member: cal.start.clone(),
                    value: escape_controls(&start_text, false),
                    detail: e.to_string(),
                })?
                .with_timezone(&Utc);
            Ok(Event { id, start })
        })
        .collect()
}

/// The values of member `member` of the items `items` selects, in document
/// order, duplicates removed (a duplicate would be the same call twice).
pub fn extract_values(
    payload: &Value,
    items: &str,
    member: &str,
) -> Result<Vec<String>, CalendarError> {
    let mut values: Vec<String> = Vec::new();
    for (index, (location, node)) in select(payload, items)?.into_iter().enumerate() {
        let value = member_text(node, member, "item", index, &location)?;
        if !values.contains(&value) {
            values.push(value);
        }
    }
    Ok(values)
}

/// The parameters bound from one item, or why one cannot be bound.
pub type BoundParams = Result<BTreeMap<String, String>, String>;

/// One item of a fan-out: the value of its identifying member, where it
/// is in the payload, and the parameters `for_each.params` binds from it,
/// or why one cannot be bound (that item alone fails).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundItem {
    pub value: String,
    pub params: BoundParams,
}

/// Like [`extract_values`] (the identifying member missing from any item
/// fails them all, as it would name no item), and for each item the
/// `extra` parameters: a member missing from one item fails that item
/// only, with a message naming the item and the member.
pub fn extract_items(
    payload: &Value,
    items: &str,
    member: &str,
    extra: &[ItemParam],
) -> Result<Vec<BoundItem>, CalendarError> {
    let mut out: Vec<BoundItem> = Vec::new();
    for (index, (location, node)) in select(payload, items)?.into_iter().enumerate() {
        let value = member_text(node, member, "item", index, &location)?;
        if out.iter().any(|item| item.value == value) {
            continue;
        }
        let params = bind(node, extra).map_err(|why| {
            let shown = escape_controls(&value, false);
            format!("item {index} ({location}, {member}={shown}) {why}")
        });
        out.push(BoundItem { value, params });
    }
    Ok(out)
}

/// The `extra` parameters of the calendar events with the given ids, read
/// from the calendar's payload: id → bound parameters or why not.
pub fn bind_events(
    payload: &Value,
    cal: &Calendar,
    extra: &[ItemParam],
) -> Result<HashMap<String, BoundParams>, CalendarError> {
    let mut out = HashMap::new();
    for (index, (location, node)) in select(payload, &cal.events)?.into_iter().enumerate() {
        let id = member_text(node, &cal.id, "event", index, &location)?;
        let params = bind(node, extra).map_err(|why| {
            let shown = escape_controls(&id, false);
            format!("event {index} ({location}, {}={shown}) {why}", cal.id)
        });
        out.entry(id).or_insert(params);
    }
    Ok(out)
}

/// The values of `extra` in one item, or why one is missing.
fn bind(node: &Value, extra: &[ItemParam]) -> BoundParams {
    let mut params = BTreeMap::new();
    for item_param in extra {
        let value = match lookup(node, &item_param.path) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => exact(number).ok_or_else(|| {
                format!(
                    "has \"{}\" as a number too large to keep exactly (read as {number}) (for {{{}}})",
                    item_param.path, item_param.param
                )
            })?,
            Some(other) => {
                return Err(format!(
                    "has \"{}\" as {}, not a string or number (for {{{}}})",
                    item_param.path,
                    json_type(other),
                    item_param.param
                ));
            }
            None => {
                return Err(format!(
                    "has no member \"{}\" (for {{{}}})",
                    item_param.path, item_param.param
                ));
            }
        };
        params.insert(item_param.param.clone(), value);
    }
    Ok(params)
}

/// Member `path` of an object: the member of that exact name, or else the
/// dotted path of members (`homeTeam.teamTricode`).
fn lookup<'a>(node: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(value) = node.as_object().and_then(|o| o.get(path)) {
        return Some(value);
    }
    if !path.contains('.') {
        return None;
    }
    path.split('.')
        .try_fold(node, |current, member| current.as_object()?.get(member))
}

/// The nodes `path` selects, each with its normalized path for messages,
/// escaped: a wildcard over an object's members puts the upstream's member
/// names in it (`$['games']['g1\n…']`), and the normalized path writes a
/// name's line break, escape or bidi character as is.
fn select<'a>(payload: &'a Value, path: &str) -> Result<Vec<(String, &'a Value)>, CalendarError> {
    let compiled = JsonPath::parse(path).map_err(|e| CalendarError::BadPath {
        path: path.to_string(),
        detail: e.to_string(),
    })?;
    Ok(compiled
        .query_located(payload)
        .into_iter()
        .map(|n| (escape_controls(&n.location().to_string(), false), n.node()))
        .collect())
}

/// A member that must be a string or a number, as text.
fn member_text(
    node: &Value,
    member: &str,
    what: &'static str,
    index: usize,
    location: &str,
) -> Result<String, CalendarError> {
    let Value::Object(_) = node else {
        return Err(CalendarError::NotAnObject {
            what,
            index,
            location: location.to_string(),
        });
    };
    match lookup(node, member) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Number(number)) => exact(number).ok_or_else(|| CalendarError::InexactNumber {
            what,
            index,
            location: location.to_string(),
            member: member.to_string(),
            read: number.to_string(),
        }),
        None => Err(CalendarError::MissingMember {
            what,
            index,
            location: location.to_string(),
            member: member.to_string(),
        }),
        Some(other) => Err(CalendarError::BadValue {
            what,
            index,
            location: location.to_string(),
            member: member.to_string(),
            found: json_type(other).to_string(),
        }),
    }
}

/// A JSON number as the text of a parameter, or `None` when reading it
/// lost digits: an integer beyond 64 bits is read as a float, and
/// `12345678901234567890123` became `1.2345678901234568e+22`, a different id.
/// A float written in exponent form is only ever one of those (or beyond
/// 16 significant digits itself).
fn exact(number: &serde_json::Number) -> Option<String> {
    let text = number.to_string();
    (!(number.is_f64() && text.contains(['e', 'E']))).then_some(text)
}

/// Why `payload` is not a document that the JSONPath `events` (a
/// calendar's) reads events from, or `None` when it may be one. A path
/// that selects nothing is a day without events only when it stops at an
/// empty list or a filter: stopping at a missing member (`{}` for
/// `$.games[*]`) or at a scalar means the document has another shape, and
/// planning it as "no events" hid a wrong file. Checked segment by
/// segment from `$` (member names, `*`, and stopping at a recursive
/// descent); a path this cannot split is left to [`extract_events`].
pub fn shape_mismatch(payload: &Value, events: &str) -> Option<String> {
    let mut prefix = String::from("$");
    for segment in path_segments(events)? {
        let nodes = JsonPath::parse(&prefix).ok()?.query(payload).all();
        if nodes.is_empty() {
            return None;
        }
        let next = format!("{prefix}{}", segment.text);
        if !JsonPath::parse(&next).ok()?.query(payload).is_empty() {
            prefix = next;
            continue;
        }
        let what = match nodes.as_slice() {
            [one] => format!("{prefix} is {}", json_type(one)),
            many => format!("none of the {} values at {prefix}", many.len()),
        };
        return match segment.kind {
            SegmentKind::Member(name) if nodes.len() == 1 => Some(format!(
                "{what} with no member \"{name}\" (the calendar reads its events at {events})"
            )),
            SegmentKind::Member(name) => Some(format!(
                "{what} has a member \"{name}\" (the calendar reads its events at {events})"
            )),
            SegmentKind::Wildcard if nodes.iter().all(|n| !(n.is_array() || n.is_object())) => {
                Some(format!(
                    "{what}, not an array or object (the calendar reads its events at {events})"
                ))
            }
            // `[*]` is how a path reads an array's items: stopping there at
            // an empty object (`{}` for `$[*]`, an error placeholder, say)
            // is another shape, where an empty array is a day without
            // events. `.*`, a path that reads an object's members (events
            // keyed by id), still takes `{}` as no events; and a non-empty
            // object selects its values, which are checked as events.
            SegmentKind::Wildcard
                if segment.text.starts_with('[')
                    && nodes
                        .iter()
                        .all(|n| n.as_object().is_some_and(|o| o.is_empty())) =>
            {
                let what = match nodes.as_slice() {
                    [_] => format!("{prefix} is an empty object"),
                    many => format!("the {} values at {prefix} are empty objects", many.len()),
                };
                Some(format!(
                    "{what}, not an array (the calendar reads its events at {events})"
                ))
            }
            _ => None,
        };
    }
    None
}

/// One segment of a JSONPath, as written.
struct PathSegment {
    text: String,
    kind: SegmentKind,
}

enum SegmentKind {
    /// `.name` or `['name']`.
    Member(String),
    /// `.*` or `[*]`.
    Wildcard,
    /// An index, slice, filter or union.
    Other,
}

/// The segments of `path` after `$`, up to a recursive descent (`..`) or
/// anything this does not read; `None` when it does not start with `$`.
fn path_segments(path: &str) -> Option<Vec<PathSegment>> {
    let rest = path.trim().strip_prefix('$')?;
    let chars: Vec<char> = rest.chars().collect();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '.' if chars.get(i + 1) == Some(&'.') => break,
            '.' if chars.get(i + 1) == Some(&'*') => {
                segments.push(PathSegment {
                    text: ".*".into(),
                    kind: SegmentKind::Wildcard,
                });
                i += 2;
            }
            '.' => {
                let end = (i + 1..chars.len())
                    .find(|&j| matches!(chars[j], '.' | '[') || chars[j].is_whitespace())
                    .unwrap_or(chars.len());
                let name: String = chars[i + 1..end].iter().collect();
                if name.is_empty() {
                    break;
                }
                segments.push(PathSegment {
                    text: format!(".{name}"),
                    kind: SegmentKind::Member(name),
                });
                i = end;
            }
            '[' => {
                let end = bracket_end(&chars, i)?;
                let text: String = chars[i..=end].iter().collect();
                let inner = text[1..text.len() - 1].trim();
                let kind = if inner == "*" {
                    SegmentKind::Wildcard
                } else {
                    match quoted_name(inner) {
                        Some(name) => SegmentKind::Member(name),
                        None => SegmentKind::Other,
                    }
                };
                segments.push(PathSegment { text, kind });
                i = end + 1;
            }
            _ => break,
        }
    }
    Some(segments)
}

/// The index of the `]` closing the `[` at `start`, past quoted strings
/// and nested brackets (a filter's).
fn bracket_end(chars: &[char], start: usize) -> Option<usize> {
    let (mut depth, mut quote, mut escaped) = (0usize, None::<char>, false);
    for (j, &c) in chars.iter().enumerate().skip(start) {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

/// `'name'` or `"name"` without escapes, as the name.
fn quoted_name(inner: &str) -> Option<String> {
    let quote = inner.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let name = inner.strip_prefix(quote)?.strip_suffix(quote)?;
    (!name.contains(['\\', '\'', '"'])).then(|| name.to_string())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Engine {
    /// The scrapers whose payloads make up `dataset`.
    pub(crate) fn producers(&self, dataset: &str) -> Vec<String> {
        self.plan
            .scrapers
            .values()
            .filter(|s| s.dataset == dataset)
            .map(|s| s.name.clone())
            .collect()
    }

    /// Reads a stored payload back by the URI its row points at, as JSON.
    pub(crate) async fn read_json_payload(&self, output_uri: &str) -> Result<Value, String> {
        // `uri_for("")` is the URI prefix every payload of this raw store
        // starts with; rows pointing elsewhere (another store) cannot be read.
        let base = self.raw.uri_for("");
        let Some(relative) = output_uri.strip_prefix(&base) else {
            return Err(format!(
                "payload {output_uri} is not in this raw store ({base})"
            ));
        };
        let bytes = self
            .raw
            .get(relative)
            .await
            // The raw store's error names the payload: naming it here
            // too said it twice.
            .map_err(|e| e.to_string())?;
        rebound_fetch::classify::payload_json(&bytes)
            .map_err(|e| format!("payload {output_uri} is not valid JSON: {e}"))
    }

    /// The events of calendar `name` from the newest successful payload of
    /// its dataset (any target date: a calendar is usually a whole season),
    /// with the payload's fetch time. `Ok(None)` when no payload exists yet.
    pub async fn calendar_events(&self, name: &str) -> Result<Option<CalendarData>, EngineError> {
        let Some(cal) = self.plan.calendars.get(name) else {
            return Err(EngineError::UnknownCalendar {
                name: name.to_string(),
                available: crate::names(self.plan.calendars.keys()),
            });
        };
        let producers = self.producers(&cal.dataset);
        let Some(latest) = self.store.latest_payload(&producers, None).await? else {
            return Ok(None);
        };
        // A stored payload never changes, so the events read from one are
        // kept until a newer payload replaces it: the scheduler, the health
        // report and every fan-out over the calendar ask for them again and
        // again, and a season's schedule is megabytes of JSON to re-read.
        let cached = self
            .calendar_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .filter(|(uri, _)| *uri == latest.output_uri)
            .map(|(_, events)| events.clone());
        let events = match cached {
            Some(events) => events,
            None => {
                let unreadable = |detail: String| EngineError::CalendarUnreadable {
                    calendar: name.to_string(),
                    detail,
                };
                let payload = self
                    .read_json_payload(&latest.output_uri)
                    .await
                    .map_err(unreadable)?;
                // A stored payload of another shape (`{}`, a list of other
                // objects) selected no events and planned as a day without
                // games, while `plan --calendar FILE` refuses the same file.
                if let Some(why) = shape_mismatch(&payload, &cal.events) {
                    return Err(unreadable(format!(
                        "the stored payload {} is not shaped like a schedule: {why}",
                        latest.output_uri
                    )));
                }
                let events = std::sync::Arc::new(
                    extract_events(&payload, cal).map_err(|e| unreadable(e.to_string()))?,
                );
                self.calendar_cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        name.to_string(),
                        (latest.output_uri.clone(), events.clone()),
                    );
                events
            }
        };
        Ok(Some(CalendarData {
            events: events.as_ref().clone(),
            fetched_at: latest.fetched_at,
            output_uri: latest.output_uri,
        }))
    }
}

#[cfg(test)]
mod shape_tests {
    use super::shape_mismatch;
    use serde_json::json;

    const NBA: &str = "$.leagueSchedule.gameDates[*].games[*]";

    #[test]
    fn a_document_of_another_shape_is_told_from_a_day_without_events() {
        // Right shape, no events: a day without games.
        assert_eq!(
            shape_mismatch(&json!({"leagueSchedule": {"gameDates": []}}), NBA),
            None
        );
        assert_eq!(
            shape_mismatch(
                &json!({"leagueSchedule": {"gameDates": [{"games": []}]}}),
                NBA
            ),
            None
        );
        assert_eq!(shape_mismatch(&json!({"games": []}), "$['games'][*]"), None);
        assert_eq!(
            shape_mismatch(&json!({"games": [{"s": 1}]}), "$.games[?@.s == 2]"),
            None
        );
        assert_eq!(shape_mismatch(&json!({"a": {}}), "$..games[*]"), None);
        // Another shape.
        assert_eq!(
            shape_mismatch(&json!({}), NBA).as_deref(),
            Some(
                "$ is an object with no member \"leagueSchedule\" (the calendar reads its events at $.leagueSchedule.gameDates[*].games[*])"
            )
        );
        assert!(
            shape_mismatch(&json!([{"id": 1}]), "$.games[*]")
                .is_some_and(|why| why.starts_with("$ is an array with no member \"games\""))
        );
        assert!(
            shape_mismatch(
                &json!({"leagueSchedule": {"gameDates": [{"x": 1}, {"y": 2}]}}),
                NBA
            )
            .is_some_and(|why| why.starts_with(
                "none of the 2 values at $.leagueSchedule.gameDates[*] has a member \"games\""
            ))
        );
        assert!(
            shape_mismatch(&json!({"games": 5}), "$.games[*]")
                .is_some_and(|why| why.starts_with("$.games is a number, not an array or object"))
        );
        assert!(
            shape_mismatch(&json!({}), "$[\"games\"][*]")
                .is_some_and(|why| why.contains("no member \"games\""))
        );
    }

    /// Before: `{}` against `$[*]` selected nothing and planned as a day
    /// without events, as an empty array does.
    #[test]
    fn an_empty_object_where_the_path_reads_an_arrays_items_is_another_shape() {
        assert_eq!(
            shape_mismatch(&json!({}), "$[*]").as_deref(),
            Some("$ is an empty object, not an array (the calendar reads its events at $[*])")
        );
        assert!(
            shape_mismatch(&json!({"games": {}}), "$.games[*]")
                .is_some_and(|why| why.starts_with("$.games is an empty object, not an array"))
        );
        assert!(
            shape_mismatch(
                &json!({"leagueSchedule": {"gameDates": [{"games": {}}, {"games": {}}]}}),
                NBA
            )
            .is_some_and(|why| why.starts_with(
                "the 2 values at $.leagueSchedule.gameDates[*].games are empty objects, not an array"
            ))
        );
        // Still a day without events: an empty array, and `.*` (members of
        // an object, events keyed by id) on an empty object.
        assert_eq!(shape_mismatch(&json!([]), "$[*]"), None);
        assert_eq!(shape_mismatch(&json!({"games": []}), "$.games[*]"), None);
        assert_eq!(shape_mismatch(&json!({"games": {}}), "$.games.*"), None);
        // A non-empty object selects its values; they are checked as events.
        assert_eq!(shape_mismatch(&json!({"g1": {"id": 1}}), "$[*]"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn cal() -> Calendar {
        Calendar {
            name: "games".into(),
            dataset: "nba/schedule".into(),
            events: "$.games[*]".into(),
            id: "gameId".into(),
            start: "startUtc".into(),
            refresh: None,
        }
    }

    /// Before: `12345678901234567890123` became the id
    /// `1.2345678901234568e+22`, and its call asked for another resource.
    #[test]
    fn a_number_that_lost_digits_is_no_id() {
        let payload: Value = serde_json::from_str(
            r#"{"games": [{"gameId": 18446744073709551615, "team": 1.5}, {"gameId": 12345678901234567890123, "team": 2}]}"#,
        )
        .unwrap();
        let error = extract_values(&payload, "$.games[*]", "gameId").unwrap_err();
        assert_eq!(
            error.to_string(),
            "item 1 ($['games'][1]): member \"gameId\" is a number too large to keep exactly (read as 1.2345678901234568e+22): it would call another id"
        );
        let payload =
            json!({"games": [{"gameId": "a", "team": 1.0e300}, {"gameId": "b", "team": 1.5}]});
        let extra = [ItemParam {
            param: "team".into(),
            path: "team".into(),
        }];
        let items = extract_items(&payload, "$.games[*]", "gameId", &extra).unwrap();
        assert!(
            items[0]
                .params
                .as_ref()
                .unwrap_err()
                .contains("as a number too large to keep exactly"),
            "{items:?}"
        );
        assert_eq!(items[1].params.as_ref().unwrap()["team"], "1.5");
    }

    #[test]
    fn numbers_are_ids_and_offsets_become_utc() {
        let payload = json!({"games": [
            {"gameId": 22500123, "startUtc": "2026-01-05T19:30:00-05:00"},
            {"gameId": "0022500124", "startUtc": "2026-01-06T00:30:00Z"},
            {"gameId": 7, "startUtc": "2026-01-05T20:00:00.5+01:00", "extra": true},
        ]});
        let events = extract_events(&payload, &cal()).unwrap();
        assert_eq!(
            events,
            vec![
                Event {
                    id: "22500123".into(),
                    start: Utc.with_ymd_and_hms(2026, 1, 6, 0, 30, 0).unwrap()
                },
                Event {
                    id: "0022500124".into(),
                    start: Utc.with_ymd_and_hms(2026, 1, 6, 0, 30, 0).unwrap()
                },
                Event {
                    id: "7".into(),
                    start: Utc.with_ymd_and_hms(2026, 1, 5, 19, 0, 0).unwrap()
                        + chrono::Duration::milliseconds(500)
                },
            ]
        );
    }

    #[test]
    fn a_missing_member_is_an_error_naming_index_and_member() {
        let payload = json!({"games": [
            {"gameId": 1, "startUtc": "2026-01-05T19:30:00Z"},
            {"gameId": 2},
        ]});
        let error = extract_events(&payload, &cal()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "event 1 ($['games'][1]) has no member \"startUtc\""
        );
        let payload = json!({"games": [{"startUtc": "2026-01-05T19:30:00Z"}]});
        assert_eq!(
            extract_events(&payload, &cal()).unwrap_err().to_string(),
            "event 0 ($['games'][0]) has no member \"gameId\""
        );
    }

    #[test]
    fn bad_times_values_and_paths_are_errors() {
        let payload = json!({"games": [{"gameId": 1, "startUtc": "2026-01-05 19:30"}]});
        let error = extract_events(&payload, &cal()).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "event 0 ($['games'][0]): member \"startUtc\" = \"2026-01-05 19:30\" is not an RFC 3339 time"
            ),
            "{error}"
        );
        let payload = json!({"games": [{"gameId": null, "startUtc": "2026-01-05T19:30:00Z"}]});
        assert_eq!(
            extract_events(&payload, &cal()).unwrap_err().to_string(),
            "event 0 ($['games'][0]): member \"gameId\" is null, not a string or number"
        );
        let payload = json!({"games": [3]});
        assert_eq!(
            extract_events(&payload, &cal()).unwrap_err().to_string(),
            "event 0 ($['games'][0]) is not an object"
        );
        let mut bad = cal();
        bad.events = "$.games[".into();
        let error = extract_events(&payload, &bad).unwrap_err().to_string();
        assert!(error.starts_with("bad JSONPath \"$.games[\""), "{error}");
    }

    /// Before: events keyed by the upstream's ids (read with `.*`) put a
    /// key's line break, escape and right-to-left override into the
    /// location as they were; a fan-out item's value likewise into the
    /// reason its parameters could not be bound.
    #[test]
    fn upstream_text_in_a_location_or_an_item_value_is_escaped() {
        let mut keyed = cal();
        keyed.events = "$.games.*".into();
        let payload = json!({"games": {"g1\n\u{1b}[2J\u{202e}": {"gameId": 1}}});
        assert_eq!(
            extract_events(&payload, &keyed).unwrap_err().to_string(),
            r#"event 0 ($['games']['g1\n\u{1b}[2J\u{202e}']) has no member "startUtc""#
        );
        let payload = json!({"data": [{"id": "e1\n\u{1b}[2J\u{202e}"}]});
        let extra = [ItemParam {
            param: "home".into(),
            path: "homeTeam".into(),
        }];
        let items = extract_items(&payload, "$.data[*]", "id", &extra).unwrap();
        // The value itself is what the request sends, unchanged.
        assert_eq!(items[0].value, "e1\n\u{1b}[2J\u{202e}");
        assert_eq!(
            items[0].params.as_ref().unwrap_err(),
            r#"item 0 ($['data'][0], id=e1\n\u{1b}[2J\u{202e}) has no member "homeTeam" (for {home})"#
        );
    }

    #[test]
    fn nothing_selected_is_no_events_and_filters_work() {
        assert!(
            extract_events(&json!({"other": []}), &cal())
                .unwrap()
                .is_empty()
        );
        let mut filtered = cal();
        filtered.events = "$.games[?@.status == 'scheduled']".into();
        let payload = json!({"games": [
            {"gameId": 1, "startUtc": "2026-01-05T19:30:00Z", "status": "postponed"},
            {"gameId": 2, "startUtc": "2026-01-05T19:30:00Z", "status": "scheduled"},
        ]});
        let ids: Vec<String> = extract_events(&payload, &filtered)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, vec!["2"]);
    }

    #[test]
    fn item_values_are_deduplicated_in_document_order() {
        let payload = json!({"data": [{"id": "b"}, {"id": "a"}, {"id": "b"}, {"id": 3}]});
        assert_eq!(
            extract_values(&payload, "$.data[*]", "id").unwrap(),
            vec!["b", "a", "3"]
        );
        assert_eq!(
            extract_values(&json!({"data": [{"x": 1}]}), "$.data[*]", "id")
                .unwrap_err()
                .to_string(),
            "item 0 ($['data'][0]) has no member \"id\""
        );
    }
}
