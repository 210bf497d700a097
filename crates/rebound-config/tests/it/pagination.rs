//! `paginate` and `timeout` on scrapers (issue 13, items 1 and 6): what a
//! valid table resolves to, and every bad one refused with its key,
//! line and column.

use super::bad_files::{Case, check};
use super::{BASE, plan};
use rebound_domain::paginate::{PageKind, Paginate};
use std::time::Duration;

/// A scraper `p` with `records` and the given extra lines.
fn scraper(extra: &str) -> String {
    format!("{BASE}\n[scrapers.p]\nsource = \"api\"\npath = \"/p\"\nrecords = \"/data\"\n{extra}\n")
}

#[test]
fn every_kind_resolves_with_its_defaults() {
    let table = [
        (
            r#"paginate = { kind = "cursor", cursor = "/meta/next_cursor", param = "cursor" }"#,
            PageKind::Cursor {
                cursor: "/meta/next_cursor".into(),
                param: "cursor".into(),
            },
        ),
        (
            r#"paginate = { kind = "next_url", next = "/links/next" }"#,
            PageKind::NextUrl {
                next: "/links/next".into(),
            },
        ),
        (r#"paginate = { kind = "link" }"#, PageKind::Link),
        (
            r#"paginate = { kind = "page", param = "page" }"#,
            PageKind::Page {
                param: "page".into(),
                start: 1,
                total: None,
            },
        ),
        (
            r#"paginate = { kind = "page", param = "p", start = 0, total = "/total" }"#,
            PageKind::Page {
                param: "p".into(),
                start: 0,
                total: Some("/total".into()),
            },
        ),
        (
            r#"paginate = { kind = "offset", param = "offset", limit_param = "limit", limit = 50 }"#,
            PageKind::Offset {
                param: "offset".into(),
                limit_param: "limit".into(),
                limit: 50,
                total: None,
            },
        ),
    ];
    for (line, kind) in table {
        let p = plan(&scraper(line));
        assert_eq!(
            p.scrapers["p"].paginate,
            Some(Paginate {
                kind,
                max_pages: 100
            }),
            "{line}"
        );
    }
    let p = plan(&scraper(r#"paginate = { kind = "link", max_pages = 5 }"#));
    assert_eq!(p.scrapers["p"].paginate.as_ref().unwrap().max_pages, 5);
    assert_eq!(p.scrapers["events"].paginate, None);
}

#[test]
fn check_summarises_each_paginated_scraper() {
    let p = plan(&scraper(
        r#"paginate = { kind = "page", param = "page", total = "/total", max_pages = 40 }"#,
    ));
    let summary = rebound_config::summary(&p);
    assert!(
        summary.contains(
            "pagination (1):\n  p: page = 1, 2, ... until an empty page or /total records; records joined at /data; at most 40 pages\n"
        ),
        "{summary}"
    );
}

#[test]
fn a_scraper_timeout_overrides_its_sources() {
    let p = plan(&scraper("timeout = \"90s\""));
    let source = &p.sources["api"];
    assert_eq!(p.scrapers["p"].timeout, Some(Duration::from_secs(90)));
    assert_eq!(p.scrapers["p"].timeout(source), Duration::from_secs(90));
    assert_eq!(p.scrapers["events"].timeout(source), source.timeout);
}

fn bad(
    name: &'static str,
    extra: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        text: scraper(extra),
        key,
        at,
        says,
    }
}

#[test]
fn bad_pagination_and_timeouts_name_key_position_and_expectation() {
    check(vec![
        bad(
            "unknown kind",
            r#"paginate = { kind = "cursr", cursor = "/c", param = "c" }"#,
            "scrapers.p.paginate.kind",
            "\"cursr\"",
            "expected one of \"cursor\", \"next_url\", \"link\", \"page\", \"offset\", found \"cursr\" (did you mean \"cursor\"?)",
        ),
        bad(
            "not a JSON Pointer",
            r#"paginate = { kind = "cursor", cursor = "meta.next", param = "c" }"#,
            "scrapers.p.paginate.cursor",
            "\"meta.next\"",
            "expected a JSON Pointer such as \"/data\"",
        ),
        bad(
            "bad total pointer",
            r#"paginate = { kind = "page", param = "page", total = "/a~2" }"#,
            "scrapers.p.paginate.total",
            "\"/a~2\"",
            "bad JSON Pointer \"/a~2\"",
        ),
        bad(
            "cursor without param",
            r#"paginate = { kind = "cursor", cursor = "/c" }"#,
            "scrapers.p.paginate.param",
            "{ kind",
            "missing required key `param` of kind \"cursor\"",
        ),
        bad(
            "next_url without next",
            r#"paginate = { kind = "next_url" }"#,
            "scrapers.p.paginate.next",
            "{ kind",
            "missing required key `next` of kind \"next_url\"",
        ),
        bad(
            "offset without limit",
            r#"paginate = { kind = "offset", param = "o", limit_param = "l" }"#,
            "scrapers.p.paginate.limit",
            "{ kind",
            "missing required key `limit` of kind \"offset\"",
        ),
        bad(
            "offset with one name twice",
            r#"paginate = { kind = "offset", param = "o", limit_param = "o", limit = 5 }"#,
            "scrapers.p.paginate.limit_param",
            "\"o\", limit = 5",
            "limit_param must differ from param (both are \"o\")",
        ),
        bad(
            "a key of another kind",
            r#"paginate = { kind = "link", param = "page" }"#,
            "scrapers.p.paginate.param",
            "\"page\"",
            "key \"param\" does not apply to kind \"link\"; allowed keys for kind \"link\": kind, max_pages",
        ),
        bad(
            "unknown key",
            r#"paginate = { kind = "page", param = "page", totl = "/t" }"#,
            "scrapers.p.paginate.totl",
            "\"/t\"",
            "unknown key \"totl\" (did you mean \"total\"?)",
        ),
        bad(
            "max_pages zero",
            r#"paginate = { kind = "link", max_pages = 0 }"#,
            "scrapers.p.paginate.max_pages",
            "0 }",
            "expected an integer >= 1, found 0",
        ),
        bad(
            "max_pages above its bound",
            r#"paginate = { kind = "link", max_pages = 10001 }"#,
            "scrapers.p.paginate.max_pages",
            "10001",
            "expected an integer <= 10000, found 10001",
        ),
        bad(
            "limit zero",
            r#"paginate = { kind = "offset", param = "o", limit_param = "l", limit = 0 }"#,
            "scrapers.p.paginate.limit",
            "0 }",
            "expected an integer >= 1, found 0",
        ),
        bad(
            "zero timeout",
            "timeout = \"0s\"",
            "scrapers.p.timeout",
            "\"0s\"",
            "expected a duration longer than zero",
        ),
        bad(
            "timeout above its bound",
            "timeout = \"2h\"",
            "scrapers.p.timeout",
            "\"2h\"",
            "expected a duration of at most 1h, found \"2h\"",
        ),
        Case {
            name: "pagination without records",
            text: format!(
                "{BASE}\n[scrapers.p]\nsource = \"api\"\npath = \"/p\"\npaginate = {{ kind = \"page\", param = \"page\" }}\n"
            ),
            key: "scrapers.p.paginate",
            at: "{ kind",
            says: "paginate needs `records` (the JSON Pointer to each page's array of records, e.g. \"/data\"): the pages' records are joined into one payload, and kind \"page\" stops on a page without records",
        },
    ]);
}
