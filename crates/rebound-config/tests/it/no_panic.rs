//! No input may panic the loader, and every refusal has the documented
//! `file:line:col: ` shape with a position inside the file.

use super::{FILE, load};
use proptest::prelude::*;

fn check_shape(text: &str) {
    if let Err(e) = load(text) {
        let lines_in_file = text.lines().count() + 1;
        let message = e.to_string();
        assert!(!e.problems().is_empty(), "{message}");
        for problem in e.problems() {
            assert!(
                problem.line >= 1 && problem.line <= lines_in_file,
                "{problem}"
            );
            assert!(problem.column >= 1, "{problem}");
            assert!(
                problem.to_string().starts_with(&format!("{FILE}:")),
                "{problem}"
            );
        }
        assert_eq!(message.lines().count(), e.problems().len(), "{message}");
    }
}

fn nba() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/nba.toml");
    std::fs::read_to_string(path).unwrap()
}

fn nba_scheduled() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/nba/rebound.toml"
    );
    std::fs::read_to_string(path).unwrap()
}

/// `text` with the bytes `start..start + len` (moved to char boundaries)
/// replaced by `insert`.
fn mutate(mut text: String, start: usize, len: usize, insert: &str) -> String {
    let start = start % text.len();
    let start = (0..=start)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let end = (start + len).min(text.len());
    let end = (end..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text.replace_range(start..end, insert);
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text(text in "\\PC*") {
        check_shape(&text);
    }

    #[test]
    fn toml_like_text(text in "(\\[[a-z._\"]{0,12}\\]\n|[a-z_]{1,10} = (\"[^\"\n]{0,12}\"|-?[0-9]{1,4}|\\[\\]|\\{ \\}|true)\n){0,12}") {
        check_shape(&format!("[pipeline]\nname = \"x\"\n{text}"));
    }

    /// Damaged versions of the reference file: a slice cut out and
    /// replaced by arbitrary characters.
    #[test]
    fn mutated_reference(start in 0usize..20_000, len in 0usize..40, insert in "\\PC{0,6}") {
        check_shape(&mutate(nba(), start, len, &insert));
    }

    /// The same for the scheduled reference, whose schedules, calendars
    /// and fan-outs go through other code.
    #[test]
    fn mutated_scheduled_reference(start in 0usize..40_000, len in 0usize..40, insert in "\\PC{0,6}") {
        check_shape(&mutate(nba_scheduled(), start, len, &insert));
    }
}
