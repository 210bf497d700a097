//! `format`, `min_bytes`, `transform` and `conditional` on scrapers
//! (issue 13, items 4 and 5): what valid keys resolve to, and every bad
//! one refused with its key, line and column; `check_commands` (run by
//! `rebound check`) on a missing program and a missing script.

use super::bad_files::{Case, check};
use super::{BASE, FILE, fake_env, plan};
use rebound_domain::document::{PayloadFormat, Transform};
use std::path::Path;
use std::time::Duration;

/// A scraper `d` with the given extra lines.
fn scraper(extra: &str) -> String {
    format!("{BASE}\n[scrapers.d]\nsource = \"api\"\npath = \"/d\"\n{extra}\n")
}

#[test]
fn defaults_and_valid_keys_resolve() {
    let p = plan(&scraper(""));
    let d = &p.scrapers["d"];
    assert_eq!(d.format, PayloadFormat::Json);
    assert_eq!(d.min_bytes, 1);
    assert_eq!(d.transform, None);
    assert!(!d.conditional);

    let p = plan(&scraper(
        r#"format = "pdf"
min_bytes = 2048
records = "/rows"
conditional = true
transform = { command = ["python3", "parsers/injury_report.py"], timeout = "45s", format = "json" }"#,
    ));
    let d = &p.scrapers["d"];
    assert_eq!(d.format, PayloadFormat::Pdf);
    assert_eq!(d.min_bytes, 2048);
    assert!(d.conditional);
    let t = d.transform.as_ref().unwrap();
    assert_eq!(t.command, ["python3", "parsers/injury_report.py"]);
    assert_eq!(t.timeout, Duration::from_secs(45));
    assert_eq!(t.format, PayloadFormat::Json);
    // Relative to the config file's folder (here: the working directory).
    assert_eq!(t.dir, Path::new(""));
    // Only PATH, HOME and LANG reach the command, from the loader's lookup.
    let names: Vec<&str> = t.env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["PATH", "HOME", "LANG"]);

    let p = plan(&scraper(
        r#"format = "csv"
transform = { command = ["./to_json"] }"#,
    ));
    let t = p.scrapers["d"].transform.as_ref().unwrap();
    assert_eq!(t.timeout, Transform::DEFAULT_TIMEOUT);
    assert_eq!(t.format, PayloadFormat::Json);
    for name in ["html", "csv", "bytes"] {
        let p = plan(&scraper(&format!("format = \"{name}\"\nmin_bytes = 10")));
        assert_eq!(p.scrapers["d"].format.as_str(), name);
    }
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
fn bad_document_keys_name_key_position_and_expectation() {
    check(vec![
        bad(
            "unknown format",
            r#"format = "pfd""#,
            "scrapers.d.format",
            "\"pfd\"",
            "expected one of \"json\", \"pdf\", \"html\", \"csv\", \"bytes\", found \"pfd\" (did you mean \"pdf\"?)",
        ),
        bad(
            "format not a string",
            "format = 3",
            "scrapers.d.format",
            "3",
            "expected a string",
        ),
        bad(
            "records on a pdf",
            "format = \"pdf\"\nrecords = \"/data\"",
            "scrapers.d.records",
            "\"/data\"",
            "`records` applies to JSON only, but this scraper's format is \"pdf\"",
        ),
        bad(
            "records on a transform writing csv",
            "format = \"pdf\"\nrecords = \"/data\"\ntransform = { command = [\"x\"], format = \"csv\" }",
            "scrapers.d.records",
            "\"/data\"",
            "`records` applies to JSON only, but this scraper's transform writes \"csv\"",
        ),
        bad(
            "min_bytes on json",
            "min_bytes = 10",
            "scrapers.d.min_bytes",
            "10",
            "`min_bytes` applies to formats other than JSON",
        ),
        bad(
            "min_bytes zero",
            "format = \"csv\"\nmin_bytes = 0",
            "scrapers.d.min_bytes",
            "0",
            "expected an integer >= 1, found 0",
        ),
        bad(
            "paginated pdf",
            "format = \"pdf\"\npaginate = { kind = \"link\" }",
            "scrapers.d.paginate",
            "{ kind",
            "a paginated scraper must be JSON without a `transform`",
        ),
        bad(
            "conditional and paginate",
            "records = \"/data\"\nconditional = true\npaginate = { kind = \"link\" }",
            "scrapers.d.conditional",
            "true",
            "`conditional` cannot be used with `paginate`",
        ),
        bad(
            "conditional not a boolean",
            "conditional = \"yes\"",
            "scrapers.d.conditional",
            "\"yes\"",
            "expected a boolean",
        ),
        bad(
            "empty command",
            "format = \"pdf\"\ntransform = { command = [] }",
            "scrapers.d.transform.command",
            "[]",
            "expected the program and its arguments",
        ),
        bad(
            "empty program",
            "format = \"pdf\"\ntransform = { command = [\"\", \"x.py\"] }",
            "scrapers.d.transform.command[0]",
            "\"\"",
            "the program name must not be empty",
        ),
        bad(
            "missing command",
            "format = \"pdf\"\ntransform = { timeout = \"5s\" }",
            "scrapers.d.transform.command",
            "{ timeout",
            "missing required key",
        ),
        bad(
            "command a string",
            "format = \"pdf\"\ntransform = { command = \"python3 x.py\" }",
            "scrapers.d.transform.command",
            "\"python3 x.py\"",
            "expected a sequence, found string",
        ),
        bad(
            "zero timeout",
            "format = \"pdf\"\ntransform = { command = [\"x\"], timeout = \"0s\" }",
            "scrapers.d.transform.timeout",
            "\"0s\"",
            "expected a duration longer than zero",
        ),
        bad(
            "bad timeout",
            "format = \"pdf\"\ntransform = { command = [\"x\"], timeout = \"soon\" }",
            "scrapers.d.transform.timeout",
            "\"soon\"",
            "expected a duration",
        ),
        bad(
            "unknown output format",
            "format = \"pdf\"\ntransform = { command = [\"x\"], format = \"yaml\" }",
            "scrapers.d.transform.format",
            "\"yaml\"",
            "expected one of \"json\", \"pdf\", \"html\", \"csv\", \"bytes\", found \"yaml\"",
        ),
        bad(
            "unknown transform key",
            "format = \"pdf\"\ntransform = { command = [\"x\"], shell = true }",
            "scrapers.d.transform.shell",
            "shell",
            "unknown key",
        ),
    ]);
}

