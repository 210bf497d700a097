//! Pagination: how one call of a scraper follows an API's pages
//! (`paginate = { kind = ..., max_pages = 100 }`), and the one piece of it
//! that is pure text: reading an RFC 8288 `Link` header.
//!
//! The page loop itself (which request comes next, when to stop, merging
//! the records) reads JSON documents and builds URLs, so it lives with the
//! HTTP edge (`rebound-fetch`, `paginate.rs`); this module holds the
//! validated settings it runs on.

/// `paginate = { kind = ..., max_pages = ... }` on a scraper. A scraper
/// with `paginate` always has a `records` pointer (the resolver checks it):
/// the pages' records arrays are what the call concatenates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paginate {
    pub kind: PageKind,
    /// Most pages one call fetches; a call that would need more fails
    /// (kind `pagination`) rather than store a silently truncated dataset.
    pub max_pages: u32,
}

impl Paginate {
    /// `max_pages` when none is written: BallDontLie, the paginated source
    /// of the reference pipeline, serves at most 100 records a page, so 100
    /// pages hold 10,000 records, far more than a day of box scores; and a
    /// loop the cursor check does not catch (an API that mints a new
    /// cursor for the same page) ends after 100 requests, not never.
    pub const DEFAULT_MAX_PAGES: u32 = 100;
    /// `start` of kind `page` when none is written: most APIs count pages from 1.
    pub const DEFAULT_START: u64 = 1;
}

/// How the next page is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageKind {
    /// The body holds the next page's cursor at `cursor` (a JSON Pointer);
    /// it is sent as query parameter `param`. Ends when the cursor is
    /// missing, null or empty.
    Cursor { cursor: String, param: String },
    /// The body holds the next page's URL at `next` (a JSON Pointer),
    /// absolute or relative to the page's URL. Ends when it is missing,
    /// null or empty. Only URLs on the source's origin are followed.
    NextUrl { next: String },
    /// The response's `Link: <...>; rel="next"` header (RFC 8288). Ends
    /// when there is none. Only URLs on the source's origin are followed.
    Link,
    /// Query parameter `param` counts pages from `start`. Ends on a page
    /// with no records, or once `total` records (when given) are in.
    Page {
        param: String,
        start: u64,
        total: Option<String>,
    },
    /// Query parameter `param` is the offset of the page's first record,
    /// `limit_param` = `limit` its size. Ends like [`PageKind::Page`].
    Offset {
        param: String,
        limit_param: String,
        limit: u64,
        total: Option<String>,
    },
}

impl PageKind {
    /// Every kind, as written in the config.
    pub const NAMES: [&'static str; 5] = ["cursor", "next_url", "link", "page", "offset"];

    /// As written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            PageKind::Cursor { .. } => "cursor",
            PageKind::NextUrl { .. } => "next_url",
            PageKind::Link => "link",
            PageKind::Page { .. } => "page",
            PageKind::Offset { .. } => "offset",
        }
    }

    /// The JSON Pointer to the total record count, for kinds that have one.
    pub fn total(&self) -> Option<&str> {
        match self {
            PageKind::Page { total, .. } | PageKind::Offset { total, .. } => total.as_deref(),
            _ => None,
        }
    }
}

/// The target of the `rel="next"` link of a `Link` header value (RFC 8288
/// §3), as written (maybe relative); `None` when there is none. Tolerant of
/// what servers send: several links in one value, parameters in any order
/// and case, quoted or bare `rel`, several relation types in one `rel`.
pub fn link_next(header: &str) -> Option<&str> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params_start = &after[close + 1..];
        // The link's parameters run until the next link (a `<` outside a
        // quoted string) or the end of the value.
        let (params, next) = split_link_params(params_start);
        if params
            .split(';')
            .filter_map(|p| p.split_once('='))
            .any(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        // The `,` before the next link ends up here.
                        .trim_end_matches(',')
                        .trim_end()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
        {
            return Some(target.trim());
        }
        rest = next;
    }
}

/// Splits `; rel="next", <...>` into the parameters of this link and the
/// rest of the header, ignoring `,` and `<` inside quoted strings.
fn split_link_params(text: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => return (&text[..i], &text[i..]),
            _ => {}
        }
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_found_however_servers_write_them() {
        let table: &[(&str, Option<&str>)] = &[
            (
                r#"<https://a.example/x?page=2>; rel="next""#,
                Some("https://a.example/x?page=2"),
            ),
            (r#"</x?page=2>; rel=next"#, Some("/x?page=2")),
            (
                r#"<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next", <https://a/x?page=9>; rel="last""#,
                Some("https://a/x?page=3"),
            ),
            (
                r#"<https://a/3>; title="a, <b>"; REL="Next""#,
                Some("https://a/3"),
            ),
            (r#"<https://a/3>; rel="next last""#, Some("https://a/3")),
            (
                r#"<https://a/1>; rel="prev", <https://a/9>; rel="last""#,
                None,
            ),
            (r#"<https://a/1>; rel="nextish""#, None),
            ("", None),
            ("garbage", None),
            ("<unclosed; rel=next", None),
        ];
        for (header, expected) in table {
            assert_eq!(link_next(header), *expected, "{header}");
        }
    }

    #[test]
    fn kinds_are_named_as_in_the_config() {
        let kinds = [
            PageKind::Cursor {
                cursor: "/c".into(),
                param: "cursor".into(),
            },
            PageKind::NextUrl { next: "/n".into() },
            PageKind::Link,
            PageKind::Page {
                param: "page".into(),
                start: 1,
                total: None,
            },
            PageKind::Offset {
                param: "offset".into(),
                limit_param: "limit".into(),
                limit: 10,
                total: Some("/total".into()),
            },
        ];
        let names: Vec<&str> = kinds.iter().map(PageKind::name).collect();
        assert_eq!(names, PageKind::NAMES);
        assert_eq!(kinds[4].total(), Some("/total"));
        assert_eq!(kinds[0].total(), None);
    }
}
