//! Batched `last_payload` lookups.
//!
//! Every recorded call first asks for the previous payload of its scraper
//! and parameters. One query each meant, per call, a hop to one of sqlx's
//! SQLite worker threads and back, and with dozens of calls in flight on
//! two cores those hops (thread wake-ups, channel traffic) cost more than
//! the index lookup itself. So, like the writer, one task takes whatever
//! lookups have queued (up to [`MAX_BATCH`]) and answers them all from one
//! query over a JSON array of keys; while that query runs, the next batch
//! queues. A lone lookup is not delayed: the task never waits for a batch
//! to fill. The answer is the same as the single-key query's: the newest
//! call (highest id) of that scraper with exactly those parameters that
//! has a payload.

use crate::codec::store_error;
use rebound_storage::{PayloadRef, StoreError};
use serde_json::json;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

/// Keys answered by one query at most.
const MAX_BATCH: usize = 256;

/// Lookups waiting for the task.
const QUEUE: usize = 1024;

/// `?1` is a JSON array of `[scraper_name, params]` pairs; each result row
/// is the pair's index and its previous payload, pairs without one being
/// left out. The subquery is the single-key query, on the
/// `scraper_execution_log_last_payload` index.
const LAST_PAYLOADS: &str = "SELECT k.key, l.content_hash, l.output_uri \
    FROM json_each(?1) AS k \
    JOIN scraper_execution_log AS l ON l.id = (\
        SELECT id FROM scraper_execution_log \
        WHERE scraper_name = k.value ->> 0 AND params = k.value ->> 1 \
          AND content_hash IS NOT NULL AND output_uri IS NOT NULL \
        ORDER BY id DESC LIMIT 1)";

pub(crate) struct Pending {
    pub(crate) scraper_name: String,
    pub(crate) params: String,
    pub(crate) answer: oneshot::Sender<Result<Option<PayloadRef>, StoreError>>,
}

/// Starts the lookup task on the current Tokio runtime; it ends with the
/// store (once every sender is dropped).
pub(crate) fn spawn(readers: SqlitePool) -> mpsc::Sender<Pending> {
    let (sender, receiver) = mpsc::channel(QUEUE);
    tokio::spawn(run(readers, receiver));
    sender
}

async fn run(readers: SqlitePool, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match look_up(&readers, &batch).await {
            Ok(mut found) => {
                for (pending, found) in batch.drain(..).zip(found.drain(..)) {
                    let _ = pending.answer.send(Ok(found));
                }
            }
            Err(error) => {
                let message = store_error("last_payload", error);
                for pending in batch.drain(..) {
                    let _ = pending
                        .answer
                        .send(Err(crate::writer::same_error(&message)));
                }
            }
        }
    }
}

async fn look_up(
    readers: &SqlitePool,
    batch: &[Pending],
) -> Result<Vec<Option<PayloadRef>>, sqlx::Error> {
    let keys = json!(
        batch
            .iter()
            .map(|p| [p.scraper_name.as_str(), p.params.as_str()])
            .collect::<Vec<_>>()
    )
    .to_string();
    let rows: Vec<(i64, String, String)> = sqlx::query_as(LAST_PAYLOADS)
        .bind(keys)
        .fetch_all(readers)
        .await?;
    let mut found = vec![None; batch.len()];
    for (index, content_hash, output_uri) in rows {
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| found.get_mut(i)) {
            *slot = Some(PayloadRef {
                content_hash,
                output_uri,
            });
        }
    }
    Ok(found)
}
