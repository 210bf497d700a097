//! The consumer's SQL of `docs/handoff.md` (poll the outbox, acknowledge
//! by inserting into `completion_acks`), run verbatim on SQLite.

use crate::fresh_store;
use rebound_storage::EventStore;
use rebound_storage_sqlite::SqliteStore;
use rebound_testkit::store_conformance::events::{handoff_sql, seed_poll_events};
use sqlx::{AssertSqlSafe, Row};

fn sql(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/handoff.md");
    let markdown = std::fs::read_to_string(path).expect("read docs/handoff.md");
    handoff_sql(&markdown, name, "sqlite")
}

async fn poll(store: &SqliteStore) -> Vec<String> {
    sqlx::query(AssertSqlSafe(sql("poll")))
        .fetch_all(store.pool())
        .await
        .expect("poll")
        .iter()
        .map(|r| {
            let payload: String = r.get("payload");
            assert!(payload.contains("call.completed"), "{payload}");
            r.get::<String, _>("event_id")
        })
        .collect()
}

async fn ack(store: &SqliteStore, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(sql("ack")))
        .bind(id)
        .execute(store.pool())
        .await
        .map(|_| ())
}

#[tokio::test]
async fn the_documented_poll_and_ack_sql_work_in_order() {
    let (_dir, store) = fresh_store().await;
    {
        let ids = seed_poll_events(&store).await;
        assert_eq!(poll(&store).await, ids);

        ack(&store, &ids[0]).await.expect("ack");
        // Acknowledging twice is harmless (ON CONFLICT DO NOTHING).
        ack(&store, &ids[0]).await.expect("ack again");
        assert_eq!(poll(&store).await, ids[1..].to_vec());

        assert_eq!(store.apply_acks().await.expect("apply"), 1);
        let acked = store
            .completion_events(Some("acknowledged"), 10)
            .await
            .expect("list");
        assert_eq!(
            acked.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>(),
            vec![ids[0].clone()]
        );
        assert!(acked[0].acknowledged_at.is_some());
        assert_eq!(poll(&store).await, ids[1..].to_vec());

        // An ack naming no event is refused by the database, not stored.
        assert!(
            ack(&store, "no-such-event").await.is_err(),
            "an ack of an unknown event was stored"
        );
    }
}

/// A claim that finds nothing due still applies the acknowledgements
/// consumers inserted: the read that lets an idle poll skip its write
/// transaction must count a waiting ack as work.
#[tokio::test]
async fn a_claim_with_nothing_due_still_applies_waiting_acks() {
    let (_dir, store) = fresh_store().await;
    let ids = seed_poll_events(&store).await;
    // Claimed with a lease far ahead: still pending, but none due.
    let t = chrono::DateTime::parse_from_rfc3339("1975-05-05T06:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let far = t + chrono::TimeDelta::days(365);
    assert_eq!(
        store.claim_pending_events(t, far, 10).await.unwrap().len(),
        3
    );
    ack(&store, &ids[1]).await.expect("ack");
    assert!(
        store
            .claim_pending_events(t, far, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing is due"
    );
    let acked = store
        .completion_events(Some("acknowledged"), 10)
        .await
        .expect("list");
    assert_eq!(
        acked
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        vec![ids[1].as_str()],
        "the waiting ack was not applied"
    );
}
