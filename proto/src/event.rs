//! `Event`: what happened to an outbound message (ack, nack, delivery report).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Final or intermediate delivery state reported by the carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
    Expired,
}

/// What the event says about its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The connector handed the message to the carrier (or answered the phone's request).
    Ack {
        /// The carrier's id for the message, when it gives one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        carrier_id: Option<String>,
    },
    /// The connector could not hand the message over (refused, or it gave up retrying).
    Nack { reason: String },
    /// The message's time ran out (its `expires_at`) before it could be handed over.
    Expired { reason: String },
    /// The carrier reported on delivery to the phone.
    DeliveryReport { status: DeliveryStatus },
}

/// One event about one outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub id: Uuid,
    #[serde(default = "default_version")]
    pub version: u32,
    pub channel: String,
    /// The message this event is about.
    pub message_id: Uuid,
    #[serde(flatten)]
    pub kind: EventKind,
    pub created_at: DateTime<Utc>,
}

fn default_version() -> u32 {
    crate::PROTO_VERSION
}

impl Event {
    pub fn new(channel: impl Into<String>, message_id: Uuid, kind: EventKind) -> Self {
        Self {
            id: Uuid::now_v7(),
            version: crate::PROTO_VERSION,
            channel: channel.into(),
            message_id,
            kind,
            created_at: Utc::now(),
        }
    }

    /// Short name of the event kind, as stored and as used in metric labels.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            EventKind::Ack { .. } => "ack",
            EventKind::Nack { .. } => "nack",
            EventKind::Expired { .. } => "expired",
            EventKind::DeliveryReport { .. } => "delivery_report",
        }
    }
}
