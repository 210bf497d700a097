//! The raw payload store: every success and no_data body, kept as received.
//!
//! Built on the `object_store` crate so the same code writes to a local
//! folder (default), S3 (`s3://bucket/prefix`) or GCS (`gs://bucket/prefix`).
//! Local writes are atomic: a payload is written to a temporary file next to
//! its final name and renamed into place, so a reader never sees half a
//! payload even if the process dies mid-write. Cloud credentials come from
//! the standard environment variables of each cloud (`AWS_*`, `GOOGLE_*`).
//!
//! Local folders are written by [`local::LocalWriter`] rather than through
//! `object_store`'s `put`: same temporary-file-and-rename scheme and same
//! temporary names (`name#N`, which `object_store` skips when listing), but
//! the writes of concurrent calls are drained by one blocking task at a
//! time instead of one blocking thread each, and folders already created
//! are remembered. Reads, and cloud stores, still go through `object_store`.
//!
//! An unchanged payload is not written again: its row points at the object
//! stored for an earlier call. That object may have been deleted since,
//! outside Rebound (an operator cleaning the folder, a bucket lifecycle
//! rule), so before reusing one the engine asks [`RawStore::confirm_exists`],
//! which remembers answers for a while (`known.rs`) so that the common
//! case costs no request.

mod known;
mod local;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use rebound_domain::plan::RawStoreLocation;
use std::sync::Arc;

/// Why the raw store cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum RawStoreError {
    #[error("cannot open raw store {location}: {detail}")]
    Open { location: String, detail: String },
    #[error("cannot write raw payload {uri}: {detail}")]
    Write { uri: String, detail: String },
    #[error("cannot read raw payload {uri}: {detail}")]
    Read { uri: String, detail: String },
    /// The object is not there (deleted outside Rebound, or never written).
    #[error("payload {uri} is missing from the raw store")]
    Missing { uri: String },
    #[error("cannot delete raw payload {uri}: {detail}")]
    Delete { uri: String, detail: String },
}

/// What [`RawStore::delete_uri`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawDeletion {
    /// The object existed and is gone; its size.
    Deleted { bytes: u64 },
    /// Nothing was there (already deleted, or never written): not an error.
    Missing,
    /// The URI is not inside this store (the config's `raw_store` changed
    /// since it was written), so it is left alone.
    Foreign,
}

/// Where payloads are written.
#[derive(Debug, Clone)]
pub struct RawStore {
    store: Arc<dyn ObjectStore>,
    /// Set for local folders: writes go through it instead of `store`.
    local: Option<Arc<local::LocalWriter>>,
    /// Prefix inside the bucket (empty for local folders).
    prefix: String,
    /// `file:///abs/folder`, `s3://bucket` or `gs://bucket`, without the prefix.
    uri_base: String,
    /// Objects recently seen to exist, shared by every clone.
    known: Arc<known::KnownObjects>,
}

