//! Reads a Rebound config file and resolves it into a validated
//! [`Plan`].
//!
//! This is the only crate where serde meets the config file. It works in
//! two stages, so that the rest of Rebound never sees an unvalidated value:
//! 1. **parse**: TOML into serde structs that mirror the file (`raw`),
//!    unknown keys refused, type errors reported with their key path;
//! 2. **resolve**: `${VAR}` substitution, templates, durations, URLs and
//!    cross-references checked, retry policies merged, every problem
//!    collected (`resolve`).
//!
//! Every error names file, line:column and key path (`error`), found either
//! in the serde error's span or by looking the key path up in an index of
//! the document's spans (`spans`).

mod bounds;
mod commands;
mod env;
mod error;
mod keypath;
mod location;
mod raw;
mod resolve;
mod schema;
mod shape;
mod spans;
mod summary;

pub use commands::check_commands;
pub use error::{ConfigError, Problem, misplaced_control_character, reword_serde};
pub use summary::{summary, summary_of};

use error::Reporter;
use rebound_domain::plan::Plan;
use rebound_domain::redact::MIN_UPSTREAM_SECRET_CHARS;
use spans::SpanIndex;
use std::path::Path;

/// Reads and resolves the config file at `path`, taking `${VAR}` values
/// from `env` (the CLI passes the process environment: only the CLI reads
/// it, so every other caller says where its values come from).
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ConfigError> {
    let text = read_config(path)?;
    load_str(&text, path, env)
}

/// The largest config file read: a real one is a few kilobytes, and a
/// device such as `/dev/zero` given by mistake must not fill the memory.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// The bytes of `path`, `None` when there are more than `limit`. Read
/// through a bound rather than after a size check, so a device or a pipe
/// (whose size says nothing) is bounded too.
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// The text of the config file at `path`, or why it cannot be had: read
/// through [`MAX_CONFIG_BYTES`], as bytes decoded here, because
/// `read_to_string` only says "stream did not contain valid UTF-8", not
/// where. Every reader of a config file goes through it (`rebound
/// simulate` read its `-c` file with `read_to_string`, and `-c /dev/zero`
/// until the memory ran out).
pub fn read_config(path: &Path) -> Result<String, ConfigError> {
    let unreadable = |reason: String| ConfigError::Read {
        path: path.to_path_buf(),
        reason,
    };
    // Reading a directory fails on some systems only at the first read,
    // with a vaguer error; ask first.
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(unreadable("it is a directory, not a file".to_string()));
    }
    let bytes = match read_at_most(path, MAX_CONFIG_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(unreadable(format!(
                "it is larger than {} MiB, which no config is (is it the right file?)",
                MAX_CONFIG_BYTES >> 20
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::NotFound {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(unreadable(read_error_reason(&e))),
    };
    // A problem at its place, like any other in the file, so `check
    // --json` gives its line and column (they were null).
    decode_utf8(bytes).map_err(|e| ConfigError::Invalid {
        problems: vec![Problem {
            file: path.to_path_buf(),
            line: e.line,
            column: e.column,
            key: String::new(),
            message: format!("not UTF-8 at byte {}: a config file is UTF-8 text", e.byte),
        }],
    })
}

/// The 1-based line and column (in characters) of byte `offset` of `text`,
/// clamped to the text and to a character's start: how every config and
/// scenario problem names its place.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let at = spans::position(text, offset);
    (at.line, at.column)
}

/// Where a file stops being UTF-8: its first bad byte, and that byte's
/// 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8 {
    pub byte: usize,
    pub line: usize,
    pub column: usize,
}

/// `bytes` as text, or where they stop being UTF-8.
pub fn decode_utf8(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|e| {
        let byte = e.utf8_error().valid_up_to();
        // Valid up to `byte`, so nothing is replaced.
        let valid = String::from_utf8_lossy(&e.as_bytes()[..byte]);
        let (line, column) = line_column(&valid, byte);
        NotUtf8 { byte, line, column }
    })
}

/// Why reading a config file failed, in the words of a config error:
/// "permission denied", or the system's own text for rarer failures.
pub fn read_error_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory, not a file".to_string(),
        _ => error.to_string(),
    }
}

/// Which `${VAR}`s must be set for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Every variable (commands that send requests: `run`, `serve`, …).
    All,
    /// Only those under these top-level keys (`["pipeline"]` for the
    /// reporting commands, which open the database but send nothing).
    Under(&'static [&'static str]),
    /// None (`check`: an unset variable is a note).
    None,
}

/// A plan and what loading it noticed.
#[derive(Debug)]
pub struct Loaded {
    pub plan: Plan,
    /// Unset variables that [`Secrets`] allowed, one sentence each:
    /// `environment variable ODDS_API_KEY is not set (used by
    /// sources.odds.query.apiKey)`; then every `$VAR` written without
    /// braces ("did you mean ${VAR}?").
    pub notes: Vec<String>,
    /// The keys whose `${VAR}` was unset (only when [`Secrets`] allowed
    /// it), each with its variable: such a key holds its default in
    /// [`Loaded::plan`], which the commands that need it would not use.
    pub unset: std::collections::BTreeMap<String, String>,
    /// Every `${VAR}` whose value goes to an upstream (in a URL, path,
    /// header, query value or proxy URL under `sources` or `scrapers`).
    pub upstream_secrets: Vec<UpstreamSecret>,
    /// One problem per use of a secret sent to an upstream that is set
    /// but shorter than [`MIN_UPSTREAM_SECRET_CHARS`] characters, at the
    /// key that uses it, in file order; see
    /// [`Loaded::refuse_short_upstream_secrets`].
    short_upstream_secrets: Vec<Problem>,
}

