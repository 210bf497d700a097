//! `rebound check`'s look at the `transform` commands a config runs: the
//! program resolves (on `PATH`, or as a path relative to the config file's
//! folder) and a script argument exists, reported with file:line:col like
//! any other problem, so a missing parser is found before the first slot
//! instead of failing every one.
//!
//! Unlike the rest of this crate it looks beyond the config file (at the
//! files the commands name); only `check` asks for it, because a command
//! may exist where Rebound runs and not where the config is edited.

use crate::error::{ConfigError, Problem, Reporter};
use crate::keypath::KeyPath;
use crate::spans::SpanIndex;
use rebound_domain::document::Transform;
use rebound_domain::plan::Plan;
use std::path::Path;

/// Checks every scraper's `transform` command in `plan`, loaded from the
/// file at `path`. `PATH` is the one the plan's loader saw
/// ([`Transform::env`]).
pub fn check_commands(path: &Path, plan: &Plan) -> Result<(), ConfigError> {
    let mut found: Vec<(KeyPath, String)> = Vec::new();
    for (name, scraper) in &plan.scrapers {
        let Some(transform) = &scraper.transform else {
            continue;
        };
        let key = KeyPath::root()
            .key("scrapers")
            .key(name)
            .key("transform")
            .key("command");
        found.extend(
            problems(transform)
                .into_iter()
                .map(|(n, message)| (key.index(n), message)),
        );
    }
    if found.is_empty() {
        return Ok(());
    }
    let text = crate::read_config(path)?;
    let root = toml::de::DeTable::parse(&text).ok();
    let spans = root.as_ref().map(SpanIndex::build);
    let reporter = Reporter {
        file: path,
        text: &text,
        spans: spans.as_ref(),
    };
    let mut problems: Vec<Problem> = found
        .into_iter()
        .map(|(key, message)| reporter.at_key(&key, message))
        .collect();
    problems.sort_by(|a, b| (a.line, a.column, &a.key).cmp(&(b.line, b.column, &b.key)));
    Err(ConfigError::Invalid { problems })
}

/// What is missing of one command: (index in `command`, why).
fn problems(transform: &Transform) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let Some(program) = transform.command.first() else {
        return out;
    };
    let folder = if transform.dir.as_os_str().is_empty() {
        "the current folder".to_string()
    } else {
        transform.dir.display().to_string()
    };
    if program.contains('/') {
        let file = transform.dir.join(program);
        if !file.is_file() {
            out.push((
                0,
                format!("program \"{program}\" does not exist (relative to {folder})"),
            ));
        } else if !is_executable(&file) {
            // It passed `check` and failed every call "could not start:
            // Permission denied".
            out.push((
                0,
                format!(
                    "program \"{program}\" is not executable (chmod +x it, or name its interpreter first, e.g. [\"sh\", \"{program}\"])"
                ),
            ));
        }
    } else {
        let search = transform
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        // As the system looks for it: a file that is not executable is
        // passed over.
        let on_path = std::env::split_paths(search).any(|dir| is_executable(&dir.join(program)));
        if !on_path {
            out.push((
                0,
                format!("program \"{program}\" is not found on PATH ({search})"),
            ));
        }
    }
    // A later argument that reads as a relative file path (a script the
    // program runs, as in ["python3", "parsers/report.py"]) must exist;
    // options, `key=value` and URLs are not paths.
    for (n, argument) in transform.command.iter().enumerate().skip(1) {
        let looks_like_path = argument.contains('/')
            && !argument.starts_with('-')
            && !argument.contains('=')
            && !argument.contains("://");
        if looks_like_path && !transform.dir.join(argument).exists() {
            out.push((
                n,
                format!("file \"{argument}\" does not exist (relative to {folder})"),
            ));
        }
    }
    out
}

/// A regular file someone may execute.
fn is_executable(file: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_and_its_script_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("parsers")).unwrap();
        std::fs::write(dir.path().join("parsers/ok.py"), "").unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("parse"), "").unwrap();
        let executable = |path: &std::path::Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        executable(&bin.join("parse"));
        executable(&dir.path().join("parsers/ok.py"));
        std::fs::write(dir.path().join("parsers/plain.py"), "").unwrap();
        let transform = |command: &[&str]| Transform {
            command: command.iter().map(|s| s.to_string()).collect(),
            dir: dir.path().to_path_buf(),
            timeout: Transform::DEFAULT_TIMEOUT,
            format: Default::default(),
            env: vec![("PATH".to_string(), bin.display().to_string())],
            keep_running: false,
        };
        assert!(problems(&transform(&["parse", "parsers/ok.py", "--mode=x/y"])).is_empty());
        assert!(problems(&transform(&["./parsers/ok.py"])).is_empty());
        let found = problems(&transform(&["python9", "parsers/gone.py"]));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, 0);
        assert!(
            found[0]
                .1
                .starts_with("program \"python9\" is not found on PATH (")
        );
        assert_eq!(found[1].0, 1);
        assert!(
            found[1]
                .1
                .starts_with("file \"parsers/gone.py\" does not exist")
        );
        // Before: accepted, then every call failed "Permission denied".
        let found = problems(&transform(&["./parsers/plain.py"]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .1
                .starts_with("program \"./parsers/plain.py\" is not executable (chmod +x it"),
            "{found:?}"
        );
        let found = problems(&transform(&["bin/nope"]));
        assert!(
            found[0]
                .1
                .starts_with("program \"bin/nope\" does not exist")
        );
    }
}