impl RawStore {
    /// Opens (and for local folders, creates) the store.
    pub fn open(location: &RawStoreLocation) -> Result<RawStore, RawStoreError> {
        let open_error = |detail: String| RawStoreError::Open {
            location: location.display(),
            detail,
        };
        match location {
            RawStoreLocation::File { path } => {
                std::fs::create_dir_all(path)
                    .map_err(|e| open_error(format!("cannot create folder: {e}")))?;
                let absolute = std::fs::canonicalize(path)
                    .map_err(|e| open_error(format!("cannot resolve folder: {e}")))?;
                let store = Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&absolute)
                        .map_err(|e| open_error(e.to_string()))?,
                );
                Ok(RawStore {
                    local: Some(Arc::new(local::LocalWriter::new(store.clone()))),
                    store,
                    prefix: String::new(),
                    uri_base: format!("file://{}", absolute.display()),
                    known: Arc::default(),
                })
            }
            RawStoreLocation::S3 { bucket, prefix } => {
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| open_error(e.to_string()))?;
                Ok(RawStore {
                    store: Arc::new(store),
                    local: None,
                    prefix: prefix.trim_matches('/').to_string(),
                    uri_base: format!("s3://{bucket}"),
                    known: Arc::default(),
                })
            }
            RawStoreLocation::Gcs { bucket, prefix } => {
                let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| open_error(e.to_string()))?;
                Ok(RawStore {
                    store: Arc::new(store),
                    local: None,
                    prefix: prefix.trim_matches('/').to_string(),
                    uri_base: format!("gs://{bucket}"),
                    known: Arc::default(),
                })
            }
        }
    }

    /// Uses any `object_store` backend (tests, embedding).
    pub fn from_object_store(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        uri_base: &str,
    ) -> RawStore {
        RawStore {
            store,
            local: None,
            prefix: prefix.trim_matches('/').to_string(),
            uri_base: uri_base.trim_end_matches('/').to_string(),
            known: Arc::default(),
        }
    }

    fn full_key(&self, relative: &str) -> String {
        if self.prefix.is_empty() {
            relative.to_string()
        } else {
            format!("{}/{}", self.prefix, relative)
        }
    }

    /// The URI a relative path would be stored at.
    pub fn uri_for(&self, relative: &str) -> String {
        format!("{}/{}", self.uri_base, self.full_key(relative))
    }

    /// Writes `bytes` at `relative` (a path from
    /// [`rebound_domain::paths::payload_path`]) and returns its URI.
    pub async fn put(&self, relative: &str, bytes: Bytes) -> Result<String, RawStoreError> {
        let uri = self.uri_for(relative);
        let key = ObjectPath::parse(self.full_key(relative)).map_err(|e| RawStoreError::Write {
            uri: uri.clone(),
            detail: e.to_string(),
        })?;
        let written = match &self.local {
            Some(local) => local.put(&key, bytes).await,
            None => self
                .store
                .put(&key, PutPayload::from_bytes(bytes))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        written.map_err(|detail| RawStoreError::Write {
            uri: uri.clone(),
            detail,
        })?;
        Ok(uri)
    }

    /// Reads a payload back by its relative path. A missing object is
    /// [`RawStoreError::Missing`], and is forgotten as known to exist.
    pub async fn get(&self, relative: &str) -> Result<Bytes, RawStoreError> {
        let uri = self.uri_for(relative);
        let failed = |detail: String| RawStoreError::Read {
            uri: uri.clone(),
            detail,
        };
        let key = ObjectPath::parse(self.full_key(relative)).map_err(|e| failed(e.to_string()))?;
        let result = match self.store.get(&key).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                self.known.forget(&uri);
                return Err(RawStoreError::Missing { uri });
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        result.bytes().await.map_err(|e| failed(e.to_string()))
    }

    /// Whether the object at `uri` (a URI this store handed out) still
    /// exists, for reusing it as the payload of an unchanged call.
    ///
    /// An answer seen within the 10 minutes before `now` is reused
    /// without asking again, so a run of unchanged calls costs one
    /// metadata request (a `stat`, or a HEAD) per object, not one per
    /// call. A URI outside this store (the config's `raw_store` changed)
    /// counts as missing, and so does a check that fails: storing the
    /// payload again is always safe, pointing a row at nothing is not.
    pub async fn confirm_exists(&self, uri: &str, now: DateTime<Utc>) -> bool {
        if self.known.trusts(uri, now) {
            return true;
        }
        let Some(key) = self.key_of_uri(uri) else {
            return false;
        };
        match self.store.head(&key).await {
            Ok(_) => {
                self.known.remember(uri, now);
                true
            }
            Err(object_store::Error::NotFound { .. }) => false,
            Err(e) => {
                tracing::warn!(uri, error = %e, "Cannot check a stored payload; storing it again.");
                false
            }
        }
    }

    /// The object key of a URI this store handed out, or `None` when the
    /// URI points elsewhere.
    fn key_of_uri(&self, uri: &str) -> Option<ObjectPath> {
        let key = uri.strip_prefix(&self.uri_base)?.strip_prefix('/')?;
        if !self.prefix.is_empty() {
            key.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        }
        ObjectPath::parse(key).ok()
    }

    /// Whether `uri` names an object inside this store: what
    /// [`RawStore::delete_uri`] would touch rather than call
    /// [`RawDeletion::Foreign`].
    pub fn holds_uri(&self, uri: &str) -> bool {
        self.key_of_uri(uri).is_some()
    }

    /// The size of the object at `uri`: `Ok(None)` when it does not exist
    /// or is not in this store (what a dry run of a purge reports).
    pub async fn size_of_uri(&self, uri: &str) -> Result<Option<u64>, RawStoreError> {
        let Some(key) = self.key_of_uri(uri) else {
            return Ok(None);
        };
        match self.store.head(&key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(RawStoreError::Delete {
                uri: uri.to_string(),
                detail: e.to_string(),
            }),
        }
    }

    /// Deletes the object at `uri` (retention). A missing object is not an
    /// error, and a URI outside this store is never touched.
    pub async fn delete_uri(&self, uri: &str) -> Result<RawDeletion, RawStoreError> {
        let Some(key) = self.key_of_uri(uri) else {
            return Ok(RawDeletion::Foreign);
        };
        self.known.forget(uri);
        let failed = |e: object_store::Error| RawStoreError::Delete {
            uri: uri.to_string(),
            detail: e.to_string(),
        };
        // The size first, for the purge's report; cloud deletes of a
        // missing key succeed silently, so this is also how "missing" is
        // told apart there.
        let bytes = match self.store.head(&key).await {
            Ok(meta) => meta.size,
            Err(object_store::Error::NotFound { .. }) => return Ok(RawDeletion::Missing),
            Err(e) => return Err(failed(e)),
        };
        match self.store.delete(&key).await {
            Ok(()) => Ok(RawDeletion::Deleted { bytes }),
            Err(object_store::Error::NotFound { .. }) => Ok(RawDeletion::Missing),
            Err(e) => Err(failed(e)),
        }
    }

    /// `file:///…`, `s3://bucket` or `gs://bucket`.
    pub fn uri_base(&self) -> &str {
        &self.uri_base
    }
}

