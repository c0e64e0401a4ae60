//! The consume loop every bus-driven service shares: bounded concurrency (the prefetch),
//! one error classification deciding ack / retry / drop, and a drain on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, BusError, Delivery};
pub use crate::channels::Stop;
pub use crate::error::ErrorCode;

/// What a handler's failure means for its delivery. Made from an [`ErrorCode`]
/// ([`HandleError::new`]; `From` a `BusError` or `SessionStoreError` through its code): a
/// retryable code requeues, any other drops.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// A backend is unreachable: the delivery goes back to the queue after a pause.
    #[error("retry later: {0}")]
    Retry(String),
    /// The delivery can never be handled (undecodable, unknown channel): it is dropped.
    #[error("dropped: {0}")]
    Drop(String),
}

impl HandleError {
    /// The decision for a failure of `code`: requeued if it may succeed later, else dropped.
    pub fn new(code: ErrorCode, reason: impl std::fmt::Display) -> Self {
        if code.retryable() {
            Self::Retry(reason.to_string())
        } else {
            Self::Drop(reason.to_string())
        }
    }
}

impl From<BusError> for HandleError {
    fn from(e: BusError) -> Self {
        Self::new(e.code(), e)
    }
}

impl From<crate::session_store::SessionStoreError> for HandleError {
    fn from(e: crate::session_store::SessionStoreError) -> Self {
        Self::new(e.code(), e)
    }
}

/// While draining, a queue counts as empty after this long without a delivery.
const DRAIN_IDLE: Duration = Duration::from_millis(200);

