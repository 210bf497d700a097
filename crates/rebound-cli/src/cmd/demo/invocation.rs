//! How this binary was started, so the commands the demo prints ("Next:",
//! and the config's "start the upstream" comment) work when pasted into the
//! same shell: `cargo run -- …` under `cargo run`, `rebound …` when the
//! `rebound` on `PATH` is this binary, else this binary's full path.
//!
//! Why these signals: `cargo run` starts the binary with the `CARGO`
//! variable set (the path of the cargo running it) and from its target
//! folder (`target/<profile>/rebound`, beside cargo's `.fingerprint`); a binary
//! installed with `cargo install` or copied elsewhere has neither. The
//! `PATH` check keeps us from printing `rebound` when the shell would find
//! another binary of that name (or none: the "command not found" of issue
//! 15). argv[0] alone cannot tell: cargo passes the full path too.
//! `cargo run` finds the workspace from the current folder; when that
//! folder is outside any Cargo project (cargo was given `--manifest-path`),
//! the command names the manifest cargo set in `CARGO_MANIFEST_DIR`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The prefix of every printed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `cargo run [--manifest-path M] [--release | --profile P] --`.
    Cargo {
        profile: String,
        /// Only when the current folder is outside any Cargo project.
        manifest: Option<PathBuf>,
    },
    /// `rebound`: the one on `PATH` is this binary.
    Installed,
    /// This binary's own path (neither of the above).
    Path(PathBuf),
}

impl Invocation {
    /// What the process environment says (the CLI is the one reader of it).
    #[allow(clippy::disallowed_methods)] // the CLI reads the environment
    pub fn detect() -> Invocation {
        Invocation::detect_in(std::env::current_dir().ok())
    }

    /// [`Invocation::detect`] for commands pasted in folder `cwd` rather
    /// than the current one (`rebound init DIR` prints them after `cd DIR`).
    #[allow(clippy::disallowed_methods)] // the CLI reads the environment
    pub fn detect_in(cwd: Option<PathBuf>) -> Invocation {
        let exe = std::env::current_exe()
            .ok()
            .or_else(|| std::env::args_os().next().map(PathBuf::from));
        let cargo = std::env::var_os("CARGO").map(|_| CargoRun {
            manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
            cwd,
        });
        detect_from(exe.as_deref(), cargo.as_ref(), std::env::var_os("PATH"))
    }

    /// The command text before the subcommand, e.g. `cargo run --`.
    pub fn prefix(&self) -> String {
        match self {
            Invocation::Cargo { profile, manifest } => {
                let mut out = "cargo run".to_string();
                if let Some(manifest) = manifest {
                    out.push_str(" --manifest-path ");
                    out.push_str(&shell_word(&manifest.to_string_lossy()));
                }
                match profile.as_str() {
                    "debug" => {}
                    "release" => out.push_str(" --release"),
                    other => {
                        out.push_str(" --profile ");
                        out.push_str(&shell_word(other));
                    }
                }
                out.push_str(" --");
                out
            }
            Invocation::Installed => "rebound".to_string(),
            Invocation::Path(path) => shell_word(&path.to_string_lossy()),
        }
    }

    /// `prefix` followed by `args` (each quoted for a POSIX shell when needed).
    pub fn command(&self, args: &[&str]) -> String {
        let mut out = self.prefix();
        let mut after_config = false;
        for arg in args {
            out.push(' ');
            // A config path that starts with `-` (`--dir=-d` makes
            // `-d/rebound.toml`) would be read as options after `-c`; such
            // a path is relative, so `./` before it names the same file.
            if after_config && arg.starts_with('-') {
                out.push_str(&shell_word(&format!("./{arg}")));
            } else {
                out.push_str(&shell_word(arg));
            }
            after_config = *arg == "-c";
        }
        out
    }
}

/// What `cargo run` left in the environment (only when `CARGO` is set).
#[derive(Debug, Clone, Default)]
pub struct CargoRun {
    /// `CARGO_MANIFEST_DIR`: the folder of the package being run.
    pub manifest_dir: Option<PathBuf>,
    /// The current folder, where the printed commands will be pasted.
    pub cwd: Option<PathBuf>,
}

/// The rule, on its inputs: `exe` is this binary's path, `cargo` what
/// `cargo run` set (`None` without `CARGO`), `path_var` the `PATH` variable.
pub fn detect_from(
    exe: Option<&Path>,
    cargo: Option<&CargoRun>,
    path_var: Option<OsString>,
) -> Invocation {
    let Some(exe) = exe else {
        return Invocation::Installed;
    };
    if let Some(cargo) = cargo
        && let Some(profile) = cargo_profile(exe)
    {
        let in_a_project = cargo
            .cwd
            .as_deref()
            .is_some_and(|cwd| cwd.ancestors().any(|d| d.join("Cargo.toml").is_file()));
        let manifest = match &cargo.manifest_dir {
            Some(dir) if !in_a_project => Some(dir.join("Cargo.toml")),
            _ => None,
        };
        return Invocation::Cargo { profile, manifest };
    }
    let me = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let on_path = path_var
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("rebound"))
        .find(|candidate| candidate.is_file());
    match on_path {
        Some(found) if std::fs::canonicalize(&found).is_ok_and(|f| f == me) => {
            Invocation::Installed
        }
        _ => Invocation::Path(me),
    }
}