/// The file extension to store a payload under, from its content type.
pub fn extension_for(content_type: Option<&str>, body: &[u8]) -> &'static str {
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        m if m.ends_with("json") => "json",
        "text/html" => "html",
        "text/csv" => "csv",
        "application/pdf" => "pdf",
        m if m.starts_with("text/") => "txt",
        _ => {
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            if matches!(first, Some(b'{') | Some(b'[')) {
                "json"
            } else {
                "bin"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_round_trip_and_uri() {
        let dir = tempfile::tempdir().unwrap();
        let location = RawStoreLocation::File {
            path: dir.path().join("raw"),
        };
        let store = RawStore::open(&location).unwrap();
        let uri = store
            .put("a/2026-11-28/s/x.json", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        let canonical = std::fs::canonicalize(dir.path().join("raw")).unwrap();
        assert_eq!(
            uri,
            format!("file://{}/a/2026-11-28/s/x.json", canonical.display())
        );
        assert_eq!(
            std::fs::read(canonical.join("a/2026-11-28/s/x.json")).unwrap(),
            b"{}"
        );
        assert_eq!(
            store.get("a/2026-11-28/s/x.json").await.unwrap(),
            Bytes::from_static(b"{}")
        );
        // No temporary files are left next to the payload.
        let names: Vec<_> = std::fs::read_dir(canonical.join("a/2026-11-28/s"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[tokio::test]
    async fn delete_by_uri_reports_size_missing_and_foreign() {
        let dir = tempfile::tempdir().unwrap();
        let store = RawStore::open(&RawStoreLocation::File {
            path: dir.path().join("raw"),
        })
        .unwrap();
        let uri = store
            .put("d/2026-01-01/s/p/x.json", Bytes::from_static(b"12345"))
            .await
            .unwrap();
        assert_eq!(store.size_of_uri(&uri).await.unwrap(), Some(5));
        assert_eq!(
            store.delete_uri(&uri).await.unwrap(),
            RawDeletion::Deleted { bytes: 5 }
        );
        assert_eq!(store.size_of_uri(&uri).await.unwrap(), None);
        assert_eq!(store.delete_uri(&uri).await.unwrap(), RawDeletion::Missing);
        // Another folder's file is never touched, even if it exists.
        let other = dir.path().join("elsewhere.json");
        std::fs::write(&other, b"keep").unwrap();
        let foreign = format!("file://{}", other.display());
        assert_eq!(
            store.delete_uri(&foreign).await.unwrap(),
            RawDeletion::Foreign
        );
        assert!(other.exists());
        assert_eq!(
            store.delete_uri("s3://b/x.json").await.unwrap(),
            RawDeletion::Foreign
        );
    }

    #[tokio::test]
    async fn existence_is_checked_then_trusted_until_a_read_finds_it_gone() {
        use chrono::{TimeDelta, TimeZone};
        let dir = tempfile::tempdir().unwrap();
        let store = RawStore::open(&RawStoreLocation::File {
            path: dir.path().join("raw"),
        })
        .unwrap();
        let relative = "d/2026-01-01/s/x.json";
        let uri = store
            .put(relative, Bytes::from_static(b"{}"))
            .await
            .unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap();
        assert!(store.confirm_exists(&uri, t0).await);

        std::fs::remove_file(uri.strip_prefix("file://").unwrap()).unwrap();
        let soon = t0 + TimeDelta::minutes(1);
        assert!(
            store.confirm_exists(&uri, soon).await,
            "a recent answer is trusted without asking"
        );
        // After a while it is asked again (a clone shares what is known).
        assert!(
            !store
                .clone()
                .confirm_exists(&uri, t0 + TimeDelta::minutes(10))
                .await
        );

        // A read that finds it gone says so, naming it once, and forgets it.
        store
            .put(relative, Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert!(store.confirm_exists(&uri, soon).await);
        std::fs::remove_file(uri.strip_prefix("file://").unwrap()).unwrap();
        let error = store.get(relative).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("payload {uri} is missing from the raw store")
        );
        assert!(!store.confirm_exists(&uri, soon).await);

        // Outside this store: never reused.
        assert!(!store.confirm_exists("s3://b/x.json", soon).await);
    }

    #[test]
    fn cloud_stores_build_offline_with_their_uris() {
        // Building a client needs no network: credentials are looked up lazily.
        let s3 = RawStore::open(&RawStoreLocation::S3 {
            bucket: "b".into(),
            prefix: "raw/".into(),
        })
        .unwrap();
        assert_eq!(s3.uri_for("x/y.json"), "s3://b/raw/x/y.json");
        let gcs = RawStore::open(&RawStoreLocation::Gcs {
            bucket: "g".into(),
            prefix: "p".into(),
        })
        .unwrap();
        assert_eq!(gcs.uri_for("x.json"), "gs://g/p/x.json");
    }

    #[test]
    fn extensions() {
        assert_eq!(
            extension_for(Some("application/json; charset=utf-8"), b""),
            "json"
        );
        assert_eq!(extension_for(Some("text/html"), b""), "html");
        assert_eq!(extension_for(None, b" [1]"), "json");
        assert_eq!(extension_for(None, b"%PDF"), "bin");
        assert_eq!(extension_for(Some("application/pdf"), b""), "pdf");
    }
}
