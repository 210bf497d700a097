//! What the operator commands do with their arguments: `--json` before an
//! action (`breakers --json reset`), what `events --dataset` takes, and
//! names echoed in errors with their control characters escaped.

use super::{one_workflow, rebound, text};

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// Before: `breakers --json reset`, `events --json ack` and `events --json
/// publish` printed text; `events --json replay` ignored `--json`.
#[test]
fn json_given_before_an_action_prints_json_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "h.db");
    let c = config.to_str().unwrap();

    let reset = json(&rebound(
        &["-c", c, "breakers", "--json", "reset", "up"],
        &[],
    ));
    assert_eq!(
        reset,
        serde_json::json!({"source": "up", "reset": false, "was": "closed"})
    );
    let released = json(&rebound(
        &["-c", c, "lockouts", "--json", "reset", "s"],
        &[],
    ));
    assert_eq!(released["released"], 0, "{released}");
    // An unknown id is reported in the JSON, and exits 1.
    let out = rebound(&["-c", c, "events", "--json", "ack", "nope"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let acked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        acked,
        serde_json::json!([{"event_id": "nope", "result": "unknown"}])
    );
    let published = json(&rebound(&["-c", c, "events", "--json", "publish"], &[]));
    assert_eq!(
        published,
        serde_json::json!({"published": 0, "pending": 0, "last_error": null})
    );
    let out = rebound(
        &[
            "-c",
            c,
            "events",
            "--json",
            "replay",
            "--dataset",
            "s",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("--json: `events replay` prints no JSON"),
        "{}",
        text(&out.stderr)
    );
}

/// `--dataset` is a dataset name or a glob of them (`*`, `?`). Before, `[`
/// (and a typo) listed nothing and exited 0, as if the dataset had no
/// events.
#[test]
fn events_dataset_that_can_match_no_dataset_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "h.db");
    let c = config.to_str().unwrap();
    for (value, expected) in [
        (
            "[",
            "--dataset \"[\": no such dataset: it matches none of the config's datasets (s) and no stored event; expected a dataset name, or a glob of names with * (any characters) and ? (one character); other characters, [ included, match themselves",
        ),
        ("", "--dataset \"\" is empty"),
        ("s\u{7}", "--dataset \"s\\u{7}\" holds a control character"),
    ] {
        let out = rebound(&["-c", c, "events", "--dataset", value], &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{value:?}: {}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{value:?}: {}",
            text(&out.stderr)
        );
    }
    for value in ["s", "*", "?"] {
        let out = rebound(&["-c", c, "events", "--dataset", value], &[]);
        assert_eq!(out.status.code(), Some(0), "{value}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("no completion events"));
    }
}

/// Before: an unknown name was printed as given, so an escape sequence in
/// it (pasted, or from a script's variable) drove the terminal.
#[test]
fn names_echoed_in_errors_have_their_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "h.db");
    let c = config.to_str().unwrap();
    let evil = "x\u{1b}[2J\u{7}";
    let escaped = "x\\u{1b}[2J\\u{7}";
    let calendar = format!("{evil}=f.json");
    for args in [
        vec!["breakers", "reset", evil],
        vec!["lockouts", "reset", evil],
        vec!["run", evil],
        vec!["scrape", evil],
        vec!["events", "--state", evil],
        vec!["plan", "--date", "2026-01-02", "--calendar", &calendar],
        // clap's own error for a bad value.
        vec!["scrape", "s", "--date", evil],
    ] {
        let mut all = vec!["-c", c];
        all.extend(&args);
        let out = rebound(&all, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(!stderr.contains('\u{1b}'), "{args:?}: {stderr:?}");
        assert!(stderr.contains(escaped), "{args:?}: {stderr}");
    }
}

/// Before: main prints every error with its line breaks kept (a config
/// error lists one problem per line), so a line break in a name the engine
/// or the plan quoted (`run`, `scrape`, `backfill`, `--param`) or in
/// `--since` printed as a real one, and the error read as two lines, the
/// second looking like a message of its own. The name's break is now
/// escaped where the message is made; a config error's lines stay lines.
#[test]
fn a_line_break_in_a_name_is_printed_escaped_and_a_config_errors_lines_stay() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_workflow(dir.path(), "h.db");
    let c = config.to_str().unwrap();
    let name = "a\nb";
    let param = format!("{name}=1");
    for (args, expected) in [
        (
            vec!["run", name],
            "error: unknown workflow \"a\\nb\"; the config defines: w\n",
        ),
        (
            vec!["scrape", name],
            "error: unknown scraper \"a\\nb\"; the config defines: s\n",
        ),
        (
            vec![
                "backfill",
                name,
                "--from",
                "2026-01-01",
                "--to",
                "2026-01-02",
            ],
            "error: unknown workflow \"a\\nb\"; the config defines: w\n",
        ),
        (
            vec!["scrape", "s", "--param", &param],
            "error: unknown parameter \"a\\nb\" for scraper \"s\"; it takes no parameters\n",
        ),
        (
            vec!["health", "--since", "1\nh"],
            "error: --since \"1\\nh\": unknown unit \"\\nh\" in duration \"1\\nh\"; use ms, s, m, h or d\n",
        ),
    ] {
        let mut all = vec!["-c", c];
        all.extend(&args);
        let out = rebound(&all, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(text(&out.stderr), expected, "{args:?}");
    }

    // Two problems of a config: two lines, as before, each one escaped
    // within (a quoted key holding a line break).
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[pipeline]\nname = \"x\"\n\n[sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n\
         [scrapers.\"a\\nb\"]\nsource = \"up\"\npath = \"/s\"\n\n\
         [scrapers.s]\nsource = \"nope\"\npath = \"/s\"\n",
    )
    .unwrap();
    let out = rebound(&["-c", broken.to_str().unwrap(), "check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains("bad name \"a\\nb\""), "{stderr}");
    assert!(lines[1].contains("unknown source \"nope\""), "{stderr}");
}
