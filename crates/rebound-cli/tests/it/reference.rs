//! The reference pipeline (`examples/nba/rebound.toml`) through the
//! `rebound` binary (issue 13 item 7): `rebound check` passes on it as
//! shipped; the original's morning-roster bug (a path parameter nothing
//! supplies) fails check at its line and column; and the injury report's
//! two dated variants, pointed at the simulated upstream, fetch the PDF of
//! the slot's hour and turn it into records with the shipped parser, while
//! a malformed PDF is a failed call of kind `transform` with the parser's
//! message.

use super::{rebound, text};
use rebound_upstream_sim::fixtures::injuries_on;
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::path::{Path, PathBuf};

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/nba")
        .join(path)
}

/// Every `${VAR}` of the reference config, at least 8 characters; the
/// proxies are never used by these tests (only stats.nba.com has them).
const ENV: [(&str, &str); 7] = [
    ("ODDS_API_KEY", "reference-odds-key"),
    ("BDL_API_KEY", "reference-bdl-key"),
    ("BP_API_KEY", "reference-bp-key"),
    ("NBA_PROXY_1_URL", "http://127.0.0.1:9/"),
    ("NBA_PROXY_2_URL", "http://127.0.0.1:9/"),
    ("NBA_PROXY_3_URL", "http://127.0.0.1:9/"),
    ("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/reference-hook"),
];

