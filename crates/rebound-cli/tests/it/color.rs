//! Log colour: none into a file or pipe (the default, `auto`), none with
//! `NO_COLOR`, always with `--color always`; `-q` keeps only errors.

use super::{rebound, text};

/// What `rebound ARGS status` writes to stderr (a pipe, not a terminal) on
/// a fresh SQLite database, with `RUST_LOG` unset so `-q` / `-v` decide:
/// at `-vv` sqlx logs its statements at debug.
fn logs(args: &[&str], envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rebound.toml");
    std::fs::write(
        &path,
        "[pipeline]\nname = \"c\"\n\n[sources.up]\nbase_url = \"http://127.0.0.1:9/\"\n\n[scrapers.s]\nsource = \"up\"\npath = \"/s\"\n\n[workflows.w]\nscrapers = [\"s\"]\n",
    )
    .unwrap();
    let mut all = vec!["-c", path.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push("status");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(&all)
        .env_remove("REBOUND_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn no_ansi_escapes_when_stderr_is_not_a_terminal_or_no_color_is_set() {
    let plain = logs(&["-vv"], &[]);
    assert!(!plain.is_empty(), "-vv logs something");
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    let forced = logs(&["-vv", "--color", "always"], &[]);
    assert!(forced.contains('\u{1b}'), "{forced:?}");
    let no_color = logs(&["-vv", "--color", "auto"], &[("NO_COLOR", "1")]);
    assert!(!no_color.contains('\u{1b}'), "{no_color:?}");
    let never = logs(&["-vv", "--color", "never"], &[]);
    assert!(!never.contains('\u{1b}'), "{never:?}");
}

#[test]
fn quiet_keeps_errors_only_and_verbose_adds_debug() {
    let quiet = logs(&["-q"], &[]);
    assert!(quiet.is_empty(), "{quiet}");
    let debug = logs(&["-vv"], &[]);
    assert!(debug.contains("DEBUG"), "{debug}");
    let out = rebound(&["-q", "-v", "check"], &[]);
    assert_eq!(out.status.code(), Some(2), "-q and -v conflict");
}
