//! A table of bad files: each must be refused with a message naming the
//! key path and pointing at the right line and column, and nothing may
//! panic on the way.

use super::{BASE, FILE, error};

pub(super) struct Case {
    pub name: &'static str,
    pub text: String,
    /// Expected key path (empty for TOML syntax errors).
    pub key: &'static str,
    /// Unique text in the file where the error must point (its first char).
    pub at: &'static str,
    /// Text the message must contain.
    pub says: &'static str,
}

fn case(
    name: &'static str,
    extra: &str,
    key: &'static str,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        text: format!("{BASE}{extra}"),
        key,
        at,
        says,
    }
}

/// Line and column (1-based, in characters) of the first `needle`.
fn line_col(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "`at` must be unique: {needle:?} in\n{text}"
    );
    let offset = text.find(needle).unwrap();
    let before = &text[..offset];
    let line = before.lines().count().max(1) + usize::from(before.ends_with('\n'));
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

fn cases() -> Vec<Case> {
    vec![
        // Syntax and serde-level problems.
        Case {
            name: "toml syntax",
            text: "[pipeline]\nname = \"t\nz = 1\n".into(),
            key: "",
            at: "\nz = 1",
            says: "invalid TOML",
        },
        Case {
            name: "duplicate key",
            text: "[pipeline]\nname = \"t\"\nname = \"u\"\n".into(),
            key: "",
            at: "name = \"u\"",
            says: "duplicate key (at `name`)",
        },
        Case {
            name: "missing pipeline",
            text: "[retry]\nmax_attempts = 2\n".into(),
            key: "pipeline",
            at: "[retry]",
            says: "missing required key",
        },
        Case {
            name: "missing pipeline name",
            text: "[pipeline]\ntimezone = \"UTC\"\n".into(),
            key: "pipeline.name",
            at: "[pipeline]",
            says: "missing required key",
        },
        case(
            "unknown top-level table",
            "[workflow.x]\nscrapers = []\n",
            "workflow",
            "workflow.x]",
            "unknown key \"workflow\" (did you mean \"workflows\"?); allowed keys: pipeline, retry, sources, scrapers, workflows",
        ),
        case(
            "unknown source key",
            "[sources.b]\nbase_url = \"https://b\"\ntimout = \"5s\"\n",
            "sources.b.timout",
            "timout",
            "unknown key \"timout\" (did you mean \"timeout\"?); allowed keys: base_url, timeout,",
        ),
        case(
            "unknown retry key",
            "[retry]\nmax_attempt = 2\n",
            "retry.max_attempt",
            "max_attempt ",
            "did you mean \"max_attempts\"?",
        ),
        case(
            "unknown step key",
            "[workflows.w]\nsteps = [{ scrapers = [\"events\"], before = [] }]\n",
            "workflows.w.steps[0].before",
            "before",
            "allowed keys: scrapers, after",
        ),
        case(
            "missing base_url",
            "[sources.b]\ntimeout = \"5s\"\n",
            "sources.b.base_url",
            "[sources.b]",
            "missing required key",
        ),
        // serde reads an array as a struct by position: this one loaded as
        // a breaker turned off, no key named or checked.
        case(
            "table as array of its values",
            "[sources.b]\nbase_url = \"https://b\"\nbreaker = [false, \"10m\", 5, 0.5, 5, \"1m\", \"30m\", true]\n",
            "sources.b.breaker",
            "[false",
            "expected a table (`{ key = value, ... }` or a [section]), found an array",
        ),
        // Refused before as "invalid length 1, expected struct RawBreaker
        // with 8 elements".
        case(
            "table as short array",
            "[sources.b]\nbase_url = \"https://b\"\nbreaker = [false]\n",
            "sources.b.breaker",
            "[false]",
            "expected a table (`{ key = value, ... }` or a [section]), found an array",
        ),
        // Read "retry[0]: expected an integer, found map".
        case(
            "table as array of tables",
            "[[retry]]\nmax_attempts = 2\n",
            "retry",
            "[[retry]]",
            "expected a table (`{ key = value, ... }` or a [section]), found an array",
        ),
        case(
            "step as array",
            "[workflows.w]\nsteps = [[\"events\"]]\n",
            "workflows.w.steps[0]",
            "[\"events\"]]",
            "found an array",
        ),
        // Read "found map".
        case(
            "duration as unquoted datetime",
            "[sources.b]\nbase_url = \"https://b\"\ntimeout = 2026-01-01T00:00:00Z\n",
            "sources.b.timeout",
            "2026-01-01T",
            "expected a duration such as \"250ms\", \"2s\", \"5m\" or \"1h\", found a table or an unquoted date or time",
        ),
        case(
            "duration as number",
            "[sources.b]\nbase_url = \"https://b\"\ntimeout = 20\n",
            "sources.b.timeout",
            "20\n",
            "expected a duration such as \"250ms\", \"2s\", \"5m\" or \"1h\", found integer `20`",
        ),
        case(
            "integer as string",
            "[retry]\nmax_attempts = \"3\"\n",
            "retry.max_attempts",
            "\"3\"",
            "expected an integer, found string \"3\"",
        ),
        case(
            "header value type",
            "[sources.b]\nbase_url = \"https://b\"\nheaders = { X-A = 5 }\n",
            "sources.b.headers.X-A",
            "5 }",
            "expected a string, found integer `5`",
        ),
        // Resolve-time problems.
        case(
            "bad duration",
            "[sources.b]\nbase_url = \"https://b\"\ntimeout = \"fast\"\n",
            "sources.b.timeout",
            "\"fast\"",
            "expected a duration such as \"250ms\", \"2s\", \"5m\" or \"1h\", found \"fast\"",
        ),
        // Before: read silently as if the spaces were not there.
        case(
            "duration with spaces around it",
            "[sources.b]\nbase_url = \"https://b\"\ntimeout = \" 5s \"\n",
            "sources.b.timeout",
            "\" 5s \"",
            "expected a duration without spaces around it, e.g. \"5s\", found \" 5s \"",
        ),
        case(
            "duration with a trailing tab",
            "[retry]\nmax_delay = \"1m30s\\t\"\n",
            "retry.max_delay",
            "\"1m30s",
            "expected a duration without spaces around it, e.g. \"1m30s\", found \"1m30s\\t\"",
        ),
        case(
            "duration unit",
            "[retry]\nmax_delay = \"10 sec\"\n",
            "retry.max_delay",
            "\"10 sec\"",
            "unknown unit",
        ),
        case(
            "zero attempts",
            "[retry]\nmax_attempts = 0\n",
            "retry.max_attempts",
            "0\n",
            "expected an integer >= 1, found 0",
        ),
        case(
            "small multiplier",
            "[retry]\nmultiplier = 0.5\n",
            "retry.multiplier",
            "0.5",
            "expected a number >= 1.0, found 0.5",
        ),
        case(
            "nan multiplier",
            "[retry]\nmultiplier = nan\n",
            "retry.multiplier",
            "nan",
            "expected a number >= 1.0",
        ),
        case(
            "delays inverted",
            "[scrapers.events.retry]\ninitial_delay = \"2m\"\n",
            "scrapers.events.retry.initial_delay",
            "\"2m\"",
            "initial_delay (2m) must not be longer than max_delay (1m)",
        ),
        case(
            "jitter",
            "[retry]\njitter = \"random\"\n",
            "retry.jitter",
            "\"random\"",
            "expected \"full\", \"equal\" or \"none\", found \"random\"",
        ),
        case(
            "zero concurrency",
            "[sources.b]\nbase_url = \"https://b\"\nmax_concurrency = 0\n",
            "sources.b.max_concurrency",
            "0\n",
            "expected an integer >= 1",
        ),
        case(
            "negative body limit",
            "[sources.b]\nbase_url = \"https://b\"\nmax_body_bytes = -1\n",
            "sources.b.max_body_bytes",
            "-1",
            "expected an integer >= 1, found -1",
        ),
        case(
            "zero timeout",
            "[sources.b]\nbase_url = \"https://b\"\ntimeout = \"0s\"\n",
            "sources.b.timeout",
            "\"0s\"",
            "longer than zero",
        ),
        case(
            "method",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nmethod = \"fetch\"\n",
            "scrapers.b.method",
            "\"fetch\"",
            "expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, found \"FETCH\"",
        ),
        case(
            "base_url scheme",
            "[sources.b]\nbase_url = \"ftp://b\"\n",
            "sources.b.base_url",
            "\"ftp://b\"",
            "expected a URL starting with \"http://\" or \"https://\"",
        ),
        case(
            "base_url query",
            "[sources.b]\nbase_url = \"https://b/?k=1\"\n",
            "sources.b.base_url",
            "\"https://b/?k=1\"",
            "put query parameters under `query`",
        ),
        case(
            "base_url template",
            "[sources.b]\nbase_url = \"https://{region\"\n",
            "sources.b.base_url",
            "\"https://{region\"",
            "unclosed '{'",
        ),
        case(
            "records pointer",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nrecords = \"data\"\n",
            "scrapers.b.records",
            "\"data\"",
            "expected a JSON Pointer such as \"/data\"",
        ),
        case(
            "path template",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b/{id\"\n",
            "scrapers.b.path",
            "\"/b/{id\"",
            "unclosed '{'",
        ),
        case(
            "path slash",
            "[scrapers.b]\nsource = \"api\"\npath = \"b\"\n",
            "scrapers.b.path",
            "\"b\"\n",
            "expected a path starting with \"/\"",
        ),
        // Accepted before: the URL parser resolved the dots away and the
        // request went to `/b` above base_url's path.
        case(
            "path dot segment",
            "[scrapers.b]\nsource = \"api\"\npath = \"/x/../../b\"\n",
            "scrapers.b.path",
            "\"/x/../../b\"",
            "has a \"..\" segment, which URL parsing resolves away",
        ),
        case(
            "path encoded dot segment",
            "[scrapers.b]\nsource = \"api\"\npath = \"/%2E%2e/b\"\n",
            "scrapers.b.path",
            "\"/%2E%2e/b\"",
            "has a \"%2E%2e\" segment",
        ),
        case(
            "query template",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nquery = { id = \"{}\" }\n",
            "scrapers.b.query.id",
            "\"{}\"",
            "bad parameter name",
        ),
        case(
            "header template",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nheaders = { X-Id = \"}\" }\n",
            "scrapers.b.headers.X-Id",
            "\"}\"",
            "unmatched '}'",
        ),
        case(
            "header name",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nheaders = { \"Bad Name\" = \"1\" }\n",
            "scrapers.b.headers.\"Bad Name\"",
            "\"1\"",
            "not a valid HTTP header name",
        ),
        // Before: accepted and printed raw (escape sequences, split lines).
        case(
            "dataset control character",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\ndataset = \"ds\\nx\"\n",
            "scrapers.b.dataset",
            "\"ds\\nx\"",
            "a dataset name must not contain control characters (found \\n)",
        ),
        // Before: accepted, then every call failed "could not build the
        // request: failed to parse header value", naming no header.
        case(
            "header value control character",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nheaders = { X-C = \"a\\u0001b\" }\n",
            "scrapers.b.headers.X-C",
            "\"a\\u0001b\"",
            "header values must not contain control characters (found \\u{1})",
        ),
        case(
            "status range",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nno_data = { status = [404, 700] }\n",
            "scrapers.b.no_data.status[1]",
            "700",
            "expected an HTTP status code from 100 to 599, found 700",
        ),
        case(
            "empty body_contains",
            "[scrapers.b]\nsource = \"api\"\npath = \"/b\"\nno_data = { body_contains = [\"\"] }\n",
            "scrapers.b.no_data.body_contains[0]",
            "\"\"]",
            "would match every body",
        ),
        case(
            "unknown source",
            "[scrapers.b]\nsource = \"apii\"\npath = \"/b\"\n",
            "scrapers.b.source",
            "\"apii\"",
            "unknown source \"apii\" (did you mean \"api\"?); defined sources: api",
        ),
        case(
            "bad name",
            "[sources.\"odds api\"]\nbase_url = \"https://b\"\n",
            "sources.\"odds api\"",
            "[sources.\"odds api\"]",
            "bad name \"odds api\"",
        ),
        case(
            "workflow unknown scraper",
            "[workflows.w]\nscrapers = [\"event\"]\n",
            "workflows.w.scrapers[0]",
            "\"event\"",
            "unknown scraper \"event\" (did you mean \"events\"?)",
        ),
        case(
            "workflow duplicate",
            "[workflows.w]\nsteps = [{ scrapers = [\"events\"] }, { scrapers = [\"events\"], after = [] }]\n",
            "workflows.w.steps[1].scrapers[0]",
            "\"events\"], after",
            "appears more than once in this workflow (first at workflows.w.steps[0].scrapers[0])",
        ),
        case(
            "after same step",
            "[workflows.w]\nsteps = [{ scrapers = [\"events\"], after = [\"events\"] }]\n",
            "workflows.w.steps[0].after[0]",
            "\"events\"] }",
            "runs in this step",
        ),
        case(
            "after unknown",
            "[workflows.w]\nsteps = [{ scrapers = [\"events\"] }, { scrapers = [], after = [\"nope\"] }]\n",
            "workflows.w.steps[1].after[0]",
            "\"nope\"",
            "unknown scraper \"nope\"",
        ),
        case(
            "empty step",
            "[workflows.w]\nsteps = [{ scrapers = [] }]\n",
            "workflows.w.steps[0].scrapers",
            "[] }",
            "a step needs at least one scraper",
        ),
        case(
            "no steps",
            "[workflows.w]\nsteps = []\n",
            "workflows.w.steps",
            "[]\n",
            "a workflow needs at least one step",
        ),
        case(
            "steps and scrapers",
            "[workflows.w]\nsteps = [{ scrapers = [\"events\"] }]\nscrapers = [\"events\"]\n",
            "workflows.w.scrapers",
            "[\"events\"]\n",
            "not both",
        ),
        case(
            "neither steps nor scrapers",
            "[workflows.w]\n",
            "workflows.w",
            "[workflows.w]",
            "missing `steps`",
        ),
        case(
            "missing env var",
            "[sources.b]\nbase_url = \"https://b\"\nheaders = { Authorization = \"Bearer ${MISSING_TOKEN}\" }\n",
            "sources.b.headers.Authorization",
            "\"Bearer",
            "environment variable MISSING_TOKEN is not set",
        ),
        case(
            "bad env syntax",
            "[sources.b]\nbase_url = \"https://b\"\nquery = { k = \"${1X}\" }\n",
            "sources.b.query.k",
            "\"${1X}\"",
            "bad environment variable name",
        ),
        Case {
            name: "timezone",
            text: BASE.replace(
                "name = \"t\"",
                "name = \"t\"\ntimezone = \"america/new_york\"",
            ),
            key: "pipeline.timezone",
            at: "\"america/new_york\"",
            says: "expected an IANA time zone name such as \"America/New_York\" or \"UTC\", found \"america/new_york\" (did you mean \"America/New_York\"?)",
        },
        Case {
            name: "database scheme",
            text: BASE.replace("name = \"t\"", "name = \"t\"\ndatabase = \"mysql://db\""),
            key: "pipeline.database",
            at: "\"mysql://db\"",
            says: "expected \"sqlite://PATH\" (relative to the config file's folder), \"sqlite:///ABSOLUTE/PATH\", \"postgres://USER@HOST:PORT/DB\"",
        },
        Case {
            name: "raw store scheme",
            text: BASE.replace("name = \"t\"", "name = \"t\"\nraw_store = \"ftp://raw\""),
            key: "pipeline.raw_store",
            at: "\"ftp://raw\"",
            says: "\"s3://BUCKET/PREFIX\" or \"gs://BUCKET/PREFIX\", found \"ftp://raw\"",
        },
    ]
}

#[test]
fn each_bad_file_names_key_position_and_expectation() {
    check(cases());
}

/// Asserts that each case is refused with its key, position and message.
pub(super) fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
        let message = error(&case.text);
        let (line, column) = line_col(&case.text, case.at);
        let prefix = if case.key.is_empty() {
            format!("{FILE}:{line}:{column}: ")
        } else {
            format!("{FILE}:{line}:{column}: {}: ", case.key)
        };
        let found = message
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(case.says));
        if !found {
            failures.push(format!(
                "{}:\n  want {prefix}…{}\n  got  {}",
                case.name,
                case.says,
                message.replace('\n', "\n       ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn there_are_enough_cases() {
    assert!(cases().len() >= 25);
}

#[test]
fn all_resolve_problems_are_reported_in_file_order() {
    let text = format!(
        "{BASE}{}",
        r#"
[sources.b]
base_url = "https://b"
timeout = "fast"
max_concurrency = 0

[scrapers.c]
source = "nope"
path = "/c"
method = "FETCH"

[workflows.w]
scrapers = ["events", "missing"]
"#
    );
    let message = error(&text);
    let keys: Vec<&str> = message
        .lines()
        .map(|l| l.split(": ").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "sources.b.timeout",
            "sources.b.max_concurrency",
            "scrapers.c.source",
            "scrapers.c.method",
            "workflows.w.scrapers[1]",
        ],
        "{message}"
    );
}

#[test]
fn a_bad_top_level_retry_is_reported_once() {
    // Every source and scraper inherits [retry]; the problem is where it
    // is written, not at each place that inherits it.
    let text = format!("{BASE}\n[retry]\ninitial_delay = \"5m\"\n");
    let message = error(&text);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains(
            "retry.initial_delay: initial_delay (5m) must not be longer than max_delay (1m)"
        ),
        "{message}"
    );
}

/// Before: a pipeline name holding an escape sequence was accepted, and
/// `rebound check` wrote it raw to the terminal.
#[test]
fn a_pipeline_name_with_a_control_character_is_refused() {
    let text = BASE.replace("name = \"t\"", "name = \"a\\u001b[31mRED\"");
    let message = error(&text);
    assert!(
        message.contains(
            "pipeline.name: the pipeline name must not contain control characters (found \\u{1b})"
        ),
        "{message}"
    );
}

#[test]
fn nesting_too_deep_is_reported_where_it_goes_too_deep() {
    // toml stops at 80 levels; the refusal must point at the bracket,
    // brace or key part that went one level too far (it read 1:1 for a
    // dotted key, which toml reports without a place) and say so.
    let depth = 3000;
    let parts = |n: usize| vec!["a"; n].join(".");
    let cases = [
        (
            "arrays",
            format!("k = {}1{}", "[".repeat(depth), "]".repeat(depth)),
            4 + 80,
        ),
        (
            "inline tables",
            format!("k = {}1{}", "{ a = ".repeat(depth), " }".repeat(depth)),
            4 + 80 * 6,
        ),
        ("dotted key", format!("{} = 1", parts(depth)), 80 * 2),
        ("table header", format!("[{}]", parts(81)), 1 + 80 * 2),
        (
            "inline dotted key",
            format!("k = {{ {} = 1 }}", parts(90)),
            6 + 80 * 2,
        ),
    ];
    for (name, line_text, offset) in cases {
        // A comment and a string full of dots before it do not count.
        let text = format!(
            "{BASE}\n# {}\n[extra]\ns = \"{}\"\n{line_text}\n",
            parts(100),
            parts(100)
        );
        let message = error(&text);
        let line = text.lines().position(|l| l == line_text).unwrap() + 1;
        let want = format!(
            "{FILE}:{line}:{}: invalid TOML: nested more than 80 levels deep",
            offset + 1
        );
        assert!(
            message.starts_with(&want),
            "{name}: want {want}\ngot {message}"
        );
        assert_eq!(message.lines().count(), 1, "{name}: {message}");
    }
}

#[test]
fn nesting_at_the_limit_still_loads_as_far_as_toml_goes() {
    // 80 levels parse (the refusal is then about the unknown key, at its
    // place), so the limit the message names is the parser's.
    let text = format!(
        "{BASE}\n[extra]\nk = {}1{}\n",
        "[".repeat(80),
        "]".repeat(80)
    );
    let message = error(&text);
    assert!(!message.contains("levels deep"), "{message}");
    assert!(message.contains("extra"), "{message}");
}

/// A NUL (or another control character) is reported where it is. toml
/// reads one on a line of its own as a bare key and reported "key with no
/// value" one column past it (`\0` at 2:1 read 2:2), never naming it.
#[test]
fn a_nul_is_reported_at_its_own_line_and_column() {
    let cases: [(&str, String, &str); 6] = [
        ("alone on a line", format!("{BASE}\0\n"), "\0"),
        ("at the end of the file", format!("{BASE}\0"), "\0"),
        ("after a key", format!("{BASE}\nk\0\n"), "\0"),
        (
            "inside a string",
            BASE.replace("name = \"t\"", "name = \"t\0\""),
            "\0",
        ),
        ("in a comment", format!("{BASE}# note \0\n"), "\0"),
        (
            "another control character",
            format!("{BASE}\u{1}\n"),
            "\u{1}",
        ),
    ];
    let mut failures = Vec::new();
    for (name, text, at) in cases {
        let message = error(&text);
        let (line, column) = line_col(&text, at);
        let shown = if at == "\0" { "\\0" } else { "\\u{1}" };
        let want = format!(
            "{FILE}:{line}:{column}: invalid TOML: control character {shown} is not allowed"
        );
        if !message.starts_with(&want) {
            failures.push(format!("{name}:\n  want {want}\n  got  {message}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A mistake before it, which toml reports, is still the one reported.
    let text = "[pipeline]\nname = \"t\" x\nz = 1\n\0\n";
    let message = error(text);
    assert!(
        message.starts_with(&format!(
            "{FILE}:2:12: invalid TOML: unexpected key or value"
        )),
        "{message}"
    );
}
