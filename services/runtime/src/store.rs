//! The message store's interface. Implementations (SQLite, PostgreSQL) live in
//! `seedgate-store`; both pass one conformance suite there.

use async_trait::async_trait;
use seedgate_proto::{Event, Message, SessionRecord};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the connection: retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error for this data: do not retry as is.
    #[error("store rejected the write: {0}")]
    Rejected(String),
}

/// Billing per day, channel and flow (from `Store::session_report`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDay {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub channel: String,
    /// Empty when the session never reached a flow.
    pub flow: String,
    pub sessions: u64,
    pub hops: u64,
    pub slices: u64,
}

/// One row to write: a message, an event, or a session's latest state.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Message(Message),
    Event(Event),
    /// Inserted or updated; an ended session is never reopened by a late update.
    Session(SessionRecord),
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Readiness: reachable and migrated.
    async fn check(&self) -> Result<(), StoreError>;
    /// Writes all records in one transaction. Messages and events already stored (same id) are
    /// skipped and session updates never reopen an ended session, so a redelivered batch is
    /// harmless.
    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError>;
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError>;
    /// Messages of a session, oldest first.
    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError>;
    /// Messages from or to an address, oldest first.
    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError>;
    /// Events about a message, oldest first.
    async fn message_events(&self, message_id: Uuid) -> Result<Vec<Event>, StoreError>;
    /// Sessions, hops and 20 s slices per UTC day, channel and flow, for sessions started at
    /// or after `since`; ordered by day, channel, flow.
    async fn session_report(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<SessionDay>, StoreError>;
}
