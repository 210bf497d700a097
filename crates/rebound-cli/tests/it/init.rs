//! `rebound init`: a new project folder that `rebound check` accepts at
//! once, and never an overwritten file.

use super::{rebound, text};
use std::path::Path;
use std::process::{Command, Output};

/// `rebound ARGS` run inside `dir`, as a user who did `cd DIR` would,
/// with the binary installed: on `PATH` as `rebound`, not under `cargo run`.
fn rebound_in(dir: &Path, args: &[&str]) -> Output {
    let bin = dir.join(".bin");
    if !bin.join("rebound").exists() {
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rebound"), bin.join("rebound")).unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(args)
        .current_dir(dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env_remove("CARGO")
        .env_remove("REBOUND_CONFIG")
        // The nba template's keys: `check` must pass without them.
        .env_remove("ODDS_API_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .expect("rebound runs")
}

fn init_then_check(example: &str, expect_db: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-pipeline");
    let out = rebound_in(tmp.path(), &["init", "--example", example, "my-pipeline"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("cd my-pipeline"), "{stdout}");
    assert!(stdout.contains("rebound check"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("rebound "))
            .count(),
        3,
        "three commands to try next: {stdout}"
    );
    let config = std::fs::read_to_string(dir.join("rebound.toml")).unwrap();
    assert!(config.starts_with('#'), "a commented config: {config}");
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    for line in [
        format!("/{expect_db}"),
        format!("/{expect_db}-wal"),
        "/raw/".to_string(),
    ] {
        assert!(
            gitignore.lines().any(|l| l == line),
            "{line} in {gitignore}"
        );
    }

    let check = rebound_in(&dir, &["check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("rebound.toml is valid"));
}

#[test]
fn init_minimal_writes_a_config_that_check_accepts() {
    init_then_check("minimal", "rebound.db");
}

/// The minimal config serves the dashboard and the API on loopback, so
/// `rebound serve` shows them without further setup and without a token.
#[test]
fn init_minimal_serves_http_on_loopback_only() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rebound_in(tmp.path(), &["init", "p"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let check = rebound_in(&tmp.path().join("p"), &["check"]);
    let stdout = text(&check.stdout);
    assert!(stdout.contains("on http://127.0.0.1:9464"), "{stdout}");
    assert!(
        !text(&check.stderr).contains("warning"),
        "{}",
        text(&check.stderr)
    );
}

#[test]
fn init_nba_writes_the_reference_pipeline_that_check_accepts() {
    init_then_check("nba", "nba.db");
}

#[test]
fn init_defaults_to_minimal_in_the_current_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rebound_in(tmp.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("cd "), "{}", text(&out.stdout));
    let config = std::fs::read_to_string(tmp.path().join("rebound.toml")).unwrap();
    assert!(config.contains("[workflows.daily]"), "{config}");
}

#[test]
fn init_refuses_to_overwrite_an_existing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("rebound.toml");
    std::fs::write(&config, "# mine\n").unwrap();
    let out = rebound(&["init", tmp.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rebound.toml already exists") && stderr.contains("does not overwrite"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    assert!(!tmp.path().join(".gitignore").exists(), "nothing written");

    // An existing .gitignore is refused too, before rebound.toml is written.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join(".gitignore"), "target\n").unwrap();
    let out = rebound(&["init", other.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(".gitignore already exists"));
    assert!(!other.path().join("rebound.toml").exists());

    // A file where the folder should be: exit 2 as well (it was 1, "cannot
    // create folder").
    let file = other.path().join("afile");
    std::fs::write(&file, "mine\n").unwrap();
    let out = rebound(&["init", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("afile already exists and is not a folder"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine\n");
}

/// Under `cargo run` the commands to try next say `cargo run --`, and from
/// a folder outside any Cargo project they name the manifest: pasted after
/// the printed `cd`, they work (a plain `rebound check` was "command not
/// found" for anyone who had not installed the binary).
#[test]
fn under_cargo_run_the_next_commands_say_cargo_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["init", "p"])
        .current_dir(tmp.path())
        .env("CARGO", "/usr/bin/cargo")
        .env("CARGO_MANIFEST_DIR", "/src/rebound/crates/rebound-cli")
        .env_remove("REBOUND_CONFIG")
        .output()
        .expect("rebound runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "cargo run --manifest-path /src/rebound/crates/rebound-cli/Cargo.toml -- check"
        ),
        "{stdout}"
    );
    assert!(
        !stdout
            .lines()
            .any(|l| l.trim_start().starts_with("rebound ")),
        "{stdout}"
    );
}

/// Before: `-c other.toml` was ignored and `rebound.toml` written.
#[test]
fn init_writes_the_config_where_c_says_and_never_over_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rebound_in(tmp.path(), &["init", "-c", "other.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(tmp.path().join("other.toml").exists());
    assert!(!tmp.path().join("rebound.toml").exists());
    assert!(tmp.path().join(".gitignore").exists());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Wrote ./other.toml"), "{stdout}");
    // The commands to try next name the file.
    assert!(stdout.contains("rebound -c other.toml check"), "{stdout}");
    let check = rebound_in(tmp.path(), &["-c", "other.toml", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));

    // In a project folder: DIR/FILE, what `cd DIR` then `-c FILE` reads.
    let out = rebound_in(tmp.path(), &["-c", "prod.toml", "init", "p"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(tmp.path().join("p/prod.toml").exists());
    assert!(!tmp.path().join("p/rebound.toml").exists());

    // An existing file is refused, as for the default name.
    std::fs::write(tmp.path().join("mine.toml"), "# mine\n").unwrap();
    let out = rebound_in(tmp.path(), &["init", "-c", "mine.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("mine.toml already exists")
            && text(&out.stderr).contains("does not overwrite"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("mine.toml")).unwrap(),
        "# mine\n"
    );
}

/// Before: a folder name of 300 characters exited 1 with the system's
/// "File name too long", where other bad input exits 2. It is a usage
/// error naming the problem, and nothing is written.
#[test]
fn a_name_too_long_for_the_file_system_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    let out = rebound_in(dir.path(), &["init", &long]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("(300 bytes) in the config's path is longer than the 255 bytes a file or folder name may have"),
        "{stderr}"
    );
    assert!(!stderr.contains(&long), "the name is cut: {stderr}");
    assert_eq!(written(dir.path()), 0);
    // -c with a long file name, the same.
    let name = format!("{}.toml", "c".repeat(260));
    let out = rebound_in(dir.path(), &["-c", &name, "init", "ok"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(written(dir.path()), 0);
}

/// What is in `dir` besides the `.bin` of [`rebound_in`].
fn written(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != ".bin")
        .count()
}

/// The commands `init` prints to try next work when pasted. They did not
/// for a folder whose name starts with `-` (`cd -p`: bash reads an option)
/// nor with an absolute `-c`, where DIR is not created (`cd q`: no such
/// folder; the config is where `-c` says, and its commands name it whole).
#[test]
fn the_printed_next_commands_work_when_pasted() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let absolute = tmp.path().join("elsewhere/abs.toml");
    let absolute = absolute.to_str().unwrap();
    // Runs what `init` printed, up to its `check`, as pasted into bash.
    let paste = |what: &str, out: Output| {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let next: Vec<&str> = stdout
            .lines()
            .skip_while(|l| *l != "Try next:")
            .skip(1)
            .map(str::trim)
            .collect();
        let check = next
            .iter()
            .position(|l| l.contains(" check "))
            .unwrap_or_else(|| panic!("no check in {stdout}"));
        let script = next[..=check].join("\n");
        let pasted = Command::new("bash")
            .args(["-e", "-c", &script])
            .current_dir(tmp.path())
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", tmp.path().join(".bin").display()),
            )
            .env_remove("REBOUND_CONFIG")
            .output()
            .expect("bash runs");
        assert!(
            pasted.status.success(),
            "{what}: {script}\n{}",
            text(&pasted.stderr)
        );
    };
    for args in [vec!["init", "--", "-p"], vec!["-c", absolute, "init", "q"]] {
        paste(&format!("{args:?}"), rebound_in(tmp.path(), &args));
    }
    // A folder named in Latin-1 (`caf\xe9`): its lossy text `caf\u{fffd}`
    // named no folder.
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .arg("init")
        .arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .current_dir(tmp.path())
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", tmp.path().join(".bin").display()),
        )
        .env_remove("CARGO")
        .env_remove("REBOUND_CONFIG")
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("cd $'caf\\xe9'"),
        "{}",
        text(&out.stdout)
    );
    paste("caf\\xe9", out);
}

/// Before: "Wrote nba-pipeline/rebound.toml and nba-pipeline/.gitignore."
/// left out the injury report's script it also wrote, and the config's
/// header told the user to run `rebound check -c
/// examples/nba/rebound.toml`, a path that is not in their folder.
#[test]
fn init_nba_names_every_file_it_wrote_and_its_header_reads_right_there() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rebound_in(tmp.path(), &["init", "--example", "nba", "nba-pipeline"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some(
            "Wrote nba-pipeline/rebound.toml, nba-pipeline/scripts/injury_report.py and nba-pipeline/.gitignore."
        ),
        "{stdout}"
    );
    let config = std::fs::read_to_string(tmp.path().join("nba-pipeline/rebound.toml")).unwrap();
    let header: String = config
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !header.contains("-c\n# examples/nba/rebound.toml"),
        "{header}"
    );
    assert!(
        header.contains("`rebound check` (with -c\n# pointing at this file) prints what it means"),
        "{header}"
    );
    // The minimal template writes two files, named as before.
    let out = rebound_in(tmp.path(), &["init", "small"]);
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some("Wrote small/rebound.toml and small/.gitignore.")
    );
}
