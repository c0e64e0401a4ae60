//! The store service: bus → batched, idempotent writes → acks; it stops last on shutdown.

use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::bus::{Bus, Delivery};
use seedgate_runtime::channels::Registry;
use seedgate_runtime::config::Config;
use seedgate_runtime::service::{BoxFuture, Needs, Running, ServiceError, Stage};
use seedgate_runtime::store::{Record, Store, StoreError};
use seedgate_runtime::topology::STORE_QUEUE;
use seedgate_runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// The store writer as a service of the process (`seedgate run store`).
#[derive(Debug, Default)]
pub struct Service;

impl seedgate_runtime::Service for Service {
    fn name(&self) -> &'static str {
        "store"
    }

    /// The store, and no session state.
    fn needs(&self, _config: &Config) -> Needs {
        Needs {
            sessions: false,
            store: true,
        }
    }

    /// It writes until the queue is quiet, after every other service has stopped.
    fn stage(&self) -> Stage {
        Stage::Store
    }

    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>> {
        let rt = rt.clone();
        let task = async move { run(rt.config, rt.registry, rt.bus, rt.store, shutdown).await };
        Box::pin(async move { Ok(Running::default().task("store", task)) })
    }
}

/// How long a batch waits for more deliveries once it has one.
const LINGER: Duration = Duration::from_millis(10);
/// While draining, the queue counts as empty after this long without a delivery.
const DRAIN_IDLE: Duration = Duration::from_millis(200);
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Consumes the `store` queue until `shutdown`, then keeps writing until the queue is quiet.
pub async fn run(
    config: Arc<Config>,
    registry: Registry,
    bus: Arc<dyn Bus>,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> Result<(), seedgate_runtime::bus::BusError> {
    let purger = tokio::spawn(crate::retention::run(
        config.clone(),
        registry,
        store.clone(),
        shutdown.clone(),
    ));
    let result = consume(config, bus, store, shutdown).await;
    purger.abort();
    result
}

async fn consume(
    config: Arc<Config>,
    bus: Arc<dyn Bus>,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> Result<(), seedgate_runtime::bus::BusError> {
    let batch_size = config.store.batch_size;
    let prefetch = u16::try_from(batch_size)
        .unwrap_or(u16::MAX)
        .max(config.bus.prefetch);
    let mut sub = bus.consume(STORE_QUEUE, prefetch).await?;
    let mut retry = RETRY_MIN;
    loop {
        let first = if shutdown.is_cancelled() {
            if bus.durable() && !bus.in_process() {
                return Ok(()); // the broker keeps the rest
            }
            // Draining: write what is still queued (the in-process bus forgets it on exit, or
            // its journal keeps it for the next start: written now, a clean stop leaves the
            // database complete), and stop once the queue stays quiet.
            match tokio::time::timeout(DRAIN_IDLE, sub.next()).await {
                Ok(Some(d)) => d,
                _ => return Ok(()),
            }
        } else {
            tokio::select! {
                d = sub.next() => match d { Some(d) => d, None => return Ok(()) },
                () = shutdown.cancelled() => continue,
            }
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < batch_size {
            match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(d)) => batch.push(d),
                _ => break,
            }
        }
        match write(store.as_ref(), batch).await {
            Ok(()) => retry = RETRY_MIN,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = retry.as_millis() as u64, "store write failed; deliveries requeued");
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    () = shutdown.cancelled() => return Ok(()),
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Decodes and writes one batch, then settles its deliveries.
///
/// Undecodable deliveries are dropped with an error log (they can never be written). When the
/// database refuses the batch, rows are retried one by one so one bad row cannot block the
/// rest. When the database is unreachable, every delivery is requeued and the error returned.
async fn write(store: &dyn Store, batch: Vec<Delivery>) -> Result<(), StoreError> {
    let mut records = Vec::with_capacity(batch.len());
    let mut deliveries = Vec::with_capacity(batch.len());
    for d in batch {
        match decode(&d) {
            Ok(r) => {
                records.push(r);
                deliveries.push(d);
            }
            Err(reason) => {
                tracing::error!(routing_key = %d.routing_key, %reason, "dropping an undecodable delivery");
                metrics::counter!("seedgate_store_undecodable_total").increment(1);
                settle(d.nack(false)).await;
            }
        }
    }
    match store.write_batch(&records).await {
        Ok(()) => {
            count(&records);
            for d in deliveries {
                settle(d.ack()).await;
            }
            Ok(())
        }
        Err(StoreError::Rejected(reason)) if records.len() > 1 => {
            tracing::warn!(%reason, "batch refused; writing its rows one by one");
            for (r, d) in records.into_iter().zip(deliveries) {
                match store.write_batch(std::slice::from_ref(&r)).await {
                    Ok(()) => {
                        count(std::slice::from_ref(&r));
                        settle(d.ack()).await;
                    }
                    Err(StoreError::Rejected(reason)) => {
                        tracing::error!(%reason, routing_key = %d.routing_key, "row refused by the database; dropped");
                        metrics::counter!("seedgate_store_rejected_total").increment(1);
                        settle(d.nack(false)).await;
                    }
                    Err(e) => {
                        settle(d.nack(true)).await;
                        return Err(e);
                    }
                }
            }
            Ok(())
        }
        Err(e) => {
            let requeue = matches!(e, StoreError::Unavailable(_));
            for d in deliveries {
                settle(d.nack(requeue)).await;
            }
            Err(e)
        }
    }
}

/// Why a delivery cannot become a row (it is dropped and counted).
#[derive(Debug, thiserror::Error)]
enum Undecodable {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("routing key outside the store's bindings")]
    RoutingKey,
}

fn decode(d: &Delivery) -> Result<Record, Undecodable> {
    Record::decode(&d.routing_key, &d.payload)?.ok_or(Undecodable::RoutingKey)
}

fn count(records: &[Record]) {
    for r in records {
        metrics::counter!("seedgate_store_rows_written_total", "kind" => r.kind()).increment(1);
    }
}

async fn settle(outcome: impl std::future::Future<Output = Result<(), seedgate_runtime::bus::BusError>>) {
    if let Err(e) = outcome.await {
        // The delivery will come back after reconnect; the write is idempotent.
        tracing::warn!(error = %e, "could not settle a delivery");
    }
}
