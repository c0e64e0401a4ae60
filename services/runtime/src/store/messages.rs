//! Messages and events: the rows the store service writes from the bus, and the searches over
//! them.

use async_trait::async_trait;
use seedgate_proto::{Event, Message, SessionRecord};
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Messages: Send + Sync {
    /// Writes all records in one transaction. Messages and events already stored (same id) are
    /// skipped and session updates never reopen an ended session, so a redelivered batch is
    /// harmless.
    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError>;
    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError>;
    /// Messages of a session, oldest first.
    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError>;
    /// Messages from or to an address, oldest first.
    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError>;
    /// Events about a message, oldest first.
    async fn message_events(&self, message_id: Uuid) -> Result<Vec<Event>, StoreError>;
    /// A message with its status.
    async fn stored_message(&self, id: Uuid) -> Result<Option<StoredMessage>, StoreError>;
    /// Messages matching `query`, newest first.
    async fn messages(&self, query: &MessageQuery) -> Result<Vec<StoredMessage>, StoreError>;
}

/// One row to write: a message, an event, or a session's latest state.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Message(Message),
    Event(Event),
    /// Inserted or updated; an ended session is never reopened by a late update.
    Session(SessionRecord),
}

impl Record {
    /// The row a bus delivery to the store's queue becomes: a message (`<channel>.inbound`,
    /// `.outbound`, `.bulk`), an event (`.event`) or a session (`.session`); `None` for a
    /// routing key outside the store's bindings.
    pub fn decode(routing_key: &str, payload: &[u8]) -> Result<Option<Self>, serde_json::Error> {
        use seedgate_proto::RoutingKey;
        Ok(Some(match RoutingKey::parse(routing_key) {
            Some(RoutingKey::Event(_)) => Self::Event(serde_json::from_slice(payload)?),
            Some(RoutingKey::Session(_)) => Self::Session(serde_json::from_slice(payload)?),
            Some(RoutingKey::Inbound(_) | RoutingKey::Outbound(_) | RoutingKey::Bulk(_)) => {
                Self::Message(serde_json::from_slice(payload)?)
            }
            _ => return Ok(None),
        }))
    }

    /// Its kind, as the `kind` label of `seedgate_store_rows_written_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Event(_) => "event",
            Self::Session(_) => "session",
        }
    }
}

/// Where an outbound message stands, derived from its events: `queued` (stored, not yet handed
/// to the carrier) → `submitted` (acked) → `delivered` | `failed` | `expired` (final). A later
/// or repeated event never moves a message back; the first final state stays. Inbound
/// messages are `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Received,
    Queued,
    Submitted,
    Delivered,
    Failed,
    Expired,
}

impl MessageStatus {
    pub const ALL: [Self; 6] = [
        Self::Received,
        Self::Queued,
        Self::Submitted,
        Self::Delivered,
        Self::Failed,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Submitted => "submitted",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The status an event reports.
    pub fn of_event(kind: &seedgate_proto::EventKind) -> Self {
        use seedgate_proto::{DeliveryStatus, EventKind};
        match kind {
            EventKind::Ack { .. }
            | EventKind::DeliveryReport {
                status: DeliveryStatus::Pending,
            } => Self::Submitted,
            EventKind::Nack { .. }
            | EventKind::DeliveryReport {
                status: DeliveryStatus::Failed,
            } => Self::Failed,
            EventKind::DeliveryReport {
                status: DeliveryStatus::Delivered,
            } => Self::Delivered,
            EventKind::DeliveryReport {
                status: DeliveryStatus::Expired,
            }
            | EventKind::Expired { .. } => Self::Expired,
        }
    }

    /// 0 for not yet sent, 1 for submitted, 2 for final: a status only moves up.
    pub fn rank(self) -> u8 {
        match self {
            Self::Received | Self::Queued => 0,
            Self::Submitted => 1,
            Self::Delivered | Self::Failed | Self::Expired => 2,
        }
    }
}

/// A message with its derived status.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub message: Message,
    pub status: MessageStatus,
}

/// A search over messages, newest first. `before` is the cursor: the id of the last message
/// of the previous page (ids are UUIDv7, so they sort by time).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageQuery {
    pub channel: Option<String>,
    /// Matches the sender or the recipient.
    pub address: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub status: Option<MessageStatus>,
    pub before: Option<Uuid>,
    pub limit: u32,
}
