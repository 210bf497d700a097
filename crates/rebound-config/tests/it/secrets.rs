//! `${VAR}` substitution: where it applies, what becomes secret, and that
//! secrets stay hidden.

use super::{BASE, error, plan};
use rebound_config::load_str;
use rebound_domain::plan::ConfigValue;
use std::collections::BTreeMap;
use std::path::Path;

fn find<'a>(pairs: &'a [(String, ConfigValue)], name: &str) -> &'a ConfigValue {
    &pairs.iter().find(|(k, _)| k == name).unwrap().1
}

#[test]
fn substitutes_inside_strings_and_marks_secrets() {
    let text = format!(
        "{BASE}{}",
        r#"
[sources.b]
base_url = "https://b"
headers = { Authorization = "Bearer ${TOKEN}", Accept = "application/json" }
query = { key = "${KEY}", date = "{date}" }
"#
    );
    let plan = plan(&text);
    let b = &plan.sources["b"];
    let auth = find(&b.headers, "Authorization");
    assert!(auth.secret);
    assert_eq!(
        auth.value.render(&BTreeMap::new()).unwrap(),
        "Bearer fake-TOKEN"
    );
    assert_eq!(format!("{auth:?}"), "***");
    assert!(!find(&b.headers, "Accept").secret);
    assert!(find(&b.query, "key").secret);
    assert!(!find(&b.query, "date").secret);
    assert_eq!(
        plan.redactor
            .redact("GET https://b/?key=fake-KEY with Bearer fake-TOKEN"),
        "GET https://b/?key=*** with Bearer ***"
    );
}

#[test]
fn a_secret_is_never_read_as_a_template() {
    let env = |name: &str| (name == "BRACES").then(|| "a{b}c}}".to_string());
    let text = format!(
        "{BASE}\n[sources.b]\nbase_url = \"https://b\"\nquery = {{ k = \"${{BRACES}}-{{date}}\" }}\n"
    );
    let plan = load_str(&text, Path::new("r.toml"), &env).unwrap();
    let value = find(&plan.sources["b"].query, "k");
    assert_eq!(value.value.params(), ["date"]);
    let params = BTreeMap::from([("date".to_string(), "2026-11-28".to_string())]);
    assert_eq!(value.value.render(&params).unwrap(), "a{b}c}}-2026-11-28");
}

#[test]
fn double_dollar_writes_a_literal() {
    let text = BASE.replace("name = \"t\"", "name = \"cost $${X} $5\"")
        + "\n[sources.b]\nbase_url = \"https://b\"\nquery = { k = \"$${{x}}\", p = \"$${date}\" }\n";
    let plan = plan(&text);
    assert_eq!(plan.pipeline.name, "cost ${X} $5");
    assert!(plan.redactor.is_empty());
    let query = &plan.sources["b"].query;
    let params = BTreeMap::from([("date".to_string(), "D".to_string())]);
    // Template rules apply after substitution: `{{x}}` is literal, `{date}` a parameter.
    assert_eq!(find(query, "k").value.render(&params).unwrap(), "${x}");
    assert_eq!(find(query, "p").value.render(&params).unwrap(), "$D");
    assert!(!find(query, "k").secret);
}

#[test]
fn missing_variable_names_it_and_the_key() {
    let text = BASE.replace("https://api.example/v1/", "https://${MISSING_HOST}/v1");
    let message = error(&text);
    assert_eq!(
        message,
        "rebound.toml:6:12: sources.api.base_url: environment variable MISSING_HOST is not set"
    );
}

