//! Wake-ups for idle workers ([`DueWakeups`]): `LISTEN`/`NOTIFY`.
//!
//! Every statement that queues a run (a RUN decision that claimed its slot,
//! `enqueue_run`, `release_run`, a requeue by the reaper) also sends
//! `NOTIFY` on this schema's channel ([`channel`]); PostgreSQL delivers it
//! when the transaction commits, so a woken worker's claim sees the run.
//! Each store starts, at its first [`DueWakeups`] subscription, one task
//! holding a dedicated `LISTEN` connection (its own one-connection pool,
//! so it never takes one of the store's 16), and fans what it hears out to
//! every subscriber of the process through a `watch` channel. Writes made
//! through this store bump that channel directly once committed, without
//! waiting for the server's echo; the `NOTIFY` payload names the store
//! ([`store_id`]), so the listener skips its own echo and each write wakes
//! a worker once.
//!
//! The poll in the worker stays the fallback: notifications sent while the
//! listener is reconnecting are lost (PostgreSQL keeps none for absent
//! listeners), so a reconnect wakes everyone once to re-check.

use crate::redact::Redactor;
use rebound_storage::{DueSignal, StoreError};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Longest channel name PostgreSQL accepts (`NAMEDATALEN - 1` bytes).
const MAX_CHANNEL: usize = 63;

/// How long the listener waits before reconnecting after an error, so a
/// server that is down is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// The channel of a store's queue: one per schema, since tests and
/// pipelines may share a database in separate schemas. A schema name too
/// long for a channel is cut; two schemas that then share a channel only
/// wake each other's workers for nothing, which is harmless.
pub(crate) fn channel(schema: Option<&str>) -> String {
    let mut name = match schema {
        Some(schema) => format!("rebound_due.{schema}"),
        None => "rebound_due".to_string(),
    };
    if name.len() > MAX_CHANNEL {
        let mut end = MAX_CHANNEL;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// A name for one store object, unique among the processes on a database:
/// the payload of its `NOTIFY`s.
pub(crate) fn store_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// How long opening the `LISTEN` connection may take when the store has
/// no reply bound (its statement timeout is off): `LISTEN` itself is
/// instant, so a server that does not answer it is not working.
const LISTEN_WITHIN: Duration = Duration::from_secs(30);

/// Opens the `LISTEN` connection and starts the task that forwards its
/// notifications to `signal`. Returns once `LISTEN` has been executed, so a
/// run queued after this returns is heard.
///
/// Connecting and `LISTEN` are bounded by `within` (the store's reply
/// time): a worker subscribes before its first claim, so a server that
/// accepted the connection and then said nothing held the worker there,
/// claiming nothing, for the pool's 30 s or for ever. On the bound it
/// returns an error, and the worker polls instead.
pub(crate) async fn start_listener(
    options: &PgConnectOptions,
    set_path: Option<Arc<str>>,
    channel: &str,
    own_id: String,
    signal: DueSignal,
    redactor: &Redactor,
    within: Option<Duration>,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    let unavailable = |e: sqlx::Error| {
        StoreError::Unavailable(redactor.scrub(format!(
            "{}: cannot LISTEN for queued runs: {e}",
            redactor.url()
        )))
    };
    // A pool of one with no idle or lifetime limit: PgListener uses it only
    // to reconnect. The search path does not matter to LISTEN, but keeps
    // this connection like the store's others.
    let mut pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false);
    if let Some(set_path) = set_path {
        pool = pool.after_connect(move |conn, _meta| {
            let set_path = Arc::clone(&set_path);
            Box::pin(async move {
                sqlx::Executor::execute(conn, sqlx::AssertSqlSafe(set_path)).await?;
                Ok(())
            })
        });
    }
    let within = within.unwrap_or(LISTEN_WITHIN);
    let pool = pool.connect_lazy_with(options.clone());
    let listening = async {
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(channel).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    let mut listener = match tokio::time::timeout(within, listening).await {
        Ok(listening) => listening.map_err(unavailable)?,
        Err(_) => {
            return Err(StoreError::Unavailable(format!(
                "PostgreSQL at {}: LISTEN for queued runs: no answer within {}: the server or \
                 the network path to it is not answering",
                crate::timeouts::server_address(options),
                rebound_domain::duration::format_duration(within)
            )));
        }
    };
    let redactor = redactor.clone();
    Ok(tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                // Our own writes woke this process when they committed.
                Ok(Some(notification)) if notification.payload() == own_id => {}
                Ok(Some(_)) => signal.send(),
                Ok(None) => {
                    // Reconnected: anything sent meanwhile was lost.
                    tracing::warn!("Lost the LISTEN connection for queued runs; reconnected.");
                    signal.send();
                }
                Err(error) => {
                    let error = redactor.scrub(error.to_string());
                    tracing::warn!(%error, "LISTEN for queued runs failed; workers poll until it reconnects.");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    signal.send();
                }
            }
        }
    }))
}

/// Aborts the listener task when the store is dropped.
#[derive(Debug)]
pub(crate) struct ListenerTask(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
