//! `[bus]`: the message bus services talk through (in-process, or RabbitMQ).

use serde::Deserialize;

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusKind {
    InProcess,
    Rabbitmq,
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
        }
    }
}

impl BusConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.prefetch == 0 {
            return Err(invalid("bus.prefetch", "must be at least 1"));
        }
        Ok(())
    }
}