/// The reference config in `dir` with `edit` applied, and its parser script
/// beside it (where the transform's relative path points).
fn copy_reference(dir: &Path, edit: impl Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(example("rebound.toml")).unwrap();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::copy(
        example("scripts/injury_report.py"),
        dir.join("scripts/injury_report.py"),
    )
    .unwrap();
    let path = dir.join("rebound.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn check_passes_on_the_reference_config_as_shipped() {
    let config = example("rebound.toml");
    let out = rebound(&["-c", config.to_str().unwrap(), "check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for scraper in [
        "nbac_injury_report_v1",
        "nbac_injury_report_v2",
        "nbac_gamebook_pdf",
    ] {
        assert!(stdout.contains(scraper), "{scraper}: {stdout}");
    }
}

#[test]
fn check_refuses_a_path_parameter_nothing_supplies() {
    let dir = tempfile::tempdir().unwrap();
    // The original's espn_roster asked for a team abbreviation that no
    // resolver gave it, and failed every morning for weeks.
    let config = copy_reference(dir.path(), |text| {
        text.replace(
            "path = \"/teams/{team_id}/roster\"",
            "path = \"/teams/{team_abbr}/roster\"",
        )
    });
    let out = rebound(&["-c", &config, "check"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let line = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .position(|l| l.contains("{team_abbr}"))
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!("rebound.toml:{line}:"))
            && stderr.contains(
                "scrapers.espn_roster.path: {team_abbr} is not supplied by workflow morning_operations"
            ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The binary blocks this thread; the simulated upstream needs another.
async fn the_injury_report_variants_fetch_the_slots_pdf_and_parse_it() {
    let sim = UpstreamSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = format!("{}/ref/nba_official", sim.base_url());
    let config = copy_reference(dir.path(), |text| {
        text.replace(
            "base_url = \"https://ak-static.cms.nba.com\"",
            &format!("base_url = \"{base}\""),
        )
    });
    let scrape = |scraper: &str, date: &str, slot: &str| {
        let out = rebound(
            &[
                "-c", &config, "scrape", scraper, "--date", date, "--slot", slot, "--json",
            ],
            &ENV,
        );
        let call: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
        (out.status.code(), call)
    };

    // From 2025-12-23 the file name has minutes: the 13:00 slot asks for
    // "..._01_00PM.pdf", and the parser finds every injury of the day.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let (code, call) = scrape("nbac_injury_report_v2", "2026-01-15", "13:00");
    assert_eq!(code, Some(0), "{call}");
    assert_eq!(call["status"], "success", "{call}");
    let injuries = injuries_on(day);
    assert!(!injuries.is_empty());
    assert_eq!(call["records"], injuries.len(), "{call}");
    let uri = call["output_uri"].as_str().unwrap();
    let output: serde_json::Value =
        serde_json::from_slice(&std::fs::read(uri.strip_prefix("file://").unwrap()).unwrap())
            .unwrap();
    assert_eq!(output["report"], "Injury Report: 01/15/26 01:00 PM");
    let first = &output["records"][0];
    let injury = &injuries[0];
    assert_eq!(
        first["player"],
        format!("{}, {}", injury.player.last_name, injury.player.first_name)
    );
    assert_eq!(first["status"], injury.status);
    assert_eq!(first["reason"], injury.reason, "wrapped reasons are joined");
    assert_eq!(
        first["matchup"],
        format!("{}@{}", injury.game.away.tricode, injury.game.home.tricode)
    );
    // Every record has its game and team, inherited from the rows above.
    for record in output["records"].as_array().unwrap() {
        for field in ["game_date", "game_time", "matchup", "team"] {
            assert!(
                record[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field}: {record}"
            );
        }
    }

    // Before that date: the old name, "..._05PM.pdf".
    let (code, call) = scrape("nbac_injury_report_v1", "2025-12-01", "17:00");
    assert_eq!(code, Some(0), "{call}");
    assert_eq!(call["status"], "success", "{call}");
    let requested: Vec<String> = sim.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        requested,
        [
            "/ref/nba_official/referee/injury/Injury-Report_2026-01-15_01_00PM.pdf",
            "/ref/nba_official/referee/injury/Injury-Report_2025-12-01_05PM.pdf",
        ]
    );

    // A variant outside its dates is refused before any request.
    let out = rebound(
        &[
            "-c",
            &config,
            "scrape",
            "nbac_injury_report_v1",
            "--date",
            "2026-01-15",
            "--slot",
            "13:00",
        ],
        &ENV,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(sim.requests().len(), 2);

    // A PDF the parser cannot read (its content stream is cut off): the call
    // fails with kind `transform` and the parser's own message (an `error`
    // answer of the kept process: the reference transform is
    // `keep_running`).
    sim.script(
        "/ref/nba_official/referee/injury/Injury-Report_2026-01-15_02_00PM.pdf",
        vec![
            Reply::text(
                200,
                "%PDF-1.4\n1 0 obj\n<< /Length 500 /Filter /FlateDecode >>\nstream\nnot zlib\n",
            )
            .header("content-type", "application/pdf"),
        ],
    );
    let (code, call) = scrape("nbac_injury_report_v2", "2026-01-15", "14:00");
    assert_eq!(code, Some(1), "{call}");
    assert_eq!(call["status"], "failed", "{call}");
    assert_eq!(call["error_kind"], "transform", "{call}");
    let message = call["message"].as_str().unwrap_or_default();
    assert!(
        message
            .starts_with("transform python3 could not transform the document: injury_report.py: "),
        "{message}"
    );
    sim.shutdown().await;
}

/// The seven `${VAR}`s of the reference config, none of which a typo in a
/// name has anything to do with.
const UNSET: [&str; 7] = [
    "ODDS_API_KEY",
    "BDL_API_KEY",
    "BP_API_KEY",
    "NBA_PROXY_1_URL",
    "NBA_PROXY_2_URL",
    "NBA_PROXY_3_URL",
    "SLACK_WEBHOOK_URL",
];

/// `rebound ARGS` on the shipped reference config with none of its
/// variables set.
fn without_variables(args: &[&str]) -> std::process::Output {
    let config = example("rebound.toml");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"));
    command
        .args(["-c", config.to_str().unwrap()])
        .args(args)
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "warn");
    for name in UNSET {
        command.env_remove(name);
    }
    command.output().expect("rebound runs")
}

/// Before: a misspelt workflow or scraper was answered with the seven
/// "environment variable … is not set" errors, and named as unknown only
/// once all seven were exported.
#[test]
fn a_misspelt_workflow_or_scraper_is_named_before_the_unset_variables() {
    for (args, expected) in [
        (
            &["run", "morning_operation"][..],
            "unknown workflow \"morning_operation\"; the config defines: betting_lines,",
        ),
        (
            &["scrape", "nbac_schedule"][..],
            "unknown scraper \"nbac_schedule\"; the config defines: bdl_active_players,",
        ),
        (
            &[
                "backfill",
                "morning_operation",
                "--from",
                "2026-01-01",
                "--to",
                "2026-01-02",
            ][..],
            "unknown workflow \"morning_operation\"",
        ),
    ] {
        let out = without_variables(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("is not set"), "{args:?}: {stderr}");
    }
    // A name the config has still needs every variable.
    let out = without_variables(&["run", "morning_operations"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for name in UNSET {
        assert!(
            stderr.contains(&format!("environment variable {name} is not set")),
            "{name}: {stderr}"
        );
    }
}

/// The recipe in docs/reference-pipeline.md, pasted into a shell as it is
/// written (but for its two ports, taken by the simulated upstream and the
/// receiver this test starts), runs two workflows of the reference config
/// against the simulated upstream. Before: it exported nothing, and the
/// first run stopped with the seven unset variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)] // The shell blocks this thread; the simulated upstream needs another.
async fn the_documented_recipe_runs_the_reference_pipeline_against_the_simulated_upstream() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference-pipeline.md"),
    )
    .unwrap();
    let section = doc
        .split_once("To run a copy of the file by hand")
        .unwrap_or_else(|| panic!("no hand-run recipe in the doc"))
        .1;
    let blocks: Vec<&str> = section
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    let [upstream, recipe, ..] = blocks[..] else {
        panic!("two shell blocks: {section}");
    };
    assert_eq!(
        upstream.trim(),
        "rebound demo upstream --port 8080 --receiver-port 8081"
    );
    let sim = UpstreamSim::start().await.unwrap();
    let receiver = rebound_upstream_sim::WebhookReceiver::start_on(0)
        .await
        .unwrap();
    let host = |url: &str| {
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    };
    let recipe = recipe
        .replace("127.0.0.1:8080", &host(&sim.base_url()))
        .replace("127.0.0.1:8081", &host(&receiver.base_url()));
    // "from the repository's root": the examples it copies, nothing else.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("examples/nba/scripts")).unwrap();
    for file in ["rebound.toml", "scripts/injury_report.py"] {
        std::fs::copy(example(file), dir.path().join("examples/nba").join(file)).unwrap();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_rebound")).parent().unwrap();
    let mut shell = std::process::Command::new("sh");
    shell
        .args(["-e", "-c", &recipe])
        .current_dir(dir.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env_remove("REBOUND_CONFIG")
        .env("RUST_LOG", "warn");
    for name in UNSET {
        shell.env_remove(name);
    }
    let out = tokio::task::spawn_blocking(move || shell.output().unwrap())
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{recipe}\n{stdout}\n{}",
        text(&out.stderr)
    );
    for workflow in ["morning_operations", "betting_lines"] {
        let line = format!("workflow {workflow} for 2026-11-28: success");
        assert!(stdout.contains(&line), "{line}: {stdout}");
    }
    // stats.nba.com's player list came through the proxy the recipe names.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("nbac_player_list") && l.contains("success")),
        "{stdout}"
    );
}