#[test]
fn secrets_are_masked_in_errors_and_summaries() {
    // A malformed value from the environment is quoted by the error, and
    // must still not appear in it.
    let text = BASE.replace("name = \"t\"", "name = \"t\"\ndatabase = \"${DB}\"");
    let env = |name: &str| (name == "DB").then(|| "mysql://root:hunter2@db/x".to_string());
    let err = load_str(&text, Path::new("r.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pipeline.database: expected"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let text = BASE.replace(
        "name = \"t\"",
        "name = \"t\"\ndatabase = \"postgres://app:${PW}@db/x\"\nraw_store = \"s3://${BUCKET}/raw\"",
    );
    let plan = plan(&text);
    let summary = rebound_config::summary(&plan);
    assert!(!summary.contains("fake-"), "{summary}");
    assert!(summary.contains("postgres://app:***@db/x"), "{summary}");
    assert!(format!("{plan:?}").contains("postgres://…"));
}

#[test]
fn a_short_value_from_the_environment_is_masked_where_an_error_quotes_it() {
    // Values of 8 characters and more are masked anywhere; a shorter one
    // (a database password, say) was quoted in clear by the error.
    let text = BASE.replace("name = \"t\"", "name = \"t\"\ndatabase = \"${PW}\"");
    let env = |name: &str| (name == "PW").then(|| "pw42".to_string());
    let err = load_str(&text, Path::new("r.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pipeline.database: expected"), "{err}");
    assert!(err.contains("\"***\""), "{err}");
    assert!(!err.contains("pw42"), "{err}");
}

#[test]
fn env_values_reach_every_kind_of_string() {
    let env = |name: &str| {
        Some(
            match name {
                "TZ_NAME" => "Europe/Paris",
                "SECS" => "45s",
                "JIT" => "none",
                _ => "other",
            }
            .to_string(),
        )
    };
    let text = BASE.replace("name = \"t\"", "name = \"t\"\ntimezone = \"${TZ_NAME}\"")
        + "\n[retry]\njitter = \"${JIT}\"\n[sources.b]\nbase_url = \"https://b\"\ntimeout = \"${SECS}\"\n";
    let plan = load_str(&text, Path::new("r.toml"), &env).unwrap();
    assert_eq!(plan.pipeline.timezone, chrono_tz::Europe::Paris);
    assert_eq!(plan.sources["b"].timeout.as_secs(), 45);
    assert_eq!(
        plan.sources["b"].retry.jitter,
        rebound_domain::retry::Jitter::None
    );
}

/// `check` with an unset variable in the database or raw store URL showed
/// `sqlite://sqlite://rebound.db` and `file://file://raw`: a default the
/// pipeline would never use, in a report that must be true.
#[test]
fn an_unset_location_variable_is_shown_as_written_by_check() {
    let text = BASE.replace(
        "name = \"t\"",
        "name = \"t\"\ndatabase = \"postgres://app:${MISSING_PW}@${MISSING_HOST}/x\"\nraw_store = \"${MISSING_RAW}\"",
    );
    let loaded = rebound_config::load_str_with(
        &text,
        Path::new("r.toml"),
        &super::fake_env,
        rebound_config::Secrets::None,
    )
    .unwrap();
    let summary = rebound_config::summary(&loaded.plan);
    assert!(
        summary.contains("database:  postgres://app:***@${MISSING_HOST}/x\n"),
        "{summary}"
    );
    assert!(
        summary.contains("raw store: file://${MISSING_RAW}\n"),
        "{summary}"
    );
    assert!(!summary.contains("rebound.db"), "{summary}");
}

/// Before: a password in `base_url`'s userinfo reached upstreams as
/// `Authorization: Basic <base64 of user:password>`, and an upstream that
/// echoed the header had it stored and printed in clear.
#[test]
fn the_basic_credential_of_a_base_url_userinfo_is_masked() {
    use base64::Engine as _;
    let text = format!(
        "{BASE}{}",
        r#"
[sources.b]
base_url = "http://user:${SEC}@127.0.0.1:18080"
"#
    );
    let plan = plan(&text);
    let credential = base64::engine::general_purpose::STANDARD.encode("user:fake-SEC".as_bytes());
    let echoed = format!(r#"{{"authorization": "Basic {credential}"}}"#);
    assert_eq!(
        plan.redactor.redact(&echoed),
        r#"{"authorization": "Basic ***"}"#
    );
}

/// Before: `unmatched '}' at offset 13 in "***}"`: the offset counted in
/// the value with the secret put in, so it told the secret's length.
#[test]
fn a_template_error_beside_a_secret_gives_no_offset() {
    let text = format!(
        "{BASE}{}",
        r#"
[sources.b]
base_url = "https://b"
headers = { X = "${A}}" }
"#
    );
    let env = |name: &str| (name == "A").then(|| "Aval_12345678".to_string());
    let err = load_str(&text, Path::new("r.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unmatched '}' in \"***}\""), "{err}");
    assert!(!err.contains("offset"), "{err}");
    assert!(!err.contains("Aval"), "{err}");
    // Without a secret the offset stays: it helps find the brace.
    let text = text.replace("${A}}", "ab}");
    let err = load_str(&text, Path::new("r.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unmatched '}' at offset 2 in \"ab}\""),
        "{err}"
    );
}

/// Only values sent to an upstream are held to the minimum length of a
/// secret: a typed value read from the environment (a timeout of "5s") is
/// not sent anywhere, and was refused as "2 characters long". A short
/// secret in a header is refused at its key, line and column.
#[test]
fn only_values_sent_upstream_are_held_to_the_secret_length() {
    let text = format!(
        "{BASE}{}",
        r#"
[sources.b]
base_url = "https://b"
timeout = "${TIMEOUT}"
max_concurrency = 1
headers = { Authorization = "${KEY}" }
"#
    );
    let env = |name: &str| match name {
        "TIMEOUT" => Some("5s".to_string()),
        "KEY" => Some("short".to_string()),
        _ => None,
    };
    let loaded = rebound_config::load_str_with(
        &text,
        Path::new("r.toml"),
        &env,
        rebound_config::Secrets::All,
    )
    .unwrap();
    let refused = loaded.refuse_short_upstream_secrets().unwrap_err();
    let problems = refused.problems();
    assert_eq!(problems.len(), 1, "{refused}");
    assert_eq!(problems[0].key, "sources.b.headers.Authorization");
    let line = text.lines().position(|l| l.contains("${KEY}")).unwrap() + 1;
    assert_eq!(problems[0].line, line, "{refused}");
    assert!(
        refused.to_string().starts_with(&format!("r.toml:{line}:")),
        "{refused}"
    );
    assert!(
        problems[0].message.contains(
            "KEY is 5 characters long; secrets sent to an upstream must be at least 8 characters"
        ),
        "{refused}"
    );
    assert!(!refused.to_string().contains("short"), "{refused}");
    // A long enough key: nothing else is refused, the timeout included.
    let env = |name: &str| match name {
        "TIMEOUT" => Some("5s".to_string()),
        "KEY" => Some("long-enough-key".to_string()),
        _ => None,
    };
    let loaded = rebound_config::load_str_with(
        &text,
        Path::new("r.toml"),
        &env,
        rebound_config::Secrets::All,
    )
    .unwrap();
    assert!(loaded.refuse_short_upstream_secrets().is_ok());
    assert_eq!(
        loaded.plan.sources["b"].timeout,
        std::time::Duration::from_secs(5)
    );
}

/// A time zone or a duration read from the environment configures Rebound
/// and is sent nowhere: once it reads as one, it is not a secret. It was
/// masked like one: `check` printed `time zone ***`, and every "Europe/Paris"
/// of every message and stored row would have been masked too. A secret
/// beside it is still masked, and so is a value that does not read as the
/// setting (a key set in the wrong variable), which its error quotes.
#[test]
fn a_setting_read_from_the_environment_is_not_masked_but_a_secret_is() {
    let env = |name: &str| {
        Some(
            match name {
                "TZ_NAME" => "Europe/Paris",
                "SECS" => "45s",
                "TOKEN" => "tok_5f0c9a7e31",
                "WRONG" => "sk_live_zone_9d2e",
                _ => return None,
            }
            .to_string(),
        )
    };
    let text = BASE.replace("name = \"t\"", "name = \"t\"\ntimezone = \"${TZ_NAME}\"")
        + "\n[sources.b]\nbase_url = \"https://b\"\ntimeout = \"${SECS}\"\nheaders = { Authorization = \"Bearer ${TOKEN}\" }\n";
    let plan = load_str(&text, Path::new("r.toml"), &env).unwrap();
    assert_eq!(
        plan.redactor
            .redact("zone Europe/Paris, timeout \"45s\", Bearer tok_5f0c9a7e31"),
        "zone Europe/Paris, timeout \"45s\", Bearer ***"
    );
    let summary = rebound_config::summary(&plan);
    assert!(
        summary.contains("pipeline t (time zone Europe/Paris)"),
        "{summary}"
    );
    assert!(!summary.contains("tok_5f0c9a7e31"), "{summary}");

    // Not a time zone, not a duration: quoted by the error, and masked.
    for (key, says) in [
        (
            "timezone",
            "pipeline.timezone: expected an IANA time zone name",
        ),
        ("retention", "pipeline.retention: expected a duration"),
    ] {
        let text = BASE.replace(
            "name = \"t\"",
            &format!("name = \"t\"\n{key} = \"${{WRONG}}\""),
        );
        let err = load_str(&text, Path::new("r.toml"), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{err}");
        assert!(err.contains("\"***\""), "{err}");
        assert!(!err.contains("sk_live"), "{err}");
    }
}

/// The other typed keys follow the time zone's and the durations' rule: a
/// rate, a jitter, a method, a season start, a cron expression, a date, a
/// quota period, a redirect rule, a target date read from the environment
/// are settings of Rebound's own once they parse as such, not secrets. They
/// were masked (short ones wherever quoted: `method "***"`) as if they were.
/// A secret beside them stays masked, and so does a setting's value that is
/// also used as a secret (sent in a header), or that does not parse.
#[test]
fn typed_settings_read_from_the_environment_are_not_masked_but_a_secret_is() {
    let env = |name: &str| {
        Some(
            match name {
                "RATE" => "7/min",
                "PER" => "month",
                "REDIRECTS" => "none",
                "JITTER" => "equal",
                "METHOD" => "POST",
                "SEASON" => "10-01",
                "FROM" => "2025-12-23",
                "CRON" => "17 5 * * *",
                "TARGET" => "yesterday",
                "TOKEN" => "tok_5f0c9a7e31",
                "WINDOW" => "9/h",
                "WRONG" => "sk_live_rate_9d2e",
                _ => return None,
            }
            .to_string(),
        )
    };
    let text = BASE.replace("name = \"t\"", "name = \"t\"\nseason_start = \"${SEASON}\"")
        + r#"
[sources.b]
base_url = "https://b"
rate_limit = "${RATE}"
quota = { per = "${PER}", requests = 100 }
follow_redirects = "${REDIRECTS}"
headers = { Authorization = "Bearer ${TOKEN}" }

[sources.c]
base_url = "https://c"
rate_limit = "${WINDOW}"
headers = { X-Window = "${WINDOW}" }

[scrapers.s]
source = "b"
path = "/s"
method = "${METHOD}"
valid_from = "${FROM}"
retry = { jitter = "${JITTER}" }

[workflows.w]
scrapers = ["s"]
schedule = { kind = "cron", cron = "${CRON}", target_date = "${TARGET}" }
"#;
    let plan = load_str(&text, Path::new("r.toml"), &env).unwrap();
    let settings = "rate \"7/min\" per \"month\", redirects \"none\", jitter \"equal\", \
                    method \"POST\", season \"10-01\", from \"2025-12-23\", \
                    cron \"17 5 * * *\", target \"yesterday\"";
    assert_eq!(plan.redactor.redact_message(settings), settings);
    assert_eq!(
        plan.redactor.redact_message("Bearer tok_5f0c9a7e31"),
        "Bearer ***",
        "a secret beside them stays masked"
    );
    // 9/h is c's rate and also sent in c's header: a secret through that use.
    assert_eq!(
        plan.redactor.redact_message("window \"9/h\""),
        "window \"***\""
    );
    let summary = rebound_config::summary(&plan);
    assert!(summary.contains("b: at most 7/min"), "{summary}");
    assert!(!summary.contains("tok_5f0c9a7e31"), "{summary}");

    // Not a rate: quoted by the error, and masked.
    let text = text.replace("rate_limit = \"${RATE}\"", "rate_limit = \"${WRONG}\"");
    let err = load_str(&text, Path::new("r.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sources.b.rate_limit: "), "{err}");
    assert!(!err.contains("sk_live_rate_9d2e"), "{err}");
}

/// A `${VAR}` in `season_format` is free text sent in `{season}`: it stays
/// a secret when the season rule parses, as any value sent upstream does
/// (it reached `check`, the request's path and the stored params).
#[test]
fn a_secret_in_the_season_format_stays_masked() {
    let env = |name: &str| (name == "SUFFIX").then(|| "tok_private_998877".to_string());
    let text = BASE.replace(
        "name = \"t\"",
        "name = \"t\"\nseason_start = \"10-01\"\nseason_format = \"{start}-${SUFFIX}\"",
    );
    let plan = load_str(&text, Path::new("r.toml"), &env).unwrap();
    assert_eq!(
        plan.redactor.redact_message("/s/2025-tok_private_998877"),
        "/s/2025-***"
    );
}

/// A value from `${VAR}` that fails to parse stays masked in its error,
/// also where the parser quotes a changed copy or a piece of it.
#[test]
fn a_secret_in_a_typed_setting_that_fails_to_parse_is_masked_in_any_form() {
    let cases = [
        (
            "METHOD",
            "sk_live_zzzzzzzz",
            "[scrapers.events]\nsource = \"api\"\npath = \"/events\"\nmethod = \"${METHOD}\"",
            "zzzzzzzz",
        ),
        (
            "HOUR",
            "sk_live_abcdef99",
            "[workflows.w]\nscrapers = [\"events\"]\nschedule = { kind = \"cron\", cron = \"0 ${HOUR} * * *\" }",
            "abcdef99",
        ),
        (
            "LISTEN",
            "127.0.0.1:Tok3nSecretValue99",
            "[server]\nlisten = \"${LISTEN}\"",
            "ecretvalue",
        ),
        (
            "LISTEN",
            "Tok3nSecretValue99:8080",
            "[server]\nlisten = \"${LISTEN}\"",
            "ecretvalue",
        ),
        (
            "DELAY",
            "5sk_live_secretunit",
            "[retry]\ninitial_delay = \"${DELAY}\"",
            "secretunit",
        ),
    ];
    for (name, value, section, piece) in cases {
        let env = |var: &str| (var == name).then(|| value.to_string());
        let text = if section.starts_with("[scrapers.events]") {
            BASE.replace(
                "[scrapers.events]\nsource = \"api\"\npath = \"/events\"",
                section,
            )
        } else {
            format!("{BASE}\n{section}\n")
        };
        let message = match load_str(&text, Path::new("r.toml"), &env) {
            Ok(_) => panic!("{name}={value} should be refused"),
            Err(e) => e.to_string(),
        };
        assert!(
            !message.to_lowercase().contains(piece),
            "{name}={value}: {message}"
        );
        assert!(message.contains("***"), "{name}={value}: {message}");
    }
}
