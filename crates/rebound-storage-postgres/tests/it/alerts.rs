//! The alert checks (`store_conformance::alerts`), one test each.

use crate::with_store;
use rebound_testkit::store_conformance;

macro_rules! alert_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            with_store(|store| async move {
                store_conformance::alerts::$check(&*store).await
            })
            .await;
        }
    )*};
}

alert_tests!(
    alert_incident_lifecycle,
    alert_delivery_claims_retries_and_finishes,
    concurrent_alert_opens_make_one_incident,
    alert_purge_deletes_old_resolved_incidents_in_batches,
);
