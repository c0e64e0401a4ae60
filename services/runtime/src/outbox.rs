//! The outbox relay: messages committed to the store's outbox (API sends, flow SMS, campaign
//! messages) go to their connectors on the bus. Campaign messages (`priority: bulk`) go on
//! `<channel>.bulk`, which connectors take at most one at a time beside their
//! interactive traffic.
//!
//! It claims outbox rows with a lease, publishes each on `<channel>.outbound` (a publish
//! returns once the bus holds the message), and deletes the rows it published. A relay that
//! dies mid-way leaves its rows to be claimed again when the lease runs out, so a message may
//! be published twice; connectors drop an id they already sent (`runtime::dedupe`). On the
//! in-process bus (`seedgate up`) a published message is only in memory, so its row stays
//! until the connector's first event about it arrives in the store (which deletes it): after
//! a kill -9, the next start relays it again.

use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::{Message, Priority, RoutingKey};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::store::Store;

const BATCH: u32 = 200;
/// On a durable bus (RabbitMQ) a row is cleared once published, so the lease only covers a
/// relay that dies mid-batch.
const LEASE: Duration = Duration::from_secs(30);
/// On the in-process bus a published message is only in memory: its row stays until the
/// connector's first event about it (the store clears it), and is published again after this
/// (also when the store committed a claim whose answer was lost, say in a database restart).
/// A copy of a message already sent is dropped by its connector.
const LEASE_IN_PROCESS: Duration = Duration::from_secs(60);
/// With nothing to do, look again this often (an accepted message wakes the relay at once).
const IDLE: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Whether a message goes in its channel's bulk lane.
pub fn is_bulk(msg: &Message) -> bool {
    msg.priority == Priority::Bulk
}

/// The routing key a message from the outbox is published with.
pub fn routing_key(msg: &Message) -> String {
    if is_bulk(msg) {
        RoutingKey::Bulk(&msg.channel).render()
    } else {
        RoutingKey::Outbound(&msg.channel).render()
    }
}

/// Relays the outbox until `shutdown`; `wake` is notified when something was committed. With
/// `release_first` (one relay per in-process deployment), the leases of a previous process
/// are ended first.
pub async fn relay(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    wake: Arc<Notify>,
    release_first: bool,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    if release_first && bus.in_process() {
        // The previous process (the only relay there was) is gone: what it had claimed is
        // relayed again now, not after its leases end. (Without a journal, what it published
        // in memory died with it too.)
        while let Err(e) = store.outbox_release().await {
            tracing::warn!(error = %e, "cannot release the outbox leases; retrying");
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let lease = if bus.durable() { LEASE } else { LEASE_IN_PROCESS };
        match store.outbox_claim(BATCH, lease).await {
            Ok(batch) if batch.is_empty() => {
                backoff = Duration::from_millis(100);
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(IDLE) => {}
                    () = shutdown.cancelled() => return,
                }
            }
            Ok(batch) => {
                backoff = Duration::from_millis(100);
                let done = relay_batch(bus.as_ref(), batch).await;
                metrics::counter!("seedgate_api_outbox_relayed_total").increment(done.len() as u64);
                if !bus.durable() {
                    // Kept until the connector's event: a crash now must not lose them.
                    continue;
                }
                if let Err(e) = store.outbox_done(&done).await {
                    tracing::warn!(error = %e, "outbox rows published but not cleared; they will be published again");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay cannot reach the store");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Publishes a claimed batch, all at once (on the journaled in-process bus they share a
/// commit; on RabbitMQ their confirms are awaited together), and returns the ids the bus
/// took. A message with no queue for its channel (yet) stays in the outbox and is tried again
/// when its lease ends; so does everything when the bus is away.
async fn relay_batch(bus: &dyn Bus, batch: Vec<Message>) -> Vec<uuid::Uuid> {
    let mut encoded = Vec::with_capacity(batch.len());
    for mut msg in batch {
        // A row an older process wrote in a sealed store gets its metadata back only after
        // decoding: read its old `metadata.priority` too.
        msg.lift_legacy_metadata();
        match serde_json::to_vec(&msg) {
            Ok(p) => encoded.push((msg, p)),
            Err(e) => tracing::error!(id = %msg.id, error = %e, "cannot encode an outbox message"),
        }
    }
    let results = futures::future::join_all(
        encoded
            .iter()
            .map(|(msg, payload)| async move { (msg, bus.publish(&routing_key(msg), payload).await) }),
    )
    .await;
    let mut done = Vec::with_capacity(results.len());
    let mut away = 0usize;
    for (msg, result) in results {
        match result {
            Ok(()) => done.push(msg.id),
            Err(e @ crate::bus::BusError::Unroutable(_)) => {
                tracing::warn!(id = %msg.id, channel = %msg.channel, error = %e, "no queue for this message's channel; kept in the outbox");
            }
            Err(e) => {
                if away == 0 {
                    tracing::warn!(id = %msg.id, channel = %msg.channel, error = %e, "outbox relay cannot publish; will retry");
                }
                away += 1;
            }
        }
    }
    done
}