impl Loaded {
    /// Refuses a secret too short to be masked reliably before it is sent
    /// to an upstream: an echo of it could not be told from ordinary text
    /// (a one-character key would be every `x` of every message), so it
    /// would leak unmasked. The error names each use with its file, line,
    /// column and key, like every config error. Only values that are sent
    /// count: a `timeout = "${T}"` is not a secret anyone sees. An unset
    /// variable (where the command allows it) is sent empty, which leaks
    /// nothing, and is not refused here.
    pub fn refuse_short_upstream_secrets(&self) -> Result<(), ConfigError> {
        if self.short_upstream_secrets.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                problems: self.short_upstream_secrets.clone(),
            })
        }
    }
}

/// One `${VAR}` used in requests to an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSecret {
    /// The variable's name.
    pub var: String,
    /// Where it is used, as a key path.
    pub key: String,
    /// Its value's length in characters.
    pub chars: usize,
}

/// Like [`load`], with unset variables allowed where `secrets` says.
pub fn load_with(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: Secrets,
) -> Result<Loaded, ConfigError> {
    let text = read_config(path)?;
    load_str_with(&text, path, env, secrets)
}

/// Resolves config `text` as if read from `path`, which names the file in
/// messages and anchors relative `sqlite://` and `file://` paths (an empty
/// parent folder means the working directory). `env` supplies `${VAR}`
/// values, so tests need not touch the process environment.
pub fn load_str(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, ConfigError> {
    load_str_with(text, path, env, Secrets::All).map(|loaded| loaded.plan)
}

/// [`load_str`] with unset variables allowed where `secrets` says.
pub fn load_str_with(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: Secrets,
) -> Result<Loaded, ConfigError> {
    let mut reporter = Reporter {
        file: path,
        text,
        spans: None,
    };
    let root = toml::de::DeTable::parse(text).map_err(|e| ConfigError::Invalid {
        problems: vec![reporter.syntax(&e)],
    })?;
    let spans = SpanIndex::build(&root);
    reporter.spans = Some(&spans);
    // serde would read an array where a table belongs field by field, by
    // position, checking no key (see `shape`).
    let arrays = shape::arrays_for_tables(&root);
    if !arrays.is_empty() {
        let problems = arrays
            .into_iter()
            .map(|(key, span)| {
                reporter.at_span(
                    span,
                    &key,
                    "expected a table (`{ key = value, ... }` or a [section]), found an array"
                        .to_string(),
                )
            })
            .collect();
        return Err(ConfigError::Invalid { problems });
    }

    let deserializer = toml::Deserializer::from(root);
    let raw: raw::RawConfig =
        serde_path_to_error::deserialize(deserializer).map_err(|e| ConfigError::Invalid {
            problems: vec![reporter.serde(&e)],
        })?;

    let required: Option<&[&str]> = match secrets {
        Secrets::All => None,
        Secrets::Under(keys) => Some(keys),
        Secrets::None => Some(&[]),
    };
    let resolved = resolve::resolve(&raw, path, env, required).map_err(|found| {
        let mut problems: Vec<Problem> = found
            .into_iter()
            .map(|(key, message)| reporter.at_key(&key, message))
            .collect();
        // In file order, as an editor would list them.
        problems.sort_by(|a, b| (a.line, a.column, &a.key).cmp(&(b.line, b.column, &b.key)));
        problems.dedup();
        ConfigError::Invalid { problems }
    })?;
    let notes = resolved
        .unset
        .iter()
        .map(|(key, var)| format!("environment variable {var} is not set (used by {key})"))
        .chain(resolved.bare.iter().map(|(key, var)| {
            format!("{key}: \"${var}\" is sent as written, not read from the environment; did you mean ${{{var}}}?")
        }))
        .collect();
    let min = MIN_UPSTREAM_SECRET_CHARS;
    let mut short_upstream_secrets: Vec<Problem> = resolved
        .upstream
        .iter()
        .filter(|(_, _, chars)| *chars > 0 && *chars < min)
        .map(|(key, var, chars)| {
            reporter.at_key(
                key,
                format!(
                    "{var} is {chars} character{} long; secrets sent to an upstream must be at least {min} characters",
                    if *chars == 1 { "" } else { "s" }
                ),
            )
        })
        .collect();
    short_upstream_secrets
        .sort_by(|a, b| (a.line, a.column, &a.key).cmp(&(b.line, b.column, &b.key)));
    short_upstream_secrets.dedup();
    let upstream_secrets = resolved
        .upstream
        .iter()
        .map(|(key, var, chars)| UpstreamSecret {
            var: var.clone(),
            key: key.to_string(),
            chars: *chars,
        })
        .collect();
    Ok(Loaded {
        plan: resolved.plan,
        notes,
        unset: resolved
            .unset
            .iter()
            .map(|(key, var)| (key.to_string(), var.clone()))
            .collect(),
        upstream_secrets,
        short_upstream_secrets,
    })
}

/// A JSON Schema (draft 2020-12) of the config file, for editors (e.g.
/// Taplo / Even Better TOML) to offer completion and hover docs.
pub fn json_schema() -> serde_json::Value {
    schema::json_schema()
}
