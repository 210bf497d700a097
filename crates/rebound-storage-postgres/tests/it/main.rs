//! Integration tests of the PostgreSQL backend, in one binary so they link
//! once and share helpers.
//!
//! They need a running server: the URL in `REBOUND_TEST_PG_URL`, or the
//! local development server by default. An unreachable server fails the
//! tests (with instructions) rather than skipping them, so a green run
//! always means the backend was exercised. Every test works in a fresh
//! schema, dropped afterwards, so tests run in parallel without seeing each
//! other.

mod alerts;
mod conformance;
mod handoff;
mod postgres;
mod queries;

use rebound_domain::plan::mask_url_password;
use rebound_storage_postgres::PostgresStore;
use std::future::Future;
use std::sync::Arc;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[allow(clippy::disallowed_methods)] // test knob: which PostgreSQL server to test against
pub fn test_url() -> String {
    std::env::var("REBOUND_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// A schema name no other test (or earlier run) uses.
pub fn unique_schema() -> String {
    format!("t_{}", uuid::Uuid::new_v4().simple())
}

/// Connects to the test server in `schema`, failing with a how-to when the
/// server cannot be reached.
pub async fn connect(schema: &str) -> PostgresStore {
    let url = test_url();
    match PostgresStore::connect_with_schema(&url, schema).await {
        Ok(store) => store,
        Err(e) => panic!(
            "cannot use the test PostgreSQL server at {}: {e}\n\
             Start the local one with:\n  \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or set REBOUND_TEST_PG_URL to a server you can create schemas on.",
            mask_url_password(&url)
        ),
    }
}

/// Drops a test schema; best effort, a leftover schema harms nobody.
pub async fn drop_schema(store: &PostgresStore, schema: &str) {
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await;
    store.pool().close().await;
}

/// Runs `test` against a store in a fresh schema and drops the schema
/// afterwards, also when `test` panics (the panic is then passed on).
pub async fn with_store<F, Fut>(test: F)
where
    F: FnOnce(Arc<PostgresStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = unique_schema();
    let store = Arc::new(connect(&schema).await);
    let outcome = tokio::spawn(test(Arc::clone(&store))).await;
    drop_schema(&store, &schema).await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
