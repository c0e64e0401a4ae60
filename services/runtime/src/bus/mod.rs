//! The message bus: one topic exchange, durable queues, confirmed publishes, manual acks.
//!
//! Two implementations pass one conformance suite (`tests/bus_conformance.rs`):
//! [`memory::MemoryBus`] for `seedgate up` and [`rabbitmq::RabbitBus`] (via `lapin`) for split
//! deployments. Semantics both keep:
//! - `publish` returns `Ok` only once the message sits in every queue bound to its key (for
//!   RabbitMQ: after the broker's publisher confirm). A key no queue is bound to is an error
//!   (`Unroutable`), as is a queue refusing the message (`Rejected`): nothing is dropped quietly.
//! - A delivery stays unacknowledged until `ack`; when its subscription goes away (consumer
//!   crash, connection loss) it is delivered again, marked `redelivered`.
//! - At most `prefetch` deliveries are outstanding per subscription.
//! - `publish_all` is `publish` for several messages at once, in order: one wait for the
//!   batch's confirms instead of one per message.
//! - `publish_hop` is for the messages of a live USSD session's hop: the in-process bus hands
//!   them on before their store copy is committed (no one waits for a hop's storage).

pub mod memory;
pub mod rabbitmq;

use std::fmt;

use async_trait::async_trait;
use tokio::sync::mpsc;

/// Why a bus operation failed. Every variant is worth a retry except `Unroutable`.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("no queue is bound to routing key `{0}`")]
    Unroutable(String),
    #[error("the broker refused the message for `{0}` (queue full or broker nack)")]
    Rejected(String),
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    #[error("bus protocol error: {0}")]
    Protocol(String),
}

/// A queue and the routing-key patterns bound to it (`*` = one word, `#` = zero or more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub bindings: Vec<String>,
    /// Reject publishes once this many messages are queued (`x-overflow: reject-publish`; a
    /// RabbitMQ quorum queue may take one more before it refuses).
    pub max_length: Option<u32>,
}

impl QueueSpec {
    pub fn new(name: impl Into<String>, bindings: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            name: name.into(),
            bindings: bindings.into_iter().map(Into::into).collect(),
            max_length: None,
        }
    }

    pub fn max_length(mut self, n: u32) -> Self {
        self.max_length = Some(n);
        self
    }
}

/// The bus every service publishes to and consumes from.
#[async_trait]
pub trait Bus: Send + Sync + fmt::Debug {
    /// Declares a durable queue and binds it (idempotent).
    async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError>;
    /// Publishes persistently; `Ok` means durable in every bound queue.
    async fn publish(&self, routing_key: &str, payload: &[u8]) -> Result<(), BusError>;
    /// Publishes each `(routing_key, payload)` in order, as [`Bus::publish`] does; `Ok` means
    /// every one is durable in every queue bound to its key. A bus may send them all before
    /// waiting for the first confirm (RabbitMQ does: one round trip for the batch, and they
    /// reach their queues in this order), so when one fails, later ones may be published too:
    /// a caller retries the whole batch, as it would retry a failed single publish.
    async fn publish_all(&self, batch: &[(String, Vec<u8>)]) -> Result<(), BusError> {
        for (routing_key, payload) in batch {
            self.publish(routing_key, payload).await?;
        }
        Ok(())
    }
    /// Publishes a message of a live USSD session's hop (its screen, the user's answer on its
    /// way to the flow and back). Its only reader is the request waiting for the screen, which
    /// dies with the process, and the hop's HTTP 200 acknowledges no storage (ARCHITECTURE.md,
    /// invariant 1): a bus may deliver it before it is durable. The store's copy is still
    /// written, behind it ([`memory::MemoryBus`]: committed after the hop goes on, not
    /// journaled for the other queues). A broker publishes it as [`Bus::publish`] does.
    async fn publish_hop(&self, routing_key: &str, payload: &[u8]) -> Result<(), BusError> {
        self.publish(routing_key, payload).await
    }
    /// [`Bus::publish_all`], where the messages `hop` marks are published as by
    /// [`Bus::publish_hop`] (`hop[i]` for `batch[i]`; missing marks are `false`).
    async fn publish_all_hops(&self, batch: &[(String, Vec<u8>)], hop: &[bool]) -> Result<(), BusError> {
        let _ = hop;
        self.publish_all(batch).await
    }
    /// Consumes a declared queue with at most `prefetch` unacknowledged deliveries.
    async fn consume(&self, queue: &str, prefetch: u16) -> Result<Subscription, BusError>;
    /// Readiness: `Ok` when the bus can take publishes now.
    async fn check(&self) -> Result<(), BusError>;
    /// Whether queued messages outlive this process (a broker), or die with it (in-process):
    /// consumers of a non-durable bus drain their queues before shutting down.
    fn durable(&self) -> bool;
    /// Whether this bus lives in this process (`seedgate up`): no other process shares its
    /// queues, so what a previous process claimed (outbox leases) is this one's to take back.
    fn in_process(&self) -> bool {
        false
    }
}