/// Pause before a retried delivery goes back, so a dead backend does not spin the loop.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Consumes `queue` until `shutdown`, running `handler` on up to `prefetch` deliveries at once;
/// on an in-process bus then keeps going until the queue is quiet; and waits for the handlers
/// in flight. Each delivery is acked after its handler succeeds.
pub async fn consume<H, Fut>(
    name: &'static str,
    bus: Arc<dyn Bus>,
    queue: &str,
    prefetch: u16,
    shutdown: CancellationToken,
    handler: H,
) -> Result<(), BusError>
where
    H: Fn(String, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
{
    let stop = Stop {
        halt: shutdown.child_token(),
        shutdown,
    };
    consume_until(name, bus, queue, prefetch, stop, handler).await
}

/// [`consume`] for one channel's connector: `stop.shutdown` drains as `consume` does, while
/// `stop.halt` alone (the channel is restarted or deleted) stops taking deliveries at once; the
/// handlers in flight finish and everything else stays queued.
pub async fn consume_until<H, Fut>(
    name: &'static str,
    bus: Arc<dyn Bus>,
    queue: &str,
    prefetch: u16,
    stop: Stop,
    handler: H,
) -> Result<(), BusError>
where
    H: Fn(String, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
{
    let Stop { shutdown, halt } = stop;
    let mut sub = tokio::select! {
        sub = bus.consume(queue, prefetch) => sub?,
        () = halt.cancelled() => return Ok(()),
    };
    let drain = !bus.durable();
    let handler = Arc::new(handler);
    let mut tasks = JoinSet::new();
    loop {
        let delivery = if shutdown.is_cancelled() {
            if !drain {
                break; // a broker keeps what is queued for the next consumer
            }
            // Draining: finish what is queued (the in-process bus forgets it on exit), and stop
            // once the queue stays quiet. The process's drain deadline bounds this.
            match tokio::time::timeout(DRAIN_IDLE, sub.next()).await {
                Ok(Some(d)) => d,
                _ => break,
            }
        } else if halt.is_cancelled() {
            break;
        } else {
            tokio::select! {
                d = sub.next() => match d { Some(d) => d, None => break },
                () = shutdown.cancelled() => continue,
                () = halt.cancelled() => continue,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            }
        };
        let handler = handler.clone();
        tasks.spawn(async move { handle_one(name, delivery, handler.as_ref()).await });
    }
    if drain {
        while tasks.join_next().await.is_some() {}
    } else {
        // A durable bus keeps what is not acked: handlers still running after a grace (a
        // peer that does not answer) are stopped, and their deliveries go back to the queue.
        let finished =
            tokio::time::timeout(STOP_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tracing::info!(
                service = name,
                handlers = tasks.len(),
                "stopping handlers still running; their deliveries stay queued"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }
    Ok(())
}

/// How long handlers may finish after shutdown on a durable bus.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Campaign messages a connector handles at once, beside its interactive traffic.
pub const BULK_PREFETCH: u16 = 1;

/// [`consume_until`] on the outbound queue of `channel` and, with at most [`BULK_PREFETCH`]
/// at a time, on its bulk queue (campaign messages), so a campaign never fills the window
/// that USSD replies and API sends go through. Both queues are declared first (a channel
/// made through the API may be newer than this process's topology).
pub async fn consume_channel<H, Fut>(
    name: &'static str,
    bus: Arc<dyn Bus>,
    channel: &str,
    prefetch: u16,
    stop: Stop,
    handler: H,
) -> Result<(), BusError>
where
    H: Fn(String, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
{
    let main = crate::topology::outbound_spec(channel);
    let bulk = crate::topology::bulk_spec(channel);
    for spec in [&main, &bulk] {
        if let Err(e) = bus.declare(spec).await {
            // A broker that is away: the bus declares it on reconnecting.
            tracing::warn!(service = name, channel, error = %e, "cannot declare the channel's queues yet");
        }
    }
    let handler = Arc::new(handler);
    let h = handler.clone();
    let bulk_handler = move |k: String, p: Vec<u8>| h(k, p);
    let main_handler = move |k: String, p: Vec<u8>| handler(k, p);
    let (a, b) = tokio::join!(
        consume_until(
            name,
            bus.clone(),
            &main.name,
            prefetch,
            stop.clone(),
            main_handler
        ),
        consume_until(name, bus, &bulk.name, BULK_PREFETCH, stop, bulk_handler),
    );
    a.and(b)
}

async fn handle_one<H, Fut>(name: &'static str, delivery: Delivery, handler: &H)
where
    H: Fn(String, Vec<u8>) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    let key = delivery.routing_key.clone();
    let payload = delivery.payload.clone();
    let outcome = handler(key.clone(), payload).await;
    let settled = match outcome {
        Ok(()) => delivery.ack().await,
        Err(HandleError::Retry(reason)) => {
            tracing::warn!(service = name, routing_key = %key, %reason, "handling failed; will retry");
            metrics::counter!("seedgate_worker_retries_total", "service" => name).increment(1);
            tokio::time::sleep(RETRY_PAUSE).await;
            delivery.nack(true).await
        }
        Err(HandleError::Drop(reason)) => {
            tracing::error!(service = name, routing_key = %key, %reason, "delivery dropped");
            metrics::counter!("seedgate_worker_dropped_total", "service" => name).increment(1);
            delivery.nack(false).await
        }
    };
    if let Err(e) = settled {
        tracing::warn!(service = name, error = %e, "could not settle a delivery; it will be redelivered");
    }
}

/// Decodes a JSON payload, or explains why the delivery must be dropped.
pub fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, HandleError> {
    serde_json::from_slice(payload)
        .map_err(|e| HandleError::new(ErrorCode::BadRequest, format!("undecodable payload: {e}")))
}

/// Encodes a value as JSON for the bus.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, HandleError> {
    serde_json::to_vec(value)
        .map_err(|e| HandleError::new(ErrorCode::Internal, format!("cannot encode: {e}")))
}

/// Waits for a service's consumers (one per channel, say). With none to run, idles until
/// `shutdown`: a service that returns early stops the whole process. The first error wins.
pub async fn join_all(
    mut tasks: JoinSet<Result<(), BusError>>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    if tasks.is_empty() {
        shutdown.cancelled().await;
        return Ok(());
    }
    let mut result = Ok(());
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            shutdown.cancel();
            result = result.and(Err(e));
        }
    }
    result
}