/// The cargo profile of a binary in a target folder (`…/target/debug/rebound`
/// → `debug`); `None` elsewhere. Cargo keeps its build state in a
/// profile folder's `.fingerprint` (and tags the target folder with
/// `CACHEDIR.TAG`, which a copied target folder may lack).
fn cargo_profile(exe: &Path) -> Option<String> {
    let profile_dir = exe.parent()?;
    let target = profile_dir.parent()?;
    if !profile_dir.join(".fingerprint").is_dir() && !target.join("CACHEDIR.TAG").is_file() {
        return None;
    }
    Some(profile_dir.file_name()?.to_string_lossy().into_owned())
}

/// `word` as one shell word: unchanged when it holds only safe
/// characters, else single-quoted (POSIX). A word holding a control
/// character is written in `$'...'` (bash, zsh, ksh), each control
/// character as an escape: single quotes would pass an escape sequence
/// from a path (`--dir`) to the terminal that prints the command.
/// [`shell_word`] for a path, which may not be UTF-8: such a name is
/// written byte for byte as `$'\xNN'` escapes. Its lossy text (`�` in
/// place of the bytes) named another folder, so a printed `cd` failed.
pub fn shell_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    if let Some(text) = path.to_str() {
        return shell_word(text);
    }
    let mut out = String::from("$'");
    for &b in path.as_os_str().as_bytes() {
        match b {
            b'\\' => out.push_str(r"\\"),
            b'\'' => out.push_str(r"\'"),
            b' '..=b'~' => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

pub fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if safe {
        word.to_string()
    } else if word.chars().any(|c| c.is_control() || bidi(c)) {
        let mut out = String::from("$'");
        for c in word.chars() {
            match c {
                '\\' => out.push_str(r"\\"),
                '\'' => out.push_str(r"\'"),
                c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
                c if c.is_control() || bidi(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_with_binary(profile: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::create_dir_all(target.join(profile)).unwrap();
        std::fs::write(
            target.join("CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55",
        )
        .unwrap();
        let exe = target.join(profile).join("rebound");
        std::fs::write(&exe, "").unwrap();
        (dir, exe)
    }

    #[test]
    fn under_cargo_run_from_a_target_folder_commands_start_with_cargo_run() {
        let (dir, exe) = target_with_binary("debug");
        // Pasted in the project (or below it): plain `cargo run`.
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        let project = CargoRun {
            manifest_dir: Some(dir.path().join("crates/cli")),
            cwd: Some(dir.path().join("sub")),
        };
        let found = detect_from(Some(&exe), Some(&project), None);
        assert_eq!(found.prefix(), "cargo run --");
        let (_dir, exe) = target_with_binary("release");
        assert_eq!(
            detect_from(Some(&exe), Some(&project), None).prefix(),
            "cargo run --release --"
        );
        // Outside any project (`cargo run --manifest-path …` from
        // elsewhere): the manifest is named.
        let elsewhere = tempfile::tempdir().unwrap();
        let outside = CargoRun {
            manifest_dir: Some(PathBuf::from("/src/my rebound/crates/cli")),
            cwd: Some(elsewhere.path().to_path_buf()),
        };
        assert_eq!(
            detect_from(Some(&exe), Some(&outside), None).prefix(),
            "cargo run --manifest-path '/src/my rebound/crates/cli/Cargo.toml' --release --"
        );
    }

    #[test]
    fn a_target_binary_started_directly_prints_its_path() {
        let (_dir, exe) = target_with_binary("debug");
        let found = detect_from(Some(&exe), None, None);
        let me = std::fs::canonicalize(&exe).unwrap();
        assert_eq!(found, Invocation::Path(me.clone()));
        assert_eq!(found.prefix(), me.to_string_lossy());
    }

    #[test]
    fn the_rebound_on_path_is_used_only_when_it_is_this_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("rebound");
        std::fs::write(&exe, "").unwrap();
        let path = std::env::join_paths([bin.clone()]).unwrap();
        assert_eq!(
            detect_from(Some(&exe), None, Some(path.clone())),
            Invocation::Installed
        );
        // Another `rebound` earlier on PATH: this one must be named by path.
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("rebound"), "").unwrap();
        let path = std::env::join_paths([other, bin]).unwrap();
        assert!(matches!(
            detect_from(Some(&exe), None, Some(path)),
            Invocation::Path(_)
        ));
        // Not under `cargo run` although CARGO is set: no target folder.
        assert_eq!(
            detect_from(
                Some(&exe),
                Some(&CargoRun::default()),
                Some(std::env::join_paths([dir.path().join("bin")]).unwrap())
            ),
            Invocation::Installed
        );
    }

    #[test]
    fn words_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(
            shell_word("rebound-demo/rebound.toml"),
            "rebound-demo/rebound.toml"
        );
        assert_eq!(shell_word("my demo/it's"), r"'my demo/it'\''s'");
        // A control character went out raw inside single quotes.
        assert_eq!(
            shell_word("d\u{1b}[31m it's\\\n\u{85}\u{202e}"),
            r"$'d\x1b[31m it\'s\\\x0a\u0085\u202e'"
        );
        assert_eq!(shell_word(""), "''");
    }
}
