//! `rebound check` on the two ways a variable goes wrong silently: `$VAR`
//! without braces (sent as written) and a variable set but empty.

use super::{rebound, text};

fn config(dir: &std::path::Path, query: &str) -> String {
    let path = dir.join("rebound.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[pipeline]
name = "vars"

[sources.up]
base_url = "http://127.0.0.1:9/"
query = {query}

[scrapers.s]
source = "up"
path = "/s"

[workflows.w]
scrapers = ["s"]
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn check_asks_about_a_variable_written_without_braces() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), r#"{ apiKey = "$ODDS_API_KEY", "$top" = "5" }"#);
    let out = rebound(
        &["-c", &path, "check"],
        &[("ODDS_API_KEY", "a-long-secret")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "note: sources.up.query.apiKey: \"$ODDS_API_KEY\" is sent as written, not read from the environment; did you mean ${ODDS_API_KEY}?"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("$top"),
        "lower-case names are ordinary text: {stdout}"
    );
}

#[test]
fn a_variable_set_but_empty_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), r#"{ apiKey = "${ODDS_API_KEY}" }"#);
    for args in [vec!["-c", &path, "check"], vec!["-c", &path, "run", "w"]] {
        let out = rebound(&args, &[("ODDS_API_KEY", "")]);
        let command = args[2];
        assert_eq!(
            out.status.code(),
            Some(2),
            "{command}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(
                "sources.up.query.apiKey: environment variable ODDS_API_KEY is set but empty"
            ),
            "{stderr}"
        );
        assert!(stderr.contains("rebound.toml:"), "file:line:col: {stderr}");
    }
}

#[test]
fn check_json_gives_the_verdict_problems_and_notes_as_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), r#"{ apiKey = "$ODDS_API_KEY" }"#);
    let out = rebound(&["-c", &path, "check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["problems"].as_array().unwrap().len(), 0);
    assert!(
        json["notes"][0]
            .as_str()
            .unwrap()
            .contains("did you mean ${ODDS_API_KEY}?"),
        "{json}"
    );

    let path = config(dir.path(), r#"{ apiKey = "${ODDS_API_KEY}" }"#);
    let out = rebound(&["-c", &path, "check", "--json"], &[("ODDS_API_KEY", "")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let problem = &json["problems"][0];
    assert_eq!(problem["key"], "sources.up.query.apiKey");
    assert_eq!(problem["line"], 7, "{json}");
    assert!(problem["column"].is_number(), "{json}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("set but empty")
    );

    let out = rebound(&["-c", "/nonexistent/rebound.toml", "check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert!(
        json["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
}