/// One consumer of one queue. Dropping it gives its unacknowledged deliveries back.
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
    _guard: Box<dyn Send + Sync>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(rx: mpsc::Receiver<Delivery>, guard: impl Send + Sync + 'static) -> Self {
        Self {
            rx,
            _guard: Box::new(guard),
        }
    }

    /// The next delivery; `None` once the bus is gone for good.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

/// One message handed to a consumer; ack it once its effects are durable.
#[derive(Debug)]
pub struct Delivery {
    pub routing_key: String,
    pub payload: Vec<u8>,
    /// Delivered before to a consumer that did not ack it.
    pub redelivered: bool,
    acker: Acker,
}

#[derive(Debug)]
enum Acker {
    Memory(memory::Acker),
    Rabbit(lapin::acker::Acker),
}

impl Delivery {
    /// Done with this message: the bus forgets it.
    pub async fn ack(self) -> Result<(), BusError> {
        match self.acker {
            Acker::Memory(a) => {
                a.ack();
                Ok(())
            }
            Acker::Rabbit(a) => a
                .ack(lapin::options::BasicAckOptions::default())
                .await
                .map_err(|e| BusError::Unavailable(e.to_string())),
        }
    }

    /// Not done: `requeue` puts it back for another try, otherwise it is dropped.
    pub async fn nack(self, requeue: bool) -> Result<(), BusError> {
        match self.acker {
            Acker::Memory(a) => {
                a.nack(requeue);
                Ok(())
            }
            Acker::Rabbit(a) => a
                .nack(lapin::options::BasicNackOptions {
                    requeue,
                    ..Default::default()
                })
                .await
                .map_err(|e| BusError::Unavailable(e.to_string())),
        }
    }
}

/// AMQP topic matching: words split by `.`, `*` matches one word, `#` zero or more.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match p.split_first() {
            None => k.is_empty(),
            Some((&"#", rest)) => (0..=k.len()).any(|i| go(rest, &k[i..])),
            Some((&w, rest)) => k
                .split_first()
                .is_some_and(|(&kw, krest)| (w == "*" || w == kw) && go(rest, krest)),
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    go(&p, &k)
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn topic_patterns_match_like_amqp() {
        let yes = [
            ("*.inbound", "demo-at.inbound"),
            ("*.app.inbound", "demo-at.app.inbound"),
            ("#", "a.b.c"),
            ("#.inbound", "a.app.inbound"),
            ("a.#", "a"),
            ("demo-at.outbound", "demo-at.outbound"),
        ];
        let no = [
            ("*.inbound", "demo-at.app.inbound"),
            ("*.inbound", "inbound"),
            ("*.outbound", "demo-at.inbound"),
            ("a.*", "a"),
            ("demo-at.outbound", "demo-atx.outbound"),
        ];
        for (p, k) in yes {
            assert!(topic_matches(p, k), "{p} should match {k}");
        }
        for (p, k) in no {
            assert!(!topic_matches(p, k), "{p} should not match {k}");
        }
    }
}