#[test]
fn check_commands_reports_a_missing_program_and_script_at_their_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("parsers")).unwrap();
    std::fs::write(dir.path().join("parsers/ok.py"), "").unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("python3"), "").unwrap();
    {
        // The system runs only what may be executed.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("python3"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    let text = scraper(
        "format = \"pdf\"\ntransform = { command = [\"python3\", \"parsers/ok.py\"] }\n\n\
         [scrapers.e]\nsource = \"api\"\npath = \"/e\"\nformat = \"pdf\"\n\
         transform = { command = [\"python9\", \"parsers/gone.py\"] }\n",
    );
    let path = dir.path().join(FILE);
    std::fs::write(&path, &text).unwrap();
    let bin_path = bin.display().to_string();
    let env = |name: &str| match name {
        "PATH" => Some(bin_path.clone()),
        other => fake_env(other),
    };
    let plan = rebound_config::load_str(&text, &path, &env).unwrap();
    let error = rebound_config::check_commands(&path, &plan)
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    let line = text.lines().position(|l| l.contains("python9")).unwrap() + 1;
    let col0 = text
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("\"python9\"")
        .unwrap()
        + 1;
    let col1 = text
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("\"parsers/gone.py\"")
        .unwrap()
        + 1;
    assert_eq!(
        lines[0],
        format!(
            "{}:{line}:{col0}: scrapers.e.transform.command[0]: program \"python9\" is not found on PATH ({bin_path})",
            path.display()
        )
    );
    assert!(
        lines[1].starts_with(&format!(
            "{}:{line}:{col1}: scrapers.e.transform.command[1]: file \"parsers/gone.py\" does not exist (relative to ",
            path.display()
        )),
        "{}",
        lines[1]
    );
    // The valid scraper alone passes.
    let text =
        scraper("format = \"pdf\"\ntransform = { command = [\"python3\", \"parsers/ok.py\"] }");
    std::fs::write(&path, &text).unwrap();
    let plan = rebound_config::load_str(&text, &path, &env).unwrap();
    rebound_config::check_commands(&path, &plan).unwrap();
}
