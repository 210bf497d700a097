//! A scraper's per-call limits: `timeout` (overriding the source's) and
//! `paginate` (see docs/pagination.md). Every problem is reported against
//! its key, with the keys the pagination kind allows.

use super::{Resolver, check_json_pointer};
use crate::error::closest;
use crate::keypath::KeyPath;
use crate::raw::{RawPaginate, RawScraper};
use rebound_domain::paginate::{PageKind, Paginate};
use std::time::Duration;

/// The keys each kind takes besides `kind` and `max_pages`.
const KIND_KEYS: &[(&str, &[&str])] = &[
    ("cursor", &["cursor", "param"]),
    ("next_url", &["next"]),
    ("link", &[]),
    ("page", &["param", "start", "total"]),
    ("offset", &["param", "limit_param", "limit", "total"]),
];

impl Resolver<'_> {
    /// `timeout` on a scraper: bounded like a source's, never zero.
    pub(super) fn scraper_timeout(&mut self, path: &KeyPath, raw: &RawScraper) -> Option<Duration> {
        let text = raw.timeout.as_ref()?;
        let key = path.key("timeout");
        let timeout = self.duration(&key, text)?;
        if timeout.is_zero() {
            self.fail(&key, "expected a duration longer than zero, found \"0s\"");
            return None;
        }
        Some(timeout)
    }

    /// `paginate` on a scraper whose `records` pointer (already resolved)
    /// is `records`.
    pub(super) fn paginate(
        &mut self,
        path: &KeyPath,
        raw: &RawScraper,
        records: Option<&str>,
    ) -> Option<Paginate> {
        let raw_paginate = raw.paginate.as_ref()?;
        let path = path.key("paginate");
        let kind_path = path.key("kind");
        let read_from = self.secrets.len();
        let kind = self.text(&kind_path, &raw_paginate.kind)?;
        let Some(own) = KIND_KEYS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, keys)| *keys)
        else {
            let kinds: Vec<String> = PageKind::NAMES.iter().map(|k| k.to_string()).collect();
            let mut message = format!(
                "expected one of {}, found \"{kind}\"",
                kinds
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(best) = closest(&kind, &kinds) {
                message.push_str(&format!(" (did you mean \"{best}\"?)"));
            }
            self.fail(&kind_path, message);
            return None;
        };
        self.not_secret(read_from);
        let allowed: Vec<String> = ["kind", "max_pages"]
            .iter()
            .chain(own.iter())
            .map(|k| k.to_string())
            .collect();
        let for_kind = format!("allowed keys for kind \"{kind}\": {}", allowed.join(", "));
        let mut ok = true;
        for key in present_keys(raw_paginate) {
            if !allowed.iter().any(|a| a == key) {
                self.fail(
                    &path.key(key),
                    format!("key \"{key}\" does not apply to kind \"{kind}\"; {for_kind}"),
                );
                ok = false;
            }
        }
        for key in raw_paginate.unknown.keys() {
            let mut message = format!("unknown key \"{key}\"");
            if let Some(best) = closest(key, &allowed) {
                message.push_str(&format!(" (did you mean \"{best}\"?)"));
            }
            message.push_str(&format!("; {for_kind}"));
            self.fail(&path.key(key), message);
            ok = false;
        }
        if records.is_none() && raw.records.is_none() {
            // The call stores one payload: the first page with its records
            // array holding every page's records. Without `records` there is
            // no array to join (and `page`/`offset` could not see an empty
            // page to stop on).
            self.fail(
                &path,
                format!(
                    "paginate needs `records` (the JSON Pointer to each page's array of records, e.g. \"/data\"): the pages' records are joined into one payload{}",
                    if matches!(kind.as_str(), "page" | "offset") {
                        format!(", and kind \"{kind}\" stops on a page without records")
                    } else {
                        String::new()
                    }
                ),
            );
            ok = false;
        }
        let max_pages = match raw_paginate.max_pages {
            Some(n) => self.at_least::<u32>(&path.key("max_pages"), n, 1),
            None => Some(Paginate::DEFAULT_MAX_PAGES),
        };
        let kind = match kind.as_str() {
            "cursor" => {
                let cursor = self.pointer_key(&path, &kind, "cursor", &raw_paginate.cursor);
                let param = self.param_key(&path, &kind, "param", &raw_paginate.param);
                PageKind::Cursor {
                    cursor: cursor?,
                    param: param?,
                }
            }
            "next_url" => PageKind::NextUrl {
                next: self.pointer_key(&path, &kind, "next", &raw_paginate.next)?,
            },
            "link" => PageKind::Link,
            "page" => {
                let param = self.param_key(&path, &kind, "param", &raw_paginate.param);
                let start = match raw_paginate.start {
                    Some(n) => self.at_least::<u64>(&path.key("start"), n, 0),
                    None => Some(Paginate::DEFAULT_START),
                };
                let total = self.total(&path, &raw_paginate.total);
                PageKind::Page {
                    param: param?,
                    start: start?,
                    total: total?,
                }
            }
            _ => {
                let param = self.param_key(&path, &kind, "param", &raw_paginate.param);
                let limit_param =
                    self.param_key(&path, &kind, "limit_param", &raw_paginate.limit_param);
                let limit = match raw_paginate.limit {
                    Some(n) => self.at_least::<u64>(&path.key("limit"), n, 1),
                    None => {
                        self.fail(
                            &path.key("limit"),
                            format!(
                                "missing required key `limit` of kind \"{kind}\": expected the number of records per page, e.g. 100"
                            ),
                        );
                        None
                    }
                };
                let total = self.total(&path, &raw_paginate.total);
                if let (Some(p), Some(l)) = (&param, &limit_param)
                    && p == l
                {
                    self.fail(
                        &path.key("limit_param"),
                        format!("limit_param must differ from param (both are \"{p}\")"),
                    );
                    ok = false;
                }
                PageKind::Offset {
                    param: param?,
                    limit_param: limit_param?,
                    limit: limit?,
                    total: total?,
                }
            }
        };
        let max_pages = max_pages?;
        ok.then_some(Paginate { kind, max_pages })
    }

    /// A required JSON Pointer key of a pagination kind.
    fn pointer_key(
        &mut self,
        path: &KeyPath,
        kind: &str,
        key: &str,
        value: &Option<String>,
    ) -> Option<String> {
        let Some(raw) = value else {
            self.fail(
                &path.key(key),
                format!(
                    "missing required key `{key}` of kind \"{kind}\": expected a JSON Pointer into the body, e.g. \"/meta/next_{}\"",
                    if key == "next" { "url" } else { key }
                ),
            );
            return None;
        };
        let key_path = path.key(key);
        let text = self.text(&key_path, raw)?;
        match check_json_pointer(&text) {
            Ok(()) => Some(text),
            Err(message) => {
                self.fail(&key_path, message);
                None
            }
        }
    }

    /// A required query parameter name of a pagination kind.
    fn param_key(
        &mut self,
        path: &KeyPath,
        kind: &str,
        key: &str,
        value: &Option<String>,
    ) -> Option<String> {
        let Some(raw) = value else {
            self.fail(
                &path.key(key),
                format!("missing required key `{key}` of kind \"{kind}\": expected a query parameter name"),
            );
            return None;
        };
        let key_path = path.key(key);
        let text = self.text(&key_path, raw)?;
        if text.trim().is_empty() {
            self.fail(&key_path, "expected a query parameter name, found \"\"");
            return None;
        }
        Some(text)
    }

    /// `total`, optional: `Some(None)` when absent, `None` on a problem.
    fn total(&mut self, path: &KeyPath, value: &Option<String>) -> Option<Option<String>> {
        let Some(raw) = value else {
            return Some(None);
        };
        let key_path = path.key("total");
        let text = self.text(&key_path, raw)?;
        match check_json_pointer(&text) {
            Ok(()) => Some(Some(text)),
            Err(message) => {
                self.fail(&key_path, message);
                None
            }
        }
    }
}

/// Every key written in a `paginate` table besides `kind` and `max_pages`
/// (other than unknown ones).
fn present_keys(raw: &RawPaginate) -> Vec<&'static str> {
    let keys = [
        ("cursor", raw.cursor.is_some()),
        ("next", raw.next.is_some()),
        ("param", raw.param.is_some()),
        ("start", raw.start.is_some()),
        ("limit_param", raw.limit_param.is_some()),
        ("limit", raw.limit.is_some()),
        ("total", raw.total.is_some()),
    ];
    keys.iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect()
}
