//! Integration tests of the SQLite backend, in one binary so they link
//! once and share helpers.
//!
//! Every test opens its own database in a fresh temporary folder, so tests
//! run in parallel without seeing each other's rows.

mod alerts;
mod conformance;
mod handoff;
mod queries;
mod sqlite;

use rebound_storage_sqlite::SqliteStore;
use tempfile::TempDir;

/// A new store in a new folder; keep the folder alive as long as the store.
pub async fn fresh_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = SqliteStore::open(&dir.path().join("history.sqlite"))
        .await
        .expect("open SQLite store");
    (dir, store)
}
