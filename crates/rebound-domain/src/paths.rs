//! Raw-store object paths, safe whatever the parameters contain.
//!
//! A path is `<dataset>/<target date>/<scraper>/<params>__<time>_<hash8>.<ext>`
//! (`<params>__` only when the call has parameters beyond the date). The
//! parameters are part of the file name rather than a folder because a
//! fan-out over thousands of entities would otherwise create a folder per
//! call, and creating folders is what makes local writes slow.
//! Each piece is one segment: characters other than ASCII letters, digits,
//! `-`, `_` and `.` become `_`, and a segment made only of dots becomes `_`,
//! so no value can climb out of its folder or add folders of its own.

use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

const MAX_SEGMENT_CHARS: usize = 120;

/// One path segment that cannot contain a separator or be `.`/`..`.
pub fn safe_segment(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_SEGMENT_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = "_".repeat(out.len().max(1));
    }
    out
}

/// The object path for one payload. `dataset` may contain `/` (e.g.
/// `odds_api/events`); each of its parts is made safe on its own.
pub fn payload_path(
    dataset: &str,
    target_date: NaiveDate,
    scraper: &str,
    params: &BTreeMap<String, String>,
    at: DateTime<Utc>,
    content_hash: &str,
    extension: &str,
) -> String {
    let mut segments: Vec<String> = dataset
        .split('/')
        .filter(|p| !p.is_empty())
        .map(safe_segment)
        .collect();
    segments.push(target_date.format("%Y-%m-%d").to_string());
    segments.push(safe_segment(scraper));
    let mut file_name = String::new();
    if !params.is_empty() {
        let joined: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", safe_segment(k), safe_segment(v)))
            .collect();
        // `=` and `,` are safe on every store and keep the name readable.
        file_name.push_str(&joined.join(","));
        file_name.push_str("__");
    }
    let short_hash: String = content_hash.chars().take(8).collect();
    file_name.push_str(&format!(
        "{}_{}.{}",
        at.format("%Y%m%dT%H%M%S%.3fZ"),
        safe_segment(&short_hash),
        safe_segment(extension)
    ));
    segments.push(file_name);
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn segments_cannot_escape() {
        let table = [
            ("..", "__"),
            (".", "_"),
            ("../etc/passwd", ".._etc_passwd"),
            ("a/b\\c", "a_b_c"),
            ("", "_"),
            ("0022500123", "0022500123"),
            ("2026-11-28", "2026-11-28"),
        ];
        for (input, expected) in table {
            assert_eq!(safe_segment(input), expected, "{input}");
        }
    }

    #[test]
    fn builds_the_documented_shape() {
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 15, 4, 5).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let mut params = BTreeMap::new();
        params.insert("game_id".to_string(), "../../x".to_string());
        let path = payload_path(
            "nbacom/play_by_play",
            date,
            "nbac_pbp",
            &params,
            at,
            "abcdef0123",
            "json",
        );
        assert_eq!(
            path,
            "nbacom/play_by_play/2026-11-27/nbac_pbp/game_id=.._.._x__20261128T150405.000Z_abcdef01.json"
        );
        assert!(!path.split('/').any(|s| s == ".." || s == "."));
        assert_eq!(path.split('/').count(), 5, "params never add folders");
        let plain = payload_path("x", date, "s", &BTreeMap::new(), at, "ff", "bin");
        assert_eq!(plain, "x/2026-11-27/s/20261128T150405.000Z_ff.bin");
    }
}
