//! `[bus]`: the message bus services talk through (in-process, or RabbitMQ).

use serde::Deserialize;

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusKind {
    InProcess,
    Rabbitmq,
}

/// The RabbitMQ queue type (`x-queue-type`). Quorum queues are replicated and survive a
/// node's loss; classic ones are for brokers that already hold classic queues of these names
/// (a queue's type cannot change once declared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueType {
    Quorum,
    Classic,
}

impl QueueType {
    /// The value of `x-queue-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quorum => "quorum",
            Self::Classic => "classic",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    pub kind: BusKind,
    pub url: String,
    /// The one topic exchange.
    pub exchange: String,
    /// Prefix for every queue name (lets several deployments share one broker).
    pub queue_prefix: String,
    /// Unacknowledged deliveries per consumer.
    pub prefetch: u16,
    /// If set, queues are deleted after this long without consumers (tests, demos).
    pub queue_expires_ms: Option<u32>,
    /// RabbitMQ queue type: `quorum` (the default) or `classic`.
    pub queue_type: QueueType,
    /// How long a publish may wait for the broker's confirm before it fails as unavailable
    /// (a broker under a resource alarm holds publishes instead of refusing them).
    pub publish_timeout_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            kind: BusKind::InProcess,
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "seedgate".into(),
            queue_prefix: String::new(),
            prefetch: 64,
            queue_expires_ms: None,
            queue_type: QueueType::Quorum,
            publish_timeout_ms: 5_000,
        }
    }
}

impl BusConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.prefetch == 0 {
            return Err(invalid("bus.prefetch", "must be at least 1"));
        }
        if self.publish_timeout_ms == 0 {
            return Err(invalid("bus.publish_timeout_ms", "must be at least 1"));
        }
        Ok(())
    }
}
