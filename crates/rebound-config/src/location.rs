//! `pipeline.database` and `pipeline.raw_store` URLs.
//!
//! Relative paths are resolved against the config file's folder, not the
//! process's working directory, so `rebound -c /etc/rebound/nba.toml` finds
//! the same database whether started from a shell, cron or systemd.

use rebound_domain::plan::{DatabaseLocation, RawStoreLocation};
use std::path::{Path, PathBuf};

const DATABASE_FORMS: &str = "\"sqlite://PATH\" (relative to the config file's folder), \"sqlite:///ABSOLUTE/PATH\", \"postgres://USER@HOST:PORT/DB\" or \"postgresql://USER@HOST:PORT/DB\"";

const RAW_STORE_FORMS: &str = "\"file://PATH\" (relative to the config file's folder), \"file:///ABSOLUTE/PATH\", \"s3://BUCKET/PREFIX\" or \"gs://BUCKET/PREFIX\"";

/// `path` as written if absolute, else joined to `base_dir` (an empty
/// `base_dir` means the working directory, where a relative path already
/// points).
fn resolve_path(base_dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() || base_dir.as_os_str().is_empty() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

pub(crate) fn parse_database(text: &str, base_dir: &Path) -> Result<DatabaseLocation, String> {
    if let Some(path) = text.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(format!(
                "the SQLite path is empty; expected {DATABASE_FORMS}"
            ));
        }
        // The history must outlive the command: an in-memory database
        // passed `check` and then had no tables in every other command
        // (each opens its own), and a `?mode=` became part of the name.
        if path == ":memory:" || path.starts_with(":memory:?") || path.contains('?') {
            return Err(format!(
                "\"{text}\" is not a file: the history must outlive each command, and the path takes no \"?\" options; give a file path such as \"sqlite://rebound.db\""
            ));
        }
        // A path no file can have: every command but `check` failed on it
        // ("unexpected NUL byte", "unable to open database file").
        if path.contains('\0') {
            return Err(
                "the SQLite path holds a NUL character, which no file name can".to_string(),
            );
        }
        if path.ends_with('/') {
            return Err(format!(
                "the SQLite path \"{path}\" names a folder; expected a file such as \"sqlite://rebound.db\""
            ));
        }
        return Ok(DatabaseLocation::Sqlite {
            path: resolve_path(base_dir, path),
        });
    }
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = text.strip_prefix(scheme) {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(format!(
                    "the PostgreSQL URL has no host; expected {DATABASE_FORMS}"
                ));
            }
            // As the driver will read it, so a port out of range or a
            // broken host fails here and not at the first connection. The
            // parser's message names the part, never the URL's value (a
            // password may be in it).
            if let Err(e) = url::Url::parse(text) {
                return Err(format!(
                    "the PostgreSQL URL does not parse: {e}; expected {DATABASE_FORMS}"
                ));
            }
            return Ok(DatabaseLocation::Postgres {
                url: text.to_string(),
            });
        }
    }
    Err(format!("expected {DATABASE_FORMS}, found \"{text}\""))
}

pub(crate) fn parse_raw_store(text: &str, base_dir: &Path) -> Result<RawStoreLocation, String> {
    if let Some(path) = text.strip_prefix("file://") {
        if path.is_empty() {
            return Err(format!("the folder is empty; expected {RAW_STORE_FORMS}"));
        }
        return Ok(RawStoreLocation::File {
            path: resolve_path(base_dir, path),
        });
    }
    let bucketed = [("s3://", true), ("gs://", false)];
    for (scheme, is_s3) in bucketed {
        let Some(rest) = text.strip_prefix(scheme) else {
            continue;
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || bucket.chars().any(char::is_whitespace) {
            return Err(format!(
                "\"{text}\" has no valid bucket name; expected {RAW_STORE_FORMS}"
            ));
        }
        // Slashes at either end of a prefix add nothing but empty folder
        // names, so `s3://b/raw/` and `s3://b/raw` mean the same place.
        let bucket = bucket.to_string();
        let prefix = prefix.trim_matches('/').to_string();
        return Ok(if is_s3 {
            RawStoreLocation::S3 { bucket, prefix }
        } else {
            RawStoreLocation::Gcs { bucket, prefix }
        });
    }
    Err(format!("expected {RAW_STORE_FORMS}, found \"{text}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases() {
        let base = Path::new("conf");
        let table: [(&str, Result<DatabaseLocation, &str>); 14] = [
            (
                "sqlite://rebound.db",
                Ok(DatabaseLocation::Sqlite {
                    path: PathBuf::from("conf/rebound.db"),
                }),
            ),
            (
                "sqlite:///var/lib/r.db",
                Ok(DatabaseLocation::Sqlite {
                    path: PathBuf::from("/var/lib/r.db"),
                }),
            ),
            (
                "postgres://app@db:5432/x",
                Ok(DatabaseLocation::Postgres {
                    url: "postgres://app@db:5432/x".into(),
                }),
            ),
            (
                "postgresql://db/x",
                Ok(DatabaseLocation::Postgres {
                    url: "postgresql://db/x".into(),
                }),
            ),
            ("sqlite://", Err("path is empty")),
            // Before: accepted; every command but `check` then failed.
            ("sqlite://:memory:", Err("is not a file")),
            ("sqlite://r.db?mode=ro", Err("takes no \"?\" options")),
            // Before: accepted by `check`, refused by every other command.
            ("sqlite:///", Err("names a folder")),
            ("sqlite://data/", Err("names a folder")),
            ("sqlite://r.db\0x", Err("holds a NUL character")),
            ("postgres://", Err("no host")),
            ("mysql://x", Err("expected \"sqlite://PATH\"")),
            // Before: accepted by `check`, refused at the first connection.
            (
                "postgres://u:secretpw@db:99999/x",
                Err("does not parse: invalid port number"),
            ),
            ("postgres://[::1/x", Err("does not parse: invalid IPv6")),
        ];
        for (text, expected) in table {
            match (parse_database(text, base), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(needle)) => {
                    assert!(got.contains(needle), "{text}: {got}");
                    assert!(!got.contains("secretpw"), "{text}: {got}");
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn empty_base_dir_keeps_relative_paths() {
        assert_eq!(
            parse_database("sqlite://r.db", Path::new("")),
            Ok(DatabaseLocation::Sqlite {
                path: PathBuf::from("r.db")
            })
        );
    }

    #[test]
    fn raw_stores() {
        let base = Path::new("/etc/rebound");
        assert_eq!(
            parse_raw_store("file://raw", base),
            Ok(RawStoreLocation::File {
                path: PathBuf::from("/etc/rebound/raw")
            })
        );
        assert_eq!(
            parse_raw_store("s3://bucket/a/b/", base),
            Ok(RawStoreLocation::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            })
        );
        assert_eq!(
            parse_raw_store("gs://bucket", base),
            Ok(RawStoreLocation::Gcs {
                bucket: "bucket".into(),
                prefix: String::new()
            })
        );
        for (text, needle) in [
            ("s3:///prefix", "no valid bucket"),
            ("file://", "folder is empty"),
            ("raw", "expected \"file://PATH\""),
        ] {
            let err = parse_raw_store(text, base).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
